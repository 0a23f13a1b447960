// SPDX-License-Identifier: GPL-2.0-or-later
// The outbound dialer: runs many campaigns at once, picks due contacts, paces and places calls through a port, records what came of them.

import { stringify } from 'csv-stringify/sync';
import { placeErrorCause } from '../calls/cause.ts';
import type { CallLog } from '../calls/manager.ts';
import { SwitchboardError } from '../core/errors.ts';
import { normaliseNumber } from './contacts.ts';
import {
  classify,
  OUTCOMES,
  type Outcome,
  type PortResult,
  RESULTS,
  type Result,
  resultOf,
  retryKeyOf,
} from './outcome.ts';
import { type AgentCounts, launchCount, type PacingInput, PredictivePacer } from './pacing.ts';
import { contactWindows, inWindows, mayCall, nextOpen, retryAt } from './schedule.ts';
import {
  type CampaignDoc,
  type CampaignSettings,
  campaignSettings,
  type PacingSettings,
  validateCampaign,
} from './schema.ts';
import type { CampaignRow, CampaignState, ContactRow, Counters, DialerStore } from './store.ts';

export type { PortResult } from './outcome.ts';

/** One call the dialer asks the port to place. */
export interface PlaceRequest {
  campaign: CampaignDoc;
  contactId: number;
  /** The dial string (as imported: national digits or E.164). */
  number: string;
  /** 1 for the first attempt at this contact. */
  attempt: number;
  vars: Record<string, string>;
  name?: string;
  /** Preview: the agent who accepted the contact and takes the call. */
  agent?: string;
}

/** A placed call. */
export interface PlacedCall {
  /** The call id (the call manager's attempt id); kept on the attempt row. */
  id: string;
  /** Resolves once with what happened, when the call has ended; never rejects. */
  done: Promise<PortResult>;
  /**
   * Resolves true when the call is handed to the agents or the flow (answered, AMD done),
   * false when it ends without that. Optional, but predictive pacing needs it: without it an
   * answer is only learnt when the call ends, and answered calls count as ringing meanwhile.
   */
  answered?: Promise<boolean>;
}

/** How the dialer places calls; the controller implements it over the call manager's dial(). */
export interface DialerPort {
  /** Free outbound channels for this campaign's route now. */
  freeChannels(campaign: CampaignDoc): number;
  /**
   * Places one call. A synchronous throw counts as an attempt refused before it reached the
   * network (cause by its code, as src/calls/cause.ts placeErrorCause says).
   */
  place(req: PlaceRequest): PlacedCall;
}

/** The contact a preview agent is shown before the call is placed. */
export interface PreviewContact {
  campaign: string;
  contactId: number;
  number: string;
  name?: string;
  vars: Record<string, string>;
  attempt: number;
}

/** The agents of the agent groups (the ACD); preview, progressive and predictive use it. */
export interface AgentPool {
  /** Ready and busy agents of a group (and, when the pool knows, those free soon, calls waiting). */
  counts(group: string): AgentCounts;
  /** Takes a ready agent of the group for one contact (preview); undefined when none is ready. */
  reserve(group: string): string | undefined;
  /** Gives a reserved agent back (after the call, or a skipped preview). */
  release(agent: string): void;
  /** Shows the reserved agent the contact; resolves when they accept (call it) or skip it. */
  preview(agent: string, contact: PreviewContact): Promise<'accept' | 'skip'>;
}

export interface DialerTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export type DialerLog = CallLog;

export interface DialerOptions {
  store: DialerStore;
  port: DialerPort;
  agents?: AgentPool;
  log: DialerLog;
  /** Clock, ms since the epoch; default Date.now. */
  now?: () => number;
  /** Timer functions; default setTimeout / clearTimeout. */
  timers?: DialerTimers;
  /** Tick period, ms, 100..60000; default 1000. Each call end ticks too. */
  tickMs?: number;
  /** Region for do-not-call numbers (normalised as contact lists are); default CN. */
  region?: string;
  /** A skipped preview contact comes back after this long, ms; default 600000 (10 minutes). */
  previewSkipMs?: number;
}

/** Campaign commands and the states each is accepted in. */
export type CampaignCommand = 'start' | 'pause' | 'resume' | 'stop' | 'finish';

/**
 * The campaign state machine. `stopped` is final (its pending contacts stay pending in the
 * export); `done` may start again after more contacts are added; `finish` is the dialer's own,
 * when nothing is left to call.
 */
