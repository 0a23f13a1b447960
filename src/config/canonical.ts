// SPDX-License-Identifier: GPL-2.0-or-later
// One written form per configuration: keys in schema order, so stored revisions, diffs and YAML agree.

import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { analogTrunk } from '../trunks/analog.ts';
import { priTrunk } from '../trunks/pri.ts';
import { r2Trunk } from '../trunks/r2.ts';
import { ss7Trunk } from '../trunks/ss7.ts';
import type { TrunkKind } from '../trunks/validate.ts';
import { SwitchConfig } from './schema.ts';

const TRUNK_KINDS: readonly TrunkKind[] = [priTrunk, ss7Trunk, r2Trunk, analogTrunk];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The member of a union that describes `value` (the first that accepts it, else the first of its JSON type). */
function pick(schema: TSchema | undefined, value: unknown): TSchema | undefined {
  if (!schema || !Array.isArray(schema.anyOf)) return schema;
  const members = schema.anyOf as TSchema[];
  const fit = members.find((m) => Value.Check(m, value));
  if (fit) return pick(fit, value);
  const type = Array.isArray(value) ? 'array' : typeof value === 'object' ? 'object' : typeof value;
  return members.find((m) => m.type === type);
}

function order(value: unknown, schema: TSchema | undefined, trunks = false): unknown {
  if (Array.isArray(value)) {
    const items = pick(schema, value)?.items as TSchema | undefined;
    return value.map((v) => order(v, items, trunks));
  }
  if (!isPlainObject(value)) return value;
  let s = pick(schema, value);
  // The config schema leaves trunks open (src/trunks checks them per signalling): order each
  // trunk by the schema of its own signalling, so `name` and `signalling` come first.
  if (trunks)
    s = TRUNK_KINDS.find((k) =>
      (k.signalling as readonly unknown[]).includes(value.signalling),
    )?.schema;
  const props = (s?.properties ?? {}) as Record<string, TSchema>;
  const known = Object.keys(props).filter((k) => Object.hasOwn(value, k));
  const rest = Object.keys(value)
    .filter((k) => !Object.hasOwn(props, k))
    .sort();
  const extra = s?.patternProperties
    ? (Object.values(s.patternProperties)[0] as TSchema)
    : undefined;
  const out: Record<string, unknown> = {};
  for (const key of [...known, ...rest]) {
    const v = value[key];
    if (v === undefined) continue;
    out[key] = order(v, props[key] ?? extra, s === SwitchConfig && key === 'trunks');
  }
  return out;
}

/**
 * A deep copy of `config` with every mapping's keys in schema order (fields the schema does not
 * name, such as timer overrides, sorted after them) and undefined fields dropped. Two
 * configurations that mean the same produce the same canonical JSON; list order is kept, since
 * it means something (hunting order, first matching route).
 */
export function canonicalConfig<T = SwitchConfig>(config: T): T {
  return order(config, SwitchConfig) as T;
}

/** The stored form of a configuration: canonical, compact JSON. */
export function canonicalJson(config: SwitchConfig): string {
  return JSON.stringify(canonicalConfig(config));
}
