// SPDX-License-Identifier: GPL-2.0-or-later
// The board controller over a real pty pair (socat) to the simulated MCU: LEDs, watchdog, relay, lost and garbled MCU.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  BoardController,
  type BoardTimers,
  boardTimers,
  type LinkState,
} from '../src/board/controller.ts';
import { loadBoardModel } from '../src/board/model.ts';
import type { McuEvent } from '../src/board/protocol.ts';
import { isSwitchboardError } from '../src/core/errors.ts';
import type { DahdiAlarm, DahdiSpan } from '../src/native/addon.ts';
import { paths } from '../src/runtime/paths.ts';
import { startProcess } from '../src/runtime/process.ts';
import {
  type BoardPair,
  captureLog,
  demoSpans,
  mcuLeds,
  until,
  withBoardPair,
} from './helpers/board.ts';
import { runCli } from './helpers/cli.ts';
import { prng } from './helpers/signal.ts';

const model = loadBoardModel('sim-demo');

/** Short timers: resends after 100 ms, three of them; spans read only when the test says. */
const FAST: Partial<BoardTimers> = {
  ackMs: 100,
  retries: 3,
  watchdogMs: 2000,
  reconnectMinMs: 20,
  reconnectMaxMs: 200,
  spanPollMs: 60_000,
  idleFlushMs: 50,
};

