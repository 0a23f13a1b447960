// SPDX-License-Identifier: GPL-2.0-or-later
// Command descriptions, their --help text and argument parsing (node:util parseArgs).

import { parseArgs } from 'node:util';
import { SwitchboardError } from '../core/errors.ts';

/** Where a command writes; tests pass their own to capture it. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder for the value in the help (FILE, N, DIR); string options only. */
  arg?: string;
  /** What the option means, with its unit and default. */
  help: string;
}

export type Values = Record<string, string | boolean | undefined>;

export interface CommandContext {
  values: Values;
  positionals: string[];
  io: Io;
}

export interface Command {
  /** The words that select the command after `switchboard` (`sim fault`). */
  name: string;
  /** One line for the command lists. */
  summary: string;
  /** Positional arguments as the usage line shows them. */
  args?: string;
  /** Meaning of each positional argument. */
  argHelp?: [string, string][];
  /** Paragraphs after the options. */
  details?: string;
  options: Record<string, OptionSpec>;
  /** Allowed number of positional arguments, [min, max]; default [0, 0]. */
  positionals?: [number, number];
  run(ctx: CommandContext): Promise<number>;
}

const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'show this help and exit' };

function table(rows: [string, string][]): string {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`).join('\n');
}

function optionRows(options: Record<string, OptionSpec>): [string, string][] {
  return Object.entries({ ...options, help: HELP_OPTION }).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.arg ? ` ${spec.arg}` : ''}`;
    return [flag, spec.help];
  });
}

/** The --help text of a command: usage, arguments, every option with its meaning. */
export function commandHelp(cmd: Command): string {
  const parts = [
    `Usage: switchboard ${cmd.name} [options]${cmd.args ? ` ${cmd.args}` : ''}`,
    '',
    `${cmd.summary}`,
  ];
  if (cmd.argHelp && cmd.argHelp.length > 0) parts.push('', 'Arguments:', table(cmd.argHelp));
  parts.push('', 'Options:', table(optionRows(cmd.options)));
  if (cmd.details) parts.push('', cmd.details);
  return `${parts.join('\n')}\n`;
}

/** The help of a group of commands (`switchboard`, `switchboard sim`). */
export function groupHelp(
  usage: string,
  summary: string,
  commands: Command[],
  details = '',
): string {
  const rows = commands.map((c): [string, string] => [c.name, c.summary]);
  const parts = [
    `Usage: ${usage}`,
    '',
    summary,
    '',
    'Commands:',
    table(rows),
    '',
    'Options:',
    table(optionRows({})),
  ];
  if (details) parts.push('', details);
  return `${parts.join('\n')}\n`;
}

export function usageError(cmd: Command | string, message: string): SwitchboardError {
  const name = typeof cmd === 'string' ? cmd : cmd.name;
  const help = name === '' ? 'switchboard --help' : `switchboard ${name} --help`;
  return new SwitchboardError('E_USAGE', `${message} (see \`${help}\`)`);
}

/** Parses and runs a command; --help prints its help. */
export async function runCommand(cmd: Command, args: string[], io: Io): Promise<number> {
  const options = Object.fromEntries(
    Object.entries({ ...cmd.options, help: HELP_OPTION }).map(([name, spec]) => [
      name,
      spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short },
    ]),
  );
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    throw usageError(cmd, (err as Error).message);
  }
  if (parsed.values.help) {
    io.out(commandHelp(cmd));
    return 0;
  }
  const [min, max] = cmd.positionals ?? [0, 0];
  const n = parsed.positionals.length;
  if (n < min) throw usageError(cmd, `missing argument${cmd.args ? `: expected ${cmd.args}` : ''}`);
  if (n > max) throw usageError(cmd, `unexpected argument "${parsed.positionals[max]}"`);
  return cmd.run({ values: parsed.values, positionals: parsed.positionals, io });
}

/** A positive integer argument (span number, port). */
export function parseIntArg(
  cmd: Command,
  what: string,
  text: string | undefined,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const n = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || n < min || n > max)
    throw usageError(cmd, `${what} must be a whole number from ${min} to ${max}, not "${text}"`);
  return n;
}

/** A finite number argument (error rate, ppm). */
export function parseNumberArg(cmd: Command, what: string, text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(n))
    throw usageError(cmd, `${what} must be a number, not "${text ?? ''}"`);
  return n;
}

export function stringValue(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}
