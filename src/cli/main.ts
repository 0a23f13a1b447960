// SPDX-License-Identifier: GPL-2.0-or-later
// The `switchboard` command line: picks the command, prints errors without stack traces.

import { isSwitchboardError } from '../core/errors.ts';
import { benchCommand } from './bench.ts';
import { boardCommands } from './board.ts';
import { carrierCommand } from './carrier.ts';
import { type Command, groupHelp, type Io, processIo, runCommand, usageError } from './command.ts';
import { configCommands } from './config.ts';
import { firmwareCommands } from './firmware.ts';
import { imageCommands } from './image.ts';
import { promptCommands } from './prompts.ts';
import { simCommands } from './sim.ts';
import { startCommand } from './start.ts';

/** Every command, for dispatch and for the help tests. */
export const commands: Command[] = [
  startCommand,
  ...simCommands,
  carrierCommand,
  ...configCommands,
  ...promptCommands,
  ...boardCommands,
  ...firmwareCommands,
  benchCommand,
  ...imageCommands,
];

/** Commands that come in groups: `switchboard GROUP COMMAND`. */
const GROUPS: Record<string, { commands: Command[]; help: () => string }> = {
  sim: { commands: simCommands, help: () => simHelp() },
  config: { commands: configCommands, help: () => configHelp() },
  prompts: { commands: promptCommands, help: () => promptsHelp() },
  board: { commands: boardCommands, help: () => boardHelp() },
  firmware: { commands: firmwareCommands, help: () => firmwareHelp() },
  image: { commands: imageCommands, help: () => imageHelp() },
};

const SIM_DIR_NOTE =
  'Every sim command takes --dir DIR (default $SWITCHBOARD_SIM_DIR or /run/switchboard-sim).';

export function topHelp(): string {
  return groupHelp(
    'switchboard COMMAND [options]',
    'Switchboard: controller of a programmable E1/T1 voice switch.',
    commands,
    `Run \`switchboard COMMAND --help\` for the options of a command.\n${SIM_DIR_NOTE}`,
  );
}

export function simHelp(): string {
  return groupHelp(
    'switchboard sim COMMAND [options]',
    'The userspace DAHDI simulator: virtual spans, cables and line faults.',
    simCommands,
    SIM_DIR_NOTE,
  );
}

export function configHelp(): string {
  return groupHelp(
    'switchboard config COMMAND [options]',
    'Switch configuration files: check one offline, import an Asterisk/DAHDI box.',
    configCommands,
  );
}

export function promptsHelp(): string {
  return groupHelp(
    'switchboard prompts COMMAND [options]',
    'Voice prompts: check, import and convert audio files, text-to-speech, spoken numbers.',
    promptCommands,
  );
}

export function boardHelp(): string {
  return groupHelp(
    'switchboard board COMMAND [options]',
    'Board definitions (board/models) and a simulated front-panel/board MCU.',
    boardCommands,
  );
}

export function firmwareHelp(): string {
  return groupHelp(
    'switchboard firmware COMMAND [options]',
    'Firmware: the A/B slots, signed RAUC bundles checked and installed at a shell, the post-update health check.',
    firmwareCommands,
    'Environment: SWITCHBOARD_RAUC and SWITCHBOARD_SYSTEMCTL (other rauc and systemctl programs),\nSWITCHBOARD_KEYRING (the keyring), SWITCHBOARD_RELEASE_FILE (default /etc/switchboard/release.json).',
  );
}

export function imageHelp(): string {
  return groupHelp(
    'switchboard image COMMAND [options]',
    'The firmware image: a bootable A/B disk image and a signed RAUC update bundle.',
    imageCommands,
  );
}

function isHelp(arg: string | undefined): boolean {
  return arg === '--help' || arg === '-h' || arg === 'help';
}

/** The command selected by argv, and the arguments left for it. */
function dispatch(argv: string[], io: Io): { cmd: Command; rest: string[] } | number {
  const [first, second] = argv;
  if (first === undefined || isHelp(first)) {
    (first === undefined ? io.err : io.out)(topHelp());
    return first === undefined ? 2 : 0;
  }
  const group = Object.hasOwn(GROUPS, first) ? GROUPS[first] : undefined;
  if (group) {
    if (second === undefined || isHelp(second)) {
      (second === undefined ? io.err : io.out)(group.help());
      return second === undefined ? 2 : 0;
    }
    const cmd = group.commands.find((c) => c.name === `${first} ${second}`);
    if (!cmd)
      throw usageError(
        first,
        `unknown ${first} command "${second}"; ${first} commands: ${group.commands.map((c) => c.name.slice(first.length + 1)).join(', ')}`,
      );
    return { cmd, rest: argv.slice(2) };
  }
  const cmd = commands.find((c) => c.name === first);
  if (!cmd)
    throw usageError(
      '',
      `unknown command "${first}"; commands: start, sim, carrier, config, prompts, board, firmware, bench, image`,
    );
  return { cmd, rest: argv.slice(1) };
}

/**
 * Runs the command line and resolves with the exit code: 0 success, 1 failure,
 * 2 wrong usage. Expected errors (SwitchboardError) are printed as `error: <message>`.
 */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  try {
    const selected = dispatch(argv, io);
    if (typeof selected === 'number') return selected;
    return await runCommand(selected.cmd, selected.rest, io);
  } catch (err) {
    if (!isSwitchboardError(err)) throw err;
    io.err(`error: ${err.message}\n`);
    return err.code === 'E_USAGE' ? 2 : 1;
  }
}
