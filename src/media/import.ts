// SPDX-License-Identifier: GPL-2.0-or-later
// Prompt uploads: a playable WAV kept bit-exact, anything else sox reads converted, never a half file.

import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { isSwitchboardError, SwitchboardError } from '../core/errors.ts';
import { promptFile, promptName } from './names.ts';
import { runTool, soxOutputArgs, soxWarnings, toolWords } from './sox.ts';
import {
  checkPlayable,
  fileError,
  inspectWav,
  PLAYABLE_FORMATS,
  type PlayableFormat,
  playProblems,
  type WavInfo,
} from './wav.ts';

/** Longest prompt accepted by default, ms (30 minutes: music on hold, long announcements). */
export const PROMPT_MAX_DURATION_MS = 30 * 60 * 1000;
/** sox gets this long to describe a file, ms. */
const SOXI_TIMEOUT_MS = 30_000;
/** sox gets this long to convert a file, ms; 30 minutes of 48 kHz stereo converts in seconds. */
const SOX_TIMEOUT_MS = 300_000;

export interface ImportOptions {
  /** Encoding of the stored prompt; default `alaw` (E1). One of alaw, ulaw, pcm16. */
  format?: PlayableFormat;
  /**
   * Longest prompt accepted, in ms; default PROMPT_MAX_DURATION_MS (30 min), range 1 ms to
   * 24 h. Longer uploads are refused with E_PROMPT_TOO_LONG.
   */
  maxDurationMs?: number;
  /** How the source is named in messages (the upload's original file name); default its path. */
  label?: string;
  /**
   * sox file type of the source (`mp3`, `flac`, `ogg`...), for uploads stored under a name
   * without a telling extension; default: sox guesses from the extension, then the header.
   */
  type?: string;
}

/** Where the prompt goes: a plain prompt name (`welcome`, `ivr/menu`) inside a directory. */
export interface PromptDestination {
  /** The prompt directory; created if missing. */
  dir: string;
  /** A plain prompt name, checked by promptName(); stored as `<dir>/<name>.wav`. */
  name: string;
}

/** What a source held, as far as the import needs to say. */
export interface AudioDescription {
  /** File type: `wav`, `flac`, `ogg`... */
  container: string;
  /** Encoding: a WavInfo format name, or sox's own name for it (`flac`, `vorbis`). */
  format: string;
  rate: number;
  channels: number;
  /** Bits per sample (sox's precision for formats without a sample size). */
  bits: number;
  /** Length in ms; 0 when the source does not say (the result is checked after converting). */
  durationMs: number;
}

export interface ImportResult {
  /** Absolute path of the stored prompt. */
  path: string;
  /** The prompt name it is stored under. */
  name: string;
  /** False when the source was copied bit-exact. */
  converted: boolean;
  from: AudioDescription;
  to: AudioDescription;
  durationMs: number;
  /** sox's warnings while converting (clipped samples, a premature end of file). */
  warnings: string[];
}

function describeWav(info: WavInfo): AudioDescription {
  const { format, rate, channels, bits, durationMs } = info;
  return { container: 'wav', format, rate, channels, bits, durationMs };
}

/** sox's `Sample Encoding` words as our format names where they mean the same thing. */
function soxFormatName(encoding: string, bits: number): string {
  if (/Signed Integer PCM|Unsigned Integer PCM/i.test(encoding))
    return bits === 16 ? 'pcm16' : `pcm${bits}`;
  if (/Floating Point PCM/i.test(encoding)) return `float${bits}`;
  if (/A-law/i.test(encoding)) return 'alaw';
  if (/u-law/i.test(encoding)) return 'ulaw';
  if (/^GSM$/i.test(encoding)) return 'gsm610';
  if (/MS ADPCM/i.test(encoding)) return 'ms-adpcm';
  if (/IMA ADPCM/i.test(encoding)) return 'ima-adpcm';
  return encoding.replace(/^\d+-bit\s+/, '').toLowerCase();
}

