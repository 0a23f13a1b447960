// SPDX-License-Identifier: GPL-2.0-or-later
// Dialer store durability: committed before the dial, and a restart mid-campaign calls nobody twice.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Dialer, type PlaceRequest } from '../src/dialer/dialer.ts';
import type { CampaignDoc } from '../src/dialer/schema.ts';
import { DialerStore } from '../src/dialer/store.ts';
import { openDb } from '../src/store/db.ts';
import { FakePort, type Scripted, VirtualClock } from './helpers/dialer.ts';
import { logSink } from './helpers/scripted-engine.ts';

const dir = mkdtempSync(join(tmpdir(), 'dialer-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const doc: CampaignDoc = {
  name: 'notice',
  mode: 'broadcast',
  flow: 'notice-flow',
  timezone: 'Asia/Shanghai',
  windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '18:00' }],
  maxChannels: 5,
};

const contacts = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    row: i + 2,
    number: `139${String(i).padStart(8, '0')}`,
    vars: {},
  }));

/** Everyone answers and confirms; a call lasts a minute. */
const confirm = (): Scripted => ({
  result: { answered: true, cause: 16, amd: 'human', keypress: '#' },
  answerMs: 5_000,
  durationMs: 60_000,
});

describe('dialer store', () => {
  it('commits the contact as dialing, with its attempt row, before the port is asked to dial', () => {
    const file = join(dir, 'commit.db');
    const clock = new VirtualClock('2024-01-08T02:00:00Z');
    const store = new DialerStore(openDb(file), clock.now);
    // A second connection sees only what was committed.
    const reader = openDb(file);
    const seen: { state: string; attempts: number }[] = [];
    const port = new FakePort(clock, 30, (req: PlaceRequest) => {
      const row = reader
        .prepare('SELECT state FROM dialer_contacts WHERE id = ?')
        .get(req.contactId) as { state: string };
      const attempts = reader
        .prepare('SELECT COUNT(*) AS n FROM dialer_attempts WHERE contact_id = ? AND n = ?')
        .get(req.contactId, req.attempt) as { n: number };
      seen.push({ state: row.state, attempts: attempts.n });
      return confirm();
    });
    const dialer = new Dialer({ store, port, log: logSink().log, now: clock.now, timers: clock });
    dialer.create(doc);
    dialer.addContacts('notice', contacts(3));
    dialer.start('notice');
    dialer.close();
    assert.deepEqual(seen, [
      { state: 'dialing', attempts: 1 },
      { state: 'dialing', attempts: 1 },
      { state: 'dialing', attempts: 1 },
    ]);
    reader.close();
    store.db.close();
  });

  it('after a restart mid-campaign, the calls that were up are finished as interrupted and nobody is dialled twice', async () => {
    const file = join(dir, 'restart.db');
    const clock = new VirtualClock('2024-01-08T02:00:00Z');
    const first = new DialerStore(openDb(file), clock.now);
    assert.equal(first.interrupted, 0);
    const portA = new FakePort(clock, 30, confirm);
    const a = new Dialer({
      store: first,
      port: portA,
      log: logSink().log,
      now: clock.now,
      timers: clock,
    });
    a.create(doc);
    assert.deepEqual(a.addContacts('notice', contacts(20)), { added: 20, duplicates: [] });
    a.start('notice');
    a.run();
    // Two rounds of five calls end; the third round is up when the controller dies.
    await clock.advanceTo(clock.ms + 150_000);
    assert.equal(portA.placed.length, 15);
    a.close();
    first.db.close();

    const { log, lines } = logSink();
    const second = new DialerStore(openDb(file), clock.now);
    assert.equal(second.interrupted, 5);
    const row = second.campaign('notice');
    assert.equal(row?.state, 'running', 'the campaign resumes where it stood');
    assert.equal(row?.counters.interrupted, 5);
    assert.equal(row?.counters.results.success, 10);
    assert.equal(row?.counters.results.failed, 5);
    const interrupted = second
      .exportRows(row?.id as number, 'all')
      .filter((c) => c.reason === 'interrupted');
    assert.deepEqual(
      interrupted.map((c) => c.number).sort(),
      portA.placed
        .slice(10)
        .map((p) => p.req.number)
        .sort(),
    );
    for (const c of interrupted) {
      assert.equal(c.state, 'done');
      assert.equal(c.lastOutcome, 'failed');
    }
    assert.ok(
      second.attempts(row?.id as number).every((x) => x.endedAt !== null),
      'no attempt is left open',
    );

    const portB = new FakePort(clock, 30, confirm);
    const b = new Dialer({ store: second, port: portB, log, now: clock.now, timers: clock });
    assert.ok(lines.some((l) => l.level === 'warn' && /interrupted/.test(l.msg)));
    b.run();
    await clock.advanceTo(clock.ms + 600_000);
    b.close();

    const numbers = [...portA.placed, ...portB.placed].map((p) => p.req.number);
    assert.equal(new Set(numbers).size, numbers.length, 'nobody dialled twice');
    assert.equal(numbers.length, 20, 'everybody else dialled once');
    assert.equal(portB.placed.length, 5);
    const end = second.campaign('notice');
    assert.equal(end?.state, 'done');
    assert.equal(end?.counters.results.success, 15);
    assert.equal(end?.counters.results.failed, 5);
    second.db.close();

    // Opening once more finds nothing to recover and keeps the schema version.
    const third = new DialerStore(openDb(file), clock.now);
    assert.equal(third.interrupted, 0);
    third.db.close();
  });

  it('adds contacts once per campaign and reports the numbers it already has', () => {
    const store = new DialerStore(openDb(':memory:'));
    const c = store.createCampaign(doc);
    assert.deepEqual(store.addContacts(c.id, contacts(3)), { added: 3, duplicates: [] });
    assert.deepEqual(store.addContacts(c.id, contacts(4)), {
      added: 1,
      duplicates: contacts(3).map((x) => ({ row: x.row, number: x.number })),
    });
    const [first] = store.dueContacts(c.id, Date.now(), 1);
    assert.ok(first);
    assert.ok(store.beginAttempt(first.id, 0));
    assert.equal(
      store.beginAttempt(first.id, 0),
      undefined,
      'a contact dialing is not begun again',
    );
    assert.throws(() => store.createCampaign(doc), { code: 'E_CAMPAIGN_EXISTS' });
  });

  it('keeps a do-not-call list', () => {
    const store = new DialerStore(openDb(':memory:'));
    assert.equal(store.addDnc(['13800000000', '13800000001', '13800000000'], 'complaint'), 2);
    assert.equal(store.isDnc('13800000001'), true);
    assert.equal(store.removeDnc('13800000001'), true);
    assert.equal(store.isDnc('13800000001'), false);
    assert.deepEqual(
      store.dncList().map((d) => [d.number, d.reason]),
      [['13800000000', 'complaint']],
    );
  });
});
