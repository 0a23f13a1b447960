// SPDX-License-Identifier: GPL-2.0-or-later
// The routing core: inbound and outbound routes, blacklists, regions, time conditions and trunk hunting; pure TypeScript.

import type {
  Destination,
  Extension,
  HuntMethod,
  InboundRoute,
  OutboundRoute,
  SwitchConfig,
  TimeCondition,
} from '../config/schema.ts';
import { SwitchboardError } from '../core/errors.ts';
import {
  applyMask,
  type CompiledManipulation,
  compileManipulation,
  manipulate,
} from './numbers.ts';
import { compilePattern, type Pattern } from './pattern.ts';
import { isOpen } from './time.ts';

export { failoverCause } from '../calls/cause.ts';
export { applyMask, manipulate } from './numbers.ts';
export { isOpen, localTime } from './time.ts';

export type Presentation = 'allowed' | 'restricted';

/** A call offered on a trunk, numbers as received. */
export interface InboundCall {
  trunk: string;
  called: string;
  calling: string;
  callingPresentation?: Presentation;
}

export interface BlacklistHit {
  /** The entry as configured. */
  number: string;
  note?: string;
}

export type InboundDecision =
  | { kind: 'blocked'; entry: BlacklistHit }
  | {
      kind: 'route';
      route: InboundRoute;
      destination: Destination;
      /** The numbers after the route's manipulations. */
      called: string;
      calling: string;
      /** The caller's region, when a region prefix matched the calling number. */
      region?: string;
    }
  | { kind: 'none' };

/** What the controller knows of one trunk now (from the engine snapshot and its events). */
export interface TrunkState {
  /** No alarm on its spans and its signalling link (D-channel, MTP2 linkset) in service. */
  up: boolean;
  /** Channels (timeslots, CICs, ports) that could take a new call now. */
  freeChannels: number;
  /** Calls up on the trunk, either direction (least_used hunting). */
  callsUp: number;
  /** Why it is down, for logs and CDRs ("RED alarm", "D-channel down"). */
  why?: string;
}

/** The trunks' state as the router sees it; undefined for a trunk the engine does not run. */
export interface TrunkStateView {
  get(trunk: string): TrunkState | undefined;
}

export interface OutboundRequest {
  /**
   * Who asks: an agent group, an IVR flow, or the trunk an inbound call came in on (transit).
   * Routes with `from` serve only the names listed there.
   */
  from?: string;
  called: string;
  calling?: string;
  presentation?: Presentation;
  /**
   * Use this outbound route by name (an inbound route's `trunk` destination) instead of the first
   * that matches: neither its `called` pattern nor its `from` list is checked then, the installer
   * chose it. The outbound blacklist still applies.
   */
  route?: string;
}

/** A trunk to try, and the trunk group it was hunted from (for round robin). */
export interface Candidate {
  trunk: string;
  group: string;
}

export interface SkippedTrunk {
  trunk: string;
  group: string;
  /** down: alarm or signalling link out of service; busy: no free channel; unknown: not running. */
  reason: 'down' | 'busy' | 'unknown';
  why?: string;
}

export type OutboundPlan =
  | { kind: 'blocked'; entry: BlacklistHit }
  | {
      kind: 'route';
      route: OutboundRoute;
      called: string;
      /** The caller ID to send (manipulated, replaced, masked); undefined when there is none. */
      calling?: string;
      presentation?: Presentation;
      /** In hunting order; may be empty when every trunk was skipped. */
      candidates: Candidate[];
      skipped: SkippedTrunk[];
    }
  | { kind: 'none' };

interface CompiledInbound {
  route: InboundRoute;
  /** Trunk names (groups expanded); undefined for every trunk. */
  trunks?: Set<string>;
  called?: Pattern;
  calling?: Pattern;
  regions?: Set<string>;
  time?: { condition: TimeCondition; when: 'open' | 'closed' };
  calledM?: CompiledManipulation;
  callingM?: CompiledManipulation;
}

interface CompiledOutbound {
  route: OutboundRoute;
  called: Pattern;
  from?: Set<string>;
  calledM?: CompiledManipulation;
  callingM?: CompiledManipulation;
}

interface CompiledBlacklist {
  pattern: Pattern;
  entry: BlacklistHit;
}

function compileAt<T>(path: string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    throw new SwitchboardError('E_CONFIG_FIELD', `${path}: ${(err as Error).message}`, {
      details: [{ path, message: (err as Error).message }],
    });
  }
}

function compileBlacklist(
  list: { number: string; note?: string }[] | undefined,
  side: string,
): CompiledBlacklist[] {
  return (list ?? []).map((e, i) => ({
    pattern: compileAt(`blacklists.${side}[${i}].number`, () => compilePattern(e.number)),
    entry: e.note === undefined ? { number: e.number } : { number: e.number, note: e.note },
  }));
}

