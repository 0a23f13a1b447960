// SPDX-License-Identifier: GPL-2.0-or-later
// Checks a flow before it is stored or run: schema, edges, reachability, instant loops, names it refers to.

import { type TSchema, Type } from '@sinclair/typebox';
import { SwitchboardError } from '../core/errors.ts';
import { type FieldError, schemaErrors } from '../core/schema.ts';
import { patternError } from '../routing/pattern.ts';
import { parseJsonPath, templateError, templateVars } from './expr.ts';
import {
  BUILTIN_VARS,
  CONDITION_KINDS,
  FlowDoc,
  type FlowLang,
  type FlowNode,
  NODE_ID_PATTERN,
  NODE_TYPES,
  type NodeType,
  nodeSchemas,
  PLAY_ITEM_KINDS,
  type PlayItem,
  TARGET_KINDS,
  VAR_NAME_PATTERN,
  VAR_OPERATORS,
  WRITABLE_BUILTINS,
} from './schema.ts';

/**
 * What a flow may name outside itself. Each check is made only when its callback is given:
 * the store checks structure alone, the API checks everything against the running switch.
 */
export interface FlowContext {
  /** Is there a prompt `name` in the `lang` prompt set (or the en fallback)? */
  promptExists?(name: string, lang: FlowLang): boolean;
  /** Is there a stored flow of that name? (A flow naming itself is always accepted.) */
  flowExists?(name: string): boolean;
  queueExists?(name: string): boolean;
  /** Is there a time condition of that name in the switch configuration? */
  timeConditionExists?(name: string): boolean;
}

/**
 * Node kinds that take no time: a loop made only of them would spin without ever waiting for
 * the caller. (http waits on the network and transfer on another flow or party, so they break
 * such a loop; the runtime guard catches what a static check cannot see, such as two flows
 * transferring to each other.)
 */
export const ZERO_DURATION_TYPES: ReadonlySet<NodeType> = new Set(['answer', 'set', 'branch']);

const NODE_ID = new RegExp(NODE_ID_PATTERN);
const VAR_NAME = new RegExp(VAR_NAME_PATTERN);
const BUILTINS = new Set<string>(BUILTIN_VARS);
const MENU_DIGITS = new Set('0123456789*#'.split(''));

/** Node schemas with the variant fields open: those are checked variant by variant below. */
const SHALLOW = nodeSchemas(Type.Unknown(), Type.Unknown(), Type.Unknown());

/** The top level with the nodes open: each node is checked against its own kind. */
const ENVELOPE = Type.Object(
  {
    ...FlowDoc.properties,
    nodes: Type.Record(Type.String(), Type.Unknown(), {
      maxProperties: FlowDoc.properties.nodes.maxProperties,
    }),
  },
  { additionalProperties: false },
);

function join(prefix: string, path: string): string {
  if (path === '(top level)') return prefix;
  return path.startsWith('[') ? prefix + path : `${prefix}.${path}`;
}

