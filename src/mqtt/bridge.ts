// SPDX-License-Identifier: GPL-2.0-or-later
// MQTT to the NOC: the live feed (spans, timeslots, calls, CDRs) and health published, requests answered, through an outbox.

import { release } from 'node:os';
import type { Logger } from 'pino';
import { auditWriter, type TokenIdentity, tokenChecker } from '../api/auth.ts';
import type { CallRecord } from '../cdr/record.ts';
import type { CallEvent, ChannelStatus, SpanStatus } from '../controller/live.ts';
import type { Db } from '../store/db.ts';
import type { Health } from '../system/health.ts';
import { EmbeddedBroker } from './broker.ts';
import { type CommandPort, runRequest } from './commands.ts';
import { type MqttConfig, type MqttSettings, mqttSettings } from './config.ts';
import { NocClient } from './noc.ts';
import { OUTBOX_KINDS, Outbox, type OutboxKind } from './outbox.ts';
import type { BridgeInfo, OutboxStats } from './schemas.ts';
import { TOPICS, TopicTree } from './topics.ts';
import { type IncomingRequest, RefusedPublish, type Transport } from './transport.ts';

/** The parts of the live feed the bridge listens to. */
export interface LiveSource {
  on(event: 'span', listener: (s: SpanStatus) => void): () => void;
  on(event: 'channel', listener: (c: ChannelStatus) => void): () => void;
  on(event: 'call', listener: (e: CallEvent) => void): () => void;
  on(event: 'cdr', listener: (r: CallRecord) => void): () => void;
  spans(): SpanStatus[];
}

/** What bridge/info says about the switch beyond the bridge itself. */
export interface SwitchDescription {
  name: string | null;
  bootId: string;
  startedAt: string;
  spans: BridgeInfo['board']['spans'];
  /** The board model id. */
  model: string;
  /** Where DAHDI's spans differ from the model (GET /api/board's mismatches). */
  mismatches: string[];
  /** What the box runs: its release (firmware version, build, update compatibility). */
  firmware: { version: string; build: string; compatible: string };
}

export interface MqttBridgeOptions {
  live: LiveSource;
  /** The controller's database: API tokens and the audit log. */
  db: Db;
  /** Where the outbox lives (the same database file; default `db`). */
  outboxDb?: Db;
  commands: CommandPort;
  describe: () => SwitchDescription;
  /** The box's health for bridge/health. */
  health?: () => Promise<Health>;
  /** The box's serial number and host name (the default node id). */
  identity: { serial?: string; hostname: string };
  log: Logger;
  /** Messages handed to the broker at once and not yet acknowledged; default 64. */
  window?: number;
}

/** Per-message counters since the bridge was made (GET /metrics). */
export interface BridgeCounters {
  published: Record<OutboxKind | 'span' | 'state' | 'health' | 'response', number>;
  requests: number;
}

const BATCH = 256;

/**
 * The MQTT adapter of the controller (start/stop/reconfigure). With no broker configured it runs
 * the embedded broker and publishes into it in-process; with one, it is an MQTT 5 client of the
 * NOC broker. Channel events, call events and call records go through the outbox (SQLite): each
 * gets an id, is published QoS 1 in id order and leaves the outbox once the broker has
 * acknowledged it, so an outage loses nothing; duplicates arise only when an acknowledgement is
 * lost with the connection (de-duplicate by id). Retained topics (bridge/state, bridge/info,
 * span/<n>) are published while connected and all republished on every (re)connect; health
 * every healthSeconds while connected.
 */
export class MqttBridge {
  readonly #opts: MqttBridgeOptions;
  readonly #log: Logger;
  readonly #checkToken: (token: string) => TokenIdentity | undefined;
  readonly #audit: ReturnType<typeof auditWriter>;
  readonly #window: number;
  #settings?: MqttSettings;
  #topics?: TopicTree;
  #transport?: Transport;
  #outbox?: Outbox;
  #unsubscribe: (() => void)[] = [];
  #healthTimer?: NodeJS.Timeout;
  /** Bumped at every start and stop: callbacks of an older session are ignored. */
  #generation = 0;
  #loadedTo = 0;
  #buffer: { id: number; kind: OutboxKind; topic: string; payload: string }[] = [];
  #inflight = new Set<number>();
  #rewindTo?: number;
  #pumping = false;
  readonly #refusals = new Map<string, { at: number; more: number }>();
  #pumpAgain = false;
  readonly dropped: Record<OutboxKind, number> = { channel: 0, call: 0, cdr: 0 };
  refused = 0;
  readonly counters: BridgeCounters = {
    published: { channel: 0, call: 0, cdr: 0, span: 0, state: 0, health: 0, response: 0 },
    requests: 0,
  };

