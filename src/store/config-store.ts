// SPDX-License-Identifier: GPL-2.0-or-later
// Every applied configuration as a numbered revision: who, when, why, and which one is running.

import { canonicalJson } from '../config/canonical.ts';
import { type ConfigChange, diffConfigs } from '../config/diff.ts';
import type { SwitchConfig } from '../config/schema.ts';
import { SwitchboardError } from '../core/errors.ts';
import { type Db, type Migration, migrate } from './db.ts';

/**
 * Where a revision came from: first-run setup, the API (web UI, scripts), a YAML import, an
 * import of DAHDI/Asterisk system.conf/chan_dahdi.conf, a rollback, the command line, or the
 * controller itself (an automatic change, e.g. a migration of old settings).
 */
export const REVISION_SOURCES = [
  'setup',
  'api',
  'yaml',
  'import',
  'rollback',
  'cli',
  'system',
] as const;
export type RevisionSource = (typeof REVISION_SOURCES)[number];

/** What is recorded with a configuration besides the configuration itself. */
export interface CommitMeta {
  /** The user who made the change, or 'system'. */
  author: string;
  source: RevisionSource;
  /** Why, in the installer's words; default ''. At most 500 characters are kept. */
  comment?: string;
  /** For a rollback: the revision whose configuration this one restores. */
  restores?: number;
}

/** A revision without its configuration (lists, audit, the UI's history). */
export interface RevisionInfo {
  /** Grows by one with each commit and is never reused. */
  id: number;
  /** ISO time with milliseconds (UTC). */
  createdAt: string;
  author: string;
  source: RevisionSource;
  comment: string;
  /** The running configuration. */
  current: boolean;
  /** The revision that was running when this one was committed (what `changes` counts against). */
  parent?: number;
  /** How many changes (diffConfigs) this revision made to its parent. */
  changes: number;
  /** For a rollback: the revision whose configuration it restored. */
  restores?: number;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'configuration revisions and the running one',
    up: `
      CREATE TABLE config_revisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        author TEXT NOT NULL,
        source TEXT NOT NULL,
        comment TEXT NOT NULL DEFAULT '',
        parent INTEGER REFERENCES config_revisions(id),
        restores INTEGER REFERENCES config_revisions(id),
        changes INTEGER NOT NULL,
        config TEXT NOT NULL
      );
      CREATE TABLE config_current (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        revision INTEGER NOT NULL REFERENCES config_revisions(id)
      );
    `,
  },
];

const MAX_COMMENT = 500;

interface Row {
  id: number;
  created_at: string;
  author: string;
  source: RevisionSource;
  comment: string;
  parent: number | null;
  restores: number | null;
  changes: number;
  config?: string;
}

const INFO_COLUMNS = 'id, created_at, author, source, comment, parent, restores, changes';

/**
 * The configuration history. It records configurations that the controller has already
 * validated (validateConfig) and applied to the hardware: it never applies anything itself, so
 * the running revision is always one that took.
 */
export class ConfigStore {
  readonly #db: Db;
  readonly #currentId: () => number | undefined;

  constructor(db: Db) {
    this.#db = db;
    migrate(db, 'config', MIGRATIONS);
    const stmt = db.prepare('SELECT revision FROM config_current WHERE one = 1').pluck();
    this.#currentId = () => stmt.get() as number | undefined;
  }

