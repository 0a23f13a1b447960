// SPDX-License-Identifier: GPL-2.0-or-later
// The addon's per-channel DSP, typed: DTMF, call-progress tones by zone, fax tones, AMD, generators.

import type { AmdParamName } from '../media/amd.ts';
import { loadRaw, wrap } from './addon.ts';

/** Samples per second: every `start` and sample count below is at 8 kHz. */
export const SAMPLE_RATE = 8000;

export type DtmfDigit =
  | '0'
  | '1'
  | '2'
  | '3'
  | '4'
  | '5'
  | '6'
  | '7'
  | '8'
  | '9'
  | '*'
  | '#'
  | 'A'
  | 'B'
  | 'C'
  | 'D';

/** Call-progress tone names (DAHDI's tone ids in installer words), plus `sit` in any zone. */
export type ToneName =
  | 'dial'
  | 'busy'
  | 'ringback'
  | 'congestion'
  | 'callwaiting'
  | 'dialrecall'
  | 'record'
  | 'sit'
  | 'stutter';

/** Answering-machine parameters (Asterisk app_amd's names); ranges in src/media/amd.ts. */
export type AmdOptions = Partial<Record<AmdParamName, number>>;

export interface DspOptions {
  /** DTMF digits (spandsp dtmf_rx, default thresholds and twist). Default true. */
  dtmf?: boolean;
  /**
   * Call-progress tones of this tone zone (`us`, `uk`, `cn`, `de`, ... or `itu`), and SIT.
   * Also switches on the DTMF dial tone filter where the zone's dial tone is 350+440 Hz.
   * Default: none.
   */
  zone?: string;
  /** Fax tones: CNG (1100 Hz) and CED/ANS (2100 Hz). Default false. */
  fax?: boolean;
  /** Answering-machine detection, with the default parameters (true) or these. Default false. */
  amd?: boolean | AmdOptions;
}

/** What the detector recognised. `start` is a sample index since the Dsp was created. */
export type DspEvent =
  /** A digit began (reported as soon as it is recognised, about 30 ms in). */
  | { event: 'dtmfStart'; digit: DtmfDigit; start: number }
  /** A digit ended: its start, length and level (both frequencies, dBm0, as spandsp measured it). */
  | { event: 'dtmf'; digit: DtmfDigit; start: number; ms: number; level: number }
  /** A progress tone recognised by frequency and cadence; `start` is when it began. */
  | { event: 'tone'; name: ToneName; start: number }
  /** That tone stopped: it began at `start` and was heard for `ms`. */
  | { event: 'toneEnd'; name: ToneName; start: number; ms: number }
  /** A fax tone, at the sample it was recognised (CNG once per burst). */
  | { event: 'fax'; name: 'cng' | 'ced'; start: number }
  /** The answering-machine verdict (once; again after restartAmd), at the sample it was reached. */
  | {
      event: 'amd';
      result: 'human' | 'machine' | 'notsure';
      cause: 'INITIALSILENCE' | 'HUMAN' | 'LONGGREETING' | 'MAXWORDS' | 'MAXWORDLENGTH' | 'TOOLONG';
      start: number;
    };

export interface ToneSegmentInfo {
  /** Hz; f2 0 for a single frequency; both 0 for silence. */
  f1: number;
  f2: number;
  /** dBm0 of f1 and f2 (0 where there is no such frequency). */
  level1: number;
  level2: number;
  /** Duration; 0 for a segment that holds for ever. */
  ms: number;
  /** DAHDI's `f1*f2`: f1 amplitude-modulated at f2 Hz. */
  am?: true;
}

export interface ToneInfo {
  name: ToneName;
  /** Whether the cadence loops (back to `firstRepeated`); if not, the last segment holds or the tone stops. */
  repeat: boolean;
  /** The segment the cadence loops back to; those before it play once. */
  firstRepeated: number;
  /** The name the detector reports for this tone: its own, or an earlier tone of the zone that sounds the same. */
  detectedAs: ToneName | '';
  segments: ToneSegmentInfo[];
}

