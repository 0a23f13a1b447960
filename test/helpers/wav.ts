// SPDX-License-Identifier: GPL-2.0-or-later
// WAV fixtures for tests: hand-built headers for odd and damaged files, sox for real audio, prompts and recordings of the media tests.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

export interface Chunk {
  id: string;
  body: Buffer;
  /** Size written in the chunk header when it must lie (truncated files); default body.length. */
  size?: number;
}

export interface FmtFields {
  tag: number;
  channels: number;
  rate: number;
  bits: number;
  /** Default channels * bits / 8. */
  blockAlign?: number;
}

/** A 16-byte fmt chunk body (or a 40-byte WAVE_FORMAT_EXTENSIBLE one carrying `subTag`). */
export function fmtBody(f: FmtFields, subTag?: number): Buffer {
  const blockAlign = f.blockAlign ?? (f.channels * f.bits) / 8;
  const body = Buffer.alloc(subTag === undefined ? 16 : 40);
  body.writeUInt16LE(subTag === undefined ? f.tag : 0xfffe, 0);
  body.writeUInt16LE(f.channels, 2);
  body.writeUInt32LE(f.rate, 4);
  body.writeUInt32LE(f.rate * blockAlign, 8);
  body.writeUInt16LE(blockAlign, 12);
  body.writeUInt16LE(f.bits, 14);
  if (subTag !== undefined) {
    body.writeUInt16LE(22, 16); // cbSize
    body.writeUInt16LE(f.bits, 18); // valid bits
    body.writeUInt32LE(4, 20); // channel mask: front centre
    body.writeUInt16LE(subTag, 24);
    Buffer.from('000000001000800000aa00389b71', 'hex').copy(body, 26);
  }
  return body;
}

/** A RIFF/WAVE file of these chunks, in this order, odd chunks padded as RIFF requires. */
export function riff(chunks: Chunk[]): Buffer {
  const parts = chunks.map((c) => {
    const head = Buffer.alloc(8);
    head.write(c.id, 0, 'latin1');
    head.writeUInt32LE(c.size ?? c.body.length, 4);
    return Buffer.concat([head, c.body, Buffer.alloc(c.body.length % 2)]);
  });
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), ...parts]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}

/** Runs sox with these arguments (synthesising fixtures: `-n ... synth`). */
export function sox(...args: string[]): void {
  execFileSync('sox', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A tone of `seconds` into `path` with the given output options (`-r 44100 -c 2 -b 16`...). */
export function tone(path: string, seconds: number, ...format: string[]): string {
  sox('-n', ...format, path, 'synth', String(seconds), 'sine', '440');
  return path;
}

export type WavCoding = 'alaw' | 'ulaw' | 'pcm16';

const CODES: Record<WavCoding, number> = { pcm16: 1, alaw: 6, ulaw: 7 };

/** A WAV file of `data` (already coded) at `rate` Hz. */
export function wavFile(coding: WavCoding, data: Buffer, rate = 8000, channels = 1): Buffer {
  const bits = coding === 'pcm16' ? 16 : 8;
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(CODES[coding], 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE((rate * channels * bits) / 8, 28);
  h.writeUInt16LE((channels * bits) / 8, 32);
  h.writeUInt16LE(bits, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** A-law bytes that look like noise but are reproducible: every byte value occurs. */
export function alawPattern(samples: number, seed = 1): Buffer {
  const out = Buffer.alloc(samples);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < samples; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) & 0xff;
  }
  return out;
}

/** 16-bit PCM of a sine at `hz`, `dbfs` below full scale, for `ms`. */
export function sinePcm(hz: number, ms: number, dbfs = -12): Buffer {
  const n = Math.round((ms * 8000) / 1000);
  const amp = 32767 * 10 ** (dbfs / 20);
  const out = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++)
    out.writeInt16LE(Math.round(amp * Math.sin((2 * Math.PI * hz * i) / 8000)), i * 2);
  return out;
}

export function writeWav(path: string, coding: WavCoding, data: Buffer, rate = 8000): string {
  writeFileSync(path, wavFile(coding, data, rate));
  return path;
}

/** The format fields and the data chunk of a WAV file (the 44-byte header our recorder writes). */
export function readWav(path: string): {
  format: number;
  channels: number;
  rate: number;
  bits: number;
  data: Buffer;
} {
  const b = readFileSync(path);
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE')
    throw new Error(`${path}: not a WAV file`);
  const size = b.readUInt32LE(40);
  return {
    format: b.readUInt16LE(20),
    channels: b.readUInt16LE(22),
    rate: b.readUInt32LE(24),
    bits: b.readUInt16LE(34),
    data: b.subarray(44, 44 + size),
  };
}

/** 16-bit samples of a PCM data chunk (one channel of `channels`). */
export function samples(data: Buffer, channels = 1, channel = 0): Int16Array {
  const n = Math.floor(data.length / 2 / channels);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = data.readInt16LE((i * channels + channel) * 2);
  return out;
}

/** Power at `hz` relative to the whole signal's power, in dB (Goertzel over the whole span). */
export function toneLevel(pcm: Int16Array, hz: number): number {
  const k = 2 * Math.cos((2 * Math.PI * hz) / 8000);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (const x of pcm) {
    const s0 = x + k * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += x * x;
  }
  const power = s1 * s1 + s2 * s2 - k * s1 * s2;
  // A pure sine puts (N/2)·energy into its bin; normalise so that it reads 0 dB.
  const rel = (2 * power) / (pcm.length * Math.max(energy, 1));
  return 10 * Math.log10(Math.max(rel, 1e-12));
}
