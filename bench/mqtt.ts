// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard bench mqtt`: MQTT messages per second sustained with 480 channels churning, against raw publishes to the same broker.

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { AUTH_MIGRATIONS } from '../src/api/auth.ts';
import { LiveFeed } from '../src/controller/live.ts';
import { MqttBridge } from '../src/mqtt/bridge.ts';
import { type Db, migrate, openDb } from '../src/store/db.ts';
import { syntheticSwitch } from '../test/helpers/live.ts';
import { startMosquitto } from '../test/helpers/mqtt.ts';

/** E1 spans churning (30 B-channels each); default 16 (480 channels). */
const SPANS = Number(process.env.SWITCHBOARD_BENCH_SPANS ?? 16);
/** Seconds measured per run, after a warm-up of 2 s. */
const SECONDS = Number(process.env.SWITCHBOARD_BENCH_SECONDS ?? 6);
/** Channel events produced ahead of the broker at most (the outbox's backlog); then the churn waits. */
const BACKLOG = 2000;
const WARMUP_MS = 2000;
/** Messages handed to the broker and not yet acknowledged, ours and the reference's; default 64 (the bridge's). */
const WINDOW = Number(process.env.SWITCHBOARD_BENCH_WINDOW ?? 64);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const turn = () => new Promise((r) => setImmediate(r));
/** Rounds of every run, interleaved, so that load from elsewhere hits ours and the references alike. */
const ROUNDS = Number(process.env.SWITCHBOARD_BENCH_ROUNDS ?? 3);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** A user and an admin API token in the auth tables (what the subscriber logs in with). */
function benchToken(db: Db): string {
  migrate(db, 'auth', AUTH_MIGRATIONS);
  const now = new Date().toISOString();
  db.prepare(
    "INSERT INTO users (name, role, password_hash, created_at) VALUES ('bench', 'admin', 'x', ?)",
  ).run(now);
  const token = `sbt_${randomBytes(32).toString('base64url')}`;
  db.prepare(
    "INSERT INTO api_tokens (name, role, token_hash, created_by, created_at) VALUES ('bench', 'viewer', ?, 1, ?)",
  ).run(createHash('sha256').update(token).digest('hex'), now);
  return token;
}

/** A subscriber that counts messages (QoS 1, as a NOC subscribes) and their delay since `at`. */
async function counter(url: string, topics: string[], options: mqtt.IClientOptions = {}) {
  const client: MqttClient = mqtt.connect(url, { reconnectPeriod: 0, ...options });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  const c = { client, count: 0, spans: 0, counting: false, delays: [] as number[] };
  client.on('message', (topic, payload) => {
    if (!c.counting) return;
    c.count++;
    if (topic.includes('/span/')) c.spans++;
    // Every 16th message: its delay from the channel change to the subscriber, ms.
    if ((c.count & 15) === 0) {
      const at = /"at":"([^"]+)"/.exec(payload.toString())?.[1];
      if (at) c.delays.push(Date.now() - Date.parse(at));
    }
  });
  await client.subscribeAsync(topics, { qos: 1 });
  return c;
}

interface RunFigures {
  /** Every message the subscriber received a second (channel and span). */
  messagesPerSecond: number;
  /** Of which span/<n> (retained, QoS 1): the channel counts of each span change with every churn. */
  spanMessagesPerSecond?: number;
  channelEventsProduced: number;
  delivered: number;
  seconds: number;
  delayMs?: { p50: number; p99: number; max: number };
  cpuCoresUsed: number;
  outboxAtEnd?: number;
}

