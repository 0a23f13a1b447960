// SPDX-License-Identifier: GPL-2.0-or-later
// API plugin: the controller's recent log lines, store backup and a checked restore.

import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { SwitchboardError } from '../core/errors.ts';
import { LOG_LEVELS, type LogLevelName, type LogRing } from '../runtime/log-ring.ts';
import { backupTo, cancelRestore, stagedRestore, stageRestore } from '../store/backup.ts';
import type { Db } from '../store/db.ts';
import { ErrorReply } from './error-handler.ts';
import './types.ts';

export interface SystemPluginOptions {
  db: Db;
  /** Where the store lives: backups are written and restores staged there (same file system). */
  dataDir: string;
  logs: LogRing;
  /** The box name (system.name of the running configuration), for the backup's file name. */
  boxName?: () => string | undefined;
  /** Largest restore upload, bytes; default 1 GiB (call records make a store large). */
  restoreLimit?: number;
}

const LogsQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 5000, default: 200, description: 'newest lines' }),
    level: Type.Union(
      Object.keys(LOG_LEVELS).map((l) => Type.Literal(l)),
      { default: 'info', description: 'this level and above; default info' },
    ),
    after: Type.Optional(
      Type.Integer({ minimum: 0, description: 'only lines after this sequence number (follow)' }),
    ),
    subsystem: Type.Optional(
      Type.String({ maxLength: 40, description: 'only this subsystem (api, calls, trunks...)' }),
    ),
  },
  { additionalProperties: false },
);
const LogsReply = Type.Object({
  lines: Type.Array(
    Type.Object(
      {
        seq: Type.Integer(),
        level: Type.Integer(),
        time: Type.Number(),
        msg: Type.Optional(Type.String()),
      },
      { additionalProperties: true },
    ),
  ),
  last: Type.Integer({ description: 'sequence number of the newest line logged (pass as after)' }),
});
const Summary = Type.Object({
  areas: Type.Record(Type.String(), Type.Integer(), {
    description: 'schema version of each store area',
  }),
  admins: Type.Integer(),
  users: Type.Integer(),
  revision: Type.Union([Type.Integer(), Type.Null()]),
  boxName: Type.Union([Type.String(), Type.Null()]),
  callRecords: Type.Integer(),
  bytes: Type.Integer(),
});
const RestoreState = Type.Object({
  staged: Type.Boolean({ description: 'a restore is applied at the next start' }),
  summary: Type.Optional(Type.Composite([Summary, Type.Object({ stagedAt: Type.String() })])),
});

const SQLITE_TYPES = [
  'application/octet-stream',
  'application/vnd.sqlite3',
  'application/x-sqlite3',
];

function stamp(d: Date): string {
  return d.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
}

