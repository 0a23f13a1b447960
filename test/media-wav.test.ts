// SPDX-License-Identifier: GPL-2.0-or-later
// WAV headers: inspectWav reads real and hand-built files; checkPlayable names the file and field at fault.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkPlayable, inspectWav } from '../src/media/wav.ts';
import { refused } from './helpers/refused.ts';
import { fmtBody, riff, tone } from './helpers/wav.ts';

let dir: string;
const at = (name: string) => join(dir, name);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-wav-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Asserts that `p` rejects with this code and details.field, and returns the error. */

describe('inspectWav', () => {
  it('reads what sox writes for A-law, µ-law and PCM16 at 8 kHz', async () => {
    const alaw = await inspectWav(tone(at('alaw.wav'), 1, '-r', '8000', '-c', '1', '-e', 'a-law'));
    // sox writes an 18-byte fmt chunk and a fact chunk: RIFF(12) fmt(8+18) fact(8+4) data header(8).
    assert.deepEqual(
      { ...alaw },
      {
        format: 'alaw',
        formatTag: 6,
        extensible: false,
        rate: 8000,
        channels: 1,
        bits: 8,
        blockAlign: 1,
        dataOffset: 58,
        dataBytes: 8000,
        durationMs: 1000,
        fileBytes: 8058,
      },
    );
    const ulaw = await inspectWav(
      tone(at('ulaw.wav'), 0.5, '-r', '8000', '-c', '1', '-e', 'mu-law'),
    );
    assert.deepEqual([ulaw.format, ulaw.dataBytes, ulaw.durationMs], ['ulaw', 4000, 500]);
    const pcm = await inspectWav(tone(at('pcm16.wav'), 0.25, '-r', '8000', '-c', '1', '-b', '16'));
    assert.deepEqual(
      [pcm.format, pcm.bits, pcm.dataBytes, pcm.durationMs],
      ['pcm16', 16, 4000, 250],
    );
  });

  it('walks chunks in any order, skips unknown ones and their pad bytes', async () => {
    const audio = Buffer.alloc(1600, 0xd5);
    const file = at('odd-order.wav');
    await writeFile(
      file,
      riff([
        { id: 'LIST', body: Buffer.from('INFOx') }, // 5 bytes + 1 pad byte
        { id: 'data', body: audio },
        { id: 'junk', body: Buffer.alloc(3) },
        { id: 'fmt ', body: fmtBody({ tag: 6, channels: 1, rate: 8000, bits: 8 }) },
      ]),
    );
    const info = await inspectWav(file);
    assert.equal(info.dataOffset, 12 + 8 + 6 + 8);
    assert.deepEqual([info.format, info.dataBytes, info.durationMs], ['alaw', 1600, 200]);
    assert.deepEqual(
      (await readFile(file)).subarray(info.dataOffset, info.dataOffset + 4),
      audio.subarray(0, 4),
    );
    await checkPlayable(file);
  });

  it('reads WAVE_FORMAT_EXTENSIBLE as its sub-format', async () => {
    const file = at('ext.wav');
    await writeFile(
      file,
      riff([
        { id: 'fmt ', body: fmtBody({ tag: 0, channels: 1, rate: 8000, bits: 16 }, 1) },
        { id: 'data', body: Buffer.alloc(800) },
      ]),
    );
    const info = await inspectWav(file);
    assert.deepEqual(
      [info.format, info.formatTag, info.extensible, info.durationMs],
      ['pcm16', 0xfffe, true, 50],
    );
    const err = await refused(checkPlayable(file), 'E_PROMPT_FORMAT', 'format');
    assert.match(err.message, /WAVE_FORMAT_EXTENSIBLE header \(around 16-bit PCM\)/);
  });

  it('times compressed formats by their fact chunk', async () => {
    const gsm = await inspectWav(
      tone(at('gsm.wav'), 1, '-r', '8000', '-c', '1', '-e', 'gsm-full-rate'),
    );
    assert.deepEqual([gsm.format, gsm.formatTag, gsm.durationMs], ['gsm610', 0x31, 1000]);
  });
});

