// SPDX-License-Identifier: GPL-2.0-or-later
// One call record (CDR) per call attempt: both legs, times, causes, where it went and how it ended.

/** How an attempt ended, in the words of a call-centre report. */
export const DISPOSITIONS = [
  'answered',
  'busy',
  'no_answer',
  'rejected',
  'congestion',
  'failed',
  'cancelled',
  'blocked',
  'no_route',
] as const;
export type Disposition = (typeof DISPOSITIONS)[number];

/** One leg of a call on a trunk. */
export interface CdrLeg {
  trunk: string;
  span?: number;
  channel?: number;
  cic?: number;
  called: string;
  calling: string;
  /** ISO times with milliseconds. */
  startedAt: string;
  answeredAt?: string;
  endedAt?: string;
  cause?: number;
  causeName?: string;
  releasedBy?: 'remote' | 'local' | 'stack';
}

export interface CallRecord {
  /**
   * Idempotent id, fixed when the attempt starts (`<boot id>-<engine call id>`); writing the same
   * record twice stores it once.
   */
  id: string;
  direction: 'inbound' | 'outbound' | 'internal';
  startedAt: string;
  answeredAt?: string;
  endedAt: string;
  /** endedAt - startedAt. */
  durationMs: number;
  /** endedAt - answeredAt, 0 when never answered. */
  billableMs: number;
  /** The numbers as they arrived (inbound) or were asked for (outbound), before manipulation. */
  called: string;
  calling: string;
  callingPresentation?: 'allowed' | 'restricted';
  /** The route that took the call, and where it sent it ("extension 201", "ivr welcome"). */
  route?: string;
  destination?: string;
  disposition: Disposition;
  /** Q.850 cause that ended the attempt, and its name (NORMAL_CLEARING). */
  cause: number;
  causeName: string;
  /** The first leg (the inbound call, or the outbound call's answered or last-tried leg). */
  a: CdrLeg;
  /** The second leg when the call was bridged (inbound to an extension or out to a trunk). */
  b?: CdrLeg;
  /** Trunks tried before the one that took the call (outbound hunting and failover). */
  tries?: { trunk: string; cause: number; causeName: string }[];
  /**
   * Trunks hunting passed over without trying them: down (alarm, signalling link out of
   * service, with `why`), busy (no free channel) or unknown (not running in the engine).
   */
  skipped?: { trunk: string; reason: 'down' | 'busy' | 'unknown'; why?: string }[];
}
