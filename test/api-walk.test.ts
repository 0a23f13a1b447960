// SPDX-License-Identifier: GPL-2.0-or-later
// The route walk: no API route answers without a login, and none answers a role too weak for it.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyPluginAsync } from 'fastify';
import { apiPlugin } from '../src/api/server.ts';
import { CdrStore } from '../src/cdr/store.ts';
import { idleDialer } from '../src/controller/agents.ts';
import { apiPlugins } from '../src/controller/app.ts';
import { isSwitchboardError } from '../src/core/errors.ts';
import { FlowStore } from '../src/ivr/store.ts';
import { LogRing } from '../src/runtime/log-ring.ts';
import { ConfigStore } from '../src/store/config-store.ts';
import {
  call,
  type Session,
  setupAdmin,
  type TestApi,
  testApi,
  tokenWithRole,
  userWithRole,
} from './helpers/api.ts';
import {
  fillParams,
  PUBLIC_ROUTES,
  roleFailures,
  unauthenticatedFailures,
  VIEWER_CHANGES,
  walkRoutes,
} from './helpers/api-walk.ts';

describe('the route walk over every plugin the controller serves', () => {
  let api: TestApi;
  let admin: Session;

  before(async () => {
    // Every plugin the controller serves, over stores on the test's database. The switch side
    // (engine, calls, apply) is never reached: every call of the walk is refused before it.
    const unreachable = () => {
      throw new Error('the walk reached a handler it should have been refused');
    };
    api = await testApi((db) =>
      apiPlugins({
        db,
        configs: new ConfigStore(db),
        cdrs: new CdrStore(db),
        board: unreachable,
        boardView: unreachable,
        health: unreachable,
        apply: unreachable,
        trunks: {
          spans: unreachable,
          snapshot: unreachable,
          command: unreachable,
          traceStart: unreachable,
          traceStop: unreachable,
          traceRead: unreachable,
        },
        calls: { calls: unreachable, stats: unreachable, dial: unreachable, hangup: unreachable },
        flows: new FlowStore(db),
        flowContext: unreachable,
        metrics: { contentType: 'text/plain', text: unreachable },
        ...idleDialer(db),
        firmware: {
          maxBundleBytes: 1024,
          view: unreachable,
          upload: unreachable,
          beginReboot: unreachable,
          rebootNow: unreachable,
          requestFactoryReset: unreachable,
        },
        live: { spans: unreachable, channels: unreachable, on: unreachable },
        dataDir: unreachable as never,
        logs: new LogRing(),
        boxName: unreachable,
        webRoot: mkdtempSync(join(tmpdir(), 'switchboard-walk-web-')),
      }),
    );
  });
  after(async () => {
    await api.app.close();
  });

  it('walks the routes of every area and the API docs, with and without an account', async () => {
    const keys = walkRoutes(api.app).map((r) => `${r.method} ${r.url}`);
    for (const k of [
      'POST /api/login',
      'DELETE /api/users/:name',
      'DELETE /api/tokens/:id',
      'GET /api/audit',
      'GET /api/status',
      'GET /api/system/health',
      'GET /api/board',
      'PUT /api/config',
      'POST /api/config/rollback',
      'POST /api/config/import',
      'POST /api/config/import-asterisk',
      'GET /api/cdr',
      'GET /api/cdr.csv',
      'GET /api/trunks',
      'POST /api/trunks/:name/block',
      'GET /api/spans/:span/trace.pcap',
      'POST /api/calls',
      'DELETE /api/calls/:id',
      'PUT /api/flows/:name',
      'GET /api/calls/:id/flow-log',
      'POST /api/campaigns/:name/contacts',
      'POST /api/campaigns/:name/:command',
      'POST /api/dnc',
      'POST /api/agents/:extension/login',
      'GET /api/firmware',
      'POST /api/firmware/bundle',
      'POST /api/firmware/reboot',
      'POST /api/system/factory-reset',
      'GET /metrics',
      'GET /api/docs/json',
      'GET /api/docs/static/*',
      'GET /api/live',
      'GET /api/system/health',
      'GET /api/system/logs',
      'GET /api/system/backup',
      'GET /api/system/restore',
      'POST /api/system/restore',
      'DELETE /api/system/restore',
      'GET /',
      'GET /assets/*',
    ])
      assert.ok(keys.includes(k), `${k} missing from ${keys.join(', ')}`);
    // Before setup (no account at all) and after it, the answer is the same.
    assert.deepEqual(await unauthenticatedFailures(api.app), []);
    admin = await setupAdmin(api.app);
    assert.deepEqual(await unauthenticatedFailures(api.app), []);
  });

  it('fills path parameters and wildcards', () => {
    assert.equal(fillParams('/api/users/:name'), '/api/users/1');
    assert.equal(fillParams('/api/x/:id(^\\d+$)/y'), '/api/x/1/y');
    assert.equal(fillParams('/api/docs/static/*'), '/api/docs/static/1');
  });

  it('refuses a viewer every route above viewer, and lets them change only their own session and password', async () => {
    const viewer = await userWithRole(api.app, admin, 'vera', 'viewer');
    const cookie = { sb_session: viewer.cookie };
    assert.deepEqual(
      await roleFailures(
        api.app,
        'viewer',
        { 'x-csrf-token': viewer.csrf },
        { cookies: cookie, changesAllowed: VIEWER_CHANGES },
      ),
      [],
    );
    const token = await tokenWithRole(api.app, admin, 'viewer');
    assert.deepEqual(
      await roleFailures(
        api.app,
        'viewer',
        { authorization: `Bearer ${token.token}` },
        { changesAllowed: VIEWER_CHANGES },
      ),
      [],
    );
  });

  it('refuses an operator the installer and admin routes', async () => {
    const operator = await userWithRole(api.app, admin, 'otto', 'operator');
    assert.deepEqual(
      await roleFailures(
        api.app,
        'operator',
        { 'x-csrf-token': operator.csrf },
        { cookies: { sb_session: operator.cookie } },
      ),
      [],
    );
    const token = await tokenWithRole(api.app, admin, 'operator');
    const failures = await roleFailures(api.app, 'operator', {
      authorization: `Bearer ${token.token}`,
    });
    assert.deepEqual(failures, []);
    // The walk did call something: the admin routes, refused.
    const refused = await call(api.app, token.token, 'GET', '/api/users');
    assert.equal(refused.statusCode, 403);
  });

  it('refuses an installer the admin routes', async () => {
    const installer = await userWithRole(api.app, admin, 'ines', 'installer');
    const token = await tokenWithRole(api.app, installer, 'installer');
    assert.deepEqual(
      await roleFailures(api.app, 'installer', { authorization: `Bearer ${token.token}` }),
      [],
    );
  });
});

