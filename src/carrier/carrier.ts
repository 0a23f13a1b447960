// SPDX-License-Identifier: GPL-2.0-or-later
// The simulated carrier: its own engine on the far-end spans, placing and answering calls as the scenario says.

import { appendFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SwitchboardError } from '../core/errors.ts';
import {
  type CommandResult,
  Engine,
  type EngineCommand,
  type EngineConfig,
  type EngineEvent,
  type EngineSnapshot,
} from '../native/engine.ts';
import { type Logger, logger } from '../runtime/log.ts';
import { expandNumber, type Rng, stream, weighted } from './draw.ts';
import {
  type CalleeAudio,
  type CalleeSpeech,
  calleeSpeech,
  greetingText,
  renderCalleeAudio,
} from './greetings.ts';
import {
  ANSWERERS,
  type AnsweredBy,
  type CalleeOptions,
  type DigitStep,
  GREETING_AFTER_MS,
  type InboundFlow,
  type NumberSource,
  type Outcome,
  type Scenario,
  type SecondsRange,
} from './scenario.ts';

/** How often a waiting inbound flow looks again for a free channel or a link that came up, ms. */
export const RETRY_MS = 250;
/**
 * How long a signalling link must have been up before the carrier places calls on it, ms. When
 * both ends of a PRI start together, each sends SABME; libpri re-establishes the link on the
 * crossing SABME (up to one T200 later) and loses a SETUP sent in between (the far end answers
 * its STATUS with RELEASE COMPLETE, cause 101). Real exchanges retry such calls; a scenario must
 * place exactly what it says, so the carrier waits out the crossing instead.
 */
export const LINK_SETTLE_MS = 2000;
/**
 * Causes for which libpri answers our hang-up with RELEASE COMPLETE at once and forgets the call
 * without an event (UNALLOCATED 1, CHANNEL_UNACCEPTABLE 6, NORMAL_CIRCUIT_CONGESTION 34,
 * REQUESTED_CHAN_UNAVAIL 44, INVALID_CALL_REFERENCE 81, IDENTIFIED_CHANNEL_NOTEXIST 82): the
 * engine never reports `released` and keeps the B-channel seized, and later SETUPs on it get
 * cause 44. A native bug (reported); until it is fixed the carrier ends such a refusal itself and
 * restarts the B-channel (RESTART), which frees it on both ends.
 */
export const PRI_SILENT_RELEASE_CAUSES: readonly number[] = [1, 6, 34, 44, 81, 82];
/** How long an ended call's record waits for the end of the DTMF it was sending, ms. */
export const PENDING_RECORD_MS = 2000;
/** How long stop() waits for the calls it clears to be released before it stops the engine, ms. */
export const STOP_CLEAR_MS = 5000;
/** Where the carrier renders its callees' greetings when CarrierOptions.workDir is not given. */
export const DEFAULT_WORK_DIR = join(tmpdir(), 'switchboard-carrier');

/** What the carrier needs of an engine; the addon's Engine has it (tests may pass another). */
export interface CarrierEngine {
  start(config: EngineConfig): void;
  stop(): EngineEvent[];
  command(cmd: EngineCommand): CommandResult;
  snapshot(): EngineSnapshot;
}

/** How an attempt ended: a scenario outcome, or the caller gave up, or it never got through. */
export type CallOutcome = Outcome | 'abandoned' | 'failed';

export const CALL_OUTCOMES: readonly CallOutcome[] = [
  'answer',
  'busy',
  'no_answer',
  'invalid_number',
  'congestion',
  'abandoned',
  'failed',
];

/** What an answered callee said, as it went out on the line. */
export interface GreetingPlayed {
  /** The greeting's text; null when it said nothing (a machine then only beeped). */
  text: string | null;
  /** An answering machine: the beep follows the text. */
  beep: boolean;
  /** Audio played (greeting, then beep) before it ended or the call did, ms. */
  playedMs: number;
  /** All of it went out: the whole greeting, and a machine's beep. */
  complete: boolean;
}

/**
 * One line of the carrier's log (`--log FILE`, JSON lines; readCarrierLog reads it back): one
 * call attempt, written when it ended. For each call the switch placed (direction outbound):
 * the number (called), the trunk, the outcome drawn (planned), who answered (answeredBy), what it
 * said (greeting), the digits it pressed, the cause the call was released with and who cleared
 * it (releasedBy). A dialer's results can be checked against these lines one by one.
 */
