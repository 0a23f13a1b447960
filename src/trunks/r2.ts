// SPDX-License-Identifier: GPL-2.0-or-later
// MFC-R2 trunks (openr2): one E1 span in CAS framing, its variant, register options, timers and rules.

import { Type } from '@sinclair/typebox';
import type { FieldError } from '../core/schema.ts';
import type { EngineTrunk } from '../native/engine.ts';
import { timeslotList } from './pri.ts';
import { type TimerTable, timerErrors, timersSchema } from './timers.ts';
import type { TrunkKind } from './validate.ts';

/**
 * The MFC-R2 variants openr2 1.3.3 knows (`openr2_proto_get_variant_list`, `r2test -l`), by its
 * codes in lower case.
 */
export const R2_VARIANTS = {
  ar: 'Argentina',
  br: 'Brazil',
  cn: 'China (China No.1 signalling)',
  cz: 'Czech Republic',
  co: 'Colombia',
  ec: 'Ecuador',
  id: 'Indonesia',
  itu: 'ITU-T Q.400-Q.490 (international R2)',
  mx: 'Mexico',
  ph: 'Philippines',
  ve: 'Venezuela',
} as const;
export type R2Variant = keyof typeof R2_VARIANTS;
export const R2_VARIANT_CODES = Object.keys(R2_VARIANTS) as R2Variant[];

/**
 * Variants whose Group A has no "address complete, charge, set up speech" signal in openr2
 * 1.3.3: `immediateAccept` would send nothing there (r2proto.c sets the tone invalid).
 */
export const R2_NO_GROUP_A_ACCEPT: readonly R2Variant[] = ['br', 'cn', 'mx'];

/**
 * A named gap of openr2 1.3.3 (and of its later sources): as the calling (forward) side of the
 * China variant it cannot send the calling number. China uses A-1 both for "send the next
 * called-number digit" and for "send the next calling-number digit"; openr2's forward side
 * (r2proto.c, handle_group_a_request) tests for the DNIS request before the ANI request, so every
 * A-1 after the category is answered with a DNIS digit (with getAniFirst the callee collects
 * DNIS digits as ANI), or, with the DNIS sent already, with silence until the callee's MF cycle
 * times out (protocol error, call lost). Calls from an openr2 end (ours or r2test) to a China
 * trunk therefore complete only when the called end asks for no ANI: `maxAni: 0` (it still
 * collects the category) or `skipCategory: true` on the called side. Calls from a real China
 * No.1 exchange to us are not affected: the gap is on the calling side only.
 */
export const R2_CHINA_ANI_GAP =
  'openr2 1.3.3 cannot send the calling number (ANI) in the China variant: A-1 means both ' +
  '"next DNIS digit" and "next ANI digit" there and its calling side always sends DNIS';

/** Calling party categories (Group II signals) as openr2 names them. */
export const R2_CATEGORIES = [
  'national_subscriber',
  'national_priority_subscriber',
  'international_subscriber',
  'international_priority_subscriber',
  'collect_call',
  'test_equipment',
] as const;
export type R2Category = (typeof R2_CATEGORIES)[number];

/**
 * openr2's protocol timers, named as in its advanced protocol file (r2proto.conf,
 * `timers.<name>`), with the defaults openr2 1.3.3 sets for every variant unless noted.
 */
export const R2_TIMERS: TimerTable = {
  mf_back_cycle: {
    default: 5000,
    min: 500,
    max: 30000,
    unit: 'ms',
    meaning:
      'called side: wait for the next forward MF signal of the compelled cycle; in variants without an end-of-number signal its expiry ends the DNIS',
  },
  mf_back_resume_cycle: {
    default: 150,
    min: 50,
    max: 1000,
    unit: 'ms',
    meaning:
      'called side: length of the pulse signal that resumes the MF cycle after the DNIS ran out',
  },
  mf_fwd_safety: {
    default: 30000,
    min: 1000,
    max: 120000,
    unit: 'ms',
    meaning: 'calling side: longest wait for the called side when it has no more digits to send',
  },
  r2_seize: {
    default: 8000,
    min: 1000,
    max: 30000,
    unit: 'ms',
    meaning: 'calling side: wait for the seizing acknowledgement after seizing the line',
  },
  r2_answer: {
    default: 60000,
    min: 1000,
    max: 600000,
    unit: 'ms',
    meaning:
      'calling side: wait for answer after the call was accepted (then cleared as no answer)',
  },
  r2_metering_pulse: {
    default: 0,
    min: 0,
    max: 1000,
    unit: 'ms',
    meaning:
      'a clear-back shorter than this is a metering pulse, not a clear-back (0: none; ar defaults to 400)',
  },
  r2_double_answer: {
    default: 400,
    min: 100,
    max: 2000,
    unit: 'ms',
    meaning: 'called side, doubleAnswer: answer, clear-back and answer again, each this long',
  },
  r2_answer_delay: {
    default: 150,
    min: 0,
    max: 1000,
    unit: 'ms',
    meaning: 'called side: pause after the MF exchange ends before the call may be answered',
  },
  cas_persistence_check: {
    default: 0,
    min: 0,
    max: 1000,
    unit: 'ms',
    meaning: 'ABCD bits must hold this long before they count (0: at once)',
  },
  mf_threshold: {
    default: 0,
    min: 0,
    max: 100,
    unit: 'ms',
    meaning: 'an MF signal must be on (or off) this long before it counts (0: at once)',
  },
};

