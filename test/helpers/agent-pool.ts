// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit: a discrete-event simulation of an outbound call centre (seeded RNG, simulated clock, agent pool, called parties) for the pacing tests and the bench.

import { type AgentCounts, launchCount, PredictivePacer } from '../../src/dialer/pacing.ts';
import type { PacingSettings } from '../../src/dialer/schema.ts';
import { prng } from './signal.ts';

/** An exponential draw with that mean. */
export function exponential(random: () => number, mean: number): number {
  return -Math.log(1 - random()) * mean;
}

/** A simulated clock: events run in time order (ties in the order they were scheduled). */
export class EventQueue {
  now = 0;
  #heap: { at: number; seq: number; fn: () => void }[] = [];
  #seq = 0;

  at(at: number, fn: () => void): void {
    const h = this.#heap;
    h.push({ at: Math.max(at, this.now), seq: this.#seq++, fn });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.#less(i, p)) {
        [h[i], h[p]] = [h[p] as (typeof h)[0], h[i] as (typeof h)[0]];
        i = p;
      } else break;
    }
  }

  after(ms: number, fn: () => void): void {
    this.at(this.now + ms, fn);
  }

  #less(i: number, j: number): boolean {
    const a = this.#heap[i] as { at: number; seq: number };
    const b = this.#heap[j] as { at: number; seq: number };
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #pop(): { at: number; fn: () => void } | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(l, m)) m = l;
        if (r < h.length && this.#less(r, m)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as (typeof h)[0], h[i] as (typeof h)[0]];
        i = m;
      }
    }
    return top;
  }

  /** Runs events until `stop()` says so or none are left. */
  run(stop: () => boolean): void {
    while (!stop()) {
      const e = this.#pop();
      if (!e) return;
      this.now = e.at;
      e.fn();
    }
  }
}

export interface AgentPoolOptions {
  agents: number;
  /** Mean talk time, ms (exponential, at least 10 s). */
  talkMeanMs: number;
  /** Mean wrap-up time after a call, ms (exponential). */
  wrapMeanMs: number;
}

type AgentState = 'ready' | 'talk' | 'wrap';

/**
 * Agents who take answered calls: the one ready longest takes the next call; an answered call
 * that finds nobody ready waits up to its abandon time for an agent, then counts abandoned.
 */
export class SimAgentPool {
  readonly #q: EventQueue;
  readonly #random: () => number;
  readonly #opts: AgentPoolOptions;
  readonly #state: AgentState[];
  /** Ready agents, longest ready first. */
  #idle: number[];
  #waiting: { deadline: number; done: (r: { abandoned: boolean; talkMs?: number }) => void }[] = [];
  /** Each call an agent took: from connect to the end of wrap-up, simulated ms. */
  readonly worked: { from: number; to: number }[] = [];

  constructor(q: EventQueue, random: () => number, opts: AgentPoolOptions) {
    this.#q = q;
    this.#random = random;
    this.#opts = opts;
    this.#state = Array.from({ length: opts.agents }, () => 'ready');
    this.#idle = this.#state.map((_, i) => i);
  }

  counts(): AgentCounts {
    return {
      ready: this.#idle.length,
      busy: this.#opts.agents - this.#idle.length,
      waiting: this.#waiting.length,
    };
  }

  /** Agent time talking or in wrap-up before `until`, ms. */
  workedBefore(until: number): number {
    let sum = 0;
    for (const w of this.worked) if (w.from < until) sum += Math.min(w.to, until) - w.from;
    return sum;
  }

  /** An answered call asks for an agent; `done` reports how it ended. */
  offer(abandonMs: number, done: (r: { abandoned: boolean; talkMs?: number }) => void): void {
    const agent = this.#idle.shift();
    if (agent !== undefined) {
      this.#connect(agent, done);
      return;
    }
    const entry = { deadline: this.#q.now + abandonMs, done };
    this.#waiting.push(entry);
    this.#q.at(entry.deadline, () => {
      const i = this.#waiting.indexOf(entry);
      if (i < 0) return;
      this.#waiting.splice(i, 1);
      done({ abandoned: true });
    });
  }

  #connect(agent: number, done: (r: { abandoned: boolean; talkMs?: number }) => void): void {
    const talk = Math.max(10_000, exponential(this.#random, this.#opts.talkMeanMs));
    const wrap = exponential(this.#random, this.#opts.wrapMeanMs);
    this.#state[agent] = 'talk';
    this.worked.push({ from: this.#q.now, to: this.#q.now + talk + wrap });
    this.#q.after(talk, () => {
      this.#state[agent] = 'wrap';
      done({ abandoned: false, talkMs: talk });
    });
    this.#q.after(talk + wrap, () => {
      this.#state[agent] = 'ready';
      const next = this.#waiting.shift();
      if (next) this.#connect(agent, next.done);
      else this.#idle.push(agent);
    });
  }
}

