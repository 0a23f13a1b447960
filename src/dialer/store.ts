// SPDX-License-Identifier: GPL-2.0-or-later
// The dialer's campaigns, contacts, attempts and do-not-call list in the one SQLite store, written so a restart never calls anyone twice.

import type { Statement } from 'better-sqlite3';
import { SwitchboardError } from '../core/errors.ts';
import { type Db, type Migration, migrate } from '../store/db.ts';
import type { Contact } from './contacts.ts';
import { OUTCOMES, type Outcome, RESULTS, type Result } from './outcome.ts';
import type { CampaignDoc } from './schema.ts';

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'campaigns, contacts, attempts and the do-not-call list',
    up: `
      CREATE TABLE dialer_campaigns (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        doc TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('draft', 'running', 'paused', 'stopped', 'done')),
        counters TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE dialer_contacts (
        id INTEGER PRIMARY KEY,
        campaign_id INTEGER NOT NULL REFERENCES dialer_campaigns (id) ON DELETE CASCADE,
        source_row INTEGER,
        number TEXT NOT NULL,
        name TEXT,
        tz TEXT,
        vars TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'dialing', 'done')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        last_outcome TEXT,
        result TEXT,
        reason TEXT,
        UNIQUE (campaign_id, number)
      );
      CREATE INDEX dialer_contacts_due ON dialer_contacts (campaign_id, state, next_at, id);
      CREATE TABLE dialer_attempts (
        id INTEGER PRIMARY KEY,
        contact_id INTEGER NOT NULL REFERENCES dialer_contacts (id) ON DELETE CASCADE,
        campaign_id INTEGER NOT NULL,
        n INTEGER NOT NULL,
        call_id TEXT,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        cause INTEGER,
        outcome TEXT,
        amd TEXT,
        keypress TEXT,
        agent TEXT,
        result TEXT,
        reason TEXT,
        UNIQUE (contact_id, n)
      );
      CREATE INDEX dialer_attempts_campaign ON dialer_attempts (campaign_id, started_at);
      CREATE TABLE dialer_dnc (
        number TEXT PRIMARY KEY,
        reason TEXT,
        added_at INTEGER NOT NULL
      );
    `,
  },
];

export const CAMPAIGN_STATES = ['draft', 'running', 'paused', 'stopped', 'done'] as const;
export type CampaignState = (typeof CAMPAIGN_STATES)[number];

/** Running totals of a campaign, kept in the same transaction as the rows they count. */
export interface Counters {
  /** Attempts ended, by outcome (a contact tried three times counts three). */
  outcomes: Record<Outcome, number>;
  /** Contacts finished, by result list. */
  results: Record<Result, number>;
  /** Attempts placed. */
  attempts: number;
  /** Calls a person answered (connected to an agent or the flow, or abandoned). */
  live: number;
  abandoned: number;
  /** Contacts finished without a call: on the do-not-call list, no window ever open. */
  skipped: { dnc: number; noWindow: number };
  /** Contacts found dialing when the store was opened (see DialerStore). */
  interrupted: number;
}

function emptyCounters(): Counters {
  return {
    outcomes: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>,
    results: Object.fromEntries(RESULTS.map((r) => [r, 0])) as Record<Result, number>,
    attempts: 0,
    live: 0,
    abandoned: 0,
    skipped: { dnc: 0, noWindow: 0 },
    interrupted: 0,
  };
}

export interface CampaignRow {
  id: number;
  name: string;
  doc: CampaignDoc;
  state: CampaignState;
  counters: Counters;
  createdAt: number;
  updatedAt: number;
}

export interface ContactRow {
  id: number;
  campaignId: number;
  row: number | null;
  number: string;
  name: string | null;
  timezone: string | null;
  vars: Record<string, string>;
  state: 'pending' | 'dialing' | 'done';
  attempts: number;
  /** ms since the epoch; not called before. */
  nextAt: number;
  lastOutcome: Outcome | null;
  result: Result | null;
  reason: string | null;
}

