// SPDX-License-Identifier: GPL-2.0-or-later
// Reading the configuration's JSON Schema (GET /api/config/schema) for forms: field kinds, text values, paths.

/** The parts of JSON Schema that TypeBox emits and the forms use. */
export interface Schema {
  type?: string;
  const?: unknown;
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  patternProperties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  items?: Schema;
  description?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  mustBe?: string;
}

/**
 * How a value is edited:
 * - object: a fieldset of its properties; variant: a choice of object shapes by their `type`
 * - enum: a choice of constants; boolean; number; string
 * - enum-set: a list of constants (weekdays), as checkboxes
 * - objects: a list of objects, each a fieldset, with add, remove and reorder
 * - text-list: a list of strings or numbers, typed comma-separated
 * - record: name -> value pairs (timers), typed `T303=4000, T310=8000`
 * - mixed: a union of a string and something else (timeslots "1-15,17-31" or [1, 2]; point
 *   codes 2300 or "1-2-3"), typed as text
 * - any: an object without a schema of its own, edited as JSON
 */
export type FieldKind =
  | 'object'
  | 'variant'
  | 'enum'
  | 'boolean'
  | 'number'
  | 'string'
  | 'enum-set'
  | 'objects'
  | 'text-list'
  | 'record'
  | 'mixed'
  | 'any';

/** The constants of a union of literals, or undefined when it is not one. */
export function choices(s: Schema): unknown[] | undefined {
  if (!s.anyOf || s.anyOf.length === 0) return undefined;
  const out = s.anyOf.map((a) => a.const);
  return out.every((c) => c !== undefined) ? out : undefined;
}

/** The `type` constant of each shape of a union of objects (Destination), or undefined. */
export function variants(s: Schema): { tag: string; schema: Schema }[] | undefined {
  if (!s.anyOf || s.anyOf.length < 2) return undefined;
  const out: { tag: string; schema: Schema }[] = [];
  for (const a of s.anyOf) {
    const tag = a.properties?.type?.const;
    if (a.type !== 'object' || typeof tag !== 'string') return undefined;
    out.push({ tag, schema: a });
  }
  return out;
}

export function kindOf(s: Schema): FieldKind {
  if (s.const !== undefined) return 'enum';
  if (choices(s)) return 'enum';
  if (variants(s)) return 'variant';
  if (s.anyOf) return 'mixed';
  switch (s.type) {
    case 'object':
      if (s.properties && Object.keys(s.properties).length > 0) return 'object';
      if (s.patternProperties) return 'record';
      return 'any';
    case 'array': {
      const item = s.items ?? {};
      if (choices(item)) return 'enum-set';
      if (item.type === 'object' || variants(item)) return 'objects';
      return 'text-list';
    }
    case 'boolean':
      return 'boolean';
    case 'integer':
    case 'number':
      return 'number';
    default:
      return 'string';
  }
}

function isNumberSchema(s: Schema | undefined): boolean {
  return s?.type === 'integer' || s?.type === 'number';
}

/** A typed value as the text of its input. */
export function toText(s: Schema, value: unknown): string {
  if (value === undefined || value === null) return '';
  switch (kindOf(s)) {
    case 'text-list':
      return Array.isArray(value) ? value.join(', ') : String(value);
    case 'record':
      return typeof value === 'object'
        ? Object.entries(value as Record<string, unknown>)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(', ')
        : String(value);
    case 'mixed':
      return Array.isArray(value) ? value.join(',') : String(value);
    case 'any':
      return JSON.stringify(value);
    default:
      return String(value);
  }
}

/**
 * The text an installer typed as the value the configuration takes; an empty text is
 * undefined (the field is left out, so its default applies or the server says it is needed).
 * Text that cannot be converted is passed on as typed: the server's check names the field.
 */
