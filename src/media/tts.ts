// SPDX-License-Identifier: GPL-2.0-or-later
// Text-to-speech prompts: espeak-ng through sox to 8 kHz mono, cached by content with an LRU size cap.

import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { SwitchboardError } from '../core/errors.ts';
import { missingTool, runTool, soxOutputArgs, toolWords } from './sox.ts';
import { checkPlayable, PLAYABLE_FORMATS, type PlayableFormat } from './wav.ts';

/** Longest text rendered, in characters after whitespace is collapsed: about two minutes of speech. */
export const TTS_MAX_TEXT_CHARS = 2000;
/** Default speaking rate, words per minute: slower than espeak-ng's 175, for phone lines. */
export const TTS_DEFAULT_SPEED = 160;
/** espeak-ng's own limits on the speaking rate, words per minute. */
export const TTS_MIN_SPEED = 80;
export const TTS_MAX_SPEED = 450;
/** Voice when none is given. */
export const TTS_DEFAULT_VOICE = 'en';
/** Cache size cap when none is given, bytes (64 MiB: over an hour of A-law speech). */
export const TTS_DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
/** espeak-ng and sox together get this long for one text, ms. */
const RENDER_TIMEOUT_MS = 60_000;
/** A temporary file older than this is a leftover of a crash and is removed, ms. */
const STALE_TMP_MS = 10 * 60_000;

export interface TtsOptions {
  /**
   * espeak-ng voice: a language id or alias from `espeak-ng --voices` (`en`, `en-us`, `cmn`,
   * `cmn-latn-pinyin`, `yue`...), case-insensitive; default `en`.
   */
  voice?: string;
  /** Speaking rate in words per minute; default 160, range 80..450 (integer). */
  speed?: number;
  /** Directory of rendered prompts; created if missing. Nothing else should live there. */
  cacheDir: string;
  /** Encoding of the rendered file; default `alaw`. One of alaw, ulaw, pcm16. */
  format?: PlayableFormat;
  /**
   * Cache size cap, bytes; default TTS_DEFAULT_CACHE_BYTES (64 MiB), range 0..2^53-1. After each
   * render the least recently used files go until the cache fits (the new file always stays).
   */
  maxCacheBytes?: number;
}

export interface TtsResult {
  /** Absolute path of the rendered WAV (8 kHz mono). */
  path: string;
  /** True when the file was already in the cache. */
  cached: boolean;
  /** The cache key: sha256 of engine versions, voice, speed, format and text. */
  key: string;
}

export interface TtsVoice {
  /** The language id espeak-ng lists first (`en-us`, `cmn`, `yue`); accepted as a voice. */
  name: string;
  /** Other names that select this voice (`en`, `zh`, `zh-cmn`); accepted as voices. */
  aliases: string[];
  /** espeak-ng's description, e.g. `English (America)`. */
  description: string;
  /** espeak-ng's voice file, e.g. `gmw/en-US`. */
  file: string;
}

/** Counters since the process started, for metrics and tests. */
export const ttsStats = { renders: 0, hits: 0, evictions: 0 };

function inputError(field: string, value: unknown, message: string): SwitchboardError {
  return new SwitchboardError('E_TTS_INPUT', message, { details: { field, value } });
}

