// SPDX-License-Identifier: GPL-2.0-or-later
// One call leg on a trunk (an engine call): its typed state machine, where it runs, its times and cause.

import type { CdrLeg } from '../cdr/record.ts';
import type { EngineEvent } from '../native/engine.ts';
import { causeName } from './cause.ts';
import { Fsm, type FsmOptions, type TransitionTable } from './fsm.ts';

/** Call events of the engine that drive a leg (`offered` creates an inbound leg). */
export type EngineCallEvent =
  | 'dialing'
  | 'proceeding'
  | 'alerting'
  | 'progress'
  | 'answered'
  | 'digits'
  | 'released'
  | 'metering';

/**
 * What moves a leg: the engine's call events (past tense: it happened on the line) and the
 * controller's own decisions (imperative: the command it sends). `collect` starts overlap
 * digit collection, `route` records the routing decision.
 */
export type LegEvent = EngineCallEvent | 'collect' | 'route' | 'alert' | 'answer' | 'release';

export type InboundState =
  | 'offered'
  | 'collecting'
  | 'routing'
  | 'alerting'
  | 'answered'
  | 'releasing'
  | 'released';

export type OutboundState =
  | 'dialing'
  | 'proceeding'
  | 'alerting'
  | 'answered'
  | 'releasing'
  | 'released';

/**
 * An incoming call. The engine reports what the far end does (digits, released) and, on some
 * stacks (PRI, analog), echoes our answer as `answered`; our alert and answer are commands, so
 * the engine does not report an incoming call alerting or proceeding: such an event is refused.
 * In `releasing`, events that crossed our release on the line (digits, the answer echo) are
 * taken and change nothing.
 */
export const INBOUND_TABLE: TransitionTable<InboundState, LegEvent> = {
  offered: { collect: 'collecting', route: 'routing', release: 'releasing', released: 'released' },
  collecting: {
    digits: 'collecting',
    route: 'routing',
    release: 'releasing',
    released: 'released',
  },
  // Overlap: more digits may follow a number that was already complete enough to route.
  routing: {
    digits: 'routing',
    alert: 'alerting',
    answer: 'answered',
    release: 'releasing',
    released: 'released',
  },
  alerting: { digits: 'alerting', answer: 'answered', release: 'releasing', released: 'released' },
  answered: {
    answered: 'answered',
    digits: 'answered',
    release: 'releasing',
    released: 'released',
  },
  releasing: { released: 'released', digits: 'releasing', answered: 'releasing' },
  released: {},
};

/**
 * An outgoing call we placed. PRI reports proceeding, alerting, progress and answered; SS7
 * alerting (ACM/CPG) and answered; R2 alerting (Group B) and answered; an analog station port
 * alerting at once (it rings the phone) and answered at off-hook; an analog line port dialing,
 * then answered (or proceeding first, with polarity). Progress (in-band information) does not
 * change the state. In `releasing`, whatever crossed our release is taken and changes nothing.
 */
export const OUTBOUND_TABLE: TransitionTable<OutboundState, LegEvent> = {
  dialing: {
    dialing: 'dialing',
    proceeding: 'proceeding',
    progress: 'dialing',
    alerting: 'alerting',
    answered: 'answered',
    release: 'releasing',
    released: 'released',
  },
  proceeding: {
    progress: 'proceeding',
    alerting: 'alerting',
    answered: 'answered',
    release: 'releasing',
    released: 'released',
  },
  alerting: {
    progress: 'alerting',
    answered: 'answered',
    release: 'releasing',
    released: 'released',
  },
  // DTMF from a phone we rang, metering pulses from an R2 exchange.
  answered: {
    digits: 'answered',
    metering: 'answered',
    release: 'releasing',
    released: 'released',
  },
  releasing: {
    released: 'released',
    dialing: 'releasing',
    proceeding: 'releasing',
    alerting: 'releasing',
    progress: 'releasing',
    answered: 'releasing',
    digits: 'releasing',
    metering: 'releasing',
  },
  released: {},
};

type CallEventFields = Extract<EngineEvent, { event: 'released' }>;

/** One engine call, inbound (offered to us) or outbound (placed by us). */
export class Leg<S extends string = InboundState | OutboundState> {
  readonly direction: 'in' | 'out';
  readonly fsm: Fsm<S, LegEvent>;
  readonly trunk: string;
  /** The engine's call id. */
  readonly call: number;
  span?: number;
  channel?: number;
  cic?: number;
  called: string;
  calling: string;
  readonly startedAt: Date;
  answeredAt?: Date;
  endedAt?: Date;
  cause?: number;
  causeName?: string;
  releasedBy?: 'remote' | 'local' | 'stack';

  private constructor(
    direction: 'in' | 'out',
    fsm: Fsm<S, LegEvent>,
    at: { trunk: string; call: number; called: string; calling: string; startedAt: Date },
  ) {
    this.direction = direction;
    this.fsm = fsm;
    this.trunk = at.trunk;
    this.call = at.call;
    this.called = at.called;
    this.calling = at.calling;
    this.startedAt = at.startedAt;
  }

  static inbound(
    at: { trunk: string; call: number; called: string; calling: string; startedAt: Date },
    opts: FsmOptions,
  ): Leg<InboundState> {
    const fsm = new Fsm<InboundState, LegEvent>(
      `in ${at.trunk}/${at.call}`,
      INBOUND_TABLE,
      'offered',
      opts,
    );
    return new Leg('in', fsm, at);
  }

  static outbound(
    at: { trunk: string; call: number; called: string; calling: string; startedAt: Date },
    opts: FsmOptions,
  ): Leg<OutboundState> {
    const fsm = new Fsm<OutboundState, LegEvent>(
      `out ${at.trunk}/${at.call}`,
      OUTBOUND_TABLE,
      'dialing',
      opts,
    );
    return new Leg('out', fsm, at);
  }

  get state(): S {
    return this.fsm.state;
  }

  get released(): boolean {
    return this.fsm.final;
  }

  /** Where the call runs, as far as the engine has said (events carry span, channel, cic). */
  locate(e: { span?: number; channel?: number; cic?: number }): void {
    if (e.span !== undefined) this.span = e.span;
    if (e.channel !== undefined) this.channel = e.channel;
    if (e.cic !== undefined) this.cic = e.cic;
  }

  /** Records the end of the call (the leg's FSM has taken `released`). */
  ended(at: Date, e: Pick<CallEventFields, 'cause' | 'by'> & { causeName?: string }): void {
    this.endedAt = at;
    this.cause = e.cause;
    this.causeName = e.causeName ?? causeName(e.cause);
    this.releasedBy = e.by;
  }

  toCdr(): CdrLeg {
    const leg: CdrLeg = {
      trunk: this.trunk,
      called: this.called,
      calling: this.calling,
      startedAt: this.startedAt.toISOString(),
    };
    if (this.span !== undefined) leg.span = this.span;
    if (this.channel !== undefined) leg.channel = this.channel;
    if (this.cic !== undefined) leg.cic = this.cic;
    if (this.answeredAt) leg.answeredAt = this.answeredAt.toISOString();
    if (this.endedAt) leg.endedAt = this.endedAt.toISOString();
    if (this.cause !== undefined) leg.cause = this.cause;
    if (this.causeName !== undefined) leg.causeName = this.causeName;
    if (this.releasedBy !== undefined) leg.releasedBy = this.releasedBy;
    return leg;
  }
}
