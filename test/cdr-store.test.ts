// SPDX-License-Identifier: GPL-2.0-or-later
// Call record store: idempotent writes, every filter, paging, refused filters, the CSV export.

import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { CdrStore, CSV_COLUMNS } from '../src/cdr/store.ts';
import { isSwitchboardError } from '../src/core/errors.ts';
import { openDb } from '../src/store/db.ts';
import { callRecord } from './helpers/cdr.ts';

async function text(stream: Readable): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += String(chunk);
  return out;
}

/** Ten calls: 0-4 inbound answered on pri1, 5-7 outbound busy on pri2, 8-9 inbound no answer. */
function filled(): CdrStore {
  const store = new CdrStore(openDb(':memory:'));
  for (let n = 0; n < 10; n++) {
    const over =
      n >= 5 && n <= 7
        ? {
            direction: 'outbound' as const,
            disposition: 'busy' as const,
            cause: 17,
            causeName: 'USER_BUSY',
            called: `0755${n}1234567`,
            route: 'out',
            a: { ...callRecord(n).a, trunk: 'pri2' },
            b: undefined,
          }
        : n >= 8
          ? { disposition: 'no_answer' as const, cause: 19, causeName: 'NO_ANSWER' }
          : {};
    store.write(callRecord(n, over));
  }
  return store;
}

const ids = (r: { records: { id: string }[] }) => r.records.map((x) => x.id);

describe('cdr store', () => {
  it('stores a record once however often it is written', () => {
    const store = new CdrStore(openDb(':memory:'));
    assert.equal(store.write(callRecord(1)), true);
    assert.equal(store.write(callRecord(1)), false);
    assert.equal(store.writeMany([callRecord(1), callRecord(2), callRecord(2)]), 1);
    assert.equal(store.count(), 2);
    assert.deepEqual(store.get('boot1-1'), callRecord(1));
  });

  it('names an unknown record id', () => {
    const store = new CdrStore(openDb(':memory:'));
    assert.throws(
      () => store.get('nope'),
      (e) => isSwitchboardError(e, 'E_CDR_UNKNOWN') && e.message.includes('"nope"'),
    );
  });

  it('refuses a record it cannot index, naming the field, and stores nothing of a failed batch', () => {
    const store = new CdrStore(openDb(':memory:'));
    const bad = { ...callRecord(2), startedAt: 'yesterday' };
    assert.throws(
      () => store.writeMany([callRecord(1), bad]),
      (e) => isSwitchboardError(e, 'E_CDR_FIELD') && e.message.includes('startedAt'),
    );
    assert.equal(store.count(), 0);
  });

  it('returns the newest first with the total, and pages', () => {
    const store = filled();
    const page = store.query({ limit: 3, offset: 2 });
    assert.equal(page.total, 10);
    assert.deepEqual(ids(page), ['boot1-7', 'boot1-6', 'boot1-5']);
  });

  it('filters by time range (from inclusive, to exclusive, zones honoured)', () => {
    const store = filled();
    // 08:02Z to 08:05Z, given in China time.
    const r = store.query({ from: '2025-05-01T16:02:00+08:00', to: '2025-05-01T16:05:00+08:00' });
    assert.deepEqual(ids(r), ['boot1-4', 'boot1-3', 'boot1-2']);
    assert.equal(store.query({ from: '2025-05-02' }).total, 0);
  });

  it('filters by trunk on either leg', () => {
    const store = filled();
    assert.deepEqual(ids(store.query({ trunk: 'pri2' })), ['boot1-7', 'boot1-6', 'boot1-5']);
    assert.equal(store.query({ trunk: 'phones' }).total, 7);
  });

  it('filters by a number contained in the called or the calling number', () => {
    const store = filled();
    assert.deepEqual(ids(store.query({ number: '00003' })), ['boot1-3']);
    assert.deepEqual(ids(store.query({ number: '61234' })), ['boot1-6']);
    assert.equal(store.query({ number: '95588' }).total, 7);
  });

  it('filters by direction, disposition, cause and route, together', () => {
    const store = filled();
    assert.equal(store.query({ direction: 'outbound' }).total, 3);
    assert.deepEqual(ids(store.query({ disposition: 'no_answer' })), ['boot1-9', 'boot1-8']);
    assert.equal(store.query({ cause: 17, route: 'out', direction: 'outbound' }).total, 3);
    assert.equal(store.query({ cause: 17, direction: 'inbound' }).total, 0);
  });

  it('refuses a wrong filter, naming the field', () => {
    const store = filled();
    const cases: [unknown, string][] = [
      [{ limit: 1001 }, 'limit'],
      [{ disposition: 'lost' }, 'disposition'],
      [{ from: '1 May' }, 'from'],
      [{ to: '2025-02-30T25:00Z' }, 'to'],
      [{ number: "1' OR 1=1" }, 'number'],
      [{ calling: '123' }, 'calling'],
    ];
    for (const [filter, field] of cases)
      assert.throws(
        () => store.query(filter as never),
        (e) =>
          isSwitchboardError(e, 'E_REQUEST_FIELD') &&
          (e.details as { path: string }[])[0]?.path === field,
        JSON.stringify(filter),
      );
  });

  it('exports CSV: a header, one row per record with both legs, newest first', async () => {
    const store = filled();
    const csv = await text(store.toCsv({ trunk: 'pri1' }));
    const rows = csv.trimEnd().split('\n');
    assert.equal(rows[0], CSV_COLUMNS.join(','));
    assert.equal(rows.length, 1 + 7);
    const head = rows[0]?.split(',') ?? [];
    const cell = (row: string | undefined, col: string) => row?.split(',')[head.indexOf(col)];
    assert.deepEqual(
      [cell(rows[1], 'id'), cell(rows[1], 'a_trunk'), cell(rows[1], 'a_channel')],
      ['boot1-9', 'pri1', '10'],
    );
    assert.deepEqual([cell(rows[1], 'b_trunk'), cell(rows[1], 'b_called')], ['phones', '201']);
    assert.equal(cell(rows[1], 'disposition'), 'no_answer');
  });

  it('exports more records than one read batch, each once, and a header when none match', async () => {
    const store = new CdrStore(openDb(':memory:'));
    // Same start time for many records: the export pages by (started_at, id), not time alone.
    const n = 1234;
    store.writeMany(Array.from({ length: n }, (_, i) => callRecord(i % 3, { id: `boot2-${i}` })));
    const rows = (await text(store.toCsv())).trimEnd().split('\n').slice(1);
    const exported = rows.map((r) => r.split(',')[0]);
    assert.equal(exported.length, n);
    assert.equal(new Set(exported).size, n);
    assert.equal(await text(store.toCsv({ route: 'nowhere' })), `${CSV_COLUMNS.join(',')}\n`);
  });

  it('lets calls write while an export is being read', async () => {
    const store = new CdrStore(openDb(':memory:'));
    store.writeMany(Array.from({ length: 1200 }, (_, i) => callRecord(i)));
    const stream = store.toCsv();
    let rows = 0;
    let wrote = 0;
    for await (const chunk of stream) {
      rows += String(chunk).split('\n').length - 1;
      if (store.write(callRecord(100_000 + rows))) wrote++;
    }
    assert.ok(wrote > 0);
    assert.equal(store.count(), 1200 + wrote);
  });
});