export const CAMPAIGN_TRANSITIONS: Readonly<
  Record<CampaignState, Partial<Record<CampaignCommand, CampaignState>>>
> = {
  draft: { start: 'running' },
  running: { pause: 'paused', stop: 'stopped', finish: 'done' },
  paused: { resume: 'running', stop: 'stopped' },
  stopped: {},
  done: { start: 'running' },
};

/** A call of the dialer in progress, for the monitor. */
export interface LiveCall {
  callId: string;
  attemptId: number;
  contactId: number;
  number: string;
  attempt: number;
  state: 'preview' | 'dialing' | 'answered';
  /** ms since the epoch the call entered its state. */
  since: number;
  placedAt: number;
  agent?: string;
  /** The predictive pacer has counted its answer (or lack of one). */
  settled: boolean;
}

export interface CampaignMonitor {
  name: string;
  state: CampaignState;
  mode: CampaignDoc['mode'];
  /** Inside the campaign's windows now. */
  windowOpen: boolean;
  contacts: { pending: number; dialing: number; done: number };
  outcomes: Record<Outcome, number>;
  results: Record<Result, number>;
  attempts: number;
  skipped: Counters['skipped'];
  interrupted: number;
  /** Abandoned calls per live answer, 0..1, over the whole campaign. */
  abandonRate: number;
  /** Live answers per ended attempt, 0..1, over the whole campaign. */
  answerRate: number;
  /** Attempts started in the last 60 s. */
  callsPerMinute: number;
  /** Predictive: the pacer's over-dial ratio now. */
  ratio?: number;
  calls: {
    callId: string;
    number: string;
    state: LiveCall['state'];
    since: string;
    agent?: string;
  }[];
}

interface Live {
  id: number;
  settings: CampaignSettings;
  state: CampaignState;
  pacer: PredictivePacer;
  calls: Map<string, LiveCall>;
  /** Contacts shown to a preview agent (pending, not to be picked twice). */
  held: Map<number, LiveCall>;
  /** Due contacts fetched this tick, not yet tried. */
  queue: ContactRow[];
}

/** Due contacts fetched at a time: a few more than a tick usually places. */
const BATCH = 20;

/**
 * The dialer engine. All its store writes are synchronous (better-sqlite3), and a tick runs
 * start to end without awaiting, so two ticks never interleave and a contact is never picked
 * twice.
 */
export class Dialer {
  readonly #store: DialerStore;
  readonly #port: DialerPort;
  readonly #agents: AgentPool | undefined;
  readonly #log: DialerLog;
  readonly #now: () => number;
  readonly #timers: DialerTimers;
  readonly #tickMs: number;
  readonly #region: string;
  readonly #previewSkipMs: number;
  readonly #live = new Map<string, Live>();
  #timer: unknown;
  #running = false;
  #closed = false;
  #ticking = false;
  /** Rotates which campaign goes first in a tick, for fairness. */
  #turn = 0;
  #seq = 0;

  constructor(o: DialerOptions) {
    this.#store = o.store;
    this.#port = o.port;
    this.#agents = o.agents;
    this.#log = o.log;
    this.#now = o.now ?? Date.now;
    this.#timers = o.timers ?? {
      set: (fn, ms) => setTimeout(fn, ms),
      clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    };
    this.#tickMs = Math.min(60_000, Math.max(100, o.tickMs ?? 1000));
    this.#region = o.region ?? 'CN';
    this.#previewSkipMs = o.previewSkipMs ?? 600_000;
    if (this.#store.interrupted > 0)
      this.#log.warn(
        { contacts: this.#store.interrupted },
        'contacts were being dialled when the dialer stopped: finished as interrupted, not called again',
      );
  }

