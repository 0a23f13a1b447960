// SPDX-License-Identifier: GPL-2.0-or-later
// API: turns an Asterisk box's system.conf and chan_dahdi.conf into a proposed configuration to review.

import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { importAsterisk } from '../config/import-dahdi.ts';
import type { BoardSpans } from '../trunks/validate.ts';
import './types.ts';

const MAX_FILE = 1024 * 1024;

const Files = Type.Object(
  {
    systemConf: Type.Optional(
      Type.String({ maxLength: MAX_FILE, description: 'DAHDI /etc/dahdi/system.conf, as text' }),
    ),
    chanDahdi: Type.Optional(
      Type.String({
        maxLength: MAX_FILE,
        description: 'Asterisk chan_dahdi.conf (or dahdi-channels.conf), as text',
      }),
    ),
  },
  { additionalProperties: false },
);

export const asteriskPlugin: FastifyPluginAsync<{ board?: () => BoardSpans | undefined }> = async (
  app,
  { board },
) => {
  app.post<{ Body: { systemConf?: string; chanDahdi?: string } }>(
    '/api/config/import-asterisk',
    {
      config: { role: 'installer' },
      bodyLimit: 3 * MAX_FILE,
      schema: {
        summary:
          'Propose a configuration from system.conf and chan_dahdi.conf: nothing is applied; review it, then PUT /api/config',
        tags: ['config'],
        body: Files,
      },
    },
    async (req) => {
      const b = board?.();
      const result = importAsterisk({ ...req.body, ...(b ? { board: b } : {}) });
      return { config: result.config, unsupported: result.unsupported, notes: result.notes };
    },
  );
};
