// SPDX-License-Identifier: GPL-2.0-or-later
// The web UI's static shell (web/dist): index.html at /, hashed assets under /assets/, public and cached.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { SwitchboardError } from '../core/errors.ts';
import { repoRoot } from '../runtime/paths.ts';
import './types.ts';

export interface WebPluginOptions {
  /** The built UI (index.html and assets/); default web/dist of the repository. */
  root?: string;
}

/** Where `node web/build.mjs` writes the UI. */
export const WEB_DIST = join(repoRoot, 'web', 'dist');

const AssetParams = Type.Object({
  '*': Type.String({
    pattern: '^[A-Za-z0-9_.-]{1,100}$',
    description: 'a file of the build (names carry a content hash)',
  }),
});

/**
 * Serves the UI. Only the shell is public: HTML, JavaScript and CSS that hold no data. Every
 * API call and the live WebSocket the UI makes need a login like any other client's. Assets
 * carry a content hash in their names, so they are cached for a year; index.html is revalidated
 * on every load so that a firmware update shows its UI at once. The build writes gzip copies,
 * sent to browsers that accept them (the box serves from flash, often over a slow link).
 */
export const webPlugin: FastifyPluginAsync<WebPluginOptions> = async (app, opts) => {
  const root = opts.root ?? WEB_DIST;
  const built = () => existsSync(join(root, 'index.html'));
  const notBuilt = () =>
    new SwitchboardError(
      'E_WEB_NOT_BUILT',
      `the web UI is not built (${join(root, 'index.html')} is missing): run scripts/setup.sh or node web/build.mjs`,
    );
  await app.register(fastifyStatic, {
    root,
    serve: false,
    preCompressed: true,
    // Dotfiles, directory listings and anything outside root are never served.
    dotfiles: 'deny',
    index: false,
  });

  app.get(
    '/',
    {
      config: { public: true },
      schema: { summary: 'The web UI (its HTML shell)', tags: ['web'], hide: true },
    },
    async (_req, reply) => {
      if (!built()) throw notBuilt();
      return reply
        .header('cache-control', 'no-cache')
        .sendFile('index.html', { cacheControl: false });
    },
  );

  app.get<{ Params: { '*': string } }>(
    '/assets/*',
    {
      config: { public: true },
      schema: {
        summary: 'A script, style sheet or icon of the web UI',
        tags: ['web'],
        params: AssetParams,
        hide: true,
      },
    },
    async (req, reply) => {
      if (!built()) throw notBuilt();
      return reply.sendFile(join('assets', req.params['*']), {
        maxAge: '365d',
        immutable: true,
      });
    },
  );
};
