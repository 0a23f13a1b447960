// SPDX-License-Identifier: GPL-2.0-or-later
// The dialer's calls on the switch: placed by the call manager, answering machines detected, the flow or an agent on answer.

import { CAUSES } from '../calls/cause.ts';
import type { CallControl, CallManager } from '../calls/manager.ts';
import type { CallRecord } from '../cdr/record.ts';
import type { SwitchConfig } from '../config/schema.ts';
import type { DialerPort, PlacedCall, PlaceRequest, PortResult } from '../dialer/dialer.ts';
import { campaignSettings } from '../dialer/schema.ts';
import { type FlowServices, runFlow } from '../ivr/runtime.ts';
import type { FlowStore } from '../ivr/store.ts';
import type { EngineEvent } from '../native/engine.ts';
import type { TrunkStateView } from '../routing/router.ts';
import type { AgentDesk } from './agents.ts';

/** Extra wait for the AMD verdict beyond its own analysis time, ms (the event crosses threads). */
const AMD_MARGIN_MS = 2000;
/** The engine's AMD analysis time when the campaign gives none (src/media/amd.ts totalAnalysisTime). */
const AMD_ANALYSIS_MS = 5000;

export interface DialerPortOptions {
  calls: CallManager;
  flows: FlowStore;
  /** The flow services the IVR uses (prompts, TTS, HTTP...): a broadcast runs its flow with them. */
  services: FlowServices;
  trunks: TrunkStateView;
  config: () => SwitchConfig;
  agents: AgentDesk;
  log: {
    info(o: object, m: string): void;
    warn(o: object, m: string): void;
    error(o: object, m: string): void;
  };
  now?: () => number;
}

/**
 * Places the dialer's calls through the outbound routes (the campaign's `from` tag selects
 * them) with the campaign's ring timeout. On answer: answering-machine detection when the
 * campaign asks for it, then the broadcast flow (its variables `result` and `keypress` tell
 * the dialer what the callee did), or the agent the dialer reserved (the call is transferred
 * to the agent's extension; nobody free within abandonSeconds is an abandoned call).
 */
export class SwitchDialerPort implements DialerPort {
  readonly #o: DialerPortOptions;
  readonly #now: () => number;
  /** Calls placed and not ended yet: the call manager's attempt id -> their record's waiter. */
  readonly #waiting = new Map<string, (r: CallRecord) => void>();

  constructor(o: DialerPortOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    o.calls.on('callEnded', (_summary, record) => {
      const done = this.#waiting.get(record.id);
      if (!done) return;
      this.#waiting.delete(record.id);
      done(record);
    });
  }

  /** Free channels on the trunks of the outbound routes this campaign's calls take, in service. */
  freeChannels(campaign: PlaceRequest['campaign']): number {
    const from = campaign.from ?? campaign.name;
    const cfg = this.#o.config();
    const groups = new Map((cfg.trunkGroups ?? []).map((g) => [g.name, g.trunks]));
    // Routes made for this campaign (its `from` tag) when there are any, else the routes that
    // serve everyone: the ones its calls will take.
    const routes = cfg.routes?.outbound ?? [];
    const own = routes.filter((r) => r.from?.includes(from));
    const trunks = new Set<string>();
    for (const r of own.length > 0 ? own : routes.filter((r) => r.from === undefined))
      for (const g of r.trunkGroups) for (const t of groups.get(g) ?? []) trunks.add(t);
    let free = 0;
    for (const t of trunks) {
      const s = this.#o.trunks.get(t);
      if (s?.up) free += s.freeChannels;
    }
    return free;
  }