export const systemPlugin: FastifyPluginAsync<SystemPluginOptions> = async (app, opts) => {
  const restoreLimit = opts.restoreLimit ?? 1 << 30;
  // The upload goes to a file as it arrives: a store can be larger than the box's free memory.
  for (const type of SQLITE_TYPES)
    if (!app.hasContentTypeParser(type))
      app.addContentTypeParser(type, { bodyLimit: restoreLimit }, (_req, payload, done) => {
        done(null, payload);
      });

  app.get<{ Querystring: Static<typeof LogsQuery> }>(
    '/api/system/logs',
    {
      config: { role: 'admin' },
      schema: {
        summary: "The controller's recent log lines (kept in memory, oldest first)",
        description:
          'A bounded ring of the last lines the controller logged (JSON, as on its standard output); lines older than the ring are gone.',
        tags: ['system'],
        querystring: LogsQuery,
        response: { 200: LogsReply, '4xx': ErrorReply },
      },
    },
    async (req) =>
      opts.logs.read({
        limit: req.query.limit,
        level: LOG_LEVELS[req.query.level as LogLevelName],
        ...(req.query.after === undefined ? {} : { after: req.query.after }),
        ...(req.query.subsystem === undefined ? {} : { subsystem: req.query.subsystem }),
      }),
  );

  app.get(
    '/api/system/backup',
    {
      config: { role: 'admin' },
      schema: {
        summary:
          'A consistent copy of the whole store (configuration, accounts, call records, flows, campaigns) as an SQLite file',
        description:
          "Taken online with SQLite's backup API: one point in time, while calls go on. It holds the password hashes and API token hashes: keep it like a password.",
        tags: ['system'],
        produces: ['application/vnd.sqlite3'],
      },
    },
    async (req, reply) => {
      const file = join(opts.dataDir, `backup-${randomBytes(6).toString('hex')}.db`);
      await backupTo(opts.db, file);
      const box = (opts.boxName?.() ?? '').replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 40);
      const name = `switchboard${box ? `-${box}` : ''}-${stamp(new Date())}.db`;
      req.auditAction = 'backup';
      req.auditDetail = { file: name };
      const stream = createReadStream(file);
      // Unlinked once sent (or the client went away); the open stream keeps reading it.
      stream.on('close', () => rmSync(file, { force: true }));
      return reply
        .header('content-type', 'application/vnd.sqlite3')
        .header('content-disposition', `attachment; filename="${name}"`)
        .send(stream);
    },
  );

  app.get(
    '/api/system/restore',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Whether a restore is staged for the next start, and what it holds',
        tags: ['system'],
        response: { 200: RestoreState, '4xx': ErrorReply },
      },
    },
    async () => {
      const s = stagedRestore(opts.dataDir);
      return s ? { staged: true, summary: s } : { staged: false };
    },
  );

  app.post(
    '/api/system/restore',
    {
      config: { role: 'admin' },
      bodyLimit: restoreLimit,
      schema: {
        summary: 'Upload a backup to restore: checked now, applied when the controller next starts',
        description:
          'Send the file as the body (application/octet-stream or application/vnd.sqlite3). It is refused (400 E_BACKUP_INVALID) unless it is an intact Switchboard store with an enabled admin and no schema newer than this firmware. The live store is untouched until the restart; the store it replaces is kept as switchboard.db.pre-restore.',
        tags: ['system'],
        response: { 200: Summary, '4xx': ErrorReply },
      },
    },
    async (req) => {
      if (
        req.body === undefined ||
        req.body === null ||
        typeof req.body !== 'object' ||
        !('pipe' in req.body)
      )
        throw new SwitchboardError(
          'E_REQUEST',
          'send the backup file as the body, Content-Type application/octet-stream',
        );
      const upload = join(opts.dataDir, `upload-${randomBytes(6).toString('hex')}.db`);
      try {
        let bytes = 0;
        const limit = new Transform({
          transform(chunk: Buffer, _enc, done) {
            bytes += chunk.length;
            if (bytes > restoreLimit)
              done(
                Object.assign(new Error(`the upload is larger than ${restoreLimit} bytes`), {
                  statusCode: 413,
                }),
              );
            else done(null, chunk);
          },
        });
        await pipeline(req.body as NodeJS.ReadableStream, limit, createWriteStream(upload));
      } catch (err) {
        rmSync(upload, { force: true });
        if ((err as { statusCode?: number }).statusCode === 413) throw err;
        throw new SwitchboardError('E_REQUEST', `the upload did not arrive whole: ${String(err)}`);
      }
      const summary = stageRestore(opts.dataDir, upload, opts.db);
      req.auditAction = 'restore_stage';
      req.auditDetail = { revision: summary.revision, users: summary.users, bytes: summary.bytes };
      req.log.warn(
        { revision: summary.revision, bytes: summary.bytes },
        'restore staged: it replaces the store when the controller next starts',
      );
      return summary;
    },
  );

  app.delete(
    '/api/system/restore',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Cancel the staged restore',
        tags: ['system'],
        response: { 200: Type.Object({ ok: Type.Boolean() }), '4xx': ErrorReply },
      },
    },
    async (req) => {
      if (!cancelRestore(opts.dataDir))
        throw new SwitchboardError('E_RESTORE_NONE', 'no restore is staged');
      req.auditAction = 'restore_cancel';
      return { ok: true };
    },
  );
};
