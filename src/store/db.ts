// SPDX-License-Identifier: GPL-2.0-or-later
// The one SQLite store (better-sqlite3, WAL) and its versioned migrations, one list per area.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { SwitchboardError } from '../core/errors.ts';

export type Db = Database.Database;

/** One schema step of an area; versions start at 1 and only ever grow. */
export interface Migration {
  version: number;
  /** What the step does, in a few words (kept in the migrations table). */
  name: string;
  up: string | ((db: Db) => void);
}

/**
 * Opens (creating it when absent) the store. WAL lets the API read while the call side writes;
 * synchronous=FULL makes every commit durable before it returns, which call records need (a
 * kill -9 or power cut loses no committed CDR), and which the rare configuration writes can afford.
 */
export function openDb(file: string): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  let db: Db;
  try {
    db = new Database(file);
  } catch (err) {
    throw new SwitchboardError('E_STORE', `cannot open the database ${file}: ${String(err)}`, {
      cause: err,
    });
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.exec(`CREATE TABLE IF NOT EXISTS migrations (
    area TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (area, version)
  )`);
  return db;
}

/**
 * Applies the steps of `area` that this database has not had yet, each in its own transaction
 * (a failed step leaves the database at the previous version). A database newer than this code
 * (a downgrade) is refused rather than used.
 */
export function migrate(db: Db, area: string, steps: readonly Migration[]): number {
  const current =
    (
      db.prepare('SELECT MAX(version) AS v FROM migrations WHERE area = ?').get(area) as {
        v: number | null;
      }
    ).v ?? 0;
  const newest = steps.reduce((m, s) => Math.max(m, s.version), 0);
  if (current > newest)
    throw new SwitchboardError(
      'E_STORE',
      `the database has ${area} schema version ${current}, newer than this firmware knows (${newest}): refusing to use it`,
    );
  const record = db.prepare(
    'INSERT INTO migrations (area, version, name, applied_at) VALUES (?, ?, ?, ?)',
  );
  for (const step of [...steps].sort((a, b) => a.version - b.version)) {
    if (step.version <= current) continue;
    db.transaction(() => {
      if (typeof step.up === 'string') db.exec(step.up);
      else step.up(db);
      record.run(area, step.version, step.name, new Date().toISOString());
    })();
  }
  return newest;
}
