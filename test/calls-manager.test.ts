// SPDX-License-Identifier: GPL-2.0-or-later
// The call manager against a scripted engine: routing, bridging, failover, busy, blacklists, apps, dial, overlap and CDRs.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import {
  type AppHandler,
  type CallControl,
  CallManager,
  type CallManagerOptions,
} from '../src/calls/manager.ts';
import type { CallRecord } from '../src/cdr/record.ts';
import type { SwitchConfig } from '../src/config/schema.ts';
import { isSwitchboardError } from '../src/core/errors.ts';
import type { EngineEvent } from '../src/native/engine.ts';
import { Router, type TrunkStateView } from '../src/routing/router.ts';
import { refused } from './helpers/refused.ts';
import { Clock, events, logSink, ManualTimers, ScriptedEngine } from './helpers/scripted-engine.ts';
import { switchConfig } from './helpers/switch-config.ts';

const ROUTES: Partial<SwitchConfig> = {
  blacklists: {
    inbound: [{ number: '_1700X.', note: 'nuisance' }],
    outbound: [{ number: '_0900X.' }],
  },
  routes: {
    inbound: [
      {
        name: 'to-201',
        trunks: ['network'],
        called: '8000201',
        destination: { type: 'extension', extension: '201' },
      },
      {
        name: 'to-202',
        trunks: ['network'],
        called: '8000202',
        destination: { type: 'extension', extension: '202' },
      },
      {
        name: 'transit',
        trunks: ['network'],
        called: '_0X.',
        destination: { type: 'trunk', route: 'national' },
      },
      { name: 'closed', called: '8000999', destination: { type: 'hangup', cause: 17 } },
      { name: 'menu', called: '95588', destination: { type: 'ivr', flow: 'main' } },
      { name: 'sales', called: '95599', destination: { type: 'queue', queue: 'sales' } },
      {
        name: 'dial-202',
        trunks: ['phones'],
        called: '202',
        destination: { type: 'extension', extension: '202' },
      },
      {
        name: 'phones-out',
        trunks: ['phones'],
        called: '_9X.',
        called_manipulation: { strip: 1 },
        destination: { type: 'trunk', route: 'national' },
      },
    ],
    outbound: [
      { name: 'national', called: '_0X.', trunkGroups: ['carrierA', 'carrierB'] },
      { name: 'mobile', called: '_1X.', callerId: { number: '075588880000' }, trunkGroups: ['rr'] },
    ],
  },
};

function harness(
  opts: Partial<CallManagerOptions> & { sync?: boolean; config?: Partial<SwitchConfig> } = {},
) {
  const clock = new Clock();
  const engine = new ScriptedEngine(opts.sync);
  const records: CallRecord[] = [];
  const { lines, log } = logSink();
  const timers = new ManualTimers();
  const seen: string[] = [];
  const router = new Router(switchConfig(opts.config ?? ROUTES));
  const m = new CallManager({
    engine,
    router,
    now: clock.now,
    cdr: (r) => records.push(r),
    log,
    bootId: 'boot7',
    timers,
    ...opts,
  });
  m.on('callStarted', (s) => seen.push(`started ${s.id}`));
  m.on('callRouted', (s) => seen.push(`routed ${s.id} ${s.route}`));
  m.on('callAnswered', (s) => seen.push(`answered ${s.id}`));
  m.on('callEnded', (s, r) => seen.push(`ended ${s.id} ${r.disposition}`));
  const ev = events(clock);
  const send = (...e: EngineEvent[]) => m.handle(e);
  return { clock, engine, records, lines, timers, seen, router, m, ev, send };
}

/** The one CDR; fails when there are none or several. */
function onlyRecord(records: CallRecord[]): CallRecord {
  assert.equal(records.length, 1, `exactly one CDR, got ${records.length}`);
  return records[0] as CallRecord;
}