function soxTypeArgs(type: string | undefined): string[] {
  if (type === undefined) return [];
  if (!/^[a-z0-9-]{1,16}$/i.test(type))
    throw new SwitchboardError(
      'E_PROMPT_FORMAT',
      `type ${JSON.stringify(type)} is not a sox file type`,
      {
        details: { field: 'type', value: type },
      },
    );
  return ['-t', type.toLowerCase()];
}

/** Asks sox what a file holds; a file sox cannot decode is refused in sox's own words. */
async function describeWithSox(
  path: string,
  label: string,
  type: string | undefined,
): Promise<AudioDescription> {
  const args = [...soxTypeArgs(type), path];
  const [info, kind] = await Promise.all([
    runTool('soxi', args, { timeoutMs: SOXI_TIMEOUT_MS }),
    runTool('soxi', ['-t', ...args], { timeoutMs: SOXI_TIMEOUT_MS }),
  ]);
  if (info.code !== 0) {
    const words = toolWords(info.stderr) || `soxi exited with ${info.code}`;
    throw new SwitchboardError('E_PROMPT_FORMAT', `${label}: not audio sox can decode (${words})`, {
      details: { file: label, field: 'file', sox: info.stderr.trim() },
    });
  }
  const field = (name: string) =>
    new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(info.stdout)?.[1]?.trim() ?? '';
  const rate = Number.parseFloat(field('Sample Rate')) || 0;
  const bits = Number.parseInt(field('Precision'), 10) || 0;
  const samples = /=\s*(\d+) samples/.exec(field('Duration'));
  const durationMs = samples && rate > 0 ? Math.round((Number(samples[1]) / rate) * 1000) : 0;
  return {
    container: kind.stdout.trim() || extname(path).slice(1).toLowerCase(),
    format: soxFormatName(field('Sample Encoding'), bits),
    rate,
    channels: Number.parseInt(field('Channels'), 10) || 0,
    bits,
    durationMs,
  };
}

function tooLong(label: string, durationMs: number, maxMs: number): SwitchboardError {
  const min = (ms: number) => `${(ms / 60_000).toFixed(1)} min`;
  return new SwitchboardError(
    'E_PROMPT_TOO_LONG',
    `${label}: ${min(durationMs)} is longer than the longest prompt accepted (${min(maxMs)})`,
    { details: { file: label, field: 'durationMs', value: durationMs, max: maxMs } },
  );
}

/** Flushes a written file to the disk, so that the rename after it cannot expose an empty file. */
async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function checkOptions(opts: ImportOptions): { format: PlayableFormat; maxMs: number } {
  const format = opts.format ?? 'alaw';
  if (!PLAYABLE_FORMATS.includes(format))
    throw new SwitchboardError(
      'E_PROMPT_FORMAT',
      `format ${JSON.stringify(format)} is not one of ${PLAYABLE_FORMATS.join(', ')}`,
      {
        details: { field: 'format', value: format },
      },
    );
  const maxMs = opts.maxDurationMs ?? PROMPT_MAX_DURATION_MS;
  if (!Number.isInteger(maxMs) || maxMs < 1 || maxMs > 86_400_000)
    throw new SwitchboardError(
      'E_PROMPT_FORMAT',
      `maxDurationMs ${maxMs} is not an integer from 1 to 86400000`,
      {
        details: { field: 'maxDurationMs', value: maxMs },
      },
    );
  return { format, maxMs };
}

/**
 * Stores an uploaded prompt as `<dest.dir>/<dest.name>.wav` in the requested encoding.
 * A WAV that is already 8 kHz mono in that encoding with a plain header is copied bit-exact;
 * anything else sox can decode is converted to 8 kHz mono. Refused: a bad name (E_PROMPT_NAME),
 * a missing source (E_PROMPT_MISSING), an empty, damaged (truncated WAV) or undecodable file
 * (E_PROMPT_FORMAT, with sox's words in details.sox), a prompt over the maximum length
 * (E_PROMPT_TOO_LONG). The prompt is written to a hidden temporary file in the same directory
 * and renamed into place, so a failed import leaves no half file and keeps the prompt it would
 * have replaced.
 */
