// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard bench controller`: routing decisions/s, API p99 at 200 requests/s, controller memory with 4 E1 spans busy.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Fastify from 'fastify';
import pino from 'pino';
import { buildApi, listen } from '../src/api/server.ts';
import type { CallRecord } from '../src/cdr/record.ts';
import { CdrStore } from '../src/cdr/store.ts';
import type { SwitchConfig } from '../src/config/schema.ts';
import { idleDialer } from '../src/controller/agents.ts';
import { apiPlugins } from '../src/controller/app.ts';
import { FlowStore } from '../src/ivr/store.ts';
import { Router, type TrunkStateView } from '../src/routing/router.ts';
import { LogRing } from '../src/runtime/log-ring.ts';
import { ConfigStore } from '../src/store/config-store.ts';
import { openDb } from '../src/store/db.ts';
import { startCarrier } from '../test/helpers/carrier.ts';
import { startController } from '../test/helpers/controller.ts';
import { withConfiguredSim } from '../test/helpers/dahdi.ts';

const DECISIONS = Number(process.env.SWITCHBOARD_BENCH_DECISIONS ?? 200_000);
const API_RATE = Number(process.env.SWITCHBOARD_BENCH_API_RATE ?? 200);
const API_SECONDS = Number(process.env.SWITCHBOARD_BENCH_SECONDS ?? 10);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A routing table of the size a call-centre box carries: 200 inbound rules, 100 regions, 50 barred ranges. */
function bigConfig(): SwitchConfig {
  const trunks = Array.from({ length: 8 }, (_, i) => ({
    name: `pri${i + 1}`,
    signalling: 'pri_cpe' as const,
    span: i + 1,
    switchtype: 'euroisdn',
  }));
  return {
    system: { timezone: 'Asia/Shanghai' },
    spans: trunks.map((t) => ({
      span: t.span,
      framing: 'ccs' as const,
      coding: 'hdb3' as const,
      timing: t.span,
    })),
    trunks,
    trunkGroups: [0, 1, 2, 3].map((g) => ({
      name: `g${g}`,
      trunks: [`pri${2 * g + 1}`, `pri${2 * g + 2}`],
      hunt: (['sequential', 'round_robin', 'least_used', 'sequential'] as const)[g] as 'sequential',
    })),
    timeConditions: [
      {
        name: 'office',
        hours: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '18:00' }],
        holidays: [{ date: '2026-10-01', to: '2026-10-07' }],
      },
    ],
    regions: Array.from({ length: 100 }, (_, i) => ({
      name: `r${i}`,
      prefixes: [`0${String(100 + i * 7).padStart(3, '0')}`, `13${String(i).padStart(2, '0')}`],
    })),
    blacklists: {
      inbound: Array.from({ length: 50 }, (_, i) => ({
        number: `_0109${String(i).padStart(2, '0')}XXXXX`,
      })),
      outbound: [{ number: '_00.' }],
    },
    routes: {
      inbound: Array.from({ length: 200 }, (_, i) => ({
        name: `in${i}`,
        called: `_6288${String(i).padStart(3, '0')}X`,
        ...(i % 3 === 0 ? { regions: [`r${i % 100}`] } : {}),
        ...(i % 5 === 0 ? { time: { condition: 'office', when: 'open' as const } } : {}),
        called_manipulation: { strip: 2, prefix: '9' },
        destination: { type: 'queue' as const, queue: `q${i % 10}` },
      })),
      outbound: Array.from({ length: 20 }, (_, i) => ({
        name: `out${i}`,
        called: `_1${i % 10}XXXXXXXXX`,
        callerId: { mask: '0755XXXX0000' },
        trunkGroups: [`g${i % 4}`, `g${(i + 1) % 4}`],
      })),
    },
  };
}

function routing(): object {
  const router = new Router(bigConfig());
  const view: TrunkStateView = {
    get: (t) => ({ up: t !== 'pri2', freeChannels: 10, callsUp: t.length }),
  };
  const numbers = Array.from(
    { length: 4096 },
    (_, i) => `6288${String((i * 7919) % 100_000).padStart(5, '0')}`,
  );
  const callers = Array.from(
    { length: 4096 },
    (_, i) => `0${String(100 + ((i * 31) % 700)).padStart(3, '0')}${i}`,
  );
  const now = new Date('2026-11-23T03:00:00Z');
  let sink = 0;
  let t = performance.now();
  for (let i = 0; i < DECISIONS; i++) {
    const d = router.inbound(
      { trunk: 'pri1', called: numbers[i & 4095] as string, calling: callers[i & 4095] as string },
      now,
    );
    sink += d.kind.length;
  }
  const inboundS = (performance.now() - t) / 1000;
  t = performance.now();
  for (let i = 0; i < DECISIONS; i++) {
    const p = router.outbound(
      { called: `1${i % 10}${String(i).padStart(9, '0')}`, calling: '01062881000' },
      view,
      now,
    );
    sink += p.kind.length;
  }
  const outboundS = (performance.now() - t) / 1000;
  // Reference: the least any rule table does per call, one compiled pattern tested once.
  const one = /^6288[0-9]{3}[0-9]$/;
  t = performance.now();
  for (let i = 0; i < DECISIONS; i++) sink += one.test(numbers[i & 4095] as string) ? 1 : 0;
  const refS = (performance.now() - t) / 1000;
  return {
    decisions: DECISIONS,
    inboundPerSecond: Math.round(DECISIONS / inboundS),
    outboundPerSecond: Math.round(DECISIONS / outboundS),
    referenceRegexPerSecond: Math.round(DECISIONS / refS),
    inboundCostInRegexTests: Number((inboundS / refS).toFixed(1)),
    table:
      '200 inbound routes, 100 regions, 50 barred ranges, 20 outbound routes over 4 groups of 2 trunks',
    sink: sink > 0,
  };
}