describe('the walk catches what it is for', () => {
  const leaky: FastifyPluginAsync = async (app) => {
    app.get('/api/leak', { config: { public: true } }, async () => ({ secret: 42 }));
    // Declares nothing: treated as viewer, so it needs a login.
    app.post('/api/undeclared', async () => ({ ok: true }));
  };

  it('reports a public route that is not on the public list', async () => {
    const api = await testApi([apiPlugin(leaky, {})]);
    try {
      const failures = await unauthenticatedFailures(api.app);
      assert.deepEqual(failures, [
        'GET /api/leak: public true, listed false',
        'HEAD /api/leak: public true, listed false',
      ]);
      // Listing it makes it pass: the list is the one place a public route is allowed.
      assert.deepEqual(
        await unauthenticatedFailures(api.app, [
          ...PUBLIC_ROUTES,
          'GET /api/leak',
          'HEAD /api/leak',
        ]),
        [],
      );
    } finally {
      await api.app.close();
    }
  });

  it('puts a route that declares no role behind a login, and lets a viewer change through it only if listed', async () => {
    const api = await testApi([apiPlugin(leaky, {})]);
    try {
      const res = await call(api.app, undefined, 'POST', '/api/undeclared', {});
      assert.equal(res.statusCode, 401);
      const admin = await setupAdmin(api.app);
      const viewer = await tokenWithRole(api.app, admin, 'viewer');
      const failures = await roleFailures(
        api.app,
        'viewer',
        { authorization: `Bearer ${viewer.token}` },
        { changesAllowed: VIEWER_CHANGES },
      );
      assert.deepEqual(failures, ['POST /api/undeclared: a viewer may call it (role viewer)']);
    } finally {
      await api.app.close();
    }
  });

  it('refuses to build an API with a route that declares both public and a role, or an unknown role', async () => {
    const both: FastifyPluginAsync = async (app) => {
      app.get('/api/both', { config: { public: true, role: 'admin' } }, async () => ({}));
    };
    const unknown: FastifyPluginAsync = async (app) => {
      app.get('/api/root', { config: { role: 'root' as 'admin' } }, async () => ({}));
    };
    for (const [plugin, words] of [
      [both, 'declares both public and a role'],
      [unknown, 'unknown role "root"'],
    ] as const) {
      await assert.rejects(testApi([apiPlugin(plugin, {})]), (err) => {
        assert.ok(isSwitchboardError(err, 'E_INTERNAL'), String(err));
        assert.match(err.message, new RegExp(words));
        return true;
      });
    }
  });
});
