// SPDX-License-Identifier: GPL-2.0-or-later
// The MQTT outbox: ids in order, removal only on acknowledgement, the drop policy when full, durability across a restart.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Outbox, type OutboxKind } from '../src/mqtt/outbox.ts';
import { openDb } from '../src/store/db.ts';

const turn = () => new Promise((r) => setImmediate(r));

describe('mqtt outbox', () => {
  it('gives messages increasing ids in the order added, with the id first in the payload', async () => {
    const outbox = new Outbox({ db: openDb(':memory:') });
    let written = 0;
    outbox.onWritten = () => written++;
    outbox.add('channel', 'channel/1/1', { span: 1, channel: 1, state: 'seized' });
    outbox.add('call', 'call/event', { event: 'start', call: 'b-1' });
    outbox.add('cdr', 'cdr', {});
    assert.equal(outbox.size, 3, 'queued messages count before they are written');
    assert.deepEqual(outbox.next(0, 10), [], 'nothing is readable before the end of the turn');
    await turn();
    assert.equal(written, 1, 'one transaction for the three');
    const all = outbox.next(0, 10);
    assert.deepEqual(
      all.map((m) => [m.id, m.kind, m.topic]),
      [
        [1, 'channel', 'channel/1/1'],
        [2, 'call', 'call/event'],
        [3, 'cdr', 'cdr'],
      ],
    );
    assert.equal(all[0]?.payload, '{"id":1,"span":1,"channel":1,"state":"seized"}');
    assert.deepEqual(JSON.parse(all[2]?.payload ?? ''), { id: 3 });
    assert.deepEqual(
      outbox.next(1, 1).map((m) => m.id),
      [2],
    );
  });

  it('keeps a message until it is acknowledged, and never hands out an id twice', async () => {
    const outbox = new Outbox({ db: openDb(':memory:') });
    for (let i = 0; i < 5; i++) outbox.add('call', 'call/event', { n: i });
    await turn();
    outbox.ack(2);
    outbox.ack(4);
    await turn();
    assert.deepEqual(
      outbox.next(0, 10).map((m) => m.id),
      [1, 3, 5],
    );
    for (const id of [1, 3, 5]) outbox.ack(id);
    outbox.add('call', 'call/event', { n: 5 });
    await turn();
    // The table was empty; the next id still follows the last one ever given.
    assert.deepEqual(
      outbox.next(0, 10).map((m) => m.id),
      [6],
    );
    assert.equal(outbox.size, 1);
  });

  it('when full, drops the oldest channel events first, then call events, then call records, and counts them', async () => {
    const drops: Record<OutboxKind, number>[] = [];
    const outbox = new Outbox({
      db: openDb(':memory:'),
      maxMessages: 1000,
      onDrop: (d) => drops.push(d),
    });
    const add = (kind: OutboxKind, n: number) => {
      for (let i = 0; i < n; i++) outbox.add(kind, kind, { n: i });
    };
    add('channel', 900);
    add('call', 150);
    add('cdr', 50);
    await turn();
    assert.equal(outbox.size, 1000);
    assert.deepEqual(drops, [{ channel: 100, call: 0, cdr: 0 }]);
    const first = outbox.next(0, 1)[0];
    assert.equal(first?.id, 101, 'the 100 oldest channel events went');
    assert.equal(first?.kind, 'channel');

    // 1000 more call records: every channel event and call event goes, then the oldest records.
    add('cdr', 1000);
    await turn();
    assert.equal(outbox.size, 1000);
    assert.deepEqual(drops[1], { channel: 800, call: 150, cdr: 50 });
    assert.deepEqual(outbox.dropped, { channel: 900, call: 150, cdr: 50 });
    const left = outbox.next(0, 2000);
    assert.equal(left.length, 1000);
    assert.ok(left.every((m) => m.kind === 'cdr'));
    assert.equal(left[0]?.id, 1101, 'the newest 1000 records stay');
  });

  it('keeps what was written across a restart of the controller (a new connection to the file)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-outbox-'));
    try {
      const file = join(dir, 'switchboard.db');
      const db1 = openDb(file);
      const one = new Outbox({ db: db1 });
      for (let i = 0; i < 3; i++) one.add('cdr', 'cdr', { n: i });
      await turn();
      one.ack(1);
      one.add('call', 'call/event', { n: 3 });
      // Stopping writes what is queued: the acknowledgement and the last message.
      one.close();
      db1.close();
      const db2 = openDb(file);
      const two = new Outbox({ db: db2 });
      assert.equal(two.size, 3);
      assert.deepEqual(
        two.next(0, 10).map((m) => `${m.id} ${m.kind}`),
        ['2 cdr', '3 cdr', '4 call'],
      );
      db2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps messages queued when a write fails, reports it, and writes them once it can', async () => {
    const db = openDb(':memory:');
    const outbox = new Outbox({ db });
    const errors: string[] = [];
    outbox.onError = (err) => errors.push(String(err));
    db.exec(
      "CREATE TRIGGER refuse BEFORE INSERT ON mqtt_outbox BEGIN SELECT RAISE(FAIL, 'disk full'); END",
    );
    outbox.add('cdr', 'cdr', { n: 1 });
    await turn();
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? '', /disk full/);
    assert.equal(outbox.size, 1, 'still queued');
    db.exec('DROP TRIGGER refuse');
    outbox.add('cdr', 'cdr', { n: 2 });
    // Tried again within a second, in the order added.
    await new Promise((r) => setTimeout(r, 1100));
    assert.deepEqual(
      outbox.next(0, 10).map((m) => JSON.parse(m.payload).n),
      [1, 2],
    );
    assert.equal(errors.length, 1);
  });

  it('refuses a size outside 1000-1000000', () => {
    assert.throws(() => new Outbox({ db: openDb(':memory:'), maxMessages: 10 }), /1000-1000000/);
  });
});