/**
 * Routes calls by a validated SwitchConfig (validateConfig has checked every cross-reference:
 * the names a route uses exist). Build a new Router when the configuration changes; the only
 * state it keeps is the round-robin position of each trunk group.
 */
export class Router {
  readonly #config: SwitchConfig;
  readonly #inbound: CompiledInbound[];
  readonly #outbound: CompiledOutbound[];
  readonly #blackIn: CompiledBlacklist[];
  readonly #blackOut: CompiledBlacklist[];
  readonly #groups: Map<string, { trunks: string[]; hunt: HuntMethod }>;
  readonly #regions: { prefix: string; region: string }[];
  readonly #extensions: Map<string, Extension>;
  readonly #signalling: Map<string, string>;
  /** Round robin: the trunk each group used last. */
  readonly #lastUsed = new Map<string, string>();

  /** @throws SwitchboardError E_CONFIG_FIELD for a pattern that does not compile */
  constructor(config: SwitchConfig) {
    this.#config = config;
    this.#groups = new Map(
      (config.trunkGroups ?? []).map((g) => [g.name, { trunks: g.trunks, hunt: g.hunt }]),
    );
    this.#signalling = new Map((config.trunks ?? []).map((t) => [t.name, t.signalling]));
    const conditions = new Map((config.timeConditions ?? []).map((c) => [c.name, c]));
    // Longest prefix first, so the first hit is the region of the longest matching prefix.
    this.#regions = (config.regions ?? [])
      .flatMap((r) => r.prefixes.map((prefix) => ({ prefix, region: r.name })))
      .sort((a, b) => b.prefix.length - a.prefix.length);
    this.#extensions = new Map((config.extensions ?? []).map((e) => [e.number, e]));
    this.#blackIn = compileBlacklist(config.blacklists?.inbound, 'inbound');
    this.#blackOut = compileBlacklist(config.blacklists?.outbound, 'outbound');

    this.#inbound = (config.routes?.inbound ?? []).map((route, i) => {
      const path = `routes.inbound[${i}]`;
      const c: CompiledInbound = { route };
      if (route.trunks)
        c.trunks = new Set(route.trunks.flatMap((t) => this.#groups.get(t)?.trunks ?? [t]));
      if (route.called !== undefined)
        c.called = compileAt(`${path}.called`, () => compilePattern(route.called as string));
      if (route.calling !== undefined)
        c.calling = compileAt(`${path}.calling`, () => compilePattern(route.calling as string));
      if (route.regions) c.regions = new Set(route.regions);
      if (route.time) {
        const condition = conditions.get(route.time.condition);
        if (!condition)
          throw new SwitchboardError(
            'E_CONFIG_FIELD',
            `${path}.time.condition: no time condition is named "${route.time.condition}"`,
          );
        c.time = { condition, when: route.time.when };
      }
      c.calledM = compileAt(`${path}.called_manipulation`, () =>
        compileManipulation(route.called_manipulation),
      );
      c.callingM = compileAt(`${path}.calling_manipulation`, () =>
        compileManipulation(route.calling_manipulation),
      );
      return c;
    });

