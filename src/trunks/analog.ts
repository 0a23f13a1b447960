// SPDX-License-Identifier: GPL-2.0-or-later
// Analog trunks (FXS ports feeding phones, FXO ports on lines): schema, timers and the rules across ports.

import { Type } from '@sinclair/typebox';
import type { FieldError } from '../core/schema.ts';
import type { EngineTrunk } from '../native/engine.ts';
import { timeslotList } from './pri.ts';
import { type TimerTable, timerErrors, timersSchema } from './timers.ts';
import type { TrunkKind } from './validate.ts';

/**
 * Loop signalling has no numbered protocol timers; these are the intervals chan_dahdi and the
 * caller ID standards name. native/src/analog.cc holds the same table (the engine's snapshot
 * reports the values in force, and test/analog.test.ts checks that the two agree).
 */
export const ANALOG_TIMERS: TimerTable = {
  firstDigitTimeout: {
    default: 16000,
    min: 1000,
    max: 120000,
    unit: 'ms',
    meaning: 'FXS port: wait for the first digit after the phone goes off hook',
  },
  digitTimeout: {
    default: 8000,
    min: 1000,
    max: 60000,
    unit: 'ms',
    meaning: 'FXS port: wait for the next digit until the controller routes the call',
  },
  cidDelay: {
    default: 500,
    min: 100,
    max: 3000,
    unit: 'ms',
    meaning: 'FXS port: from the end of the first ring to the caller ID (GR-30-CORE, EN 300 659-1)',
  },
  ringTimeout: {
    default: 8000,
    min: 1000,
    max: 30000,
    unit: 'ms',
    meaning: 'FXO port: silence after a ring that means the caller gave up',
  },
  dialDelay: {
    default: 500,
    min: 0,
    max: 10000,
    unit: 'ms',
    meaning: 'FXO port: off hook to the first dialled digit (dial tone time)',
  },
  dtmfOn: {
    default: 100,
    min: 40,
    max: 500,
    unit: 'ms',
    meaning: 'DTMF digit length we send (ITU-T Q.24: at least 40 ms)',
  },
  dtmfOff: {
    default: 100,
    min: 40,
    max: 500,
    unit: 'ms',
    meaning: 'pause between the DTMF digits we send',
  },
};

/** Signalling on an FXS port (it feeds a phone): FXO signalling, in chan_dahdi's words. */
export const STATION_SIGNALLING = ['fxo_ks', 'fxo_ls'] as const;
/** Signalling on an FXO port (it is a phone on a line): FXS signalling. */
export const LINE_SIGNALLING = ['fxs_ks', 'fxs_ls'] as const;

export const TONE_ZONES = ['us', 'uk', 'de', 'fr', 'nl'] as const;

/** Largest port number DAHDI can address on one span. */
const MAX_PORT = 255;

const Ports = Type.Union(
  [
    Type.String({ pattern: '^\\d+(-\\d+)?(,\\d+(-\\d+)?)*$', mustBe: 'a list like "1-4,7"' }),
    Type.Array(Type.Integer({ minimum: 1, maximum: MAX_PORT }), { minItems: 1 }),
  ],
  {
    description:
      'the ports of the card this trunk uses, by port number (the DAHDI channel position on the span): "1-4,7" or [1, 2, 3, 4, 7]. A trunk is a group of ports of one card; several cards make several trunks',
  },
);

export const AnalogTrunk = Type.Object(
  {
    name: Type.String(),
    signalling: Type.Union(
      [...STATION_SIGNALLING, ...LINE_SIGNALLING].map((s) => Type.Literal(s)),
      {
        description:
          "chan_dahdi's names, which name the signalling spoken, not the port. fxo_ks / fxo_ls (kewlstart / loopstart) are FXO signalling, used on an FXS port: the port feeds a phone or fax (battery, ringing; system.conf fxoks= / fxols=). fxs_ks / fxs_ls are FXS signalling, used on an FXO port: the port is a phone on a line from an exchange or PBX (system.conf fxsks= / fxsls=). Kewlstart lines drop the loop when the far end clears, so a clear is detected; on loopstart it is not (use polarity)",
      },
    ),
    span: Type.Integer({
      minimum: 1,
      maximum: 127,
      description: 'the analog card: its DAHDI span number',
    }),
    ports: Ports,
    callerId: Type.Optional(
      Type.Union(
        ['off', 'bell', 'v23', 'dtmf'].map((s) => Type.Literal(s)),
        {
          description:
            'caller ID, sent between the first and the second ring on an FXS port and expected there on an FXO port: bell (Bell 202 FSK, North America, Telcordia GR-30), v23 (V.23 FSK, ETSI EN 300 659), dtmf (DTMF CLIP, Nordic countries, Netherlands, India...), or off (default). On an FXO port the call is offered when the caller ID arrives, or at the second ring',
        },
      ),
    ),
    zone: Type.Optional(
      Type.Union(
        TONE_ZONES.map((s) => Type.Literal(s)),
        {
          description:
            'FXS ports: the country of the dial, busy and ringback tones we play to the phone (DAHDI tone zone names; default us)',
        },
      ),
    ),
    tones: Type.Optional(
      Type.Boolean({
        description:
          'FXS ports: dial tone when the phone goes off hook (until the first digit), ringback when the controller alerts, busy tone when a call ends with the phone off hook (default true)',
      }),
    ),
    ringCadence: Type.Optional(
      Type.Array(Type.Integer({ minimum: 100, maximum: 10000 }), {
        minItems: 2,
        maxItems: 16,
        description:
          'FXS ports: the ring cadence in ms, on, off, on, off... (an even count, up to 16; DAHDI_SETCADENCE); default the tone zone of system.conf (us: 2000 on, 4000 off). Caller ID goes in the first silence, which must be long enough for it (about 1 s)',
      }),
    ),
    polarity: Type.Optional(
      Type.Boolean({
        description:
          'battery reversal as answer and clear supervision (default false). FXS port: we reverse the battery when the controller answers a call the phone made, and restore it when the call ends. FXO port: a reversal answers our outgoing call (otherwise a call counts as answered once dialled) and a second one clears it',
      }),
    ),
    timers: timersSchema(ANALOG_TIMERS, 'analog line'),
  },
  { additionalProperties: false },
);