export async function importPrompt(
  source: string,
  dest: PromptDestination,
  opts: ImportOptions = {},
): Promise<ImportResult> {
  const name = promptName(dest.name, 'name');
  const target = promptFile(dest.dir, name);
  const { format, maxMs } = checkOptions(opts);
  // An absolute path: sox must never read a name like `-n` as an option.
  const src = resolve(source);
  const label = opts.label ?? source;

  let size: number;
  try {
    const st = await stat(src);
    if (!st.isFile()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' });
    size = st.size;
  } catch (err) {
    throw fileError(err, label);
  }
  if (size === 0)
    throw new SwitchboardError('E_PROMPT_FORMAT', `${label}: is empty (0 bytes)`, {
      details: { file: label, field: 'file', value: 0 },
    });

  let wav: WavInfo | undefined;
  try {
    wav = await inspectWav(src, { label });
  } catch (err) {
    // A file that is not RIFF/WAVE may be another format sox reads; a RIFF/WAVE file with a
    // damaged header is a damaged upload: converting it would store a prompt cut short.
    if (
      !isSwitchboardError(err, 'E_PROMPT_FORMAT') ||
      !(err.details as { notWav?: boolean }).notWav
    )
      throw err;
  }
  if (wav && wav.dataBytes === 0)
    throw new SwitchboardError(
      'E_PROMPT_FORMAT',
      `${label}: has no audio (the data chunk is empty)`,
      {
        details: { file: label, field: 'data', value: 0 },
      },
    );

  const tmp = join(dirname(target), `.${basename(target)}.${randomUUID()}.tmp`);
  await mkdir(dirname(target), { recursive: true }).catch((err) => {
    throw fileError(err, dest.dir);
  });
  try {
    let from: AudioDescription;
    let warnings: string[] = [];
    const copy = wav !== undefined && wav.format === format && playProblems(wav).length === 0;
    if (wav && copy) {
      if (wav.durationMs > maxMs) throw tooLong(label, wav.durationMs, maxMs);
      from = describeWav(wav);
      await copyFile(src, tmp);
    } else {
      from = wav ? describeWav(wav) : await describeWithSox(src, label, opts.type);
      if (from.durationMs > maxMs) throw tooLong(label, from.durationMs, maxMs);
      const args = [
        '--no-glob',
        ...(wav ? [] : soxTypeArgs(opts.type)),
        src,
        ...soxOutputArgs(format),
        tmp,
      ];
      const run = await runTool('sox', args, { timeoutMs: SOX_TIMEOUT_MS });
      if (run.code !== 0) {
        const words =
          run.code === null
            ? `sox did not finish within ${SOX_TIMEOUT_MS / 1000} s`
            : toolWords(run.stderr);
        throw new SwitchboardError(
          'E_PROMPT_FORMAT',
          `${label}: sox cannot convert it (${words})`,
          {
            details: { file: label, field: 'file', sox: run.stderr.trim() },
          },
        );
      }
      warnings = soxWarnings(run.stderr);
    }
    // The stored file is checked as the media thread will see it, whatever the path to it was.
    const stored = await checkPlayable(tmp, { label: `${label} (as stored)` });
    if (stored.durationMs > maxMs) throw tooLong(label, stored.durationMs, maxMs);
    await syncFile(tmp);
    await rename(tmp, target);
    return {
      path: target,
      name,
      converted: !copy,
      from,
      to: describeWav(stored),
      durationMs: stored.durationMs,
      warnings,
    };
  } catch (err) {
    await rm(tmp, { force: true });
    if (err instanceof SwitchboardError) throw err;
    throw new SwitchboardError(
      'E_PROMPT_IO',
      `${target}: cannot be written (${(err as NodeJS.ErrnoException).code ?? err})`,
      {
        cause: err,
        details: { file: target, field: 'name', value: name },
      },
    );
  }
}
