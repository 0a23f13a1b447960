// SPDX-License-Identifier: GPL-2.0-or-later
// The NOC client over TLS with a client certificate (Mosquitto requiring one), and a broker certificate it must refuse.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { LiveFeed } from '../src/controller/live.ts';
import { MqttBridge } from '../src/mqtt/bridge.ts';
import { openDb } from '../src/store/db.ts';
import { eventually } from './helpers/dahdi.ts';
import { syntheticSwitch } from './helpers/live.ts';
import { type Mosquitto, type Recorder, recorder, startMosquitto } from './helpers/mqtt.ts';

describe('MQTT to the NOC broker over TLS', () => {
  let mosquitto: Mosquitto;
  let watcher: Recorder;
  const lines: { msg: string; reason?: string }[] = [];

  const bridge = () => {
    const sw = syntheticSwitch(1);
    const feed = new LiveFeed({ spans: () => sw.spans(), snapshot: () => sw.snapshot() });
    feed.poll();
    const log = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _enc, done) {
          lines.push(JSON.parse(chunk.toString()));
          done();
        },
      }),
    );
    return new MqttBridge({
      live: feed,
      db: openDb(':memory:'),
      commands: {
        status: () => ({}),
        maintenance: () => undefined,
        campaign: () => undefined,
        traceStart: () => undefined,
        traceStop: () => ({}),
      },
      identity: { hostname: 'tls-host' },
      log,
      describe: () => ({
        model: 'sim-demo',
        firmware: { version: '0.1.0', build: 'dev', compatible: 'switchboard-sim-demo' },
        name: null,
        bootId: 'b',
        startedAt: new Date().toISOString(),
        spans: [],
        mismatches: [],
      }),
    });
  };

  before(async () => {
    mosquitto = await startMosquitto({ noc: 'Noc-pass-2026' }, { tls: true });
    watcher = await recorder(mosquitto.url, ['tls/#'], {
      username: 'noc',
      password: 'Noc-pass-2026',
    });
  });
  after(async () => {
    await watcher?.close();
    await mosquitto?.close();
  });

  it('connects with a client certificate, checks the broker against the CA, and publishes', async () => {
    const tls = mosquitto.tls as NonNullable<Mosquitto['tls']>;
    const b = bridge();
    try {
      await b.start({
        broker: tls.url,
        baseTopic: 'tls',
        nodeId: 'box-t',
        tls: { ca: tls.ca, cert: tls.cert, key: tls.key },
      });
      const state = await watcher.waitFor((m) => m.topic === 'tls/box-t/bridge/state');
      assert.deepEqual(state.json, { state: 'online' });
      await watcher.waitFor((m) => m.topic === 'tls/box-t/span/1');
      assert.equal(b.connected, true);
      // The broker took our certificate's CN as the user name.
      assert.match(mosquitto.log(), /as switchboard-box-t .*u'box-t'/);
    } finally {
      await b.stop();
    }
    await watcher.waitFor(
      (m) => m.topic === 'tls/box-t/bridge/state' && m.json.state === 'offline',
    );
    // A clean stop leaves the state offline, retained, for whoever looks later.
    const later = await recorder(mosquitto.url, ['tls/box-t/bridge/state'], {
      username: 'noc',
      password: 'Noc-pass-2026',
    });
    try {
      const seen = await later.waitFor(() => true);
      assert.equal(seen.retain, true);
      assert.deepEqual(seen.json, { state: 'offline' });
    } finally {
      await later.close();
    }
  });

  it('refuses a broker whose certificate another CA signed, and says so in the log', async () => {
    const tls = mosquitto.tls as NonNullable<Mosquitto['tls']>;
    const b = bridge();
    try {
      await b.start({
        broker: tls.url,
        baseTopic: 'tls',
        nodeId: 'box-x',
        tls: { ca: join(mosquitto.dir, 'other-ca.pem'), cert: tls.cert, key: tls.key },
        reconnect: { minSeconds: 1, maxSeconds: 1 },
      });
      assert.ok(
        await eventually(
          async () => lines.some((l) => l.msg.startsWith('MQTT: cannot reach the NOC broker')),
          15_000,
        ),
      );
      const failure = lines.find((l) => l.msg.startsWith('MQTT: cannot reach the NOC broker'));
      assert.match(failure?.reason ?? '', /certificate|TLS/i);
      assert.equal(b.connected, false);
      assert.equal(
        watcher.messages.some((m) => m.topic.startsWith('tls/box-x/')),
        false,
      );
    } finally {
      await b.stop();
    }
  });
});
