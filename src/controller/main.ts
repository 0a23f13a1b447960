// SPDX-License-Identifier: GPL-2.0-or-later
// The controller process: the switch (store, engine, routing, CDR, API) until SIGTERM or SIGINT.

import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { type BoardModel, DEFAULT_BOARD_MODEL, loadBoardModel } from '../board/model.ts';
import { isSwitchboardError } from '../core/errors.ts';
import { logger } from '../runtime/log.ts';
import { runningConfig, simEnv } from '../sim/daemon.ts';
import { ServiceNotifier } from '../system/sd-notify.ts';
import { boardFromSim } from '../trunks/system-conf.ts';
import { Controller } from './app.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'sim-dir': { type: 'string' },
      'dahdi-dir': { type: 'string' },
      config: { type: 'string' },
      seed: { type: 'string' },
      'board-model': { type: 'string' },
      'board-serial': { type: 'string' },
    },
  });
  const log = logger.child({ subsystem: 'controller' });
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) {
    log.fatal(
      { code: 'E_USAGE' },
      `--port must be a TCP port number (0-65535), not "${values.port}"`,
    );
    process.exitCode = 2;
    return;
  }
  const simDir = values['sim-dir'];
  const sim = simDir ? runningConfig(simDir) : undefined;
  // Under systemd (Type=notify): status lines, READY=1, watchdog pings, STOPPING=1.
  const systemd = new ServiceNotifier({ log: log.child({ subsystem: 'systemd' }) });
  systemd.status('starting: opening the store, applying the configuration, starting the API');
  let controller: Controller;
  let boardModel: BoardModel;
  try {
    boardModel = loadBoardModel(
      values['board-model'] ?? process.env.SWITCHBOARD_BOARD_MODEL ?? DEFAULT_BOARD_MODEL,
    );
  } catch (err) {
    if (!isSwitchboardError(err)) throw err;
    log.fatal({ code: err.code, details: err.details }, err.message);
    process.exitCode = 1;
    return;
  }
  const boardSerial = values['board-serial'] ?? process.env.SWITCHBOARD_BOARD_SERIAL;
  try {
    controller = await Controller.start({
      dataDir: values['data-dir'] ?? process.env.SWITCHBOARD_DATA_DIR ?? '/var/lib/switchboard',
      dahdiDir: values['dahdi-dir'] ?? simDir ?? '/etc/dahdi',
      ...(simDir ? { dahdiEnv: simEnv(simDir) } : {}),
      ...(sim ? { board: boardFromSim(sim) } : {}),
      ...(values.config ? { initialConfig: values.config } : {}),
      ...(values.seed ? { seedDir: values.seed } : {}),
      port,
      ...(values.host ? { host: values.host } : {}),
      boardModel,
      ...(boardSerial ? { boardSerial } : {}),
      log,
    });
  } catch (err) {
    systemd.status(`failed to start: ${err instanceof Error ? err.message : String(err)}`);
    if (!isSwitchboardError(err)) throw err;
    log.fatal({ code: err.code, details: err.details }, err.message);
    process.exitCode = 1;
    return;
  }
  log.info(
    {
      pid: process.pid,
      // The account it runs as: on an image the unprivileged `switchboard`, never root.
      user: userInfo().username,
      bootId: controller.bootId,
      address: controller.address,
    },
    'controller started',
  );
  const revision = controller.configs.current()?.revision;
  // Healthy: the event loop runs (this is called from a timer) and the engine answers.
  systemd.ready(
    `running: API on ${controller.address}, ${revision === undefined ? 'no configuration yet' : `configuration revision ${revision}`}`,
    () => {
      try {
        controller.engine.snapshot();
        return undefined;
      } catch (err) {
        return `the signalling engine does not answer a snapshot: ${err instanceof Error ? err.message : String(err)}`;
      }
    },
  );

  // Ctrl-C reaches both us and `switchboard start`, which then sends SIGTERM too: stop once.
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    systemd.stopping(`stopping on ${signal}: clearing the calls still up`);
    void controller.stop().then(() => log.info({ signal }, 'controller stopped'));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

await main();
