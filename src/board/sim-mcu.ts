// SPDX-License-Identifier: GPL-2.0-or-later
// A simulated front-panel/board MCU: answers the board protocol, keeps LEDs, LCD and relay, enforces the watchdog.

import { EventEmitter } from 'node:events';
import {
  decodeMessage,
  encode,
  FrameDecoder,
  isHostMessage,
  type Led,
  type McuEvent,
  type McuStatus,
  type Message,
  msgName,
  PROTOCOL_VERSION,
  type RelayCause,
  type RelayState,
  type ResetReason,
  type WatchdogState,
} from './protocol.ts';
import { type OpenLine, openSerialLine, type SerialLine } from './serial.ts';

export interface SimMcuOptions {
  /** Span LEDs on the panel; default 6 (the sim-demo board). */
  leds?: number;
  lcdRows?: number;
  lcdColumns?: number;
  /** Reported in STATUS; default `sim-mcu <protocol version>.0`. */
  firmware?: string;
}

/** What the simulated MCU holds, as a test or `switchboard board sim-mcu` shows it. */
export interface SimMcuState {
  relay: RelayState;
  /** Why the relay is in that state. */
  relayCause: RelayCause;
  watchdog: WatchdogState;
  watchdogMs: number;
  leds: Led[];
  lcd: string[];
  /** The UART neither hears nor speaks (a dead line, or a hung MCU whose watchdog still runs). */
  silent: boolean;
  /** Outgoing frames still to be damaged on the wire. */
  garbleNext: number;
  counters: {
    framesIn: number;
    framesOut: number;
    naks: number;
    /** Damaged input dropped by the decoder (CRC, length, escape ... errors, noise not included). */
    garbledIn: number;
    noiseBytesIn: number;
    watchdogExpiries: number;
    /** Frames sent damaged on purpose (garble). */
    garbledOut: number;
  };
}

/**
 * What the MCU did, one entry per change or frame, in order: `(msg, fields)` as the CLI logs
 * it. Tests wait on these instead of on time.
 */
export interface SimMcuRecord {
  msg:
    | 'frame'
    | 'refused'
    | 'garbled'
    | 'leds'
    | 'lcd'
    | 'relay'
    | 'watchdog'
    | 'watchdog expired'
    | 'button'
    | 'reset'
    | 'silent';
  [field: string]: unknown;
}

/**
 * The MCU's logic over an abstract write: feed it bytes with `receive`, it writes its answers.
 * Every command is idempotent, so a frame the host sends again (its ACK was lost) is simply
 * applied again. At power-on the relay is closed (the carrier patched through) until the host
 * opens it: a board without a working controller never cuts the customer off.
 */
export class SimMcu extends EventEmitter<{ record: [SimMcuRecord] }> {
  readonly #opts: Required<SimMcuOptions>;
  readonly #decoder = new FrameDecoder();
  #write: (bytes: Uint8Array) => void;
  #seq = 0;
  #timer?: NodeJS.Timeout;
  readonly state: SimMcuState;
  /** Every record since start, for tests and the CLI. */
  readonly records: SimMcuRecord[] = [];

