// SPDX-License-Identifier: GPL-2.0-or-later
// Prompt uploads: bit-exact copies, conversions to 8 kHz mono, refusals that leave the prompts as they were.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { importPrompt } from '../src/media/import.ts';
import { checkPlayable, inspectWav } from '../src/media/wav.ts';
import { refused } from './helpers/refused.ts';
import { fmtBody, riff, tone } from './helpers/wav.ts';

let work: string;
let prompts: string;
const src = (name: string) => join(work, name);

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'sb-import-'));
  prompts = join(work, 'prompts');
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Every file under the prompt directory, hidden temporary files included. */
async function listing(): Promise<string[]> {
  return ((await readdir(prompts, { recursive: true }).catch(() => [])) as string[]).sort();
}

describe('importPrompt', () => {
  it('converts 44.1 kHz stereo 16-bit to 8 kHz mono A-law of the same length', async () => {
    const source = tone(src('cd.wav'), 2, '-r', '44100', '-c', '2', '-b', '16');
    const result = await importPrompt(source, { dir: prompts, name: 'welcome' });
    assert.equal(result.path, join(prompts, 'welcome.wav'));
    assert.equal(result.converted, true);
    assert.deepEqual(result.from, {
      container: 'wav',
      format: 'pcm16',
      rate: 44100,
      channels: 2,
      bits: 16,
      durationMs: 2000,
    });
    assert.deepEqual(
      { ...result.to, durationMs: 0 },
      { container: 'wav', format: 'alaw', rate: 8000, channels: 1, bits: 8, durationMs: 0 },
    );
    assert.ok(Math.abs(result.durationMs - 2000) <= 20, `${result.durationMs} ms`);
    const info = await checkPlayable(result.path);
    assert.deepEqual(
      [info.format, info.rate, info.channels, info.durationMs],
      ['alaw', 8000, 1, result.durationMs],
    );
    assert.deepEqual(await listing(), ['welcome.wav']);
  });

  it('copies an 8 kHz A-law WAV bit-exact, and a PCM16 one when PCM16 is asked for', async () => {
    const alaw = tone(src('alaw.wav'), 0.5, '-r', '8000', '-c', '1', '-e', 'a-law');
    const a = await importPrompt(alaw, { dir: prompts, name: 'menu/main.wav' });
    assert.equal(a.converted, false);
    assert.equal(a.name, 'menu/main');
    assert.deepEqual(await readFile(a.path), await readFile(alaw));
    const pcm = tone(src('pcm.wav'), 0.5, '-r', '8000', '-c', '1', '-b', '16');
    const p = await importPrompt(pcm, { dir: prompts, name: 'pcm' }, { format: 'pcm16' });
    assert.equal(p.converted, false);
    assert.deepEqual(await readFile(p.path), await readFile(pcm));
  });

  it('converts a playable file that is not in the requested format', async () => {
    const result = await importPrompt(
      src('alaw.wav'),
      { dir: prompts, name: 'as-ulaw' },
      { format: 'ulaw' },
    );
    assert.equal(result.converted, true);
    assert.deepEqual(
      [result.from.format, result.to.format, result.durationMs],
      ['alaw', 'ulaw', 500],
    );
  });

  it('rewrites a WAVE_FORMAT_EXTENSIBLE header without touching the samples', async () => {
    const samples = Buffer.alloc(1600);
    for (let i = 0; i < 800; i++) samples.writeInt16LE(Math.round(8000 * Math.sin(i / 3)), i * 2);
    await writeFile(
      src('ext.wav'),
      riff([
        { id: 'fmt ', body: fmtBody({ tag: 0, channels: 1, rate: 8000, bits: 16 }, 1) },
        { id: 'data', body: samples },
      ]),
    );
    const result = await importPrompt(
      src('ext.wav'),
      { dir: prompts, name: 'ext' },
      { format: 'pcm16' },
    );
    assert.equal(result.converted, true);
    const info = await checkPlayable(result.path);
    assert.equal(info.extensible, false);
    const stored = await readFile(result.path);
    assert.deepEqual(stored.subarray(info.dataOffset, info.dataOffset + info.dataBytes), samples);
  });

  const decodable: [string, string[]][] = [
    ['GSM 6.10', ['-r', '8000', '-c', '1', '-e', 'gsm-full-rate']],
    ['MS ADPCM', ['-r', '8000', '-c', '1', '-e', 'ms-adpcm']],
    ['8-bit PCM at 22.05 kHz', ['-r', '22050', '-c', '1', '-b', '8']],
    ['32-bit float at 48 kHz', ['-r', '48000', '-c', '1', '-e', 'floating-point', '-b', '32']],
  ];
  for (const [what, format] of decodable) {
    it(`converts ${what}`, async () => {
      const source = tone(src(`${what.replace(/\W+/g, '-')}.wav`), 1, ...format);
      const result = await importPrompt(source, { dir: prompts, name: 'decoded' });
      assert.equal(result.converted, true);
      const info = await checkPlayable(result.path);
      assert.equal(info.format, 'alaw');
      assert.ok(Math.abs(info.durationMs - 1000) <= 20, `${info.durationMs} ms`);
    });
  }

  it('converts FLAC, which is not a WAV at all, and names its container', async () => {
    const source = tone(src('music.flac'), 1, '-r', '16000', '-c', '1', '-b', '16');
    const result = await importPrompt(source, { dir: prompts, name: 'flac' });
    assert.deepEqual(
      [result.from.container, result.from.format, result.from.rate],
      ['flac', 'flac', 16000],
    );
    assert.equal((await checkPlayable(result.path)).durationMs, 1000);
  });

  it('refuses empty, missing, truncated and undecodable files with the right code and field', async () => {
    await writeFile(src('empty.wav'), '');
    assert.match(
      (
        await refused(
          importPrompt(src('empty.wav'), { dir: prompts, name: 'x' }),
          'E_PROMPT_FORMAT',
          'file',
        )
      ).message,
      /is empty/,
    );
    await refused(
      importPrompt(src('absent.wav'), { dir: prompts, name: 'x' }),
      'E_PROMPT_MISSING',
      'file',
    );
    const whole = await readFile(src('alaw.wav'));
    await writeFile(src('cut.wav'), whole.subarray(0, 1000));
    const cut = await refused(
      importPrompt(src('cut.wav'), { dir: prompts, name: 'x' }),
      'E_PROMPT_FORMAT',
      'data',
    );
    assert.match(cut.message, /truncated/);
    await writeFile(
      src('noise.wav'),
      Buffer.from('not a riff file, only text that pretends to be one'),
    );
    const noise = await refused(
      importPrompt(src('noise.wav'), { dir: prompts, name: 'x' }),
      'E_PROMPT_FORMAT',
      'file',
    );
    assert.match((noise.details as { sox: string }).sox, /RIFF header not found/);
    assert.match(noise.message, /noise\.wav: not audio sox can decode \(.*RIFF header not found/);
    await writeFile(src('upload.bin'), Buffer.alloc(100, 7));
    const bin = await refused(
      importPrompt(src('upload.bin'), { dir: prompts, name: 'x' }, { label: 'song.bin' }),
      'E_PROMPT_FORMAT',
      'file',
    );
    assert.match(bin.message, /^song\.bin: not audio sox can decode/);
    assert.ok(
      !(await listing()).some((f) => f.startsWith('x') || f.includes('.tmp')),
      String(await listing()),
    );
  });

  it('refuses prompts over the longest accepted, copied or converted', async () => {
    const copy = await refused(
      importPrompt(src('alaw.wav'), { dir: prompts, name: 'long' }, { maxDurationMs: 400 }),
      'E_PROMPT_TOO_LONG',
      'durationMs',
    );
    assert.deepEqual(
      [(copy.details as { value: number }).value, (copy.details as { max: number }).max],
      [500, 400],
    );
    await refused(
      importPrompt(src('cd.wav'), { dir: prompts, name: 'long' }, { maxDurationMs: 1000 }),
      'E_PROMPT_TOO_LONG',
      'durationMs',
    );
    await refused(
      importPrompt(src('music.flac'), { dir: prompts, name: 'long' }, { maxDurationMs: 999 }),
      'E_PROMPT_TOO_LONG',
      'durationMs',
    );
    await refused(
      importPrompt(src('alaw.wav'), { dir: prompts, name: 'long' }, { maxDurationMs: 0 }),
      'E_PROMPT_FORMAT',
      'maxDurationMs',
    );
    assert.ok(!(await listing()).some((f) => f.startsWith('long')));
  });

  it('refuses names that leave the prompt directory or are not plain', async () => {
    const before = await listing();
    for (const name of [
      '../escape',
      '/etc/passwd',
      'a/../../b',
      '.hidden',
      'a\\b',
      '',
      'a//b',
      'x\u0000y',
      'a/b/c/d/e',
      'sp ace',
    ]) {
      const err = await refused(
        importPrompt(src('alaw.wav'), { dir: prompts, name }),
        'E_PROMPT_NAME',
        'name',
      );
      assert.equal((err.details as { value: string }).value, name);
    }
    assert.deepEqual(await listing(), before);
    const outside = await readdir(work);
    assert.ok(!outside.includes('escape.wav') && !outside.includes('b.wav'), String(outside));
  });

  it('keeps the prompt it would have replaced when an import fails', async () => {
    const good = await readFile(join(prompts, 'welcome.wav'));
    const mtime = (await stat(join(prompts, 'welcome.wav'))).mtimeMs;
    await refused(
      importPrompt(src('noise.wav'), { dir: prompts, name: 'welcome' }),
      'E_PROMPT_FORMAT',
      'file',
    );
    await refused(
      importPrompt(src('cut.wav'), { dir: prompts, name: 'welcome' }),
      'E_PROMPT_FORMAT',
      'data',
    );
    assert.deepEqual(await readFile(join(prompts, 'welcome.wav')), good);
    assert.equal((await stat(join(prompts, 'welcome.wav'))).mtimeMs, mtime);
    assert.ok(!(await listing()).some((f) => f.includes('.tmp')));
    // A good import replaces it whole.
    const replaced = await importPrompt(src('alaw.wav'), { dir: prompts, name: 'welcome' });
    assert.equal((await inspectWav(replaced.path)).durationMs, 500);
  });
});
