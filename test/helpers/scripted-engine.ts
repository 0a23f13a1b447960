// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit: a scripted engine double for the call manager, events in the native engine's shapes, a clock, timers and a log sink.

import { causeName } from '../../src/calls/cause.ts';
import type { CallLog, CallTimers, EngineLink } from '../../src/calls/manager.ts';
import { type ErrorCode, SwitchboardError } from '../../src/core/errors.ts';
import type { CommandResult, EngineCommand, EngineEvent } from '../../src/native/engine.ts';

/**
 * Records every command and answers as the engine would: `place` returns a new call id
 * (100, 101 ...), anything else `{}`. A trunk in `refusePlace` refuses `place` with that error
 * code, an op in `refuseOp` refuses every command of that op. `sync` answers without a promise,
 * as the in-process Engine does; the default answers with one, as an engine host does.
 */
export class ScriptedEngine implements EngineLink {
  readonly commands: EngineCommand[] = [];
  readonly refusePlace = new Map<string, ErrorCode>();
  readonly refuseOp = new Map<string, ErrorCode>();
  nextCall = 100;

  constructor(readonly sync = false) {}

  command(cmd: EngineCommand): Promise<CommandResult> | CommandResult {
    this.commands.push(cmd);
    const refuse = (code: ErrorCode) => {
      const err = new SwitchboardError(code, `${cmd.op} refused (${code})`);
      if (this.sync) throw err;
      return Promise.reject(err);
    };
    let result: CommandResult = {};
    if (cmd.op === 'place') {
      const code = this.refusePlace.get(cmd.trunk);
      if (code) return refuse(code);
      result = { call: this.nextCall++ };
    } else {
      const code = this.refuseOp.get(cmd.op);
      if (code) return refuse(code);
    }
    return this.sync ? result : Promise.resolve(result);
  }

  /** The commands since the last take(), then forgets them. */
  take(): EngineCommand[] {
    return this.commands.splice(0);
  }
}

/** A settable clock (ms since the epoch), starting Monday 2024-03-04 10:00 in Shanghai. */
export class Clock {
  ms = Date.parse('2024-03-04T02:00:00Z');
  now = (): Date => new Date(this.ms);
  tick(ms: number): void {
    this.ms += ms;
  }
}

/** Engine events exactly as the native engine shapes them, stamped with the clock. */
export function events(clock: Clock) {
  const base = (call: number, trunk: string, extra: object = {}) => ({
    trunk,
    call,
    time: clock.ms,
    ...extra,
  });
  return {
    offered: (
      call: number,
      trunk: string,
      called: string,
      calling: string,
      extra: Partial<Extract<EngineEvent, { event: 'offered' }>> = {},
    ): EngineEvent => ({ event: 'offered', ...base(call, trunk), called, calling, ...extra }),
    call: (
      event: 'dialing' | 'proceeding' | 'alerting' | 'progress' | 'answered',
      call: number,
      trunk: string,
      extra: { span?: number; channel?: number; cic?: number } = {},
    ): EngineEvent => ({ event, ...base(call, trunk, extra) }),
    digits: (call: number, trunk: string, digits: string): EngineEvent => ({
      event: 'digits',
      ...base(call, trunk),
      digits,
    }),
    released: (
      call: number,
      trunk: string,
      cause: number,
      by: 'remote' | 'local' | 'stack',
    ): EngineEvent => ({
      event: 'released',
      ...base(call, trunk),
      cause,
      causeName: causeName(cause),
      by,
    }),
    connected: (a: [number, number], b: [number, number]): EngineEvent => ({
      event: 'connected',
      time: clock.ms,
      mode: 'duplex',
      a: { dahdiChannel: a[0], call: a[1] },
      b: { dahdiChannel: b[0], call: b[1] },
    }),
    dtmf: (call: number, trunk: string, digit: string): EngineEvent => ({
      event: 'dtmf',
      time: clock.ms,
      dahdiChannel: 1,
      call,
      trunk,
      digit,
      ms: 100,
      level: -10,
      at: clock.ms,
    }),
  };
}

/** Timers that fire only when the test says so. */
export class ManualTimers implements CallTimers {
  readonly pending = new Map<number, { fn: () => void; ms: number }>();
  #n = 0;
  set(fn: () => void, ms: number): unknown {
    this.#n++;
    this.pending.set(this.#n, { fn, ms });
    return this.#n;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Fires every pending timer. */
  fireAll(): void {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const t of due) t.fn();
  }
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  bindings: Record<string, unknown>;
  obj: object;
  msg: string;
}

/** A CallLog whose lines land in an array, child bindings merged in. */
export function logSink(): { lines: LogLine[]; log: CallLog } {
  const lines: LogLine[] = [];
  const make = (bindings: Record<string, unknown>): CallLog => {
    const at =
      (level: LogLine['level']) =>
      (obj: object, msg: string): void => {
        lines.push({ level, bindings, obj, msg });
      };
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (b) => make({ ...bindings, ...b }),
    };
  };
  return { lines, log: make({}) };
}
