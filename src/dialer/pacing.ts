// SPDX-License-Identifier: GPL-2.0-or-later
// How many calls a campaign launches now, per mode; the predictive pacer measures and adapts to its abandonment cap.

import type { CampaignMode, PacingSettings } from './schema.ts';

/** The agent group as pacing sees it. */
export interface AgentCounts {
  /** Logged in and free to take a call now. */
  ready: number;
  /** On a call or in wrap-up. */
  busy: number;
  /**
   * Busy agents expected free within the mean ring time, when the agent pool can tell (it knows
   * how long each has been in wrap-up); otherwise the predictive pacer estimates it.
   */
  freeSoon?: number;
  /** Answered calls waiting for an agent now: the next agents to come free are theirs. */
  waiting?: number;
}

/** What a campaign has up and may use now. */
export interface PacingInput {
  mode: CampaignMode;
  /** Free outbound channels on the campaign's route (the port's count). */
  freeChannels: number;
  /** The campaign's maxChannels. */
  maxChannels: number;
  /** This campaign's calls placed and not yet answered or ended. */
  ringing: number;
  /** This campaign's calls up (ringing and answered). */
  inFlight: number;
  agents?: AgentCounts;
  pacing: PacingSettings;
}

/** Bounds any demand by free channels and by what maxChannels leaves. */
function bounded(demand: number, i: PacingInput): number {
  const n = Math.min(Math.floor(demand), i.freeChannels, i.maxChannels - i.inFlight);
  return n > 0 ? n : 0;
}

/**
 * Calls to launch now for the non-predictive modes (predictive: PredictivePacer.launches).
 * - broadcast: the campaign's share of the route's channels (the free ones and its own calls
 *   up), less what it has up;
 * - preview: one per ready agent (each is offered a contact first);
 * - progressive: ready agents x progressiveRatio, less the calls still ringing (an answered
 *   call's agent is no longer ready, so answered calls are not counted twice).
 */
export function launchCount(i: PacingInput): number {
  switch (i.mode) {
    case 'broadcast':
      return bounded(
        Math.floor(((i.freeChannels + i.inFlight) * i.pacing.channelShare) / 100) - i.inFlight,
        i,
      );
    case 'preview':
      return bounded(i.agents?.ready ?? 0, i);
    case 'progressive':
      return bounded((i.agents?.ready ?? 0) * i.pacing.progressiveRatio - i.ringing, i);
    case 'predictive':
      return 0;
  }
}

/** A ring buffer of the last `size` samples with a running sum. */
class Window {
  readonly #values: number[] = [];
  #next = 0;
  #sum = 0;
  constructor(readonly size: number) {}
  push(v: number): void {
    if (this.#values.length < this.size) this.#values.push(v);
    else {
      this.#sum -= this.#values[this.#next] as number;
      this.#values[this.#next] = v;
      this.#next = (this.#next + 1) % this.size;
    }
    this.#sum += v;
  }
  get count(): number {
    return this.#values.length;
  }
  mean(fallback: number): number {
    return this.#values.length === 0 ? fallback : this.#sum / this.#values.length;
  }
}

/**
 * The share of the cap the pacer aims at: the rest absorbs the noise of small counts and the
 * bursts after a change in answer rate. These three were tuned on test/helpers/agent-pool.ts
 * (5 to 50 agents, answer rate 0.3 -> 0.55 -> 0.2 mid-run, 20 seeds each): worst run 2.7% for
 * a 3% cap.
 */
const AIM_OF_CAP = 0.7;
/** Multiplicative decrease of the ratio on an abandoned call, additive increase on a connected one. */
const DECREASE = 0.8;
const INCREASE = 0.005;

/** Sizes of the predictive pacer's sliding windows. */
export interface PacerWindows {
  /** Settled attempts the live-answer rate is measured over; default 200. */
  answers: number;
  /**
   * A short window beside it, default 40: the pacer uses the higher of the two rates, so a
   * rising answer rate (which over-dials) is caught fast and a falling one (which under-dials,
   * the safe side) slowly.
   */
  answersShort: number;
  /** Live answers the abandonment rate is measured over; default 300. */
  abandons: number;
  /** Live answers the mean ring time is measured over; default 100. */
  ring: number;
  /** Settled attempts before the measured answer rate is trusted; default 30 (till then 1). */
  minSamples: number;
  /**
   * Time constant of the handle-time estimate, ms; default 600000 (10 minutes): older
   * observations weigh e^-1 less per 10 minutes.
   */
  handleTauMs: number;
  /** Live answers between two decreases of the ratio (one burst is one mistake); default 5. */
  decreaseSpacing: number;
}

export const PACER_WINDOWS: Readonly<PacerWindows> = {
  answers: 200,
  answersShort: 40,
  abandons: 300,
  ring: 100,
  minSamples: 30,
  handleTauMs: 600_000,
  decreaseSpacing: 5,
};

/**
 * Predictive pacing. It keeps enough calls ringing that the live answers they are expected to
 * bring (ringing x measured live-answer rate) match the agents who will be free for them (ready
 * ones, and busy ones expected free within the mean ring time of a live answer, less answered
 * calls already waiting) times an over-dial ratio.
 *
 * Handle time (talk and wrap-up) is estimated by Little's law, mean busy agents over the rate at
 * which agents come free, both decayed with the same time constant: it needs nothing from the
 * agents but their busy count, includes wrap-up the port never sees, and errs long (safe) while
 * a campaign starts, when agents are busy and few calls have ended yet. Until enough attempts
 * have settled the answer rate reads 1 and the pacer is as cautious as progressive ratio 1.
 *
 * The ratio adapts to abandonment, additive increase and multiplicative decrease (the congestion
 * control of TCP): an abandoned call while the windowed rate is above the aim, or while the
 * campaign has spent its budget (aim x live answers so far), multiplies it by 0.8, at most once
 * per five live answers; a connected call while the windowed rate is under the aim and budget
 * is left adds 0.005 (slowly: a ratio grown high in good times is what a sudden change of
 * answer rate turns into a burst of abandoned calls). The aim is 70% of the cap.
 */
export class PredictivePacer {
  #ratio: number;
  #settings: PacingSettings;
  readonly #windows: PacerWindows;
  readonly #answers: Window;
  readonly #answersShort: Window;
  readonly #abandons: Window;
  readonly #ring: Window;
  #live = 0;
  #abandoned = 0;
  #attempts = 0;
  #lastDecreaseAt = Number.NEGATIVE_INFINITY;
  /** Decayed agent-milliseconds of busy agents, and decayed count of agents come free. */
  #busyArea = 0;
  #frees = 0;
  #observedAt: number | undefined;
  #busy = 0;