/** chan_dahdi's names for two of the timers (mfcr2_mfback_timeout, mfcr2_metering_pulse_timeout). */
const TIMER_ALIASES = {
  mfBackTimeout: 'mf_back_cycle',
  meteringPulseTimeout: 'r2_metering_pulse',
} as const;

/** openr2 log levels, as chan_dahdi's mfcr2_logging spells them. */
export const R2_LOG_LEVELS = ['error', 'warning', 'notice', 'debug', 'mf', 'cas'] as const;

/** openr2 keeps ANI and DNIS in 80-byte strings. */
export const R2_MAX_DIGITS = 79;

export const R2Trunk = Type.Object(
  {
    name: Type.String(),
    signalling: Type.Literal('mfcr2', {
      description:
        'MFC-R2: ABCD line signals in timeslot 16, compelled MF register signals in-band',
    }),
    span: Type.Integer({
      minimum: 1,
      maximum: 127,
      description: 'the E1 span (system.conf: cas framing, cas=TS:1101 for each channel)',
    }),
    channels: Type.Optional(
      Type.Union(
        [
          Type.String({
            pattern: '^\\d+(-\\d+)?(,\\d+(-\\d+)?)*$',
            mustBe: 'a list like "1-15,17-31"',
          }),
          Type.Array(Type.Integer({ minimum: 1, maximum: 31 }), { minItems: 1 }),
        ],
        {
          description:
            'timeslots carrying calls; default "1-15,17-31" (every timeslot but 16, which carries the ABCD bits)',
        },
      ),
    ),
    variant: Type.Union(
      R2_VARIANT_CODES.map((v) =>
        Type.Literal(v, {
          description: v === 'cn' ? `${R2_VARIANTS[v]}; ${R2_CHINA_ANI_GAP}` : R2_VARIANTS[v],
        }),
      ),
      { description: 'the national MFC-R2 variant the far end speaks' },
    ),
    maxAni: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: R2_MAX_DIGITS,
        description:
          'called side: calling-number (ANI) digits to ask for, 0..79, default 10; 0 asks for the category only',
      }),
    ),
    maxDnis: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: R2_MAX_DIGITS,
        description:
          'called side: called-number (DNIS) digits to ask for before moving on, 1..79, default 4',
      }),
    ),
    getAniFirst: Type.Optional(
      Type.Boolean({
        description:
          'called side: ask for the calling number after the first DNIS digit, not after the whole DNIS (default false)',
      }),
    ),
    category: Type.Optional(
      Type.Union(
        R2_CATEGORIES.map((c) => Type.Literal(c)),
        {
          description:
            'calling party category sent on our calls when `place` gives none (default national_subscriber; collect_call only in br)',
        },
      ),
    ),
    skipCategory: Type.Optional(
      Type.Boolean({
        description:
          'called side: ask for neither category nor ANI in Group A, go to Group B at once (default false)',
      }),
    ),
    doubleAnswer: Type.Optional(
      Type.Boolean({
        description:
          'called side: answer, clear back and answer again (each timers.r2_double_answer long), which some exchanges take as refusing a collect call (default false)',
      }),
    ),
    immediateAccept: Type.Optional(
      Type.Boolean({
        description:
          'called side: accept with the Group A "address complete, charge" signal as soon as the number is in, skipping Group B/II; the call is offered already accepted (default false; not in br, cn, mx)',
      }),
    ),
    allowCollectCalls: Type.Optional(
      Type.Boolean({
        description:
          'called side: offer calls whose category is collect_call; when false they are refused without being offered (default false; only br signals the category)',
      }),
    ),
    chargeCalls: Type.Optional(
      Type.Boolean({
        description:
          'called side: accept with the "charge" Group B signal, not "no charge" (default true)',
      }),
    ),
    forcedRelease: Type.Optional(
      Type.Boolean({
        description:
          'called side: clear answered calls with the forced-release line signal instead of clear-back (default false)',
      }),
    ),
    hunting: Type.Optional(
      Type.Union([Type.Literal('ascending'), Type.Literal('descending')], {
        description:
          'order in which `place` picks a free timeslot; set the two ends of a trunk opposite to avoid glare (default ascending)',
      }),
    ),
    mfBackTimeout: Type.Optional(
      Type.Integer({
        description: 'chan_dahdi name of timers.mf_back_cycle (ms); give one or the other',
      }),
    ),
    meteringPulseTimeout: Type.Optional(
      Type.Integer({
        description: 'chan_dahdi name of timers.r2_metering_pulse (ms); give one or the other',
      }),
    ),
    timers: timersSchema(R2_TIMERS, 'openr2'),
    logging: Type.Optional(
      Type.Array(Type.Union(R2_LOG_LEVELS.map((l) => Type.Literal(l))), {
        description:
          'openr2 messages logged as `log` events (default ["error", "warning"]); mf and cas trace every signal',
      }),
    ),
  },
  { additionalProperties: false },
);

