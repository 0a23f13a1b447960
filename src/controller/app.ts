// SPDX-License-Identifier: GPL-2.0-or-later
// The controller: store, engine, routing, call records and the API, wired together and applied as one.

import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { asteriskPlugin } from '../api/asterisk.ts';
import { setupNeeded } from '../api/auth.ts';
import { type BoardView, boardPlugin } from '../api/board.ts';
import { type CallPort, callsPlugin } from '../api/calls.ts';
import { campaignsPlugin } from '../api/campaigns.ts';
import cdrPlugin from '../api/cdr.ts';
import configPlugin, { type ApplyResult } from '../api/config.ts';
import { factoryResetPlugin } from '../api/factory-reset.ts';
import { type FirmwarePort, firmwarePlugin } from '../api/firmware.ts';
import { flowsPlugin } from '../api/flows.ts';
import { healthPlugin } from '../api/health.ts';
import { type LiveSource, livePlugin } from '../api/live.ts';
import { type MetricsPort, metricsPlugin } from '../api/metrics.ts';
import { type ApiPlugin, apiPlugin, buildApi, listen, PACKAGE } from '../api/server.ts';
import { systemPlugin } from '../api/system.ts';
import { type TrunkPort, trunksPlugin } from '../api/trunks.ts';
import { webPlugin } from '../api/web.ts';
import { BoardController, type BoardTimers } from '../board/controller.ts';
import {
  type BoardModel,
  DEFAULT_BOARD_MODEL,
  loadBoardModel,
  modelMismatch,
  modelSpans,
} from '../board/model.ts';
import { CAUSES } from '../calls/cause.ts';
import { type CallControl, CallManager } from '../calls/manager.ts';
import { CdrStore } from '../cdr/store.ts';
import type { SwitchConfig } from '../config/schema.ts';
import { configFromYaml } from '../config/yaml.ts';
import { isSwitchboardError, SwitchboardError } from '../core/errors.ts';
import { Dialer } from '../dialer/dialer.ts';
import { DialerStore } from '../dialer/store.ts';
import { ivrApp } from '../ivr/app.ts';
import type { QueueOutcome, TransferOutcome } from '../ivr/runtime.ts';
import { flowServices } from '../ivr/services.ts';
import { FlowStore } from '../ivr/store.ts';
import type { FlowContext } from '../ivr/validate.ts';
import { MqttBridge } from '../mqtt/bridge.ts';
import { mqttFileErrors } from '../mqtt/files.ts';
import { boxIdentity } from '../mqtt/identity.ts';
import { type Addon, loadAddon } from '../native/addon.ts';
import { Engine, type EngineEvent } from '../native/engine.ts';
import { Router } from '../routing/router.ts';
import { readConfigText } from '../runtime/config-file.ts';
import { logRing } from '../runtime/log.ts';
import type { LogRing } from '../runtime/log-ring.ts';
import { applyStagedRestore, DB_FILE } from '../store/backup.ts';
import { type CommitMeta, ConfigStore } from '../store/config-store.ts';
import { type Db, openDb } from '../store/db.ts';
import { type Health, readHealth } from '../system/health.ts';
import { type Release, readRelease } from '../system/release.ts';
import { applySwitchConfig } from '../trunks/apply.ts';
import type { BoardLayout } from '../trunks/system-conf.ts';
import { dataRootFor } from '../update/factory-reset.ts';
import { UpdateManager } from '../update/manager.ts';
import { type BootTools, raucTools, toolPaths } from '../update/tools.ts';
import { AgentDesk } from './agents.ts';
import { boardFromSpans } from './board.ts';
import { SwitchDialerPort } from './dialer-port.ts';
import { LiveFeed } from './live.ts';
import { SwitchMetrics } from './metrics.ts';
import { PromptLibrary } from './prompts.ts';
import { installSeed } from './seed.ts';
import { SpanWatcher } from './span-watch.ts';
import { snapshotView } from './trunk-state.ts';