export interface CarrierRecord {
  /** inbound: the carrier called the switch; outbound: the switch called the carrier. */
  direction: 'inbound' | 'outbound';
  /** The carrier trunk the call was on (the far end of the switch's trunk). */
  trunk: string;
  /** inbound: the flow (its index in inbound.flows, 0 for a single flow). */
  flow?: number;
  /** The attempt's number in its flow (inbound) or on its trunk (outbound), from 0: names its draws. */
  seq: number;
  /** The carrier engine's call id. */
  call: number;
  span?: number;
  channel?: number;
  called: string;
  /** The calling number as the carrier placed it (inbound) or received it (outbound); '' for none. */
  calling: string;
  /** outbound: the `number` of the outbound.numbers rule that matched the called number. */
  rule?: string;
  /**
   * outbound: the outcome the scenario chose for the call, drawn from the mix or fixed by the
   * rule (answer for a person and for an answering machine alike).
   */
  planned?: Outcome;
  /**
   * outbound, planned answer: who answers (mix share answer or machine, or the rule's
   * answeredBy), set even when the switch gave up before the answer.
   */
  answeredBy?: AnsweredBy;
  /** How the attempt ended: answer when it was answered, whoever cleared it afterwards. */
  outcome: CallOutcome;
  /** The Q.850 cause that ended it, and its name. */
  cause: number;
  causeName: string;
  /** Who cleared the call: the carrier's party, the switch, or a protocol stack (a timer, a failure). */
  releasedBy: 'carrier' | 'switch' | 'stack';
  /** The DTMF digits the carrier's party pressed (sent in full), in order. */
  digits: string;
  /** outbound, answered, when the callee says anything: its greeting as it went out. */
  greeting?: GreetingPlayed;
  /** ISO times with milliseconds. */
  startedAt: string;
  answeredAt?: string;
  endedAt: string;
  durationMs: number;
  /** endedAt - answeredAt; 0 when never answered. */
  billableMs: number;
  /** Cleared by stop() (SIGTERM), not by the scenario. */
  stopped?: boolean;
}

export interface DirectionStats {
  /** Calls placed (inbound) or offered to the carrier (outbound). */
  attempts: number;
  active: number;
  ended: number;
  outcomes: Record<CallOutcome, number>;
  /** Answered calls by who answered (outbound; inbound calls count as neither). */
  answeredBy: Record<AnsweredBy, number>;
  /** DTMF digits the carrier's parties pressed. */
  digits: number;
}

/** An outbound line of the carrier's log: a call the switch placed towards the carrier. */
export type OutboundCarrierRecord = CarrierRecord & { direction: 'outbound'; planned: Outcome };

/**
 * The records of a carrier log file (`switchboard carrier --log FILE`), in the order the calls
 * ended. A missing file is no calls yet.
 * @throws SwitchboardError E_CARRIER_LOG naming the line that is not a record
 */
export function readCarrierLog(file: string): CarrierRecord[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new SwitchboardError('E_CARRIER_LOG', `cannot read the carrier log ${file}`, {
      cause: err,
    });
  }
  const out: CarrierRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      record = undefined;
    }
    const r = record as Partial<CarrierRecord> | undefined;
    if (
      typeof r !== 'object' ||
      r === null ||
      (r.direction !== 'inbound' && r.direction !== 'outbound') ||
      typeof r.trunk !== 'string' ||
      typeof r.outcome !== 'string'
    )
      throw new SwitchboardError(
        'E_CARRIER_LOG',
        `${file} line ${i + 1} is not a carrier call record: ${line.slice(0, 80)}`,
        { details: { file, line: i + 1 } },
      );
    out.push(r as CarrierRecord);
  });
  return out;
}

export interface CarrierStats {
  inbound: DirectionStats;
  outbound: DirectionStats;
  /** Every inbound flow reached its total and its calls ended (never with an unlimited flow). */
  inboundDone: boolean;
}

export interface CarrierOptions {
  /** Makes the engine; default the addon's Engine (the process needs the simulator preload). */
  engine?: (onEvents: (events: EngineEvent[]) => void) => CarrierEngine;
  /** Called with each record as its call ends. */
  onRecord?: (record: CarrierRecord) => void;
  /** Called once every inbound flow is done (see CarrierStats.inboundDone). */
  onInboundDone?: () => void;
  /** JSON-lines file each record is appended to. */
  logFile?: string;
  /**
   * Directory the callees' greetings and the machine's beep are rendered into at start (created;
   * the speech is cached there by content); default DEFAULT_WORK_DIR.
   */
  workDir?: string;
  log?: Logger;
}

/** A call in progress: the fields its record will carry, and the state that drives it. */
interface Active
  extends Pick<
    CarrierRecord,
    | 'direction'
    | 'trunk'
    | 'flow'
    | 'seq'
    | 'call'
    | 'span'
    | 'channel'
    | 'called'
    | 'calling'
    | 'rule'
    | 'planned'
    | 'answeredBy'
  > {
  startedAt: number;
  answeredAt?: number;
  /** Hold time after the answer, ms; null: the carrier's party never hangs up first. */
  holdMs: number | null;
  digits: DigitStep[];
  step: number;
  pressed: string;
  play?: number;
  /** The hold time ran out while digits were still to be pressed: hang up after the last. */
  hangUpAfterDigits: boolean;
  /** outbound, answered: what the callee plays after answering. */
  speech?: CalleeSpeech;
  /** The greeting's playback, once started. */
  speechPlay?: number;
  speechStartedAt?: number;
  /** How the greeting's playback ended (its playDone). */
  speechDone?: { playedMs: number; complete: boolean };
  /** A digit step fell due while the callee was speaking: it goes out when the greeting ends. */
  stepWaiting: boolean;
  timers: Set<NodeJS.Timeout>;
  abandoned: boolean;
  /** The carrier has asked the engine to release the call. */
  releasing: boolean;
  stopped: boolean;
}

