// SPDX-License-Identifier: GPL-2.0-or-later
// The flows API behind authentication: versions, node-level refusals that store nothing, roles, the flow log of a call.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { flowsPlugin } from '../src/api/flows.ts';
import { apiPlugin } from '../src/api/server.ts';
import { FlowStore } from '../src/ivr/store.ts';
import {
  call,
  type Session,
  setupAdmin,
  type TestApi,
  testApi,
  userWithRole,
} from './helpers/api.ts';
import { sampleFlow } from './helpers/ivr.ts';

describe('flows api', () => {
  let api: TestApi;
  let store: FlowStore;
  let admin: Session;
  let viewer: Session;
  let operator: Session;
  let installer: Session;

  before(async () => {
    api = await testApi((db) => {
      store = new FlowStore(db);
      return [
        apiPlugin(flowsPlugin, {
          store,
          context: () => ({
            promptExists: (name: string) =>
              !name.startsWith('missing') && !name.startsWith('currency/x'),
            queueExists: (name: string) => name === 'support',
            timeConditionExists: (name: string) => name === 'office',
          }),
        }),
      ];
    });
    admin = await setupAdmin(api.app);
    viewer = await userWithRole(api.app, admin, 'vera', 'viewer');
    operator = await userWithRole(api.app, admin, 'otto', 'operator');
    installer = await userWithRole(api.app, admin, 'lilei', 'installer');
  });
  after(async () => {
    await api.app.close();
  });

  it('saves versions and serves the active one, its history and each version', async () => {
    let res = await call(
      api.app,
      installer,
      'PUT',
      '/api/flows/hotline?comment=first',
      sampleFlow(),
    );
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(
      { ...(res.json() as object), createdAt: undefined },
      {
        name: 'hotline',
        version: 1,
        author: 'lilei',
        comment: 'first',
        active: true,
        unchanged: false,
        createdAt: undefined,
      },
    );
    const changed = sampleFlow();
    changed.description = 'after hours changed';
    res = await call(api.app, installer, 'PUT', '/api/flows/hotline?base=1', changed);
    assert.equal(res.json().version, 2);
    res = await call(api.app, installer, 'PUT', '/api/flows/hotline', changed);
    assert.equal(res.json().unchanged, true);

    res = await call(api.app, viewer, 'GET', '/api/flows');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(
      res
        .json()
        .flows.map(
          (f: { name: string; version: number; versions: number; description: string }) => [
            f.name,
            f.version,
            f.versions,
            f.description,
          ],
        ),
      [['hotline', 2, 2, 'after hours changed']],
    );
    res = await call(api.app, viewer, 'GET', '/api/flows/hotline');
    assert.equal(res.json().version, 2);
    assert.deepEqual(res.json().flow, changed);
    res = await call(api.app, viewer, 'GET', '/api/flows/hotline/versions');
    assert.deepEqual(
      res.json().versions.map((v: { version: number; active: boolean }) => [v.version, v.active]),
      [
        [2, true],
        [1, false],
      ],
    );
    res = await call(api.app, viewer, 'GET', '/api/flows/hotline/versions/1');
    assert.deepEqual(res.json().flow, sampleFlow());
    res = await call(api.app, viewer, 'GET', '/api/flows/hotline/versions/7');
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error, 'E_FLOW_UNKNOWN');
  });

  it('refuses a broken flow with node-level details and stores nothing', async () => {
    const bad = sampleFlow();
    (bad.nodes.main as { choices: Record<string, string> }).choices = { '1': 'nope' };
    (bad.nodes.welcome as { items: unknown[] }).items = [{ prompt: 'missing-hello' }];
    const res = await call(api.app, installer, 'PUT', '/api/flows/broken', {
      ...bad,
      name: 'broken',
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error, 'E_FLOW_INVALID');
    const details = res.json().details as { path: string; message: string }[];
    assert.ok(
      details.some(
        (d) =>
          d.path === 'nodes.main.choices.1' &&
          d.message === 'goes to node "nope", which does not exist',
      ),
      res.body,
    );
    assert.ok(
      details.some((d) => d.path === 'nodes.welcome.items[0].prompt'),
      res.body,
    );
    const got = await call(api.app, viewer, 'GET', '/api/flows/broken');
    assert.equal(got.statusCode, 404);
    assert.equal(got.json().error, 'E_FLOW_UNKNOWN');
  });

  it('takes the name from the URL, refuses a body naming another flow, and a stale base', async () => {
    const body: Record<string, unknown> = { ...sampleFlow() };
    delete body.name;
    let res = await call(api.app, installer, 'PUT', '/api/flows/night', body);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().name, 'night');
    res = await call(api.app, installer, 'PUT', '/api/flows/night', {
      ...sampleFlow(),
      name: 'day',
    });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json().details, [
      { path: 'name', message: 'must be "night", the flow named in the URL' },
    ]);
    res = await call(api.app, installer, 'PUT', '/api/flows/night?base=0', {
      ...sampleFlow(),
      name: 'night',
      description: 'x',
    });
    assert.equal(res.statusCode, 409, res.body);
    assert.equal(res.json().error, 'E_FLOW_CONFLICT');
  });

  it('checks a flow without saving it', async () => {
    let res = await call(api.app, installer, 'POST', '/api/flows/validate', {
      ...sampleFlow(),
      name: 'draft',
    });
    assert.deepEqual(res.json(), { ok: true });
    const bad = { ...sampleFlow(), name: 'draft' };
    (bad.nodes.agent as { to: unknown }).to = { queue: 'sales' };
    (bad.nodes.hours as { cases: unknown[] }).cases = [
      { when: { time: 'weekend' }, next: 'answer' },
    ];
    (bad.nodes.conf as unknown) = {
      type: 'transfer',
      to: { flow: 'ghost', return: true },
      next: 'main',
    };
    res = await call(api.app, installer, 'POST', '/api/flows/validate', bad);
    assert.equal(res.statusCode, 200);
    const answer = res.json();
    answer.errors.sort((a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : 1));
    assert.deepEqual(answer, {
      ok: false,
      errors: [
        { path: 'nodes.agent.to.queue', message: 'there is no queue "sales"' },
        { path: 'nodes.conf.to.flow', message: 'there is no flow "ghost"' },
        {
          path: 'nodes.hours.cases[0].when.time',
          message: 'there is no time condition "weekend" in the configuration',
        },
      ].sort((a, b) => (a.path < b.path ? -1 : 1)),
    });
    res = await call(api.app, viewer, 'GET', '/api/flows/draft');
    assert.equal(res.statusCode, 404);
  });

  it('lets each role do what it may: viewers read, installers save, admins delete, operators read call logs', async () => {
    let res = await call(api.app, viewer, 'PUT', '/api/flows/x', { ...sampleFlow(), name: 'x' });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().error, 'E_FORBIDDEN');
    res = await call(api.app, operator, 'POST', '/api/flows/validate', sampleFlow());
    assert.equal(res.statusCode, 403);
    res = await call(api.app, installer, 'DELETE', '/api/flows/hotline');
    assert.equal(res.statusCode, 403);
    res = await call(api.app, undefined, 'GET', '/api/flows');
    assert.equal(res.statusCode, 401);

    const w = store.logWriter('boot7-3');
    w.append({
      seq: 1,
      flow: 'hotline',
      version: 2,
      node: 'main',
      type: 'menu',
      at: '2024-03-04T02:00:00.000Z',
      ms: 2100,
      input: { tries: ['1'] },
      output: { edge: 'choices.1', to: 'account' },
    });
    w.flush();
    res = await call(api.app, viewer, 'GET', '/api/calls/boot7-3/flow-log');
    assert.equal(res.statusCode, 403);
    res = await call(api.app, operator, 'GET', '/api/calls/boot7-3/flow-log');
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().call, 'boot7-3');
    assert.deepEqual(res.json().entries[0].input, { tries: ['1'] });
    res = await call(api.app, operator, 'GET', '/api/calls/boot7-4/flow-log');
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error, 'E_FLOW_LOG_UNKNOWN');

    res = await call(api.app, admin, 'DELETE', '/api/flows/hotline');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { name: 'hotline', deleted: true, versions: 2 });
    res = await call(api.app, viewer, 'GET', '/api/flows/hotline');
    assert.equal(res.statusCode, 404);
    // The log of a call that ran the deleted flow stays readable.
    res = await call(api.app, operator, 'GET', '/api/calls/boot7-3/flow-log');
    assert.equal(res.statusCode, 200);
  });

  it('refuses path parameters that are no flow name or version', async () => {
    let res = await call(api.app, viewer, 'GET', '/api/flows/bad%20name');
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error, 'E_REQUEST_FIELD');
    res = await call(api.app, viewer, 'GET', '/api/flows/night/versions/0');
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().details[0].path, 'params.version');
  });
});
