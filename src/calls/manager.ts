// SPDX-License-Identifier: GPL-2.0-or-later
// The call manager: engine events in, routing decisions and engine commands out, one CDR per attempt.
//
// An attempt is one call through the switch: an inbound leg (offered on a trunk) and the
// outbound leg it was routed to (a phone, a trunk found by hunting), or an outbound leg alone
// (dial). Each leg is a typed FSM (leg.ts). Everything the manager does — engine events, the
// API's dial and hangup, app commands, digit timers — runs one at a time, in arrival order, on
// one internal queue: a place command's result (the new call id) is known before any event of
// that call is looked at, wherever the engine runs.

import type { CallRecord, Disposition } from '../cdr/record.ts';
import type { Destination } from '../config/schema.ts';
import { SwitchboardError } from '../core/errors.ts';
import type { CommandResult, EngineCommand, EngineEvent, MediaCommand } from '../native/engine.ts';
import type {
  Candidate,
  OutboundPlan,
  Presentation,
  Router,
  SkippedTrunk,
  TrunkStateView,
} from '../routing/router.ts';
import { CAUSES, causeName, dispositionOf, failoverCause, placeErrorCause } from './cause.ts';
import { TypedEmitter } from './emitter.ts';
import type { FsmOptions } from './fsm.ts';
import { type InboundState, Leg, type LegEvent, type OutboundState } from './leg.ts';

/** The engine as the manager needs it: commands only (events arrive through `handle`). */
export interface EngineLink {
  command(cmd: EngineCommand): Promise<CommandResult> | CommandResult;
}

/** The logger calls the manager makes; a pino logger fits. */
export interface CallLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): CallLog;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A media command aimed at the call under control (its `call` is filled in). */
export type LegMediaCommand = DistributiveOmit<Extract<MediaCommand, { call: number }>, 'call'>;

/** Where an app sends the call it holds: a number routed by the outbound routes, or an extension. */
export type TransferTarget =
  | {
      /** The number, routed like any outbound call (blacklist, caller ID, hunting with failover). */
      called: string;
      /** The caller ID sent; default the held party's number (inbound) or the dial's calling. */
      calling?: string;
      /** Who asks: outbound routes with a `from` list serve only those (a flow, a campaign). */
      from?: string;
    }
  | { extension: string };

export interface TransferOptions {
  /**
   * How long the new party may ring before the transfer fails with Cause.NO_ANSWER (19).
   * Milliseconds, 1000..600000, default 30000.
   */
  ringTimeoutMs?: number;
}

/**
 * What came of a transfer: `bridged` once the new party answered and the two are connected
 * (the call then ends when either hangs up); `failed` with the cause when nobody answered, the
 * number was refused, or the held party hung up first. After `failed` the app still holds its call.
 */
export type TransferResult =
  | { result: 'bridged'; trunk: string }
  | { result: 'failed'; cause: number; causeName: string };

/** What an app (IVR flow, queue, a dialer campaign) gets to run one call. */
export interface CallControl {
  /** The attempt id (the CDR id). */
  readonly id: string;
  /** The engine's id of the call the app runs on (the inbound call, or the answered outbound one). */
  readonly call: number;
  readonly trunk: string;
  /** The numbers after the inbound route's manipulation. */
  readonly called: string;
  readonly calling: string;
  /** Aborted when the call is released (by the caller, the network or the app). */
  readonly signal: AbortSignal;
  /** @throws SwitchboardError E_CALL_STATE when the call cannot be answered now */
  answer(): Promise<void>;
  /** Tells the caller the destination is being rung (ringback). */
  alert(): Promise<void>;
  /** Ends the call; cause default 16 NORMAL_CLEARING. */
  release(cause?: number): Promise<void>;
  /** A media command on this call: play, tone, record, detect, sendDtmf, stop... */
  media(cmd: LegMediaCommand): Promise<CommandResult>;
  /** Every engine event of this call (digits, dtmf, playDone, released...); returns the remover. */
  onEvent(listener: (e: EngineEvent) => void): () => void;
  /**
   * Places a new call and connects the held call to it when it answers. The held party hears
   * ringback meanwhile. One transfer at a time.
   * @throws SwitchboardError E_CALL_STATE when the call has ended or a transfer is under way
   */
  transfer(to: TransferTarget, opts?: TransferOptions): Promise<TransferResult>;
}

/** Runs an outbound call the manager dialled once it is answered (a campaign's message). */
export type OutboundApp = (call: CallControl) => Promise<void>;

export interface DialOptions {
  /** Run on the answered call; when it resolves the call is cleared (NORMAL_CLEARING). */
  app?: OutboundApp;
  /**
   * Give up after this long without an answer: the attempt ends with Cause.NO_ANSWER (19),
   * the network leg is released with NORMAL_CLEARING (16). Milliseconds, 1000..600000; default
   * none (the network's own no-answer timer decides).
   */
  ringTimeoutMs?: number;
}

/** Runs a call sent to an `ivr` or `queue` destination; resolves when done with it. */
export type AppHandler = (
  call: CallControl,
  destination: Extract<Destination, { type: 'ivr' | 'queue' }>,
) => Promise<void>;

export interface CallTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface CallManagerOptions {
  engine: EngineLink;
  router: Router;
  /** Called once per attempt, when it has ended. */
  cdr: (record: CallRecord) => void;
  log: CallLog;
  /**
   * This controller run's id: CDR ids are `<bootId>-<n>`, n counting attempts from 1, so ids
   * never repeat across restarts.
   */
  bootId: string;
  /** Clock; default `() => new Date()`. Event times come from the engine's own stamps. */
  now?: () => Date;
  apps?: Map<'ivr' | 'queue', AppHandler>;
  /**
   * The trunks' state for hunting (the controller builds it from the engine's snapshot and
   * events). Default: every configured trunk up with free channels, calls up counted from the
   * manager's own live legs.
   */
  trunkState?: TrunkStateView;
  /**
   * Overlap dialling (a phone or an overlap PRI/SS7 call offered incomplete): after this long
   * without a digit, the number collected so far is routed. Milliseconds, default 4000,
   * 1000..30000; keep it shorter than the analog trunk's digitTimeout (default 8000), which
   * releases a call nobody routed.
   */
  digitTimeoutMs?: number;
  /** Timer functions (tests pass their own); default setTimeout / clearTimeout. */
  timers?: CallTimers;
}

export type CallPhase = 'collecting' | 'routing' | 'ringing' | 'answered' | 'releasing';

