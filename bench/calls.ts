// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard bench calls`: sustained call attempts per second through the whole addon, against the signalling's own limit.

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
// Calls in flight per span: enough to keep a D-channel busy at a few ms of setup latency. MFC-R2
// signals per timeslot, so it keeps every timeslot of the span busy instead (30).
const IN_FLIGHT = Number(process.env.SWITCHBOARD_BENCH_IN_FLIGHT ?? 6);
/** Timeslots of an E1 span that carry calls (all but 0 and 16). */
const E1_TIMESLOTS = 30;
// MFC-R2 calls in flight over all spans together. One per timeslot (30 a span) fills a span, but
// every R2 call in its MF phase needs its trunk thread to read and write 20 ms of tone on time
// (openr2 keeps about one chunk queued for sending). On this 2-core virtual machine, shared with
// other work, more R2 calls at once than one span's worth made the threads fall behind: a forward
// tone broke off, the far end took the break for the end of the signal and answered, and openr2
// kept waiting for the Group B signal it never saw (calls stuck in "Answer Received with MF
// Pending", which no openr2 timer ends), or cleared the call with a protocol error (111, 102).
// Measured on 16 spans: 16 calls at once lost none, 48 failed 1 in 251, 112 lost 26 in 404.
// More spans than one run fewer calls each, so the total stays at this.
const R2_MAX_IN_FLIGHT = Number(process.env.SWITCHBOARD_BENCH_R2_MAX_IN_FLIGHT ?? E1_TIMESLOTS);
// Analog ports are not here: they have no signalling to saturate beyond one line each.
const SIGNALLINGS = (process.env.SWITCHBOARD_BENCH_SIGNALLING ?? 'pri,ss7,r2').split(',');

/**
 * openr2 reads and writes a channel's audio in 160-sample chunks (OR2_CHAN_READ_SIZE, 20 ms) and
 * its MF receiver decides once per 133-sample block: a tone that starts or stops cannot be acted
 * on before the end of the chunk that completes a whole block of it. One edge of the compelled
 * cycle therefore costs at least one chunk, ms.
 */
const R2_EDGE_MS = 20;
/** Edges of one compelled MF cycle: forward on, backward on, forward off, backward off. */
const R2_EDGES_PER_CYCLE = 4;
/** An ABCD change crosses an E1 in one TS16 multiframe (16 frames of 125 us), ms. */
const CAS_MULTIFRAME_MS = 2;
/** openr2's r2_answer_delay (src/trunks/r2.ts R2_TIMERS): the called side waits it before answering, ms. */
const R2_ANSWER_DELAY_MS = 150;
/**
 * A call neither answered nor released this long after `place` is given up on (and counted lost
 * at the end if it never ends), ms: far beyond any protocol timer of a call that goes through.
 */
const SETUP_TIMEOUT_MS = 60_000;
/** The number R2 calls dial: as long as both ends' maxDnis, so no side waits for a digit that never comes. */
const R2_CALLED = '62881234';

