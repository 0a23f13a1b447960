// SPDX-License-Identifier: GPL-2.0-or-later
// Call records in the store: written once each and durably, searched by time, trunk, number, outcome.

import { Readable } from 'node:stream';
import { type Static, Type } from '@sinclair/typebox';
import type { Statement } from 'better-sqlite3';
import { stringify } from 'csv-stringify';
import { SwitchboardError } from '../core/errors.ts';
import { schemaErrors } from '../core/schema.ts';
import { type Db, type Migration, migrate } from '../store/db.ts';
import { type CallRecord, type CdrLeg, DISPOSITIONS } from './record.ts';

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'call records with their search columns',
    up: `
      CREATE TABLE cdr (
        id TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        direction TEXT NOT NULL,
        called TEXT NOT NULL,
        calling TEXT NOT NULL,
        trunk TEXT NOT NULL,
        b_trunk TEXT,
        route TEXT,
        disposition TEXT NOT NULL,
        cause INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        billable_ms INTEGER NOT NULL,
        record TEXT NOT NULL
      );
      CREATE INDEX cdr_started ON cdr (started_at, id);
      CREATE INDEX cdr_trunk ON cdr (trunk, started_at);
      CREATE INDEX cdr_b_trunk ON cdr (b_trunk, started_at);
      CREATE INDEX cdr_disposition ON cdr (disposition, started_at);
    `,
  },
];

const DIRECTIONS = ['inbound', 'outbound', 'internal'] as const;

/** Dates alone count from midnight UTC; times need their zone, since the box's is not the viewer's. */
function isoTime(description: string) {
  return Type.String({
    pattern:
      '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:?\\d{2}))?$',
    mustBe: 'a date "YYYY-MM-DD" or a time with its zone ("2025-05-01T08:00:00+08:00")',
    description,
  });
}

/** A search of the call records; every field narrows it. */
export const CdrFilter = Type.Object(
  {
    from: Type.Optional(isoTime('calls that started at or after this time')),
    to: Type.Optional(isoTime('calls that started before this time')),
    trunk: Type.Optional(
      Type.String({ minLength: 1, maxLength: 40, description: 'either leg on this trunk' }),
    ),
    number: Type.Optional(
      Type.String({
        pattern: '^[0-9*#+]{1,32}$',
        mustBe: 'up to 32 digits (0-9, *, #, +)',
        description:
          'the called or the calling number contains these digits anywhere (a substring, so "0755" finds 0755... and ...0755...)',
      }),
    ),
    direction: Type.Optional(Type.Union(DIRECTIONS.map((d) => Type.Literal(d)))),
    disposition: Type.Optional(Type.Union(DISPOSITIONS.map((d) => Type.Literal(d)))),
    cause: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 127, description: 'Q.850 cause that ended the call' }),
    ),
    route: Type.Optional(
      Type.String({ minLength: 1, maxLength: 40, description: 'the route that took the call' }),
    ),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1000,
        default: 100,
        description: 'records per page; default 100, at most 1000',
      }),
    ),
    offset: Type.Optional(
      Type.Integer({ minimum: 0, default: 0, description: 'records skipped (paging); default 0' }),
    ),
  },
  { additionalProperties: false },
);
export type CdrFilter = Static<typeof CdrFilter>;

/** The filter of an export: every record that matches, however many (so no paging). */
export const CdrExportFilter = Type.Omit(CdrFilter, ['limit', 'offset'], {
  additionalProperties: false,
});
export type CdrExportFilter = Static<typeof CdrExportFilter>;

function refuse(schema: typeof CdrFilter | typeof CdrExportFilter, filter: unknown): void {
  const errors = schemaErrors(schema, filter);
  const f = (errors.length === 0 ? filter : {}) as CdrFilter;
  for (const key of ['from', 'to'] as const) {
    const v = f[key];
    if (v !== undefined && Number.isNaN(Date.parse(v)))
      errors.push({ path: key, message: `"${v}" is not a date and time` });
  }
  if (errors.length > 0) {
    const first = errors[0] as { path: string; message: string };
    throw new SwitchboardError('E_REQUEST_FIELD', `${first.path}: ${first.message}`, {
      details: errors,
    });
  }
}