export interface ToneZoneInfo {
  name: string;
  description: string;
  tones: ToneInfo[];
}

export interface AmdParamInfo {
  name: AmdParamName;
  default: number;
  min: number;
  max: number;
  unit: 'ms' | 'count' | 'amplitude';
  meaning: string;
}

interface RawDsp {
  process(samples: Int16Array): DspEvent[];
  restartAmd(params?: AmdOptions): void;
  readonly cpuNs: number;
  readonly position: number;
}

/** The addon's DSP exports (see RawAddon in addon.ts). */
export interface RawDspExports {
  Dsp: new (options?: DspOptions) => RawDsp;
  toneZones(): ToneZoneInfo[];
  generateTone(zone: string, tone: string, ms: number): Int16Array;
  generateDtmf(digits: string, onMs: number, offMs: number, level?: number): Int16Array;
  amdParams(): AmdParamInfo[];
  dspReference: {
    dtmf(samples: Int16Array): { digits: string; cpuNs: number };
    mix(parties: number, blocks: number): { cpuNs: number; check: number };
  };
}

/**
 * One channel's detector: feed it the channel's linear samples in order (any block size; it
 * works in 20 ms blocks) and it returns what it recognised, in the order recognised.
 */
export class Dsp {
  readonly #raw: RawDsp;

  /** @throws SwitchboardError E_COMMAND_FIELD naming the option at fault */
  constructor(options: DspOptions = {}) {
    const Raw = loadRaw().Dsp;
    this.#raw = wrap(() => new Raw(options));
  }

  /** @throws SwitchboardError E_COMMAND_FIELD (`samples`) unless given an Int16Array */
  process(samples: Int16Array): DspEvent[] {
    return wrap(() => this.#raw.process(samples));
  }

  /** Starts answering-machine detection afresh (from now, with these or the default parameters). */
  restartAmd(params?: AmdOptions): void {
    wrap(() => this.#raw.restartAmd(params));
  }

  /** Thread CPU time spent in process() so far, ns. */
  get cpuNs(): number {
    return this.#raw.cpuNs;
  }

  /** Samples processed so far. */
  get position(): number {
    return this.#raw.position;
  }
}

/** Every tone zone: libtonezone's countries and `itu`, with their tones as DAHDI plays them. */
export function toneZones(): ToneZoneInfo[] {
  return loadRaw().toneZones();
}

/**
 * A zone's tone for `ms` (1..600000), at 8 kHz; a tone that stops is followed by silence.
 * @throws SwitchboardError E_COMMAND_FIELD for an unknown zone or tone, or `ms` out of range
 */
export function generateTone(zone: string, tone: string, ms: number): Int16Array {
  return wrap(() => loadRaw().generateTone(zone, tone, ms));
}

/**
 * DTMF: each digit `onMs` of tone then `offMs` of silence (40..10000 ms each), the low group at
 * `level` dBm0 (-50..-4, default -10) and the high group 2 dB above it.
 * @throws SwitchboardError E_COMMAND_FIELD for a bad digit or value
 */
export function generateDtmf(
  digits: string,
  onMs: number,
  offMs: number,
  level?: number,
): Int16Array {
  return wrap(() => loadRaw().generateDtmf(digits, onMs, offMs, level));
}

/** The native table of AMD parameters (src/media/amd.ts mirrors it). */
export function nativeAmdParams(): AmdParamInfo[] {
  return loadRaw().amdParams();
}

/** Yardsticks for the media benchmark, timed in thread CPU ns within the same process. */
export const dspReference = {
  /** spandsp's bare dtmf_rx over the samples in 20 ms blocks. */
  dtmf(samples: Int16Array): { digits: string; cpuNs: number } {
    return wrap(() => loadRaw().dspReference.dtmf(samples));
  },
  /** A plain sum-minus-self conference mix with saturation: `parties` 20 ms blocks per frame, `blocks` frames. */
  mix(parties: number, blocks: number): { cpuNs: number } {
    const { cpuNs } = wrap(() => loadRaw().dspReference.mix(parties, blocks));
    return { cpuNs };
  },
};
