// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard carrier`: a simulated carrier on the far ends of the simulator's cables until Ctrl-C.

import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { loadScenario } from '../carrier/scenario.ts';
import { applySpanConfs, renderSpanConfs } from '../carrier/spans.ts';
import { SwitchboardError } from '../core/errors.ts';
import { logger } from '../runtime/log.ts';
import { paths } from '../runtime/paths.ts';
import { defaultSimDir, SimClient } from '../sim/client.ts';
import { simEnv } from '../sim/daemon.ts';
import { type Command, stringValue, usageError } from './command.ts';

/** How long the carrier may take to clear its calls and exit after SIGTERM before it is killed, ms. */
const CARRIER_STOP_MS = 10_000;

/** The carrier process (from the repository root, so a compiled CLI on an image finds it too). */
const carrierMain = paths.carrierMain;

export const carrierCommand: Command = {
  name: 'carrier',
  summary:
    "Run a simulated carrier on the far ends of the simulator's cables, driven by a scenario file.",
  options: {
    scenario: {
      type: 'string',
      arg: 'FILE',
      help: 'the scenario, YAML or JSON (required; e.g. board/carrier/demo.yaml)',
    },
    'sim-dir': {
      type: 'string',
      arg: 'DIR',
      help: 'simulator directory; default $SWITCHBOARD_SIM_DIR or /run/switchboard-sim',
    },
    log: {
      type: 'string',
      arg: 'FILE',
      help: 'append one JSON line per call attempt to FILE when it ends (default: stdout only)',
    },
    'work-dir': {
      type: 'string',
      arg: 'DIR',
      help: "where the callees' greetings are rendered with espeak-ng and cached (default SIM-DIR/carrier)",
    },
    'keep-spans': {
      type: 'boolean',
      help: "leave the DAHDI configuration of the carrier's spans alone (default: apply ccs to its PRI spans and cas to its MFC-R2 spans with dahdi_cfg -S first)",
    },
  },
  details: [
    "The carrier runs its own signalling engine on the spans of the scenario's trunks (the far",
    'ends of the cables to the switch), in a child process with the simulator preload. It places',
    "the scenario's inbound calls towards the switch and answers, refuses or lets ring the calls",
    'the switch places, as the scenario says: a person answers with a short "Hello?" and presses',
    'its digits, an answering machine with a long greeting and a beep (espeak-ng speech rendered',
    'at start into --work-dir); every draw comes from the scenario seed. Each ended',
    'call attempt is printed as a JSON line {"record": ...}; logs are JSON lines too.',
    'Ctrl-C clears the calls in progress (NORMAL_CLEARING) and stops. A simulator must be up',
    '(`switchboard sim up` or `switchboard start`).',
  ].join('\n'),
  async run({ values }) {
    const log = logger.child({ subsystem: 'carrier-cli' });
    const file = stringValue(values, 'scenario');
    if (file === undefined) throw usageError(carrierCommand, '--scenario FILE is required');
    // Refused here, naming the field, before anything is started.
    const scenario = loadScenario(resolve(file));
    const dir = resolve(stringValue(values, 'sim-dir') ?? defaultSimDir());
    const client = new SimClient(dir);
    if (!(await client.isUp()))
      throw new SwitchboardError(
        'E_SIM_NOT_RUNNING',
        `no simulator is running in ${dir} (start one with \`switchboard sim up\` or \`switchboard start\`)`,
      );
    if (!values['keep-spans']) {
      const spans = renderSpanConfs(scenario.engine.trunks, (await client.status()).spans);
      applySpanConfs(dir, spans);
      log.info({ spans: spans.map((s) => s.span) }, "dahdi_cfg applied the carrier's spans");
    }
    const logFile = stringValue(values, 'log');
    const workDir = resolve(stringValue(values, 'work-dir') ?? join(dir, 'carrier'));
    const child = spawn(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        carrierMain,
        '--scenario',
        resolve(file),
        ...(logFile === undefined ? [] : ['--log', resolve(logFile)]),
        '--work-dir',
        workDir,
      ],
      // stdin stays an open pipe that we never write: when it closes (we died), the carrier stops.
      { stdio: ['pipe', 'inherit', 'inherit'], env: simEnv(dir) },
    );
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping the carrier');
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), CARRIER_STOP_MS).unref();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    try {
      return await new Promise<number>((ok) => {
        child.once('error', (err) => {
          log.error({ err }, 'cannot start the carrier');
          ok(1);
        });
        child.once('exit', (code, signal) => {
          if (!stopping) log.error({ code, signal }, 'the carrier exited');
          ok(code === 0 ? 0 : 1);
        });
      });
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  },
};
