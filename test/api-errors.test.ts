// SPDX-License-Identifier: GPL-2.0-or-later
// API errors: statuses by code, fastify's own validation errors named by field, OpenAPI from TypeBox.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import swagger from '@fastify/swagger';
import Fastify from 'fastify';
import cdrPlugin from '../src/api/cdr.ts';
import configPlugin from '../src/api/config.ts';
import { apiError, apiErrorHandler, httpStatus } from '../src/api/errors.ts';
import { CdrStore } from '../src/cdr/store.ts';
import { SwitchboardError } from '../src/core/errors.ts';
import { ConfigStore } from '../src/store/config-store.ts';
import { openDb } from '../src/store/db.ts';

describe('api errors', () => {
  it('gives each kind of code its status', () => {
    assert.deepEqual(
      (
        [
          'E_CONFIG_FIELD',
          'E_CONFIG_FILE',
          'E_REQUEST_FIELD',
          'E_REVISION_UNKNOWN',
          'E_CDR_UNKNOWN',
          'E_CONFIG_CONFLICT',
          'E_CHANNEL_BUSY',
          'E_STORE',
          'E_DAHDI_CFG',
        ] as const
      ).map(httpStatus),
      [400, 400, 400, 404, 404, 409, 409, 500, 500],
    );
  });

  it('keeps a status the thrower set, and hides the inside of an unexpected error', () => {
    const denied = Object.assign(new SwitchboardError('E_USAGE', 'no'), { statusCode: 403 });
    assert.equal(apiError(denied).status, 403);
    assert.deepEqual(apiError(new TypeError('x is undefined')), {
      status: 500,
      body: { error: 'E_INTERNAL', message: 'internal error: the controller log has the details' },
    });
  });

  it("names the field of fastify's own (Ajv) validation errors", async () => {
    const app = Fastify();
    app.setErrorHandler(apiErrorHandler);
    app.post(
      '/x',
      {
        schema: {
          querystring: {
            type: 'object',
            properties: { limit: { type: 'integer', maximum: 10 } },
          },
          body: {
            type: 'object',
            required: ['spans'],
            properties: {
              spans: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['span'],
                  properties: { span: { type: 'integer' } },
                },
              },
            },
          },
        },
      },
      async () => 'ok',
    );
    const query = await app.inject({ method: 'POST', url: '/x?limit=50', payload: { spans: [] } });
    assert.equal(query.statusCode, 400);
    assert.deepEqual(query.json(), {
      error: 'E_REQUEST_FIELD',
      message: 'limit (querystring): must be <= 10',
      details: [{ path: 'limit', message: 'must be <= 10', in: 'querystring' }],
    });
    const body = await app.inject({ method: 'POST', url: '/x', payload: { spans: [{}] } });
    assert.deepEqual(body.json().details, [
      { path: 'spans[0].span', message: 'is required', in: 'body' },
    ]);
    const json = await app.inject({
      method: 'POST',
      url: '/x',
      headers: { 'content-type': 'application/json' },
      payload: '{"spans": [',
    });
    assert.equal(json.statusCode, 400);
    assert.equal(json.json().error, 'E_REQUEST');
  });

  it('makes an OpenAPI document from the TypeBox route schemas', async () => {
    const app = Fastify();
    await app.register(swagger, { openapi: { info: { title: 'switchboard', version: '0' } } });
    const db = openDb(':memory:');
    await app.register(configPlugin, {
      store: new ConfigStore(db),
      apply: () => Promise.reject(new Error('not called')),
    });
    await app.register(cdrPlugin, { store: new CdrStore(db) });
    await app.ready();
    const doc = app.swagger() as {
      paths: Record<
        string,
        Record<string, { parameters?: { name: string }[]; requestBody?: unknown }>
      >;
    };
    const cdr = doc.paths['/api/cdr']?.get?.parameters?.map((p) => p.name);
    assert.ok(cdr?.includes('disposition') && cdr.includes('number'), String(cdr));
    assert.ok(doc.paths['/api/config']?.put?.requestBody, 'PUT /api/config documents its body');
    assert.ok(doc.paths['/api/config/import']?.post?.requestBody);
    assert.ok(doc.paths['/api/config/revisions/{id}']?.get);
  });
});
