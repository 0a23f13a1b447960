// SPDX-License-Identifier: GPL-2.0-or-later
// What a dialled call came to (outcome) and which result list a finished contact lands in: one table each.

import { CAUSES, causeName } from '../calls/cause.ts';
import type { CampaignSettings, RetryOutcome } from './schema.ts';

/** What the port reports when a placed call has ended. */
export interface PortResult {
  /** The called party answered (a person, a machine or a fax: AMD tells). */
  answered: boolean;
  /** Q.850 cause that ended the call (16 NORMAL_CLEARING after an answer). */
  cause: number;
  /** Answering-machine detection verdict, when it ran. */
  amd?: 'human' | 'machine' | 'notsure';
  /** Call-progress tones heard before the answer: sit, busy, congestion (in-band, no cause). */
  tones?: string[];
  /** Broadcast: the key the flow collected (its first key, or the confirm sequence). */
  keypress?: string;
  /** Broadcast: the flow's own verdict; wins over `keypress` when both are given. */
  result?: 'success' | 'refused' | 'notified';
  /** The agent who took the answered call. */
  agent?: string;
  /** A person answered and no agent was free within pacing.abandonSeconds. */
  abandoned?: boolean;
  /** From placing to answer or release, ms. */
  ringMs?: number;
  /** From answer to release (agent talk, or the flow), ms. */
  talkMs?: number;
}

