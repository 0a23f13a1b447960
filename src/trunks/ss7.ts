// SPDX-License-Identifier: GPL-2.0-or-later
// SS7 ISUP trunks (libss7): one linkset to an adjacent point code, its links, CICs, timers, rules.

import { Type } from '@sinclair/typebox';
import type { FieldError } from '../core/schema.ts';
import type { EngineTrunk } from '../native/engine.ts';
import { timeslotList } from './pri.ts';
import { type TimerTable, timerErrors, timersSchema } from './timers.ts';
import type { BoardSpans, TrunkKind } from './validate.ts';

/**
 * The ISUP (Q.764 annex A), MTP3 (Q.704 §16.8) and signalling link test (Q.707) timers that
 * libss7 2.0 lets us set (ss7_set_isup_timer, ss7_set_mtp3_timer). The native engine applies the
 * same defaults (native/src/ss7.cc mirrors names, defaults and ranges; the snapshot reports what
 * it applied, and test/ss7.test.ts checks both agree). Ranges cover ITU and ANSI (T1.113) values.
 * The MTP2 timers (Q.703 T1-T7) are fixed inside libss7 and cannot be set.
 */
export const SS7_TIMERS: TimerTable = {
  'ISUP.T1': {
    default: 15000,
    min: 4000,
    max: 60000,
    unit: 'ms',
    meaning: 'wait for RLC after sending REL; REL is repeated when it runs out',
  },
  'ISUP.T2': {
    default: 180000,
    min: 60000,
    max: 300000,
    unit: 'ms',
    meaning: 'wait for RES after a user-initiated SUS; the call is released when it runs out',
  },
  'ISUP.T5': {
    default: 300000,
    min: 60000,
    max: 900000,
    unit: 'ms',
    meaning:
      'wait for RLC after the first REL; the circuit is then reset (RSC) and taken out of service',
  },
  'ISUP.T6': {
    default: 30000,
    min: 10000,
    max: 120000,
    unit: 'ms',
    meaning:
      'wait for RES after a network-initiated SUS (Q.118); the call is released when it runs out',
  },
  'ISUP.T7': {
    default: 25000,
    min: 20000,
    max: 30000,
    unit: 'ms',
    meaning: 'wait for ACM or CON after sending IAM; the call is released with cause 31',
  },
  'ISUP.T8': {
    default: 12000,
    min: 10000,
    max: 15000,
    unit: 'ms',
    meaning: 'wait for COT after an IAM that asked for a continuity check; released with cause 41',
  },
  'ISUP.T12': {
    default: 15000,
    min: 4000,
    max: 60000,
    unit: 'ms',
    meaning: 'wait for BLA after sending BLO; BLO is repeated',
  },
  'ISUP.T13': {
    default: 300000,
    min: 60000,
    max: 900000,
    unit: 'ms',
    meaning: 'wait for BLA after the first BLO; BLO is repeated every T13 from then on',
  },
  'ISUP.T14': {
    default: 15000,
    min: 4000,
    max: 60000,
    unit: 'ms',
    meaning: 'wait for UBA after sending UBL; UBL is repeated',
  },
  'ISUP.T15': {
    default: 300000,
    min: 60000,
    max: 900000,
    unit: 'ms',
    meaning: 'wait for UBA after the first UBL; UBL is repeated every T15 from then on',
  },
  'ISUP.T16': {
    default: 15000,
    min: 4000,
    max: 60000,
    unit: 'ms',
    meaning:
      'wait for RLC after RSC (libss7 starts T17 for a new RSC; a set T16 also makes it ignore unexpected messages on a clearing circuit)',
  },
  'ISUP.T17': {
    default: 300000,
    min: 60000,
    max: 900000,
    unit: 'ms',
    meaning: 'wait for RLC after RSC; RSC is repeated every T17',
  },
  'ISUP.T18': {
    default: 15000,
    min: 4000,
    max: 60000,
    unit: 'ms',
    meaning: 'wait for CGBA after sending CGB; CGB is repeated',
  },
  'ISUP.T19': {
    default: 300000,
    min: 60000,
    max: 900000,
    unit: 'ms',
    meaning: 'wait for CGBA after the first CGB; CGB is repeated every T19 from then on',
  },
  'ISUP.T20': {
    default: 15000,
    min: 4000,
    max: 60000,
    unit: 'ms',
    meaning:
      'wait for CGUA after sending CGU; CGU is repeated (libss7 2.0 also repeats the last GRS on that circuit then)',
  },
  'ISUP.T21': {
    default: 300000,
    min: 60000,
    max: 900000,
    unit: 'ms',
    meaning: 'wait for CGUA after the first CGU; CGU is repeated every T21 from then on',
  },
  'ISUP.T22': {
    default: 15000,
    min: 4000,
    max: 60000,
    unit: 'ms',
    meaning: 'wait for GRA after sending GRS; GRS is repeated',
  },
  'ISUP.T23': {
    default: 300000,
    min: 60000,
    max: 900000,
    unit: 'ms',
    meaning: 'wait for GRA after the first GRS; GRS is repeated every T23 from then on',
  },
  'ISUP.T27': {
    default: 240000,
    min: 180000,
    max: 600000,
    unit: 'ms',
    meaning: 'wait for a continuity recheck (CCR) after a failed COT; the circuit is then reset',
  },
  'ISUP.T35': {
    default: 15000,
    min: 10000,
    max: 20000,
    unit: 'ms',
    meaning:
      'incoming IAM without an end-of-pulsing (ST) digit: wait for ACM, CPG or ANM from us; released with cause 28',
  },
  'MTP3.T1': {
    default: 800,
    min: 500,
    max: 1200,
    unit: 'ms',
    meaning: 'changeover: delay to avoid mis-sequencing before traffic moves to another link',
  },
  'MTP3.T2': {
    default: 1400,
    min: 700,
    max: 2000,
    unit: 'ms',
    meaning: 'changeover: wait for COA after COO',
  },
  'MTP3.T3': {
    default: 800,
    min: 500,
    max: 1200,
    unit: 'ms',
    meaning: 'changeback: time-controlled diversion delay',
  },
  'MTP3.T4': {
    default: 800,
    min: 500,
    max: 1200,
    unit: 'ms',
    meaning: 'changeback: wait for CBA (first attempt)',
  },
  'MTP3.T5': {
    default: 800,
    min: 500,
    max: 1200,
    unit: 'ms',
    meaning: 'changeback: wait for CBA (second attempt)',
  },
  'MTP3.T6': {
    default: 800,
    min: 500,
    max: 1200,
    unit: 'ms',
    meaning: 'controlled rerouting: delay to avoid mis-sequencing',
  },
  'MTP3.T10': {
    default: 30000,
    min: 30000,
    max: 60000,
    unit: 'ms',
    meaning: 'wait before repeating a signalling route set test',
  },
  'MTP3.T12': {
    default: 1000,
    min: 800,
    max: 1500,
    unit: 'ms',
    meaning: 'wait for LUA after LUN (link uninhibit)',
  },
  'MTP3.T13': {
    default: 1000,
    min: 800,
    max: 1500,
    unit: 'ms',
    meaning: 'wait for a forced uninhibit (LFU) answer',
  },
  'MTP3.T14': {
    default: 2000,
    min: 2000,
    max: 3000,
    unit: 'ms',
    meaning: 'wait for LIA after LIN (link inhibit)',
  },
  'MTP3.T19': {
    default: 68000,
    min: 67000,
    max: 69000,
    unit: 'ms',
    meaning: 'MTP restart: further TRA from the adjacent point are ignored while it runs',
  },
  'MTP3.T21': {
    default: 64000,
    min: 63000,
    max: 65000,
    unit: 'ms',
    meaning:
      'MTP restart: traffic is accepted when it runs out even without a TRA from the adjacent point',
  },
  'MTP3.T22': {
    default: 180000,
    min: 180000,
    max: 360000,
    unit: 'ms',
    meaning: 'local inhibit test (LLT) interval',
  },
  'MTP3.T23': {
    default: 180000,
    min: 180000,
    max: 360000,
    unit: 'ms',
    meaning: 'remote inhibit test (LRT) interval',
  },
  'Q707.T1': {
    default: 8000,
    min: 4000,
    max: 12000,
    unit: 'ms',
    meaning: 'wait for SLTA after SLTM; two misses take the link out of service',
  },
  'Q707.T2': {
    default: 60000,
    min: 30000,
    max: 90000,
    unit: 'ms',
    meaning: 'interval between signalling link tests (SLTM)',
  },
};

