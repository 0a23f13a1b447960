// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard config ...`: check a configuration file offline, turn an Asterisk box's files into one.

import { importAsterisk } from '../config/import-dahdi.ts';
import { configFromYaml, configToYaml } from '../config/yaml.ts';
import { isSwitchboardError } from '../core/errors.ts';
import { readConfigText } from '../runtime/config-file.ts';
import { type Command, stringValue, usageError } from './command.ts';

const check: Command = {
  name: 'config check',
  summary: 'check a switch configuration file (YAML, as exported) without applying it',
  args: 'FILE',
  positionals: [1, 1],
  options: {},
  async run({ positionals, io }) {
    const file = positionals[0] as string;
    try {
      const config = configFromYaml(readConfigText(file));
      io.out(
        `${file}: valid (${config.spans?.length ?? 0} spans, ${config.trunks?.length ?? 0} trunks, ${
          (config.routes?.inbound?.length ?? 0) + (config.routes?.outbound?.length ?? 0)
        } routes); the board is checked when it is applied\n`,
      );
      return 0;
    } catch (err) {
      if (!isSwitchboardError(err, 'E_CONFIG_FIELD')) throw err;
      for (const d of err.details as { path: string; message: string }[])
        io.out(`${file}: ${d.path}: ${d.message}\n`);
      return 1;
    }
  },
};

const importAsteriskCommand: Command = {
  name: 'config import-asterisk',
  summary:
    'turn system.conf and chan_dahdi.conf into a switch configuration (YAML on stdout, what is not carried over on stderr)',
  options: {
    'system-conf': {
      type: 'string',
      arg: 'FILE',
      help: 'DAHDI system.conf (e.g. /etc/dahdi/system.conf)',
    },
    'chan-dahdi': {
      type: 'string',
      arg: 'FILE',
      help: 'Asterisk chan_dahdi.conf (or the dahdi-channels.conf it includes)',
    },
  },
  async run({ values, io }) {
    const systemFile = stringValue(values, 'system-conf');
    const chanFile = stringValue(values, 'chan-dahdi');
    if (systemFile === undefined && chanFile === undefined)
      throw usageError(this, 'give --system-conf FILE, --chan-dahdi FILE or both');
    const result = importAsterisk({
      ...(systemFile ? { systemConf: readConfigText(systemFile) } : {}),
      ...(chanFile ? { chanDahdi: readConfigText(chanFile) } : {}),
    });
    io.out(configToYaml(result.config));
    for (const u of result.unsupported)
      io.err(`${u.file}:${u.line}: not carried over: ${u.reason}\n`);
    for (const n of result.notes) io.err(`note: ${n}\n`);
    return 0;
  },
};

export const configCommands: Command[] = [check, importAsteriskCommand];
