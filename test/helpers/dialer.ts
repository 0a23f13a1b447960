// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit for the dialer: a virtual clock with timers, and a fake port whose calls end by a rule, on that clock.

import type {
  DialerPort,
  DialerTimers,
  PlacedCall,
  PlaceRequest,
} from '../../src/dialer/dialer.ts';
import type { PortResult } from '../../src/dialer/outcome.ts';
import type { CampaignDoc } from '../../src/dialer/schema.ts';

/** Virtual time: timers fire only when the test advances the clock. */
export class VirtualClock implements DialerTimers {
  ms: number;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #n = 0;

  constructor(start: string | number) {
    this.ms = typeof start === 'number' ? start : Date.parse(start);
  }

  now = (): number => this.ms;

  set(fn: () => void, ms: number): unknown {
    this.#n++;
    this.#timers.set(this.#n, { at: this.ms + Math.max(0, ms), fn });
    return this.#n;
  }

  clear(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** The earliest pending timer's time. */
  next(): number | undefined {
    let at: number | undefined;
    for (const t of this.#timers.values()) if (at === undefined || t.at < at) at = t.at;
    return at;
  }

  /** Lets promise callbacks (the port's done, the dialer's then) run. */
  async settle(): Promise<void> {
    for (let i = 0; i < 8; i++) await Promise.resolve();
  }

  /** Fires every timer due by `until`, in time order, settling promises after each. */
  async advanceTo(until: number): Promise<void> {
    for (;;) {
      let id: number | undefined;
      let best: { at: number; fn: () => void } | undefined;
      for (const [k, t] of this.#timers)
        if (t.at <= until && (!best || t.at < best.at || (t.at === best.at && k < (id ?? 0)))) {
          best = t;
          id = k;
        }
      if (!best || id === undefined) break;
      this.#timers.delete(id);
      this.ms = Math.max(this.ms, best.at);
      best.fn();
      await this.settle();
    }
    this.ms = Math.max(this.ms, until);
  }
}

/** What the fake port makes of one call: the result and how long the call lasts, ms. */
export interface Scripted {
  result: PortResult;
  /** From placing to the end, ms. */
  durationMs: number;
  /** From placing to the answer, ms (answered calls). */
  answerMs?: number;
}

export interface PlacedRecord {
  req: PlaceRequest;
  at: number;
  id: string;
}

/**
 * A port over a shared pool of channels: each call takes one until it ends. `script` decides
 * each call's fate from the number and attempt.
 */
export class FakePort implements DialerPort {
  readonly placed: PlacedRecord[] = [];
  up = 0;
  /** The most calls up at once. */
  peak = 0;
  #n = 0;

  constructor(
    readonly clock: VirtualClock,
    readonly channels: number,
    readonly script: (req: PlaceRequest) => Scripted,
  ) {}

  freeChannels(_campaign: CampaignDoc): number {
    return this.channels - this.up;
  }

  place(req: PlaceRequest): PlacedCall {
    const id = `call-${++this.#n}`;
    this.placed.push({ req, at: this.clock.ms, id });
    this.up++;
    this.peak = Math.max(this.peak, this.up);
    const s = this.script(req);
    let answer: (v: boolean) => void = () => undefined;
    const answered = new Promise<boolean>((r) => {
      answer = r;
    });
    if (s.result.answered && s.answerMs !== undefined)
      this.clock.set(() => answer(true), s.answerMs);
    const done = new Promise<PortResult>((resolve) => {
      this.clock.set(() => {
        this.up--;
        answer(false);
        resolve(s.result);
      }, s.durationMs);
    });
    return { id, done, answered };
  }
}
