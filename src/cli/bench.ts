// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard bench NAME`: runs bench/NAME.ts and writes bench/results/NAME.json with the machine.

import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, type as osType, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SwitchboardError } from '../core/errors.ts';
import { paths } from '../runtime/paths.ts';
import { type Command, usageError } from './command.ts';

/** A benchmark module: bench/NAME.ts exporting run(), which resolves with its figures. */
export interface BenchModule {
  run(): Promise<object>;
}

/** What the figures were measured on. */
export interface MachineInfo {
  cpuModel: string;
  cpuCount: number;
  totalMemoryBytes: number;
  os: string;
  kernel: string;
  node: string;
  date: string;
}

export function machineInfo(now = new Date()): MachineInfo {
  const cpu = cpus();
  return {
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    cpuCount: cpu.length,
    totalMemoryBytes: totalmem(),
    os: osType(),
    kernel: release(),
    node: process.version,
    date: now.toISOString(),
  };
}

/** Bench names: the .ts files directly in the bench directory. */
export function listBenches(dir = paths.benchDir): string[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  return files
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

/** `figures` flattened to `key.sub: value` lines for the terminal. */
export function summarise(figures: object, prefix = ''): string[] {
  return Object.entries(figures).flatMap(([key, value]) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? summarise(value, `${prefix}${key}.`)
      : [`${prefix}${key}: ${Array.isArray(value) ? JSON.stringify(value) : String(value)}`],
  );
}

export interface BenchResult {
  bench: string;
  figures: object;
  machine: MachineInfo;
}

/**
 * Runs one benchmark and writes its result file.
 * @throws SwitchboardError E_BENCH_UNKNOWN (listing the known names) or E_BENCH_INVALID
 */
export async function runBench(
  name: string,
  dirs: { benchDir?: string; resultsDir?: string } = {},
): Promise<{ result: BenchResult; file: string }> {
  const benchDir = dirs.benchDir ?? paths.benchDir;
  const resultsDir = dirs.resultsDir ?? join(benchDir, 'results');
  const known = listBenches(benchDir);
  if (!known.includes(name))
    throw new SwitchboardError(
      'E_BENCH_UNKNOWN',
      `unknown bench "${name}"; known benches: ${known.length > 0 ? known.join(', ') : '(none yet)'}`,
    );
  const mod = (await import(
    pathToFileURL(join(benchDir, `${name}.ts`)).href
  )) as Partial<BenchModule>;
  if (typeof mod.run !== 'function')
    throw new SwitchboardError(
      'E_BENCH_INVALID',
      `bench/${name}.ts must export \`async function run(): Promise<object>\``,
    );
  const figures = await mod.run();
  const result: BenchResult = { bench: name, figures, machine: machineInfo() };
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return { result, file };
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'Run a benchmark (bench/NAME.ts) and write bench/results/NAME.json.',
  args: 'NAME',
  argHelp: [['NAME', 'benchmark to run: the name of a file in bench/ without .ts']],
  options: {},
  positionals: [0, 1],
  details:
    'The result file holds the figures and the machine they were measured on (CPU model and count,\nmemory, kernel, Node.js version, date). Benches: sim, calls, media, controller, dialer, mqtt\n(MQTT messages per second with 480 channels churning); README has their options.',
  async run({ positionals, io }) {
    const name = positionals[0];
    if (name === undefined) {
      const known = listBenches();
      throw usageError(
        benchCommand,
        `missing NAME; known benches: ${known.length > 0 ? known.join(', ') : '(none yet)'}`,
      );
    }
    const { result, file } = await runBench(name);
    io.out(
      `bench ${name}\n${summarise(result.figures)
        .map((l) => `  ${l}\n`)
        .join('')}wrote ${file}\n`,
    );
    return 0;
  },
};
