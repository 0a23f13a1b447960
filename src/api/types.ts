// SPDX-License-Identifier: GPL-2.0-or-later
// What every API plugin relies on: roles, the per-route access declaration, the audit detail.

import type {} from '@fastify/swagger';
import type {} from 'fastify';

/** Roles, weakest first: each role may do everything the ones before it may. */
export const ROLES = ['viewer', 'operator', 'installer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** True when `have` is at least `need`. */
export function roleAtLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Whether the caller the auth hook let in is still allowed in now (session not ended, timed
     * out or disabled; token not revoked). For connections that outlive their request.
     */
    stillAuthenticated(req: FastifyRequest): boolean;
  }
  interface FastifyContextConfig {
    /**
     * The weakest role that may call the route. Every route declares either `role` or
     * `public: true`; one that declares neither (a third-party plugin's route, such as the
     * API docs) is treated as `viewer`, so it still needs a login. Declaring both, or a role
     * that does not exist, is refused when the route is registered.
     */
    role?: Role;
    /** Reachable without authentication (first-run setup, login, the login page's status). */
    public?: boolean;
  }
  interface FastifyRequest {
    /** The authenticated caller (set by the auth plugin before the handler runs). */
    user?: { id: number; name: string; role: Role; via: 'session' | 'token' };
    /** What a change did, in words for the audit log (the auth plugin records it with the request). */
    auditDetail?: Record<string, unknown>;
    /**
     * A short name for what the request did (`login`, `user_create`...), kept in the audit log's
     * `action` column to filter on; changes that set none are recorded with none.
     */
    auditAction?: string;
  }
}
