// SPDX-License-Identifier: GPL-2.0-or-later
// The API's shapes as the UI reads them (the controller's TypeBox schemas are the authority).

export type Role = 'viewer' | 'operator' | 'installer' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'operator', 'installer', 'admin'];

export function roleAtLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export interface Me {
  user: string;
  role: Role;
  csrf?: string;
}

export const CHANNEL_STATES = [
  'idle',
  'seized',
  'ringing',
  'talking',
  'blocked',
  'alarm',
  'reset',
  'unconfigured',
] as const;
export type ChannelState = (typeof CHANNEL_STATES)[number];

export interface ChannelStatus {
  span: number;
  channel: number;
  state: ChannelState;
  trunk?: string;
  cic?: number;
  call?: number;
}

export interface SpanStatus {
  span: number;
  name: string;
  type: string;
  state: string;
  alarms: string[];
  configured: boolean;
  clockSource: number;
  counters: Record<string, number>;
  links: { trunk: string; kind: string; state: string }[];
  trunks: string[];
  channels: Record<string, number>;
}

export interface CallEvent {
  event: 'start' | 'answer' | 'end';
  call: string;
  at: string;
  direction: string;
  called: string;
  calling: string;
  trunk?: string;
  span?: number;
  channel?: number;
  route?: string;
  destination?: string;
  disposition?: string;
  cause?: number;
  causeName?: string;
  durationMs?: number;
  billableMs?: number;
}

export interface CallSummary {
  id: string;
  direction: string;
  called: string;
  calling: string;
  startedAt: string;
  answeredAt?: string;
  legs: { trunk: string; span?: number; channel?: number }[];
}

export type LiveMessage =
  | { type: 'snapshot'; spans: SpanStatus[]; channels: ChannelStatus[]; calls: CallSummary[] }
  | {
      type: 'delta';
      events: (
        | { kind: 'span'; span: SpanStatus }
        | { kind: 'channel'; channel: ChannelStatus }
        | { kind: 'call'; call: CallEvent }
      )[];
    };

/** A refused field, as the API names it (`trunks[1].switchtype`). */
export interface FieldError {
  path: string;
  message: string;
  line?: number;
}

export interface ConfigChange {
  path: string;
  op: 'add' | 'remove' | 'change' | 'reorder';
  before?: unknown;
  after?: unknown;
}

export interface RevisionInfo {
  id: number;
  createdAt: string;
  author: string;
  source: string;
  comment: string;
  parent?: number;
  restores?: number;
  changes: number;
  current?: boolean;
}

/** The switch configuration: the UI edits it section by section as plain data. */
export type SwitchConfig = Record<string, unknown> & {
  system?: { name?: string };
  spans?: Record<string, unknown>[];
  trunks?: (Record<string, unknown> & { name: string; signalling: string; span?: number })[];
};

export interface DahdiSpan {
  span: number;
  name: string;
  type: string;
  totalchans: number;
  alarms: string[];
}

export interface CallRecord {
  id: string;
  direction: string;
  startedAt: string;
  answeredAt?: string;
  endedAt: string;
  durationMs: number;
  billableMs: number;
  called: string;
  calling: string;
  route?: string;
  destination?: string;
  disposition: string;
  cause: number;
  causeName: string;
  a: { trunk: string; span?: number; channel?: number; cic?: number };
  b?: { trunk: string; span?: number; channel?: number };
}
