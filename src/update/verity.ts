// SPDX-License-Identifier: GPL-2.0-or-later
// Checks a verity-format RAUC bundle's payload and hash tree against the signed root hash, before install.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * Why this exists: for a `verity` bundle, `rauc info` verifies only the signed manifest. The
 * payload is checked by dm-verity while `rauc install` reads it, that is while the inactive slot
 * is being written, so a tampered or damaged payload would be found half-way through a slot
 * write. This recomputes the dm-verity hash tree (format 1, SHA-256, 4 KiB blocks, salt first:
 * what RAUC and veritysetup build) over the whole payload and compares the root with the signed
 * one and the tree with the stored one, so the bundle is refused before anything is written.
 */

/** The verity parameters of the signed manifest (`rauc info`: Verity Salt, Hash, Size). */
export interface VerityParams {
  /** Root hash, 64 hex digits. */
  hash: string;
  /** Salt, 64 hex digits. */
  salt: string;
  /** Bytes of the hash tree stored after the payload. */
  size: number;
}

export interface VerityResult {
  ok: boolean;
  /** What does not match, for people (empty when ok). */
  problem: string;
  /** Bytes of payload checked. */
  payloadBytes: number;
}

const BLOCK = 4096;
const DIGEST = 32;
const HEX64 = /^[0-9a-f]{64}$/i;

/** One level up: `digests` cut into hash blocks (the last zero-padded), one digest per block. */
function nextLevel(digests: Buffer, salt: Buffer): Buffer {
  const blocks = Math.ceil(digests.length / BLOCK);
  const out = Buffer.alloc(blocks * DIGEST);
  const block = Buffer.alloc(BLOCK);
  for (let i = 0; i < blocks; i++) {
    block.fill(0);
    digests.copy(block, 0, i * BLOCK, Math.min(digests.length, (i + 1) * BLOCK));
    createHash('sha256')
      .update(salt)
      .update(block)
      .digest()
      .copy(out, i * DIGEST);
  }
  return out;
}

/** `digests` laid out as hash blocks on disk: padded with zeros to whole blocks. */
function padded(digests: Buffer): Buffer {
  const out = Buffer.alloc(Math.ceil(digests.length / BLOCK) * BLOCK);
  digests.copy(out);
  return out;
}

/**
 * Checks the bundle file against `verity`. The layout is RAUC's: payload (whole 4 KiB blocks),
 * hash tree (`verity.size` bytes, top level first), CMS signature, signature size (u64 big-endian).
 * `onProgress` gets the fraction of the payload read (0-1).
 */
export async function checkVerityPayload(
  file: string,
  verity: VerityParams,
  onProgress?: (fraction: number) => void,
): Promise<VerityResult> {
  const fail = (problem: string, payloadBytes = 0): VerityResult => ({
    ok: false,
    problem,
    payloadBytes,
  });
  if (!HEX64.test(verity.hash) || !HEX64.test(verity.salt))
    return fail('the manifest has no valid verity hash and salt');
  if (!Number.isSafeInteger(verity.size) || verity.size <= 0 || verity.size % BLOCK !== 0)
    return fail(`the manifest's verity size ${verity.size} is not a whole number of 4 KiB blocks`);
  const salt = Buffer.from(verity.salt, 'hex');

  const fh = await open(file, 'r');
  let fileSize: number;
  let sigSize: bigint;
  try {
    fileSize = (await fh.stat()).size;
    if (fileSize < 8) return fail('the file is too short to be a bundle');
    const tail = Buffer.alloc(8);
    await fh.read(tail, 0, 8, fileSize - 8);
    sigSize = tail.readBigUInt64BE(0);
  } finally {
    await fh.close();
  }
  const bundleSize = BigInt(fileSize) - 8n - sigSize;
  const payloadBig = bundleSize - BigInt(verity.size);
  if (payloadBig <= 0n || payloadBig % BigInt(BLOCK) !== 0n)
    return fail(
      'the payload is not a whole number of 4 KiB blocks: the file is truncated or padded',
    );
  const payloadBytes = Number(payloadBig);
  const dataBlocks = payloadBytes / BLOCK;

  // Level 0: one digest per payload block, read as a stream (a bundle can be hundreds of MB).
  const level0 = Buffer.alloc(dataBlocks * DIGEST);
  let done = 0;
  let carry = Buffer.alloc(0);
  const stream = createReadStream(file, {
    start: 0,
    end: payloadBytes - 1,
    highWaterMark: 256 * BLOCK,
  });
  let lastPercent = -1;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    let off = 0;
    for (; buf.length - off >= BLOCK; off += BLOCK, done++)
      createHash('sha256')
        .update(salt)
        .update(buf.subarray(off, off + BLOCK))
        .digest()
        .copy(level0, done * DIGEST);
    carry = Buffer.from(buf.subarray(off));
    const percent = Math.floor((done / dataBlocks) * 100);
    if (onProgress && percent !== lastPercent) {
      lastPercent = percent;
      onProgress(done / dataBlocks);
    }
  }
  if (done !== dataBlocks) return fail('the payload could not be read completely', payloadBytes);

  // A single data block is its own root: cryptsetup builds no tree for it, and its digest is
  // level0. Otherwise levels are built until one hash block holds a level; the root hashes that.
  const levels: Buffer[] = [];
  let root: Buffer;
  if (dataBlocks === 1) root = level0;
  else {
    let digests: Buffer = level0;
    levels.push(digests);
    while (digests.length > BLOCK) {
      digests = nextLevel(digests, salt);
      levels.push(digests);
    }
    root = nextLevel(digests, salt);
  }
  if (root.toString('hex') !== verity.hash.toLowerCase())
    return fail(
      "the payload does not match the signed verity root hash: the bundle's contents were changed after signing, or damaged",
      payloadBytes,
    );

  // The stored tree is what dm-verity reads during the install: it must be the one computed.
  const expected = Buffer.concat(levels.reverse().map(padded));
  if (expected.length > verity.size)
    return fail(
      `the stored hash tree is ${verity.size} bytes, the payload needs ${expected.length}`,
      payloadBytes,
    );
  const stored = Buffer.alloc(verity.size);
  const fht = await open(file, 'r');
  try {
    await fht.read(stored, 0, verity.size, payloadBytes);
  } finally {
    await fht.close();
  }
  if (
    !stored.subarray(0, expected.length).equals(expected) ||
    stored.subarray(expected.length).some((b) => b !== 0)
  )
    return fail(
      'the stored verity hash tree does not match the payload: the bundle was changed after signing, or damaged',
      payloadBytes,
    );
  return { ok: true, problem: '', payloadBytes };
}
