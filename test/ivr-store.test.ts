// SPDX-License-Identifier: GPL-2.0-or-later
// The flow store: every save a version, the newest active, deletion that keeps numbering, and the per-call flow log.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSwitchboardError } from '../src/core/errors.ts';
import type { FieldError } from '../src/core/schema.ts';
import type { FlowLogEntry } from '../src/ivr/runtime.ts';
import type { FlowDoc } from '../src/ivr/schema.ts';
import { FlowStore } from '../src/ivr/store.ts';
import { openDb } from '../src/store/db.ts';
import { refused } from './helpers/refused.ts';

function doc(prompt: string, name = 'hotline'): FlowDoc {
  return {
    name,
    start: 'hello',
    nodes: { hello: { type: 'play', items: [{ prompt }], next: 'bye' }, bye: { type: 'hangup' } },
  };
}

function store(): FlowStore {
  let t = Date.parse('2024-03-04T02:00:00Z');
  const now = () => {
    t += 1000;
    return new Date(t);
  };
  return new FlowStore(openDb(':memory:'), { now });
}

function entry(seq: number, node = 'hello'): FlowLogEntry {
  return {
    seq,
    flow: 'hotline',
    version: 1,
    node,
    type: 'play',
    at: new Date(Date.parse('2024-03-04T02:00:00Z') + seq * 1000).toISOString(),
    ms: 10,
    input: { digit: '1' },
    output: { edge: 'next', to: 'bye' },
  };
}

describe('flow store: versions', () => {
  it('makes every save a new version, newest active, with author, comment and time', () => {
    const s = store();
    const v1 = s.save(doc('welcome'), { author: 'li', comment: 'first cut' });
    assert.deepEqual(v1, {
      info: {
        name: 'hotline',
        version: 1,
        createdAt: '2024-03-04T02:00:01.000Z',
        author: 'li',
        comment: 'first cut',
        active: true,
      },
      unchanged: false,
    });
    const v2 = s.save(doc('welcome-2'), { author: 'wang' });
    assert.equal(v2.info.version, 2);
    assert.deepEqual(
      s.history('hotline').map((v) => `${v.version} ${v.author} ${v.active}`),
      ['2 wang true', '1 li false'],
    );
    assert.deepEqual(s.get('hotline').flow, doc('welcome-2'));
    assert.equal(s.get('hotline').info.version, 2);
    assert.deepEqual(s.get('hotline', 1).flow, doc('welcome'));
    assert.equal(s.get('hotline', 1).info.active, false);
    assert.deepEqual(s.list(), [
      {
        name: 'hotline',
        version: 2,
        updatedAt: v2.info.createdAt,
        author: 'wang',
        versions: 2,
      },
    ]);
  });

  it('stores nothing for a document equal to the active version', () => {
    const s = store();
    s.save(doc('welcome'), { author: 'li' });
    const again = s.save(doc('welcome'), { author: 'wang', comment: 'no change' });
    assert.equal(again.unchanged, true);
    assert.equal(again.info.version, 1);
    assert.equal(s.history('hotline').length, 1);
  });

  it('refuses an edit based on a version that is no longer active', () => {
    const s = store();
    s.save(doc('a'), { author: 'li', base: 0 });
    s.save(doc('b'), { author: 'li', base: 1 });
    assert.throws(
      () => s.save(doc('c'), { author: 'wang', base: 1 }),
      (err) =>
        isSwitchboardError(err, 'E_FLOW_CONFLICT') && /version 2 is active/.test(err.message),
    );
    assert.throws(
      () => s.save(doc('c', 'other'), { author: 'wang', base: 3 }),
      (err) =>
        isSwitchboardError(err, 'E_FLOW_CONFLICT') && /version none is active/.test(err.message),
    );
    assert.equal(s.get('hotline').info.version, 2);
  });

  it('refuses a broken flow with its errors, storing nothing', () => {
    const s = store();
    const bad = doc('x');
    (bad.nodes.hello as { next?: string }).next = 'nope';
    assert.throws(
      () => s.save(bad, { author: 'li' }),
      (err) =>
        isSwitchboardError(err, 'E_FLOW_INVALID') &&
        (err.details as FieldError[]).some((e) => e.path === 'nodes.hello.next'),
    );
    assert.equal(s.exists('hotline'), false);
    assert.deepEqual(s.list(), []);
  });

  it('answers E_FLOW_UNKNOWN for flows and versions it does not have', () => {
    const s = store();
    s.save(doc('a'), { author: 'li' });
    for (const f of [
      () => s.get('nope'),
      () => s.get('hotline', 9),
      () => s.history('nope'),
      () => s.delete('nope'),
    ])
      assert.throws(f, (err) => isSwitchboardError(err, 'E_FLOW_UNKNOWN'));
  });

  it('deletes a flow for new calls, and a flow saved again continues the numbering', () => {
    const s = store();
    s.save(doc('a'), { author: 'li' });
    s.save(doc('b'), { author: 'li' });
    assert.deepEqual(s.delete('hotline'), { versions: 2 });
    assert.equal(s.exists('hotline'), false);
    assert.equal(s.active('hotline'), undefined);
    assert.deepEqual(s.list(), []);
    assert.throws(
      () => s.get('hotline'),
      (err) => isSwitchboardError(err, 'E_FLOW_UNKNOWN'),
    );
    const again = s.save(doc('a'), { author: 'wang' });
    assert.equal(again.info.version, 3);
    assert.equal(again.unchanged, false);
    assert.equal(s.active('hotline')?.version, 3);
  });

  it('hands out one frozen object per active version, a new one after a save', () => {
    const s = store();
    s.save(doc('a'), { author: 'li' });
    const first = s.active('hotline');
    assert.ok(first);
    assert.equal(first.version, 1);
    assert.equal(s.active('hotline'), first);
    assert.ok(Object.isFrozen(first.doc.nodes.hello));
    s.save(doc('b'), { author: 'li' });
    const second = s.active('hotline');
    assert.equal(second?.version, 2);
    // The old object is untouched: a call running it goes on with prompt a.
    assert.deepEqual(first.doc.nodes.hello, {
      type: 'play',
      items: [{ prompt: 'a' }],
      next: 'bye',
    });
  });

  it('keeps its flows across a reopen of the database (migrations run once)', () => {
    const db = openDb(':memory:');
    new FlowStore(db).save(doc('a'), { author: 'li' });
    const again = new FlowStore(db);
    assert.equal(again.active('hotline')?.version, 1);
    const rows = db.prepare("SELECT version FROM migrations WHERE area = 'ivr'").pluck().all();
    assert.deepEqual(rows, [1]);
  });
});

