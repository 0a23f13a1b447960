// SPDX-License-Identifier: GPL-2.0-or-later
// Prompt sets: what is missing is rendered, what is there kept; playlists fall back to another language.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildPromptSet, resolvePlaylist } from '../src/media/promptset.ts';
import { sayNumber } from '../src/media/say.ts';
import { renderTts } from '../src/media/tts.ts';
import { checkPlayable } from '../src/media/wav.ts';
import { refused } from './helpers/refused.ts';
import { tone } from './helpers/wav.ts';

let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sb-promptset-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('buildPromptSet', () => {
  it('renders the missing prompts as 8 kHz A-law once, then keeps them', async () => {
    const names = ['digits/1', 'digits/thousand', 'digits/0', 'digits/5'];
    const first = await buildPromptSet('zh', root, { names });
    assert.deepEqual(first, { dir: join(root, 'zh'), rendered: [...names].sort(), kept: [] });
    for (const name of names) {
      const info = await checkPlayable(join(root, 'zh', `${name}.wav`));
      assert.deepEqual([info.format, info.rate, info.channels], ['alaw', 8000, 1]);
      assert.ok(info.durationMs > 100, `${name}: ${info.durationMs} ms`);
    }
    // Words are played back to back: espeak-ng's ~0.4 s of silence around each is cut.
    const plain = await renderTts('yi1', {
      cacheDir: join(root, 'tts'),
      voice: 'cmn-latn-pinyin',
      speed: 150,
    });
    const untrimmed = (await checkPlayable(plain.path)).durationMs;
    const trimmed = (await checkPlayable(join(root, 'zh', 'digits/1.wav'))).durationMs;
    assert.ok(
      trimmed < untrimmed - 200,
      `${trimmed} ms trimmed, ${untrimmed} ms as espeak-ng says it`,
    );
    const again = await buildPromptSet('zh', root, { names });
    assert.deepEqual([again.rendered.length, again.kept.length], [0, names.length]);
  });

  it('never replaces a prompt someone put there, playable or not', async () => {
    await mkdir(join(root, 'en', 'digits'), { recursive: true });
    const mine = tone(
      join(root, 'en', 'digits', '1.wav'),
      0.3,
      '-r',
      '8000',
      '-c',
      '1',
      '-e',
      'mu-law',
    );
    await writeFile(join(root, 'en', 'digits', '2.wav'), 'a recording in the wrong format');
    const before = [await readFile(mine), await readFile(join(root, 'en', 'digits', '2.wav'))];
    const result = await buildPromptSet('en', root, {
      names: ['digits/1', 'digits/2', 'digits/3'],
    });
    assert.deepEqual(result.rendered, ['digits/3']);
    assert.deepEqual(result.kept, ['digits/1', 'digits/2']);
    assert.deepEqual(
      [await readFile(mine), await readFile(join(root, 'en', 'digits', '2.wav'))],
      before,
    );
  });

  it('refuses names outside the set and languages without one', async () => {
    await refused(
      buildPromptSet('en', root, { names: ['digits/liang'] }),
      'E_PROMPT_NAME',
      'names[0]',
    );
    await refused(
      buildPromptSet('en', root, { names: ['digits/1', '../etc'] }),
      'E_PROMPT_NAME',
      'names[1]',
    );
    await refused(buildPromptSet('fr', root, { names: [] }), 'E_SAY_LANG', 'lang');
    await refused(
      buildPromptSet('en', root, { names: ['digits/9'], voice: 'xx-none' }),
      'E_TTS_VOICE',
      'voice',
    );
    await refused(
      buildPromptSet('en', root, { names: ['digits/9'], speed: 5 }),
      'E_TTS_INPUT',
      'speed',
    );
  });
});

describe('resolvePlaylist', () => {
  it('resolves a spoken number in zh, borrowing what zh lacks from en', async () => {
    // zh has digits/1, thousand, 0 and 5 (rendered above); only en has digits/3.
    const files = await resolvePlaylist([...sayNumber(1005, 'zh'), 'digits/3'], {
      root,
      lang: 'zh',
    });
    assert.deepEqual(files, [
      join(root, 'zh', 'digits/1.wav'),
      join(root, 'zh', 'digits/thousand.wav'),
      join(root, 'zh', 'digits/0.wav'),
      join(root, 'zh', 'digits/5.wav'),
      join(root, 'en', 'digits/3.wav'),
    ]);
  });

  it('takes absolute paths of uploaded prompts and checks them', async () => {
    const upload = tone(join(root, 'upload.wav'), 0.2, '-r', '8000', '-c', '1', '-e', 'a-law');
    assert.deepEqual(await resolvePlaylist([upload, 'digits/5'], { root, lang: 'zh' }), [
      upload,
      join(root, 'zh', 'digits/5.wav'),
    ]);
    const cd = tone(join(root, 'cd.wav'), 0.2, '-r', '44100', '-c', '2', '-b', '16');
    await refused(resolvePlaylist([cd], { root, lang: 'zh' }), 'E_PROMPT_FORMAT', 'rate');
    await refused(
      resolvePlaylist([join(root, 'gone.wav')], { root, lang: 'zh' }),
      'E_PROMPT_MISSING',
      'file',
    );
  });

  it('names the prompt, the entry and the sets when neither has it', async () => {
    const err = await refused(
      resolvePlaylist(['digits/5', 'digits/9'], { root, lang: 'zh' }),
      'E_PROMPT_MISSING',
      'names[1]',
    );
    assert.equal(
      err.message,
      `prompt digits/9 is in neither the zh nor the en prompt set under ${root}`,
    );
    assert.deepEqual((err.details as { sets: string[] }).sets, ['zh', 'en']);
    const alone = await refused(
      resolvePlaylist(['digits/3'], { root, lang: 'zh', fallback: null }),
      'E_PROMPT_MISSING',
      'names[0]',
    );
    assert.equal(alone.message, `prompt digits/3 is not in the zh prompt set under ${root}`);
  });

  it('refuses a prompt file that cannot be played instead of falling back', async () => {
    await refused(resolvePlaylist(['digits/2'], { root, lang: 'en' }), 'E_PROMPT_FORMAT', 'header');
  });

  it('refuses names and languages that would leave the prompt root', async () => {
    await refused(
      resolvePlaylist(['../upload'], { root, lang: 'zh' }),
      'E_PROMPT_NAME',
      'names[0]',
    );
    await refused(resolvePlaylist(['digits/1'], { root, lang: '../zh' }), 'E_PROMPT_NAME', 'lang');
    await refused(
      resolvePlaylist(['digits/1'], { root, lang: 'zh', fallback: '..' }),
      'E_PROMPT_NAME',
      'fallback',
    );
  });
});