/** How one signalling type is set up over cabled E1 pairs: the caller's and the answerer's trunks. */
interface Scenario {
  /** Trunks of the calling side (spans 1, 3, 5 ...) and of the answering side (2, 4, 6 ...). */
  trunks(pairs: number): { caller: EngineTrunk[]; answerer: EngineTrunk[] };
  /**
   * What bounds the call rate. link: a 64 kbit/s signalling link shared by the span's calls,
   * measured in bytes per call from a trace. compelled: MFC-R2, where each timeslot signals its
   * own call (line signals in TS16, MF tones in the call's own timeslot), measured in compelled
   * MF cycles and ABCD changes per call from openr2's trace of one call.
   */
  bound:
    | {
        kind: 'link';
        /** Bytes a second the signalling link carries (a 64 kbit/s timeslot: 8000). */
        linkRate: number;
        /** pcap pseudo-header bytes before each frame (LAPD 16, MTP2 4). */
        headerBytes: number;
      }
    | { kind: 'compelled' };
  /** The board's system.conf: CCS with a D-channel on TS16 unless said. */
  systemConf?(config: SimConfig): string;
  /** Calls in flight per span on `pairs` spans; default IN_FLIGHT. */
  inFlight?: (pairs: number) => number;
  /** The number dialled; default 4000. */
  called?: string;
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
    bound: { kind: 'link', linkRate: 8000, headerBytes: 16 },
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
    bound: { kind: 'link', linkRate: 8000, headerBytes: 4 },
  },
  // MFC-R2 China (maxAni 0: R2_CHINA_ANI_GAP), every timeslot of each span, hunting from opposite
  // ends so that a channel freed on one side is not seized again before the other side idles it.
  r2: {
    trunks: (pairs) => {
      const side = (name: string, span: number, hunting: 'ascending' | 'descending') => ({
        name,
        signalling: 'mfcr2' as const,
        span,
        variant: 'cn',
        maxAni: 0,
        maxDnis: R2_CALLED.length,
        hunting,
      });
      return {
        caller: Array.from({ length: pairs }, (_, i) =>
          side(`r2out${i + 1}`, 2 * i + 1, 'ascending'),
        ),
        answerer: Array.from({ length: pairs }, (_, i) =>
          side(`r2in${i + 1}`, 2 * i + 2, 'descending'),
        ),
      };
    },
    bound: { kind: 'compelled' },
    systemConf: (config) => {
      const lines = ['# MFC-R2: CAS on every timeslot but 16, ABCD idle 1101'];
      config.spans.forEach((_, i) => {
        const base = 31 * i;
        lines.push(
          `span=${i + 1},${i + 1},0,cas,hdb3`,
          `cas=${base + 1}-${base + 15}:1101`,
          `cas=${base + 17}-${base + 31}:1101`,
        );
      });
      return `${lines.join('\n')}\n`;
    },
    inFlight: (pairs) => Math.max(1, Math.min(E1_TIMESLOTS, Math.floor(R2_MAX_IN_FLIGHT / pairs))),
    called: R2_CALLED,
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

/**
 * What openr2 logged on the calling side of one call's timeslot (`logging: [mf, cas]`), from the
 * seizure on: the compelled MF cycles (each forward signal sent is one cycle: on, acknowledged,
 * off, acknowledgement off), the ABCD changes either way (seize, seize ack, answer, clear
 * forward, idle), and the mean cycle as it ran (first forward tone on to last backward tone off).
 */
export function r2TraceCounts(lines: { message: string; time: number }[]): {
  mfCycles: number;
  casChanges: number;
  tracedCycleMs: number;
} {
  const from = lines.findIndex((l) => /CAS Tx >> \[SEIZE\]/.test(l.message));
  let mfCycles = 0;
  let casChanges = 0;
  let firstMf: number | undefined;
  let lastMf: number | undefined;
  for (const { message, time } of lines.slice(Math.max(0, from))) {
    // openr2: "MF Tx >> 6 [ON]", "MF Rx << 1 [OFF]"; "CAS Tx >> [SEIZE] 0x00", "CAS Rx << [ANSWER] 0x04"
    // ("CAS Raw Tx" repeats a change with the fixed C and D bits: not counted again).
    if (/^MF Tx >> \S+ \[ON\]/.test(message)) {
      mfCycles += 1;
      firstMf ??= time;
    } else if (/^MF Rx << \S+ \[OFF\]/.test(message)) lastMf = time;
    else if (/^CAS (Tx >>|Rx <<) \[/.test(message)) casChanges += 1;
  }
  const tracedCycleMs =
    mfCycles > 0 && firstMf !== undefined && lastMf !== undefined
      ? (lastMf - firstMf) / mfCycles
      : Number.NaN;
  return { mfCycles, casChanges, tracedCycleMs };
}

interface Pending {
  placedAt: number;
  answered: boolean;
  done: (ok: boolean, cause: number) => void;
  /** Set when the call slot waits for the caller's `released` (R2). */
  cleared?: () => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The far end answers every call offered at once; R2 accepts (alert: Group B) first. */
function answerEvery(host: () => Host | undefined, signalling: string) {
  return (l: Line) => {
    if (l.event !== 'offered') return;
    const call = l.call as number;
    if (signalling === 'r2')
      host()
        ?.command({ op: 'alert', call })
        .catch(() => undefined);
    host()
      ?.command({ op: 'answer', call })
      .catch(() => undefined);
  };
}

/** Waits until every channel of both hosts' trunks is idle (R2: the far end is up, not blocking). */
async function channelsIdle(hosts: Host[]): Promise<boolean> {
  for (let i = 0; i < 300; i++) {
    const snaps = await Promise.all(hosts.map((h) => h.snapshot()));
    if (snaps.every((s) => s.trunks.every((t) => t.channels.every((c) => c.state === 'idle'))))
      return true;
    await sleep(100);
  }
  return false;
}

/**
 * The MFC-R2 bound, from openr2's trace of one call on the first pair: a call holds its timeslot
 * for at least mfCycles compelled cycles of R2_EDGES_PER_CYCLE edges of R2_EDGE_MS each, plus one
 * multiframe per ABCD change, plus r2_answer_delay. 30 timeslots a span signal in parallel.
 */
async function r2Bound(env: NodeJS.ProcessEnv, dir: string, scenario: Scenario) {
  const { caller: callerTrunks, answerer: answererTrunks } = scenario.trunks(1);
  const traced = (t: EngineTrunk) => ({ ...t, logging: ['mf', 'cas'] }) as EngineTrunk;
  let answerer: Host | undefined;
  const hosts: Host[] = [];
  try {
    const caller = await startEngineHost(
      env,
      dir,
      { trunks: callerTrunks.map(traced) },
      'r2-trace-caller',
    );
    hosts.push(caller);
    answerer = await startEngineHost(
      env,
      dir,
      { trunks: answererTrunks },
      'r2-trace-answerer',
      answerEvery(() => answerer, 'r2'),
    );
    hosts.push(answerer);
    if (!(await channelsIdle(hosts))) throw new Error('R2 lines never idle for the traced call');
    const trunk = callerTrunks[0]?.name as string;
    const startedAt = performance.now();
    const { call } = await caller.command({
      op: 'place',
      trunk,
      called: scenario.called ?? '4000',
    });
    const first = await caller.waitEvent(
      (e) => (e.event === 'answered' || e.event === 'released') && e.call === call,
      30_000,
    );
    if (first.event !== 'answered')
      throw new Error(`the traced R2 call was not answered: ${JSON.stringify(first)}`);
    const setupMs = performance.now() - startedAt;
    await caller.command({ op: 'release', call: call as number, cause: 16 });
    await caller.waitEvent((e) => e.event === 'released' && e.call === call, 30_000);
    // The call's own timeslot (every line's idle state is logged at start: r2TraceCounts skips it).
    const lines = caller
      .events((e) => e.event === 'log' && e.kind === 'openr2' && e.channel === first.channel)
      .map((e) => ({ message: String(e.message), time: Number(e.time) }));
    const { mfCycles, casChanges, tracedCycleMs } = r2TraceCounts(lines);
    if (mfCycles === 0)
      throw new Error(`no MF signal in the trace: ${lines.map((l) => l.message).join(' | ')}`);
    const callMs =
      mfCycles * R2_EDGES_PER_CYCLE * R2_EDGE_MS +
      casChanges * CAS_MULTIFRAME_MS +
      R2_ANSWER_DELAY_MS;
    return {
      boundPerSpan: (E1_TIMESLOTS * 1000) / callMs,
      perCall: {
        mfCycles,
        casChanges,
        minHoldMs: callMs,
        tracedCycleMs: Number(tracedCycleMs.toFixed(1)),
        tracedSetupMs: Number(setupMs.toFixed(1)),
      },
    };
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
  }
}

async function measure(signalling: string, pairs: number) {
  const scenario = SCENARIOS[signalling];
  if (!scenario) throw new Error(`no call bench for ${signalling}`);
  const inFlight = scenario.inFlight?.(pairs) ?? IN_FLIGHT;
  const called = scenario.called ?? '4000';
  const compelled = scenario.bound.kind === 'compelled';
  const config: SimConfig = {
    spans: Array.from({ length: 2 * pairs }, () => ({ type: 'E1' as const })),
    cables: Array.from({ length: pairs }, (_, i) => [2 * i + 1, 2 * i + 2] as [number, number]),
  };
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-calls-'));
  const sim = await startSim({ config, dir });
  const env = simEnv(dir);
  const hosts: Host[] = [];
  try {
    writeFileSync(
      join(dir, 'system.conf'),
      scenario.systemConf ? scenario.systemConf(config) : renderSystemConf(config),
    );
    const cfg = await runProcess('dahdi_cfg', ['-c', join(dir, 'system.conf')], { env });
    if (cfg.code !== 0) throw new Error(`dahdi_cfg: ${cfg.stderr}`);
    const { caller: callerTrunks, answerer: answererTrunks } = scenario.trunks(pairs);
    process.stderr.write(`bench calls: ${signalling} on ${pairs} span(s), ${SECONDS} s\n`);
    // R2: the per-call signalling comes from a traced call on engines of their own, so that the
    // measured run carries no openr2 trace.
    const r2 = compelled ? await r2Bound(env, dir, scenario) : undefined;

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
        else p.cleared?.();
      }
    };
    const caller = await startEngineHost(env, dir, { trunks: callerTrunks }, 'caller', onCaller);
    hosts.push(caller);
    const answerAll = answerEvery(() => answerer, signalling);
    answerer = await startEngineHost(env, dir, { trunks: answererTrunks }, 'answerer', (l) => {
      if (l.event === 'link' && l.state === 'up') linksUp += 1;
      answerAll(l);
    });
    hosts.push(answerer);
    if (compelled) {
      if (!(await channelsIdle(hosts))) throw new Error('the R2 lines never became idle');
    } else {
      for (let i = 0; i < 600 && linksUp < 2 * pairs; i++) await sleep(100);
      if (linksUp < 2 * pairs) throw new Error(`only ${linksUp} of ${2 * pairs} links came up`);
    }
    // Start-up resets (SS7 group reset) finish before the first call.
    await sleep(2000);

    const latencies: number[] = [];
    let attempts = 0;
    let completed = 0;
    let failed = 0;
    /** Calls given up on after SETUP_TIMEOUT_MS without an answer or a release. */
    let stuck = 0;
    let lastCompletedAt = 0;
    /** Calls completed once every loop runs: the sustained rate's numerator. */
    let steadyCompleted = 0;
    let steadyFrom = 0;
    const causes: Record<string, number> = {};
    const oneCall = (trunk: string): Promise<void> =>
      new Promise((resolve) => {
        attempts += 1;
        const placedAt = performance.now();
        let clearTimer: NodeJS.Timeout | undefined;
        caller
          .command({ op: 'place', trunk, called, calling: '1000' })
          .then(({ call }) => {
            const setupTimer = setTimeout(() => {
              stuck += 1;
              resolve();
            }, SETUP_TIMEOUT_MS);
            const entry: Pending = {
              placedAt,
              answered: false,
              done: (ok, cause) => {
                clearTimeout(setupTimer);
                if (!ok) {
                  failed += 1;
                  causes[cause] = (causes[cause] ?? 0) + 1;
                  resolve();
                  return;
                }
                latencies.push(performance.now() - placedAt);
                if (compelled) {
                  // The timeslot is free again only when the far end's clear back came and the
                  // line idled: the next call on this slot waits for it (or 40 s: then it is
                  // lost, counted below).
                  clearTimer = setTimeout(resolve, 40_000);
                  entry.cleared = () => {
                    clearTimeout(clearTimer);
                    completed += 1;
                    lastCompletedAt = performance.now();
                    if (lastCompletedAt >= steadyFrom) steadyCompleted += 1;
                    resolve();
                  };
                }
                caller
                  .command({ op: 'release', call: call as number, cause: 16 })
                  .then(() => {
                    if (compelled) return;
                    completed += 1;
                    lastCompletedAt = performance.now();
                    if (lastCompletedAt >= steadyFrom) steadyCompleted += 1;
                    resolve();
                  })
                  .catch(() => {
                    clearTimeout(clearTimer);
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

    // PRI and SS7: bytes one call puts on the signalling link, from a trace of one call on the
    // first span.
    let wire = { sent: 0, received: 0, frames: 0 };
    if (scenario.bound.kind === 'link') {
      await caller.request('traceStart', { span: 1 });
      await oneCall(callerTrunks[0]?.name as string);
      await sleep(500);
      wire = wireBytes(await caller.trace(1), scenario.bound.headerBytes);
      await caller.request('traceStop', { span: 1 });
      attempts = 0;
      completed = 0;
      steadyCompleted = 0;
      failed = 0;
      latencies.length = 0;
    }

    // R2: thirty seizures a span in the same millisecond are a burst no exchange sends, and each
    // starts a compelled exchange whose tones must not break off. The loops start spread over one
    // call's setup time (the traced call's), and the rate is counted once all are running.
    const rampMs = r2 ? r2.perCall.tracedSetupMs : 0;
    const t0 = performance.now();
    steadyFrom = t0 + rampMs;
    const until = steadyFrom + SECONDS * 1000;
    const loops: Promise<void>[] = [];
    const slots = callerTrunks.length * inFlight;
    for (let k = 0; k < inFlight; k++)
      for (const t of callerTrunks) {
        const delay = (rampMs * loops.length) / slots;
        loops.push(
          (async () => {
            if (delay > 0) await sleep(delay);
            while (performance.now() < until) await oneCall(t.name);
          })(),
        );
      }
    const progress = setInterval(
      () =>
        process.stderr.write(
          `bench calls: ${attempts} attempts, ${completed} completed, ${failed} failed, ${pending.size} in progress\n`,
        ),
      10_000,
    );
    await Promise.all(loops);
    clearInterval(progress);
    // From the end of the ramp until the last call completed: a call given up on after
    // SETUP_TIMEOUT_MS is not throughput.
    const elapsed = (Math.max(lastCompletedAt, steadyFrom + 1) - steadyFrom) / 1000;
    // Every call must end on both sides. A clear that waits for a protocol timer (T305 is 30 s)
    // is slow, not lost: wait that long for the stragglers, then count what never ended.
    const straggling = pending.size;
    for (let i = 0; i < 400 && pending.size > 0; i++) await sleep(100);
    const snapshots = await Promise.all(hosts.map((h) => h.snapshot()));
    const leftOver = snapshots.reduce(
      (n, s) => n + s.trunks.reduce((m, t) => m + t.calls.length, 0),
      0,
    );
    if (leftOver > 0 && process.env.SWITCHBOARD_BENCH_DEBUG) {
      for (const [i, snap] of snapshots.entries())
        for (const t of snap.trunks)
          for (const c of t.calls)
            process.stderr.write(
              `left over on ${i === 0 ? 'caller' : 'answerer'} ${t.name}: ${JSON.stringify(c)} channel ${JSON.stringify(t.channels.find((ch) => ch.call === c.call))}\n`,
            );
      for (const [id] of pending)
        process.stderr.write(
          `pending ${id}: ${JSON.stringify(caller.events((e) => e.call === id))}\n`,
        );
    }
    latencies.sort((a, b) => a - b);
    const cps = steadyCompleted / elapsed;
    const figures = {
      signalling,
      spans: pairs,
      seconds: Number(elapsed.toFixed(1)),
      ...(rampMs > 0 ? { rampSeconds: Number((rampMs / 1000).toFixed(1)) } : {}),
      inFlightPerSpan: inFlight,
      attempts,
      completed,
      failed,
      failureCauses: causes,
      setupTimeouts: stuck,
      clearsStillOpenAtEnd: straggling,
      lost: pending.size + leftOver,
      callsPerSecond: Number(cps.toFixed(1)),
      callsPerSecondPerSpan: Number((cps / pairs).toFixed(1)),
    };
    const setupMs = {
      p50: Number(percentile(latencies, 50).toFixed(1)),
      p95: Number(percentile(latencies, 95).toFixed(1)),
    };
    if (r2)
      return {
        ...figures,
        r2PerCall: r2.perCall,
        boundPerSpan: Number(r2.boundPerSpan.toFixed(1)),
        ratioToBound: Number((cps / pairs / r2.boundPerSpan).toFixed(3)),
        // With fewer calls in flight than timeslots (R2_MAX_IN_FLIGHT), the most they can do.
        ratioToBoundAtInFlight: Number(
          ((cps / pairs / r2.boundPerSpan) * (E1_TIMESLOTS / inFlight)).toFixed(3),
        ),
        boundBasis: `${E1_TIMESLOTS} timeslots / (${r2.perCall.mfCycles} compelled MF cycles x ${R2_EDGES_PER_CYCLE} edges x ${R2_EDGE_MS} ms + ${r2.perCall.casChanges} ABCD changes x ${CAS_MULTIFRAME_MS} ms + r2_answer_delay ${R2_ANSWER_DELAY_MS} ms)`,
        setupMs,
      };
    const bytesPerCall = Math.max(wire.sent, wire.received);
    const boundPerSpan = (scenario.bound as { linkRate: number }).linkRate / bytesPerCall;
    return {
      ...figures,
      bytesPerCall: { sent: wire.sent, received: wire.received, frames: wire.frames },
      boundPerSpan: Number(boundPerSpan.toFixed(1)),
      ratioToBound: Number((cps / pairs / boundPerSpan).toFixed(3)),
      setupMs,
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
 * span (R2: one per timeslot, 30, but R2_MAX_IN_FLIGHT over all spans, started over one call's
 * setup time and counted from then), for SECONDS. The bound of PRI and SS7 is the link itself: 8000
 * bytes/s divided by the bytes one call puts on it in the busier direction (frames + FCS + flag,
 * from a trace of a call in the same run). The bound of MFC-R2 is the time a call must hold its
 * timeslot for its compelled MF signalling and ABCD line signals (r2Bound), 30 timeslots in
 * parallel. Setup latency is place -> answered as the controller sees it (two processes, JSON
 * lines).
 */
export async function run(): Promise<object> {
  const results = [];
  for (const signalling of SIGNALLINGS)
    for (const spans of SPAN_COUNTS) results.push(await measure(signalling, spans));
  return {
    description:
      'Sustained call attempts per second (answered at once, then cleared) through the engine on cabled E1 pairs, as a ratio to the signalling bound: PRI and SS7, the 64 kbit/s signalling link over the bytes of one traced call; MFC-R2 (China, 8-digit numbers, no ANI), 30 timeslots over the least time a call holds its timeslot for the compelled MF cycles and ABCD changes of one traced call (4 edges of one 20 ms openr2 audio chunk per cycle, a 2 ms multiframe per ABCD change, r2_answer_delay 150 ms), with at most 30 R2 calls in flight over all spans (ratioToBoundAtInFlight: against the calls in flight instead of 30 a span); setup latency place->answered; failed and lost calls.',
    results,
  };
}
