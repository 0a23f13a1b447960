// SPDX-License-Identifier: GPL-2.0-or-later
// The controller's prompt library: built-in prompts rendered on first use, uploaded ones found, unknown ones named.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PromptLibrary } from '../src/controller/prompts.ts';
import { sayNumber } from '../src/media/say.ts';
import { refused } from './helpers/refused.ts';
import { sinePcm, wavFile } from './helpers/wav.ts';

describe('prompt library', () => {
  it('renders the built-in prompts a number needs once, then finds them on disk', async () => {
    const lib = new PromptLibrary(mkdtempSync(join(tmpdir(), 'sb-prompts-')));
    const names = sayNumber(42, 'en');
    assert.equal(lib.exists('digits/40', 'en'), true, 'built-in: playable before rendering');
    const files = await lib.resolve(names, 'en');
    assert.equal(files.length, names.length);
    const first = statSync(files[0] as string).mtimeMs;
    const again = await lib.resolve(names, 'en');
    assert.deepEqual(again, files);
    assert.equal(statSync(again[0] as string).mtimeMs, first, 'not rendered twice');
  });

  it('an uploaded prompt is found in its language or in English; an unknown one is named', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sb-prompts-'));
    mkdirSync(join(root, 'en', 'menus'), { recursive: true });
    writeFileSync(join(root, 'en', 'menus', 'welcome.wav'), wavFile('pcm16', sinePcm(400, 300)));
    const lib = new PromptLibrary(root);
    assert.equal(lib.exists('menus/welcome', 'zh'), true);
    assert.equal(lib.exists('menus/nope', 'zh'), false);
    const [file] = await lib.resolve(['menus/welcome'], 'zh');
    assert.equal(file, join(root, 'en', 'menus', 'welcome.wav'));
    const err = await refused(lib.resolve(['menus/nope'], 'zh'), 'E_PROMPT_MISSING');
    assert.match(err.message, /menus\/nope/);
  });
});
