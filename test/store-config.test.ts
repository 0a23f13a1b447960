// SPDX-License-Identifier: GPL-2.0-or-later
// Configuration revisions: commit, the running one, history pages, diff, rollback, reopening.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isSwitchboardError } from '../src/core/errors.ts';
import { ConfigStore } from '../src/store/config-store.ts';
import { openDb } from '../src/store/db.ts';
import { sampleConfig, withSwitchtype } from './helpers/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'sb-config-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('config store', () => {
  it('has no running configuration before the first commit', () => {
    const store = new ConfigStore(openDb(':memory:'));
    assert.equal(store.current(), undefined);
    assert.deepEqual(store.list(), []);
  });

  it('commits revisions with growing ids and keeps the last one running', () => {
    const store = new ConfigStore(openDb(':memory:'));
    const r1 = store.commit(sampleConfig(), { author: 'system', source: 'setup' });
    const r2 = store.commit(withSwitchtype('qsig'), {
      author: 'li',
      source: 'api',
      comment: 'carrier moved to QSIG',
    });
    assert.equal(r2.id, r1.id + 1);
    assert.equal(r1.changes > 0, true);
    assert.deepEqual(
      { parent: r2.parent, changes: r2.changes, current: r2.current, author: r2.author },
      { parent: r1.id, changes: 1, current: true, author: 'li' },
    );
    assert.deepEqual(store.current(), { revision: r2.id, config: withSwitchtype('qsig') });
    assert.deepEqual(
      store.list().map((r) => [r.id, r.source, r.current, r.comment]),
      [
        [r2.id, 'api', true, 'carrier moved to QSIG'],
        [r1.id, 'setup', false, ''],
      ],
    );
    assert.ok(!Number.isNaN(Date.parse(r2.createdAt)));
  });

  it('pages through history with limit and before', () => {
    const store = new ConfigStore(openDb(':memory:'));
    const ids = ['euroisdn', 'qsig', 'ni2', 'dms100', '5ess'].map(
      (s) => store.commit(withSwitchtype(s), { author: 'a', source: 'api' }).id,
    );
    const page1 = store.list({ limit: 2 });
    const page2 = store.list({ limit: 2, before: page1[1]?.id });
    assert.deepEqual(
      [...page1, ...page2].map((r) => r.id),
      [...ids].reverse().slice(0, 4),
    );
    assert.throws(
      () => store.list({ limit: 0 }),
      (e) => isSwitchboardError(e, 'E_REQUEST_FIELD') && /^limit/.test(e.message),
    );
  });

  it('diffs two revisions and names an unknown one', () => {
    const store = new ConfigStore(openDb(':memory:'));
    const a = store.commit(sampleConfig(), { author: 'a', source: 'setup' }).id;
    const b = store.commit(withSwitchtype('ni2'), { author: 'a', source: 'api' }).id;
    assert.deepEqual(store.diff(a, b), [
      { path: 'trunks[name=pri1].switchtype', op: 'change', before: 'euroisdn', after: 'ni2' },
    ]);
    assert.throws(
      () => store.get(99),
      (e) => isSwitchboardError(e, 'E_REVISION_UNKNOWN') && e.message.includes('99'),
    );
  });

  it('rolls back as a new revision that names the one it restores', () => {
    const store = new ConfigStore(openDb(':memory:'));
    const first = store.commit(sampleConfig(), { author: 'a', source: 'setup' }).id;
    store.commit(withSwitchtype('qsig'), { author: 'a', source: 'api' });
    // What the controller does: fetch, apply (here: nothing to apply), commit.
    const target = store.rollbackTarget(first);
    const info = store.commit(target.config, { ...target.meta, author: 'wang' });
    assert.deepEqual(
      {
        source: info.source,
        restores: info.restores,
        comment: info.comment,
        changes: info.changes,
      },
      { source: 'rollback', restores: first, comment: `rollback to revision ${first}`, changes: 1 },
    );
    assert.deepEqual(store.current()?.config, sampleConfig());
    assert.equal(store.list().length, 3);
  });

  it('keeps revisions and the running one across a reopen, and never reuses an id', () => {
    const file = join(dir, 'switchboard.db');
    const db1 = openDb(file);
    const s1 = new ConfigStore(db1);
    s1.commit(sampleConfig(), { author: 'a', source: 'setup' });
    const last = s1.commit(withSwitchtype('qsig'), { author: 'a', source: 'api' }).id;
    db1.prepare('DELETE FROM config_current').run();
    db1.prepare('DELETE FROM config_revisions WHERE id = ?').run(last);
    db1.close();
    const db2 = openDb(file);
    const s2 = new ConfigStore(db2);
    assert.equal(s2.current(), undefined);
    assert.equal(s2.list().length, 1);
    assert.equal(s2.commit(sampleConfig(), { author: 'a', source: 'api' }).id, last + 1);
    db2.close();
    const s3 = new ConfigStore(openDb(file));
    assert.equal(s3.current()?.revision, last + 1);
  });

  it('stores the canonical form: key order does not make a change', () => {
    const store = new ConfigStore(openDb(':memory:'));
    store.commit(sampleConfig(), { author: 'a', source: 'setup' });
    const reordered = Object.fromEntries(Object.entries(sampleConfig()).reverse());
    const info = store.commit(reordered, { author: 'a', source: 'api' });
    assert.equal(info.changes, 0);
    assert.deepEqual(Object.keys(store.current()?.config ?? {}), Object.keys(sampleConfig()));
  });
});
