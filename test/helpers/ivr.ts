// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit for IVR flows: a scripted caller behind a fake CallControl, a virtual clock, fake flow services.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: flow templates are written ${var}, as installers write them

import type {
  CallControl,
  LegMediaCommand,
  TransferResult,
  TransferTarget,
} from '../../src/calls/manager.ts';
import type { TimeCondition } from '../../src/config/schema.ts';
import { SwitchboardError } from '../../src/core/errors.ts';
import type {
  FlowClock,
  FlowServices,
  HttpAnswer,
  HttpRequest,
  QueueOutcome,
  TransferOutcome,
  VoicemailMessage,
} from '../../src/ivr/runtime.ts';
import type { FlowDoc, FlowLang } from '../../src/ivr/schema.ts';
import { type ActiveFlow, compileFlow } from '../../src/ivr/validate.ts';
import type { CommandResult, EngineEvent } from '../../src/native/engine.ts';

interface Timer {
  at: number;
  fn: () => void;
  id: number;
}

/**
 * Virtual time: a timer fires only when nothing else is going on (no caller action pending,
 * no microtask left), and the clock jumps to its time. A flow waiting 5 s for a digit costs the
 * test no time, and a digit the caller presses always arrives before a timeout it beats in the
 * script, however loaded the machine is.
 */
export class VirtualClock implements FlowClock {
  ms: number;
  #timers: Timer[] = [];
  #id = 0;
  #scheduled = false;
  /** Returns true while something outside the clock still has work queued. */
  busy: () => boolean = () => false;
  /** How many timers fired (virtual waits that ran out). */
  fired = 0;

  constructor(start = '2024-03-04T02:00:00Z') {
    this.ms = Date.parse(start);
  }

  now = (): Date => new Date(this.ms);

  setTimer = (fn: () => void, ms: number): unknown => {
    const t = { at: this.ms + ms, fn, id: ++this.#id };
    this.#timers.push(t);
    this.#kick();
    return t.id;
  };

  clearTimer = (handle: unknown): void => {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  };

  #kick(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#tick());
  }

  #tick(): void {
    this.#scheduled = false;
    if (this.#timers.length === 0) return;
    if (this.busy()) {
      this.#kick();
      return;
    }
    this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
    const t = this.#timers.shift() as Timer;
    this.ms = Math.max(this.ms, t.at);
    this.fired++;
    t.fn();
    if (this.#timers.length > 0) this.#kick();
  }
}

/** What the caller does when a command reaches the engine; `c` lets it press digits or hang up. */
export type Reaction = (cmd: LegMediaCommand, c: FakeCall, index: number) => void;

/**
 * A call as the IVR sees it, answering media commands as the native engine does: play and tone
 * give a play id and later a playDone (done, or bargeIn when a digit comes and bargeIn is on);
 * record gives a record id and later a recordDone; digits reach the flow as dtmf events only
 * while DTMF detection is on. The caller is scripted by `react`, run once per command after
 * the command has been answered.
 */
export class FakeCall implements CallControl {
  readonly id: string;
  readonly call = 7;
  readonly trunk: string;
  readonly called: string;
  readonly calling: string;
  readonly commands: LegMediaCommand[] = [];
  answers = 0;
  releasedWith?: number;
  detecting = false;
  /** Make plays never finish (an engine that lost a playDone). */
  stuckPlays = false;
  /** How recordings end when the caller does nothing. */
  recordEnd: { reason: 'silence' | 'maxLength'; ms: number } = { reason: 'silence', ms: 2500 };
  readonly #abort = new AbortController();
  readonly #listeners = new Set<(e: EngineEvent) => void>();
  #ids = 0;
  #pending = 0;
  #playing?: { id: number; bargeIn: boolean; kind: 'prompt' | 'tone' };
  #recording?: { id: number; file: string; stopDigits: string };
  #react: Reaction;

  constructor(
    react: Reaction = () => undefined,
    o: { id?: string; called?: string; calling?: string; trunk?: string } = {},
  ) {
    this.#react = react;
    this.id = o.id ?? 'b00t-1';
    this.called = o.called ?? '95588';
    this.calling = o.calling ?? '13912345678';
    this.trunk = o.trunk ?? 'pri1';
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Caller actions still queued (the virtual clock waits for them). */
  get busy(): boolean {
    return this.#pending > 0;
  }

  /** Files of every play command, in order, as prompt names (the fake services' paths). */
  get played(): string[][] {
    return this.commands.flatMap((c) => (c.op === 'play' ? [c.files] : []));
  }

  ops(): string[] {
    return this.commands.map((c) => c.op);
  }

  later(fn: () => void): void {
    this.#pending++;
    setImmediate(() => {
      this.#pending--;
      if (!this.#abort.signal.aborted) fn();
    });
  }

  #emit(e: Record<string, unknown>): void {
    const event = { time: 0, dahdiChannel: 17, call: this.call, trunk: this.trunk, ...e };
    for (const l of [...this.#listeners]) l(event as unknown as EngineEvent);
  }

  #finishPlay(reason: 'done' | 'bargeIn' | 'released', digit?: string): void {
    const p = this.#playing;
    if (!p) return;
    this.#playing = undefined;
    this.#emit({
      event: 'playDone',
      play: p.id,
      kind: p.kind,
      reason,
      playedMs: 1000,
      ...(digit ? { digit } : {}),
    });
  }

