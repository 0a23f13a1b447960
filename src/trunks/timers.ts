// SPDX-License-Identifier: GPL-2.0-or-later
// Protocol timer tables: each timer named by its spec number, with default, range and meaning.

import { Type } from '@sinclair/typebox';
import type { FieldError } from '../core/schema.ts';

export interface TimerSpec {
  /** Default in the unit below. */
  default: number;
  min: number;
  max: number;
  unit: 'ms' | 'count';
  /** One line: what runs out when it expires. */
  meaning: string;
}

export type TimerTable = Readonly<Record<string, TimerSpec>>;

/** Schema of a `timers` override map: names from the table, integers. */
export function timersSchema(table: TimerTable, spec: string) {
  return Type.Optional(
    Type.Record(Type.String(), Type.Integer(), {
      description: `${spec} timer overrides by name (${Object.keys(table).join(', ')})`,
    }),
  );
}

/** Unknown timer names and values outside their documented range. */
export function timerErrors(
  table: TimerTable,
  timers: Record<string, number> | undefined,
  path: string,
): FieldError[] {
  const out: FieldError[] = [];
  for (const [name, value] of Object.entries(timers ?? {})) {
    const spec = table[name];
    if (!spec) {
      out.push({
        path: `${path}.timers.${name}`,
        message: `is not a known timer (known: ${Object.keys(table).join(', ')})`,
      });
    } else if (value < spec.min || value > spec.max) {
      out.push({
        path: `${path}.timers.${name}`,
        message: `${value} ${spec.unit} is outside ${spec.min}..${spec.max} ${spec.unit} (${spec.meaning})`,
      });
    }
  }
  return out;
}
