// SPDX-License-Identifier: GPL-2.0-or-later
// Starts and stops the simulator daemon; each caller (the CLI, a test) may own one in its own dir.

import { spawn } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isSwitchboardError, SwitchboardError } from '../core/errors.ts';
import { paths } from '../runtime/paths.ts';
import { DEFAULT_TIMEOUT_MS, defaultSimDir, SimClient } from './client.ts';
import { loadSimConfig, type SimConfig, toDaemonJson, validateSimConfig } from './config.ts';

/** How long the daemon may take to answer `status` after it was started, in milliseconds. */
export const START_TIMEOUT_MS = 10_000;
/** How long the daemon may take to exit after `shutdown`, before it is sent SIGTERM. */
export const STOP_TIMEOUT_MS = 5_000;

/** Files the CLI keeps beside the daemon's sockets. */
export function simFiles(dir: string) {
  return {
    pid: join(dir, 'simd.pid'),
    log: join(dir, 'simd.log'),
    /** The configuration the running daemon was started with (the daemon's JSON). */
    config: join(dir, 'sim-config.json'),
  };
}

export interface StartSimOptions {
  /** A configuration, or the path of a YAML/JSON file; default the demo board. */
  config?: SimConfig | string;
  /** Directory for the sockets, pid and log; default $SWITCHBOARD_SIM_DIR or /run/switchboard-sim. */
  dir?: string;
  /** Milliseconds to wait for the daemon to answer; default 10 000. */
  timeoutMs?: number;
}

export interface RunningSim {
  dir: string;
  pid: number;
  config: SimConfig;
  client: SimClient;
  /** Shuts the daemon down and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * The daemon and the preload: the `make -C native/sim` build, or other builds (sanitizers, an
 * image build, a test double) named by $SWITCHBOARD_SIMD and $SWITCHBOARD_SIM_PRELOAD.
 */
export function simBinaries(env: NodeJS.ProcessEnv = process.env): {
  daemon: string;
  preload: string;
} {
  return {
    daemon: resolve(env.SWITCHBOARD_SIMD || paths.simDaemon),
    preload: resolve(env.SWITCHBOARD_SIM_PRELOAD || paths.simPreload),
  };
}

function requireFile(file: string, what: string): void {
  try {
    accessSync(file, constants.R_OK);
  } catch {
    throw new SwitchboardError(
      'E_SIM_NOT_BUILT',
      `${what} is not built (${file} is missing): run \`bash scripts/setup.sh\``,
    );
  }
}

/** The environment that routes a process's DAHDI calls to the simulator in `dir`. */
export function simEnv(dir: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const lib = simBinaries(base).preload;
  requireFile(lib, 'the simulator preload library');
  const preload = base.LD_PRELOAD ? `${lib} ${base.LD_PRELOAD}` : lib;
  return { ...base, LD_PRELOAD: preload, SWITCHBOARD_SIM_DIR: resolve(dir) };
}

/** A process that exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The pid in DIR/simd.pid if that process is still a running simulator daemon. */
export function livePid(dir: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(simFiles(dir).pid, 'utf8'), 10);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('switchboard-simd')) return undefined;
  } catch {
    return undefined;
  }
  return alive(pid) ? pid : undefined;
}

/** The configuration the simulator in `dir` was started with, if it was started by us. */
export function runningConfig(dir: string): SimConfig | undefined {
  try {
    return validateSimConfig(JSON.parse(readFileSync(simFiles(dir).config, 'utf8')));
  } catch {
    return undefined;
  }
}

function logTail(file: string, lines = 10): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Starts a simulator daemon in `dir` and waits until it answers `status`.
 * @throws SwitchboardError E_SIM_RUNNING when one already runs there, E_SIM_NOT_BUILT,
 *   E_CONFIG_*, or E_SIM_START when the daemon exits or stays silent
 */
export async function startSim(options: StartSimOptions = {}): Promise<RunningSim> {
  const dir = resolve(options.dir ?? defaultSimDir());
  const files = simFiles(dir);
  const client = new SimClient(dir);
  const config =
    typeof options.config === 'object'
      ? validateSimConfig(options.config)
      : loadSimConfig(options.config ?? paths.demoBoard);
  const { daemon } = simBinaries();
  requireFile(daemon, 'the simulator daemon');
  mkdirSync(dir, { recursive: true });

  const pid = livePid(dir);
  if (pid !== undefined || (await client.isUp()))
    throw new SwitchboardError(
      'E_SIM_RUNNING',
      `a simulator is already running in ${dir}${pid ? ` (pid ${pid})` : ''}; stop it with \`switchboard sim down --dir ${dir}\``,
    );
  // Nobody answers: sockets left here belong to a daemon that died.
  for (const sock of ['control.sock', 'dahdi.sock']) rmSync(join(dir, sock), { force: true });
  writeFileSync(files.config, toDaemonJson(config));

  const log = openSync(files.log, 'a');
  const child = spawn(daemon, ['--dir', dir, '--config', files.config], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  let exited: string | undefined;
  child.on('exit', (code, signal) => {
    exited = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  });
  const spawned = await new Promise<number>((ok, fail) => {
    child.once('spawn', () => ok(child.pid as number));
    child.once('error', (err) =>
      fail(new SwitchboardError('E_SIM_START', `cannot start ${daemon}: ${err.message}`)),
    );
  });
  child.unref();
  writeFileSync(files.pid, `${spawned}\n`);

  const deadline = Date.now() + (options.timeoutMs ?? START_TIMEOUT_MS);
  for (;;) {
    if (exited !== undefined) {
      rmSync(files.pid, { force: true });
      const tail = logTail(files.log);
      throw new SwitchboardError(
        'E_SIM_START',
        `the simulator daemon ${exited} before it answered (log: ${files.log})${tail ? `\n${tail}` : ''}`,
      );
    }
    try {
      await new SimClient(dir, 500).status();
      break;
    } catch (err) {
      if (
        !isSwitchboardError(err, 'E_SIM_NOT_RUNNING') &&
        !isSwitchboardError(err, 'E_SIM_TIMEOUT')
      )
        throw err;
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(files.pid, { force: true });
      throw new SwitchboardError(
        'E_SIM_START',
        `the simulator daemon did not answer within ${(options.timeoutMs ?? START_TIMEOUT_MS) / 1000} s (log: ${files.log})`,
      );
    }
    await sleep(50);
  }
  return { dir, pid: spawned, config, client, stop: () => stopSim(dir).then(() => undefined) };
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/**
 * Stops the simulator in `dir`: `shutdown` on the control socket, then SIGTERM and SIGKILL for
 * a daemon that does not exit. Resolves false when nothing was running.
 */
export async function stopSim(dir: string = defaultSimDir()): Promise<boolean> {
  dir = resolve(dir);
  const pid = livePid(dir);
  let answered = true;
  try {
    await new SimClient(dir, DEFAULT_TIMEOUT_MS).shutdown();
  } catch (err) {
    if (!isSwitchboardError(err)) throw err;
    answered = false;
  }
  if (pid !== undefined && !(await waitGone(pid, STOP_TIMEOUT_MS))) {
    process.kill(pid, 'SIGTERM');
    if (!(await waitGone(pid, 2000))) process.kill(pid, 'SIGKILL');
    await waitGone(pid, 2000);
  } else if (pid === undefined && answered) {
    // Started by someone else (no pid file): wait until the socket goes quiet.
    const client = new SimClient(dir, 500);
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while ((await client.isUp().catch(() => true)) && Date.now() < deadline) await sleep(20);
  }
  rmSync(simFiles(dir).pid, { force: true });
  return answered || pid !== undefined;
}
