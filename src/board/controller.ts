// SPDX-License-Identifier: GPL-2.0-or-later
// The board controller: drives the front-panel/board MCU over its serial line (LEDs, LCD, watchdog, bypass relay).

import { EventEmitter } from 'node:events';
import { type Static, Type } from '@sinclair/typebox';
import type { Logger } from 'pino';
import { SwitchboardError } from '../core/errors.ts';
import type { DahdiSpan } from '../native/addon.ts';
import type { BoardModel } from './model.ts';
import { boxAddress, lcdLines, panelLeds } from './panel.ts';
import {
  type DecodeErrorKind,
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
  type RelayState,
} from './protocol.ts';
import { type OpenLine, openSerialLine, type SerialLine } from './serial.ts';

/** One timer or count of the board controller: default, unit, range and meaning. */
interface TimerSpec {
  default: number;
  unit: 'ms' | 'count';
  min: number;
  max: number;
  meaning: string;
}

/** The board controller's timers and counts; options may override each within its range. */
export const BOARD_TIMERS = {
  ackMs: {
    default: 300,
    unit: 'ms',
    min: 20,
    max: 5000,
    meaning: 'how long a frame waits for its ACK before it is sent again',
  },
  retries: {
    default: 3,
    unit: 'count',
    min: 0,
    max: 10,
    meaning: 'resends of one frame without an ACK before the MCU is reported lost',
  },
  watchdogMs: {
    default: 0,
    unit: 'ms',
    min: 0,
    max: 60000,
    meaning:
      "the watchdog timeout the MCU is told to enforce; 0: the model's controller.watchdogMs",
  },
  kickMs: {
    default: 0,
    unit: 'ms',
    min: 0,
    max: 3600000,
    meaning: 'how often the watchdog is kicked; 0: a third of the watchdog timeout',
  },
  reconnectMinMs: {
    default: 500,
    unit: 'ms',
    min: 10,
    max: 60000,
    meaning: 'first wait before the serial line is opened again after the MCU was lost',
  },
  reconnectMaxMs: {
    default: 30000,
    unit: 'ms',
    min: 10,
    max: 600000,
    meaning: 'longest wait between reconnection attempts (the wait doubles up to it)',
  },
  spanPollMs: {
    default: 1000,
    unit: 'ms',
    min: 20,
    max: 60000,
    meaning: 'how often the spans are read for the LEDs and the LCD',
  },
  idleFlushMs: {
    default: 200,
    unit: 'ms',
    min: 10,
    max: 5000,
    meaning: 'a partial frame with no byte for this long is dropped as truncated',
  },
} as const satisfies Record<string, TimerSpec>;
export type BoardTimers = { -readonly [K in keyof typeof BOARD_TIMERS]: number };

/**
 * The timers with overrides applied.
 * @throws SwitchboardError E_CONFIG_FIELD naming a timer out of its range
 */
export function boardTimers(overrides: Partial<BoardTimers> = {}): BoardTimers {
  const out = {} as BoardTimers;
  for (const [name, spec] of Object.entries(BOARD_TIMERS) as [keyof BoardTimers, TimerSpec][]) {
    const v = overrides[name] ?? spec.default;
    if (!Number.isInteger(v) || v < spec.min || v > spec.max)
      throw new SwitchboardError(
        'E_CONFIG_FIELD',
        `board timer ${name}: ${v} is out of range ${spec.min}..${spec.max} ${spec.unit} (${spec.meaning})`,
        { details: [{ path: `timers.${name}`, message: `must be ${spec.min}..${spec.max}` }] },
      );
    out[name] = v;
  }
  return out;
}

/**
 * The serial link to the MCU:
 * idle (not started) -> opening (the device) -> hello (HELLO sent) -> connected;
 * any of them -> lost (no ACK after the retries, the line closed) -> opening again after a backoff;
 * connected -> stopping (relay closed, watchdog disarmed) -> stopped.
 */
export const LINK_STATES = [
  'idle',
  'opening',
  'hello',
  'connected',
  'lost',
  'stopping',
  'stopped',
] as const;
export type LinkState = (typeof LINK_STATES)[number];

const LINK_TRANSITIONS: Record<LinkState, readonly LinkState[]> = {
  idle: ['opening', 'stopped'],
  opening: ['hello', 'lost', 'stopped'],
  hello: ['connected', 'lost', 'stopped'],
  connected: ['lost', 'stopping', 'stopped'],
  lost: ['opening', 'stopped'],
  stopping: ['stopped'],
  stopped: [],
};

