// SPDX-License-Identifier: GPL-2.0-or-later
// The flow interpreter: walks a frozen flow's nodes on one call, logs every step, and never waits without a bound.
//
// Pure core: the call arrives as the manager's CallControl, everything else (prompts, speech,
// the web, transfers, files, the clock) through FlowServices, so tests run it against fakes.
// Rules that hold for every node:
// - An edge left out ends the flow; the caller is cleared with Cause NORMAL_CLEARING (16).
// - Every wait has a bound (the node's timeout, or RunOptions.mediaTimeoutMs for the engine's
//   playDone/recordDone) and ends at once when the call is released.
// - A play item that cannot be played (E_PROMPT_MISSING, a value that cannot be spoken, speech
//   that fails to render) is left out and logged; the rest plays and the flow goes on, so a
//   prompt deleted after the flow was saved costs a message, not the whole hotline.
// - A value that makes no sense at run time (a number to transfer to that is not a number) takes
//   the node's failure edge (onFail, onError) or `next`; a failure of the switch itself (the
//   engine refused a command, a service threw) ends the call with Cause
//   NORMAL_TEMPORARY_FAILURE (41), as does the guard against loops that never wait.

import { CAUSES } from '../calls/cause.ts';
import type { CallControl, LegMediaCommand } from '../calls/manager.ts';
import type { TimeCondition } from '../config/schema.ts';
import type { CommandResult, EngineEvent } from '../native/engine.ts';
import { compilePattern } from '../routing/pattern.ts';
import { isOpen } from '../routing/time.ts';
import { jsonPathGet, parseJsonPath, renderTemplate, variableText } from './expr.ts';
import { isItemFailure, itemSpeech } from './items.ts';
import {
  BUILTIN_VARS,
  type Condition,
  FLOW_LANGS,
  type FlowLang,
  type FlowNode,
  type NodeOf,
  type NodeType,
  type PlayItem,
} from './schema.ts';
import type { ActiveFlow } from './validate.ts';

// ---- what the runtime is given -----------------------------------------------------------------

/** How a transfer to a number ended. */
export interface TransferOutcome {
  /**
   * bridged: the caller was connected to the number, and that call is over by the time the
   * promise resolves (the flow then ends); failed: nobody took the call, the flow goes on.
   */
  result: 'bridged' | 'failed';
  /** Q.850 cause: why it failed, or how the bridged call ended. */
  cause?: number;
}

/** How a queue visit ended. */
export interface QueueOutcome {
  /** served: an agent took the call and it is over; failed: the queue let the caller go (full, closed, timeout). */
  result: 'served' | 'failed';
  cause?: number;
}

export interface HttpRequest {
  method: string;
  headers: Record<string, string>;
  body?: string;
  /** Fires on the node's timeout and when the caller hangs up. */
  signal: AbortSignal;
}

/** The part of a fetch Response the runtime reads (a global fetch Response fits). */
export interface HttpAnswer {
  status: number;
  text(): Promise<string>;
}

/** A voicemail message taken by a voicemail node. */
export interface VoicemailMessage {
  mailbox: string;
  /** The recorded WAV file (from FlowServices.voicemailFile). */
  file: string;
  /** Length, ms. */
  ms: number;
  callId: string;
  calling: string;
  called: string;
  flow: string;
  /** When the message was left (ISO). */
  at: string;
}

