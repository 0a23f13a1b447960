// SPDX-License-Identifier: GPL-2.0-or-later
// Prompt sets: a directory of <name>.wav per language, the words behind each name, rendering, lookup.

import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { isSwitchboardError, SwitchboardError } from '../core/errors.ts';
import { langTag, promptFile, promptName } from './names.ts';
import { MONTHS, type SayLang, sayLang, WEEKDAYS } from './say.ts';
import { checkFormat, checkSpeed, checkVoice, renderSpeech } from './tts.ts';
import { checkPlayable, type PlayableFormat } from './wav.ts';

/** One prompt of a set: the words as written, and what espeak-ng is given when they differ. */
type Entry = readonly [written: string, spoken?: string];

const EN_UNITS = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
  'twenty',
];
const EN_TENS = ['thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
const EN_ORDINALS = [
  'first',
  'second',
  'third',
  'fourth',
  'fifth',
  'sixth',
  'seventh',
  'eighth',
  'ninth',
  'tenth',
  'eleventh',
  'twelfth',
  'thirteenth',
  'fourteenth',
  'fifteenth',
  'sixteenth',
  'seventeenth',
  'eighteenth',
  'nineteenth',
  'twentieth',
];
const capital = (w: string) => w[0]?.toUpperCase() + w.slice(1);

const EN: Record<string, Entry> = {
  ...Object.fromEntries(EN_UNITS.map((w, n) => [`digits/${n}`, [w]])),
  ...Object.fromEntries(EN_TENS.map((w, i) => [`digits/${30 + i * 10}`, [w]])),
  'digits/hundred': ['hundred'],
  'digits/thousand': ['thousand'],
  'digits/million': ['million'],
  'digits/billion': ['billion'],
  'digits/minus': ['minus'],
  'digits/and': ['and'],
  'digits/oh': ['oh'],
  'digits/oclock': ["o'clock"],
  'digits/a-m': ['a.m.'],
  'digits/p-m': ['p.m.'],
  'digits/star': ['star'],
  'digits/pound': ['pound'],
  ...Object.fromEntries(EN_ORDINALS.map((w, i) => [`digits/h-${i + 1}`, [w]])),
  'digits/h-30': ['thirtieth'],
  ...Object.fromEntries(WEEKDAYS.map((w) => [`days/${w}`, [capital(w)]])),
  ...Object.fromEntries(MONTHS.map((w) => [`months/${w}`, [capital(w)]])),
};

/**
 * zh is rendered from pinyin with tone numbers by the `cmn-latn-pinyin` voice: the `cmn` voice of
 * Debian's espeak-ng 1.51 reads many single characters (一, 两, 千, 万...) as English-spelled
 * pinyin ("yi one"), which is no prompt to put on a phone line.
 */
const ZH_DIGITS = [
  '零 ling2',
  '一 yi1',
  '二 er4',
  '三 san1',
  '四 si4',
  '五 wu3',
  '六 liu4',
  '七 qi1',
  '八 ba1',
  '九 jiu3',
  '十 shi2',
];
const ZH_WEEKDAYS = ['日 ri4', '一 yi1', '二 er4', '三 san1', '四 si4', '五 wu3', '六 liu4'];

function zhEntry(both: string): Entry {
  const [written = '', ...spoken] = both.split(' ');
  return [written, spoken.join(' ')];
}

const ZH: Record<string, Entry> = {
  ...Object.fromEntries(ZH_DIGITS.map((w, n) => [`digits/${n}`, zhEntry(w)])),
  'digits/liang': ['两', 'liang3'],
  'digits/yao': ['幺', 'yao1'],
  'digits/hundred': ['百', 'bai3'],
  'digits/thousand': ['千', 'qian1'],
  'digits/ten-thousand': ['万', 'wan4'],
  'digits/hundred-million': ['亿', 'yi4'],
  'digits/minus': ['负', 'fu4'],
  'digits/star': ['星号', 'xing1 hao4'],
  'digits/pound': ['井号', 'jing3 hao4'],
  'digits/a-m': ['上午', 'shang4 wu3'],
  'digits/p-m': ['下午', 'xia4 wu3'],
  'dates/noon': ['中午', 'zhong1 wu3'],
  'dates/small-hours': ['凌晨', 'ling2 chen2'],
  'dates/evening': ['晚上', 'wan3 shang4'],
  'dates/year': ['年', 'nian2'],
  'dates/month': ['月', 'yue4'],
  'dates/day': ['日', 'ri4'],
  'dates/hour': ['点', 'dian3'],
  'dates/minute': ['分', 'fen1'],
  ...Object.fromEntries(
    ZH_WEEKDAYS.map((w, i) => {
      const [written, spoken] = zhEntry(w);
      return [`days/${WEEKDAYS[i]}`, [`星期${written}`, `xing1 qi1 ${spoken}`]];
    }),
  ),
};

/**
 * For every prompt name say.ts produces in a language, the words it says as written (zh in
 * characters). These are what a person recording a prompt set reads out.
 */
export const PROMPT_SET_TEXT: Readonly<Record<SayLang, Readonly<Record<string, string>>>> = {
  en: Object.fromEntries(Object.entries(EN).map(([name, [written]]) => [name, written])),
  zh: Object.fromEntries(Object.entries(ZH).map(([name, [written]]) => [name, written])),
};

/** What espeak-ng is given for each prompt (zh: pinyin with tone numbers). */
export const PROMPT_SET_SPEECH: Readonly<Record<SayLang, Readonly<Record<string, string>>>> = {
  en: Object.fromEntries(Object.entries(EN).map(([name, [w, s]]) => [name, s || w])),
  zh: Object.fromEntries(Object.entries(ZH).map(([name, [w, s]]) => [name, s || w])),
};

/** The espeak-ng voice each set is rendered with unless another is given. */
export const PROMPT_SET_VOICE: Readonly<Record<SayLang, string>> = {
  en: 'en-us',
  zh: 'cmn-latn-pinyin',
};

/** Words per minute for prompt sets: slower than running text, for single words on a phone line. */
export const PROMPT_SET_SPEED = 150;

export interface BuildOptions {
  /** espeak-ng voice; default PROMPT_SET_VOICE[lang] (en-us, cmn-latn-pinyin). */
  voice?: string;
  /** Words per minute, 80..450; default 150. */
  speed?: number;
  /** Encoding of the rendered prompts; default `alaw`. */
  format?: PlayableFormat;
  /** Only these prompts of the set (names from PROMPT_SET_TEXT[lang]); default all of them. */
  names?: readonly string[];
}

export interface BuildResult {
  /** The set's directory, `<root>/<lang>`. */
  dir: string;
  /** Prompts rendered by this call. */
  rendered: string[];
  /** Prompts already there and left alone (recorded by a person, or a former build). */
  kept: string[];
}

/**
 * Renders the prompts of a language's set that are missing under `<root>/<lang>/` with
 * espeak-ng, as 8 kHz mono WAV. Files already there are never replaced, whatever they hold, so a
 * set recorded by a person survives a rebuild and a second build renders nothing.
 */
export async function buildPromptSet(
  lang: string,
  root: string,
  opts: BuildOptions = {},
): Promise<BuildResult> {
  const l = sayLang(lang);
  const speech = PROMPT_SET_SPEECH[l];
  const names = (opts.names ?? Object.keys(speech)).map((n, i) => {
    const name = promptName(n, `names[${i}]`);
    if (!Object.hasOwn(speech, name))
      throw new SwitchboardError(
        'E_PROMPT_NAME',
        `names[${i}] ${JSON.stringify(n)} is not a prompt of the ${l} set`,
        {
          details: { field: `names[${i}]`, value: n },
        },
      );
    return name;
  });
  const voice = await checkVoice(opts.voice ?? PROMPT_SET_VOICE[l]);
  const speed = checkSpeed(opts.speed ?? PROMPT_SET_SPEED);
  const format = checkFormat(opts.format ?? 'alaw');
  const dir = resolve(root, l);
  const rendered: string[] = [];
  const kept: string[] = [];
  const queue = [...names];
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const file = promptFile(dir, name);
      if (await present(file)) {
        kept.push(name);
        continue;
      }
      await renderSpeech(speech[name] as string, { voice, speed, format, trimSilence: true }, file);
      rendered.push(name);
    }
  };
  // espeak-ng and sox are single-threaded: one pair per core.
  await Promise.all(Array.from({ length: Math.min(availableParallelism(), 4) }, worker));
  return { dir, rendered: rendered.sort(), kept: kept.sort() };
}

