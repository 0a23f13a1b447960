// SPDX-License-Identifier: GPL-2.0-or-later
// Accounts, sessions, CSRF, API tokens and the audit log: who may call which API route, and what they changed.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type {} from '@fastify/cookie';
import type {} from '@fastify/rate-limit';
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { SwitchboardError } from '../core/errors.ts';
import type { FieldError } from '../core/schema.ts';
import { type Db, type Migration, migrate } from '../store/db.ts';
import { ErrorReply } from './error-handler.ts';
import { ROLES, type Role, roleAtLeast } from './types.ts';

/** Options of the auth plugin. */
export interface AuthOptions {
  db: Db;
  /** Mark the session cookie Secure (only sent over HTTPS). Default false: the box may serve plain HTTP. */
  secureCookies?: boolean;
  /** A session unused this long ends, in seconds. Default 3600 (1 h); range 60..604800. */
  sessionIdleS?: number;
  /** A session ends this long after login however busy it is, in seconds. Default 43200 (12 h); range 300..2592000. */
  sessionLifetimeS?: number;
  /** Failed logins from one IP address within `loginWindowS` before the next is refused (429). Default 5; range 1..1000. */
  loginFailures?: number;
  /** The window of `loginFailures`, in seconds. Default 60; range 1..86400. */
  loginWindowS?: number;
  /**
   * Argon2id cost of new password hashes: memory in KiB (default 19456, the OWASP minimum for
   * argon2id; range 1024..1048576), passes (default 2; range 1..10), lanes (default 1; range 1..16).
   * Existing hashes keep the cost they were made with (it is stored in the hash).
   */
  argon2?: { memoryCost?: number; timeCost?: number; parallelism?: number };
  /** Audit rows kept; older ones are pruned. Default 100000; range 1000..10000000. */
  auditKeep?: number;
}

/** The session cookie: httpOnly, SameSite=Strict, Path=/, Secure when `secureCookies`. */
export const SESSION_COOKIE = 'sb_session';
/** The header that must carry the session's CSRF token on every change made through a session. */
export const CSRF_HEADER = 'x-csrf-token';
/** API tokens are `sbt_` + 32 random bytes in base64url (47 characters). */
export const TOKEN_PREFIX = 'sbt_';

/** Methods that change nothing: no CSRF token needed, not audited. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The auth area's schema steps. */
export const AUTH_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'users, sessions, API tokens, audit log',
    up: `
      CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'installer', 'admin')),
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
      );
      -- Only a SHA-256 of the session id is kept: a copy of the database logs nobody in.
      CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        id_hash TEXT NOT NULL UNIQUE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        seen_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        ip TEXT
      );
      CREATE INDEX sessions_user ON sessions(user_id);
      CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'installer', 'admin')),
        token_hash TEXT NOT NULL UNIQUE,
        created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at TEXT NOT NULL,
        last_used_at TEXT,
        revoked_at TEXT
      );
      CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        user_name TEXT,
        via TEXT,
        token_id INTEGER,
        ip TEXT,
        method TEXT NOT NULL,
        url TEXT NOT NULL,
        status INTEGER NOT NULL,
        action TEXT,
        detail TEXT
      );
      CREATE INDEX audit_at ON audit(at);
      CREATE INDEX audit_user ON audit(user_name, at);
    `,
  },
];

/** True until first-run setup has created an account (there is no default account). */
export function setupNeeded(db: Db): boolean {
  return db.prepare('SELECT 1 FROM users LIMIT 1').get() === undefined;
}

/** Passwords that people pick first; a password containing one is refused. */
const COMMON_WORDS = ['password', 'passwort', 'switchboard', 'qwerty', 'qwertz', '12345678'];

/**
 * The password rules, checked on setup, new users and every password change. A password:
 * - has 10 to 256 characters (the route schemas check the length),
 * - does not contain the user name (in any letter case),
 * - mixes at least two kinds of character: lower case, upper case, digits, others,
 * - has at least 5 different characters (`aaaaaaaaa1` is refused),
 * - contains none of a few words everybody tries first (password, switchboard, qwerty...).
 * Returns what is wrong, or undefined when the password is acceptable.
 */
export function passwordProblem(name: string, password: string): string | undefined {
  const chars = [...password];
  if (chars.length < 10) return 'must be at least 10 characters';
  const lower = password.toLowerCase();
  if (name !== '' && lower.includes(name.toLowerCase())) return 'must not contain the user name';
  const kinds = [/\p{Ll}/u, /\p{Lu}/u, /\p{Nd}/u, /[^\p{Ll}\p{Lu}\p{Nd}]/u].filter((k) =>
    k.test(password),
  ).length;
  if (kinds < 2)
    return 'must mix at least two kinds of character (lower case, upper case, digits, others)';
  if (new Set(chars).size < 5) return 'must have at least 5 different characters';
  const word = COMMON_WORDS.find((w) => lower.includes(w));
  if (word !== undefined) return `must not contain "${word}"`;
  return undefined;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function randomId(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time string comparison (for the CSRF token). */
function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const REDACTED_KEY = /(password|passwd|passphrase|token|secret|csrf)$/i;

/**
 * A copy of an audit detail without secrets: fields named like password, token, secret or csrf
 * (`newPassword`, `apiToken`, but not `tokenId`) and any string that is an API token.
 */
export function redact(value: unknown): unknown {
  if (typeof value === 'string') return value.startsWith(TOKEN_PREFIX) ? '[redacted]' : value;
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = REDACTED_KEY.test(k) ? '[redacted]' : redact(v);
    return out;
  }
  return value;
}

/** The URL as audited: query parameters named like secrets are blanked. */
function auditUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const key of [...params.keys()]) if (REDACTED_KEY.test(key)) params.set(key, 'redacted');
  return `${url.slice(0, q)}?${params.toString()}`;
}

