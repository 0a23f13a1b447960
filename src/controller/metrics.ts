// SPDX-License-Identifier: GPL-2.0-or-later
// Prometheus metrics of the switch (prom-client): span alarms, error counters, channels, calls, setup time, MQTT.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { BridgeCounters } from '../mqtt/bridge.ts';
import type { OutboxKind } from '../mqtt/outbox.ts';
import type { OutboxStats } from '../mqtt/schemas.ts';
import type { CallEvent, SpanStatus } from './live.ts';

/** DAHDI's alarm names, reported 0 or 1 for every span (others appear when a span has them). */
export const SPAN_ALARMS = [
  'RED',
  'YELLOW',
  'BLUE',
  'LOS',
  'LFA',
  'LMFA',
  'RECOVER',
  'LOOPBACK',
  'NOTOPEN',
];

/** Setup-time buckets, seconds: ISDN answers in a second or two, people after some rings. */
const SETUP_BUCKETS = [0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60, 90, 120];

export interface MetricsSources {
  /** Every span as the live feed last read it. */
  spans: () => SpanStatus[];
  /** Trunks with their protocol error counts (engine snapshot). */
  trunks?: () => { name: string; protocolErrors: number }[];
  /** Calls up now. */
  callsUp?: () => number;
  /** Call events (start, answer, end) to count calls and time their setup. */
  calls?: { on(event: 'call', listener: (e: CallEvent) => void): unknown };
  /** The MQTT bridge, when one runs. */
  mqtt?: () => { connected: boolean; stats: OutboxStats; counters: BridgeCounters } | undefined;
  /** Also the Node.js process metrics (CPU, memory, event loop); default true. */
  processMetrics?: boolean;
}

/**
 * The switch's metrics on a registry of its own. Span, channel, trunk and MQTT figures are read
 * when scraped; calls are counted as they end and their setup time (start to answer) observed as
 * they are answered.
 */
export class SwitchMetrics {
  readonly registry = new Registry();
  readonly #starts = new Map<string, number>();

