// SPDX-License-Identifier: GPL-2.0-or-later
// The switch's whole configuration, in installer words: one TypeBox schema for the store, API, YAML and UI.

import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { MqttConfig } from '../mqtt/config.ts';
import type { EngineTrunk } from '../native/engine.ts';

const Name = Type.String({
  minLength: 1,
  maxLength: 40,
  pattern: '^[A-Za-z0-9_.-]+$',
  mustBe: 'a name of 1-40 letters, digits, "_", "." or "-"',
});

/**
 * A number or a dialplan pattern (src/routing/pattern.ts): "95588" matches only itself,
 * "_010XXXXXXXX" any Beijing number, "_1[3-9]X." any mobile number.
 */
export const NumberPattern = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'a number, or a pattern starting with "_" (X, Z, N, [1-5], trailing . or !)',
});

/** One E1/T1 span line of DAHDI's system.conf, in its own words. */
export const SpanConfig = Type.Object(
  {
    span: Type.Integer({ minimum: 1, maximum: 127, description: 'the span number (DAHDI)' }),
    type: Type.Optional(
      Type.Union([Type.Literal('E1'), Type.Literal('T1')], {
        description: 'E1 or T1; default what the board has',
      }),
    ),
    framing: Type.Union(
      ['ccs', 'cas', 'esf', 'd4'].map((s) => Type.Literal(s)),
      { description: 'E1: ccs (PRI, SS7) or cas (MFC-R2); T1: esf or d4' },
    ),
    coding: Type.Union(
      ['hdb3', 'ami', 'b8zs'].map((s) => Type.Literal(s)),
      { description: 'line coding: E1 hdb3 or ami; T1 b8zs or ami' },
    ),
    crc4: Type.Optional(
      Type.Boolean({
        description: 'E1 only: CRC-4 multiframe; default true for ccs, false for cas',
      }),
    ),
    lbo: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 7,
        description: 'line build-out (0: 0 dB / 0-133 ft ... 7: -22.5 dB); default 0',
      }),
    ),
    timing: Type.Integer({
      minimum: 0,
      maximum: 255,
      description:
        'timing priority: 1 = first span to take clock from, 2 = next ...; 0 = never a clock source (we are the master to it)',
    }),
    yellow: Type.Optional(
      Type.Boolean({ description: 'send yellow alarm (RAI) when in red alarm; default false' }),
    ),
    description: Type.Optional(Type.String({ maxLength: 80 })),
  },
  { additionalProperties: false },
);
export type SpanConfig = Static<typeof SpanConfig>;

export const HUNT_METHODS = ['sequential', 'round_robin', 'least_used'] as const;
export type HuntMethod = (typeof HUNT_METHODS)[number];

export const TrunkGroup = Type.Object(
  {
    name: Name,
    trunks: Type.Array(Name, { minItems: 1, description: 'trunk names, in hunting order' }),
    hunt: Type.Union(
      HUNT_METHODS.map((h) => Type.Literal(h)),
      {
        description:
          'sequential: first trunk with a free channel, in order; round_robin: start after the trunk used last; least_used: the trunk with the fewest calls up',
      },
    ),
  },
  { additionalProperties: false },
);
export type TrunkGroup = Static<typeof TrunkGroup>;

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const Clock = Type.String({ pattern: '^([01][0-9]|2[0-4]):[0-5][0-9]$', mustBe: 'a time "HH:MM"' });
const Day = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', mustBe: 'a date "YYYY-MM-DD"' });

export const TimeCondition = Type.Object(
  {
    name: Name,
    timezone: Type.Optional(
      Type.String({ description: 'IANA time zone, e.g. Asia/Shanghai; default system.timezone' }),
    ),
    hours: Type.Array(
      Type.Object(
        {
          days: Type.Array(Type.Union(WEEKDAYS.map((d) => Type.Literal(d))), { minItems: 1 }),
          from: Clock,
          to: Clock,
        },
        { additionalProperties: false },
      ),
      { description: 'when the condition is open (office hours); "to" is exclusive' },
    ),
    holidays: Type.Optional(
      Type.Array(
        Type.Object(
          {
            date: Day,
            to: Type.Optional(Day),
            name: Type.Optional(Type.String({ maxLength: 60 })),
          },
          { additionalProperties: false },
        ),
        { description: 'days (or date ranges, inclusive) on which the condition is closed' },
      ),
    ),
  },
  { additionalProperties: false },
);
export type TimeCondition = Static<typeof TimeCondition>;

export const Region = Type.Object(
  {
    name: Name,
    prefixes: Type.Array(Type.String({ pattern: '^\\+?[0-9]+$', mustBe: 'a string of digits' }), {
      minItems: 1,
      description: 'calling-number prefixes of the region (area codes, mobile number segments)',
    }),
  },
  { additionalProperties: false },
);
export type Region = Static<typeof Region>;

export const Manipulation = Type.Object(
  {
    strip: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 32, description: 'digits removed from the front' }),
    ),
    prefix: Type.Optional(
      Type.String({
        pattern: '^[0-9*#+]*$',
        maxLength: 32,
        description: 'digits put in front (after strip)',
      }),
    ),
    replace: Type.Optional(
      Type.Object(
        {
          match: NumberPattern,
          with: Type.String({ pattern: '^[0-9*#+]*$', maxLength: 32 }),
        },
        {
          additionalProperties: false,
          description:
            'a number matching `match` is replaced whole by `with` (before strip and prefix)',
        },
      ),
    ),
  },
  { additionalProperties: false },
);
export type Manipulation = Static<typeof Manipulation>;

