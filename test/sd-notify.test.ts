// SPDX-License-Identifier: GPL-2.0-or-later
// systemd notifications: the addon's datagrams (path and abstract sockets) and the controller's READY/WATCHDOG/STOPPING.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { isSwitchboardError } from '../src/core/errors.ts';
import { paths } from '../src/runtime/paths.ts';
import { startProcess } from '../src/runtime/process.ts';
import { ServiceNotifier, sdNotify, watchdogIntervalMs } from '../src/system/sd-notify.ts';
import { eventually, type TestSim, withSim } from './helpers/dahdi.ts';

/** A unix datagram socket bound by python3 that prints each datagram it receives as a JSON line. */
interface Receiver {
  address: string;
  messages: string[];
  close(): Promise<void>;
}

const RECEIVER = `
import json, socket, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('\\0' + addr[1:] if addr.startswith('@') else addr)
print(json.dumps({'bound': addr}), flush=True)
while True:
    print(json.dumps({'datagram': s.recv(65536).decode()}), flush=True)
`;

async function receiver(address: string): Promise<Receiver> {
  const child: ChildProcess = spawn('python3', ['-c', RECEIVER, address], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const messages: string[] = [];
  let partial = '';
  let bound: () => void = () => {};
  const ready = new Promise<void>((ok) => {
    bound = ok;
  });
  child.stdout?.on('data', (d: Buffer) => {
    partial += d.toString();
    for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
      const line = JSON.parse(partial.slice(0, nl)) as { bound?: string; datagram?: string };
      partial = partial.slice(nl + 1);
      if (line.bound !== undefined) bound();
      if (line.datagram !== undefined) messages.push(line.datagram);
    }
  });
  await ready;
  return {
    address,
    messages,
    async close() {
      child.kill('SIGTERM');
      await new Promise((ok) => child.once('exit', ok));
    },
  };
}

const silent = pino({ level: 'silent' });

describe('sdNotify (the addon)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-notify-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('sends one datagram to a socket path', async () => {
    const r = await receiver(join(dir, 'notify.sock'));
    try {
      assert.equal(sdNotify('READY=1\nSTATUS=up', { NOTIFY_SOCKET: r.address }), true);
      assert.equal(sdNotify('WATCHDOG=1', { NOTIFY_SOCKET: r.address }), true);
      assert.ok(await eventually(async () => r.messages.length === 2));
      assert.deepEqual(r.messages, ['READY=1\nSTATUS=up', 'WATCHDOG=1']);
    } finally {
      await r.close();
    }
  });

  it("sends to an abstract socket named with '@'", async () => {
    const r = await receiver(`@switchboard-test-${process.pid}`);
    try {
      assert.equal(sdNotify('STOPPING=1', { NOTIFY_SOCKET: r.address }), true);
      assert.ok(await eventually(async () => r.messages.length === 1));
      assert.deepEqual(r.messages, ['STOPPING=1']);
    } finally {
      await r.close();
    }
  });

  it('does nothing without NOTIFY_SOCKET (not started by systemd)', () => {
    assert.equal(sdNotify('READY=1', {}), false);
    assert.equal(sdNotify('READY=1', { NOTIFY_SOCKET: '' }), false);
  });

  it('refuses a socket name that is neither a path nor abstract, and reports a socket nobody binds', () => {
    assert.throws(
      () => sdNotify('READY=1', { NOTIFY_SOCKET: 'relative/notify.sock' }),
      (err) => isSwitchboardError(err, 'E_USAGE') && /NOTIFY_SOCKET/.test(err.message),
    );
    assert.throws(
      () => sdNotify('READY=1', { NOTIFY_SOCKET: join(dir, 'nobody.sock') }),
      (err) =>
        isSwitchboardError(err, 'E_SD_NOTIFY') &&
        (err.cause as { syscall?: string }).syscall === 'sendto',
    );
  });
});

describe('watchdogIntervalMs', () => {
  it('is half of WATCHDOG_USEC, for this process only', () => {
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42), 15_000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42), 15_000);
    assert.equal(
      watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 42),
      undefined,
    );
    assert.equal(watchdogIntervalMs({}, 42), undefined);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' }, 42), undefined);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '0' }, 42), undefined);
  });
});