describe('the board controller on a pty pair with the simulated MCU', () => {
  let pair: BoardPair;
  let spans: DahdiSpan[];
  let bc: BoardController | undefined;
  let links: LinkState[];
  let events: McuEvent[];
  let logged: ReturnType<typeof captureLog>;
  let dahdiDown = false;

  function controller(timers: Partial<BoardTimers> = {}): BoardController {
    logged = captureLog();
    const c = new BoardController({
      model,
      device: pair.host,
      spans: () => {
        if (dahdiDown) throw new Error('cannot open /dev/dahdi/ctl');
        return spans;
      },
      address: () => '10.0.0.7',
      log: logged.log,
      timers: { ...FAST, ...timers },
    });
    links = [];
    events = [];
    c.on('link', (s) => links.push(s));
    c.on('mcuEvent', (e) => events.push(e));
    bc = c;
    return c;
  }

  /** Sets a span's alarms (and whether dahdi_cfg configured it), then has the controller read them. */
  function inject(span: number, alarms: DahdiAlarm[], configured = true): void {
    const s = spans[span - 1] as DahdiSpan;
    s.alarms = alarms;
    s.numchans = configured ? s.totalchans : 0;
    bc?.refresh();
  }

  async function connected(c: BoardController): Promise<void> {
    await until(
      () => c.link === 'connected' && pair.mcu().state.relay === 'open',
      'the MCU connected and the relay open',
    );
  }

  /** Waits until the MCU shows `leds` and the controller has its LCD acknowledged. */
  async function shows(c: BoardController, leds: string[], alarmLine: string): Promise<void> {
    await until(
      () =>
        mcuLeds(pair.mcu()).join() === leds.join() &&
        c.state().lcd[1]?.trimEnd() === alarmLine &&
        pair.mcu().state.lcd[1]?.trimEnd() === alarmLine,
      `LEDs ${leds.join()} and "${alarmLine}"`,
    );
  }

  beforeEach(async () => {
    pair = await withBoardPair();
    spans = demoSpans();
    dahdiDown = false;
  });
  afterEach(async () => {
    await bc?.abandon();
    bc = undefined;
    await pair.close();
  });

  it('shows the span alarms on the LEDs and the LCD as they change', async () => {
    const c = controller();
    c.start();
    await connected(c);
    const g = 'green';
    await shows(c, [g, g, g, g, g, g], '6 SPANS OK');
    const steps: [number, DahdiAlarm[], boolean, string[], string][] = [
      [1, ['RED', 'LOS'], true, ['red', g, g, g, g, g], 'ALM 1R'],
      [2, ['YELLOW'], true, ['red', 'yellow', g, g, g, g], 'ALM 1R 2Y'],
      [1, ['BLUE'], true, ['yellow-blink', 'yellow', g, g, g, g], 'ALM 1Y 2Y'],
      [1, [], true, [g, 'yellow', g, g, g, g], 'ALM 2Y'],
      [2, ['RECOVER'], true, [g, 'green-blink', g, g, g, g], '6 SPANS OK'],
      [6, [], false, [g, 'green-blink', g, g, g, 'off'], '5 SPANS OK'],
      [5, ['LFA'], true, [g, 'green-blink', g, g, 'red', 'off'], 'ALM 5R'],
    ];
    for (const [span, alarms, configured, leds, line] of steps) {
      inject(span, alarms, configured);
      await shows(c, leds, line);
    }
    // The MCU saw exactly one LED_SET per change, in order, and one LCD line per new summary.
    const records = pair.mcu().records;
    assert.deepEqual(
      records.filter((r) => r.msg === 'leds').map((r) => (r.leds as string[]).join()),
      [[g, g, g, g, g, g].join(), ...steps.map((s) => s[3].join())],
    );
    assert.deepEqual(
      records.filter((r) => r.msg === 'lcd' && r.row === 1).map((r) => String(r.text).trimEnd()),
      [
        '6 SPANS OK',
        'ALM 1R',
        'ALM 1R 2Y',
        'ALM 1Y 2Y',
        'ALM 2Y',
        '6 SPANS OK',
        '5 SPANS OK',
        'ALM 5R',
      ],
    );
    assert.equal(pair.mcu().state.lcd[0], 'IP 10.0.0.7     ');
    const state = c.state();
    assert.deepEqual(
      state.leds.map((l) => `${l.span}:${l.colour}${l.blink ? '-blink' : ''}`),
      ['1:green', '2:green-blink', '3:green', '4:green', '5:red', '6:off'],
    );
    assert.equal(state.mcu?.firmware, 'sim-mcu 1.0');
    assert.equal(state.relay, 'open');
    assert.equal(state.watchdog.state, 'armed');
    assert.equal(state.counters.garbled, 0);
    assert.equal(state.counters.lost, 0);
    assert.deepEqual(links, ['opening', 'hello', 'connected']);
  });

  it('blinks every LED red when the spans cannot be read', async () => {
    const c = controller();
    c.start();
    await connected(c);
    dahdiDown = true;
    c.refresh();
    await until(
      () => mcuLeds(pair.mcu()).every((l) => l === 'red-blink'),
      'every LED blinking red',
    );
    await until(() => pair.mcu().state.lcd[1]?.trimEnd() === 'DAHDI DOWN', 'DAHDI DOWN');
    assert.equal(c.link, 'connected');
    // Said once, however often it is read.
    c.refresh();
    assert.equal(
      logged.lines.filter((l) => String(l.msg).startsWith('board controller: spans cannot be read'))
        .length,
      1,
    );
    dahdiDown = false;
    c.refresh();
    await until(() => mcuLeds(pair.mcu()).every((l) => l === 'green'), 'green again');
  });

  it('a watchdog kick missed for too long: the MCU reports it and closes the relay', async () => {
    // Kicked once at connection, then not for an hour: the MCU's 300 ms run out.
    const c = controller({ watchdogMs: 300, kickMs: 3_600_000 });
    c.start();
    await connected(c);
    await until(() => c.counters.watchdogExpired >= 1, 'EVENT WATCHDOG_EXPIRED');
    // The controller is alive, so it arms the watchdog again and takes the line back.
    await until(
      () => pair.mcu().records.filter((r) => r.msg === 'relay').length >= 3,
      'the relay opened again',
    );
    await until(
      () => events.filter((e) => e.event === 'RELAY_CHANGED').length >= 3,
      'the controller told of the three relay changes',
    );
    const mcu = pair.mcu();
    assert.deepEqual(
      mcu.records
        .filter((r) => r.msg === 'relay' || r.msg === 'watchdog expired')
        .slice(0, 4)
        .map((r) => (r.msg === 'relay' ? `relay ${r.relay} (${r.cause})` : r.msg)),
      ['relay open (host)', 'watchdog expired', 'relay closed (watchdog)', 'relay open (host)'],
    );
    assert.deepEqual(
      events
        .filter((e) => e.event !== 'RESET')
        .slice(0, 4)
        .map((e) => (e.event === 'RELAY_CHANGED' ? `${e.event} ${e.relay} ${e.cause}` : e.event)),
      [
        'RELAY_CHANGED open host',
        'WATCHDOG_EXPIRED',
        'RELAY_CHANGED closed watchdog',
        'RELAY_CHANGED open host',
      ],
    );
    const reported = logged.lines.filter((l) => String(l.msg).includes('watchdog expired'));
    assert.ok(reported.length >= 1);
    assert.equal(reported[0]?.level, 50);
    assert.ok(mcu.state.counters.watchdogExpiries >= 1);
  });

  it('closes the bypass relay and disarms the watchdog on a deliberate stop', async () => {
    const c = controller();
    c.start();
    await connected(c);
    await shows(c, ['green', 'green', 'green', 'green', 'green', 'green'], '6 SPANS OK');
    await c.stop();
    const mcu = pair.mcu();
    assert.equal(mcu.state.relay, 'closed');
    assert.equal(mcu.state.relayCause, 'host');
    assert.equal(mcu.state.watchdog, 'disarmed');
    assert.equal(mcu.state.lcd[1], 'SWITCH STOPPED  ');
    assert.deepEqual(
      mcu.records
        .filter((r) => r.msg !== 'frame')
        .slice(-3)
        .map((r) => `${r.msg} ${r.relay ?? r.state ?? String(r.text).trimEnd()}`),
      ['relay closed', 'watchdog disarmed', 'lcd SWITCH STOPPED'],
    );
    assert.deepEqual(links, ['opening', 'hello', 'connected', 'stopping', 'stopped']);
    // Stopping twice is harmless.
    await c.stop();
    assert.equal(c.link, 'stopped');
  });

  it('a controller that dies without stopping: the MCU watchdog closes the relay', async () => {
    const c = controller({ watchdogMs: 300 });
    c.start();
    await connected(c);
    await c.abandon();
    const mcu = pair.mcu();
    await until(() => mcu.state.relay === 'closed', 'the relay closed by the watchdog');
    assert.equal(mcu.state.relayCause, 'watchdog');
    assert.equal(mcu.state.watchdog, 'expired');
    assert.equal(mcu.state.counters.watchdogExpiries, 1);
  });

  it('reports a silent MCU lost, retries with backoff, and reconnects when it answers again', async () => {
    // A long watchdog: the outage must not outlast it (the relay stays open throughout).
    const c = controller({ watchdogMs: 20_000 });
    c.start();
    await connected(c);
    await shows(c, ['green', 'green', 'green', 'green', 'green', 'green'], '6 SPANS OK');
    const mcu = pair.mcu();
    let recordsBefore = 0;
    let retriesBefore = 0;
    let retriesWhenBack = 0;
    let lostWhenBack = 0;
    // The MCU speaks again right after the third failed attempt, between two attempts.
    c.on('link', (s) => {
      const lost = links.filter((l) => l === 'lost').length;
      if (s === 'lost' && lost === 3) {
        recordsBefore = mcu.records.length;
        mcu.setSilent(false);
      }
      if (s === 'connected' && lost === 3) {
        retriesWhenBack = c.counters.retries;
        lostWhenBack = c.counters.lost;
      }
    });
    retriesBefore = c.counters.retries;
    mcu.setSilent(true);
    inject(3, ['RED']); // a frame that will not be answered
    await until(() => links.filter((l) => l === 'lost').length >= 3, 'three failed attempts');
    await until(() => c.link === 'connected', 'the MCU back');
    await shows(c, ['green', 'green', 'red', 'green', 'green', 'green'], 'ALM 3R');
    // Three attempts without an answer, each frame sent 1 + 3 times; the next HELLO answered.
    assert.equal(links.filter((l) => l === 'lost').length, 3);
    assert.equal(retriesWhenBack - retriesBefore, 3 * 3);
    assert.equal(lostWhenBack, 1);
    assert.equal(c.counters.reconnects, 1);
    // Back again, the MCU is given everything: its state is not trusted across the outage.
    const after = mcu.records
      .slice(recordsBefore)
      .filter((r) => r.msg === 'frame')
      .map((r) => r.type);
    assert.deepEqual(after.slice(0, 5), ['HELLO', 'WATCHDOG', 'LED_SET', 'LCD_TEXT', 'LCD_TEXT']);
    assert.equal(mcu.state.relay, 'open');
    // Reported once when lost, once when back; the failed attempts in between only at debug.
    const lines = logged.lines.map((l) => `${l.level} ${l.msg}`);
    assert.equal(lines.filter((l) => l.startsWith('50 board MCU lost')).length, 1);
    assert.equal(lines.filter((l) => l === '30 board MCU answers again').length, 1);
    assert.equal(c.state().lastError, null);
    assert.deepEqual(links, [
      'opening',
      'hello',
      'connected',
      'lost',
      'opening',
      'hello',
      'lost',
      'opening',
      'hello',
      'lost',
      'opening',
      'hello',
      'connected',
    ]);
  });

  it('gives an MCU that restarted everything again', async () => {
    const c = controller();
    c.start();
    await connected(c);
    inject(2, ['RED']);
    await shows(c, ['green', 'red', 'green', 'green', 'green', 'green'], 'ALM 2R');
    await pair.stopMcu();
    inject(4, ['YELLOW']);
    await until(() => c.counters.lost === 1, 'the MCU lost');
    const fresh = await pair.restartMcu();
    assert.equal(fresh.state.relay, 'closed');
    await connected(c);
    await shows(c, ['green', 'red', 'green', 'yellow', 'green', 'green'], 'ALM 2R 4Y');
    assert.equal(fresh.state.watchdog, 'armed');
    assert.equal(c.counters.reconnects, 1);
  });

  it('counts garbled frames and noise, resends, and carries on', async () => {
    const c = controller();
    c.start();
    await connected(c);
    await shows(c, ['green', 'green', 'green', 'green', 'green', 'green'], '6 SPANS OK');
    const mcu = pair.mcu();
    const retries = c.counters.retries;
    // Five bytes of noise, then the next three frames the MCU sends damaged.
    mcu.inject(Buffer.from('hello'));
    mcu.garble(3);
    inject(1, ['RED']);
    await shows(c, ['red', 'green', 'green', 'green', 'green', 'green'], 'ALM 1R');
    // The noise became one broken frame (it sat between frames), each damaged ACK another.
    assert.equal(c.counters.garbled, 4);
    // At least the three resends (a slow machine may add a timeout of its own).
    assert.ok(c.counters.retries - retries >= 3);
    assert.equal(mcu.state.counters.garbledOut, 3);
    assert.equal(c.counters.lost, 0);
    assert.deepEqual(links, ['opening', 'hello', 'connected']);
    assert.equal(
      logged.lines.filter((l) => l.msg === 'garbled frame from the board MCU dropped').length,
      1,
    );
    // Random bytes on the line: dropped and counted, never thrown, and the link stays up.
    const rnd = prng(5);
    mcu.inject(Buffer.from(Array.from({ length: 5000 }, () => Math.floor(rnd() * 256))));
    inject(1, []);
    await shows(c, ['green', 'green', 'green', 'green', 'green', 'green'], '6 SPANS OK');
    assert.ok(c.counters.garbled + c.counters.noiseBytes > 4);
    assert.equal(c.counters.lost, 0);
    assert.equal(c.link, 'connected');
  });

  it('refuses timers out of range and a model without a device, naming them', () => {
    assert.throws(
      () => boardTimers({ ackMs: 5 }),
      (err) =>
        isSwitchboardError(err, 'E_CONFIG_FIELD') &&
        /board timer ackMs: 5 is out of range 20\.\.5000 ms/.test(err.message),
    );
    assert.throws(
      () => new BoardController({ model, spans: () => [], log: captureLog().log }),
      (err) =>
        isSwitchboardError(err, 'E_CONFIG_FIELD') &&
        /sim-demo has no serial device \(controller\.device\)/.test(err.message),
    );
  });

  it('keeps retrying a device that does not exist, without throwing', async () => {
    const { log, lines } = captureLog();
    const c = new BoardController({
      model,
      device: `${pair.host}-missing`,
      spans: () => spans,
      log,
      timers: FAST,
    });
    const seen: LinkState[] = [];
    c.on('link', (s) => seen.push(s));
    c.start();
    await until(() => seen.filter((s) => s === 'lost').length >= 3, 'three attempts');
    await c.stop();
    assert.equal(c.link, 'stopped');
    assert.equal(c.counters.lost, 0, 'never connected, so never lost');
    assert.equal(
      lines.filter((l) => l.msg === 'board MCU not answering: retrying with backoff').length,
      1,
    );
    assert.match(String(c.state().lastError), /cannot open .*-missing/);
  });
});