  place(req: PlaceRequest): PlacedCall {
    const settings = campaignSettings(req.campaign);
    const result: PortResult = { answered: false, cause: CAUSES.NORMAL_CLEARING };
    const placedAt = this.#now();
    let answerSeen!: (handed: boolean) => void;
    const answered = new Promise<boolean>((r) => {
      answerSeen = r;
    });
    const id = this.#o.calls.dial(
      {
        called: req.number,
        from: settings.from,
        ...(req.campaign.callerId === undefined ? {} : { calling: req.campaign.callerId }),
      },
      {
        ringTimeoutMs: settings.ringTimeoutSeconds * 1000,
        app: async (call) => {
          result.answered = true;
          result.ringMs = this.#now() - placedAt;
          const at = this.#now();
          try {
            await this.#answered(call, req, settings, result, answerSeen);
          } finally {
            answerSeen(false);
            result.talkMs = this.#now() - at;
          }
        },
      },
    );
    const done = new Promise<PortResult>((resolve) => {
      this.#waiting.set(id, (record) => {
        answerSeen(false);
        if (!result.answered) {
          result.cause = record.cause;
          result.ringMs = this.#now() - placedAt;
        }
        if (result.agent) this.#o.agents.release(result.agent);
        resolve(result);
      });
    });
    return { id, done, answered };
  }

  async #answered(
    call: CallControl,
    req: PlaceRequest,
    settings: ReturnType<typeof campaignSettings>,
    result: PortResult,
    handed: (yes: boolean) => void,
  ): Promise<void> {
    if (settings.amd.enabled) {
      result.amd = await this.#amd(call);
      if (result.amd === 'machine' && settings.amd.onMachine === 'hangup') {
        handed(false);
        return;
      }
    } else {
      await call.media({ op: 'detect', dtmf: true });
    }
    handed(true);
    if (settings.mode === 'broadcast') return this.#broadcast(call, req, result);
    return this.#toAgent(call, req, settings, result);
  }

  /** Starts DTMF and AMD detection and waits for the verdict (notsure when none comes in time). */
  async #amd(call: CallControl): Promise<PortResult['amd']> {
    let off: () => unknown = () => undefined;
    const verdict = new Promise<PortResult['amd']>((resolve) => {
      const timer = setTimeout(() => resolve('notsure'), AMD_ANALYSIS_MS + AMD_MARGIN_MS);
      const stop = () => {
        clearTimeout(timer);
        resolve('notsure');
      };
      call.signal.addEventListener('abort', stop, { once: true });
      off = call.onEvent((e: EngineEvent) => {
        if (e.event !== 'amd') return;
        clearTimeout(timer);
        call.signal.removeEventListener('abort', stop);
        resolve(e.result);
      });
    });
    try {
      await call.media({ op: 'detect', dtmf: true, amd: true });
      return await verdict;
    } finally {
      off();
    }
  }

  async #broadcast(call: CallControl, req: PlaceRequest, result: PortResult): Promise<void> {
    const name = req.campaign.flow;
    const flow = name === undefined ? undefined : this.#o.flows.active(name);
    if (!flow) {
      this.#o.log.error(
        { campaign: req.campaign.name, flow: name },
        `campaign ${req.campaign.name}: its flow ${String(name)} does not exist`,
      );
      return;
    }
    const vars: Record<string, string> = { ...req.vars };
    if (req.name !== undefined) vars.name = req.name;
    const writer = this.#o.flows.logWriter(call.id);
    try {
      const r = await runFlow(call, flow, this.#o.services, {
        vars,
        onStep: (e) => writer.append(e),
      });
      const verdict = r.vars.result;
      if (verdict === 'success' || verdict === 'refused' || verdict === 'notified')
        result.result = verdict;
      if (r.vars.keypress) result.keypress = r.vars.keypress;
      if (r.end !== 'aborted' && !call.signal.aborted) await call.release(r.cause);
    } finally {
      writer.flush();
    }
  }

  async #toAgent(
    call: CallControl,
    req: PlaceRequest,
    settings: ReturnType<typeof campaignSettings>,
    result: PortResult,
  ): Promise<void> {
    const group = req.campaign.agentGroup ?? req.campaign.name;
    const desk = this.#o.agents;
    let agent = req.agent;
    const until = this.#now() + settings.pacing.abandonSeconds * 1000;
    while (agent === undefined && this.#now() < until && !call.signal.aborted) {
      agent = desk.reserve(group);
      if (agent === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    if (agent === undefined) {
      result.abandoned = true;
      this.#o.log.info(
        { campaign: req.campaign.name, call: call.id },
        'no agent free in time: abandoned call',
      );
      return;
    }
    result.agent = agent;
    desk.busy(agent);
    const t = await call.transfer({ extension: agent }, { ringTimeoutMs: 20_000 });
    if (t.result === 'failed') {
      result.abandoned = true;
      this.#o.log.warn(
        { campaign: req.campaign.name, agent, cause: t.cause },
        `agent ${agent} did not take the call`,
      );
      return;
    }
    if (!call.signal.aborted)
      await new Promise<void>((done) => call.signal.addEventListener('abort', () => done()));
  }
}
