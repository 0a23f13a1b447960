// SPDX-License-Identifier: GPL-2.0-or-later
// The MQTT outbox: channel events, call events and call records kept in SQLite until the broker acknowledges them.

import type { Statement } from 'better-sqlite3';
import type { Db, Migration } from '../store/db.ts';
import { migrate } from '../store/db.ts';

/** What a message is; also the order in which a full outbox gives messages up (channel first). */
export const OUTBOX_KINDS = ['channel', 'call', 'cdr'] as const;
export type OutboxKind = (typeof OUTBOX_KINDS)[number];

export const MQTT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'outbox of channel events, call events and call records',
    // AUTOINCREMENT: an id is never handed out twice, even after the newest rows were deleted,
    // so a NOC can de-duplicate by id across restarts.
    up: `
      CREATE TABLE mqtt_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('channel', 'call', 'cdr')),
        topic TEXT NOT NULL,
        body TEXT NOT NULL
      );
    `,
  },
];

/** One message as stored: `topic` is relative to <base>/<node>/, `payload` already has its id. */
export interface OutboxMessage {
  id: number;
  kind: OutboxKind;
  topic: string;
  payload: string;
}

export interface OutboxOptions {
  db: Db;
  /** Most messages kept (1000-1000000); default 100000. */
  maxMessages?: number;
  /** Told when a full outbox drops messages (for the log), with how many of each kind. */
  onDrop?: (dropped: Record<OutboxKind, number>) => void;
}

/** Rows per INSERT statement, largest first. */
const INSERT_CHUNKS = [64, 8, 1] as const;

/** `{"id":7,...}` from the body `{...}` stored without its id. */
function withId(id: number, body: string): string {
  return body === '{}' ? `{"id":${id}}` : `{"id":${id},${body.slice(1)}`;
}

/**
 * A durable queue of messages in the controller's database. `add` takes a message (its JSON body
 * without the id); messages are written in one transaction per event-loop turn and get their id
 * then, in the order they were added. `next` reads the oldest unsent ones; `ack` removes
 * messages the broker acknowledged. When more than `maxMessages` are kept, the oldest channel
 * events are dropped first, then call events, then call records (which the CDR store keeps
 * anyway); `dropped` counts them.
 */
export class Outbox {
  readonly maxMessages: number;
  readonly dropped: Record<OutboxKind, number> = { channel: 0, call: 0, cdr: 0 };
  readonly #db: Db;
  readonly #onDrop: OutboxOptions['onDrop'];
  #pending: { kind: OutboxKind; topic: string; body: string }[] = [];
  #acked: number[] = [];
  #scheduled = false;
  #count: number;
  /** Called after new messages were written (the publisher wakes up). */
  onWritten?: () => void;
  /** Told when a write fails (disk full...): the messages stay queued and it is tried again in 1 s. */
  onError?: (err: unknown) => void;
  #closed = false;
  readonly #sql;

