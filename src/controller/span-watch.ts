// SPDX-License-Identifier: GPL-2.0-or-later
// Watches DAHDI spans: logs each span once, then every alarm change, span arrival and departure.

import type { Logger } from 'pino';
import { isSwitchboardError, type SwitchboardError } from '../core/errors.ts';
import type { DahdiSpan } from '../native/addon.ts';

export type SpanEvent =
  | { kind: 'added'; span: DahdiSpan }
  | { kind: 'removed'; span: DahdiSpan }
  | { kind: 'alarms'; span: DahdiSpan; previous: string[] };

function sameAlarms(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** What changed between two snapshots (alarms only; counters move all the time). */
export function diffSpans(before: readonly DahdiSpan[], after: readonly DahdiSpan[]): SpanEvent[] {
  const old = new Map(before.map((s) => [s.span, s]));
  const events: SpanEvent[] = [];
  for (const span of after) {
    const prev = old.get(span.span);
    old.delete(span.span);
    if (!prev) events.push({ kind: 'added', span });
    else if (!sameAlarms(prev.alarms, span.alarms))
      events.push({ kind: 'alarms', span, previous: prev.alarms });
  }
  for (const span of old.values()) events.push({ kind: 'removed', span });
  return events;
}

/** The span fields worth a log line. */
function spanFields(s: DahdiSpan) {
  return {
    span: s.span,
    name: s.name,
    type: s.type,
    alarms: s.alarms,
    state: s.alarms.length === 0 ? 'OK' : s.alarms.join('+'),
    numchans: s.numchans,
    totalchans: s.totalchans,
    framing: s.lineconfig.framing,
    coding: s.lineconfig.coding,
    crc4: s.lineconfig.crc4,
    syncsrc: s.syncsrc,
  };
}

/** Why DAHDI cannot be reached, and what to do about it. */
export function explainDahdiError(err: SwitchboardError, env = process.env): string {
  if (err.code !== 'E_DAHDI_OPEN') return err.message;
  const preload = (env.LD_PRELOAD ?? '').includes('libdahdisim');
  return preload
    ? `${err.message}: the simulator preload is active but no simulator answers in ${env.SWITCHBOARD_SIM_DIR ?? '/run/switchboard-sim'}; start one with \`switchboard sim up\``
    : `${err.message}: no DAHDI driver is loaded and the simulator preload is not active; run \`switchboard start\` (simulator and controller together), or start a simulator with \`switchboard sim up\` and run the controller under it with \`switchboard sim run -- node --import tsx src/controller/main.ts\``;
}

/**
 * Polls a spans() function. Logs every span at the first successful poll, then changes only.
 * A DAHDI that cannot be reached is logged once per distinct error, and polling goes on: the
 * driver or the simulator may come up later.
 */
export class SpanWatcher {
  private last: DahdiSpan[] | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly spans: () => DahdiSpan[],
    private readonly log: Logger,
  ) {}

  /** One poll; returns the snapshot, or undefined when DAHDI could not be read. */
  poll(): DahdiSpan[] | undefined {
    let now: DahdiSpan[];
    try {
      now = this.spans();
    } catch (err) {
      if (!isSwitchboardError(err)) throw err;
      const key = `${err.code}:${err.message}`;
      if (key !== this.lastError) {
        this.log.error({ code: err.code }, explainDahdiError(err));
        this.lastError = key;
      }
      return undefined;
    }
    if (this.lastError !== undefined && this.last !== undefined)
      this.log.info('DAHDI reachable again');
    this.lastError = undefined;
    if (this.last === undefined) {
      if (now.length === 0) this.log.warn('DAHDI answers but has no spans');
      for (const s of now) this.log.info(spanFields(s), 'span');
    } else {
      for (const e of diffSpans(this.last, now)) {
        if (e.kind === 'alarms')
          this.log.info({ ...spanFields(e.span), previous: e.previous }, 'span alarms changed');
        else if (e.kind === 'added') this.log.info(spanFields(e.span), 'span appeared');
        else this.log.warn(spanFields(e.span), 'span disappeared');
      }
    }
    this.last = now;
    return now;
  }
}