describe('ServiceNotifier', () => {
  it('pings the watchdog only while the health check passes, and says why not once', () => {
    const sent: string[] = [];
    const n = new ServiceNotifier({ log: silent, env: {}, send: (s) => sent.push(s) });
    assert.equal(n.tick(), false, 'no pings before READY');
    let problem: string | undefined;
    n.ready('running: test', () => problem);
    assert.equal(n.tick(), true);
    problem = 'the engine does not answer';
    assert.equal(n.tick(), false);
    assert.equal(n.tick(), false);
    problem = undefined;
    assert.equal(n.tick(), true);
    assert.equal(n.tick(), true);
    n.stopping('stopping');
    assert.equal(n.tick(), false, 'no pings after STOPPING');
    assert.deepEqual(sent, [
      'READY=1\nSTATUS=running: test',
      'WATCHDOG=1',
      'STATUS=unhealthy: the engine does not answer',
      'WATCHDOG=1\nSTATUS=running: test',
      'WATCHDOG=1',
      'STOPPING=1\nSTATUS=stopping',
    ]);
  });

  it('counts a throwing health check as unhealthy', () => {
    const sent: string[] = [];
    const n = new ServiceNotifier({ log: silent, env: {}, send: (s) => sent.push(s) });
    n.ready('running', () => {
      throw new Error('snapshot failed');
    });
    assert.equal(n.tick(), false);
    assert.deepEqual(sent, ['READY=1\nSTATUS=running', 'STATUS=unhealthy: snapshot failed']);
  });

  it('is a no-op outside systemd', () => {
    const n = new ServiceNotifier({ log: silent, env: {} });
    assert.equal(n.active, false);
    n.status('starting');
    n.ready('running', () => undefined);
    assert.equal(n.tick(), true);
    n.stopping('stopping');
  });

  it('logs a notification that cannot be sent and carries on', () => {
    const n = new ServiceNotifier({ log: silent, env: { NOTIFY_SOCKET: '/nonexistent/notify' } });
    assert.equal(n.active, true);
    n.status('starting');
    n.ready('running', () => undefined);
    assert.equal(n.tick(), true);
    n.stopping('stopping');
  });
});

describe('the controller under Type=notify', () => {
  let sim: TestSim;
  let r: Receiver;
  let dataDir: string;
  before(async () => {
    sim = await withSim({ spans: [{ type: 'E1' }] });
    dataDir = mkdtempSync(join(tmpdir(), 'switchboard-notify-data-'));
    r = await receiver(join(dataDir, 'notify.sock'));
  });
  after(async () => {
    await r.close();
    await sim.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('says READY once serving, pings the watchdog at half WATCHDOG_USEC, then STOPPING', async () => {
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
      ],
      // 400 ms: a ping every 200 ms.
      {
        env: { ...sim.env, NOTIFY_SOCKET: r.address, WATCHDOG_USEC: '400000' },
        timeoutMs: 120_000,
      },
    );
    await proc.waitFor((l) => l.msg === 'controller started' || l.level === 60, 60_000);
    const started = proc.lines.find((l) => l.msg === 'controller started');
    assert.ok(started, JSON.stringify(proc.lines.at(-1)));
    // The API answers by the time READY=1 was sent.
    const health = await fetch(`${started.address}/api/health`);
    assert.notEqual(health.status, 404);
    const pings = () => r.messages.filter((m) => m === 'WATCHDOG=1').length;
    assert.ok(await eventually(async () => pings() >= 3, 30_000), r.messages.join(' | '));
    process.kill(proc.pid as number, 'SIGTERM');
    const done = await proc.done;
    assert.equal(done.code, 0, done.stderr);
    assert.ok(await eventually(async () => r.messages.some((m) => m.startsWith('STOPPING=1'))));

    // The sequence: status lines while starting, READY=1 with the running status, pings, STOPPING=1.
    const kinds = r.messages.map((m) => m.split('\n')[0]?.split('=')[0]);
    const ready = kinds.indexOf('READY');
    const stopping = kinds.indexOf('STOPPING');
    assert.ok(ready > 0, 'a STATUS line comes before READY');
    assert.ok(r.messages[0]?.startsWith('STATUS=starting'), r.messages[0]);
    assert.match(
      r.messages[ready] as string,
      /^READY=1\nSTATUS=running: API on http:\/\/127\.0\.0\.1:\d+/,
    );
    assert.equal(stopping, kinds.length - 1, 'STOPPING is the last notification');
    assert.match(r.messages[stopping] as string, /^STOPPING=1\nSTATUS=stopping on SIGTERM/);
    assert.deepEqual(
      [...new Set(kinds.slice(ready + 1, stopping))],
      ['WATCHDOG'],
      'only pings between READY and STOPPING',
    );
    assert.equal(kinds.slice(0, ready).includes('WATCHDOG'), false, 'no ping before READY');
    assert.ok(pings() >= 3);
  });
});