  constructor(write: (bytes: Uint8Array) => void, opts: SimMcuOptions = {}) {
    super();
    this.#write = write;
    this.#opts = {
      leds: opts.leds ?? 6,
      lcdRows: opts.lcdRows ?? 2,
      lcdColumns: opts.lcdColumns ?? 16,
      firmware: opts.firmware ?? `sim-mcu ${PROTOCOL_VERSION}.0`,
    };
    this.state = {
      relay: 'closed',
      relayCause: 'power-on',
      watchdog: 'disarmed',
      watchdogMs: 0,
      leds: Array.from({ length: this.#opts.leds }, () => ({ colour: 'off', blink: false })),
      lcd: Array.from({ length: this.#opts.lcdRows }, () => ''),
      silent: false,
      garbleNext: 0,
      counters: {
        framesIn: 0,
        framesOut: 0,
        naks: 0,
        garbledIn: 0,
        noiseBytesIn: 0,
        watchdogExpiries: 0,
        garbledOut: 0,
      },
    };
  }

  /** Announces a power-on reset (EVENT RESET), as the firmware does when it boots. */
  powerOn(reason: ResetReason = 'power-on'): void {
    this.#record({ msg: 'reset', reason });
    this.#event({ event: 'RESET', reason });
  }

  /** Bytes from the host. */
  receive(bytes: Uint8Array): void {
    if (this.state.silent) return;
    for (const d of this.#decoder.push(bytes)) {
      if (d.kind === 'error') {
        if (d.error === 'noise') this.state.counters.noiseBytesIn += d.bytes;
        else {
          this.state.counters.garbledIn += 1;
          this.#record({ msg: 'garbled', error: d.error, bytes: d.bytes });
        }
        continue;
      }
      const { frame } = d;
      this.state.counters.framesIn += 1;
      const decoded = decodeMessage(frame);
      if (!decoded.ok || !isHostMessage(frame.type)) {
        const reason = decoded.ok ? 'UNKNOWN_TYPE' : decoded.reason;
        this.#record({
          msg: 'refused',
          seq: frame.seq,
          type: msgName(frame.type),
          reason,
          detail: decoded.ok ? 'not a host message' : decoded.detail,
        });
        this.#nak(frame.seq, reason);
        continue;
      }
      this.#record({ msg: 'frame', seq: frame.seq, type: decoded.msg.type });
      this.#handle(frame.seq, decoded.msg);
    }
  }

  #handle(seq: number, msg: Message): void {
    const s = this.state;
    switch (msg.type) {
      case 'HELLO':
        if (msg.version !== PROTOCOL_VERSION) {
          this.#nak(seq, 'VERSION');
          return;
        }
        this.#ack(seq);
        this.#send({ type: 'STATUS', ...this.status() });
        return;
      case 'STATUS_REQUEST':
        this.#ack(seq);
        this.#send({ type: 'STATUS', ...this.status() });
        return;
      case 'LED_SET': {
        const next = s.leds.map((old, i) => msg.leds[i] ?? old);
        const changed = next.some(
          (l, i) => l.colour !== s.leds[i]?.colour || l.blink !== s.leds[i]?.blink,
        );
        s.leds = next;
        if (changed) this.#record({ msg: 'leds', leds: next.map(ledText) });
        this.#ack(seq);
        return;
      }
      case 'LCD_TEXT': {
        if (msg.row >= this.#opts.lcdRows) {
          this.#nak(seq, 'BAD_PAYLOAD');
          return;
        }
        const text = msg.text.slice(0, this.#opts.lcdColumns).padEnd(this.#opts.lcdColumns);
        if (s.lcd[msg.row] !== text) {
          s.lcd[msg.row] = text;
          this.#record({ msg: 'lcd', row: msg.row, text });
        }
        this.#ack(seq);
        return;
      }
      case 'WATCHDOG':
        this.#ack(seq);
        this.#arm(msg.timeoutMs);
        return;
      case 'BYPASS':
        this.#ack(seq);
        this.#setRelay(msg.relay, 'host');
        return;
      default:
        this.#nak(seq, 'UNKNOWN_TYPE');
    }
  }

  /** What STATUS reports. */
  status(): McuStatus {
    const s = this.state;
    return {
      version: PROTOCOL_VERSION,
      firmware: this.#opts.firmware,
      relay: s.relay,
      watchdog: s.watchdog,
      watchdogMs: s.watchdogMs,
      leds: this.#opts.leds,
      lcdRows: this.#opts.lcdRows,
      lcdColumns: this.#opts.lcdColumns,
    };
  }

  #arm(timeoutMs: number): void {
    const s = this.state;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const before = s.watchdog;
    s.watchdogMs = timeoutMs;
    if (timeoutMs === 0) {
      s.watchdog = 'disarmed';
    } else {
      s.watchdog = 'armed';
      this.#timer = setTimeout(() => this.#expire(), timeoutMs);
    }
    if (before !== s.watchdog)
      this.#record({ msg: 'watchdog', state: s.watchdog, timeoutMs: s.watchdogMs });
  }