describe('flow store: the flow log', () => {
  it('keeps a live call’s steps readable, writes them on flush, in step order', () => {
    const db = openDb(':memory:');
    const s = new FlowStore(db);
    const w = s.logWriter('b00t-9');
    w.append(entry(1));
    w.append(entry(2, 'bye'));
    const count = () => db.prepare('SELECT COUNT(*) FROM ivr_flow_log').pluck().get();
    assert.equal(count(), 0);
    assert.deepEqual(
      s.readLog('b00t-9').map((e) => e.seq),
      [1, 2],
    );
    w.flush();
    assert.equal(count(), 2);
    assert.deepEqual(s.readLog('b00t-9'), [entry(1), entry(2, 'bye')]);
  });

  it('writes in batches of 50 while the call goes on', () => {
    const db = openDb(':memory:');
    const s = new FlowStore(db);
    const w = s.logWriter('b00t-10');
    for (let i = 1; i <= 51; i++) w.append(entry(i));
    assert.equal(db.prepare('SELECT COUNT(*) FROM ivr_flow_log').pluck().get(), 50);
    assert.equal(s.readLog('b00t-10').length, 51);
    w.flush();
    assert.equal(db.prepare('SELECT COUNT(*) FROM ivr_flow_log').pluck().get(), 51);
  });

  it('answers E_FLOW_LOG_UNKNOWN for a call without a flow log, and prunes old steps', async () => {
    const s = store();
    await refused(
      Promise.resolve().then(() => s.readLog('nope')),
      'E_FLOW_LOG_UNKNOWN',
    );
    const w = s.logWriter('b00t-11');
    w.append(entry(1));
    w.append(entry(5));
    w.flush();
    assert.equal(s.pruneLog(new Date('2024-03-04T02:00:03Z')), 1);
    assert.deepEqual(
      s.readLog('b00t-11').map((e) => e.seq),
      [5],
    );
  });
});
