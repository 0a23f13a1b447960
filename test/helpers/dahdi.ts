// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit for the userspace DAHDI: a simulator per test in a temp dir, and DAHDI programs run against it.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paths } from '../../src/runtime/paths.ts';
import {
  type ProcessResult,
  runProcess,
  type StartedProcess,
  startProcess,
} from '../../src/runtime/process.ts';
import type { SimConfig } from '../../src/sim/config.ts';
import { type RunningSim, simEnv, simFiles, startSim } from '../../src/sim/daemon.ts';

/** dahdi_probe: our DAHDI API client for end-to-end checks (native/sim/tools). */
export const probe = paths.dahdiProbe;

export type Result = ProcessResult;
export type Started = StartedProcess;

export interface TestSim extends RunningSim {
  env: NodeJS.ProcessEnv;
  /** Runs a program against this simulator and waits for it. */
  run(cmd: string, args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<Result>;
  /** Starts a program against this simulator; `lines` collects its JSON output lines. */
  start(cmd: string, args: string[]): Started;
  /** Writes a system.conf and applies it with the real dahdi_cfg. */
  configure(systemConf: string): Promise<Result>;
  log(): string;
  /** Stops the daemon and returns its whole log, including what it printed on the way out. */
  stopAndReadLog(): Promise<string>;
}

export async function withSim(config: SimConfig): Promise<TestSim> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-sim-'));
  const sim = await startSim({ config, dir });
  const env = simEnv(dir);
  const t: TestSim = {
    ...sim,
    env,
    run: (cmd, args, opts) => runProcess(cmd, args, { env, ...opts }),
    start: (cmd, args) => startProcess(cmd, args, { env }),
    async configure(systemConf) {
      const file = join(dir, 'system.conf');
      writeFileSync(file, systemConf);
      return runProcess('dahdi_cfg', ['-vv', '-c', file], { env });
    },
    log: () => readFileSync(simFiles(dir).log, 'utf8'),
    async stop() {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async stopAndReadLog() {
      await sim.stop();
      const text = readFileSync(simFiles(dir).log, 'utf8');
      rmSync(dir, { recursive: true, force: true });
      return text;
    },
  };
  return t;
}

/** A simulator with `systemConf` applied by the real dahdi_cfg; fails with dahdi_cfg's own words. */
export async function withConfiguredSim(config: SimConfig, systemConf: string): Promise<TestSim> {
  const sim = await withSim(config);
  const r = await sim.configure(systemConf);
  if (r.code !== 0) {
    await sim.stop();
    throw new Error(`dahdi_cfg failed (${r.code}): ${r.stderr}`);
  }
  return sim;
}

/** dahdi_scan's INI-style output as {span: {key: value}}. */
export function parseScan(text: string): Record<number, Record<string, string>> {
  const out: Record<number, Record<string, string>> = {};
  let cur: Record<string, string> | undefined;
  for (const line of text.split('\n')) {
    const head = /^\[(\d+)\]$/.exec(line);
    if (head) {
      cur = {};
      out[Number(head[1])] = cur;
      continue;
    }
    const eq = line.indexOf('=');
    if (cur && eq > 0) {
      const key = line.slice(0, eq);
      const value = line.slice(eq + 1);
      cur[key] = cur[key] === undefined ? value : `${cur[key]};${value}`;
    }
  }
  return out;
}

/** Polls `check` until it returns true or the time is up (state that the 1 ms tick settles). */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs = 5000,
  intervalMs = 25,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Two E1 spans joined by one cable. */
export const E1_PAIR: SimConfig = { spans: [{ type: 'E1' }, { type: 'E1' }], cables: [[1, 2]] };
