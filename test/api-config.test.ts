// SPDX-License-Identifier: GPL-2.0-or-later
// The configuration API on a bare fastify: changes make revisions, bad ones are named and change nothing.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import configPlugin, { type ApplyResult } from '../src/api/config.ts';
import { useApiErrors } from '../src/api/error-handler.ts';
import type { SwitchConfig } from '../src/config/schema.ts';
import { configToYaml } from '../src/config/yaml.ts';
import { SwitchboardError } from '../src/core/errors.ts';
import { type CommitMeta, ConfigStore } from '../src/store/config-store.ts';
import { openDb } from '../src/store/db.ts';
import { sampleConfig, withSwitchtype } from './helpers/config.ts';

interface Harness {
  app: FastifyInstance;
  store: ConfigStore;
  /** What the fake apply was given, in order. */
  applied: { config: SwitchConfig; meta: CommitMeta }[];
  /** req.auditDetail of each answered request, by "METHOD url". */
  audit: Map<string, Record<string, unknown> | undefined>;
  /** Makes the next apply fail as the switch would (nothing committed). */
  failNext: () => void;
}

async function harness(): Promise<Harness> {
  const store = new ConfigStore(openDb(':memory:'));
  store.commit(sampleConfig(), { author: 'system', source: 'setup' });
  const applied: Harness['applied'] = [];
  const audit: Harness['audit'] = new Map();
  let fail = false;
  const app = Fastify();
  useApiErrors(app);
  // Stands in for the auth plugin, which is written separately.
  app.addHook('onRequest', async (req) => {
    req.user = { id: 1, name: 'li', role: 'installer', via: 'session' };
  });
  app.addHook('onResponse', async (req) => {
    audit.set(`${req.method} ${req.url}`, req.auditDetail);
  });
  await app.register(configPlugin, {
    store,
    async apply(config: SwitchConfig, meta: CommitMeta): Promise<ApplyResult> {
      applied.push({ config, meta });
      if (fail) {
        fail = false;
        throw new SwitchboardError('E_DAHDI_CFG', 'dahdi_cfg: span 2: no such span');
      }
      return { revision: store.commit(config, meta), restarted: ['span 1'] };
    },
  });
  return {
    app,
    store,
    applied,
    audit,
    failNext: () => {
      fail = true;
    },
  };
}

function changed(): SwitchConfig {
  return withSwitchtype('qsig');
}

