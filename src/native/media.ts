// SPDX-License-Identifier: GPL-2.0-or-later
// The engine's media commands, events and snapshot: prompts, recordings, DSP, conferences, time-slot switch.

/**
 * Where media runs: a call (its bearer, whatever the signalling), or a DAHDI channel that no
 * trunk holds (a PRI/SS7 bearer, or a clear channel outside any trunk).
 */
export type MediaTarget = { call: number } | { dahdiChannel: number };

/** Answering-machine detection parameters (ms unless said; see src/media/amd.ts for ranges). */
export interface AmdOptions {
  initialSilence?: number;
  greeting?: number;
  afterGreetingSilence?: number;
  totalAnalysisTime?: number;
  minimumWordLength?: number;
  betweenWordsSilence?: number;
  maximumNumberOfWords?: number;
  maximumWordLength?: number;
  /** Mean absolute linear amplitude (1..32767) below which 20 ms count as silence. */
  silenceThreshold?: number;
}

export interface ConferenceParty {
  /** Heard by the others (default true); false for a listen-only party (supervisor listen-in). */
  talk?: boolean;
  /** Hears the conference (default true). */
  listen?: boolean;
  /** Heard by this party alone (a supervisor whispering to an agent); null to speak to all again. */
  whisperTo?: MediaTarget | null;
}

export type MediaCommand =
  | (MediaTarget & {
      op: 'play';
      /** WAV files (8 kHz mono A-law, µ-law or 16-bit PCM), played back to back without a gap. */
      files: string[];
      /** A DTMF digit stops the playback (playDone reason bargeIn). Default false. */
      bargeIn?: boolean;
    })
  | (MediaTarget & {
      op: 'tone';
      /** dial, busy, ringback, congestion, callwaiting, record, sit ... of the zone. */
      tone: string;
      /** Tone zone (us, uk, cn, itu ...); default the engine's media.zone. */
      zone?: string;
      /** Stop after this long (0..3600000 ms); default: until stopped. */
      ms?: number;
      bargeIn?: boolean;
    })
  | (MediaTarget & {
      op: 'sendDtmf';
      digits: string;
      /** Tone length, 40..1000 ms, default 100. */
      onMs?: number;
      /** Pause after each digit, 40..1000 ms, default 100. */
      offMs?: number;
      /** Low-group level in dBm0, -30..0, default -10. */
      level?: number;
    })
  | (MediaTarget & { op: 'stop'; what?: 'all' | 'play' | 'record' })
  | (MediaTarget & {
      op: 'record';
      file: string;
      /** alaw (default on E1), ulaw (default on T1), pcm16. */
      format?: 'alaw' | 'ulaw' | 'pcm16';
      /** rx: what the far end says (default); tx: what we send; both: the whole call. */
      direction?: 'rx' | 'tx' | 'both';
      /** With direction both: two channels (left rx, right tx) instead of one mix. */
      stereo?: boolean;
      /** Maximum length, ms (0: none). */
      maxMs?: number;
      /** Stop after this much silence, ms (0: never). */
      silenceMs?: number;
      /** Silence is below this level, dBm0 (-70..-10, default -45). */
      silenceThreshold?: number;
      /** DTMF digits that stop the recording (recordDone reason dtmf). */
      stopDigits?: string;
    })
  | (MediaTarget & {
      op: 'detect';
      dtmf?: boolean;
      /** Call-progress tones of `zone` (busy, ringback, congestion, sit ...). */
      progress?: boolean;
      zone?: string;
      /** Fax CNG and CED. */
      fax?: boolean;
      /** Answering-machine detection: true for the defaults, or parameters; reported once. */
      amd?: boolean | AmdOptions;
    })
  | (MediaTarget & {
      op: 'echo';
      /** Echo canceller length in taps (32..1024, a power of two), 0 for off. Default 128. */
      taps?: number;
    })
  | (MediaTarget & { op: 'detach' })
  | { op: 'confCreate'; conference: string; parties: (MediaTarget & ConferenceParty)[] }
  | (MediaTarget & ConferenceParty & { op: 'confJoin'; conference: string })
  | (MediaTarget & { op: 'confLeave'; conference?: string })
  | (MediaTarget & ConferenceParty & { op: 'confSet'; conference?: string })
  | { op: 'confDestroy'; conference: string }
  | {
      op: 'connect';
      a: MediaTarget;
      b: MediaTarget;
      /** duplex (default): both hear each other; listen: b hears a, a hears nothing new. */
      mode?: 'duplex' | 'listen';
    }
  | (MediaTarget & { op: 'disconnect' });