describe('switchboard board sim-mcu', () => {
  it('answers on the pty pair it makes with socat, steered by standard input', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-sim-mcu-'));
    const link = join(dir, 'board');
    const proc = startProcess(process.execPath, [
      paths.cli,
      'board',
      'sim-mcu',
      '--pty',
      link,
      '--model',
      'sb-4e1',
    ]);
    try {
      await proc.waitFor((l) => l.msg === 'simulated board MCU up', 30_000);
      const { log } = captureLog();
      const c = new BoardController({
        model: loadBoardModel('sb-4e1'),
        device: link,
        spans: () => demoSpans().slice(0, 4),
        log,
        timers: FAST,
      });
      const events: McuEvent[] = [];
      c.on('mcuEvent', (e) => events.push(e));
      c.start();
      await proc.waitFor((l) => l.msg === 'relay' && l.relay === 'open');
      await proc.waitFor((l) => l.msg === 'leds');
      proc.send('button 3\n');
      await until(() => events.some((e) => e.event === 'BUTTON' && e.button === 3), 'BUTTON 3');
      await c.stop();
      await proc.waitFor((l) => l.msg === 'relay' && l.relay === 'closed' && l.cause === 'host');
      // The model gives the MCU its panel: four LEDs.
      const leds = proc.lines.find((l) => l.msg === 'leds')?.leds;
      assert.deepEqual(leds, ['green', 'green', 'green', 'green']);
    } finally {
      if (proc.pid !== undefined) process.kill(proc.pid, 'SIGTERM');
    }
    const done = await proc.done;
    assert.equal(done.code, 0);
    assert.equal(existsSync(link), false, 'the pty link is removed with socat');
  });

  it('takes exactly one of --device and --pty', async () => {
    for (const args of [[], ['--device', '/dev/null', '--pty', '/tmp/x']]) {
      const r = await runCli('board', 'sim-mcu', ...args);
      assert.equal(r.code, 2);
      assert.match(r.err, /give exactly one of --device PATH and --pty LINK/);
    }
  });
});