function under(prefix: string, errors: FieldError[]): FieldError[] {
  return errors.map((e) => ({ path: join(prefix, e.path), message: e.message }));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks a value that is one of several shapes told apart by which key it has. */
function variantErrors(
  value: unknown,
  path: string,
  kinds: Record<string, TSchema>,
): { kind?: string; errors: FieldError[] } {
  const names = Object.keys(kinds);
  const list = `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
  if (!isObject(value)) return { errors: [{ path, message: `must be a mapping with ${list}` }] };
  const present = names.filter((k) => Object.hasOwn(value, k));
  if (present.length === 0) return { errors: [{ path, message: `must have one of ${list}` }] };
  if (present.length > 1)
    return { errors: [{ path, message: `must have only one of ${present.join(', ')}` }] };
  const kind = present[0] as string;
  return { kind, errors: under(path, schemaErrors(kinds[kind] as TSchema, value)) };
}

/** One edge of a node: where it is written and the node it names. */
interface Edge {
  path: string;
  to: string;
}

function edgesOf(id: string, node: FlowNode): Edge[] {
  const p = `nodes.${id}`;
  const out: Edge[] = [];
  const add = (field: string, to: unknown) => {
    if (typeof to === 'string') out.push({ path: `${p}.${field}`, to });
  };
  switch (node.type) {
    case 'collect':
      add('next', node.next);
      add('onTimeout', node.onTimeout);
      break;
    case 'menu':
      for (const [digit, to] of Object.entries(node.choices)) add(`choices.${digit}`, to);
      add('onInvalid', node.onInvalid);
      add('onTimeout', node.onTimeout);
      break;
    case 'branch':
      node.cases.forEach((c, i) => {
        add(`cases[${i}].next`, c.next);
      });
      add('else', node.else);
      break;
    case 'http':
      add('next', node.next);
      add('onError', node.onError);
      break;
    case 'transfer':
      add('next', node.next);
      add('onFail', node.onFail);
      break;
    case 'hangup':
      break;
    default:
      add('next', node.next);
  }
  return out;
}

/** Every playlist of a node, with its path. */
function playlistsOf(id: string, node: FlowNode): [string, readonly PlayItem[]][] {
  const p = `nodes.${id}`;
  const out: [string, readonly PlayItem[] | undefined][] = [];
  if (node.type === 'play') out.push([`${p}.items`, node.items]);
  if (node.type === 'collect') out.push([`${p}.prompt`, node.prompt]);
  if (node.type === 'menu')
    out.push(
      [`${p}.prompt`, node.prompt],
      [`${p}.invalidPrompt`, node.invalidPrompt],
      [`${p}.timeoutPrompt`, node.timeoutPrompt],
    );
  if (node.type === 'voicemail') out.push([`${p}.greeting`, node.greeting]);
  return out.filter((e): e is [string, readonly PlayItem[]] => Array.isArray(e[1]));
}

/** Every template of a node, with its path (playlists included). */
function templatesOf(id: string, node: FlowNode): [string, string][] {
  const p = `nodes.${id}`;
  const out: [string, string][] = [];
  for (const [path, items] of playlistsOf(id, node))
    items.forEach((item, i) => {
      for (const key of ['tts', 'number', 'digits', 'date', 'amount'] as const)
        if (key in item)
          out.push([`${path}[${i}].${key}`, (item as Record<string, string>)[key] as string]);
    });
  switch (node.type) {
    case 'set':
      for (const [name, value] of Object.entries(node.vars)) out.push([`${p}.vars.${name}`, value]);
      break;
    case 'http':
      out.push([`${p}.url`, node.url]);
      for (const [name, value] of Object.entries(node.headers ?? {}))
        out.push([`${p}.headers.${name}`, value]);
      if (node.body !== undefined) out.push([`${p}.body`, node.body]);
      break;
    case 'voicemail':
      out.push([`${p}.mailbox`, node.mailbox]);
      break;
    case 'conference':
      out.push([`${p}.room`, node.room]);
      break;
    case 'transfer':
      if ('number' in node.to) out.push([`${p}.to.number`, node.to.number]);
      break;
    case 'branch':
      node.cases.forEach((c, i) => {
        if (!('var' in c.when)) return;
        for (const op of ['eq', 'ne', 'lt', 'gt'] as const) {
          const v = c.when[op];
          if (v !== undefined) out.push([`${p}.cases[${i}].when.${op}`, v]);
        }
      });
      break;
  }
  return out;
}

/** The variables a node sets, with the path of each. */
function setsOf(id: string, node: FlowNode): [string, string][] {
  const p = `nodes.${id}`;
  switch (node.type) {
    case 'collect':
    case 'record':
      return [[`${p}.var`, node.var]];
    case 'menu':
      return node.var === undefined ? [] : [[`${p}.var`, node.var]];
    case 'set':
      return Object.keys(node.vars).map((name) => [`${p}.vars.${name}`, name]);
    case 'http': {
      const out: [string, string][] = Object.keys(node.map ?? {}).map((name) => [
        `${p}.map.${name}`,
        name,
      ]);
      if (node.statusVar !== undefined) out.push([`${p}.statusVar`, node.statusVar]);
      return out;
    }
    default:
      return [];
  }
}

/** Checks one node's own fields (schema, variants, keys, ranges); true when it is sound. */
function checkNode(id: string, raw: unknown, out: FieldError[]): boolean {
  const p = `nodes.${id}`;
  if (!NODE_ID.test(id)) {
    out.push({
      path: p,
      message: `"${id}" is not a node id (a letter, then up to 39 letters, digits, "_" or "-")`,
    });
    return false;
  }
  if (!isObject(raw)) {
    out.push({ path: p, message: 'must be a mapping with a type' });
    return false;
  }
  const type = raw.type;
  if (typeof type !== 'string' || !(NODE_TYPES as string[]).includes(type)) {
    out.push({
      path: `${p}.type`,
      message:
        type === undefined
          ? 'is required'
          : `must be ${NODE_TYPES.slice(0, -1)
              .map((t) => `"${t}"`)
              .join(', ')} or "${NODE_TYPES[NODE_TYPES.length - 1]}"`,
    });
    return false;
  }
  const before = out.length;
  out.push(...under(p, schemaErrors(SHALLOW[type as NodeType], raw)));
  const lists: [string, unknown][] = [];
  if (type === 'play') lists.push([`${p}.items`, raw.items]);
  if (type === 'collect' || type === 'menu') lists.push([`${p}.prompt`, raw.prompt]);
  if (type === 'menu')
    lists.push(
      [`${p}.invalidPrompt`, raw.invalidPrompt],
      [`${p}.timeoutPrompt`, raw.timeoutPrompt],
    );
  if (type === 'voicemail') lists.push([`${p}.greeting`, raw.greeting]);
  for (const [path, list] of lists)
    if (Array.isArray(list))
      list.forEach((item, i) => {
        out.push(...variantErrors(item, `${path}[${i}]`, PLAY_ITEM_KINDS).errors);
      });
  if (type === 'transfer' && raw.to !== undefined)
    out.push(...variantErrors(raw.to, `${p}.to`, TARGET_KINDS).errors);
  if (type === 'branch' && Array.isArray(raw.cases))
    raw.cases.forEach((c, i) => {
      if (!isObject(c) || c.when === undefined) return;
      const path = `${p}.cases[${i}].when`;
      const { kind, errors } = variantErrors(c.when, path, CONDITION_KINDS);
      out.push(...errors);
      if (errors.length > 0 || !isObject(c.when)) return;
      const when = c.when;
      if (kind === 'var') {
        const ops = VAR_OPERATORS.filter((op) => when[op] !== undefined);
        if (ops.length !== 1)
          out.push({
            path,
            message:
              ops.length === 0
                ? `needs one operator: ${VAR_OPERATORS.join(', ')}`
                : `has ${ops.join(' and ')}: one operator per condition (add a case for each)`,
          });
        if (typeof when.matches === 'string')
          try {
            new RegExp(when.matches);
          } catch (err) {
            out.push({
              path: `${path}.matches`,
              message: `is not a regular expression: ${(err as Error).message}`,
            });
          }
        if (typeof when.pattern === 'string') {
          const why = patternError(when.pattern);
          if (why) out.push({ path: `${path}.pattern`, message: why });
        }
      }
      for (const key of ['calling', 'called'] as const)
        if (kind === key && typeof when[key] === 'string') {
          const why = patternError(when[key] as string);
          if (why) out.push({ path: `${path}.${key}`, message: why });
        }
      if (kind === 'time' && isObject(when.time)) {
        const zone = when.time.timezone;
        if (typeof zone === 'string' && !isTimeZone(zone))
          out.push({
            path: `${path}.time.timezone`,
            message: `"${zone}" is not an IANA time zone`,
          });
      }
    });
  if (type === 'menu' && isObject(raw.choices)) {
    const keys = Object.keys(raw.choices);
    if (keys.length === 0)
      out.push({ path: `${p}.choices`, message: 'must offer at least one digit' });
    for (const digit of keys)
      if (!MENU_DIGITS.has(digit))
        out.push({
          path: `${p}.choices.${digit}`,
          message: `"${digit}" is not a digit (0-9, * or #)`,
        });
  }
  if (type === 'collect') {
    const min = typeof raw.min === 'number' ? raw.min : 1;
    const max = typeof raw.max === 'number' ? raw.max : 20;
    if (min > max) out.push({ path: `${p}.min`, message: `${min} is more than max (${max})` });
  }
  if (type === 'http') {
    if (isObject(raw.headers))
      for (const name of Object.keys(raw.headers))
        if (!/^[A-Za-z0-9-]{1,64}$/.test(name))
          out.push({
            path: `${p}.headers.${name}`,
            message: 'is not a header name (letters, digits, "-")',
          });
    if (isObject(raw.map))
      for (const [name, path] of Object.entries(raw.map))
        if (typeof path === 'string')
          try {
            parseJsonPath(path);
          } catch (err) {
            out.push({ path: `${p}.map.${name}`, message: (err as Error).message });
          }
    if (typeof raw.url === 'string' && !/^https?:\/\//i.test(raw.url))
      out.push({ path: `${p}.url`, message: 'must start with http:// or https://' });
  }
  return out.length === before;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * A loop made only of zero-duration nodes, found from `from`: the node ids in order, the
 * first repeated at the end, or undefined.
 */
function instantLoop(
  from: string,
  scc: ReadonlySet<string>,
  succ: (id: string) => string[],
): string[] | undefined {
  const back = new Map<string, string>();
  const queue = [from];
  while (queue.length > 0) {
    const at = queue.shift() as string;
    for (const n of succ(at)) {
      if (!scc.has(n)) continue;
      if (n === from) {
        const chain = [at];
        for (let x = at; x !== from; ) {
          x = back.get(x) as string;
          chain.unshift(x);
        }
        return [...chain, from];
      }
      if (!back.has(n)) {
        back.set(n, at);
        queue.push(n);
      }
    }
  }
  return undefined;
}

/** Strongly connected groups of the graph (Tarjan), each with more than one node or a self-loop. */
function loops(ids: string[], succ: (id: string) => string[]): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of succ(v)) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
    }
    if (low.get(v) === idx.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || succ(v).includes(v)) out.push(group.reverse());
    }
  };
  for (const id of ids) if (!idx.has(id)) visit(id);
  return out;
}

