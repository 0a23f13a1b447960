// SPDX-License-Identifier: GPL-2.0-or-later
// API errors: statuses by code, and the OpenAPI document made from the TypeBox route schemas.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import swagger from '@fastify/swagger';
import Fastify from 'fastify';
import cdrPlugin from '../src/api/cdr.ts';
import configPlugin from '../src/api/config.ts';
import { HTTP_STATUS, useApiErrors } from '../src/api/error-handler.ts';
import { CdrStore } from '../src/cdr/store.ts';
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
      ).map((code) => HTTP_STATUS[code]),
      [400, 400, 400, 404, 404, 409, 409, 500, 500],
    );
  });

  it('makes an OpenAPI document from the TypeBox route schemas', async () => {
    const app = Fastify();
    useApiErrors(app);
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
