// SPDX-License-Identifier: GPL-2.0-or-later
// The IVR app: the active version per call, replacement while calls run, the flow log, the cause at the end, the call manager.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CallManager } from '../src/calls/manager.ts';
import type { CallRecord } from '../src/cdr/record.ts';
import { ivrApp } from '../src/ivr/app.ts';
import type { FlowClock } from '../src/ivr/runtime.ts';
import type { FlowDoc } from '../src/ivr/schema.ts';
import { FlowStore } from '../src/ivr/store.ts';
import type { CommandResult, EngineCommand, EngineEvent } from '../src/native/engine.ts';
import { Router } from '../src/routing/router.ts';
import { openDb } from '../src/store/db.ts';
import { FakeCall, fakeServices } from './helpers/ivr.ts';
import { Clock, events, logSink, ManualTimers, ScriptedEngine } from './helpers/scripted-engine.ts';
import { switchConfig } from './helpers/switch-config.ts';

/** A menu whose prompts say which version it is: 1 goes to `<tag>-bye`, then a hangup with `cause`. */
function menuFlow(tag: string, cause = 16, name = 'hotline'): FlowDoc {
  return {
    name,
    start: 'menu',
    nodes: {
      menu: {
        type: 'menu',
        prompt: [{ prompt: `${tag}-menu` }],
        choices: { '1': 'bye' },
        onTimeout: 'end',
      },
      bye: { type: 'play', items: [{ prompt: `${tag}-bye` }], next: 'end' },
      end: { type: 'hangup', cause },
    },
  };
}

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

