// SPDX-License-Identifier: GPL-2.0-or-later
// The signalling engine of the addon: one call API over PRI, SS7, MFC-R2 and analog trunks.

import { addonPath, loadRaw, wrap } from './addon.ts';
import type { MediaCommand, MediaEvent, MediaSnapshot } from './media.ts';

export type { MediaCommand, MediaEvent, MediaSnapshot } from './media.ts';

/** Trunk signalling, in chan_dahdi's words (fxo_ks: FXO signalling, i.e. an FXS port feeding a phone). */
export type Signalling =
  | 'pri_net'
  | 'pri_cpe'
  | 'ss7'
  | 'mfcr2'
  | 'fxs_ls'
  | 'fxs_ks'
  | 'fxo_ls'
  | 'fxo_ks';

/** A trunk as the engine takes it (validated beforehand by src/trunks). */
export interface EngineTrunk {
  name: string;
  signalling: Signalling;
  [field: string]: unknown;
}

export interface EngineConfig {
  trunks: EngineTrunk[];
  media?: {
    /** Tone zone for tones and progress-tone detection (us, uk, cn, itu ...); default itu. */
    zone?: string;
  };
}

/** Type of number (Q.931 / ISUP nature of address), in installer words. */
export type NumberType =
  | 'unknown'
  | 'international'
  | 'national'
  | 'subscriber'
  | 'network_specific';

/** Commands: plain objects, answered at once; what happens on the line arrives as events. */
export type EngineCommand =
  | {
      op: 'place';
      trunk: string;
      called: string;
      calling?: string;
      callingName?: string;
      /** R2/ISUP calling party category, e.g. national_subscriber. */
      category?: string;
      calledType?: NumberType;
      callingType?: NumberType;
      callingPresentation?: 'allowed' | 'restricted';
      /** A timeslot (PRI, R2) or port channel (analog); any free one when omitted. */
      channel?: number;
      /** SS7 only: the circuit; any free one when omitted. */
      cic?: number;
      /** PRI overlap sending: `called` is incomplete, more follows with `digits`. */
      overlap?: boolean;
    }
  | { op: 'accept' | 'alert' | 'progress' | 'answer'; call: number }
  | { op: 'release'; call: number; cause?: number | string }
  | { op: 'digits'; call: number; digits: string }
  | {
      op: 'block' | 'unblock' | 'reset';
      trunk: string;
      /** A timeslot (PRI, R2, analog); the whole trunk when neither channel nor cic is given. */
      channel?: number;
      cic?: number;
      /** SS7: a CIC range ending here (group reset GRS, group blocking CGB/CGU). */
      lastCic?: number;
    }
  | MediaCommand;

interface CallEventBase {
  trunk: string;
  call: number;
  time: number;
  span?: number;
  channel?: number;
  cic?: number;
}

export type EngineEvent =
  | (CallEventBase & {
      event: 'offered';
      called: string;
      calling: string;
      callingName?: string;
      category?: string;
      calledType?: NumberType;
      callingType?: NumberType;
      callingPresentation?: 'allowed' | 'restricted';
      /** False while an overlap-dialled number may still grow (digits events follow). */
      complete?: boolean;
    })
  | (CallEventBase & { event: 'dialing' | 'proceeding' | 'alerting' | 'progress' | 'answered' })
  | (CallEventBase & { event: 'digits'; digits: string })
  | (CallEventBase & {
      event: 'released';
      cause: number;
      causeName: string;
      /** Who cleared: the far end, us (a release command), or the stack (timer, link loss). */
      by: 'remote' | 'local' | 'stack';
      /** MFC-R2: the R2 signal behind `cause` (busy_number, forced_release ...), when one was sent or received. */
      r2Cause?: string;
    })
  | (CallEventBase & {
      /** A metering (billing) pulse from the far end (MFC-R2); `pulses` counts them for the call so far. */
      event: 'metering';
      pulses: number;
    })
  | {
      event: 'link';
      trunk: string;
      time: number;
      span: number;
      /** dchannel (PRI), mtp2 (SS7 signalling link). */
      kind: 'dchannel' | 'mtp2';
      state: 'up' | 'down';
      slc?: number;
    }
  | {
      event: 'channel';
      trunk: string;
      time: number;
      span: number;
      channel: number;
      cic?: number;
      state: ChannelState;
      /** Who blocked it: we did, or the far end. */
      by?: 'local' | 'remote';
    }
  | { event: 'alarm'; trunk: string; time: number; span: number; alarms: string[] }
  | {
      event: 'error';
      trunk: string;
      time: number;
      code: string;
      message: string;
      call?: number;
      op?: string;
    }
  | {
      event: 'log';
      trunk: string;
      time: number;
      level: 'debug' | 'info' | 'warn' | 'error';
      message: string;
      kind?: string;
    }
  | MediaEvent;

export type ChannelState =
  | 'idle'
  | 'seized'
  | 'ringing'
  | 'talking'
  | 'blocked'
  | 'alarm'
  | 'reset';