/** The bridge publishing the live feed of the synthetic switch; the subscriber counts. */
export async function bridgeRun(broker: 'embedded' | 'mosquitto'): Promise<RunFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-mqtt-'));
  const file = join(dir, 'switchboard.db');
  const db = openDb(file);
  // As the controller does: the outbox on its own connection, synchronous=NORMAL.
  const outboxDb = openDb(file);
  outboxDb.pragma('synchronous = NORMAL');
  const token = benchToken(db);
  const mosquitto =
    broker === 'mosquitto'
      ? await startMosquitto({ box: 'Box-pass-1', noc: 'Noc-pass-1' })
      : undefined;
  const sw = syntheticSwitch(SPANS);
  const feed = new LiveFeed({ spans: () => sw.spans(), snapshot: () => sw.snapshot() });
  const bridge = new MqttBridge({
    live: feed,
    db,
    outboxDb,
    commands: {
      status: () => ({}),
      maintenance: () => undefined,
      campaign: () => undefined,
      traceStart: () => undefined,
      traceStop: () => ({}),
    },
    identity: { hostname: 'bench' },
    log: pino({ level: 'silent' }),
    window: WINDOW,
    describe: () => ({
      model: 'sim-demo',
      firmware: { version: '0.1.0', build: 'dev', compatible: 'switchboard-sim-demo' },
      name: 'bench',
      bootId: 'bench',
      startedAt: new Date().toISOString(),
      spans: [],
      mismatches: [],
    }),
  });
  try {
    let url: string;
    let auth: mqtt.IClientOptions;
    if (mosquitto) {
      const passwordFile = join(dir, 'pass');
      writeFileSync(passwordFile, 'Box-pass-1');
      await bridge.start({ nodeId: 'bench', broker: mosquitto.url, username: 'box', passwordFile });
      url = mosquitto.url;
      auth = { username: 'noc', password: 'Noc-pass-1', protocolVersion: 5 };
    } else {
      await bridge.start({ nodeId: 'bench', embedded: { port: 0, host: '127.0.0.1' } });
      url = `mqtt://127.0.0.1:${bridge.brokerPort}`;
      auth = { username: 'noc', password: token };
    }
    const sub = await counter(
      url,
      ['switchboard/bench/channel/#', 'switchboard/bench/span/+'],
      auth,
    );
    await sleep(200);
    let produced = 0;
    const started = performance.now();
    let measureFrom = 0;
    let cpu0 = process.cpuUsage();
    let produced0 = 0;
    while (performance.now() - started < WARMUP_MS + SECONDS * 1000) {
      if (!sub.counting && performance.now() - started >= WARMUP_MS) {
        sub.counting = true;
        measureFrom = performance.now();
        cpu0 = process.cpuUsage();
        produced0 = produced;
      }
      if (bridge.stats().pending < BACKLOG) {
        produced += sw.churnAll();
        feed.poll();
        await turn();
      } else await sleep(1);
    }
    const seconds = (performance.now() - measureFrom) / 1000;
    const delivered = sub.count;
    const cpu = process.cpuUsage(cpu0);
    sub.counting = false;
    const delays = [...sub.delays].sort((a, b) => a - b);
    const figures: RunFigures = {
      messagesPerSecond: Math.round(delivered / seconds),
      spanMessagesPerSecond: Math.round(sub.spans / seconds),
      channelEventsProduced: produced - produced0,
      delivered,
      seconds: Math.round(seconds * 10) / 10,
      delayMs: {
        p50: percentile(delays, 50),
        p99: percentile(delays, 99),
        max: delays.at(-1) ?? 0,
      },
      cpuCoresUsed: Math.round(((cpu.user + cpu.system) / 1e6 / seconds) * 100) / 100,
      outboxAtEnd: bridge.stats().pending,
    };
    await new Promise<void>((r) => sub.client.end(true, {}, () => r()));
    return figures;
  } finally {
    await bridge.stop();
    outboxDb.close();
    db.close();
    await mosquitto?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same kind of payload as a channel event, numbered. */
function payload(id: number): string {
  return JSON.stringify({
    id,
    at: new Date().toISOString(),
    span: 1 + (id % SPANS),
    channel: 1 + (id % 30),
    state: 'talking',
    trunk: 'pri1',
    call: id,
  });
}

/**
 * The reference: publishes of the same payloads, QoS 1, at most `window` unacknowledged, straight
 * to a broker of the same kind (aedes with the same options and no access rules, or the same
 * Mosquitto), by aedes.publish in-process or by a bare mqtt.js client over TCP.
 */
export async function referenceRun(
  how: 'aedes' | 'mqttjs' | 'mosquitto',
  window = WINDOW,
): Promise<RunFigures> {
  const mosquitto = how === 'mosquitto' ? await startMosquitto({ pub: 'Pub-pass-1' }) : undefined;
  const aedes =
    how === 'mosquitto'
      ? undefined
      : await Aedes.createBroker({ drainTimeout: 10_000, maxClientsIdLength: 64 });
  const { createServer } = await import('node:net');
  const server = aedes ? createServer(aedes.handle) : undefined;
  const port = await new Promise<number>((resolve) => {
    if (!server) return resolve(mosquitto?.port ?? 0);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(typeof a === 'object' && a !== null ? a.port : 0);
    });
  });
  const url = `mqtt://127.0.0.1:${port}`;
  const auth = mosquitto
    ? { username: 'pub', password: 'Pub-pass-1', protocolVersion: 5 as const }
    : {};
  const sub = await counter(url, ['ref/#'], auth);
  const pub =
    how === 'aedes'
      ? undefined
      : mqtt.connect(url, { reconnectPeriod: 0, ...auth, clientId: `ref-pub-${Date.now()}` });
  if (pub) await new Promise<void>((r) => pub.once('connect', () => r()));
  let inflight = 0;
  let id = 0;
  let filling = false;
  let stopped = false;
  // Refilled as acknowledgements come, as the bridge's pump does (a loop, not a recursion:
  // aedes may acknowledge within publish()).
  const publish = () => {
    if (filling || stopped) return;
    filling = true;
    try {
      fill();
    } finally {
      filling = false;
    }
  };
  const fill = () => {
    while (inflight < window && !stopped) {
      inflight++;
      id++;
      const body = payload(id);
      const topic = `ref/channel/${1 + (id % SPANS)}/${1 + (id % 30)}`;
      const done = () => {
        inflight--;
        publish();
      };
      if (aedes && !pub)
        aedes.publish(
          { cmd: 'publish', topic, payload: Buffer.from(body), qos: 1, retain: false, dup: false },
          done,
        );
      else pub?.publish(topic, body, { qos: 1 }, done);
    }
  };
  try {
    const started = performance.now();
    let measureFrom = 0;
    let cpu0 = process.cpuUsage();
    let id0 = 0;
    while (performance.now() - started < WARMUP_MS + SECONDS * 1000) {
      if (!sub.counting && performance.now() - started >= WARMUP_MS) {
        sub.counting = true;
        measureFrom = performance.now();
        cpu0 = process.cpuUsage();
        id0 = id;
      }
      publish();
      await sleep(1);
    }
    const seconds = (performance.now() - measureFrom) / 1000;
    const cpu = process.cpuUsage(cpu0);
    sub.counting = false;
    const delays = [...sub.delays].sort((a, b) => a - b);
    return {
      messagesPerSecond: Math.round(sub.count / seconds),
      channelEventsProduced: id - id0,
      delivered: sub.count,
      seconds: Math.round(seconds * 10) / 10,
      delayMs: {
        p50: percentile(delays, 50),
        p99: percentile(delays, 99),
        max: delays.at(-1) ?? 0,
      },
      cpuCoresUsed: Math.round(((cpu.user + cpu.system) / 1e6 / seconds) * 100) / 100,
    };
  } finally {
    stopped = true;
    await new Promise<void>((r) => sub.client.end(true, {}, () => r()));
    if (pub) await new Promise<void>((r) => pub.end(true, {}, () => r()));
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    aedes?.close();
    await mosquitto?.close();
  }
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : Math.round((a / b) * 100) / 100;
}

