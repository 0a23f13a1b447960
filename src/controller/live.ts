// SPDX-License-Identifier: GPL-2.0-or-later
// The live view of the switch (spans, every timeslot, call events) as change events, shared by the web UI's WebSocket and MQTT.

import { type Static, Type } from '@sinclair/typebox';
import type { CallManagerEvents, CallSummary } from '../calls/manager.ts';
import type { CallRecord } from '../cdr/record.ts';
import { isSwitchboardError } from '../core/errors.ts';
import type { DahdiSpan } from '../native/addon.ts';
import type { EngineSnapshot } from '../native/engine.ts';

/** What a timeslot (or analog port) is doing; `unconfigured` when no trunk uses it. */
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
export type LiveChannelState = (typeof CHANNEL_STATES)[number];

export const ChannelStatus = Type.Object(
  {
    span: Type.Integer({ minimum: 1 }),
    channel: Type.Integer({
      minimum: 1,
      description: 'timeslot (E1 1-31, T1 1-24) or analog port',
    }),
    state: Type.Union(CHANNEL_STATES.map((s) => Type.Literal(s))),
    trunk: Type.Optional(Type.String()),
    cic: Type.Optional(Type.Integer()),
    /** The engine's call on the channel, when there is one. */
    call: Type.Optional(Type.Integer()),
  },
  { $id: 'ChannelStatus', additionalProperties: false },
);
export type ChannelStatus = Static<typeof ChannelStatus>;

export const SpanStatus = Type.Object(
  {
    span: Type.Integer({ minimum: 1 }),
    name: Type.String(),
    type: Type.String({ description: 'E1, T1, J1 or analog' }),
    /** `OK`, or the alarms joined with `+` (LOS+RED). */
    state: Type.String(),
    alarms: Type.Array(Type.String()),
    configured: Type.Boolean({ description: 'dahdi_cfg configured channels on it' }),
    clockSource: Type.Integer({
      description: 'the span DAHDI takes timing from (0: free run), the same for every span',
    }),
    counters: Type.Record(Type.String(), Type.Number()),
    /** Signalling links on the span: PRI D-channel, SS7 MTP2 link, MFC-R2/analog trunk state. */
    links: Type.Array(
      Type.Object({ trunk: Type.String(), kind: Type.String(), state: Type.String() }),
    ),
    trunks: Type.Array(Type.String()),
    channels: Type.Record(Type.String(), Type.Integer(), {
      description: 'how many timeslots are in each state',
    }),
  },
  { $id: 'SpanStatus', additionalProperties: false },
);
export type SpanStatus = Static<typeof SpanStatus>;

export const CallEvent = Type.Object(
  {
    event: Type.Union([Type.Literal('start'), Type.Literal('answer'), Type.Literal('end')]),
    call: Type.String({ description: 'the call id (the CDR id)' }),
    at: Type.String({ format: 'date-time' }),
    direction: Type.String(),
    called: Type.String(),
    calling: Type.String(),
    trunk: Type.Optional(Type.String()),
    span: Type.Optional(Type.Integer()),
    channel: Type.Optional(Type.Integer()),
    route: Type.Optional(Type.String()),
    destination: Type.Optional(Type.String()),
    disposition: Type.Optional(Type.String()),
    cause: Type.Optional(Type.Integer()),
    causeName: Type.Optional(Type.String()),
    durationMs: Type.Optional(Type.Integer()),
    billableMs: Type.Optional(Type.Integer()),
  },
  { $id: 'CallEvent', additionalProperties: false },
);
export type CallEvent = Static<typeof CallEvent>;

export type LiveEvents = {
  span: [SpanStatus];
  channel: [ChannelStatus];
  call: [CallEvent];
  cdr: [CallRecord];
};

/** The parts of the call manager the feed listens to. */
export interface CallEventSource {
  on<K extends keyof CallManagerEvents>(
    event: K,
    listener: (...args: CallManagerEvents[K]) => void,
  ): unknown;
}