  #finishRecord(reason: string, ms: number, digit?: string): void {
    const r = this.#recording;
    if (!r) return;
    this.#recording = undefined;
    this.#emit({
      event: 'recordDone',
      record: r.id,
      file: r.file,
      reason,
      ms,
      ...(digit ? { digit } : {}),
    });
  }

  /** Transfers asked of the call manager, and what it answers (busy unless a test says otherwise). */
  readonly transfers: TransferTarget[] = [];
  transferResult: TransferResult = { result: 'failed', cause: 17, causeName: 'USER_BUSY' };

  transfer(to: TransferTarget): Promise<TransferResult> {
    this.transfers.push(to);
    return Promise.resolve(this.transferResult);
  }

  /** The caller presses digits now. */
  press(digits: string): void {
    for (const digit of digits) {
      if (!this.detecting) continue;
      if (this.#playing?.bargeIn) this.#finishPlay('bargeIn', digit);
      this.#emit({ event: 'dtmf', digit, ms: 100, level: -10, at: 0 });
      if (this.#recording?.stopDigits.includes(digit)) this.#finishRecord('dtmf', 1800, digit);
    }
  }

  /** The caller hangs up: released, and the app's signal fires (as the call manager does). */
  hangup(cause = 16): void {
    if (this.#abort.signal.aborted) return;
    this.#finishPlay('released');
    this.#finishRecord('released', 3100);
    this.#emit({ event: 'released', cause, causeName: 'NORMAL_CLEARING', by: 'remote' });
    this.#abort.abort();
  }

  async answer(): Promise<void> {
    if (this.#abort.signal.aborted)
      throw new SwitchboardError('E_CALL_STATE', 'the call has ended');
    this.answers++;
  }

  async alert(): Promise<void> {}

  async release(cause = 16): Promise<void> {
    this.releasedWith ??= cause;
    this.#abort.abort();
  }

  onEvent(listener: (e: EngineEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async media(cmd: LegMediaCommand): Promise<CommandResult> {
    if (this.#abort.signal.aborted)
      throw new SwitchboardError('E_CALL_STATE', 'the call has ended');
    const index = this.commands.length;
    this.commands.push(cmd);
    let result: CommandResult = {};
    switch (cmd.op) {
      case 'detect':
        if (cmd.dtmf !== undefined) this.detecting = cmd.dtmf;
        this.later(() => this.#react(cmd, this, index));
        break;
      case 'play':
      case 'tone': {
        const id = ++this.#ids;
        this.#finishPlay('done');
        this.#playing = {
          id,
          bargeIn: cmd.bargeIn === true,
          kind: cmd.op === 'play' ? 'prompt' : 'tone',
        };
        result = { play: id };
        this.later(() => {
          this.#react(cmd, this, index);
          if (this.#playing?.id === id && !this.stuckPlays)
            this.later(() => this.#finishPlay('done'));
        });
        break;
      }
      case 'record': {
        const id = ++this.#ids;
        this.#recording = { id, file: cmd.file, stopDigits: cmd.stopDigits ?? '' };
        result = { record: id };
        this.later(() => {
          this.#react(cmd, this, index);
          if (this.#recording?.id === id)
            this.later(() => this.#finishRecord(this.recordEnd.reason, this.recordEnd.ms));
        });
        break;
      }
      case 'stop':
        this.#finishPlay('done');
        this.later(() => this.#react(cmd, this, index));
        break;
      default:
        this.later(() => this.#react(cmd, this, index));
    }
    return result;
  }
}

export interface FakeServices extends FlowServices {
  clock: VirtualClock;
  voicemails: VoicemailMessage[];
  transfers: string[];
  queues: string[];
  warnings: string[];
  errors: string[];
}

export interface FakeServiceOptions {
  /** Prompt names that are missing (everything else exists). */
  missing?: string[];
  flows?: Map<string, ActiveFlow>;
  timeConditions?: TimeCondition[];
  timezone?: string;
  transfer?: (number: string) => TransferOutcome;
  queue?: (name: string) => QueueOutcome;
  fetch?: (url: string, req: HttpRequest) => Promise<HttpAnswer>;
}

/** Flow services on fakes: prompt files are `/p/<lang>/<name>.wav`, speech `/tts/<text>.wav`. */
export function fakeServices(call: FakeCall | undefined, o: FakeServiceOptions = {}): FakeServices {
  const clock = new VirtualClock();
  if (call) clock.busy = () => call.busy;
  const missing = new Set(o.missing ?? []);
  const s: FakeServices = {
    clock,
    voicemails: [],
    transfers: [],
    queues: [],
    warnings: [],
    errors: [],
    async resolvePrompts(names: readonly string[], lang: FlowLang) {
      return names.map((n, i) => {
        if (missing.has(n))
          throw new SwitchboardError(
            'E_PROMPT_MISSING',
            `prompt ${n} is not in the ${lang} prompt set`,
            {
              details: { field: `names[${i}]` },
            },
          );
        return `/p/${lang}/${n}.wav`;
      });
    },
    async tts(text: string, opts: { voice?: string; lang: FlowLang }) {
      return `/tts/${opts.voice ?? opts.lang}/${text}.wav`;
    },
    fetch:
      o.fetch ??
      (async (url, req) => {
        const res = await fetch(url, {
          method: req.method,
          headers: req.headers,
          ...(req.body === undefined ? {} : { body: req.body }),
          signal: req.signal,
        });
        return { status: res.status, text: () => res.text() };
      }),
    async transfer(_call: CallControl, number: string) {
      s.transfers.push(number);
      return o.transfer?.(number) ?? { result: 'failed', cause: 17 };
    },
    async queue(_call: CallControl, name: string) {
      s.queues.push(name);
      return o.queue?.(name) ?? { result: 'failed' };
    },
    timeCondition: (name) => o.timeConditions?.find((t) => t.name === name),
    timezone: () => o.timezone ?? 'Asia/Shanghai',
    recordingFile: ({ callId, node }) => `/rec/${callId}-${node}.wav`,
    voicemailFile: ({ callId, mailbox }) => `/vm/${mailbox}/${callId}.wav`,
    async storeVoicemail(msg) {
      s.voicemails.push(msg);
    },
    loadFlow: (name) => o.flows?.get(name),
    logger: {
      info: () => undefined,
      warn: (_o, msg) => s.warnings.push(msg),
      error: (_o, msg) => s.errors.push(msg),
    },
  };
  return s;
}

/** A flow document from its nodes (name `test`, start at the first node). */
export function flow(nodes: FlowDoc['nodes'], extra: Partial<FlowDoc> = {}): FlowDoc {
  return { name: 'test', start: Object.keys(nodes)[0] as string, nodes, ...extra };
}

/** Compiles a flow document (throws its errors when it is refused). */
export function active(doc: FlowDoc, version = 1): ActiveFlow {
  return compileFlow(doc, version);
}

/** A flow using every node kind, valid as it stands; a fresh copy each call. */
export function sampleFlow(): FlowDoc {
  return {
    name: 'hotline',
    description: 'the main number',
    lang: 'en',
    start: 'hours',
    variables: { account: '' },
    nodes: {
      hours: {
        type: 'branch',
        cases: [
          { when: { time: 'office' }, next: 'answer' },
          { when: { calling: '_1[3-9]XXXXXXXXX' }, next: 'answer' },
        ],
        else: 'closed',
      },
      closed: { type: 'voicemail', mailbox: 'main', greeting: [{ prompt: 'closed' }] },
      answer: { type: 'answer', next: 'welcome' },
      welcome: { type: 'play', items: [{ prompt: 'welcome' }], bargeIn: true, next: 'main' },
      main: {
        type: 'menu',
        prompt: [{ prompt: 'main-menu' }],
        choices: { '1': 'account', '2': 'agent', '3': 'conf', '9': 'message', '0': 'recording' },
        invalidPrompt: [{ prompt: 'invalid' }],
        timeoutPrompt: [{ prompt: 'no-input' }],
        onInvalid: 'bye',
        onTimeout: 'bye',
      },
      account: {
        type: 'collect',
        prompt: [{ prompt: 'enter-account' }],
        var: 'account',
        min: 6,
        max: 10,
        next: 'lookup',
        onTimeout: 'main',
      },
      lookup: {
        type: 'http',
        url: 'https://crm.example/api/accounts/${account}',
        timeoutMs: 3000,
        map: { balance: '$.balance', name: '$.customer.name' },
        next: 'saybalance',
        onError: 'agent',
      },
      saybalance: {
        type: 'play',
        items: [{ prompt: 'your-balance' }, { amount: '${balance}', currency: 'CNY' }],
        next: 'main',
      },
      agent: { type: 'transfer', to: { queue: 'support' }, onFail: 'message' },
      conf: { type: 'conference', room: 'room-${account}', leaveDigits: '*', next: 'main' },
      message: { type: 'voicemail', mailbox: 'support', next: 'bye' },
      recording: { type: 'record', var: 'note', next: 'mark' },
      mark: { type: 'set', vars: { noted: 'yes ${note}' }, next: 'bye' },
      bye: { type: 'hangup' },
    },
  };
}
