// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard firmware ...` at a shell against fake boot tools: install, reboot, the health check that keeps or rolls back.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runProcess } from '../src/runtime/process.ts';
import { FACTORY_RESET_MARKER } from '../src/update/factory-reset.ts';
import { DEV_KEYS, type FakeBoot, fakeBoot, makeBundle } from './helpers/fake-boot.ts';

const CLI = fileURLToPath(new URL('../bin/switchboard.mjs', import.meta.url));

/** A box running firmware 0.2.0 with fake boot tools, and the CLI's environment on it. */
function box(root: string, name: string): { boot: FakeBoot; env: NodeJS.ProcessEnv } {
  const dir = join(root, name);
  const boot = fakeBoot(dir, { version: '0.2.0' });
  const release = join(dir, 'release.json');
  writeFileSync(
    release,
    JSON.stringify({
      model: 'sim-demo',
      version: '0.2.0',
      compatible: 'switchboard-sim-demo',
      build: 'v0.2.0',
    }),
  );
  return {
    boot,
    env: {
      ...boot.env,
      SWITCHBOARD_RELEASE_FILE: release,
      SWITCHBOARD_KEYRING: DEV_KEYS.keyring,
      SWITCHBOARD_LOG_LEVEL: 'warn',
    },
  };
}

function cli(env: NodeJS.ProcessEnv, ...args: string[]) {
  return runProcess(process.execPath, [CLI, ...args], { env, timeoutMs: 120_000 });
}

/** A port nothing listens on (one the system just gave out and took back). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address() as AddressInfo;
  await new Promise((ok) => s.close(ok));
  return port;
}

/** Stands in for the controller: answers every request 401, as the API does without a login. */
async function guardedApi(): Promise<{ url: string; server: Server; hits: () => number }> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end('{"error":"E_AUTH_REQUIRED"}');
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server, hits: () => hits };
}

describe('switchboard firmware at a shell', () => {
  const root = mkdtempSync(join(tmpdir(), 'switchboard-fwcli-'));
  let good: string;
  let older: string;
  after(() => rmSync(root, { recursive: true, force: true }));
  before(() => {
    mkdirSync(join(root, 'bundles'));
    good = makeBundle(join(root, 'bundles'), 'good', { version: '0.3.0' });
    older = makeBundle(join(root, 'bundles'), 'older', { version: '0.1.0' });
  });

  it('rolls back when the new slot never becomes healthy: mark-bad, reboot, the old slot runs again', async () => {
    const { boot, env } = box(root, 'rollback');
    const installed = await cli(env, 'firmware', 'install', good);
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stdout, /^ {2}0% installing: firmware 0\.3\.0 verified/m);
    assert.match(installed.stdout, / 40% installing: Copying image to rootfs\.1$/m);
    assert.match(
      installed.stdout,
      /^firmware 0\.3\.0 installed to slot B \(rootfs\.1\): reboot to run it \(systemctl reboot\)$/m,
    );
    const reboot = await runProcess(boot.tools.systemctl, ['reboot'], { env });
    assert.equal(reboot.code, 0);
    assert.equal(boot.read().booted, 'B');

    // The new slot's controller never answers.
    const port = await closedPort();
    const r = await cli(
      env,
      'firmware',
      'mark-good',
      '--url',
      `http://127.0.0.1:${port}`,
      '--timeout-s',
      '1',
    );
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(
      r.stderr,
      `error: the API at http://127.0.0.1:${port} does not answer after 1 s: slot B is marked bad and the box reboots into the other slot\n`,
    );
    const state = boot.read();
    assert.deepEqual(
      boot.calls('rauc', 'status').filter((c) => c[2]?.startsWith('mark')),
      [['rauc', 'status', 'mark-bad', 'booted']],
    );
    assert.equal(state.reboots, 2);
    assert.deepEqual(state.bootLog, ['B', 'A']);
    assert.equal(state.booted, 'A');
    assert.equal(state.grubenv.B_OK, '0');

    const status = await cli(env, 'firmware', 'status', '--json');
    assert.equal(status.code, 0, status.stderr);
    const view = JSON.parse(status.stdout) as {
      version: string;
      booted: string;
      slots: { bootname: string; good: boolean; version: string }[];
    };
    assert.equal(view.version, '0.2.0');
    assert.equal(view.booted, 'A');
    assert.deepEqual(
      view.slots.map((s) => [s.bootname, s.good, s.version]),
      [
        ['A', false, '0.2.0'],
        ['B', false, '0.3.0'],
      ],
    );
  });

  it('keeps the new slot when the API answers (401 counts) and the unit is active', async () => {
    const { boot, env } = box(root, 'keep');
    const api = await guardedApi();
    try {
      assert.equal((await cli(env, 'firmware', 'install', good)).code, 0);
      await runProcess(boot.tools.systemctl, ['reboot'], { env });
      const r = await cli(env, 'firmware', 'mark-good', '--url', api.url, '--timeout-s', '30');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^slot B marked good: the API at http:\/\/127\.0\.0\.1:\d+ answers/m);
      assert.ok(api.hits() >= 1);
      const state = boot.read();
      assert.equal(state.booted, 'B');
      assert.deepEqual([state.grubenv.B_OK, state.grubenv.B_TRY, state.reboots], ['1', '0', 1]);
    } finally {
      api.server.close();
    }
  });

  it('rolls back when the API answers but the controller unit is not active', async () => {
    const { boot, env } = box(root, 'inactive');
    const api = await guardedApi();
    try {
      assert.equal((await cli(env, 'firmware', 'install', good)).code, 0);
      await runProcess(boot.tools.systemctl, ['reboot'], { env });
      const s = boot.read();
      s.units['switchboard.service'] = 'activating';
      boot.write(s);
      const r = await cli(env, 'firmware', 'mark-good', '--url', api.url, '--timeout-s', '1');
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /^error: switchboard\.service is not active after 1 s: slot B is marked bad/,
      );
      assert.equal(boot.read().booted, 'A');
    } finally {
      api.server.close();
    }
  });

  it('verifies without installing, and refuses a downgrade naming both versions', async () => {
    const { boot, env } = box(root, 'verify');
    const ok = await cli(env, 'firmware', 'verify', good);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(
      ok.stdout,
      /signed RAUC bundle \(verity, \d+ KiB payload checked against its signed hash\), firmware 0\.3\.0 for switchboard-sim-demo: this box \(0\.2\.0\) would install it/,
    );
    for (const sub of ['verify', 'install']) {
      const bad = await cli(env, 'firmware', sub, older);
      assert.equal(bad.code, 1);
      assert.equal(
        bad.stderr,
        'error: refused: the bundle is firmware 0.1.0, older than the 0.2.0 this box runs (downgrades are refused)\n',
      );
    }
    assert.deepEqual(boot.calls('rauc', 'install'), []);
    const missing = await cli(env, 'firmware', 'verify', join(root, 'nope.raucb'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such bundle file/);
  });

  it('checks its arguments: --timeout-s, --url', async () => {
    const { env } = box(root, 'usage');
    const t = await cli(env, 'firmware', 'mark-good', '--timeout-s', '0');
    assert.equal(t.code, 2);
    assert.match(t.stderr, /--timeout-s must be a whole number from 1 to 3600/);
    const u = await cli(env, 'firmware', 'mark-good', '--url', 'not a url');
    assert.equal(u.code, 2);
    assert.match(u.stderr, /--url must be a URL/);
  });
});

