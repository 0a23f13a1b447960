// SPDX-License-Identifier: GPL-2.0-or-later
// The simulated carrier's scenario file: its trunks, the calls it places, how it answers the switch's calls.

import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { isSwitchboardError, SwitchboardError } from '../core/errors.ts';
import { type FieldError, schemaErrors } from '../core/schema.ts';
import type { EngineConfig, EngineTrunk } from '../native/engine.ts';
import { compilePattern, type Pattern } from '../routing/pattern.ts';
import { parseConfigText, readConfigText } from '../runtime/config-file.ts';
import { R2_CATEGORIES, R2_CHINA_ANI_GAP } from '../trunks/r2.ts';
import { validateTrunks } from '../trunks/validate.ts';
import { numberSourceError } from './draw.ts';

/** Longest duration any scenario option takes, in seconds (one day). */
export const MAX_SECONDS = 86_400;
/**
 * How long an answered callee waits before its greeting starts, ms: people and machines pick up,
 * then speak. It also lets the switch start its answering-machine detection on the answer it
 * sees before the first word, as on a real line.
 */
export const GREETING_AFTER_MS = 500;
/** The answering machine's beep after its greeting: frequency, Hz. */
export const BEEP_HZ = 1000;
/** The beep's length, ms. */
export const BEEP_MS = 600;

