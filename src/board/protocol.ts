// SPDX-License-Identifier: GPL-2.0-or-later
// The board protocol (docs/board-protocol.md): framing, CRC, messages; pure encoders and a decoder that never throws.

import { SwitchboardError } from '../core/errors.ts';

/** The protocol version HELLO carries; an MCU that speaks another one answers NAK(VERSION). */
export const PROTOCOL_VERSION = 1;

/** Frame delimiter: starts and ends every frame; never appears inside one (byte stuffing). */
export const FLAG = 0x7e;
/** Escape: the next byte is XORed with ESC_XOR (0x7e -> 7d 5e, 0x7d -> 7d 5d). */
export const ESC = 0x7d;
export const ESC_XOR = 0x20;
/** Longest payload of one frame, bytes. */
export const MAX_PAYLOAD = 250;
/** LEN, SEQ, TYPE before the payload and the two CRC bytes after it. */
const OVERHEAD = 5;
/** Longest LCD line a frame may carry, characters. */
export const MAX_LCD_TEXT = 40;
/** Most LEDs one LED_SET sets. */
export const MAX_LED_COUNT = 64;

/** Message types on the wire: host to MCU below 0x80, MCU to host from 0x80. */
export const MSG = {
  HELLO: 0x01,
  STATUS_REQUEST: 0x02,
  LED_SET: 0x10,
  LCD_TEXT: 0x11,
  WATCHDOG: 0x12,
  BYPASS: 0x13,
  ACK: 0x80,
  NAK: 0x81,
  STATUS: 0x82,
  EVENT: 0x83,
} as const;
export type MsgName = keyof typeof MSG;

/** The name of a message type for logs ("LED_SET"), `0xNN` for one the protocol does not have. */
export function msgName(type: number): string {
  const hit = (Object.keys(MSG) as MsgName[]).find((k) => MSG[k] === type);
  return hit ?? `0x${type.toString(16).padStart(2, '0')}`;
}

/** Why the MCU refused a frame (NAK reason byte). */
export const NAK_REASONS = ['UNKNOWN_TYPE', 'BAD_PAYLOAD', 'VERSION', 'BUSY'] as const;
export type NakReason = (typeof NAK_REASONS)[number];

export const LED_COLOURS = ['off', 'green', 'red', 'yellow'] as const;
export type LedColour = (typeof LED_COLOURS)[number];
export interface Led {
  colour: LedColour;
  /** Blinking (about 1 Hz on the panel) instead of steady. */
  blink: boolean;
}

/** open: the E1 goes through the switch; closed: the carrier is patched straight to the customer's equipment. */
export type RelayState = 'open' | 'closed';
export const WATCHDOG_STATES = ['disarmed', 'armed', 'expired'] as const;
export type WatchdogState = (typeof WATCHDOG_STATES)[number];
export const RELAY_CAUSES = ['host', 'watchdog', 'button', 'power-on'] as const;
export type RelayCause = (typeof RELAY_CAUSES)[number];
export const RESET_REASONS = ['power-on', 'brown-out', 'mcu-watchdog'] as const;
export type ResetReason = (typeof RESET_REASONS)[number];
/** EVENT codes, index = code - 1. */
export const EVENT_NAMES = ['WATCHDOG_EXPIRED', 'RELAY_CHANGED', 'BUTTON', 'RESET'] as const;

export interface McuStatus {
  version: number;
  firmware: string;
  relay: RelayState;
  watchdog: WatchdogState;
  /** The timeout the MCU enforces, ms (0 while disarmed). */
  watchdogMs: number;
  leds: number;
  lcdRows: number;
  lcdColumns: number;
}

export type McuEvent =
  | { event: 'WATCHDOG_EXPIRED' }
  | { event: 'RELAY_CHANGED'; relay: RelayState; cause: RelayCause }
  | { event: 'BUTTON'; button: number }
  | { event: 'RESET'; reason: ResetReason };