export const SS7_VARIANTS = ['itu', 'ansi', 'china'] as const;
export type Ss7Variant = (typeof SS7_VARIANTS)[number];

export const NETWORK_INDICATORS = [
  'international',
  'international_spare',
  'national',
  'national_spare',
] as const;

/** Highest point code and CIC each variant can code (Q.704 §2.2.2, T1.111; Q.763 §1.2, T1.113). */
const LIMITS = {
  itu: { pointcode: 16383, cic: 4095 },
  ansi: { pointcode: 16777215, cic: 16383 },
} as const;

/** Most signalling links libss7 takes in one linkset (SS7_MAX_LINKS). */
export const MAX_LINKS = 8;

const PointCode = Type.Union(
  [
    Type.Integer({ minimum: 0 }),
    Type.String({ pattern: '^\\d{1,3}-\\d{1,3}-\\d{1,3}$', mustBe: 'a number or "a-b-c"' }),
  ],
  {
    description:
      'a point code: a number (ITU: 0..16383, 14 bits; ANSI: 0..16777215, 24 bits), or for ANSI ' +
      'network-cluster-member as "a-b-c" with each part 0..255',
  },
);

const Timeslots = Type.Union([
  Type.String({ pattern: '^\\d+(-\\d+)?(,\\d+(-\\d+)?)*$', mustBe: 'a list like "1-15,17-31"' }),
  Type.Array(Type.Integer({ minimum: 1, maximum: 31 }), { minItems: 1 }),
]);