/** Paced GETs from a worker thread (its own event loop), so the server's loop is measured alone. */
function pace(url: string, headers: Record<string, string>): Promise<number[]> {
  const code = `
    const { parentPort, workerData: w } = require('node:worker_threads');
    (async () => {
      const lat = []; const gap = 1000 / w.rate; const start = performance.now(); const pending = [];
      for (let i = 0; i < w.rate * w.seconds; i++) {
        const due = start + i * gap; const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        pending.push((async () => { const t = performance.now();
          const r = await fetch(w.urls[i % w.urls.length], { headers: w.headers }); await r.arrayBuffer();
          if (r.status !== 200) throw new Error('status ' + r.status); lat.push(performance.now() - t); })());
      }
      await Promise.all(pending); parentPort.postMessage(lat);
    })().catch((e) => { parentPort.postMessage({ error: String(e) }); });`;
  const urls = url.split(' ');
  return new Promise((ok, fail) => {
    const w = new Worker(code, {
      eval: true,
      workerData: { urls, headers, rate: API_RATE, seconds: API_SECONDS },
    });
    w.once('message', (m) => (Array.isArray(m) ? ok(m as number[]) : fail(new Error(m.error))));
    w.once('error', fail);
  });
}

function percentiles(lat: number[]): { p50: number; p99: number; max: number } {
  const s = [...lat].sort((a, b) => a - b);
  const at = (q: number) =>
    Number((s[Math.min(s.length - 1, Math.floor(q * s.length))] as number).toFixed(2));
  return { p50: at(0.5), p99: at(0.99), max: at(1) };
}

async function api(): Promise<object> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-api-'));
  const db = openDb(join(dir, 'switchboard.db'));
  const cdrs = new CdrStore(db);
  const t0 = Date.parse('2026-11-01T00:00:00Z');
  const records: CallRecord[] = Array.from({ length: 5000 }, (_, i) => {
    const startedAt = new Date(t0 + i * 60_000).toISOString();
    const endedAt = new Date(t0 + i * 60_000 + 30_000).toISOString();
    return {
      id: `bench-${i}`,
      direction: 'inbound',
      startedAt,
      endedAt,
      durationMs: 30_000,
      billableMs: 25_000,
      called: `6288${i % 10_000}`,
      calling: `1391234${i % 10_000}`,
      disposition: 'answered',
      cause: 16,
      causeName: 'NORMAL_CLEARING',
      a: {
        trunk: 'pri1',
        span: 1,
        channel: (i % 30) + 1,
        called: '62881000',
        calling: '13912345678',
        startedAt,
      },
    };
  });
  cdrs.writeMany(records);
  const snapshot = {
    trunks: [],
    traces: [],
    media: { legs: [], conferences: [], connections: [] },
  };
  const unused = () => {
    throw new Error('not used by the benchmark');
  };
  const app = await buildApi({
    db,
    logger: pino({ level: 'silent' }),
    plugins: apiPlugins({
      db,
      configs: new ConfigStore(db),
      cdrs,
      board: unused,
      boardView: unused,
      apply: unused,
      trunks: {
        spans: () => [],
        snapshot: () => snapshot as never,
        command: unused,
        traceStart: unused,
        traceStop: unused,
        traceRead: unused,
      },
      calls: {
        calls: () => [],
        stats: () => ({ attempts: 0, live: 0, refused: 0, unknownCalls: 0 }),
        dial: unused,
        hangup: unused,
      },
      flows: new FlowStore(db),
      flowContext: unused,
      metrics: { contentType: 'text/plain', text: unused },
      ...idleDialer(db),
      firmware: {
        maxBundleBytes: 1,
        view: unused,
        upload: unused,
        beginReboot: unused,
        rebootNow: unused,
        requestFactoryReset: unused,
      },
      live: { spans: () => [], channels: () => [], on: () => () => undefined },
      dataDir: dir,
      logs: new LogRing(),
      boxName: () => undefined,
    }),
  });
  const base = await listen(app, { port: 0, host: '127.0.0.1' });
  const setup = await fetch(`${base}/api/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'admin', password: 'Bench-mark 2026' }),
  });
  const cookie = (setup.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const { csrf } = (await setup.json()) as { csrf: string };
  const made = await fetch(`${base}/api/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf },
    body: JSON.stringify({ name: 'bench', role: 'viewer' }),
  });
  const { token } = (await made.json()) as { token: string };
  const auth = { authorization: `Bearer ${token}` };
  const urls = [
    `${base}/api/cdr?limit=20`,
    `${base}/api/status`,
    `${base}/api/trunks`,
    `${base}/api/calls`,
  ].join(' ');
  const ours = percentiles(await pace(urls, auth));
  await app.close();
  db.close();

  // Reference: a bare fastify answering a small JSON, paced the same way, in the same run.
  const bare = Fastify();
  bare.get('/x', async () => ({ ok: true, at: Date.now() }));
  const bareBase = await bare.listen({ port: 0, host: '127.0.0.1' });
  const ref = percentiles(await pace(`${bareBase}/x`, {}));
  await bare.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    rate: API_RATE,
    seconds: API_SECONDS,
    requests: API_RATE * API_SECONDS,
    mix: 'GET /api/cdr?limit=20 (5,000 records), /api/status, /api/trunks, /api/calls with a bearer token',
    latencyMs: ours,
    referenceBareFastifyMs: ref,
    p99Ratio: Number((ours.p99 / ref.p99).toFixed(2)),
  };
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

