// SPDX-License-Identifier: GPL-2.0-or-later
// Call-progress tones by zone, SIT, fax tones and answering-machine detection of the Dsp, on A-law line audio.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSwitchboardError } from '../src/core/errors.ts';
import { AMD_PARAMS, type AmdParamName, amdParamErrors } from '../src/media/amd.ts';
import {
  Dsp,
  type DspEvent,
  generateTone,
  nativeAmdParams,
  type ToneInfo,
  toneZones,
} from '../src/native/dsp.ts';
import {
  alaw,
  concat,
  dtmfDigit,
  samples,
  silence,
  type ToneSpec,
  tones,
} from './helpers/signal.ts';
import { speak, talkCorpus } from './helpers/speech.ts';

type ToneEvent = Extract<DspEvent, { event: 'tone' | 'toneEnd' }>;

function toneEvents(pcm: Int16Array, zone: string): ToneEvent[] {
  const dsp = new Dsp({ zone, dtmf: false });
  return dsp
    .process(pcm)
    .filter((e): e is ToneEvent => e.event === 'tone' || e.event === 'toneEnd');
}

/** Long enough to recognise the tone: its prefix, then four cycles, or ten seconds of a steady tone. */
function listenMs(tone: ToneInfo): number {
  const total = (segs: { ms: number }[]) => segs.reduce((n, s) => n + s.ms, 0);
  const prefix = tone.repeat ? tone.segments.slice(0, tone.firstRepeated) : tone.segments;
  const cycle = tone.repeat ? tone.segments.slice(tone.firstRepeated) : [];
  // A steady tone waits while a cadenced tone of the same frequency could still be it: Costa
  // Rica's call waiting tone holds 450 Hz for 8.3 s, its dial tone holds it for ever.
  return Math.min(180_000, total(prefix) + 4 * total(cycle) + 10_000);
}

const zones = toneZones();
const zone = (name: string) => {
  const z = zones.find((x) => x.name === name);
  assert.ok(z, `zone ${name}`);
  return z;
};