  constructor(src: MetricsSources) {
    const registers = [this.registry];
    if (src.processMetrics !== false) collectDefaultMetrics({ register: this.registry });

    const up = new Gauge({
      name: 'switchboard_span_up',
      help: 'span without any alarm (1) or in alarm (0)',
      labelNames: ['span', 'name'],
      registers,
      collect() {
        up.reset();
        for (const s of src.spans())
          up.set({ span: s.span, name: s.name }, s.alarms.length === 0 ? 1 : 0);
      },
    });
    const alarm = new Gauge({
      name: 'switchboard_span_alarm',
      help: 'span alarm raised (1) or clear (0), by DAHDI alarm name (RED: LOS/LOF, YELLOW: RAI, BLUE: AIS)',
      labelNames: ['span', 'alarm'],
      registers,
      collect() {
        alarm.reset();
        for (const s of src.spans()) {
          for (const a of SPAN_ALARMS)
            alarm.set({ span: s.span, alarm: a }, s.alarms.includes(a) ? 1 : 0);
          for (const a of s.alarms)
            if (!SPAN_ALARMS.includes(a)) alarm.set({ span: s.span, alarm: a }, 1);
        }
      },
    });
    const errors = new Counter({
      name: 'switchboard_span_errors_total',
      help: 'span error counters as DAHDI counts them (bpv, crc4, ebit, fas, fe, cv, be, errsec); they restart when the span is configured again',
      labelNames: ['span', 'counter'],
      registers,
      collect() {
        errors.reset();
        for (const s of src.spans())
          for (const [counter, value] of Object.entries(s.counters))
            if (Number.isFinite(value) && value >= 0) errors.inc({ span: s.span, counter }, value);
      },
    });
    const channels = new Gauge({
      name: 'switchboard_channels',
      help: 'timeslots (and analog ports) by state: idle, seized, ringing, talking, blocked, alarm, reset, unconfigured',
      labelNames: ['span', 'state'],
      registers,
      collect() {
        channels.reset();
        for (const s of src.spans())
          for (const [state, n] of Object.entries(s.channels))
            channels.set({ span: s.span, state }, n);
      },
    });
    const links = new Gauge({
      name: 'switchboard_link_up',
      help: 'signalling link up (1) or not (0): PRI D-channel, SS7 MTP2 link, MFC-R2 or analog trunk',
      labelNames: ['span', 'trunk', 'kind'],
      registers,
      collect() {
        links.reset();
        for (const s of src.spans())
          for (const l of s.links)
            links.set({ span: s.span, trunk: l.trunk, kind: l.kind }, l.state === 'up' ? 1 : 0);
      },
    });
    if (src.trunks) {
      const trunks = src.trunks;
      const protocol = new Counter({
        name: 'switchboard_trunk_protocol_errors_total',
        help: 'malformed or unexpected signalling messages received, by trunk',
        labelNames: ['trunk'],
        registers,
        collect() {
          protocol.reset();
          for (const t of trunks()) protocol.inc({ trunk: t.name }, t.protocolErrors);
        },
      });
    }
    if (src.callsUp) {
      const callsUp = src.callsUp;
      const gauge = new Gauge({
        name: 'switchboard_calls_up',
        help: 'calls up now',
        registers,
        collect() {
          gauge.set(callsUp());
        },
      });
    }
    const calls = new Counter({
      name: 'switchboard_calls_total',
      help: 'call attempts ended, by direction, result (disposition) and Q.850 cause',
      labelNames: ['direction', 'result', 'cause', 'cause_name'],
      registers,
    });
    const setup = new Histogram({
      name: 'switchboard_call_setup_seconds',
      help: 'time from a call starting (offered or placed) to its answer, seconds',
      labelNames: ['direction'],
      buckets: SETUP_BUCKETS,
      registers,
    });
    src.calls?.on('call', (e) => {
      if (e.event === 'start') {
        // A call that never ends (lost by a crash elsewhere) must not grow the map for ever.
        if (this.#starts.size >= 10000) this.#starts.clear();
        this.#starts.set(e.call, Date.parse(e.at));
      } else if (e.event === 'answer') {
        const start = this.#starts.get(e.call);
        if (start !== undefined)
          setup.observe({ direction: e.direction }, Math.max(0, Date.parse(e.at) - start) / 1000);
      } else {
        this.#starts.delete(e.call);
        calls.inc({
          direction: e.direction,
          result: e.disposition ?? 'unknown',
          cause: String(e.cause ?? 0),
          cause_name: e.causeName ?? 'UNKNOWN',
        });
      }
    });
    if (src.mqtt) {
      const mqtt = src.mqtt;
      const connected = new Gauge({
        name: 'switchboard_mqtt_connected',
        help: 'the MQTT bridge reaches its broker (1) or not (0; also when MQTT is off)',
        registers,
        collect() {
          connected.set(mqtt()?.connected ? 1 : 0);
        },
      });
      const pending = new Gauge({
        name: 'switchboard_mqtt_outbox_messages',
        help: 'channel events, call events and call records waiting in the outbox for the broker',
        registers,
        collect() {
          pending.set(mqtt()?.stats.pending ?? 0);
        },
      });
      const dropped = new Counter({
        name: 'switchboard_mqtt_outbox_dropped_total',
        help: 'messages dropped from a full outbox (oldest channel events first), by kind',
        labelNames: ['kind'],
        registers,
        collect() {
          dropped.reset();
          const d = mqtt()?.stats.dropped;
          if (d) for (const [kind, n] of Object.entries(d)) dropped.inc({ kind }, n);
        },
      });
      const published = new Counter({
        name: 'switchboard_mqtt_published_total',
        help: 'MQTT messages the broker took, by kind (channel, call, cdr, span, state, health, response)',
        labelNames: ['kind'],
        registers,
        collect() {
          published.reset();
          const p = mqtt()?.counters.published;
          if (p)
            for (const [kind, n] of Object.entries(p))
              published.inc({ kind: kind as OutboxKind }, n);
        },
      });
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