function where(f: CdrExportFilter): { sql: string; params: (string | number)[] } {
  const terms: string[] = [];
  const params: (string | number)[] = [];
  if (f.from !== undefined) {
    terms.push('started_at >= ?');
    params.push(new Date(f.from).toISOString());
  }
  if (f.to !== undefined) {
    terms.push('started_at < ?');
    params.push(new Date(f.to).toISOString());
  }
  if (f.trunk !== undefined) {
    terms.push('(trunk = ? OR b_trunk = ?)');
    params.push(f.trunk, f.trunk);
  }
  if (f.number !== undefined) {
    // The schema allows digits, *, # and + only: nothing LIKE would read as a wildcard.
    terms.push("(called LIKE '%' || ? || '%' OR calling LIKE '%' || ? || '%')");
    params.push(f.number, f.number);
  }
  for (const key of ['direction', 'disposition', 'cause', 'route'] as const) {
    const v = f[key];
    if (v === undefined) continue;
    terms.push(`${key} = ?`);
    params.push(v);
  }
  return { sql: terms.length === 0 ? '' : `WHERE ${terms.join(' AND ')}`, params };
}

function badRecord(field: string, why: string): never {
  throw new SwitchboardError('E_CDR_FIELD', `call record ${field}: ${why}`, {
    details: [{ path: field, message: why }],
  });
}

/** Checks what the columns are made of; the rest of the record is stored as it came. */
function checkRecord(r: CallRecord): string {
  if (typeof r !== 'object' || r === null) badRecord('(top level)', 'must be an object');
  if (typeof r.id !== 'string' || r.id.length === 0 || r.id.length > 200)
    badRecord('id', 'must be a string of 1-200 characters');
  const started = Date.parse(r.startedAt);
  if (typeof r.startedAt !== 'string' || Number.isNaN(started))
    badRecord('startedAt', 'must be an ISO time');
  if (!(DIRECTIONS as readonly string[]).includes(r.direction))
    badRecord('direction', `must be ${DIRECTIONS.join(', ')}`);
  if (!(DISPOSITIONS as readonly string[]).includes(r.disposition))
    badRecord('disposition', `must be one of ${DISPOSITIONS.join(', ')}`);
  for (const key of ['called', 'calling'] as const)
    if (typeof r[key] !== 'string') badRecord(key, 'must be a string');
  for (const key of ['cause', 'durationMs', 'billableMs'] as const)
    if (!Number.isInteger(r[key]) || r[key] < 0) badRecord(key, 'must be a whole number ≥ 0');
  if (typeof r.a?.trunk !== 'string') badRecord('a.trunk', 'must be a string');
  // Stored in UTC so that the text order of started_at is time order whatever zone came in.
  return new Date(started).toISOString();
}

/** CSV columns: the call, then each leg's trunk, channel, CIC, numbers, times and cause. */
const LEG_FIELDS = [
  'trunk',
  'span',
  'channel',
  'cic',
  'called',
  'calling',
  'started_at',
  'answered_at',
  'ended_at',
  'cause',
  'cause_name',
  'released_by',
] as const;
export const CSV_COLUMNS = [
  'id',
  'direction',
  'started_at',
  'answered_at',
  'ended_at',
  'duration_ms',
  'billable_ms',
  'called',
  'calling',
  'presentation',
  'route',
  'destination',
  'disposition',
  'cause',
  'cause_name',
  ...LEG_FIELDS.map((f) => `a_${f}`),
  ...LEG_FIELDS.map((f) => `b_${f}`),
  'tries',
] as const;

function legCells(leg: CdrLeg | undefined): unknown[] {
  return [
    leg?.trunk,
    leg?.span,
    leg?.channel,
    leg?.cic,
    leg?.called,
    leg?.calling,
    leg?.startedAt,
    leg?.answeredAt,
    leg?.endedAt,
    leg?.cause,
    leg?.causeName,
    leg?.releasedBy,
  ];
}

function csvRow(r: CallRecord): unknown[] {
  return [
    r.id,
    r.direction,
    r.startedAt,
    r.answeredAt,
    r.endedAt,
    r.durationMs,
    r.billableMs,
    r.called,
    r.calling,
    r.callingPresentation,
    r.route,
    r.destination,
    r.disposition,
    r.cause,
    r.causeName,
    ...legCells(r.a),
    ...legCells(r.b),
    // "pri1 34 NORMAL_CIRCUIT_CONGESTION; pri2 17 USER_BUSY": one cell, in the order tried.
    (r.tries ?? []).map((t) => `${t.trunk} ${t.cause} ${t.causeName}`).join('; '),
  ];
}

/** Records read per statement while exporting: the memory an export needs, whatever its size. */
const EXPORT_BATCH = 500;

/**
 * The call records. Each write is its own transaction (or one per `writeMany` batch) on a
 * database opened with synchronous=FULL, so a record is on disk when the call returns: a kill -9
 * or a power cut loses none that was acknowledged.
 */
