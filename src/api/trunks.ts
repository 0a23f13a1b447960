// SPDX-License-Identifier: GPL-2.0-or-later
// API: spans (alarms, counters), trunks and channels (live state), maintenance commands, signalling traces.

import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { DahdiSpan } from '../native/addon.ts';
import type { CommandResult, EngineCommand, EngineSnapshot } from '../native/engine.ts';
import './types.ts';

/** What the plugin needs from the running switch. */
export interface TrunkPort {
  spans(): DahdiSpan[];
  snapshot(): EngineSnapshot;
  command(cmd: EngineCommand): CommandResult;
  traceStart(span: number, maxBytes?: number): void;
  traceStop(span: number): void;
  traceRead(span: number): Buffer;
}

const SpanParam = Type.Object({ span: Type.Integer({ minimum: 1, maximum: 127 }) });
const TrunkParam = Type.Object({ name: Type.String({ minLength: 1, maxLength: 40 }) });
const Maintenance = Type.Object(
  {
    channel: Type.Optional(
      Type.Integer({ minimum: 1, description: 'timeslot or port; default the whole trunk' }),
    ),
    cic: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 16383, description: 'SS7: the circuit' }),
    ),
    lastCic: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 16383,
        description: 'SS7: a CIC range cic..lastCic (CGB/CGU, GRS)',
      }),
    ),
  },
  { additionalProperties: false },
);
const Ok = Type.Object({ ok: Type.Boolean() });

export const trunksPlugin: FastifyPluginAsync<{ port: TrunkPort }> = async (app, { port }) => {
  app.get(
    '/api/spans',
    {
      config: { role: 'viewer' },
      schema: {
        summary:
          'E1/T1 and analog spans: alarms (LOS, LOF, AIS, RAI), line configuration, error counters',
        tags: ['trunks'],
      },
    },
    async () => ({ spans: port.spans() }),
  );

  app.get(
    '/api/trunks',
    {
      config: { role: 'viewer' },
      schema: {
        summary:
          'Every trunk with its links (D-channel, MTP2), channels and calls, and the media legs and time-slot switch connections, live',
        tags: ['trunks'],
      },
    },
    async () => {
      const snap = port.snapshot();
      return { trunks: snap.trunks, traces: snap.traces, media: snap.media };
    },
  );

  for (const op of ['block', 'unblock', 'reset'] as const) {
    app.post<{
      Params: { name: string };
      Body: { channel?: number; cic?: number; lastCic?: number };
    }>(
      `/api/trunks/:name/${op}`,
      {
        config: { role: 'operator' },
        schema: {
          summary:
            op === 'reset'
              ? 'Reset a channel, a CIC range (GRS) or the whole trunk (PRI RESTART, SS7 RSC/GRS)'
              : `${op === 'block' ? 'Block' : 'Unblock'} a channel, a CIC range (CGB/CGU) or the whole trunk`,
          tags: ['trunks'],
          params: TrunkParam,
          body: Type.Optional(Maintenance),
          response: { 200: Ok },
        },
      },
      async (req) => {
        port.command({ op, trunk: req.params.name, ...(req.body ?? {}) });
        req.auditDetail = { trunk: req.params.name, op, ...(req.body ?? {}) };
        return { ok: true };
      },
    );
  }

  app.post<{ Params: { span: number }; Body: { maxBytes?: number } }>(
    '/api/spans/:span/trace/start',
    {
      config: { role: 'installer' },
      schema: {
        summary: "Start capturing the span's D-channel or MTP2 frames (pcap, in memory)",
        tags: ['traces'],
        params: SpanParam,
        body: Type.Optional(
          Type.Object(
            {
              maxBytes: Type.Optional(
                Type.Integer({
                  minimum: 4096,
                  maximum: 256 * 1024 * 1024,
                  description: 'capture size limit; default 64 MiB',
                }),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        response: { 200: Ok },
      },
    },
    async (req) => {
      port.traceStart(req.params.span, req.body?.maxBytes);
      req.auditDetail = { span: req.params.span };
      return { ok: true };
    },
  );

  app.post<{ Params: { span: number } }>(
    '/api/spans/:span/trace/stop',
    {
      config: { role: 'installer' },
      schema: {
        summary: 'Stop a capture (it stays readable)',
        tags: ['traces'],
        params: SpanParam,
        response: { 200: Ok },
      },
    },
    async (req) => {
      port.traceStop(req.params.span);
      req.auditDetail = { span: req.params.span };
      return { ok: true };
    },
  );

  app.get<{ Params: { span: number } }>(
    '/api/spans/:span/trace.pcap',
    {
      config: { role: 'installer' },
      schema: {
        summary: 'The capture so far as a pcap file (Wireshark: LAPD or MTP2 with direction)',
        tags: ['traces'],
        params: SpanParam,
      },
    },
    async (req, reply) => {
      const pcap = port.traceRead(req.params.span);
      return reply
        .type('application/vnd.tcpdump.pcap')
        .header('content-disposition', `attachment; filename="span${req.params.span}.pcap"`)
        .send(pcap);
    },
  );
};