  #expire(): void {
    const s = this.state;
    this.#timer = undefined;
    s.watchdog = 'expired';
    s.counters.watchdogExpiries += 1;
    this.#record({ msg: 'watchdog expired', timeoutMs: s.watchdogMs });
    this.#event({ event: 'WATCHDOG_EXPIRED' });
    this.#setRelay('closed', 'watchdog');
  }

  #setRelay(relay: RelayState, cause: RelayCause): void {
    const s = this.state;
    if (s.relay === relay) return;
    s.relay = relay;
    s.relayCause = cause;
    this.#record({ msg: 'relay', relay, cause });
    this.#event({ event: 'RELAY_CHANGED', relay, cause });
  }

  /** The front-panel button: reported to the host as an EVENT. */
  pressButton(button: number): void {
    this.#record({ msg: 'button', button });
    this.#event({ event: 'BUTTON', button });
  }

  /** Silent: the UART neither hears nor speaks; the watchdog still runs. */
  setSilent(silent: boolean): void {
    if (this.state.silent === silent) return;
    this.state.silent = silent;
    // Whatever was half-heard before the line died is gone.
    this.#decoder.flush();
    this.#record({ msg: 'silent', silent });
  }

  /** Damages the next `n` frames the MCU sends (one bit flipped: a CRC error at the host). */
  garble(n: number): void {
    this.state.garbleNext += n;
  }

  /** Raw bytes onto the line (noise, a half frame). */
  inject(bytes: Uint8Array): void {
    if (!this.state.silent) this.#write(bytes);
  }

  /** Replaces where the MCU writes (a new line after the old one closed). */
  attach(write: (bytes: Uint8Array) => void): void {
    this.#write = write;
  }

  /** Stops the watchdog timer (the simulated MCU is switched off). */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #ack(seq: number): void {
    this.#send({ type: 'ACK', seq });
  }

  #nak(seq: number, reason: 'UNKNOWN_TYPE' | 'BAD_PAYLOAD' | 'VERSION' | 'BUSY'): void {
    this.state.counters.naks += 1;
    this.#send({ type: 'NAK', seq, reason });
  }

  #event(event: McuEvent): void {
    this.#send({ type: 'EVENT', ...event });
  }

  #send(msg: Message): void {
    if (this.state.silent) return;
    const bytes = encode(msg, this.#seq);
    this.#seq = (this.#seq + 1) & 0xff;
    this.state.counters.framesOut += 1;
    if (this.state.garbleNext > 0) {
      this.state.garbleNext -= 1;
      this.state.counters.garbledOut += 1;
      // Flip a bit in the last CRC byte (never a flag or an escape: 0x7e/0x7d differ in bit 0 and 1).
      const i = bytes.length - 2;
      let b = (bytes[i] as number) ^ 0x10;
      if (b === 0x7e || b === 0x7d) b ^= 0x40;
      bytes[i] = b;
    }
    this.#write(bytes);
  }

  #record(r: SimMcuRecord): void {
    this.records.push(r);
    this.emit('record', r);
  }
}

/** `green`, `red-blink`, `off`: an LED as the logs and tests show it. */
export function ledText(led: Led): string {
  return led.colour === 'off' ? 'off' : `${led.colour}${led.blink ? '-blink' : ''}`;
}

/** A simulated MCU on a serial device (one end of a pseudo-terminal pair). */
export interface SimMcuPort {
  mcu: SimMcu;
  close(): Promise<void>;
}

/**
 * Runs a SimMcu on `device`: opens it, announces its power-on and answers until closed.
 * @throws SwitchboardError E_BOARD_SERIAL when the device cannot be opened
 */
export async function openSimMcu(
  device: string,
  opts: SimMcuOptions & { baudRate?: number; open?: OpenLine } = {},
): Promise<SimMcuPort> {
  let line: SerialLine | undefined;
  const mcu = new SimMcu((bytes) => line?.write(bytes), opts);
  line = await (opts.open ?? openSerialLine)(device, opts.baudRate ?? 115200, {
    data: (bytes) => mcu.receive(bytes),
    closed: () => {
      line = undefined;
    },
  });
  mcu.powerOn();
  return {
    mcu,
    async close() {
      mcu.close();
      await line?.close();
      line = undefined;
    },
  };
}