/** What the carrier does with a call the switch places towards it. */
export const OUTCOMES = ['answer', 'busy', 'no_answer', 'invalid_number', 'congestion'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Who picks up an answered call: a person, or an answering machine. */
export const ANSWERERS = ['human', 'machine'] as const;
export type AnsweredBy = (typeof ANSWERERS)[number];

/**
 * The shares of `outbound.mix`, in the order the mix draws: `answer` is a person answering,
 * `machine` an answering machine (the outcome is answer for both), then the refusals.
 */
export const MIX_SHARES = [
  'answer',
  'machine',
  'busy',
  'no_answer',
  'invalid_number',
  'congestion',
] as const;
export type MixShare = (typeof MIX_SHARES)[number];

/** What a person says on answering, unless `outbound.greetings.human` or a number's `greeting` says otherwise. */
export const DEFAULT_HUMAN_GREETING = 'Hello?';
/** What an answering machine says before its beep, unless overridden. */
export const DEFAULT_MACHINE_GREETING =
  'Hello, you have reached the voicemail of Li Wei. I cannot take your call right now. Please leave your name and number after the tone, and I will call you back.';

/** The refusals, and the Q.850 cause each is released with unless `outbound.causes` says otherwise. */
export const DEFAULT_CAUSES = {
  /** Cause.USER_BUSY (17). */
  busy: 17,
  /** Cause.NO_ANSWER (19): no answer from user (user alerted), after `noAnswerSeconds`. */
  no_answer: 19,
  /** Cause.UNALLOCATED_NUMBER (1). */
  invalid_number: 1,
  /** Cause.NETWORK_CONGESTION (34). */
  congestion: 34,
} as const;

function seconds(description: string) {
  return Type.Number({
    minimum: 0,
    maximum: MAX_SECONDS,
    description,
    mustBe: `a number of seconds from 0 to ${MAX_SECONDS}`,
  });
}

/** A duration drawn evenly between min and max (equal for a fixed one). */
function secondsRange(description: string) {
  return Type.Object(
    {
      min: seconds('shortest, in seconds (0..86400)'),
      max: seconds('longest, in seconds (0..86400, at least min)'),
    },
    { additionalProperties: false, description },
  );
}

function numberSource(description: string) {
  return Type.Object(
    {
      numbers: Type.Array(
        Type.String({
          minLength: 1,
          maxLength: 40,
          description:
            'a number ("01062881234") or a dialplan pattern whose X, Z, N and [1-5] are filled with seeded digits ("_0106288XXXX")',
        }),
        { minItems: 1, maxItems: 10_000 },
      ),
      order: Type.Optional(
        Type.Union([Type.Literal('sequence'), Type.Literal('random')], {
          description:
            'sequence: the n-th call of a flow takes entry n (wrapping round); random: a seeded pick per call. Default sequence',
        }),
      ),
    },
    { additionalProperties: false, description },
  );
}

const DigitStepSchema = Type.Object(
  {
    afterSeconds: Type.Optional(
      seconds(
        'pause before pressing, seconds: after the answer for the first step, after the previous step was sent for the others; default 1',
      ),
    ),
    press: Type.String({
      pattern: '^[0-9*#A-D]{1,64}$',
      description: 'the DTMF digits pressed (0-9, *, #, A-D), 1 to 64',
      mustBe: 'DTMF digits (0-9, *, #, A-D), 1 to 64 of them',
    }),
    onMs: Type.Optional(
      Type.Integer({
        minimum: 40,
        maximum: 1000,
        description: 'tone length of each digit, ms, 40..1000, default 100',
      }),
    ),
    offMs: Type.Optional(
      Type.Integer({
        minimum: 40,
        maximum: 1000,
        description: 'pause after each digit, ms, 40..1000, default 100',
      }),
    ),
  },
  { additionalProperties: false },
);

const DigitsSchema = Type.Array(DigitStepSchema, {
  maxItems: 100,
  description:
    'digits pressed after the answer, as real DTMF in the call audio: steps in order, each after its pause. Outbound: a person presses them (never while saying its greeting: a step due then waits for its end); an answering machine presses none',
});

const TrunkNames = Type.Array(
  Type.String({ minLength: 1, description: 'the name of one of the carrier trunks' }),
  {
    minItems: 1,
    description:
      'the carrier trunks the calls are placed on, in turn (call n on trunks[n % length]); default every carrier trunk',
  },
);

/** The options of an inbound flow; at `inbound` level they are the defaults of every flow. */
const flowOptions = {
  rate: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      maximum: 6000,
      description:
        'calls per minute this flow places (above 0, at most 6000); the mean rate with poisson arrivals',
      mustBe: 'a rate in calls per minute, above 0 and at most 6000',
    }),
  ),
  arrival: Type.Optional(
    Type.Union([Type.Literal('poisson'), Type.Literal('uniform')], {
      description:
        'poisson: seeded exponential gaps between calls, as real traffic; uniform: exactly 60/rate seconds apart. Default poisson',
    }),
  ),
  called: Type.Optional(
    numberSource(
      "the numbers the callers dial, the switch's DIDs (required, in the flow or in inbound)",
    ),
  ),
  calling: Type.Optional(
    numberSource("the callers' own numbers; default none (the calls carry no calling number)"),
  ),
  category: Type.Optional(
    Type.Union(
      R2_CATEGORIES.map((c) => Type.Literal(c)),
      {
        description:
          'MFC-R2 calling party category sent with each call; default the trunk category (national_subscriber)',
      },
    ),
  ),
  holdSeconds: Type.Optional(
    secondsRange(
      'how long the caller stays after the answer before hanging up (NORMAL_CLEARING, 16), but never before its digits are pressed; default {min: 5, max: 30}',
    ),
  ),
  digits: Type.Optional(DigitsSchema),
  abandon: Type.Optional(
    Type.Object(
      {
        afterSeconds: secondsRange(
          'patience: a caller whose call is not answered within it hangs up (16)',
        ),
        probability: Type.Optional(
          Type.Number({
            minimum: 0,
            maximum: 1,
            description: 'share of callers who abandon at all, 0..1, default 1',
            mustBe: 'a probability from 0 to 1',
          }),
        ),
      },
      {
        additionalProperties: false,
        description: 'callers who give up before the answer; default none: they wait',
      },
    ),
  ),
};

const Total = Type.Integer({
  minimum: 1,
  maximum: 10_000_000,
  description: 'stop after this many calls (1..10000000); default unlimited',
});
const Concurrent = Type.Integer({
  minimum: 1,
  maximum: 10_000,
  description:
    'at most this many of these calls at once (1..10000); default no cap but the free channels',
});

const FlowSchema = Type.Object(
  {
    trunks: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description:
          'the carrier trunks this flow places calls on, in turn (call n on trunks[n % length]); default every carrier trunk',
      }),
    ),
    total: Type.Optional(Total),
    concurrent: Type.Optional(Concurrent),
    ...flowOptions,
  },
  { additionalProperties: false },
);

