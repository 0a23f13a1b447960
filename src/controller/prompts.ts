// SPDX-License-Identifier: GPL-2.0-or-later
// The box's voice prompts: uploaded and built-in sets per language, built-in prompts rendered on first use, TTS cached.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isSwitchboardError } from '../core/errors.ts';
import { buildPromptSet, PROMPT_SET_SPEECH, resolvePlaylist } from '../media/promptset.ts';
import { SAY_LANGS, type SayLang } from '../media/say.ts';
import { renderTts } from '../media/tts.ts';

/**
 * Prompts live in `<root>/<lang>/<name>.wav` (uploaded or recorded ones, and the built-in set
 * of digits, numbers, days and months); TTS renders go to `<root>/.tts`. A built-in prompt
 * that is missing is rendered with espeak-ng the first time a call needs it, so a fresh box
 * speaks numbers without a build step and a set recorded by a person is never replaced.
 */
export class PromptLibrary {
  readonly root: string;
  readonly ttsDir: string;
  /** Renders under way, by `lang/name`: two calls asking at once share one espeak run. */
  readonly #rendering = new Map<string, Promise<unknown>>();

  constructor(root: string) {
    this.root = root;
    this.ttsDir = join(root, '.tts');
  }

  /** True when `name` can be played in `lang` (a file in its set or in English, or a built-in prompt). */
  exists(name: string, lang: string): boolean {
    for (const set of lang === 'en' ? ['en'] : [lang, 'en']) {
      if (existsSync(join(this.root, set, `${name}.wav`))) return true;
      if (isSayLang(set) && Object.hasOwn(PROMPT_SET_SPEECH[set], name)) return true;
    }
    return false;
  }

  /** Absolute files for a playlist of prompt names; built-in prompts missing on disk are rendered first. */
  async resolve(names: readonly string[], lang: string): Promise<string[]> {
    try {
      return await resolvePlaylist(names, { root: this.root, lang });
    } catch (err) {
      if (!isSwitchboardError(err, 'E_PROMPT_MISSING')) throw err;
      const rendered = await this.#renderBuiltIns(names, lang);
      if (!rendered) throw err;
      return resolvePlaylist(names, { root: this.root, lang });
    }
  }

  /** A cached TTS rendering of `text`; returns its file. */
  async tts(text: string, voice?: string): Promise<string> {
    const r = await renderTts(text, {
      cacheDir: this.ttsDir,
      ...(voice === undefined ? {} : { voice }),
    });
    return r.path;
  }

  async #renderBuiltIns(names: readonly string[], lang: string): Promise<boolean> {
    let any = false;
    for (const set of lang === 'en' ? ['en'] : [lang, 'en']) {
      if (!isSayLang(set)) continue;
      const wanted = names.filter(
        (n) =>
          Object.hasOwn(PROMPT_SET_SPEECH[set], n) && !existsSync(join(this.root, set, `${n}.wav`)),
      );
      if (wanted.length === 0) continue;
      any = true;
      await Promise.all(
        wanted.map((name) => {
          const key = `${set}/${name}`;
          let p = this.#rendering.get(key);
          if (!p) {
            p = buildPromptSet(set, this.root, { names: [name] }).finally(() =>
              this.#rendering.delete(key),
            );
            this.#rendering.set(key, p);
          }
          return p;
        }),
      );
      // Names found in the caller's language are not rendered again in English.
      names = names.filter((n) => !wanted.includes(n));
    }
    return any;
  }
}

function isSayLang(lang: string): lang is SayLang {
  return (SAY_LANGS as readonly string[]).includes(lang);
}