const LedView = Type.Object({
  span: Type.Integer({ description: 'LED N shows span N' }),
  colour: Type.Union([
    Type.Literal('off'),
    Type.Literal('green'),
    Type.Literal('red'),
    Type.Literal('yellow'),
  ]),
  blink: Type.Boolean(),
});

export const BoardControllerState = Type.Object(
  {
    device: Type.String({ description: 'the serial device of the MCU' }),
    baudRate: Type.Integer(),
    link: Type.Union(
      LINK_STATES.map((s) => Type.Literal(s)),
      { description: 'connected: the MCU answers; lost: it does not, reconnection is retried' },
    ),
    since: Type.String({ format: 'date-time', description: 'when the link entered that state' }),
    mcu: Type.Union(
      [
        Type.Object({
          firmware: Type.String(),
          version: Type.Integer({ description: 'board protocol version' }),
          leds: Type.Integer(),
          lcdRows: Type.Integer(),
          lcdColumns: Type.Integer(),
        }),
        Type.Null(),
      ],
      { description: "the MCU's last STATUS; null before the first one" },
    ),
    leds: Type.Array(LedView, { description: 'what the panel shows (acknowledged by the MCU)' }),
    lcd: Type.Array(Type.String(), { description: 'the LCD lines the MCU acknowledged' }),
    relay: Type.Union([Type.Literal('open'), Type.Literal('closed'), Type.Null()], {
      description:
        'bypass relay: open = the E1 goes through the switch; closed = the carrier is patched through to the customer equipment; null = not known',
    }),
    watchdog: Type.Object({
      state: Type.Union([
        Type.Literal('disarmed'),
        Type.Literal('armed'),
        Type.Literal('expired'),
        Type.Null(),
      ]),
      timeoutMs: Type.Integer({ description: 'the timeout the MCU enforces' }),
      kickMs: Type.Integer({ description: 'how often the controller kicks it' }),
      lastKick: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    }),
    counters: Type.Object({
      framesSent: Type.Integer({ description: 'frames written, resends included' }),
      framesReceived: Type.Integer({ description: 'sound frames read' }),
      retries: Type.Integer({ description: 'frames sent again for want of an ACK' }),
      garbled: Type.Integer({
        description: 'frames dropped: damaged (CRC, length, escape...) or not an MCU message',
      }),
      noiseBytes: Type.Integer({ description: 'bytes outside any frame' }),
      naks: Type.Integer(),
      staleAcks: Type.Integer({ description: 'ACK/NAK for a frame no longer waiting' }),
      lost: Type.Integer({ description: 'times a connected MCU stopped answering' }),
      reconnects: Type.Integer({ description: 'times the MCU answered again after being lost' }),
      watchdogExpired: Type.Integer({ description: 'EVENT WATCHDOG_EXPIRED from the MCU' }),
      events: Type.Integer({ description: 'EVENT frames of any kind' }),
    }),
    lastError: Type.Union([Type.String(), Type.Null()]),
    lastEvent: Type.Union([
      Type.Object(
        { event: Type.String(), at: Type.String({ format: 'date-time' }) },
        {
          additionalProperties: true,
        },
      ),
      Type.Null(),
    ]),
  },
  { description: 'the board controller and what it knows of the MCU' },
);
export type BoardControllerState = Static<typeof BoardControllerState>;
export type BoardCounters = BoardControllerState['counters'];

export interface BoardControllerOptions {
  model: BoardModel;
  /** The serial device; default the model's controller.device. */
  device?: string;
  /** The spans whose alarms the LEDs show (`addon.spans()`); may throw when DAHDI is down. */
  spans: () => readonly DahdiSpan[];
  /** The address on the LCD's first line; default the first non-loopback IPv4 address. */
  address?: () => string | undefined;
  log: Logger;
  timers?: Partial<BoardTimers>;
  /** Opens the serial line; default serialport. */
  open?: OpenLine;
}

/** What the controller emits, for tests and the API: link changes, MCU events, applied commands. */
export interface BoardControllerEvents {
  link: [LinkState];
  /** An EVENT frame from the MCU. */
  mcuEvent: [McuEvent];
  /** A command the MCU acknowledged. */
  applied: [Message];
  /** A damaged frame dropped by the decoder, or a sound frame that is no MCU message (`message`). */
  garbled: [DecodeErrorKind | 'message'];
}