const InboundSchema = Type.Object(
  {
    trunks: Type.Optional(TrunkNames),
    total: Type.Optional(Total),
    concurrent: Type.Optional(Concurrent),
    flows: Type.Optional(
      Type.Array(FlowSchema, {
        minItems: 1,
        maxItems: 100,
        description:
          'flows with rates of their own (per trunk, per number range); without it `inbound` is one flow. inbound.total and inbound.concurrent then cap all flows together',
      }),
    ),
    ...flowOptions,
  },
  {
    additionalProperties: false,
    description: 'calls the carrier places towards the switch; default none',
  },
);

const Cause = Type.Integer({
  minimum: 1,
  maximum: 127,
  description: 'a Q.850 cause value, 1..127',
});

const HoldOrNever = Type.Union([secondsRange('hold time'), Type.Null()], {
  description:
    'how long the callee stays after answering before it hangs up (16), but never before its digits are pressed; or null: never, it waits for the switch',
  mustBe: '{min, max} in seconds, or null (never hang up)',
});

const calleeOptions = {
  ringSeconds: Type.Optional(
    secondsRange(
      'answer: how long the phone rings (ALERTING) before it is answered; default {min: 2, max: 2}',
    ),
  ),
  holdSeconds: Type.Optional(HoldOrNever),
  digits: Type.Optional(DigitsSchema),
  noAnswerSeconds: Type.Optional(
    Type.Union([seconds('seconds'), Type.Null()], {
      description:
        'no_answer: release with causes.no_answer after ringing this long, seconds; null (default): ring until the switch gives up. Not on MFC-R2, which has no backward clear before the answer: there it always rings until the switch gives up',
      mustBe: `a number of seconds from 0 to ${MAX_SECONDS}, or null (ring until the switch gives up)`,
    }),
  ),
};

const OutcomeSchema = Type.Union(
  OUTCOMES.map((o) => Type.Literal(o)),
  {
    description:
      'answer; busy (USER_BUSY 17); no_answer (rings); invalid_number (UNALLOCATED_NUMBER 1); congestion (NETWORK_CONGESTION 34)',
  },
);

const GreetingText = (description: string) =>
  Type.Union(
    [
      Type.String({
        minLength: 1,
        maxLength: 2000,
        pattern: '\\S',
        description: 'text spoken with espeak-ng, 1 to 2000 characters',
        mustBe: 'a text to speak (1 to 2000 characters, not only spaces), or null for silence',
      }),
      Type.Null(),
    ],
    {
      description,
      mustBe: 'a text to speak (1 to 2000 characters, not only spaces), or null for silence',
    },
  );

const MIX_MEANING: Record<MixShare, string> = {
  answer: 'a person answers',
  machine: 'an answering machine answers',
  busy: 'busy',
  no_answer: 'no answer',
  invalid_number: 'invalid number',
  congestion: 'congestion',
};