type PlayDoneEvent = Extract<EngineEvent, { event: 'playDone' }>;

/** An ended call's record waiting for its playbacks' ends. */
interface PendingRecord {
  record: CarrierRecord;
  /** Each playback still awaited, and what its end adds to the record. */
  plays: Map<number, (e: PlayDoneEvent | undefined) => void>;
  timer: NodeJS.Timeout;
}

/** The switch's calls can be answered under this scenario (so its callees need their audio). */
function canAnswer(scenario: Scenario): boolean {
  const out = scenario.outbound;
  return (
    out.mix.some(([share, w]) => (share === 'answer' || share === 'machine') && w > 0) ||
    out.numbers.some((r) => r.outcome === 'answer')
  );
}

function emptyStats(): DirectionStats {
  return {
    attempts: 0,
    active: 0,
    ended: 0,
    outcomes: Object.fromEntries(CALL_OUTCOMES.map((o) => [o, 0])) as Record<CallOutcome, number>,
    answeredBy: Object.fromEntries(ANSWERERS.map((a) => [a, 0])) as Record<AnsweredBy, number>,
    digits: 0,
  };
}

/** The outcome a release cause before the answer stands for, seen from the caller. */
export function outcomeOfCause(cause: number): CallOutcome {
  switch (cause) {
    case 17:
      return 'busy';
    case 18:
    case 19:
      return 'no_answer';
    case 1:
    case 3:
    case 22:
    case 28:
      return 'invalid_number';
    case 34:
    case 38:
    case 41:
    case 42:
    case 44:
    case 47:
      return 'congestion';
    default:
      return 'failed';
  }
}

/** Q.850 names, as the engine gives them, of the causes the carrier may end a refusal with itself. */
const CAUSE_NAMES: Record<number, string> = {
  1: 'UNALLOCATED',
  6: 'CHANNEL_UNACCEPTABLE',
  34: 'NORMAL_CIRCUIT_CONGESTION',
  44: 'REQUESTED_CHAN_UNAVAIL',
  81: 'INVALID_CALL_REFERENCE',
  82: 'IDENTIFIED_CHANNEL_NOTEXIST',
};

function causeNameOf(cause: number): string {
  return CAUSE_NAMES[cause] ?? `CAUSE_${cause}`;
}

function drawMs(range: SecondsRange, rng: Rng): number {
  return Math.round(rng.between(range.min, range.max) * 1000);
}

function pickNumber(source: NumberSource, seq: number, rng: Rng): string {
  const n = source.numbers.length;
  const entry = source.numbers[source.order === 'sequence' ? seq % n : rng.below(n)] as string;
  return expandNumber(entry, rng);
}

/**
 * The carrier: owns the far-end trunks of the simulator's cables, places the scenario's inbound
 * calls towards the switch and treats the switch's calls as the scenario says. Every draw comes
 * from the seed and the attempt's number in its flow or on its trunk, so the same scenario and
 * the same calls give the same outcomes, however the line timing falls.
 */
export class Carrier {
  readonly scenario: Scenario;
  readonly #engine: CarrierEngine;
  readonly #options: CarrierOptions;
  readonly #log: Logger;
  readonly #calls = new Map<number, Active>();
  /** DTMF playbacks in progress, by play id. */
  readonly #plays = new Map<number, Active>();
  /** Greetings being played, by play id. */
  readonly #speeches = new Map<number, Active>();
  readonly #workDir: string;
  #audio?: CalleeAudio;
  #starting?: Promise<void>;
  readonly #outSeq = new Map<string, number>();
  readonly #flowActive = new Map<number, number>();
  /** trunk -> span -> when its link came up (Date.now()). */
  readonly #linksUp = new Map<string, Map<number, number>>();
  readonly #sleepers = new Set<{ timer: NodeJS.Timeout; done: (ok: boolean) => void }>();
  readonly #stats = { inbound: emptyStats(), outbound: emptyStats() };
  #inboundPlaced = 0;
  #flowsRunning = 0;
  #inboundDone = false;
  #started = false;
  #stopping = false;
  #engineStopped = false;
  #stopped?: Promise<CarrierStats>;
  /**
   * Records of ended calls waiting for the end of their playbacks (DTMF still going out, a
   * greeting still playing), by play id: the playDone says how much went out.
   */
  readonly #pending = new Map<number, PendingRecord>();
  readonly #releasedWaiters: (() => void)[] = [];