/** The run with the median rate of `runs`, with every rate measured. */
function median(runs: RunFigures[]): RunFigures & { roundsPerSecond: number[] } {
  const sorted = [...runs].sort((a, b) => a.messagesPerSecond - b.messagesPerSecond);
  const mid = sorted[Math.floor(sorted.length / 2)] as RunFigures;
  return { ...mid, roundsPerSecond: runs.map((r) => r.messagesPerSecond) };
}

export async function run(): Promise<object> {
  const runs: Record<string, RunFigures[]> = {
    embedded: [],
    refAedes: [],
    refMqttjs: [],
    noc: [],
    refMosquitto: [],
  };
  const loadBefore = loadavg()[0] as number;
  for (let round = 0; round < ROUNDS; round++) {
    runs.embedded?.push(await bridgeRun('embedded'));
    runs.refAedes?.push(await referenceRun('aedes'));
    runs.refMqttjs?.push(await referenceRun('mqttjs'));
    runs.noc?.push(await bridgeRun('mosquitto'));
    runs.refMosquitto?.push(await referenceRun('mosquitto'));
  }
  const embedded = median(runs.embedded as RunFigures[]);
  const refAedes = median(runs.refAedes as RunFigures[]);
  const refMqttjs = median(runs.refMqttjs as RunFigures[]);
  const noc = median(runs.noc as RunFigures[]);
  const refMosquitto = median(runs.refMosquitto as RunFigures[]);
  return {
    setup: `${SPANS} E1 spans x 30 B-channels = ${SPANS * 30} channels; every B-channel moves one state (idle, seized, ringing, talking) per live-feed poll, as fast as the publisher drains (at most ${BACKLOG} events waiting); the subscriber is an mqtt.js client subscribed QoS 1 to channel/# and span/+ (each churn also changes every span's channel counts, so span/<n> is published retained as well), on the same machine; ${SECONDS} s measured after ${WARMUP_MS / 1000} s of warm-up, ${ROUNDS} rounds of every run interleaved, the median round reported; ${WINDOW} messages in flight`,
    hostLoad: {
      loadAverage1mBefore: Math.round(loadBefore * 100) / 100,
      loadAverage1mAfter: Math.round((loadavg()[0] as number) * 100) / 100,
      about:
        'the machine is shared: other work competes for its cores, so single rates swing; the rounds are interleaved and the ratios are of medians',
    },
    embedded: {
      ...embedded,
      path: 'LiveFeed -> bridge -> SQLite outbox (own connection, synchronous=NORMAL) -> aedes.publish in-process (QoS 1, 64 in flight) -> TCP -> subscriber',
      reference: {
        aedesPublish: refAedes,
        mqttjsClient: refMqttjs,
        about:
          'the same payloads published QoS 1 with 64 in flight to an aedes broker with the same options and no access rules: by aedes.publish in-process (the path our bridge uses) and by a bare mqtt.js client over TCP',
      },
      ratioToAedesPublish: ratio(embedded.messagesPerSecond, refAedes.messagesPerSecond),
      ratioToMqttjsClient: ratio(embedded.messagesPerSecond, refMqttjs.messagesPerSecond),
    },
    nocBroker: {
      ...noc,
      path: 'LiveFeed -> bridge -> SQLite outbox -> mqtt.js MQTT 5 client (QoS 1, 64 in flight) -> Mosquitto 2.0 on the same machine -> subscriber',
      reference: {
        mqttjsClient: refMosquitto,
        about:
          'the same payloads published QoS 1 with 64 in flight by a bare mqtt.js MQTT 5 client to the same kind of Mosquitto',
      },
      ratioToMqttjsClient: ratio(noc.messagesPerSecond, refMosquitto.messagesPerSecond),
    },
  };
}