/** Longest audit detail kept, in characters of JSON; longer ones are cut and marked. */
const AUDIT_DETAIL_MAX = 4096;

function field(path: string, message: string): SwitchboardError {
  const details: FieldError[] = [{ path, message }];
  return new SwitchboardError('E_PASSWORD_WEAK', `${path}: ${message}`, { details });
}

function authRequired(reply: FastifyReply, message: string): SwitchboardError {
  reply.header('www-authenticate', 'Bearer realm="switchboard"');
  return new SwitchboardError('E_AUTH_REQUIRED', message);
}

function inRange(name: string, value: number | undefined, def: number, min: number, max: number) {
  const v = value ?? def;
  if (!Number.isInteger(v) || v < min || v > max)
    throw new SwitchboardError(
      'E_CONFIG_FIELD',
      `auth.${name}: must be an integer from ${min} to ${max}, not ${v}`,
    );
  return v;
}

// ---- schemas (TypeBox: the same objects validate requests and describe the OpenAPI document)

const RoleSchema = Type.Union(
  ROLES.map((r) => Type.Literal(r)),
  { description: 'viewer < operator < installer < admin' },
);
const UserName = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$',
  mustBe: '3 to 32 letters, digits, dots, dashes or underscores, starting with a letter or digit',
  description: 'account name, unique regardless of letter case',
});
const NewPassword = Type.String({
  minLength: 10,
  maxLength: 256,
  description: 'at least 10 characters, two kinds of character, 5 different ones, not the name',
});
const Credentials = Type.Object(
  { name: UserName, password: NewPassword },
  { additionalProperties: false },
);
const LoginBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);
const LoginReply = Type.Object({
  user: Type.String(),
  role: RoleSchema,
  csrf: Type.String({ description: `send it back in the ${CSRF_HEADER} header of every change` }),
});
const MeReply = Type.Object({
  user: Type.String(),
  role: RoleSchema,
  via: Type.Union([Type.Literal('session'), Type.Literal('token')]),
  csrf: Type.Optional(Type.String({ description: 'the session CSRF token (sessions only)' })),
});
const UserView = Type.Object({
  name: Type.String(),
  role: RoleSchema,
  disabled: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
});
const UserParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) });
const NewUser = Type.Object(
  { name: UserName, password: NewPassword, role: RoleSchema },
  { additionalProperties: false },
);
const UserChange = Type.Object(
  {
    role: Type.Optional(RoleSchema),
    disabled: Type.Optional(Type.Boolean({ description: 'a disabled user is logged out' })),
    password: Type.Optional(NewPassword),
  },
  { additionalProperties: false },
);
const PasswordChange = Type.Object(
  { oldPassword: Type.String({ minLength: 1, maxLength: 256 }), newPassword: NewPassword },
  { additionalProperties: false },
);
const TokenView = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  role: RoleSchema,
  createdBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revoked: Type.Boolean(),
});
const NewToken = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64, description: 'what the token is for' }),
    role: RoleSchema,
  },
  { additionalProperties: false },
);
const NewTokenReply = Type.Composite([
  TokenView,
  Type.Object({ token: Type.String({ description: 'shown once; only its hash is kept' }) }),
]);
const TokenParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
const AuditQuery = Type.Object(
  {
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'at or after' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'before' })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    offset: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false },
);
const AuditEntry = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  user: Type.Union([Type.String(), Type.Null()]),
  via: Type.Union([Type.String(), Type.Null()]),
  tokenId: Type.Union([Type.Integer(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  method: Type.String(),
  url: Type.String(),
  status: Type.Integer(),
  action: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Unknown(),
});
const AuditReply = Type.Object({ total: Type.Integer(), entries: Type.Array(AuditEntry) });
const SetupState = Type.Object({
  needed: Type.Boolean({ description: 'true until the first admin account exists' }),
});
const Done = Type.Null({ description: 'done; no body' });

/** Response schemas plus the error shape for every 4xx. */
function replies(ok: Record<number, TSchema>): Record<string, TSchema> {
  return { ...ok, '4xx': ErrorReply };
}

// ---- database rows

interface UserRow {
  id: number;
  name: string;
  role: Role;
  password_hash: string;
  created_at: string;
  disabled: 0 | 1;
}
interface SessionRow {
  id: number;
  user_id: number;
  csrf: string;
  seen_ms: number;
  expires_ms: number;
  name: string;
  role: Role;
  disabled: 0 | 1;
}
interface TokenRow {
  id: number;
  name: string;
  role: Role;
  created_by: number | null;
  created_by_name: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}
interface TokenAuthRow extends TokenRow {
  user_role: Role | null;
  disabled: 0 | 1 | null;
}
interface AuditRow {
  id: number;
  at: string;
  user_name: string | null;
  via: string | null;
  token_id: number | null;
  ip: string | null;
  method: string;
  url: string;
  status: number;
  action: string | null;
  detail: string | null;
}

function userView(u: UserRow): Static<typeof UserView> {
  return { name: u.name, role: u.role, disabled: u.disabled === 1, createdAt: u.created_at };
}

function tokenView(t: TokenRow): Static<typeof TokenView> {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    createdBy: t.created_by_name,
    createdAt: t.created_at,
    lastUsedAt: t.last_used_at,
    revoked: t.revoked_at !== null,
  };
}

