// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit for the simulated carrier: a board with a PRI pair and an MFC-R2 pair, the carrier process, our side.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CarrierRecord, CarrierStats } from '../../src/carrier/carrier.ts';
import type { EngineConfig } from '../../src/native/engine.ts';
import { type Host, type Line, startEngineHost } from '../../src/native/host-client.ts';
import type { AmdOptions } from '../../src/native/media.ts';
import { repoRoot } from '../../src/runtime/paths.ts';
import { type StartedProcess, startProcess } from '../../src/runtime/process.ts';
import type { SimConfig } from '../../src/sim/config.ts';
import { eventually, type TestSim } from './dahdi.ts';

/** Spans 1-2 (PRI) and 3-4 (MFC-R2) cabled as on the demo board: the switch on 1 and 3, the carrier on 2 and 4. */
export const CARRIER_BOARD: SimConfig = {
  spans: [{ type: 'E1' }, { type: 'E1' }, { type: 'E1' }, { type: 'E1' }],
  cables: [
    [1, 2],
    [3, 4],
  ],
};

/**
 * `pairs` PRI E1 pairs: span 2k+1 (ours, timing from the line) cabled to span 2k+2 (the
 * carrier's), every span CCS with its D-channel on timeslot 16. The board and its system.conf.
 */
export function priPairs(pairs: number): { board: SimConfig; systemConf: string } {
  const spans = Array.from({ length: pairs * 2 }, () => ({ type: 'E1' as const }));
  const cables = Array.from(
    { length: pairs },
    (_, i) => [2 * i + 1, 2 * i + 2] as [number, number],
  );
  const systemConf = spans
    .flatMap((_, i) => {
      const s = i + 1;
      const base = i * 31;
      return [
        `span=${s},${s % 2 === 1 ? 1 : 0},0,ccs,hdb3,crc4`,
        `bchan=${base + 1}-${base + 15},${base + 17}-${base + 31}`,
        `hardhdlc=${base + 16}`,
      ];
    })
    .concat('')
    .join('\n');
  return { board: { spans, cables }, systemConf };
}

/** CCS with a D-channel on spans 1-2, CAS on every timeslot but 16 of spans 3-4. */
export const CARRIER_SYSTEM_CONF = [
  'span=1,1,0,ccs,hdb3,crc4',
  'bchan=1-15,17-31',
  'hardhdlc=16',
  'span=2,2,0,ccs,hdb3,crc4',
  'bchan=32-46,48-62',
  'hardhdlc=47',
  'span=3,3,0,cas,hdb3',
  'cas=63-77:1101',
  'cas=79-93:1101',
  'span=4,4,0,cas,hdb3',
  'cas=94-108:1101',
  'cas=110-124:1101',
  '',
].join('\n');

/** 8-digit numbers fill both R2 ends' maxDnis, so no side waits for a digit that never comes. */
export const R2_DIGITS = 8;

/** The carrier's trunks: PRI network side on span 2, MFC-R2 China on span 4. */
export const CARRIER_TRUNKS = [
  { name: 'net', signalling: 'pri_net', span: 2, switchtype: 'euroisdn' },
  {
    name: 'cn',
    signalling: 'mfcr2',
    span: 4,
    variant: 'cn',
    maxAni: 0,
    maxDnis: R2_DIGITS,
    hunting: 'descending',
  },
];

/** Our side: PRI user side on span 1, MFC-R2 China on span 3 asking for no ANI (R2_CHINA_ANI_GAP). */
export const OUR_TRUNKS = {
  trunks: [
    { name: 'pri', signalling: 'pri_cpe', span: 1, switchtype: 'euroisdn' },
    { name: 'r2', signalling: 'mfcr2', span: 3, variant: 'cn', maxAni: 0, maxDnis: R2_DIGITS },
  ],
} as EngineConfig;

export interface RunningCarrier {
  proc: StartedProcess;
  records(): CarrierRecord[];
  /** Waits for the line saying every inbound call was placed and ended. */
  inboundDone(timeoutMs?: number): Promise<CarrierStats>;
  stats(): Promise<CarrierStats>;
  /** SIGTERM; resolves with the exit code and the final counters. */
  stop(): Promise<{ code: number | null; stats: CarrierStats | undefined }>;
}

let counter = 0;

/**
 * Starts the carrier process (src/carrier/main.ts) with `scenario` against the test's simulator;
 * `logFile` is its --log (JSON lines, read back with readCarrierLog).
 */