export interface SnapshotCall {
  call: number;
  direction: 'incoming' | 'outgoing';
  state: 'dialing' | 'offered' | 'proceeding' | 'alerting' | 'answered' | 'releasing';
  span: number;
  channel: number;
  dahdiChannel: number;
  cic?: number;
  called: string;
  calling: string;
  category?: string;
  /** MFC-R2: metering pulses received so far. */
  meteringPulses?: number;
}

export interface SnapshotTrunk {
  name: string;
  signalling: Signalling;
  spans: number[];
  protocolErrors: number;
  links: { span: number; kind: string; state: string; slc?: number; [k: string]: unknown }[];
  channels: {
    span: number;
    channel: number;
    dahdiChannel: number;
    cic?: number;
    state: ChannelState;
    call?: number;
    [k: string]: unknown;
  }[];
  calls: SnapshotCall[];
  [k: string]: unknown;
}

export interface EngineSnapshot {
  trunks: SnapshotTrunk[];
  traces: { span: number; running: boolean; frames: number; dropped: number; bytes: number }[];
  media: MediaSnapshot;
}

export interface CommandResult {
  call?: number;
  play?: number;
  record?: number;
  [k: string]: unknown;
}

/** What a reconfiguration did, by trunk name. */
export interface ReconfigureResult {
  /** Unchanged trunks: still running, their calls untouched. */
  kept: string[];
  /** Removed and changed trunks that were stopped (their calls released, cause 41), in the old order. */
  stopped: string[];
  /** New and changed trunks that were opened and started, in configuration order. */
  started: string[];
}

interface RawEngine {
  start(config: string): void;
  stop(): string;
  reconfigure(config: string): string;
  command(cmd: string): string;
  snapshot(): string;
  traceStart(span: number, maxBytes?: number): void;
  traceStop(span: number): void;
  traceRead(span: number): Buffer;
}

export interface RawEngineClass {
  new (onEvents: (batch: string) => void): RawEngine;
}

/**
 * The engine: trunks on native threads. Events arrive in batches, in order, through `onEvents`;
 * a blocked event loop delays their delivery but never the protocols.
 */
export class Engine {
  readonly #raw: RawEngine;
  #running = false;

  constructor(onEvents: (events: EngineEvent[]) => void) {
    const Raw = loadRaw().Engine;
    this.#raw = new Raw((batch) => onEvents(JSON.parse(batch) as EngineEvent[]));
  }

  /** Opens every trunk (DAHDI channels, stacks) and starts them. Throws E_CONFIG_FIELD naming the field. */
  start(config: EngineConfig): void {
    wrap(() => this.#raw.start(JSON.stringify(config)));
    this.#running = true;
  }

  /** Stops every trunk (calls are not cleared on the line); returns the last events. */
  stop(): EngineEvent[] {
    if (!this.#running) return [];
    this.#running = false;
    return JSON.parse(this.#raw.stop()) as EngineEvent[];
  }

  /**
   * Applies a changed configuration to the running engine. Trunks are matched by name; one whose
   * JSON is unchanged keeps running with its calls. Removed and changed trunks stop: media on
   * their channels ends (mediaDetached reason trunkStopped), their calls end with `released`
   * (by 'stack', Cause NORMAL_TEMPORARY_FAILURE (41)). New and changed trunks then open and
   * start. Field errors found before anything stops (names, signalling, span ownership,
   * media.zone, most trunk fields) change nothing; a trunk that fails to open leaves none of
   * the new trunks running and brings the stopped ones back where their old configuration still
   * opens. The DAHDI channels must already be configured for the new trunks (src/trunks/apply.ts).
   * @throws SwitchboardError E_CONFIG_FIELD naming the field (`trunks[2].span`), E_ENGINE_STOPPED
   */
  reconfigure(config: EngineConfig): ReconfigureResult {
    return JSON.parse(
      wrap(() => this.#raw.reconfigure(JSON.stringify(config))),
    ) as ReconfigureResult;
  }

  /**
   * Checks and queues a command. `place` returns the new call's id; play, tone and sendDtmf
   * return `play`, record returns `record` (the ids their done events carry).
   */
  command(cmd: EngineCommand): CommandResult {
    return JSON.parse(wrap(() => this.#raw.command(JSON.stringify(cmd)))) as CommandResult;
  }

  snapshot(): EngineSnapshot {
    return JSON.parse(this.#raw.snapshot()) as EngineSnapshot;
  }

  /** Starts capturing a span's D-channel or MTP2 frames (in memory, up to maxBytes, default 64 MiB). */
  traceStart(span: number, maxBytes?: number): void {
    wrap(() => this.#raw.traceStart(span, maxBytes));
  }

  traceStop(span: number): void {
    wrap(() => this.#raw.traceStop(span));
  }

  /** The capture so far as a pcap file (readable while it runs and after it stops). */
  traceRead(span: number): Buffer {
    return wrap(() => this.#raw.traceRead(span));
  }
}

export { addonPath };