export const Ss7Link = Type.Object(
  {
    span: Type.Integer({
      minimum: 1,
      maximum: 127,
      description: 'the E1/T1 span carrying the link',
    }),
    timeslot: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 31,
        description:
          'the signalling timeslot (system.conf hardhdlc=); default 16 on E1, 24 on T1. MTP2 runs in software (libss7)',
      }),
    ),
    slc: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 15,
        description: 'signalling link code, agreed with the far end; default the link index',
      }),
    ),
  },
  { additionalProperties: false },
);

export const Ss7Cics = Type.Object(
  {
    span: Type.Integer({ minimum: 1, maximum: 127, description: 'the span carrying the circuits' }),
    firstCic: Type.Integer({
      minimum: 0,
      maximum: 16383,
      description:
        'CIC of the first listed timeslot; the next timeslots take the following CICs in list order',
    }),
    timeslots: Type.Optional(Timeslots),
  },
  { additionalProperties: false },
);

export const Ss7Trunk = Type.Object(
  {
    name: Type.String(),
    signalling: Type.Literal('ss7'),
    variant: Type.Union(
      SS7_VARIANTS.map((v) => Type.Literal(v)),
      {
        description:
          'itu (Q.7xx, 14-bit point codes) or ansi (T1.11x, 24-bit point codes). china (24-bit ITU ' +
          'point codes) is a known gap: libss7 cannot code it and the trunk is refused',
      },
    ),
    pointcode: PointCode,
    adjacentPointcode: PointCode,
    networkIndicator: Type.Optional(
      Type.Union(
        NETWORK_INDICATORS.map((n) => Type.Literal(n)),
        { description: 'the network indicator (SIO bits DC) of every message; default national' },
      ),
    ),
    links: Type.Array(Ss7Link, {
      minItems: 1,
      maxItems: MAX_LINKS,
      description: 'the signalling links of the linkset (all to the adjacent point code)',
    }),
    cics: Type.Array(Ss7Cics, {
      minItems: 1,
      description: 'bearer circuits and their CICs, one entry per span or range',
    }),
    resetOnStart: Type.Optional(
      Type.Boolean({
        description:
          'send a group reset (GRS) over each CIC range whenever the linkset comes up (default true)',
      }),
    ),
    continuity: Type.Optional(
      Type.Union([Type.Literal('none'), Type.Literal('required')], {
        description:
          'continuity check on outgoing calls; default none. required is a known gap: libss7 2.0 ' +
          'has no way to ask for the check in an IAM nor to send COT, so it is refused',
      }),
    ),
    timers: timersSchema(SS7_TIMERS, 'ISUP/MTP3/Q.707'),
  },
  { additionalProperties: false },
);

