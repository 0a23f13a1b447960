// SPDX-License-Identifier: GPL-2.0-or-later
// Seeded draws for the simulated carrier: reproducible numbers, outcomes and durations from one seed.

/**
 * A small seeded generator: a Weyl sequence (step 0x9E3779B9, the 32-bit golden ratio) mixed by
 * the MurmurHash3 32-bit finaliser. Not for cryptography; good enough that outcome mixes and
 * number draws look random, and cheap enough to make one per call.
 */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A 32-bit unsigned integer. */
  nextU32(): number {
    this.#state = (this.#state + 0x9e3779b9) >>> 0;
    return mix32(this.#state);
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextU32() / 2 ** 32;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A float in [min, max]; min when they are equal. */
  between(min: number, max: number): number {
    return max <= min ? min : min + this.next() * (max - min);
  }

  /** An exponentially distributed gap with the given mean (Poisson arrivals). */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }
}

function mix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * An independent stream for one purpose: `stream(seed, 'outbound', 'r2-cn', 7)` is the same
 * generator in every run, whatever other streams drew in between. Each call attempt gets its own
 * stream, so timing on the line (which call ends first) never shifts another call's draws.
 */
export function stream(seed: number, ...labels: (string | number)[]): Rng {
  // FNV-1a over the labels, then the seed folded in through the finaliser.
  let h = 0x811c9dc5;
  for (const ch of labels.join('\u0000')) {
    h ^= ch.codePointAt(0) as number;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return new Rng(mix32(h ^ mix32(seed >>> 0)));
}

/**
 * Why a number or number pattern cannot be generated, or undefined when it can. The syntax is the
 * dialplan's (src/routing/pattern.ts): a literal number, or "_" followed by digits, `*`, `#`, `+`,
 * X (0-9), Z (1-9), N (2-9) and digit sets such as [1-5]; the open-ended `.` and `!` have no
 * length to generate and are refused.
 */
export function numberSourceError(source: string): string | undefined {
  if (source.length === 0) return 'must not be empty';
  if (!source.startsWith('_')) {
    return /^\+?[0-9*#]+$/.test(source)
      ? undefined
      : `"${source}" is neither a number (digits, * and #) nor a pattern (starts with "_", e.g. "_0108888XXXX")`;
  }
  const body = source.slice(1);
  if (body.length === 0) return '"_" alone is not a pattern: add digits, X, Z, N or [..]';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (/[0-9*#+XxZzNn]/.test(c)) continue;
    if (c === '[') {
      const end = body.indexOf(']', i);
      const set = end < 0 ? '' : body.slice(i + 1, end);
      if (end < 0 || !/^([0-9](-[0-9])?)+$/.test(set))
        return `"${source}": "[" at position ${i + 2} must open a digit set like [1-5] or [137-9]`;
      for (const m of set.matchAll(/([0-9])-([0-9])/g))
        if ((m[1] as string) > (m[2] as string)) return `"${source}": range ${m[0]} runs backwards`;
      i = end;
      continue;
    }
    if (c === '.' || c === '!')
      return `"${source}": "${c}" matches numbers of any length; a generated number needs a fixed length`;
    return `"${source}": "${c}" at position ${i + 2} is not a digit, *, #, X, Z, N or [..]`;
  }
  return undefined;
}

function digitSet(set: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < set.length; i++) {
    const a = set[i] as string;
    if (set[i + 1] === '-') {
      const b = set[i + 2] as string;
      for (let d = Number(a); d <= Number(b); d++) out.push(String(d));
      i += 2;
    } else out.push(a);
  }
  return out;
}

/** One number from a literal or pattern (checked by numberSourceError), digits drawn from `rng`. */
export function expandNumber(source: string, rng: Rng): string {
  if (!source.startsWith('_')) return source;
  const body = source.slice(1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === 'X' || c === 'x') out += String(rng.below(10));
    else if (c === 'Z' || c === 'z') out += String(1 + rng.below(9));
    else if (c === 'N' || c === 'n') out += String(2 + rng.below(8));
    else if (c === '[') {
      const end = body.indexOf(']', i);
      const choices = digitSet(body.slice(i + 1, end));
      out += choices[rng.below(choices.length)] as string;
      i = end;
    } else out += c;
  }
  return out;
}

/** The key of the entry drawn from a table of weights (keys in the table's order; weights >= 0). */
export function weighted<K extends string>(
  weights: readonly (readonly [K, number])[],
  rng: Rng,
): K {
  const total = weights.reduce((n, [, w]) => n + w, 0);
  let u = rng.next() * total;
  for (const [key, w] of weights) {
    if (u < w) return key;
    u -= w;
  }
  // Rounding at the top end: the last entry with any weight.
  return [...weights].reverse().find(([, w]) => w > 0)?.[0] ?? (weights[0]?.[0] as K);
}
