// SPDX-License-Identifier: GPL-2.0-or-later
// The small languages inside a flow: `${var}` templates and JSON paths ($.customer.name) into web answers.

import { VAR_NAME_PATTERN } from './schema.ts';

const VAR_NAME = new RegExp(VAR_NAME_PATTERN);

type Part = { text: string } | { var: string };

/**
 * Splits a template into text and variable references. `${name}` is a reference; a `$` not
 * followed by `{` is plain text. Throws an Error saying what is wrong (an unclosed `${`, a name
 * that is not a variable name).
 */
function parse(template: string): Part[] {
  const parts: Part[] = [];
  let at = 0;
  for (;;) {
    const open = template.indexOf('${', at);
    if (open < 0) break;
    const close = template.indexOf('}', open + 2);
    if (close < 0) throw new Error(`"\${" at position ${open + 1} is never closed with "}"`);
    const name = template.slice(open + 2, close);
    if (!VAR_NAME.test(name))
      throw new Error(`"\${${name}}" does not name a variable (letters, digits and "_")`);
    if (open > at) parts.push({ text: template.slice(at, open) });
    parts.push({ var: name });
    at = close + 1;
  }
  if (at < template.length) parts.push({ text: template.slice(at) });
  return parts;
}

/** What is wrong with a template, or undefined when it is one. */
export function templateError(template: string): string | undefined {
  try {
    parse(template);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The variables a template reads (an invalid template reads none). */
export function templateVars(template: string): string[] {
  try {
    return parse(template).flatMap((p) => ('var' in p ? [p.var] : []));
  } catch {
    return [];
  }
}

/**
 * Fills a template in: each `${name}` becomes `lookup(name)` ('' when unset), passed through
 * `encode` when given (URL templates encode what a caller typed, so it cannot change the path).
 * Templates are validated when a flow is saved; one that still fails here is used as text.
 */
export function renderTemplate(
  template: string,
  lookup: (name: string) => string | undefined,
  encode?: (value: string) => string,
): string {
  let parts: Part[];
  try {
    parts = parse(template);
  } catch {
    return template;
  }
  return parts
    .map((p) => {
      if ('text' in p) return p.text;
      const v = lookup(p.var) ?? '';
      return encode ? encode(v) : v;
    })
    .join('');
}

// ---- JSON paths ---------------------------------------------------------------------------------

export type JsonPath = readonly (string | number)[];

/**
 * Parses the JSON path subset a web answer is read with: `$`, then `.name`, `[3]`, `['any key']`
 * or `["any key"]` steps (`$.customer.name`, `$.items[0].id`, `$['first name']`). Wildcards,
 * filters and slices are refused: one path, one value. Throws an Error naming the position.
 */
export function parseJsonPath(path: string): JsonPath {
  if (!path.startsWith('$')) throw new Error(`"${path}" must start with "$"`);
  const steps: (string | number)[] = [];
  let i = 1;
  while (i < path.length) {
    const rest = path.slice(i);
    let m = /^\.([A-Za-z_$][A-Za-z0-9_$-]*)/.exec(rest);
    if (m) {
      steps.push(m[1] as string);
      i += m[0].length;
      continue;
    }
    m = /^\[(0|[1-9][0-9]{0,8})\]/.exec(rest);
    if (m) {
      steps.push(Number(m[1]));
      i += m[0].length;
      continue;
    }
    m = /^\[(?:'([^'\\]*)'|"([^"\\]*)")\]/.exec(rest);
    if (m) {
      steps.push((m[1] ?? m[2]) as string);
      i += m[0].length;
      continue;
    }
    throw new Error(
      `"${path}": position ${i + 1} is not a .name, [index] or ['key'] step (wildcards and filters are not supported)`,
    );
  }
  return steps;
}

/** The value at `path` in `value`, undefined when a step finds nothing. */
export function jsonPathGet(value: unknown, path: JsonPath): unknown {
  let at: unknown = value;
  for (const step of path) {
    if (typeof step === 'number') {
      if (!Array.isArray(at) || step >= at.length) return undefined;
      at = at[step];
    } else {
      if (typeof at !== 'object' || at === null || Array.isArray(at) || !Object.hasOwn(at, step))
        return undefined;
      at = (at as Record<string, unknown>)[step];
    }
  }
  return at;
}

/** A JSON value as a variable holds it: text as is, numbers and booleans written, null and nothing as "". */
export function variableText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
