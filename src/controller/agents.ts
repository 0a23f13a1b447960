// SPDX-License-Identifier: GPL-2.0-or-later
// Agents for the dialer's agent modes: extensions logged in to a group, ready or not, the longest idle taken first.

import { SwitchboardError } from '../core/errors.ts';
import { type AgentPool, Dialer, type PreviewContact } from '../dialer/dialer.ts';
import type { AgentCounts } from '../dialer/pacing.ts';
import { DialerStore } from '../dialer/store.ts';
import type { Db } from '../store/db.ts';

export type AgentState = 'ready' | 'not_ready' | 'reserved' | 'busy';

export interface AgentView {
  /** The extension (switch configuration `extensions[].name`) the agent takes calls on. */
  extension: string;
  group: string;
  state: AgentState;
  /** When the agent entered the state (ISO). */
  since: string;
  /** Preview mode: the contact shown, waiting for accept or skip. */
  preview?: PreviewContact;
}

interface Agent {
  extension: string;
  group: string;
  state: AgentState;
  since: number;
  preview?: { contact: PreviewContact; decide: (d: 'accept' | 'skip') => void };
}

/**
 * The logged-in agents, kept in memory: a restart logs everyone out, as a phone system's ACD
 * does after a reboot. Agents log in to one group at a time; the dialer reserves the one ready
 * longest (fair to the agents, and what "longest idle" means in an ACD).
 */
export class AgentDesk implements AgentPool {
  readonly #agents = new Map<string, Agent>();
  readonly #now: () => number;
  readonly #known: (extension: string) => boolean;

  /** `known` says whether an extension exists in the running configuration. */
  constructor(known: (extension: string) => boolean, now: () => number = Date.now) {
    this.#known = known;
    this.#now = now;
  }

  /** @throws SwitchboardError E_AGENT_UNKNOWN when no extension has that name */
  login(extension: string, group: string): AgentView {
    if (!this.#known(extension))
      throw new SwitchboardError(
        'E_AGENT_UNKNOWN',
        `extension: ${JSON.stringify(extension)} is not an extension of the switch configuration`,
        { details: { field: 'extension', value: extension } },
      );
    const a: Agent = { extension, group, state: 'not_ready', since: this.#now() };
    this.#agents.set(extension, a);
    return this.#view(a);
  }

  logout(extension: string): void {
    const a = this.#agent(extension);
    a.preview?.decide('skip');
    this.#agents.delete(extension);
  }

  /** Ready or not ready; an agent on a call becomes what they asked for when the call ends. */
  setReady(extension: string, ready: boolean): AgentView {
    const a = this.#agent(extension);
    if (a.state === 'ready' || a.state === 'not_ready') this.#set(a, ready ? 'ready' : 'not_ready');
    return this.#view(a);
  }

  /** Preview: the agent accepts or skips the contact they are shown. */
  decide(extension: string, decision: 'accept' | 'skip'): void {
    const a = this.#agent(extension);
    if (!a.preview)
      throw new SwitchboardError('E_AGENT_STATE', `agent ${extension} has no contact to preview`, {
        details: { field: 'extension', value: extension },
      });
    const p = a.preview;
    a.preview = undefined;
    p.decide(decision);
  }

  list(): AgentView[] {
    return [...this.#agents.values()].map((a) => this.#view(a));
  }

  counts(group: string): AgentCounts {
    let ready = 0;
    let busy = 0;
    for (const a of this.#agents.values()) {
      if (a.group !== group) continue;
      if (a.state === 'ready') ready++;
      else if (a.state === 'busy' || a.state === 'reserved') busy++;
    }
    return { ready, busy };
  }

  reserve(group: string): string | undefined {
    let best: Agent | undefined;
    for (const a of this.#agents.values())
      if (a.group === group && a.state === 'ready' && (!best || a.since < best.since)) best = a;
    if (!best) return undefined;
    this.#set(best, 'reserved');
    return best.extension;
  }

  /** The reserved agent's phone is being rung for an answered call. */
  busy(extension: string): void {
    const a = this.#agents.get(extension);
    if (a) this.#set(a, 'busy');
  }

  release(agent: string): void {
    const a = this.#agents.get(agent);
    if (a && (a.state === 'reserved' || a.state === 'busy')) this.#set(a, 'ready');
  }

  preview(agent: string, contact: PreviewContact): Promise<'accept' | 'skip'> {
    const a = this.#agents.get(agent);
    if (!a) return Promise.resolve('skip');
    return new Promise((decide) => {
      a.preview = { contact, decide };
    });
  }

  #agent(extension: string): Agent {
    const a = this.#agents.get(extension);
    if (!a)
      throw new SwitchboardError('E_AGENT_UNKNOWN', `agent ${extension} is not logged in`, {
        details: { field: 'extension', value: extension },
      });
    return a;
  }

  #set(a: Agent, state: AgentState): void {
    a.state = state;
    a.since = this.#now();
  }

  #view(a: Agent): AgentView {
    return {
      extension: a.extension,
      group: a.group,
      state: a.state,
      since: new Date(a.since).toISOString(),
      ...(a.preview ? { preview: a.preview.contact } : {}),
    };
  }
}

/**
 * A dialer that never places a call, with its store and an empty agent desk: what the API's
 * route walk and the API benchmark serve the campaign routes with.
 */
export function idleDialer(db: Db): {
  dialer: Dialer;
  dialerStore: DialerStore;
  agents: AgentDesk;
} {
  const dialerStore = new DialerStore(db);
  const refuse = () => {
    throw new Error('an idle dialer places no calls');
  };
  const quiet = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
  return {
    dialerStore,
    agents: new AgentDesk(() => false),
    dialer: new Dialer({
      store: dialerStore,
      port: { freeChannels: () => 0, place: refuse },
      log: quiet,
    }),
  };
}