/** Time for the runtime: the wall clock for logs and time conditions, and timers for its waits. */
export interface FlowClock {
  now(): Date;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

/** The logger calls the runtime makes; a pino logger fits. */
export interface FlowLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Everything outside the call a flow uses. The controller provides the real ones. */
export interface FlowServices {
  /** Prompt names -> WAV files of the `lang` set (en fallback). @throws E_PROMPT_MISSING */
  resolvePrompts(names: readonly string[], lang: FlowLang): Promise<string[]>;
  /** Text -> a rendered WAV file. @throws E_TTS, E_TTS_INPUT, E_TTS_VOICE */
  tts(text: string, opts: { voice?: string; lang: FlowLang }): Promise<string>;
  /** An HTTP exchange (global fetch fits); must honour `signal`. */
  fetch(url: string, req: HttpRequest): Promise<HttpAnswer>;
  /** Dials `number` through the outbound routes and bridges the caller to it. */
  transfer(call: CallControl, number: string): Promise<TransferOutcome>;
  queue(call: CallControl, name: string): Promise<QueueOutcome>;
  /** A time condition of the running configuration. */
  timeCondition(name: string): TimeCondition | undefined;
  /** The switch's system.timezone (time conditions without a zone, spoken dates). */
  timezone(): string | undefined;
  /** Where a record node's recording goes (absolute path; its directory exists). */
  recordingFile(req: { callId: string; flow: string; node: string }): string | Promise<string>;
  /** Where a voicemail message is recorded (absolute path; its directory exists). */
  voicemailFile(req: { callId: string; mailbox: string }): string | Promise<string>;
  /** Files a recorded voicemail message in its mailbox. */
  storeVoicemail(msg: VoicemailMessage): Promise<void>;
  /** The active version of a flow (a transfer to a flow), undefined when there is none. */
  loadFlow(name: string): ActiveFlow | undefined;
  clock: FlowClock;
  logger: FlowLogger;
}

export interface RunOptions {
  /**
   * Steps in a row of nodes that take no time (answer, set, branch, transfer to a flow, a play
   * that found nothing to play) after which the call is ended with cause 41: the guard against
   * loops the static check cannot see (flows transferring to each other, flows stored before
   * the check existed). Default 200, range 10..100000.
   */
  maxInstantSteps?: number;
  /** Flows inside flows (transfer to a flow), deepest; default 8, range 1..64. */
  maxDepth?: number;
  /**
   * Longest wait for the engine to say a playback or tone is over, ms; default 600000 (10 min),
   * range 1000..3600000. A recording may take its maxMs plus this.
   */
  mediaTimeoutMs?: number;
  /** Called with each log entry as it is made (the app writes them to the store). */
  onStep?(entry: FlowLogEntry): void;
  /**
   * Values the call starts with (a campaign contact's name, amount...): they win over the
   * flow's declared defaults; a template reads only variables the flow declares.
   */
  vars?: Record<string, string>;
}

// ---- what the runtime reports ------------------------------------------------------------------

/** One step of the execution log. */
export interface FlowLogEntry {
  /** 1, 2, 3 ... over the whole call (sub-flows included). */
  seq: number;
  flow: string;
  version: number;
  node: string;
  /** The node's type; `guard` for the entry of the loop guard, `error` for a flow that could not start. */
  type: NodeType | 'guard' | 'error';
  /** When the step started (ISO). */
  at: string;
  /** How long it took. */
  ms: number;
  /** What came from outside: digits pressed, HTTP status, why a recording ended... */
  input: Record<string, unknown>;
  /** What the step did: the edge taken (`edge`, `to`), variables set (`vars`), an error. */
  output: Record<string, unknown>;
}

/**
 * How the flow ended: end (an edge left out), hangup (a hangup node), transferred (to a number
 * or queue that took the call), aborted (the caller hung up), guard (loop guard), failed (the
 * switch failed a step).
 */
export type FlowEnd = 'end' | 'hangup' | 'transferred' | 'aborted' | 'guard' | 'failed';

export interface FlowResult {
  end: FlowEnd;
  /** The cause to clear the call with (meaningless for aborted: the call is gone). */
  cause: number;
  /** The variables at the end. */
  vars: Record<string, string>;
  log: FlowLogEntry[];
}

// ---- defaults -----------------------------------------------------------------------------------

/** Defaults of the node options (schema.ts documents each with its range). */
export const NODE_DEFAULTS = {
  collect: { min: 1, max: 20, timeoutMs: 5000, interDigitMs: 3000, terminator: '#' },
  menu: { timeoutMs: 5000, retries: 2 },
  http: { method: 'GET', timeoutMs: 5000, contentType: 'application/json' },
  record: { maxMs: 60000, silenceMs: 3000, stopDigits: '#', beep: true },
  voicemail: { maxMs: 120000, silenceMs: 5000, beep: true },
  conference: { maxMs: 14_400_000 },
  hangup: { cause: CAUSES.NORMAL_CLEARING },
} as const;

const DEFAULT_INSTANT_STEPS = 200;
const DEFAULT_DEPTH = 8;
const DEFAULT_MEDIA_TIMEOUT_MS = 600_000;
/** The engine plays at most this many files per play command. */
const MAX_PLAYLIST = 100;
/** How long a voicemail waits, after the caller hung up, for the engine to close the message, ms. */
const HANGUP_GRACE_MS = 2000;
/** The beep before a recording: the tone zone's record tone, this long (ms). */
const BEEP_MS = 400;

function bounded(v: number | undefined, dflt: number, min: number, max: number, name: string) {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n < min || n > max)
    throw new RangeError(`${name}: ${n} is not a whole number in ${min}..${max}`);
  return n;
}

// ---- the interpreter ----------------------------------------------------------------------------

/** The caller hung up (or the call was released) during a step. */
class Aborted extends Error {}

const TIMEOUT: unique symbol = Symbol('timeout');

type PlayDone = Extract<EngineEvent, { event: 'playDone' }>;
type RecordDone = Extract<EngineEvent, { event: 'recordDone' }>;

/** How a recording ended. */
interface Recorded {
  reason: string;
  ms: number;
  digit?: string;
  /** The file could not be written completely. */
  error?: string;
  /** The caller hung up (voicemail only; a record node ends with the call). */
  hungUp: boolean;
}

interface Stop {
  end: FlowEnd;
  cause: number;
}

/** What one step did. */
interface Step {
  /** The edge taken (`next`, `onTimeout`, `choices.2`, `cases[1]`, `else`); none: the flow ends. */
  edge?: string;
  to?: string | undefined;
  input?: Record<string, unknown>;
  output?: Record<string, unknown>;
  /** Did the step take time (played, waited for the caller, the network or another party)? */
  waited: boolean;
  stop?: Stop;
}

