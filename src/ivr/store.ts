// SPDX-License-Identifier: GPL-2.0-or-later
// IVR flows as numbered versions (who, when, why; the newest runs) and each call's flow execution log.

import { SwitchboardError } from '../core/errors.ts';
import { type Db, type Migration, migrate } from '../store/db.ts';
import type { FlowLogEntry } from './runtime.ts';
import type { FlowDoc } from './schema.ts';
import { type ActiveFlow, compileFlow, type FlowContext } from './validate.ts';

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'flows, their versions and the per-call flow log',
    up: `
      CREATE TABLE ivr_flows (
        name TEXT PRIMARY KEY,
        -- Set when the flow is deleted: it is hidden, its versions stay for the logs naming them.
        deleted_at TEXT
      );
      CREATE TABLE ivr_flow_versions (
        name TEXT NOT NULL REFERENCES ivr_flows(name),
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        author TEXT NOT NULL,
        comment TEXT NOT NULL DEFAULT '',
        doc TEXT NOT NULL,
        PRIMARY KEY (name, version)
      );
      CREATE TABLE ivr_flow_log (
        call_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        flow TEXT NOT NULL,
        version INTEGER NOT NULL,
        node TEXT NOT NULL,
        type TEXT NOT NULL,
        at TEXT NOT NULL,
        ms INTEGER NOT NULL,
        input TEXT NOT NULL,
        output TEXT NOT NULL,
        PRIMARY KEY (call_id, seq)
      );
      CREATE INDEX ivr_flow_log_at ON ivr_flow_log (at);
    `,
  },
];

const MAX_COMMENT = 500;
/** A call's log entries are written to the database in batches of this many (and at the end). */
const LOG_BATCH = 50;

/** One version of a flow, without its document. */
export interface FlowVersionInfo {
  name: string;
  /** 1, 2, 3 ... per flow name, never reused. */
  version: number;
  /** ISO time (UTC). */
  createdAt: string;
  author: string;
  comment: string;
  /** The version new calls run (the newest). */
  active: boolean;
}

/** A flow in the list: its active version. */
export interface FlowSummary {
  name: string;
  description?: string;
  version: number;
  updatedAt: string;
  author: string;
  /** How many versions it has. */
  versions: number;
}

export interface SaveMeta {
  /** The user who saved it, or 'system'. */
  author: string;
  /** Why, in the installer's words; default ''. At most 500 characters are kept. */
  comment?: string;
  /**
   * The version the edit started from (0 for a new flow): refused with E_FLOW_CONFLICT when
   * another version was saved since. Default: no check.
   */
  base?: number;
}

/** Appends a call's log entries; `flush` writes what is pending (the app calls it at the end). */
export interface FlowLogWriter {
  append(entry: FlowLogEntry): void;
  flush(): void;
}

interface VersionRow {
  name: string;
  version: number;
  created_at: string;
  author: string;
  comment: string;
  doc?: string;
}

interface LogRow {
  seq: number;
  flow: string;
  version: number;
  node: string;
  type: FlowLogEntry['type'];
  at: string;
  ms: number;
  input: string;
  output: string;
}

function unknownFlow(name: string, version?: number): SwitchboardError {
  return new SwitchboardError(
    'E_FLOW_UNKNOWN',
    version === undefined
      ? `there is no flow "${name}"`
      : `flow "${name}" has no version ${version}`,
    { details: { name, ...(version === undefined ? {} : { version }) } },
  );
}

/**
 * The flows. Every save is a new version and the newest is the one new calls run; a call keeps
 * the frozen version it started with (`active` hands out ActiveFlow objects, which nothing can
 * change), so saving a flow never changes a call that is already in it.
 */
export class FlowStore {
  readonly #db: Db;
  readonly #now: () => Date;
  /** The compiled active version of each flow asked for, while it stays the newest. */
  readonly #compiled = new Map<string, ActiveFlow>();
  /** Log entries of live calls not written yet, by call id. */
  readonly #pending = new Map<string, FlowLogEntry[]>();

  constructor(db: Db, opts: { now?: () => Date } = {}) {
    this.#db = db;
    this.#now = opts.now ?? (() => new Date());
    migrate(db, 'ivr', MIGRATIONS);
  }