describe('tone zones', () => {
  test('every libtonezone zone and itu, with the tone strings parsed as DAHDI plays them', () => {
    for (const name of ['us', 'uk', 'cn', 'de', 'fr', 'nl', 'it', 'jp', 'itu'])
      assert.ok(
        zones.some((z) => z.name === name),
        name,
      );
    assert.ok(zones.length > 40);
    // us: "!950/330,!1400/330,!1800/330,0": once through, then silence for ever.
    const sit = zone('us').tones.find((t) => t.name === 'sit');
    assert.deepEqual(
      sit?.segments.map((s) => [s.f1, s.f2, s.ms]),
      [
        [950, 0, 330],
        [1400, 0, 330],
        [1800, 0, 330],
        [0, 0, 0],
      ],
    );
    assert.equal(sit?.repeat, false);
    // us dial: "350+440", steady, -13 dBm0 per frequency (libtonezone has no levels).
    assert.deepEqual(zone('us').tones.find((t) => t.name === 'dial')?.segments, [
      { f1: 350, f2: 440, level1: -13, level2: -13, ms: 0 },
    ]);
    // cn: China's 450 Hz set.
    assert.deepEqual(
      zone('cn')
        .tones.find((t) => t.name === 'busy')
        ?.segments.map((s) => [s.f1, s.ms]),
      [
        [450, 350],
        [0, 350],
      ],
    );
    // itu: E.180's recommendations.
    const itu = Object.fromEntries(
      zone('itu').tones.map((t) => [t.name, t.segments.map((s) => `${s.f1}/${s.ms}`).join(',')]),
    );
    assert.deepEqual(itu, {
      dial: '425/0',
      busy: '425/500,0/500',
      ringback: '425/1000,0/4000',
      congestion: '425/250,0/250',
      sit: '950/330,1400/330,1800/330,0/1000',
    });
    // "!425/100,...,425/330,0/330,425/660,0/660" (cz dial recall): a prefix, then a loop.
    const cz = zone('cz').tones.find((t) => t.name === 'dialrecall');
    assert.equal(cz?.repeat, true);
    assert.equal(cz?.firstRepeated, 6);
    // "400*25": amplitude modulation (India's dial tone).
    assert.deepEqual(zone('in').tones.find((t) => t.name === 'dial')?.segments[0], {
      f1: 400,
      f2: 25,
      level1: -13,
      level2: 0,
      ms: 0,
      am: true,
    });
  });

  for (const name of ['cn', 'us', 'uk', 'itu']) {
    test(`${name}: each tone, through A-law, is recognised by name and nothing else`, () => {
      for (const tone of zone(name).tones) {
        const events = toneEvents(alaw(generateTone(name, tone.name, listenMs(tone))), name);
        const heard = events.filter((e) => e.event === 'tone').map((e) => e.name);
        assert.deepEqual(heard, [tone.detectedAs], `${name} ${tone.name}`);
        assert.equal(events[0]?.start, 0, `${name} ${tone.name} begins at the start`);
      }
      // Only the tones DAHDI plays identically are reported under another name.
      const aliases = zone(name)
        .tones.filter((t) => t.detectedAs !== t.name)
        .map((t) => `${t.name}=${t.detectedAs}`);
      assert.deepEqual(
        aliases,
        { cn: ['dialrecall=dial'], us: [], uk: ['dialrecall=dial'], itu: [] }[name],
      );
    });
  }

  test('every other zone: each tone recognised as its detectedAs name and nothing else', (t) => {
    let count = 0;
    for (const z of zones) {
      if (['cn', 'us', 'uk', 'itu'].includes(z.name)) continue;
      for (const tone of z.tones) {
        const heard = toneEvents(generateTone(z.name, tone.name, listenMs(tone)), z.name)
          .filter((e) => e.event === 'tone')
          .map((e) => e.name);
        assert.deepEqual(heard, [tone.detectedAs], `${z.name} ${tone.name}`);
        count++;
      }
    }
    const aliased = zones.flatMap((z) =>
      z.tones
        .filter((x) => x.detectedAs !== x.name)
        .map((x) => `${z.name}:${x.name}=${x.detectedAs}`),
    );
    t.diagnostic(`${count} tones; reported under another name (same sound): ${aliased.join(' ')}`);
  });

  test('independently made tones (1 % off frequency, -20 dBm0) are recognised', () => {
    const seg = (hz: number[], ms: number): ToneSpec => ({
      freqs: hz.map((f) => ({ hz: f * 1.01, dbm0: -20 })),
      ms,
    });
    const cases: [string, string, ToneSpec[]][] = [
      ['cn', 'busy', [seg([450], 350), seg([], 350)]],
      ['us', 'busy', [seg([480, 620], 500), seg([], 500)]],
      ['uk', 'ringback', [seg([400, 450], 400), seg([], 200), seg([400, 450], 400), seg([], 2000)]],
      ['itu', 'congestion', [seg([425], 250), seg([], 250)]],
      ['cn', 'dial', [seg([450], 3000)]],
    ];
    for (const [z, name, cycle] of cases) {
      const signal = concat(silence(300), ...Array.from({ length: 4 }, () => tones(cycle)));
      const heard = toneEvents(alaw(signal), z).filter((e) => e.event === 'tone');
      assert.deepEqual(
        heard.map((e) => e.name),
        [name],
        `${z} ${name}`,
      );
      assert.ok(
        Math.abs((heard[0]?.start ?? 0) - samples(300)) <= samples(20),
        `${z} ${name} start`,
      );
    }
  });

  test('a tone ends: toneEnd says how long it was heard', () => {
    const busy = generateTone('us', 'busy', 4000); // 4 on/off cycles: the last burst ends at 3.5 s
    const events = toneEvents(alaw(concat(busy, silence(2000))), 'us');
    assert.deepEqual(
      events.map((e) => `${e.event}:${e.name}`),
      ['tone:busy', 'toneEnd:busy'],
    );
    const end = events[1] as Extract<ToneEvent, { event: 'toneEnd' }>;
    assert.equal(end.start, 0);
    assert.ok(Math.abs(end.ms - 3500) <= 20, `${end.ms} ms`);
  });

  test('SIT in its ITU and North American forms, in any zone', () => {
    const s = (hz: number, ms: number): ToneSpec => ({ freqs: [{ hz, dbm0: -20 }], ms });
    const gap = (ms: number): ToneSpec => ({ freqs: [], ms });
    const variants: ToneSpec[][] = [
      [s(950, 330), s(1400, 330), s(1800, 330)],
      [s(950, 330), gap(30), s(1400, 330), gap(30), s(1800, 330)],
      [s(913.8, 274), s(1370.6, 274), s(1776.7, 380)],
      [s(985.2, 380), s(1428.5, 380), s(1776.7, 380)],
      [s(985.2, 380), s(1370.6, 274), s(1776.7, 380)],
      [s(913.8, 274), s(1428.5, 380), s(1776.7, 380)],
    ];
    for (const z of ['cn', 'us', 'uk', 'itu', 'de'])
      for (const v of variants) {
        const events = toneEvents(alaw(concat(silence(500), tones(v), silence(2000))), z);
        assert.deepEqual(
          events.map((e) => `${e.event}:${e.name}`),
          ['tone:sit'],
          `${z}: ${v.map((x) => x.freqs[0]?.hz ?? 0).join('/')}`,
        );
        assert.equal(events[0]?.start, samples(500));
      }
  });

  test('speech and DTMF are no progress tone', (t) => {
    const corpus = talkCorpus();
    const digits: Float64Array[] = [];
    for (const d of '0123456789*#ABCD'.repeat(2)) digits.push(dtmfDigit(d, 100, -10), silence(100));
    const dtmf = alaw(
      concat(
        ...digits,
        dtmfDigit('5', 3000, -10),
        silence(200),
        dtmfDigit('0', 3000, -10),
        silence(200),
      ),
    );
    for (const z of ['cn', 'us', 'uk', 'itu']) {
      for (const { voice, pcm } of corpus) {
        const heard = toneEvents(alaw(pcm), z);
        assert.deepEqual(heard, [], `${z}, ${voice} speech`);
      }
      const dsp = new Dsp({ zone: z });
      const events = dsp.process(dtmf);
      assert.equal(
        events.filter((e) => e.event === 'dtmf').length,
        34,
        `${z}: the digits are heard`,
      );
      assert.deepEqual(
        events.filter((e) => e.event === 'tone'),
        [],
        `${z}: DTMF`,
      );
    }
    const minutes = corpus.reduce((n, c) => n + c.pcm.length, 0) / 8000 / 60;
    t.diagnostic(
      `no progress tone in ${minutes.toFixed(1)} min of speech in each of cn, us, uk, itu`,
    );
  });
});