/** The weaker of two roles. */
function weaker(a: Role, b: Role): Role {
  return roleAtLeast(a, b) ? b : a;
}

/** What the auth hook learnt about a session caller: the session row and its CSRF token. */
interface SessionInfo {
  id: number;
  csrf: string;
}
const sessionOf = new WeakMap<FastifyRequest, SessionInfo>();
/** The account a failed login named, for the audit log's user column. */
const auditUserOf = new WeakMap<FastifyRequest, string>();
/** The token a token caller used, for the audit log. */
const tokenOf = new WeakMap<FastifyRequest, number>();

/** Who an API token acts for: its creator, never beyond that account's role today. */
export interface TokenIdentity {
  tokenId: number;
  userId: number;
  user: string;
  /** The weaker of the token's role and its creator's current role. */
  role: Role;
}

/**
 * Checks API tokens (`sbt_...`) against the store, for the HTTP API and for anything else that
 * accepts them (MQTT). A revoked token, one whose account is disabled or deleted, or anything
 * that is not a token gives undefined. `last_used_at` is written at most every `touchMs`.
 * Migrates the auth area first, so it works on a store the API has not opened yet.
 */
export function tokenChecker(
  db: Db,
  touchMs = 60_000,
): (token: string) => TokenIdentity | undefined {
  migrate(db, 'auth', AUTH_MIGRATIONS);
  const byHash = db.prepare(`SELECT t.*, u.name AS created_by_name, u.role AS user_role,
      u.disabled FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by WHERE t.token_hash = ?`);
  const touch = db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?');
  return (token) => {
    if (!token.startsWith(TOKEN_PREFIX) || !/^[A-Za-z0-9_-]{43}$/.test(token.slice(4)))
      return undefined;
    const row = byHash.get(sha256(token)) as TokenAuthRow | undefined;
    if (row === undefined || row.revoked_at !== null) return undefined;
    // A token acts for the account that made it: never beyond that account's role today.
    if (row.created_by === null || row.user_role === null || row.disabled !== 0) return undefined;
    const now = new Date();
    if (row.last_used_at === null || now.getTime() - Date.parse(row.last_used_at) >= touchMs)
      touch.run(now.toISOString(), row.id);
    return {
      tokenId: row.id,
      userId: row.created_by,
      user: row.created_by_name ?? '',
      role: weaker(row.role, row.user_role),
    };
  };
}

/** One row of the audit log. */
export interface AuditEntry {
  user: string | null;
  /** session, token */
  via: string | null;
  tokenId: number | null;
  /** The caller's address, when known. */
  ip: string | null;
  /** The HTTP method, or `MQTT` for a command received over MQTT. */
  method: string;
  /** The URL, or the MQTT topic. */
  url: string;
  /** The HTTP status (an MQTT command: the status its error code maps to, 200 when done). */
  status: number;
  action: string | null;
  /** Recorded without secrets (see redact) and cut at 4096 characters of JSON. */
  detail?: Record<string, unknown>;
}

/**
 * Writes audit rows (the auth plugin's and those of changes made outside HTTP, such as MQTT
 * commands), keeping the newest `keep`. Migrates the auth area first. A failed write throws.
 */
