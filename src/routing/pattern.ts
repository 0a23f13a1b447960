// SPDX-License-Identifier: GPL-2.0-or-later
// Number patterns in the dialplan syntax installers know from Asterisk: "_010XXXXXXXX", "_1[3-9]X.".

/**
 * A pattern is either a literal number ("95588": matches exactly that), or, with a leading
 * underscore, a sequence of:
 * - a digit, `*`, `#` or `+`: itself;
 * - `X`: any digit 0-9; `Z`: 1-9; `N`: 2-9;
 * - `[...]`: one digit from a set of digits and ranges (`[1-5]`, `[137-9]`);
 * - `.` at the end: one or more characters more; `!` at the end: zero or more.
 * An empty pattern is refused; "_." matches every non-empty number, "_!" every number.
 */
export interface Pattern {
  source: string;
  test(number: string): boolean;
  /** How specific the pattern is (literal characters count more than classes), for tie-breaks. */
  specificity: number;
  /**
   * Could `number` followed by one or more characters still match? (Overlap dialling: wait for
   * more digits while this is true.) "_010XXXXXXXX" can extend "010", "_X." extends every
   * number that starts with a digit, "95588" extends "955".
   */
  canExtend(number: string): boolean;
}

/** Why `source` is not a pattern, or undefined when it is one. */
export function patternError(source: string): string | undefined {
  try {
    compilePattern(source);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Compiles a pattern; throws an Error whose message says what is wrong with it. */
export function compilePattern(source: string): Pattern {
  if (typeof source !== 'string' || source.length === 0) throw new Error('must not be empty');
  if (!source.startsWith('_')) {
    if (!/^\+?[0-9*#]+$/.test(source))
      throw new Error(
        `"${source}" is neither a number (digits, * and #) nor a pattern (starts with "_")`,
      );
    return {
      source,
      test: (n) => n === source,
      specificity: source.length * 2,
      canExtend: (n) => n.length < source.length && source.startsWith(n),
    };
  }
  // One regular expression per position, so that a prefix of a number can be matched against
  // the same prefix of the pattern (canExtend).
  const tokens: string[] = [];
  let tail: '' | '.+' | '.*' = '';
  let specificity = 0;
  const body = source.slice(1);
  if (body.length === 0)
    throw new Error('"_" alone is not a pattern: add digits, X, Z, N, [..], . or !');
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    const last = i === body.length - 1;
    if (/[0-9*#+]/.test(c)) {
      tokens.push(c === '*' || c === '+' ? `\\${c}` : c);
      specificity += 2;
    } else if (c === 'X' || c === 'x') {
      tokens.push('[0-9]');
      specificity += 1;
    } else if (c === 'Z' || c === 'z') {
      tokens.push('[1-9]');
      specificity += 1;
    } else if (c === 'N' || c === 'n') {
      tokens.push('[2-9]');
      specificity += 1;
    } else if (c === '[') {
      const end = body.indexOf(']', i);
      if (end < 0) throw new Error(`"${source}": "[" at position ${i + 2} is never closed`);
      const set = body.slice(i + 1, end);
      if (!/^([0-9](-[0-9])?)+$/.test(set))
        throw new Error(
          `"${source}": "[${set}]" must list digits and ranges like [1-5] or [137-9]`,
        );
      for (const m of set.matchAll(/([0-9])-([0-9])/g))
        if ((m[1] as string) > (m[2] as string))
          throw new Error(`"${source}": range ${m[0]} runs backwards`);
      tokens.push(`[${set}]`);
      specificity += 1;
      i = end;
    } else if ((c === '.' || c === '!') && last) {
      tail = c === '.' ? '.+' : '.*';
    } else if (c === '.' || c === '!') {
      throw new Error(`"${source}": "${c}" may only end a pattern`);
    } else {
      throw new Error(
        `"${source}": "${c}" at position ${i + 2} is not a digit, *, #, X, Z, N, [..], . or !`,
      );
    }
  }
  const regex = new RegExp(`^${tokens.join('')}${tail}$`);
  return {
    source,
    test: (n) => regex.test(n),
    specificity,
    canExtend: (n) => {
      // Without a tail, n must be a proper prefix of the fixed positions; with one, the fixed
      // positions it covers must match (whatever follows them, the tail takes more).
      if (n.length >= tokens.length && tail === '') return false;
      const head = tokens.slice(0, Math.min(n.length, tokens.length)).join('');
      const rest = n.length > tokens.length ? '.*' : '';
      return new RegExp(`^${head}${rest}$`).test(n);
    },
  };
}
