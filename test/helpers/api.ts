// SPDX-License-Identifier: GPL-2.0-or-later
// An API on an in-memory store for tests, and callers: a session (cookie + CSRF token) or an API token.

import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import type { AuthOptions } from '../../src/api/auth.ts';
import { healthPlugin } from '../../src/api/health.ts';
import { type ApiPlugin, apiPlugin, buildApi, PACKAGE } from '../../src/api/server.ts';
import type { Role } from '../../src/api/types.ts';
import { type Db, openDb } from '../../src/store/db.ts';

/** The first admin's password in tests (it passes the password rules). */
export const ADMIN_PASSWORD = 'Correct-horse-42';

/** A logged-in session: the cookie value and the CSRF token login returned. */
export interface Session {
  cookie: string;
  csrf: string;
}
/** Who calls: nobody, a session, or an API token (`sbt_...`). */
export type Caller = Session | string | undefined;

export interface TestApi {
  app: FastifyInstance;
  db: Db;
}

/**
 * The API on a fresh in-memory store: auth (built in), status and `extra`; or, when `extra` is a
 * function, auth and exactly the plugins it returns for the store.
 */
export async function testApi(
  extra: readonly ApiPlugin[] | ((db: Db) => readonly ApiPlugin[]) = [],
  auth: Omit<AuthOptions, 'db' | 'secureCookies'> = {},
): Promise<TestApi> {
  const db = openDb(':memory:');
  const app = await buildApi({
    db,
    logger: pino({ level: 'silent' }),
    plugins:
      typeof extra === 'function'
        ? extra(db)
        : [apiPlugin(healthPlugin, { db, version: PACKAGE.version }), ...extra],
    // Cheaper hashes keep the tests quick on a loaded machine; the algorithm is the same.
    auth: { argon2: { memoryCost: 4096, timeCost: 1 }, ...auth },
  });
  return { app, db };
}

/** One request as `who`; sessions send their CSRF token unless `csrf` says otherwise. */
export function call(
  app: FastifyInstance,
  who: Caller,
  method: string,
  url: string,
  payload?: unknown,
  csrf?: string | null,
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {};
  const cookies: Record<string, string> = {};
  if (typeof who === 'string') headers.authorization = `Bearer ${who}`;
  else if (who !== undefined) {
    cookies.sb_session = who.cookie;
    const token = csrf === undefined ? who.csrf : csrf;
    if (token !== null) headers['x-csrf-token'] = token;
  }
  return app.inject({
    method: method as 'GET',
    url,
    headers,
    cookies,
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
}

/** The session a login or setup response started. */
export function sessionOf(res: LightMyRequestResponse): Session {
  const cookie = res.cookies.find((c) => c.name === 'sb_session');
  assert.ok(cookie, `no session cookie in ${res.statusCode} ${res.body}`);
  return { cookie: cookie.value, csrf: (res.json() as { csrf: string }).csrf };
}

/** Runs first-run setup and returns the first admin's session. */
export async function setupAdmin(app: FastifyInstance, name = 'admin'): Promise<Session> {
  const res = await call(app, undefined, 'POST', '/api/setup', { name, password: ADMIN_PASSWORD });
  assert.equal(res.statusCode, 201, res.body);
  return sessionOf(res);
}

export async function login(
  app: FastifyInstance,
  name: string,
  password: string,
): Promise<Session> {
  const res = await call(app, undefined, 'POST', '/api/login', { name, password });
  assert.equal(res.statusCode, 200, res.body);
  return sessionOf(res);
}

/** Creates an account with `role` (as `admin`) and logs it in. */
export async function userWithRole(
  app: FastifyInstance,
  admin: Session,
  name: string,
  role: Role,
): Promise<Session> {
  const password = `${role}-Pass-1234`;
  const res = await call(app, admin, 'POST', '/api/users', { name, password, role });
  assert.equal(res.statusCode, 201, res.body);
  return login(app, name, password);
}

/** Creates an API token with `role` from `session` and returns it. */
export async function tokenWithRole(
  app: FastifyInstance,
  session: Session,
  role: Role,
  name = `${role} token`,
): Promise<{ id: number; token: string }> {
  const res = await call(app, session, 'POST', '/api/tokens', { name, role });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: number; token: string };
}