const READ_ONLY = new Set<string>(BUILTIN_VARS.filter((v) => v !== 'lang'));
const NUMBER = /^\+?[0-9*#]{1,32}$/;
const ROOM = /^[A-Za-z0-9_.-]{1,64}$/;
const MAILBOX = /^[A-Za-z0-9_-]{1,40}$/;

function errText(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const msg = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' ? `${code}: ${msg}` : msg;
}

class Run {
  readonly vars = new Map<string, string>();
  readonly log: FlowLogEntry[] = [];
  readonly #call: CallControl;
  readonly #svc: FlowServices;
  readonly #onStep: ((e: FlowLogEntry) => void) | undefined;
  readonly maxInstant: number;
  readonly maxDepth: number;
  readonly #mediaMs: number;
  #seq = 0;
  #instant = 0;
  #answered = false;
  #detecting = false;
  #released = false;
  /** Digits pressed and not yet used, each with its arrival number. */
  #digits: { digit: string; n: number }[] = [];
  #received = 0;
  /** playDone / recordDone events by `play:<id>` / `record:<id>`, until a step takes them. */
  readonly #done = new Map<string, PlayDone | RecordDone>();
  readonly #wakers = new Set<() => void>();
  readonly #off: () => void;

  constructor(call: CallControl, svc: FlowServices, opts: RunOptions, first: ActiveFlow) {
    this.#call = call;
    this.#svc = svc;
    this.#onStep = opts.onStep;
    this.maxInstant = bounded(
      opts.maxInstantSteps,
      DEFAULT_INSTANT_STEPS,
      10,
      100_000,
      'maxInstantSteps',
    );
    this.maxDepth = bounded(opts.maxDepth, DEFAULT_DEPTH, 1, 64, 'maxDepth');
    this.#mediaMs = bounded(
      opts.mediaTimeoutMs,
      DEFAULT_MEDIA_TIMEOUT_MS,
      1000,
      3_600_000,
      'mediaTimeoutMs',
    );
    this.vars.set('lang', first.doc.lang ?? 'en');
    for (const [name, value] of Object.entries(opts.vars ?? {})) this.vars.set(name, value);
    // Listening starts before the first command: an event that overtakes a command's answer
    // (the engine runs on its own thread) is kept, not lost.
    this.#off = call.onEvent((e) => this.#event(e));
  }

  close(): void {
    this.#off();
    for (const w of [...this.#wakers]) w();
  }

  get aborted(): boolean {
    return this.#released || this.#call.signal.aborted;
  }

  lang(): FlowLang {
    const l = this.vars.get('lang');
    return (FLOW_LANGS as readonly string[]).includes(l ?? '') ? (l as FlowLang) : 'en';
  }

  lookup = (name: string): string | undefined => {
    switch (name) {
      case 'calling':
        return this.#call.calling;
      case 'called':
        return this.#call.called;
      case 'trunk':
        return this.#call.trunk;
      case 'callId':
        return this.#call.id;
      default:
        return this.vars.get(name);
    }
  };

  render(template: string, encode?: (v: string) => string): string {
    return renderTemplate(template, this.lookup, encode);
  }

  /** Sets a variable from a flow; read-only built-ins and a `lang` we do not speak are refused. */
  setVar(name: string, value: string): string | undefined {
    if (READ_ONLY.has(name)) return `${name} is set by the switch`;
    if (name === 'lang' && !(FLOW_LANGS as readonly string[]).includes(value))
      return `lang "${value}" is not one of ${FLOW_LANGS.join(', ')}`;
    this.vars.set(name, value);
    return undefined;
  }

  // ---- events and waits ---------------------------------------------------------------------

  #event(e: EngineEvent): void {
    if (e.event === 'dtmf') this.#digits.push({ digit: e.digit, n: this.#received++ });
    else if (e.event === 'playDone') this.#done.set(`play:${e.play}`, e);
    else if (e.event === 'recordDone') this.#done.set(`record:${e.record}`, e);
    else if (e.event === 'released') this.#released = true;
    else return;
    for (const w of [...this.#wakers]) w();
  }

  /**
   * Waits until `check` gives a value, `ms` pass (TIMEOUT) or the call ends (throws Aborted).
   * `check` runs now and after every event of the call.
   */
  wait<T>(
    check: () => T | undefined,
    ms: number,
    afterHangup = false,
  ): Promise<T | typeof TIMEOUT> {
    const signal = this.#call.signal;
    const clock = this.#svc.clock;
    return new Promise((resolve, reject) => {
      let settled = false;
      let timer: unknown;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        this.#wakers.delete(poke);
        signal.removeEventListener('abort', onAbort);
        if (timer !== undefined) clock.clearTimer(timer);
        fn();
      };
      const onAbort = () => finish(() => reject(new Aborted()));
      const poke = () => {
        if (this.aborted && !afterHangup) return onAbort();
        const v = check();
        if (v !== undefined) finish(() => resolve(v));
      };
      poke();
      if (settled) return;
      this.#wakers.add(poke);
      if (!afterHangup) signal.addEventListener('abort', onAbort, { once: true });
      timer = clock.setTimer(() => finish(() => resolve(TIMEOUT)), ms);
    });
  }

  /** The next digit pressed (type-ahead first), or TIMEOUT. */
  nextDigit(ms: number): Promise<string | typeof TIMEOUT> {
    return this.wait(() => this.#digits.shift()?.digit, ms);
  }

  /** Forgets digits pressed so far (after an invalid choice; before a conference). */
  flushDigits(): string[] {
    return this.#digits.splice(0).map((d) => d.digit);
  }

  pendingDigits(): number {
    return this.#digits.length;
  }

  /** Another step must not outlive the call: throws Aborted once it is gone. */
  check(): void {
    if (this.aborted) throw new Aborted();
  }

  async media(cmd: LegMediaCommand): Promise<CommandResult> {
    this.check();
    try {
      return await this.#call.media(cmd);
    } catch (err) {
      if (this.aborted) throw new Aborted();
      throw err;
    }
  }

  async answer(): Promise<boolean> {
    if (this.#answered) return false;
    this.check();
    try {
      await this.#call.answer();
    } catch (err) {
      if (this.aborted) throw new Aborted();
      throw err;
    }
    this.#answered = true;
    return true;
  }

  async dtmf(): Promise<void> {
    if (this.#detecting) return;
    await this.media({ op: 'detect', dtmf: true });
    this.#detecting = true;
  }

  async #done_<K extends 'play' | 'record'>(
    kind: K,
    id: unknown,
    ms: number,
  ): Promise<K extends 'play' ? PlayDone : RecordDone> {
    if (typeof id !== 'number') throw new Error(`the engine answered ${kind} without a ${kind} id`);
    const key = `${kind}:${id}`;
    const got = await this.wait(() => this.#done.get(key), ms);
    this.#done.delete(key);
    if (got === TIMEOUT) {
      await this.media({ op: 'stop', what: kind }).catch(() => undefined);
      throw new Error(`the engine did not report ${kind} ${id} over within ${ms} ms`);
    }
    return got as K extends 'play' ? PlayDone : RecordDone;
  }

  /**
   * Plays files (in runs of the engine's longest playlist). With bargeIn a digit stops it and
   * stays buffered for the next menu or collect; without, digits pressed meanwhile are dropped.
   */
  async play(files: string[], bargeIn: boolean): Promise<PlayDone | undefined> {
    if (bargeIn) await this.dtmf();
    const mark = this.#received;
    let last: PlayDone | undefined;
    for (let i = 0; i < files.length; i += MAX_PLAYLIST) {
      const r = await this.media({ op: 'play', files: files.slice(i, i + MAX_PLAYLIST), bargeIn });
      last = await this.#done_('play', r.play, this.#mediaMs);
      if (last.reason !== 'done') break;
    }
    if (!bargeIn) this.#digits = this.#digits.filter((d) => d.n < mark);
    return last;
  }

  async beep(): Promise<void> {
    const r = await this.media({ op: 'tone', tone: 'record', ms: BEEP_MS });
    await this.#done_('play', r.play, this.#mediaMs);
  }

  /**
   * Records into `file` until the engine says it is over. With `keepOnHangup` (voicemail) a
   * caller hanging up ends the recording rather than the step: that is how most messages end.
   */
  async record(
    file: string,
    o: { maxMs: number; silenceMs: number; stopDigits: string; keepOnHangup?: boolean },
  ): Promise<Recorded> {
    if (o.stopDigits !== '') await this.dtmf();
    const r = await this.media({
      op: 'record',
      file,
      maxMs: o.maxMs,
      silenceMs: o.silenceMs,
      ...(o.stopDigits === '' ? {} : { stopDigits: o.stopDigits }),
    });
    const recorded = (e: RecordDone, hungUp: boolean): Recorded => ({
      reason: e.reason,
      ms: e.ms,
      hungUp,
      ...(e.digit ? { digit: e.digit } : {}),
      ...(e.error ? { error: e.error } : {}),
    });
    try {
      return recorded(await this.#done_('record', r.record, o.maxMs + this.#mediaMs), false);
    } catch (err) {
      if (!(err instanceof Aborted) || !o.keepOnHangup) throw err;
      // The engine closes the file when the call goes; its recordDone may come just after the
      // release. Without it the length is unknown (0), the file is still there.
      const got = await this.wait(
        () => this.#done.get(`record:${r.record}`) as RecordDone | undefined,
        HANGUP_GRACE_MS,
        true,
      );
      return got === TIMEOUT ? { reason: 'released', ms: 0, hungUp: true } : recorded(got, true);
    }
  }

  /** The files of a playlist; items that cannot be played are left out and listed. */
  async resolve(
    items: readonly PlayItem[] | undefined,
  ): Promise<{ files: string[]; missing: string[] }> {
    const files: string[] = [];
    const missing: string[] = [];
    const lang = this.lang();
    for (const [i, item] of (items ?? []).entries()) {
      try {
        const speech = itemSpeech(
          item as PlayItem,
          (t) => this.render(t),
          lang,
          () => this.#svc.clock.now(),
          this.#svc.timezone(),
        );
        if ('names' in speech) files.push(...(await this.#svc.resolvePrompts(speech.names, lang)));
        else
          files.push(
            await this.#svc.tts(speech.tts, {
              lang,
              ...(speech.voice ? { voice: speech.voice } : {}),
            }),
          );
      } catch (err) {
        this.check();
        if (!isItemFailure(err)) throw err;
        missing.push(`[${i}] ${err.code}: ${err.message}`);
        this.#svc.logger.warn(
          { call: this.#call.id, code: err.code, item: i },
          `a play item is left out: ${err.message}`,
        );
      }
      this.check();
    }
    return { files, missing };
  }

  // ---- the log ------------------------------------------------------------------------------

  entry(
    flow: ActiveFlow,
    node: string,
    type: FlowLogEntry['type'],
    started: Date,
    step: Omit<Step, 'waited'>,
  ) {
    const now = this.#svc.clock.now();
    const output: Record<string, unknown> = { ...step.output };
    if (step.edge !== undefined) output.edge = step.edge;
    if (step.to !== undefined) output.to = step.to;
    // An edge left out: the flow (or the returning sub-flow) ends here.
    else if (step.edge !== undefined && !step.stop) output.end = 'end';
    if (step.stop) {
      output.end = step.stop.end;
      output.cause = step.stop.cause;
    }
    const e: FlowLogEntry = {
      seq: ++this.#seq,
      flow: flow.name,
      version: flow.version,
      node,
      type,
      at: started.toISOString(),
      ms: Math.max(0, now.getTime() - started.getTime()),
      input: step.input ?? {},
      output,
    };
    this.log.push(e);
    try {
      this.#onStep?.(e);
    } catch (err) {
      this.#svc.logger.error({ err }, 'writing a flow log entry failed');
    }
  }

  /** Counts a step against the loop guard; true when the guard trips. */
  instant(waited: boolean): boolean {
    this.#instant = waited ? 0 : this.#instant + 1;
    return this.#instant >= this.maxInstant;
  }

  get svc(): FlowServices {
    return this.#svc;
  }

  get call(): CallControl {
    return this.#call;
  }
}

// ---- the nodes ----------------------------------------------------------------------------------

function go(edge: string, to: string | undefined, rest: Omit<Step, 'edge' | 'to'>): Step {
  return { edge, to, ...rest };
}

/** Answers first when a node needs the voice path and nobody has answered yet. */
async function voicePath(run: Run, out: Record<string, unknown>): Promise<void> {
  if (await run.answer()) out.answered = true;
}

async function playNode(run: Run, node: NodeOf<'play'>): Promise<Step> {
  const output: Record<string, unknown> = {};
  await voicePath(run, output);
  const { files, missing } = await run.resolve(node.items);
  if (missing.length > 0) output.missing = missing;
  const input: Record<string, unknown> = {};
  if (files.length > 0) {
    const done = await run.play(files, node.bargeIn === true);
    output.played = files.length;
    if (done) input.reason = done.reason;
    if (done?.digit) input.digit = done.digit;
  }
  return go('next', node.next, { input, output, waited: files.length > 0 });
}

async function collectNode(run: Run, node: NodeOf<'collect'>): Promise<Step> {
  const d = NODE_DEFAULTS.collect;
  const min = node.min ?? d.min;
  const max = node.max ?? d.max;
  const terminator = node.terminator ?? d.terminator;
  const output: Record<string, unknown> = {};
  await voicePath(run, output);
  await run.dtmf();
  if (run.pendingDigits() === 0 && node.prompt) {
    const { files, missing } = await run.resolve(node.prompt);
    if (missing.length > 0) output.missing = missing;
    if (files.length > 0) await run.play(files, true);
  }
  let digits = '';
  let ended: 'terminator' | 'max' | 'timeout' = 'timeout';
  for (;;) {
    const got = await run.nextDigit(
      digits === '' ? (node.timeoutMs ?? d.timeoutMs) : (node.interDigitMs ?? d.interDigitMs),
    );
    if (got === TIMEOUT) break;
    if (terminator !== '' && got === terminator) {
      ended = 'terminator';
      break;
    }
    digits += got;
    if (digits.length >= max) {
      ended = 'max';
      break;
    }
  }
  run.setVar(node.var, digits);
  output.vars = { [node.var]: digits };
  const input = { digits, ended };
  return digits.length >= min
    ? go('next', node.next, { input, output, waited: true })
    : go('onTimeout', node.onTimeout, { input, output, waited: true });
}

async function menuNode(run: Run, node: NodeOf<'menu'>): Promise<Step> {
  const d = NODE_DEFAULTS.menu;
  const retries = node.retries ?? d.retries;
  const output: Record<string, unknown> = {};
  await voicePath(run, output);
  await run.dtmf();
  const prompt = await run.resolve(node.prompt);
  const missing = [...prompt.missing];
  const tries: string[] = [];
  for (let attempt = 0; ; attempt++) {
    // Type-ahead: a digit pressed during an earlier prompt answers the menu without it.
    if (run.pendingDigits() === 0 && prompt.files.length > 0) await run.play(prompt.files, true);
    const got = await run.nextDigit(node.timeoutMs ?? d.timeoutMs);
    if (got !== TIMEOUT && Object.hasOwn(node.choices, got)) {
      tries.push(got);
      if (node.var) {
        run.setVar(node.var, got);
        output.vars = { [node.var]: got };
      }
      if (missing.length > 0) output.missing = missing;
      return go(`choices.${got}`, node.choices[got], { input: { tries }, output, waited: true });
    }
    tries.push(got === TIMEOUT ? 'timeout' : got);
    const invalid = got !== TIMEOUT;
    if (attempt >= retries) {
      if (missing.length > 0) output.missing = missing;
      return invalid
        ? go('onInvalid', node.onInvalid, { input: { tries }, output, waited: true })
        : go('onTimeout', node.onTimeout, { input: { tries }, output, waited: true });
    }
    // What was typed after a wrong digit is the rest of a mistake, not the next choice.
    if (invalid) run.flushDigits();
    const again = await run.resolve(invalid ? node.invalidPrompt : node.timeoutPrompt);
    missing.push(...again.missing);
    if (again.files.length > 0) await run.play(again.files, true);
  }
}

function holds(run: Run, when: Condition, now: Date): { ok: boolean; note?: string } {
  if ('var' in when) {
    const v = run.lookup(when.var) ?? '';
    if (when.eq !== undefined) return { ok: v === run.render(when.eq) };
    if (when.ne !== undefined) return { ok: v !== run.render(when.ne) };
    if (when.lt !== undefined || when.gt !== undefined) {
      const other = Number(run.render((when.lt ?? when.gt) as string));
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n) || !Number.isFinite(other)) return { ok: false };
      return { ok: when.lt !== undefined ? n < other : n > other };
    }
    if (when.in !== undefined) return { ok: when.in.includes(v) };
    if (when.matches !== undefined) return { ok: new RegExp(when.matches).test(v) };
    if (when.pattern !== undefined) return { ok: compilePattern(when.pattern).test(v) };
    return { ok: false };
  }
  if ('time' in when) {
    const zone = run.svc.timezone();
    if (typeof when.time === 'string') {
      const tc = run.svc.timeCondition(when.time);
      if (!tc)
        return { ok: false, note: `time condition "${when.time}" is not in the configuration` };
      return { ok: isOpen(tc, now, zone) };
    }
    const window = when.time;
    return {
      ok: isOpen(
        {
          name: 'inline',
          hours: window.hours.map((h) => ({ days: [...h.days], from: h.from, to: h.to })),
          ...(window.timezone ? { timezone: window.timezone } : {}),
        },
        now,
        zone,
      ),
    };
  }
  if ('calling' in when) return { ok: compilePattern(when.calling).test(run.call.calling) };
  return { ok: compilePattern(when.called).test(run.call.called) };
}

function branchNode(run: Run, node: NodeOf<'branch'>): Step {
  const now = run.svc.clock.now();
  const notes: string[] = [];
  for (const [i, c] of node.cases.entries()) {
    const r = holds(run, c.when as Condition, now);
    if (r.note) notes.push(`cases[${i}]: ${r.note}`);
    if (r.ok)
      return go(`cases[${i}]`, c.next, { output: notes.length ? { notes } : {}, waited: false });
  }
  return go('else', node.else, { output: notes.length ? { notes } : {}, waited: false });
}

function setNode(run: Run, node: NodeOf<'set'>): Step {
  const vars: Record<string, string> = {};
  const errors: string[] = [];
  for (const [name, template] of Object.entries(node.vars)) {
    const value = run.render(template);
    const why = run.setVar(name, value);
    if (why) errors.push(why);
    else vars[name] = value;
  }
  return go('next', node.next, {
    output: errors.length ? { vars, errors } : { vars },
    waited: false,
  });
}

async function httpNode(run: Run, node: NodeOf<'http'>): Promise<Step> {
  const d = NODE_DEFAULTS.http;
  const timeoutMs = node.timeoutMs ?? d.timeoutMs;
  const method = node.method ?? d.method;
  const url = run.render(node.url, encodeURIComponent);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(node.headers ?? {})) headers[k] = run.render(v);
  const body = node.body === undefined ? undefined : run.render(node.body);
  if (body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type'))
    headers['content-type'] = node.contentType ?? d.contentType;
  const input: Record<string, unknown> = { method, url };
  const output: Record<string, unknown> = {};
  const vars: Record<string, string> = {};
  const fail = (error: string, status: number) => {
    if (node.statusVar) {
      run.setVar(node.statusVar, String(status));
      vars[node.statusVar] = String(status);
    }
    output.error = error;
    if (Object.keys(vars).length > 0) output.vars = vars;
    return go('onError', node.onError, { input, output, waited: true });
  };
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
    return fail(`"${url}" is not an http(s) URL`, 0);
  // One deadline for connect, answer and body; the caller hanging up cuts it short too.
  const signal = AbortSignal.any([run.call.signal, AbortSignal.timeout(timeoutMs)]);
  let status = 0;
  let text: string;
  try {
    const res = await run.svc.fetch(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      signal,
    });
    status = res.status;
    input.status = status;
    text = await res.text();
  } catch (err) {
    run.check();
    const timedOut = signal.aborted;
    return fail(timedOut ? `no answer within ${timeoutMs} ms` : errText(err), status);
  }
  run.check();
  if (status < 200 || status > 299) return fail(`HTTP status ${status}`, status);
  if (node.statusVar) {
    run.setVar(node.statusVar, String(status));
    vars[node.statusVar] = String(status);
  }
  if (node.map && Object.keys(node.map).length > 0) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return fail('the answer is not JSON', status);
    }
    for (const [name, path] of Object.entries(node.map)) {
      const value = variableText(jsonPathGet(json, parseJsonPath(path)));
      run.setVar(name, value);
      vars[name] = value;
    }
  }
  if (Object.keys(vars).length > 0) output.vars = vars;
  return go('next', node.next, { input, output, waited: true });
}

async function recordNode(
  run: Run,
  flow: ActiveFlow,
  id: string,
  node: NodeOf<'record'>,
): Promise<Step> {
  const d = NODE_DEFAULTS.record;
  const output: Record<string, unknown> = {};
  await voicePath(run, output);
  const stopDigits = node.stopDigits ?? d.stopDigits;
  if (stopDigits !== '') await run.dtmf();
  const file = await run.svc.recordingFile({ callId: run.call.id, flow: flow.name, node: id });
  run.check();
  if (node.beep ?? d.beep) await run.beep();
  const done = await run.record(file, {
    maxMs: node.maxMs ?? d.maxMs,
    silenceMs: node.silenceMs ?? d.silenceMs,
    stopDigits,
  });
  run.setVar(node.var, file);
  output.vars = { [node.var]: file };
  if (done.error) output.error = done.error;
  return go('next', node.next, {
    input: { reason: done.reason, ms: done.ms, ...(done.digit ? { digit: done.digit } : {}) },
    output,
    waited: true,
  });
}

async function voicemailNode(run: Run, flow: ActiveFlow, node: NodeOf<'voicemail'>): Promise<Step> {
  const d = NODE_DEFAULTS.voicemail;
  const output: Record<string, unknown> = {};
  const mailbox = run.render(node.mailbox);
  output.mailbox = mailbox;
  if (!MAILBOX.test(mailbox)) {
    output.error = `"${mailbox}" is not a mailbox (1-40 letters, digits, "_" or "-")`;
    return go('next', node.next, { output, waited: false });
  }
  await voicePath(run, output);
  const greeting = await run.resolve(node.greeting);
  if (greeting.missing.length > 0) output.missing = greeting.missing;
  if (greeting.files.length > 0) await run.play(greeting.files, true);
  // A digit that skipped the greeting must not also end the message at once.
  run.flushDigits();
  const file = await run.svc.voicemailFile({ callId: run.call.id, mailbox });
  run.check();
  if (node.beep ?? d.beep) await run.beep();
  const at = run.svc.clock.now().toISOString();
  const done = await run.record(file, {
    maxMs: node.maxMs ?? d.maxMs,
    silenceMs: node.silenceMs ?? d.silenceMs,
    stopDigits: '#',
    keepOnHangup: true,
  });
  await run.svc.storeVoicemail({
    mailbox,
    file,
    ms: done.ms,
    callId: run.call.id,
    calling: run.call.calling,
    called: run.call.called,
    flow: flow.name,
    at,
  });
  output.file = file;
  if (done.error) output.error = done.error;
  const input = { reason: done.reason, ms: done.ms };
  if (done.hungUp)
    return { input, output, waited: true, stop: { end: 'aborted', cause: CAUSES.NORMAL_CLEARING } };
  return go('next', node.next, { input, output, waited: true });
}

async function conferenceNode(run: Run, node: NodeOf<'conference'>): Promise<Step> {
  const d = NODE_DEFAULTS.conference;
  const output: Record<string, unknown> = {};
  const room = run.render(node.room);
  output.room = room;
  if (!ROOM.test(room)) {
    output.error = `"${room}" is not a room name (1-64 letters, digits, "_", "-" or ".")`;
    return go('next', node.next, { output, waited: false });
  }
  await voicePath(run, output);
  const leave = node.leaveDigits ?? '';
  if (leave !== '') await run.dtmf();
  run.flushDigits();
  await run.media({ op: 'confJoin', conference: room, talk: node.muted !== true });
  const got = await run.wait(() => {
    // Other digits are heard by the room, not the flow.
    for (const digit of run.flushDigits()) if (leave.includes(digit)) return digit;
    return undefined;
  }, node.maxMs ?? d.maxMs);
  await run.media({ op: 'confLeave' });
  return go('next', node.next, {
    input: got === TIMEOUT ? { left: 'maxMs' } : { left: 'digit', digit: got },
    output,
    waited: true,
  });
}

async function transferNode(run: Run, node: NodeOf<'transfer'>): Promise<Step> {
  const to = node.to;
  const failed = (input: Record<string, unknown>, output: Record<string, unknown>) =>
    node.onFail !== undefined
      ? go('onFail', node.onFail, { input, output, waited: true })
      : go('next', node.next, { input, output, waited: true });
  if ('number' in to) {
    const number = run.render(to.number);
    if (!NUMBER.test(number)) return failed({}, { number, error: `"${number}" is not a number` });
    const r = await run.svc.transfer(run.call, number);
    run.check();
    const input = { result: r.result, ...(r.cause === undefined ? {} : { cause: r.cause }) };
    if (r.result === 'bridged')
      return {
        input,
        output: { number },
        waited: true,
        stop: { end: 'transferred', cause: r.cause ?? CAUSES.NORMAL_CLEARING },
      };
    return failed(input, { number });
  }
  if ('queue' in to) {
    const r = await run.svc.queue(run.call, to.queue);
    run.check();
    const input = { result: r.result, ...(r.cause === undefined ? {} : { cause: r.cause }) };
    if (r.result === 'served')
      return {
        input,
        output: { queue: to.queue },
        waited: true,
        stop: { end: 'transferred', cause: r.cause ?? CAUSES.NORMAL_CLEARING },
      };
    return failed(input, { queue: to.queue });
  }
  throw new Error('a transfer to a flow is run by the walker');
}

// ---- the walker ---------------------------------------------------------------------------------

/** Where a flow ended when it did not stop the call: its last step took an edge left out. */
type Outcome = { kind: 'end' } | { kind: 'stop'; stop: Stop };

async function step(run: Run, flow: ActiveFlow, id: string, node: FlowNode): Promise<Step> {
  switch (node.type) {
    case 'answer': {
      const answered = await run.answer();
      return go('next', node.next, { output: answered ? {} : { already: true }, waited: false });
    }
    case 'play':
      return playNode(run, node);
    case 'collect':
      return collectNode(run, node);
    case 'menu':
      return menuNode(run, node);
    case 'branch':
      return branchNode(run, node);
    case 'set':
      return setNode(run, node);
    case 'http':
      return httpNode(run, node);
    case 'record':
      return recordNode(run, flow, id, node);
    case 'voicemail':
      return voicemailNode(run, flow, node);
    case 'conference':
      return conferenceNode(run, node);
    case 'transfer':
      return transferNode(run, node);
    case 'hangup':
      return {
        waited: false,
        stop: { end: 'hangup', cause: node.cause ?? NODE_DEFAULTS.hangup.cause },
      };
  }
}

/** A flow's declared variables start with their values unless the call has them already. */
function enter(run: Run, flow: ActiveFlow): string {
  for (const [name, value] of Object.entries(flow.doc.variables ?? {}))
    if (!run.vars.has(name)) run.vars.set(name, value);
  return flow.doc.start;
}

/**
 * Walks a flow until it ends or stops the call. A transfer to a flow that returns runs it one
 * level deeper; one that does not return replaces the flow being walked (a jump, not a call:
 * flows handing the caller on to each other do not pile up).
 */
async function walk(run: Run, first: ActiveFlow, depth: number): Promise<Outcome> {
  const svc = run.svc;
  let flow = first;
  let id: string | undefined = enter(run, flow);
  while (id !== undefined) {
    const node = flow.doc.nodes[id] as FlowNode | undefined;
    const started = svc.clock.now();
    if (!node) {
      // compileFlow refuses dangling edges; this is a flow object made some other way.
      run.entry(flow, id, 'error', started, { output: { error: `node "${id}" does not exist` } });
      return { kind: 'stop', stop: { end: 'failed', cause: CAUSES.NORMAL_TEMPORARY_FAILURE } };
    }
    if (run.aborted)
      return { kind: 'stop', stop: { end: 'aborted', cause: CAUSES.NORMAL_CLEARING } };
    if (node.type === 'transfer' && 'flow' in node.to) {
      const target = node.to;
      const back = target.return === true;
      const tooDeep = back && depth >= run.maxDepth;
      const sub = tooDeep ? undefined : svc.loadFlow(target.flow);
      if (!sub) {
        const error = tooDeep
          ? `flows are nested ${depth} deep, the most allowed is ${run.maxDepth}`
          : `there is no flow "${target.flow}"`;
        const to = node.onFail ?? node.next;
        run.entry(flow, id, node.type, started, {
          edge: node.onFail !== undefined ? 'onFail' : 'next',
          to,
          output: { flow: target.flow, error },
        });
        svc.logger.warn({ flow: flow.name, node: id, target: target.flow }, error);
        if (run.instant(false)) return guard(run, flow, id);
        id = to;
        continue;
      }
      run.entry(flow, id, node.type, started, {
        output: { flow: sub.name, version: sub.version, return: back },
      });
      if (run.instant(false)) return guard(run, flow, id);
      if (!back) {
        flow = sub;
        id = enter(run, flow);
        continue;
      }
      const inner = await walk(run, sub, depth + 1);
      if (inner.kind === 'stop') return inner;
      id = node.next;
      continue;
    }
    let s: Step;
    try {
      s = await step(run, flow, id, node);
    } catch (err) {
      if (err instanceof Aborted || run.aborted) {
        run.entry(flow, id, node.type, started, { output: { aborted: true } });
        return { kind: 'stop', stop: { end: 'aborted', cause: CAUSES.NORMAL_CLEARING } };
      }
      const error = errText(err);
      run.entry(flow, id, node.type, started, {
        output: { error },
        stop: { end: 'failed', cause: CAUSES.NORMAL_TEMPORARY_FAILURE },
      });
      svc.logger.error(
        { err, flow: flow.name, version: flow.version, node: id },
        `flow step failed: ${error}`,
      );
      return { kind: 'stop', stop: { end: 'failed', cause: CAUSES.NORMAL_TEMPORARY_FAILURE } };
    }
    run.entry(flow, id, node.type, started, s);
    if (s.stop) return { kind: 'stop', stop: s.stop };
    if (run.instant(s.waited)) return guard(run, flow, id);
    id = s.to;
  }
  return { kind: 'end' };
}

function guard(run: Run, flow: ActiveFlow, id: string): Outcome {
  const error = `${run.maxInstant} steps in a row took no time (a loop that never waits for the caller): the call is ended`;
  const stop: Stop = { end: 'guard', cause: CAUSES.NORMAL_TEMPORARY_FAILURE };
  run.entry(flow, id, 'guard', run.svc.clock.now(), { output: { error }, stop });
  run.svc.logger.error({ flow: flow.name, version: flow.version, node: id }, error);
  return { kind: 'stop', stop };
}

/**
 * Runs `flow` on `call` until it ends, the caller hangs up or a step fails; resolves with how
 * it ended and the cause to clear the call with. Never rejects for anything a flow or a call
 * does; it does not release the call itself (ivrApp does, with the cause).
 * @throws RangeError only for options out of range
 */
export async function runFlow(
  call: CallControl,
  flow: ActiveFlow,
  services: FlowServices,
  opts: RunOptions = {},
): Promise<FlowResult> {
  const run = new Run(call, services, opts, flow);
  try {
    let outcome: Outcome;
    try {
      outcome = await walk(run, flow, 1);
    } catch (err) {
      // A service that threw outside a step (loadFlow): the call cannot go on.
      services.logger.error({ err, flow: flow.name, version: flow.version }, 'the flow failed');
      outcome = run.aborted
        ? { kind: 'stop', stop: { end: 'aborted', cause: CAUSES.NORMAL_CLEARING } }
        : { kind: 'stop', stop: { end: 'failed', cause: CAUSES.NORMAL_TEMPORARY_FAILURE } };
    }
    const stop: Stop =
      outcome.kind === 'stop'
        ? outcome.stop
        : run.aborted
          ? { end: 'aborted', cause: CAUSES.NORMAL_CLEARING }
          : { end: 'end', cause: CAUSES.NORMAL_CLEARING };
    return { ...stop, vars: Object.fromEntries(run.vars), log: run.log };
  } finally {
    run.close();
  }
}

/** Timers on the global setTimeout, the wall clock for time: what the controller runs with. */
export const systemClock: FlowClock = {
  now: () => new Date(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