export function auditWriter(db: Db, keep = 100000): (entry: AuditEntry) => void {
  migrate(db, 'auth', AUTH_MIGRATIONS);
  const insert = db.prepare(`INSERT INTO audit
      (at, user_name, via, token_id, ip, method, url, status, action, detail)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const prune = db.prepare('DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - ?');
  let sincePrune = 0;
  return (e) => {
    let detail: string | null = null;
    if (e.detail !== undefined) {
      detail = JSON.stringify(redact(e.detail));
      if (detail.length > AUDIT_DETAIL_MAX)
        detail = JSON.stringify({ truncated: detail.slice(0, AUDIT_DETAIL_MAX) });
    }
    insert.run(
      new Date().toISOString(),
      e.user,
      e.via,
      e.tokenId,
      e.ip,
      e.method,
      e.url,
      e.status,
      e.action,
      detail,
    );
    if (++sincePrune >= 1000) {
      sincePrune = 0;
      prune.run(keep);
    }
  };
}

/**
 * The auth plugin: migrates the 'auth' area, checks every route's access declaration as it is
 * registered, authenticates every request (session cookie + CSRF, or bearer token), records
 * every change in the audit log, and serves setup, login, logout, me, users, tokens and audit.
 * It is not encapsulated (skip-override): its hooks must cover the routes of every other plugin.
 * It needs @fastify/cookie and @fastify/rate-limit (global: false) registered before it.
 */
export const authPlugin: FastifyPluginAsync<AuthOptions> = async (app, opts) => {
  const { db } = opts;
  if (!app.hasDecorator('createRateLimit') || !app.hasReplyDecorator('setCookie'))
    throw new SwitchboardError(
      'E_INTERNAL',
      'the auth plugin needs @fastify/cookie and @fastify/rate-limit registered first',
    );
  const idleMs = inRange('sessionIdleS', opts.sessionIdleS, 3600, 60, 604800) * 1000;
  const lifetimeMs = inRange('sessionLifetimeS', opts.sessionLifetimeS, 43200, 300, 2592000) * 1000;
  const loginFailures = inRange('loginFailures', opts.loginFailures, 5, 1, 1000);
  const loginWindowMs = inRange('loginWindowS', opts.loginWindowS, 60, 1, 86400) * 1000;
  const auditKeep = inRange('auditKeep', opts.auditKeep, 100000, 1000, 10000000);
  const argon2 = {
    memoryCost: inRange('argon2.memoryCost', opts.argon2?.memoryCost, 19456, 1024, 1048576),
    timeCost: inRange('argon2.timeCost', opts.argon2?.timeCost, 2, 1, 10),
    parallelism: inRange('argon2.parallelism', opts.argon2?.parallelism, 1, 1, 16),
    // Algorithm.Argon2id. The package declares its enum `const`, which an isolated-modules
    // build cannot read, and its JavaScript does not export it: the value is spelt out here.
    algorithm: 2 as Algorithm,
  };
  /** last_seen / last_used are written at most this often: a read does not cost a disk sync. */
  const touchMs = Math.min(60_000, idleMs / 4);

  migrate(db, 'auth', AUTH_MIGRATIONS);

  const sql = {
    userByName: db.prepare('SELECT * FROM users WHERE name = ?'),
    users: db.prepare('SELECT * FROM users ORDER BY name'),
    insertUser: db.prepare(
      'INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)',
    ),
    enabledAdminsBut: db.prepare(
      "SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0 AND id != ?",
    ),
    session: db.prepare(`SELECT s.id, s.user_id, s.csrf, s.seen_ms, s.expires_ms,
      u.name, u.role, u.disabled FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.id_hash = ?`),
    insertSession: db.prepare(`INSERT INTO sessions
      (id_hash, user_id, csrf, created_ms, seen_ms, expires_ms, ip) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    touchSession: db.prepare('UPDATE sessions SET seen_ms = ? WHERE id = ?'),
    deleteSession: db.prepare('DELETE FROM sessions WHERE id = ?'),
    deleteSessionsOf: db.prepare('DELETE FROM sessions WHERE user_id = ? AND id != ?'),
    deleteStaleSessions: db.prepare('DELETE FROM sessions WHERE expires_ms <= ? OR seen_ms <= ?'),
    tokens: db.prepare(`SELECT t.*, u.name AS created_by_name FROM api_tokens t
      LEFT JOIN users u ON u.id = t.created_by ORDER BY t.id`),
    tokensOf: db.prepare(`SELECT t.*, u.name AS created_by_name FROM api_tokens t
      LEFT JOIN users u ON u.id = t.created_by WHERE t.created_by = ? ORDER BY t.id`),
    tokenById: db.prepare(`SELECT t.*, u.name AS created_by_name FROM api_tokens t
      LEFT JOIN users u ON u.id = t.created_by WHERE t.id = ?`),
    insertToken: db.prepare(`INSERT INTO api_tokens (name, role, token_hash, created_by, created_at)
      VALUES (?, ?, ?, ?, ?)`),
    revokeToken: db.prepare(
      'UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
    ),
    revokeTokensOf: db.prepare(
      'UPDATE api_tokens SET revoked_at = ? WHERE created_by = ? AND revoked_at IS NULL',
    ),
  };

  const hashPassword = (password: string) => hash(password.normalize('NFC'), argon2);
  const checkPassword = (stored: string, password: string) =>
    verify(stored, password.normalize('NFC')).catch(() => false);
  // Unknown names are checked against this, so that they cost what a real account costs.
  const dummyHash = hashPassword(randomId());

  const failedLogins = app.createRateLimit({ max: loginFailures, timeWindow: loginWindowMs });

  // ---- every route declares who may call it

  app.addHook('onRoute', (route) => {
    const config = route.config ?? {};
    const where = `${String(route.method)} ${route.url}`;
    if (config.public !== undefined && config.public !== true)
      throw new SwitchboardError('E_INTERNAL', `${where}: config.public must be true or absent`);
    if (config.public === true && config.role !== undefined)
      throw new SwitchboardError('E_INTERNAL', `${where}: declares both public and a role`);
    if (config.role !== undefined && !ROLES.includes(config.role))
      throw new SwitchboardError('E_INTERNAL', `${where}: unknown role "${config.role}"`);
    const schema = route.schema ?? {};
    if ((schema as { hide?: boolean }).hide === true) return;
    // The OpenAPI document says who may call each route; public ones need no credentials.
    const who = config.public === true ? 'Public.' : `Role: ${config.role ?? 'viewer'}.`;
    const description = schema.description === undefined ? who : `${schema.description}\n\n${who}`;
    route.schema = {
      ...schema,
      description,
      ...(config.public === true ? { security: [] } : {}),
    };
  });

  // ---- authentication, CSRF and role on every request

  app.decorateRequest('user', undefined);
  app.decorateRequest('auditDetail', undefined);
  app.decorateRequest('auditAction', undefined);

  function sessionCaller(sid: string): (SessionInfo & { row: SessionRow }) | undefined {
    if (!/^[A-Za-z0-9_-]{43}$/.test(sid)) return undefined;
    const row = sql.session.get(sha256(sid)) as SessionRow | undefined;
    if (row === undefined) return undefined;
    const now = Date.now();
    if (row.disabled === 1 || now >= row.expires_ms || now - row.seen_ms >= idleMs) {
      sql.deleteSession.run(row.id);
      return undefined;
    }
    if (now - row.seen_ms >= touchMs) sql.touchSession.run(now, row.id);
    return { id: row.id, csrf: row.csrf, row };
  }

  const tokenCaller = tokenChecker(db, touchMs);
  const audit = auditWriter(db, auditKeep);

  // Long-lived connections (the live WebSocket) ask again whether their caller is still in:
  // logged out, timed out, disabled, its token revoked. Nothing is touched (no last-seen write):
  // watching the live view does not keep an idle session alive.
  const stillSession = db.prepare(
    'SELECT s.expires_ms, s.seen_ms, u.disabled FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?',
  );
  const stillToken = db.prepare(
    'SELECT t.revoked_at, u.disabled FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by WHERE t.id = ?',
  );
  app.decorate('stillAuthenticated', (req: FastifyRequest): boolean => {
    const now = Date.now();
    const session = sessionOf.get(req);
    if (session !== undefined) {
      const row = stillSession.get(session.id) as
        | { expires_ms: number; seen_ms: number; disabled: 0 | 1 }
        | undefined;
      return (
        row !== undefined &&
        row.disabled === 0 &&
        now < row.expires_ms &&
        now - row.seen_ms < idleMs
      );
    }
    const token = tokenOf.get(req);
    if (token !== undefined) {
      const row = stillToken.get(token) as
        | { revoked_at: string | null; disabled: 0 | 1 | null }
        | undefined;
      return row !== undefined && row.revoked_at === null && row.disabled === 0;
    }
    return false;
  });

  app.addHook('onRequest', async (req, reply) => {
    const config = req.routeOptions.config;
    if (config.public === true) return;
    const need: Role = config.role ?? 'viewer';
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const bearer = /^Bearer +(\S+)$/i.exec(authorization);
      if (bearer === null)
        throw authRequired(reply, 'the Authorization header must be "Bearer <API token>"');
      const who = tokenCaller(bearer[1] ?? '');
      if (who === undefined)
        throw authRequired(reply, 'the API token is unknown, revoked, or its account is disabled');
      req.user = { id: who.userId, name: who.user, role: who.role, via: 'token' };
      tokenOf.set(req, who.tokenId);
    } else {
      const sid = req.cookies[SESSION_COOKIE];
      if (sid === undefined)
        throw authRequired(reply, 'log in first: the request has no session cookie or API token');
      const session = sessionCaller(sid);
      if (session === undefined) {
        reply.clearCookie(SESSION_COOKIE, { path: '/' });
        throw authRequired(reply, 'the session has ended (logged out or timed out): log in again');
      }
      req.user = {
        id: session.row.user_id,
        name: session.row.name,
        role: session.row.role,
        via: 'session',
      };
      sessionOf.set(req, { id: session.id, csrf: session.csrf });
      if (!SAFE_METHODS.has(req.method)) {
        const sent = req.headers[CSRF_HEADER];
        if (typeof sent !== 'string' || !sameSecret(sent, session.csrf))
          throw new SwitchboardError(
            'E_CSRF',
            `a change made through a session needs the session's CSRF token in the ${CSRF_HEADER} header`,
          );
      }
    }
    if (!roleAtLeast(req.user.role, need))
      throw new SwitchboardError(
        'E_FORBIDDEN',
        `${req.method} ${req.routeOptions.url ?? req.url} needs the ${need} role; ${req.user.name} is ${req.user.role}`,
      );
  });

  // ---- the audit log: every change, with who made it and how it ended

  app.addHook('onResponse', async (req, reply) => {
    if (SAFE_METHODS.has(req.method)) return;
    // A change refused for want of credentials changed nothing and names nobody; recording it
    // would let anyone on the network push the real history out of the log (see auditKeep).
    // Failed logins and setups are kept: they set an action, and the rate limits bound them.
    if (req.user === undefined && req.auditAction === undefined && reply.statusCode === 401) return;
    try {
      audit({
        user: req.user?.name ?? auditUserOf.get(req) ?? null,
        via: req.user?.via ?? null,
        tokenId: tokenOf.get(req) ?? null,
        ip: req.ip,
        method: req.method,
        url: auditUrl(req.url),
        status: reply.statusCode,
        action: req.auditAction ?? null,
        ...(req.auditDetail === undefined ? {} : { detail: req.auditDetail }),
      });
    } catch (err) {
      req.log.error({ err }, 'the audit log cannot be written');
    }
  });

  // ---- sessions

  function startSession(req: FastifyRequest, reply: FastifyReply, user: UserRow) {
    const sid = randomId();
    const csrf = randomId();
    const now = Date.now();
    sql.deleteStaleSessions.run(now, now - idleMs);
    sql.insertSession.run(sha256(sid), user.id, csrf, now, now, now + lifetimeMs, req.ip);
    reply.setCookie(SESSION_COOKIE, sid, {
      httpOnly: true,
      sameSite: 'strict',
      secure: opts.secureCookies === true,
      path: '/',
    });
    req.user = { id: user.id, name: user.name, role: user.role, via: 'session' };
    return { user: user.name, role: user.role, csrf };
  }

  function passwordRules(path: string, name: string, password: string): void {
    const problem = passwordProblem(name, password);
    if (problem !== undefined) throw field(path, problem);
  }

  // ---- first-run setup

  app.get(
    '/api/setup',
    {
      config: { public: true },
      schema: {
        summary: 'Whether first-run setup is still needed',
        tags: ['auth'],
        response: replies({ 200: SetupState }),
      },
    },
    async () => ({ needed: setupNeeded(db) }),
  );

  app.post<{ Body: Static<typeof Credentials> }>(
    '/api/setup',
    {
      config: { public: true, rateLimit: { max: 10, timeWindow: 60_000 } },
      schema: {
        summary: 'Create the first admin account and log it in (only while there is no account)',
        description: 'At most 10 attempts a minute from one address.',
        tags: ['auth'],
        body: Credentials,
        response: replies({ 201: LoginReply }),
      },
    },
    async (req, reply) => {
      const done = () =>
        new SwitchboardError('E_SETUP_DONE', 'setup is done: log in with an existing account');
      if (!setupNeeded(db)) throw done();
      const { name, password } = req.body;
      passwordRules('body.password', name, password);
      const passwordHash = await hashPassword(password);
      // Checked again in the transaction: two setups racing through the hash create one admin.
      const user = db.transaction(() => {
        if (!setupNeeded(db)) throw done();
        sql.insertUser.run(name, 'admin', passwordHash, new Date().toISOString());
        return sql.userByName.get(name) as UserRow;
      })();
      req.auditAction = 'setup';
      req.auditDetail = { name };
      reply.code(201);
      return startSession(req, reply, user);
    },
  );

  // ---- login, logout, me

  app.post<{ Body: Static<typeof LoginBody> }>(
    '/api/login',
    {
      config: { public: true, rateLimit: { max: 60, timeWindow: 60_000 } },
      schema: {
        summary: 'Log in: sets the session cookie and returns the CSRF token',
        description: `After ${loginFailures} failed logins from one address within ${loginWindowMs / 1000} s, further attempts get 429 with Retry-After.`,
        tags: ['auth'],
        body: LoginBody,
        response: replies({ 200: LoginReply }),
      },
    },
    async (req, reply) => {
      const limit = await failedLogins(req, { increment: false });
      if (!limit.isAllowed && limit.remaining === 0) {
        req.auditAction = 'login_limited';
        reply.header('retry-after', limit.ttlInSeconds);
        throw new SwitchboardError(
          'E_RATE_LIMITED',
          `too many failed logins from ${req.ip}: retry in ${limit.ttlInSeconds} s`,
          { details: { retryAfterS: limit.ttlInSeconds } },
        );
      }
      const { name, password } = req.body;
      const user = sql.userByName.get(name) as UserRow | undefined;
      const ok = await checkPassword(user?.password_hash ?? (await dummyHash), password);
      if (user === undefined || !ok || user.disabled === 1) {
        await failedLogins(req);
        req.auditAction = 'login_failed';
        // A name that is no account is often a password typed into the wrong field: not kept.
        if (user !== undefined) auditUserOf.set(req, user.name);
        req.auditDetail = {
          reason: user === undefined ? 'unknown user' : ok ? 'disabled' : 'wrong password',
        };
        throw new SwitchboardError('E_LOGIN_FAILED', 'wrong user name or password');
      }
      req.auditAction = 'login';
      return startSession(req, reply, user);
    },
  );

  app.post(
    '/api/logout',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'End the session (a token caller: nothing to end)',
        tags: ['auth'],
        response: replies({ 204: Done }),
      },
    },
    async (req, reply) => {
      const session = sessionOf.get(req);
      if (session !== undefined) {
        sql.deleteSession.run(session.id);
        reply.clearCookie(SESSION_COOKIE, { path: '/' });
      }
      req.auditAction = 'logout';
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/me',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Who is calling; for a session also its CSRF token (after a page reload)',
        tags: ['auth'],
        response: replies({ 200: MeReply }),
      },
    },
    async (req) => {
      const me = caller(req);
      const session = sessionOf.get(req);
      return { user: me.name, role: me.role, via: me.via, csrf: session?.csrf };
    },
  );

  app.post<{ Body: Static<typeof PasswordChange> }>(
    '/api/me/password',
    {
      config: { role: 'viewer' },
      schema: {
        summary: "Change one's own password (needs the current one); other sessions end",
        tags: ['auth'],
        body: PasswordChange,
        response: replies({ 204: Done }),
      },
    },
    async (req, reply) => {
      const me = caller(req);
      const user = sql.userByName.get(me.name) as UserRow | undefined;
      if (user === undefined) throw new SwitchboardError('E_USER_UNKNOWN', 'the account is gone');
      if (!(await checkPassword(user.password_hash, req.body.oldPassword)))
        throw new SwitchboardError('E_PASSWORD_WRONG', 'body.oldPassword: is not the password', {
          details: [{ path: 'body.oldPassword', message: 'is not the password' }],
        });
      passwordRules('body.newPassword', user.name, req.body.newPassword);
      const passwordHash = await hashPassword(req.body.newPassword);
      db.transaction(() => {
        db.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run(passwordHash, user.id);
        sql.deleteSessionsOf.run(user.id, sessionOf.get(req)?.id ?? 0);
      })();
      req.auditAction = 'password_change';
      req.auditDetail = { name: user.name };
      return reply.code(204).send();
    },
  );

  // ---- users (admin)

  function userOr404(name: string): UserRow {
    const user = sql.userByName.get(name) as UserRow | undefined;
    if (user === undefined)
      throw new SwitchboardError('E_USER_UNKNOWN', `params.name: no user "${name}"`, {
        details: [{ path: 'params.name', message: `no user "${name}"` }],
      });
    return user;
  }

  /** Refuses a change that leaves no enabled admin (nobody could manage users any more). */
  function keepAnAdmin(target: UserRow, stillAdmin: boolean, what: string): void {
    if (target.role !== 'admin' || target.disabled === 1 || stillAdmin) return;
    const { n } = sql.enabledAdminsBut.get(target.id) as { n: number };
    if (n === 0)
      throw new SwitchboardError(
        'E_LAST_ADMIN',
        `${target.name} is the last enabled admin: cannot ${what} them; make another admin first`,
      );
  }

  app.get(
    '/api/users',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'List the accounts',
        tags: ['users'],
        response: replies({ 200: Type.Array(UserView) }),
      },
    },
    async () => (sql.users.all() as UserRow[]).map(userView),
  );

  app.post<{ Body: Static<typeof NewUser> }>(
    '/api/users',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Create an account',
        tags: ['users'],
        body: NewUser,
        response: replies({ 201: UserView }),
      },
    },
    async (req, reply) => {
      const { name, password, role } = req.body;
      const exists = () =>
        new SwitchboardError('E_USER_EXISTS', `body.name: a user "${name}" exists already`, {
          details: [{ path: 'body.name', message: `a user "${name}" exists already` }],
        });
      if (sql.userByName.get(name) !== undefined) throw exists();
      passwordRules('body.password', name, password);
      const passwordHash = await hashPassword(password);
      const user = db.transaction(() => {
        if (sql.userByName.get(name) !== undefined) throw exists();
        sql.insertUser.run(name, role, passwordHash, new Date().toISOString());
        return sql.userByName.get(name) as UserRow;
      })();
      req.auditAction = 'user_create';
      req.auditDetail = { name, role };
      reply.code(201);
      return userView(user);
    },
  );

  app.patch<{ Params: Static<typeof UserParams>; Body: Static<typeof UserChange> }>(
    '/api/users/:name',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Change the role, disable or enable, or set the password of an account',
        description: 'Disabling an account or setting its password ends its sessions.',
        tags: ['users'],
        params: UserParams,
        body: UserChange,
        response: replies({ 200: UserView }),
      },
    },
    async (req) => {
      const change = req.body;
      const target = userOr404(req.params.name);
      if (change.password !== undefined)
        passwordRules('body.password', target.name, change.password);
      const passwordHash =
        change.password === undefined ? undefined : await hashPassword(change.password);
      const user = db.transaction(() => {
        const now = userOr404(target.name);
        const role = change.role ?? now.role;
        const disabled = change.disabled ?? now.disabled === 1;
        keepAnAdmin(now, role === 'admin' && !disabled, disabled ? 'disable' : 'demote');
        db.prepare('UPDATE users SET role = ?, disabled = ? WHERE id = ?').run(
          role,
          disabled ? 1 : 0,
          now.id,
        );
        if (passwordHash !== undefined)
          db.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run(passwordHash, now.id);
        // A disabled account, or one whose password was reset, is logged out everywhere
        // (except the admin's own session when they reset their own password here).
        if (disabled || passwordHash !== undefined)
          sql.deleteSessionsOf.run(now.id, disabled ? 0 : (sessionOf.get(req)?.id ?? 0));
        return sql.userByName.get(now.name) as UserRow;
      })();
      req.auditAction = 'user_update';
      req.auditDetail = {
        name: user.name,
        ...(change.role === undefined ? {} : { role: change.role }),
        ...(change.disabled === undefined ? {} : { disabled: change.disabled }),
        ...(change.password === undefined ? {} : { passwordSet: true }),
      };
      return userView(user);
    },
  );

  app.delete<{ Params: Static<typeof UserParams> }>(
    '/api/users/:name',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Delete an account: its sessions end and its API tokens are revoked',
        tags: ['users'],
        params: UserParams,
        response: replies({ 204: Done }),
      },
    },
    async (req, reply) => {
      const name = db.transaction(() => {
        const target = userOr404(req.params.name);
        keepAnAdmin(target, false, 'delete');
        sql.revokeTokensOf.run(new Date().toISOString(), target.id);
        db.prepare('DELETE FROM users WHERE id = ?').run(target.id);
        return target.name;
      })();
      req.auditAction = 'user_delete';
      req.auditDetail = { name };
      return reply.code(204).send();
    },
  );

  // ---- API tokens: an admin manages every token; an installer their own

  app.get(
    '/api/tokens',
    {
      config: { role: 'installer' },
      schema: {
        summary: 'List API tokens (an admin sees all, an installer their own)',
        tags: ['tokens'],
        response: replies({ 200: Type.Array(TokenView) }),
      },
    },
    async (req) => {
      const me = caller(req);
      const rows = me.role === 'admin' ? sql.tokens.all() : sql.tokensOf.all(me.id);
      return (rows as TokenRow[]).map(tokenView);
    },
  );

  app.post<{ Body: Static<typeof NewToken> }>(
    '/api/tokens',
    {
      config: { role: 'installer' },
      schema: {
        summary: 'Create an API token (returned once) with a role up to your own',
        description:
          'Only from a login session: a token cannot mint more tokens. The token acts for its ' +
          "creator and never beyond the creator's current role; deleting or disabling the " +
          'creator stops it.',
        tags: ['tokens'],
        body: NewToken,
        response: replies({ 201: NewTokenReply }),
      },
    },
    async (req, reply) => {
      const me = caller(req);
      if (me.via !== 'session')
        throw new SwitchboardError('E_FORBIDDEN', 'API tokens are created from a login session');
      if (!roleAtLeast(me.role, req.body.role))
        throw new SwitchboardError(
          'E_FORBIDDEN',
          `body.role: ${me.name} is ${me.role} and cannot create a ${req.body.role} token`,
          { details: [{ path: 'body.role', message: `must be at most ${me.role}` }] },
        );
      const token = TOKEN_PREFIX + randomId();
      const info = sql.insertToken.run(
        req.body.name,
        req.body.role,
        sha256(token),
        me.id,
        new Date().toISOString(),
      );
      const row = sql.tokenById.get(info.lastInsertRowid) as TokenRow;
      req.auditAction = 'token_create';
      req.auditDetail = { tokenId: row.id, name: row.name, role: row.role };
      reply.code(201);
      return { ...tokenView(row), token };
    },
  );

  app.delete<{ Params: Static<typeof TokenParams> }>(
    '/api/tokens/:id',
    {
      config: { role: 'installer' },
      schema: {
        summary: 'Revoke an API token (an admin any, an installer their own)',
        tags: ['tokens'],
        params: TokenParams,
        response: replies({ 204: Done }),
      },
    },
    async (req, reply) => {
      const me = caller(req);
      const row = sql.tokenById.get(req.params.id) as TokenRow | undefined;
      // Another user's token is as unknown to an installer as a token that never was.
      if (row === undefined || (me.role !== 'admin' && row.created_by !== me.id))
        throw new SwitchboardError('E_TOKEN_UNKNOWN', `params.id: no token ${req.params.id}`, {
          details: [{ path: 'params.id', message: `no token ${req.params.id}` }],
        });
      sql.revokeToken.run(new Date().toISOString(), row.id);
      req.auditAction = 'token_revoke';
      req.auditDetail = { tokenId: row.id, name: row.name };
      return reply.code(204).send();
    },
  );

  // ---- the audit log (admin)

  app.get<{ Querystring: Static<typeof AuditQuery> }>(
    '/api/audit',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'The audit log, newest first: every change, login and logout',
        tags: ['audit'],
        querystring: AuditQuery,
        response: replies({ 200: AuditReply }),
      },
    },
    async (req) => {
      const q = req.query;
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (q.user !== undefined) {
        where.push('user_name = ? COLLATE NOCASE');
        args.push(q.user);
      }
      if (q.action !== undefined) {
        where.push('action = ?');
        args.push(q.action);
      }
      if (q.from !== undefined) {
        where.push('at >= ?');
        args.push(new Date(q.from).toISOString());
      }
      if (q.to !== undefined) {
        where.push('at < ?');
        args.push(new Date(q.to).toISOString());
      }
      const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
      const { total } = db
        .prepare(`SELECT COUNT(*) AS total FROM audit ${clause}`)
        .get(...args) as {
        total: number;
      };
      const rows = db
        .prepare(`SELECT * FROM audit ${clause} ORDER BY id DESC LIMIT ? OFFSET ?`)
        .all(...args, q.limit, q.offset) as AuditRow[];
      return {
        total,
        entries: rows.map((r) => ({
          id: r.id,
          at: r.at,
          user: r.user_name,
          via: r.via,
          tokenId: r.token_id,
          ip: r.ip,
          method: r.method,
          url: r.url,
          status: r.status,
          action: r.action,
          detail: r.detail === null ? null : (JSON.parse(r.detail) as unknown),
        })),
      };
    },
  );
};

/** The authenticated caller; the auth hook has set it on every route that is not public. */
function caller(req: FastifyRequest): NonNullable<FastifyRequest['user']> {
  if (req.user === undefined)
    throw new SwitchboardError('E_AUTH_REQUIRED', 'log in first: the request is not authenticated');
  return req.user;
}

// Not encapsulated: the hooks above must see every route of every plugin registered after it.
Object.assign(authPlugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'switchboard-auth',
});
