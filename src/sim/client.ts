// SPDX-License-Identifier: GPL-2.0-or-later
// Client for the simulator's control socket: newline-delimited JSON, one answer per request.

import { connect } from 'node:net';
import { join } from 'node:path';
import { isErrorCode, SwitchboardError } from '../core/errors.ts';
import type { SpanType } from './config.ts';

/** Where the simulator lives unless told otherwise: $SWITCHBOARD_SIM_DIR or /run/switchboard-sim. */
export function defaultSimDir(): string {
  return process.env.SWITCHBOARD_SIM_DIR || '/run/switchboard-sim';
}

export function controlSocket(dir: string): string {
  return join(dir, 'control.sock');
}

/** Alarm names as DAHDI and the simulator report them. */
export type SimAlarm = 'RED' | 'YELLOW' | 'BLUE' | 'LOS' | 'AIS' | 'RAI' | 'NOTOPEN';

export interface SimSpanStatus {
  span: number;
  name: string;
  type: SpanType;
  channels: number;
  /** First DAHDI channel number of the span. */
  basechan: number;
  /** True once dahdi_cfg has configured the span. */
  configured: boolean;
  framing: 'ccs' | 'cas' | 'esf' | 'd4';
  coding: 'hdb3' | 'ami' | 'b8zs';
  crc4: boolean;
  alarms: SimAlarm[];
  /** The span at the far end of the cable, or null when unplugged. */
  cable: number | null;
  faults: { los: boolean; ais: boolean; rai: boolean; errorRate: number; slipPpm: number };
  counters: { bpv: number; crc4: number; ebit: number; fas: number; slips: number };
  openChannels: number;
}

/** How late the simulator's 1 ms tick ran, in microseconds. */
export interface SimTick {
  realtime: boolean;
  ticks: number;
  lateP50Us: number;
  lateP99Us: number;
  lateP999Us: number;
  lateMaxUs: number;
}

export interface SimStatus {
  spans: SimSpanStatus[];
  tick: SimTick;
  /** Processes connected through the preload. */
  clients: number;
}

/** One channel of a span as the simulator sees it (answer to `channels`). */
export interface SimChannelStatus {
  /** DAHDI channel number. */
  channel: number;
  /** Position in the span, from 1 (the port of an analog card). */
  chanpos: number;
  /** Signalling, a DAHDI_SIG_* value (0 until dahdi_cfg configures the channel); see sigName. */
  sig: number;
  /** True while some process has the channel open. */
  open: boolean;
  /** Received CAS bits (DAHDI_ABIT = 8 ... DAHDI_DBIT = 1), or -1 when not known yet. */
  rxbits: number;
  /** Transmitted CAS bits. */
  txbits: number;
  /** Analog ports: the port is off hook (FXS: the phone is lifted; FXO: the line is seized). */
  offhook: boolean;
  /** Analog ports: ringing voltage is on the line. */
  ringing: boolean;
  /** Bytes per buffer and number of buffers (0 while closed). */
  blocksize: number;
  numbufs: number;
  /** Buffers waiting to be read, to be sent; events waiting to be read. */
  rxQueued: number;
  txQueued: number;
  eventsQueued: number;
  /** Received buffers lost because every buffer was full; ticks with nothing to send. */
  rxOverruns: number;
  txUnderruns: number;
  /** Wake-up slot of the process waiting on the channel, or -1. */
  waker: number;
  /** Conference the channel is in (DAHDI_SETCONF), 0 for none, and its mode. */
  confno: number;
  confmode: number;
}

export interface SimChannels {
  channels: SimChannelStatus[];
}

// DAHDI_SIG_* of dahdi/user.h, built the way the header builds them.
const FXO = 1 << 12; // __DAHDI_SIG_FXO
const FXS = 1 << 13; // __DAHDI_SIG_FXS
const DACS = 1 << 16; // __DAHDI_SIG_DACS
const CLEAR = 1 << 7;
const HDLCRAW = (1 << 8) | CLEAR;
const HDLCFCS = (1 << 9) | HDLCRAW;

/** DAHDI_SIG_* values and their names without the prefix. */
export const SIG_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'NONE'],
  [(1 << 0) | FXS, 'FXSLS'],
  [(1 << 1) | FXS, 'FXSGS'],
  [(1 << 2) | FXS, 'FXSKS'],
  [(1 << 3) | FXO, 'FXOLS'],
  [(1 << 4) | FXO, 'FXOGS'],
  [(1 << 5) | FXO, 'FXOKS'],
  [1 << 6, 'EM'],
  [CLEAR, 'CLEAR'],
  [HDLCRAW, 'HDLCRAW'],
  [HDLCFCS, 'HDLCFCS'],
  [(1 << 10) | HDLCFCS, 'HDLCNET'],
  [1 << 11, 'SLAVE'],
  [1 << 14, 'SF'],
  [1 << 15, 'CAS'],
  [DACS | CLEAR, 'DACS'],
  [1 << 17, 'EM_E1'],
  [(1 << 18) | DACS, 'DACS_RBS'],
  [(1 << 19) | CLEAR, 'HARDHDLC'],
  [(1 << 20) | HDLCFCS, 'MTP2'],
  [2 ** 31, 'BROKEN'],
]);

/** The name of a DAHDI_SIG_* value (`FXOKS`), or its hexadecimal value when it has none. */
export function sigName(sig: number): string {
  const value = sig >>> 0; // DAHDI_SIG_BROKEN is 1 << 31: negative as a C int
  return SIG_NAMES.get(value) ?? `0x${value.toString(16)}`;
}