export interface LiveFeedOptions {
  spans: () => DahdiSpan[];
  snapshot: () => EngineSnapshot;
  calls?: CallEventSource;
  /** How often spans and timeslots are read for changes, ms (default 250). */
  pollMs?: number;
  /**
   * Error counters move all the time: a span whose only change is its counters is sent again at
   * most this often, ms (default 5000).
   */
  countersMs?: number;
}

function channelKey(span: number, channel: number): string {
  return `${span}:${channel}`;
}

function sameSpan(a: SpanStatus, b: SpanStatus, withCounters: boolean): boolean {
  const { counters: ca, ...ra } = a;
  const { counters: cb, ...rb } = b;
  if (JSON.stringify(ra) !== JSON.stringify(rb)) return false;
  return !withCounters || JSON.stringify(ca) === JSON.stringify(cb);
}

function sameChannel(a: ChannelStatus, b: ChannelStatus): boolean {
  return a.state === b.state && a.call === b.call && a.trunk === b.trunk && a.cic === b.cic;
}

/** The timeslots of a span as DAHDI numbers them: E1 has 31, T1 24, an analog card its ports. */
function timeslots(span: DahdiSpan): number {
  return span.totalchans;
}

/**
 * Reads DAHDI's spans and the engine snapshot every `pollMs` and emits what changed: a `span`
 * when its alarms, links or channel counts change (or its counters, at most every
 * `countersMs`), a `channel` for each timeslot whose state changed, and `call` / `cdr` as calls
 * start, answer and end. `spans()` and `channels()` give the whole current view (for a client
 * that just connected). Polling never throws: a DAHDI or engine that cannot be read is skipped.
 */
