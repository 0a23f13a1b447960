// SPDX-License-Identifier: GPL-2.0-or-later
// GET /api/status (firmware version, API uptime, setup state) and GET /api/system/health (CPU, memory, disks, temperatures).

import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Db } from '../store/db.ts';
import { Health, readHealth } from '../system/health.ts';
import { setupNeeded } from './auth.ts';
import { ErrorReply } from './error-handler.ts';

export interface HealthOptions {
  db: Db;
  /** The firmware version reported (package.json's version in the controller). */
  version: string;
  /** The box's health reading; default readHealth() (systeminformation). */
  health?: () => Promise<Health>;
}

const Status = Type.Object({
  version: Type.String({ description: 'firmware version' }),
  uptimeS: Type.Integer({ description: 'seconds since the API started' }),
  setupDone: Type.Boolean({ description: 'the first admin account exists' }),
});

export const healthPlugin: FastifyPluginAsync<HealthOptions> = async (app, opts) => {
  const started = process.hrtime.bigint();
  app.get(
    '/api/status',
    {
      // Every route says who may call it; a status read is for anyone logged in.
      config: { role: 'viewer' },
      schema: {
        summary: 'Firmware version, API uptime, setup state',
        tags: ['status'],
        response: { 200: Status, '4xx': ErrorReply },
      },
    },
    async () => ({
      version: opts.version,
      uptimeS: Number((process.hrtime.bigint() - started) / 1_000_000_000n),
      setupDone: !setupNeeded(opts.db),
    }),
  );

  app.get(
    '/api/system/health',
    {
      config: { role: 'viewer' },
      schema: {
        summary:
          'The box: CPU load, memory, disk use of the root and data partitions, temperatures (null without a sensor), uptime',
        tags: ['status'],
        response: { 200: Health, '4xx': ErrorReply },
      },
    },
    async () => (opts.health ?? readHealth)(),
  );
};
