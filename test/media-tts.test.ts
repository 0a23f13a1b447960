// SPDX-License-Identifier: GPL-2.0-or-later
// Text-to-speech: 8 kHz prompts rendered once per text, voice, speed and format; LRU size cap; errors.

import assert from 'node:assert/strict';
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  parseVoiceList,
  renderTts,
  TTS_MAX_TEXT_CHARS,
  ttsStats,
  ttsVoices,
} from '../src/media/tts.ts';
import { checkPlayable } from '../src/media/wav.ts';
import { refused } from './helpers/refused.ts';

let work: string;
let cacheDir: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'sb-tts-'));
  cacheDir = join(work, 'cache');
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('renderTts', () => {
  it('renders 8 kHz mono A-law whose length grows with the text', async () => {
    const short = await renderTts('Welcome.', { cacheDir });
    const long = await renderTts(
      'Welcome to the switchboard. All our agents are busy, please hold the line.',
      {
        cacheDir,
      },
    );
    assert.equal(short.cached, false);
    const a = await checkPlayable(short.path);
    const b = await checkPlayable(long.path);
    assert.deepEqual([a.format, a.rate, a.channels], ['alaw', 8000, 1]);
    assert.ok(a.durationMs > 200, `${a.durationMs} ms`);
    assert.ok(b.durationMs > 3 * a.durationMs, `${a.durationMs} ms then ${b.durationMs} ms`);
    assert.equal(short.path, join(cacheDir, `${short.key}.wav`));
  });

  it('serves the same text again from the cache without touching the file', async () => {
    const first = await renderTts('Press one for sales.', { cacheDir, voice: 'en-us' });
    const before = await stat(first.path);
    const content = await readFile(first.path);
    const renders = ttsStats.renders;
    const hits = ttsStats.hits;
    // Whitespace and letter case of the voice do not make a new prompt.
    const again = await renderTts('  Press one   for sales. ', { cacheDir, voice: 'EN-US' });
    assert.deepEqual([again.cached, again.path], [true, first.path]);
    const after = await stat(first.path);
    assert.deepEqual(
      [after.ino, after.mtimeMs, after.size],
      [before.ino, before.mtimeMs, before.size],
    );
    assert.deepEqual(await readFile(first.path), content);
    assert.deepEqual([ttsStats.renders - renders, ttsStats.hits - hits], [0, 1]);
  });

  it('keys on voice, speed and format', async () => {
    const text = 'Press two for support.';
    const base = await renderTts(text, { cacheDir });
    const paths = new Set([base.path]);
    for (const opts of [{ voice: 'en-gb' }, { speed: 120 }, { format: 'ulaw' as const }]) {
      const r = await renderTts(text, { cacheDir, ...opts });
      assert.equal(r.cached, false);
      paths.add(r.path);
    }
    assert.equal(paths.size, 4);
    const ulaw = await renderTts(text, { cacheDir, format: 'ulaw' });
    assert.equal((await checkPlayable(ulaw.path)).format, 'ulaw');
    const slow = await checkPlayable((await renderTts(text, { cacheDir, speed: 120 })).path);
    assert.ok(slow.durationMs > (await checkPlayable(base.path)).durationMs);
  });

  it('renders a text asked for twice at once only once', async () => {
    const renders = ttsStats.renders;
    const results = await Promise.all(
      [1, 2, 3].map(() => renderTts('Your call is important to us.', { cacheDir })),
    );
    assert.equal(ttsStats.renders - renders, 1);
    assert.equal(new Set(results.map((r) => r.path)).size, 1);
  });

  it('removes the least recently used files beyond the size cap', async () => {
    const dir = join(work, 'lru');
    const file = (r: { path: string }) => r.path.slice(dir.length + 1);
    // Sizes first, in another directory (espeak-ng renders the same text to the same bytes).
    const size = async (text: string) =>
      (await stat((await renderTts(text, { cacheDir: join(work, 'sizes') })).path)).size;
    const [sa, sb, sc, se] = [
      await size('Alpha.'),
      await size('Bravo.'),
      await size('Charlie.'),
      await size('Echo.'),
    ];
    const a = await renderTts('Alpha.', { cacheDir: dir });
    const b = await renderTts('Bravo.', { cacheDir: dir });
    // Alpha is asked for again: Bravo is now the least recently used.
    assert.equal((await renderTts('Alpha.', { cacheDir: dir })).cached, true);
    let evictions = ttsStats.evictions;
    const c = await renderTts('Charlie.', { cacheDir: dir, maxCacheBytes: sa + sb + sc - 1 });
    assert.equal(ttsStats.evictions - evictions, 1);
    assert.deepEqual((await readdir(dir)).sort(), [file(a), file(c)].sort());
    assert.notEqual(file(b), file(a));

    // A file left by an earlier run goes before any this process used, however new it looks.
    const stale = `${'0'.repeat(64)}.wav`;
    await writeFile(join(dir, stale), Buffer.alloc(100));
    const later = new Date(Date.now() + 3600_000);
    await utimes(join(dir, stale), later, later);
    evictions = ttsStats.evictions;
    const e = await renderTts('Echo.', { cacheDir: dir, maxCacheBytes: sa + sc + se });
    assert.equal(ttsStats.evictions - evictions, 1);
    assert.deepEqual((await readdir(dir)).sort(), [file(a), file(c), file(e)].sort());

    // A cap smaller than one prompt keeps only the prompt just rendered.
    const d = await renderTts('Delta.', { cacheDir: dir, maxCacheBytes: 1 });
    assert.deepEqual(await readdir(dir), [file(d)]);
  });

  it('refuses empty and too long text, a bad speed or format', async () => {
    await refused(renderTts('', { cacheDir }), 'E_TTS_INPUT', 'text');
    await refused(renderTts(' \n\t ', { cacheDir }), 'E_TTS_INPUT', 'text');
    const long = await refused(
      renderTts('a'.repeat(TTS_MAX_TEXT_CHARS + 1), { cacheDir }),
      'E_TTS_INPUT',
      'text',
    );
    assert.match(
      long.message,
      new RegExp(`${TTS_MAX_TEXT_CHARS + 1} characters, more than ${TTS_MAX_TEXT_CHARS}`),
    );
    await refused(renderTts('hi', { cacheDir, speed: 10 }), 'E_TTS_INPUT', 'speed');
    await refused(renderTts('hi', { cacheDir, speed: 150.5 }), 'E_TTS_INPUT', 'speed');
    await refused(renderTts('hi', { cacheDir, format: 'mp3' as 'alaw' }), 'E_TTS_INPUT', 'format');
    await refused(renderTts('hi', { cacheDir: '' }), 'E_TTS_INPUT', 'cacheDir');
  });

  it('refuses a voice espeak-ng does not have, naming close ones', async () => {
    const err = await refused(
      renderTts('hello', { cacheDir, voice: 'en-xx' }),
      'E_TTS_VOICE',
      'voice',
    );
    assert.match(err.message, /voice "en-xx" is not an espeak-ng voice \(close: .*en-us/);
    await refused(renderTts('hello', { cacheDir, voice: 'klingon' }), 'E_TTS_VOICE', 'voice');
  });

  it('passes espeak-ng and sox failures on as E_TTS in their own words', async () => {
    // Stand-ins that fail, found first on PATH (voices and versions are cached already).
    const fake = async (tool: string, words: string) => {
      const bin = join(work, `bin-${tool}`);
      await mkdir(bin);
      await writeFile(join(bin, tool), `#!/bin/sh\necho "${words}" >&2\nexit 3\n`);
      await chmod(join(bin, tool), 0o755);
      return bin;
    };
    const path = process.env.PATH;
    try {
      process.env.PATH = `${await fake('espeak-ng', 'espeak-ng: phoneme data damaged')}:${path}`;
      const espeak = await refused(renderTts('This text is never spoken.', { cacheDir }), 'E_TTS');
      assert.match(
        espeak.message,
        /espeak-ng failed to render text-to-speech \(espeak-ng: phoneme data damaged\)/,
      );
      assert.equal(
        (espeak.details as { espeak: string }).espeak,
        'espeak-ng: phoneme data damaged',
      );
      process.env.PATH = `${await fake('sox', 'sox FAIL formats: disk full')}:${path}`;
      const sox = await refused(renderTts('This text is never spoken.', { cacheDir }), 'E_TTS');
      assert.match(
        sox.message,
        /^sox failed to render text-to-speech \(sox FAIL formats: disk full\)/,
      );
    } finally {
      process.env.PATH = path;
    }
    assert.ok(!(await readdir(cacheDir)).some((f) => f.endsWith('.tmp')));
    assert.equal((await renderTts('This text is never spoken.', { cacheDir })).cached, false);
  });
});

describe('ttsVoices', () => {
  it('lists espeak-ng voices with their aliases', async () => {
    const voices = await ttsVoices();
    const byName = new Map(voices.map((v) => [v.name, v]));
    for (const name of ['en-us', 'en-gb', 'cmn', 'cmn-latn-pinyin', 'yue'])
      assert.ok(byName.has(name), name);
    assert.ok(byName.get('en-us')?.aliases.includes('en'));
    assert.ok(byName.get('cmn')?.aliases.includes('zh'));
    assert.equal(byName.get('en-us')?.description, 'English (America)');
  });

  it('parses the columns of espeak-ng --voices', () => {
    const text = [
      'Pty Language       Age/Gender VoiceName          File                 Other Languages',
      ' 5  cmn             --/M      Chinese_(Mandarin) sit/cmn              (zh-cmn 5)(zh 5)',
      ' 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)',
      ' 5  af              --/M      Afrikaans          gmw/af               ',
      '',
    ].join('\n');
    assert.deepEqual(parseVoiceList(text), [
      {
        name: 'cmn',
        aliases: ['zh-cmn', 'zh'],
        description: 'Chinese (Mandarin)',
        file: 'sit/cmn',
      },
      { name: 'en-us', aliases: ['en'], description: 'English (America)', file: 'gmw/en-US' },
      { name: 'af', aliases: [], description: 'Afrikaans', file: 'gmw/af' },
    ]);
  });
});
