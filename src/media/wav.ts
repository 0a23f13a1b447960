// SPDX-License-Identifier: GPL-2.0-or-later
// WAV headers: what a file holds, and whether the media thread plays it (8 kHz mono A-law, µ-law, PCM16).

import { type FileHandle, open } from 'node:fs/promises';
import { SwitchboardError } from '../core/errors.ts';

/** The encodings the native media thread plays and records. */
export type PlayableFormat = 'alaw' | 'ulaw' | 'pcm16';
export const PLAYABLE_FORMATS: readonly PlayableFormat[] = ['alaw', 'ulaw', 'pcm16'];
/** The only sample rate on an E1/T1 time slot, in Hz. */
export const PLAYABLE_RATE = 8000;

/** WAVE format tags (RFC 2361 and mmreg.h). */
export const WAVE_FORMAT = {
  PCM: 0x0001,
  MS_ADPCM: 0x0002,
  IEEE_FLOAT: 0x0003,
  ALAW: 0x0006,
  MULAW: 0x0007,
  IMA_ADPCM: 0x0011,
  GSM610: 0x0031,
  G721_ADPCM: 0x0040,
  MPEG: 0x0050,
  MPEGLAYER3: 0x0055,
  EXTENSIBLE: 0xfffe,
} as const;

/** Names of the compressed tags we recognise; anything else is `tag-0xNNNN`. */
const TAG_NAMES: Readonly<Record<number, string>> = {
  [WAVE_FORMAT.MS_ADPCM]: 'ms-adpcm',
  [WAVE_FORMAT.IMA_ADPCM]: 'ima-adpcm',
  [WAVE_FORMAT.GSM610]: 'gsm610',
  [WAVE_FORMAT.G721_ADPCM]: 'g721',
  [WAVE_FORMAT.MPEG]: 'mpeg',
  [WAVE_FORMAT.MPEGLAYER3]: 'mp3',
};

const COMPRESSED: ReadonlySet<string> = new Set(Object.values(TAG_NAMES));

/** How each format name reads in a message. */
const FORMAT_DESCRIPTIONS: Readonly<Record<string, string>> = {
  alaw: 'A-law',
  ulaw: 'µ-law',
  pcm16: '16-bit PCM',
  'ms-adpcm': 'MS ADPCM',
  'ima-adpcm': 'IMA ADPCM',
  gsm610: 'GSM 6.10',
  g721: 'G.721 ADPCM',
  mpeg: 'MPEG audio',
  mp3: 'MP3',
};

export function describeFormat(format: string): string {
  const known = FORMAT_DESCRIPTIONS[format];
  if (known) return known;
  const pcm = /^pcm(\d+)$/.exec(format);
  if (pcm) return `${pcm[1]}-bit PCM`;
  const float = /^float(\d+)$/.exec(format);
  if (float) return `${float[1]}-bit float`;
  return format;
}

/** The tail shared by every KSDATAFORMAT_SUBTYPE GUID; its first two bytes are the format tag. */
const SUBTYPE_GUID_TAIL = Buffer.from('000000001000800000aa00389b71', 'hex');

export interface WavInfo {
  /**
   * `alaw`, `ulaw` or `pcm16` for what the media thread plays; otherwise `pcm8`, `pcm24`,
   * `pcm32`, `float32`, `float64`, `ms-adpcm`, `ima-adpcm`, `gsm610`, `g721`, `mpeg`, `mp3` or
   * `tag-0xNNNN`. For WAVE_FORMAT_EXTENSIBLE this names the sub-format.
   */
  format: string;
  /** The fmt chunk's format tag (0xfffe for WAVE_FORMAT_EXTENSIBLE). */
  formatTag: number;
  /** The header is WAVE_FORMAT_EXTENSIBLE; `format` is its sub-format. */
  extensible: boolean;
  /** Samples per second per channel, Hz. */
  rate: number;
  channels: number;
  /** Bits per sample as the fmt chunk states it (4 for IMA ADPCM, 0 for GSM 6.10). */
  bits: number;
  /** Bytes per sample frame (all channels), or per compressed block. */
  blockAlign: number;
  /** Byte offset of the first audio byte in the file. */
  dataOffset: number;
  /** Audio bytes in the data chunk. */
  dataBytes: number;
  /** Length of the audio, rounded to the millisecond. */
  durationMs: number;
  /** Size of the whole file, bytes. */
  fileBytes: number;
}