/** A live attempt, for the API and the UI. */
export interface CallSummary {
  id: string;
  direction: CallRecord['direction'];
  phase: CallPhase;
  startedAt: string;
  answeredAt?: string;
  called: string;
  calling: string;
  route?: string;
  destination?: string;
  legs: {
    direction: 'in' | 'out';
    trunk: string;
    call: number;
    state: InboundState | OutboundState;
    span?: number;
    channel?: number;
    cic?: number;
  }[];
}

export type CallManagerEvents = {
  callStarted: [CallSummary];
  callRouted: [CallSummary];
  callAnswered: [CallSummary];
  callEnded: [CallSummary, CallRecord];
};

export interface CallManagerStats {
  /** Attempts started since the manager was made. */
  attempts: number;
  /** Attempts live now. */
  live: number;
  /** Engine events a leg's transition table refused. */
  refused: number;
  /** Call events for a call id no live leg has. */
  unknownCalls: number;
}

/** Input of `dial`: an outbound call asked for by the API, the dialer or a test. */
export interface DialRequest {
  /** Who asks (an agent group, an IVR flow): routes with a `from` list serve only those. */
  from?: string;
  called: string;
  calling?: string;
  presentation?: Presentation;
  /**
   * An installer's test call on this trunk, past the outbound routes (no hunting, no number
   * manipulation, no blacklist): proves one trunk, or with `channel` one timeslot or port.
   */
  trunk?: string;
  /** With `trunk`: the timeslot (E1/T1) or port (analog) to place it on. */
  channel?: number;
}

interface Tried {
  trunk: string;
  cause: number;
  leg?: Leg<OutboundState>;
}

interface Hunt {
  kind: 'trunk' | 'extension';
  candidates: (Candidate & { channel?: number })[];
  next: number;
  called: string;
  calling?: string;
  presentation?: Presentation;
}

interface Attempt {
  id: string;
  direction: CallRecord['direction'];
  log: CallLog;
  startedAt: Date;
  answeredAt?: Date;
  /** As they arrived (inbound) or were asked for (dial). */
  called: string;
  calling: string;
  presentation?: Presentation;
  callingName?: string;
  route?: string;
  destination?: string;
  /** The numbers after the inbound route's manipulation (what apps and extensions see). */
  routedCalled?: string;
  routedCalling?: string;
  /**
   * The held party: the inbound leg; or, once an outbound app transfers, the answered outbound
   * leg it ran on (so the new party becomes the target and the CDR's b leg).
   */
  origin?: AnyLeg;
  /** The outbound leg hunting placed last. */
  target?: Leg<OutboundState>;
  /** Candidates that failed before the target (a refused place has no leg). */
  tried: Tried[];
  skipped: SkippedTrunk[];
  hunt?: Hunt;
  /** The cause that ended the attempt: the first final one. */
  cause?: number;
  /** A disposition decided by the manager rather than read from the cause. */
  forced?: Disposition;
  /** Hung up from our side (hangup, app done): no new leg is placed. */
  stopping: boolean;
  ended: boolean;
  digitTimer?: unknown;
  app?: { abort: AbortController; listeners: Set<(e: EngineEvent) => void>; leg: AnyLeg };
  /** An outbound app waiting for the answer (dial with `app`). */
  outApp?: OutboundApp;
  ringTimer?: unknown;
  /** The ring timer ran out: the target's release reads as NO_ANSWER (19). */
  ringTimedOut?: boolean;
  /** A transfer under way: settled once the target answers or hunting fails. */
  transfer?: { settle: (r: TransferResult) => void };
  bridge?: { state: 'pending' | 'up' | 'down'; channels: number[] };
}

type AnyLeg = Leg<InboundState> | Leg<OutboundState>;

/** Ring timeouts, milliseconds. */
const RING_TIMEOUT_MIN = 1000;
const RING_TIMEOUT_MAX = 600_000;

function checkRingTimeout(ms: unknown, field: string): void {
  if (
    typeof ms !== 'number' ||
    !Number.isInteger(ms) ||
    ms < RING_TIMEOUT_MIN ||
    ms > RING_TIMEOUT_MAX
  )
    throw new SwitchboardError(
      'E_COMMAND_FIELD',
      `${field}: ${String(ms)} is not a whole number of milliseconds in ${RING_TIMEOUT_MIN}..${RING_TIMEOUT_MAX}`,
      { details: { field } },
    );
}

const CALL_EVENTS = new Set<string>([
  'dialing',
  'proceeding',
  'alerting',
  'progress',
  'answered',
  'digits',
  'released',
  'metering',
]);

type CallEvent = Extract<EngineEvent, { call: number; trunk: string; event: LegEvent }>;

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function describe(d: Destination): string {
  switch (d.type) {
    case 'extension':
      return `extension ${d.extension}`;
    case 'ivr':
      return `ivr ${d.flow}`;
    case 'queue':
      return `queue ${d.queue}`;
    case 'trunk':
      return `trunk ${d.route}`;
    case 'hangup':
      return `hangup ${d.cause ?? CAUSES.CALL_REJECTED}`;
  }
}

/** Ringing one extension: a hunt with its port as the only candidate. */
function extensionHunt(
  ext: { trunk: string; channel?: number; number: string },
  calling: string,
  presentation?: Presentation,
): Hunt {
  return {
    kind: 'extension',
    candidates: [
      {
        trunk: ext.trunk,
        group: '',
        ...(ext.channel === undefined ? {} : { channel: ext.channel }),
      },
    ],
    next: 0,
    called: ext.number,
    calling,
    ...(presentation ? { presentation } : {}),
  };
}

/** Phones hang on station ports (fxo_ks / fxo_ls signalling). */
function isStation(signalling: string | undefined): boolean {
  return signalling === 'fxo_ks' || signalling === 'fxo_ls';
}

export class CallManager {
  readonly #engine: EngineLink;
  #router: Router;
  readonly #cdr: (record: CallRecord) => void;
  readonly #log: CallLog;
  readonly #bootId: string;
  readonly #now: () => Date;
  readonly #apps: Map<'ivr' | 'queue', AppHandler>;
  readonly #view: TrunkStateView;
  readonly #digitMs: number;
  readonly #timers: CallTimers;
  readonly #events: TypedEmitter<CallManagerEvents>;
  readonly #attempts = new Map<string, Attempt>();
  /** Engine call id -> its live leg and attempt. */
  readonly #legs = new Map<number, { attempt: Attempt; leg: AnyLeg }>();
  #seq = 0;
  #refused = 0;
  #unknown = 0;
  #tail: Promise<void> = Promise.resolve();

