// SPDX-License-Identifier: GPL-2.0-or-later
// Backup and restore of the one store: a consistent online copy, and a checked restore applied at the next start.

import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SwitchboardError } from '../core/errors.ts';
import type { Db } from './db.ts';

/** The database file name in the data directory. */
export const DB_FILE = 'switchboard.db';
/** A checked restore waiting for the next start. */
export const STAGED_FILE = `${DB_FILE}.restore`;
/** What the staged restore holds (shown before the restart). */
export const STAGED_INFO = `${STAGED_FILE}.json`;
/** The database a restore replaced, kept until the next restore. */
export const REPLACED_FILE = `${DB_FILE}.pre-restore`;

/** The areas every Switchboard store has once it has been set up. */
const REQUIRED_AREAS = ['auth', 'config'] as const;

/** What a backup file holds, as far as an installer cares before restoring it. */
export interface BackupSummary {
  /** Schema version per area (auth, config, cdr, ivr, dialer). */
  areas: Record<string, number>;
  /** Enabled admin accounts (at least one, or the box could not be managed after a restore). */
  admins: number;
  users: number;
  /** The running configuration revision in the backup, null when it has none. */
  revision: number | null;
  /** The box name of that configuration. */
  boxName: string | null;
  callRecords: number;
  bytes: number;
}

/**
 * A consistent copy of the live store in `file` (SQLite's online backup: the copy is one
 * point in time although calls keep writing records while it runs).
 */
export async function backupTo(db: Db, file: string): Promise<void> {
  try {
    await db.backup(file);
    // The copy is a WAL database like the store; as a download it is one self-contained file
    // that any sqlite3 opens.
    const copy = new Database(file);
    try {
      copy.pragma('journal_mode = DELETE');
    } finally {
      copy.close();
    }
  } catch (err) {
    rmSync(file, { force: true });
    throw new SwitchboardError('E_STORE', `the backup could not be written: ${String(err)}`, {
      cause: err,
    });
  }
}

function invalid(message: string): SwitchboardError {
  return new SwitchboardError(
    'E_BACKUP_INVALID',
    `not a Switchboard backup this box can restore: ${message}`,
  );
}

function tableExists(db: Db, name: string): boolean {
  return (
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !==
    undefined
  );
}

/**
 * Checks that `file` is a backup of a Switchboard store that this firmware can run: an intact
 * SQLite database with Switchboard's migrations (auth and config at least), no area newer than
 * `current` knows, and an enabled admin account. Throws E_BACKUP_INVALID saying what is wrong.
 */
