// SPDX-License-Identifier: GPL-2.0-or-later
// A pseudo-terminal pair made by socat: the controller opens one end, the simulated MCU the other.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { SwitchboardError } from '../core/errors.ts';

export interface PtyPair {
  /** The end the controller opens (a symlink to /dev/pts/N). */
  host: string;
  /** The end the simulated MCU opens. */
  mcu: string;
  pid: number | undefined;
  /** Ends socat (both ends go away) and waits for it. */
  stop(): Promise<void>;
}

/** How long socat may take to create both ends, ms. */
const PTY_READY_MS = 5000;

/**
 * Runs `socat -d -d pty,raw,echo=0,link=HOST pty,raw,echo=0,link=MCU`: two raw pseudo-terminals
 * joined back to back, like a null-modem cable. Stale links from an earlier run are removed.
 * @throws SwitchboardError E_BOARD_SERIAL when socat is missing or does not make both ends
 */
export async function makePtyPair(host: string, mcu: string): Promise<PtyPair> {
  rmSync(host, { force: true });
  rmSync(mcu, { force: true });
  const child: ChildProcess = spawn(
    'socat',
    ['-d', '-d', `pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${mcu}`],
    // Its own process group: Ctrl-C in a terminal reaches the whole foreground group, and the
    // pair must outlive the controller's stop (which closes the bypass relay through it).
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  // Whatever way this process ends, socat ends with it.
  const reap = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.once('exit', reap);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  const exited = new Promise<void>((ok) => {
    child.once('exit', () => ok());
    child.once('error', () => ok());
  });
  let failure: Error | undefined;
  child.once('error', (err) => {
    failure = err;
  });
  const until = Date.now() + PTY_READY_MS;
  while (!(existsSync(host) && existsSync(mcu))) {
    if (failure || child.exitCode !== null || Date.now() > until) {
      process.off('exit', reap);
      child.kill('SIGKILL');
      const missing = (failure as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
      throw new SwitchboardError(
        'E_BOARD_SERIAL',
        missing
          ? 'socat is not installed: it makes the pseudo-terminal of the simulated board MCU (apt-get install socat; scripts/setup.sh installs it)'
          : `socat did not make the pseudo-terminal pair ${host} <-> ${mcu}: ${stderr.trim() || 'no output'}`,
        { cause: failure },
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    host,
    mcu,
    pid: child.pid,
    async stop() {
      process.off('exit', reap);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(host, { force: true });
      rmSync(mcu, { force: true });
    },
  };
}
