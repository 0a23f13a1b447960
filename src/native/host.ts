// SPDX-License-Identifier: GPL-2.0-or-later
// The engine in a process of its own, driven by JSON lines: the far end of a cable in tests and benches.
//
//   node --import tsx src/native/host.ts CONFIG.json
// stdout, one JSON object per line:
//   {"ready": true}                                   the trunks are open and running
//   {"event": "offered", ...}                          every engine event, in order
//   {"reply": ID, "result": ...} | {"reply": ID, "error": {code, message, field}}
//   {"fatal": {code, message, field}}                  the configuration was refused (exit 2)
// stdin, one JSON object per line, each with an `id` the reply carries:
//   {"id": 1, "op": "command", "cmd": {...}}          an EngineCommand
//   {"id": 2, "op": "snapshot"}
//   {"id": 3, "op": "traceStart" | "traceStop", "span": 1}
//   {"id": 4, "op": "traceRead", "span": 1}           result: the pcap, base64
//   {"id": 5, "op": "reconfigure", "config": {...}}   result: {kept, stopped, started}
//   {"id": 6, "op": "block", "ms": 2000}              keeps the event loop busy (tests)
//   {"id": 7, "op": "stop"}                           stops the engine and exits

import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { isSwitchboardError } from '../core/errors.ts';
import { Engine, type EngineCommand, type EngineConfig } from './engine.ts';

function out(line: unknown): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function errorOf(err: unknown): { code: string; message: string; field?: unknown } {
  if (isSwitchboardError(err)) {
    const field = (err.details as { field?: unknown } | undefined)?.field;
    return { code: err.code, message: err.message, ...(field === undefined ? {} : { field }) };
  }
  return { code: 'E_HOST', message: err instanceof Error ? err.message : String(err) };
}

interface Request {
  id?: number;
  op?: string;
  cmd?: EngineCommand;
  span?: number;
  ms?: number;
  config?: EngineConfig;
}

function handle(engine: Engine, req: Request): unknown {
  switch (req.op) {
    case 'command':
      return engine.command(req.cmd as EngineCommand);
    case 'snapshot':
      return engine.snapshot();
    case 'reconfigure':
      return engine.reconfigure(req.config as EngineConfig);
    case 'traceStart':
      engine.traceStart(Number(req.span));
      return {};
    case 'traceStop':
      engine.traceStop(Number(req.span));
      return {};
    case 'traceRead':
      return engine.traceRead(Number(req.span)).toString('base64');
    case 'block': {
      // A busy loop, not a timer: the event loop is really stuck, as under a slow handler.
      const until = Date.now() + Number(req.ms ?? 0);
      while (Date.now() < until) {
        /* spin */
      }
      return { blockedMs: Number(req.ms ?? 0) };
    }
    default:
      throw new Error(`unknown op ${JSON.stringify(req.op)}`);
  }
}

function main(): void {
  const file = process.argv[2];
  if (!file) {
    out({ fatal: { code: 'E_USAGE', message: 'usage: host.ts CONFIG.json' } });
    process.exit(2);
  }
  const config = JSON.parse(readFileSync(file, 'utf8')) as EngineConfig;
  const engine = new Engine((events) => {
    for (const e of events) out(e);
  });
  try {
    engine.start(config);
  } catch (err) {
    out({ fatal: errorOf(err) });
    process.exit(2);
  }
  out({ ready: true });
  const rl = createInterface({ input: process.stdin });
  const stop = () => {
    for (const e of engine.stop()) out(e);
    process.exit(0);
  };
  rl.on('line', (text) => {
    if (!text.trim()) return;
    let req: Request;
    try {
      req = JSON.parse(text) as Request;
    } catch (err) {
      out({
        reply: null,
        error: { code: 'E_HOST', message: `not JSON: ${(err as Error).message}` },
      });
      return;
    }
    if (req.op === 'stop') {
      out({ reply: req.id, result: {} });
      stop();
      return;
    }
    try {
      out({ reply: req.id, result: handle(engine, req) });
    } catch (err) {
      out({ reply: req.id, error: errorOf(err) });
    }
  });
  rl.on('close', stop);
  process.on('SIGTERM', stop);
}

main();