export function checkBackup(file: string, current: Db): BackupSummary {
  const bytes = statSync(file).size;
  const head = Buffer.alloc(16);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (head.toString('latin1') !== 'SQLite format 3\0')
    throw invalid('the file is not an SQLite database');
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw invalid(`the database cannot be opened (${String(err)})`);
  }
  try {
    return summarise(db, current, bytes);
  } catch (err) {
    if (err instanceof SwitchboardError) throw err;
    throw invalid(`the database cannot be read (${String(err)})`);
  } finally {
    db.close();
    // A read-only look at a WAL database leaves its -wal and -shm beside it; they are empty.
    for (const suffix of ['-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  }
}

/** What a backup holds, checked step by step (throws E_BACKUP_INVALID at the first problem). */
function summarise(db: Database.Database, current: Db, bytes: number): BackupSummary {
  let check: unknown;
  try {
    check = db.pragma('quick_check', { simple: true });
  } catch (err) {
    throw invalid(`the database is damaged (${String(err)})`);
  }
  if (check !== 'ok') throw invalid(`the database is damaged (${String(check)})`);
  if (!tableExists(db, 'migrations'))
    throw invalid('it has no migrations table (a database of another program)');
  const rows = db.prepare('SELECT area, MAX(version) AS v FROM migrations GROUP BY area').all() as {
    area: string;
    v: number;
  }[];
  const areas = Object.fromEntries(rows.map((r) => [r.area, r.v]));
  for (const area of REQUIRED_AREAS)
    if (areas[area] === undefined) throw invalid(`it has no ${area} area`);
  const known = current
    .prepare('SELECT area, MAX(version) AS v FROM migrations GROUP BY area')
    .all() as { area: string; v: number }[];
  for (const k of known) {
    const theirs = areas[k.area];
    if (theirs !== undefined && theirs > k.v)
      throw invalid(
        `its ${k.area} schema is version ${theirs}, newer than this firmware's ${k.v} (restore it on newer firmware)`,
      );
  }
  if (!tableExists(db, 'users')) throw invalid('it has no accounts table');
  const admins = (
    db.prepare("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0").get() as {
      n: number;
    }
  ).n;
  if (admins === 0)
    throw invalid(
      'it has no enabled admin account: nobody could manage the box after restoring it',
    );
  const users = (db.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
  let revision: number | null = null;
  let boxName: string | null = null;
  if (tableExists(db, 'config_current')) {
    const r = db.prepare('SELECT revision FROM config_current WHERE one = 1').get() as
      | { revision: number }
      | undefined;
    revision = r?.revision ?? null;
  }
  if (revision !== null && tableExists(db, 'config_revisions')) {
    const row = db.prepare('SELECT config FROM config_revisions WHERE id = ?').get(revision) as
      | { config: string }
      | undefined;
    try {
      const cfg = row ? (JSON.parse(row.config) as { system?: { name?: unknown } }) : undefined;
      if (typeof cfg?.system?.name === 'string') boxName = cfg.system.name;
    } catch {
      // The box name is only shown; a revision that does not parse is the store's problem.
    }
  }
  const callRecords = tableExists(db, 'cdr')
    ? (db.prepare('SELECT COUNT(*) AS n FROM cdr').get() as { n: number }).n
    : 0;
  return { areas, admins, users, revision, boxName, callRecords, bytes };
}

/**
 * Stages `uploaded` (a file in the data directory) as the store of the next start, after
 * checking it. Replaces a restore staged before. The live store is not touched.
 */
export function stageRestore(dataDir: string, uploaded: string, current: Db): BackupSummary {
  let summary: BackupSummary;
  try {
    summary = checkBackup(uploaded, current);
  } catch (err) {
    rmSync(uploaded, { force: true });
    throw err;
  }
  renameSync(uploaded, join(dataDir, STAGED_FILE));
  writeFileSync(
    join(dataDir, STAGED_INFO),
    `${JSON.stringify({ ...summary, stagedAt: new Date().toISOString() })}\n`,
  );
  return summary;
}

/** The restore waiting for the next start, if any. */
export function stagedRestore(dataDir: string): (BackupSummary & { stagedAt: string }) | undefined {
  if (!existsSync(join(dataDir, STAGED_FILE))) return undefined;
  try {
    return JSON.parse(readFileSync(join(dataDir, STAGED_INFO), 'utf8')) as BackupSummary & {
      stagedAt: string;
    };
  } catch {
    return {
      areas: {},
      admins: 0,
      users: 0,
      revision: null,
      boxName: null,
      callRecords: 0,
      bytes: 0,
      stagedAt: '',
    };
  }
}

/** Drops the staged restore; false when there was none. */
export function cancelRestore(dataDir: string): boolean {
  const had = existsSync(join(dataDir, STAGED_FILE));
  rmSync(join(dataDir, STAGED_FILE), { force: true });
  rmSync(join(dataDir, STAGED_INFO), { force: true });
  return had;
}

/**
 * At start, before the store opens: a staged restore takes the store's place. The store it
 * replaces is kept as switchboard.db.pre-restore (with its WAL, which may hold the last
 * commits of a box that was not stopped cleanly). Returns what was restored, or undefined.
 */
export function applyStagedRestore(dataDir: string): BackupSummary | undefined {
  const staged = join(dataDir, STAGED_FILE);
  if (!existsSync(staged)) return undefined;
  const summary = stagedRestore(dataDir);
  const live = join(dataDir, DB_FILE);
  const kept = join(dataDir, REPLACED_FILE);
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${kept}${suffix}`, { force: true });
  for (const suffix of ['', '-wal', '-shm'])
    if (existsSync(`${live}${suffix}`)) renameSync(`${live}${suffix}`, `${kept}${suffix}`);
  renameSync(staged, live);
  rmSync(join(dataDir, STAGED_INFO), { force: true });
  return summary;
}
