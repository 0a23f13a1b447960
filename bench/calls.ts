// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard bench calls`: sustained call attempts per second through the whole addon, against the D-channel's own limit.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineTrunk } from '../src/native/engine.ts';
import { type Host, type Line, startEngineHost } from '../src/native/host-client.ts';
import { runProcess } from '../src/runtime/process.ts';
import type { SimConfig } from '../src/sim/config.ts';
import { simEnv, startSim } from '../src/sim/daemon.ts';
import { renderSystemConf } from '../src/sim/dahdiconf.ts';

const SPAN_COUNTS = (process.env.SWITCHBOARD_BENCH_SPANS ?? '1,16').split(',').map(Number);
const SECONDS = Number(process.env.SWITCHBOARD_BENCH_SECONDS ?? 10);
// Calls in flight per span: enough to keep a D-channel busy at a few ms of setup latency.
const IN_FLIGHT = Number(process.env.SWITCHBOARD_BENCH_IN_FLIGHT ?? 6);
// MFC-R2 is not here: it has no signalling link to saturate (its bound is per channel, the
// compelled MF exchange), and analog ports have none either.
const SIGNALLINGS = (process.env.SWITCHBOARD_BENCH_SIGNALLING ?? 'pri,ss7').split(',');

/** How one signalling type is set up over cabled E1 pairs: the caller's and the answerer's trunks. */
interface Scenario {
  /** Trunks of the calling side (spans 1, 3, 5 ...) and of the answering side (2, 4, 6 ...). */
  trunks(pairs: number): { caller: EngineTrunk[]; answerer: EngineTrunk[] };
  /** Bytes a second the signalling link carries (a 64 kbit/s timeslot: 8000). */
  linkRate: number;
  /** pcap pseudo-header bytes before each frame (LAPD 16, MTP2 4). */
  headerBytes: number;
}

const SCENARIOS: Record<string, Scenario> = {
  pri: {
    trunks: (pairs) => ({
      caller: Array.from({ length: pairs }, (_, i) => ({
        name: `net${i + 1}`,
        signalling: 'pri_net' as const,
        span: 2 * i + 1,
        switchtype: 'euroisdn',
      })),
      answerer: Array.from({ length: pairs }, (_, i) => ({
        name: `cpe${i + 1}`,
        signalling: 'pri_cpe' as const,
        span: 2 * i + 2,
        switchtype: 'euroisdn',
      })),
    }),
    // 64 kbit/s D-channel: 8000 bytes a second, flags and FCS included.
    linkRate: 8000,
    headerBytes: 16,
  },
  // One linkset per E1 pair, the signalling link on TS16, CICs 1-30 on the same span.
  ss7: {
    trunks: (pairs) => {
      const side = (own: number, adjacent: number, span: number) => ({
        name: `ls${own}`,
        signalling: 'ss7' as const,
        variant: 'itu',
        pointcode: own,
        adjacentPointcode: adjacent,
        links: [{ span, timeslot: 16 }],
        cics: [{ span, firstCic: 1 }],
      });
      return {
        caller: Array.from({ length: pairs }, (_, i) => side(100 + i, 200 + i, 2 * i + 1)),
        answerer: Array.from({ length: pairs }, (_, i) => side(200 + i, 100 + i, 2 * i + 2)),
      };
    },
    linkRate: 8000,
    headerBytes: 4,
  },
};

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Bytes on the wire per direction in a pcap: each frame plus its 2 FCS bytes and 1 flag. */
function wireBytes(
  pcap: Buffer,
  headerBytes: number,
): { sent: number; received: number; frames: number } {
  let off = 24;
  const out = { sent: 0, received: 0, frames: 0 };
  while (off + 16 <= pcap.length) {
    const caplen = pcap.readUInt32LE(off + 8);
    const rec = pcap.subarray(off + 16, off + 16 + caplen);
    // LINUX_LAPD: packet type 4 = sent by us; MTP2 with pseudo-header: byte 0 = 1 when sent.
    const sent = headerBytes === 16 ? rec.readUInt16BE(0) === 4 : rec[0] === 1;
    const bytes = caplen - headerBytes + 3;
    if (sent) out.sent += bytes;
    else out.received += bytes;
    out.frames += 1;
    off += 16 + caplen;
  }
  return out;
}

