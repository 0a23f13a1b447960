// SPDX-License-Identifier: GPL-2.0-or-later
// Factory reset: a marker in the data root asks the next boot (or `switchboard start`) to clear /data.

import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SwitchboardError } from '../core/errors.ts';

/** The marker's name in the data root. */
export const FACTORY_RESET_MARKER = '.factory-reset';

/**
 * The directory a factory reset clears: $SWITCHBOARD_DATA_ROOT when set; `/data` when the data
 * directory lives under it (an image: /data/switchboard on the data partition); otherwise the
 * data directory itself (a development machine).
 */
export function dataRootFor(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.SWITCHBOARD_DATA_ROOT) return resolve(env.SWITCHBOARD_DATA_ROOT);
  const dir = resolve(dataDir);
  return dir.startsWith('/data/') ? '/data' : dir;
}

export interface FactoryResetRequest {
  /** When it was asked for (ISO 8601). */
  requestedAt: string;
  /** Who asked (the API user). */
  by: string;
}

/** Writes the marker (synced to disk before the reboot is asked for). */
export function writeFactoryResetMarker(dataRoot: string, by: string): string {
  const file = join(dataRoot, FACTORY_RESET_MARKER);
  const request: FactoryResetRequest = { requestedAt: new Date().toISOString(), by };
  try {
    const fd = openSync(file, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(request)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // The directory entry too: a power cut right after the reply must not lose the request.
    const dfd = openSync(dirname(file), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch (err) {
    throw new SwitchboardError(
      'E_FIRMWARE_STORAGE',
      `the factory reset marker ${file} cannot be written: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return file;
}

/** The pending request in `dataRoot`, or undefined. A marker that is not JSON still counts. */
export function pendingFactoryReset(dataRoot: string): FactoryResetRequest | undefined {
  const file = join(dataRoot, FACTORY_RESET_MARKER);
  if (!existsSync(file)) return undefined;
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as Partial<FactoryResetRequest>;
    return { requestedAt: String(doc.requestedAt ?? 'unknown'), by: String(doc.by ?? 'unknown') };
  } catch {
    return { requestedAt: 'unknown', by: 'unknown' };
  }
}

/**
 * Carries out a pending factory reset: deletes everything in `dataRoot`, the marker last (so an
 * interrupted reset is finished at the next start). Returns the request and how many entries
 * were removed, or undefined when none was pending.
 */
export function clearForFactoryReset(
  dataRoot: string,
): { request: FactoryResetRequest; removed: number } | undefined {
  const request = pendingFactoryReset(dataRoot);
  if (!request) return undefined;
  const root = resolve(dataRoot);
  if (root === '/')
    throw new SwitchboardError('E_CONFIG_FIELD', `refusing to clear ${root} for a factory reset`);
  let removed = 0;
  for (const name of readdirSync(root)) {
    if (name === FACTORY_RESET_MARKER) continue;
    rmSync(join(root, name), { recursive: true, force: true });
    removed++;
  }
  rmSync(join(root, FACTORY_RESET_MARKER), { force: true });
  return { request, removed };
}