export const Destination = Type.Union([
  Type.Object({ type: Type.Literal('ivr'), flow: Name }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('queue'), queue: Name }, { additionalProperties: false }),
  Type.Object(
    { type: Type.Literal('extension'), extension: Type.String({ pattern: '^[0-9]+$' }) },
    { additionalProperties: false },
  ),
  Type.Object(
    { type: Type.Literal('trunk'), route: Name },
    { additionalProperties: false, description: 'out again through an outbound route' },
  ),
  Type.Object(
    {
      type: Type.Literal('hangup'),
      cause: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: 127,
          description: 'Q.850 cause; default 21 (call rejected)',
        }),
      ),
    },
    { additionalProperties: false },
  ),
]);
export type Destination = Static<typeof Destination>;

export const InboundRoute = Type.Object(
  {
    name: Name,
    trunks: Type.Optional(
      Type.Array(Name, { description: 'trunks or trunk groups this rule applies to; default all' }),
    ),
    called: Type.Optional(NumberPattern),
    calling: Type.Optional(NumberPattern),
    regions: Type.Optional(Type.Array(Name, { description: 'caller regions (by calling number)' })),
    time: Type.Optional(
      Type.Object(
        {
          condition: Name,
          when: Type.Union([Type.Literal('open'), Type.Literal('closed')]),
        },
        {
          additionalProperties: false,
          description: 'match only while the condition is open (or closed)',
        },
      ),
    ),
    called_manipulation: Type.Optional(Manipulation),
    calling_manipulation: Type.Optional(Manipulation),
    destination: Destination,
  },
  { additionalProperties: false },
);
export type InboundRoute = Static<typeof InboundRoute>;

export const OutboundRoute = Type.Object(
  {
    name: Name,
    called: NumberPattern,
    from: Type.Optional(
      Type.Array(Name, {
        description:
          'who may use the route (agent groups, IVR flows, trunk names for transit); default everyone',
      }),
    ),
    called_manipulation: Type.Optional(Manipulation),
    calling_manipulation: Type.Optional(Manipulation),
    callerId: Type.Optional(
      Type.Object(
        {
          number: Type.Optional(Type.String({ pattern: '^\\+?[0-9]+$' })),
          presentation: Type.Optional(
            Type.Union([Type.Literal('allowed'), Type.Literal('restricted')]),
          ),
          mask: Type.Optional(
            Type.String({
              pattern: '^[0-9X*]+$',
              description:
                'digits shown in place of the caller\'s, X keeps the caller\'s digit: "0755XXXX0000"',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    trunkGroups: Type.Array(Name, {
      minItems: 1,
      description:
        'trunk groups tried in order: the next on congestion, all channels busy or alarm',
    }),
  },
  { additionalProperties: false },
);
export type OutboundRoute = Static<typeof OutboundRoute>;

export const BlacklistEntry = Type.Object(
  { number: NumberPattern, note: Type.Optional(Type.String({ maxLength: 80 })) },
  { additionalProperties: false },
);

export const Extension = Type.Object(
  {
    number: Type.String({ pattern: '^[0-9]{2,8}$', mustBe: 'an extension number of 2-8 digits' }),
    trunk: Name,
    channel: Type.Optional(
      Type.Integer({ minimum: 1, description: 'the port on an analog trunk' }),
    ),
    name: Type.Optional(Type.String({ maxLength: 60 })),
  },
  { additionalProperties: false },
);
export type Extension = Static<typeof Extension>;

export const SystemConfig = Type.Object(
  {
    name: Type.Optional(
      Type.String({ maxLength: 60, description: 'the box name shown in the UI and to the NOC' }),
    ),
    timezone: Type.Optional(
      Type.String({ description: 'IANA zone for time conditions; default UTC' }),
    ),
    toneZone: Type.Optional(
      Type.String({ description: 'call-progress tone zone (cn, us, uk ... itu); default itu' }),
    ),
    law: Type.Optional(
      Type.Union([Type.Literal('alaw'), Type.Literal('mulaw')], {
        description:
          'companding law of the analog ports (E1 spans are A-law, T1 spans µ-law); default alaw unless every span is T1',
      }),
    ),
  },
  { additionalProperties: false },
);

/** Trunks are checked by src/trunks (per signalling); here they only have to be objects. */
const TrunkAny = Type.Unsafe<EngineTrunk>(Type.Object({}, { additionalProperties: true }));

export const SwitchConfig = Type.Object(
  {
    system: Type.Optional(SystemConfig),
    spans: Type.Optional(Type.Array(SpanConfig)),
    trunks: Type.Optional(Type.Array(TrunkAny)),
    trunkGroups: Type.Optional(Type.Array(TrunkGroup)),
    timeConditions: Type.Optional(Type.Array(TimeCondition)),
    regions: Type.Optional(Type.Array(Region)),
    blacklists: Type.Optional(
      Type.Object(
        {
          inbound: Type.Optional(Type.Array(BlacklistEntry)),
          outbound: Type.Optional(Type.Array(BlacklistEntry)),
        },
        { additionalProperties: false },
      ),
    ),
    routes: Type.Optional(
      Type.Object(
        {
          inbound: Type.Optional(Type.Array(InboundRoute, { description: 'first match wins' })),
          outbound: Type.Optional(Type.Array(OutboundRoute, { description: 'first match wins' })),
        },
        { additionalProperties: false },
      ),
    ),
    extensions: Type.Optional(Type.Array(Extension)),
    mqtt: Type.Optional(MqttConfig),
  },
  { additionalProperties: false },
);
export type SwitchConfig = Static<typeof SwitchConfig>;

/** The sections, in the order YAML export writes them. */
export const SECTIONS = Object.keys(SwitchConfig.properties) as (keyof SwitchConfig)[];

export type { TSchema };
