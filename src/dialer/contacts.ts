// SPDX-License-Identifier: GPL-2.0-or-later
// Contact lists for campaigns: CSV, XLSX and TXT in, numbers normalised to the dial string, every refused row reported.

import { parse as parseCsv } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import {
  type CountryCode,
  getCountryCallingCode,
  isSupportedCountry,
  parsePhoneNumberFromString,
} from 'libphonenumber-js/max';
import { SwitchboardError } from '../core/errors.ts';
import { parseDateTime } from './schedule.ts';

/** A column by its header name ("Phone") or its 1-based position (3). */
export type ColumnRef = string | number;

/** Which column holds what. Only `number` is required. */
export interface ColumnMapping {
  number: ColumnRef;
  name?: ColumnRef;
  /** IANA zone of the contact: called only inside the campaign's windows in this zone too. */
  timezone?: ColumnRef;
  /**
   * Call back at (not before) this time: ISO with offset, or local time in the contact's zone.
   * The campaign's windows still apply: a call-back asked for at 22:00 waits for the next window.
   */
  callbackAt?: ColumnRef;
  /** Variables for the IVR flow or agent screen, by variable name. */
  vars?: Record<string, ColumnRef>;
}

export type ContactFormat = 'csv' | 'xlsx' | 'txt';

export interface NumberOptions {
  /** ISO 3166 region numbers without a country code belong to; default CN. */
  region?: string;
  /**
   * national (default): the digits the switch dials from `region`: 13812345678, 01062881234
   * (with the trunk prefix 0), 00 and the country code for other countries (0014155552671);
   * e164: +8613812345678.
   */
  output?: 'national' | 'e164';
}

export interface ImportOptions extends NumberOptions {
  format: ContactFormat;
  /** Required for csv and xlsx; txt lists are always `number[<TAB|,>name]`. */
  mapping?: ColumnMapping;
  /** csv: the first row names the columns; default true (false: refer to columns by position). */
  header?: boolean;
  /** xlsx: the sheet by name; default the first. */
  sheet?: string;
  /** Zone of callbackAt times written without an offset for contacts without a zone; default UTC. */
  timezone?: string;
  /** Largest list accepted, bytes, 1..209715200; default 20971520 (20 MiB). */
  maxBytes?: number;
  /** Most data rows accepted, 1..1000000; default 200000. */
  maxRows?: number;
}

/** A contact as imported. */
export interface Contact {
  /** Where it came from: the row (CSV, XLSX) or line (TXT) of the list, counted from 1. */
  row: number;
  /** The dial string (NumberOptions.output). */
  number: string;
  name?: string;
  timezone?: string;
  /** ms since the epoch. */
  callbackAt?: number;
  vars: Record<string, string>;
}

export interface ImportReport {
  /** Data rows read (not counting the header and empty rows). */
  rows: number;
  imported: number;
  /** Rows whose number (normalised) an earlier row already has: the first one is kept. */
  duplicates: { row: number; number: string; firstRow: number }[];
  /** Rows refused, one entry per wrong field (`row` for a broken row). */
  invalid: { row: number; field: string; value: string; reason: string }[];
}

export interface ImportResult {
  contacts: Contact[];
  report: ImportReport;
}

const DEFAULT_MAX_BYTES = 20 * 1024 * 1024;
const DEFAULT_MAX_ROWS = 200_000;

/** A row of the list as text cells, with the row number the user sees. */
interface RawRow {
  row: number;
  cells: string[];
}

function formatError(message: string, details?: unknown): SwitchboardError {
  return new SwitchboardError('E_CONTACTS_FORMAT', message, { details });
}

/** Full-width digits and plus (common in lists typed with a Chinese input method) to ASCII. */
function halfWidth(s: string): string {
  return s.replace(/[\uFF10-\uFF19\uFF0B]/g, (c) =>
    c === '\uFF0B' ? '+' : String.fromCharCode(c.charCodeAt(0) - 0xff10 + 0x30),
  );
}

/**
 * A written phone number to the dial string the switch sends, or why it cannot be one.
 * Accepts what people type: "+8613812345678", "86 138 1234 5678", "0086-138...",
 * "(010) 6288-1234", full-width digits. A number that libphonenumber's full metadata does not
 * hold valid for its country (wrong length, unassigned range) is refused.
 */