  #info(row: Row, current: number | undefined): RevisionInfo {
    const info: RevisionInfo = {
      id: row.id,
      createdAt: row.created_at,
      author: row.author,
      source: row.source,
      comment: row.comment,
      current: row.id === current,
      changes: row.changes,
    };
    if (row.parent !== null) info.parent = row.parent;
    if (row.restores !== null) info.restores = row.restores;
    return info;
  }

  #row(id: number): Row {
    if (!Number.isSafeInteger(id) || id < 1)
      throw new SwitchboardError('E_REVISION_UNKNOWN', `${id} is not a revision number`);
    const row = this.#db
      .prepare(`SELECT ${INFO_COLUMNS}, config FROM config_revisions WHERE id = ?`)
      .get(id) as Row | undefined;
    if (!row) throw new SwitchboardError('E_REVISION_UNKNOWN', `there is no revision ${id}`);
    return row;
  }

  /** The running configuration and its revision; undefined before the first commit. */
  current(): { revision: number; config: SwitchConfig } | undefined {
    const id = this.#currentId();
    if (id === undefined) return undefined;
    return { revision: id, config: JSON.parse(this.#row(id).config as string) as SwitchConfig };
  }

  /**
   * Records `config` (validated and applied by the caller) as the new running revision. The
   * revision, its change count and the running pointer are written in one transaction.
   */
  commit(config: SwitchConfig, meta: CommitMeta): RevisionInfo {
    if (!(REVISION_SOURCES as readonly string[]).includes(meta.source))
      throw new SwitchboardError(
        'E_STORE',
        `source: "${meta.source}" is not one of ${REVISION_SOURCES.join(', ')}`,
      );
    const json = canonicalJson(config);
    const comment = (meta.comment ?? '').slice(0, MAX_COMMENT);
    return this.#db.transaction(() => {
      const parent = this.#currentId();
      const before =
        parent === undefined
          ? {}
          : (JSON.parse(this.#row(parent).config as string) as SwitchConfig);
      if (meta.restores !== undefined) this.#row(meta.restores);
      const changes = diffConfigs(before, JSON.parse(json) as SwitchConfig).length;
      const createdAt = new Date().toISOString();
      const id = Number(
        this.#db
          .prepare(
            `INSERT INTO config_revisions (created_at, author, source, comment, parent, restores, changes, config)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            createdAt,
            meta.author,
            meta.source,
            comment,
            parent ?? null,
            meta.restores ?? null,
            changes,
            json,
          ).lastInsertRowid,
      );
      this.#db
        .prepare(
          'INSERT INTO config_current (one, revision) VALUES (1, ?) ON CONFLICT (one) DO UPDATE SET revision = excluded.revision',
        )
        .run(id);
      return this.#info(
        {
          id,
          created_at: createdAt,
          author: meta.author,
          source: meta.source,
          comment,
          parent: parent ?? null,
          restores: meta.restores ?? null,
          changes,
        },
        id,
      );
    })();
  }

  /**
   * Revisions newest first, without their configurations.
   * @param limit how many; default 50, 1-1000
   * @param before only revisions older than this id (the next page starts before the last id seen)
   */
  list(options: { limit?: number; before?: number } = {}): RevisionInfo[] {
    const limit = options.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new SwitchboardError('E_REQUEST_FIELD', `limit: must be 1-1000, not ${limit}`, {
        details: [{ path: 'limit', message: 'must be 1-1000' }],
      });
    const before = options.before ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isInteger(before))
      throw new SwitchboardError('E_REQUEST_FIELD', `before: must be a revision number`, {
        details: [{ path: 'before', message: 'must be a revision number' }],
      });
    const current = this.#currentId();
    const rows = this.#db
      .prepare(`SELECT ${INFO_COLUMNS} FROM config_revisions WHERE id < ? ORDER BY id DESC LIMIT ?`)
      .all(before, limit) as Row[];
    return rows.map((r) => this.#info(r, current));
  }

  /**
   * One revision with its configuration.
   * @throws SwitchboardError E_REVISION_UNKNOWN naming the revision
   */
  get(id: number): { info: RevisionInfo; config: SwitchConfig } {
    const row = this.#row(id);
    return {
      info: this.#info(row, this.#currentId()),
      config: JSON.parse(row.config as string) as SwitchConfig,
    };
  }

  /** What changed from revision `fromId` to revision `toId` (either order). */
  diff(fromId: number, toId: number): ConfigChange[] {
    return diffConfigs(this.get(fromId).config, this.get(toId).config);
  }

  /**
   * What a rollback to revision `id` applies and then commits: the controller applies `config`
   * like any other change and, once it took, calls `commit(config, meta)` with its author added.
   */
  rollbackTarget(
    id: number,
    comment?: string,
  ): { config: SwitchConfig; meta: Omit<CommitMeta, 'author'> } {
    const { config } = this.get(id);
    return {
      config,
      meta: {
        source: 'rollback',
        comment: comment ?? `rollback to revision ${id}`,
        restores: id,
      },
    };
  }
}