describe('checkPlayable', () => {
  it('passes 8 kHz mono A-law, µ-law and PCM16', async () => {
    for (const name of ['alaw.wav', 'ulaw.wav', 'pcm16.wav']) {
      const info = await checkPlayable(at(name));
      assert.equal(info.rate, 8000);
    }
  });

  it('names the file and every problem of a 44.1 kHz stereo file', async () => {
    const file = tone(at('cd.wav'), 0.1, '-r', '44100', '-c', '2', '-b', '16');
    const err = await refused(
      checkPlayable(file, { label: 'prompts/welcome.wav' }),
      'E_PROMPT_FORMAT',
      'rate',
    );
    assert.equal(
      err.message,
      'prompts/welcome.wav: sample rate 44100 Hz is not 8000 Hz; 2 channels (stereo) is not mono; convert it on upload',
    );
    const details = err.details as { file: string; value: number; problems: { field: string }[] };
    assert.equal(details.file, 'prompts/welcome.wav');
    assert.equal(details.value, 44100);
    assert.deepEqual(
      details.problems.map((p) => p.field),
      ['rate', 'channels'],
    );
  });

  const unplayable: [string, string[], string, unknown, RegExp][] = [
    ['8-bit PCM', ['-b', '8'], 'bits', 8, /8-bit PCM is not playable/],
    ['24-bit PCM', ['-b', '24'], 'bits', 24, /24-bit PCM is not playable/],
    [
      'float',
      ['-e', 'floating-point', '-b', '32'],
      'format',
      'float32',
      /32-bit float is not playable/,
    ],
    ['GSM 6.10', ['-e', 'gsm-full-rate'], 'format', 'gsm610', /GSM 6\.10 is a compressed format/],
    ['MS ADPCM', ['-e', 'ms-adpcm'], 'format', 'ms-adpcm', /MS ADPCM is a compressed format/],
    ['IMA ADPCM', ['-e', 'ima-adpcm'], 'format', 'ima-adpcm', /IMA ADPCM is a compressed format/],
  ];
  for (const [what, enc, field, value, message] of unplayable) {
    it(`refuses ${what} at 8 kHz mono`, async () => {
      const file = tone(at(`${field}-${String(value)}.wav`), 0.1, '-r', '8000', '-c', '1', ...enc);
      const err = await refused(checkPlayable(file), 'E_PROMPT_FORMAT', field);
      assert.equal((err.details as { value: unknown }).value, value);
      assert.match(err.message, message);
      assert.ok(err.message.startsWith(`${file}: `), err.message);
    });
  }

  it('refuses a missing file, a directory, an empty file and a non-WAV', async () => {
    await refused(checkPlayable(at('nope.wav')), 'E_PROMPT_MISSING', 'file');
    await mkdir(at('adir.wav'));
    const isDir = await refused(checkPlayable(at('adir.wav')), 'E_PROMPT_IO', 'file');
    assert.match(isDir.message, /is a directory/);
    await writeFile(at('empty.wav'), '');
    const empty = await refused(checkPlayable(at('empty.wav')), 'E_PROMPT_FORMAT', 'file');
    assert.match(empty.message, /empty\.wav: is empty \(0 bytes\)/);
    await writeFile(at('text.wav'), 'this is not audio at all');
    const text = await refused(checkPlayable(at('text.wav')), 'E_PROMPT_FORMAT', 'header');
    assert.match(text.message, /not a WAV file/);
    await writeFile(at('avi.wav'), Buffer.from('RIFF\x04\x00\x00\x00AVI ', 'latin1'));
    assert.match(
      (await refused(checkPlayable(at('avi.wav')), 'E_PROMPT_FORMAT', 'header')).message,
      /RIFF file but not WAVE/,
    );
  });

  it('refuses a data chunk that runs past the end of the file as truncated', async () => {
    const whole = await readFile(at('alaw.wav'));
    await writeFile(at('cut.wav'), whole.subarray(0, 4000));
    const err = await refused(checkPlayable(at('cut.wav')), 'E_PROMPT_FORMAT', 'data');
    assert.match(
      err.message,
      /is truncated: the data chunk holds 8000 bytes but only 3942 follow byte 58/,
    );
  });

  it('refuses a header cut inside a chunk, and files without fmt or data', async () => {
    const whole = await readFile(at('alaw.wav'));
    await writeFile(at('cut-fmt.wav'), whole.subarray(0, 30));
    const cut = await refused(checkPlayable(at('cut-fmt.wav')), 'E_PROMPT_FORMAT', 'header');
    assert.match(cut.message, /truncated: the fmt chunk at byte 12 claims 18 bytes/);
    await writeFile(
      at('no-data.wav'),
      riff([{ id: 'fmt ', body: fmtBody({ tag: 6, channels: 1, rate: 8000, bits: 8 }) }]),
    );
    await refused(checkPlayable(at('no-data.wav')), 'E_PROMPT_FORMAT', 'data');
    await writeFile(at('no-fmt.wav'), riff([{ id: 'data', body: Buffer.alloc(100) }]));
    await refused(checkPlayable(at('no-fmt.wav')), 'E_PROMPT_FORMAT', 'fmt');
    await writeFile(
      at('short-fmt.wav'),
      riff([
        { id: 'fmt ', body: Buffer.alloc(10) },
        { id: 'data', body: Buffer.alloc(2) },
      ]),
    );
    await refused(checkPlayable(at('short-fmt.wav')), 'E_PROMPT_FORMAT', 'fmt');
  });

  it('refuses corrupt fmt values and an empty data chunk', async () => {
    const data = { id: 'data', body: Buffer.alloc(160) };
    await writeFile(
      at('align.wav'),
      riff([
        { id: 'fmt ', body: fmtBody({ tag: 1, channels: 1, rate: 8000, bits: 16, blockAlign: 3 }) },
        data,
      ]),
    );
    const align = await refused(checkPlayable(at('align.wav')), 'E_PROMPT_FORMAT', 'blockAlign');
    assert.match(align.message, /block align 3 does not match 1 channel\(s\) of 16 bits \(2\)/);
    await writeFile(
      at('zero-rate.wav'),
      riff([{ id: 'fmt ', body: fmtBody({ tag: 6, channels: 1, rate: 0, bits: 8 }) }, data]),
    );
    await refused(checkPlayable(at('zero-rate.wav')), 'E_PROMPT_FORMAT', 'rate');
    await writeFile(
      at('zero-ch.wav'),
      riff([
        { id: 'fmt ', body: fmtBody({ tag: 6, channels: 0, rate: 8000, bits: 8, blockAlign: 1 }) },
        data,
      ]),
    );
    await refused(checkPlayable(at('zero-ch.wav')), 'E_PROMPT_FORMAT', 'channels');
    await writeFile(
      at('silent.wav'),
      riff([
        { id: 'fmt ', body: fmtBody({ tag: 6, channels: 1, rate: 8000, bits: 8 }) },
        { id: 'data', body: Buffer.alloc(0) },
      ]),
    );
    assert.equal((await inspectWav(at('silent.wav'))).dataBytes, 0);
    const silent = await refused(checkPlayable(at('silent.wav')), 'E_PROMPT_FORMAT', 'data');
    assert.match(silent.message, /has no audio/);
    assert.doesNotMatch(silent.message, /convert it on upload/);
  });

  it('names an unknown format tag by its number', async () => {
    await writeFile(
      at('tag.wav'),
      riff([
        {
          id: 'fmt ',
          body: fmtBody({ tag: 0x1234, channels: 1, rate: 8000, bits: 4, blockAlign: 1 }),
        },
        { id: 'data', body: Buffer.alloc(10) },
      ]),
    );
    const err = await refused(checkPlayable(at('tag.wav')), 'E_PROMPT_FORMAT', 'format');
    assert.equal((err.details as { value: unknown }).value, 'tag-0x1234');
  });
});
