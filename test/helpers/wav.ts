// SPDX-License-Identifier: GPL-2.0-or-later
// WAV fixtures for the prompt tests: hand-built headers for odd and damaged files, sox for real audio.

import { execFileSync } from 'node:child_process';

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