  #info(row: VersionRow, newest: number): FlowVersionInfo {
    return {
      name: row.name,
      version: row.version,
      createdAt: row.created_at,
      author: row.author,
      comment: row.comment,
      active: row.version === newest,
    };
  }

  /** The newest version of a flow that is not deleted, undefined when there is none. */
  #newest(name: string): number | undefined {
    const row = this.#db
      .prepare(
        `SELECT MAX(v.version) AS v FROM ivr_flow_versions v JOIN ivr_flows f ON f.name = v.name
         WHERE v.name = ? AND f.deleted_at IS NULL`,
      )
      .get(name) as { v: number | null };
    return row.v ?? undefined;
  }

  /**
   * Stores `doc` as the next version of the flow it names, after checking it (structure always;
   * prompts, flows, queues and time conditions when `ctx` has their callbacks). A document equal
   * to the active version stores nothing and answers that version with `unchanged`.
   * @throws SwitchboardError E_FLOW_INVALID (details: FieldError[]), E_FLOW_CONFLICT
   */
  save(
    doc: unknown,
    meta: SaveMeta,
    ctx: FlowContext = {},
  ): { info: FlowVersionInfo; unchanged: boolean } {
    const flow = compileFlow(doc, 0, ctx);
    const name = flow.doc.name;
    const json = JSON.stringify(flow.doc);
    const comment = (meta.comment ?? '').slice(0, MAX_COMMENT);
    return this.#db.transaction(() => {
      const newest = this.#newest(name);
      if (meta.base !== undefined && meta.base !== (newest ?? 0))
        throw new SwitchboardError(
          'E_FLOW_CONFLICT',
          `base: the edit started from version ${meta.base} of flow "${name}", but version ${newest ?? 'none'} is active now`,
          { details: { name, base: meta.base, active: newest ?? null } },
        );
      if (newest !== undefined) {
        const row = this.#row(name, newest);
        if (row.doc === json) return { info: this.#info(row, newest), unchanged: true };
      }
      const last = (
        this.#db
          .prepare('SELECT MAX(version) AS v FROM ivr_flow_versions WHERE name = ?')
          .get(name) as { v: number | null }
      ).v;
      const version = (last ?? 0) + 1;
      const createdAt = this.#now().toISOString();
      this.#db
        .prepare(
          'INSERT INTO ivr_flows (name, deleted_at) VALUES (?, NULL) ON CONFLICT (name) DO UPDATE SET deleted_at = NULL',
        )
        .run(name);
      this.#db
        .prepare(
          'INSERT INTO ivr_flow_versions (name, version, created_at, author, comment, doc) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(name, version, createdAt, meta.author, comment, json);
      this.#compiled.delete(name);
      const row = { name, version, created_at: createdAt, author: meta.author, comment };
      return { info: this.#info(row, version), unchanged: false };
    })();
  }

  #row(name: string, version: number): VersionRow {
    const row = this.#db
      .prepare(
        'SELECT name, version, created_at, author, comment, doc FROM ivr_flow_versions WHERE name = ? AND version = ?',
      )
      .get(name, version) as VersionRow | undefined;
    if (!row) throw unknownFlow(name, version);
    return row;
  }

  /** Is there a flow of that name (not deleted)? */
  exists(name: string): boolean {
    return this.#newest(name) !== undefined;
  }

  /** Every flow that is not deleted, by name, with its active version. */
  list(): FlowSummary[] {
    const rows = this.#db
      .prepare(
        `SELECT v.name, v.version, v.created_at, v.author, v.doc,
                (SELECT COUNT(*) FROM ivr_flow_versions c WHERE c.name = v.name) AS versions
         FROM ivr_flow_versions v JOIN ivr_flows f ON f.name = v.name
         WHERE f.deleted_at IS NULL
           AND v.version = (SELECT MAX(version) FROM ivr_flow_versions m WHERE m.name = v.name)
         ORDER BY v.name`,
      )
      .all() as (VersionRow & { versions: number; doc: string })[];
    return rows.map((r) => {
      const doc = JSON.parse(r.doc) as FlowDoc;
      return {
        name: r.name,
        ...(doc.description === undefined ? {} : { description: doc.description }),
        version: r.version,
        updatedAt: r.created_at,
        author: r.author,
        versions: r.versions,
      };
    });
  }

  /**
   * A version of a flow with its document; default the active one.
   * @throws SwitchboardError E_FLOW_UNKNOWN
   */
  get(name: string, version?: number): { info: FlowVersionInfo; flow: FlowDoc } {
    const newest = this.#newest(name);
    if (newest === undefined) throw unknownFlow(name);
    if (version !== undefined && (!Number.isSafeInteger(version) || version < 1))
      throw unknownFlow(name, version);
    const row = this.#row(name, version ?? newest);
    return { info: this.#info(row, newest), flow: JSON.parse(row.doc as string) as FlowDoc };
  }

  /**
   * The versions of a flow, newest first.
   * @throws SwitchboardError E_FLOW_UNKNOWN
   */
  history(name: string): FlowVersionInfo[] {
    const newest = this.#newest(name);
    if (newest === undefined) throw unknownFlow(name);
    const rows = this.#db
      .prepare(
        'SELECT name, version, created_at, author, comment FROM ivr_flow_versions WHERE name = ? ORDER BY version DESC',
      )
      .all(name) as VersionRow[];
    return rows.map((r) => this.#info(r, newest));
  }

  /**
   * Deletes a flow: new calls routed to it find none. Calls in it finish on their frozen copy;
   * its versions are kept for the flow logs that name them, and a flow saved again under the
   * name continues their numbering (a log's "version 3" never means two documents).
   * @throws SwitchboardError E_FLOW_UNKNOWN
   */
  delete(name: string): { versions: number } {
    if (this.#newest(name) === undefined) throw unknownFlow(name);
    this.#db
      .prepare('UPDATE ivr_flows SET deleted_at = ? WHERE name = ?')
      .run(this.#now().toISOString(), name);
    this.#compiled.delete(name);
    const n = (
      this.#db.prepare('SELECT COUNT(*) AS n FROM ivr_flow_versions WHERE name = ?').get(name) as {
        n: number;
      }
    ).n;
    return { versions: n };
  }

  /**
   * The active version of a flow, checked and frozen, for a call to run; undefined when there
   * is no such flow. The same object is handed out until a new version is saved.
   * @throws SwitchboardError E_FLOW_INVALID when the stored version no longer passes the checks
   */
  active(name: string): ActiveFlow | undefined {
    const newest = this.#newest(name);
    if (newest === undefined) return undefined;
    const cached = this.#compiled.get(name);
    if (cached?.version === newest) return cached;
    const flow = compileFlow(JSON.parse(this.#row(name, newest).doc as string), newest);
    this.#compiled.set(name, flow);
    return flow;
  }

  // ---- the flow log ---------------------------------------------------------------------------

  /**
   * A writer for one call's log. Entries are kept in memory (and readable) and written in
   * batches: one transaction per 50 steps and one at the end, rather than a synchronous disk
   * write per step on every call of a busy hotline. A controller crash loses the unwritten
   * steps of the calls it was running, never a call record.
   */
  logWriter(callId: string): FlowLogWriter {
    const pending: FlowLogEntry[] = this.#pending.get(callId) ?? [];
    this.#pending.set(callId, pending);
    const flush = () => {
      if (pending.length === 0) return;
      const batch = pending.splice(0);
      const insert = this.#db.prepare(
        `INSERT OR REPLACE INTO ivr_flow_log (call_id, seq, flow, version, node, type, at, ms, input, output)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      this.#db.transaction(() => {
        for (const e of batch)
          insert.run(
            callId,
            e.seq,
            e.flow,
            e.version,
            e.node,
            e.type,
            e.at,
            e.ms,
            JSON.stringify(e.input),
            JSON.stringify(e.output),
          );
      })();
    };
    return {
      append: (entry) => {
        pending.push(entry);
        if (pending.length >= LOG_BATCH) flush();
      },
      flush: () => {
        try {
          flush();
        } finally {
          if (pending.length === 0) this.#pending.delete(callId);
        }
      },
    };
  }

  /**
   * A call's flow log in step order, written and pending (a live call's steps so far).
   * @throws SwitchboardError E_FLOW_LOG_UNKNOWN when the call has none
   */
  readLog(callId: string): FlowLogEntry[] {
    const rows = this.#db
      .prepare(
        'SELECT seq, flow, version, node, type, at, ms, input, output FROM ivr_flow_log WHERE call_id = ? ORDER BY seq',
      )
      .all(callId) as LogRow[];
    const entries: FlowLogEntry[] = rows.map((r) => ({
      seq: r.seq,
      flow: r.flow,
      version: r.version,
      node: r.node,
      type: r.type,
      at: r.at,
      ms: r.ms,
      input: JSON.parse(r.input) as Record<string, unknown>,
      output: JSON.parse(r.output) as Record<string, unknown>,
    }));
    const seen = new Set(entries.map((e) => e.seq));
    for (const e of this.#pending.get(callId) ?? []) if (!seen.has(e.seq)) entries.push(e);
    if (entries.length === 0)
      throw new SwitchboardError('E_FLOW_LOG_UNKNOWN', `no flow log is kept for call ${callId}`, {
        details: { call: callId },
      });
    return entries.sort((a, b) => a.seq - b.seq);
  }

  /** Removes log entries of steps before `before`; returns how many. */
  pruneLog(before: Date): number {
    return this.#db.prepare('DELETE FROM ivr_flow_log WHERE at < ?').run(before.toISOString())
      .changes;
  }
}