describe('fax tones', () => {
  test('CNG (1100 Hz, 0.5 s every 3.5 s) and CED (2100 Hz) are recognised, and are no progress tone', () => {
    const cng = concat(
      silence(200),
      tones([{ freqs: [{ hz: 1100, dbm0: -12 }], ms: 500 }]),
      silence(3000),
      tones([{ freqs: [{ hz: 1100, dbm0: -12 }], ms: 500 }]),
      silence(1000),
    );
    const ced = concat(
      silence(200),
      tones([{ freqs: [{ hz: 2100, dbm0: -12 }], ms: 3300 }]),
      silence(1000),
    );
    for (const [name, signal, count] of [
      ['cng', cng, 2],
      ['ced', ced, 1],
    ] as const) {
      const dsp = new Dsp({ fax: true, zone: 'itu' });
      const events = dsp.process(alaw(signal));
      assert.deepEqual(
        events.map((e) => `${e.event}:${'name' in e ? e.name : ''}`),
        Array(count).fill(`fax:${name}`),
        name,
      );
      // Recognised within a second of the tone's start.
      const first = events[0] as DspEvent & { start: number };
      assert.ok(
        first.start > samples(200) && first.start < samples(1200),
        `${name} at ${first.start}`,
      );
    }
    // Without `fax`, nothing.
    assert.deepEqual(new Dsp().process(alaw(cng)), []);
  });
});

