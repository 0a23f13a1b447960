// SPDX-License-Identifier: GPL-2.0-or-later
// Finds Debian's DAHDI tools (dahdi_cfg), which live in /usr/sbin, off an ordinary user's PATH.

import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { SwitchboardError } from '../core/errors.ts';

/**
 * dahdi_cfg from PATH, or from /usr/sbin where Debian installs it (not on a user's PATH).
 * @throws SwitchboardError E_DAHDI_CFG when it is not installed
 */
export function dahdiCfg(): string {
  for (const dir of [
    ...(process.env.PATH ?? '').split(':').filter(Boolean),
    '/usr/sbin',
    '/sbin',
  ]) {
    const file = join(dir, 'dahdi_cfg');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {}
  }
  throw new SwitchboardError(
    'E_DAHDI_CFG',
    'dahdi_cfg is not installed (Debian package dahdi): run `bash scripts/setup.sh`',
  );
}