export interface ControllerOptions {
  /** Where the database lives (DIR/switchboard.db). */
  dataDir: string;
  /** Where system.conf is written for dahdi_cfg (the simulator's directory on a simulated board). */
  dahdiDir: string;
  /** dahdi_cfg's environment (the simulator preload on a simulated board). */
  dahdiEnv?: NodeJS.ProcessEnv;
  /** The board, when known better than DAHDI's span list says (a simulated board knows its port kinds). */
  board?: BoardLayout;
  /** YAML configuration applied when the store has none yet (a fresh box). */
  initialConfig?: string;
  /**
   * A directory of IVR flows (`flows/*.yaml`) and campaigns (`campaigns/*.yaml`) installed when
   * the store has none of those names (the demo of `switchboard start`).
   */
  seedDir?: string;
  /** API port (1-65535, 0: any free port); default 8080. */
  port?: number;
  /** API address; default 0.0.0.0. */
  host?: string;
  log: Logger;
  /** How often spans are read for alarm changes, ms; default 1000. */
  spanPollMs?: number;
  /** How often the live view (spans, timeslots) is read for changes, ms; default 250. */
  livePollMs?: number;
  /** The board model (board/models/<id>.yaml); default sim-demo. */
  boardModel?: BoardModel;
  /**
   * The board MCU's serial device; default the model's controller.device. With neither, no
   * board controller runs (front panel, watchdog and bypass relay are not driven).
   */
  boardSerial?: string;
  /** Board controller timers within their ranges (BOARD_TIMERS); tests shorten them. */
  boardTimers?: Partial<BoardTimers>;
  /**
   * Firmware updates: the boot tools (default rauc and systemctl, see toolPaths), the release
   * (default the release file), the largest bundle in bytes (default 1 GiB) and the directory a
   * factory reset clears (default dataRootFor(dataDir)).
   */
  firmware?: { tools?: BootTools; release?: Release; maxBundleBytes?: number; dataRoot?: string };
  /** The built web UI served at /; default web/dist of the repository. */
  webRoot?: string;
  /** The box's serial number (the board knows it); default what the device tree or DMI says. */
  serial?: string;
}

/** What the API plugins of the controller are given. */
export interface ApiDeps {
  db: Db;
  configs: ConfigStore;
  cdrs: CdrStore;
  board: () => BoardLayout;
  apply: (config: SwitchConfig, meta: CommitMeta) => Promise<ApplyResult>;
  trunks: TrunkPort;
  calls: CallPort;
  flows: FlowStore;
  dialer: Dialer;
  dialerStore: DialerStore;
  agents: AgentDesk;
  /** What saved flows are checked against (prompts, time conditions of the running configuration). */
  flowContext: () => FlowContext;
  /** The board model and its MCU's state (GET /api/board). */
  boardView: () => BoardView;
  /** The box's health reading (GET /api/system/health); default readHealth(). */
  health?: () => Promise<Health>;
  /** Firmware updates, reboots and the factory reset. */
  firmware: FirmwarePort;
  /** Spans, timeslots and call events as they change (the UI's WebSocket). */
  live: LiveSource;
  /** Where the store lives (backups and staged restores). */
  dataDir: string;
  /** The controller's recent log lines. */
  logs: LogRing;
  /** system.name of the running configuration. */
  boxName: () => string | undefined;
  /** The built web UI; default web/dist. */
  webRoot?: string;
  /** GET /metrics (Prometheus). */
  metrics: MetricsPort;
}

/** Every API plugin the controller serves, in order (the auth walk test builds the same list). */
export function apiPlugins(d: ApiDeps): ApiPlugin[] {
  return [
    apiPlugin(healthPlugin, {
      db: d.db,
      version: PACKAGE.version,
      ...(d.health ? { health: d.health } : {}),
    }),
    apiPlugin(boardPlugin, { board: d.boardView }),
    apiPlugin(configPlugin, { store: d.configs, board: d.board, apply: d.apply }),
    apiPlugin(asteriskPlugin, { board: d.board }),
    apiPlugin(cdrPlugin, { store: d.cdrs }),
    apiPlugin(trunksPlugin, { port: d.trunks }),
    apiPlugin(callsPlugin, { port: d.calls }),
    apiPlugin(flowsPlugin, { store: d.flows, context: d.flowContext }),
    apiPlugin(campaignsPlugin, { dialer: d.dialer, store: d.dialerStore, agents: d.agents }),
    apiPlugin(firmwarePlugin, { firmware: d.firmware }),
    apiPlugin(factoryResetPlugin, { firmware: d.firmware }),
    apiPlugin(livePlugin, { feed: d.live, calls: () => d.calls.calls() }),
    apiPlugin(systemPlugin, {
      db: d.db,
      dataDir: d.dataDir,
      logs: d.logs,
      boxName: d.boxName,
    }),
    apiPlugin(webPlugin, d.webRoot === undefined ? {} : { root: d.webRoot }),
    apiPlugin(metricsPlugin, { metrics: d.metrics }),
  ];
}

