// SPDX-License-Identifier: GPL-2.0-or-later
// The board protocol: golden frames, every message both ways, and a decoder that survives garbage, cuts and CRC errors.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alarmSummary, lcdLines, panelLeds, spanLed } from '../src/board/panel.ts';
import {
  crc16,
  type Decoded,
  decodeMessage,
  encode,
  encodeFrame,
  encodeMessage,
  FLAG,
  type Frame,
  FrameDecoder,
  MAX_PAYLOAD,
  type Message,
  MSG,
  msgName,
} from '../src/board/protocol.ts';
import { isSwitchboardError } from '../src/core/errors.ts';
import type { DahdiAlarm, DahdiSpan } from '../src/native/addon.ts';
import { prng } from './helpers/signal.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Every message of the protocol, host to MCU then MCU to host. */
const MESSAGES: Message[] = [
  { type: 'HELLO', version: 1 },
  { type: 'STATUS_REQUEST' },
  {
    type: 'LED_SET',
    leds: [
      { colour: 'green', blink: false },
      { colour: 'red', blink: false },
      { colour: 'yellow', blink: true },
      { colour: 'off', blink: false },
    ],
  },
  { type: 'LCD_TEXT', row: 1, text: 'ALM 1R 5R' },
  { type: 'WATCHDOG', timeoutMs: 15000 },
  { type: 'WATCHDOG', timeoutMs: 0 },
  { type: 'BYPASS', relay: 'closed' },
  { type: 'BYPASS', relay: 'open' },
  { type: 'ACK', seq: 0x7e },
  { type: 'NAK', seq: 3, reason: 'BAD_PAYLOAD' },
  {
    type: 'STATUS',
    version: 1,
    firmware: 'fp-mcu 2.1.0',
    relay: 'open',
    watchdog: 'armed',
    watchdogMs: 15000,
    leds: 6,
    lcdRows: 2,
    lcdColumns: 16,
  },
  { type: 'EVENT', event: 'WATCHDOG_EXPIRED' },
  { type: 'EVENT', event: 'RELAY_CHANGED', relay: 'closed', cause: 'watchdog' },
  { type: 'EVENT', event: 'BUTTON', button: 2 },
  { type: 'EVENT', event: 'RESET', reason: 'brown-out' },
];

function frames(out: Decoded[]): Frame[] {
  return out.flatMap((d) => (d.kind === 'frame' ? [d.frame] : []));
}
function errors(out: Decoded[]): string[] {
  return out.flatMap((d) => (d.kind === 'error' ? [`${d.error}:${d.bytes}`] : []));
}

