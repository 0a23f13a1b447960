// SPDX-License-Identifier: GPL-2.0-or-later
// The call record API on a bare fastify: search by query string, one record, the CSV export.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import cdrPlugin from '../src/api/cdr.ts';
import { useApiErrors } from '../src/api/error-handler.ts';
import { CdrStore, CSV_COLUMNS } from '../src/cdr/store.ts';
import { openDb } from '../src/store/db.ts';
import { callRecord } from './helpers/cdr.ts';

async function harness() {
  const store = new CdrStore(openDb(':memory:'));
  for (let n = 0; n < 6; n++)
    store.write(
      callRecord(
        n,
        n % 2 === 1
          ? {
              disposition: 'busy',
              cause: 17,
              causeName: 'USER_BUSY',
              a: { ...callRecord(n).a, trunk: 'pri2' },
            }
          : {},
      ),
    );
  const app = Fastify();
  useApiErrors(app);
  await app.register(cdrPlugin, { store });
  return app;
}

describe('cdr api', () => {
  it('searches by query string, newest first, with the total', async () => {
    const app = await harness();
    const res = await app.inject({ method: 'GET', url: '/api/cdr?trunk=pri2&limit=2' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.total, 3);
    assert.deepEqual(
      body.records.map((r: { id: string }) => r.id),
      ['boot1-5', 'boot1-3'],
    );
    const byCause = await app.inject({
      method: 'GET',
      url: '/api/cdr?cause=16&from=2025-05-01T08:03:00Z',
    });
    assert.deepEqual(
      byCause.json().records.map((r: { id: string }) => r.id),
      ['boot1-4'],
    );
  });

  it('refuses a wrong or unknown filter with 400 naming the field', async () => {
    const app = await harness();
    const cases: [string, string, RegExp][] = [
      ['limit=abc', 'query.limit', /must be an integer/],
      ['disposition=lost', 'query.disposition', /must be "answered"/],
      ['colour=red', 'query.colour', /is not a known field/],
      ['from=yesterday', 'query.from', /date/],
    ];
    for (const [query, path, message] of cases) {
      const res = await app.inject({ method: 'GET', url: `/api/cdr?${query}` });
      assert.equal(res.statusCode, 400, query);
      const body = res.json();
      assert.equal(body.error, 'E_REQUEST_FIELD', query);
      assert.equal(body.details[0].path, path, query);
      assert.match(body.details[0].message, message, query);
    }
  });

  it('answers one record by id, and 404 naming an unknown one', async () => {
    const app = await harness();
    const res = await app.inject({ method: 'GET', url: '/api/cdr/boot1-2' });
    assert.deepEqual(res.json(), callRecord(2));
    const missing = await app.inject({ method: 'GET', url: '/api/cdr/boot9-1' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error, 'E_CDR_UNKNOWN');
    assert.match(missing.json().message, /boot9-1/);
  });

  it('exports the matching records as a CSV attachment', async () => {
    const app = await harness();
    const res = await app.inject({ method: 'GET', url: '/api/cdr.csv?disposition=busy' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/csv/);
    assert.match(
      String(res.headers['content-disposition']),
      /^attachment; filename="cdr-.*\.csv"$/,
    );
    const rows = res.body.trimEnd().split('\n');
    assert.equal(rows[0], CSV_COLUMNS.join(','));
    assert.deepEqual(
      rows.slice(1).map((r) => r.split(',')[0]),
      ['boot1-5', 'boot1-3', 'boot1-1'],
    );
    const bad = await app.inject({ method: 'GET', url: '/api/cdr.csv?limit=5' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().details[0].path, 'query.limit');
  });
});