/** Text as it is keyed and spoken: NFC, control characters as spaces, whitespace collapsed. */
export function normaliseTtsText(text: unknown): string {
  if (typeof text !== 'string') throw inputError('text', text, 'text is not a string');
  const clean = text
    .normalize('NFC')
    .replace(/\p{Cc}/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (clean.length === 0) throw inputError('text', text, 'text is empty: nothing to speak');
  if (clean.length > TTS_MAX_TEXT_CHARS)
    throw inputError(
      'text',
      `${clean.slice(0, 40)}…`,
      `text is ${clean.length} characters, more than ${TTS_MAX_TEXT_CHARS}; split it into several prompts`,
    );
  return clean;
}

/** A speaking rate in words per minute, TTS_MIN_SPEED..TTS_MAX_SPEED. */
export function checkSpeed(speed: unknown): number {
  if (
    typeof speed !== 'number' ||
    !Number.isInteger(speed) ||
    speed < TTS_MIN_SPEED ||
    speed > TTS_MAX_SPEED
  )
    throw inputError(
      'speed',
      speed,
      `speed ${String(speed)} is not a whole number of words per minute from ${TTS_MIN_SPEED} to ${TTS_MAX_SPEED}`,
    );
  return speed;
}

/** One of the playable encodings. */
export function checkFormat(format: unknown): PlayableFormat {
  if (!PLAYABLE_FORMATS.includes(format as PlayableFormat))
    throw inputError(
      'format',
      format,
      `format ${String(format)} is not one of ${PLAYABLE_FORMATS.join(', ')}`,
    );
  return format as PlayableFormat;
}

let voicesPromise: Promise<TtsVoice[]> | undefined;
let versionPromise: Promise<string> | undefined;

/** Parses `espeak-ng --voices`: `Pty Language Age/Gender VoiceName File Other Languages`. */
export function parseVoiceList(text: string): TtsVoice[] {
  const voices: TtsVoice[] = [];
  for (const line of text.split('\n').slice(1)) {
    const m = /^\s*\d+\s+(\S+)\s+\S+\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, name = '', description = '', file = '', others = ''] = m;
    const aliases = [...others.matchAll(/\((\S+)\s+\d+\)/g)].map((a) => (a[1] ?? '').toLowerCase());
    voices.push({
      name: name.toLowerCase(),
      aliases,
      description: description.replace(/_/g, ' '),
      file,
    });
  }
  return voices;
}

/** espeak-ng's voices, read once per process (the list only changes with the package). */
export function ttsVoices(): Promise<TtsVoice[]> {
  voicesPromise ??= (async () => {
    const run = await runTool('espeak-ng', ['--voices'], { timeoutMs: 10_000 });
    if (run.code !== 0)
      throw new SwitchboardError('E_TTS', `espeak-ng --voices failed (${toolWords(run.stderr)})`, {
        details: { espeak: run.stderr.trim() },
      });
    return parseVoiceList(run.stdout);
  })();
  // A failure is not cached: the next call asks again (the package may have been installed since).
  voicesPromise.catch(() => {
    voicesPromise = undefined;
  });
  return voicesPromise;
}

/** The engine versions that go into the cache key: a new espeak-ng or sox renders anew. */
function engineVersion(): Promise<string> {
  versionPromise ??= (async () => {
    const [espeak, sox] = await Promise.all([
      runTool('espeak-ng', ['--version'], { timeoutMs: 10_000 }),
      runTool('sox', ['--version'], { timeoutMs: 10_000 }),
    ]);
    return `${espeak.stdout.split('  Data at')[0]?.trim()} / ${sox.stdout.trim()}`;
  })();
  versionPromise.catch(() => {
    versionPromise = undefined;
  });
  return versionPromise;
}

/** Checks a voice against espeak-ng's list and returns it in lower case. */
export async function checkVoice(voice: unknown): Promise<string> {
  const wanted = typeof voice === 'string' ? voice.toLowerCase() : '';
  const voices = await ttsVoices();
  const known = voices.some((v) => v.name === wanted || v.aliases.includes(wanted));
  if (!known) {
    const prefix = wanted.split('-')[0] ?? '';
    const close = [...new Set(voices.flatMap((v) => [v.name, ...v.aliases]))]
      .filter((n) => prefix.length > 0 && n.startsWith(prefix))
      .slice(0, 8);
    throw new SwitchboardError(
      'E_TTS_VOICE',
      `voice ${JSON.stringify(voice)} is not an espeak-ng voice${close.length ? ` (close: ${close.join(', ')})` : ''}; ttsVoices() lists them`,
      { details: { field: 'voice', value: voice } },
    );
  }
  return wanted;
}

export interface SpeechOptions {
  /** A voice already checked by checkVoice(). */
  voice: string;
  /** Words per minute, 80..450. */
  speed: number;
  format: PlayableFormat;
  /**
   * Cut espeak-ng's leading and trailing silence (about 0.4 s a word) down to a 50 ms gap after
   * the word: prompt-set words are played back to back, and "一千零五" must not crawl.
   * Default false: running text keeps espeak-ng's own pauses.
   */
  trimSilence?: boolean;
}

