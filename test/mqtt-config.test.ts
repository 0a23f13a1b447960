// SPDX-License-Identifier: GPL-2.0-or-later
// The mqtt section of the configuration: defaults, refused values named by field, unreadable files, the node id.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validateConfig } from '../src/config/validate.ts';
import { isSwitchboardError } from '../src/core/errors.ts';
import { mqttSettings, nodeIdFrom } from '../src/mqtt/config.ts';
import { mqttFileErrors } from '../src/mqtt/files.ts';
import { boxSerial } from '../src/mqtt/identity.ts';

/** The field errors validateConfig gives for a configuration with only this mqtt section. */
function refused(mqtt: unknown): string[] {
  try {
    validateConfig({ mqtt });
  } catch (err) {
    assert.ok(isSwitchboardError(err, 'E_CONFIG_FIELD'), String(err));
    return (err.details as { path: string; message: string }[]).map(
      (d) => `${d.path}: ${d.message}`,
    );
  }
  return [];
}

describe('mqtt configuration', () => {
  it('fills in the defaults: the embedded broker on 1883, base topic switchboard, node id from the box', () => {
    const s = mqttSettings(undefined, 'SN 0042/B');
    assert.equal(s.enabled, true);
    assert.equal(s.broker, undefined);
    assert.equal(s.nodeId, 'SN-0042-B');
    assert.equal(s.baseTopic, 'switchboard');
    assert.equal(s.clientId, 'switchboard-SN-0042-B');
    assert.equal(s.healthSeconds, 60);
    assert.equal(s.cdr, false);
    assert.deepEqual(s.embedded, { port: 1883, host: '0.0.0.0' });
    assert.deepEqual(s.reconnect, { minSeconds: 1, maxSeconds: 60 });
    assert.equal(s.outbox.maxMessages, 100000);
    const noc = mqttSettings({ broker: 'mqtts://noc.example.net', nodeId: 'bj-01' }, 'host');
    assert.deepEqual(noc.broker, { url: 'mqtts://noc.example.net', tls: true });
    assert.equal(noc.nodeId, 'bj-01');
    assert.equal(nodeIdFrom('///'), 'switchboard');
  });

  it('accepts a full NOC setup', () => {
    assert.deepEqual(
      refused({
        broker: 'mqtts://noc.example.net:8883',
        nodeId: 'bj-01',
        baseTopic: 'carrier/voice',
        healthSeconds: 30,
        cdr: true,
        username: 'box17',
        passwordFile: '/etc/switchboard/mqtt.pass',
        tls: { ca: '/etc/switchboard/noc-ca.pem', cert: '/etc/a.pem', key: '/etc/a.key' },
        keepaliveSeconds: 20,
        reconnect: { minSeconds: 2, maxSeconds: 120 },
        outbox: { maxMessages: 50000 },
      }),
      [],
    );
  });

  it('names every refused field', () => {
    assert.deepEqual(refused({ broker: 'http://noc:1883' }), [
      'mqtt.broker: must start with mqtt:// or mqtts://, not http://',
    ]);
    assert.deepEqual(refused({ broker: 'mqtt://user:secret@noc:1883' }), [
      'mqtt.broker: must not carry a user name or password: use username and passwordFile',
    ]);
    assert.deepEqual(refused({ broker: 'mqtt://noc:1883/topic' }), [
      'mqtt.broker: must be only mqtt[s]://HOST[:PORT], without a path or query',
    ]);
    assert.deepEqual(refused({ broker: 'not a url at all' }), [
      'mqtt.broker: "not a url at all" is not a URL: write mqtt://HOST[:PORT] or mqtts://HOST[:PORT]',
    ]);
    assert.deepEqual(refused({ broker: 'mqtt://noc', tls: { ca: '/etc/ca.pem' } }), [
      'mqtt.tls: TLS settings need an mqtts:// broker (the broker is mqtt://, unencrypted)',
    ]);
    assert.deepEqual(refused({ broker: 'mqtts://noc', tls: { cert: '/etc/a.pem' } }), [
      'mqtt.tls.key: a client certificate needs both tls.cert and tls.key',
    ]);
    assert.deepEqual(refused({ broker: 'mqtt://noc', passwordFile: '/etc/p' }), [
      'mqtt.passwordFile: needs mqtt.username as well',
    ]);
    assert.deepEqual(refused({ username: 'box' }), [
      'mqtt.username: applies to the NOC broker: set mqtt.broker, or remove it',
    ]);
    assert.deepEqual(
      refused({ broker: 'mqtt://noc', reconnect: { minSeconds: 30, maxSeconds: 10 } }),
      ['mqtt.reconnect.maxSeconds: must not be less than minSeconds (30)'],
    );
    assert.deepEqual(refused({ nodeId: 'box/1' }), [
      'mqtt.nodeId: must be a topic level of 1-64 letters, digits, "_", "." or "-"',
    ]);
    assert.deepEqual(refused({ baseTopic: 'noc/#' }), [
      'mqtt.baseTopic: must be topic levels of letters, digits, "_", "." or "-" joined by "/" (no wildcards)',
    ]);
    assert.deepEqual(refused({ embedded: { port: 70000 } }), [
      'mqtt.embedded.port: must be at most 65535',
    ]);
    assert.deepEqual(refused({ healthSeconds: 1 }), ['mqtt.healthSeconds: must be at least 5']);
    assert.deepEqual(refused({ outbox: { maxMessages: 10 } }), [
      'mqtt.outbox.maxMessages: must be at least 1000',
    ]);
    assert.deepEqual(refused({ broker: 'mqtt://noc', passwordFile: 'mqtt.pass', username: 'u' }), [
      'mqtt.passwordFile: must be an absolute path of a file on the box',
    ]);
    assert.deepEqual(refused({ pasword: 'x' }), ['mqtt.pasword: is not a known field']);
  });

  it('names a file the box cannot read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-mqtt-files-'));
    try {
      const ca = join(dir, 'ca.pem');
      writeFileSync(ca, 'PEM');
      assert.deepEqual(mqttFileErrors({ broker: 'mqtts://noc', tls: { ca } }), []);
      assert.deepEqual(
        mqttFileErrors({ broker: 'mqtts://noc', tls: { ca, cert: join(dir, 'none.pem') } }).map(
          (e) => e.path,
        ),
        ['mqtt.tls.cert'],
      );
      assert.match(
        mqttFileErrors({ username: 'u', passwordFile: join(dir, 'nope') })[0]?.message ?? '',
        /cannot read .*nope on this box \(ENOENT\)/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads the box's serial number, skipping the placeholders firmware leaves in DMI", () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-serial-'));
    try {
      const a = join(dir, 'a');
      const b = join(dir, 'b');
      writeFileSync(a, 'To be filled by O.E.M.\n');
      writeFileSync(b, 'SB2026-0042\0');
      assert.equal(boxSerial([join(dir, 'missing'), a, b]), 'SB2026-0042');
      assert.equal(boxSerial([a]), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