interface MediaEventBase {
  time: number;
  dahdiChannel: number;
  call?: number;
  trunk?: string;
}

export type MediaEvent =
  | (MediaEventBase & { event: 'dtmfStart'; digit: string; at: number })
  | (MediaEventBase & {
      event: 'dtmf';
      digit: string;
      /** How long the digit lasted. */
      ms: number;
      /** dBm0. */
      level: number;
      at: number;
    })
  | (MediaEventBase & { event: 'tone'; name: string; zone: string; at: number })
  | (MediaEventBase & { event: 'toneEnd'; name: string; ms: number; at: number })
  | (MediaEventBase & { event: 'fax'; name: 'cng' | 'ced'; at: number })
  | (MediaEventBase & {
      event: 'amd';
      result: 'human' | 'machine' | 'notsure';
      cause: string;
      at: number;
    })
  | (MediaEventBase & {
      event: 'playDone';
      play: number;
      kind: 'prompt' | 'tone' | 'dtmf';
      reason:
        | 'done'
        | 'stopped'
        | 'bargeIn'
        | 'replaced'
        | 'released'
        | 'detached'
        | 'connected'
        | 'trunkStopped';
      playedMs: number;
      digit?: string;
      item?: number;
      name?: string;
    })
  | (MediaEventBase & {
      event: 'recordDone';
      record: number;
      file: string;
      reason:
        | 'maxLength'
        | 'silence'
        | 'dtmf'
        | 'stopped'
        | 'replaced'
        | 'released'
        | 'detached'
        | 'trunkStopped';
      ms: number;
      digit?: string;
      /** Set when the file could not be written completely. */
      error?: string;
    })
  | (MediaEventBase & { event: 'mediaDetached'; reason: string })
  | {
      event: 'conference';
      time: number;
      conference: string;
      state: 'created' | 'joined' | 'left' | 'ended';
      parties?: { dahdiChannel: number; call?: number }[];
      party?: { dahdiChannel: number; call?: number };
      remaining?: number;
    }
  | {
      event: 'connected';
      time: number;
      mode: 'duplex' | 'listen';
      a: { dahdiChannel: number; call?: number };
      b: { dahdiChannel: number; call?: number };
    }
  | {
      event: 'disconnected';
      time: number;
      a: { dahdiChannel: number };
      b: { dahdiChannel: number };
    };

export interface MediaLegSnapshot {
  dahdiChannel: number;
  call?: number;
  trunk?: string;
  law: 'alaw' | 'ulaw';
  bearer: string;
  detect: { dtmf: boolean; progress: boolean; zone: string; fax: boolean; amd: boolean };
  echoTaps: number;
  rxBlocks: number;
  txBlocks: number;
  txDropped: number;
  readErrors: number;
  playing?: {
    play: number;
    kind: string;
    playedMs: number;
    files?: string[];
    item?: number;
    name?: string;
  };
  recording?: {
    record: number;
    file: string;
    direction: string;
    stereo: boolean;
    format: string;
    ms: number;
  };
  conference?: { name: string; talk: boolean; listen: boolean; whisperTo: number };
  connectedTo?: number;
}

export interface MediaSnapshot {
  zone: string;
  legs: MediaLegSnapshot[];
  conferences: {
    name: string;
    parties: {
      dahdiChannel: number;
      call?: number;
      talk: boolean;
      listen: boolean;
      whisperTo?: number;
    }[];
    frames: number;
  }[];
  /** The time-slot switch: DAHDI cross-connects (b hears a; both ways for duplex). */
  connections: { a: number; b: number; mode: 'duplex' | 'listen'; via: string }[];
  ticks: number;
  lateTicks: number;
  /** CPU time of the media thread so far (ns). */
  cpuNs: number;
}