export async function startCarrier(
  sim: TestSim,
  scenario: Record<string, unknown>,
  opts: { logFile?: string } = {},
): Promise<RunningCarrier> {
  counter += 1;
  const file = join(sim.dir, `scenario-${counter}.json`);
  writeFileSync(file, JSON.stringify(scenario));
  const proc = startProcess(
    process.execPath,
    [
      '--import',
      'tsx',
      join(repoRoot, 'src/carrier/main.ts'),
      '--scenario',
      file,
      ...(opts.logFile === undefined ? [] : ['--log', opts.logFile]),
    ],
    { env: sim.env, timeoutMs: 24 * 3600_000 },
  );
  await proc.waitFor((l) => l.carrier === 'ready' || l.fatal !== undefined, 30_000);
  const fatal = proc.lines.find((l) => l.fatal !== undefined);
  if (fatal) throw new Error(`the carrier refused: ${JSON.stringify(fatal.fatal)}`);
  const records = () =>
    proc.lines.filter((l) => l.record !== undefined).map((l) => l.record as CarrierRecord);
  return {
    proc,
    records,
    async inboundDone(timeoutMs = 120_000) {
      await proc.waitFor((l) => l.carrier === 'inboundDone', timeoutMs);
      return proc.lines.find((l) => l.carrier === 'inboundDone')?.stats as CarrierStats;
    },
    async stats() {
      const before = proc.lines.length;
      proc.send('{"op":"stats"}\n');
      await proc.waitFor((l) => l.stats !== undefined && proc.lines.indexOf(l) >= before);
      return proc.lines.slice(before).find((l) => l.stats !== undefined)?.stats as CarrierStats;
    },
    async stop() {
      if (proc.pid !== undefined) process.kill(proc.pid, 'SIGTERM');
      const timer = setTimeout(() => proc.pid && process.kill(proc.pid, 'SIGKILL'), 20_000);
      const r = await proc.done;
      clearTimeout(timer);
      const stats = [...proc.lines].reverse().find((l) => l.stats !== undefined)?.stats as
        | CarrierStats
        | undefined;
      return { code: r.code, stats };
    },
  };
}

/** What our side detects on each call once it is answered (the detect command's options). */
export interface OurDetect {
  dtmf?: boolean;
  /** Answering-machine detection: one `amd` event per call (human, machine or notsure). */
  amd?: boolean | AmdOptions;
}

/**
 * Our side of the cables, as a switch would be: answers every call offered (when `answering`),
 * and starts DTMF detection (and whatever else `detect` says) on every call once it is answered,
 * whichever end answered (an R2 bearer is lent to the media layer only after its MF exchange).
 */
export interface OurSide {
  host: Host;
  answering: boolean;
  /** Detectors started on each answered call; default {dtmf: true}. */
  detect: OurDetect;
  offered(trunk?: string): Line[];
  /** The DTMF digits detected on one of our calls, in order. */
  dtmf(call: number): string;
  /** The answering-machine verdict on one of our calls ("human HUMAN"), once reported. */
  amd(call: number): string | undefined;
}

/** The parts of `callees()` for one number: an outbound.numbers rule. */
export interface Callee {
  number: string;
  answeredBy: 'human' | 'machine';
  /** Seconds of ringing before the answer; default 0.2. */
  ringSeconds?: number;
  /** Keys a person presses, each step after its pause (seconds after the answer for the first). */
  digits?: { afterSeconds: number; press: string }[];
  greeting?: string | null;
}

/**
 * outbound.numbers rules for numbers answered by people and machines who wait for the switch to
 * hang up (holdSeconds null), for a carrier scenario's `outbound.numbers`.
 */
export function callees(list: Callee[]): Record<string, unknown>[] {
  return list.map((c) => ({
    number: c.number,
    answeredBy: c.answeredBy,
    ringSeconds: { min: c.ringSeconds ?? 0.2, max: c.ringSeconds ?? 0.2 },
    holdSeconds: null,
    ...(c.digits ? { digits: c.digits } : {}),
    ...(c.greeting === undefined ? {} : { greeting: c.greeting }),
  }));
}

export async function startOurSide(sim: TestSim): Promise<OurSide> {
  let host: Host | undefined;
  const side = {
    answering: true,
    detect: { dtmf: true } as OurDetect,
    get host(): Host {
      return host as Host;
    },
    offered: (trunk?: string) =>
      (host as Host).events(
        (e) => e.event === 'offered' && (trunk === undefined || e.trunk === trunk),
      ),
    dtmf: (call: number) =>
      (host as Host)
        .events((e) => e.event === 'dtmf' && e.call === call)
        .map((e) => e.digit)
        .join(''),
    amd: (call: number) => {
      const e = (host as Host).events((x) => x.event === 'amd' && x.call === call)[0];
      return e ? `${e.result} ${e.cause}` : undefined;
    },
  };
  const react = (line: Line) => {
    if (!host) return;
    const call = line.call as number;
    if (line.event === 'offered' && side.answering) {
      // R2 has no alerting of its own: alert accepts, answer follows once the MF exchange ended.
      void host.command({ op: 'alert', call }).catch(() => undefined);
      void host.command({ op: 'answer', call }).catch(() => undefined);
    } else if (line.event === 'answered') {
      void host.command({ op: 'detect', call, ...side.detect }).catch(() => undefined);
    }
  };
  host = await startEngineHost(sim.env, sim.dir, OUR_TRUNKS, 'ours', react);
  return side;
}

/** Waits until our trunk can place calls: PRI link up and settled, or R2 lines idle. */
export async function trunkUp(ours: OurSide, trunk: string): Promise<void> {
  const ok = await eventually(async () => {
    const t = (await ours.host.snapshot()).trunks.find((x) => x.name === trunk);
    return (
      t?.links.every((l) => l.state === 'up') === true && t.channels.some((c) => c.state === 'idle')
    );
  }, 30_000);
  assert.ok(ok, `trunk ${trunk} never came up`);
  // Both ends of a PRI may establish the link at once; let the crossing SABME pass (one T200).
  if (trunk === 'pri') await new Promise((r) => setTimeout(r, 2000));
}