interface Inflight {
  seq: number;
  msg: Message;
  bytes: Buffer;
  tries: number;
  timer: NodeJS.Timeout;
  done: (result: 'ack' | 'refused') => void;
}

interface Panel {
  leds: Led[] | undefined;
  lcd: (string | undefined)[];
  relay: RelayState | undefined;
  /** The watchdog timeout the MCU was last told; 0: disarmed; undefined: not known. */
  watchdogMs: number | undefined;
}

/** The stop message on the LCD while the relay is closed by a deliberate stop. */
const STOPPED_TEXT = 'SWITCH STOPPED';

function sameLeds(a: readonly Led[] | undefined, b: readonly Led[]): boolean {
  return (
    a !== undefined &&
    a.length === b.length &&
    a.every((l, i) => l.colour === b[i]?.colour && l.blink === b[i]?.blink)
  );
}

/**
 * Keeps the MCU's panel, watchdog and relay where the switch wants them. Commands go out one
 * at a time (stop and wait): each waits for its ACK, is sent again up to `retries` times, and
 * then the MCU is reported lost and the line is reopened with a doubling backoff. What the
 * panel should show is kept apart from what the MCU has acknowledged, so after a reconnection
 * or an MCU reset everything is simply sent again. Nothing here throws out of a callback.
 */
export class BoardController extends EventEmitter<BoardControllerEvents> {
  readonly device: string;
  readonly timers: BoardTimers;
  readonly #model: BoardModel;
  readonly #opts: BoardControllerOptions;
  readonly #log: Logger;
  readonly #open: OpenLine;
  readonly #watchdogMs: number;
  readonly #kickMs: number;
  #link: LinkState = 'idle';
  #since = new Date();
  #line?: SerialLine;
  /** Bumped each time a line is opened, so callbacks of an old line are ignored. */
  #generation = 0;
  #decoder = new FrameDecoder();
  #seq = Math.floor(Math.random() * 256);
  #inflight?: Inflight;
  #desired: { leds: Led[]; lcd: string[] };
  #acked: Panel = { leds: undefined, lcd: [], relay: undefined, watchdogMs: undefined };
  #kickDue = true;
  #lastKick: Date | undefined;
  #mcu: McuStatus | undefined;
  #mcuWatchdog: McuStatus['watchdog'] | undefined;
  #backoff: number;
  #everConnected = false;
  /** The current outage has been logged (once per outage). */
  #downLogged = false;
  #lastGarbledLog = 0;
  #lastSpanError: string | undefined;
  #lastError: string | undefined;
  #lastEvent: { event: string; at: string; [k: string]: unknown } | undefined;
  #pollTimer?: NodeJS.Timeout;
  #kickTimer?: NodeJS.Timeout;
  #reconnectTimer?: NodeJS.Timeout;
  #flushTimer?: NodeJS.Timeout;
  #stopWaiter?: () => void;
  readonly counters: BoardCounters = {
    framesSent: 0,
    framesReceived: 0,
    retries: 0,
    garbled: 0,
    noiseBytes: 0,
    naks: 0,
    staleAcks: 0,
    lost: 0,
    reconnects: 0,
    watchdogExpired: 0,
    events: 0,
  };

  /** @throws SwitchboardError E_CONFIG_FIELD for a timer out of range or no device */
  constructor(opts: BoardControllerOptions) {
    super();
    const device = opts.device ?? opts.model.controller.device;
    if (!device)
      throw new SwitchboardError(
        'E_CONFIG_FIELD',
        `board model ${opts.model.id} has no serial device (controller.device) and none was given`,
        { details: [{ path: 'controller.device', message: 'is null' }] },
      );
    this.device = device;
    this.#model = opts.model;
    this.#opts = opts;
    this.#log = opts.log;
    this.#open = opts.open ?? openSerialLine;
    this.timers = boardTimers(opts.timers);
    this.#watchdogMs = this.timers.watchdogMs || opts.model.controller.watchdogMs;
    if (this.#watchdogMs > 65535)
      throw new SwitchboardError('E_CONFIG_FIELD', 'the watchdog timeout is at most 65535 ms');
    this.#kickMs = this.timers.kickMs || Math.max(1, Math.floor(this.#watchdogMs / 3));
    this.#backoff = this.timers.reconnectMinMs;
    const { rows, columns } = opts.model.controller.lcd;
    this.#desired = {
      leds: panelLeds(opts.model.controller.leds, []),
      lcd: Array.from({ length: rows }, () => ''.padEnd(columns)),
    };
  }