  constructor(settings: PacingSettings, windows: Partial<PacerWindows> = {}) {
    this.#settings = settings;
    this.#ratio = settings.ratio;
    this.#windows = { ...PACER_WINDOWS, ...windows };
    this.#answers = new Window(this.#windows.answers);
    this.#answersShort = new Window(this.#windows.answersShort);
    this.#abandons = new Window(this.#windows.abandons);
    this.#ring = new Window(this.#windows.ring);
  }

  /** New settings (setPacing): the ratio is clamped into the new range, or reset to `ratio`. */
  configure(settings: PacingSettings, resetRatio = false): void {
    this.#settings = settings;
    const r = resetRatio ? settings.ratio : this.#ratio;
    this.#ratio = Math.min(settings.maxRatio, Math.max(settings.minRatio, r));
  }

  get ratio(): number {
    return this.#ratio;
  }

  /**
   * Live answers per settled attempt, the higher of the long and the short window; 1 until
   * minSamples attempts settled.
   */
  answerRate(): number {
    if (this.#answers.count < this.#windows.minSamples) return 1;
    return Math.max(this.#answers.mean(1), this.#answersShort.mean(1));
  }

  /** Abandoned per live answer over the window, 0..1. */
  abandonRate(): number {
    return this.#abandons.mean(0);
  }

  /** Totals since the pacer was made. */
  totals(): { attempts: number; live: number; abandoned: number } {
    return { attempts: this.#attempts, live: this.#live, abandoned: this.#abandoned };
  }

  /** Mean time from placing a call to a live answer, ms (15 s until measured). */
  meanRingMs(): number {
    return this.#ring.mean(15_000);
  }

  /** Estimated mean handle time (talk and wrap-up), ms; Infinity until agents have come free. */
  handleMs(): number {
    return this.#frees < 1 ? Number.POSITIVE_INFINITY : this.#busyArea / this.#frees;
  }

  /** Advances the decayed busy-agent integral to `now`; `busy` holds from now on. */
  #observe(now: number, busy: number): void {
    if (this.#observedAt !== undefined && now > this.#observedAt) {
      const dt = now - this.#observedAt;
      const decay = Math.exp(-dt / this.#windows.handleTauMs);
      this.#busyArea = this.#busyArea * decay + this.#busy * dt;
      this.#frees *= decay;
    }
    if (this.#observedAt === undefined || now > this.#observedAt) this.#observedAt = now;
    this.#busy = busy;
  }

  /**
   * An attempt is settled: a person answered (`live`: the call goes to the agents), or it ended
   * without one (no answer, busy, a machine...). Told at the answer, not at the end of the call:
   * counted at their ends, the long live calls would lag the short failed ones and the answer
   * rate would read low while calls are up, which over-dials. `ringMs` of live answers only.
   */
  settled(live: boolean, ringMs?: number): void {
    this.#attempts++;
    this.#answers.push(live ? 1 : 0);
    this.#answersShort.push(live ? 1 : 0);
    if (live && ringMs !== undefined) this.#ring.push(ringMs);
  }

  /** A live call has ended at `now`: abandoned (no agent in time), or its agent is done talking. */
  liveEnded(abandoned: boolean, now: number): void {
    this.#observe(now, this.#busy);
    this.#live++;
    if (abandoned) this.#abandoned++;
    else this.#frees++;
    this.#abandons.push(abandoned ? 1 : 0);
    const aim = (AIM_OF_CAP * this.#settings.abandonCapPercent) / 100;
    const rate = this.abandonRate();
    const budget = aim * this.#live - this.#abandoned;
    const { minRatio, maxRatio } = this.#settings;
    if (abandoned && (rate > aim || budget < 0)) {
      if (this.#live - this.#lastDecreaseAt >= this.#windows.decreaseSpacing) {
        this.#ratio = Math.max(minRatio, this.#ratio * DECREASE);
        this.#lastDecreaseAt = this.#live;
      }
    } else if (!abandoned && rate < aim && budget >= 1)
      this.#ratio = Math.min(maxRatio, this.#ratio + INCREASE);
  }

  /**
   * Calls to launch at `now`. Busy agents expected free within the mean ring time come from the
   * pool when it knows, else busy x (1 - e^(-ring/handle)) (handle times taken as exponential).
   */
  launches(i: PacingInput, now: number): number {
    const agents = i.agents ?? { ready: 0, busy: 0 };
    this.#observe(now, agents.busy);
    if (agents.ready + agents.busy === 0) return 0;
    const soon =
      agents.freeSoon ?? agents.busy * (1 - Math.exp(-this.meanRingMs() / this.handleMs()));
    const available = agents.ready + soon - (agents.waiting ?? 0);
    if (available <= 0) return 0;
    const rate = Math.max(this.answerRate(), 0.02);
    return bounded((available * this.#ratio) / rate - i.ringing, i);
  }
}