interface R2Fields {
  span: number;
  channels?: string | number[];
  variant: R2Variant;
  category?: R2Category;
  immediateAccept?: boolean;
  mfBackTimeout?: number;
  meteringPulseTimeout?: number;
  timers?: Record<string, number>;
}

function checkR2(
  t: EngineTrunk,
  path: string,
  board: Parameters<TrunkKind['check']>[2],
): FieldError[] {
  const trunk = t as unknown as R2Fields;
  const out: FieldError[] = [...timerErrors(R2_TIMERS, trunk.timers, path)];
  for (const [alias, timer] of Object.entries(TIMER_ALIASES)) {
    const value = trunk[alias as keyof typeof TIMER_ALIASES];
    if (value === undefined) continue;
    const spec = R2_TIMERS[timer];
    if (spec && (value < spec.min || value > spec.max))
      out.push({
        path: `${path}.${alias}`,
        message: `${value} ms is outside ${spec.min}..${spec.max} ms (${spec.meaning})`,
      });
    const set = trunk.timers?.[timer];
    if (set !== undefined && set !== value)
      out.push({
        path: `${path}.${alias}`,
        message: `${value} contradicts timers.${timer} (${set}); give one of them`,
      });
  }
  const span = board?.get(trunk.span);
  if (board && !span)
    out.push({ path: `${path}.span`, message: `span ${trunk.span} does not exist on this board` });
  if (span && span.type !== 'E1')
    out.push({
      path: `${path}.span`,
      message: `span ${trunk.span} is ${span.type === 'analog' ? 'an analog card' : 'a T1 span'}; MFC-R2 runs on E1 spans`,
    });
  if (trunk.channels !== undefined) {
    const list = timeslotList(trunk.channels);
    if (list.includes(16))
      out.push({
        path: `${path}.channels`,
        message:
          'timeslot 16 carries the E1 CAS multiframe (the ABCD bits of every channel), not a call',
      });
    const outside = list.find((ts) => ts < 1 || ts > 31);
    if (outside !== undefined)
      out.push({
        path: `${path}.channels`,
        message: `timeslot ${outside} does not exist on an E1 span (1..31)`,
      });
    const twice = list.find((ts, i) => list.indexOf(ts) !== i);
    if (twice !== undefined)
      out.push({ path: `${path}.channels`, message: `timeslot ${twice} is listed twice` });
    if (list.length === 0)
      out.push({ path: `${path}.channels`, message: 'must name at least one timeslot' });
  }
  if (trunk.immediateAccept && R2_NO_GROUP_A_ACCEPT.includes(trunk.variant))
    out.push({
      path: `${path}.immediateAccept`,
      message: `the ${trunk.variant} variant has no Group A accept signal (address complete, charge) in openr2; accept through Group B instead`,
    });
  if (trunk.category === 'collect_call' && trunk.variant !== 'br')
    out.push({
      path: `${path}.category`,
      message: 'only the br variant has a collect-call category signal',
    });
  return out;
}

export const r2Trunk: TrunkKind = {
  signalling: ['mfcr2'],
  schema: R2Trunk,
  check: checkR2,
  spansOf: (t) => [(t as unknown as { span: number }).span],
};
