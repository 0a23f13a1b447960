// SPDX-License-Identifier: GPL-2.0-or-later
// What changed between two configurations, in installer paths (`trunks[name=pri1].switchtype`).

import { isDeepStrictEqual } from 'node:util';
import type { SwitchConfig } from './schema.ts';

/**
 * One change. `reorder` is reported for lists where order decides (routes: the first match
 * wins) when the items both sides have come in another order; `before`/`after` are then the
 * names in their old and new order.
 */
export interface ConfigChange {
  path: string;
  op: 'add' | 'remove' | 'change' | 'reorder';
  before?: unknown;
  after?: unknown;
}

/**
 * Lists whose items are compared by a key field rather than by position, so that inserting or
 * moving one item is not reported as a change of every item after it.
 */
const KEYED: Readonly<Record<string, string>> = {
  spans: 'span',
  trunks: 'name',
  trunkGroups: 'name',
  timeConditions: 'name',
  regions: 'name',
  'blacklists.inbound': 'number',
  'blacklists.outbound': 'number',
  'routes.inbound': 'name',
  'routes.outbound': 'name',
  extensions: 'number',
};

/** Keyed lists whose order is meaningful. */
const ORDERED = new Set(['routes.inbound', 'routes.outbound']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `[name=pri1]`; a key that could be misread inside the brackets is quoted. */
function keyPart(field: string, key: unknown): string {
  const text = String(key);
  return /^[A-Za-z0-9_.+*#-]+$/.test(text)
    ? `[${field}=${text}]`
    : `[${field}=${JSON.stringify(text)}]`;
}

/** Items by key, or undefined when a key is missing or repeated (then positions are compared). */
function byKey(list: unknown[], field: string): Map<unknown, unknown> | undefined {
  const map = new Map<unknown, unknown>();
  for (const item of list) {
    if (!isPlainObject(item) || item[field] === undefined || map.has(item[field])) return undefined;
    map.set(item[field], item);
  }
  return map;
}

function walk(a: unknown, b: unknown, path: string, schemaPath: string, out: ConfigChange[]): void {
  if (isDeepStrictEqual(a, b)) return;
  const field = KEYED[schemaPath];
  // A list or section that is absent means the same as an empty one.
  if (field !== undefined && (Array.isArray(a) || Array.isArray(b))) {
    const left = Array.isArray(a) ? a : a === undefined ? [] : undefined;
    const right = Array.isArray(b) ? b : b === undefined ? [] : undefined;
    const lk = left && byKey(left, field);
    const rk = right && byKey(right, field);
    if (lk && rk) {
      for (const [key, item] of lk)
        if (!rk.has(key))
          out.push({ path: `${path}${keyPart(field, key)}`, op: 'remove', before: item });
      for (const [key, item] of rk) {
        const p = `${path}${keyPart(field, key)}`;
        if (!lk.has(key)) out.push({ path: p, op: 'add', after: item });
        else walk(lk.get(key), item, p, `${schemaPath}[]`, out);
      }
      if (ORDERED.has(schemaPath)) {
        const before = [...lk.keys()].filter((k) => rk.has(k));
        const after = [...rk.keys()].filter((k) => lk.has(k));
        if (!isDeepStrictEqual(before, after))
          out.push({ path, op: 'reorder', before: [...lk.keys()], after: [...rk.keys()] });
      }
      return;
    }
  }
  if (isPlainObject(a) || isPlainObject(b)) {
    const left = isPlainObject(a) ? a : a === undefined ? {} : undefined;
    const right = isPlainObject(b) ? b : b === undefined ? {} : undefined;
    if (left && right) {
      for (const key of new Set([...Object.keys(left), ...Object.keys(right)])) {
        const p = path === '' ? key : `${path}.${key}`;
        const sp = schemaPath === '' ? key : `${schemaPath}.${key}`;
        const l = left[key];
        const r = right[key];
        if (l === undefined && r === undefined) continue;
        if (l === undefined && !isPlainObject(r) && !(KEYED[sp] && Array.isArray(r)))
          out.push({ path: p, op: 'add', after: r });
        else if (r === undefined && !isPlainObject(l) && !(KEYED[sp] && Array.isArray(l)))
          out.push({ path: p, op: 'remove', before: l });
        else walk(l, r, p, sp, out);
      }
      return;
    }
  }
  // Scalars, unkeyed lists (a trunk group's hunting order, office hours) and changes of kind
  // are reported whole: their parts mean little apart.
  out.push({ path: path === '' ? '(top level)' : path, op: 'change', before: a, after: b });
}

/**
 * The changes that turn `a` into `b`. Named items (trunks, trunk groups, routes, time
 * conditions, regions) are matched by name, spans by span number, extensions and blacklist
 * entries by number, and their fields compared one by one; other lists and scalars are
 * compared whole. A missing section or list and an empty one count as the same.
 */
export function diffConfigs(a: SwitchConfig, b: SwitchConfig): ConfigChange[] {
  const out: ConfigChange[] = [];
  walk(a, b, '', '', out);
  return out;
}
