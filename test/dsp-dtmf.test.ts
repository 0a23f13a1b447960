// SPDX-License-Identifier: GPL-2.0-or-later
// DTMF conformance of the Dsp, after spandsp's dtmf_rx tests (Mitel CM7291 side 1, Bellcore talk-off), on line audio.
//
// Every signal is made here (test/helpers/signal.ts), never by our own generator, and passes
// through a G.711 A-law round trip as it would over an E1. Levels are per frequency, in dBm0.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Dsp, type DspEvent, dspReference, generateDtmf } from '../src/native/dsp.ts';
import {
  alaw,
  concat,
  dtmfDigit,
  mix,
  powerDbm0,
  samples,
  silence,
  tones,
  whiteNoise,
} from './helpers/signal.ts';
import { talkCorpus } from './helpers/speech.ts';

const ALL = '123A456B789C*0#D';

type DtmfEvent = Extract<DspEvent, { event: 'dtmf' }>;

function digitsHeard(signal: Float64Array, zone?: string): DtmfEvent[] {
  const dsp = new Dsp(zone ? { zone } : {});
  return dsp.process(alaw(signal)).filter((e): e is DtmfEvent => e.event === 'dtmf');
}

/** Each digit `onMs` long at the given levels, `offMs` of silence after it. */
function digitString(digits: string, onMs: number, offMs: number, low: number, high = low) {
  const parts: Float64Array[] = [silence(100)];
  for (const d of digits) parts.push(dtmfDigit(d, onMs, low, high), silence(offMs));
  return concat(...parts);
}