describe('call manager: inbound', () => {
  it('to an extension: rings the phone, alerts and answers the caller, bridges, clears both, one CDR', async () => {
    const h = harness();
    await h.send(
      h.ev.offered(1, 'pri1', '8000201', '075512345678', {
        callingName: 'Alice',
        span: 1,
        channel: 3,
        complete: true,
      }),
    );
    assert.deepEqual(h.engine.take(), [
      {
        op: 'place',
        trunk: 'phones',
        called: '201',
        calling: '075512345678',
        channel: 1,
        callingName: 'Alice',
      },
    ]);
    // The FXS port rings the phone and says so at once.
    await h.send(h.ev.call('alerting', 100, 'phones', { span: 5, channel: 1 }));
    assert.deepEqual(h.engine.take(), [{ op: 'alert', call: 1 }]);
    assert.equal(h.m.calls()[0]?.phase, 'ringing');
    h.clock.tick(3000);
    await h.send(h.ev.call('answered', 100, 'phones'));
    assert.deepEqual(h.engine.take(), [
      { op: 'answer', call: 1 },
      { op: 'connect', a: { call: 1 }, b: { call: 100 }, mode: 'duplex' },
    ]);
    // PRI echoes our answer; the media layer reports the cross-connect.
    await h.send(h.ev.call('answered', 1, 'pri1'), h.ev.connected([3, 1], [129, 100]));
    assert.equal(h.m.calls()[0]?.phase, 'answered');
    h.clock.tick(60_000);
    // The phone hangs up: the bridge goes, then the caller is cleared with the same cause.
    await h.send(h.ev.released(100, 'phones', 16, 'remote'));
    assert.deepEqual(h.engine.take(), [
      { op: 'disconnect', call: 1 },
      { op: 'release', call: 1, cause: 16 },
    ]);
    assert.equal(h.records.length, 0, 'no CDR before every leg is released');
    await h.send(h.ev.released(1, 'pri1', 16, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.id, 'boot7-1');
    assert.equal(r.direction, 'inbound');
    assert.equal(r.disposition, 'answered');
    assert.equal(r.cause, 16);
    assert.equal(r.causeName, 'NORMAL_CLEARING');
    assert.equal(r.route, 'to-201');
    assert.equal(r.destination, 'extension 201');
    assert.equal(r.durationMs, 63_000);
    assert.equal(r.billableMs, 60_000);
    assert.equal(r.called, '8000201');
    assert.deepEqual([r.a.trunk, r.a.span, r.a.channel, r.a.releasedBy], ['pri1', 1, 3, 'local']);
    assert.deepEqual(
      [r.b?.trunk, r.b?.span, r.b?.channel, r.b?.releasedBy, r.b?.causeName],
      ['phones', 5, 1, 'remote', 'NORMAL_CLEARING'],
    );
    assert.equal(r.tries, undefined);
    assert.deepEqual(h.seen, [
      'started boot7-1',
      'routed boot7-1 to-201',
      'answered boot7-1',
      'ended boot7-1 answered',
    ]);
    assert.deepEqual(h.m.calls(), []);
    assert.equal(h.m.stats().refused, 0);
  });

  it('to a trunk: a congestion release moves to the next candidate; answered, bridged, tries in the CDR', async () => {
    const h = harness();
    await h.send(h.ev.offered(2, 'pri1', '01062345678', '13800138000'));
    assert.deepEqual(h.engine.take(), [
      { op: 'place', trunk: 'pri2', called: '01062345678', calling: '13800138000' },
    ]);
    await h.send(
      h.ev.call('dialing', 100, 'pri2', { span: 2, channel: 1 }),
      h.ev.released(100, 'pri2', 34, 'remote'),
    );
    assert.deepEqual(h.engine.take(), [
      { op: 'place', trunk: 'pri3', called: '01062345678', calling: '13800138000' },
    ]);
    await h.send(
      h.ev.call('dialing', 101, 'pri3', { span: 3, channel: 1 }),
      h.ev.call('proceeding', 101, 'pri3'),
      h.ev.call('alerting', 101, 'pri3'),
    );
    assert.deepEqual(h.engine.take(), [{ op: 'alert', call: 2 }]);
    await h.send(h.ev.call('progress', 101, 'pri3'), h.ev.call('answered', 101, 'pri3'));
    assert.deepEqual(h.engine.take(), [
      { op: 'answer', call: 2 },
      { op: 'connect', a: { call: 2 }, b: { call: 101 }, mode: 'duplex' },
    ]);
    h.clock.tick(30_000);
    // The caller hangs up first this time.
    await h.send(h.ev.released(2, 'pri1', 16, 'remote'));
    assert.deepEqual(h.engine.take(), [
      { op: 'disconnect', call: 101 },
      { op: 'release', call: 101, cause: 16 },
    ]);
    await h.send(h.ev.released(101, 'pri3', 16, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.disposition, 'answered');
    assert.equal(r.destination, 'trunk national');
    assert.equal(r.billableMs, 30_000);
    assert.deepEqual(r.tries, [
      { trunk: 'pri2', cause: 34, causeName: 'NORMAL_CIRCUIT_CONGESTION' },
    ]);
    assert.deepEqual([r.b?.trunk, r.b?.span], ['pri3', 3]);
    assert.equal(h.m.stats().refused, 0);
  });

  it('a busy called party is final: no other trunk, the caller gets 17, CDR busy', async () => {
    const h = harness();
    await h.send(h.ev.offered(3, 'pri1', '01062345678', '13800138000'));
    h.engine.take();
    await h.send(h.ev.released(100, 'pri2', 17, 'remote'));
    assert.deepEqual(h.engine.take(), [{ op: 'release', call: 3, cause: 17 }]);
    await h.send(h.ev.released(3, 'pri1', 17, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.disposition, 'busy');
    assert.equal(r.cause, 17);
    assert.equal(r.causeName, 'USER_BUSY');
    assert.equal(r.b?.trunk, 'pri2');
    assert.equal(r.tries, undefined);
    assert.equal(r.answeredAt, undefined);
    assert.equal(r.billableMs, 0);
  });

  it('a refused place (E_CHANNEL_BUSY) tries the next trunk at once', async () => {
    const h = harness();
    h.engine.refusePlace.set('pri2', 'E_CHANNEL_BUSY');
    await h.send(h.ev.offered(4, 'pri1', '01062345678', '1'));
    assert.deepEqual(
      h.engine.take().map((c) => c.op === 'place' && c.trunk),
      ['pri2', 'pri3'],
    );
    await h.send(h.ev.released(100, 'pri3', 19, 'remote'));
    assert.deepEqual(h.engine.take(), [{ op: 'release', call: 4, cause: 19 }]);
    await h.send(h.ev.released(4, 'pri1', 19, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.disposition, 'no_answer');
    assert.deepEqual(r.tries, [
      { trunk: 'pri2', cause: 34, causeName: 'NORMAL_CIRCUIT_CONGESTION' },
    ]);
  });

  it('every candidate congested: the caller gets the last cause, CDR congestion with every try', async () => {
    const h = harness();
    await h.send(h.ev.offered(5, 'pri1', '01062345678', '1'));
    await h.send(h.ev.released(100, 'pri2', 34, 'remote'));
    await h.send(h.ev.released(101, 'pri3', 38, 'stack'));
    await h.send(h.ev.released(102, 'pri4', 42, 'remote'));
    assert.deepEqual(
      h.engine.take().map((c) => (c.op === 'place' ? c.trunk : `${c.op} ${JSON.stringify(c)}`)),
      ['pri2', 'pri3', 'pri4', 'release {"op":"release","call":5,"cause":42}'],
    );
    await h.send(h.ev.released(5, 'pri1', 42, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.disposition, 'congestion');
    assert.equal(r.cause, 42);
    assert.deepEqual(
      r.tries?.map((t) => `${t.trunk}:${t.cause}`),
      ['pri2:34', 'pri3:38'],
    );
    assert.equal(r.b?.trunk, 'pri4');
  });

  it('trunks the view reports down are skipped and listed in the CDR; none left is congestion', async () => {
    const view: TrunkStateView = {
      get: (t) =>
        t === 'pri2'
          ? { up: false, freeChannels: 30, callsUp: 0, why: 'RED alarm' }
          : { up: true, freeChannels: 0, callsUp: 30 },
    };
    const h = harness({ trunkState: view });
    await h.send(h.ev.offered(6, 'pri1', '01062345678', '1'));
    assert.deepEqual(h.engine.take(), [{ op: 'release', call: 6, cause: 34 }]);
    await h.send(h.ev.released(6, 'pri1', 34, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.disposition, 'congestion');
    assert.equal(r.b, undefined);
    assert.deepEqual(r.skipped, [
      { trunk: 'pri2', reason: 'down', why: 'RED alarm' },
      { trunk: 'pri3', reason: 'busy' },
      { trunk: 'pri4', reason: 'busy' },
    ]);
  });

  it('the caller hangs up while the far end rings: cleared, CDR cancelled', async () => {
    const h = harness();
    await h.send(h.ev.offered(7, 'pri1', '01062345678', '1'));
    await h.send(h.ev.call('alerting', 100, 'pri2'));
    h.engine.take();
    await h.send(h.ev.released(7, 'pri1', 16, 'remote'));
    assert.deepEqual(h.engine.take(), [{ op: 'release', call: 100, cause: 16 }]);
    // An answer that crossed our release changes nothing.
    await h.send(h.ev.call('answered', 100, 'pri2'), h.ev.released(100, 'pri2', 16, 'local'));
    assert.deepEqual(h.engine.take(), []);
    const r = onlyRecord(h.records);
    assert.equal(r.disposition, 'cancelled');
    assert.equal(r.answeredAt, undefined);
    assert.equal(h.m.stats().refused, 0);
  });

  it('a blacklisted caller is rejected with 21, CDR blocked', async () => {
    const h = harness();
    await h.send(h.ev.offered(8, 'pri1', '8000201', '17001234567'));
    assert.deepEqual(h.engine.take(), [{ op: 'release', call: 8, cause: 21 }]);
    await h.send(h.ev.released(8, 'pri1', 21, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.disposition, 'blocked');
    assert.equal(r.cause, 21);
    assert.equal(r.causeName, 'CALL_REJECTED');
    assert.deepEqual(h.seen, ['started boot7-1', 'ended boot7-1 blocked']);
  });

  it('no route: released with 1 UNALLOCATED, CDR no_route', async () => {
    const h = harness();
    await h.send(h.ev.offered(9, 'pri1', '12345', '1'));
    assert.deepEqual(h.engine.take(), [{ op: 'release', call: 9, cause: 1 }]);
    await h.send(h.ev.released(9, 'pri1', 1, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.disposition, 'no_route');
    assert.equal(r.causeName, 'UNALLOCATED');
    assert.equal(r.route, undefined);
  });

  it('a hangup destination releases with its cause', async () => {
    const h = harness();
    await h.send(h.ev.offered(10, 'pri2', '8000999', '1'));
    assert.deepEqual(h.engine.take(), [{ op: 'release', call: 10, cause: 17 }]);
    await h.send(h.ev.released(10, 'pri2', 17, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.disposition, 'busy');
    assert.equal(r.destination, 'hangup 17');
  });

  it('a busy extension gives the caller USER_BUSY, whatever congestion the port reported', async () => {
    const h = harness();
    await h.send(h.ev.offered(11, 'pri1', '8000202', '1'));
    h.engine.take();
    await h.send(h.ev.released(100, 'phones', 44, 'local'));
    assert.deepEqual(h.engine.take(), [{ op: 'release', call: 11, cause: 17 }]);
    await h.send(h.ev.released(11, 'pri1', 17, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.disposition, 'busy');
    assert.equal(r.b?.cause, 44);
  });

  it('an event the leg table refuses is logged and counted; unknown calls are counted apart', async () => {
    const h = harness();
    await h.send(h.ev.offered(12, 'pri1', '8000201', '1'));
    // The engine never reports an incoming call alerting (alerting it is our command).
    await h.send(h.ev.call('alerting', 12, 'pri1'));
    assert.equal(h.m.stats().refused, 1);
    const warn = h.lines.find((l) => l.level === 'warn');
    assert.deepEqual(warn?.obj, { fsm: 'in pri1/12', state: 'routing', event: 'alerting' });
    assert.equal(warn?.bindings.call, 'boot7-1');
    // A second offer of a live call id is refused too.
    await h.send(h.ev.offered(12, 'pri1', '8000201', '1'));
    assert.equal(h.m.stats().refused, 2);
    await h.send(h.ev.call('answered', 999, 'pri1'));
    assert.equal(h.m.stats().unknownCalls, 1);
    assert.equal(h.m.calls()[0]?.legs[0]?.state, 'routing');
    assert.equal(h.m.stats().live, 1);
  });

  it('a release the engine answers E_CALL_UNKNOWN counts as released: the attempt still ends once', async () => {
    const h = harness();
    h.engine.refuseOp.set('release', 'E_CALL_UNKNOWN');
    await h.send(h.ev.offered(13, 'pri1', '12345', '1'));
    const r = onlyRecord(h.records);
    assert.equal(r.disposition, 'no_route');
    assert.equal(r.a.releasedBy, 'local');
    // The late released event of the vanished call is just an unknown call now.
    await h.send(h.ev.released(13, 'pri1', 1, 'local'));
    assert.equal(h.records.length, 1);
    assert.equal(h.m.stats().unknownCalls, 1);
  });

  it('works the same with an engine that answers commands synchronously', async () => {
    const h = harness({ sync: true });
    await h.send(h.ev.offered(14, 'pri1', '01062345678', '1'));
    await h.send(h.ev.released(100, 'pri2', 41, 'remote'), h.ev.call('answered', 101, 'pri3'));
    assert.deepEqual(
      h.engine.take().map((c) => c.op),
      ['place', 'place', 'answer', 'connect'],
    );
    await h.send(h.ev.released(101, 'pri3', 16, 'remote'), h.ev.released(14, 'pri1', 16, 'local'));
    assert.equal(onlyRecord(h.records).disposition, 'answered');
  });

  it('numbers attempts boot-id-n, one CDR each, even when a CDR writer or listener throws', async () => {
    const h = harness({
      cdr: () => {
        throw new Error('disk full');
      },
    });
    let ended = 0;
    h.m.on('callEnded', () => {
      ended++;
      throw new Error('listener bug');
    });
    for (const call of [20, 21, 22]) {
      await h.send(h.ev.offered(call, 'pri1', '12345', '1'));
      await h.send(h.ev.released(call, 'pri1', 1, 'local'));
    }
    assert.equal(ended, 3);
    assert.deepEqual(
      h.seen.filter((s) => s.startsWith('ended')),
      ['ended boot7-1 no_route', 'ended boot7-2 no_route', 'ended boot7-3 no_route'],
    );
    assert.equal(h.lines.filter((l) => l.msg === 'writing the call record failed').length, 3);
    assert.equal(h.lines.filter((l) => l.msg === 'a callEnded listener threw').length, 3);
  });
});

describe('call manager: overlap dialling from phones', () => {
  it('a phone dials an extension digit by digit: routed when the number is complete', async () => {
    const h = harness();
    await h.send(h.ev.offered(30, 'phones', '', '201', { complete: false, span: 5, channel: 1 }));
    assert.deepEqual(h.engine.take(), []);
    assert.equal(h.m.calls()[0]?.phase, 'collecting');
    await h.send(h.ev.digits(30, 'phones', '2'), h.ev.digits(30, 'phones', '0'));
    assert.deepEqual(h.engine.take(), []);
    await h.send(h.ev.digits(30, 'phones', '2'));
    assert.deepEqual(h.engine.take(), [
      { op: 'accept', call: 30 },
      { op: 'place', trunk: 'phones', called: '202', calling: '201', channel: 2 },
    ]);
    assert.equal(h.timers.pending.size, 0, 'the digit timer is stopped');
    await h.send(h.ev.call('alerting', 100, 'phones'), h.ev.call('answered', 100, 'phones'));
    await h.send(
      h.ev.released(30, 'phones', 16, 'remote'),
      h.ev.released(100, 'phones', 16, 'local'),
    );
    const r = onlyRecord(h.records);
    assert.equal(r.direction, 'internal');
    assert.equal(r.called, '202');
    assert.equal(r.disposition, 'answered');
  });

  it('an open-ended number goes out when the digit timer fires; # ends dialling at once', async () => {
    const h = harness();
    await h.send(h.ev.offered(31, 'phones', '', '201', { complete: false }));
    for (const d of '9010') await h.send(h.ev.digits(31, 'phones', d));
    assert.deepEqual(h.engine.take(), []);
    assert.equal(h.timers.pending.size, 1);
    assert.equal([...h.timers.pending.values()][0]?.ms, 4000);
    h.timers.fireAll();
    await h.m.settled();
    assert.deepEqual(h.engine.take(), [
      { op: 'accept', call: 31 },
      { op: 'place', trunk: 'pri2', called: '010', calling: '201' },
    ]);
    assert.equal(h.m.calls()[0]?.direction, 'outbound');

    await h.send(h.ev.offered(32, 'phones', '', '202', { complete: false }));
    for (const d of '9020#') await h.send(h.ev.digits(32, 'phones', d));
    assert.deepEqual(
      h.engine.take().map((c) => c.op === 'place' && c.called),
      [false, '020'],
    );
  });

  it('a number that leads nowhere is refused at once; one cut short times out as incomplete (28)', async () => {
    const h = harness();
    await h.send(h.ev.offered(33, 'phones', '', '201', { complete: false }));
    await h.send(h.ev.digits(33, 'phones', '5'));
    assert.deepEqual(h.engine.take(), [{ op: 'release', call: 33, cause: 1 }]);
    await h.send(h.ev.released(33, 'phones', 1, 'local'));
    await h.send(h.ev.offered(34, 'phones', '', '201', { complete: false }));
    await h.send(h.ev.digits(34, 'phones', '2'));
    h.timers.fireAll();
    await h.m.settled();
    assert.deepEqual(h.engine.take(), [{ op: 'release', call: 34, cause: 28 }]);
    await h.send(h.ev.released(34, 'phones', 28, 'local'));
    assert.deepEqual(
      h.records.map((r) => `${r.called} ${r.disposition} ${r.cause}`),
      ['5 no_route 1', '2 no_route 28'],
    );
  });

  it('a phone hung up while dialling: cancelled', async () => {
    const h = harness();
    await h.send(h.ev.offered(35, 'phones', '', '201', { complete: false }));
    await h.send(h.ev.digits(35, 'phones', '9'));
    await h.send(h.ev.released(35, 'phones', 16, 'remote'));
    assert.equal(h.timers.pending.size, 0);
    assert.equal(onlyRecord(h.records).disposition, 'cancelled');
  });
});

describe('call manager: apps', () => {
  it('without a handler, an ivr destination is released with 3 NO_ROUTE_DESTINATION and logged', async () => {
    const h = harness();
    await h.send(h.ev.offered(40, 'pri1', '95588', '1'));
    assert.deepEqual(h.engine.take(), [{ op: 'release', call: 40, cause: 3 }]);
    assert.ok(h.lines.some((l) => l.level === 'warn' && l.msg.includes('no ivr handler')));
    await h.send(h.ev.released(40, 'pri1', 3, 'local'));
    assert.equal(onlyRecord(h.records).disposition, 'no_route');
  });

  it('a handler answers, plays, hears DTMF and returns: the call is cleared, CDR answered', async () => {
    let control: CallControl | undefined;
    const heard: string[] = [];
    let release!: () => void;
    const finished = new Promise<void>((r) => {
      release = r;
    });
    const ivr: AppHandler = async (call, dest) => {
      control = call;
      assert.deepEqual(dest, { type: 'ivr', flow: 'main' });
      call.onEvent((e) => {
        if (e.event === 'dtmf') heard.push(e.digit);
      });
      await call.answer();
      await call.media({ op: 'play', files: ['/p/welcome.wav'], bargeIn: true });
      await finished;
    };
    const h = harness({ apps: new Map([['ivr', ivr]]) });
    await h.send(h.ev.offered(41, 'pri1', '95588', '13800138000'));
    // The handler runs beside the queue; its commands go through it.
    while (h.engine.commands.length < 2) await new Promise((r) => setImmediate(r));
    assert.deepEqual(h.engine.take(), [
      { op: 'answer', call: 41 },
      { op: 'play', files: ['/p/welcome.wav'], bargeIn: true, call: 41 },
    ]);
    assert.equal(control?.called, '95588');
    await h.send(h.ev.dtmf(41, 'pri1', '1'), h.ev.dtmf(41, 'pri1', '#'));
    assert.deepEqual(heard, ['1', '#']);
    release();
    while (h.engine.commands.length < 1) await new Promise((r) => setImmediate(r));
    assert.deepEqual(h.engine.take(), [{ op: 'release', call: 41, cause: 16 }]);
    assert.equal(control?.signal.aborted, false);
    await h.send(h.ev.released(41, 'pri1', 16, 'local'));
    assert.equal(control?.signal.aborted, true);
    const r = onlyRecord(h.records);
    assert.equal(r.disposition, 'answered');
    assert.equal(r.destination, 'ivr main');
    await refused((control as CallControl).media({ op: 'stop' }), 'E_CALL_STATE');
  });

  it('a caller hanging up aborts the handler; a handler that throws fails the call with 41', async () => {
    let signal: AbortSignal | undefined;
    const queue: AppHandler = async (call) => {
      signal = call.signal;
      await new Promise<void>((r) => call.signal.addEventListener('abort', () => r()));
    };
    const broken: AppHandler = async () => {
      throw new Error('flow missing');
    };
    const h = harness({
      apps: new Map([
        ['queue', queue],
        ['ivr', broken],
      ]),
    });
    await h.send(h.ev.offered(42, 'pri1', '95599', '1'));
    await h.send(h.ev.released(42, 'pri1', 16, 'remote'));
    assert.equal(signal?.aborted, true);
    await h.send(h.ev.offered(43, 'pri1', '95588', '1'));
    while (h.engine.commands.length < 1) await new Promise((r) => setImmediate(r));
    assert.deepEqual(h.engine.take(), [{ op: 'release', call: 43, cause: 41 }]);
    await h.send(h.ev.released(43, 'pri1', 41, 'local'));
    assert.deepEqual(
      h.records.map((r) => r.disposition),
      ['cancelled', 'failed'],
    );
  });
});

describe('call manager: dial', () => {
  it('routes, places, reports answer and ends with a hangup: one outbound CDR', async () => {
    const h = harness();
    const id = h.m.dial({ from: 'agents', called: '13800138000', calling: '201' });
    assert.equal(id, 'boot7-1');
    await h.m.settled();
    assert.deepEqual(h.engine.take(), [
      { op: 'place', trunk: 'pri2', called: '13800138000', calling: '075588880000' },
    ]);
    await h.send(h.ev.call('alerting', 100, 'pri2'));
    assert.equal(h.m.calls()[0]?.phase, 'ringing');
    h.clock.tick(5000);
    await h.send(h.ev.call('answered', 100, 'pri2'));
    assert.deepEqual(h.engine.take(), [], 'nothing to bridge: the asker takes over');
    h.clock.tick(10_000);
    await h.m.hangup(id);
    assert.deepEqual(h.engine.take(), [{ op: 'release', call: 100, cause: 16 }]);
    await h.send(h.ev.released(100, 'pri2', 16, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.direction, 'outbound');
    assert.equal(r.route, 'mobile');
    assert.equal(r.disposition, 'answered');
    assert.equal(r.billableMs, 10_000);
    assert.equal(r.a.trunk, 'pri2');
    assert.equal(r.a.calling, '075588880000');
    assert.equal(r.b, undefined);
    assert.deepEqual(h.seen, [
      'started boot7-1',
      'routed boot7-1 mobile',
      'answered boot7-1',
      'ended boot7-1 answered',
    ]);
  });

  it('round robin spreads successive calls over the group', async () => {
    const h = harness();
    for (let i = 0; i < 4; i++) h.m.dial({ called: `1380013800${i}` });
    await h.m.settled();
    assert.deepEqual(
      h.engine.take().map((c) => c.op === 'place' && c.trunk),
      ['pri2', 'pri3', 'pri4', 'pri2'],
    );
  });

  it('fails over on congestion, is cancelled by a hangup before answer', async () => {
    const h = harness();
    const id = h.m.dial({ called: '02012345678' });
    await h.m.settled();
    await h.send(h.ev.released(100, 'pri2', 102, 'stack'));
    assert.deepEqual(
      h.engine.take().map((c) => c.op === 'place' && c.trunk),
      ['pri2', 'pri3'],
    );
    await h.m.hangup(id);
    await h.send(h.ev.released(101, 'pri3', 16, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.disposition, 'cancelled');
    assert.equal(r.a.trunk, 'pri3');
    assert.deepEqual(r.tries, [
      { trunk: 'pri2', cause: 102, causeName: 'RECOVERY_ON_TIMER_EXPIRE' },
    ]);
  });

  it('no route, blacklisted number, bad input and unknown hangups', async () => {
    const h = harness();
    h.m.dial({ called: '7777' });
    h.m.dial({ called: '09001234' });
    await h.m.settled();
    assert.deepEqual(h.engine.take(), []);
    assert.deepEqual(
      h.records.map((r) => `${r.id} ${r.disposition} ${r.cause} ${r.a.trunk === ''}`),
      ['boot7-1 no_route 3 true', 'boot7-2 blocked 21 true'],
    );
    assert.throws(
      () => h.m.dial({ called: '12a' }),
      (err) => isSwitchboardError(err, 'E_COMMAND_FIELD') && err.message.startsWith('called:'),
    );
    await refused(h.m.hangup('boot7-99'), 'E_CALL_UNKNOWN');
  });
});

describe('call manager: test calls on a chosen trunk', () => {
  it('places on that trunk and timeslot past the routes (a number no route or blacklist would pass)', async () => {
    const h = harness();
    // 09001234 is on the outbound blacklist and 7777 matches no route: neither matters here.
    const id = h.m.dial({ called: '09001234', calling: '201', trunk: 'pri3', channel: 5 });
    await h.m.settled();
    assert.deepEqual(h.engine.take(), [
      { op: 'place', trunk: 'pri3', called: '09001234', calling: '201', channel: 5 },
    ]);
    await h.send(h.ev.call('answered', 100, 'pri3'));
    await h.m.hangup(id);
    await h.send(h.ev.released(100, 'pri3', 16, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.disposition, 'answered');
    assert.equal(r.a.trunk, 'pri3');
    assert.equal(r.route, undefined);
    assert.deepEqual(h.seen, ['started boot7-1', 'answered boot7-1', 'ended boot7-1 answered']);
  });

  it('a refused place ends the attempt with its cause; no other trunk is tried', async () => {
    const h = harness();
    h.engine.refusePlace.set('pri2', 'E_CHANNEL_BUSY');
    h.m.dial({ called: '7777', trunk: 'pri2', channel: 1 });
    await h.m.settled();
    assert.deepEqual(
      h.engine.take().map((c) => c.op === 'place' && c.trunk),
      ['pri2'],
    );
    const r = onlyRecord(h.records);
    assert.notEqual(r.disposition, 'answered');
    assert.deepEqual(
      r.tries?.map((t) => t.trunk),
      ['pri2'],
    );
  });

  it('refuses a trunk the configuration does not have, and a channel without its trunk', () => {
    const h = harness();
    assert.throws(
      () => h.m.dial({ called: '7777', trunk: 'nowhere' }),
      (err) => isSwitchboardError(err, 'E_TRUNK_UNKNOWN') && err.message.includes('"nowhere"'),
    );
    assert.throws(
      () => h.m.dial({ called: '7777', channel: 3 }),
      (err) => isSwitchboardError(err, 'E_COMMAND_FIELD') && err.message.startsWith('channel:'),
    );
    assert.equal(h.records.length, 0);
  });
});

describe('call manager: options', () => {
  it('refuses a digit timeout out of range, naming it', () => {
    assert.throws(
      () => harness({ digitTimeoutMs: 500 }),
      (err) => isSwitchboardError(err, 'E_CONFIG_FIELD') && err.message.includes('digitTimeoutMs'),
    );
  });

  it('takes a pino logger', async () => {
    const out: string[] = [];
    const log = pino(
      { level: 'debug' },
      new Writable({
        write(chunk, _enc, done) {
          out.push(String(chunk));
          done();
        },
      }),
    );
    const h = harness({ log });
    await h.send(h.ev.offered(50, 'pri1', '12345', '1'));
    assert.ok(out.some((l) => JSON.parse(l).call === 'boot7-1'));
  });
});

/** Waits until the scripted engine has received `n` commands (apps run beside the queue). */
async function commandsSeen(h: ReturnType<typeof harness>, n: number): Promise<void> {
  while (h.engine.commands.length < n) await new Promise((r) => setImmediate(r));
}

describe('call manager: outbound apps, ring timeouts and transfers', () => {
  it('dial with an app: the app runs on the answered call, hears its DTMF, and its end clears it', async () => {
    const heard: string[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => {
      done = r;
    });
    const got: { control?: CallControl } = {};
    const h = harness();
    const id = h.m.dial(
      { called: '13800138000' },
      {
        app: async (call) => {
          got.control = call;
          call.onEvent((e) => {
            if (e.event === 'dtmf') heard.push(e.digit);
          });
          await call.answer(); // already answered by the far end: a no-op
          await call.media({ op: 'detect', dtmf: true, amd: true });
          await finished;
        },
      },
    );
    await h.m.settled();
    assert.deepEqual(
      h.engine.take().map((c) => c.op),
      ['place'],
    );
    assert.equal(got.control === undefined, true, 'the app waits for the answer');
    await h.send(h.ev.call('answered', 100, 'pri2'));
    await commandsSeen(h, 1);
    assert.deepEqual(h.engine.take(), [{ op: 'detect', dtmf: true, amd: true, call: 100 }]);
    assert.equal(got.control?.call, 100);
    await h.send(h.ev.dtmf(100, 'pri2', '#'));
    assert.deepEqual(heard, ['#']);
    done();
    await commandsSeen(h, 1);
    assert.deepEqual(h.engine.take(), [{ op: 'release', call: 100, cause: 16 }]);
    await h.send(h.ev.released(100, 'pri2', 16, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.id, id);
    assert.equal(r.disposition, 'answered');
  });

  it('a ring timeout releases the ringing call and records NO_ANSWER (19), without hunting on', async () => {
    const h = harness();
    h.m.dial({ called: '02012345678' }, { ringTimeoutMs: 20_000 });
    await h.m.settled();
    await h.send(h.ev.call('alerting', 100, 'pri2'));
    assert.deepEqual(
      [...h.timers.pending.values()].map((t) => t.ms),
      [20_000],
    );
    h.timers.fireAll();
    await h.m.settled();
    assert.deepEqual(h.engine.take().slice(1), [{ op: 'release', call: 100, cause: 16 }]);
    await h.send(h.ev.released(100, 'pri2', 16, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.disposition, 'no_answer');
    assert.equal(r.cause, 19);
    assert.throws(
      () => h.m.dial({ called: '02012345678' }, { ringTimeoutMs: 50 }),
      (err) =>
        isSwitchboardError(err, 'E_COMMAND_FIELD') && err.message.startsWith('ringTimeoutMs:'),
    );
  });

  it('an IVR transfers to a busy number (the flow goes on), then to one that answers (bridged)', async () => {
    const results: string[] = [];
    const ivr: AppHandler = async (call) => {
      await call.answer();
      const first = await call.transfer({ called: '02011111111' });
      results.push(first.result === 'failed' ? `failed ${first.cause}` : 'bridged');
      await refused(call.transfer({ called: 'x1' }), 'E_COMMAND_FIELD');
      const second = await call.transfer({ called: '02022222222' }, { ringTimeoutMs: 15_000 });
      results.push(second.result === 'bridged' ? `bridged ${second.trunk}` : 'failed');
      await new Promise<void>((r) => call.signal.addEventListener('abort', () => r()));
    };
    const h = harness({ apps: new Map([['ivr', ivr]]) });
    await h.send(h.ev.offered(41, 'pri1', '95588', '13800138000'));
    await commandsSeen(h, 3);
    assert.deepEqual(h.engine.take(), [
      { op: 'answer', call: 41 },
      { op: 'tone', tone: 'ringback', call: 41 },
      { op: 'place', trunk: 'pri2', called: '02011111111', calling: '13800138000' },
    ]);
    // Busy is final: no failover, the transfer fails and the caller stays with the flow.
    await h.send(h.ev.released(100, 'pri2', 17, 'remote'));
    await commandsSeen(h, 2);
    assert.deepEqual(results, ['failed 17']);
    assert.deepEqual(h.engine.take(), [
      { op: 'tone', tone: 'ringback', call: 41 },
      { op: 'place', trunk: 'pri2', called: '02022222222', calling: '13800138000' },
    ]);
    await h.send(h.ev.call('answered', 101, 'pri2'));
    await commandsSeen(h, 1);
    assert.deepEqual(h.engine.take(), [
      { op: 'connect', a: { call: 41 }, b: { call: 101 }, mode: 'duplex' },
    ]);
    while (results.length < 2) await new Promise((r) => setImmediate(r));
    assert.deepEqual(results, ['failed 17', 'bridged pri2']);
    // The transferred-to party hangs up: the caller is cleared too, one CDR with both legs.
    await h.send(h.ev.released(101, 'pri2', 16, 'remote'));
    await h.m.settled();
    assert.deepEqual(h.engine.take().pop(), { op: 'release', call: 41, cause: 16 });
    await h.send(h.ev.released(41, 'pri1', 16, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.disposition, 'answered');
    assert.equal(r.a.trunk, 'pri1');
    assert.equal(r.b?.trunk, 'pri2');
    assert.equal(r.b?.called, '02022222222');
    assert.equal(h.timers.pending.size, 0, 'no ring timer left behind');
  });

  it('an outbound app transfers its answered call to an extension: the customer is the a leg', async () => {
    const results: string[] = [];
    const h = harness();
    h.m.dial(
      { called: '13800138000' },
      {
        app: async (call) => {
          const r = await call.transfer({ extension: '201' });
          results.push(r.result);
          await new Promise<void>((done) => call.signal.addEventListener('abort', () => done()));
        },
      },
    );
    await h.m.settled();
    h.engine.take();
    await h.send(h.ev.call('answered', 100, 'pri2'));
    await commandsSeen(h, 2);
    const [tone, place] = h.engine.take();
    assert.deepEqual(tone, { op: 'tone', tone: 'ringback', call: 100 });
    assert.equal(place?.op, 'place');
    await h.send(h.ev.call('answered', 101, (place as { trunk: string }).trunk));
    await commandsSeen(h, 1);
    assert.deepEqual(h.engine.take(), [
      { op: 'connect', a: { call: 100 }, b: { call: 101 }, mode: 'duplex' },
    ]);
    while (results.length < 1) await new Promise((r) => setImmediate(r));
    assert.deepEqual(results, ['bridged']);
    // The customer hangs up.
    await h.send(h.ev.released(100, 'pri2', 16, 'remote'));
    await h.m.settled();
    const last = h.engine.take().pop();
    assert.equal(last?.op, 'release');
    await h.send(h.ev.released(101, (place as { trunk: string }).trunk, 16, 'local'));
    const r = onlyRecord(h.records);
    assert.equal(r.direction, 'outbound');
    assert.equal(r.a.trunk, 'pri2');
    assert.equal(r.a.called, '13800138000');
    assert.equal(r.b?.called, (place as { called: string }).called);
  });

  it('the caller hanging up during a transfer settles it as failed and clears the new call', async () => {
    const results: string[] = [];
    const ivr: AppHandler = async (call) => {
      await call.answer();
      const r = await call.transfer({ called: '02011111111' });
      results.push(r.result === 'failed' ? `failed ${r.cause}` : 'bridged');
    };
    const h = harness({ apps: new Map([['ivr', ivr]]) });
    await h.send(h.ev.offered(41, 'pri1', '95588', '13800138000'));
    await commandsSeen(h, 3);
    h.engine.take();
    await h.send(h.ev.released(41, 'pri1', 16, 'remote'));
    await h.m.settled();
    assert.deepEqual(h.engine.take(), [{ op: 'release', call: 100, cause: 16 }]);
    while (results.length < 1) await new Promise((r) => setImmediate(r));
    assert.deepEqual(results, ['failed 16']);
    await h.send(h.ev.released(100, 'pri2', 16, 'local'));
    assert.equal(onlyRecord(h.records).disposition, 'answered');
  });
});
