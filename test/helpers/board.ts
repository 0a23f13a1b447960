// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit for the board controller: a socat pty pair with a simulated MCU on one end, spans to inject, waits.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import { makePtyPair, type PtyPair } from '../../src/board/pty.ts';
import { ledText, openSimMcu, type SimMcu, type SimMcuPort } from '../../src/board/sim-mcu.ts';
import type { DahdiAlarm, DahdiSpan } from '../../src/native/addon.ts';

export interface BoardPair {
  pty: PtyPair;
  /** The device the controller opens. */
  host: string;
  /** The simulated MCU now on the other end (a new one after `restartMcu`). */
  mcu(): SimMcu;
  /** Switches the MCU off. */
  stopMcu(): Promise<void>;
  /** A fresh MCU (power-on state) on the same end of the pair. */
  restartMcu(): Promise<SimMcu>;
  close(): Promise<void>;
}

/** A socat pty pair in a temp dir with a simulated MCU (6 LEDs, 2x16 LCD: sim-demo's) on one end. */
export async function withBoardPair(): Promise<BoardPair> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-board-'));
  const pty = await makePtyPair(join(dir, 'host'), join(dir, 'mcu'));
  let port: SimMcuPort | undefined = await openSimMcu(pty.mcu);
  const pair: BoardPair = {
    pty,
    host: pty.host,
    mcu: () => {
      if (!port) throw new Error('the simulated MCU is off');
      return port.mcu;
    },
    async stopMcu() {
      await port?.close();
      port = undefined;
    },
    async restartMcu() {
      await pair.stopMcu();
      port = await openSimMcu(pty.mcu);
      return port.mcu;
    },
    async close() {
      await pair.stopMcu();
      await pty.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return pair;
}

/** Waits until `pred` holds (checked every 10 ms); fails naming `what` after `timeoutMs`. */
export async function until(pred: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A pino logger whose lines land in an array. */
export function captureLog(): { lines: Record<string, unknown>[]; log: Logger } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, log: pino({ base: undefined, level: 'debug' }, stream) };
}

/** The six spans of the demo board as DAHDI reports them, every one configured and clear. */
export function demoSpans(): DahdiSpan[] {
  const types = ['E1', 'E1', 'E1', 'E1', 'T1', 'analog'];
  return types.map((type, i) => {
    const channels = type === 'E1' ? 31 : type === 'T1' ? 24 : 4;
    return {
      span: i + 1,
      name: `SIM/${type.toUpperCase()}/${i + 1}`,
      desc: '',
      alarms: [] as DahdiAlarm[],
      type,
      spantype: type === 'analog' ? 'FXS' : type,
      totalchans: channels,
      numchans: channels,
      lineconfig:
        type === 'analog'
          ? { framing: null, coding: null, crc4: false }
          : { framing: 'ccs', coding: 'hdb3', crc4: type === 'E1' },
      counters: { bpv: 0, crc4: 0, ebit: 0, fas: 0, fe: 0, cv: 0, be: 0, errsec: 0 },
      syncsrc: 0,
    };
  });
}

/** The MCU's LEDs as text (`green`, `red`, `yellow-blink`, `off`). */
export function mcuLeds(mcu: SimMcu): string[] {
  return mcu.state.leds.map(ledText);
}
