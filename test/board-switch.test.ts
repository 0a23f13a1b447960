// SPDX-License-Identifier: GPL-2.0-or-later
// The whole controller on the simulated demo board with a simulated MCU on a pty: alarms on the LEDs, relay on stop and on a crash.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { paths } from '../src/runtime/paths.ts';
import { SimClient } from '../src/sim/client.ts';
import { loadSimConfig } from '../src/sim/config.ts';
import { renderSystemConf } from '../src/sim/dahdiconf.ts';
import { type BoardPair, mcuLeds, until, withBoardPair } from './helpers/board.ts';
import { type Json, type RunningController, startController } from './helpers/controller.ts';
import { type TestSim, withConfiguredSim } from './helpers/dahdi.ts';

const g = 'green';

describe('the controller drives the board MCU on the simulated demo board', () => {
  let sim: TestSim;
  let pair: BoardPair;
  let ctl: RunningController | undefined;
  let model: string;
  let dataDir: string;

  before(async () => {
    const demo = loadSimConfig(paths.demoBoard);
    sim = await withConfiguredSim(demo, renderSystemConf(demo, { source: paths.demoBoard }));
    pair = await withBoardPair();
    // sim-demo with a 3 s watchdog (kicked every second), so a crash shows within the test. A loaded
    // machine may stall the controller past it now and then: the assertions do not count on none.
    dataDir = mkdtempSync(join(tmpdir(), 'switchboard-board-ctl-'));
    model = join(dataDir, 'sim-demo-fast.yaml');
    writeFileSync(
      model,
      readFileSync(join(paths.boardModels, 'sim-demo.yaml'), 'utf8')
        .replace('id: sim-demo', 'id: sim-demo-fast')
        .replace('watchdogMs: 15000', 'watchdogMs: 3000'),
    );
  });
  after(async () => {
    await ctl?.stop();
    await pair?.close();
    await sim?.stop();
  });

  const start = () =>
    startController(sim, {}, dataDir, ['--board-model', model, '--board-serial', pair.host]);

  it('shows the spans on the LEDs and follows a line fault, in the MCU and in GET /api/board', async () => {
    ctl = await start();
    const mcu = pair.mcu();
    // Spans 1-4 are cabled in pairs, the T1 (5) has no far end (red), the analog card (6) is up.
    await until(
      () => mcu.state.relay === 'open' && mcuLeds(mcu).join() === [g, g, g, g, 'red', g].join(),
      'the demo board on the LEDs',
    );
    await new SimClient(sim.dir).fault(1, { fault: 'los' });
    // Span 1 loses its signal (red); its far end, span 2, sees RAI (yellow).
    await until(
      () => mcuLeds(mcu).join() === ['red', 'yellow', g, g, 'red', g].join(),
      'LOS on span 1',
    );
    await until(() => mcu.state.lcd[1] === 'ALM 1R 2Y 5R    ', 'the alarm line');
    const board = await ctl.api('GET', '/api/board');
    assert.equal(board.status, 200);
    assert.equal(board.json.model.id, 'sim-demo-fast');
    assert.deepEqual(
      board.json.model.spans.map((s: Json) => `${s.span}:${s.type}@${s.basechan}`),
      ['1:E1@1', '2:E1@32', '3:E1@63', '4:E1@94', '5:T1@125', '6:analog@149'],
    );
    // The simulator's demo board is what the model says, fault or not.
    assert.deepEqual(board.json.mismatches, []);
    assert.equal(board.json.mcu.link, 'connected');
    assert.equal(board.json.mcu.device, pair.host);
    assert.equal(board.json.mcu.relay, 'open');
    assert.equal(board.json.mcu.mcu.firmware, 'sim-mcu 1.0');
    assert.deepEqual(
      board.json.mcu.leds.map((l: Json) => l.colour),
      ['red', 'yellow', g, g, 'red', g],
    );
    await new SimClient(sim.dir).fault(1, { fault: 'clear' });
    await until(() => mcuLeds(mcu).join() === [g, g, g, g, 'red', g].join(), 'span 1 clear');

    const health = await ctl.api('GET', '/api/system/health');
    assert.equal(health.status, 200);
    assert.ok(health.json.cpu.cores >= 1);
    assert.ok(health.json.memory.totalBytes > 0);
    assert.ok(health.json.disks.some((d: Json) => d.mount === '/'));
  });

  it('closes the bypass relay before the controller exits on SIGTERM', async () => {
    assert.ok(ctl);
    const mcu = pair.mcu();
    assert.equal(mcu.state.relay, 'open');
    await ctl.stop();
    ctl = undefined;
    // The process has exited: the relay was closed by the controller, not by the watchdog.
    assert.equal(mcu.state.relay, 'closed');
    assert.equal(mcu.state.relayCause, 'host');
    assert.equal(mcu.state.watchdog, 'disarmed');
  });

  it('leaves the relay to the MCU watchdog when the controller is killed', async () => {
    ctl = await start();
    const mcu = pair.mcu();
    await until(() => mcu.state.relay === 'open' && mcu.state.watchdog === 'armed', 'relay open');
    const expiries = mcu.state.counters.watchdogExpiries;
    process.kill(ctl.proc.pid as number, 'SIGKILL');
    await ctl.proc.done;
    ctl = undefined;
    await until(() => mcu.state.relay === 'closed', 'the watchdog closing the relay');
    assert.equal(mcu.state.relayCause, 'watchdog');
    assert.equal(mcu.state.watchdog, 'expired');
    assert.equal(mcu.state.counters.watchdogExpiries, expiries + 1);
  });
});

describe('switchboard start with the simulated board MCU', () => {
  it('drives the MCU on its pty pair, and Ctrl-C closes the relay before everything stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-start-'));
    const port = await freePort();
    // Its own process group, so the test can press Ctrl-C on it as a terminal would (SIGINT to the group).
    const child = spawn(
      process.execPath,
      [
        paths.cli,
        'start',
        '--sim-dir',
        join(dir, 'sim'),
        '--data-dir',
        join(dir, 'data'),
        '--no-carrier',
        '--no-seed',
        '--port',
        String(port),
      ],
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines: Record<string, unknown>[] = [];
    let partial = '';
    child.stdout.on('data', (d: Buffer) => {
      partial += d.toString();
      for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
        const text = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (text.startsWith('{')) lines.push(JSON.parse(text));
      }
    });
    const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
    const mcu = (msg: string) => lines.filter((l) => l.subsystem === 'sim-mcu' && l.msg === msg);
    try {
      await until(() => mcu('lcd').length >= 2, 'the LCD written', 120_000);
      assert.deepEqual(
        mcu('relay').map((l) => `${l.relay} ${l.cause}`),
        ['open host'],
      );
      assert.deepEqual(mcu('leds')[0]?.leds, [g, g, g, g, 'red', g]);
      process.kill(-(child.pid as number), 'SIGINT');
      assert.equal(await exited, 0);
    } finally {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {} // already gone
    }
    assert.deepEqual(
      mcu('relay').map((l) => `${l.relay} ${l.cause}`),
      ['open host', 'closed host'],
    );
    assert.equal(mcu('watchdog expired').length, 0);
    assert.equal(existsSync(join(dir, 'sim', 'board-host')), false);
  });
});

/** A TCP port nobody listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise((ok) => server.close(ok));
  return port;
}