export interface WavOptions {
  /** How the file is named in messages (an upload's original name); default the path. */
  label?: string;
}

/** Most chunks walked before the data chunk: real files have a handful; more is damage. */
const MAX_CHUNKS = 1024;
/** A fmt chunk is 16, 18 or 40 bytes; anything this large is not a fmt chunk. */
const MAX_FMT_BYTES = 1024;

function formatError(
  label: string,
  field: string,
  value: unknown,
  message: string,
  extra: Record<string, unknown> = {},
): SwitchboardError {
  return new SwitchboardError('E_PROMPT_FORMAT', `${label}: ${message}`, {
    details: { file: label, field, value, ...extra },
  });
}

/** Maps a file-system error on `path` to the prompt error a caller can act on. */
export function fileError(err: unknown, label: string): SwitchboardError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new SwitchboardError('E_PROMPT_MISSING', `${label}: no such file`, {
      cause: err,
      details: { file: label, field: 'file' },
    });
  const why = code === 'EISDIR' ? 'is a directory, not a file' : `cannot be read (${code ?? err})`;
  return new SwitchboardError('E_PROMPT_IO', `${label}: ${why}`, {
    cause: err,
    details: { file: label, field: 'file', code },
  });
}

async function readAt(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, offset);
  return buf.subarray(0, bytesRead);
}

interface Fmt {
  formatTag: number;
  channels: number;
  rate: number;
  byteRate: number;
  blockAlign: number;
  bits: number;
  subTag: number | undefined;
}

function parseFmt(body: Buffer, label: string, offset: number): Fmt {
  if (body.length < 16)
    throw formatError(
      label,
      'fmt',
      body.length,
      `corrupt header: the fmt chunk at byte ${offset} is ${body.length} bytes, shorter than 16`,
    );
  const fmt: Fmt = {
    formatTag: body.readUInt16LE(0),
    channels: body.readUInt16LE(2),
    rate: body.readUInt32LE(4),
    byteRate: body.readUInt32LE(8),
    blockAlign: body.readUInt16LE(12),
    bits: body.readUInt16LE(14),
    subTag: undefined,
  };
  if (fmt.formatTag === WAVE_FORMAT.EXTENSIBLE) {
    // cbSize (2) + valid bits (2) + channel mask (4) + sub-format GUID (16) follow the 16 bytes.
    if (body.length < 40 || body.readUInt16LE(16) < 22)
      throw formatError(
        label,
        'fmt',
        body.length,
        'corrupt header: WAVE_FORMAT_EXTENSIBLE fmt chunk is too short for its sub-format',
      );
    const guid = body.subarray(24, 40);
    fmt.subTag = guid.subarray(2).equals(SUBTYPE_GUID_TAIL) ? guid.readUInt16LE(0) : -1;
  }
  return fmt;
}

function formatName(tag: number, bits: number): string {
  if (tag === WAVE_FORMAT.PCM) return bits === 16 ? 'pcm16' : `pcm${bits}`;
  if (tag === WAVE_FORMAT.IEEE_FLOAT) return `float${bits}`;
  if (tag === WAVE_FORMAT.ALAW) return 'alaw';
  if (tag === WAVE_FORMAT.MULAW) return 'ulaw';
  if (tag === -1) return 'extensible-unknown';
  return TAG_NAMES[tag] ?? `tag-0x${tag.toString(16).padStart(4, '0')}`;
}

/** Formats whose block is one sample frame, so its size follows from channels and bits. */
const FRAME_FORMATS: ReadonlySet<number> = new Set([
  WAVE_FORMAT.PCM,
  WAVE_FORMAT.IEEE_FLOAT,
  WAVE_FORMAT.ALAW,
  WAVE_FORMAT.MULAW,
]);

function checkFmtValues(fmt: Fmt, tag: number, label: string): void {
  if (fmt.channels === 0) throw formatError(label, 'channels', 0, 'corrupt header: 0 channels');
  if (fmt.rate === 0) throw formatError(label, 'rate', 0, 'corrupt header: sample rate 0 Hz');
  if (FRAME_FORMATS.has(tag)) {
    if (fmt.bits === 0 || fmt.bits % 8 !== 0)
      throw formatError(label, 'bits', fmt.bits, `corrupt header: ${fmt.bits} bits per sample`);
    const expected = (fmt.channels * fmt.bits) / 8;
    if (fmt.blockAlign !== expected)
      throw formatError(
        label,
        'blockAlign',
        fmt.blockAlign,
        `corrupt header: block align ${fmt.blockAlign} does not match ${fmt.channels} channel(s) of ${fmt.bits} bits (${expected})`,
      );
  }
}

