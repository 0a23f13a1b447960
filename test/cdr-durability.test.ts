// SPDX-License-Identifier: GPL-2.0-or-later
// Call records survive a kill -9 mid-burst: every record acknowledged is there, once, in a sound file.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CdrStore } from '../src/cdr/store.ts';
import { openDb } from '../src/store/db.ts';

const dir = mkdtempSync(join(tmpdir(), 'sb-cdr-durability-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const WRITER = fileURLToPath(new URL('./fixtures/cdr-writer.ts', import.meta.url));
/** Records acknowledged before the kill; enough to land the kill inside a burst of writes. */
const KILL_AFTER = 400;

describe('cdr durability', () => {
  it('keeps every acknowledged record after SIGKILL, with an intact database', async () => {
    const file = join(dir, 'switchboard.db');
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let killed = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (!killed && out.split('\n').length > KILL_AFTER) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.on('close', (c, s) => resolve([c, s])),
    );
    assert.equal(signal, 'SIGKILL', `the writer ended by itself (exit ${code})`);

    // Only whole lines: a line cut by the kill was not acknowledged.
    const acknowledged = out.split('\n').slice(0, -1);
    assert.ok(acknowledged.length >= KILL_AFTER, `${acknowledged.length} records acknowledged`);

    const db = openDb(file);
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    const store = new CdrStore(db);
    const stored = new Set(db.prepare('SELECT id FROM cdr').pluck().all() as string[]);
    const missing = acknowledged.filter((id) => !stored.has(id));
    assert.deepEqual(missing, []);
    assert.equal(
      db.prepare('SELECT COUNT(*) - COUNT(DISTINCT id) FROM cdr').pluck().get(),
      0,
      'a record is stored twice',
    );
    // At most the write in flight at the kill is there without its line (a batch of 3 at most).
    assert.ok(
      store.count() - new Set(acknowledged).size <= 3,
      `${store.count()} stored, ${new Set(acknowledged).size} acknowledged`,
    );
    db.close();
  });
});