describe('board protocol framing', () => {
  it('computes CRC-16/CCITT-FALSE (check value 0x29B1)', () => {
    assert.equal(crc16(Buffer.from('123456789')), 0x29b1);
    assert.equal(crc16(new Uint8Array(0)), 0xffff);
  });

  it('writes the golden frames of the protocol document', () => {
    // docs/board-protocol.md: HELLO version 1, seq 0; BYPASS closed, seq 5.
    assert.equal(hex(encode({ type: 'HELLO', version: 1 }, 0)), '7e01000101d1647e');
    assert.equal(hex(encode({ type: 'BYPASS', relay: 'closed' }, 5)), '7e010513015f857e');
    // An ACK of seq 0x7e escapes the flag inside the frame: 7e -> 7d 5e.
    const ack = encode({ type: 'ACK', seq: 0x7e }, 0x7d);
    assert.equal(hex(ack.subarray(0, 6)), '7e017d5d807d');
    assert.equal(ack.indexOf(FLAG, 1), ack.length - 1, 'no flag inside the frame');
  });

  it('carries every message there and back, byte by byte too', () => {
    const wire = Buffer.concat(MESSAGES.map((m, i) => encode(m, (i * 37) & 0xff)));
    for (const chunk of [wire.length, 1, 3]) {
      const d = new FrameDecoder();
      const out: Decoded[] = [];
      for (let i = 0; i < wire.length; i += chunk) out.push(...d.push(wire.subarray(i, i + chunk)));
      assert.deepEqual(errors(out), []);
      const got = frames(out);
      assert.deepEqual(
        got.map((f) => f.seq),
        MESSAGES.map((_m, i) => (i * 37) & 0xff),
      );
      assert.deepEqual(
        got.map((f) => decodeMessage(f)),
        MESSAGES.map((msg) => ({ ok: true, msg })),
      );
    }
  });

  it('stuffs flags and escapes inside any payload', () => {
    const payload = Uint8Array.from({ length: MAX_PAYLOAD }, (_x, i) => (i % 2 ? 0x7e : 0x7d));
    const wire = encodeFrame({ seq: 0x7e, type: 0x7d, payload });
    assert.equal(wire.indexOf(FLAG, 1), wire.length - 1);
    const [f] = frames(new FrameDecoder().push(wire));
    assert.deepEqual(
      [f?.seq, f?.type, hex(f?.payload ?? new Uint8Array())],
      [0x7e, 0x7d, hex(payload)],
    );
  });

  it('drops noise, truncated frames, CRC errors, bad escapes and overflows, then reads the next frame', () => {
    const good = encode({ type: 'BYPASS', relay: 'open' }, 9);
    const d = new FrameDecoder();
    // Noise before the first flag.
    let out = d.push(Buffer.concat([Buffer.from('noise'), good]));
    assert.deepEqual(errors(out), ['noise:5']);
    assert.equal(frames(out).length, 1);
    // A frame cut short by the next frame's flag.
    out = d.push(Buffer.concat([good.subarray(0, 6), good]));
    assert.deepEqual(errors(out), ['length:5']);
    assert.equal(frames(out).length, 1);
    // A frame of two bytes.
    out = d.push(Buffer.concat([Buffer.from([FLAG, 1, 2]), good]));
    assert.deepEqual(errors(out), ['short:2']);
    // One bit flipped in the payload: CRC error.
    const flipped = Buffer.from(good);
    flipped[4] = (flipped[4] as number) ^ 0x01;
    out = d.push(Buffer.concat([flipped, good]));
    assert.deepEqual(errors(out), ['crc:6']);
    assert.equal(frames(out).length, 1);
    // An escape of a byte that needs none, and an escape right before a flag.
    out = d.push(Buffer.concat([Buffer.from([FLAG, 1, 0x7d, 0x41, 2, 3]), good]));
    assert.deepEqual(errors(out), ['escape:5']);
    out = d.push(Buffer.concat([Buffer.from([FLAG, 1, 0x7d]), good]));
    assert.deepEqual(errors(out), ['escape:2']);
    assert.equal(frames(out).length, 1);
    // More bytes than any frame before a flag.
    out = d.push(Buffer.concat([Buffer.from([FLAG]), Buffer.alloc(400, 0x55), good]));
    assert.deepEqual(errors(out), ['overflow:400']);
    assert.equal(frames(out).length, 1);
    // A partial frame on an idle line is reported by flush, and the next frame still reads.
    assert.deepEqual(d.push(good.subarray(0, 4)), []);
    assert.equal(d.pending, 3);
    assert.deepEqual(errors(d.flush()), ['truncated:3']);
    assert.equal(frames(d.push(good)).length, 1);
    assert.equal(d.pending, 0);
  });

  it('never throws on random bytes, and finds every frame sent among them (seeded fuzz)', () => {
    const rnd = prng(8);
    const d = new FrameDecoder();
    const sent: number[] = [];
    const got: number[] = [];
    let errorsSeen = 0;
    for (let round = 0; round < 3000; round++) {
      const noise = Buffer.from(
        Array.from({ length: Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)),
      );
      const msg = MESSAGES[round % MESSAGES.length] as Message;
      const seq = round & 0xff;
      // A random cut somewhere: the frame is then noise too.
      const frame = encode(msg, seq);
      const cut = rnd() < 0.2;
      const wire = cut ? frame.subarray(0, Math.floor(rnd() * frame.length)) : frame;
      if (!cut) sent.push(seq);
      let i = 0;
      const all = Buffer.concat([noise, wire]);
      while (i < all.length) {
        const n = 1 + Math.floor(rnd() * 16);
        for (const r of d.push(all.subarray(i, i + n))) {
          if (r.kind === 'error') errorsSeen += 1;
          else {
            // A random frame that passes the CRC is possible; decoding it must not throw either.
            decodeMessage(r.frame);
            got.push(r.frame.seq);
          }
        }
        i += n;
      }
    }
    d.flush();
    // Every frame sent whole is found, in order (a chance frame in the noise may sit between).
    let j = 0;
    for (const seq of got) if (seq === sent[j]) j += 1;
    assert.equal(j, sent.length);
    assert.ok(errorsSeen > 1000, `errors: ${errorsSeen}`);
  });

  it('reads random payloads of every type without throwing, refusing what is not a message', () => {
    const rnd = prng(3);
    let refused = 0;
    for (let i = 0; i < 20000; i++) {
      const type = i % 2 ? Math.floor(rnd() * 256) : (Object.values(MSG)[i % 10] as number);
      const payload = Uint8Array.from({ length: Math.floor(rnd() * 12) }, () =>
        Math.floor(rnd() * 256),
      );
      const r = decodeMessage({ seq: 0, type, payload });
      if (!r.ok) refused += 1;
    }
    assert.ok(refused > 10000);
    assert.deepEqual(decodeMessage({ seq: 1, type: 0x55, payload: new Uint8Array() }), {
      ok: false,
      reason: 'UNKNOWN_TYPE',
      detail: 'message type 0x55 unknown',
    });
    assert.deepEqual(decodeMessage({ seq: 1, type: MSG.BYPASS, payload: Uint8Array.of(2) }), {
      ok: false,
      reason: 'BAD_PAYLOAD',
      detail: 'BYPASS: relay 2 is not 0 or 1',
    });
    assert.deepEqual(decodeMessage({ seq: 1, type: MSG.LED_SET, payload: Uint8Array.of(2, 1) }), {
      ok: false,
      reason: 'BAD_PAYLOAD',
      detail: 'LED_SET: payload is 2 bytes for 2 LEDs',
    });
    assert.equal(msgName(MSG.WATCHDOG), 'WATCHDOG');
  });

  it('refuses to encode fields out of range, naming them', () => {
    for (const [msg, words] of [
      [{ type: 'WATCHDOG', timeoutMs: 70000 }, /watchdog timeout ms 70000 is not 0-65535/],
      [{ type: 'LCD_TEXT', row: 4, text: 'x' }, /LCD row 4 is not 0-3/],
      [
        {
          type: 'LED_SET',
          leds: Array.from({ length: 65 }, () => ({ colour: 'off', blink: false })),
        },
        /LED count 65 is not 0-64/,
      ],
    ] as [Message, RegExp][])
      assert.throws(
        () => encodeMessage(msg),
        (err) => isSwitchboardError(err, 'E_BOARD_FRAME') && words.test(err.message),
      );
    assert.throws(() => encodeFrame({ seq: 256, type: 1, payload: new Uint8Array() }), /seq 256/);
    // LCD text is cut to 40 characters and anything but printable ASCII becomes '?'.
    const lcd = encodeMessage({ type: 'LCD_TEXT', row: 0, text: `Zürich ${'x'.repeat(50)}` });
    assert.equal(lcd.payload.length, 41);
    assert.equal(Buffer.from(lcd.payload.subarray(1, 8)).toString(), 'Z?rich ');
  });
});