/**
 * Reads a WAV file's header: chunks in any order, unknown chunks (LIST, fact, cue...) skipped,
 * fmt (plain or WAVE_FORMAT_EXTENSIBLE) and data located. Throws E_PROMPT_MISSING for a missing
 * file, E_PROMPT_IO when it cannot be read, and E_PROMPT_FORMAT for an empty file, a file that is
 * not RIFF/WAVE, a corrupt header, or a data chunk that runs past the end of the file (truncated).
 * A WAV that is valid but not playable is returned as it is: see `checkPlayable`.
 */
export async function inspectWav(path: string, opts: WavOptions = {}): Promise<WavInfo> {
  const label = opts.label ?? path;
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw fileError(err, label);
  }
  try {
    const stat = await fh.stat();
    if (!stat.isFile())
      throw fileError(Object.assign(new Error('EISDIR'), { code: 'EISDIR' }), label);
    return await readHeader(fh, stat.size, label);
  } catch (err) {
    if (err instanceof SwitchboardError) throw err;
    throw fileError(err, label);
  } finally {
    await fh.close();
  }
}

async function readHeader(fh: FileHandle, fileBytes: number, label: string): Promise<WavInfo> {
  if (fileBytes === 0) throw formatError(label, 'file', 0, 'is empty (0 bytes)');
  const riff = await readAt(fh, 0, 12);
  const magic = riff.subarray(0, 4).toString('latin1');
  if (riff.length < 12 || riff.subarray(8, 12).toString('latin1') !== 'WAVE') {
    const what =
      magic === 'RIFF' ? 'a RIFF file but not WAVE' : 'not a WAV file (no RIFF/WAVE header)';
    throw formatError(label, 'header', magic, `is ${what}`, { notWav: true });
  }
  if (magic !== 'RIFF') {
    // RF64 (files over 4 GiB) and RIFX (big-endian) are real but nothing on a switch writes them.
    throw formatError(
      label,
      'header',
      magic,
      `is a ${magic} WAV; only little-endian RIFF is read`,
      {
        notWav: true,
      },
    );
  }

  let fmt: Fmt | undefined;
  let data: { offset: number; bytes: number } | undefined;
  let factSamples: number | undefined;
  let offset = 12;
  let n = 0;
  while (!fmt || !data) {
    if (offset + 8 > fileBytes) {
      if (!fmt) throw formatError(label, 'fmt', undefined, 'corrupt header: no fmt chunk');
      throw formatError(label, 'data', undefined, 'has no data chunk');
    }
    if (n >= MAX_CHUNKS)
      throw formatError(
        label,
        'header',
        n,
        `corrupt header: more than ${MAX_CHUNKS} chunks before the audio`,
      );
    const head = await readAt(fh, offset, 8);
    const id = head.subarray(0, 4).toString('latin1');
    const size = head.readUInt32LE(4);
    const bodyAt = offset + 8;
    if (id === 'data') {
      if (bodyAt + size > fileBytes) {
        throw formatError(
          label,
          'data',
          size,
          `is truncated: the data chunk holds ${size} bytes but only ${fileBytes - bodyAt} follow byte ${bodyAt}`,
          { dataBytes: size, available: fileBytes - bodyAt },
        );
      }
      data = { offset: bodyAt, bytes: size };
    } else if (bodyAt + size > fileBytes) {
      const shown = /^[\x20-\x7e]{4}$/.test(id) ? `the ${id.trim()} chunk` : 'a chunk';
      throw formatError(
        label,
        'header',
        id,
        `is truncated: ${shown} at byte ${offset} claims ${size} bytes, past the end of the file (${fileBytes} bytes)`,
      );
    } else if (id === 'fmt ') {
      if (size > MAX_FMT_BYTES)
        throw formatError(label, 'fmt', size, `corrupt header: the fmt chunk claims ${size} bytes`);
      fmt = parseFmt(await readAt(fh, bodyAt, size), label, offset);
    } else if (id === 'fact' && size >= 4) {
      factSamples = (await readAt(fh, bodyAt, 4)).readUInt32LE(0);
    }
    // Chunks are word-aligned: an odd-sized chunk is followed by one pad byte.
    offset = bodyAt + size + (size % 2);
    n++;
  }

  const f = fmt;
  const extensible = f.formatTag === WAVE_FORMAT.EXTENSIBLE;
  const tag = extensible ? (f.subTag as number) : f.formatTag;
  checkFmtValues(f, tag, label);
  const format = formatName(tag, f.bits);
  let durationMs: number;
  if (FRAME_FORMATS.has(tag)) {
    durationMs = (Math.floor(data.bytes / f.blockAlign) / f.rate) * 1000;
  } else if (factSamples !== undefined) {
    durationMs = (factSamples / f.rate) * 1000;
  } else {
    durationMs = f.byteRate > 0 ? (data.bytes / f.byteRate) * 1000 : 0;
  }
  return {
    format,
    formatTag: f.formatTag,
    extensible,
    rate: f.rate,
    channels: f.channels,
    bits: f.bits,
    blockAlign: f.blockAlign,
    dataOffset: data.offset,
    dataBytes: data.bytes,
    durationMs: Math.round(durationMs),
    fileBytes,
  };
}

