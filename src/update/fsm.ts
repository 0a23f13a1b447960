// SPDX-License-Identifier: GPL-2.0-or-later
// The firmware update as a state machine: receive, verify, install; one at a time, every refusal logged.

import { Fsm, type FsmOptions, type TransitionTable } from '../calls/fsm.ts';

export const UPDATE_STATES = [
  'idle',
  'receiving',
  'verifying',
  'installing',
  'installed',
  'failed',
] as const;
export type UpdateState = (typeof UPDATE_STATES)[number];

/**
 * - `upload`: a bundle starts arriving through the API
 * - `open`: a bundle already on the box is to be checked (the CLI's install)
 * - `received`: the whole upload is stored
 * - `verified`: signature, payload, model and version passed; the install starts
 * - `done`: RAUC installed it to the inactive slot
 * - `fail`: the upload broke off, the bundle was refused, or the install failed
 */
export const UPDATE_EVENTS = ['upload', 'open', 'received', 'verified', 'done', 'fail'] as const;
export type UpdateEvent = (typeof UPDATE_EVENTS)[number];

/**
 * The transition table. A new update may start only from a resting state (idle, installed,
 * failed); while one is receiving, verifying or installing, `upload` and `open` are refused,
 * which is the one-at-a-time rule (E_FIRMWARE_BUSY).
 */
export const UPDATE_TABLE: TransitionTable<UpdateState, UpdateEvent> = {
  idle: { upload: 'receiving', open: 'verifying' },
  receiving: { received: 'verifying', fail: 'failed' },
  verifying: { verified: 'installing', fail: 'failed' },
  installing: { done: 'installed', fail: 'failed' },
  installed: { upload: 'receiving', open: 'verifying' },
  failed: { upload: 'receiving', open: 'verifying' },
};

/** States in which an update is under way (no other may start, no reboot). */
export function updateBusy(state: UpdateState): boolean {
  return state === 'receiving' || state === 'verifying' || state === 'installing';
}

export function updateFsm(opts: FsmOptions = {}): Fsm<UpdateState, UpdateEvent> {
  return new Fsm<UpdateState, UpdateEvent>('firmware-update', UPDATE_TABLE, 'idle', opts);
}
