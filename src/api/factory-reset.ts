// SPDX-License-Identifier: GPL-2.0-or-later
// API: factory reset — everything under /data is cleared at the next boot; the firmware slots stay.

import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ErrorReply } from './error-handler.ts';
import type { FirmwarePort } from './firmware.ts';
import './types.ts';

const Confirm = Type.Object(
  {
    confirm: Type.Literal('factory-reset', {
      description: 'must be "factory-reset": a factory reset is not undone',
    }),
  },
  { additionalProperties: false },
);

const Accepted = Type.Object({ rebooting: Type.Boolean(), message: Type.String() });

export const factoryResetPlugin: FastifyPluginAsync<{
  firmware: Pick<FirmwarePort, 'requestFactoryReset' | 'rebootNow'>;
}> = async (app, { firmware }) => {
  app.post<{ Body: { confirm: 'factory-reset' } }>(
    '/api/system/factory-reset',
    {
      config: { role: 'admin' },
      schema: {
        summary:
          'Factory reset: marks /data to be cleared (configuration, call records, users, prompts) and reboots; the firmware is kept',
        tags: ['system'],
        body: Confirm,
        response: { 202: Accepted, '4xx': ErrorReply, '5xx': ErrorReply },
      },
      onResponse: async (req, reply) => {
        if (reply.statusCode === 202)
          await firmware.rebootNow(`factory reset by ${req.user?.name ?? 'unknown'}`);
      },
    },
    async (req, reply) => {
      const by = req.user?.name ?? 'unknown';
      firmware.requestFactoryReset(by);
      req.auditAction = 'factory_reset';
      return reply.code(202).send({
        rebooting: true,
        message:
          'factory reset: the box reboots now and clears /data before the controller starts; first-run setup follows',
      });
    },
  );
};