/** Every message, as plain objects (host to MCU, then MCU to host). */
export type Message =
  | { type: 'HELLO'; version: number }
  | { type: 'STATUS_REQUEST' }
  | { type: 'LED_SET'; leds: Led[] }
  | { type: 'LCD_TEXT'; row: number; text: string }
  /** Kicks the watchdog and (re)arms it with this timeout, ms; 0 disarms it (a deliberate stop). */
  | { type: 'WATCHDOG'; timeoutMs: number }
  | { type: 'BYPASS'; relay: RelayState }
  | { type: 'ACK'; seq: number }
  | { type: 'NAK'; seq: number; reason: NakReason }
  | ({ type: 'STATUS' } & McuStatus)
  | ({ type: 'EVENT' } & McuEvent);

/** One frame: sequence number (0-255), message type, payload. */
export interface Frame {
  seq: number;
  type: number;
  payload: Uint8Array;
}

/** CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, no reflection ("123456789" -> 0x29B1). */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) {
    crc ^= (bytes[i] as number) << 8;
    for (let b = 0; b < 8; b++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function bad(message: string): SwitchboardError {
  return new SwitchboardError('E_BOARD_FRAME', message);
}

/**
 * One frame on the wire: FLAG, then LEN SEQ TYPE PAYLOAD CRC_HI CRC_LO byte-stuffed, then FLAG.
 * The CRC covers LEN..PAYLOAD before stuffing.
 * @throws SwitchboardError E_BOARD_FRAME for a sequence number, type or payload out of range
 */
export function encodeFrame(frame: Frame): Buffer {
  const { seq, type, payload } = frame;
  if (!Number.isInteger(seq) || seq < 0 || seq > 255) throw bad(`seq ${seq} is not 0-255`);
  if (!Number.isInteger(type) || type < 0 || type > 255) throw bad(`type ${type} is not 0-255`);
  if (payload.length > MAX_PAYLOAD)
    throw bad(`payload of ${payload.length} bytes is longer than ${MAX_PAYLOAD}`);
  const raw = new Uint8Array(payload.length + OVERHEAD);
  raw[0] = payload.length;
  raw[1] = seq;
  raw[2] = type;
  raw.set(payload, 3);
  const crc = crc16(raw, 0, payload.length + 3);
  raw[payload.length + 3] = crc >> 8;
  raw[payload.length + 4] = crc & 0xff;
  const out: number[] = [FLAG];
  for (const b of raw) {
    if (b === FLAG || b === ESC) out.push(ESC, b ^ ESC_XOR);
    else out.push(b);
  }
  out.push(FLAG);
  return Buffer.from(out);
}

/** Why bytes were thrown away. */
export type DecodeErrorKind =
  /** bytes outside any frame (line noise, or the tail of a frame we started reading mid-way) */
  | 'noise'
  /** fewer than LEN SEQ TYPE CRC */
  | 'short'
  /** LEN disagrees with the bytes between the flags (a truncated frame, or bytes lost) */
  | 'length'
  /** the CRC does not match */
  | 'crc'
  /** an escape followed by a flag, or an escaped byte that needs no escaping */
  | 'escape'
  /** more bytes than the longest frame before a flag */
  | 'overflow'
  /** a partial frame dropped because the line went idle (flush) */
  | 'truncated';

export type Decoded =
  | { kind: 'frame'; frame: Frame }
  | { kind: 'error'; error: DecodeErrorKind; bytes: number };

const MAX_RAW = MAX_PAYLOAD + OVERHEAD;

/**
 * Turns a byte stream into frames. Bad input is reported as errors with the number of bytes
 * dropped, never thrown: every flag starts a fresh frame, so the decoder is back in step at the
 * next flag whatever came before it.
 */
export class FrameDecoder {
  #buf = new Uint8Array(MAX_RAW);
  /** Bytes of the frame being read (stored while it is sound, counted once it is damaged). */
  #len = 0;
  /** A flag has been seen: bytes are frame content. */
  #inFrame = false;
  #escaping = false;
  /** The frame being read is already known bad: its bytes are counted and reported at the next flag. */
  #damage: 'escape' | 'overflow' | undefined;
  /** Bytes outside any frame since the last report. */
  #noise = 0;

  push(chunk: Uint8Array): Decoded[] {
    const out: Decoded[] = [];
    for (const byte of chunk) {
      if (byte === FLAG) {
        if (this.#noise > 0) {
          out.push({ kind: 'error', error: 'noise', bytes: this.#noise });
          this.#noise = 0;
        }
        if (this.#damage) out.push({ kind: 'error', error: this.#damage, bytes: this.#len });
        else if (this.#escaping) out.push({ kind: 'error', error: 'escape', bytes: this.#len + 1 });
        else if (this.#inFrame && this.#len > 0) out.push(this.#finish());
        this.#reset();
        this.#inFrame = true;
        continue;
      }
      if (!this.#inFrame) {
        this.#noise += 1;
        continue;
      }
      if (this.#damage) {
        this.#len += 1;
        continue;
      }
      if (byte === ESC && !this.#escaping) {
        this.#escaping = true;
        continue;
      }
      let value = byte;
      if (this.#escaping) {
        this.#escaping = false;
        value = byte ^ ESC_XOR;
        // Our encoder escapes nothing else: this frame was damaged on the line.
        if (value !== FLAG && value !== ESC) {
          this.#damage = 'escape';
          this.#len += 2;
          continue;
        }
      }
      if (this.#len >= MAX_RAW) {
        this.#damage = 'overflow';
        this.#len += 1;
        continue;
      }
      this.#buf[this.#len++] = value;
    }
    return out;
  }

  /**
   * Drops a partial frame: call it when the line has been idle longer than a frame takes, so
   * a frame cut short is reported now rather than when the next flag comes.
   */
  flush(): Decoded[] {
    const out: Decoded[] = [];
    if (this.#noise > 0) out.push({ kind: 'error', error: 'noise', bytes: this.#noise });
    const partial = this.#len + (this.#escaping ? 1 : 0);
    if (this.#inFrame && partial > 0)
      out.push({ kind: 'error', error: this.#damage ?? 'truncated', bytes: partial });
    this.#noise = 0;
    this.#reset();
    return out;
  }

  /** Bytes waiting: a partial frame, or noise not reported yet. */
  get pending(): number {
    return this.#len + this.#noise + (this.#escaping ? 1 : 0);
  }

  #reset(): void {
    this.#len = 0;
    this.#escaping = false;
    this.#damage = undefined;
    this.#inFrame = false;
  }

  #finish(): Decoded {
    const n = this.#len;
    const b = this.#buf;
    if (n < OVERHEAD) return { kind: 'error', error: 'short', bytes: n };
    const len = b[0] as number;
    if (n !== len + OVERHEAD) return { kind: 'error', error: 'length', bytes: n };
    const crc = ((b[n - 2] as number) << 8) | (b[n - 1] as number);
    if (crc !== crc16(b, 0, n - 2)) return { kind: 'error', error: 'crc', bytes: n };
    return {
      kind: 'frame',
      frame: { seq: b[1] as number, type: b[2] as number, payload: b.slice(3, 3 + len) },
    };
  }
}

function ascii(text: string, max: number): Uint8Array {
  const out = new Uint8Array(Math.min(text.length, max));
  for (let i = 0; i < out.length; i++) {
    const c = text.charCodeAt(i);
    out[i] = c >= 0x20 && c <= 0x7e ? c : 0x3f; // '?' for anything a character LCD cannot show
  }
  return out;
}

function fromAscii(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : '?';
  return s;
}

function byteIn(n: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(n) || n < min || n > max) throw bad(`${what} ${n} is not ${min}-${max}`);
  return n;
}

/** One LED as its wire byte: bits 0-1 colour (off green red yellow), bit 2 blink. */
export function ledByte(led: Led): number {
  return LED_COLOURS.indexOf(led.colour) | (led.blink ? 0x04 : 0);
}

/**
 * A message's type byte and payload.
 * @throws SwitchboardError E_BOARD_FRAME for a field out of range
 */
export function encodeMessage(msg: Message): { type: number; payload: Uint8Array } {
  const type = MSG[msg.type];
  switch (msg.type) {
    case 'HELLO':
      return { type, payload: Uint8Array.of(byteIn(msg.version, 0, 255, 'version')) };
    case 'STATUS_REQUEST':
      return { type, payload: new Uint8Array(0) };
    case 'LED_SET': {
      byteIn(msg.leds.length, 0, MAX_LED_COUNT, 'LED count');
      return { type, payload: Uint8Array.of(msg.leds.length, ...msg.leds.map(ledByte)) };
    }
    case 'LCD_TEXT':
      return {
        type,
        payload: Uint8Array.of(byteIn(msg.row, 0, 3, 'LCD row'), ...ascii(msg.text, MAX_LCD_TEXT)),
      };
    case 'WATCHDOG': {
      const ms = byteIn(msg.timeoutMs, 0, 65535, 'watchdog timeout ms');
      return { type, payload: Uint8Array.of(ms >> 8, ms & 0xff) };
    }
    case 'BYPASS':
      return { type, payload: Uint8Array.of(msg.relay === 'closed' ? 1 : 0) };
    case 'ACK':
      return { type, payload: Uint8Array.of(byteIn(msg.seq, 0, 255, 'seq')) };
    case 'NAK':
      return {
        type,
        payload: Uint8Array.of(byteIn(msg.seq, 0, 255, 'seq'), NAK_REASONS.indexOf(msg.reason) + 1),
      };
    case 'STATUS': {
      const fw = ascii(msg.firmware, 32);
      const ms = byteIn(msg.watchdogMs, 0, 65535, 'watchdog timeout ms');
      return {
        type,
        payload: Uint8Array.of(
          byteIn(msg.version, 0, 255, 'version'),
          msg.relay === 'closed' ? 1 : 0,
          WATCHDOG_STATES.indexOf(msg.watchdog),
          ms >> 8,
          ms & 0xff,
          byteIn(msg.leds, 0, MAX_LED_COUNT, 'LED count'),
          byteIn(msg.lcdRows, 0, 4, 'LCD rows'),
          byteIn(msg.lcdColumns, 0, MAX_LCD_TEXT, 'LCD columns'),
          fw.length,
          ...fw,
        ),
      };
    }
    case 'EVENT': {
      const code = EVENT_NAMES.indexOf(msg.event) + 1;
      switch (msg.event) {
        case 'WATCHDOG_EXPIRED':
          return { type, payload: Uint8Array.of(code, 0, 0) };
        case 'RELAY_CHANGED':
          return {
            type,
            payload: Uint8Array.of(
              code,
              msg.relay === 'closed' ? 1 : 0,
              RELAY_CAUSES.indexOf(msg.cause),
            ),
          };
        case 'BUTTON':
          return { type, payload: Uint8Array.of(code, byteIn(msg.button, 0, 255, 'button'), 0) };
        case 'RESET':
          return { type, payload: Uint8Array.of(code, RESET_REASONS.indexOf(msg.reason), 0) };
      }
    }
  }
}

/** A message as a frame on the wire. */
export function encode(msg: Message, seq: number): Buffer {
  return encodeFrame({ seq, ...encodeMessage(msg) });
}

/** What a frame says, or why it cannot be read (the reason an MCU NAKs it with). */
export type DecodedMessage =
  | { ok: true; msg: Message }
  | { ok: false; reason: 'UNKNOWN_TYPE' | 'BAD_PAYLOAD'; detail: string };

function at<T>(list: readonly T[], i: number | undefined): T | undefined {
  return i === undefined ? undefined : list[i];
}

/** Reads a frame's message. Never throws: a frame that is not a message says why. */
export function decodeMessage(frame: Frame): DecodedMessage {
  const p = frame.payload;
  const type = msgName(frame.type);
  const badPayload = (detail: string): DecodedMessage => ({
    ok: false,
    reason: 'BAD_PAYLOAD',
    detail: `${type}: ${detail}`,
  });
  const exactly = (n: number) =>
    p.length === n ? undefined : `payload is ${p.length} bytes, not ${n}`;
  switch (frame.type) {
    case MSG.HELLO: {
      const e = exactly(1);
      return e ? badPayload(e) : { ok: true, msg: { type: 'HELLO', version: p[0] as number } };
    }
    case MSG.STATUS_REQUEST: {
      const e = exactly(0);
      return e ? badPayload(e) : { ok: true, msg: { type: 'STATUS_REQUEST' } };
    }
    case MSG.LED_SET: {
      const count = p[0];
      if (count === undefined || p.length !== count + 1)
        return badPayload(`payload is ${p.length} bytes for ${count ?? 'no'} LEDs`);
      if (count > MAX_LED_COUNT) return badPayload(`${count} LEDs, at most ${MAX_LED_COUNT}`);
      const leds: Led[] = [];
      for (const b of p.subarray(1)) {
        if (b > 0x07) return badPayload(`LED byte 0x${b.toString(16)} has unknown bits`);
        leds.push({ colour: LED_COLOURS[b & 0x03] as LedColour, blink: (b & 0x04) !== 0 });
      }
      return { ok: true, msg: { type: 'LED_SET', leds } };
    }
    case MSG.LCD_TEXT: {
      const row = p[0];
      if (row === undefined || row > 3) return badPayload(`row ${row ?? 'missing'} is not 0-3`);
      if (p.length - 1 > MAX_LCD_TEXT) return badPayload(`text longer than ${MAX_LCD_TEXT}`);
      return { ok: true, msg: { type: 'LCD_TEXT', row, text: fromAscii(p.subarray(1)) } };
    }
    case MSG.WATCHDOG: {
      const e = exactly(2);
      return e
        ? badPayload(e)
        : {
            ok: true,
            msg: { type: 'WATCHDOG', timeoutMs: ((p[0] as number) << 8) | (p[1] as number) },
          };
    }
    case MSG.BYPASS: {
      const e = exactly(1) ?? ((p[0] as number) > 1 ? `relay ${p[0]} is not 0 or 1` : undefined);
      return e
        ? badPayload(e)
        : { ok: true, msg: { type: 'BYPASS', relay: p[0] === 1 ? 'closed' : 'open' } };
    }
    case MSG.ACK: {
      const e = exactly(1);
      return e ? badPayload(e) : { ok: true, msg: { type: 'ACK', seq: p[0] as number } };
    }
    case MSG.NAK: {
      const reason = at(NAK_REASONS, (p[1] ?? 0) - 1);
      const e = exactly(2) ?? (reason ? undefined : `reason ${p[1]} is not known`);
      return e || !reason
        ? badPayload(e ?? 'no reason')
        : { ok: true, msg: { type: 'NAK', seq: p[0] as number, reason } };
    }
    case MSG.STATUS: {
      if (p.length < 9) return badPayload(`payload is ${p.length} bytes, at least 9`);
      const fwLen = p[8] as number;
      if (p.length !== 9 + fwLen)
        return badPayload(`firmware string of ${fwLen} bytes does not fit`);
      const watchdog = at(WATCHDOG_STATES, p[2]);
      if ((p[1] as number) > 1 || !watchdog) return badPayload('relay or watchdog state unknown');
      return {
        ok: true,
        msg: {
          type: 'STATUS',
          version: p[0] as number,
          relay: p[1] === 1 ? 'closed' : 'open',
          watchdog,
          watchdogMs: ((p[3] as number) << 8) | (p[4] as number),
          leds: p[5] as number,
          lcdRows: p[6] as number,
          lcdColumns: p[7] as number,
          firmware: fromAscii(p.subarray(9)),
        },
      };
    }
    case MSG.EVENT: {
      const e = exactly(3);
      if (e) return badPayload(e);
      const [code, a, b] = [p[0] as number, p[1] as number, p[2] as number];
      switch (at(EVENT_NAMES, code - 1)) {
        case 'WATCHDOG_EXPIRED':
          return { ok: true, msg: { type: 'EVENT', event: 'WATCHDOG_EXPIRED' } };
        case 'RELAY_CHANGED': {
          const cause = at(RELAY_CAUSES, b);
          if (a > 1 || !cause) return badPayload(`relay ${a} or cause ${b} unknown`);
          return {
            ok: true,
            msg: {
              type: 'EVENT',
              event: 'RELAY_CHANGED',
              relay: a === 1 ? 'closed' : 'open',
              cause,
            },
          };
        }
        case 'BUTTON':
          return { ok: true, msg: { type: 'EVENT', event: 'BUTTON', button: a } };
        case 'RESET': {
          const reason = at(RESET_REASONS, a);
          return reason
            ? { ok: true, msg: { type: 'EVENT', event: 'RESET', reason } }
            : badPayload(`reset reason ${a} unknown`);
        }
        default:
          return badPayload(`event code ${code} unknown`);
      }
    }
    default:
      return { ok: false, reason: 'UNKNOWN_TYPE', detail: `message type ${type} unknown` };
  }
}

/** Host messages (type below 0x80) are what an MCU reads; the rest are what the host reads. */
export function isHostMessage(type: number): boolean {
  return type < 0x80;
}
