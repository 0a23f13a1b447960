// SPDX-License-Identifier: GPL-2.0-or-later
// Test signals made independently of the addon: sines at exact dBm0 levels, white noise, G.711 A-law round trips.

/** Samples per second on a DAHDI channel. */
export const RATE = 8000;

/** Samples in `ms` milliseconds. */
export function samples(ms: number): number {
  return Math.round((ms * RATE) / 1000);
}

/**
 * Peak amplitude of a sine at `dbm0` (G.711 and spandsp: a full-scale sine, amplitude 32767,
 * is +3.14 dBm0).
 */
export function sineAmplitude(dbm0: number): number {
  return 32767 * 10 ** ((dbm0 - 3.14) / 20);
}

/** Mean power of a signal in dBm0 (-99 for digital silence). */
export function powerDbm0(x: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += (x[i] as number) ** 2;
  if (sum === 0) return -99;
  return 10 * Math.log10(sum / x.length / ((32767 * 32767) / 2)) + 3.14;
}

export interface ToneSpec {
  /** Hz and dBm0 of each frequency (none for silence). */
  freqs: { hz: number; dbm0: number }[];
  ms: number;
}

/** Sums of sines, one segment after another (each segment starts at phase 0), rounded and clipped. */
export function tones(segments: ToneSpec[]): Float64Array {
  const total = segments.reduce((n, s) => n + samples(s.ms), 0);
  const out = new Float64Array(total);
  let at = 0;
  for (const seg of segments) {
    const n = samples(seg.ms);
    for (const { hz, dbm0 } of seg.freqs) {
      const a = sineAmplitude(dbm0);
      const w = (2 * Math.PI * hz) / RATE;
      for (let i = 0; i < n; i++) out[at + i] = (out[at + i] as number) + a * Math.sin(w * i);
    }
    at += n;
  }
  return out;
}

/** Silence of `ms`. */
export function silence(ms: number): Float64Array {
  return new Float64Array(samples(ms));
}

/** A DTMF digit's two frequencies (ITU-T Q.23). */
export const DTMF_FREQS: Record<string, [number, number]> = {
  '1': [697, 1209],
  '2': [697, 1336],
  '3': [697, 1477],
  A: [697, 1633],
  '4': [770, 1209],
  '5': [770, 1336],
  '6': [770, 1477],
  B: [770, 1633],
  '7': [852, 1209],
  '8': [852, 1336],
  '9': [852, 1477],
  C: [852, 1633],
  '*': [941, 1209],
  '0': [941, 1336],
  '#': [941, 1477],
  D: [941, 1633],
};

/** One DTMF digit: the low group at `low` dBm0, the high group at `high` dBm0. */
export function dtmfDigit(digit: string, ms: number, low: number, high = low): Float64Array {
  const f = DTMF_FREQS[digit];
  if (!f) throw new Error(`not a DTMF digit: ${digit}`);
  return tones([
    {
      freqs: [
        { hz: f[0], dbm0: low },
        { hz: f[1], dbm0: high },
      ],
      ms,
    },
  ]);
}

/** A deterministic PRNG (mulberry32): the same noise on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Gaussian white noise of mean power `dbm0` over the whole band (Box-Muller). */
export function whiteNoise(ms: number, dbm0: number, seed = 1): Float64Array {
  const n = samples(ms);
  const out = new Float64Array(n);
  const rnd = prng(seed);
  // A sine of amplitude A has power A^2/2: noise of the same power has rms A/sqrt(2).
  const rms = sineAmplitude(dbm0) / Math.SQRT2;
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rnd(), 1e-12);
    const v = rnd();
    const r = rms * Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** Sample-by-sample sum of signals (the result is as long as the longest). */
export function mix(...parts: ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(Math.max(...parts.map((p) => p.length)));
  for (const p of parts)
    for (let i = 0; i < p.length; i++) out[i] = (out[i] as number) + (p[i] as number);
  return out;
}

/** Signals one after another. */
export function concat(...parts: ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Rounded and clipped to 16 bits. */
export function toPcm(x: ArrayLike<number>): Int16Array {
  const out = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++)
    out[i] = Math.max(-32768, Math.min(32767, Math.round(x[i] as number)));
  return out;
}

/**
 * G.711 A-law encoding of one linear sample (ITU-T G.711 table 1a: 13-bit magnitude in eight
 * segments, even bits inverted).
 */
export function alawEncode(linear: number): number {
  let sign = 0x80;
  let mag = linear;
  if (mag < 0) {
    sign = 0;
    mag = -mag - 1;
  }
  mag >>= 3; // 13 bits
  let seg = 0;
  while (seg < 7 && mag >= 32 << seg) seg++;
  const mantissa = seg === 0 ? mag >> 1 : (mag >> seg) & 0x0f;
  return (sign | (seg << 4) | mantissa) ^ 0x55;
}

/** G.711 A-law decoding to the middle of the quantisation interval. */
export function alawDecode(code: number): number {
  const v = code ^ 0x55;
  const seg = (v >> 4) & 7;
  const mantissa = v & 0x0f;
  let mag = seg === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (seg - 1);
  if (!(v & 0x80)) mag = -mag;
  return mag;
}

/** What the detector hears on an E1: the signal A-law encoded and decoded. */
export function alaw(x: ArrayLike<number>): Int16Array {
  const pcm = toPcm(x);
  const out = new Int16Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = alawDecode(alawEncode(pcm[i] as number));
  return out;
}
