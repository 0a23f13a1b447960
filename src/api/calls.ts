// SPDX-License-Identifier: GPL-2.0-or-later
// API: live calls, test calls an installer places through the outbound routes, and forced release.

import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { CallManagerStats, CallSummary, DialRequest } from '../calls/manager.ts';
import './types.ts';

/** What the plugin needs from the call side. */
export interface CallPort {
  calls(): CallSummary[];
  stats(): CallManagerStats;
  dial(req: DialRequest): string;
  hangup(id: string, cause?: number): Promise<void>;
}

const Dial = Type.Object(
  {
    called: Type.String({ pattern: '^\\+?[0-9*#]{1,32}$', description: 'the number to call' }),
    calling: Type.Optional(
      Type.String({
        pattern: '^\\+?[0-9]{0,32}$',
        description: "calling number sent; default the route's caller ID",
      }),
    ),
    from: Type.Optional(
      Type.String({
        maxLength: 40,
        description: 'who dials (routes with a `from` list serve only those)',
      }),
    ),
    presentation: Type.Optional(Type.Union([Type.Literal('allowed'), Type.Literal('restricted')])),
    trunk: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 40,
        description:
          'place it on this trunk, past the outbound routes (no hunting, manipulation or blacklist): a test of one trunk',
      }),
    ),
    channel: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 255,
        description: 'with trunk: the timeslot or analog port to place it on',
      }),
    ),
  },
  { additionalProperties: false },
);
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 80 }) });
const Release = Type.Object(
  {
    cause: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 127,
        description: 'Q.850 cause; default 16 NORMAL_CLEARING',
      }),
    ),
  },
  { additionalProperties: false },
);

export const callsPlugin: FastifyPluginAsync<{ port: CallPort }> = async (app, { port }) => {
  app.get(
    '/api/calls',
    {
      config: { role: 'viewer' },
      schema: { summary: 'Live calls with their legs, and the call counters', tags: ['calls'] },
    },
    async () => ({ calls: port.calls(), stats: port.stats() }),
  );

  app.post<{ Body: DialRequest }>(
    '/api/calls',
    {
      config: { role: 'operator' },
      schema: {
        summary:
          'Place a test call through the outbound routes (hunting and failover apply), or on a chosen trunk and channel; its record lands in the CDR',
        tags: ['calls'],
        body: Dial,
      },
    },
    async (req, reply) => {
      const id = port.dial(req.body);
      req.auditDetail = {
        call: id,
        called: req.body.called,
        ...(req.body.trunk === undefined ? {} : { trunk: req.body.trunk }),
        ...(req.body.channel === undefined ? {} : { channel: req.body.channel }),
      };
      return reply.code(202).send({ id });
    },
  );

  app.delete<{ Params: { id: string }; Body: { cause?: number } }>(
    '/api/calls/:id',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Release a live call (both legs)',
        tags: ['calls'],
        params: IdParam,
        body: Type.Optional(Release),
      },
    },
    async (req) => {
      await port.hangup(req.params.id, req.body?.cause);
      req.auditDetail = { call: req.params.id, cause: req.body?.cause ?? 16 };
      return { ok: true };
    },
  );
};