  constructor(opts: MqttBridgeOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#checkToken = tokenChecker(opts.db);
    this.#audit = auditWriter(opts.db);
    this.#window = opts.window ?? 64;
  }

  /** The settings running (defaults filled in), or undefined when stopped or disabled. */
  get settings(): MqttSettings | undefined {
    return this.#settings;
  }

  get topics(): TopicTree | undefined {
    return this.#topics;
  }

  /** Whether messages reach the broker now. */
  get connected(): boolean {
    return this.#transport?.connected === true;
  }

  /** The embedded broker's TCP port, when it runs. */
  get brokerPort(): number | undefined {
    return this.#transport instanceof EmbeddedBroker ? this.#transport.port : undefined;
  }

  stats(): OutboxStats {
    return {
      pending: this.#outbox?.size ?? 0,
      maxMessages: this.#settings?.outbox.maxMessages ?? 0,
      dropped: { ...this.dropped },
      refused: this.refused,
    };
  }

  /**
   * Starts with the `mqtt` section of the configuration. A broker that cannot be reached is not
   * an error (the outbox keeps everything until it can); an embedded broker that cannot listen
   * is (E_MQTT), and so is a file that cannot be read: the switch runs on either way.
   */
  async start(config: MqttConfig | undefined): Promise<void> {
    await this.stop();
    const generation = ++this.#generation;
    const id = this.#opts.identity;
    const s = mqttSettings(config, id.serial ?? id.hostname);
    if (!s.enabled) {
      this.#log.info('MQTT is off (mqtt.enabled: false): no broker, no NOC connection');
      return;
    }
    this.#settings = s;
    const topics = new TopicTree(s.baseTopic, s.nodeId);
    this.#topics = topics;
    this.#outbox = new Outbox({
      db: this.#opts.outboxDb ?? this.#opts.db,
      maxMessages: s.outbox.maxMessages,
      onDrop: (d) => {
        for (const k of OUTBOX_KINDS) this.dropped[k] += d[k];
        this.#log.warn(
          { dropped: d, maxMessages: s.outbox.maxMessages },
          'MQTT outbox full (the broker has been unreachable a long time): the oldest channel events are dropped first, then call events, then call records',
        );
      },
    });
    this.#outbox.onWritten = () => this.#pump();
    this.#outbox.onError = (err) =>
      this.#log.error({ err }, 'MQTT outbox cannot be written: retrying in 1 s');
    this.#loadedTo = 0;
    this.#buffer = [];
    this.#inflight.clear();
    this.#rewindTo = undefined;

    /** Failed tries to reach the NOC broker since the last connection (for the log). */
    let failures = 0;
    const events = {
      connected: () => {
        failures = 0;
        if (generation === this.#generation) this.#onConnected();
      },
      disconnected: (reason: string) => {
        if (generation !== this.#generation) return;
        this.#log.warn(
          { broker: s.broker?.url, reason, waiting: this.#outbox?.size ?? 0 },
          `MQTT: lost the NOC broker (${reason}); events wait in the outbox until it is back`,
        );
      },
      request: (req: IncomingRequest) => {
        if (generation === this.#generation) this.#onRequest(req);
      },
    };
    if (s.broker === undefined) {
      this.#transport = new EmbeddedBroker({
        port: s.embedded.port,
        host: s.embedded.host,
        topics,
        checkToken: (token) => {
          const who = this.#checkToken(token);
          return who && { user: who.user, role: who.role, tokenId: who.tokenId };
        },
        events,
        onRefused: (what, client) => this.#logRefusal(what, client),
      });
    } else {
      this.#transport = new NocClient({
        settings: s,
        stateTopic: topics.full(TOPICS.state),
        requestTopics: topics.requests,
        events,
        onFailure: (reason, retryInS) => {
          if (generation !== this.#generation) return;
          failures++;
          // The first failure and every tenth after it: a long outage does not flood the log.
          if (failures === 1 || failures % 10 === 0)
            this.#log.warn(
              { broker: s.broker?.url, reason, retryInS, waiting: this.#outbox?.size ?? 0 },
              `MQTT: cannot reach the NOC broker ${s.broker?.url} (${reason}); trying again in ${retryInS} s`,
            );
        },
      });
    }
    this.#subscribeLive(s);
    try {
      await this.#transport.start();
    } catch (err) {
      const transport = this.#transport;
      this.#transport = undefined;
      await transport.stop().catch(() => undefined);
      this.#unsubscribeLive();
      this.#outbox.close();
      this.#outbox = undefined;
      this.#settings = undefined;
      throw err;
    }
    if (this.#transport instanceof EmbeddedBroker)
      this.#log.info(
        { port: this.#transport.port, host: s.embedded.host, node: s.nodeId, base: s.baseTopic },
        `MQTT: embedded broker listening on ${s.embedded.host}:${this.#transport.port}; clients log in with an API token as password; topics under ${topics.prefix}`,
      );
    else
      this.#log.info(
        { broker: s.broker?.url, node: s.nodeId, base: s.baseTopic, clientId: s.clientId },
        `MQTT: connecting to the NOC broker ${s.broker?.url} as ${s.clientId}; topics under ${topics.prefix}`,
      );
    const healthMs = s.healthSeconds * 1000;
    this.#healthTimer = setInterval(() => void this.#publishHealth(generation), healthMs);
    this.#healthTimer.unref();
  }

  /** Applies a changed `mqtt` section: stops and starts again (the outbox carries over). */
  async reconfigure(config: MqttConfig | undefined): Promise<void> {
    await this.start(config);
  }

  /**
   * Waits until the outbox is empty and nothing is in flight, at most `ms` (while connected);
   * true when it emptied.
   */
  async drain(ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    for (;;) {
      try {
        this.#outbox?.flush();
      } catch {
        return false;
      }
      if ((this.#outbox?.size ?? 0) === 0 && this.#inflight.size === 0) return true;
      if (!this.connected || Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * Publishes bridge/state "offline" (retained) and disconnects; the embedded broker closes.
   * Messages not yet acknowledged stay in the outbox for the next start.
   */
  async stop(): Promise<void> {
    this.#generation++;
    if (this.#healthTimer) clearInterval(this.#healthTimer);
    this.#healthTimer = undefined;
    this.#unsubscribeLive();
    const transport = this.#transport;
    const topics = this.#topics;
    this.#transport = undefined;
    if (transport && topics) {
      try {
        await transport.stop({
          topic: topics.full(TOPICS.state),
          payload: JSON.stringify({ state: 'offline' }),
        });
      } catch (err) {
        this.#log.warn({ err }, 'MQTT: stopping the connection failed');
      }
      this.#log.info(
        { waiting: this.#outbox?.size ?? 0 },
        transport.kind === 'embedded'
          ? 'MQTT: embedded broker stopped'
          : 'MQTT: disconnected from the NOC broker',
      );
    }
    this.#outbox?.close();
    this.#outbox = undefined;
    this.#settings = undefined;
    this.#inflight.clear();
    this.#buffer = [];
  }

  /** The broker's refusals, each kind logged at most once a minute (a client retrying in a loop). */
  #logRefusal(what: string, client: string): void {
    const now = Date.now();
    const seen = this.#refusals.get(what);
    if (seen && now - seen.at < 60_000) {
      seen.more++;
      return;
    }
    this.#refusals.set(what, { at: now, more: 0 });
    this.#log.warn(
      { client, ...(seen?.more ? { sameSinceLastLine: seen.more } : {}) },
      `MQTT broker refused ${what}`,
    );
  }

  #subscribeLive(s: MqttSettings): void {
    const live = this.#opts.live;
    const outbox = this.#outbox as Outbox;
    this.#unsubscribe = [
      live.on('span', (span) => this.#publishSpan(span)),
      live.on('channel', (c) =>
        outbox.add('channel', TOPICS.channel(c.span, c.channel), {
          at: new Date().toISOString(),
          ...c,
        }),
      ),
      live.on('call', (e) => outbox.add('call', TOPICS.callEvent, e)),
      ...(s.cdr ? [live.on('cdr', (r) => outbox.add('cdr', TOPICS.cdr, { cdr: r }))] : []),
    ];
  }

  #unsubscribeLive(): void {
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
  }

  /** Publishes outside the outbox (retained state, health, responses): lost when not connected. */
  #direct(
    kind: keyof BridgeCounters['published'],
    relative: string,
    body: unknown,
    opts: { qos: 0 | 1; retain?: boolean; correlationData?: Buffer },
  ): void {
    const transport = this.#transport;
    const topics = this.#topics;
    if (!transport?.connected || !topics) return;
    transport.publish(topics.full(relative), JSON.stringify(body), opts, (err) => {
      if (!err) this.counters.published[kind]++;
      else if (err instanceof RefusedPublish)
        this.#log.warn({ topic: relative, reasonCode: err.reasonCode }, err.message);
    });
  }

  #publishSpan(span: SpanStatus): void {
    this.#direct(
      'span',
      TOPICS.span(span.span),
      { at: new Date().toISOString(), ...span },
      {
        qos: 1,
        retain: true,
      },
    );
  }

  #info(): BridgeInfo {
    const s = this.#settings as MqttSettings;
    const d = this.#opts.describe();
    const id = this.#opts.identity;
    return {
      nodeId: s.nodeId,
      name: d.name,
      serial: id.serial ?? null,
      hostname: id.hostname,
      bootId: d.bootId,
      startedAt: d.startedAt,
      versions: {
        firmware: d.firmware.version,
        build: d.firmware.build,
        compatible: d.firmware.compatible,
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        kernel: release(),
      },
      board: { model: d.model, spans: d.spans, mismatches: d.mismatches },
      broker: s.broker === undefined ? 'embedded' : 'noc',
      cdr: s.cdr,
    };
  }

  #onConnected(): void {
    const s = this.#settings;
    if (!s) return;
    if (this.#transport?.kind === 'noc')
      this.#log.info(
        { broker: s.broker?.url, waiting: this.#outbox?.size ?? 0 },
        `MQTT: connected to the NOC broker ${s.broker?.url} as node ${s.nodeId}`,
      );
    this.#direct('state', TOPICS.state, { state: 'online' }, { qos: 1, retain: true });
    try {
      this.#direct('state', TOPICS.info, this.#info(), { qos: 1, retain: true });
    } catch (err) {
      this.#log.warn({ err }, 'MQTT: bridge/info cannot be put together');
    }
    for (const span of this.#opts.live.spans()) this.#publishSpan(span);
    void this.#publishHealth(this.#generation);
    this.#pump();
  }

  async #publishHealth(generation: number): Promise<void> {
    const health = this.#opts.health;
    if (!health || !this.connected) return;
    try {
      const h = await health();
      if (generation !== this.#generation) return;
      this.#direct('health', TOPICS.health, { ...h, outbox: this.stats() }, { qos: 0 });
    } catch (err) {
      this.#log.warn({ err }, 'MQTT: the health reading failed');
    }
  }

  /** Hands outbox messages to the broker in id order, at most `window` unacknowledged at once. */
  #pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#pumpOnce();
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
  }

  #pumpOnce(): void {
    const transport = this.#transport;
    const outbox = this.#outbox;
    const topics = this.#topics;
    if (!transport?.connected || !outbox || !topics) return;
    const generation = this.#generation;
    while (this.#inflight.size < this.#window) {
      if (this.#buffer.length === 0) {
        this.#buffer = outbox.next(this.#loadedTo, BATCH);
        const last = this.#buffer.at(-1);
        if (last === undefined) return;
        this.#loadedTo = last.id;
      }
      const m = this.#buffer.shift();
      if (m === undefined) return;
      this.#inflight.add(m.id);
      transport.publish(topics.full(m.topic), m.payload, { qos: 1 }, (err) => {
        if (generation !== this.#generation) return;
        this.#inflight.delete(m.id);
        if (!err) {
          outbox.ack(m.id);
          this.counters.published[m.kind]++;
        } else if (err instanceof RefusedPublish) {
          // It would be refused again: it leaves the outbox, counted.
          outbox.ack(m.id);
          this.refused++;
          this.#log.warn({ id: m.id, topic: m.topic, reasonCode: err.reasonCode }, err.message);
        } else {
          // Not known to have arrived: sent again once the messages in flight are settled.
          this.#rewindTo = Math.min(this.#rewindTo ?? m.id, m.id);
        }
        if (this.#inflight.size === 0 && this.#rewindTo !== undefined) {
          this.#loadedTo = this.#rewindTo - 1;
          this.#buffer = [];
          this.#rewindTo = undefined;
        }
        this.#pump();
      });
    }
  }

  #onRequest(req: IncomingRequest): void {
    const topics = this.#topics;
    if (!topics) return;
    const command = topics.requestCommand(req.topic);
    if (command === undefined) return;
    this.counters.requests++;
    const response = runRequest(command, req.payload, {
      topic: req.topic,
      ...(req.userProperties ? { userProperties: req.userProperties } : {}),
      checkToken: this.#checkToken,
      port: this.#opts.commands,
      audit: this.#audit,
      onInternalError: (err) => this.#log.error({ err, command }, 'MQTT request failed inside'),
    });
    const log = { command, transaction: response.transaction, status: response.status };
    if (response.error)
      this.#log.info(
        { ...log, code: response.error.code },
        `MQTT request ${command} refused: ${response.error.message}`,
      );
    else this.#log.info(log, `MQTT request ${command} done`);
    this.#direct('response', TOPICS.response(command), response, {
      qos: 1,
      ...(req.correlationData ? { correlationData: req.correlationData } : {}),
    });
  }
}
