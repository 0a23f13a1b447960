// SPDX-License-Identifier: GPL-2.0-or-later
// Speech for the detectors' tests: espeak-ng rendered at 8 kHz by sox, cached in the temporary directory.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CACHE = join(tmpdir(), 'switchboard-speech');

/** Long real text: the GPL, version 2 (Debian's copy). */
export const LONG_TEXT = '/usr/share/common-licenses/GPL-2';

/**
 * `text` spoken by the espeak-ng `voice`, as 16-bit linear samples at 8 kHz, peaks normalised to
 * -3 dBFS (loud speech: the harder case for talk-off). Rendered once, then read from the cache.
 */
export function speak(text: string, voice = 'en-us'): Int16Array {
  mkdirSync(CACHE, { recursive: true });
  const key = createHash('sha256').update(`v1\0${voice}\0${text}`).digest('hex').slice(0, 24);
  const raw = join(CACHE, `${key}.raw`);
  if (!existsSync(raw)) {
    const txt = join(CACHE, `${key}.${process.pid}.txt`);
    const wav = join(CACHE, `${key}.${process.pid}.wav`);
    writeFileSync(txt, text);
    execFileSync('espeak-ng', ['-v', voice, '-w', wav, '-f', txt]);
    // sox resamples with its anti-alias filter; the rename makes the cache entry appear whole.
    execFileSync('sox', [
      wav,
      '-t',
      'raw',
      '-r',
      '8000',
      '-e',
      'signed',
      '-b',
      '16',
      '-c',
      '1',
      `${raw}.tmp`,
      'gain',
      '-n',
      '-3',
    ]);
    renameSync(`${raw}.tmp`, raw);
  }
  const bytes = readFileSync(raw);
  return new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

/** Several voices (languages) reading consecutive parts of the long text. */
export const TALK_VOICES = ['en', 'en-us', 'de', 'fr', 'cmn'];

/** The long text cut in TALK_VOICES.length parts, each read by its voice: about 17 minutes. */
export function talkCorpus(): { voice: string; pcm: Int16Array }[] {
  const lines = readFileSync(LONG_TEXT, 'utf8').split('\n');
  const per = Math.ceil(lines.length / TALK_VOICES.length);
  return TALK_VOICES.map((voice, i) => ({
    voice,
    pcm: speak(lines.slice(i * per, (i + 1) * per).join('\n'), voice),
  }));
}
