// SPDX-License-Identifier: GPL-2.0-or-later
// The `switchboard` command line: picks the command, prints errors without stack traces.

import { isSwitchboardError } from '../core/errors.ts';
import { benchCommand } from './bench.ts';
import { type Command, groupHelp, type Io, processIo, runCommand, usageError } from './command.ts';
import { simCommands } from './sim.ts';
import { startCommand } from './start.ts';

/** Every command, for dispatch and for the help tests. */
export const commands: Command[] = [startCommand, ...simCommands, benchCommand];

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
  if (first === 'sim') {
    if (second === undefined || isHelp(second)) {
      (second === undefined ? io.err : io.out)(simHelp());
      return second === undefined ? 2 : 0;
    }
    const cmd = simCommands.find((c) => c.name === `sim ${second}`);
    if (!cmd)
      throw usageError(
        'sim',
        `unknown sim command "${second}"; sim commands: ${simCommands.map((c) => c.name.slice(4)).join(', ')}`,
      );
    return { cmd, rest: argv.slice(2) };
  }
  const cmd = commands.find((c) => c.name === first);
  if (!cmd) throw usageError('', `unknown command "${first}"; commands: start, sim, bench`);
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
