// SPDX-License-Identifier: GPL-2.0-or-later
// Checks a whole switch configuration: schema, trunks per signalling, then every cross-reference.

import { SwitchboardError } from '../core/errors.ts';
import { type FieldError, schemaErrors } from '../core/schema.ts';
import { mqttConfigErrors } from '../mqtt/config.ts';
import { patternError } from '../routing/pattern.ts';
import { type BoardSpans, validateTrunks } from '../trunks/validate.ts';
import { SwitchConfig } from './schema.ts';

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Uniqueness of `name` within a list. */
function uniqueNames(
  list: { name: string }[] | undefined,
  path: string,
  out: FieldError[],
): Set<string> {
  const seen = new Set<string>();
  (list ?? []).forEach((item, i) => {
    if (seen.has(item.name))
      out.push({ path: `${path}[${i}].name`, message: `"${item.name}" is used twice` });
    seen.add(item.name);
  });
  return seen;
}

function checkPattern(value: string | undefined, path: string, out: FieldError[]): void {
  if (value === undefined) return;
  const why = patternError(value);
  if (why) out.push({ path, message: why });
}

function crossErrors(c: SwitchConfig, board: BoardSpans | undefined): FieldError[] {
  const out: FieldError[] = [];
  const sys = c.system ?? {};
  if (sys.timezone !== undefined && !isTimeZone(sys.timezone))
    out.push({ path: 'system.timezone', message: `"${sys.timezone}" is not an IANA time zone` });

  // Spans: once each, framing and coding that fit the span type, on the board when it is known.
  const spans = new Map<number, { type: 'E1' | 'T1'; framing: string }>();
  (c.spans ?? []).forEach((s, i) => {
    const path = `spans[${i}]`;
    if (spans.has(s.span))
      out.push({ path: `${path}.span`, message: `span ${s.span} is configured twice` });
    const onBoard = board?.get(s.span);
    if (board && !onBoard)
      out.push({ path: `${path}.span`, message: `span ${s.span} is not on this board` });
    else if (onBoard && onBoard.type === 'analog')
      out.push({
        path: `${path}.span`,
        message: `span ${s.span} is an analog card, not an E1/T1 span`,
      });
    const type = s.type ?? (onBoard?.type === 'T1' ? 'T1' : 'E1');
    if (onBoard && onBoard.type !== 'analog' && s.type && s.type !== onBoard.type)
      out.push({
        path: `${path}.type`,
        message: `span ${s.span} is an ${onBoard.type} span on this board`,
      });
    if (type === 'E1') {
      if (s.framing !== 'ccs' && s.framing !== 'cas')
        out.push({
          path: `${path}.framing`,
          message: `an E1 span is framed "ccs" or "cas", not "${s.framing}"`,
        });
      if (s.coding === 'b8zs')
        out.push({
          path: `${path}.coding`,
          message: 'b8zs is T1 line coding: an E1 span takes "hdb3" or "ami"',
        });
    } else {
      if (s.framing !== 'esf' && s.framing !== 'd4')
        out.push({
          path: `${path}.framing`,
          message: `a T1 span is framed "esf" or "d4", not "${s.framing}"`,
        });
      if (s.coding === 'hdb3')
        out.push({
          path: `${path}.coding`,
          message: 'hdb3 is E1 line coding: a T1 span takes "b8zs" or "ami"',
        });
      if (s.crc4 !== undefined)
        out.push({
          path: `${path}.crc4`,
          message: 'CRC-4 is an E1 option: remove it on a T1 span',
        });
    }
    spans.set(s.span, { type, framing: s.framing });
  });

  // Trunks sit on configured spans with the framing their signalling needs.
  const trunkNames = new Set<string>();
  const analogTrunks = new Map<string, { signalling: string; ports: number }>();
  (c.trunks ?? []).forEach((t, i) => {
    trunkNames.add(t.name);
    if (t.signalling.startsWith('fx')) {
      const ports = t.ports;
      const count = Array.isArray(ports) ? ports.length : 0;
      analogTrunks.set(t.name, { signalling: t.signalling, ports: count });
      return;
    }
    const used =
      t.signalling === 'ss7'
        ? [
            ...new Set([
              ...((t.links as { span: number }[] | undefined) ?? []).map((l) => l.span),
              ...((t.cics as { span: number }[] | undefined) ?? []).map((x) => x.span),
            ]),
          ]
        : [t.span as number];
    for (const span of used) {
      const s = spans.get(span);
      if (!s) {
        out.push({
          path: `trunks[${i}]`,
          message: `span ${span} has no entry in spans: add its framing, coding and timing`,
        });
        continue;
      }
      const cas = s.framing === 'cas';
      if (t.signalling === 'mfcr2' && !cas)
        out.push({
          path: `trunks[${i}]`,
          message: `MFC-R2 needs span ${span} framed "cas", not "${s.framing}"`,
        });
      if (t.signalling !== 'mfcr2' && cas)
        out.push({
          path: `trunks[${i}]`,
          message: `${t.signalling} needs span ${span} framed "ccs", not "cas"`,
        });
    }
  });

  // Trunk groups name trunks; their names must not hide a trunk's (routes take either).
  const groups = uniqueNames(c.trunkGroups, 'trunkGroups', out);
  (c.trunkGroups ?? []).forEach((g, i) => {
    if (trunkNames.has(g.name))
      out.push({ path: `trunkGroups[${i}].name`, message: `"${g.name}" already names a trunk` });
    g.trunks.forEach((t, j) => {
      if (!trunkNames.has(t))
        out.push({ path: `trunkGroups[${i}].trunks[${j}]`, message: `no trunk is named "${t}"` });
    });
  });

  const conditions = uniqueNames(c.timeConditions, 'timeConditions', out);
  (c.timeConditions ?? []).forEach((tc, i) => {
    if (tc.timezone !== undefined && !isTimeZone(tc.timezone))
      out.push({
        path: `timeConditions[${i}].timezone`,
        message: `"${tc.timezone}" is not an IANA time zone`,
      });
    tc.hours.forEach((h, j) => {
      if (h.from >= h.to)
        out.push({
          path: `timeConditions[${i}].hours[${j}].to`,
          message: `must be later than from (${h.from})`,
        });
    });
    (tc.holidays ?? []).forEach((h, j) => {
      for (const [key, day] of [
        ['date', h.date],
        ['to', h.to],
      ] as const)
        if (day !== undefined && Number.isNaN(Date.parse(`${day}T00:00:00Z`)))
          out.push({
            path: `timeConditions[${i}].holidays[${j}].${key}`,
            message: `"${day}" is not a date`,
          });
      if (h.to !== undefined && h.to < h.date)
        out.push({
          path: `timeConditions[${i}].holidays[${j}].to`,
          message: `must not be before date (${h.date})`,
        });
    });
  });
  const regions = uniqueNames(c.regions, 'regions', out);

  for (const side of ['inbound', 'outbound'] as const)
    (c.blacklists?.[side] ?? []).forEach((e, i) => {
      checkPattern(e.number, `blacklists.${side}[${i}].number`, out);
    });

  const extensions = new Set<string>();
  (c.extensions ?? []).forEach((e, i) => {
    const path = `extensions[${i}]`;
    if (extensions.has(e.number))
      out.push({ path: `${path}.number`, message: `extension ${e.number} is defined twice` });
    extensions.add(e.number);
    const a = analogTrunks.get(e.trunk);
    if (!a)
      out.push({
        path: `${path}.trunk`,
        message: `"${e.trunk}" is not an analog trunk (a phone port)`,
      });
    else if (!a.signalling.startsWith('fxo'))
      out.push({
        path: `${path}.trunk`,
        message: `"${e.trunk}" has ${a.signalling} signalling: phones hang on FXS ports, whose signalling is fxo_ls or fxo_ks`,
      });
  });

  const outbound = uniqueNames(c.routes?.outbound, 'routes.outbound', out);
  (c.routes?.outbound ?? []).forEach((r, i) => {
    const path = `routes.outbound[${i}]`;
    checkPattern(r.called, `${path}.called`, out);
    for (const m of ['called_manipulation', 'calling_manipulation'] as const)
      checkPattern(r[m]?.replace?.match, `${path}.${m}.replace.match`, out);
    r.trunkGroups.forEach((g, j) => {
      if (!groups.has(g))
        out.push({ path: `${path}.trunkGroups[${j}]`, message: `no trunk group is named "${g}"` });
    });
  });

  uniqueNames(c.routes?.inbound, 'routes.inbound', out);
  (c.routes?.inbound ?? []).forEach((r, i) => {
    const path = `routes.inbound[${i}]`;
    checkPattern(r.called, `${path}.called`, out);
    checkPattern(r.calling, `${path}.calling`, out);
    for (const m of ['called_manipulation', 'calling_manipulation'] as const)
      checkPattern(r[m]?.replace?.match, `${path}.${m}.replace.match`, out);
    (r.trunks ?? []).forEach((t, j) => {
      if (!trunkNames.has(t) && !groups.has(t))
        out.push({
          path: `${path}.trunks[${j}]`,
          message: `no trunk or trunk group is named "${t}"`,
        });
    });
    (r.regions ?? []).forEach((g, j) => {
      if (!regions.has(g))
        out.push({ path: `${path}.regions[${j}]`, message: `no region is named "${g}"` });
    });
    if (r.time && !conditions.has(r.time.condition))
      out.push({
        path: `${path}.time.condition`,
        message: `no time condition is named "${r.time.condition}"`,
      });
    const d = r.destination;
    if (d.type === 'trunk' && !outbound.has(d.route))
      out.push({
        path: `${path}.destination.route`,
        message: `no outbound route is named "${d.route}"`,
      });
    if (d.type === 'extension' && !extensions.has(d.extension))
      out.push({
        path: `${path}.destination.extension`,
        message: `no extension ${d.extension} is defined`,
      });
  });
  out.push(...mqttConfigErrors(c.mqtt));
  return out;
}

/**
 * Validates a whole configuration and returns it typed. Every refused field is named
 * (`routes.inbound[2].time.condition: no time condition is named "office"`).
 * @throws SwitchboardError E_CONFIG_FIELD with `details` = every FieldError
 */
export function validateConfig(input: unknown, board?: BoardSpans): SwitchConfig {
  let errors = schemaErrors(SwitchConfig, input);
  if (errors.length === 0) {
    const c = input as SwitchConfig;
    try {
      validateTrunks({ trunks: c.trunks ?? [] }, board);
    } catch (err) {
      if (!(err instanceof SwitchboardError) || err.code !== 'E_CONFIG_FIELD') throw err;
      errors = [...(err.details as FieldError[])];
    }
    if (errors.length === 0) errors = crossErrors(c, board);
  }
  if (errors.length > 0) {
    const first = errors[0] as FieldError;
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    throw new SwitchboardError('E_CONFIG_FIELD', `${first.path}: ${first.message}${more}`, {
      details: errors,
    });
  }
  return input as SwitchConfig;
}