const OutboundSchema = Type.Object(
  {
    mix: Type.Optional(
      Type.Object(
        Object.fromEntries(
          MIX_SHARES.map((o) => [
            o,
            Type.Optional(
              Type.Number({
                minimum: 0,
                maximum: 1_000_000,
                description: `relative weight of ${o} (${MIX_MEANING[o]}), 0..1000000, default 0`,
                mustBe: 'a weight from 0 to 1000000',
              }),
            ),
          ]),
        ),
        {
          additionalProperties: false,
          description:
            'the outcome of each call not matched by `numbers` (or matched by a rule without outcome), drawn by weight with the seed: answer (a person) and machine (an answering machine) are both answered calls; default {answer: 1}',
        },
      ),
    ),
    greetings: Type.Optional(
      Type.Object(
        {
          human: Type.Optional(
            GreetingText(
              `what a person says about ${GREETING_AFTER_MS} ms after answering, then stays silent; null: says nothing. Default "${DEFAULT_HUMAN_GREETING}"`,
            ),
          ),
          machine: Type.Optional(
            GreetingText(
              `what an answering machine says about ${GREETING_AFTER_MS} ms after answering, before its beep (${BEEP_HZ} Hz, ${BEEP_MS} ms) and silence; null: the beep alone. Default a voicemail message of about 10 s`,
            ),
          ),
          voice: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 64,
              pattern: '^[A-Za-z0-9-]+$',
              description:
                'espeak-ng voice of the greetings (`espeak-ng --voices`: en, en-us, cmn ...); default en',
              mustBe: 'an espeak-ng voice name such as en, en-us or cmn',
            }),
          ),
        },
        {
          additionalProperties: false,
          description:
            'what answered callees say, rendered with espeak-ng when the carrier starts; default a short "Hello?" from a person and a voicemail message and beep from a machine',
        },
      ),
    ),
    numbers: Type.Optional(
      Type.Array(
        Type.Object(
          {
            number: Type.String({
              minLength: 1,
              maxLength: 64,
              description:
                'the called number, or a dialplan pattern ("_1380013800X", "_0755.") it matches',
            }),
            outcome: Type.Optional(OutcomeSchema),
            answeredBy: Type.Optional(
              Type.Union(
                ANSWERERS.map((a) => Type.Literal(a)),
                {
                  description:
                    'who answers: human (a person: a short greeting, then silence and its digits) or machine (an answering machine: a long greeting, a beep, silence; no digits). Implies outcome answer. Default: drawn from mix when the rule has no outcome, else human',
                },
              ),
            ),
            greeting: Type.Optional(
              GreetingText(
                'what whoever answers this number says instead of outbound.greetings (a machine still beeps after it); null: nothing',
              ),
            ),
            cause: Type.Optional(
              Type.Integer({
                minimum: 1,
                maximum: 127,
                description:
                  'the Q.850 cause (1..127) this number is refused with; default causes[outcome]. Not for answer',
              }),
            ),
            ...calleeOptions,
          },
          { additionalProperties: false },
        ),
        {
          maxItems: 10_000,
          description:
            'per-number overrides, first match wins: the outcome (default drawn from mix), who answers, the greeting, and any callee option',
        },
      ),
    ),
    causes: Type.Optional(
      Type.Object(
        {
          busy: Type.Optional(Cause),
          no_answer: Type.Optional(Cause),
          invalid_number: Type.Optional(Cause),
          congestion: Type.Optional(Cause),
        },
        {
          additionalProperties: false,
          description:
            'release cause of each refusal; default busy 17, no_answer 19, invalid_number 1, congestion 34',
        },
      ),
    ),
    ...calleeOptions,
  },
  {
    additionalProperties: false,
    description: 'how the carrier treats calls from the switch; default: answer them all',
  },
);

/**
 * A scenario file, e.g.
 *
 *   seed: 7
 *   trunks: [{ name: pri, signalling: pri_net, span: 2, switchtype: euroisdn }]
 *   inbound: { rate: 6, total: 20, called: { numbers: [_01062881XXX] }, holdSeconds: { min: 10, max: 60 } }
 *   outbound:
 *     mix: { answer: 8, busy: 1, congestion: 1 }
 *     numbers: [{ number: '13800000017', outcome: busy }]
 *
 * board/carrier/demo.yaml is the full example; every option below carries its unit, default and
 * range.
 */
export const ScenarioSchema = Type.Object(
  {
    seed: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 4_294_967_295,
        description:
          'seed of every draw (numbers, outcomes, durations), 0..4294967295; the same seed gives the same run. Default 1',
      }),
    ),
    trunks: Type.Array(Type.Unknown(), {
      minItems: 1,
      description:
        "the carrier's own trunks, the same shapes as the switch's (src/trunks): the far ends of the cables",
    }),
    inbound: Type.Optional(InboundSchema),
    outbound: Type.Optional(OutboundSchema),
  },
  { additionalProperties: false },
);
export type ScenarioInput = Static<typeof ScenarioSchema>;

export interface SecondsRange {
  min: number;
  max: number;
}

export interface NumberSource {
  numbers: string[];
  order: 'sequence' | 'random';
}

export interface DigitStep {
  afterSeconds: number;
  press: string;
  onMs: number;
  offMs: number;
}