function span(n: number, alarms: DahdiAlarm[], numchans = 31): DahdiSpan {
  return {
    span: n,
    name: `SIM/E1/${n}`,
    desc: '',
    alarms,
    type: 'E1',
    spantype: 'E1',
    totalchans: 31,
    numchans,
    lineconfig: { framing: 'ccs', coding: 'hdb3', crc4: true },
    counters: { bpv: 0, crc4: 0, ebit: 0, fas: 0, fe: 0, cv: 0, be: 0, errsec: 0 },
    syncsrc: 0,
  };
}

describe('the front panel', () => {
  it('maps each alarm to its LED', () => {
    const led = (alarms: DahdiAlarm[], numchans = 31) => {
      const l = spanLed(span(1, alarms, numchans));
      return l.colour === 'off' ? 'off' : `${l.colour}${l.blink ? '-blink' : ''}`;
    };
    assert.deepEqual(
      [
        led([]),
        led(['RED', 'LOS']),
        led(['LFA']),
        led(['LMFA']),
        led(['YELLOW']),
        led(['BLUE']),
        led(['LOOPBACK']),
        led(['RECOVER']),
        led(['NOTOPEN']),
        led([], 0),
        led(['RED', 'YELLOW']),
      ],
      [
        'green',
        'red',
        'red',
        'red',
        'yellow',
        'yellow-blink',
        'yellow-blink',
        'green-blink',
        'off',
        'off',
        'red',
      ],
    );
    assert.equal(spanLed(undefined).colour, 'off');
    // LED N shows span N; missing spans are off; no span list at all blinks every LED red.
    assert.deepEqual(
      panelLeds(4, [span(2, ['RED']), span(1, [])]).map((l) => l.colour),
      ['green', 'red', 'off', 'off'],
    );
    assert.ok(panelLeds(3, undefined).every((l) => l.colour === 'red' && l.blink));
  });

  it('summarises the alarms in one LCD line, cut to fit', () => {
    const spans = [span(1, []), span(5, ['RED', 'LOS']), span(3, ['YELLOW']), span(6, [], 0)];
    assert.equal(alarmSummary(spans, 16), 'ALM 3Y 5R       ');
    assert.equal(alarmSummary([span(1, []), span(2, [])], 16), '2 SPANS OK      ');
    assert.equal(alarmSummary(undefined, 16), 'DAHDI DOWN      ');
    const many = Array.from({ length: 12 }, (_x, i) => span(i + 1, ['RED']));
    assert.equal(alarmSummary(many, 16), 'ALM 1R 2R 3R +  ');
    assert.equal(alarmSummary(many, 20).length, 20);
    assert.deepEqual(
      lcdLines({ rows: 2, columns: 16, address: '192.168.100.200', spans, model: 'x' }),
      ['192.168.100.200 ', 'ALM 3Y 5R       '],
    );
    assert.deepEqual(
      lcdLines({ rows: 3, columns: 20, address: undefined, spans: [], model: 'Switchboard 4E1' }),
      ['NO NETWORK          ', 'NO SPANS            ', 'Switchboard 4E1     '],
    );
  });
});