export function normaliseNumber(
  raw: string,
  opts: NumberOptions = {},
): { number: string } | { reason: string } {
  const region = (opts.region ?? 'CN').toUpperCase();
  if (!isSupportedCountry(region)) return { reason: `region ${region} is not a known country` };
  const text = halfWidth(raw).trim();
  if (text === '') return { reason: 'is empty' };
  if (!/^[0-9+()\-.\s/]+$/.test(text))
    return { reason: 'is not a phone number (letters or other signs in it)' };
  const p = parsePhoneNumberFromString(text, region as CountryCode);
  if (!p) return { reason: 'is not a phone number' };
  if (!p.isValid())
    return { reason: `is not a valid number in ${p.country ?? `+${p.countryCallingCode}`}` };
  if (opts.output === 'e164') return { number: p.number };
  if (p.countryCallingCode === getCountryCallingCode(region as CountryCode))
    return { number: p.format('NATIONAL').replace(/\D/g, '') };
  const idd = p.format('IDD', { fromCountry: region as CountryCode }).replace(/\D/g, '');
  return { number: idd === '' ? p.number : idd };
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function decodeText(data: Uint8Array): string {
  try {
    // fatal: a GBK (or other non-UTF-8) file is refused rather than imported as mojibake;
    // TextDecoder drops a leading byte-order mark by itself.
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    throw formatError(
      'the list is not UTF-8 text (GBK and other encodings are not read: save it as "CSV UTF-8")',
    );
  }
}

/** The delimiter of a CSV: whichever of , ; and tab occurs most in its first line (outside quotes). */
export function sniffDelimiter(text: string): ',' | ';' | '\t' {
  const counts = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '\n' || c === '\r')) break;
    else if (!quoted && c in counts) counts[c as keyof typeof counts]++;
  }
  if (counts[';'] > counts[','] && counts[';'] >= counts['\t']) return ';';
  if (counts['\t'] > counts[',']) return '\t';
  return ',';
}

/** Byte offsets where lines start (after \n, \r\n or a lone \r), for row numbers. */
function lineStarts(buf: Uint8Array): number[] {
  const starts = [0];
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0x0a || (buf[i] === 0x0d && buf[i + 1] !== 0x0a)) starts.push(i + 1);
  }
  return starts;
}

/** The 1-based line of the first character at or after `offset` that is not a line break. */
function lineAt(buf: Uint8Array, starts: number[], offset: number): number {
  let at = offset;
  while (at < buf.length && (buf[at] === 0x0a || buf[at] === 0x0d)) at++;
  let lo = 0;
  let hi = starts.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((starts[mid] as number) <= at) lo = mid;
    else hi = mid;
  }
  return lo + 1;
}

function csvRows(text: string, broken: ImportReport['invalid']): RawRow[] {
  // Parsed as bytes: csv-parse reports where each record ends as a byte offset, and from those
  // come the rows a text editor or Excel shows (its own line count takes a CRLF inside quotes
  // for two lines).
  const buf = new TextEncoder().encode(text);
  const starts = lineStarts(buf);
  const delimiter = sniffDelimiter(text);
  // Where the last readable record ended: a quote never closed starts after it.
  let lastEnd = 0;
  const recordStarts: number[] = [];
  const records = parseCsv(buf, {
    delimiter,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_skip: (err) => {
      // With relax_quotes the one error left is a quote never closed: the rest of the file is
      // one unreadable field from its line on.
      if (err) {
        const line = lineAt(buf, starts, lastEnd);
        broken.push({
          row: line,
          field: 'row',
          value: '',
          reason: `cannot be read: a quote opened on line ${line} or after is never closed, the rest of the list is lost`,
        });
      }
      return undefined;
    },
    on_record: (record, context) => {
      recordStarts.push(lastEnd);
      lastEnd = context.bytes;
      return record;
    },
  });
  return records.map((cells, i) => ({ row: lineAt(buf, starts, recordStarts[i] ?? 0), cells }));
}

function txtRows(text: string): { rows: RawRow[] } {
  const rows: RawRow[] = [];
  text.split(/\r\n|\n|\r/).forEach((line, i) => {
    if (line.trim() === '') return;
    const sep = line.search(/[\t,]/);
    rows.push({
      row: i + 1,
      cells: sep < 0 ? [line.trim()] : [line.slice(0, sep).trim(), line.slice(sep + 1).trim()],
    });
  });
  return { rows };
}