  constructor(o: CallManagerOptions) {
    this.#engine = o.engine;
    this.#router = o.router;
    this.#cdr = o.cdr;
    this.#log = o.log;
    this.#bootId = o.bootId;
    this.#now = o.now ?? (() => new Date());
    this.#apps = o.apps ?? new Map();
    const ms = o.digitTimeoutMs ?? 4000;
    if (!Number.isInteger(ms) || ms < 1000 || ms > 30000)
      throw new SwitchboardError(
        'E_CONFIG_FIELD',
        `digitTimeoutMs: ${ms} is not a whole number of milliseconds in 1000..30000`,
      );
    this.#digitMs = ms;
    this.#timers = o.timers ?? {
      set: (fn, t) => setTimeout(fn, t),
      clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    };
    this.#view = o.trunkState ?? {
      get: (trunk) =>
        this.#router.signalling(trunk) === undefined
          ? undefined
          : {
              up: true,
              freeChannels: Number.POSITIVE_INFINITY,
              callsUp: [...this.#legs.values()].filter((l) => l.leg.trunk === trunk).length,
            },
    };
    this.#events = new TypedEmitter<CallManagerEvents>((event, err) =>
      this.#log.error({ event, err }, `a ${String(event)} listener threw`),
    );
  }

  /** Adds a listener; returns its remover. */
  on<K extends keyof CallManagerEvents>(
    event: K,
    listener: (...args: CallManagerEvents[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Takes a batch of engine events, in the engine's order. Resolves when they (and everything
   * queued before them) have been handled; never rejects: a failure is logged per event.
   */
  handle(events: readonly EngineEvent[]): Promise<void> {
    return this.#serial(async () => {
      for (const e of events) {
        try {
          await this.#dispatch(e);
        } catch (err) {
          this.#log.error({ err, event: e }, `handling engine event ${e.event} failed`);
        }
      }
    });
  }

  /**
   * An outbound call: routed by the outbound routes, hunted with failover. Returns the attempt
   * id at once; what happens next arrives as events (callRouted, callAnswered, callEnded).
   * @throws SwitchboardError E_COMMAND_FIELD when `called` is not a number
   */
  dial(req: DialRequest, opts: DialOptions = {}): string {
    if (typeof req.called !== 'string' || !/^\+?[0-9*#]+$/.test(req.called))
      throw new SwitchboardError(
        'E_COMMAND_FIELD',
        `called: ${JSON.stringify(req.called)} is not a number (digits, * and #)`,
        { details: { field: 'called' } },
      );
    if (req.calling !== undefined && !/^\+?[0-9*#]*$/.test(req.calling))
      throw new SwitchboardError(
        'E_COMMAND_FIELD',
        `calling: ${JSON.stringify(req.calling)} is not a number (digits, * and #)`,
        { details: { field: 'calling' } },
      );
    const ring = opts.ringTimeoutMs;
    if (ring !== undefined) checkRingTimeout(ring, 'ringTimeoutMs');
    if (req.channel !== undefined && req.trunk === undefined)
      throw new SwitchboardError('E_COMMAND_FIELD', 'channel: a channel needs its trunk', {
        details: { field: 'channel' },
      });
    if (req.trunk !== undefined && this.#router.signalling(req.trunk) === undefined)
      throw new SwitchboardError(
        'E_TRUNK_UNKNOWN',
        `trunk: no trunk "${req.trunk}" in the running configuration`,
        { details: { field: 'trunk' } },
      );
    const a = this.#newAttempt('outbound', req.called, req.calling ?? '', this.#now());
    if (req.presentation) a.presentation = req.presentation;
    if (opts.app) a.outApp = opts.app;
    void this.#serial(async () => {
      if (ring !== undefined) this.#startRingTimer(a, ring);
      this.#events.emit('callStarted', this.#summary(a));
      if (req.trunk !== undefined) {
        a.log.info({ trunk: req.trunk, channel: req.channel }, 'test call on a chosen trunk');
        a.hunt = {
          kind: 'trunk',
          candidates: [
            {
              trunk: req.trunk,
              group: '',
              ...(req.channel === undefined ? {} : { channel: req.channel }),
            },
          ],
          next: 0,
          called: req.called,
          ...(req.calling === undefined ? {} : { calling: req.calling }),
          ...(req.presentation === undefined ? {} : { presentation: req.presentation }),
        };
        return this.#huntNext(a);
      }
      const plan = this.#router.outbound(
        {
          called: req.called,
          ...(req.from === undefined ? {} : { from: req.from }),
          ...(req.calling === undefined ? {} : { calling: req.calling }),
          ...(req.presentation === undefined ? {} : { presentation: req.presentation }),
        },
        this.#view,
        this.#now(),
      );
      await this.#startHunt(a, plan);
    }).catch((err) => a.log.error({ err }, 'dial failed'));
    return a.id;
  }

  /**
   * Ends an attempt from our side (the API, the dialer): every live leg is released with
   * `cause` (default 16 NORMAL_CLEARING); unanswered, the attempt is `cancelled`.
   * @throws SwitchboardError E_CALL_UNKNOWN when no live attempt has that id
   */
  hangup(id: string, cause: number = CAUSES.NORMAL_CLEARING): Promise<void> {
    return this.#serial(async () => {
      const a = this.#attempts.get(id);
      if (!a) throw new SwitchboardError('E_CALL_UNKNOWN', `no live call ${id}`);
      if (!a.answeredAt) a.forced ??= 'cancelled';
      await this.#end(a, cause);
    });
  }

  /** The live attempts. */
  /**
   * Routes new calls by another configuration (an applied change). Calls already routed keep
   * the decisions they were given.
   */
  setRouter(router: Router): void {
    this.#router = router;
  }

  calls(): CallSummary[] {
    return [...this.#attempts.values()].map((a) => this.#summary(a));
  }

  stats(): CallManagerStats {
    return {
      attempts: this.#seq,
      live: this.#attempts.size,
      refused: this.#refused,
      unknownCalls: this.#unknown,
    };
  }

  /** Resolves once everything queued so far has been handled (tests, shutdown). */
  settled(): Promise<void> {
    return this.#serial(() => undefined);
  }

  // ---- the queue --------------------------------------------------------------------------

  #serial<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.#tail.then(fn);
    this.#tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #command(a: Attempt, cmd: EngineCommand): Promise<CommandResult> {
    a.log.debug({ cmd }, `command ${cmd.op}`);
    return await this.#engine.command(cmd);
  }

  // ---- attempts and legs ------------------------------------------------------------------

  #newAttempt(
    direction: CallRecord['direction'],
    called: string,
    calling: string,
    at: Date,
  ): Attempt {
    this.#seq++;
    const id = `${this.#bootId}-${this.#seq}`;
    const a: Attempt = {
      id,
      direction,
      log: this.#log.child({ call: id }),
      startedAt: at,
      called,
      calling,
      tried: [],
      skipped: [],
      stopping: false,
      ended: false,
    };
    this.#attempts.set(id, a);
    return a;
  }

  #fsmOptions(a: Attempt, trunk: string, call: number): FsmOptions {
    return {
      log: a.log.child({ trunk, leg: call }),
      now: () => this.#now().getTime(),
      onRefused: () => {
        this.#refused++;
      },
    };
  }

  #eventTime(e: { time?: unknown }): Date {
    return typeof e.time === 'number' && Number.isFinite(e.time) ? new Date(e.time) : this.#now();
  }

  #live(a: Attempt): AnyLeg[] {
    const legs: AnyLeg[] = [];
    if (a.origin && !a.origin.released) legs.push(a.origin);
    if (a.target && !a.target.released) legs.push(a.target);
    return legs;
  }

  // ---- engine events ----------------------------------------------------------------------

  async #dispatch(e: EngineEvent): Promise<void> {
    if (e.event === 'offered') return this.#offered(e);
    if (CALL_EVENTS.has(e.event) && 'call' in e && typeof e.call === 'number')
      return this.#callEvent(e as CallEvent);
    if (e.event === 'connected') {
      for (const side of [e.a, e.b]) {
        const a = side.call === undefined ? undefined : this.#legs.get(side.call)?.attempt;
        if (a?.bridge) {
          a.bridge = { state: 'up', channels: [e.a.dahdiChannel, e.b.dahdiChannel] };
          a.log.debug({ a: e.a, b: e.b }, 'bridge up');
          break;
        }
      }
      return;
    }
    if (e.event === 'disconnected') {
      for (const a of this.#attempts.values())
        if (a.bridge?.channels.includes(e.a.dahdiChannel)) {
          a.bridge.state = 'down';
          a.log.debug({ a: e.a, b: e.b }, 'bridge down');
        }
      return;
    }
    if (e.event === 'error' && e.call !== undefined) {
      const known = this.#legs.get(e.call);
      (known?.attempt.log ?? this.#log).warn(
        { code: e.code, op: e.op, trunk: e.trunk, leg: e.call },
        `engine error on call: ${e.message}`,
      );
      return;
    }
    // Media events of a call go to the app running it; span, link and log events are the
    // controller's business, not a call's.
    const call = (e as { call?: unknown }).call;
    if (typeof call === 'number') {
      const known = this.#legs.get(call);
      if (known) this.#toApp(known.attempt, known.leg, e);
    }
  }

  async #offered(e: Extract<EngineEvent, { event: 'offered' }>): Promise<void> {
    if (this.#legs.has(e.call)) {
      this.#refused++;
      this.#log.warn(
        { trunk: e.trunk, leg: e.call },
        `offered again for call ${e.call}, which is live: refused`,
      );
      return;
    }
    const at = this.#eventTime(e);
    const station = isStation(this.#router.signalling(e.trunk));
    const a = this.#newAttempt(station ? 'internal' : 'inbound', e.called, e.calling, at);
    if (e.callingPresentation) a.presentation = e.callingPresentation;
    if (e.callingName) a.callingName = e.callingName;
    const leg = Leg.inbound(
      { trunk: e.trunk, call: e.call, called: e.called, calling: e.calling, startedAt: at },
      this.#fsmOptions(a, e.trunk, e.call),
    );
    leg.locate(e);
    a.origin = leg;
    this.#legs.set(e.call, { attempt: a, leg });
    a.log.debug(
      { trunk: e.trunk, leg: e.call, called: e.called, calling: e.calling, complete: e.complete },
      'offered',
    );
    this.#events.emit('callStarted', this.#summary(a));
    if (e.complete === false) {
      leg.fsm.must('collect');
      await this.#collected(a);
    } else {
      await this.#route(a, false);
    }
  }

  async #callEvent(e: CallEvent): Promise<void> {
    const known = this.#legs.get(e.call);
    if (!known) {
      this.#unknown++;
      this.#log.debug(
        { trunk: e.trunk, leg: e.call, event: e.event },
        `${e.event} for call ${e.call}, which no live leg has`,
      );
      return;
    }
    const { attempt: a, leg } = known;
    if (leg.fsm.fire(e.event) === false) return;
    leg.locate(e);
    const at = this.#eventTime(e);
    if (e.event === 'released') {
      leg.ended(at, e);
      this.#toApp(a, leg, e);
      await this.#legGone(a, leg);
      return;
    }
    if (e.event === 'digits' && leg === a.origin && leg.state === 'collecting') {
      (leg as Leg<InboundState>).called += e.digits;
      await this.#collected(a);
    } else if (a.target && leg === a.target && a.target.state !== 'releasing') {
      if (e.event === 'alerting') await this.#targetAlerting(a);
      if (e.event === 'answered') await this.#targetAnswered(a, a.target, at);
    }
    this.#toApp(a, leg, e);
  }

  #toApp(a: Attempt, leg: AnyLeg, e: EngineEvent): void {
    if (!a.app || leg !== a.app.leg) return;
    for (const listener of [...a.app.listeners]) {
      try {
        listener(e);
      } catch (err) {
        a.log.error({ err, event: e.event }, 'an app event listener threw');
      }
    }
  }

  // ---- inbound: collecting and routing ----------------------------------------------------

  async #collected(a: Attempt): Promise<void> {
    const o = a.origin as Leg<InboundState>;
    if (o.called.endsWith('#')) {
      // '#' ends dialling at once (it is not part of the number).
      o.called = o.called.slice(0, -1);
      return this.#route(a, false);
    }
    const call = {
      trunk: o.trunk,
      called: o.called,
      calling: o.calling,
      ...(a.presentation ? { callingPresentation: a.presentation } : {}),
    };
    const now = this.#now();
    if (
      this.#router.inbound(call, now).kind !== 'blocked' &&
      this.#router.wantsMoreDigits(call, now)
    ) {
      if (a.digitTimer !== undefined) this.#timers.clear(a.digitTimer);
      a.digitTimer = this.#timers.set(() => {
        void this.#serial(async () => {
          if (!a.ended && a.origin?.state === 'collecting') {
            a.digitTimer = undefined;
            a.log.debug({ called: a.origin.called }, 'digit timeout: routing what was dialled');
            await this.#route(a, true);
          }
        }).catch((err) => a.log.error({ err }, 'routing after the digit timeout failed'));
      }, this.#digitMs);
      return;
    }
    await this.#route(a, false);
  }

  async #route(a: Attempt, timedOut: boolean): Promise<void> {
    const o = a.origin as Leg<InboundState>;
    if (a.digitTimer !== undefined) {
      this.#timers.clear(a.digitTimer);
      a.digitTimer = undefined;
    }
    const overlap = o.state === 'collecting';
    a.called = o.called;
    const d = this.#router.inbound(
      {
        trunk: o.trunk,
        called: o.called,
        calling: o.calling,
        ...(a.presentation ? { callingPresentation: a.presentation } : {}),
      },
      this.#now(),
    );
    if (d.kind === 'blocked') {
      a.forced = 'blocked';
      a.log.info({ calling: o.calling, entry: d.entry }, 'caller is on the inbound blacklist');
      return this.#end(a, CAUSES.CALL_REJECTED);
    }
    if (d.kind === 'none') {
      a.forced = 'no_route';
      a.log.info({ called: o.called, calling: o.calling }, 'no inbound route');
      // An overlap number that stopped short is incomplete rather than unallocated.
      return this.#end(a, timedOut ? CAUSES.INVALID_NUMBER_FORMAT : CAUSES.UNALLOCATED);
    }
    o.fsm.must('route');
    const dest = d.destination;
    a.route = d.route.name;
    a.destination = describe(dest);
    a.routedCalled = d.called;
    a.routedCalling = d.calling;
    if (a.direction === 'internal' && dest.type === 'trunk') a.direction = 'outbound';
    a.log.debug(
      { route: a.route, destination: a.destination, called: d.called, calling: d.calling },
      'routed',
    );
    if (overlap) {
      // The number is complete: digit timers stop (analog), CALL PROCEEDING goes out (PRI).
      try {
        await this.#command(a, { op: 'accept', call: o.call });
      } catch (err) {
        a.log.warn({ err, code: errorCode(err) }, 'accept refused');
      }
    }
    this.#events.emit('callRouted', this.#summary(a));
    switch (dest.type) {
      case 'hangup':
        return this.#end(a, dest.cause ?? CAUSES.CALL_REJECTED);
      case 'extension': {
        const ext = this.#router.extension(dest.extension);
        if (!ext) {
          a.forced = 'no_route';
          a.log.error({ extension: dest.extension }, 'the route names an extension that is gone');
          return this.#end(a, CAUSES.UNALLOCATED);
        }
        a.hunt = extensionHunt(ext, d.calling, a.presentation);
        return this.#huntNext(a);
      }
      case 'trunk': {
        const plan = this.#router.outbound(
          {
            from: o.trunk,
            called: d.called,
            calling: d.calling,
            route: dest.route,
            ...(a.presentation ? { presentation: a.presentation } : {}),
          },
          this.#view,
          this.#now(),
        );
        return this.#startHunt(a, plan);
      }
      case 'ivr':
      case 'queue':
        return this.#startApp(a, dest);
    }
  }

  // ---- hunting ------------------------------------------------------------------------------

  async #startHunt(a: Attempt, plan: OutboundPlan): Promise<void> {
    if (plan.kind === 'blocked') {
      a.forced = 'blocked';
      a.log.info({ called: a.called, entry: plan.entry }, 'number is on the outbound blacklist');
      return this.#end(a, CAUSES.CALL_REJECTED);
    }
    if (plan.kind === 'none') {
      a.forced = 'no_route';
      a.log.info({ called: a.called }, 'no outbound route');
      return this.#end(a, CAUSES.NO_ROUTE_DESTINATION);
    }
    if (!a.origin) {
      a.route = plan.route.name;
      this.#events.emit('callRouted', this.#summary(a));
    }
    a.skipped.push(...plan.skipped);
    for (const s of plan.skipped)
      a.log.info(
        { trunk: s.trunk, group: s.group, reason: s.reason, why: s.why },
        `hunting skips trunk ${s.trunk}: ${s.reason}`,
      );
    a.hunt = {
      kind: 'trunk',
      candidates: plan.candidates,
      next: 0,
      called: plan.called,
      ...(plan.calling === undefined ? {} : { calling: plan.calling }),
      ...(plan.presentation === undefined ? {} : { presentation: plan.presentation }),
    };
    return this.#huntNext(a);
  }

  /** Places the call on the next candidate; when none is left, the attempt fails. */
  async #huntNext(a: Attempt): Promise<void> {
    const h = a.hunt as Hunt;
    while (h.next < h.candidates.length && !a.stopping) {
      const c = h.candidates[h.next++] as Hunt['candidates'][number];
      const cmd: EngineCommand = {
        op: 'place',
        trunk: c.trunk,
        called: h.called,
        ...(h.calling === undefined ? {} : { calling: h.calling }),
        ...(h.presentation === undefined ? {} : { callingPresentation: h.presentation }),
        ...(c.channel === undefined ? {} : { channel: c.channel }),
        ...(h.kind === 'extension' && a.callingName ? { callingName: a.callingName } : {}),
      };
      let call: unknown;
      try {
        call = (await this.#command(a, cmd)).call;
        if (typeof call !== 'number') throw new Error('place returned no call id');
      } catch (err) {
        const cause = placeErrorCause(errorCode(err));
        a.tried.push({ trunk: c.trunk, cause });
        a.log.warn(
          { err, code: errorCode(err), trunk: c.trunk, cause },
          `place on ${c.trunk} refused`,
        );
        continue;
      }
      const leg = Leg.outbound(
        {
          trunk: c.trunk,
          call,
          called: h.called,
          calling: h.calling ?? '',
          startedAt: this.#now(),
        },
        this.#fsmOptions(a, c.trunk, call),
      );
      a.target = leg;
      this.#legs.set(call, { attempt: a, leg });
      if (c.group) this.#router.noteUsed(c.group, c.trunk);
      a.log.debug({ trunk: c.trunk, leg: call }, `placed on ${c.trunk}`);
      return;
    }
    if (a.stopping) return this.#maybeFinish(a);
    // Nothing left to try: the last cause heard, or congestion when every trunk was skipped.
    const last = a.tried[a.tried.length - 1]?.cause ?? CAUSES.NORMAL_CIRCUIT_CONGESTION;
    return this.#fail(a, h.kind === 'extension' && failoverCause(last) ? CAUSES.USER_BUSY : last);
  }

  /** A final failure before answer: the inbound leg (if any) is released with the cause. */
  async #fail(a: Attempt, cause: number): Promise<void> {
    // A transfer that found nobody: the app keeps its call.
    if (a.transfer) return this.#settleTransfer(a, cause);
    a.cause ??= cause;
    await this.#end(a, cause);
  }

  async #targetAlerting(a: Attempt): Promise<void> {
    const o = a.origin;
    if (!o?.fsm.can('alert')) return;
    try {
      await this.#command(a, { op: 'alert', call: o.call });
      o.fsm.must('alert');
    } catch (err) {
      a.log.warn({ err, code: errorCode(err) }, 'alert refused');
    }
  }

  async #targetAnswered(a: Attempt, t: Leg<OutboundState>, at: Date): Promise<void> {
    t.answeredAt = at;
    this.#stopRingTimer(a);
    const o = a.origin;
    if (o) {
      // A held party (an app's call) is answered already: it is connected, not answered.
      const held = o.state === 'answered';
      // The caller is already being cleared: the answer crossed it, nobody got connected.
      if (!held && !o.fsm.can('answer')) return;
      try {
        if (!held) {
          await this.#command(a, { op: 'answer', call: o.call });
          o.fsm.must('answer');
          o.answeredAt = this.#now();
        }
        a.answeredAt ??= at;
        a.bridge = { state: 'pending', channels: [] };
        await this.#command(a, {
          op: 'connect',
          a: { call: o.call },
          b: { call: t.call },
          mode: 'duplex',
        });
      } catch (err) {
        a.forced = 'failed';
        a.log.error({ err, code: errorCode(err) }, 'answering or bridging the inbound call failed');
        this.#settleTransfer(a, CAUSES.RESOURCE_UNAVAILABLE);
        return this.#end(a, CAUSES.RESOURCE_UNAVAILABLE);
      }
      const transfer = a.transfer;
      if (transfer) {
        a.transfer = undefined;
        a.log.info({ trunk: t.trunk }, 'transfer answered: connected');
        transfer.settle({ result: 'bridged', trunk: t.trunk });
        return;
      }
    } else {
      a.answeredAt ??= at;
    }
    this.#events.emit('callAnswered', this.#summary(a));
    if (!o && a.outApp) this.#runApp(a, t, a.outApp);
  }

  // ---- apps ---------------------------------------------------------------------------------

  async #startApp(a: Attempt, dest: Extract<Destination, { type: 'ivr' | 'queue' }>) {
    const handler = this.#apps.get(dest.type);
    if (!handler) {
      a.forced = 'no_route';
      a.log.warn(
        { destination: a.destination },
        `no ${dest.type} handler is registered: the call is refused`,
      );
      return this.#end(a, CAUSES.NO_ROUTE_DESTINATION);
    }
    this.#runApp(a, a.origin as AnyLeg, (control) => handler(control, dest));
  }

  /** Hands `leg` of attempt `a` to an app; when the app is done, the attempt is cleared. */
  #runApp(a: Attempt, leg: AnyLeg, run: (control: CallControl) => Promise<void>): void {
    const app = {
      abort: new AbortController(),
      listeners: new Set<(e: EngineEvent) => void>(),
      leg,
    };
    a.app = app;
    const control: CallControl = {
      id: a.id,
      call: leg.call,
      trunk: leg.trunk,
      called: a.routedCalled ?? leg.called,
      calling: a.routedCalling ?? leg.calling,
      signal: app.abort.signal,
      answer: () => this.#serial(() => this.#appAnswer(a, leg)),
      alert: () =>
        this.#serial(async () => {
          this.#mustBeLive(a, leg, 'alert');
          await this.#command(a, { op: 'alert', call: leg.call });
          leg.fsm.must('alert');
        }),
      release: (cause = CAUSES.NORMAL_CLEARING) =>
        this.#serial(async () => {
          a.stopping = true;
          await this.#end(a, cause);
        }),
      media: (cmd) =>
        this.#serial(async () => {
          if (leg.released) throw new SwitchboardError('E_CALL_STATE', `call ${a.id} has ended`);
          return this.#command(a, { ...cmd, call: leg.call } as EngineCommand);
        }),
      onEvent: (listener) => {
        app.listeners.add(listener);
        return () => app.listeners.delete(listener);
      },
      transfer: (to, opts = {}) => this.#appTransfer(a, leg, to, opts),
    };
    Promise.resolve()
      .then(() => run(control))
      .then(
        () => this.#serial(() => this.#appDone(a)),
        (err) => this.#serial(() => this.#appDone(a, err)),
      )
      .catch((err) => a.log.error({ err }, 'ending the call after its app failed'));
  }

  #mustBeLive(a: Attempt, leg: AnyLeg, event: LegEvent): void {
    if (!leg.fsm.can(event))
      throw new SwitchboardError(
        'E_CALL_STATE',
        `call ${a.id}: ${event} is not allowed in state ${leg.state}`,
        { details: { state: leg.state, event } },
      );
  }

  async #appAnswer(a: Attempt, leg: AnyLeg): Promise<void> {
    // An outbound app runs on a call the far end answered: nothing to do.
    if (leg.direction === 'out' && leg.state === 'answered') return;
    this.#mustBeLive(a, leg, 'answer');
    await this.#command(a, { op: 'answer', call: leg.call });
    leg.fsm.must('answer');
    leg.answeredAt = this.#now();
    a.answeredAt ??= leg.answeredAt;
    this.#events.emit('callAnswered', this.#summary(a));
  }

  async #appDone(a: Attempt, err?: unknown): Promise<void> {
    if (err !== undefined) {
      a.log.error({ err }, `the ${a.destination ?? 'outbound'} app failed`);
      if (!a.answeredAt) a.forced ??= 'failed';
    }
    this.#settleTransfer(a, CAUSES.NORMAL_CLEARING);
    a.stopping = true;
    await this.#end(
      a,
      err === undefined ? CAUSES.NORMAL_CLEARING : CAUSES.NORMAL_TEMPORARY_FAILURE,
    );
  }

  // ---- transfers and ring timers -------------------------------------------------------------

  #appTransfer(
    a: Attempt,
    leg: AnyLeg,
    to: TransferTarget,
    opts: TransferOptions,
  ): Promise<TransferResult> {
    const ring = opts.ringTimeoutMs ?? 30_000;
    checkRingTimeout(ring, 'ringTimeoutMs');
    const isExtension = 'extension' in to;
    if (!isExtension && (typeof to.called !== 'string' || !/^\+?[0-9*#]+$/.test(to.called)))
      return Promise.reject(
        new SwitchboardError(
          'E_COMMAND_FIELD',
          `called: ${JSON.stringify(to.called)} is not a number (digits, * and #)`,
          { details: { field: 'called' } },
        ),
      );
    return new Promise<TransferResult>((resolve, reject) => {
      this.#serial(async () => {
        if (leg.released || a.stopping || a.ended)
          throw new SwitchboardError('E_CALL_STATE', `call ${a.id} has ended`);
        if (a.transfer)
          throw new SwitchboardError('E_CALL_STATE', `call ${a.id}: a transfer is under way`);
        if (a.target && a.target !== leg && !a.target.released)
          throw new SwitchboardError('E_CALL_STATE', `call ${a.id} is already connected`);
        // An outbound app's call becomes the held party: the new call is the target (b leg).
        if (a.target === leg) {
          a.origin = leg;
          a.target = undefined;
        }
        a.transfer = { settle: resolve };
        a.ringTimedOut = false;
        a.log.info({ to }, 'transfer');
        try {
          // The held party hears ringback until the new one answers (the connect stops it).
          await this.#command(a, { op: 'tone', tone: 'ringback', call: leg.call });
        } catch (err) {
          a.log.debug({ code: errorCode(err) }, 'no ringback for the held party');
        }
        this.#startRingTimer(a, ring);
        if (isExtension) {
          const ext = this.#router.extension(to.extension);
          if (!ext) {
            this.#settleTransfer(a, CAUSES.UNALLOCATED);
            return;
          }
          a.hunt = extensionHunt(ext, leg.direction === 'in' ? leg.calling : leg.called);
          return this.#huntNext(a);
        }
        const plan = this.#router.outbound(
          {
            from: to.from ?? leg.trunk,
            called: to.called,
            calling: to.calling ?? (leg.direction === 'in' ? leg.calling : a.calling),
            ...(a.presentation ? { presentation: a.presentation } : {}),
          },
          this.#view,
          this.#now(),
        );
        if (plan.kind !== 'route') {
          this.#settleTransfer(
            a,
            plan.kind === 'blocked' ? CAUSES.CALL_REJECTED : CAUSES.NO_ROUTE_DESTINATION,
          );
          return;
        }
        return this.#startHunt(a, plan);
      }).catch(reject);
    });
  }

  /** Ends a transfer that did not connect: the app keeps its call and hears why. */
  #settleTransfer(a: Attempt, cause: number): void {
    const t = a.transfer;
    if (!t) return;
    a.transfer = undefined;
    this.#stopRingTimer(a);
    a.log.info({ cause, causeName: causeName(cause) }, 'transfer failed');
    t.settle({ result: 'failed', cause, causeName: causeName(cause) });
  }

  #startRingTimer(a: Attempt, ms: number): void {
    this.#stopRingTimer(a);
    a.ringTimer = this.#timers.set(() => {
      void this.#serial(async () => {
        a.ringTimer = undefined;
        const t = a.target;
        if (a.ended) return;
        if (t && !t.released && t.answeredAt === undefined) {
          a.log.info({ trunk: t.trunk, ms }, 'no answer within the ring timeout');
          a.ringTimedOut = true;
          // Hunting stops here: the timeout is the caller's patience, not one trunk's.
          if (a.hunt) a.hunt.next = a.hunt.candidates.length;
          await this.#release(a, t, CAUSES.NORMAL_CLEARING);
        }
      }).catch((err) => a.log.error({ err }, 'ring timeout handling failed'));
    }, ms);
  }

  #stopRingTimer(a: Attempt): void {
    if (a.ringTimer === undefined) return;
    this.#timers.clear(a.ringTimer);
    a.ringTimer = undefined;
  }

  // ---- clearing -----------------------------------------------------------------------------

  /** Ends the attempt from our side: every live leg is released with `cause`. */
  async #end(a: Attempt, cause: number): Promise<void> {
    a.cause ??= cause;
    a.stopping = true;
    this.#stopRingTimer(a);
    this.#settleTransfer(a, cause);
    if (a.digitTimer !== undefined) {
      this.#timers.clear(a.digitTimer);
      a.digitTimer = undefined;
    }
    const live = this.#live(a);
    if (live.length === 2) await this.#unbridge(a, live[1] as Leg<OutboundState>);
    for (const leg of live) await this.#release(a, leg, cause);
    await this.#maybeFinish(a);
  }

  /** Sends a release; a call the engine no longer knows counts as released at once. */
  async #release(a: Attempt, leg: AnyLeg, cause: number) {
    if (!leg.fsm.can('release')) return;
    try {
      await this.#command(a, { op: 'release', call: leg.call, cause });
      leg.fsm.must('release');
    } catch (err) {
      if (errorCode(err) !== 'E_CALL_UNKNOWN') {
        a.log.error({ err, code: errorCode(err), leg: leg.call }, 'release refused');
        return;
      }
      // The call ended in the engine before our release reached it (its released event
      // was lost with the engine, or is behind us): it is over either way.
      leg.fsm.must('released');
      leg.ended(this.#now(), { cause, by: 'local' });
      await this.#legGone(a, leg);
    }
  }

  /** The time-slot switch connection goes before the surviving leg is cleared. */
  async #unbridge(a: Attempt, survivor: AnyLeg): Promise<void> {
    if (!a.bridge || a.bridge.state === 'down') return;
    a.bridge.state = 'down';
    try {
      await this.#command(a, { op: 'disconnect', call: survivor.call });
    } catch (err) {
      // The media layer unpatches a released call by itself; it may have been first.
      a.log.debug({ code: errorCode(err) }, 'disconnect: the bridge was already down');
    }
  }

  /** A leg has taken `released`: what it means for the attempt. */
  async #legGone(a: Attempt, leg: AnyLeg): Promise<void> {
    this.#legs.delete(leg.call);
    const legCause = leg.cause ?? CAUSES.NORMAL_CLEARING;
    const cause = legCause;
    a.log.debug(
      { trunk: leg.trunk, leg: leg.call, cause, causeName: leg.causeName, by: leg.releasedBy },
      'leg released',
    );
    if (leg === a.origin) {
      if (a.digitTimer !== undefined) {
        this.#timers.clear(a.digitTimer);
        a.digitTimer = undefined;
      }
      a.app?.abort.abort();
      this.#settleTransfer(a, cause);
      // The caller gave up before an answer (our own releases set a.cause first).
      if (a.cause === undefined && !a.answeredAt && leg.releasedBy === 'remote')
        a.forced ??= 'cancelled';
      a.cause ??= cause;
      a.stopping = true;
      const t = a.target;
      if (t && !t.released) {
        await this.#unbridge(a, t);
        await this.#release(a, t, cause);
      }
    } else if (a.target && leg === a.target) {
      const h = a.hunt;
      const more = h !== undefined && h.next < h.candidates.length;
      // Our own release at the ring timeout reads as the no answer it stands for.
      const cause = a.ringTimedOut && leg.answeredAt === undefined ? CAUSES.NO_ANSWER : legCause;
      const unanswered = leg.answeredAt === undefined;
      if (unanswered && !a.stopping && h?.kind === 'trunk' && failoverCause(cause) && more) {
        a.log.info(
          { trunk: leg.trunk, cause, causeName: leg.causeName },
          `${leg.trunk} failed with ${leg.causeName}: trying the next trunk`,
        );
        a.tried.push({ trunk: leg.trunk, cause, leg: a.target });
        a.target = undefined;
        await this.#huntNext(a);
      } else if (unanswered && !a.stopping) {
        // The called side's answer (busy, no answer...), or hunting ran out.
        const final = h?.kind === 'extension' && failoverCause(cause) ? CAUSES.USER_BUSY : cause;
        return this.#fail(a, final);
      } else {
        a.cause ??= cause;
        a.stopping = true;
        const o = a.origin;
        if (o && !o.released) {
          await this.#unbridge(a, o);
          await this.#release(a, o, cause);
        }
      }
    }
    await this.#maybeFinish(a);
  }

  async #maybeFinish(a: Attempt): Promise<void> {
    if (a.ended || this.#live(a).length > 0) return;
    this.#stopRingTimer(a);
    this.#settleTransfer(a, a.cause ?? CAUSES.NORMAL_CLEARING);
    if (a.app && !a.app.abort.signal.aborted) a.app.abort.abort();
    a.ended = true;
    this.#attempts.delete(a.id);
    const record = this.#record(a);
    a.log.debug(
      { disposition: record.disposition, cause: record.cause, causeName: record.causeName },
      'call ended',
    );
    try {
      this.#cdr(record);
    } catch (err) {
      a.log.error({ err, id: record.id }, 'writing the call record failed');
    }
    this.#events.emit('callEnded', this.#summary(a), record);
  }

  // ---- reports ------------------------------------------------------------------------------

  /** The leg that stands for the outbound side: the target, else the last leg hunting placed. */
  #finalLeg(a: Attempt): Leg<OutboundState> | undefined {
    if (a.target) return a.target;
    for (let i = a.tried.length - 1; i >= 0; i--) {
      const leg = a.tried[i]?.leg;
      if (leg) return leg;
    }
    return undefined;
  }

  #record(a: Attempt): CallRecord {
    const final = this.#finalLeg(a);
    const ends = [a.origin?.endedAt, ...a.tried.map((t) => t.leg?.endedAt), final?.endedAt]
      .filter((d): d is Date => d !== undefined)
      .map((d) => d.getTime());
    const endedAt = new Date(ends.length > 0 ? Math.max(...ends) : this.#now().getTime());
    const cause = a.cause ?? final?.cause ?? a.origin?.cause ?? CAUSES.NORMAL_CLEARING;
    const disposition: Disposition = a.forced ?? (a.answeredAt ? 'answered' : dispositionOf(cause));
    const outbound =
      final?.toCdr() ??
      (a.origin
        ? undefined
        : {
            trunk: a.tried[a.tried.length - 1]?.trunk ?? '',
            called: a.hunt?.called ?? a.called,
            calling: a.hunt?.calling ?? a.calling,
            startedAt: a.startedAt.toISOString(),
            endedAt: endedAt.toISOString(),
            cause,
            causeName: causeName(cause),
          });
    const record: CallRecord = {
      id: a.id,
      direction: a.direction,
      startedAt: a.startedAt.toISOString(),
      endedAt: endedAt.toISOString(),
      durationMs: Math.max(0, endedAt.getTime() - a.startedAt.getTime()),
      billableMs: a.answeredAt ? Math.max(0, endedAt.getTime() - a.answeredAt.getTime()) : 0,
      called: a.origin?.called ?? a.called,
      calling: a.calling,
      disposition,
      cause,
      causeName: causeName(cause),
      a: a.origin ? a.origin.toCdr() : (outbound as NonNullable<typeof outbound>),
    };
    if (a.answeredAt) record.answeredAt = a.answeredAt.toISOString();
    if (a.presentation) record.callingPresentation = a.presentation;
    if (a.route !== undefined) record.route = a.route;
    if (a.destination !== undefined) record.destination = a.destination;
    if (a.origin && outbound) record.b = outbound;
    const tries = a.tried
      .filter((t) => t.leg === undefined || t.leg !== final)
      .map((t) => ({ trunk: t.trunk, cause: t.cause, causeName: causeName(t.cause) }));
    if (tries.length > 0) record.tries = tries;
    if (a.skipped.length > 0)
      record.skipped = a.skipped.map((s) => ({
        trunk: s.trunk,
        reason: s.reason,
        ...(s.why === undefined ? {} : { why: s.why }),
      }));
    return record;
  }

  #summary(a: Attempt): CallSummary {
    const legs = [a.origin, a.target].filter(
      (l): l is Leg<InboundState> | Leg<OutboundState> => l !== undefined,
    );
    const states = legs.map((l) => l.state as string);
    let phase: CallPhase = 'routing';
    if (a.origin?.state === 'collecting') phase = 'collecting';
    else if (a.stopping || states.includes('releasing')) phase = 'releasing';
    else if (a.answeredAt) phase = 'answered';
    else if (states.includes('alerting')) phase = 'ringing';
    const s: CallSummary = {
      id: a.id,
      direction: a.direction,
      phase,
      startedAt: a.startedAt.toISOString(),
      called: a.called,
      calling: a.calling,
      legs: legs.map((l) => ({
        direction: l.direction,
        trunk: l.trunk,
        call: l.call,
        state: l.state,
        ...(l.span === undefined ? {} : { span: l.span }),
        ...(l.channel === undefined ? {} : { channel: l.channel }),
        ...(l.cic === undefined ? {} : { cic: l.cic }),
      })),
    };
    if (a.answeredAt) s.answeredAt = a.answeredAt.toISOString();
    if (a.route !== undefined) s.route = a.route;
    if (a.destination !== undefined) s.destination = a.destination;
    return s;
  }
}
