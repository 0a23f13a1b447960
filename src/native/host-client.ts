// SPDX-License-Identifier: GPL-2.0-or-later
// A client of the engine host (src/native/host.ts): tests and benches drive each end of a cable through one.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../runtime/paths.ts';
import { startProcess } from '../runtime/process.ts';
import type {
  CommandResult,
  EngineCommand,
  EngineConfig,
  EngineSnapshot,
  ReconfigureResult,
} from './engine.ts';

export type Line = Record<string, unknown>;

export interface Host {
  /** Every line the host printed (events, replies), in order. */
  lines: Line[];
  events(pred?: (e: Line) => boolean): Line[];
  /** Sends an engine command; resolves with its result, rejects with the engine's error (code, field). */
  command(cmd: EngineCommand): Promise<CommandResult>;
  request(op: string, fields?: Record<string, unknown>): Promise<unknown>;
  snapshot(): Promise<EngineSnapshot>;
  /** Engine.reconfigure in the host; rejects with the engine's error (code, field). */
  reconfigure(config: EngineConfig): Promise<ReconfigureResult>;
  /** The span's capture as a pcap file. */
  trace(span: number): Promise<Buffer>;
  /** Waits for an event matching `pred` that has not been returned by a previous wait. */
  waitEvent(pred: (e: Line) => boolean, timeoutMs?: number): Promise<Line>;
  stop(): Promise<void>;
}

export class HostError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

let counter = 0;

/**
 * Starts an engine host with `config` in the environment `env` (the simulator's, for a simulated
 * board); `dir` holds its configuration file. Fails with the host's fatal error.
 */
export async function startEngineHost(
  env: NodeJS.ProcessEnv,
  dir: string,
  config: EngineConfig,
  name = 'host',
  onLine?: (line: Line) => void,
): Promise<Host> {
  counter += 1;
  const file = join(dir, `${name}-${counter}.json`);
  writeFileSync(file, JSON.stringify(config));
  const p = startProcess(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'src/native/host.ts'), file],
    { env, timeoutMs: 24 * 3600_000, ...(onLine ? { onLine } : {}) },
  );
  // A host that dies before it is ready (a missing symbol, a crash) says why on stderr.
  const died = p.done.then((r) => {
    throw new Error(`engine host exited (${r.code}) before it was ready: ${r.stderr}`);
  });
  await Promise.race([p.waitFor((l) => l.ready === true || l.fatal !== undefined, 30_000), died]);
  died.catch(() => undefined);
  const fatal = p.lines.find((l) => l.fatal !== undefined)?.fatal as
    | { code: string; message: string; field?: string }
    | undefined;
  if (fatal) throw new HostError(fatal.code, fatal.message, fatal.field);
  let nextId = 0;
  const consumed = new Set<Line>();
  const request = async (op: string, fields: Record<string, unknown> = {}): Promise<unknown> => {
    nextId += 1;
    const id = nextId;
    p.send(`${JSON.stringify({ id, op, ...fields })}\n`);
    await p.waitFor((l) => l.reply === id, 30_000);
    const reply = p.lines.find((l) => l.reply === id) as Line;
    const err = reply.error as { code: string; message: string; field?: string } | undefined;
    if (err) throw new HostError(err.code, err.message, err.field);
    return reply.result;
  };
  return {
    lines: p.lines,
    events: (pred = () => true) => p.lines.filter((l) => typeof l.event === 'string' && pred(l)),
    command: (cmd) => request('command', { cmd }) as Promise<CommandResult>,
    request,
    snapshot: () => request('snapshot') as Promise<EngineSnapshot>,
    reconfigure: (config) => request('reconfigure', { config }) as Promise<ReconfigureResult>,
    trace: async (span) => Buffer.from((await request('traceRead', { span })) as string, 'base64'),
    async waitEvent(pred, timeoutMs = 15_000) {
      const match = (l: Line) => typeof l.event === 'string' && !consumed.has(l) && pred(l);
      await p.waitFor(match, timeoutMs);
      const line = p.lines.find(match) as Line;
      consumed.add(line);
      return line;
    },
    async stop() {
      p.send(`${JSON.stringify({ id: 0, op: 'stop' })}\n`);
      const timer = setTimeout(() => process.kill(p.pid as number, 'SIGKILL'), 10_000);
      await p.done.catch(() => undefined);
      clearTimeout(timer);
    },
  };
}
