// SPDX-License-Identifier: GPL-2.0-or-later
// The carrier process: runs a scenario against the simulator until SIGTERM, reporting in JSON lines.
//
//   SWITCHBOARD_SIM_DIR=DIR LD_PRELOAD=native/sim/build/libdahdisim.so \
//     node --import tsx src/carrier/main.ts --scenario FILE [--log FILE] [--work-dir DIR]
// --work-dir: where the callees' greetings are rendered (default $SWITCHBOARD_SIM_DIR/carrier, or
// DEFAULT_WORK_DIR without a simulator directory).
// stdout, one JSON object per line (besides the pino log lines, which carry `level` and `msg`):
//   {"carrier": "ready", "trunks": [...], "seed": N}      the trunks are open, the flows running
//   {"record": {...}}                                      a call attempt ended (CarrierRecord)
//   {"carrier": "inboundDone", "stats": {...}}             every inbound call was placed and ended
//   {"stats": {...}}                                       answer to a stats request, and at exit
//   {"fatal": {"code", "message", "details"?}}             the scenario or the engine refused (exit 2)
// stdin, one JSON object per line: {"op": "stats"} or {"op": "stop"} (as SIGTERM). The end of
// stdin stops the carrier too, so that it never outlives the process that started it.

import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { isSwitchboardError } from '../core/errors.ts';
import { logger } from '../runtime/log.ts';
import { Carrier, DEFAULT_WORK_DIR } from './carrier.ts';
import { loadScenario } from './scenario.ts';

function out(line: unknown): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function fatal(err: unknown): never {
  if (isSwitchboardError(err))
    out({
      fatal: {
        code: err.code,
        message: err.message,
        ...(err.details === undefined ? {} : { details: err.details }),
      },
    });
  else
    out({ fatal: { code: 'E_ENGINE', message: err instanceof Error ? err.message : String(err) } });
  process.exit(2);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      log: { type: 'string' },
      'work-dir': { type: 'string' },
    },
  });
  if (values.scenario === undefined)
    fatal(new Error('usage: main.ts --scenario FILE [--log FILE] [--work-dir DIR]'));
  const simDir = process.env.SWITCHBOARD_SIM_DIR;
  const workDir =
    values['work-dir'] ?? (simDir === undefined ? DEFAULT_WORK_DIR : join(simDir, 'carrier'));
  let carrier: Carrier;
  try {
    const scenario = loadScenario(values.scenario);
    carrier = new Carrier(scenario, {
      log: logger.child({ subsystem: 'carrier' }),
      ...(values.log === undefined ? {} : { logFile: values.log }),
      workDir,
      onRecord: (record) => out({ record }),
      onInboundDone: () => out({ carrier: 'inboundDone', stats: carrier.stats() }),
    });
    await carrier.start();
    out({
      carrier: 'ready',
      trunks: scenario.engine.trunks.map((t) => t.name),
      seed: scenario.seed,
    });
  } catch (err) {
    fatal(err);
  }

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    carrier.stop().then(
      (stats) => {
        out({ stats });
        process.exit(0);
      },
      (err: unknown) => fatal(err),
    );
  };
  // Ctrl-C in a terminal reaches us as well as the CLI, which sends SIGTERM: stop once.
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (text) => {
    let req: { op?: string };
    try {
      req = JSON.parse(text) as { op?: string };
    } catch {
      return;
    }
    if (req.op === 'stats') out({ stats: carrier.stats() });
    else if (req.op === 'stop') stop();
  });
  rl.on('close', stop);
}

void main();