describe('answering-machine detection', () => {
  const amd = (signal: Float64Array | Int16Array, options: boolean | object = true) => {
    const dsp = new Dsp({ amd: options, dtmf: false });
    return dsp.process(alaw(signal)).filter((e) => e.event === 'amd');
  };

  test('a short "Hello?" then silence: human', () => {
    const hello = speak('Hello?');
    assert.deepEqual(
      amd(concat(silence(300), hello, silence(3000))).map((e) => `${e.result} ${e.cause}`),
      ['human HUMAN'],
    );
  });

  test('a long greeting: machine (LONGGREETING or MAXWORDS)', () => {
    const greeting = speak(
      'Hello, you have reached the Smith family. We cannot take your call right now, please leave a message after the tone.',
    );
    const verdicts = amd(concat(silence(300), greeting, silence(3000)));
    assert.equal(verdicts.length, 1);
    assert.equal(verdicts[0]?.result, 'machine');
    assert.ok(['LONGGREETING', 'MAXWORDS'].includes(verdicts[0]?.cause ?? ''), verdicts[0]?.cause);
  });

  test('silence only: machine (INITIALSILENCE) when initialSilence runs out', () => {
    const verdicts = amd(silence(6000));
    assert.deepEqual(
      verdicts.map((e) => `${e.result} ${e.cause} ${e.start}`),
      [`machine INITIALSILENCE ${samples(2500)}`],
    );
    // A longer initialSilence than totalAnalysisTime: not sure.
    assert.deepEqual(
      amd(silence(6000), { initialSilence: 4000, totalAnalysisTime: 3000 }).map(
        (e) => `${e.result} ${e.cause}`,
      ),
      ['notsure TOOLONG'],
    );
  });

  test('one verdict, and one more after restartAmd', () => {
    const dsp = new Dsp({ amd: true, dtmf: false });
    assert.equal(dsp.process(alaw(silence(8000))).filter((e) => e.event === 'amd').length, 1);
    dsp.restartAmd({ initialSilence: 1000 });
    const again = dsp.process(alaw(silence(3000))).filter((e) => e.event === 'amd');
    assert.deepEqual(
      again.map((e) => `${e.result} ${e.cause} ${e.start}`),
      [`machine INITIALSILENCE ${samples(8000 + 1000)}`],
    );
  });

  test('parameters out of range are refused, naming the field', () => {
    for (const [name, spec] of Object.entries(AMD_PARAMS)) {
      for (const value of [spec.min - 1, spec.max + 1]) {
        assert.throws(
          () => new Dsp({ amd: { [name]: value } }),
          (err) =>
            isSwitchboardError(err, 'E_COMMAND_FIELD') &&
            (err.details as { field: string }).field === `amd.${name}` &&
            err.message === `amd.${name}: ${value} is out of range ${spec.min}..${spec.max}`,
        );
        assert.equal(amdParamErrors({ [name]: value })[0]?.path, `amd.${name}`);
      }
      new Dsp({ amd: { [name]: spec.min } });
      new Dsp({ amd: { [name]: spec.max } });
      assert.deepEqual(amdParamErrors({ [name]: spec.default }), []);
    }
    assert.deepEqual(
      amdParamErrors({ greeting: 20, loud: 1, words: 'x' }).map((e) => e.path),
      ['amd.greeting', 'amd.loud', 'amd.words'],
    );
    assert.throws(
      () => new Dsp({ amd: { greeting: 1.5 } }),
      (err) =>
        isSwitchboardError(err, 'E_COMMAND_FIELD') &&
        err.message === 'amd.greeting: must be an integer',
    );
    assert.throws(
      () => new Dsp().restartAmd({ betweenWordsSilence: 0 }),
      (err) =>
        isSwitchboardError(err) &&
        (err.details as { field: string }).field === 'amd.betweenWordsSilence',
    );
  });

  test('src/media/amd.ts is the native table', () => {
    const native = nativeAmdParams();
    assert.deepEqual(
      native.map((p) => p.name),
      Object.keys(AMD_PARAMS),
    );
    for (const p of native) {
      const { name, ...spec } = p;
      assert.deepEqual(spec, AMD_PARAMS[name as AmdParamName], name);
    }
  });
});