interface Ss7Config {
  variant: Ss7Variant;
  pointcode: number | string;
  adjacentPointcode: number | string;
  links: { span: number; timeslot?: number; slc?: number }[];
  cics: { span: number; firstCic: number; timeslots?: string | number[] }[];
  continuity?: 'none' | 'required';
  timers?: Record<string, number>;
}

/**
 * A point code as a number, or why it cannot be one for this variant.
 * ANSI accepts "network-cluster-member" ("1-2-3" is 0x010203); ITU takes numbers only.
 */
export function pointCodeValue(
  v: number | string,
  variant: 'itu' | 'ansi',
): { value: number } | { error: string } {
  const max = LIMITS[variant].pointcode;
  if (typeof v === 'string') {
    if (variant === 'itu')
      return { error: `"${v}": an ITU point code is a number (0..${max}), not a-b-c` };
    const parts = v.split('-').map(Number);
    if (parts.some((p) => p > 255))
      return { error: `"${v}": each part of an ANSI point code is 0..255` };
    const [a = 0, b = 0, c = 0] = parts;
    return { value: (a << 16) | (b << 8) | c };
  }
  if (v > max)
    return { error: `${v} is out of range for ${variant.toUpperCase()} point codes (0..${max})` };
  return { value: v };
}

function spanSize(board: BoardSpans | undefined, span: number): number {
  return board?.get(span)?.channels ?? 31;
}

/** Each CIC entry's timeslots: as listed, or every timeslot of the span but the link timeslots. */
export function cicTimeslots(t: Ss7Config, index: number, board?: BoardSpans): number[] {
  const entry = t.cics[index] as Ss7Config['cics'][number];
  if (entry.timeslots !== undefined) return timeslotList(entry.timeslots);
  const size = spanSize(board, entry.span);
  const links = new Set(
    t.links.filter((l) => l.span === entry.span).map((l) => linkTimeslot(l, board)),
  );
  return Array.from({ length: size }, (_, k) => k + 1).filter((ts) => !links.has(ts));
}

function linkTimeslot(l: Ss7Config['links'][number], board?: BoardSpans): number {
  return l.timeslot ?? (spanSize(board, l.span) === 24 ? 24 : 16);
}

/** The CIC range [first, last] of each entry. */
function cicRanges(t: Ss7Config, board?: BoardSpans): [number, number][] {
  return t.cics.map((c, i) => [c.firstCic, c.firstCic + cicTimeslots(t, i, board).length - 1]);
}

function checkSpan(
  board: BoardSpans | undefined,
  span: number,
  path: string,
  out: FieldError[],
): void {
  if (!board) return;
  const s = board.get(span);
  if (!s) out.push({ path, message: `span ${span} does not exist on this board` });
  else if (s.type === 'analog')
    out.push({ path, message: `span ${span} is an analog card, not an E1/T1 span` });
}