/** CAS bits in ABCD order (`1001`: A and D set), or `-` when not known (negative). */
export function casBits(bits: number): string {
  return bits < 0 ? '-' : (bits & 0xf).toString(2).padStart(4, '0');
}

/** A fault to inject on a span; `clear` removes every fault. */
export type SimFault =
  | { fault: 'los' | 'ais' | 'rai' | 'clear' }
  /** Bit error rate, 0 to 1 (for example 1e-5). */
  | { fault: 'errors'; rate: number }
  /** Clock offset of the far end in parts per million, making the span slip. */
  | { fault: 'slip'; ppm: number };

export type SimRequest =
  | { cmd: 'status' }
  | { cmd: 'channels'; span: number }
  | { cmd: 'cable'; a: number; b: number }
  | { cmd: 'uncable'; span: number }
  | ({ cmd: 'fault'; span: number } & SimFault)
  | { cmd: 'resetstats' }
  | { cmd: 'shutdown' };

/** Default time to wait for an answer, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 2000;

/**
 * Sends one request and resolves with the answer's fields (without `ok`).
 * @throws SwitchboardError E_SIM_NOT_RUNNING (no socket, nobody listening), E_SIM_TIMEOUT,
 *   E_SIM_PROTOCOL, or the daemon's own code (E_SIM_SPAN ...) when it answers ok:false
 */
export function simRequest(
  dir: string,
  request: SimRequest,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<Record<string, unknown>> {
  const path = controlSocket(dir);
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffer = '';
    let settled = false;
    const finish = (err: Error | null, value: Record<string, unknown> = {}) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => {
      finish(
        new SwitchboardError(
          'E_SIM_TIMEOUT',
          `simulator at ${dir} did not answer "${request.cmd}" within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    const answer = (line: string) => {
      try {
        finish(null, parseAnswer(line, request.cmd));
      } catch (err) {
        finish(err as Error);
      }
    };
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl >= 0) answer(buffer.slice(0, nl));
    });
    socket.on('end', () => {
      if (buffer.trim() !== '') return answer(buffer);
      finish(
        new SwitchboardError(
          'E_SIM_PROTOCOL',
          `simulator at ${dir} closed the connection without answering "${request.cmd}"`,
        ),
      );
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // ENOENT: no socket file; ECONNREFUSED: a stale socket left by a daemon that died.
      const absent = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
      finish(
        absent
          ? new SwitchboardError(
              'E_SIM_NOT_RUNNING',
              `no simulator is running in ${dir} (start one with \`switchboard sim up\`)`,
              { cause: err },
            )
          : new SwitchboardError('E_SIM_PROTOCOL', `cannot talk to ${path}: ${err.message}`, {
              cause: err,
            }),
      );
    });
  });
}

/** Decodes one answer line; ok:false becomes a SwitchboardError with the daemon's code. */
function parseAnswer(line: string, cmd: string): Record<string, unknown> {
  let answer: unknown;
  try {
    answer = JSON.parse(line);
  } catch {
    throw new SwitchboardError(
      'E_SIM_PROTOCOL',
      `simulator sent a line that is not JSON: ${line.slice(0, 200)}`,
    );
  }
  if (typeof answer !== 'object' || answer === null || !('ok' in answer))
    throw new SwitchboardError(
      'E_SIM_PROTOCOL',
      `simulator answer has no "ok" field: ${line.slice(0, 200)}`,
    );
  const { ok, ...rest } = answer as Record<string, unknown>;
  if (ok === true) return rest;
  const code = isErrorCode(rest.code) ? rest.code : 'E_SIM';
  const message = typeof rest.error === 'string' ? rest.error : `${cmd} failed`;
  throw new SwitchboardError(code, message, { details: rest });
}

/** Typed wrappers over the control protocol, bound to one simulator directory. */
export class SimClient {
  constructor(
    readonly dir: string = defaultSimDir(),
    readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {}

  async status(): Promise<SimStatus> {
    return (await simRequest(this.dir, { cmd: 'status' }, this.timeoutMs)) as unknown as SimStatus;
  }

  /** Every channel of a span; E_SIM_SPAN when there is no such span. */
  async channels(span: number): Promise<SimChannels> {
    return (await simRequest(
      this.dir,
      { cmd: 'channels', span },
      this.timeoutMs,
    )) as unknown as SimChannels;
  }

  async cable(a: number, b: number): Promise<void> {
    await simRequest(this.dir, { cmd: 'cable', a, b }, this.timeoutMs);
  }

  async uncable(span: number): Promise<void> {
    await simRequest(this.dir, { cmd: 'uncable', span }, this.timeoutMs);
  }

  async fault(span: number, fault: SimFault): Promise<void> {
    await simRequest(this.dir, { cmd: 'fault', span, ...fault }, this.timeoutMs);
  }

  /** Restarts the tick lateness statistics (benchmarks measure a steady state). */
  async resetStats(): Promise<void> {
    await simRequest(this.dir, { cmd: 'resetstats' }, this.timeoutMs);
  }

  async shutdown(): Promise<void> {
    await simRequest(this.dir, { cmd: 'shutdown' }, this.timeoutMs);
  }

  /** True when a simulator answers `status` in this directory. */
  async isUp(): Promise<boolean> {
    try {
      await this.status();
      return true;
    } catch (err) {
      if (err instanceof SwitchboardError && err.code === 'E_SIM_NOT_RUNNING') return false;
      throw err;
    }
  }
}