/** The controller with 4 E1 PRI spans, idle and then with every B-channel of them in a call. */
async function memory(): Promise<object> {
  const spans = Array.from({ length: 8 }, () => ({ type: 'E1' as const }));
  const board = {
    spans,
    cables: [
      [1, 2],
      [3, 4],
      [5, 6],
      [7, 8],
    ] as [number, number][],
  };
  const conf = spans
    .map(
      (_, i) =>
        `span=${i + 1},${i + 1},0,ccs,hdb3,crc4\nbchan=${i * 31 + 1}-${i * 31 + 15},${i * 31 + 17}-${i * 31 + 31}\nhardhdlc=${i * 31 + 16}`,
    )
    .join('\n');
  const sim = await withConfiguredSim(board, `${conf}\n`);
  const ours = [1, 3, 5, 7];
  const config = {
    spans: ours.map((span) => ({ span, framing: 'ccs', coding: 'hdb3', crc4: true, timing: span })),
    trunks: ours.map((span) => ({
      name: `p${span}`,
      signalling: 'pri_cpe',
      span,
      switchtype: 'euroisdn',
    })),
    trunkGroups: [
      { name: 'g-a', trunks: ['p1', 'p3'], hunt: 'sequential' },
      { name: 'g-b', trunks: ['p5', 'p7'], hunt: 'sequential' },
    ],
    routes: {
      inbound: [
        {
          name: 'a-to-b',
          trunks: ['g-a'],
          called: '_X.',
          destination: { type: 'trunk', route: 'via-b' },
        },
      ],
      outbound: [{ name: 'via-b', called: '_X.', trunkGroups: ['g-b'] }],
    },
  };
  const ctl = await startController(sim, config);
  const pid = ctl.proc.pid as number;
  try {
    await sleep(5000);
    const idle = rssKiB(pid);
    const carrier = await startCarrier(sim, {
      seed: 1,
      trunks: [2, 4, 6, 8].map((span) => ({
        name: `n${span}`,
        signalling: 'pri_net',
        span,
        switchtype: 'euroisdn',
      })),
      inbound: {
        trunks: ['n2', 'n4'],
        total: 60,
        concurrent: 60,
        rate: 600,
        arrival: 'uniform',
        holdSeconds: { min: 600, max: 600 },
        called: { numbers: ['_6288XXXX'] },
      },
      outbound: { mix: { answer: 1 }, ringSeconds: { min: 0, max: 0 }, holdSeconds: null },
    });
    let answered = 0;
    for (let i = 0; i < 240 && answered < 60; i++) {
      await sleep(1000);
      const { json } = await ctl.api('GET', '/api/calls');
      answered = json.calls.filter((c: { phase: string }) => c.phase === 'answered').length;
    }
    await sleep(3000);
    const busy = rssKiB(pid);
    const live = (await ctl.api('GET', '/api/calls')).json.calls.length;
    await carrier.stop();
    return {
      spans: 4,
      bChannelsBusy: answered * 2,
      transitCallsAnswered: answered,
      liveAttempts: live,
      rssIdleMiB: Number((idle / 1024).toFixed(1)),
      rssBusyMiB: Number((busy / 1024).toFixed(1)),
      busyToIdle: Number((busy / idle).toFixed(2)),
    };
  } finally {
    await ctl.stop();
    await sim.stop();
  }
}

export async function run(): Promise<object> {
  return { routing: routing(), api: await api(), memory: await memory() };
}