describe('config api', () => {
  it('answers the running configuration and its revision', async () => {
    const { app } = await harness();
    const res = await app.inject({ method: 'GET', url: '/api/config' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { revision: 1, config: sampleConfig() });
  });

  it('applies a valid change through apply() and answers the new revision', async () => {
    const { app, store, applied, audit } = await harness();
    const res = await app.inject({
      method: 'PUT',
      url: '/api/config?comment=carrier%20moved&base=1',
      payload: changed(),
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.revision.id, 2);
    assert.deepEqual(body.changes, [
      { path: 'trunks[name=pri1].switchtype', op: 'change', before: 'euroisdn', after: 'qsig' },
    ]);
    assert.deepEqual(body.restarted, ['span 1']);
    assert.deepEqual(applied[0]?.meta, { source: 'api', comment: 'carrier moved', author: 'li' });
    assert.deepEqual(store.current(), { revision: 2, config: changed() });
    assert.deepEqual(audit.get('PUT /api/config?comment=carrier%20moved&base=1'), {
      revision: 2,
      changes: 1,
      source: 'api',
      restarted: ['span 1'],
    });
  });

  it('refuses an invalid change with 400 naming every field, and changes nothing', async () => {
    const { app, store, applied } = await harness();
    const config = sampleConfig();
    (config.spans?.[0] as { coding: string }).coding = 'b8zs';
    const dest = config.routes?.inbound?.[0]?.destination as { extension: string };
    dest.extension = '999';
    const res = await app.inject({ method: 'PUT', url: '/api/config', payload: config });
    assert.equal(res.statusCode, 400);
    const body = res.json();
    assert.equal(body.error, 'E_CONFIG_FIELD');
    assert.deepEqual(
      body.details.map((d: { path: string }) => d.path),
      ['spans[0].coding', 'routes.inbound[0].destination.extension'],
    );
    assert.equal(applied.length, 0);
    assert.equal(store.current()?.revision, 1);
    assert.deepEqual(store.current()?.config, sampleConfig());
  });

  it('refuses an unknown field rather than dropping it', async () => {
    const { app } = await harness();
    const config = sampleConfig() as Record<string, unknown>;
    (config.trunkGroups as Record<string, unknown>[])[0] = {
      ...(config.trunkGroups as Record<string, unknown>[])[0],
      colour: 'red',
    };
    const res = await app.inject({ method: 'PUT', url: '/api/config', payload: config });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json().details, [
      { path: 'trunkGroups[0].colour', message: 'is not a known field' },
    ]);
  });

  it('refuses a change based on a revision that is no longer running (409)', async () => {
    const { app, applied } = await harness();
    await app.inject({ method: 'PUT', url: '/api/config', payload: changed() });
    const res = await app.inject({
      method: 'PUT',
      url: '/api/config?base=1',
      payload: sampleConfig(),
    });
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().error, 'E_CONFIG_CONFLICT');
    assert.equal(applied.length, 1);
  });

  it('makes no revision for a configuration equal to the running one', async () => {
    const { app, applied, store } = await harness();
    const res = await app.inject({ method: 'PUT', url: '/api/config', payload: sampleConfig() });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().unchanged, true);
    assert.equal(applied.length, 0);
    assert.equal(store.list().length, 1);
  });

  it('answers a failed apply with its code and keeps the running revision', async () => {
    const { app, store, failNext } = await harness();
    failNext();
    const res = await app.inject({ method: 'PUT', url: '/api/config', payload: changed() });
    assert.equal(res.statusCode, 500);
    assert.equal(res.json().error, 'E_DAHDI_CFG');
    assert.equal(store.current()?.revision, 1);
  });

  it('serves the JSON Schema of the configuration and of each kind of trunk', async () => {
    const { app } = await harness();
    const res = await app.inject({ method: 'GET', url: '/api/config/schema' });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(Object.keys(body.config.properties), [
      'system',
      'spans',
      'trunks',
      'trunkGroups',
      'timeConditions',
      'regions',
      'blacklists',
      'routes',
      'extensions',
      'mqtt',
    ]);
    assert.deepEqual(Object.keys(body.trunks).sort(), ['analog', 'mfcr2', 'pri', 'ss7']);
    assert.ok(
      body.trunks.pri.properties.switchtype.anyOf.some(
        (c: { const: string }) => c.const === 'euroisdn',
      ),
    );
  });

  it('validates without applying: the changes, or the field errors', async () => {
    const { app, applied } = await harness();
    const ok = await app.inject({
      method: 'POST',
      url: '/api/config/validate',
      payload: changed(),
    });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().ok, true);
    assert.equal(ok.json().changes.length, 1);
    const config = sampleConfig();
    config.regions = [{ name: 'x', prefixes: [] }];
    const bad = await app.inject({ method: 'POST', url: '/api/config/validate', payload: config });
    assert.deepEqual(bad.json(), {
      ok: false,
      errors: [{ path: 'regions[0].prefixes', message: 'must have at least 1 entry' }],
    });
    const yaml = await app.inject({
      method: 'POST',
      url: '/api/config/validate',
      headers: { 'content-type': 'application/yaml' },
      payload: 'spans:\n  - span: 1\n    framing: esf\n    coding: hdb3\n    timing: 1\n',
    });
    assert.equal(yaml.json().ok, false);
    assert.equal(yaml.json().errors[0].path, 'spans[0].framing');
    assert.equal(yaml.json().errors[0].line, 3);
    assert.equal(applied.length, 0);
  });

  it('lists revisions, answers one, and names a missing or malformed id', async () => {
    const { app } = await harness();
    await app.inject({ method: 'PUT', url: '/api/config?comment=one', payload: changed() });
    const list = await app.inject({ method: 'GET', url: '/api/config/revisions?limit=10' });
    assert.deepEqual(
      list.json().revisions.map((r: { id: number; comment: string }) => [r.id, r.comment]),
      [
        [2, 'one'],
        [1, ''],
      ],
    );
    const one = await app.inject({ method: 'GET', url: '/api/config/revisions/1' });
    assert.deepEqual(one.json().config, sampleConfig());
    assert.equal(one.json().revision.current, false);
    const missing = await app.inject({ method: 'GET', url: '/api/config/revisions/7' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error, 'E_REVISION_UNKNOWN');
    const malformed = await app.inject({ method: 'GET', url: '/api/config/revisions/abc' });
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().error, 'E_REQUEST_FIELD');
    assert.deepEqual(malformed.json().details[0].path, 'params.id');
    const limit = await app.inject({ method: 'GET', url: '/api/config/revisions?limit=5000' });
    assert.equal(limit.statusCode, 400);
    assert.match(limit.json().message, /^query.limit: must be at most 1000/);
  });

  it('diffs the running revision against its parent by default', async () => {
    const { app } = await harness();
    await app.inject({ method: 'PUT', url: '/api/config', payload: changed() });
    const res = await app.inject({ method: 'GET', url: '/api/config/diff' });
    assert.equal(res.json().from, 1);
    assert.equal(res.json().to, 2);
    assert.equal(res.json().changes[0].path, 'trunks[name=pri1].switchtype');
    const back = await app.inject({ method: 'GET', url: '/api/config/diff?from=2&to=1' });
    assert.equal(back.json().changes[0].after, 'euroisdn');
  });

  it('rolls back to an earlier revision through apply(), as a new revision', async () => {
    const { app, store, applied, audit } = await harness();
    await app.inject({ method: 'PUT', url: '/api/config', payload: changed() });
    const res = await app.inject({
      method: 'POST',
      url: '/api/config/rollback',
      payload: { revision: 1 },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().revision.id, 3);
    assert.equal(res.json().revision.restores, 1);
    assert.deepEqual(applied[1]?.meta, {
      source: 'rollback',
      comment: 'rollback to revision 1',
      restores: 1,
      author: 'li',
    });
    assert.deepEqual(store.current(), { revision: 3, config: sampleConfig() });
    assert.equal(audit.get('POST /api/config/rollback')?.restores, 1);
    const missing = await app.inject({
      method: 'POST',
      url: '/api/config/rollback',
      payload: { revision: 42 },
    });
    assert.equal(missing.statusCode, 404);
    assert.match(missing.json().message, /42/);
  });

  it('exports YAML that imports back as the same configuration', async () => {
    const { app, store, applied } = await harness();
    const exported = await app.inject({ method: 'GET', url: '/api/config/export' });
    assert.equal(exported.statusCode, 200);
    assert.match(String(exported.headers['content-type']), /^application\/yaml/);
    assert.equal(
      exported.headers['content-disposition'],
      'attachment; filename="switchboard-Lab_box-r1.yaml"',
    );
    assert.match(exported.body, /^# Switchboard configuration of "Lab box"/);
    // Change the running configuration, then bring the export back.
    await app.inject({ method: 'PUT', url: '/api/config', payload: changed() });
    const imported = await app.inject({
      method: 'POST',
      url: '/api/config/import?comment=restore%20from%20file',
      headers: { 'content-type': 'application/yaml' },
      payload: exported.body,
    });
    assert.equal(imported.statusCode, 200, imported.body);
    assert.equal(imported.json().revision.source, 'yaml');
    assert.deepEqual(store.current()?.config, sampleConfig());
    assert.equal(applied.at(-1)?.meta.comment, 'restore from file');
    // text/plain is taken too (curl --data-binary without a type, browsers' file uploads).
    const plain = await app.inject({
      method: 'POST',
      url: '/api/config/import',
      headers: { 'content-type': 'text/plain' },
      payload: configToYaml(changed()),
    });
    assert.equal(plain.statusCode, 200, plain.body);
    assert.deepEqual(store.current()?.config, changed());
  });

  it('refuses a broken YAML file naming its line, and a body of another type', async () => {
    const { app, store } = await harness();
    const broken = await app.inject({
      method: 'POST',
      url: '/api/config/import',
      headers: { 'content-type': 'application/yaml' },
      payload: 'spans:\n  - span: 1\n   framing: ccs\n',
    });
    assert.equal(broken.statusCode, 400);
    assert.equal(broken.json().error, 'E_CONFIG_FILE');
    assert.equal(broken.json().details.line, 3);
    const octets = await app.inject({
      method: 'POST',
      url: '/api/config/import',
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.from('x'),
    });
    assert.equal(octets.statusCode, 415);
    assert.equal(octets.json().error, 'E_REQUEST');
    assert.equal(store.current()?.revision, 1);
  });

  it('declares a role on every route: viewer to read, installer to change', async () => {
    const routes: [string, string, unknown][] = [];
    const app = Fastify();
    useApiErrors(app);
    app.addHook('onRoute', (r) => {
      const method = Array.isArray(r.method) ? r.method.join() : r.method;
      if (method !== 'HEAD') routes.push([method, r.url, r.config?.role]);
    });
    await app.register(configPlugin, {
      store: new ConfigStore(openDb(':memory:')),
      apply: () => Promise.reject(new Error('not called')),
    });
    await app.ready();
    for (const [method, url, role] of routes)
      assert.equal(role, method === 'GET' ? 'viewer' : 'installer', `${method} ${url}`);
    assert.equal(routes.length, 10);
  });
});