interface Pending {
  placedAt: number;
  answered: boolean;
  done: (ok: boolean, cause: number) => void;
}

async function measure(signalling: string, pairs: number) {
  const scenario = SCENARIOS[signalling];
  if (!scenario) throw new Error(`no call bench for ${signalling}`);
  const config: SimConfig = {
    spans: Array.from({ length: 2 * pairs }, () => ({ type: 'E1' as const })),
    cables: Array.from({ length: pairs }, (_, i) => [2 * i + 1, 2 * i + 2] as [number, number]),
  };
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-calls-'));
  const sim = await startSim({ config, dir });
  const env = simEnv(dir);
  const hosts: Host[] = [];
  try {
    writeFileSync(join(dir, 'system.conf'), renderSystemConf(config));
    const cfg = await runProcess('dahdi_cfg', ['-c', join(dir, 'system.conf')], { env });
    if (cfg.code !== 0) throw new Error(`dahdi_cfg: ${cfg.stderr}`);
    const { caller: callerTrunks, answerer: answererTrunks } = scenario.trunks(pairs);

    const pending = new Map<number, Pending>();
    const early = new Map<number, Line[]>();
    let answerer: Host | undefined;
    let linksUp = 0;
    const onCaller = (l: Line) => {
      if (l.event === 'link' && l.state === 'up') linksUp += 1;
      if (typeof l.call !== 'number') return;
      const p = pending.get(l.call);
      if (!p) {
        // An event can be read in the same chunk as the reply to `place`, before the call is
        // registered: kept for it.
        if (l.event === 'answered' || l.event === 'released')
          early.set(l.call, [...(early.get(l.call) ?? []), l]);
        return;
      }
      if (l.event === 'answered') {
        p.answered = true;
        p.done(true, 0);
      } else if (l.event === 'released') {
        pending.delete(l.call as number);
        if (!p.answered) p.done(false, Number(l.cause));
      }
    };
    const onAnswerer = (l: Line) => {
      if (l.event === 'link' && l.state === 'up') linksUp += 1;
      // The far end answers every call at once (SETUP -> CONNECT).
      if (l.event === 'offered')
        answerer?.command({ op: 'answer', call: l.call as number }).catch(() => undefined);
    };
    const caller = await startEngineHost(env, dir, { trunks: callerTrunks }, 'caller', onCaller);
    hosts.push(caller);
    answerer = await startEngineHost(env, dir, { trunks: answererTrunks }, 'answerer', onAnswerer);
    hosts.push(answerer);
    for (let i = 0; i < 600 && linksUp < 2 * pairs; i++)
      await new Promise((r) => setTimeout(r, 100));
    if (linksUp < 2 * pairs) throw new Error(`only ${linksUp} of ${2 * pairs} links came up`);
    // Start-up resets (SS7 group reset) finish before the first call.
    await new Promise((r) => setTimeout(r, 2000));

    const latencies: number[] = [];
    let attempts = 0;
    let completed = 0;
    let failed = 0;
    const causes: Record<string, number> = {};
    const oneCall = (trunk: string): Promise<void> =>
      new Promise((resolve) => {
        attempts += 1;
        const placedAt = performance.now();
        caller
          .command({ op: 'place', trunk, called: '4000', calling: '1000' })
          .then(({ call }) => {
            const entry: Pending = {
              placedAt,
              answered: false,
              done: (ok, cause) => {
                if (!ok) {
                  failed += 1;
                  causes[cause] = (causes[cause] ?? 0) + 1;
                  resolve();
                  return;
                }
                latencies.push(performance.now() - placedAt);
                caller
                  .command({ op: 'release', call: call as number, cause: 16 })
                  .then(() => {
                    completed += 1;
                    resolve();
                  })
                  .catch(() => {
                    failed += 1;
                    resolve();
                  });
              },
            };
            pending.set(call as number, entry);
            for (const l of early.get(call as number) ?? []) onCaller(l);
            early.delete(call as number);
          })
          .catch(() => {
            failed += 1;
            resolve();
          });
      });

    // Bytes one call puts on the D-channel, from a trace of one call on the first span.
    await caller.request('traceStart', { span: 1 });
    process.stderr.write(`bench calls: ${signalling} on ${pairs} span(s), ${SECONDS} s\n`);
    await oneCall(callerTrunks[0]?.name as string);
    await new Promise((r) => setTimeout(r, 500));
    const wire = wireBytes(await caller.trace(1), scenario.headerBytes);
    await caller.request('traceStop', { span: 1 });
    attempts = 0;
    completed = 0;
    failed = 0;
    latencies.length = 0;

    const until = performance.now() + SECONDS * 1000;
    const t0 = performance.now();
    const loops: Promise<void>[] = [];
    for (const t of callerTrunks)
      for (let k = 0; k < IN_FLIGHT; k++)
        loops.push(
          (async () => {
            while (performance.now() < until) await oneCall(t.name);
          })(),
        );
    await Promise.all(loops);
    const elapsed = (performance.now() - t0) / 1000;
    // Every call must end on both sides. A clear that waits for a protocol timer (T305 is 30 s)
    // is slow, not lost: wait that long for the stragglers, then count what never ended.
    const straggling = pending.size;
    for (let i = 0; i < 400 && pending.size > 0; i++) await new Promise((r) => setTimeout(r, 100));
    const snapshots = await Promise.all(hosts.map((h) => h.snapshot()));
    const leftOver = snapshots.reduce(
      (n, s) => n + s.trunks.reduce((m, t) => m + t.calls.length, 0),
      0,
    );
    latencies.sort((a, b) => a - b);
    const bytesPerCall = Math.max(wire.sent, wire.received);
    const boundPerSpan = scenario.linkRate / bytesPerCall;
    const cps = completed / elapsed;
    return {
      signalling,
      spans: pairs,
      seconds: Number(elapsed.toFixed(1)),
      inFlightPerSpan: IN_FLIGHT,
      attempts,
      completed,
      failed,
      failureCauses: causes,
      clearsStillOpenAtEnd: straggling,
      lost: pending.size + leftOver,
      callsPerSecond: Number(cps.toFixed(1)),
      callsPerSecondPerSpan: Number((cps / pairs).toFixed(1)),
      bytesPerCall: { sent: wire.sent, received: wire.received, frames: wire.frames },
      boundPerSpan: Number(boundPerSpan.toFixed(1)),
      ratioToBound: Number((cps / pairs / boundPerSpan).toFixed(3)),
      setupMs: {
        p50: Number(percentile(latencies, 50).toFixed(1)),
        p95: Number(percentile(latencies, 95).toFixed(1)),
      },
    };
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * For each signalling type and span count: E1 pairs cabled, a calling engine and an answering
 * engine in two processes, calls placed, answered at once and cleared, IN_FLIGHT at a time per
 * span, for SECONDS. The bound is the link itself: 8000 bytes/s divided by the bytes one call puts
 * on it in the busier direction (frames + FCS + flag, from a trace of a call in the same run).
 * Setup latency is place -> answered as the controller sees it (two processes, JSON lines).
 */
export async function run(): Promise<object> {
  const results = [];
  for (const signalling of SIGNALLINGS)
    for (const spans of SPAN_COUNTS) results.push(await measure(signalling, spans));
  return {
    description:
      'Sustained call attempts per second (answered at once, then cleared) through the engine on cabled E1 pairs, as a ratio to the 64 kbit/s signalling link bound computed from the bytes of one traced call; setup latency place->answered; failed and lost calls.',
    results,
  };
}