    this.#outbound = (config.routes?.outbound ?? []).map((route, i) => {
      const path = `routes.outbound[${i}]`;
      const c: CompiledOutbound = {
        route,
        called: compileAt(`${path}.called`, () => compilePattern(route.called)),
      };
      if (route.from) c.from = new Set(route.from);
      c.calledM = compileAt(`${path}.called_manipulation`, () =>
        compileManipulation(route.called_manipulation),
      );
      c.callingM = compileAt(`${path}.calling_manipulation`, () =>
        compileManipulation(route.calling_manipulation),
      );
      return c;
    });
  }

  /** The caller's region: the region of the longest prefix of `calling` over all regions. */
  regionOf(calling: string): string | undefined {
    return this.#regions.find((r) => calling.startsWith(r.prefix))?.region;
  }

  /** The extension of that number (config.extensions), for placing the call to its phone. */
  extension(number: string): Extension | undefined {
    return this.#extensions.get(number);
  }

  /** A trunk's signalling (pri_net, fxo_ks ...), undefined for a trunk not configured. */
  signalling(trunk: string): string | undefined {
    return this.#signalling.get(trunk);
  }

  /** Every route condition except the called number: trunk, calling, region, time. */
  #fits(r: CompiledInbound, call: InboundCall, region: string | undefined, now: Date): boolean {
    if (r.trunks && !r.trunks.has(call.trunk)) return false;
    if (r.calling && !r.calling.test(call.calling)) return false;
    if (r.regions && (region === undefined || !r.regions.has(region))) return false;
    if (r.time) {
      const open = isOpen(r.time.condition, now, this.#config.system?.timezone);
      if (open !== (r.time.when === 'open')) return false;
    }
    return true;
  }

  /**
   * Routes a call offered on a trunk: the inbound blacklist on the calling number first, then the
   * first inbound route (in configuration order) whose trunks, called and calling patterns,
   * regions and time condition all fit.
   */
  inbound(call: InboundCall, now: Date): InboundDecision {
    const black = this.#blackIn.find((b) => b.pattern.test(call.calling));
    if (black) return { kind: 'blocked', entry: black.entry };
    const region = this.regionOf(call.calling);
    for (const r of this.#inbound) {
      if (r.called && !r.called.test(call.called)) continue;
      if (!this.#fits(r, call, region, now)) continue;
      return {
        kind: 'route',
        route: r.route,
        destination: r.route.destination,
        called: manipulate(call.called, r.calledM),
        calling: manipulate(call.calling, r.callingM),
        ...(region === undefined ? {} : { region }),
      };
    }
    return { kind: 'none' };
  }

  /**
   * Overlap dialling: could a longer called number still reach a route (of those whose other
   * conditions fit the call)? While it could, the controller waits for more digits. A route
   * without a `called` pattern takes any number at once, so it never asks for more.
   */
  wantsMoreDigits(call: InboundCall, now: Date): boolean {
    const region = this.regionOf(call.calling);
    return this.#inbound.some(
      (r) => r.called?.canExtend(call.called) === true && this.#fits(r, call, region, now),
    );
  }

  /**
   * Plans an outbound call: the outbound blacklist on the requested called number, then the
   * first outbound route whose `called` matches and whose `from` (when the route has one)
   * includes `req.from`; then the numbers, the caller ID and the trunks to hunt, in order.
   * The blacklist sees the number as asked for, before any manipulation. Outbound routes have
   * no time condition yet: `_now` keeps the signature stable for when they do.
   */
  outbound(req: OutboundRequest, trunks: TrunkStateView, _now: Date): OutboundPlan {
    const black = this.#blackOut.find((b) => b.pattern.test(req.called));
    if (black) return { kind: 'blocked', entry: black.entry };
    const r =
      req.route === undefined
        ? this.#outbound.find(
            (o) =>
              o.called.test(req.called) &&
              (!o.from || (req.from !== undefined && o.from.has(req.from))),
          )
        : this.#outbound.find((o) => o.route.name === req.route);
    if (!r) return { kind: 'none' };

    let calling = req.calling === undefined ? undefined : manipulate(req.calling, r.callingM);
    const cid = r.route.callerId;
    if (cid?.number !== undefined) calling = cid.number;
    if (cid?.mask !== undefined && calling !== undefined) calling = applyMask(calling, cid.mask);
    const presentation = cid?.presentation ?? req.presentation;

    const { candidates, skipped } = this.#hunt(r.route.trunkGroups, trunks);
    return {
      kind: 'route',
      route: r.route,
      called: manipulate(req.called, r.calledM),
      ...(calling === undefined ? {} : { calling }),
      ...(presentation === undefined ? {} : { presentation }),
      candidates,
      skipped,
    };
  }

  /** A group's trunks in the order its hunt method tries them. */
  #order(name: string, group: { trunks: string[]; hunt: HuntMethod }, view: TrunkStateView) {
    if (group.hunt === 'round_robin') {
      const last = this.#lastUsed.get(name);
      const at = last === undefined ? -1 : group.trunks.indexOf(last);
      return [...group.trunks.slice(at + 1), ...group.trunks.slice(0, at + 1)];
    }
    if (group.hunt === 'least_used') {
      // Array.prototype.sort is stable: equal counts keep configuration order.
      const used = (t: string) => view.get(t)?.callsUp ?? Number.POSITIVE_INFINITY;
      return [...group.trunks].sort((a, b) => used(a) - used(b));
    }
    return group.trunks;
  }

  #hunt(groups: string[], view: TrunkStateView) {
    const candidates: Candidate[] = [];
    const skipped: SkippedTrunk[] = [];
    const seen = new Set<string>();
    for (const name of groups) {
      const group = this.#groups.get(name);
      if (!group) continue;
      for (const trunk of this.#order(name, group, view)) {
        // A trunk in two groups of one route is tried once, where it comes first.
        if (seen.has(trunk)) continue;
        seen.add(trunk);
        const s = view.get(trunk);
        if (!s) skipped.push({ trunk, group: name, reason: 'unknown' });
        else if (!s.up)
          skipped.push({
            trunk,
            group: name,
            reason: 'down',
            ...(s.why === undefined ? {} : { why: s.why }),
          });
        else if (s.freeChannels <= 0) skipped.push({ trunk, group: name, reason: 'busy' });
        else candidates.push({ trunk, group: name });
      }
    }
    return { candidates, skipped };
  }

  /** Round robin: the call went out on `trunk` of `group`; the group's next hunt starts after it. */
  noteUsed(group: string, trunk: string): void {
    this.#lastUsed.set(group, trunk);
  }
}