export function fromText(s: Schema, text: string): unknown {
  const t = text.trim();
  if (t === '') return undefined;
  switch (kindOf(s)) {
    case 'number': {
      const n = Number(t);
      return Number.isFinite(n) ? n : t;
    }
    case 'text-list': {
      const parts = t
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== '');
      return isNumberSchema(s.items)
        ? parts.map((p) => (Number.isFinite(Number(p)) ? Number(p) : p))
        : parts;
    }
    case 'record': {
      const out: Record<string, unknown> = {};
      const value = Object.values(s.patternProperties ?? {})[0];
      for (const part of t.split(/[,\n]/)) {
        const p = part.trim();
        if (p === '') continue;
        const eq = p.indexOf('=');
        const k = (eq < 0 ? p : p.slice(0, eq)).trim();
        const v = eq < 0 ? '' : p.slice(eq + 1).trim();
        out[k] = isNumberSchema(value) && Number.isFinite(Number(v)) && v !== '' ? Number(v) : v;
      }
      return out;
    }
    case 'mixed': {
      const shapes = s.anyOf ?? [];
      if (/^-?\d+$/.test(t) && shapes.some(isNumberSchema)) return Number(t);
      if (shapes.some((a) => a.type === 'string')) return t;
      if (shapes.some((a) => a.type === 'array'))
        return t.split(',').map((p) => (Number.isFinite(Number(p)) ? Number(p) : p.trim()));
      return t;
    }
    case 'any':
      try {
        return JSON.parse(t);
      } catch {
        return t;
      }
    default:
      return text;
  }
}

/** `spans` + 0 -> `spans[0]`; `spans[0]` + `framing` -> `spans[0].framing` (the API's field paths). */
export function pathJoin(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

/** The value at an API field path (`routes.inbound[2].destination`). */
export function getAt(root: unknown, path: string): unknown {
  let cur: unknown = root;
  for (const part of splitPath(path)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[part];
  }
  return cur;
}

export function splitPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g))
    out.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  return out;
}

/**
 * A copy of `root` with the value at `path` replaced (or removed when `value` is undefined;
 * objects and arrays on the way are created as needed). `root` itself is not changed.
 */
export function setAt(root: unknown, path: string, value: unknown): unknown {
  const parts = splitPath(path);
  const put = (node: unknown, i: number): unknown => {
    const key = parts[i] as string | number;
    const container: Record<string | number, unknown> | unknown[] = Array.isArray(node)
      ? [...node]
      : node !== null && typeof node === 'object'
        ? { ...(node as Record<string, unknown>) }
        : typeof key === 'number'
          ? []
          : {};
    const c = container as Record<string | number, unknown>;
    if (i === parts.length - 1) {
      if (value === undefined && !Array.isArray(container)) delete c[key];
      else c[key] = value;
    } else c[key] = put(c[key], i + 1);
    return container;
  };
  return parts.length === 0 ? value : put(root, 0);
}

/** The field errors at `path` itself, and those under it (for a fieldset's summary). */
export function errorsAt(
  errors: readonly { path: string; message: string }[],
  path: string,
): { here: string[]; below: number } {
  const here: string[] = [];
  let below = 0;
  for (const e of errors) {
    if (e.path === path) here.push(e.message);
    else if (e.path.startsWith(`${path}.`) || e.path.startsWith(`${path}[`)) below++;
  }
  return { here, below };
}

/** A DOM id for a field path: `spans[0].framing` -> `cf-spans-0-framing`. */
export function fieldId(path: string): string {
  return `cf-${path.replace(/[^A-Za-z0-9]+/g, '-').replace(/-$/, '')}`;
}

/** The schema at a path under `root` (through objects, arrays, records and variants by value). */
export function schemaAt(root: Schema, path: string, value: unknown): Schema | undefined {
  let s: Schema | undefined = root;
  let v: unknown = value;
  for (const part of splitPath(path)) {
    if (!s) return undefined;
    const vs = variants(s);
    if (vs) {
      const tag = (v as { type?: unknown } | undefined)?.type;
      s = vs.find((x) => x.tag === tag)?.schema;
      if (!s) return undefined;
    }
    if (typeof part === 'number') s = s.items;
    else if (s.properties?.[part]) s = s.properties[part];
    else if (s.patternProperties) s = Object.values(s.patternProperties)[0];
    else return undefined;
    v = v === null || typeof v !== 'object' ? undefined : (v as Record<string, unknown>)[part];
  }
  return s;
}