export interface PlayProblem {
  /** The header field at fault: format, bits, rate, channels, data. */
  field: string;
  value: unknown;
  message: string;
}

/**
 * Why the media thread could not play a WAV with this header; empty when it can.
 * WAVE_FORMAT_EXTENSIBLE is refused even around A-law, µ-law or PCM16: the media thread reads the
 * plain tags 1, 6 and 7 (its brief), and importing the file rewrites the header losslessly.
 */
export function playProblems(info: WavInfo): PlayProblem[] {
  const out: PlayProblem[] = [];
  const desc = describeFormat(info.format);
  if (!(PLAYABLE_FORMATS as readonly string[]).includes(info.format)) {
    if (/^pcm\d+$/.test(info.format) || /^float\d+$/.test(info.format)) {
      const field = info.format.startsWith('pcm') ? 'bits' : 'format';
      out.push({
        field,
        value: field === 'bits' ? info.bits : info.format,
        message: `${desc} is not playable (A-law, µ-law or 16-bit PCM only)`,
      });
    } else {
      out.push({
        field: 'format',
        value: info.format,
        message: `${desc} is ${COMPRESSED.has(info.format) ? 'a compressed format' : 'a format'} the media thread cannot play (A-law, µ-law or 16-bit PCM only)`,
      });
    }
  }
  if (info.rate !== PLAYABLE_RATE)
    out.push({
      field: 'rate',
      value: info.rate,
      message: `sample rate ${info.rate} Hz is not ${PLAYABLE_RATE} Hz`,
    });
  if (info.channels !== 1)
    out.push({
      field: 'channels',
      value: info.channels,
      message: `${info.channels} channels${info.channels === 2 ? ' (stereo)' : ''} is not mono`,
    });
  if (info.extensible) {
    out.push({
      field: 'format',
      value: 'extensible',
      message: `WAVE_FORMAT_EXTENSIBLE header (around ${desc}) is not read by the media thread, which takes plain format tags 1, 6 and 7`,
    });
  }
  if (info.dataBytes < info.blockAlign || info.dataBytes === 0)
    out.push({
      field: 'data',
      value: info.dataBytes,
      message: 'has no audio (the data chunk is empty)',
    });
  return out;
}

/**
 * Inspects a WAV file and throws unless the media thread can play it as it is: 8 kHz, mono,
 * A-law, µ-law or 16-bit PCM with a plain header, and some audio. The error names the file and
 * every problem, e.g. `prompts/welcome.wav: sample rate 44100 Hz is not 8000 Hz; convert it on
 * upload`; details carry the first field at fault and the list of problems.
 */
export async function checkPlayable(path: string, opts: WavOptions = {}): Promise<WavInfo> {
  const label = opts.label ?? path;
  const info = await inspectWav(path, { label });
  const problems = playProblems(info);
  const first = problems[0];
  if (first) {
    const cure = first.field === 'data' && problems.length === 1 ? '' : '; convert it on upload';
    throw formatError(
      label,
      first.field,
      first.value,
      `${problems.map((p) => p.message).join('; ')}${cure}`,
      { problems },
    );
  }
  return info;
}
