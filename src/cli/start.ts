// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard start`: simulator (if none is up), dahdi_cfg, then the controller until Ctrl-C.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_BOARD_MODEL, loadBoardModel } from '../board/model.ts';
import { makePtyPair, type PtyPair } from '../board/pty.ts';
import { openSimMcu, type SimMcuPort } from '../board/sim-mcu.ts';
import { SwitchboardError } from '../core/errors.ts';
import { dahdiCfg } from '../runtime/dahdi-tools.ts';
import { logger } from '../runtime/log.ts';
import { paths } from '../runtime/paths.ts';
import { defaultSimDir, SimClient } from '../sim/client.ts';
import { loadSimConfig, type SimConfig } from '../sim/config.ts';
import { runningConfig, simEnv, startSim, stopSim } from '../sim/daemon.ts';
import { renderSystemConf } from '../sim/dahdiconf.ts';
import { clearForFactoryReset, dataRootFor } from '../update/factory-reset.ts';
import { type Command, parseIntArg, stringValue } from './command.ts';

/** How long the controller may take to exit after SIGTERM before it is killed, in ms. */
const CONTROLLER_STOP_MS = 5000;

/** Applies system.conf with the real dahdi_cfg, through the preload. */
export function applyDahdiConf(dir: string, config: SimConfig, source: string): string {
  const file = join(dir, 'system.conf');
  writeFileSync(file, renderSystemConf(config, { source }));
  const result = spawnSync(dahdiCfg(), ['-vv', '-c', file], { env: simEnv(dir), encoding: 'utf8' });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  if (result.error || result.status !== 0)
    throw new SwitchboardError(
      'E_DAHDI_CFG',
      `dahdi_cfg -vv -c ${file} failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`})${output ? `:\n${output}` : ''}`,
    );
  return output;
}

export const startCommand: Command = {
  name: 'start',
  summary:
    'Run the switch: simulator with the demo board, the simulated carrier, the controller and its API.',
  options: {
    'sim-config': {
      type: 'string',
      arg: 'FILE',
      help: 'board to simulate, YAML or JSON (default board/sim/demo.yaml); ignored when a simulator is already up',
    },
    'sim-dir': {
      type: 'string',
      arg: 'DIR',
      help: 'simulator directory; default $SWITCHBOARD_SIM_DIR or /run/switchboard-sim',
    },
    port: {
      type: 'string',
      arg: 'N',
      help: 'TCP port of the HTTP API and the web UI, 1-65535 (default 8080)',
    },
    'data-dir': {
      type: 'string',
      arg: 'DIR',
      help: 'where the database lives; default $SWITCHBOARD_DATA_DIR or /var/lib/switchboard',
    },
    config: {
      type: 'string',
      arg: 'FILE',
      help: 'switch configuration (YAML) applied when the database has none yet (default board/config/demo.yaml)',
    },
    carrier: {
      type: 'string',
      arg: 'FILE',
      help: 'simulated carrier scenario on the far ends of the cables (default board/carrier/demo.yaml)',
    },
    'no-carrier': { type: 'boolean', help: 'run no simulated carrier' },
    seed: {
      type: 'string',
      arg: 'DIR',
      help: 'IVR flows (DIR/flows/*.yaml) and campaigns (DIR/campaigns/*.yaml) installed when the database has none of those names (default board/demo: the demo hotline menu and a notification campaign)',
    },
    'no-seed': { type: 'boolean', help: 'install no demo flows or campaigns' },
    'board-model': {
      type: 'string',
      arg: 'ID',
      help: `board model (board/models/ID.yaml, or a definition file); default ${DEFAULT_BOARD_MODEL}`,
    },
    'board-serial': {
      type: 'string',
      arg: 'PATH',
      help: "serial device of the board MCU, instead of the model's; without either, a simulated MCU answers on a pseudo-terminal pair (socat) in the simulator directory",
    },
  },
  details: [
    'Starts a simulator unless one already answers in the simulator directory, writes',
    'DIR/system.conf for its board and applies it with `dahdi_cfg -vv -c`, then runs the',
    'controller (src/controller/main.ts) with the simulator preload: on a fresh database it',
    'applies --config, brings the trunks up and serves the API and the web UI on --port (open',
    'http://localhost:PORT/ in a browser; first-run setup creates the first admin). Once the API',
    'is up, the simulated carrier (`switchboard carrier`) starts',
    'on the far ends of the cables and calls flow; the controller logs each call. A board model',
    'without a serial device (sim-demo) gets a simulated board MCU on a socat pseudo-terminal',
    'pair (DIR/board-host for the controller, DIR/board-mcu for the MCU): the controller drives',
    'its span LEDs, LCD, watchdog and bypass relay. Logs are JSON lines. Ctrl-C stops the',
    'carrier, the controller (which closes the bypass relay), the simulated MCU, and the',
    'simulator if this command started it. A pending factory reset (DIR/.factory-reset in the',
    'data directory, written by POST /api/system/factory-reset) first clears the data directory.',
    '',
    'MQTT to the NOC follows the `mqtt` section of the configuration (docs/mqtt.md): without a',
    'broker there, an embedded broker listens on port 1883, where clients log in with an API',
    'token of the box as password; with one, the controller is an MQTT 5 client of it. GET',
    '/metrics serves Prometheus metrics to any API token (viewer and up).',
  ].join('\n'),
  async run({ values }) {
    const log = logger.child({ subsystem: 'start' });
    const port = parseIntArg(
      startCommand,
      '--port',
      stringValue(values, 'port') ?? '8080',
      1,
      65535,
    );
    const dir = resolve(stringValue(values, 'sim-dir') ?? defaultSimDir());
    const configFile = resolve(stringValue(values, 'sim-config') ?? paths.demoBoard);
    const dataDir = resolve(
      stringValue(values, 'data-dir') ?? process.env.SWITCHBOARD_DATA_DIR ?? '/var/lib/switchboard',
    );
    // A factory reset asked for through the API (POST /api/system/factory-reset) is carried out
    // here on a development machine, as switchboard-factory-reset.service does at an image's boot.
    const dataRoot = dataRootFor(dataDir);
    const reset = clearForFactoryReset(dataRoot);
    if (reset)
      log.warn(
        {
          dataRoot,
          removed: reset.removed,
          requestedAt: reset.request.requestedAt,
          by: reset.request.by,
        },
        'factory reset: the data directory was cleared before starting',
      );
    // Checked before anything starts: a wrong model leaves nothing running.
    const boardModelArg = stringValue(values, 'board-model') ?? DEFAULT_BOARD_MODEL;
    const boardModel = loadBoardModel(boardModelArg);

    let config: SimConfig;
    let source = configFile;
    let started: Awaited<ReturnType<typeof startSim>> | undefined;
    if (await new SimClient(dir).isUp()) {
      const running = runningConfig(dir);
      config = running ?? loadSimConfig(configFile);
      if (running) source = join(dir, 'sim-config.json');
      if (values['sim-config'] !== undefined)
        log.warn({ dir }, 'a simulator is already up: --sim-config is ignored');
      log.info({ dir, source }, 'using the simulator that is already up');
    } else {
      started = await startSim({ config: configFile, dir });
      config = started.config;
      log.info(
        { dir, simdPid: started.pid, source, spans: config.spans.length },
        'simulator started',
      );
    }

    const stopSimulator = async () => {
      if (!started) return;
      await stopSim(dir);
      log.info({ dir }, 'simulator stopped');
    };

    try {
      const output = applyDahdiConf(dir, config, source);
      log.info(
        { file: join(dir, 'system.conf'), output },
        'dahdi_cfg applied the DAHDI configuration',
      );
    } catch (err) {
      await stopSimulator();
      throw err;
    }

    const switchConfig = resolve(stringValue(values, 'config') ?? paths.demoConfig);
    let boardSerial = stringValue(values, 'board-serial');
    // A model with no MCU of its own gets a simulated one on a pseudo-terminal pair.
    let pty: PtyPair | undefined;
    let simMcu: SimMcuPort | undefined;
    if (boardSerial === undefined && boardModel.controller.device === null) {
      try {
        pty = await makePtyPair(join(dir, 'board-host'), join(dir, 'board-mcu'));
        const c = boardModel.controller;
        simMcu = await openSimMcu(pty.mcu, {
          baudRate: c.baudRate,
          leds: c.leds,
          lcdRows: c.lcd.rows,
          lcdColumns: c.lcd.columns,
        });
      } catch (err) {
        await pty?.stop();
        await stopSimulator();
        throw err;
      }
      const mcuLog = logger.child({ subsystem: 'sim-mcu' });
      simMcu.mcu.on('record', ({ msg, ...fields }) => {
        // Frames are too many for the demo's log; the changes they make are what matter.
        if (msg !== 'frame') mcuLog.info(fields, msg);
      });
      boardSerial = pty.host;
      log.info(
        { model: boardModel.id, host: pty.host, mcu: pty.mcu },
        'simulated board MCU on a pseudo-terminal pair',
      );
    }
    const stopBoard = async () => {
      await simMcu?.close();
      await pty?.stop();
    };
    const child: ChildProcess = spawn(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        paths.controllerMain,
        '--port',
        String(port),
        '--data-dir',
        dataDir,
        '--sim-dir',
        dir,
        '--config',
        switchConfig,
        ...(values['no-seed']
          ? []
          : ['--seed', resolve(stringValue(values, 'seed') ?? paths.demoSeed)]),
        '--board-model',
        boardModelArg.includes('/') ? resolve(boardModelArg) : boardModelArg,
        ...(boardSerial === undefined ? [] : ['--board-serial', boardSerial]),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], env: simEnv(dir) },
    );
    // The controller's log goes on to ours; the carrier starts once the API is up (the trunks are).
    let carrier: ChildProcess | undefined;
    const scenario = values['no-carrier']
      ? undefined
      : resolve(stringValue(values, 'carrier') ?? paths.demoCarrier);
    let lineBuf = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      if (carrier || !scenario) return;
      lineBuf += chunk.toString('utf8');
      if (!lineBuf.includes('"controller started"')) {
        lineBuf = lineBuf.slice(-4096);
        return;
      }
      carrier = spawn(
        process.execPath,
        [paths.cli, 'carrier', '--scenario', scenario, '--sim-dir', dir],
        { stdio: 'inherit' },
      );
      carrier.once('exit', (c, signal) => {
        if (!stopping) log.warn({ code: c, signal }, 'the simulated carrier exited');
      });
    });
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      carrier?.kill('SIGTERM');
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), CONTROLLER_STOP_MS).unref();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    const code = await new Promise<number>((ok) => {
      child.once('error', (err) => {
        log.error({ err }, 'cannot start the controller');
        ok(1);
      });
      child.once('exit', (c, signal) => {
        if (!stopping) log.error({ code: c, signal }, 'the controller exited');
        ok(stopping ? 0 : (c ?? 1));
      });
    });
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    const far = carrier;
    if (far && far.exitCode === null && far.signalCode === null) {
      far.kill('SIGTERM');
      await new Promise((ok) => far.once('exit', ok));
    }
    await stopBoard();
    await stopSimulator();
    return code;
  },
};