/** One inbound flow with every default filled in. */
export interface InboundFlow {
  /** Its place in `inbound.flows` (0 when `inbound` is the flow): names its draws. */
  index: number;
  /** Where it is in the file, for log lines (`inbound.flows[1]`). */
  path: string;
  trunks: string[];
  rate: number;
  arrival: 'poisson' | 'uniform';
  total?: number;
  concurrent?: number;
  called: NumberSource;
  calling?: NumberSource;
  category?: string;
  holdSeconds: SecondsRange;
  digits: DigitStep[];
  abandon?: { afterSeconds: SecondsRange; probability: number };
}

export interface Inbound {
  /** All flows together. */
  total?: number;
  concurrent?: number;
  flows: InboundFlow[];
}

export interface CalleeOptions {
  ringSeconds: SecondsRange;
  holdSeconds: SecondsRange | null;
  digits: DigitStep[];
  noAnswerSeconds: number | null;
}

export interface NumberRule extends Partial<CalleeOptions> {
  number: string;
  pattern: Pattern;
  outcome?: Outcome;
  /** Set: the number is answered by it (outcome answer). */
  answeredBy?: AnsweredBy;
  /** Overrides outbound.greetings for whoever answers; null: silence. */
  greeting?: string | null;
  cause?: number;
}

export interface Greetings {
  /** What a person says; null: nothing. */
  human: string | null;
  /** What a machine says before its beep; null: the beep alone. */
  machine: string | null;
  voice: string;
}

export interface Outbound extends CalleeOptions {
  /** Weights in MIX_SHARES order. */
  mix: [MixShare, number][];
  numbers: NumberRule[];
  causes: Record<Exclude<Outcome, 'answer'>, number>;
  greetings: Greetings;
}

/** A validated scenario with every default filled in. */
export interface Scenario {
  seed: number;
  /** The engine configuration of the carrier's trunks (validated by validateTrunks). */
  engine: EngineConfig;
  inbound?: Inbound;
  outbound: Outbound;
}

type RawFlow = Static<typeof FlowSchema>;
type RawInbound = Static<typeof InboundSchema>;
type RawOutbound = Static<typeof OutboundSchema>;
type RawDigit = Static<typeof DigitStepSchema>;
type RawCallee = {
  ringSeconds?: SecondsRange;
  holdSeconds?: SecondsRange | null;
  digits?: RawDigit[];
  noAnswerSeconds?: number | null;
};

function rangeErrors(range: SecondsRange | null | undefined, path: string): FieldError[] {
  return range && range.max < range.min
    ? [{ path: `${path}.max`, message: `${range.max} is below min (${range.min})` }]
    : [];
}

function sourceErrors(source: NumberSource | { numbers: string[] } | undefined, path: string) {
  const out: FieldError[] = [];
  source?.numbers.forEach((n, i) => {
    const why = numberSourceError(n);
    if (why) out.push({ path: `${path}.numbers[${i}]`, message: why });
  });
  return out;
}

function digitSteps(steps: RawDigit[] | undefined): DigitStep[] {
  return (steps ?? []).map((s) => ({
    afterSeconds: s.afterSeconds ?? 1,
    press: s.press,
    onMs: s.onMs ?? 100,
    offMs: s.offMs ?? 100,
  }));
}

function calleeErrors(c: RawCallee, path: string): FieldError[] {
  return [
    ...rangeErrors(c.ringSeconds, `${path}.ringSeconds`),
    ...rangeErrors(c.holdSeconds, `${path}.holdSeconds`),
  ];
}