  get link(): LinkState {
    return this.#link;
  }

  /** Starts driving the MCU: opens the line (retrying in the background), polls spans, kicks. */
  start(): void {
    if (this.#link !== 'idle') return;
    this.#poll();
    this.#pollTimer = setInterval(() => this.#poll(), this.timers.spanPollMs);
    this.#kickTimer = setInterval(() => {
      this.#kickDue = true;
      this.#pump();
    }, this.#kickMs);
    void this.#connect();
  }

  /** Reads the spans now (the poll timer does it every spanPollMs) and updates the panel. */
  refresh(): void {
    this.#poll();
  }

  /**
   * A deliberate stop: closes the bypass relay (the carrier is patched through to the customer
   * equipment), disarms the watchdog so the MCU knows it was no crash, shows the stop on the
   * LCD, and closes the line. Bounded by the retries when the MCU does not answer; never rejects.
   */
  async stop(): Promise<void> {
    if (this.#link === 'stopped' || this.#link === 'stopping') return;
    this.#clearTimers();
    if (this.#link === 'connected') {
      const done = new Promise<void>((ok) => {
        this.#stopWaiter = ok;
      });
      this.#to('stopping');
      this.#pump();
      await done;
    } else {
      this.#log.warn(
        { device: this.device, link: this.#link },
        'board MCU not connected at stop: its watchdog closes the bypass relay when it expires',
      );
    }
    await this.#closeLine();
    this.#to('stopped');
  }

  /** Drops the line without the stop sequence, as a crash would (tests; the MCU's watchdog takes over). */
  async abandon(): Promise<void> {
    this.#clearTimers();
    await this.#closeLine();
    this.#to('stopped');
  }

  state(): BoardControllerState {
    const mcu = this.#mcu;
    return {
      device: this.device,
      baudRate: this.#model.controller.baudRate,
      link: this.#link,
      since: this.#since.toISOString(),
      mcu: mcu
        ? {
            firmware: mcu.firmware,
            version: mcu.version,
            leds: mcu.leds,
            lcdRows: mcu.lcdRows,
            lcdColumns: mcu.lcdColumns,
          }
        : null,
      leds: (this.#acked.leds ?? []).map((l, i) => ({ span: i + 1, ...l })),
      lcd: this.#acked.lcd.map((l) => l ?? ''),
      relay: this.#acked.relay ?? null,
      watchdog: {
        state: this.#mcuWatchdog ?? null,
        timeoutMs: this.#watchdogMs,
        kickMs: this.#kickMs,
        lastKick: this.#lastKick?.toISOString() ?? null,
      },
      counters: { ...this.counters },
      lastError: this.#lastError ?? null,
      lastEvent: this.#lastEvent ?? null,
    };
  }

  // -- the link -------------------------------------------------------------------------------

  #to(next: LinkState): void {
    if (next === this.#link) return;
    if (!LINK_TRANSITIONS[this.#link].includes(next)) {
      this.#log.error(
        { from: this.#link, to: next },
        'board link: transition refused (not in the table)',
      );
      return;
    }
    this.#link = next;
    this.#since = new Date();
    this.emit('link', next);
  }

  async #connect(): Promise<void> {
    if (this.#link !== 'idle' && this.#link !== 'lost') return;
    this.#to('opening');
    const generation = ++this.#generation;
    this.#decoder = new FrameDecoder();
    let line: SerialLine;
    try {
      line = await this.#open(this.device, this.#model.controller.baudRate, {
        data: (bytes) => {
          if (generation === this.#generation) this.#onData(bytes);
        },
        closed: (err) => {
          if (generation === this.#generation)
            this.#lose(`serial line closed${err ? `: ${err.message}` : ''}`);
        },
      });
    } catch (err) {
      // The link may have been stopped while the device was opening.
      if (this.link !== 'opening') return;
      this.#lose(err instanceof Error ? err.message : String(err));
      return;
    }
    if (this.link !== 'opening' || generation !== this.#generation) {
      // Stopped while the device was opening.
      await line.close();
      return;
    }
    this.#line = line;
    this.#to('hello');
    this.#send({ type: 'HELLO', version: PROTOCOL_VERSION }, (result) => {
      if (result === 'refused') {
        this.#lose(`the MCU refused HELLO (protocol version ${PROTOCOL_VERSION})`);
        return;
      }
      this.#connected();
    });
  }

  #connected(): void {
    this.#to('connected');
    const again = this.#everConnected;
    this.#everConnected = true;
    this.#downLogged = false;
    this.#backoff = this.timers.reconnectMinMs;
    this.#lastError = undefined;
    if (again) this.counters.reconnects += 1;
    this.#log.info(
      { device: this.device, firmware: this.#mcu?.firmware, reconnects: this.counters.reconnects },
      again ? 'board MCU answers again' : 'board MCU connected',
    );
    this.#kickDue = true;
    this.#pump();
  }