  constructor(scenario: Scenario, options: CarrierOptions = {}) {
    this.scenario = scenario;
    this.#options = options;
    this.#log = options.log ?? logger.child({ subsystem: 'carrier' });
    this.#workDir = options.workDir ?? DEFAULT_WORK_DIR;
    const onEvents = (events: EngineEvent[]) => {
      if (!this.#engineStopped) this.#onEvents(events);
    };
    this.#engine = options.engine ? options.engine(onEvents) : new Engine(onEvents);
  }

  /**
   * Renders what the callees say (when the switch's calls can be answered), then opens the
   * carrier's trunks and starts the inbound flows. Rejects with E_CONFIG_FIELD naming the field
   * (a trunk, an espeak-ng voice), E_TTS or E_COMMAND when espeak-ng or sox fail.
   */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    if (canAnswer(this.scenario))
      this.#audio = await renderCalleeAudio(this.scenario, this.#workDir);
    if (this.#stopping) return;
    this.#engine.start(this.scenario.engine);
    this.#started = true;
    const flows = this.scenario.inbound?.flows ?? [];
    this.#flowsRunning = flows.length;
    for (const flow of flows)
      this.#runFlow(flow)
        .catch((err: unknown) => this.#log.error({ err, flow: flow.path }, 'inbound flow failed'))
        .finally(() => {
          this.#flowsRunning -= 1;
          this.#checkInboundDone();
        });
    this.#log.info(
      {
        trunks: this.scenario.engine.trunks.map((t) => t.name),
        flows: flows.length,
        seed: this.scenario.seed,
      },
      'carrier started',
    );
  }

  stats(): CarrierStats {
    const copy = (s: DirectionStats): DirectionStats => ({
      ...s,
      outcomes: { ...s.outcomes },
      answeredBy: { ...s.answeredBy },
    });
    return {
      inbound: copy(this.#stats.inbound),
      outbound: copy(this.#stats.outbound),
      inboundDone: this.#inboundDone,
    };
  }

  /**
   * Stops the flows, clears every call with NORMAL_CLEARING (16), waits up to `clearMs` for the
   * switch to confirm, stops the engine; resolves with the final counters. Calls still not
   * released by then are logged as cleared by the carrier.
   */
  stop(clearMs = STOP_CLEAR_MS): Promise<CarrierStats> {
    this.#stopped ??= this.#stop(clearMs);
    return this.#stopped;
  }

  async #stop(clearMs: number): Promise<CarrierStats> {
    this.#stopping = true;
    for (const s of [...this.#sleepers]) {
      clearTimeout(s.timer);
      s.done(false);
    }
    if (!this.#started) return this.stats();
    for (const a of this.#calls.values()) {
      for (const t of a.timers) clearTimeout(t);
      a.timers.clear();
      if (a.releasing) continue;
      a.stopped = true;
      this.#hangUp(a, 16);
    }
    const deadline = Date.now() + clearMs;
    while (this.#calls.size > 0 && Date.now() < deadline) {
      await new Promise<void>((ok) => {
        const timer = setTimeout(ok, Math.max(1, deadline - Date.now()));
        this.#releasedWaiters.push(() => {
          clearTimeout(timer);
          ok();
        });
      });
    }
    const last = this.#engine.stop();
    this.#onEvents(last);
    this.#engineStopped = true;
    for (const a of [...this.#calls.values()])
      this.#finish(a, { cause: 16, causeName: 'NORMAL_CLEARING', by: 'local' });
    for (const play of [...this.#pending.keys()]) this.#flushPending(play);
    this.#log.info({ stats: this.stats() }, 'carrier stopped');
    return this.stats();
  }

  // ---- inbound: calls the carrier places ------------------------------------------------------

  /** Sleeps; false when the carrier stops meanwhile. */
  #sleep(ms: number): Promise<boolean> {
    if (this.#stopping) return Promise.resolve(false);
    return new Promise((ok) => {
      const entry = {
        timer: setTimeout(() => {
          this.#sleepers.delete(entry);
          ok(true);
        }, ms),
        done: ok,
      };
      this.#sleepers.add(entry);
    });
  }

  async #runFlow(flow: InboundFlow): Promise<void> {
    const arrivals = stream(this.scenario.seed, 'arrivals', flow.index);
    const meanMs = 60_000 / flow.rate;
    for (let seq = 0; flow.total === undefined || seq < flow.total; seq++) {
      const gap = flow.arrival === 'uniform' ? meanMs : arrivals.exponential(meanMs);
      if (!(await this.#sleep(gap))) return;
      const trunk = flow.trunks[seq % flow.trunks.length] as string;
      for (;;) {
        if (this.#inboundTotalReached()) return;
        if (this.#canPlace(flow, trunk)) break;
        if (!(await this.#sleep(RETRY_MS))) return;
      }
      this.#placeInbound(flow, seq, trunk);
    }
  }

  #inboundTotalReached(): boolean {
    const total = this.scenario.inbound?.total;
    return total !== undefined && this.#inboundPlaced >= total;
  }

  /** Below the concurrency caps, and the trunk has its link up and a free channel. */
  #canPlace(flow: InboundFlow, trunk: string): boolean {
    const cap = this.scenario.inbound?.concurrent;
    if (cap !== undefined && this.#stats.inbound.active >= cap) return false;
    if (flow.concurrent !== undefined && (this.#flowActive.get(flow.index) ?? 0) >= flow.concurrent)
      return false;
    const t = this.#engine.snapshot().trunks.find((x) => x.name === trunk);
    if (!t) return false;
    const now = Date.now();
    const up = this.#linksUp.get(trunk) ?? new Map<number, number>();
    this.#linksUp.set(trunk, up);
    for (const l of t.links) {
      if (l.state !== 'up') return false;
      // Up before its event was seen: it starts settling now.
      if (!up.has(l.span)) up.set(l.span, now);
      if (now - (up.get(l.span) as number) < LINK_SETTLE_MS) return false;
    }
    return t.channels.some((c) => c.state === 'idle' && c.call === undefined);
  }

  #placeInbound(flow: InboundFlow, seq: number, trunk: string): void {
    // Draws in a fixed order from the attempt's own stream.
    const rng = stream(this.scenario.seed, 'inbound', flow.index, seq);
    const called = pickNumber(flow.called, seq, rng);
    const calling = flow.calling ? pickNumber(flow.calling, seq, rng) : '';
    const holdMs = drawMs(flow.holdSeconds, rng);
    const abandonRoll = rng.next();
    const patienceMs = flow.abandon ? drawMs(flow.abandon.afterSeconds, rng) : 0;
    const abandons = flow.abandon !== undefined && abandonRoll < flow.abandon.probability;

    this.#inboundPlaced += 1;
    this.#stats.inbound.attempts += 1;
    const a: Active = {
      direction: 'inbound',
      trunk,
      flow: flow.index,
      seq,
      call: 0,
      called,
      calling,
      startedAt: Date.now(),
      holdMs,
      digits: flow.digits,
      step: 0,
      pressed: '',
      hangUpAfterDigits: false,
      stepWaiting: false,
      timers: new Set(),
      abandoned: false,
      releasing: false,
      stopped: false,
    };
    let result: CommandResult;
    try {
      result = this.#engine.command({
        op: 'place',
        trunk,
        called,
        ...(calling ? { calling } : {}),
        ...(flow.category ? { category: flow.category } : {}),
      });
    } catch (err) {
      this.#log.warn({ err, trunk, called }, 'the engine refused an inbound call');
      this.#stats.inbound.active += 1;
      this.#finish(a, {
        cause: 0,
        causeName: (err as { code?: string }).code ?? 'E_ENGINE',
        by: 'stack',
      });
      return;
    }
    a.call = result.call as number;
    this.#calls.set(a.call, a);
    this.#stats.inbound.active += 1;
    this.#flowActive.set(flow.index, (this.#flowActive.get(flow.index) ?? 0) + 1);
    this.#log.debug({ call: a.call, trunk, called, calling, seq }, 'inbound call placed');
    if (abandons)
      this.#after(a, patienceMs, () => {
        if (a.answeredAt !== undefined) return;
        a.abandoned = true;
        this.#hangUp(a, 16);
      });
  }

  #checkInboundDone(): void {
    if (this.#inboundDone || this.#flowsRunning > 0 || this.#stats.inbound.active > 0) return;
    if ([...this.#pending.values()].some((p) => p.record.direction === 'inbound')) return;
    if (!this.scenario.inbound || this.#stopping) return;
    const unlimited =
      this.scenario.inbound.total === undefined &&
      this.scenario.inbound.flows.some((f) => f.total === undefined);
    if (unlimited) return;
    this.#inboundDone = true;
    this.#log.info({ placed: this.#inboundPlaced }, 'every inbound call was placed and has ended');
    this.#options.onInboundDone?.();
  }

  // ---- outbound: calls the switch places towards the carrier ----------------------------------

  #onOffered(e: Extract<EngineEvent, { event: 'offered' }>): void {
    const seq = this.#outSeq.get(e.trunk) ?? 0;
    this.#outSeq.set(e.trunk, seq + 1);
    const out = this.scenario.outbound;
    const rule = out.numbers.find((r) => r.pattern.test(e.called));
    // Draws in a fixed order from the attempt's own stream, whether or not a rule overrides them.
    const rng = stream(this.scenario.seed, 'outbound', e.trunk, seq);
    const drawn = weighted(out.mix, rng);
    const opts: CalleeOptions = {
      ringSeconds: rule?.ringSeconds ?? out.ringSeconds,
      holdSeconds: rule?.holdSeconds === undefined ? out.holdSeconds : rule.holdSeconds,
      digits: rule?.digits ?? out.digits,
      noAnswerSeconds:
        rule?.noAnswerSeconds === undefined ? out.noAnswerSeconds : rule.noAnswerSeconds,
    };
    const ringMs = drawMs(opts.ringSeconds, rng);
    const holdMs = opts.holdSeconds ? drawMs(opts.holdSeconds, rng) : null;
    // An answering machine is an answer too; a rule's answer without answeredBy is a person.
    const planned: Outcome = rule?.outcome ?? (drawn === 'machine' ? 'answer' : drawn);
    let answeredBy: AnsweredBy | undefined;
    if (planned === 'answer')
      answeredBy =
        rule?.answeredBy ??
        (rule?.outcome === undefined && drawn === 'machine' ? 'machine' : 'human');
    const speech =
      answeredBy && this.#audio
        ? calleeSpeech(this.#audio, greetingText(out, rule, answeredBy), answeredBy)
        : undefined;

    this.#stats.outbound.attempts += 1;
    this.#stats.outbound.active += 1;
    const a: Active = {
      direction: 'outbound',
      trunk: e.trunk,
      seq,
      call: e.call,
      ...(e.span === undefined ? {} : { span: e.span }),
      ...(e.channel === undefined ? {} : { channel: e.channel }),
      called: e.called,
      calling: e.calling,
      ...(rule ? { rule: rule.number } : {}),
      planned,
      ...(answeredBy ? { answeredBy } : {}),
      startedAt: Date.now(),
      holdMs,
      // A machine presses no keys.
      digits: answeredBy === 'machine' ? [] : opts.digits,
      step: 0,
      pressed: '',
      hangUpAfterDigits: false,
      ...(speech && speech.files.length > 0 ? { speech } : {}),
      stepWaiting: false,
      timers: new Set(),
      abandoned: false,
      releasing: false,
      stopped: false,
    };
    this.#calls.set(a.call, a);
    this.#log.debug(
      {
        call: a.call,
        trunk: a.trunk,
        called: a.called,
        seq,
        planned,
        answeredBy,
        rule: rule?.number,
      },
      'call from the switch',
    );
    switch (planned) {
      case 'answer':
        this.#command({ op: 'accept', call: a.call }, a);
        this.#command({ op: 'alert', call: a.call }, a);
        this.#after(a, ringMs, () => this.#command({ op: 'answer', call: a.call }, a));
        break;
      case 'no_answer': {
        this.#command({ op: 'accept', call: a.call }, a);
        this.#command({ op: 'alert', call: a.call }, a);
        const cause = rule?.cause ?? out.causes.no_answer;
        // MFC-R2 has no backward signal that clears an accepted call before the answer (the
        // clear-back openr2 sends then is ignored by the caller): it rings until the switch gives up.
        if (opts.noAnswerSeconds !== null && this.#signalling(a.trunk) !== 'mfcr2')
          this.#after(a, opts.noAnswerSeconds * 1000, () => this.#hangUp(a, cause));
        break;
      }
      default:
        this.#refuse(a, rule?.cause ?? out.causes[planned]);
    }
  }

  #refuse(a: Active, cause: number): void {
    this.#hangUp(a, cause);
    if (
      !this.#signalling(a.trunk)?.startsWith('pri_') ||
      !PRI_SILENT_RELEASE_CAUSES.includes(cause)
    )
      return;
    // Queued behind the release on the trunk's thread, so libpri has sent RELEASE COMPLETE first.
    if (a.channel !== undefined)
      this.#command({ op: 'reset', trunk: a.trunk, channel: a.channel }, a);
    this.#finish(a, { cause, causeName: causeNameOf(cause), by: 'local' });
  }

  // ---- both directions ------------------------------------------------------------------------

  #onEvents(events: EngineEvent[]): void {
    for (const e of events) {
      try {
        this.#onEvent(e);
      } catch (err) {
        this.#log.error({ err, event: e }, 'carrier event handler failed');
      }
    }
  }

  #onEvent(e: EngineEvent): void {
    switch (e.event) {
      case 'offered':
        if (this.#stopping) {
          this.#engine.command({ op: 'release', call: e.call, cause: 16 });
          return;
        }
        this.#onOffered(e);
        return;
      case 'dialing':
      case 'proceeding':
      case 'alerting': {
        const a = this.#calls.get(e.call);
        if (a) {
          if (e.span !== undefined) a.span = e.span;
          if (e.channel !== undefined) a.channel = e.channel;
        }
        return;
      }
      case 'answered': {
        const a = this.#calls.get(e.call);
        if (a) this.#onAnswered(a);
        return;
      }
      case 'released': {
        const a = this.#calls.get(e.call);
        if (a) this.#finish(a, e);
        return;
      }
      case 'playDone': {
        if (this.#pending.has(e.play)) {
          this.#flushPending(e.play, e);
          return;
        }
        if (e.kind === 'prompt') {
          const a = this.#speeches.get(e.play);
          if (a) this.#onSpeechDone(a, e);
          return;
        }
        if (e.kind !== 'dtmf') return;
        const a = this.#plays.get(e.play);
        if (!a) return;
        this.#plays.delete(e.play);
        const step = a.digits[a.step] as DigitStep;
        const sent = e.reason === 'done' ? step.press : this.#sent(step, e.playedMs);
        a.pressed += sent;
        this.#stats[a.direction].digits += sent.length;
        // Cut short (the call is ending): no more digits.
        a.step = e.reason === 'done' ? a.step + 1 : a.digits.length;
        this.#pressNext(a);
        return;
      }
      case 'link': {
        const up = this.#linksUp.get(e.trunk) ?? new Map<number, number>();
        this.#linksUp.set(e.trunk, up);
        if (e.state === 'up') up.set(e.span, Date.now());
        else up.delete(e.span);
        this.#log.info({ trunk: e.trunk, span: e.span, kind: e.kind, state: e.state }, 'link');
        return;
      }
      case 'alarm':
        this.#log.warn({ trunk: e.trunk, span: e.span, alarms: e.alarms }, 'span alarm');
        return;
      case 'error':
        this.#log.warn({ trunk: e.trunk, code: e.code, call: e.call, op: e.op }, e.message);
        return;
      case 'log':
        this.#log[e.level === 'error' ? 'error' : e.level === 'warn' ? 'warn' : 'debug'](
          { trunk: e.trunk, kind: e.kind },
          e.message,
        );
        return;
      default:
        return;
    }
  }

  #onAnswered(a: Active): void {
    if (a.answeredAt !== undefined) return;
    a.answeredAt = Date.now();
    for (const t of a.timers) clearTimeout(t);
    a.timers.clear();
    if (a.answeredBy) this.#stats[a.direction].answeredBy[a.answeredBy] += 1;
    if (this.#stopping) return;
    if (a.speech) this.#after(a, GREETING_AFTER_MS, () => this.#speak(a));
    this.#pressNext(a);
    if (a.holdMs !== null)
      this.#after(a, a.holdMs, () => {
        // A party never hangs up in the middle of its digits: the switch gets them all.
        if (a.step < a.digits.length) a.hangUpAfterDigits = true;
        else this.#hangUp(a, 16);
      });
  }

  /** The callee's greeting (a machine's with its beep), played into the call. */
  #speak(a: Active): void {
    const speech = a.speech as CalleeSpeech;
    const r = this.#command({ op: 'play', call: a.call, files: speech.files }, a);
    if (r?.play === undefined) {
      // Refused (logged): the callee stays silent; a digit that waited goes out.
      a.speechDone = { playedMs: 0, complete: false };
      this.#afterSpeech(a);
      return;
    }
    a.speechPlay = r.play;
    a.speechStartedAt = Date.now();
    this.#speeches.set(r.play, a);
  }

  #onSpeechDone(a: Active, e: Extract<EngineEvent, { event: 'playDone' }>): void {
    this.#speeches.delete(e.play);
    a.speechDone = { playedMs: e.playedMs, complete: e.reason === 'done' };
    this.#afterSpeech(a);
  }

