// SPDX-License-Identifier: GPL-2.0-or-later
// The firmware release a box runs (/etc/switchboard/release.json on an image), or the development fallback.

import { existsSync, readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { SwitchboardError } from '../core/errors.ts';
import { schemaErrors } from '../core/schema.ts';
import { SEMVER_PATTERN } from '../core/semver.ts';

/** Where an image keeps its release file; SWITCHBOARD_RELEASE_FILE points elsewhere. */
export const RELEASE_FILE = '/etc/switchboard/release.json';

export const Release = Type.Object(
  {
    model: Type.String({
      pattern: '^[a-z0-9][a-z0-9-]{0,62}$',
      mustBe: 'a board model id such as "sim-demo" (lower-case letters, digits and dashes)',
      description: 'board model id (board/models/<id>.yaml)',
    }),
    version: Type.String({
      pattern: SEMVER_PATTERN,
      mustBe: 'a semantic version such as "0.2.0" or "0.2.0-dev.7"',
      description: 'firmware version; update bundles carry the same version',
    }),
    compatible: Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'RAUC compatible string, switchboard-<model>: bundles must carry the same',
    }),
    build: Type.String({ maxLength: 128, description: 'what built it (git describe), or "dev"' }),
  },
  { $id: 'Release', additionalProperties: false },
);
export type Release = Static<typeof Release>;

/** What a development machine (no release file) runs: the demo board, package.json's version. */
export function developmentRelease(): Release {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return {
    model: 'sim-demo',
    version: pkg.version,
    compatible: 'switchboard-sim-demo',
    build: 'dev',
  };
}

export interface ReleaseInfo {
  release: Release;
  /** The file it came from, or undefined for the development fallback. */
  file: string | undefined;
}

/**
 * Reads the release file: `file`, else $SWITCHBOARD_RELEASE_FILE, else /etc/switchboard/release.json.
 * When that file does not exist (a development machine) the development release is returned.
 * @throws SwitchboardError E_RELEASE_FILE naming the file and every wrong field (details: fields)
 */
export function readRelease(
  file = process.env.SWITCHBOARD_RELEASE_FILE ?? RELEASE_FILE,
): ReleaseInfo {
  if (!existsSync(file)) return { release: developmentRelease(), file: undefined };
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SwitchboardError(
      'E_RELEASE_FILE',
      `${file}: not a readable JSON release file (${(err as Error).message})`,
      { cause: err },
    );
  }
  const errors = schemaErrors(Release, doc);
  if (errors.length > 0)
    throw new SwitchboardError(
      'E_RELEASE_FILE',
      `${file}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
      { details: { file, fields: errors } },
    );
  return { release: doc as Release, file };
}