  #lose(reason: string): void {
    if (this.#link === 'lost' || this.#link === 'stopped' || this.#link === 'idle') return;
    const was = this.#link;
    this.#lastError = reason;
    if (this.#inflight) clearTimeout(this.#inflight.timer);
    this.#inflight = undefined;
    this.#generation += 1;
    void this.#closeLine();
    // Nothing the MCU holds is known any more: it is all sent again once it answers.
    this.#acked = { leds: undefined, lcd: [], relay: undefined, watchdogMs: undefined };
    this.#mcuWatchdog = undefined;
    if (was === 'stopping') {
      this.#log.error(
        { device: this.device, reason },
        'board MCU lost while stopping: its watchdog closes the bypass relay when it expires',
      );
      this.#stopWaiter?.();
      return;
    }
    if (was === 'connected') this.counters.lost += 1;
    if (!this.#downLogged) {
      this.#downLogged = true;
      this.#log.error(
        { device: this.device, reason, retryMs: this.#backoff },
        was === 'connected'
          ? 'board MCU lost: reconnecting with backoff (its watchdog closes the bypass relay if this lasts)'
          : 'board MCU not answering: retrying with backoff',
      );
    } else {
      this.#log.debug(
        { device: this.device, reason, retryMs: this.#backoff },
        'board MCU still not answering',
      );
    }
    this.#to('lost');
    const wait = this.#backoff;
    this.#backoff = Math.min(this.#backoff * 2, this.timers.reconnectMaxMs);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      void this.#connect();
    }, wait);
  }

  async #closeLine(): Promise<void> {
    clearTimeout(this.#flushTimer);
    const line = this.#line;
    this.#line = undefined;
    if (this.#inflight) clearTimeout(this.#inflight.timer);
    this.#inflight = undefined;
    if (line) await line.close();
  }

  #clearTimers(): void {
    clearInterval(this.#pollTimer);
    clearInterval(this.#kickTimer);
    clearTimeout(this.#reconnectTimer);
    this.#pollTimer = undefined;
    this.#kickTimer = undefined;
    this.#reconnectTimer = undefined;
  }

  // -- sending --------------------------------------------------------------------------------

  #send(msg: Message, done: Inflight['done']): void {
    const line = this.#line;
    if (!line) return;
    const seq = this.#seq;
    this.#seq = (this.#seq + 1) & 0xff;
    const bytes = encode(msg, seq);
    this.#inflight = {
      seq,
      msg,
      bytes,
      tries: 1,
      done,
      timer: setTimeout(() => this.#timeout(), this.timers.ackMs),
    };
    this.counters.framesSent += 1;
    line.write(bytes);
  }

  #timeout(): void {
    const f = this.#inflight;
    if (!f) return;
    if (f.tries > this.timers.retries) {
      this.#lose(`no ACK for ${f.msg.type} (seq ${f.seq}) after ${f.tries} tries`);
      return;
    }
    f.tries += 1;
    this.counters.retries += 1;
    this.counters.framesSent += 1;
    this.#log.debug({ type: f.msg.type, seq: f.seq, try: f.tries }, 'board frame sent again');
    f.timer = setTimeout(() => this.#timeout(), this.timers.ackMs);
    this.#line?.write(f.bytes);
  }

  /** The next command the MCU needs, most urgent first; undefined when it has everything. */
  #next(): { msg: Message; done: Inflight['done'] } | undefined {
    const acked = this.#acked;
    if (this.#link === 'stopping') {
      if (acked.relay !== 'closed')
        return {
          msg: { type: 'BYPASS', relay: 'closed' },
          done: (r) => {
            acked.relay = 'closed';
            if (r === 'ack')
              this.#log.info(
                { device: this.device },
                'bypass relay closed: the carrier is patched through to the customer equipment (controller stopping)',
              );
          },
        };
      if (acked.watchdogMs !== 0)
        return {
          msg: { type: 'WATCHDOG', timeoutMs: 0 },
          done: () => {
            acked.watchdogMs = 0;
            this.#mcuWatchdog = 'disarmed';
          },
        };
      const { columns } = this.#model.controller.lcd;
      const text = STOPPED_TEXT.slice(0, columns).padEnd(columns);
      if (acked.lcd[1] !== text && this.#model.controller.lcd.rows > 1)
        return {
          msg: { type: 'LCD_TEXT', row: 1, text },
          done: () => {
            acked.lcd[1] = text;
          },
        };
      return undefined;
    }
    if (this.#kickDue) {
      const timeoutMs = this.#watchdogMs;
      return {
        msg: { type: 'WATCHDOG', timeoutMs },
        done: () => {
          this.#kickDue = false;
          acked.watchdogMs = timeoutMs;
          this.#mcuWatchdog = 'armed';
          this.#lastKick = new Date();
        },
      };
    }
    if (acked.relay !== 'open')
      return {
        msg: { type: 'BYPASS', relay: 'open' },
        done: (r) => {
          acked.relay = 'open';
          if (r === 'ack')
            this.#log.info(
              { device: this.device },
              'bypass relay open: the E1 goes through the switch',
            );
        },
      };
    const leds = this.#desired.leds;
    if (!sameLeds(acked.leds, leds)) {
      const copy = leds.map((l) => ({ ...l }));
      return {
        msg: { type: 'LED_SET', leds: copy },
        done: () => {
          acked.leds = copy;
        },
      };
    }
    for (const [row, text] of this.#desired.lcd.entries())
      if (acked.lcd[row] !== text)
        return {
          msg: { type: 'LCD_TEXT', row, text },
          done: () => {
            acked.lcd[row] = text;
          },
        };
    return undefined;
  }

  #pump(): void {
    if (this.#inflight || !this.#line) return;
    if (this.#link !== 'connected' && this.#link !== 'stopping') return;
    const next = this.#next();
    if (!next) {
      if (this.#link === 'stopping') this.#stopWaiter?.();
      return;
    }
    try {
      this.#send(next.msg, (result) => {
        next.done(result);
        if (result === 'ack') this.emit('applied', next.msg);
      });
    } catch (err) {
      // A message this side cannot encode is a bug; it is dropped, not retried for ever.
      this.#log.error({ err, type: next.msg.type }, 'board controller: cannot encode a frame');
      next.done('refused');
    }
  }

  // -- receiving ------------------------------------------------------------------------------

  #onData(bytes: Buffer): void {
    try {
      for (const d of this.#decoder.push(bytes)) {
        if (d.kind === 'error') this.#garbled(d.error, d.bytes);
        else this.#onFrame(d.frame);
      }
      clearTimeout(this.#flushTimer);
      if (this.#decoder.pending > 0)
        this.#flushTimer = setTimeout(() => {
          for (const d of this.#decoder.flush())
            if (d.kind === 'error') this.#garbled(d.error, d.bytes);
        }, this.timers.idleFlushMs);
    } catch (err) {
      // A bug here must not take the switch down: the board is a side show to the calls.
      this.#log.error({ err }, 'board controller: failure handling MCU data');
    }
  }

  #garbled(error: DecodeErrorKind | 'message', bytes: number): void {
    if (error === 'noise') {
      this.counters.noiseBytes += bytes;
      return;
    }
    this.counters.garbled += 1;
    this.emit('garbled', error);
    const now = Date.now();
    // Reported, but a noisy line does not flood the log: one line every 10 s at most.
    if (now - this.#lastGarbledLog >= 10_000) {
      this.#lastGarbledLog = now;
      this.#log.warn(
        { device: this.device, error, bytes, garbled: this.counters.garbled },
        'garbled frame from the board MCU dropped',
      );
    }
  }

  #onFrame(frame: { seq: number; type: number; payload: Uint8Array }): void {
    this.counters.framesReceived += 1;
    const decoded = decodeMessage(frame);
    if (!decoded.ok || isHostMessage(frame.type)) {
      this.#garbled('message', frame.payload.length);
      this.#log.warn(
        { type: msgName(frame.type), detail: decoded.ok ? 'a host message' : decoded.detail },
        'board MCU sent a frame the host does not read',
      );
      return;
    }
    const msg = decoded.msg;
    switch (msg.type) {
      case 'ACK':
      case 'NAK': {
        const f = this.#inflight;
        if (!f || f.seq !== msg.seq) {
          this.counters.staleAcks += 1;
          return;
        }
        clearTimeout(f.timer);
        this.#inflight = undefined;
        if (msg.type === 'NAK') {
          this.counters.naks += 1;
          this.#log.warn(
            { type: f.msg.type, seq: f.seq, reason: msg.reason },
            'board MCU refused a frame',
          );
          if (msg.reason === 'BUSY') {
            // Sent again as a retry: it counts against the same bound.
            this.#inflight = f;
            f.timer = setTimeout(() => this.#timeout(), this.timers.ackMs);
            return;
          }
          f.done('refused');
        } else f.done('ack');
        this.#pump();
        return;
      }
      case 'STATUS': {
        const { type: _t, ...status } = msg;
        this.#mcu = status;
        this.#mcuWatchdog = status.watchdog;
        this.#acked.relay = status.relay;
        if (status.watchdog !== 'armed') this.#kickDue = true;
        this.#pump();
        return;
      }
      case 'EVENT': {
        const { type: _t, ...event } = msg;
        this.#onEvent(event);
        return;
      }
      default:
        return;
    }
  }

  #onEvent(event: McuEvent): void {
    this.counters.events += 1;
    this.#lastEvent = { ...event, at: new Date().toISOString() };
    this.emit('mcuEvent', event);
    switch (event.event) {
      case 'WATCHDOG_EXPIRED':
        this.counters.watchdogExpired += 1;
        this.#mcuWatchdog = 'expired';
        this.#acked.watchdogMs = undefined;
        this.#kickDue = true;
        this.#log.error(
          {
            device: this.device,
            timeoutMs: this.#watchdogMs,
            expired: this.counters.watchdogExpired,
          },
          "board MCU's watchdog expired: the controller missed its kicks, the bypass relay patches the carrier through",
        );
        break;
      case 'RELAY_CHANGED':
        this.#acked.relay = event.relay;
        this.#log[event.cause === 'host' ? 'info' : 'warn'](
          { device: this.device, relay: event.relay, cause: event.cause },
          `bypass relay ${event.relay} (${event.cause})`,
        );
        break;
      case 'BUTTON':
        this.#log.info({ device: this.device, button: event.button }, 'front-panel button pressed');
        break;
      case 'RESET':
        // The MCU rebooted: it holds nothing we sent; it all goes again.
        this.#acked = { leds: undefined, lcd: [], relay: 'closed', watchdogMs: undefined };
        this.#mcuWatchdog = 'disarmed';
        this.#kickDue = true;
        this.#log.warn({ device: this.device, reason: event.reason }, 'board MCU reset');
        break;
    }
    this.#pump();
  }

  // -- the panel ------------------------------------------------------------------------------

  #poll(): void {
    let spans: readonly DahdiSpan[] | undefined;
    try {
      spans = this.#opts.spans();
      this.#lastSpanError = undefined;
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      if (text !== this.#lastSpanError)
        this.#log.warn({ err: text }, 'board controller: spans cannot be read; the LEDs blink red');
      this.#lastSpanError = text;
      spans = undefined;
    }
    const c = this.#model.controller;
    let address: string | undefined;
    try {
      address = (this.#opts.address ?? boxAddress)();
    } catch {
      address = undefined;
    }
    try {
      this.#desired = {
        leds: panelLeds(c.leds, spans),
        lcd: lcdLines({
          rows: c.lcd.rows,
          columns: c.lcd.columns,
          address,
          spans,
          model: this.#model.name,
        }),
      };
    } catch (err) {
      // A span list the panel cannot read is a bug elsewhere; the panel keeps what it shows.
      this.#log.error({ err }, 'board controller: cannot work out the panel from the spans');
    }
    this.#pump();
  }
}