  /** Starts ticking; campaigns the store has running resume. */
  run(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    for (const row of this.#store.campaigns())
      if ((row.state === 'running' || row.state === 'paused') && !this.#live.has(row.name))
        this.#load(row);
    this.#schedule();
    this.tick();
  }

  /**
   * Stops ticking. Calls still up are no longer recorded: their contacts stay `dialing` and the
   * next opening of the store finishes them as interrupted, as after a crash.
   */
  #draining = false;

  close(): void {
    this.#closed = true;
    this.#running = false;
    if (this.#timer !== undefined) this.#timers.clear(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = this.#timers.set(() => {
      this.#timer = undefined;
      this.tick();
      this.#schedule();
    }, this.#tickMs);
  }

  // Campaigns

  /** @throws SwitchboardError E_CAMPAIGN_FIELD, E_CAMPAIGN_EXISTS */
  create(doc: unknown): CampaignRow {
    return this.#store.createCampaign(validateCampaign(doc));
  }

  /**
   * Replaces a campaign's document (not while it runs: pause it first).
   * @throws SwitchboardError E_CAMPAIGN_FIELD, E_CAMPAIGN_UNKNOWN, E_CAMPAIGN_STATE
   */
  update(doc: unknown): void {
    const valid = validateCampaign(doc);
    const row = this.#row(valid.name);
    if (row.state === 'running')
      throw new SwitchboardError(
        'E_CAMPAIGN_STATE',
        `campaign "${valid.name}" is running: pause it before changing it`,
        { details: { campaign: valid.name, state: row.state } },
      );
    this.#store.updateDoc(valid.name, valid);
    const live = this.#live.get(valid.name);
    if (live) {
      live.settings = campaignSettings(valid);
      live.pacer.configure(live.settings.pacing);
    }
  }

  /** Adds imported contacts to a campaign (in any state but stopped). */
  addContacts(name: string, contacts: Parameters<DialerStore['addContacts']>[1]) {
    const row = this.#row(name);
    if (row.state === 'stopped')
      throw new SwitchboardError(
        'E_CAMPAIGN_STATE',
        `campaign "${name}" is stopped: it takes no more contacts`,
        { details: { campaign: name, state: row.state } },
      );
    return this.#store.addContacts(row.id, contacts);
  }

  /**
   * Adds numbers to the do-not-call list, normalised as contact lists are (so "+86 138..." bars
   * 13812345678); a number that does not normalise is kept as written. Returns how many were new.
   */
  addDnc(numbers: readonly string[], reason?: string): number {
    return this.#store.addDnc(
      numbers.map((n) => {
        const r = normaliseNumber(n, { region: this.#region });
        return 'number' in r ? r.number : n.trim();
      }),
      reason,
    );
  }

  start(name: string): void {
    const row = this.#row(name);
    const s = campaignSettings(row.doc);
    if (s.mode !== 'broadcast' && !this.#agents)
      throw new SwitchboardError(
        'E_CAMPAIGN_STATE',
        `campaign "${name}" is ${s.mode} and the dialer has no agent pool: it would place no calls`,
        { details: { campaign: name } },
      );
    this.#transition(row, 'start');
  }

  pause(name: string): void {
    this.#transition(this.#row(name), 'pause');
  }

  resume(name: string): void {
    this.#transition(this.#row(name), 'resume');
  }

  /** Stops a campaign for good: no new calls; calls up end normally and are recorded. */
  stop(name: string): void {
    this.#transition(this.#row(name), 'stop');
  }

  /**
   * Changes a campaign's pacing (and maxChannels) at once, also while it runs. A new `ratio`
   * restarts the predictive pacer's adaptation from it.
   * @throws SwitchboardError E_CAMPAIGN_FIELD naming the field, E_CAMPAIGN_UNKNOWN
   */
  setPacing(name: string, change: Partial<PacingSettings> & { maxChannels?: number }): void {
    const row = this.#row(name);
    const { maxChannels, ...pacing } = change;
    const doc: CampaignDoc = {
      ...row.doc,
      ...(maxChannels === undefined ? {} : { maxChannels }),
      pacing: { ...row.doc.pacing, ...pacing },
    };
    const valid = validateCampaign(doc);
    this.#store.updateDoc(name, valid);
    const live = this.#live.get(name);
    if (live) {
      live.settings = campaignSettings(valid);
      live.pacer.configure(live.settings.pacing, change.ratio !== undefined);
    }
    this.#log.info({ campaign: name, change }, 'pacing changed');
  }

  #row(name: string): CampaignRow {
    const row = this.#store.campaign(name);
    if (!row)
      throw new SwitchboardError('E_CAMPAIGN_UNKNOWN', `no campaign is named "${name}"`, {
        details: { campaign: name },
      });
    return row;
  }

  #transition(row: CampaignRow, command: CampaignCommand): void {
    const to = CAMPAIGN_TRANSITIONS[row.state][command];
    if (!to) {
      const from = Object.entries(CAMPAIGN_TRANSITIONS)
        .filter(([, t]) => t[command] !== undefined)
        .map(([s]) => s);
      throw new SwitchboardError(
        'E_CAMPAIGN_STATE',
        `cannot ${command} campaign "${row.name}": it is ${row.state} (${command} is for ${from.join(' or ') || 'no state'})`,
        { details: { campaign: row.name, state: row.state, command } },
      );
    }
    this.#store.setState(row.id, to);
    const live = this.#live.get(row.name) ?? this.#load(row);
    live.state = to;
    this.#log.info({ campaign: row.name, from: row.state, to }, `campaign ${command}`);
    if (to === 'running') this.tick();
  }

  #load(row: CampaignRow): Live {
    const settings = campaignSettings(row.doc);
    const live: Live = {
      id: row.id,
      settings,
      state: row.state,
      pacer: new PredictivePacer(settings.pacing),
      calls: new Map(),
      held: new Map(),
      queue: [],
    };
    this.#live.set(row.name, live);
    return live;
  }

  // The tick

  /**
   * One round: for each running campaign inside its windows, how many calls pacing allows, then
   * one call per campaign in turn (the first campaign rotates each tick) until each has its
   * count, has no due contact, or the channels seen free at the start of the tick are used up.
   * Campaigns are assumed to share their channels (they usually share the trunks): a campaign
   * on a route of its own is held back for a tick at most.
   */
  /**
   * Places no more calls but keeps recording the ones up (a controller shutting down clears
   * its calls, and each contact gets its real outcome instead of `interrupted`).
   */
  drain(): void {
    this.#draining = true;
  }

  tick(): void {
    if (this.#ticking || this.#closed || this.#draining) return;
    this.#ticking = true;
    try {
      const now = this.#now();
      const running = [...this.#live.entries()].filter(([, l]) => l.state === 'running');
      if (running.length === 0) return;
      const k = this.#turn++ % running.length;
      const order = [...running.slice(k), ...running.slice(0, k)];
      const demand = new Map<string, number>();
      let free = 0;
      for (const [name, l] of order) {
        l.queue = [];
        const s = l.settings;
        if (!inWindows({ zone: s.timezone, windows: s.windows }, now)) continue;
        const channels = Math.max(0, Math.floor(this.#port.freeChannels(s.doc)));
        free = Math.max(free, channels);
        const input: PacingInput = {
          mode: s.mode,
          freeChannels: channels,
          maxChannels: s.maxChannels,
          ringing: [...l.calls.values()].filter((c) => c.state === 'dialing').length,
          inFlight: l.calls.size,
          pacing: s.pacing,
          ...(this.#agents && s.doc.agentGroup
            ? { agents: this.#agents.counts(s.doc.agentGroup) }
            : {}),
        };
        const n = s.mode === 'predictive' ? l.pacer.launches(input, now) : launchCount(input);
        if (n > 0) demand.set(name, Math.min(n, channels));
      }
      let launched = 0;
      while (demand.size > 0 && launched < free) {
        for (const [name, l] of order) {
          const left = demand.get(name);
          if (left === undefined) continue;
          if (launched >= free || !this.#launchOne(name, l, now)) {
            demand.delete(name);
            continue;
          }
          launched++;
          if (left <= 1) demand.delete(name);
          else demand.set(name, left - 1);
        }
      }
      for (const [name, l] of running) this.#maybeDone(name, l);
    } finally {
      this.#ticking = false;
    }
  }

  /** Takes the next due contact that may be called now and calls (or previews) it. */
  #launchOne(name: string, l: Live, now: number): boolean {
    for (;;) {
      if (l.queue.length === 0) {
        l.queue = this.#store.dueContacts(l.id, now, BATCH, [...l.held.keys()]);
        if (l.queue.length === 0) return false;
      }
      const c = l.queue.shift() as ContactRow;
      if (this.#store.isDnc(c.number)) {
        this.#store.skip(c.id, 'dnc');
        this.#log.info({ campaign: name, contact: c.id }, 'on the do-not-call list: not called');
        continue;
      }
      const sets = contactWindows(l.settings, c.timezone ?? undefined);
      if (!mayCall(sets, now)) {
        const at = nextOpen(sets, now);
        if (at === undefined) {
          this.#store.skip(c.id, 'no_window');
          this.#log.warn(
            { campaign: name, contact: c.id, timezone: c.timezone },
            "the campaign's windows never open in the contact's time zone: not called",
          );
        } else this.#store.defer(c.id, at);
        continue;
      }
      if (l.settings.mode === 'preview') return this.#preview(name, l, c);
      if (this.#place(name, l, c, now)) return true;
    }
  }

  #preview(name: string, l: Live, c: ContactRow): boolean {
    const agents = this.#agents as AgentPool;
    const agent = agents.reserve(l.settings.doc.agentGroup as string);
    if (agent === undefined) return false;
    const now = this.#now();
    l.held.set(c.id, {
      callId: `preview-${c.id}`,
      attemptId: 0,
      contactId: c.id,
      number: c.number,
      attempt: c.attempts + 1,
      state: 'preview',
      since: now,
      placedAt: now,
      agent,
      settled: true,
    });
    const shown: PreviewContact = {
      campaign: name,
      contactId: c.id,
      number: c.number,
      vars: c.vars,
      attempt: c.attempts + 1,
      ...(c.name === null ? {} : { name: c.name }),
    };
    agents.preview(agent, shown).then(
      (answer) => {
        l.held.delete(c.id);
        if (this.#closed) return;
        const at = this.#now();
        const sets = contactWindows(l.settings, c.timezone ?? undefined);
        if (answer === 'accept' && l.state === 'running' && mayCall(sets, at)) {
          if (this.#place(name, l, c, at, agent)) return;
        } else if (answer === 'skip') this.#store.defer(c.id, at + this.#previewSkipMs);
        agents.release(agent);
        this.tick();
      },
      (err: unknown) => {
        l.held.delete(c.id);
        agents.release(agent);
        this.#log.error({ err, campaign: name, contact: c.id }, 'preview failed');
      },
    );
    return true;
  }

  /** Marks the contact dialing with its attempt row (committed), then asks the port. */
  #place(name: string, l: Live, c: ContactRow, now: number, agent?: string): boolean {
    const begun = this.#store.beginAttempt(c.id, now);
    if (!begun) return false;
    const req: PlaceRequest = {
      campaign: l.settings.doc,
      contactId: c.id,
      number: c.number,
      attempt: begun.n,
      vars: c.vars,
      ...(c.name === null ? {} : { name: c.name }),
      ...(agent === undefined ? {} : { agent }),
    };
    let placed: PlacedCall;
    try {
      placed = this.#port.place(req);
    } catch (err) {
      const code = (err as { code?: string }).code;
      this.#log.warn({ err, campaign: name, contact: c.id }, 'the port refused the call');
      placed = {
        id: `refused-${++this.#seq}`,
        done: Promise.resolve({ answered: false, cause: placeErrorCause(code) }),
      };
    }
    this.#store.setCallId(begun.attemptId, placed.id);
    const call: LiveCall = {
      callId: placed.id,
      attemptId: begun.attemptId,
      contactId: c.id,
      number: c.number,
      attempt: begun.n,
      state: 'dialing',
      since: now,
      placedAt: now,
      settled: false,
      ...(agent === undefined ? {} : { agent }),
    };
    l.calls.set(placed.id, call);
    placed.answered?.then(
      (yes) => {
        if (!yes || this.#closed || l.calls.get(call.callId) !== call) return;
        const at = this.#now();
        call.state = 'answered';
        call.since = at;
        if (!call.settled) {
          call.settled = true;
          l.pacer.settled(true, at - call.placedAt);
        }
      },
      () => undefined,
    );
    placed.done
      .then(
        (r) => this.#ended(name, l, call, r),
        (err: unknown) => {
          this.#log.error({ err, campaign: name, call: call.callId }, 'the port rejected done');
          this.#ended(name, l, call, { answered: false, cause: placeErrorCause(undefined) });
        },
      )
      .catch((err: unknown) =>
        this.#log.error({ err, campaign: name, call: call.callId }, 'recording a call failed'),
      );
    return true;
  }

  #ended(name: string, l: Live, call: LiveCall, r: PortResult): void {
    if (this.#closed) return;
    const now = this.#now();
    l.calls.delete(call.callId);
    const { outcome, reason } = classify(r);
    const s = l.settings;
    const retryKey = retryKeyOf(s, outcome);
    const same = this.#store.outcomeCount(call.contactId, outcome) + 1;
    const again =
      retryKey === undefined ? undefined : retryAt(s, retryKey, same, call.attempt, now);
    const live = outcome === 'human' || outcome === 'abandoned';
    const result = again === undefined ? resultOf(s, outcome, r) : undefined;
    this.#store.endAttempt({
      attemptId: call.attemptId,
      contactId: call.contactId,
      campaignId: l.id,
      endedAt: now,
      cause: r.cause,
      outcome,
      reason,
      live,
      abandoned: outcome === 'abandoned',
      ...(r.amd === undefined ? {} : { amd: r.amd }),
      ...(r.keypress === undefined ? {} : { keypress: r.keypress }),
      ...((r.agent ?? call.agent) === undefined ? {} : { agent: r.agent ?? call.agent }),
      next: again === undefined ? { result: result as Result } : { retryAt: again },
    });
    if (!call.settled) {
      call.settled = true;
      l.pacer.settled(live, r.ringMs ?? now - call.placedAt);
    }
    if (live) l.pacer.liveEnded(outcome === 'abandoned', now);
    if (call.agent !== undefined) this.#agents?.release(call.agent);
    this.#log.debug(
      { campaign: name, contact: call.contactId, call: call.callId, outcome, reason, result },
      'call ended',
    );
    this.tick();
    this.#maybeDone(name, l);
  }

  /** A running campaign with nothing up and nothing pending is done. */
  #maybeDone(name: string, l: Live): void {
    if (l.state !== 'running' || l.calls.size > 0 || l.held.size > 0) return;
    if (this.#store.nextDue(l.id) !== undefined) return;
    const row = this.#store.campaign(name);
    if (row) this.#transition(row, 'finish');
  }

  // Monitoring and results

  /** Every campaign but drafts, with its counters and calls up. */
  monitor(): CampaignMonitor[] {
    const now = this.#now();
    return this.#store
      .campaigns()
      .filter((row) => row.state !== 'draft')
      .map((row) => {
        const l = this.#live.get(row.name);
        const s = l?.settings ?? campaignSettings(row.doc);
        const k = row.counters;
        const ended = OUTCOMES.reduce((sum, o) => sum + k.outcomes[o], 0);
        const calls = l ? [...l.held.values(), ...l.calls.values()] : [];
        return {
          name: row.name,
          state: row.state,
          mode: s.mode,
          windowOpen: inWindows({ zone: s.timezone, windows: s.windows }, now),
          contacts: this.#store.contactCounts(row.id),
          outcomes: k.outcomes,
          results: k.results,
          attempts: k.attempts,
          skipped: k.skipped,
          interrupted: k.interrupted,
          abandonRate: k.live === 0 ? 0 : k.abandoned / k.live,
          answerRate: ended === 0 ? 0 : k.live / ended,
          callsPerMinute: this.#store.attemptsSince(row.id, now - 60_000),
          ...(s.mode === 'predictive' && l ? { ratio: l.pacer.ratio } : {}),
          calls: calls.map((c) => ({
            callId: c.callId,
            number: c.number,
            state: c.state,
            since: new Date(c.since).toISOString(),
            ...(c.agent === undefined ? {} : { agent: c.agent }),
          })),
        };
      });
  }

  /**
   * A result list as CSV text (UTF-8 with a byte-order mark, so that Excel reads Chinese names):
   * the contact's source row, number, name, result, last outcome, attempts, last attempt time
   * (ISO), last cause, keypress, agent, reason, then its variables.
   * @throws SwitchboardError E_CAMPAIGN_UNKNOWN, E_CAMPAIGN_FIELD (no such list)
   */
  exportResults(name: string, list: Result | 'all'): string {
    const row = this.#row(name);
    if (list !== 'all' && !(RESULTS as readonly string[]).includes(list))
      throw new SwitchboardError(
        'E_CAMPAIGN_FIELD',
        `list: "${list}" is not a result list (${RESULTS.join(', ')} or all)`,
        { details: { field: 'list', value: list } },
      );
    const rows = this.#store.exportRows(row.id, list);
    const varNames: string[] = [];
    for (const r of rows)
      for (const v of Object.keys(r.vars)) if (!varNames.includes(v)) varNames.push(v);
    const header = [
      'row',
      'number',
      'name',
      'result',
      'outcome',
      'attempts',
      'last_attempt',
      'cause',
      'keypress',
      'agent',
      'reason',
      ...varNames,
    ];
    const body = rows.map((r) => [
      r.row ?? '',
      r.number,
      r.name ?? '',
      r.result ?? '',
      r.lastOutcome ?? '',
      r.attempts,
      r.lastAttemptAt === null ? '' : new Date(r.lastAttemptAt).toISOString(),
      r.lastCause ?? '',
      r.lastKeypress ?? '',
      r.lastAgent ?? '',
      r.reason ?? '',
      ...varNames.map((v) => r.vars[v] ?? ''),
    ]);
    return `\uFEFF${stringify([header, ...body])}`;
  }
}
