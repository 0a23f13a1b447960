// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard prompts ...`: check, import and render voice prompts, and show what a number is spoken as.

import { resolve } from 'node:path';
import { importPrompt } from '../media/import.ts';
import { buildPromptSet } from '../media/promptset.ts';
import { SAY_LANGS, sayDate, sayDigits, sayNumber, sayTime } from '../media/say.ts';
import { renderTts, TTS_DEFAULT_SPEED, TTS_DEFAULT_VOICE, ttsVoices } from '../media/tts.ts';
import { checkPlayable, type PlayableFormat } from '../media/wav.ts';
import { type Command, type OptionSpec, stringValue, usageError, type Values } from './command.ts';

const FORMAT_OPTION: OptionSpec = {
  type: 'string',
  arg: 'FORMAT',
  help: 'coding of the stored prompt: alaw (default, E1), ulaw (T1) or pcm16; 8 kHz mono always',
};

function format(cmd: Command, values: Values): PlayableFormat {
  const f = stringValue(values, 'format') ?? 'alaw';
  if (f !== 'alaw' && f !== 'ulaw' && f !== 'pcm16')
    throw usageError(cmd, `--format "${f}" is not one of alaw, ulaw, pcm16`);
  return f;
}

function required(cmd: Command, values: Values, name: string): string {
  const v = stringValue(values, name);
  if (v === undefined || v === '') throw usageError(cmd, `--${name} is required`);
  return v;
}

const check: Command = {
  name: 'prompts check',
  summary: 'say whether WAV files play as they are (8 kHz mono A-law, µ-law or 16-bit PCM)',
  args: 'FILE...',
  positionals: [1, 1000],
  options: {},
  async run({ positionals, io }) {
    let bad = 0;
    for (const file of positionals) {
      try {
        const info = await checkPlayable(file);
        io.out(`${file}: ${info.format}, ${info.rate} Hz, ${info.durationMs} ms: plays as it is\n`);
      } catch (err) {
        bad += 1;
        io.out(`${(err as Error).message}\n`);
      }
    }
    return bad === 0 ? 0 : 1;
  },
};

const importCommand: Command = {
  name: 'prompts import',
  summary: 'store an audio file as a prompt, converted to 8 kHz mono when it is not already',
  args: 'SOURCE NAME',
  argHelp: [
    ['SOURCE', 'any audio file sox reads (WAV of any rate and coding, FLAC, Ogg ...)'],
    ['NAME', 'a plain prompt name such as welcome or ivr/menu (stored as DIR/NAME.wav)'],
  ],
  positionals: [2, 2],
  options: {
    dir: {
      type: 'string',
      arg: 'DIR',
      help: 'the prompt directory (created if missing); required',
    },
    format: FORMAT_OPTION,
  },
  details:
    'A file already playable in FORMAT is copied byte for byte; anything else is converted with\n' +
    'sox. A failed import leaves an earlier prompt of the same name untouched.',
  async run({ values, positionals, io }) {
    const [source, name] = positionals as [string, string];
    const r = await importPrompt(
      source,
      { dir: resolve(required(this, values, 'dir')), name },
      { format: format(this, values) },
    );
    io.out(
      `${r.path}: ${r.converted ? `converted from ${r.from.format} ${r.from.rate} Hz ${r.from.channels} channel(s)` : 'copied as it is'}, ${r.durationMs} ms\n`,
    );
    return 0;
  },
};

const tts: Command = {
  name: 'prompts tts',
  summary: 'render text to a prompt with espeak-ng (cached by text, voice, speed and format)',
  args: 'TEXT',
  positionals: [1, 1],
  options: {
    cache: { type: 'string', arg: 'DIR', help: 'the text-to-speech cache directory; required' },
    voice: {
      type: 'string',
      arg: 'VOICE',
      help: `espeak-ng voice (en, en-us, de, cmn, yue ...); default ${TTS_DEFAULT_VOICE}`,
    },
    speed: {
      type: 'string',
      arg: 'WPM',
      help: `words a minute, 80..450; default ${TTS_DEFAULT_SPEED}`,
    },
    format: FORMAT_OPTION,
    voices: { type: 'boolean', help: 'list the voices instead (TEXT is then ignored)' },
  },
  async run({ values, positionals, io }) {
    if (values.voices) {
      for (const v of await ttsVoices())
        io.out(
          `${v.name.padEnd(20)} ${v.description}${v.aliases.length ? ` (also ${v.aliases.join(', ')})` : ''}\n`,
        );
      return 0;
    }
    const speed = stringValue(values, 'speed');
    const voice = stringValue(values, 'voice');
    const r = await renderTts(positionals[0] as string, {
      cacheDir: resolve(required(this, values, 'cache')),
      ...(voice === undefined ? {} : { voice }),
      ...(speed === undefined ? {} : { speed: Number(speed) }),
      format: format(this, values),
    });
    io.out(`${r.path}${r.cached ? ' (from the cache)' : ''}\n`);
    return 0;
  },
};

const build: Command = {
  name: 'prompts build',
  summary:
    'render the missing prompts of a language set (digits, numbers, days, months) with espeak-ng',
  args: 'LANG',
  argHelp: [['LANG', SAY_LANGS.join(' or ')]],
  positionals: [1, 1],
  options: {
    root: {
      type: 'string',
      arg: 'DIR',
      help: 'the directory of the prompt sets (ROOT/LANG/NAME.wav); required',
    },
    format: FORMAT_OPTION,
  },
  details: 'Prompts already there (recorded by a person, or built before) are never replaced.',
  async run({ values, positionals, io }) {
    const r = await buildPromptSet(
      positionals[0] as string,
      resolve(required(this, values, 'root')),
      {
        format: format(this, values),
      },
    );
    io.out(`${r.dir}: ${r.rendered.length} rendered, ${r.kept.length} kept\n`);
    return 0;
  },
};

const say: Command = {
  name: 'prompts say',
  summary: 'show the prompts a number, digit string, date or time is spoken with',
  args: 'KIND VALUE',
  argHelp: [
    ['KIND', 'number, digits, date or time'],
    ['VALUE', 'an integer, a digit string, or an ISO date-time such as 2026-11-23T14:05'],
  ],
  positionals: [2, 2],
  options: {
    lang: { type: 'string', arg: 'LANG', help: `${SAY_LANGS.join(' or ')}; default en` },
  },
  async run({ values, positionals, io }) {
    const [kind, value] = positionals as [string, string];
    const lang = stringValue(values, 'lang') ?? 'en';
    let names: string[];
    if (kind === 'number') names = sayNumber(Number(value), lang);
    else if (kind === 'digits') names = sayDigits(value, lang);
    else if (kind === 'date') names = sayDate(new Date(value), lang);
    else if (kind === 'time') names = sayTime(new Date(value), lang);
    else throw usageError(this, `KIND "${kind}" is not one of number, digits, date, time`);
    io.out(`${names.join(' ')}\n`);
    return 0;
  },
};

export const promptCommands: Command[] = [check, importCommand, tts, build, say];