/**
 * Every error of a flow document, each naming the field (`nodes.menu1.choices.2: goes to node
 * "nope", which does not exist`); empty when the flow is sound. Never throws on bad input.
 */
export function validateFlow(doc: unknown, ctx: FlowContext = {}): FieldError[] {
  const out: FieldError[] = [];
  if (!isObject(doc)) return schemaErrors(FlowDoc, doc);
  out.push(...schemaErrors(ENVELOPE, doc));
  const rawNodes = isObject(doc.nodes) ? doc.nodes : {};
  const nodes = new Map<string, FlowNode>();
  for (const [id, raw] of Object.entries(rawNodes))
    if (checkNode(id, raw, out)) nodes.set(id, raw as FlowNode);
  // Ids that exist, sound or not: an edge to a broken node is not also a dangling edge.
  const exists = (id: string) => Object.hasOwn(rawNodes, id);
  const lang: FlowLang = doc.lang === 'zh' ? 'zh' : 'en';

  // Variables: declared ones, then every one a node sets; built-ins are the switch's.
  const known = new Set<string>(BUILTIN_VARS);
  if (isObject(doc.variables))
    for (const name of Object.keys(doc.variables)) {
      const path = `variables.${name}`;
      if (!VAR_NAME.test(name))
        out.push({
          path,
          message: 'is not a variable name (a letter or "_", then letters, digits or "_")',
        });
      else if (BUILTINS.has(name))
        out.push({ path, message: `is a built-in variable (${BUILTIN_VARS.join(', ')})` });
      known.add(name);
    }
  for (const [id, node] of nodes)
    for (const [path, name] of setsOf(id, node)) {
      if (!VAR_NAME.test(name))
        out.push({
          path,
          message: `"${name}" is not a variable name (a letter or "_", then letters, digits or "_")`,
        });
      else if (BUILTINS.has(name) && !WRITABLE_BUILTINS.includes(name))
        out.push({ path, message: `${name} is set by the switch and cannot be changed` });
      known.add(name);
    }
  for (const [id, node] of nodes) {
    for (const [path, text] of templatesOf(id, node)) {
      const why = templateError(text);
      if (why) {
        out.push({ path, message: why });
        continue;
      }
      for (const name of templateVars(text))
        if (!known.has(name))
          out.push({
            path,
            message: `reads variable "${name}", which no node sets and "variables" does not declare`,
          });
    }
    if (node.type === 'branch')
      node.cases.forEach((c, i) => {
        if ('var' in c.when && !known.has(c.when.var))
          out.push({
            path: `nodes.${id}.cases[${i}].when.var`,
            message: `"${c.when.var}" is a variable no node sets and "variables" does not declare`,
          });
      });
  }

  // Edges: every one goes to a node; every node is reachable from start.
  const start = typeof doc.start === 'string' ? doc.start : undefined;
  if (start !== undefined && NODE_ID.test(start) && !exists(start))
    out.push({ path: 'start', message: `goes to node "${start}", which does not exist` });
  const succ = new Map<string, string[]>();
  for (const [id, node] of nodes) {
    const edges = edgesOf(id, node);
    for (const e of edges)
      if (!exists(e.to))
        out.push({ path: e.path, message: `goes to node "${e.to}", which does not exist` });
    succ.set(
      id,
      edges.map((e) => e.to).filter((to) => exists(to)),
    );
  }
  if (start !== undefined && exists(start)) {
    const seen = new Set<string>([start]);
    const queue = [start];
    while (queue.length > 0)
      for (const n of succ.get(queue.shift() as string) ?? [])
        if (!seen.has(n)) {
          seen.add(n);
          queue.push(n);
        }
    for (const id of Object.keys(rawNodes))
      if (!seen.has(id))
        out.push({ path: `nodes.${id}`, message: `is not reachable from start "${start}"` });
  }

  // Loops that never wait: set -> branch -> set ... would spin the controller.
  const zero = [...nodes].filter(([, n]) => ZERO_DURATION_TYPES.has(n.type)).map(([id]) => id);
  const zeroSet = new Set(zero);
  const zeroSucc = (id: string) => (succ.get(id) ?? []).filter((n) => zeroSet.has(n));
  for (const group of loops(zero, zeroSucc)) {
    const first = group[0] as string;
    const path = instantLoop(first, new Set(group), zeroSucc) ?? [...group, first];
    out.push({
      path: `nodes.${first}`,
      message: `is in a loop of nodes that neither play, wait for input nor record (${path.join(' -> ')}): the call would spin without end`,
    });
  }

  // Names outside the flow.
  for (const [id, node] of nodes) {
    const p = `nodes.${id}`;
    if (ctx.promptExists)
      for (const [path, items] of playlistsOf(id, node))
        items.forEach((item, i) => {
          const needs: [string, string][] = [];
          if ('prompt' in item)
            needs.push([`${path}[${i}].prompt`, item.prompt.replace(/\.wav$/i, '')]);
          if ('amount' in item) {
            const cur = (item.currency ?? 'CNY').toLowerCase();
            const field = `${path}[${i}].currency`;
            needs.push([field, `currency/${cur}`]);
            if (lang === 'zh' && cur === 'cny')
              needs.push([field, 'currency/cny-jiao'], [field, 'currency/cny-fen']);
            else needs.push([field, `currency/${cur}-minor`]);
          }
          for (const [field, name] of needs)
            if (!ctx.promptExists?.(name, lang))
              out.push({
                path: field,
                message:
                  lang === 'en'
                    ? `prompt "${name}" is not in the en prompt set`
                    : `prompt "${name}" is in neither the ${lang} nor the en prompt set`,
              });
        });
    if (node.type === 'transfer') {
      const to = node.to;
      if ('flow' in to && to.flow !== doc.name && ctx.flowExists && !ctx.flowExists(to.flow))
        out.push({ path: `${p}.to.flow`, message: `there is no flow "${to.flow}"` });
      if ('queue' in to && ctx.queueExists && !ctx.queueExists(to.queue))
        out.push({ path: `${p}.to.queue`, message: `there is no queue "${to.queue}"` });
    }
    if (node.type === 'branch' && ctx.timeConditionExists)
      node.cases.forEach((c, i) => {
        if (
          'time' in c.when &&
          typeof c.when.time === 'string' &&
          !ctx.timeConditionExists?.(c.when.time)
        )
          out.push({
            path: `${p}.cases[${i}].when.time`,
            message: `there is no time condition "${c.when.time}" in the configuration`,
          });
      });
  }
  return out;
}