describe('factory reset on a development machine', () => {
  it('`switchboard start` clears the data directory first when the marker is there, and logs it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'switchboard-reset-'));
    try {
      const data = join(root, 'data');
      mkdirSync(join(data, 'prompts', 'en'), { recursive: true });
      writeFileSync(join(data, 'switchboard.db'), 'configuration');
      writeFileSync(join(data, 'prompts', 'en', 'welcome.wav'), 'audio');
      writeFileSync(
        join(data, FACTORY_RESET_MARKER),
        JSON.stringify({ requestedAt: '2026-11-01T10:00:00.000Z', by: 'admin' }),
      );
      // A board file that does not exist stops `start` right after the reset, before any simulator.
      const r = await runProcess(
        process.execPath,
        [
          CLI,
          'start',
          '--data-dir',
          data,
          '--sim-dir',
          join(root, 'sim'),
          '--sim-config',
          join(root, 'no-board.yaml'),
        ],
        { env: { ...process.env, SWITCHBOARD_DATA_ROOT: '' }, timeoutMs: 120_000 },
      );
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /no-board\.yaml/);
      assert.deepEqual(readdirSync(data), []);
      const line = r.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === 'factory reset: the data directory was cleared before starting');
      assert.ok(line, r.stdout);
      assert.equal(line.dataRoot, data);
      assert.equal(line.removed, 2);
      assert.equal(line.by, 'admin');

      // No marker, nothing cleared.
      writeFileSync(join(data, 'switchboard.db'), 'configuration');
      const again = await runProcess(
        process.execPath,
        [
          CLI,
          'start',
          '--data-dir',
          data,
          '--sim-dir',
          join(root, 'sim'),
          '--sim-config',
          join(root, 'no-board.yaml'),
        ],
        { timeoutMs: 120_000 },
      );
      assert.equal(again.code, 1);
      assert.ok(existsSync(join(data, 'switchboard.db')));
      assert.doesNotMatch(again.stdout, /factory reset/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