interface AnalogFields {
  signalling: string;
  span: number;
  ports: string | number[];
  zone?: string;
  tones?: boolean;
  ringCadence?: number[];
  timers?: Record<string, number>;
}

function isStation(signalling: string): boolean {
  return (STATION_SIGNALLING as readonly string[]).includes(signalling);
}

function checkAnalog(
  t: EngineTrunk,
  path: string,
  board: Parameters<TrunkKind['check']>[2],
): FieldError[] {
  const trunk = t as unknown as AnalogFields;
  const out: FieldError[] = [...timerErrors(ANALOG_TIMERS, trunk.timers, path)];
  const station = isStation(trunk.signalling);
  if (!station) {
    for (const field of ['zone', 'tones', 'ringCadence'] as const)
      if (trunk[field] !== undefined)
        out.push({
          path: `${path}.${field}`,
          message: `is for FXS ports (fxo_ks/fxo_ls signalling); ${trunk.signalling} runs on an FXO port`,
        });
  }
  if (trunk.ringCadence !== undefined && trunk.ringCadence.length % 2 !== 0)
    out.push({
      path: `${path}.ringCadence`,
      message: 'must pair every ring with a silence (an even count of durations)',
    });
  const ports = timeslotList(trunk.ports);
  const twice = ports.find((p, i) => ports.indexOf(p) !== i);
  if (twice !== undefined)
    out.push({ path: `${path}.ports`, message: `port ${twice} is listed twice` });
  const zero = ports.find((p) => p < 1 || p > MAX_PORT);
  if (zero !== undefined)
    out.push({ path: `${path}.ports`, message: `port ${zero} is not a port number` });
  if (!board) return out;
  const span = board.get(trunk.span);
  if (!span) {
    out.push({ path: `${path}.span`, message: `span ${trunk.span} does not exist on this board` });
    return out;
  }
  if (span.type !== 'analog') {
    out.push({
      path: `${path}.span`,
      message: `span ${trunk.span} is an ${span.type} span, not an analog card`,
    });
    return out;
  }
  for (const port of ports) {
    if (port > span.channels) {
      out.push({
        path: `${path}.ports`,
        message: `port ${port} does not exist on span ${trunk.span} (ports are 1-${span.channels})`,
      });
      continue;
    }
    const kind = span.ports?.[port - 1];
    const want = station ? 'fxs' : 'fxo';
    if (kind !== undefined && kind !== want)
      out.push({
        path: `${path}.ports`,
        message: `port ${port} of span ${trunk.span} is an ${kind.toUpperCase()} port; ${trunk.signalling} signalling needs an ${want.toUpperCase()} port`,
      });
  }
  return out;
}

/** A port belongs to one trunk: the later trunk naming it is refused. */
function checkAllAnalog(trunks: { trunk: EngineTrunk; path: string }[]): FieldError[] {
  const out: FieldError[] = [];
  const owner = new Map<string, string>();
  for (const { trunk, path } of trunks) {
    const t = trunk as unknown as AnalogFields;
    for (const port of new Set(timeslotList(t.ports))) {
      const key = `${t.span}:${port}`;
      const other = owner.get(key);
      if (other)
        out.push({
          path: `${path}.ports`,
          message: `port ${port} of span ${t.span} is already in ${other}`,
        });
      else owner.set(key, path);
    }
  }
  return out;
}

export const analogTrunk: TrunkKind = {
  signalling: [...STATION_SIGNALLING, ...LINE_SIGNALLING],
  schema: AnalogTrunk,
  check: checkAnalog,
  checkAll: checkAllAnalog,
  spansOf: (t) => [(t as unknown as { span: number }).span],
};
