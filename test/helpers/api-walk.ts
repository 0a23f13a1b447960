// SPDX-License-Identifier: GPL-2.0-or-later
// The route walk: every registered API route, called without credentials and with too weak a role.

import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { ApiRoute } from '../../src/api/server.ts';
import { type Role, roleAtLeast } from '../../src/api/types.ts';

/**
 * The only routes anybody may call without logging in: first-run setup, login, and the web UI's
 * static shell (HTML, scripts and styles; it holds no data and makes authenticated API calls).
 */
export const PUBLIC_ROUTES: readonly string[] = [
  'GET /api/setup',
  'HEAD /api/setup',
  'POST /api/setup',
  'POST /api/login',
  'GET /',
  'HEAD /',
  'GET /assets/*',
  'HEAD /assets/*',
];

/** Changes a viewer may make: end their session, change their own password. */
export const VIEWER_CHANGES: readonly string[] = ['POST /api/logout', 'POST /api/me/password'];

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Every distinct method + URL that buildApi registered (app.apiRoutes). */
export function walkRoutes(app: FastifyInstance): ApiRoute[] {
  const seen = new Map<string, ApiRoute>();
  for (const r of app.apiRoutes) seen.set(`${r.method} ${r.url}`, r);
  return [...seen.values()];
}

/** A URL to call: path parameters (`:name`, `:id(^\\d+$)`) and wildcards filled with `1`. */
export function fillParams(url: string): string {
  return url.replace(/:\w+(\([^)]*\))?/g, '1').replace(/\*/g, '1');
}

function key(r: ApiRoute): string {
  return `${r.method} ${r.url}`;
}

function code(res: LightMyRequestResponse): string | undefined {
  try {
    return (res.json() as { error?: string }).error;
  } catch {
    return undefined;
  }
}

function expect(
  failures: string[],
  route: ApiRoute,
  res: LightMyRequestResponse,
  status: number,
  error: string,
): void {
  // HEAD replies have no body: the status has to do.
  if (route.method === 'HEAD') {
    if (res.statusCode !== status) failures.push(`${key(route)}: ${res.statusCode}, not ${status}`);
    return;
  }
  const got = code(res);
  if (res.statusCode !== status || got !== error)
    failures.push(
      `${key(route)}: ${res.statusCode} ${got ?? res.body.slice(0, 80)}, not ${status} ${error}`,
    );
}

/**
 * Calls every route without credentials. Returns one line per route that did not answer
 * 401 E_AUTH_REQUIRED, and per route that is public without being in `publicRoutes` (or is in
 * the list but not public). An empty list is a pass.
 */
export async function unauthenticatedFailures(
  app: FastifyInstance,
  publicRoutes: readonly string[] = PUBLIC_ROUTES,
): Promise<string[]> {
  const failures: string[] = [];
  const routes = walkRoutes(app);
  if (routes.length === 0) return ['no routes registered: is this an app from buildApi()?'];
  for (const route of routes) {
    const listed = publicRoutes.includes(key(route));
    if (route.public === true || listed) {
      if (!(route.public === true && listed))
        failures.push(`${key(route)}: public ${route.public === true}, listed ${listed}`);
      continue;
    }
    const res = await app.inject({ method: route.method as 'GET', url: fillParams(route.url) });
    expect(failures, route, res, 401, 'E_AUTH_REQUIRED');
  }
  return failures;
}

/**
 * Calls, as `headers` (a caller whose role is `role`), every route that needs a stronger role:
 * each must answer 403 E_FORBIDDEN. Routes the role may call are not called (they would run),
 * but when `changesAllowed` is given, a change route (not GET/HEAD/OPTIONS) open to the role
 * that is not in it is a failure: a new route that lets this role change something is caught.
 */
export async function roleFailures(
  app: FastifyInstance,
  role: Role,
  headers: Record<string, string>,
  options: { cookies?: Record<string, string>; changesAllowed?: readonly string[] } = {},
): Promise<string[]> {
  const failures: string[] = [];
  for (const route of walkRoutes(app)) {
    if (route.public === true) continue;
    const need = route.role ?? 'viewer';
    if (roleAtLeast(role, need)) {
      if (
        options.changesAllowed !== undefined &&
        !SAFE.has(route.method) &&
        !options.changesAllowed.includes(key(route))
      )
        failures.push(`${key(route)}: a ${role} may call it (role ${need})`);
      continue;
    }
    const res = await app.inject({
      method: route.method as 'GET',
      url: fillParams(route.url),
      headers,
      cookies: options.cookies ?? {},
    });
    expect(failures, route, res, 403, 'E_FORBIDDEN');
  }
  return failures;
}
