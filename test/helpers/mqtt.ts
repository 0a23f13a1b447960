// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit for MQTT: a real Mosquitto per test (own port, password file, persistence), and a subscriber that records.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export const MOSQUITTO = '/usr/sbin/mosquitto';

/** A TCP port nobody listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface Mosquitto {
  port: number;
  url: string;
  /** With `tls`: mqtts://localhost:PORT, and the CA, client certificate and key (CN box-t). */
  tls?: { url: string; ca: string; cert: string; key: string };
  dir: string;
  /** Accounts in its password file. */
  users: Record<string, string>;
  running(): boolean;
  /** Stops it with SIGTERM (it saves its persistence file) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same files. */
  start(): Promise<void>;
  log(): string;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

/**
 * Debian's Mosquitto on a free port of 127.0.0.1, with its own configuration: no anonymous
 * clients, a password file made by mosquitto_passwd with `users`, persistence in its directory
 * (subscriptions and queued QoS 1 messages of persistent sessions survive a restart), and no
 * limit on queued messages.
 */
export async function startMosquitto(
  users: Record<string, string>,
  options: { tls?: boolean } = {},
): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-mosquitto-'));
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : undefined;
  if (options.tls) makeCertificates(dir);
  const passwords = join(dir, 'passwd');
  writeFileSync(passwords, '');
  for (const [user, password] of Object.entries(users)) {
    const r = spawnSync('mosquitto_passwd', ['-b', passwords, user, password], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`mosquitto_passwd: ${r.stderr}`);
  }
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${passwords}`,
      'persistence true',
      `persistence_location ${dir}/`,
      'autosave_interval 1',
      'max_queued_messages 0',
      `log_dest file ${join(dir, 'mosquitto.log')}`,
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      // TLS: a client certificate signed by the test CA is required; its CN is the user name.
      ...(tlsPort === undefined
        ? []
        : [
            `listener ${tlsPort} 127.0.0.1`,
            `cafile ${join(dir, 'ca.pem')}`,
            `certfile ${join(dir, 'server.pem')}`,
            `keyfile ${join(dir, 'server.key')}`,
            'require_certificate true',
            'use_identity_as_username true',
          ]),
      '',
    ].join('\n'),
  );
  // Started as root, mosquitto drops to its own user: that user must own its files.
  let userLine = '';
  if (process.getuid?.() === 0) {
    const owner = /^mosquitto:[^:]*:(\d+):(\d+):/m.exec(
      spawnSync('getent', ['passwd', 'mosquitto'], { encoding: 'utf8' }).stdout ?? '',
    );
    if (owner) {
      const [uid, gid] = [Number(owner[1]), Number(owner[2])];
      for (const f of ['', ...readdirSync(dir)]) chownSync(join(dir, f), uid, gid);
    } else userLine = 'user root';
  }
  if (userLine !== '') writeFileSync(conf, `${userLine}\n${readFileSync(conf, 'utf8')}`);
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const m: Mosquitto = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    ...(tlsPort === undefined
      ? {}
      : {
          tls: {
            url: `mqtts://localhost:${tlsPort}`,
            ca: join(dir, 'ca.pem'),
            cert: join(dir, 'client.pem'),
            key: join(dir, 'client.key'),
          },
        }),
    dir,
    users,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    async start() {
      const c = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
      child = c;
      exited = new Promise((r) => c.once('exit', () => r()));
      const until = Date.now() + 10_000;
      while (!(await portOpen(port))) {
        if (!m.running()) throw new Error(`mosquitto exited: ${m.log()}`);
        if (Date.now() > until) throw new Error(`mosquitto does not listen on ${port}: ${m.log()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (!m.running()) return;
      child?.kill('SIGTERM');
      await exited;
    },
    log() {
      try {
        return readFileSync(join(dir, 'mosquitto.log'), 'utf8');
      } catch {
        return '';
      }
    },
    async close() {
      await m.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await m.start();
  return m;
}

/**
 * A test CA (ca.pem) and, signed by it, a server certificate for localhost and 127.0.0.1
 * (server.pem/key) and a client certificate with CN box-t (client.pem/key), all in `dir`;
 * and another CA (other-ca.pem) that signed none of them.
 */
export function makeCertificates(dir: string): void {
  const ssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca'])
    ssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=${ca}`,
    );
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  for (const [name, cn, ext] of [
    ['server', 'localhost', ['-extfile', 'server.ext']],
    ['client', 'box-t', []],
  ] as const) {
    ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      ...ext,
    );
  }
}

export interface Received {
  topic: string;
  /** The payload as JSON, or its text when it is not JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read the payload field by field
  json: any;
  retain: boolean;
}

export interface Recorder {
  client: MqttClient;
  messages: Received[];
  /** Resolves with the first message (already received or to come) matching `pred`. */
  waitFor(pred: (m: Received) => boolean, timeoutMs?: number): Promise<Received>;
  close(): Promise<void>;
}

/**
 * An MQTT client that subscribes to `topics` (QoS 1) once connected and records every message.
 * Rejects when the broker refuses the connection.
 */
export async function recorder(
  url: string,
  topics: string[],
  options: IClientOptions = {},
): Promise<Recorder> {
  const client = mqtt.connect(url, { reconnectPeriod: 200, connectTimeout: 5000, ...options });
  const messages: Received[] = [];
  const waiters: { pred: (m: Received) => boolean; ok: (m: Received) => void }[] = [];
  client.on('message', (topic, payload, packet) => {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString());
    } catch {
      json = payload.toString();
    }
    const m: Received = { topic, json, retain: packet.retain };
    messages.push(m);
    for (const w of [...waiters])
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.ok(m);
      }
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => {
      client.end(true);
      reject(err);
    };
    const closed = () => {
      if (client.options.reconnectPeriod === 0)
        failed(new Error('the connection closed before the broker accepted it'));
    };
    client.once('error', failed);
    client.once('close', closed);
    client.once('connect', () => {
      // From here on, errors and closes are the broker going away: mqtt.js reconnects.
      client.off('error', failed);
      client.off('close', closed);
      client.on('error', () => undefined);
      resolve();
    });
  });
  if (topics.length > 0) await client.subscribeAsync(topics, { qos: 1 });
  return {
    client,
    messages,
    waitFor(pred, timeoutMs = 10_000) {
      const seen = messages.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((ok, fail) => {
        const timer = setTimeout(
          () =>
            fail(
              new Error(
                `no matching MQTT message within ${timeoutMs} ms; got ${messages.length}: ${JSON.stringify(messages.slice(-5))}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          pred,
          ok: (m) => {
            clearTimeout(timer);
            ok(m);
          },
        });
      });
    },
    close: () => new Promise<void>((r) => client.end(true, {}, () => r())),
  };
}

/** Sends a request and waits for the response that carries its transaction. */
export async function request(
  rec: Recorder,
  topicPrefix: string,
  command: string,
  body: Record<string, unknown>,
  options: { properties?: { userProperties?: Record<string, string> } } = {},
): Promise<{ status: string; data: unknown; error: { code: string; message: string } | null }> {
  const transaction = `t-${Math.random().toString(36).slice(2)}`;
  const waiting = rec.waitFor(
    (m) =>
      m.topic === `${topicPrefix}bridge/response/${command}` && m.json?.transaction === transaction,
  );
  await rec.client.publishAsync(
    `${topicPrefix}bridge/request/${command}`,
    JSON.stringify({ ...body, transaction }),
    { qos: 1, ...options },
  );
  return (await waiting).json;
}
