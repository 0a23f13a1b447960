// SPDX-License-Identifier: GPL-2.0-or-later
// Number manipulation on routes (replace, strip, prefix) and caller ID masks.

import type { Manipulation } from '../config/schema.ts';
import { compilePattern, type Pattern } from './pattern.ts';

/** A manipulation with its `replace.match` pattern compiled once. */
export interface CompiledManipulation {
  strip?: number;
  prefix?: string;
  replace?: { match: Pattern; with: string };
}

export function compileManipulation(m: Manipulation | undefined): CompiledManipulation | undefined {
  if (!m) return undefined;
  const out: CompiledManipulation = {};
  if (m.strip !== undefined) out.strip = m.strip;
  if (m.prefix !== undefined) out.prefix = m.prefix;
  if (m.replace) out.replace = { match: compilePattern(m.replace.match), with: m.replace.with };
  return out;
}

/**
 * Applies a manipulation in its documented order: a number matching `replace.match` is replaced
 * whole first, then `strip` digits go from the front, then `prefix` goes in front. Stripping
 * more digits than the number has leaves it empty (the prefix alone).
 */
export function manipulate(number: string, m: CompiledManipulation | undefined): string {
  if (!m) return number;
  let n = number;
  if (m.replace?.match.test(n)) n = m.replace.with;
  if (m.strip) n = n.slice(m.strip);
  if (m.prefix) n = m.prefix + n;
  return n;
}

/**
 * A caller ID mask, position by position from the left: a digit (or `*`) of the mask is shown,
 * an `X` shows the caller's digit at that position. The result is as long as the mask, except
 * that an `X` past the end of a shorter caller number shows nothing.
 * "0755XXXX0000" on "075512345678" gives "075512340000".
 */
export function applyMask(number: string, mask: string): string {
  let out = '';
  for (let i = 0; i < mask.length; i++) {
    const m = mask[i] as string;
    if (m === 'X') out += number[i] ?? '';
    else out += m;
  }
  return out;
}
