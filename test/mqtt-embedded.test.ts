// SPDX-License-Identifier: GPL-2.0-or-later
// MQTT on the embedded broker of a running controller: retained spans, commands, the NOC away 60 s, metrics, kill -9.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { priPairs, type RunningCarrier, startCarrier } from './helpers/carrier.ts';
import { type RunningController, startController } from './helpers/controller.ts';
import { eventually, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';
import { type Recorder, recorder, request } from './helpers/mqtt.ts';
import {
  assertNoLossNoDuplicates,
  hairpinScenario,
  hairpinSwitch,
  outboxMessages,
  tokenFor,
} from './helpers/mqtt-switch.ts';

const NODE = 'box-e';
const PREFIX = `switchboard/${NODE}/`;
const OUTAGE_MS = 60_000;

describe('MQTT on the embedded broker of the running switch', () => {
  let sim: TestSim;
  let ctl: RunningController;
  let url: string;
  const tokens: Record<string, string> = {};
  const clients: Recorder[] = [];
  const carriers: RunningCarrier[] = [];

  before(async () => {
    const { board, systemConf } = priPairs(1);
    sim = await withConfiguredSim(board, systemConf);
    ctl = await startController(
      sim,
      hairpinSwitch({
        nodeId: NODE,
        cdr: true,
        healthSeconds: 5,
        embedded: { port: 0, host: '127.0.0.1' },
      }),
    );
    await ctl.proc.waitFor(
      (l) => typeof l.msg === 'string' && l.msg.startsWith('MQTT: embedded broker listening'),
    );
    const line = ctl.proc.lines.find((l) =>
      String(l.msg).startsWith('MQTT: embedded broker listening'),
    );
    url = `mqtt://127.0.0.1:${line?.port}`;
    for (const role of ['viewer', 'operator'] as const) tokens[role] = await tokenFor(ctl, role);
    // The far end of the PRI link, placing no calls yet.
    carriers.push(await startCarrier(sim, hairpinScenario(0)));
  });
  after(async () => {
    for (const c of clients) await c.close();
    for (const c of carriers) await c.stop();
    await ctl?.stop();
    await sim?.stop();
  });

  const connect = async (token: string, topics: string[], options = {}) => {
    const r = await recorder(url, topics, { username: 'noc', password: token, ...options });
    clients.push(r);
    return r;
  };

  it('keeps span state retained: a subscriber that connects later gets span/1 with its link up', async () => {
    assert.ok(
      await eventually(async () => {
        const t = await ctl.api('GET', '/api/trunks');
        return t.json.trunks[0]?.links.every((l: { state: string }) => l.state === 'up') === true;
      }, 30_000),
    );
    // Give the live feed a poll to see the link come up.
    await new Promise((r) => setTimeout(r, 500));
    const late = await connect(tokens.viewer as string, [`${PREFIX}span/+`, `${PREFIX}bridge/+`]);
    const span = await late.waitFor(
      (m) => m.topic === `${PREFIX}span/1` && m.json.links?.[0]?.state === 'up',
    );
    assert.equal(span.retain, true);
    assert.equal(span.json.state, 'OK');
    assert.deepEqual(span.json.trunks, ['pri']);
    assert.equal(span.json.channels.idle, 30);
    const info = await late.waitFor((m) => m.topic === `${PREFIX}bridge/info`);
    assert.equal(info.json.name, 'MQTT test box');
    assert.equal(info.json.broker, 'embedded');
    const health = await late.waitFor((m) => m.topic === `${PREFIX}bridge/health`, 15_000);
    assert.equal(health.retain, false);
    assert.equal(typeof health.json.memory.processRssBytes, 'number');
  });

  it('refuses commands without authorisation; with it, a blocked channel shows on channel/1/5', async () => {
    const noc = await connect(tokens.operator as string, [
      `${PREFIX}bridge/response/#`,
      `${PREFIX}channel/1/5`,
    ]);
    const none = await request(noc, PREFIX, 'block', { trunk: 'pri', channel: 5 });
    assert.equal(none.status, 'error');
    assert.equal(none.error?.code, 'E_AUTH_REQUIRED');
    const viewer = await request(noc, PREFIX, 'block', {
      trunk: 'pri',
      channel: 5,
      token: tokens.viewer,
    });
    assert.equal(viewer.error?.code, 'E_FORBIDDEN');
    const block = await request(noc, PREFIX, 'block', {
      trunk: 'pri',
      channel: 5,
      token: tokens.operator,
    });
    assert.equal(block.status, 'ok', JSON.stringify(block));
    const blocked = await noc.waitFor(
      (m) => m.topic === `${PREFIX}channel/1/5` && m.json.state === 'blocked',
      15_000,
    );
    assert.equal(blocked.json.trunk, 'pri');
    const unblock = await request(noc, PREFIX, 'unblock', {
      trunk: 'pri',
      channel: 5,
      token: tokens.operator,
    });
    assert.equal(unblock.status, 'ok');
    await noc.waitFor(
      (m) =>
        m.topic === `${PREFIX}channel/1/5` &&
        m.json.state === 'idle' &&
        m.json.id > blocked.json.id,
      15_000,
    );
    // The change is in the audit log like an API change.
    const audit = await ctl.api('GET', '/api/audit?action=mqtt_block');
    assert.deepEqual(
      audit.json.entries.map((e: { status: number; method: string }) => `${e.method} ${e.status}`),
      ['MQTT 200', 'MQTT 403'],
    );
  });

  it('delivers everything to a NOC subscriber away for 60 s (persistent session), nothing twice', async () => {
    const options = { clientId: 'noc-away', clean: false };
    const first = await connect(tokens.viewer as string, [`${PREFIX}#`], options);
    await first.close();
    const before = ctl.ended().length;
    const left = Date.now();
    await carriers.pop()?.stop();
    const carrier = await startCarrier(sim, hairpinScenario(6));
    carriers.push(carrier);
    await carrier.inboundDone(OUTAGE_MS);
    assert.ok(await eventually(async () => ctl.ended().length >= before + 6, 30_000));
    // Still away: the rest of the 60 s.
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - left))));
    const ended = ctl
      .ended()
      .slice(before)
      .map((l) => l.call as string);
    const back = await connect(tokens.viewer as string, [`${PREFIX}#`], options);
    await eventually(
      async () =>
        ended.every((id) =>
          back.messages.some((m) => m.topic === `${PREFIX}cdr` && m.json.cdr?.id === id),
        ),
      30_000,
    );
    const ids = assertNoLossNoDuplicates(back.messages, PREFIX);
    const cdrs = back.messages.filter((m) => m.topic === `${PREFIX}cdr`).map((m) => m.json.cdr.id);
    assert.deepEqual(cdrs.sort(), [...ended].sort());
    const events = back.messages.filter((m) => m.topic === `${PREFIX}call/event`);
    for (const id of ended) {
      const mine = events.filter((m) => m.json.call === id).map((m) => m.json.event);
      assert.deepEqual(mine, ['start', 'answer', 'end'], `call ${id}`);
    }
    assert.ok(outboxMessages(back.messages, PREFIX).length === ids.length);
  });

  it('serves /metrics to a viewer token with the span, channel, call and setup-time families', async () => {
    const none = await fetch(`${ctl.base}/metrics`);
    assert.equal(none.status, 401);
    const res = await fetch(`${ctl.base}/metrics`, {
      headers: { authorization: `Bearer ${tokens.viewer}` },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    for (const family of [
      '# TYPE switchboard_span_up gauge',
      '# TYPE switchboard_span_alarm gauge',
      '# TYPE switchboard_span_errors_total counter',
      '# TYPE switchboard_channels gauge',
      '# TYPE switchboard_link_up gauge',
      '# TYPE switchboard_calls_total counter',
      '# TYPE switchboard_call_setup_seconds histogram',
      '# TYPE switchboard_mqtt_outbox_messages gauge',
      '# TYPE process_cpu_seconds_total counter',
    ])
      assert.ok(text.includes(family), `${family} missing`);
    assert.match(text, /switchboard_span_alarm\{span="1",alarm="RED"\} 0/);
    assert.match(text, /switchboard_span_errors_total\{span="1",counter="crc4"\} \d+/);
    assert.match(text, /switchboard_channels\{span="1",state="idle"\} \d+/);
    assert.match(text, /switchboard_link_up\{span="1",trunk="pri",kind="[a-z]+"\} 1/);
    const answered =
      /switchboard_calls_total\{direction="inbound",result="answered",cause="16",cause_name="NORMAL_CLEARING"\} (\d+)/.exec(
        text,
      );
    assert.ok(answered && Number(answered[1]) >= 6, text);
    const setups = /switchboard_call_setup_seconds_count\{direction="inbound"\} (\d+)/.exec(text);
    assert.ok(setups && Number(setups[1]) >= 6, 'every answered call has its setup time');
    assert.match(text, /switchboard_mqtt_connected 1/);
  });

  it('takes the broker down with the process on kill -9: subscribers lose the connection', async () => {
    const sub = await connect(tokens.viewer as string, [`${PREFIX}bridge/state`], {
      reconnectPeriod: 0,
    });
    const closed = new Promise<void>((r) => sub.client.once('close', () => r()));
    process.kill(ctl.proc.pid as number, 'SIGKILL');
    await ctl.proc.done;
    await closed;
    assert.equal(sub.client.connected, false);
    await assert.rejects(recorder(url, [], { password: tokens.viewer, reconnectPeriod: 0 }));
  });
});
