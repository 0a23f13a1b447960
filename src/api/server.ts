// SPDX-License-Identifier: GPL-2.0-or-later
// The HTTP API: fastify with security headers, cookies, rate limits, auth on every route, OpenAPI docs.

import { readFileSync } from 'node:fs';
import fastifyCookie from '@fastify/cookie';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyPluginOptions,
  LogController,
} from 'fastify';
import { SwitchboardError } from '../core/errors.ts';
import type { Db } from '../store/db.ts';
import { type AuthOptions, authPlugin, CSRF_HEADER, SESSION_COOKIE } from './auth.ts';
import { useApiErrors } from './error-handler.ts';
import type { Role } from './types.ts';

/** The firmware's name and version, for the OpenAPI document and GET /api/status. */
export const PACKAGE: { name: string; version: string; description: string } = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
);

/** One plugin of the API, registered after the auth plugin so that its routes are guarded. */
export interface ApiPlugin<O extends FastifyPluginOptions = FastifyPluginOptions> {
  plugin: FastifyPluginAsync<O>;
  options: O;
  /** URL prefix of the plugin's routes (routes usually spell out `/api/...` themselves). */
  prefix?: string;
}

/** Typed entry for `buildApi({plugins})`: checks the options against the plugin. */
export function apiPlugin<O extends FastifyPluginOptions>(
  plugin: FastifyPluginAsync<O>,
  options: O,
  prefix?: string,
): ApiPlugin {
  return { plugin, options, prefix } as unknown as ApiPlugin;
}

export interface ApiOptions {
  db: Db;
  /** The process logger (pino); fastify logs through a child of it. */
  logger: FastifyBaseLogger;
  /** Feature plugins (status, config, calls...), registered in this order after auth. */
  plugins: readonly ApiPlugin[];
  /** Secure session cookie and HSTS: set when the API is served over HTTPS. Default false. */
  secureCookies?: boolean;
  /** Believe X-Forwarded-For (client IP in the audit log and the login limit). Default false. */
  trustProxy?: boolean;
  /** Session, login-limit, hashing and audit settings; see AuthOptions for units and ranges. */
  auth?: Omit<AuthOptions, 'db' | 'secureCookies'>;
}

/** A registered route as the auth walk sees it. */
export interface ApiRoute {
  method: string;
  url: string;
  role?: Role;
  public?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered on the API, in order (HEAD routes fastify adds included). */
    apiRoutes: readonly ApiRoute[];
  }
}

/**
 * Builds the API, ready to `listen`: helmet, cookies, rate limiting (login and setup only),
 * OpenAPI 3 from the TypeBox route schemas (JSON at /api/docs/json, Swagger UI at /api/docs,
 * both behind a login like every route that is not public), the auth plugin, then `plugins`.
 */
export async function buildApi(opts: ApiOptions): Promise<FastifyInstance> {
  const secure = opts.secureCookies === true;
  const app = Fastify({
    loggerInstance: opts.logger.child({ subsystem: 'api' }),
    trustProxy: opts.trustProxy === true,
    // Requests are in the audit log (changes) and would drown the log at one line per poll.
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as FastifyInstance;

  // Recorded before any plugin registers a route: the auth walk tests every route in this list.
  const routes: ApiRoute[] = [];
  app.decorate('apiRoutes', routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat())
      routes.push({
        method: String(method),
        url: route.url,
        role: route.config?.role,
        public: route.config?.public,
      });
  });

  useApiErrors(app);

  await app.register(fastifyHelmet, {
    // The web UI and the Swagger UI are same-origin scripts and styles; Swagger UI sets inline
    // styles and data: images. Nothing is loaded from elsewhere and nothing may frame the UI.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        // Over plain HTTP (a box without a certificate) this would break every same-origin load.
        upgradeInsecureRequests: secure ? [] : null,
      },
    },
    frameguard: { action: 'deny' },
    hsts: secure,
  });
  await app.register(fastifyCookie);
  // WebSocket routes (GET /api/live) go through the same onRequest hooks as every route: the
  // auth hook sees the upgrade request, so a socket opens only for a logged-in caller. The
  // browser sends nothing but the upgrade; a few KiB bound whatever else arrives.
  await app.register(fastifyWebsocket, { options: { maxPayload: 4096 } });
  await app.register(fastifyRateLimit, {
    global: false,
    errorResponseBuilder: (req, ctx) =>
      new SwitchboardError(
        'E_RATE_LIMITED',
        `too many requests to ${req.method} ${req.routeOptions.url ?? req.url} from ${req.ip}: retry in ${ctx.after}`,
        { details: { retryAfterS: Math.ceil(ctx.ttl / 1000) } },
      ),
  });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: `${PACKAGE.name} API`,
        version: PACKAGE.version,
        description:
          `${PACKAGE.description}. Log in with POST /api/login (a session cookie, ${SESSION_COOKIE}) ` +
          `and send the returned csrf in the ${CSRF_HEADER} header with every change; or send ` +
          '`Authorization: Bearer <API token>` (no CSRF token needed). Errors are ' +
          '`{error: code, message, details?}`.',
      },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
          token: { type: 'http', scheme: 'bearer', description: `${'sbt_'}... API token` },
        },
      },
      security: [{ session: [] }, { token: [] }],
    },
  });
  await app.register(authPlugin, { ...opts.auth, db: opts.db, secureCookies: secure });
  await app.register(fastifySwaggerUi, { routePrefix: '/api/docs', staticCSP: false });
  for (const p of opts.plugins) await app.register(p.plugin, { ...p.options, prefix: p.prefix });
  await app.ready();
  return app;
}

/**
 * Starts serving. `host` defaults to every IPv4 interface: installers reach the box over the
 * network, and no route answers without a login. Returns the address fastify listens on.
 */
export async function listen(
  app: FastifyInstance,
  options: { port: number; host?: string },
): Promise<string> {
  return app.listen({ port: options.port, host: options.host ?? '0.0.0.0' });
}
