// SPDX-License-Identifier: GPL-2.0-or-later
// Schema errors in installer words: one message per field, named by its path (spans[2].type).

import type { TSchema } from '@sinclair/typebox';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';

/** A refused field: `trunks[1].switchtype` and what is wrong with it. */
export interface FieldError {
  path: string;
  message: string;
}

/** `/spans/2/type` -> `spans[2].type` */
export function fieldPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out === '' ? '(top level)' : out;
}

function quoteList(values: readonly unknown[]): string {
  const quoted = values.map((v) => JSON.stringify(v));
  return quoted.length <= 1
    ? (quoted[0] ?? '')
    : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}

function literalChoices(schema: TSchema): unknown[] | undefined {
  const anyOf: unknown = schema.anyOf;
  if (!Array.isArray(anyOf)) return undefined;
  const choices = anyOf.map((s: TSchema) => s.const);
  return choices.every((c) => c !== undefined) ? choices : undefined;
}

function describe(error: ValueError): string {
  const s = error.schema;
  if (error.value === undefined) return 'is required';
  const choices = literalChoices(s);
  if (choices) return `must be ${quoteList(choices)}`;
  const mustBe: unknown = s.mustBe;
  if (typeof mustBe === 'string') return `must be ${mustBe}`;
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return 'is not a known field';
    case ValueErrorType.Object:
      return 'must be a mapping';
    case ValueErrorType.Array:
      return 'must be a list';
    case ValueErrorType.ArrayMinItems:
      return `must have at least ${s.minItems} entr${s.minItems === 1 ? 'y' : 'ies'}`;
    case ValueErrorType.ArrayMaxItems:
      return `must have at most ${s.maxItems} entries`;
    case ValueErrorType.Tuple:
    case ValueErrorType.TupleLength:
      return 'must be a pair';
    case ValueErrorType.String:
      return 'must be a string';
    case ValueErrorType.StringMinLength:
      return s.minLength > 1 ? `must be at least ${s.minLength} characters` : 'must not be empty';
    case ValueErrorType.StringMaxLength:
      return `must be at most ${s.maxLength} characters`;
    case ValueErrorType.Integer:
      return 'must be an integer';
    case ValueErrorType.IntegerMinimum:
      return `must be at least ${s.minimum}`;
    case ValueErrorType.IntegerMaximum:
      return `must be at most ${s.maximum}`;
    default:
      return error.message.toLowerCase();
  }
}

/** Schema errors, one per field (the first, most specific, for each path). */
export function schemaErrors(schema: TSchema, input: unknown): FieldError[] {
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const error of Value.Errors(schema, input)) {
    const path = fieldPath(error.path);
    if (seen.has(path)) continue;
    seen.add(path);
    out.push({ path, message: describe(error) });
  }
  return out;
}