export interface PacingSimOptions {
  mode: 'predictive' | 'progressive';
  seed: number;
  agents: number;
  /** Outbound channels (the route's, and the campaign's maxChannels). */
  channels: number;
  /** Calls to place. */
  calls: number;
  /** P(a person answers) for the n-th call placed (0-based): change it mid-run. */
  answerRate: (n: number) => number;
  /** P(a machine answers), of the calls a person does not; default 0.1. */
  machineRate?: number;
  talkMeanMs: number;
  wrapMeanMs: number;
  /** Mean ring time before a person answers, ms; default 12000 (3 s + exponential). */
  ringMeanMs?: number;
  /** Ring timeout of an unanswered call, ms; default 30000. */
  ringTimeoutMs?: number;
  pacing: PacingSettings;
}

export interface PacingSimResult {
  placed: number;
  /** Answers by a person (connected or abandoned). */
  live: number;
  abandoned: number;
  /** abandoned / live. */
  abandonRate: number;
  /** Agent time talking or in wrap-up over agent time logged in, while calls were placed. */
  occupancy: number;
  /** Simulated time from the first to the last call placed, ms. */
  durationMs: number;
  /** Greatest number of calls up at once. */
  peakCalls: number;
  /** The predictive pacer's ratio at the end. */
  ratio?: number;
}

/**
 * Runs one campaign against the simulated agents and called parties: pacing is asked every
 * simulated second and after every call end, as the dialer does, until `calls` were placed and
 * all have ended.
 */
export function simulatePacing(o: PacingSimOptions): PacingSimResult {
  const q = new EventQueue();
  const random = prng(o.seed);
  const pool = new SimAgentPool(q, random, {
    agents: o.agents,
    talkMeanMs: o.talkMeanMs,
    wrapMeanMs: o.wrapMeanMs,
  });
  const pacer = new PredictivePacer(o.pacing);
  const ringMean = o.ringMeanMs ?? 12_000;
  const timeout = o.ringTimeoutMs ?? 30_000;
  const abandonMs = o.pacing.abandonSeconds * 1000;
  let placed = 0;
  let ended = 0;
  let ringing = 0;
  let up = 0;
  let peak = 0;
  let live = 0;
  let abandoned = 0;
  let lastPlacedAt = 0;

  const end = () => {
    up--;
    ended++;
    pace();
  };

  const place = () => {
    const n = placed++;
    lastPlacedAt = q.now;
    up++;
    ringing++;
    peak = Math.max(peak, up);
    const startedAt = q.now;
    const u = random();
    const p = o.answerRate(n);
    if (u < p) {
      const ring = Math.min(timeout, 3000 + exponential(random, ringMean - 3000));
      q.after(ring, () => {
        ringing--;
        live++;
        pacer.settled(true, ring);
        pool.offer(abandonMs, (r) => {
          if (r.abandoned) abandoned++;
          pacer.liveEnded(r.abandoned, q.now);
          end();
        });
      });
    } else if (u < p + (1 - p) * (o.machineRate ?? 0.1)) {
      const ring = 3000 + exponential(random, 5000);
      q.after(ring, () => {
        ringing--;
        // AMD takes a few seconds, then the machine is hung up on.
        q.after(4000, () => {
          pacer.settled(false, ring);
          end();
        });
      });
    } else {
      const ring = random() < 0.3 ? 2000 : timeout;
      q.after(ring, () => {
        ringing--;
        pacer.settled(false, q.now - startedAt);
        end();
      });
    }
  };

  const pace = () => {
    if (placed >= o.calls) return;
    const input = {
      mode: o.mode,
      freeChannels: o.channels - up,
      maxChannels: o.channels,
      ringing,
      inFlight: up,
      agents: pool.counts(),
      pacing: o.pacing,
    };
    let n = o.mode === 'predictive' ? pacer.launches(input, q.now) : launchCount(input);
    while (n-- > 0 && placed < o.calls) place();
  };

  const tick = () => {
    pace();
    if (placed < o.calls) q.after(1000, tick);
  };
  tick();
  q.run(() => placed >= o.calls && ended >= o.calls);
  const durationMs = Math.max(1, lastPlacedAt);
  // Measured while the campaign was placing calls: the tail after the last placement, when the
  // list has run out, says nothing about pacing.
  const occupancy = pool.workedBefore(durationMs) / (o.agents * durationMs);
  return {
    placed,
    live,
    abandoned,
    abandonRate: live === 0 ? 0 : abandoned / live,
    occupancy,
    durationMs,
    peakCalls: peak,
    ...(o.mode === 'predictive' ? { ratio: pacer.ratio } : {}),
  };
}
