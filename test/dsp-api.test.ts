// SPDX-License-Identifier: GPL-2.0-or-later
// The DSP's JavaScript surface: option and argument errors name their field, block sizes do not matter, reference loops.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSwitchboardError } from '../src/core/errors.ts';
import {
  Dsp,
  type DspOptions,
  dspReference,
  generateDtmf,
  generateTone,
  toneZones,
} from '../src/native/dsp.ts';
import { alaw, concat, dtmfDigit, silence, tones } from './helpers/signal.ts';

/** Asserts that `call` throws E_COMMAND_FIELD naming `field`, with `message` when given. */
function refuses(call: () => unknown, field: string, message?: RegExp | string): void {
  assert.throws(call, (err) => {
    assert.ok(isSwitchboardError(err, 'E_COMMAND_FIELD'), String(err));
    assert.equal((err.details as { field?: string }).field, field);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return true;
  });
}

describe('Dsp options', () => {
  test('wrong types, values and names are refused, naming the field', () => {
    const bad = (options: unknown) => () => new Dsp(options as DspOptions);
    refuses(
      bad({ zone: 'xx' }),
      'zone',
      /^zone: "xx" is not a tone zone \(known: us, au, .*, itu\)$/,
    );
    refuses(bad({ zone: 5 }), 'zone', 'zone: must be a string');
    refuses(bad({ dtmf: 'yes' }), 'dtmf', 'dtmf: must be true or false');
    refuses(bad({ fax: 1 }), 'fax', 'fax: must be true or false');
    refuses(bad({ amd: 'on' }), 'amd', /^amd: must be true, false or an object/);
    refuses(
      bad({ amd: { greeting: 20 } }),
      'amd.greeting',
      'amd.greeting: 20 is out of range 500..10000',
    );
    refuses(bad({ amd: { greeting: '2000' } }), 'amd.greeting', 'amd.greeting: must be an integer');
    refuses(
      bad({ amd: { loudness: 3 } }),
      'amd.loudness',
      /is not an AMD parameter \(known: initialSilence, /,
    );
    refuses(
      bad({ tones: true }),
      'tones',
      'tones: is not a Dsp option (known: dtmf, zone, fax, amd)',
    );
    refuses(bad(5), 'options', 'options: must be an object');
    refuses(bad([]), 'options', 'options: must be an object');
    // The defaults and every flag are accepted.
    new Dsp();
    new Dsp({});
    new Dsp({ dtmf: false, zone: 'itu', fax: true, amd: false });
  });

  test('process() takes only an Int16Array', () => {
    const dsp = new Dsp({ zone: 'us', fax: true, amd: true });
    for (const wrong of [
      new Float32Array(160),
      new Uint8Array(160),
      [0, 1, 2],
      undefined,
      'abc',
      {},
      null,
    ]) {
      refuses(
        () => dsp.process(wrong as unknown as Int16Array),
        'samples',
        /^samples: must be an Int16Array/,
      );
    }
    assert.deepEqual(dsp.process(new Int16Array(0)), []);
    assert.equal(dsp.position, 0);
  });

  test('the events do not depend on how the samples are cut into calls', () => {
    const signal = alaw(
      concat(
        silence(300),
        dtmfDigit('1', 80, -10),
        silence(60),
        dtmfDigit('#', 120, -12),
        silence(400),
        tones([{ freqs: [{ hz: 1100, dbm0: -12 }], ms: 600 }]),
        silence(300),
      ),
    );
    const busy = alaw(generateTone('us', 'busy', 3000));
    const all = new Int16Array(signal.length + busy.length);
    all.set(signal);
    all.set(busy, signal.length);
    const run = (chunk: number) => {
      const dsp = new Dsp({ zone: 'us', fax: true, amd: true });
      const events = [];
      for (let i = 0; i < all.length; i += chunk)
        events.push(...dsp.process(all.subarray(i, i + chunk)));
      assert.equal(dsp.position, all.length);
      return events;
    };
    const whole = run(all.length);
    assert.deepEqual(
      whole.map((e) => e.event),
      ['dtmfStart', 'dtmf', 'dtmfStart', 'dtmf', 'fax', 'amd', 'tone'],
    );
    for (const chunk of [1, 7, 160, 1000])
      assert.deepEqual(run(chunk), whole, `in calls of ${chunk}`);
  });

  test('cpuNs grows with the work done', () => {
    const dsp = new Dsp({ zone: 'us' });
    assert.equal(dsp.cpuNs, 0);
    dsp.process(new Int16Array(8000));
    const one = dsp.cpuNs;
    assert.ok(one > 0);
    dsp.process(new Int16Array(80000));
    assert.ok(dsp.cpuNs > one);
  });
});

describe('generators', () => {
  test('generateTone: zone, tone and ms are checked', () => {
    refuses(() => generateTone('xx', 'busy', 100), 'zone', /^zone: "xx" is not a tone zone/);
    refuses(
      () => generateTone('us', 'howler', 100),
      'tone',
      'tone: "howler" is not a tone of zone us (known: dial, busy, ringback, congestion, callwaiting, dialrecall, record, sit, stutter)',
    );
    refuses(
      () => generateTone('itu', 'stutter', 100),
      'tone',
      /is not a tone of zone itu \(known: dial, busy, ringback, congestion, sit\)/,
    );
    for (const ms of [0, -5, 1.5, 600001, Number.NaN])
      refuses(() => generateTone('us', 'busy', ms), 'ms');
    refuses(
      () => generateTone('us', 'busy', '100' as unknown as number),
      'ms',
      'ms: must be an integer',
    );
  });

  test('generateTone: as long as asked, silent where the tone stops', () => {
    const sit = generateTone('us', 'sit', 2000);
    assert.equal(sit.length, 16000);
    // "!950/330,!1400/330,!1800/330,0": 990 ms of tone then silence.
    assert.ok(sit.subarray(0, 7920).some((s) => s !== 0));
    assert.ok(sit.subarray(7920).every((s) => s === 0));
    for (const z of toneZones())
      for (const t of z.tones)
        assert.equal(generateTone(z.name, t.name, 50).length, 400, `${z.name} ${t.name}`);
  });

  test('generateDtmf: digits, timing and level are checked', () => {
    refuses(
      () => generateDtmf('12x', 100, 100),
      'digits',
      "digits: 'x' is not a DTMF digit (0-9 * # A-D)",
    );
    refuses(() => generateDtmf('', 100, 100), 'digits', 'digits: must not be empty');
    refuses(
      () => generateDtmf(5 as unknown as string, 100, 100),
      'digits',
      'digits: must be a string',
    );
    refuses(() => generateDtmf('1', 39, 100), 'onMs', 'onMs: 39 is out of range 40..10000');
    refuses(() => generateDtmf('1', 100, 20), 'offMs', 'offMs: 20 is out of range 40..10000');
    refuses(() => generateDtmf('1', 100, 100, -3), 'level', 'level: -3 is out of range -50..-4');
    // Longer than spandsp's queue of 128 digits.
    const digits = '0123456789'.repeat(20);
    const pcm = generateDtmf(digits, 40, 40);
    assert.equal(pcm.length, digits.length * 640);
    const heard = new Dsp().process(pcm).filter((e) => e.event === 'dtmf');
    assert.equal(heard.map((e) => ('digit' in e ? e.digit : '')).join(''), digits);
  });
});

describe('reference loops for the media benchmark', () => {
  test('dspReference.dtmf and dspReference.mix', () => {
    const pcm = generateDtmf('147*', 80, 80);
    const ref = dspReference.dtmf(pcm);
    assert.equal(ref.digits, '147*');
    assert.ok(ref.cpuNs > 0);
    refuses(() => dspReference.dtmf([1, 2] as unknown as Int16Array), 'samples');
    const small = dspReference.mix(4, 100);
    const big = dspReference.mix(64, 1000);
    assert.ok(small.cpuNs > 0 && big.cpuNs > small.cpuNs);
    refuses(() => dspReference.mix(0, 10), 'parties', 'parties: 0 is out of range 1..1024');
    refuses(() => dspReference.mix(2, 0), 'blocks', 'blocks: 0 is out of range 1..10000000');
  });
});