describe('DTMF detection (spandsp dtmf_rx)', () => {
  test('every digit at every level from -3 to -36 dBm0 (3 dB steps), exactly once', () => {
    for (let level = -3; level >= -36; level -= 3) {
      const heard = digitsHeard(digitString(ALL, 100, 100, level));
      assert.equal(heard.map((e) => e.digit).join(''), ALL, `at ${level} dBm0`);
    }
  });

  test('twist: the high group up to 4 dB over the low, the low up to 8 dB over the high', (t) => {
    // Mitel's method, with 50 ms digits: the weaker group is lowered in 0.1 dB steps from equal
    // levels; the acceptable ratio is the number of steps at which every digit is still heard,
    // over ten. spandsp documents "reverse twist <= 4 dB, normal twist <= 8 dB" but compares
    // energies strictly at exactly those ratios: with its defaults all 16 digits were heard only
    // to 3.7 and 7.6 dB. The Dsp sets 5 and 9 dB (native/src/dsp.cc), so the bounds hold.
    const ratio = (kind: 'reverse' | 'normal') => {
      let steps = 0;
      for (let tenth = 0; tenth <= 100; tenth++) {
        const twist = tenth / 10;
        const low = kind === 'normal' ? -10 : -10 - twist;
        const high = kind === 'normal' ? -10 - twist : -10;
        const heard = digitsHeard(digitString(ALL, 50, 50, low, high));
        if (heard.map((e) => e.digit).join('') !== ALL) break;
        steps++;
      }
      return steps / 10;
    };
    const reverse = ratio('reverse');
    const normal = ratio('normal');
    t.diagnostic(`acceptable twist: reverse ${reverse} dB, normal ${normal} dB`);
    assert.ok(reverse >= 4 && reverse <= 5, `reverse twist accepted to ${reverse} dB`);
    assert.ok(normal >= 8 && normal <= 9, `normal twist accepted to ${normal} dB`);
    // Well beyond, nothing at all (measured: none from 5.5 and 9.75 dB).
    for (const twist of [6, 8])
      assert.equal(
        digitsHeard(digitString(ALL, 100, 100, -10 - twist, -10)).length,
        0,
        `reverse ${twist} dB`,
      );
    for (const twist of [10, 12])
      assert.equal(
        digitsHeard(digitString(ALL, 100, 100, -10, -10 - twist)).length,
        0,
        `normal ${twist} dB`,
      );
  });

  test('40 ms digits with 40 ms gaps: a long string heard in order, none lost or doubled', () => {
    const digits = ALL.repeat(8);
    const heard = digitsHeard(digitString(digits, 40, 40, -10));
    assert.equal(heard.length, digits.length);
    assert.equal(heard.map((e) => e.digit).join(''), digits);
  });

  test('20 ms digits are rejected', () => {
    assert.equal(digitsHeard(digitString(ALL.repeat(4), 20, 40, -10)).length, 0);
  });

  test('15 dB signal-to-noise ratio (white noise over the band)', () => {
    // Signal: the digit's total power (both frequencies at -10 dBm0: -7 dBm0); noise 15 dB under.
    const digitPower = powerDbm0(dtmfDigit('5', 100, -10));
    for (let seed = 1; seed <= 5; seed++) {
      const clean = digitString(ALL, 100, 100, -10);
      const noise = whiteNoise((clean.length * 1000) / 8000, digitPower - 15, seed);
      const heard = digitsHeard(mix(clean, noise));
      assert.equal(heard.map((e) => e.digit).join(''), ALL, `noise seed ${seed}`);
    }
  });

  test('start, duration and level of a 100 ms digit, at every alignment to the 20 ms blocks', () => {
    // spandsp decides per block of 102 samples; the digit is moved across two of them.
    // Tolerances: start within 8 ms (measured: 7), duration within 13 ms (one spandsp block),
    // level within 2 dB of the digit's power (spandsp measures one block).
    const digit = dtmfDigit('7', 100, -10, -8);
    const power = powerDbm0(digit);
    for (let offset = 0; offset < 204; offset += 3) {
      const signal = concat(new Float64Array(samples(100) + offset), digit, silence(300));
      const dsp = new Dsp();
      const events = dsp.process(alaw(signal));
      assert.deepEqual(
        events.map((e) => e.event),
        ['dtmfStart', 'dtmf'],
        `offset ${offset}`,
      );
      const [begin, end] = events as [DspEvent & { start: number }, DtmfEvent];
      const trueStart = samples(100) + offset;
      assert.equal(begin.start, end.start);
      assert.ok(
        Math.abs(end.start - trueStart) <= samples(8),
        `start ${end.start} for ${trueStart}`,
      );
      assert.ok(Math.abs(end.ms - 100) <= 13, `${end.ms} ms at offset ${offset}`);
      assert.ok(
        Math.abs(end.level - power) <= 2,
        `level ${end.level} for ${power.toFixed(1)} dBm0`,
      );
    }
  });

  test("dial tone filter: digits over the zone's own 350+440 Hz dial tone", () => {
    // The dial tone 6 dB over each digit frequency; without the filter spandsp loses digits.
    const digitsPart = digitString(ALL, 100, 100, -20);
    const dial = tones([
      {
        freqs: [
          { hz: 350, dbm0: -14 },
          { hz: 440, dbm0: -14 },
        ],
        ms: (digitsPart.length * 1000) / 8000,
      },
    ]);
    const signal = mix(digitsPart, dial);
    assert.equal(
      digitsHeard(signal, 'us')
        .map((e) => e.digit)
        .join(''),
      ALL,
    );
    assert.notEqual(
      digitsHeard(signal)
        .map((e) => e.digit)
        .join(''),
      ALL,
    );
  });

  test('our generator (generateDtmf) is heard by spandsp and by the bare reference', () => {
    const digits = '0123456789*#ABCD';
    const pcm = generateDtmf(digits, 60, 60, -20);
    assert.equal(pcm.length, samples(digits.length * 120));
    const dsp = new Dsp();
    const heard = dsp.process(pcm).filter((e) => e.event === 'dtmf');
    assert.equal(heard.map((e) => (e as DtmfEvent).digit).join(''), digits);
    const ref = dspReference.dtmf(pcm);
    assert.equal(ref.digits, digits);
    assert.ok(ref.cpuNs > 0 && dsp.cpuNs > 0);
  });

  test('talk-off: ten minutes and more of speech in five voices', (t) => {
    // Bellcore TR-TSY-000763: a good receiver registers at most 470 false digits over its six
    // talk-off tapes, about three hours of telephone speech (spandsp's dtmf_rx_tests use that
    // bound). We hold the detector to that rate for the minutes heard here. espeak-ng's speech
    // is cleaner than the tapes' real calls, so the count below is expected to be near zero.
    let minutes = 0;
    const falses: string[] = [];
    for (const { voice, pcm } of talkCorpus()) {
      minutes += pcm.length / 8000 / 60;
      const dsp = new Dsp();
      const heard = dsp
        .process(alaw(pcm))
        .filter((e) => e.event === 'dtmf' || e.event === 'dtmfStart');
      for (const e of heard)
        if (e.event === 'dtmf') falses.push(`${voice}:${e.digit}@${(e.start / 8000).toFixed(1)}s`);
      t.diagnostic(
        `${voice}: ${(pcm.length / 8000 / 60).toFixed(1)} min, ${heard.filter((e) => e.event === 'dtmf').length} false digits`,
      );
    }
    const bound = Math.floor((470 * minutes) / 180);
    t.diagnostic(
      `talk-off: ${falses.length} false digits in ${minutes.toFixed(1)} min (bound ${bound})`,
    );
    assert.ok(minutes >= 10, `${minutes.toFixed(1)} minutes of speech`);
    assert.ok(
      falses.length <= bound,
      `talk-off: ${falses.length} false digits in ${minutes.toFixed(1)} min, over the Bellcore rate (${bound}): ${falses.join(' ')}`,
    );
  });
});
