// SPDX-License-Identifier: GPL-2.0-or-later
// The typed FSM and the leg transition tables: transitions, refusals logged and counted, must() errors, history.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Fsm, type TransitionTable } from '../src/calls/fsm.ts';
import { INBOUND_TABLE, Leg, OUTBOUND_TABLE } from '../src/calls/leg.ts';
import { isSwitchboardError } from '../src/core/errors.ts';

type Door = 'closed' | 'open' | 'locked';
type Act = 'open' | 'close' | 'lock' | 'unlock';
const DOOR: TransitionTable<Door, Act> = {
  closed: { open: 'open', lock: 'locked' },
  open: { close: 'closed' },
  locked: { unlock: 'closed' },
};

function sink() {
  const warnings: { obj: object; msg: string }[] = [];
  return { warnings, log: { warn: (obj: object, msg: string) => warnings.push({ obj, msg }) } };
}

describe('fsm', () => {
  it('moves by the table and records each transition with its time', () => {
    let t = 1000;
    const fsm = new Fsm('door', DOOR, 'closed', { now: () => t++ });
    assert.equal(fsm.fire('open'), 'open');
    assert.equal(fsm.fire('close'), 'closed');
    assert.equal(fsm.fire('lock'), 'locked');
    assert.equal(fsm.state, 'locked');
    assert.deepEqual(fsm.history(), {
      transitions: [
        { from: 'closed', event: 'open', to: 'open', at: 1000 },
        { from: 'open', event: 'close', to: 'closed', at: 1001 },
        { from: 'closed', event: 'lock', to: 'locked', at: 1002 },
      ],
      dropped: 0,
    });
  });

  it('refuses an event the state does not list: logged, counted, false, state kept', () => {
    const { warnings, log } = sink();
    const refusals: string[] = [];
    const fsm = new Fsm('door', DOOR, 'locked', {
      log,
      onRefused: (s, e) => refusals.push(`${s}/${e}`),
    });
    assert.equal(fsm.can('open'), false);
    assert.equal(fsm.fire('open'), false);
    assert.equal(fsm.state, 'locked');
    assert.equal(fsm.refused, 1);
    assert.deepEqual(refusals, ['locked/open']);
    assert.equal(warnings.length, 1);
    assert.deepEqual(warnings[0]?.obj, { fsm: 'door', state: 'locked', event: 'open' });
    assert.equal(fsm.history().transitions.length, 0);
  });

  it('must() throws E_CALL_STATE naming the state and event', () => {
    const fsm = new Fsm('door', DOOR, 'open');
    assert.throws(
      () => fsm.must('lock'),
      (err) =>
        isSwitchboardError(err, 'E_CALL_STATE') &&
        (err.details as { state: string }).state === 'open' &&
        err.message.includes('lock'),
    );
    assert.equal(fsm.must('close'), 'closed');
  });

  it('keeps the last historyLimit transitions and counts the dropped ones', () => {
    const fsm = new Fsm('door', DOOR, 'closed', { historyLimit: 2 });
    for (let i = 0; i < 3; i++) {
      fsm.fire('open');
      fsm.fire('close');
    }
    const h = fsm.history();
    assert.equal(h.dropped, 4);
    assert.deepEqual(
      h.transitions.map((x) => x.event),
      ['open', 'close'],
    );
  });

  it('a state with no events is final', () => {
    const fsm = new Fsm('t', { a: { go: 'b' }, b: {} } as TransitionTable<'a' | 'b', 'go'>, 'a');
    assert.equal(fsm.final, false);
    fsm.fire('go');
    assert.equal(fsm.final, true);
  });
});

describe('leg tables', () => {
  const at = { trunk: 'pri1', call: 7, called: '95588', calling: '1', startedAt: new Date(0) };

  it('inbound: offered, routing, alerting, answered, releasing, released', () => {
    const leg = Leg.inbound(at, {});
    for (const e of ['route', 'alert', 'answer', 'answered', 'digits', 'release'] as const)
      assert.notEqual(leg.fsm.fire(e), false, e);
    assert.equal(leg.state, 'releasing');
    assert.equal(leg.released, false);
    leg.fsm.fire('released');
    assert.equal(leg.released, true);
    assert.deepEqual(
      leg.fsm.history().transitions.map((t) => t.to),
      ['routing', 'alerting', 'answered', 'answered', 'answered', 'releasing', 'released'],
    );
  });

  it('outbound: dialing, proceeding, alerting, answered; late events taken while releasing', () => {
    const leg = Leg.outbound(at, {});
    for (const e of [
      'dialing',
      'proceeding',
      'progress',
      'alerting',
      'release',
      'answered',
    ] as const)
      assert.notEqual(leg.fsm.fire(e), false, e);
    assert.equal(leg.state, 'releasing');
  });

  it('every state can be released by the far end except released itself, which is final', () => {
    for (const table of [INBOUND_TABLE, OUTBOUND_TABLE] as Record<string, Record<string, string>>[])
      for (const [state, row] of Object.entries(table)) {
        if (state === 'released') assert.deepEqual(row, {});
        else assert.equal(row.released, 'released', state);
      }
  });

  it('an incoming call is never reported alerting by the engine: refused', () => {
    const leg = Leg.inbound(at, {});
    leg.fsm.fire('route');
    assert.equal(leg.fsm.fire('alerting'), false);
    assert.equal(leg.fsm.fire('answered'), false, 'no answer echo before we answered');
    assert.equal(leg.fsm.refused, 2);
  });

  it('a CDR leg carries where the call ran and how it ended', () => {
    const leg = Leg.outbound(at, {});
    leg.locate({ span: 3, channel: 5 });
    leg.fsm.fire('released');
    leg.ended(new Date(5000), { cause: 17, by: 'remote' });
    assert.deepEqual(leg.toCdr(), {
      trunk: 'pri1',
      called: '95588',
      calling: '1',
      startedAt: '1970-01-01T00:00:00.000Z',
      span: 3,
      channel: 5,
      endedAt: '1970-01-01T00:00:05.000Z',
      cause: 17,
      causeName: 'USER_BUSY',
      releasedBy: 'remote',
    });
  });
});