function checkSs7(t0: EngineTrunk, path: string, board: BoardSpans | undefined): FieldError[] {
  const t = t0 as unknown as Ss7Config;
  const out: FieldError[] = [...timerErrors(SS7_TIMERS, t.timers, path)];
  if (t.variant === 'china') {
    out.push({
      path: `${path}.variant`,
      message:
        'china (24-bit ITU point codes) is a known gap: libss7 2.0 codes ITU point codes in 14 bits',
    });
    return out;
  }
  if (t.continuity === 'required')
    out.push({
      path: `${path}.continuity`,
      message:
        'required is a known gap: libss7 2.0 cannot ask for a continuity check in an IAM nor send COT',
    });
  const pcs: number[] = [];
  for (const key of ['pointcode', 'adjacentPointcode'] as const) {
    const r = pointCodeValue(t[key], t.variant);
    if ('error' in r) out.push({ path: `${path}.${key}`, message: r.error });
    else pcs.push(r.value);
  }
  if (pcs.length === 2 && pcs[0] === pcs[1])
    out.push({
      path: `${path}.adjacentPointcode`,
      message: 'is our own point code: the adjacent signalling point must be another one',
    });

  // Signalling links.
  const linkAt = new Map<string, number>();
  const slcs = new Map<number, number>();
  t.links.forEach((l, i) => {
    const lp = `${path}.links[${i}]`;
    checkSpan(board, l.span, `${lp}.span`, out);
    const size = spanSize(board, l.span);
    const ts = linkTimeslot(l, board);
    if (ts > size)
      out.push({
        path: `${lp}.timeslot`,
        message: `timeslot ${ts} does not exist on a ${size}-channel span`,
      });
    const key = `${l.span}/${ts}`;
    const other = linkAt.get(key);
    if (other !== undefined)
      out.push({
        path: `${lp}.timeslot`,
        message: `span ${l.span} timeslot ${ts} already carries links[${other}]`,
      });
    linkAt.set(key, i);
    const slc = l.slc ?? i;
    const twice = slcs.get(slc);
    if (twice !== undefined)
      out.push({ path: `${lp}.slc`, message: `SLC ${slc} is already links[${twice}]'s` });
    slcs.set(slc, i);
  });

  // Bearer circuits.
  const maxCic = LIMITS[t.variant].cic;
  const bearerAt = new Map<string, string>();
  const ranges = cicRanges(t, board);
  t.cics.forEach((c, i) => {
    const cp = `${path}.cics[${i}]`;
    checkSpan(board, c.span, `${cp}.span`, out);
    const size = spanSize(board, c.span);
    const list = cicTimeslots(t, i, board);
    const outside = list.find((ts) => ts < 1 || ts > size);
    if (outside !== undefined)
      out.push({
        path: `${cp}.timeslots`,
        message: `timeslot ${outside} does not exist on a ${size}-channel span`,
      });
    const dup = list.find((ts, k) => list.indexOf(ts) !== k);
    if (dup !== undefined)
      out.push({ path: `${cp}.timeslots`, message: `timeslot ${dup} is listed twice` });
    for (const ts of list) {
      const key = `${c.span}/${ts}`;
      const link = linkAt.get(key);
      if (link !== undefined)
        out.push({
          path: `${path}.links[${link}].timeslot`,
          message: `span ${c.span} timeslot ${ts} is also a bearer circuit (cics[${i}].timeslots); a signalling link needs a timeslot of its own`,
        });
      const other = bearerAt.get(key);
      if (other !== undefined && other !== cp)
        out.push({
          path: `${cp}.timeslots`,
          message: `span ${c.span} timeslot ${ts} is already a circuit of ${other}`,
        });
      bearerAt.set(key, cp);
    }
    const [first, last] = ranges[i] as [number, number];
    if (last > maxCic)
      out.push({
        path: `${cp}.firstCic`,
        message: `CICs ${first}..${last} go past ${maxCic}, the highest ${t.variant.toUpperCase()} CIC`,
      });
    ranges.slice(0, i).forEach(([a, b], j) => {
      if (first <= b && a <= last)
        out.push({
          path: `${cp}.firstCic`,
          message: `CICs ${first}..${last} overlap cics[${j}] (CICs ${a}..${b})`,
        });
    });
  });
  return out;
}

/** The same CIC towards the same adjacent point code in two linksets would be two circuits. */
function checkAllSs7(trunks: { trunk: EngineTrunk; path: string }[]): FieldError[] {
  const out: FieldError[] = [];
  const seen: { adj: string; first: number; last: number; where: string }[] = [];
  for (const { trunk, path } of trunks) {
    const t = trunk as unknown as Ss7Config;
    if (t.variant === 'china') continue;
    const adj = pointCodeValue(t.adjacentPointcode, t.variant);
    if ('error' in adj) continue;
    const key = `${t.variant}:${adj.value}`;
    cicRanges(t).forEach(([first, last], i) => {
      const where = `${path}.cics[${i}]`;
      for (const s of seen) {
        if (s.adj === key && !s.where.startsWith(`${path}.`) && first <= s.last && s.first <= last)
          out.push({
            path: `${where}.firstCic`,
            message: `CICs ${first}..${last} towards point code ${String(t.adjacentPointcode)} overlap ${s.where} (CICs ${s.first}..${s.last})`,
          });
      }
      seen.push({ adj: key, first, last, where });
    });
  }
  return out;
}

export const ss7Trunk: TrunkKind = {
  signalling: ['ss7'],
  schema: Ss7Trunk,
  check: checkSs7,
  checkAll: checkAllSs7,
  spansOf: (t) => {
    const c = t as unknown as Ss7Config;
    return [...new Set([...c.links.map((l) => l.span), ...c.cics.map((x) => x.span)])];
  },
};