function resolveFlows(
  inbound: RawInbound,
  trunkNames: string[],
  errors: FieldError[],
): Inbound | undefined {
  const { flows: rawFlows, total, concurrent, trunks, ...defaults } = inbound;
  const single = rawFlows === undefined;
  const list: { raw: RawFlow; path: string }[] = single
    ? [{ raw: { ...defaults, ...(trunks ? { trunks } : {}), total, concurrent }, path: 'inbound' }]
    : rawFlows.map((raw, i) => ({ raw, path: `inbound.flows[${i}]` }));
  if (!single && trunks !== undefined)
    errors.push({
      path: 'inbound.trunks',
      message: 'give the trunks of each flow in inbound.flows[i].trunks',
    });
  const flows: InboundFlow[] = [];
  list.forEach(({ raw, path }, index) => {
    const f = { ...defaults, ...raw };
    const where = single ? '' : ' (in the flow or in inbound)';
    const before = errors.length;
    if (f.rate === undefined) errors.push({ path: `${path}.rate`, message: `is required${where}` });
    if (f.called === undefined)
      errors.push({ path: `${path}.called`, message: `is required${where}` });
    const ownPath = (field: string) =>
      !single && raw[field as keyof RawFlow] === undefined
        ? `inbound.${field}`
        : `${path}.${field}`;
    errors.push(
      ...sourceErrors(f.called, ownPath('called')),
      ...sourceErrors(f.calling, ownPath('calling')),
      ...rangeErrors(f.holdSeconds, ownPath('holdSeconds')),
      ...rangeErrors(f.abandon?.afterSeconds, `${ownPath('abandon')}.afterSeconds`),
    );
    (f.trunks ?? []).forEach((name, i) => {
      if (!trunkNames.includes(name))
        errors.push({
          path: `${path}.trunks[${i}]`,
          message: `"${name}" is not a carrier trunk (trunks: ${trunkNames.join(', ')})`,
        });
    });
    if (errors.length > before || f.rate === undefined || f.called === undefined) return;
    flows.push({
      index,
      path,
      trunks: f.trunks ?? trunkNames,
      rate: f.rate,
      arrival: f.arrival ?? 'poisson',
      ...(raw.total === undefined ? {} : { total: raw.total }),
      ...(raw.concurrent === undefined ? {} : { concurrent: raw.concurrent }),
      called: { numbers: f.called.numbers, order: f.called.order ?? 'sequence' },
      ...(f.calling
        ? { calling: { numbers: f.calling.numbers, order: f.calling.order ?? 'sequence' } }
        : {}),
      ...(f.category === undefined ? {} : { category: f.category }),
      holdSeconds: f.holdSeconds ?? { min: 5, max: 30 },
      digits: digitSteps(f.digits),
      ...(f.abandon
        ? {
            abandon: {
              afterSeconds: f.abandon.afterSeconds,
              probability: f.abandon.probability ?? 1,
            },
          }
        : {}),
    });
  });
  return {
    ...(single || total === undefined ? {} : { total }),
    ...(single || concurrent === undefined ? {} : { concurrent }),
    flows,
  };
}

function resolveOutbound(raw: RawOutbound, errors: FieldError[]): Outbound {
  errors.push(...calleeErrors(raw, 'outbound'));
  const weights = raw.mix ?? { answer: 1 };
  const mix = MIX_SHARES.map((o): [MixShare, number] => [o, weights[o] ?? 0]);
  if (mix.every(([, w]) => w === 0))
    errors.push({
      path: 'outbound.mix',
      message: 'needs at least one outcome with a weight above 0',
    });
  const numbers: NumberRule[] = [];
  (raw.numbers ?? []).forEach((rule, i) => {
    const path = `outbound.numbers[${i}]`;
    errors.push(...calleeErrors(rule, path));
    let pattern: Pattern;
    try {
      pattern = compilePattern(rule.number);
    } catch (err) {
      errors.push({ path: `${path}.number`, message: (err as Error).message });
      return;
    }
    if (rule.cause !== undefined && (rule.outcome === undefined || rule.outcome === 'answer'))
      errors.push({
        path: `${path}.cause`,
        message: 'is the release cause of a refusal: give an outcome other than answer',
      });
    if (rule.answeredBy !== undefined && rule.outcome !== undefined && rule.outcome !== 'answer')
      errors.push({
        path: `${path}.answeredBy`,
        message: `says who answers, but outcome is ${rule.outcome}: give outcome answer, or no outcome`,
      });
    if (rule.answeredBy === 'machine' && rule.digits !== undefined && rule.digits.length > 0)
      errors.push({
        path: `${path}.digits`,
        message: 'an answering machine presses no keys: remove digits, or answer with human',
      });
    numbers.push({
      number: rule.number,
      pattern,
      ...(rule.outcome === undefined && rule.answeredBy === undefined
        ? {}
        : { outcome: rule.outcome ?? 'answer' }),
      ...(rule.answeredBy === undefined ? {} : { answeredBy: rule.answeredBy }),
      ...(rule.greeting === undefined ? {} : { greeting: rule.greeting }),
      ...(rule.cause === undefined ? {} : { cause: rule.cause }),
      ...(rule.ringSeconds === undefined ? {} : { ringSeconds: rule.ringSeconds }),
      ...(rule.holdSeconds === undefined ? {} : { holdSeconds: rule.holdSeconds }),
      ...(rule.digits === undefined ? {} : { digits: digitSteps(rule.digits) }),
      ...(rule.noAnswerSeconds === undefined ? {} : { noAnswerSeconds: rule.noAnswerSeconds }),
    });
  });
  return {
    mix,
    numbers,
    causes: { ...DEFAULT_CAUSES, ...(raw.causes ?? {}) },
    ringSeconds: raw.ringSeconds ?? { min: 2, max: 2 },
    holdSeconds: raw.holdSeconds ?? null,
    digits: digitSteps(raw.digits),
    noAnswerSeconds: raw.noAnswerSeconds ?? null,
    greetings: {
      human: raw.greetings?.human === undefined ? DEFAULT_HUMAN_GREETING : raw.greetings.human,
      machine:
        raw.greetings?.machine === undefined ? DEFAULT_MACHINE_GREETING : raw.greetings.machine,
      voice: raw.greetings?.voice ?? 'en',
    },
  };
}