/** The running switch. `Controller.start` brings it up; `stop` takes it down again. */
export class Controller {
  readonly db: Db;
  readonly configs: ConfigStore;
  readonly cdrs: CdrStore;
  readonly engine: Engine;
  readonly calls: CallManager;
  readonly flows: FlowStore;
  readonly prompts: PromptLibrary;
  readonly dialerStore: DialerStore;
  readonly dialer: Dialer;
  readonly agents: AgentDesk;
  /** Spans, timeslots and call events as they change (web UI WebSocket, MQTT). */
  readonly live: LiveFeed;
  readonly firmware: UpdateManager;
  readonly bootId: string;
  readonly boardModel: BoardModel;
  /** The board MCU's controller; undefined when no serial device is configured. */
  boardController?: BoardController;
  /** GET /metrics. */
  readonly metrics: SwitchMetrics;
  /** MQTT to the NOC (the embedded broker, or a client of the NOC broker). */
  readonly mqtt: MqttBridge;
  readonly startedAt = new Date().toISOString();
  api?: FastifyInstance;
  address?: string;
  readonly #opts: ControllerOptions;
  readonly #log: Logger;
  readonly #addon: Addon;
  #running: SwitchConfig;
  #applying: Promise<unknown> = Promise.resolve();
  #spanTimer?: NodeJS.Timeout;
  /** The outbox's own connection to the database (synchronous=NORMAL; see #openOutboxDb). */
  readonly #outboxDb: Db;
  /** Whether bringUp has started MQTT (a configuration applied before that does not restart it). */
  #mqttStarted = false;

