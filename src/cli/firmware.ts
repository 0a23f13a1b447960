// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard firmware ...`: the slots, verify or install a bundle at a shell, and mark the booted slot good after an update.

import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { SwitchboardError } from '../core/errors.ts';
import { readRelease } from '../system/release.ts';
import { dataRootFor } from '../update/factory-reset.ts';
import { size, UpdateManager } from '../update/manager.ts';
import { markGood } from '../update/mark-good.ts';
import { raucTools, toolPaths } from '../update/tools.ts';
import {
  type Command,
  type Io,
  parseIntArg,
  stringValue,
  usageError,
  type Values,
} from './command.ts';

const KEYRING_OPTION = {
  type: 'string',
  arg: 'FILE',
  help: 'keyring (CA certificates, PEM) the signature is checked against; default $SWITCHBOARD_KEYRING, else /etc/rauc/keyring.pem on an image or the development CA (image-build/dev-keys) on a development machine',
} as const;

/** The release, the tools and an update manager, as the environment and options say. */
function setup(values: Values) {
  const { release, file } = readRelease();
  const paths = toolPaths(file !== undefined);
  const keyring = stringValue(values, 'keyring');
  if (keyring !== undefined) paths.keyring = resolve(keyring);
  const tools = raucTools(paths);
  const manager = new UpdateManager({
    tools,
    release,
    // The CLI stores nothing: it checks and installs files that are already on the box.
    workDir: join(tmpdir(), 'switchboard-firmware-cli'),
    dataRoot: dataRootFor(process.env.SWITCHBOARD_DATA_DIR ?? '/var/lib/switchboard'),
    log: pino({ level: 'silent' }),
  });
  return { release, releaseFile: file, paths, tools, manager };
}

function bundleArg(positionals: string[]): string {
  const file = resolve(positionals[0] as string);
  if (!existsSync(file))
    throw new SwitchboardError('E_CONFIG_FILE', `${positionals[0]}: no such bundle file`);
  return file;
}

const status: Command = {
  name: 'firmware status',
  summary: 'the firmware this box runs and its A/B slots (booted, good or bad, version)',
  options: { json: { type: 'boolean', help: 'print the same JSON as GET /api/firmware' } },
  async run({ values, io }) {
    const { manager, releaseFile, paths } = setup(values);
    const view = await manager.view();
    if (values.json) {
      io.out(`${JSON.stringify(view, null, 2)}\n`);
      return 0;
    }
    io.out(
      `firmware ${view.version} (model ${view.model}, compatible ${view.compatible}, build ${view.build})\n`,
    );
    io.out(`release file: ${releaseFile ?? 'none (a development machine)'}\n`);
    io.out(`keyring: ${paths.keyring}\n`);
    if (view.slotsError) {
      io.out(`slots: unknown (${view.slotsError})\n`);
      return 0;
    }
    io.out(`booted: ${view.booted ? `slot ${view.booted}` : 'unknown'}\n`);
    for (const s of view.slots)
      io.out(
        `  ${s.name}  ${s.bootname}  ${s.state.padEnd(8)}  ${s.good === null ? '?' : s.good ? 'good' : 'bad '}  ${s.version ?? ''}\n`,
      );
    return 0;
  },
};

const verify: Command = {
  name: 'firmware verify',
  summary:
    'check a bundle as an upload is checked (signature, payload, model, version) without installing it',
  args: 'FILE',
  argHelp: [['FILE', 'the RAUC bundle (.raucb)']],
  positionals: [1, 1],
  options: { keyring: KEYRING_OPTION },
  details:
    'Exits 0 when this box would install the bundle, 1 with the reason when it would refuse it.',
  async run({ values, positionals, io }) {
    const file = bundleArg(positionals);
    const { manager, release } = setup(values);
    const check = await manager.check(file);
    const i = check.info;
    io.out(
      `${positionals[0]}: signed RAUC bundle (${i.format}${check.payloadBytes ? `, ${size(check.payloadBytes)} payload checked against its signed hash` : ''}), firmware ${i.version} for ${i.compatible}: this box (${release.version}) would install it\n`,
    );
    return 0;
  },
};

function progressPrinter(io: Io) {
  let last = '';
  return (s: { state: string; progress: number; message: string }) => {
    const line = `${String(s.progress).padStart(3)}% ${s.state}: ${s.message}`;
    if (line !== last) io.out(`${line}\n`);
    last = line;
  };
}

const install: Command = {
  name: 'firmware install',
  summary:
    'verify a bundle, then install it to the inactive slot with RAUC (no reboot: run `systemctl reboot`)',
  args: 'FILE',
  argHelp: [['FILE', 'the RAUC bundle (.raucb)']],
  positionals: [1, 1],
  options: { keyring: KEYRING_OPTION },
  details: [
    'The checks are those of an upload through the API: a refused bundle touches no slot.',
    'The next boot runs the new slot; `switchboard firmware mark-good` (the',
    'switchboard-mark-good service) keeps it once the controller is healthy.',
  ].join('\n'),
  async run({ values, positionals, io }) {
    const file = bundleArg(positionals);
    const { manager } = setup(values);
    const done = await manager.installFile(file, progressPrinter(io));
    io.out(`${done.message} (systemctl reboot)\n`);
    return 0;
  },
};

const markGoodCommand: Command = {
  name: 'firmware mark-good',
  summary:
    'after a boot: mark the booted slot good once the controller answers, else mark it bad and reboot into the other',
  options: {
    url: {
      type: 'string',
      arg: 'URL',
      help: "the controller's API (any HTTP answer, 401 included, counts); default http://127.0.0.1:8080",
    },
    'timeout-s': {
      type: 'string',
      arg: 'N',
      help: 'seconds the controller has to answer, 1-3600 (default 180)',
    },
    unit: {
      type: 'string',
      arg: 'UNIT',
      help: "the controller's systemd unit, which must be active too (default switchboard.service)",
    },
  },
  details: [
    'Run at every boot by switchboard-mark-good.service. Healthy: `rauc status mark-good',
    'booted`, exit 0. Not healthy in time: `rauc status mark-bad booted` and `systemctl',
    'reboot`, exit 1 (E_FIRMWARE_UNHEALTHY), and GRUB boots the slot that ran before.',
  ].join('\n'),
  async run({ values, io }) {
    const url = stringValue(values, 'url') ?? 'http://127.0.0.1:8080';
    if (!URL.canParse(url))
      throw usageError(
        markGoodCommand,
        `--url must be a URL such as http://127.0.0.1:8080, not "${url}"`,
      );
    const timeoutS = parseIntArg(
      markGoodCommand,
      '--timeout-s',
      stringValue(values, 'timeout-s') ?? '180',
      1,
      3600,
    );
    const unit = stringValue(values, 'unit') ?? 'switchboard.service';
    // No release file or keyring needed: a broken release file must not stop the rollback.
    const tools = raucTools(toolPaths(true));
    const r = await markGood({ url, timeoutS, unit, tools, say: (l) => io.out(`${l}\n`) });
    if (r.result === 'good') return 0;
    throw new SwitchboardError(
      'E_FIRMWARE_UNHEALTHY',
      `${r.lastProblem} after ${timeoutS} s: ${r.slot ? `slot ${r.slot}` : 'the booted slot'} is marked bad and the box reboots into the other slot`,
    );
  },
};

export const firmwareCommands: Command[] = [status, verify, install, markGoodCommand];
