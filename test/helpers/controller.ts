// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit for the whole controller: its own process on a test simulator, an admin token, API calls.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paths } from '../../src/runtime/paths.ts';
import { type StartedProcess, startProcess } from '../../src/runtime/process.ts';
import type { TestSim } from './dahdi.ts';

/** A password the first-run rules accept. */
export const ADMIN_PASSWORD = 'Trunk-test 2026';

/** An API answer's JSON; tests read it field by field. */
// biome-ignore lint/suspicious/noExplicitAny: the API's answers are checked by the assertions
export type Json = any;

export interface RunningController {
  proc: StartedProcess;
  dataDir: string;
  base: string;
  /** A request with the admin token; the body is JSON unless it is a string (then YAML). */
  api(
    method: string,
    url: string,
    body?: unknown,
  ): Promise<{ status: number; json: Json; text: string }>;
  /** Log lines of ended calls (written to the CDR store before they are logged). */
  ended(): Record<string, unknown>[];
  stop(): Promise<void>;
}

/**
 * Starts src/controller/main.ts (with `extraArgs`) against `sim` with `config` as the fresh
 * box's configuration, runs first-run setup (or logs in, when `dataDir` holds a box already set
 * up) and makes an admin API token.
 */
export async function startController(
  sim: TestSim,
  config: object,
  dataDir = mkdtempSync(join(tmpdir(), 'switchboard-ctl-')),
  /** More options for src/controller/main.ts (`--board-serial PATH` ...). */
  extraArgs: string[] = [],
): Promise<RunningController> {
  const file = join(dataDir, 'initial.yaml');
  writeFileSync(file, JSON.stringify(config, null, 1));
  const proc = startProcess(
    process.execPath,
    [
      '--import',
      'tsx',
      paths.controllerMain,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--data-dir',
      dataDir,
      '--sim-dir',
      sim.dir,
      '--config',
      file,
      ...extraArgs,
    ],
    { env: sim.env, timeoutMs: 3600_000 },
  );
  await proc.waitFor((l) => l.msg === 'controller started' || l.level === 60, 60_000);
  const started = proc.lines.find((l) => l.msg === 'controller started');
  if (!started)
    throw new Error(`the controller did not start: ${JSON.stringify(proc.lines.at(-1))}`);
  const base = String(started.address);
  // A fresh box is set up; a restarted one (same data directory) is logged in to.
  let setup = await fetch(`${base}/api/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'admin', password: ADMIN_PASSWORD }),
  });
  if (setup.status === 409)
    setup = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'admin', password: ADMIN_PASSWORD }),
    });
  if (setup.status !== 201 && setup.status !== 200)
    throw new Error(`setup: ${setup.status} ${await setup.text()}`);
  const cookie = (setup.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const csrf = ((await setup.json()) as { csrf: string }).csrf;
  const made = await fetch(`${base}/api/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf },
    body: JSON.stringify({ name: 'tests', role: 'admin' }),
  });
  const token = ((await made.json()) as { token: string }).token;
  return {
    proc,
    dataDir,
    base,
    async api(method, url, body) {
      const headers: Record<string, string> = { authorization: `Bearer ${token}` };
      let payload: string | undefined;
      if (typeof body === 'string') {
        headers['content-type'] = 'application/yaml';
        payload = body;
      } else if (body !== undefined) {
        headers['content-type'] = 'application/json';
        payload = JSON.stringify(body);
      }
      const res = await fetch(`${base}${url}`, { method, headers, body: payload });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, json, text };
    },
    ended: () => proc.lines.filter((l) => l.msg === 'call ended' && typeof l.call === 'string'),
    async stop() {
      const signal = (s: NodeJS.Signals) => {
        try {
          if (proc.pid !== undefined) process.kill(proc.pid, s);
        } catch {} // already gone (a test killed it)
      };
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), 15_000);
      await proc.done;
      clearTimeout(timer);
    },
  };
}
