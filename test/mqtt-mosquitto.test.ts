// SPDX-License-Identifier: GPL-2.0-or-later
// MQTT to a real Mosquitto (the NOC's broker): retained spans, commands, a 60 s broker outage without loss, the last will on kill -9.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { priPairs, type RunningCarrier, startCarrier } from './helpers/carrier.ts';
import { type RunningController, startController } from './helpers/controller.ts';
import { eventually, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';
import {
  type Mosquitto,
  type Recorder,
  recorder,
  request,
  startMosquitto,
} from './helpers/mqtt.ts';
import {
  assertNoLossNoDuplicates,
  hairpinScenario,
  hairpinSwitch,
  tokenFor,
} from './helpers/mqtt-switch.ts';

const NODE = 'box-m';
const PREFIX = `noc/${NODE}/`;
const OUTAGE_MS = 60_000;
const USERS = { box: 'Box-pass-2026', noc: 'Noc-pass-2026' };

describe('MQTT to the NOC broker (Mosquitto)', () => {
  let mosquitto: Mosquitto;
  let sim: TestSim;
  let ctl: RunningController;
  const tokens: Record<string, string> = {};
  const clients: Recorder[] = [];
  const carriers: RunningCarrier[] = [];
  /** The NOC's own subscriber: a persistent session (clean start off), QoS 1, MQTT 5. */
  let noc: Recorder;

  const connect = async (topics: string[], options = {}) => {
    const r = await recorder(mosquitto.url, topics, {
      protocolVersion: 5,
      username: 'noc',
      password: USERS.noc,
      ...options,
    });
    clients.push(r);
    return r;
  };

  before(async () => {
    mosquitto = await startMosquitto(USERS);
    noc = await connect([`${PREFIX}#`], {
      clientId: 'noc-main',
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
    });
    const { board, systemConf } = priPairs(1);
    sim = await withConfiguredSim(board, systemConf);
    const passwordFile = join(sim.dir, 'mqtt.pass');
    writeFileSync(passwordFile, `${USERS.box}\n`);
    ctl = await startController(
      sim,
      hairpinSwitch({
        broker: mosquitto.url,
        username: 'box',
        passwordFile,
        baseTopic: 'noc',
        nodeId: NODE,
        cdr: true,
        keepaliveSeconds: 5,
        reconnect: { minSeconds: 1, maxSeconds: 2 },
      }),
    );
    for (const role of ['viewer', 'operator'] as const) tokens[role] = await tokenFor(ctl, role);
    carriers.push(await startCarrier(sim, hairpinScenario(0)));
  });
  after(async () => {
    for (const c of clients) await c.close();
    for (const c of carriers) await c.stop();
    await ctl?.stop();
    await sim?.stop();
    await mosquitto?.close();
  });

  it('connects with MQTT 5 and user/password, and keeps span state retained for a late subscriber', async () => {
    await noc.waitFor(
      (m) => m.topic === `${PREFIX}bridge/state` && m.json.state === 'online',
      30_000,
    );
    await noc.waitFor(
      (m) => m.topic === `${PREFIX}span/1` && m.json.links?.[0]?.state === 'up',
      30_000,
    );
    const late = await connect([`${PREFIX}span/+`, `${PREFIX}bridge/info`]);
    const span = await late.waitFor((m) => m.topic === `${PREFIX}span/1`);
    assert.equal(span.retain, true);
    assert.equal(span.json.links[0].state, 'up');
    assert.equal(span.json.state, 'OK');
    const span2 = await late.waitFor((m) => m.topic === `${PREFIX}span/2`);
    assert.deepEqual(span2.json.trunks, [], 'the carrier side is not ours');
    const info = await late.waitFor((m) => m.topic === `${PREFIX}bridge/info`);
    assert.equal(info.retain, true);
    assert.equal(info.json.broker, 'noc');
    assert.equal(info.json.nodeId, NODE);
  });

  it('refuses commands without authorisation; with an operator token (user property or payload) it blocks a channel', async () => {
    const requester = await connect([`${PREFIX}bridge/response/#`]);
    const none = await request(requester, PREFIX, 'block', { trunk: 'pri', channel: 5 });
    assert.equal(none.error?.code, 'E_AUTH_REQUIRED');
    const viewer = await request(
      requester,
      PREFIX,
      'block',
      { trunk: 'pri', channel: 5 },
      { properties: { userProperties: { token: tokens.viewer as string } } },
    );
    assert.equal(viewer.error?.code, 'E_FORBIDDEN');
    const block = await request(
      requester,
      PREFIX,
      'block',
      { trunk: 'pri', channel: 5 },
      { properties: { userProperties: { authorization: `Bearer ${tokens.operator}` } } },
    );
    assert.equal(block.status, 'ok', JSON.stringify(block));
    const blocked = await noc.waitFor(
      (m) => m.topic === `${PREFIX}channel/1/5` && m.json.state === 'blocked',
      15_000,
    );
    assert.equal(blocked.retain, false);
    const unblock = await request(requester, PREFIX, 'unblock', {
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
    const status = await request(requester, PREFIX, 'status', { token: tokens.operator });
    assert.equal(status.status, 'ok');
    assert.equal((status.data as { spans: unknown[] }).spans.length, 2);
  });

  it('loses and duplicates nothing through a 60-second broker outage with calls going on meanwhile', async () => {
    // Nothing in flight: the last outbox message has reached the NOC.
    const metrics = async () =>
      (
        await fetch(`${ctl.base}/metrics`, {
          headers: { authorization: `Bearer ${tokens.viewer}` },
        })
      ).text();
    assert.ok(
      await eventually(
        async () => /switchboard_mqtt_outbox_messages 0/.test(await metrics()),
        15_000,
      ),
    );
    // And the broker has handed it on to the NOC (a QoS 1 delivery to it is not left open).
    await new Promise((r) => setTimeout(r, 1000));
    const before = ctl.ended().length;
    const seenBefore = noc.messages.length;
    await mosquitto.stop();
    const down = Date.now();
    await ctl.proc.waitFor(
      (l) => typeof l.msg === 'string' && l.msg.startsWith('MQTT: lost the NOC broker'),
    );

    await carriers.pop()?.stop();
    const carrier = await startCarrier(sim, hairpinScenario(8));
    carriers.push(carrier);
    await carrier.inboundDone(OUTAGE_MS);
    assert.ok(await eventually(async () => ctl.ended().length >= before + 8, 30_000));
    const waiting = /switchboard_mqtt_outbox_messages (\d+)/.exec(await metrics());
    assert.ok(waiting && Number(waiting[1]) > 0, 'the events wait in the outbox');
    assert.match(await metrics(), /switchboard_mqtt_connected 0/);
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - down))));
    assert.ok(Date.now() - down >= OUTAGE_MS);

    await mosquitto.start();
    const ended = ctl
      .ended()
      .slice(before)
      .map((l) => l.call as string);
    assert.equal(ended.length, 8);
    assert.ok(
      await eventually(
        async () =>
          ended.every((id) =>
            noc.messages.some((m) => m.topic === `${PREFIX}cdr` && m.json.cdr?.id === id),
          ),
        60_000,
      ),
      `call records missing: ${ended.filter((id) => !noc.messages.some((m) => m.json.cdr?.id === id))}; the controller said ${JSON.stringify(ctl.proc.lines.filter((l) => l.subsystem === 'mqtt').map((l) => l.msg))}; mosquitto said ${mosquitto.log().slice(-3000)}`,
    );
    assert.ok(
      await eventually(
        async () => /switchboard_mqtt_outbox_messages 0/.test(await metrics()),
        15_000,
      ),
    );
    // Every id the NOC saw, before and after the outage, once and in order, with no gap.
    const ids = assertNoLossNoDuplicates(noc.messages, PREFIX);
    assert.ok(noc.messages.length > seenBefore);
    const cdrs = noc.messages.filter((m) => m.topic === `${PREFIX}cdr`).map((m) => m.json.cdr.id);
    assert.deepEqual(cdrs.filter((id) => ended.includes(id)).sort(), [...ended].sort());
    const stored = await ctl.api('GET', '/api/cdr?limit=100');
    for (const id of ended)
      assert.ok(
        stored.json.records.some((r: { id: string }) => r.id === id),
        `${id} not in the CDR store`,
      );
    const events = noc.messages.filter((m) => m.topic === `${PREFIX}call/event`);
    for (const id of ended)
      assert.deepEqual(
        events.filter((m) => m.json.call === id).map((m) => m.json.event),
        ['start', 'answer', 'end'],
        `call ${id}`,
      );
    assert.ok(ids.length >= 8 * 4, `${ids.length} outbox messages`);
    // The retained state was published again: online after the outage.
    await noc.waitFor(
      (m) =>
        m.topic === `${PREFIX}bridge/state` &&
        m.json.state === 'online' &&
        noc.messages.indexOf(m) > seenBefore,
    );
    assert.ok(
      ctl.proc.lines.some((l) => String(l.msg).startsWith('MQTT: connected to the NOC broker')),
    );
  });

  it('has the broker send the last will (bridge/state offline) when the controller is killed with SIGKILL', async () => {
    const watcher = await connect([`${PREFIX}bridge/state`]);
    await watcher.waitFor((m) => m.json.state === 'online');
    process.kill(ctl.proc.pid as number, 'SIGKILL');
    await ctl.proc.done;
    const will = await watcher.waitFor((m) => m.json.state === 'offline', 30_000);
    assert.deepEqual(will.json, { state: 'offline' });
    // Retained: whoever looks later sees the box offline.
    const later = await connect([`${PREFIX}bridge/state`]);
    const seen = await later.waitFor(() => true);
    assert.equal(seen.retain, true);
    assert.deepEqual(seen.json, { state: 'offline' });
  });
});
