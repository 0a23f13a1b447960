// SPDX-License-Identifier: GPL-2.0-or-later
// Child processes for tests and benchmarks: run to completion, or start one and follow its JSON lines.

import { spawn } from 'node:child_process';

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface StartedProcess {
  pid: number | undefined;
  /** Every line of standard output that parsed as a JSON object, in order. */
  lines: Record<string, unknown>[];
  /** Resolves when a line matching `pred` has been printed; rejects after `timeoutMs`. */
  waitFor(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<void>;
  /** Writes to the program's standard input. */
  send(text: string): void;
  done: Promise<ProcessResult>;
}

export interface ProcessOptions {
  env?: NodeJS.ProcessEnv;
  /** Killed with SIGKILL after this long; default 60 s. */
  timeoutMs?: number;
  /** Written to standard input, which is then closed; without it stdin closes at once. */
  input?: string;
  /** Keep standard input open for `send` (startProcess). */
  keepStdin?: boolean;
  /** startProcess: called with every JSON line as it arrives (benches that cannot rescan `lines`). */
  onLine?: (line: Record<string, unknown>) => void;
}

function spawnCollect(cmd: string, args: string[], opts: ProcessOptions) {
  const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  else if (!opts.keepStdin) child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const done = new Promise<ProcessResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done };
}

/** Runs a program and waits for it to exit. */
export function runProcess(
  cmd: string,
  args: string[],
  opts: ProcessOptions = {},
): Promise<ProcessResult> {
  return spawnCollect(cmd, args, opts).done;
}

/** Starts a program that reports progress as JSON lines on standard output. */
export function startProcess(
  cmd: string,
  args: string[],
  opts: ProcessOptions = {},
): StartedProcess {
  const { child, done } = spawnCollect(cmd, args, { ...opts, keepStdin: true });
  const lines: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; ok: () => void }[] = [];
  let partial = '';
  child.stdout?.on('data', (d: Buffer) => {
    partial += d.toString();
    for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
      const text = partial.slice(0, nl).trim();
      partial = partial.slice(nl + 1);
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      opts.onLine?.(line);
      for (const w of [...waiters])
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.ok();
        }
    }
  });
  return {
    pid: child.pid,
    lines,
    done,
    send: (text) => {
      child.stdin?.write(text);
    },
    waitFor(pred, timeoutMs = 10_000) {
      if (lines.some(pred)) return Promise.resolve();
      return new Promise<void>((ok, fail) => {
        const timer = setTimeout(
          () =>
            fail(
              new Error(
                `${cmd}: no matching line within ${timeoutMs} ms: ${JSON.stringify(lines)}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          pred,
          ok: () => {
            clearTimeout(timer);
            ok();
          },
        });
      });
    },
  };
}
