// SPDX-License-Identifier: GPL-2.0-or-later
// systemd service notifications (sd_notify): READY, STATUS, STOPPING and health-gated WATCHDOG pings.

import type { Logger } from 'pino';
import { isSwitchboardError, SwitchboardError } from '../core/errors.ts';
import { loadRaw, wrap } from '../native/addon.ts';

/**
 * Sends one notification (`READY=1`, `STATUS=...`, several separated by newlines) to the
 * socket systemd names in $NOTIFY_SOCKET (a path, or an abstract name starting with `@`).
 * Returns false, and does nothing, when the process was not started by systemd with
 * `Type=notify` (no NOTIFY_SOCKET).
 * @throws SwitchboardError E_SD_NOTIFY when the datagram cannot be sent, E_USAGE for a
 *   NOTIFY_SOCKET that is neither an absolute path nor an abstract name
 */
export function sdNotify(state: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return false;
  const raw = loadRaw() as unknown as { sdNotify?: (state: string, socket: string) => number };
  const send = raw.sdNotify;
  if (typeof send !== 'function')
    throw new SwitchboardError(
      'E_SD_NOTIFY',
      'the native addon has no sdNotify (an older build): run `bash scripts/setup.sh`',
    );
  wrap(() => send(state, socket));
  return true;
}

/**
 * How often the watchdog wants a ping, in ms: half of $WATCHDOG_USEC (systemd's `WatchdogSec=`),
 * as sd_watchdog_enabled(3) advises; undefined when there is no watchdog for this process
 * (no or a malformed WATCHDOG_USEC, or a WATCHDOG_PID naming another process).
 */
export function watchdogIntervalMs(
  env: NodeJS.ProcessEnv = process.env,
  pid = process.pid,
): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isSafeInteger(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

/** The controller's health for the watchdog: why it is unhealthy, or undefined when it is well. */
export type HealthCheck = () => string | undefined;

export interface ServiceNotifierOptions {
  log: Logger;
  /** The environment systemd gave the process; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Sends one notification; default sdNotify (a test may record them instead). */
  send?: (state: string) => void;
}

/**
 * The controller's side of `Type=notify`: status lines while it starts, READY=1 once it serves,
 * WATCHDOG=1 at half the watchdog interval for as long as the health check passes, STOPPING=1
 * when it stops. Outside systemd every call is a no-op. A notification that cannot be sent is
 * logged once and never stops the switch.
 */
export class ServiceNotifier {
  readonly #log: Logger;
  readonly #env: NodeJS.ProcessEnv;
  readonly #send: (state: string) => void;
  readonly #active: boolean;
  #timer?: NodeJS.Timeout;
  #health?: HealthCheck;
  /** Why the last health check failed, so a change is reported once, not at every tick. */
  #unhealthy?: string;
  #runningStatus = 'running';
  #failed = false;

  constructor(opts: ServiceNotifierOptions) {
    this.#log = opts.log;
    this.#env = opts.env ?? process.env;
    const env = this.#env;
    this.#send = opts.send ?? ((state) => void sdNotify(state, env));
    this.#active = opts.send !== undefined || Boolean(env.NOTIFY_SOCKET);
  }

  /** Whether systemd listens (NOTIFY_SOCKET is set), or a test gave its own send. */
  get active(): boolean {
    return this.#active;
  }

  #notify(state: string): void {
    if (!this.active) return;
    try {
      this.#send(state);
      this.#failed = false;
    } catch (err) {
      if (!isSwitchboardError(err)) throw err;
      if (!this.#failed)
        this.#log.warn({ err, code: err.code }, 'cannot notify systemd: %s', err.message);
      this.#failed = true;
    }
  }

  /** A STATUS= line (`systemctl status` shows it). */
  status(text: string): void {
    this.#notify(`STATUS=${oneLine(text)}`);
  }

  /** READY=1 with its status line; starts the watchdog pings when systemd asked for them. */
  ready(status: string, health: HealthCheck): void {
    this.#runningStatus = oneLine(status);
    this.#notify(`READY=1\nSTATUS=${this.#runningStatus}`);
    this.#health = health;
    const every = watchdogIntervalMs(this.#env);
    if (every === undefined || !this.active) return;
    this.#log.info({ everyMs: every }, 'systemd watchdog: pinging while the controller is healthy');
    this.#timer = setInterval(() => this.tick(), every);
    this.#timer.unref();
  }

  /**
   * One watchdog round: pings when the health check passes, otherwise sends none (systemd then
   * restarts the controller once WatchdogSec passes without one) and says why in STATUS=.
   * Returns whether it pinged. Only a running event loop gets here at all.
   */
  tick(): boolean {
    const health = this.#health;
    if (!health) return false;
    let problem: string | undefined;
    try {
      problem = health();
    } catch (err) {
      problem = err instanceof Error ? err.message : String(err);
    }
    if (problem !== undefined) {
      if (problem !== this.#unhealthy)
        this.#log.error({ problem }, 'unhealthy: no watchdog ping until it recovers');
      if (problem !== this.#unhealthy) this.#notify(`STATUS=unhealthy: ${oneLine(problem)}`);
      this.#unhealthy = problem;
      return false;
    }
    if (this.#unhealthy !== undefined) {
      this.#log.info('healthy again: watchdog pings resume');
      this.#unhealthy = undefined;
      this.#notify(`WATCHDOG=1\nSTATUS=${this.#runningStatus}`);
      return true;
    }
    this.#notify('WATCHDOG=1');
    return true;
  }

  /** STOPPING=1 with its status line; no more watchdog pings. */
  stopping(status: string): void {
    this.#stopWatchdog();
    this.#notify(`STOPPING=1\nSTATUS=${oneLine(status)}`);
  }

  #stopWatchdog(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#health = undefined;
  }
}

/** STATUS= takes one line. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
