// SPDX-License-Identifier: GPL-2.0-or-later
// Reading an installer's configuration files (YAML or JSON) with errors that name the file.

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { SwitchboardError } from '../core/errors.ts';

/** The text of a configuration file. @throws SwitchboardError E_CONFIG_FILE naming the file */
export function readConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new SwitchboardError('E_CONFIG_FILE', `cannot read ${file}: ${why}`, { cause: err });
  }
}

/**
 * YAML or JSON text as data (JSON when the source name ends in .json).
 * @throws SwitchboardError E_CONFIG_FILE naming the source and what the parser said
 */
export function parseConfigText(text: string, source: string): unknown {
  try {
    return source.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new SwitchboardError('E_CONFIG_FILE', `cannot parse ${source}: ${why}`, { cause: err });
  }
}