/** sox effects that trim silence below 0.5% of full scale at both ends, then pad 50 ms after. */
const TRIM_EFFECTS = [
  'silence',
  '1',
  '0.005',
  '0.5%',
  'reverse',
  'silence',
  '1',
  '0.005',
  '0.5%',
  'reverse',
  'pad',
  '0',
  '0.05',
];

/**
 * Renders `text` with espeak-ng piped into sox and stores the result at `dest` through a hidden
 * temporary file and a rename, so `dest` is either absent or whole. Text goes in on standard
 * input: text starting with `-` can never be read as an option.
 */
export async function renderSpeech(text: string, opts: SpeechOptions, dest: string): Promise<void> {
  const tmp = join(dirname(dest), `.${basename(dest)}.${randomUUID()}.tmp`);
  await mkdir(dirname(dest), { recursive: true });
  try {
    await pipeEspeakToSox(text, opts, tmp);
    await checkPlayable(tmp, { label: 'text-to-speech output' }).catch((err: SwitchboardError) => {
      throw new SwitchboardError(
        'E_TTS',
        `espeak-ng and sox produced no playable audio (${err.message})`,
        {
          cause: err,
          details: { voice: opts.voice, text: text.slice(0, 80) },
        },
      );
    });
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

function pipeEspeakToSox(text: string, opts: SpeechOptions, out: string): Promise<void> {
  return new Promise<void>((done, fail) => {
    const espeakArgs = [
      '-v',
      opts.voice,
      '-s',
      String(opts.speed),
      '-b',
      '1',
      '--stdin',
      '--stdout',
    ];
    const soxArgs = ['--no-glob', '-t', 'wav', '-', ...soxOutputArgs(opts.format), out];
    if (opts.trimSilence) soxArgs.push(...TRIM_EFFECTS);
    const espeak = spawn('espeak-ng', espeakArgs, { stdio: ['pipe', 'pipe', 'pipe'] });
    const sox = spawn('sox', soxArgs, { stdio: ['pipe', 'ignore', 'pipe'] });
    const stderr = { espeak: '', sox: '' };
    const codes: { espeak?: number | null; sox?: number | null } = {};
    let failed = false;
    const timer = setTimeout(() => {
      espeak.kill('SIGKILL');
      sox.kill('SIGKILL');
    }, RENDER_TIMEOUT_MS);
    const finish = (err?: SwitchboardError) => {
      if (failed) return;
      if (err) {
        failed = true;
        clearTimeout(timer);
        espeak.kill('SIGKILL');
        sox.kill('SIGKILL');
        fail(err);
        return;
      }
      if (codes.espeak === undefined || codes.sox === undefined) return;
      clearTimeout(timer);
      // A sox that fails first closes the pipe under espeak-ng, which then dies of SIGPIPE
      // (code null): the fault, and the words worth showing, are sox's.
      const espeakFault = codes.espeak !== 0 && !(codes.espeak === null && codes.sox !== 0);
      const which = espeakFault ? 'espeak' : codes.sox !== 0 ? 'sox' : undefined;
      if (!which) return done();
      const code = codes[which];
      const words =
        code === null
          ? `killed after ${RENDER_TIMEOUT_MS / 1000} s`
          : toolWords(stderr[which]) || `exit ${code}`;
      fail(
        new SwitchboardError(
          'E_TTS',
          `${which === 'espeak' ? 'espeak-ng' : 'sox'} failed to render text-to-speech (${words})`,
          {
            details: { voice: opts.voice, espeak: stderr.espeak.trim(), sox: stderr.sox.trim() },
          },
        ),
      );
    };
    espeak.on('error', (err) => finish(missingTool('espeak-ng', err)));
    sox.on('error', (err) => finish(missingTool('sox', err)));
    espeak.stderr.on('data', (d: Buffer) => {
      stderr.espeak += d.toString();
    });
    sox.stderr.on('data', (d: Buffer) => {
      stderr.sox += d.toString();
    });
    // EPIPE when the other end has died: its exit code tells the story (see finish).
    sox.stdin.on('error', () => {});
    espeak.stdin.on('error', () => {});
    espeak.stdout.pipe(sox.stdin);
    espeak.on('close', (code) => {
      codes.espeak = code;
      finish();
    });
    sox.on('close', (code) => {
      codes.sox = code;
      finish();
    });
    espeak.stdin.end(text);
  });
}

/** Renders in flight, by cache path: a second request for the same key waits for the first. */
const inflight = new Map<string, Promise<TtsResult>>();

/**
 * A text-to-speech prompt: the cached file when this text was rendered before with the same
 * voice, speed, format and engine versions, else a new rendering. Refused: empty or too long text
 * and a speed out of range (E_TTS_INPUT), an unknown voice (E_TTS_VOICE); espeak-ng or sox
 * failing gives E_TTS with their standard error in details.
 */
export async function renderTts(text: string, opts: TtsOptions): Promise<TtsResult> {
  const clean = normaliseTtsText(text);
  const speed = checkSpeed(opts.speed ?? TTS_DEFAULT_SPEED);
  const format = checkFormat(opts.format ?? 'alaw');
  if (typeof opts.cacheDir !== 'string' || opts.cacheDir.length === 0)
    throw inputError('cacheDir', opts.cacheDir, 'cacheDir is not a directory path');
  const cap = opts.maxCacheBytes ?? TTS_DEFAULT_CACHE_BYTES;
  if (!Number.isSafeInteger(cap) || cap < 0)
    throw inputError(
      'maxCacheBytes',
      cap,
      `maxCacheBytes ${cap} is not a whole number of bytes >= 0`,
    );
  const voice = await checkVoice(opts.voice ?? TTS_DEFAULT_VOICE);
  const engine = await engineVersion();
  const key = createHash('sha256')
    .update(JSON.stringify([engine, voice, speed, format, clean]))
    .digest('hex');
  const dir = resolve(opts.cacheDir);
  const path = join(dir, `${key}.wav`);

  const running = inflight.get(path);
  if (running) return running;
  const job = (async (): Promise<TtsResult> => {
    try {
      await stat(path);
      touch(path);
      ttsStats.hits++;
      return { path, cached: true, key };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await renderSpeech(clean, { voice, speed, format }, path);
    touch(path);
    ttsStats.renders++;
    await evict(dir, cap, path);
    return { path, cached: false, key };
  })();
  inflight.set(path, job);
  try {
    return await job;
  } finally {
    inflight.delete(path);
  }
}

const CACHE_FILE = /^[0-9a-f]{64}\.wav$/;

/**
 * The order in which this process last used each cache file (a counter, so ties cannot happen).
 * The LRU order lives in memory rather than in access times: a hit then writes nothing, which
 * spares the appliance's flash, and leaves the file's times exactly as rendered.
 */
const lastUse = new Map<string, number>();
let uses = 0;

function touch(path: string): void {
  lastUse.set(path, ++uses);
}

/**
 * Removes least recently used cache files until the cache fits `cap`. Files this process has not
 * used (left by an earlier run) count as older than any it has, in the order they were rendered.
 * The file just rendered and files being rendered stay whatever the cap. Stale temporary files
 * from a crash go too. Files that vanish meanwhile (another eviction) are not an error.
 */
async function evict(dir: string, cap: number, keep: string): Promise<void> {
  const entries = await readdir(dir);
  const files: { path: string; size: number; order: [number, number] }[] = [];
  const now = Date.now();
  for (const entry of entries) {
    const path = join(dir, entry);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) continue;
    if (CACHE_FILE.test(entry)) {
      const used = lastUse.get(path);
      files.push({ path, size: st.size, order: used === undefined ? [0, st.mtimeMs] : [1, used] });
    } else if (entry.startsWith('.') && entry.endsWith('.tmp') && now - st.mtimeMs > STALE_TMP_MS) {
      await rm(path, { force: true });
    }
  }
  let total = files.reduce((sum, f) => sum + f.size, 0);
  if (total <= cap) return;
  files.sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1]);
  for (const f of files) {
    if (total <= cap) break;
    if (f.path === keep || inflight.has(f.path)) continue;
    await rm(f.path, { force: true });
    lastUse.delete(f.path);
    total -= f.size;
    ttsStats.evictions++;
  }
}