/** A cell of exceljs as the text the user sees (dates as local wall-clock "YYYY-MM-DD HH:MM:SS"). */
function cellText(v: ExcelJS.CellValue): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) {
    // Excel stores wall-clock times without a zone; exceljs hands them over as if UTC.
    return Number.isNaN(v.getTime()) ? '' : v.toISOString().slice(0, 19).replace('T', ' ');
  }
  if (typeof v === 'number') return Number.isInteger(v) ? v.toFixed(0) : String(v);
  if (typeof v === 'string' || typeof v === 'boolean') return String(v);
  if ('richText' in v) return v.richText.map((t) => t.text).join('');
  if ('error' in v) return '';
  if ('formula' in v || 'sharedFormula' in v)
    return cellText((v as { result?: ExcelJS.CellValue }).result);
  if ('text' in v) return String(v.text);
  return '';
}

async function xlsxRows(data: Uint8Array, sheet: string | undefined, maxRows: number) {
  const wb = new ExcelJS.Workbook();
  try {
    // exceljs declares its own Buffer type; at run time JSZip reads any Uint8Array.
    await wb.xlsx.load(data as unknown as ExcelJS.Buffer);
  } catch (err) {
    throw formatError(`the list is not an XLSX workbook: ${String((err as Error).message)}`);
  }
  const ws = sheet === undefined ? wb.worksheets[0] : wb.getWorksheet(sheet);
  if (!ws)
    throw formatError(
      sheet === undefined
        ? 'the workbook has no sheet'
        : `sheet: the workbook has no sheet "${sheet}" (it has ${wb.worksheets.map((w) => `"${w.name}"`).join(', ')})`,
      { field: 'sheet', value: sheet },
    );
  if (ws.actualRowCount > maxRows + 1) tooManyRows(ws.actualRowCount - 1, maxRows);
  const rows: RawRow[] = [];
  ws.eachRow({ includeEmpty: false }, (row, n) => {
    const values = row.values as ExcelJS.CellValue[];
    // row.values is 1-based: index 0 is always empty.
    const cells: string[] = [];
    for (let i = 1; i < values.length; i++) cells.push(cellText(values[i]).trim());
    if (cells.some((c) => c !== '')) rows.push({ row: n, cells });
  });
  return rows;
}

function tooManyRows(rows: number, maxRows: number): never {
  throw new SwitchboardError(
    'E_CONTACTS_LIMIT',
    `the list has ${rows} rows, more than the ${maxRows} one import takes: split it`,
    { details: { field: 'rows', value: rows, max: maxRows } },
  );
}

/** Resolves a mapping entry to a 0-based column index. */
function columnIndex(ref: ColumnRef, field: string, header: string[] | undefined): number {
  if (typeof ref === 'number') {
    if (Number.isInteger(ref) && ref >= 1 && ref <= 16384) return ref - 1;
    throw new SwitchboardError(
      'E_CONTACTS_MAPPING',
      `mapping.${field}: column ${ref} is not a column position (1, 2, 3 ...)`,
      { details: { field: `mapping.${field}`, value: ref } },
    );
  }
  if (/^[1-9][0-9]*$/.test(ref) && !header?.includes(ref)) return Number(ref) - 1;
  const names = header ?? [];
  let i = names.indexOf(ref);
  if (i < 0) i = names.findIndex((h) => h.trim().toLowerCase() === ref.trim().toLowerCase());
  if (i < 0)
    throw new SwitchboardError(
      'E_CONTACTS_MAPPING',
      header
        ? `mapping.${field}: the list has no column "${ref}" (its columns: ${names.map((h) => `"${h}"`).join(', ')})`
        : `mapping.${field}: the list has no header row, name columns by position (1, 2, 3 ...)`,
      { details: { field: `mapping.${field}`, value: ref } },
    );
  return i;
}

/**
 * Reads a contact list. Rows with a wrong field, broken rows (more or fewer columns than the
 * header, a quote never closed) and duplicate numbers are reported with their row and left
 * out; every other row is imported.
 * @throws SwitchboardError E_CONTACTS_LIMIT (too many bytes or rows), E_CONTACTS_FORMAT (not
 *   UTF-8, not a workbook, no such sheet, empty), E_CONTACTS_MAPPING (a column not in the list)
 */