function fail(errors: FieldError[], source: string): never {
  const lines = errors.map((e) => `  ${e.path}: ${e.message}`).join('\n');
  throw new SwitchboardError('E_CONFIG_FIELD', `invalid ${source}:\n${lines}`, {
    details: errors,
  });
}

/**
 * Every problem of a candidate scenario, each naming its field (`inbound.flows[1].rate`,
 * `trunks[0].switchtype`, `outbound.numbers[2].number`); empty when it is valid.
 */
export function scenarioErrors(input: unknown): FieldError[] {
  try {
    validateScenario(input);
    return [];
  } catch (err) {
    if (isSwitchboardError(err, 'E_CONFIG_FIELD')) return err.details as FieldError[];
    throw err;
  }
}

/**
 * Validates a parsed scenario and fills in every default.
 * @param source named in the error message (a file name)
 * @throws SwitchboardError E_CONFIG_FIELD naming every invalid field (details: FieldError[])
 */
export function validateScenario(input: unknown, source = 'carrier scenario'): Scenario {
  const schema = schemaErrors(ScenarioSchema as TSchema, input);
  if (schema.length > 0) fail(schema, source);
  const raw = input as ScenarioInput;
  const errors: FieldError[] = [];
  let engine: EngineConfig = { trunks: [] };
  try {
    engine = validateTrunks({ trunks: raw.trunks });
  } catch (err) {
    if (!isSwitchboardError(err, 'E_CONFIG_FIELD')) throw err;
    errors.push(...(err.details as FieldError[]));
  }
  (raw.trunks as Record<string, unknown>[]).forEach((t, i) => {
    // The switch's calls to a China R2 trunk come from openr2, which cannot send ANI there.
    if (
      t?.signalling === 'mfcr2' &&
      t.variant === 'cn' &&
      t.maxAni !== 0 &&
      t.skipCategory !== true
    )
      errors.push({
        path: `trunks[${i}].maxAni`,
        message: `must be 0 on a China (cn) trunk: the switch calls it through openr2, which cannot send the calling number there (${R2_CHINA_ANI_GAP})`,
      });
  });
  const trunkNames = (raw.trunks as Partial<EngineTrunk>[]).map((t) => String(t?.name));
  const inbound = raw.inbound ? resolveFlows(raw.inbound, trunkNames, errors) : undefined;
  const outbound = resolveOutbound(raw.outbound ?? {}, errors);
  if (errors.length > 0) fail(errors, source);
  return {
    seed: raw.seed ?? 1,
    engine: { trunks: engine.trunks },
    ...(inbound ? { inbound } : {}),
    outbound,
  };
}

/** Parses YAML or JSON text (JSON when the source name ends in .json) and validates it. */
export function parseScenario(text: string, source: string): Scenario {
  return validateScenario(parseConfigText(text, source), source);
}

/** Reads and validates a scenario file (YAML or JSON). */
export function loadScenario(file: string): Scenario {
  return parseScenario(readConfigText(file), file);
}