/** What the port reported and what the dialer made of it, for the attempt row. */
export interface AttemptEnd {
  attemptId: number;
  contactId: number;
  campaignId: number;
  endedAt: number;
  cause: number;
  outcome: Outcome;
  reason: string;
  amd?: string;
  keypress?: string;
  agent?: string;
  live: boolean;
  abandoned: boolean;
  /** Call again at this time, or finish the contact with this result. */
  next: { retryAt: number } | { result: Result };
}

interface CampaignDbRow {
  id: number;
  name: string;
  doc: string;
  state: CampaignState;
  counters: string;
  created_at: number;
  updated_at: number;
}

interface ContactDbRow {
  id: number;
  campaign_id: number;
  source_row: number | null;
  number: string;
  name: string | null;
  tz: string | null;
  vars: string;
  state: ContactRow['state'];
  attempts: number;
  next_at: number;
  last_outcome: Outcome | null;
  result: Result | null;
  reason: string | null;
}

function campaignRow(r: CampaignDbRow): CampaignRow {
  return {
    id: r.id,
    name: r.name,
    doc: JSON.parse(r.doc) as CampaignDoc,
    state: r.state,
    counters: { ...emptyCounters(), ...(JSON.parse(r.counters) as Partial<Counters>) },
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function contactRow(r: ContactDbRow): ContactRow {
  return {
    id: r.id,
    campaignId: r.campaign_id,
    row: r.source_row,
    number: r.number,
    name: r.name,
    timezone: r.tz,
    vars: JSON.parse(r.vars) as Record<string, string>,
    state: r.state,
    attempts: r.attempts,
    nextAt: r.next_at,
    lastOutcome: r.last_outcome,
    result: r.result,
    reason: r.reason,
  };
}

/** A contact row with its last attempt, for the results export. */
export interface ExportRow extends ContactRow {
  lastAttemptAt: number | null;
  lastCause: number | null;
  lastKeypress: string | null;
  lastAgent: string | null;
}

/**
 * The dialer's tables. Durability rule: `beginAttempt` marks the contact `dialing` and writes
 * its attempt row in one transaction, before the port is asked to dial (synchronous=FULL: the
 * commit is on disk when it returns). Opening the store finishes every contact still `dialing`
 * as outcome `failed`, reason `interrupted`: the controller stopped while that call was up, and
 * nothing tells whether it was answered or the message heard, so it is never dialled again
 * rather than risk calling someone twice. Every other contact resumes where it stood.
 */
export class DialerStore {
  readonly db: Db;
  readonly #now: () => number;
  readonly #statements = new Map<string, Statement>();
  /** Contacts the opening found `dialing` and finished as interrupted. */
  readonly interrupted: number;

  constructor(db: Db, now: () => number = Date.now) {
    this.db = db;
    this.#now = now;
    try {
      migrate(db, 'dialer', MIGRATIONS);
    } catch (err) {
      if (err instanceof SwitchboardError) throw err;
      throw new SwitchboardError('E_STORE', `cannot migrate the dialer tables: ${String(err)}`, {
        cause: err,
      });
    }
    this.interrupted = this.#recover();
  }

  /** A prepared statement, prepared once (preparing costs more than running most of these). */
  #sql(sql: string): Statement {
    let st = this.#statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.#statements.set(sql, st);
    }
    return st;
  }

  #recover(): number {
    const now = this.#now();
    return this.db.transaction(() => {
      const stuck = this.#sql(
        "SELECT id, campaign_id FROM dialer_contacts WHERE state = 'dialing'",
      ).all() as { id: number; campaign_id: number }[];
      const endAttempt = this.#sql(
        `UPDATE dialer_attempts SET ended_at = ?, outcome = 'failed', result = 'failed', reason = 'interrupted'
         WHERE contact_id = ? AND ended_at IS NULL`,
      );
      const finish = this.#sql(
        `UPDATE dialer_contacts SET state = 'done', last_outcome = 'failed', result = 'failed', reason = 'interrupted'
         WHERE id = ?`,
      );
      for (const c of stuck) {
        endAttempt.run(now, c.id);
        finish.run(c.id);
        this.#count(c.campaign_id, (k) => {
          k.outcomes.failed++;
          k.results.failed++;
          k.interrupted++;
        });
      }
      return stuck.length;
    })();
  }

  #count(campaignId: number, change: (c: Counters) => void): void {
    const row = this.#sql('SELECT counters FROM dialer_campaigns WHERE id = ?').get(campaignId) as
      | { counters: string }
      | undefined;
    if (!row) return;
    const c = { ...emptyCounters(), ...(JSON.parse(row.counters) as Partial<Counters>) };
    change(c);
    this.#sql('UPDATE dialer_campaigns SET counters = ?, updated_at = ? WHERE id = ?').run(
      JSON.stringify(c),
      this.#now(),
      campaignId,
    );
  }

  // Campaigns

  /** @throws SwitchboardError E_CAMPAIGN_EXISTS */
  createCampaign(doc: CampaignDoc): CampaignRow {
    const now = this.#now();
    try {
      this.#sql(
        `INSERT INTO dialer_campaigns (name, doc, state, counters, created_at, updated_at)
           VALUES (?, ?, 'draft', ?, ?, ?)`,
      ).run(doc.name, JSON.stringify(doc), JSON.stringify(emptyCounters()), now, now);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE')
        throw new SwitchboardError(
          'E_CAMPAIGN_EXISTS',
          `name: a campaign "${doc.name}" already exists`,
          { details: { field: 'name', value: doc.name } },
        );
      throw err;
    }
    return this.campaign(doc.name) as CampaignRow;
  }

  /** Replaces a campaign's document (same name). */
  updateDoc(name: string, doc: CampaignDoc): void {
    this.#sql('UPDATE dialer_campaigns SET doc = ?, updated_at = ? WHERE name = ?').run(
      JSON.stringify(doc),
      this.#now(),
      name,
    );
  }

  campaign(name: string): CampaignRow | undefined {
    const r = this.#sql('SELECT * FROM dialer_campaigns WHERE name = ?').get(name) as
      | CampaignDbRow
      | undefined;
    return r ? campaignRow(r) : undefined;
  }

  campaigns(): CampaignRow[] {
    return (this.#sql('SELECT * FROM dialer_campaigns ORDER BY id').all() as CampaignDbRow[]).map(
      campaignRow,
    );
  }

  setState(campaignId: number, state: CampaignState): void {
    this.#sql('UPDATE dialer_campaigns SET state = ?, updated_at = ? WHERE id = ?').run(
      state,
      this.#now(),
      campaignId,
    );
  }

  // Contacts

  /**
   * Adds contacts, all or none. A number the campaign already has is not added again and comes
   * back in `duplicates` with the row it came from.
   */
  addContacts(
    campaignId: number,
    contacts: readonly Contact[],
  ): { added: number; duplicates: { row: number; number: string }[] } {
    const insert = this.#sql(
      `INSERT INTO dialer_contacts (campaign_id, source_row, number, name, tz, vars, state, next_at)
       VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)
       ON CONFLICT (campaign_id, number) DO NOTHING`,
    );
    return this.db.transaction(() => {
      let added = 0;
      const duplicates: { row: number; number: string }[] = [];
      for (const c of contacts) {
        const r = insert.run(
          campaignId,
          c.row,
          c.number,
          c.name ?? null,
          c.timezone ?? null,
          JSON.stringify(c.vars),
          c.callbackAt ?? 0,
        );
        if (r.changes === 1) added++;
        else duplicates.push({ row: c.row, number: c.number });
      }
      return { added, duplicates };
    })();
  }

  contact(id: number): ContactRow | undefined {
    const r = this.#sql('SELECT * FROM dialer_contacts WHERE id = ?').get(id) as
      | ContactDbRow
      | undefined;
    return r ? contactRow(r) : undefined;
  }

  /** Pending contacts due at `now` (next_at passed), oldest due first. */
  dueContacts(campaignId: number, now: number, limit: number, skip: readonly number[] = []) {
    const rows = this.#sql(
      `SELECT * FROM dialer_contacts
         WHERE campaign_id = ? AND state = 'pending' AND next_at <= ?
         ORDER BY next_at, id LIMIT ?`,
    ).all(campaignId, now, limit + skip.length) as ContactDbRow[];
    const held = new Set(skip);
    return rows
      .filter((r) => !held.has(r.id))
      .slice(0, limit)
      .map(contactRow);
  }

  /** The earliest next_at of the campaign's pending contacts (undefined: none pending). */
  nextDue(campaignId: number): number | undefined {
    const r = this.#sql(
      "SELECT MIN(next_at) AS t FROM dialer_contacts WHERE campaign_id = ? AND state = 'pending'",
    ).get(campaignId) as { t: number | null };
    return r.t ?? undefined;
  }

  /** Not before `nextAt` (outside its window now, skipped in preview). */
  defer(contactId: number, nextAt: number): void {
    this.#sql("UPDATE dialer_contacts SET next_at = ? WHERE id = ? AND state = 'pending'").run(
      nextAt,
      contactId,
    );
  }

  /** Finishes a pending contact without a call: on the do-not-call list, or never inside a window. */
  skip(contactId: number, reason: 'dnc' | 'no_window'): void {
    this.db.transaction(() => {
      const c = this.contact(contactId);
      if (c?.state !== 'pending') return;
      this.#sql("UPDATE dialer_contacts SET state = 'done', reason = ? WHERE id = ?").run(
        reason,
        contactId,
      );
      this.#count(c.campaignId, (k) => {
        if (reason === 'dnc') k.skipped.dnc++;
        else k.skipped.noWindow++;
      });
    })();
  }

  /**
   * Marks a pending contact `dialing` and writes attempt n+1, in one transaction, before the
   * port is asked to dial. Returns undefined when the contact is no longer pending.
   */
  beginAttempt(contactId: number, now: number): { attemptId: number; n: number } | undefined {
    return this.db.transaction(() => {
      const c = this.#sql(
        "SELECT campaign_id, attempts FROM dialer_contacts WHERE id = ? AND state = 'pending'",
      ).get(contactId) as { campaign_id: number; attempts: number } | undefined;
      if (!c) return undefined;
      const n = c.attempts + 1;
      this.#sql("UPDATE dialer_contacts SET state = 'dialing', attempts = ? WHERE id = ?").run(
        n,
        contactId,
      );
      const r = this.#sql(
        'INSERT INTO dialer_attempts (contact_id, campaign_id, n, started_at) VALUES (?, ?, ?, ?)',
      ).run(contactId, c.campaign_id, n, now);
      this.#count(c.campaign_id, (k) => {
        k.attempts++;
      });
      return { attemptId: Number(r.lastInsertRowid), n };
    })();
  }

  /** The call id the port gave the attempt. */
  setCallId(attemptId: number, callId: string): void {
    this.#sql('UPDATE dialer_attempts SET call_id = ? WHERE id = ?').run(callId, attemptId);
  }

  /** Ends an attempt: its row, its contact (pending again or done) and the counters, together. */
  endAttempt(e: AttemptEnd): void {
    this.db.transaction(() => {
      const result = 'result' in e.next ? e.next.result : null;
      this.#sql(
        `UPDATE dialer_attempts SET ended_at = ?, cause = ?, outcome = ?, amd = ?, keypress = ?,
             agent = ?, result = ?, reason = ? WHERE id = ?`,
      ).run(
        e.endedAt,
        e.cause,
        e.outcome,
        e.amd ?? null,
        e.keypress ?? null,
        e.agent ?? null,
        result,
        e.reason,
        e.attemptId,
      );
      if ('retryAt' in e.next)
        this.#sql(
          `UPDATE dialer_contacts SET state = 'pending', next_at = ?, last_outcome = ?, reason = ?
             WHERE id = ?`,
        ).run(e.next.retryAt, e.outcome, e.reason, e.contactId);
      else
        this.#sql(
          `UPDATE dialer_contacts SET state = 'done', last_outcome = ?, result = ?, reason = ?
             WHERE id = ?`,
        ).run(e.outcome, e.next.result, e.reason, e.contactId);
      this.#count(e.campaignId, (k) => {
        k.outcomes[e.outcome]++;
        if (result) k.results[result]++;
        if (e.live) k.live++;
        if (e.abandoned) k.abandoned++;
      });
    })();
  }

  /** Attempts of a contact that ended with this outcome. */
  outcomeCount(contactId: number, outcome: Outcome): number {
    return (
      this.#sql(
        'SELECT COUNT(*) AS n FROM dialer_attempts WHERE contact_id = ? AND outcome = ?',
      ).get(contactId, outcome) as { n: number }
    ).n;
  }

  /** Contacts by state. */
  contactCounts(campaignId: number): { pending: number; dialing: number; done: number } {
    const out = { pending: 0, dialing: 0, done: 0 };
    const rows = this.#sql(
      'SELECT state, COUNT(*) AS n FROM dialer_contacts WHERE campaign_id = ? GROUP BY state',
    ).all(campaignId) as { state: keyof typeof out; n: number }[];
    for (const r of rows) out[r.state] = r.n;
    return out;
  }

  /** Attempts started at or after `since` (calls per minute). */
  attemptsSince(campaignId: number, since: number): number {
    return (
      this.#sql(
        'SELECT COUNT(*) AS n FROM dialer_attempts WHERE campaign_id = ? AND started_at >= ?',
      ).get(campaignId, since) as { n: number }
    ).n;
  }

  /** The campaign's contacts finished in a result list (every contact for `all`), by row. */
  exportRows(campaignId: number, list: Result | 'all'): ExportRow[] {
    const rows = this.#sql(
      `SELECT c.*, a.started_at AS last_at, a.cause AS last_cause, a.keypress AS last_keypress,
                a.agent AS last_agent
         FROM dialer_contacts c
         LEFT JOIN dialer_attempts a ON a.contact_id = c.id AND a.n = c.attempts
         WHERE c.campaign_id = ? AND (? = 'all' OR c.result = ?)
         ORDER BY c.source_row, c.id`,
    ).all(campaignId, list, list) as (ContactDbRow & {
      last_at: number | null;
      last_cause: number | null;
      last_keypress: string | null;
      last_agent: string | null;
    })[];
    return rows.map((r) => ({
      ...contactRow(r),
      lastAttemptAt: r.last_at,
      lastCause: r.last_cause,
      lastKeypress: r.last_keypress,
      lastAgent: r.last_agent,
    }));
  }

  /** Every attempt of a campaign in the order placed (tests, audits). */
  attempts(campaignId: number): {
    id: number;
    contactId: number;
    n: number;
    callId: string | null;
    startedAt: number;
    endedAt: number | null;
    outcome: Outcome | null;
    reason: string | null;
  }[] {
    return (
      this.#sql(
        `SELECT id, contact_id, n, call_id, started_at, ended_at, outcome, reason
           FROM dialer_attempts WHERE campaign_id = ? ORDER BY id`,
      ).all(campaignId) as {
        id: number;
        contact_id: number;
        n: number;
        call_id: string | null;
        started_at: number;
        ended_at: number | null;
        outcome: Outcome | null;
        reason: string | null;
      }[]
    ).map((r) => ({
      id: r.id,
      contactId: r.contact_id,
      n: r.n,
      callId: r.call_id,
      startedAt: r.started_at,
      endedAt: r.ended_at,
      outcome: r.outcome,
      reason: r.reason,
    }));
  }

  // Do-not-call list (numbers as the dialer normalises them)

  addDnc(numbers: readonly string[], reason?: string): number {
    const insert = this.#sql(
      'INSERT INTO dialer_dnc (number, reason, added_at) VALUES (?, ?, ?) ON CONFLICT (number) DO NOTHING',
    );
    const now = this.#now();
    return this.db.transaction(() => {
      let n = 0;
      for (const number of numbers) n += insert.run(number, reason ?? null, now).changes;
      return n;
    })();
  }

  removeDnc(number: string): boolean {
    return this.#sql('DELETE FROM dialer_dnc WHERE number = ?').run(number).changes === 1;
  }

  isDnc(number: string): boolean {
    return this.#sql('SELECT 1 FROM dialer_dnc WHERE number = ?').get(number) !== undefined;
  }

  dncList(): { number: string; reason: string | null; addedAt: number }[] {
    return (
      this.#sql('SELECT number, reason, added_at FROM dialer_dnc ORDER BY number').all() as {
        number: string;
        reason: string | null;
        added_at: number;
      }[]
    ).map((r) => ({ number: r.number, reason: r.reason, addedAt: r.added_at }));
  }
}
