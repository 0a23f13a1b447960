// SPDX-License-Identifier: GPL-2.0-or-later
// A small typed finite state machine: an explicit transition table, refusals logged and counted, a history.

import { SwitchboardError } from '../core/errors.ts';

/**
 * For each state, the events it accepts and the state each leads to. A state absent from an
 * event's row refuses that event; a state with an empty row is final.
 */
export type TransitionTable<S extends string, E extends string> = {
  readonly [state in S]: { readonly [event in E]?: S };
};

export interface Transition<S extends string, E extends string> {
  from: S;
  event: E;
  to: S;
  /** now() when it happened (ms since the epoch). */
  at: number;
}

/** The logger calls an FSM makes (a pino logger, or a child of one, fits). */
export interface FsmLog {
  warn(obj: object, msg: string): void;
}

export interface FsmOptions {
  log?: FsmLog;
  /** Clock for the history (ms since the epoch); default Date.now. */
  now?: () => number;
  /** Most transitions kept in the history, oldest dropped first; default 64, minimum 1. */
  historyLimit?: number;
  /** Called on every refusal (a manager counts them across its calls). */
  onRefused?: (state: string, event: string) => void;
}

/**
 * One machine. `fire` is for events from outside (the engine, the far end), which can arrive in
 * any order: one that does not fit is refused (logged at warn, counted, false returned), never
 * silently ignored and never thrown, since a late or duplicated signalling event is no bug of
 * ours. `must` is for our own decisions, where a refusal is a bug: it throws E_CALL_STATE.
 */
export class Fsm<S extends string, E extends string> {
  readonly name: string;
  readonly #table: TransitionTable<S, E>;
  readonly #opts: FsmOptions;
  #state: S;
  readonly #history: Transition<S, E>[] = [];
  /** Transitions dropped from the front of the history. */
  #dropped = 0;
  #refused = 0;

  constructor(name: string, table: TransitionTable<S, E>, initial: S, opts: FsmOptions = {}) {
    this.name = name;
    this.#table = table;
    this.#state = initial;
    this.#opts = opts;
  }

  get state(): S {
    return this.#state;
  }

  /** A final state accepts no event. */
  get final(): boolean {
    return Object.keys(this.#table[this.#state]).length === 0;
  }

  /** Events refused so far. */
  get refused(): number {
    return this.#refused;
  }

  /** The last transitions, oldest first (see historyLimit), and how many older ones were dropped. */
  history(): { transitions: readonly Transition<S, E>[]; dropped: number } {
    return { transitions: [...this.#history], dropped: this.#dropped };
  }

  /** Would `event` be accepted now? */
  can(event: E): boolean {
    return this.#table[this.#state][event] !== undefined;
  }

  /** Takes an event from outside: the new state, or false when the table refuses it (logged). */
  fire(event: E): S | false {
    const to = this.#table[this.#state][event];
    if (to === undefined) {
      this.#refused++;
      this.#opts.log?.warn(
        { fsm: this.name, state: this.#state, event },
        `${this.name}: event ${event} refused in state ${this.#state}`,
      );
      this.#opts.onRefused?.(this.#state, event);
      return false;
    }
    this.#history.push({
      from: this.#state,
      event,
      to,
      at: (this.#opts.now ?? Date.now)(),
    });
    const limit = Math.max(1, this.#opts.historyLimit ?? 64);
    while (this.#history.length > limit) {
      this.#history.shift();
      this.#dropped++;
    }
    this.#state = to;
    return to;
  }

  /**
   * Takes an event we decided on: the new state.
   * @throws SwitchboardError E_CALL_STATE (details: fsm, state, event) when the table refuses it
   */
  must(event: E): S {
    const from = this.#state;
    const to = this.fire(event);
    if (to === false)
      throw new SwitchboardError(
        'E_CALL_STATE',
        `${this.name}: ${event} is not allowed in state ${from}`,
        { details: { fsm: this.name, state: from, event } },
      );
    return to;
  }
}