export async function importContacts(data: Uint8Array, opts: ImportOptions): Promise<ImportResult> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxRows = opts.maxRows ?? DEFAULT_MAX_ROWS;
  if (data.byteLength > maxBytes)
    throw new SwitchboardError(
      'E_CONTACTS_LIMIT',
      `the list is ${data.byteLength} bytes, more than the ${maxBytes} one import takes: split it`,
      { details: { field: 'bytes', value: data.byteLength, max: maxBytes } },
    );
  const region = opts.region ?? 'CN';
  if (!isSupportedCountry(region.toUpperCase()))
    throw new SwitchboardError('E_CONTACTS_MAPPING', `region: "${region}" is not a known country`, {
      details: { field: 'region', value: region },
    });
  const defaultZone = opts.timezone ?? 'UTC';
  if (!isTimeZone(defaultZone))
    throw new SwitchboardError(
      'E_CONTACTS_MAPPING',
      `timezone: "${defaultZone}" is not an IANA time zone`,
      { details: { field: 'timezone', value: defaultZone } },
    );

  const invalid: ImportReport['invalid'] = [];
  let rows: RawRow[];
  let mapping: ColumnMapping;
  let hasHeader: boolean;
  if (opts.format === 'txt') {
    rows = txtRows(decodeText(data)).rows;
    mapping = { number: 1, name: 2 };
    hasHeader = false;
  } else {
    if (!opts.mapping)
      throw new SwitchboardError(
        'E_CONTACTS_MAPPING',
        'mapping: a CSV or XLSX list needs a column mapping (at least mapping.number)',
        { details: { field: 'mapping' } },
      );
    mapping = opts.mapping;
    hasHeader = opts.format === 'xlsx' || opts.header !== false;
    rows =
      opts.format === 'csv'
        ? csvRows(decodeText(data), invalid)
        : await xlsxRows(data, opts.sheet, maxRows);
  }
  const header = hasHeader ? rows.shift()?.cells.map((c) => c.trim()) : undefined;
  if (hasHeader && !header) throw formatError('the list is empty (not even a header row)');
  if (rows.length > maxRows) tooManyRows(rows.length, maxRows);
  // Records csv-parse could not read at all count as rows read.
  const unreadable = invalid.length;

  const col = {
    number: columnIndex(mapping.number, 'number', header),
    name: mapping.name === undefined ? undefined : columnIndex(mapping.name, 'name', header),
    timezone:
      mapping.timezone === undefined
        ? undefined
        : columnIndex(mapping.timezone, 'timezone', header),
    callbackAt:
      mapping.callbackAt === undefined
        ? undefined
        : columnIndex(mapping.callbackAt, 'callbackAt', header),
    vars: Object.entries(mapping.vars ?? {}).map(
      ([name, ref]) => [name, columnIndex(ref, `vars.${name}`, header)] as const,
    ),
  };

  const contacts: Contact[] = [];
  const duplicates: ImportReport['duplicates'] = [];
  const firstRow = new Map<string, number>();
  for (const { row, cells } of rows) {
    // CSV only: XLSX rows end at their last filled cell, so a short one is not broken.
    if (opts.format === 'csv' && header && cells.length !== header.length) {
      invalid.push({
        row,
        field: 'row',
        value: cells.join(','),
        reason: `has ${cells.length} columns, the header has ${header.length}`,
      });
      continue;
    }
    const cell = (i: number | undefined) => (i === undefined ? '' : (cells[i] ?? '').trim());
    const errors: ImportReport['invalid'] = [];
    const rawNumber = cell(col.number);
    const n = normaliseNumber(rawNumber, opts);
    if ('reason' in n) errors.push({ row, field: 'number', value: rawNumber, reason: n.reason });
    const zone = cell(col.timezone);
    if (zone !== '' && !isTimeZone(zone))
      errors.push({ row, field: 'timezone', value: zone, reason: 'is not an IANA time zone' });
    const when = cell(col.callbackAt);
    let callbackAt: number | undefined;
    if (when !== '') {
      callbackAt = parseDateTime(when, zone !== '' && isTimeZone(zone) ? zone : defaultZone);
      if (callbackAt === undefined)
        errors.push({
          row,
          field: 'callbackAt',
          value: when,
          reason: 'is not a date and time ("2025-05-01 09:30" or ISO 8601)',
        });
    }
    if (errors.length > 0 || 'reason' in n) {
      invalid.push(...errors);
      continue;
    }
    const first = firstRow.get(n.number);
    if (first !== undefined) {
      duplicates.push({ row, number: n.number, firstRow: first });
      continue;
    }
    firstRow.set(n.number, row);
    const vars: Record<string, string> = {};
    for (const [name, i] of col.vars) vars[name] = cell(i);
    const name = cell(col.name);
    contacts.push({
      row,
      number: n.number,
      ...(name === '' ? {} : { name }),
      ...(zone === '' ? {} : { timezone: zone }),
      ...(callbackAt === undefined ? {} : { callbackAt }),
      vars,
    });
  }
  invalid.sort((a, b) => a.row - b.row);
  return {
    contacts,
    report: { rows: rows.length + unreadable, imported: contacts.length, duplicates, invalid },
  };
}