export const OUTCOMES = [
  'human',
  'machine',
  'abandoned',
  'busy',
  'no_answer',
  'congestion',
  'invalid_number',
  'refused',
  'failed',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const RESULTS = ['success', 'notified', 'refused', 'failed', 'wrong_number'] as const;
export type Result = (typeof RESULTS)[number];

/** What an outcome means for the contact. */
export interface OutcomeRule {
  /** Retried per `retries.<key>` (until used up); undefined: never retried. */
  retry?: RetryOutcome;
  /**
   * The result when the contact is finished with this outcome: a list, or `answered` for an
   * answered call whose result comes from the keypress, the flow or the agent (resultOf).
   */
  result: Result | 'answered';
  /** One line for the installer. */
  meaning: string;
}

/**
 * The one table of outcomes: how each is retried and which result list it ends in.
 * A retried outcome lands in `failed` when its retries are used up.
 */
export const OUTCOME_TABLE: Readonly<Record<Outcome, OutcomeRule>> = {
  human: {
    result: 'answered',
    meaning: 'a person answered (AMD said human or notsure, or no AMD)',
  },
  machine: {
    retry: 'machine',
    result: 'failed',
    meaning:
      'an answering machine answered; retried when machines are hung up on, notified when the message is left',
  },
  abandoned: {
    retry: 'abandoned',
    result: 'failed',
    meaning: 'a person answered and no agent was free within abandonSeconds',
  },
  busy: { retry: 'busy', result: 'failed', meaning: 'USER_BUSY (17) or busy tone' },
  no_answer: {
    retry: 'no_answer',
    result: 'failed',
    meaning: 'rang out, or the phone is off or out of reach (18, 19, 20, 27, 16 before answer)',
  },
  congestion: {
    retry: 'congestion',
    result: 'failed',
    meaning: 'the network or trunk was short of circuits (34, 38, 41, 42, 44, 47, 58, 102, tone)',
  },
  invalid_number: {
    result: 'wrong_number',
    meaning: 'the number does not exist (1, 3, 22, 28) or a special information tone',
  },
  refused: { result: 'refused', meaning: 'the called party rejected the call (21)' },
  failed: { result: 'failed', meaning: 'anything else: barred, not implemented, protocol errors' },
};

/** Causes that say the number itself is wrong: no retry will reach anyone. */
const INVALID_NUMBER_CAUSES: ReadonlySet<number> = new Set([
  CAUSES.UNALLOCATED,
  CAUSES.NO_ROUTE_DESTINATION,
  CAUSES.NUMBER_CHANGED,
  CAUSES.INVALID_NUMBER_FORMAT,
]);
/**
 * Unanswered with these: nobody took the call this time. 20 (subscriber absent) and 27
 * (destination out of order) are what Chinese mobile networks send for a phone switched off or
 * out of coverage, worth another try later; 16 before an answer is a far end that cleared while
 * ringing (or our own ring timeout).
 */
const NO_ANSWER_CAUSES: ReadonlySet<number> = new Set([
  CAUSES.NORMAL_CLEARING,
  CAUSES.NO_USER_RESPONSE,
  CAUSES.NO_ANSWER,
  20,
  CAUSES.DESTINATION_OUT_OF_ORDER,
]);
const CONGESTION_CAUSES: ReadonlySet<number> = new Set([34, 38, 41, 42, 44, 47, 58, 102]);

/** An outcome and, for logs and the attempt row, what decided it. */
export interface Classified {
  outcome: Outcome;
  reason: string;
}

function cause(n: number): string {
  return `cause ${causeName(n)} (${n})`;
}

/**
 * Classifies a finished call. Answered calls: abandoned first (the person was lost whatever AMD
 * said), then AMD machine, else human ("notsure" is treated as a person: hanging up on a person
 * is worse than talking to a machine). Unanswered: tones first (in-band tones come with a
 * cause the network did not mean, often 16 or 31), then the cause.
 */
export function classify(r: PortResult): Classified {
  const tones = (r.tones ?? []).map((t) => t.toLowerCase());
  if (r.answered) {
    if (r.abandoned) return { outcome: 'abandoned', reason: 'no agent free' };
    if (r.amd === 'machine') return { outcome: 'machine', reason: 'AMD machine' };
    return { outcome: 'human', reason: r.amd ? `AMD ${r.amd}` : 'answered' };
  }
  if (tones.includes('sit'))
    return { outcome: 'invalid_number', reason: 'special information tone' };
  if (tones.includes('busy')) return { outcome: 'busy', reason: 'busy tone' };
  if (tones.includes('congestion')) return { outcome: 'congestion', reason: 'congestion tone' };
  if (INVALID_NUMBER_CAUSES.has(r.cause))
    return { outcome: 'invalid_number', reason: cause(r.cause) };
  if (r.cause === CAUSES.USER_BUSY) return { outcome: 'busy', reason: cause(r.cause) };
  if (NO_ANSWER_CAUSES.has(r.cause)) return { outcome: 'no_answer', reason: cause(r.cause) };
  if (CONGESTION_CAUSES.has(r.cause)) return { outcome: 'congestion', reason: cause(r.cause) };
  if (r.cause === CAUSES.CALL_REJECTED) return { outcome: 'refused', reason: cause(r.cause) };
  return { outcome: 'failed', reason: cause(r.cause) };
}

/**
 * The result list of a contact finished after this attempt (the caller has decided there is no
 * retry). Broadcast, answered: the flow's verdict, else the keypress (a confirm key: success; a
 * wrong-number key: wrong_number; any other key, or none: refused, the person hung up before
 * confirming). A machine given the message: notified. Agent modes: the agent's verdict, else
 * notified (a person was reached and talked to an agent).
 */
export function resultOf(
  c: Pick<CampaignSettings, 'mode' | 'confirmKeys' | 'wrongNumberKeys' | 'amd'>,
  outcome: Outcome,
  r: PortResult,
): Result {
  if (outcome === 'machine' && c.amd.onMachine === 'message') return r.result ?? 'notified';
  const rule = OUTCOME_TABLE[outcome];
  if (rule.result !== 'answered') return rule.result;
  if (r.result) return r.result;
  if (c.mode !== 'broadcast') return 'notified';
  // The first key decides: the flow may collect more (an account number after the confirm).
  const key = (r.keypress ?? '').slice(0, 1);
  if (key === '') return 'refused';
  if (c.wrongNumberKeys.includes(key)) return 'wrong_number';
  return c.confirmKeys.includes(key) ? 'success' : 'refused';
}

/** Is a retry considered at all (machines given the message are finished)? */
export function retryKeyOf(
  c: Pick<CampaignSettings, 'amd'>,
  outcome: Outcome,
): RetryOutcome | undefined {
  if (outcome === 'machine' && c.amd.onMachine === 'message') return undefined;
  return OUTCOME_TABLE[outcome].retry;
}