export class CdrStore {
  readonly #db: Db;
  readonly #insert: Statement<unknown[]>;

  constructor(db: Db) {
    this.#db = db;
    migrate(db, 'cdr', MIGRATIONS);
    this.#insert = db.prepare(
      `INSERT INTO cdr (id, started_at, direction, called, calling, trunk, b_trunk, route,
         disposition, cause, duration_ms, billable_ms, record)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO NOTHING`,
    );
  }

  #write(r: CallRecord): boolean {
    const startedAt = checkRecord(r);
    return (
      this.#insert.run(
        r.id,
        startedAt,
        r.direction,
        r.called,
        r.calling,
        r.a.trunk,
        r.b?.trunk ?? null,
        r.route ?? null,
        r.disposition,
        r.cause,
        r.durationMs,
        r.billableMs,
        JSON.stringify(r),
      ).changes === 1
    );
  }

  /**
   * Stores one record, durably when this returns. Writing a record whose id is stored already
   * (a retry after a crash) changes nothing.
   * @returns true when the record is new
   * @throws SwitchboardError E_CDR_FIELD naming a field the columns cannot be made of
   */
  write(record: CallRecord): boolean {
    return this.#write(record);
  }

  /**
   * Stores several records in one transaction (one disk sync for all): all or none.
   * @returns how many were new
   */
  writeMany(records: readonly CallRecord[]): number {
    return this.#db.transaction(() => records.filter((r) => this.#write(r)).length)();
  }

  /**
   * One record.
   * @throws SwitchboardError E_CDR_UNKNOWN naming the id
   */
  get(id: string): CallRecord {
    const json = this.#db.prepare('SELECT record FROM cdr WHERE id = ?').pluck().get(id) as
      | string
      | undefined;
    if (json === undefined)
      throw new SwitchboardError('E_CDR_UNKNOWN', `there is no call record "${id}"`);
    return JSON.parse(json) as CallRecord;
  }

  /**
   * The records that match, newest first, one page of them, and how many match in all.
   * @throws SwitchboardError E_REQUEST_FIELD naming a wrong filter field
   */
  query(filter: CdrFilter = {}): { total: number; records: CallRecord[] } {
    refuse(CdrFilter, filter);
    const { sql, params } = where(filter);
    const total = this.#db
      .prepare(`SELECT COUNT(*) FROM cdr ${sql}`)
      .pluck()
      .get(...params);
    const records = this.#db
      .prepare(`SELECT record FROM cdr ${sql} ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?`)
      .pluck()
      .all(...params, filter.limit ?? 100, filter.offset ?? 0) as string[];
    return { total: total as number, records: records.map((r) => JSON.parse(r) as CallRecord) };
  }

  /**
   * Every matching record, newest first, as CSV with a header row (CSV_COLUMNS). The records
   * are read EXPORT_BATCH at a time as the stream is consumed (a keyset page, so the whole
   * export never sits in memory). Each page is read whole rather than by one statement
   * iterator held open across the stream: an open iterator would make the connection refuse the
   * CDR writes of calls ending meanwhile.
   * @throws SwitchboardError E_REQUEST_FIELD naming a wrong filter field (before any output)
   */
  toCsv(filter: CdrExportFilter = {}): Readable {
    refuse(CdrExportFilter, filter);
    const { sql, params } = where(filter);
    const page = this.#db.prepare(
      `SELECT started_at, id, record FROM cdr ${sql === '' ? 'WHERE' : `${sql} AND`}
       (started_at, id) < (?, ?) ORDER BY started_at DESC, id DESC LIMIT ${EXPORT_BATCH}`,
    );
    function* rows(): Generator<unknown[]> {
      // '~' sorts after every ISO time and id character: the first page starts at the newest.
      let after: [string, string] = ['~', '~'];
      for (;;) {
        const batch = page.all(...params, ...after) as {
          started_at: string;
          id: string;
          record: string;
        }[];
        for (const row of batch) yield csvRow(JSON.parse(row.record) as CallRecord);
        const last = batch[batch.length - 1];
        if (!last || batch.length < EXPORT_BATCH) return;
        after = [last.started_at, last.id];
      }
    }
    const csv = stringify({ header: true, columns: [...CSV_COLUMNS] });
    const source = Readable.from(rows());
    source.on('error', (err) => csv.destroy(err));
    return source.pipe(csv);
  }

  /** How many records are stored. */
  count(): number {
    return this.#db.prepare('SELECT COUNT(*) FROM cdr').pluck().get() as number;
  }
}
