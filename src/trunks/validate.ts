// SPDX-License-Identifier: GPL-2.0-or-later
// Checks a trunk configuration before the engine sees it: schema per signalling, then the rules across fields.

import { type TSchema, Type } from '@sinclair/typebox';
import { SwitchboardError } from '../core/errors.ts';
import { type FieldError, schemaErrors } from '../core/schema.ts';
import type { EngineConfig, EngineTrunk, Signalling } from '../native/engine.ts';
import { analogTrunk } from './analog.ts';
import { priTrunk } from './pri.ts';
import { r2Trunk } from './r2.ts';
import { ss7Trunk } from './ss7.ts';

/**
 * What the board has, when known: span number -> type and channel count, and for an analog card
 * the kind of each port when the board knows it (fxs: feeds a phone; fxo: is a phone on a line).
 */
export interface BoardSpans {
  get(
    span: number,
  ):
    | { type: 'E1' | 'T1' | 'analog'; channels: number; ports?: readonly ('fxs' | 'fxo')[] }
    | undefined;
}

/** One signalling kind: its schema and the rules its schema cannot say. */
export interface TrunkKind {
  signalling: readonly Signalling[];
  schema: TSchema;
  /** Errors of one trunk (`path` is e.g. `trunks[2]`). */
  check(trunk: EngineTrunk, path: string, board: BoardSpans | undefined): FieldError[];
  /** Errors across the trunks of this kind (overlapping CIC ranges ...), given with their paths. */
  checkAll?(trunks: { trunk: EngineTrunk; path: string }[]): FieldError[];
  /** The spans a trunk occupies (a span carries one digital trunk). */
  spansOf(trunk: EngineTrunk): number[];
}

const KINDS: readonly TrunkKind[] = [priTrunk, ss7Trunk, r2Trunk, analogTrunk];

const SIGNALLINGS = KINDS.flatMap((k) => k.signalling);

const TrunkHead = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 40, pattern: '^[A-Za-z0-9_.-]+$' }),
  signalling: Type.Union(SIGNALLINGS.map((s) => Type.Literal(s))),
});

/**
 * Validates `{trunks: [...]}` and returns it typed. Every refused field is named
 * (`trunks[1].switchtype: must be ...`).
 * @throws SwitchboardError E_CONFIG_FIELD with `details` = every FieldError
 */
export function validateTrunks(input: unknown, board?: BoardSpans): EngineConfig {
  const errors: FieldError[] = [];
  const trunks = (input as { trunks?: unknown })?.trunks;
  if (!Array.isArray(trunks)) {
    errors.push({ path: 'trunks', message: 'must be a list' });
  } else {
    const byKind = new Map<TrunkKind, { trunk: EngineTrunk; path: string }[]>();
    const names = new Map<string, string>();
    const spans = new Map<number, string>();
    trunks.forEach((raw: unknown, i) => {
      const path = `trunks[${i}]`;
      const head = schemaErrors(Type.Object(TrunkHead.properties), raw).filter(
        (e) => !e.message.includes('not a known field'),
      );
      if (head.length > 0) {
        errors.push(...head.map((e) => ({ path: `${path}.${e.path}`, message: e.message })));
        return;
      }
      const trunk = raw as EngineTrunk;
      const kind = KINDS.find((k) => k.signalling.includes(trunk.signalling)) as TrunkKind;
      const own = schemaErrors(kind.schema, raw).map((e) => ({
        path: `${path}.${e.path}`,
        message: e.message,
      }));
      if (own.length > 0) {
        errors.push(...own);
        return;
      }
      errors.push(...kind.check(trunk, path, board));
      const seen = names.get(trunk.name);
      if (seen)
        errors.push({ path: `${path}.name`, message: `"${trunk.name}" already names ${seen}` });
      names.set(trunk.name, path);
      if (!trunk.signalling.startsWith('fx')) {
        for (const span of kind.spansOf(trunk)) {
          const other = spans.get(span);
          if (other) errors.push({ path, message: `span ${span} is already used by ${other}` });
          spans.set(span, path);
        }
      }
      byKind.set(kind, [...(byKind.get(kind) ?? []), { trunk, path }]);
    });
    for (const [kind, list] of byKind) errors.push(...(kind.checkAll?.(list) ?? []));
  }
  if (errors.length > 0) {
    const first = errors[0] as FieldError;
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    throw new SwitchboardError('E_CONFIG_FIELD', `${first.path}: ${first.message}${more}`, {
      details: errors,
    });
  }
  return input as EngineConfig;
}