export class LiveFeed {
  readonly #opts: LiveFeedOptions;
  readonly #listeners: { [K in keyof LiveEvents]: Set<(...args: LiveEvents[K]) => void> } = {
    span: new Set(),
    channel: new Set(),
    call: new Set(),
    cdr: new Set(),
  };
  /** Subscribers that threw (each is isolated: the feed and the calls carry on). */
  listenerErrors = 0;
  #spans = new Map<number, SpanStatus>();
  #spanSentAt = new Map<number, number>();
  #channels = new Map<string, ChannelStatus>();
  #timer?: NodeJS.Timeout;
  /** Polls that could not read DAHDI or the engine. */
  failedPolls = 0;

  constructor(opts: LiveFeedOptions) {
    this.#opts = opts;
    const calls = opts.calls;
    if (calls) {
      calls.on('callStarted', (c) => this.#emitCall('start', c));
      calls.on('callAnswered', (c) => this.#emitCall('answer', c));
      calls.on('callEnded', (c, r) => {
        this.#emitCall('end', c, r);
        this.emit('cdr', r);
      });
    }
  }

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof LiveEvents>(event: K, listener: (...args: LiveEvents[K]) => void): () => void {
    const set = this.#listeners[event] as Set<(...args: LiveEvents[K]) => void>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** A subscriber that throws must not take the feed (or the call manager) down with it. */
  emit<K extends keyof LiveEvents>(event: K, ...args: LiveEvents[K]): void {
    for (const l of this.#listeners[event] as Set<(...args: LiveEvents[K]) => void>) {
      try {
        l(...args);
      } catch {
        this.listenerErrors++;
      }
    }
  }

  start(): void {
    if (this.#timer) return;
    this.poll();
    this.#timer = setInterval(() => this.poll(), this.#opts.pollMs ?? 250);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Every span as last read. */
  spans(): SpanStatus[] {
    return [...this.#spans.values()].sort((a, b) => a.span - b.span);
  }

  /** Every timeslot of every span as last read. */
  channels(): ChannelStatus[] {
    return [...this.#channels.values()].sort((a, b) => a.span - b.span || a.channel - b.channel);
  }

  /** One read of DAHDI and the engine; emits the differences from the previous read. */
  poll(): void {
    let spans: DahdiSpan[];
    let snap: EngineSnapshot;
    try {
      spans = this.#opts.spans();
      snap = this.#opts.snapshot();
    } catch (err) {
      if (!isSwitchboardError(err)) throw err;
      this.failedPolls++;
      return;
    }
    const now = Date.now();
    const channels = new Map<string, ChannelStatus>();
    const links = new Map<number, SpanStatus['links']>();
    const trunksOn = new Map<number, Set<string>>();
    for (const t of snap.trunks) {
      for (const s of t.spans) {
        const set = trunksOn.get(s) ?? new Set<string>();
        set.add(t.name);
        trunksOn.set(s, set);
      }
      for (const l of t.links) {
        const list = links.get(l.span) ?? [];
        list.push({ trunk: t.name, kind: l.kind, state: l.state });
        links.set(l.span, list);
      }
      for (const c of t.channels) {
        channels.set(channelKey(c.span, c.channel), {
          span: c.span,
          channel: c.channel,
          state: c.state,
          trunk: t.name,
          ...(c.cic !== undefined ? { cic: c.cic } : {}),
          ...(c.call !== undefined ? { call: c.call } : {}),
        });
      }
    }
    const seenSpans = new Set<number>();
    for (const s of spans) {
      seenSpans.add(s.span);
      const counts: Record<string, number> = {};
      for (let ts = 1; ts <= timeslots(s); ts++) {
        const key = channelKey(s.span, ts);
        const ch = channels.get(key) ?? {
          span: s.span,
          channel: ts,
          state: 'unconfigured' as const,
        };
        counts[ch.state] = (counts[ch.state] ?? 0) + 1;
        const before = this.#channels.get(key);
        this.#channels.set(key, ch);
        if (!before || !sameChannel(before, ch)) this.emit('channel', ch);
      }
      const status: SpanStatus = {
        span: s.span,
        name: s.name,
        type: s.type,
        state: s.alarms.length === 0 ? 'OK' : s.alarms.join('+'),
        alarms: [...s.alarms],
        configured: s.numchans > 0,
        clockSource: s.syncsrc,
        counters: { ...s.counters },
        links: links.get(s.span) ?? [],
        trunks: [...(trunksOn.get(s.span) ?? [])].sort(),
        channels: counts,
      };
      const before = this.#spans.get(s.span);
      this.#spans.set(s.span, status);
      const countersDue =
        now - (this.#spanSentAt.get(s.span) ?? 0) >= (this.#opts.countersMs ?? 5000);
      if (!before || !sameSpan(before, status, countersDue)) {
        this.#spanSentAt.set(s.span, now);
        this.emit('span', status);
      }
    }
    for (const n of [...this.#spans.keys()])
      if (!seenSpans.has(n)) {
        this.#spans.delete(n);
        for (const key of [...this.#channels.keys()])
          if (key.startsWith(`${n}:`)) this.#channels.delete(key);
      }
  }

  #emitCall(event: CallEvent['event'], c: CallSummary, r?: CallRecord): void {
    const leg = c.legs[0];
    const e: CallEvent = {
      event,
      call: c.id,
      at:
        event === 'start'
          ? c.startedAt
          : event === 'answer'
            ? (c.answeredAt ?? new Date().toISOString())
            : (r?.endedAt ?? new Date().toISOString()),
      direction: c.direction,
      called: c.called,
      calling: c.calling,
      ...(leg ? { trunk: leg.trunk } : {}),
      ...(leg?.span !== undefined ? { span: leg.span } : {}),
      ...(leg?.channel !== undefined ? { channel: leg.channel } : {}),
      ...(c.route ? { route: c.route } : {}),
      ...(c.destination ? { destination: c.destination } : {}),
      ...(r
        ? {
            disposition: r.disposition,
            cause: r.cause,
            causeName: r.causeName,
            durationMs: r.durationMs,
            billableMs: r.billableMs,
          }
        : {}),
    };
    this.emit('call', e);
  }
}