  constructor(opts: OutboxOptions) {
    const max = opts.maxMessages ?? 100000;
    if (!Number.isInteger(max) || max < 1000 || max > 1000000)
      throw new RangeError(`outbox maxMessages must be 1000-1000000, not ${max}`);
    this.maxMessages = max;
    this.#db = opts.db;
    this.#onDrop = opts.onDrop;
    migrate(this.#db, 'mqtt', MQTT_MIGRATIONS);
    const insert = (rows: number) =>
      this.#db.prepare(
        `INSERT INTO mqtt_outbox (kind, topic, body) VALUES ${Array(rows).fill('(?, ?, ?)').join(', ')}`,
      );
    this.#sql = {
      // AUTOINCREMENT writes its counter once per statement: rows go in 64 (then 8, then 1) at a time.
      insert: new Map(INSERT_CHUNKS.map((n) => [n, insert(n)])),
      delRange: this.#db.prepare('DELETE FROM mqtt_outbox WHERE id BETWEEN ? AND ?'),
      after: this.#db
        .prepare('SELECT id, kind, topic, body FROM mqtt_outbox WHERE id > ? ORDER BY id LIMIT ?')
        .raw(),
      count: this.#db.prepare('SELECT COUNT(*) AS n FROM mqtt_outbox'),
      dropOldest: this.#db.prepare(
        'DELETE FROM mqtt_outbox WHERE id IN (SELECT id FROM mqtt_outbox WHERE kind = ? ORDER BY id LIMIT ?)',
      ),
    };
    this.#count = (this.#sql.count.get() as { n: number }).n;
  }

  /** Messages kept (written and not yet acknowledged), plus those waiting to be written. */
  get size(): number {
    return this.#count + this.#pending.length;
  }

  /** Queues a message; it is written (and gets its id) at the end of this event-loop turn. */
  add(kind: OutboxKind, topic: string, body: object): void {
    this.#pending.push({ kind, topic, body: JSON.stringify(body) });
    this.#schedule();
  }

  /** Marks a message as acknowledged by the broker; it is deleted at the end of this turn. */
  ack(id: number): void {
    this.#acked.push(id);
    this.#schedule();
  }

  /** Up to `limit` messages with an id above `afterId`, oldest first (written ones only). */
  next(afterId: number, limit: number): OutboxMessage[] {
    const rows = this.#sql.after.all(afterId, limit) as [number, OutboxKind, string, string][];
    return rows.map(([id, kind, topic, body]) => ({ id, kind, topic, payload: withId(id, body) }));
  }

  /** Writes what `add` and `ack` queued, now (normally done at the end of the turn). */
  flush(): void {
    this.#scheduled = false;
    const pending = this.#pending;
    const acked = this.#acked;
    if (pending.length === 0 && acked.length === 0) return;
    if (this.#closed || !this.#db.open) return;
    this.#pending = [];
    this.#acked = [];
    let drops: Record<OutboxKind, number> | undefined;
    const count = this.#count;
    try {
      this.#db.transaction(() => {
        // Acknowledgements come in order, nearly always: one range delete per run of ids.
        acked.sort((a, b) => a - b);
        for (let i = 0; i < acked.length; ) {
          let j = i;
          while (j + 1 < acked.length && (acked[j + 1] as number) <= (acked[j] as number) + 1) j++;
          this.#count -= this.#sql.delRange.run(acked[i], acked[j]).changes;
          i = j + 1;
        }
        let i = 0;
        for (const n of INSERT_CHUNKS) {
          const stmt = this.#sql.insert.get(n) as Statement;
          for (; i + n <= pending.length; i += n) {
            const args: string[] = [];
            for (let k = i; k < i + n; k++) {
              const m = pending[k] as { kind: string; topic: string; body: string };
              args.push(m.kind, m.topic, m.body);
            }
            stmt.run(args);
          }
        }
        this.#count += pending.length;
        if (this.#count > this.maxMessages) drops = this.#makeRoom();
      })();
    } catch (err) {
      // Rolled back: everything is queued again, ahead of what came meanwhile.
      this.#count = count;
      this.#pending = [...pending, ...this.#pending];
      this.#acked = [...acked, ...this.#acked];
      throw err;
    }
    if (drops) this.#onDrop?.(drops);
    if (pending.length > 0) this.onWritten?.();
  }

  /** Writes what is queued and stops writing (before the database is closed). */
  close(): void {
    try {
      this.flush();
    } catch (err) {
      this.onError?.(err);
    }
    this.#closed = true;
  }

  /** Drops the oldest messages, channel events first, until the outbox holds maxMessages. */
  #makeRoom(): Record<OutboxKind, number> {
    const now: Record<OutboxKind, number> = { channel: 0, call: 0, cdr: 0 };
    for (const kind of OUTBOX_KINDS) {
      const excess = this.#count - this.maxMessages;
      if (excess <= 0) break;
      const n = this.#sql.dropOldest.run(kind, excess).changes;
      this.#count -= n;
      now[kind] += n;
      this.dropped[kind] += n;
    }
    return now;
  }

  #schedule(delayMs = 0): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    const run = () => {
      if (!this.#scheduled) return;
      try {
        this.flush();
      } catch (err) {
        this.onError?.(err);
        this.#schedule(1000);
      }
    };
    if (delayMs === 0) setImmediate(run);
    else setTimeout(run, delayMs).unref();
  }
}