// ---- the flow a call runs -----------------------------------------------------------------------

type DeepReadonly<T> = T extends (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

declare const checked: unique symbol;

/**
 * A validated, deeply frozen flow version: what the runtime runs. Only compileFlow makes one,
 * so a call cannot be handed a document nobody checked, and nothing (a save of a new version,
 * an editor holding the same object) can change the flow under a call that is running it.
 */
export interface ActiveFlow {
  readonly name: string;
  readonly version: number;
  readonly doc: DeepReadonly<FlowDoc>;
  readonly [checked]: true;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Checks a flow document and freezes a copy of it as version `version`.
 * @throws SwitchboardError E_FLOW_INVALID with every error in details (FieldError[])
 */
export function compileFlow(doc: unknown, version: number, ctx: FlowContext = {}): ActiveFlow {
  const errors = validateFlow(doc, ctx);
  if (errors.length > 0)
    throw new SwitchboardError(
      'E_FLOW_INVALID',
      `the flow is refused: ${errors
        .slice(0, 5)
        .map((e) => `${e.path}: ${e.message}`)
        .join('; ')}${errors.length > 5 ? ` (and ${errors.length - 5} more)` : ''}`,
      { details: errors },
    );
  const copy = deepFreeze(structuredClone(doc) as FlowDoc);
  return Object.freeze({ name: copy.name, version, doc: copy }) as unknown as ActiveFlow;
}