  private constructor(opts: ControllerOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.bootId = randomBytes(4).toString('hex');
    this.boardModel = opts.boardModel ?? loadBoardModel(DEFAULT_BOARD_MODEL);
    mkdirSync(opts.dataDir, { recursive: true });
    // A restore uploaded through the API (POST /api/system/restore) takes the store's place now,
    // before anything reads the store.
    const restored = applyStagedRestore(opts.dataDir);
    if (restored)
      opts.log.warn(
        { revision: restored.revision, users: restored.users, callRecords: restored.callRecords },
        'restored the store from an uploaded backup (the one it replaced: switchboard.db.pre-restore)',
      );
    this.db = openDb(join(opts.dataDir, DB_FILE));
    this.configs = new ConfigStore(this.db);
    this.cdrs = new CdrStore(this.db);
    this.flows = new FlowStore(this.db);
    this.prompts = new PromptLibrary(join(opts.dataDir, 'prompts'));
    const release = opts.firmware?.release
      ? { release: opts.firmware.release, file: undefined }
      : readRelease();
    this.firmware = new UpdateManager({
      tools: opts.firmware?.tools ?? raucTools(toolPaths(release.file !== undefined)),
      release: release.release,
      workDir: join(opts.dataDir, 'firmware'),
      dataRoot: opts.firmware?.dataRoot ?? dataRootFor(opts.dataDir),
      ...(opts.firmware?.maxBundleBytes ? { maxBundleBytes: opts.firmware.maxBundleBytes } : {}),
      log: opts.log.child({ subsystem: 'firmware' }),
    });
    this.firmware.discardLeftovers();
    this.#addon = loadAddon();
    this.#running = {};
    this.engine = new Engine((events) => this.#onEvents(events));
    const ivrLog = opts.log.child({ subsystem: 'ivr' });
    const services = flowServices({
      promptRoot: this.prompts.root,
      ttsCacheDir: this.prompts.ttsDir,
      recordingDir: join(opts.dataDir, 'recordings'),
      voicemailDir: join(opts.dataDir, 'voicemail'),
      config: () => this.#running,
      transfer: (call, number) => transferFromFlow(call, number),
      queue: async (call, name): Promise<QueueOutcome> => {
        ivrLog.warn(
          { call: call.id, queue: name },
          'queues (ACD) are not built yet: the transfer to a queue fails',
        );
        return { result: 'failed', cause: CAUSES.NO_ROUTE_DESTINATION };
      },
      logger: ivrLog,
      // Built-in prompts (digits, numbers, dates) are rendered the first time a call needs them.
      resolvePrompts: (names, lang) => this.prompts.resolve(names, lang),
    });
    this.calls = new CallManager({
      apps: new Map([['ivr', ivrApp({ store: this.flows, services, log: ivrLog })]]),
      engine: this.engine,
      router: new Router({}),
      bootId: this.bootId,
      log: opts.log.child({ subsystem: 'calls' }),
      trunkState: snapshotView(() => this.engine.snapshot()),
      // A failed write is logged by the manager; the call itself carries on.
      cdr: (record) => {
        this.cdrs.write(record);
      },
    });
    this.live = new LiveFeed({
      spans: () => this.#addon.spans(),
      snapshot: () => this.engine.snapshot(),
      calls: this.calls,
      ...(opts.livePollMs ? { pollMs: opts.livePollMs } : {}),
    });
    this.#outboxDb = openOutboxDb(join(opts.dataDir, 'switchboard.db'));
    const identity = boxIdentity();
    if (opts.serial !== undefined) identity.serial = opts.serial;
    this.mqtt = new MqttBridge({
      live: this.live,
      db: this.db,
      outboxDb: this.#outboxDb,
      identity,
      log: opts.log.child({ subsystem: 'mqtt' }),
      health: readHealth,
      describe: () => ({
        name: this.#running.system?.name ?? null,
        bootId: this.bootId,
        startedAt: this.startedAt,
        model: this.boardModel.id,
        mismatches: this.#boardMismatches(),
        firmware: {
          version: this.firmware.release.version,
          build: this.firmware.release.build,
          compatible: this.firmware.release.compatible,
        },
        spans: this.#spansOrNone().map((s) => ({
          span: s.span,
          name: s.name,
          type: s.type,
          channels: s.totalchans,
        })),
      }),
      commands: {
        status: () => ({
          firmware: PACKAGE.version,
          bootId: this.bootId,
          startedAt: this.startedAt,
          revision: this.configs.current()?.revision ?? null,
          spans: this.live.spans(),
          calls: this.calls.stats(),
          campaigns: this.dialer.monitor().map((c) => ({
            name: c.name,
            state: c.state,
            callsUp: c.calls.length,
          })),
          mqtt: this.mqtt.stats(),
        }),
        maintenance: (op, args) => {
          this.engine.command({ op, ...args });
        },
        campaign: (name, command) => this.dialer[command](name),
        traceStart: (span, maxBytes) => this.engine.traceStart(span, maxBytes),
        traceStop: (span) => {
          this.engine.traceStop(span);
          const t = this.engine.snapshot().traces.find((x) => x.span === span);
          return t ?? { span, running: false };
        },
      },
    });
    this.metrics = new SwitchMetrics({
      spans: () => this.live.spans(),
      trunks: () => {
        try {
          return this.engine.snapshot().trunks;
        } catch {
          return [];
        }
      },
      callsUp: () => this.calls.calls().length,
      calls: this.live,
      mqtt: () =>
        this.mqtt.settings
          ? {
              connected: this.mqtt.connected,
              stats: this.mqtt.stats(),
              counters: this.mqtt.counters,
            }
          : undefined,
    });
    this.agents = new AgentDesk((ext) =>
      (this.#running.extensions ?? []).some((e) => e.name === ext),
    );
    const dialerLog = opts.log.child({ subsystem: 'dialer' });
    // Opening the store finishes contacts a crash left `dialing` (never dialled again).
    this.dialerStore = new DialerStore(this.db);
    this.dialer = new Dialer({
      store: this.dialerStore,
      agents: this.agents,
      log: dialerLog,
      port: new SwitchDialerPort({
        calls: this.calls,
        flows: this.flows,
        services: { ...services, loadFlow: (name) => this.flows.active(name) },
        trunks: snapshotView(() => this.engine.snapshot()),
        config: () => this.#running,
        agents: this.agents,
        log: dialerLog,
      }),
    });
    if (this.dialerStore.interrupted > 0)
      dialerLog.warn(
        { contacts: this.dialerStore.interrupted },
        'contacts whose call was up when the controller stopped are finished as failed (interrupted), never dialled again',
      );
    this.calls.on('callStarted', (c) =>
      this.#log.info(
        {
          call: c.id,
          direction: c.direction,
          called: c.called,
          calling: c.calling,
          trunk: c.legs[0]?.trunk,
        },
        'call started',
      ),
    );
    this.calls.on('callAnswered', (c) =>
      this.#log.info({ call: c.id, route: c.route, destination: c.destination }, 'call answered'),
    );
    this.calls.on('callEnded', (_c, r) =>
      this.#log.info(
        {
          call: r.id,
          direction: r.direction,
          called: r.called,
          calling: r.calling,
          route: r.route,
          destination: r.destination,
          trunk: r.a.trunk,
          out: r.b?.trunk,
          disposition: r.disposition,
          cause: `${r.causeName} (${r.cause})`,
          billableMs: r.billableMs,
        },
        'call ended',
      ),
    );
  }

  /** What a saved flow must agree with: prompts on the box, the running configuration's time conditions. */
  flowContext(): FlowContext {
    return {
      promptExists: (name, lang) => this.prompts.exists(name, lang),
      timeConditionExists: (name) =>
        (this.#running.timeConditions ?? []).some((t) => t.name === name),
      // No queues until the ACD is built: a flow naming one is refused when saved.
      queueExists: () => false,
    };
  }

  /** DAHDI's spans, or none when DAHDI cannot be read. */
  #spansOrNone(): ReturnType<Addon['spans']> {
    try {
      return this.#addon.spans();
    } catch {
      return [];
    }
  }

  /** Starts (or restarts) MQTT; a broker that cannot listen is logged, the switch runs on. */
  async #startMqtt(config: SwitchConfig['mqtt']): Promise<void> {
    this.#mqttStarted = true;
    try {
      await this.mqtt.start(config);
    } catch (err) {
      if (!isSwitchboardError(err)) throw err;
      this.#log.error(
        { code: err.code, subsystem: 'mqtt' },
        `MQTT is not running: ${err.message}; the switch runs on (fix mqtt in the configuration)`,
      );
    }
  }

  /** The board view: what the options say, else DAHDI's spans. */
  board(): BoardLayout {
    return this.#opts.board ?? boardFromSpans(this.#addon.spans());
  }

  static async start(opts: ControllerOptions): Promise<Controller> {
    const c = new Controller(opts);
    try {
      await c.#bringUp();
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  async #bringUp(): Promise<void> {
    const log = this.#log;
    this.engine.start({ trunks: [], media: { zone: 'itu' } });
    let current = this.configs.current();
    if (!current && this.#opts.initialConfig) {
      const file = this.#opts.initialConfig;
      const config = configFromYaml(readConfigText(file), this.board());
      await this.apply(config, {
        author: 'system',
        source: 'setup',
        comment: `initial configuration from ${file}`,
      });
      current = this.configs.current();
      log.info({ revision: current?.revision, file }, 'fresh box: initial configuration applied');
    } else if (current) {
      await this.#applyNow(current.config);
      log.info({ revision: current.revision }, 'configuration applied');
    } else {
      log.warn('no configuration yet: no trunks run until one is applied (PUT /api/config)');
    }

    const watcher = new SpanWatcher(() => this.#addon.spans(), log.child({ subsystem: 'spans' }));
    const first = watcher.poll();
    if (first)
      for (const text of modelMismatch(this.boardModel, first))
        log.warn({ model: this.boardModel.id }, `board model and DAHDI disagree: ${text}`);
    this.#startBoard();
    this.#spanTimer = setInterval(() => watcher.poll(), this.#opts.spanPollMs ?? 1000);
    this.live.start();

    this.api = await buildApi({
      db: this.db,
      logger: log.child({ subsystem: 'api' }),
      plugins: apiPlugins({
        db: this.db,
        configs: this.configs,
        cdrs: this.cdrs,
        board: () => this.board(),
        apply: (config, meta) => this.apply(config, meta),
        trunks: {
          spans: () => this.#addon.spans(),
          snapshot: () => this.engine.snapshot(),
          command: (cmd) => this.engine.command(cmd),
          traceStart: (span, max) => this.engine.traceStart(span, max),
          traceStop: (span) => this.engine.traceStop(span),
          traceRead: (span) => this.engine.traceRead(span),
        },
        calls: this.calls,
        flows: this.flows,
        flowContext: () => this.flowContext(),
        dialer: this.dialer,
        dialerStore: this.dialerStore,
        agents: this.agents,
        boardView: () => this.boardView(),
        firmware: this.firmware,
        live: this.live,
        dataDir: this.#opts.dataDir,
        logs: logRing,
        boxName: () => this.#running.system?.name,
        ...(this.#opts.webRoot === undefined ? {} : { webRoot: this.#opts.webRoot }),
        metrics: this.metrics,
      }),
    });
    this.address = await listen(this.api, {
      port: this.#opts.port ?? 8080,
      ...(this.#opts.host ? { host: this.#opts.host } : {}),
    });
    if (this.#opts.seedDir)
      await installSeed(this.#opts.seedDir, {
        flows: this.flows,
        flowContext: () => this.flowContext(),
        dialer: this.dialer,
        dialerStore: this.dialerStore,
        log: log.child({ subsystem: 'seed' }),
      });
    await this.#startMqtt(this.#running.mqtt);
    // Campaigns that were running when the controller stopped carry on.
    this.dialer.run();
    log.info(
      { address: this.address, webUi: `${this.address}/`, setupNeeded: setupNeeded(this.db) },
      setupNeeded(this.db)
        ? 'API and web UI up: first-run setup needed (open the web UI, or POST /api/setup {name, password} creates the admin)'
        : 'API and web UI up',
    );
  }

  /**
   * Starts the board controller on the MCU's serial line, once the trunks are up: it opens the
   * bypass relay (the E1 through the switch) and kicks the watchdog until the controller stops.
   */
  #startBoard(): void {
    const log = this.#log.child({ subsystem: 'board' });
    const device = this.#opts.boardSerial ?? this.boardModel.controller.device;
    if (!device) {
      log.info(
        { model: this.boardModel.id },
        'no serial device for the board MCU (the model has none; --board-serial PATH gives one): front panel, watchdog and bypass relay are not driven',
      );
      return;
    }
    this.boardController = new BoardController({
      model: this.boardModel,
      device,
      spans: () => this.#addon.spans(),
      log,
      ...(this.#opts.boardTimers ? { timers: this.#opts.boardTimers } : {}),
    });
    this.boardController.start();
    log.info(
      { model: this.boardModel.id, device, baudRate: this.boardModel.controller.baudRate },
      'board controller started',
    );
  }

  /** Where DAHDI's spans differ from the board model now (a card missing or of another kind). */
  #boardMismatches(): string[] {
    try {
      return modelMismatch(this.boardModel, this.#addon.spans());
    } catch (err) {
      return [`DAHDI's spans cannot be read: ${err instanceof Error ? err.message : String(err)}`];
    }
  }

  /** The board model and its MCU, as GET /api/board shows them. */
  boardView(): BoardView {
    const m = this.boardModel;
    return {
      model: {
        id: m.id,
        name: m.name,
        ...(m.description === undefined ? {} : { description: m.description }),
        simulated: m.simulated,
        cards: m.cards,
        spans: modelSpans(m),
        controller: m.controller,
      },
      mcu: this.boardController?.state() ?? null,
      mismatches: this.#boardMismatches(),
      ...(this.boardController
        ? {}
        : {
            note: `no serial device for the board MCU (model ${m.id} has none; --board-serial PATH gives one)`,
          }),
    };
  }

  /** Applies a configuration to the running switch (no commit): dahdi_cfg, engine, router. */
  async #applyNow(config: SwitchConfig): Promise<{ restarted: string[] }> {
    const before = this.#running;
    const result = await applySwitchConfig(
      this.engine,
      Object.keys(before).length === 0 ? undefined : before,
      config,
      {
        dir: this.#opts.dahdiDir,
        board: this.board(),
        ...(this.#opts.dahdiEnv ? { env: this.#opts.dahdiEnv } : {}),
      },
    );
    this.#running = config;
    this.calls.setRouter(new Router(config));
    const restarted = [
      ...result.spans.map((s) => `span ${s}`),
      ...[...new Set([...result.stopped, ...result.started])].map((t) => `trunk ${t}`),
    ];
    this.#log.info(
      { spans: result.spans, kept: result.kept, stopped: result.stopped, started: result.started },
      'configuration applied to the switch',
    );
    return { restarted };
  }

  /**
   * Applies a validated configuration and commits it as a new revision. One change at a time,
   * whoever asks (API, MQTT, CLI). When the switch refuses it, the configuration that ran before
   * is applied again and nothing is committed.
   */
  apply(config: SwitchConfig, meta: CommitMeta): Promise<ApplyResult> {
    const run = this.#applying.then(async () => {
      const before = this.#running;
      const mqttChanged = JSON.stringify(before.mqtt) !== JSON.stringify(config.mqtt);
      if (mqttChanged) {
        const errors = mqttFileErrors(config.mqtt);
        const first = errors[0];
        if (first)
          throw new SwitchboardError('E_CONFIG_FIELD', `${first.path}: ${first.message}`, {
            details: errors,
          });
      }
      try {
        const { restarted } = await this.#applyNow(config);
        const revision = this.configs.commit(config, meta);
        if (mqttChanged && this.#mqttStarted) {
          await this.#startMqtt(config.mqtt);
          restarted.push('mqtt');
        }
        this.#log.info(
          { revision: revision.id, author: meta.author, source: meta.source, restarted },
          'revision committed',
        );
        return { revision, restarted };
      } catch (err) {
        this.#log.error(
          { err },
          'the switch refused the configuration: restoring the one that ran',
        );
        try {
          if (Object.keys(before).length > 0) await this.#applyNow(before);
        } catch (again) {
          this.#log.fatal({ err: again }, 'restoring the previous configuration failed too');
        }
        throw err;
      }
    });
    this.#applying = run.catch(() => undefined);
    return run;
  }

  #onEvents(events: EngineEvent[]): void {
    for (const e of events) {
      if (e.event === 'link' || e.event === 'alarm')
        this.#log.info({ ...e, subsystem: 'trunks' }, `${e.trunk}: ${e.event}`);
      else if (e.event === 'error')
        this.#log.warn({ ...e, subsystem: 'trunks' }, `${e.trunk}: ${e.message}`);
      else if (e.event === 'log' && e.level !== 'debug')
        this.#log[e.level]({ trunk: e.trunk, kind: e.kind, subsystem: 'trunks' }, e.message);
    }
    void this.calls.handle(events);
  }

  /**
   * Stops serving, clears the calls still up (NORMAL_CLEARING, so each gets its call record),
   * stops the trunks and closes the store. Calls that do not clear within `clearMs` are cut by
   * the trunk stop and have no record.
   */
  async stop(clearMs = 3000): Promise<void> {
    if (this.#spanTimer) clearInterval(this.#spanTimer);
    try {
      await this.api?.close();
    } catch (err) {
      this.#log.warn({ err }, 'API close failed');
    }
    this.dialer.drain();
    const live = this.calls.calls();
    if (live.length > 0) {
      this.#log.info({ calls: live.length }, 'clearing the calls still up');
      for (const c of live) this.calls.hangup(c.id).catch(() => undefined);
      const until = Date.now() + clearMs;
      while (this.calls.calls().length > 0 && Date.now() < until)
        await new Promise((r) => setTimeout(r, 50));
      await this.calls.settled();
    }
    this.live.stop();
    // The calls' last events and records reach the broker if it is there (else the outbox keeps them).
    await this.mqtt.drain(1000);
    await this.mqtt.stop();
    this.dialer.close();
    try {
      this.engine.stop();
    } catch (err) {
      if (!isSwitchboardError(err)) throw err;
    }
    // The switch no longer carries the E1: the bypass relay patches the carrier through.
    await this.boardController?.stop();
    if (this.#outboxDb.open) this.#outboxDb.close();
    if (this.db.open) this.db.close();
  }
}

/**
 * A second connection to the database for the MQTT outbox, with synchronous=NORMAL: in WAL mode
 * its commits survive the controller being killed (kill -9), and cost no disk sync each, which
 * hundreds of channel events a second need; only a power cut may lose the last of them (call
 * records themselves are in the CDR store, written with synchronous=FULL).
 */
function openOutboxDb(file: string): Db {
  const db = openDb(file);
  db.pragma('synchronous = NORMAL');
  return db;
}

/**
 * A flow's transfer to a number: the call manager places it through the outbound routes and
 * connects the caller when it answers; the flow hears the outcome once that call is over.
 */
async function transferFromFlow(call: CallControl, number: string): Promise<TransferOutcome> {
  const r = await call.transfer({ called: number });
  if (r.result === 'failed') return { result: 'failed', cause: r.cause };
  if (!call.signal.aborted)
    await new Promise<void>((done) => call.signal.addEventListener('abort', () => done()));
  return { result: 'bridged', cause: CAUSES.NORMAL_CLEARING };
}
