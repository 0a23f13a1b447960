// SPDX-License-Identifier: GPL-2.0-or-later
// API plugin: call records searched page by page, one by id, or exported whole as CSV.

// Types only: the OpenAPI words (summary, tags) fastify's route schema takes with @fastify/swagger.
import type {} from '@fastify/swagger';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { CdrExportFilter, CdrFilter, type CdrStore } from '../cdr/store.ts';
import './types.ts';

export interface CdrPluginOptions {
  store: CdrStore;
}

const IdParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 200, description: 'the call record id' }) },
  { additionalProperties: false },
);

const cdrPlugin: FastifyPluginAsync<CdrPluginOptions> = async (app, opts) => {
  const { store } = opts;

  app.get<{ Querystring: CdrFilter }>(
    '/api/cdr',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Call records, newest first, one page at a time, with the number that match',
        tags: ['cdr'],
        querystring: CdrFilter,
      },
    },
    async (req) => store.query(req.query),
  );

  app.get<{ Querystring: CdrExportFilter }>(
    '/api/cdr.csv',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Every matching call record as CSV (attachment), streamed',
        tags: ['cdr'],
        querystring: CdrExportFilter,
        produces: ['text/csv'],
      },
    },
    async (req, reply) => {
      const csv = store.toCsv(req.query);
      const day = new Date().toISOString().slice(0, 10);
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="cdr-${day}.csv"`)
        .send(csv);
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/cdr/:id',
    {
      config: { role: 'viewer' },
      schema: { summary: 'One call record', tags: ['cdr'], params: IdParams },
    },
    async (req) => store.get(req.params.id),
  );
};

export default cdrPlugin;