  /** The greeting is over: a digit step that fell due meanwhile goes out now. */
  #afterSpeech(a: Active): void {
    if (!a.stepWaiting) return;
    a.stepWaiting = false;
    this.#sendStep(a);
  }

  /** Speaking now, or about to (answered with a greeting that has not ended). */
  #speaking(a: Active): boolean {
    return a.speech !== undefined && a.speechDone === undefined;
  }

  /** Presses the next step's digits after its pause, as DTMF in the call's audio. */
  #pressNext(a: Active): void {
    if (this.#stopping || this.#calls.get(a.call) !== a) return;
    const step = a.digits[a.step];
    if (!step) {
      if (a.hangUpAfterDigits) this.#hangUp(a, 16);
      return;
    }
    this.#after(a, step.afterSeconds * 1000, () => {
      // Nobody talks and presses keys at once (and a playback would cut the greeting short).
      if (this.#speaking(a)) a.stepWaiting = true;
      else this.#sendStep(a);
    });
  }

  #sendStep(a: Active): void {
    if (this.#stopping || this.#calls.get(a.call) !== a) return;
    const step = a.digits[a.step] as DigitStep;
    const r = this.#command(
      { op: 'sendDtmf', call: a.call, digits: step.press, onMs: step.onMs, offMs: step.offMs },
      a,
    );
    if (r?.play !== undefined) {
      a.play = r.play;
      this.#plays.set(r.play, a);
    } else {
      // Refused (logged): the party gives up pressing.
      a.step = a.digits.length;
      this.#pressNext(a);
    }
  }

  #signalling(trunk: string): string | undefined {
    return this.scenario.engine.trunks.find((t) => t.name === trunk)?.signalling;
  }

  /** The carrier's party hangs up (or refuses) with `cause`. */
  #hangUp(a: Active, cause: number): void {
    a.releasing = true;
    this.#command({ op: 'release', call: a.call, cause }, a);
  }

  #after(a: Active, ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      a.timers.delete(timer);
      if (this.#calls.get(a.call) === a && !this.#stopping) fn();
    }, ms);
    a.timers.add(timer);
  }

  /** A command for a call; a refusal (the call ended meanwhile ...) is logged, not thrown. */
  #command(cmd: EngineCommand, a: Active): CommandResult | undefined {
    try {
      return this.#engine.command(cmd);
    } catch (err) {
      this.#log.warn({ err, call: a.call, op: cmd.op }, 'the engine refused a command');
      return undefined;
    }
  }

  #outcome(a: Active, by: 'remote' | 'local' | 'stack', cause: number): CallOutcome {
    if (a.answeredAt !== undefined) return 'answer';
    if (a.direction === 'inbound') {
      if (a.abandoned || a.stopped || by === 'local') return 'abandoned';
      if (by === 'stack') return 'failed';
      return outcomeOfCause(cause);
    }
    const planned = a.planned as Outcome;
    if (a.stopped) return 'abandoned';
    if (planned === 'no_answer' && by !== 'stack') return 'no_answer';
    if (by === 'local' && planned !== 'answer') return planned;
    if (by === 'remote') return 'abandoned';
    return 'failed';
  }

  #finish(
    a: Active,
    e: { cause: number; causeName: string; by: 'remote' | 'local' | 'stack' },
  ): void {
    for (const t of a.timers) clearTimeout(t);
    a.timers.clear();
    this.#calls.delete(a.call);
    const now = Date.now();
    const outcome = this.#outcome(a, e.by, e.cause);
    const record: CarrierRecord = {
      direction: a.direction,
      trunk: a.trunk,
      ...(a.flow === undefined ? {} : { flow: a.flow }),
      seq: a.seq,
      call: a.call,
      ...(a.span === undefined ? {} : { span: a.span }),
      ...(a.channel === undefined ? {} : { channel: a.channel }),
      called: a.called,
      calling: a.calling,
      ...(a.rule === undefined ? {} : { rule: a.rule }),
      ...(a.planned === undefined ? {} : { planned: a.planned }),
      ...(a.answeredBy === undefined ? {} : { answeredBy: a.answeredBy }),
      outcome,
      cause: e.cause,
      causeName: e.causeName,
      releasedBy: e.by === 'local' ? 'carrier' : e.by === 'remote' ? 'switch' : 'stack',
      digits: a.pressed,
      ...(a.speech && a.answeredAt !== undefined
        ? {
            greeting: {
              text: a.speech.text,
              beep: a.answeredBy === 'machine',
              // Still playing: the wall clock's guess until the playback's end says.
              playedMs:
                a.speechDone?.playedMs ??
                (a.speechStartedAt === undefined
                  ? 0
                  : Math.min(now - a.speechStartedAt, a.speech.durationMs)),
              complete: a.speechDone?.complete ?? false,
            },
          }
        : {}),
      startedAt: new Date(a.startedAt).toISOString(),
      ...(a.answeredAt === undefined ? {} : { answeredAt: new Date(a.answeredAt).toISOString() }),
      endedAt: new Date(now).toISOString(),
      durationMs: now - a.startedAt,
      billableMs: a.answeredAt === undefined ? 0 : now - a.answeredAt,
      ...(a.stopped ? { stopped: true } : {}),
    };
    const s = this.#stats[a.direction];
    s.active -= 1;
    s.ended += 1;
    s.outcomes[outcome] += 1;
    if (a.flow !== undefined && a.call !== 0)
      this.#flowActive.set(a.flow, (this.#flowActive.get(a.flow) ?? 1) - 1);
    for (const w of this.#releasedWaiters.splice(0)) w();
    // Playbacks still going out: their ends say how many digits and how much greeting made it.
    const waits = new Map<number, (e: PlayDoneEvent | undefined) => void>();
    const play = a.play;
    if (play !== undefined && this.#plays.get(play) === a) {
      this.#plays.delete(play);
      const step = a.digits[a.step] as DigitStep;
      waits.set(play, (e) => {
        if (!e) return;
        const digits = e.reason === 'done' ? step.press : this.#sent(step, e.playedMs);
        record.digits += digits;
        this.#stats[record.direction].digits += digits.length;
      });
    }
    const speech = a.speechPlay;
    if (speech !== undefined && this.#speeches.get(speech) === a) {
      this.#speeches.delete(speech);
      waits.set(speech, (e) => {
        if (!e || !record.greeting) return;
        record.greeting.playedMs = e.playedMs;
        record.greeting.complete = e.reason === 'done';
      });
    }
    if (waits.size > 0 && !this.#engineStopped) {
      const pending: PendingRecord = {
        record,
        plays: waits,
        timer: setTimeout(() => {
          for (const p of [...pending.plays.keys()]) this.#flushPending(p);
        }, PENDING_RECORD_MS),
      };
      for (const p of waits.keys()) this.#pending.set(p, pending);
      return;
    }
    this.#emit(record);
  }

  /** Digits of `step` fully sent in `playedMs` of playback (tone, then pause, per digit). */
  #sent(step: DigitStep, playedMs: number): string {
    return step.press.slice(0, Math.floor((playedMs + step.offMs) / (step.onMs + step.offMs)));
  }

  /**
   * One playback of an ended call's record is over (`e`), or no longer awaited (no `e`: the
   * record keeps what it had); the record goes out with the last.
   */
  #flushPending(play: number, e?: PlayDoneEvent): void {
    const p = this.#pending.get(play);
    if (!p) return;
    this.#pending.delete(play);
    p.plays.get(play)?.(e);
    p.plays.delete(play);
    if (p.plays.size > 0) return;
    clearTimeout(p.timer);
    this.#emit(p.record);
  }

  #emit(record: CarrierRecord): void {
    if (this.#options.logFile) {
      try {
        appendFileSync(this.#options.logFile, `${JSON.stringify(record)}\n`);
      } catch (err) {
        this.#log.error({ err, file: this.#options.logFile }, 'cannot write the carrier log');
      }
    }
    this.#log.debug({ record }, 'call ended');
    this.#options.onRecord?.(record);
    if (record.direction === 'inbound') this.#checkInboundDone();
  }
}
