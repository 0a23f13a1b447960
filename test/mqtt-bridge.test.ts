// SPDX-License-Identifier: GPL-2.0-or-later
// The MQTT bridge in-process on the embedded broker: token logins, who may publish and subscribe, retained state, the outbox, requests.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { pino } from 'pino';
import { LiveFeed } from '../src/controller/live.ts';
import { SwitchboardError } from '../src/core/errors.ts';
import { MqttBridge } from '../src/mqtt/bridge.ts';
import type { CommandPort } from '../src/mqtt/commands.ts';
import {
  BridgeInfo,
  BridgeState,
  ChannelMessage,
  CommandResponse,
  SpanMessage,
} from '../src/mqtt/schemas.ts';
import { setupAdmin, type TestApi, testApi, tokenWithRole } from './helpers/api.ts';
import { eventually } from './helpers/dahdi.ts';
import { type SyntheticSwitch, syntheticSwitch } from './helpers/live.ts';
import { type Recorder, recorder, request } from './helpers/mqtt.ts';

const PREFIX = 'switchboard/lab-box/';

describe('the MQTT bridge on the embedded broker', () => {
  let api: TestApi;
  let sw: SyntheticSwitch;
  let feed: LiveFeed;
  let bridge: MqttBridge;
  let url: string;
  const tokens: Record<string, string> = {};
  const done: string[] = [];
  const port: CommandPort = {
    status: () => ({ spans: feed.spans().length }),
    maintenance: (op, args) => {
      if (args.trunk !== 'pri1')
        throw new SwitchboardError('E_TRUNK_UNKNOWN', `no trunk "${args.trunk}"`);
      done.push(`${op} ${args.trunk} ${args.channel}`);
      if (args.channel !== undefined) sw.set(1, args.channel, op === 'block' ? 'ringing' : 'idle');
    },
    campaign: (name, command) => {
      done.push(`${command} ${name}`);
    },
    traceStart: () => undefined,
    traceStop: () => ({}),
  };
  const clients: Recorder[] = [];
  const connect = async (token: string | undefined, topics: string[] = []) => {
    const r = await recorder(
      url,
      topics,
      token === undefined ? {} : { username: 'noc', password: token },
    );
    clients.push(r);
    return r;
  };

  before(async () => {
    api = await testApi();
    const admin = await setupAdmin(api.app);
    for (const role of ['viewer', 'operator', 'installer'] as const)
      tokens[role] = (await tokenWithRole(api.app, admin, role)).token;
    sw = syntheticSwitch(2);
    feed = new LiveFeed({ spans: () => sw.spans(), snapshot: () => sw.snapshot() });
    bridge = new MqttBridge({
      live: feed,
      db: api.db,
      commands: port,
      identity: { hostname: 'lab-host' },
      log: pino({ level: 'silent' }),
      describe: () => ({
        model: 'sim-demo',
        firmware: { version: '0.1.0', build: 'dev', compatible: 'switchboard-sim-demo' },
        name: 'Lab box',
        bootId: 'b007',
        startedAt: new Date().toISOString(),
        spans: sw.spans().map((s) => ({ span: s.span, name: s.name, type: s.type, channels: 31 })),
        mismatches: ['span 3 (E1) is missing'],
      }),
    });
    await bridge.start({ nodeId: 'lab-box', cdr: true, embedded: { port: 0, host: '127.0.0.1' } });
    url = `mqtt://127.0.0.1:${bridge.brokerPort}`;
    feed.poll();
  });
  after(async () => {
    for (const c of clients) await c.close();
    await bridge?.stop();
    await api?.app.close();
  });

  it('refuses a client without an API token as password, or with a wrong one', async () => {
    await assert.rejects(connect(undefined), /Bad username or password|Not authorized/i);
    await assert.rejects(
      connect('sbt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'),
      /Bad username or password|Not authorized/i,
    );
  });

  it('gives a subscriber that comes later the retained state: online, info, every span', async () => {
    const viewer = await connect(tokens.viewer, [`${PREFIX}bridge/+`, `${PREFIX}span/+`]);
    const state = await viewer.waitFor((m) => m.topic === `${PREFIX}bridge/state`);
    assert.deepEqual(state.json, { state: 'online' });
    assert.equal(state.retain, true);
    assert.ok(Value.Check(BridgeState, state.json));
    const info = await viewer.waitFor((m) => m.topic === `${PREFIX}bridge/info`);
    assert.ok(
      Value.Check(BridgeInfo, info.json),
      JSON.stringify([...Value.Errors(BridgeInfo, info.json)]),
    );
    assert.equal(info.json.nodeId, 'lab-box');
    assert.equal(info.json.broker, 'embedded');
    assert.equal(info.json.board.spans.length, 2);
    assert.deepEqual(info.json.board.mismatches, ['span 3 (E1) is missing']);
    for (const n of [1, 2]) {
      const span = await viewer.waitFor((m) => m.topic === `${PREFIX}span/${n}`);
      assert.equal(span.retain, true);
      assert.ok(
        Value.Check(SpanMessage, span.json),
        JSON.stringify([...Value.Errors(SpanMessage, span.json)]),
      );
      assert.deepEqual(span.json.channels, { idle: 30, unconfigured: 1 });
    }
  });

  it('publishes timeslot changes through the outbox with increasing ids, and empties it', async () => {
    const viewer = await connect(tokens.viewer, [`${PREFIX}channel/#`]);
    sw.set(2, 7, 'talking');
    sw.set(1, 3, 'seized');
    feed.poll();
    const talking = await viewer.waitFor((m) => m.topic === `${PREFIX}channel/2/7`);
    const seized = await viewer.waitFor((m) => m.topic === `${PREFIX}channel/1/3`);
    assert.ok(Value.Check(ChannelMessage, talking.json));
    assert.equal(talking.json.state, 'talking');
    assert.equal(seized.json.state, 'seized');
    // Span 1 was polled first: its change got the lower id.
    assert.ok(seized.json.id < talking.json.id, `${seized.json.id} < ${talking.json.id}`);
    assert.equal(talking.retain, false);
    assert.ok(await eventually(async () => bridge.stats().pending === 0));
  });

  it('lets a viewer subscribe only under the base topic, and shows nobody the requests', async () => {
    const viewer = await connect(tokens.viewer);
    for (const filter of ['#', 'other/#', '$SYS/#'])
      await assert.rejects(viewer.client.subscribeAsync(filter, { qos: 1 }), /Subscribe error/);
    const granted = await viewer.client.subscribeAsync('switchboard/#', { qos: 1 });
    assert.deepEqual(
      granted.map((g) => `${g.topic} ${g.qos}`),
      ['switchboard/# 1'],
    );
    const operator = await connect(tokens.operator, [`${PREFIX}bridge/response/#`]);
    const r = await request(operator, PREFIX, 'status', { token: tokens.operator });
    assert.equal(r.status, 'ok');
    await viewer.waitFor((m) => m.topic === `${PREFIX}bridge/response/status`);
    assert.deepEqual(
      viewer.messages.filter((m) => m.topic.includes('/bridge/request/')),
      [],
      'the request (and its token) reached a subscriber',
    );
  });

  it('disconnects a viewer that publishes a request, and an operator that publishes a state topic', async () => {
    for (const [role, topic] of [
      ['viewer', `${PREFIX}bridge/request/status`],
      ['operator', `${PREFIX}span/1`],
      ['operator', `${PREFIX}bridge/state`],
    ] as const) {
      const c = await connect(tokens[role]);
      const closed = new Promise<void>((r) => c.client.once('close', () => r()));
      c.client.publish(topic, JSON.stringify({ state: 'offline', token: tokens[role] }), {
        qos: 1,
      });
      await closed;
    }
    // The retained state is still the controller's.
    const viewer = await connect(tokens.viewer, [`${PREFIX}bridge/state`]);
    assert.deepEqual((await viewer.waitFor(() => true)).json, { state: 'online' });
  });

  it('answers requests: refused without a token, with a weaker one, unknown or malformed; done with an operator token', async () => {
    const operator = await connect(tokens.operator, [
      `${PREFIX}bridge/response/#`,
      `${PREFIX}channel/1/5`,
    ]);
    const none = await request(operator, PREFIX, 'block', { trunk: 'pri1', channel: 5 });
    assert.equal(none.error?.code, 'E_AUTH_REQUIRED');
    const weak = await request(operator, PREFIX, 'block', {
      trunk: 'pri1',
      channel: 5,
      token: tokens.viewer,
    });
    assert.equal(weak.error?.code, 'E_FORBIDDEN');
    const trace = await request(operator, PREFIX, 'trace_start', {
      span: 1,
      token: tokens.operator,
    });
    assert.equal(trace.error?.code, 'E_FORBIDDEN', 'traces need the installer role, as in the API');
    const unknown = await request(operator, PREFIX, 'reboot', { token: tokens.operator });
    assert.equal(unknown.error?.code, 'E_MQTT_COMMAND_UNKNOWN');
    const field = await request(operator, PREFIX, 'block', {
      channel: 'five',
      token: tokens.operator,
    });
    assert.equal(field.error?.code, 'E_REQUEST_FIELD');
    assert.match(field.error?.message ?? '', /trunk: is required|channel: must be an integer/);
    const trunk = await request(operator, PREFIX, 'block', {
      trunk: 'pri9',
      token: tokens.operator,
    });
    assert.equal(trunk.error?.code, 'E_TRUNK_UNKNOWN');
    assert.deepEqual(done, [], 'nothing ran for a refused request');

    // Not JSON: answered too, with no transaction to echo.
    const bad = operator.waitFor(
      (m) => m.topic === `${PREFIX}bridge/response/unblock` && m.json?.error?.code === 'E_REQUEST',
    );
    await operator.client.publishAsync(`${PREFIX}bridge/request/unblock`, '{not json', { qos: 1 });
    const badResponse = (await bad).json;
    assert.ok(Value.Check(CommandResponse, badResponse));
    assert.equal(badResponse.transaction, null);

    const ok = await request(operator, PREFIX, 'block', {
      trunk: 'pri1',
      channel: 5,
      token: tokens.operator,
    });
    assert.ok(Value.Check(CommandResponse, ok));
    assert.equal(ok.status, 'ok', JSON.stringify(ok));
    assert.deepEqual(done, ['block pri1 5']);
    feed.poll();
    const changed = await operator.waitFor((m) => m.topic === `${PREFIX}channel/1/5`);
    assert.equal(changed.json.state, 'ringing');

    // Audited like an API change, with the token's user and no token in the detail.
    const rows = api.db
      .prepare(
        "SELECT user_name, method, url, status, action, detail FROM audit WHERE method = 'MQTT' ORDER BY id",
      )
      .all() as {
      user_name: string;
      url: string;
      status: number;
      action: string;
      detail: string;
    }[];
    assert.deepEqual(
      rows.map((r) => `${r.action} ${r.status}`),
      [
        'mqtt_block 403',
        'mqtt_trace_start 403',
        'mqtt_block 400',
        'mqtt_block 404',
        'mqtt_block 200',
      ],
    );
    assert.equal(rows.at(-1)?.url, `${PREFIX}bridge/request/block`);
    assert.equal(rows.at(-1)?.user_name, 'admin');
    assert.doesNotMatch(rows.map((r) => r.detail).join(), /sbt_/);
  });

  it('publishes call records only when asked (mqtt.cdr), and moves to a new node id when reconfigured', async () => {
    await bridge.reconfigure({ nodeId: 'box-2', embedded: { port: 0, host: '127.0.0.1' } });
    url = `mqtt://127.0.0.1:${bridge.brokerPort}`;
    const viewer = await connect(tokens.viewer, ['switchboard/box-2/#']);
    const info = await viewer.waitFor((m) => m.topic === 'switchboard/box-2/bridge/info');
    assert.equal(info.json.cdr, false);
    await bridge.reconfigure({ enabled: false });
    assert.equal(bridge.settings, undefined);
    assert.equal(bridge.brokerPort, undefined);
  });
});
