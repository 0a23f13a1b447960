// SPDX-License-Identifier: GPL-2.0-or-later
// The live view over the WebSocket (GET /api/live): spans, every timeslot, recent call events; reconnects.

import { useEffect, useState } from 'preact/hooks';
import { endSession } from './api.ts';
import type { CallEvent, CallSummary, ChannelStatus, LiveMessage, SpanStatus } from './types.ts';

export type LinkState = 'connecting' | 'open' | 'closed';

/** Most call events kept for pages that follow a call (the test call page). */
const MAX_CALL_EVENTS = 500;

/**
 * One connection per page load, shared by every page. On connect the server sends the whole
 * view; after that only changes. A dropped connection is retried with a growing delay (1 s to
 * 15 s), and the next snapshot replaces whatever the view held.
 */
export class LiveStore {
  spans = new Map<number, SpanStatus>();
  channels = new Map<string, ChannelStatus>();
  callEvents: CallEvent[] = [];
  callsAtConnect: CallSummary[] = [];
  state: LinkState = 'closed';
  /** Messages received (snapshots and deltas); tests and the status line read it. */
  messages = 0;
  #ws?: WebSocket;
  #listeners = new Set<() => void>();
  #callListeners = new Set<(e: CallEvent) => void>();
  #retryMs = 1000;
  #timer?: ReturnType<typeof setTimeout>;
  #wanted = false;
  #scheduled = false;

  connect(): void {
    this.#wanted = true;
    if (this.#ws) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/api/live`);
    this.#ws = ws;
    this.#set('connecting');
    ws.onopen = () => {
      this.#retryMs = 1000;
      this.#set('open');
    };
    ws.onmessage = (e) => this.#receive(JSON.parse(String(e.data)) as LiveMessage);
    ws.onclose = (e) => {
      this.#ws = undefined;
      this.#set('closed');
      if (!this.#wanted) return;
      // 1008: the server closed it because the session has ended; a new socket would be refused.
      if (e.code === 1008) {
        this.#wanted = false;
        endSession();
        return;
      }
      this.#timer = setTimeout(() => this.connect(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, 15000);
    };
  }

  /** Closes the connection and forgets the view (logout). */
  disconnect(): void {
    this.#wanted = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#ws?.close();
    this.#ws = undefined;
    this.spans.clear();
    this.channels.clear();
    this.callEvents = [];
    this.#set('closed');
  }

  subscribe(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  onCall(fn: (e: CallEvent) => void): () => void {
    this.#callListeners.add(fn);
    return () => this.#callListeners.delete(fn);
  }

  /** The timeslots of one span, in order. */
  channelsOf(span: number): ChannelStatus[] {
    const out: ChannelStatus[] = [];
    for (const c of this.channels.values()) if (c.span === span) out.push(c);
    return out.sort((a, b) => a.channel - b.channel);
  }

  #receive(m: LiveMessage): void {
    this.messages++;
    if (m.type === 'snapshot') {
      this.spans = new Map(m.spans.map((s) => [s.span, s]));
      this.channels = new Map(m.channels.map((c) => [`${c.span}:${c.channel}`, c]));
      this.callsAtConnect = m.calls;
    } else {
      for (const e of m.events) {
        if (e.kind === 'span') this.spans.set(e.span.span, e.span);
        else if (e.kind === 'channel')
          this.channels.set(`${e.channel.span}:${e.channel.channel}`, e.channel);
        else {
          this.callEvents.push(e.call);
          if (this.callEvents.length > MAX_CALL_EVENTS) this.callEvents.shift();
          for (const fn of this.#callListeners) fn(e.call);
        }
      }
    }
    this.#changed();
  }

  #set(state: LinkState): void {
    this.state = state;
    this.#changed();
  }

  /** Listeners hear about a burst of changes once per frame, not once per timeslot. */
  #changed(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    const run = () => {
      this.#scheduled = false;
      for (const fn of this.#listeners) fn();
    };
    if (typeof requestAnimationFrame === 'function' && document.visibilityState === 'visible')
      requestAnimationFrame(run);
    else setTimeout(run, 0);
  }
}

export const live = new LiveStore();

/** Re-renders the calling component whenever the live view changes. */
export function useLive(): LiveStore {
  const [, setTick] = useState(0);
  useEffect(() => live.subscribe(() => setTick((n) => n + 1)), []);
  return live;
}