async function present(file: string): Promise<boolean> {
  try {
    await checkPlayable(file);
    return true;
  } catch (err) {
    // Only absence means "render it": an unplayable file someone put there is theirs to fix.
    if (isSwitchboardError(err, 'E_PROMPT_MISSING')) return false;
    if (isSwitchboardError(err, 'E_PROMPT_FORMAT')) return true;
    throw err;
  }
}

export interface ResolveOptions {
  /** The directory holding one prompt set per language (`<root>/<lang>/<name>.wav`). */
  root: string;
  /** The caller's language, e.g. `zh`. */
  lang: string;
  /** The set that stands in for a prompt the language lacks; default `en`; null for none. */
  fallback?: string | null;
}

/**
 * Turns a playlist into absolute file paths for the media thread. Each entry is a prompt name,
 * looked up in the language's set and then the fallback set, or the absolute path of an uploaded
 * prompt. Every file is checked with checkPlayable. A name in neither set is E_PROMPT_MISSING
 * naming the prompt, the sets and the entry (details.field `names[i]`).
 */
export async function resolvePlaylist(
  names: readonly string[],
  opts: ResolveOptions,
): Promise<string[]> {
  const sets = [langTag(opts.lang, 'lang')];
  const fallback = opts.fallback === undefined ? 'en' : opts.fallback;
  if (fallback !== null && fallback !== sets[0]) sets.push(langTag(fallback, 'fallback'));
  const root = resolve(opts.root);
  const out: string[] = [];
  for (const [i, entry] of names.entries()) {
    const field = `names[${i}]`;
    if (typeof entry === 'string' && isAbsolute(entry)) {
      await checkPlayable(entry);
      out.push(entry);
      continue;
    }
    const name = promptName(entry, field);
    let found: string | undefined;
    for (const set of sets) {
      const file = promptFile(resolve(root, set), name, field);
      try {
        await checkPlayable(file);
        found = file;
        break;
      } catch (err) {
        if (!isSwitchboardError(err, 'E_PROMPT_MISSING')) throw err;
      }
    }
    if (!found) {
      const where =
        sets.length === 1
          ? `is not in the ${sets[0]} prompt set`
          : `is in neither the ${sets[0]} nor the ${sets[1]} prompt set`;
      throw new SwitchboardError('E_PROMPT_MISSING', `prompt ${name} ${where} under ${root}`, {
        details: { field, name, sets, root },
      });
    }
    out.push(found);
  }
  return out;
}
