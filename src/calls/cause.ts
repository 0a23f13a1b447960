// SPDX-License-Identifier: GPL-2.0-or-later
// Q.850 cause values by name, which of them move hunting on to the next trunk, and the CDR disposition each means.

import type { Disposition } from '../cdr/record.ts';

/**
 * ITU-T Q.850 cause values with the names the engine puts in `causeName` (native/src/calls.cc,
 * the names Asterisk and Wireshark print). test/calls-cause.test.ts checks the two tables agree.
 */
export const CAUSES = {
  UNALLOCATED: 1,
  NO_ROUTE_TRANSIT_NET: 2,
  NO_ROUTE_DESTINATION: 3,
  CHANNEL_UNACCEPTABLE: 6,
  CALL_AWARDED_DELIVERED: 7,
  NORMAL_CLEARING: 16,
  USER_BUSY: 17,
  NO_USER_RESPONSE: 18,
  NO_ANSWER: 19,
  CALL_REJECTED: 21,
  NUMBER_CHANGED: 22,
  DESTINATION_OUT_OF_ORDER: 27,
  INVALID_NUMBER_FORMAT: 28,
  FACILITY_REJECTED: 29,
  RESPONSE_TO_STATUS_ENQUIRY: 30,
  NORMAL_UNSPECIFIED: 31,
  NORMAL_CIRCUIT_CONGESTION: 34,
  NETWORK_OUT_OF_ORDER: 38,
  NORMAL_TEMPORARY_FAILURE: 41,
  SWITCH_CONGESTION: 42,
  ACCESS_INFO_DISCARDED: 43,
  REQUESTED_CHAN_UNAVAIL: 44,
  RESOURCE_UNAVAILABLE: 47,
  FACILITY_NOT_SUBSCRIBED: 50,
  OUTGOING_CALL_BARRED: 52,
  INCOMING_CALL_BARRED: 54,
  BEARERCAPABILITY_NOTAUTH: 57,
  BEARERCAPABILITY_NOTAVAIL: 58,
  BEARERCAPABILITY_NOTIMPL: 65,
  CHAN_NOT_IMPLEMENTED: 66,
  FACILITY_NOT_IMPLEMENTED: 69,
  INVALID_CALL_REFERENCE: 81,
  INCOMPATIBLE_DESTINATION: 88,
  INVALID_MSG_UNSPECIFIED: 95,
  MANDATORY_IE_MISSING: 96,
  MESSAGE_TYPE_NONEXIST: 97,
  WRONG_MESSAGE: 98,
  IE_NONEXIST: 99,
  INVALID_IE_CONTENTS: 100,
  WRONG_CALL_STATE: 101,
  RECOVERY_ON_TIMER_EXPIRE: 102,
  MANDATORY_IE_LENGTH_ERROR: 103,
  PROTOCOL_ERROR: 111,
  INTERWORKING: 127,
} as const;

export type CauseName = keyof typeof CAUSES;

const NAMES = new Map<number, CauseName>(
  Object.entries(CAUSES).map(([name, n]) => [n, name as CauseName]),
);

/** The name of a cause value, `CAUSE_<n>` for one without a name (as the engine does). */
export function causeName(cause: number): string {
  return NAMES.get(cause) ?? `CAUSE_${cause}`;
}

/** The value of a cause name (`NORMAL_CLEARING` or `CAUSE_16`), undefined when it is none. */
export function causeValue(name: string): number | undefined {
  if (Object.hasOwn(CAUSES, name)) return CAUSES[name as CauseName];
  const m = /^CAUSE_([0-9]{1,3})$/.exec(name);
  const n = m ? Number(m[1]) : Number.NaN;
  return n >= 1 && n <= 127 ? n : undefined;
}

/**
 * Causes that say "this way in is short of something now", not "this is the called party's
 * answer": hunting moves on to the next trunk. Q.850 puts them in class 010, resource
 * unavailable, plus two that are about the path and not the number:
 * - 34 NORMAL_CIRCUIT_CONGESTION: no circuit/channel free on this trunk.
 * - 38 NETWORK_OUT_OF_ORDER: the network behind this trunk is failing (for a while).
 * - 41 NORMAL_TEMPORARY_FAILURE: temporary; "the user may wish to try again soon".
 * - 42 SWITCH_CONGESTION: the switch behind this trunk is congested.
 * - 44 REQUESTED_CHAN_UNAVAIL: the channel we named (or the far end needs) is taken.
 * - 47 RESOURCE_UNAVAILABLE: class 010, unspecified.
 * - 58 BEARERCAPABILITY_NOTAVAIL: "not presently available": another carrier may have it.
 * - 102 RECOVERY_ON_TIMER_EXPIRE: the far switch did not answer our set-up (Q.931 T303,
 *   ISUP T7): the trunk, not the called party, failed.
 * Final, by contrast: the class-000/001 answers about the called party (1 UNALLOCATED,
 * 16 NORMAL_CLEARING, 17 USER_BUSY, 18/19 no answer, 21 CALL_REJECTED, 22 NUMBER_CHANGED,
 * 27 DESTINATION_OUT_OF_ORDER, 28 INVALID_NUMBER_FORMAT...): another trunk reaches the same
 * subscriber and gets the same answer, so trying it only delays the caller. Barring (52, 54,
 * 57), "not implemented" and protocol errors are final too: they repeat on every attempt.
 * 43 ACCESS_INFO_DISCARDED (class 010) is left out: it reports lost information elements in a
 * call that goes on, never the reason a set-up failed.
 */
export const FAILOVER_CAUSES: ReadonlySet<number> = new Set([34, 38, 41, 42, 44, 47, 58, 102]);

/** Does a release with this cause before answer move hunting on to the next candidate trunk? */
export function failoverCause(cause: number): boolean {
  return FAILOVER_CAUSES.has(cause);
}

/**
 * The cause a refused `place` command stands for in a CDR's tries, by the engine's error code:
 * a channel or trunk that cannot take a call is congestion (34), one that vanished from the
 * engine's configuration is 47 (the resource is not there), anything else a temporary failure.
 */
export function placeErrorCause(code: string | undefined): number {
  if (code === 'E_CHANNEL_BUSY') return CAUSES.NORMAL_CIRCUIT_CONGESTION;
  if (code === 'E_CHANNEL_UNKNOWN' || code === 'E_TRUNK_UNKNOWN')
    return CAUSES.RESOURCE_UNAVAILABLE;
  return CAUSES.NORMAL_TEMPORARY_FAILURE;
}

/** How an unanswered attempt that ended with `cause` reads in a report. */
export function dispositionOf(cause: number): Disposition {
  if (cause === CAUSES.USER_BUSY) return 'busy';
  if (cause === CAUSES.NO_USER_RESPONSE || cause === CAUSES.NO_ANSWER) return 'no_answer';
  if (cause === CAUSES.CALL_REJECTED) return 'rejected';
  if (failoverCause(cause)) return 'congestion';
  return 'failed';
}