function prompts(call: FakeCall): string[] {
  return call.played.flat().map((f) => f.replace(/^\/p\/en\//, '').replace(/\.wav$/, ''));
}

describe('ivr app', () => {
  it('runs the active version, logs each step under the call id and clears with the flow’s cause', async () => {
    const store = new FlowStore(openDb(':memory:'));
    store.save(menuFlow('v1', 17), { author: 'li' });
    const call = new FakeCall((cmd, c) => {
      if (cmd.op === 'play') c.press('1');
    });
    const app = ivrApp({ store, services: fakeServices(call), log: quiet });
    await app(call, { type: 'ivr', flow: 'hotline' });
    assert.equal(call.releasedWith, 17);
    assert.deepEqual(prompts(call), ['v1-menu', 'v1-bye']);
    const log = store.readLog(call.id);
    assert.deepEqual(
      log.map(
        (e) => `${e.seq} ${e.flow}@${e.version} ${e.node} ${String(e.output.edge ?? e.output.end)}`,
      ),
      ['1 hotline@1 menu choices.1', '2 hotline@1 bye next', '3 hotline@1 end hangup'],
    );
  });

  it('clears a call routed to a flow that does not exist with cause 3, and logs why', async () => {
    const store = new FlowStore(openDb(':memory:'));
    const call = new FakeCall();
    const warned: string[] = [];
    const app = ivrApp({
      store,
      services: fakeServices(call),
      log: { ...quiet, warn: (_o: object, msg: string) => warned.push(msg) },
    });
    await app(call, { type: 'ivr', flow: 'ghost' });
    assert.equal(call.releasedWith, 3);
    assert.deepEqual(call.commands, []);
    const [e] = store.readLog(call.id);
    assert.equal(e?.type, 'error');
    assert.deepEqual(e?.output, {
      error: 'there is no flow "ghost"',
      cause: 3,
      causeName: 'NO_ROUTE_DESTINATION',
    });
    assert.deepEqual(warned, ['there is no flow "ghost": the call is cleared']);
  });

  it('does not release a call whose caller hung up, and still writes its log', async () => {
    const store = new FlowStore(openDb(':memory:'));
    store.save(menuFlow('v1'), { author: 'li' });
    const call = new FakeCall((cmd, c) => {
      if (cmd.op === 'play') c.hangup();
    });
    await ivrApp({ store, services: fakeServices(call), log: quiet })(call, {
      type: 'ivr',
      flow: 'hotline',
    });
    assert.equal(call.releasedWith, undefined);
    assert.deepEqual(store.readLog(call.id)[0]?.output, { aborted: true });
  });

  it('replaces a flow while a call runs it: that call finishes on its version, the next call takes the new one', async () => {
    const store = new FlowStore(openDb(':memory:'));
    store.save(menuFlow('v1'), { author: 'li' });
    let second: Promise<void> | undefined;
    let liveLog: number | undefined;
    const call2 = new FakeCall(
      (cmd, c) => {
        if (cmd.op === 'play') c.press('1');
      },
      { id: 'b00t-2' },
    );
    const call1 = new FakeCall(
      (cmd, c, i) => {
        // During call 1's menu prompt: an installer saves version 2, and call 2 arrives.
        // While its goodbye plays, the menu step can be read (not yet written to the database).
        if (cmd.op === 'play' && i === 2) liveLog = store.readLog(c.id).length;
        if (cmd.op === 'play' && i === 1) {
          store.save(menuFlow('v2'), { author: 'wang', comment: 'new menu' });
          second = app(call2, { type: 'ivr', flow: 'hotline' });
          c.press('1');
        }
      },
      { id: 'b00t-1' },
    );
    const services = fakeServices(call1);
    services.clock.busy = () => call1.busy || call2.busy;
    const app = ivrApp({ store, services, log: quiet });
    await app(call1, { type: 'ivr', flow: 'hotline' });
    await second;
    assert.equal(liveLog, 1);
    assert.deepEqual(prompts(call1), ['v1-menu', 'v1-bye']);
    assert.deepEqual(prompts(call2), ['v2-menu', 'v2-bye']);
    assert.deepEqual(new Set(store.readLog('b00t-1').map((e) => e.version)), new Set([1]));
    assert.deepEqual(new Set(store.readLog('b00t-2').map((e) => e.version)), new Set([2]));
    assert.equal(call1.releasedWith, 16);
    assert.equal(call2.releasedWith, 16);
  });

  it('a transfer to a flow takes that flow’s version at the time of the transfer', async () => {
    const store = new FlowStore(openDb(':memory:'));
    store.save(menuFlow('sub1', 16, 'sub'), { author: 'li' });
    store.save(
      {
        name: 'main',
        start: 'hello',
        nodes: {
          hello: { type: 'play', items: [{ prompt: 'hello' }], next: 'go' },
          go: { type: 'transfer', to: { flow: 'sub' } },
        },
      },
      { author: 'li' },
    );
    const call = new FakeCall((cmd, c, i) => {
      if (cmd.op === 'play' && i === 0) store.save(menuFlow('sub2', 16, 'sub'), { author: 'wang' });
      if (cmd.op === 'play' && i > 0) c.press('1');
    });
    await ivrApp({ store, services: fakeServices(call), log: quiet })(call, {
      type: 'ivr',
      flow: 'main',
    });
    assert.deepEqual(prompts(call), ['hello', 'sub2-menu', 'sub2-bye']);
    assert.deepEqual(
      store.readLog(call.id).map((e) => `${e.flow}@${e.version}`),
      ['main@1', 'main@1', 'sub@2', 'sub@2', 'sub@2'],
    );
  });
});

/** The scripted engine, answering play with a play id as the native engine does. */
class MediaEngine extends ScriptedEngine {
  #plays = 0;
  override command(cmd: EngineCommand): Promise<CommandResult> | CommandResult {
    const r = super.command(cmd);
    if (cmd.op !== 'play') return r;
    const play = ++this.#plays;
    return Promise.resolve(r).then((x) => ({ ...x, play }));
  }
}

describe('ivr app under the call manager', () => {
  it('answers a routed call, plays the menu, takes the digit, clears it; the log is under the CDR id', async () => {
    const clock = new Clock();
    const engine = new MediaEngine();
    const records: CallRecord[] = [];
    const store = new FlowStore(openDb(':memory:'));
    store.save(menuFlow('m', 16), { author: 'li' });
    // Timers that never fire: this test sends every event itself.
    const still: FlowClock = { now: clock.now, setTimer: () => 0, clearTimer: () => undefined };
    const services = { ...fakeServices(undefined), clock: still };
    const m = new CallManager({
      engine,
      router: new Router(
        switchConfig({
          routes: {
            inbound: [
              { name: 'menu', called: '95588', destination: { type: 'ivr', flow: 'hotline' } },
            ],
          },
        }),
      ),
      now: clock.now,
      cdr: (r) => records.push(r),
      log: logSink().log,
      bootId: 'boot7',
      timers: new ManualTimers(),
      apps: new Map([['ivr', ivrApp({ store, services, log: quiet })]]),
    });
    const ev = events(clock);
    const until = async (n: number) => {
      while (engine.commands.length < n) await new Promise((r) => setImmediate(r));
    };
    await m.handle([ev.offered(41, 'pri1', '95588', '13800138000')]);
    await until(3);
    assert.deepEqual(engine.take(), [
      { op: 'answer', call: 41 },
      { op: 'detect', dtmf: true, call: 41 },
      { op: 'play', files: ['/p/en/m-menu.wav'], bargeIn: true, call: 41 },
    ]);
    const playDone = (play: number, reason: string, digit?: string) =>
      ({
        event: 'playDone',
        time: clock.ms,
        dahdiChannel: 1,
        call: 41,
        trunk: 'pri1',
        play,
        kind: 'prompt',
        reason,
        playedMs: 300,
        ...(digit ? { digit } : {}),
      }) as EngineEvent;
    await m.handle([playDone(1, 'bargeIn', '1'), ev.dtmf(41, 'pri1', '1')]);
    await until(1);
    assert.deepEqual(engine.take(), [
      { op: 'play', files: ['/p/en/m-bye.wav'], bargeIn: false, call: 41 },
    ]);
    await m.handle([playDone(2, 'done')]);
    await until(1);
    assert.deepEqual(engine.take(), [{ op: 'release', call: 41, cause: 16 }]);
    await m.handle([ev.released(41, 'pri1', 16, 'local')]);
    await m.settled();
    assert.equal(records.length, 1);
    assert.equal(records[0]?.disposition, 'answered');
    assert.equal(records[0]?.destination, 'ivr hotline');
    const id = records[0]?.id as string;
    assert.equal(id, 'boot7-1');
    // The app flushes its log when the handler returns, just after the release.
    while (store.readLog(id).length < 3) await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      store.readLog(id).map((e) => `${e.node} ${String(e.output.edge ?? e.output.end)}`),
      ['menu choices.1', 'bye next', 'end hangup'],
    );
  });
});
