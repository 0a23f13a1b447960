// SPDX-License-Identifier: GPL-2.0-or-later
// ISDN PRI trunks (libpri): network or user side of one E1/T1 span, its schema, timers and rules.

import { Type } from '@sinclair/typebox';
import type { FieldError } from '../core/schema.ts';
import type { EngineTrunk } from '../native/engine.ts';
import { type TimerTable, timerErrors, timersSchema } from './timers.ts';
import type { TrunkKind } from './validate.ts';

/** Q.921 and Q.931 timers libpri lets us set (ITU-T Q.921 §5.9, Q.931 §9 table 9-1/9-2). */
export const PRI_TIMERS: TimerTable = {
  T200: {
    default: 1000,
    min: 500,
    max: 10000,
    unit: 'ms',
    meaning: 'Q.921: wait for an acknowledgement before retransmitting',
  },
  T203: {
    default: 10000,
    min: 1000,
    max: 60000,
    unit: 'ms',
    meaning: 'Q.921: longest time without frames before polling the link',
  },
  N200: {
    default: 3,
    min: 1,
    max: 10,
    unit: 'count',
    meaning: 'Q.921: retransmissions before the link is declared down',
  },
  T303: {
    default: 4000,
    min: 1000,
    max: 30000,
    unit: 'ms',
    meaning: 'Q.931: wait for an answer to SETUP',
  },
  T305: {
    default: 30000,
    min: 1000,
    max: 60000,
    unit: 'ms',
    meaning: 'Q.931: wait for RELEASE after sending DISCONNECT',
  },
  T308: {
    default: 4000,
    min: 1000,
    max: 30000,
    unit: 'ms',
    meaning: 'Q.931: wait for RELEASE COMPLETE after sending RELEASE',
  },
  T309: {
    default: 6000,
    min: 0,
    max: 90000,
    unit: 'ms',
    meaning: 'Q.931: how long calls survive a D-channel failure (0: clear at once)',
  },
  T310: {
    default: 10000,
    min: 1000,
    max: 120000,
    unit: 'ms',
    meaning: 'Q.931: wait for ALERTING/CONNECT after CALL PROCEEDING',
  },
  T313: {
    default: 4000,
    min: 1000,
    max: 30000,
    unit: 'ms',
    meaning: 'Q.931 (user side): wait for CONNECT ACKNOWLEDGE',
  },
  T316: {
    default: 30000,
    min: 0,
    max: 120000,
    unit: 'ms',
    meaning: 'Q.931: wait for RESTART ACKNOWLEDGE (0: do not retransmit)',
  },
};

export const SWITCHTYPES = ['euroisdn', 'ni2', 'dms100', '5ess', '4ess', 'qsig'] as const;
export type Switchtype = (typeof SWITCHTYPES)[number];

const Timeslots = Type.Union([
  Type.String({ pattern: '^\\d+(-\\d+)?(,\\d+(-\\d+)?)*$', mustBe: 'a list like "1-15,17-31"' }),
  Type.Array(Type.Integer({ minimum: 1, maximum: 31 }), { minItems: 1 }),
]);

export const PriTrunk = Type.Object(
  {
    name: Type.String(),
    signalling: Type.Union([Type.Literal('pri_net'), Type.Literal('pri_cpe')], {
      description: 'pri_net: we are the network side (the exchange); pri_cpe: we are the user side',
    }),
    span: Type.Integer({ minimum: 1, maximum: 127, description: 'the E1/T1 span' }),
    switchtype: Type.Union(
      SWITCHTYPES.map((s) => Type.Literal(s)),
      { description: 'the Q.931 variant the carrier speaks' },
    ),
    dchannel: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 31,
        description: 'D-channel timeslot; default 16 on E1, 24 on T1',
      }),
    ),
    bchannels: Type.Optional(Timeslots),
    overlap: Type.Optional(
      Type.Union(
        ['none', 'incoming', 'outgoing', 'both'].map((s) => Type.Literal(s)),
        {
          description:
            'overlap dialling: numbers sent or received digit by digit; default none (en bloc)',
        },
      ),
    ),
    serviceMessages: Type.Optional(
      Type.Boolean({
        description:
          'SERVICE/SERVICE ACKNOWLEDGE maintenance messages for block/unblock (default false)',
      }),
    ),
    timers: timersSchema(PRI_TIMERS, 'Q.921/Q.931'),
    debug: Type.Optional(
      Type.Boolean({
        description:
          "libpri's decode of every Q.921/Q.931 message as debug log lines (default false)",
      }),
    ),
  },
  { additionalProperties: false },
);

/** "1-3,5" or [1,2,3,5] -> [1,2,3,5] */
export function timeslotList(v: string | number[]): number[] {
  if (Array.isArray(v)) return v;
  return v.split(',').flatMap((part) => {
    const [a = '', b] = part.split('-');
    const first = Number(a);
    const last = b === undefined ? first : Number(b);
    return Array.from({ length: Math.max(0, last - first + 1) }, (_, k) => first + k);
  });
}

function checkPri(
  t: EngineTrunk,
  path: string,
  board: Parameters<TrunkKind['check']>[2],
): FieldError[] {
  const trunk = t as unknown as {
    span: number;
    dchannel?: number;
    bchannels?: string | number[];
    timers?: Record<string, number>;
  };
  const out: FieldError[] = [...timerErrors(PRI_TIMERS, trunk.timers, path)];
  const span = board?.get(trunk.span);
  if (board && !span)
    out.push({ path: `${path}.span`, message: `span ${trunk.span} does not exist on this board` });
  if (span?.type === 'analog')
    out.push({
      path: `${path}.span`,
      message: `span ${trunk.span} is an analog card, not an E1/T1 span`,
    });
  const size = span?.channels ?? 31;
  const dchannel = trunk.dchannel ?? (size === 24 ? 24 : 16);
  if (dchannel > size)
    out.push({
      path: `${path}.dchannel`,
      message: `timeslot ${dchannel} does not exist on a ${size}-channel span`,
    });
  if (trunk.bchannels !== undefined) {
    const list = timeslotList(trunk.bchannels);
    if (list.includes(dchannel))
      out.push({
        path: `${path}.bchannels`,
        message: `timeslot ${dchannel} is the D-channel and cannot also be a bearer (B) channel`,
      });
    const outside = list.find((ts) => ts < 1 || ts > size);
    if (outside !== undefined)
      out.push({
        path: `${path}.bchannels`,
        message: `timeslot ${outside} does not exist on a ${size}-channel span`,
      });
    const twice = list.find((ts, i) => list.indexOf(ts) !== i);
    if (twice !== undefined)
      out.push({ path: `${path}.bchannels`, message: `timeslot ${twice} is listed twice` });
  }
  return out;
}

export const priTrunk: TrunkKind = {
  signalling: ['pri_net', 'pri_cpe'],
  schema: PriTrunk,
  check: checkPri,
  spansOf: (t) => [(t as unknown as { span: number }).span],
};
