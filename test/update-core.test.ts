// SPDX-License-Identifier: GPL-2.0-or-later
// The pure parts of firmware updates: version order, the update state machine, the release file.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isSwitchboardError } from '../src/core/errors.ts';
import { compareSemver, parseSemver } from '../src/core/semver.ts';
import { developmentRelease, readRelease } from '../src/system/release.ts';
import {
  UPDATE_EVENTS,
  UPDATE_STATES,
  UPDATE_TABLE,
  updateBusy,
  updateFsm,
} from '../src/update/fsm.ts';

function order(a: string, b: string): number {
  const x = parseSemver(a);
  const y = parseSemver(b);
  assert.ok(x && y, `${a} and ${b} parse`);
  return compareSemver(x, y);
}

describe('firmware versions', () => {
  it('orders versions by semver precedence, prereleases before their release', () => {
    const sorted = [
      '0.1.0',
      '0.2.0-dev.2',
      '0.2.0-dev.7',
      '0.2.0-dev.12',
      '0.2.0-rc.1',
      '0.2.0',
      '0.2.1',
      '0.10.0',
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0',
    ];
    for (let i = 0; i < sorted.length; i++)
      for (let j = 0; j < sorted.length; j++)
        assert.equal(
          order(sorted[i] as string, sorted[j] as string),
          Math.sign(i - j),
          `${sorted[i]} vs ${sorted[j]}`,
        );
  });

  it('ignores build metadata and refuses what is not a version', () => {
    assert.equal(order('0.2.0+g1234', '0.2.0'), 0);
    assert.deepEqual(parseSemver('0.2.0-dev.7+abc')?.prerelease, ['dev', 7]);
    for (const bad of ['', '0.2', 'v0.2.0', '0.02.0', '0.2.0-', '0.2.0-01', 'latest', '1.2.3.4'])
      assert.equal(parseSemver(bad), undefined, bad);
  });
});

describe('the update state machine', () => {
  it('has a row for every state and goes only to known states', () => {
    for (const s of UPDATE_STATES) {
      const row = UPDATE_TABLE[s];
      for (const [event, to] of Object.entries(row)) {
        assert.ok((UPDATE_EVENTS as readonly string[]).includes(event), event);
        assert.ok((UPDATE_STATES as readonly string[]).includes(to as string), String(to));
      }
    }
  });

  it('runs upload, verify, install; refuses a second update while one is under way', () => {
    const warnings: string[] = [];
    const fsm = updateFsm({ log: { warn: (_o, m) => warnings.push(m) } });
    assert.equal(fsm.fire('upload'), 'receiving');
    for (const busy of ['upload', 'open'] as const) assert.equal(fsm.fire(busy), false);
    assert.equal(fsm.fire('received'), 'verifying');
    assert.equal(fsm.fire('upload'), false);
    assert.equal(fsm.fire('verified'), 'installing');
    assert.equal(fsm.fire('open'), false);
    assert.equal(fsm.fire('done'), 'installed');
    // A bundle can follow an installed one (before the reboot); a failed one too.
    assert.equal(fsm.fire('open'), 'verifying');
    assert.equal(fsm.fire('fail'), 'failed');
    assert.equal(fsm.fire('upload'), 'receiving');
    assert.equal(fsm.refused, 4);
    assert.equal(warnings.length, 4);
    assert.match(warnings[0] ?? '', /upload refused in state receiving/);
    assert.deepEqual(
      fsm.history().transitions.map((t) => t.to),
      ['receiving', 'verifying', 'installing', 'installed', 'verifying', 'failed', 'receiving'],
    );
  });

  it('counts receiving, verifying and installing as busy, and nothing else', () => {
    assert.deepEqual(
      UPDATE_STATES.filter((s) => updateBusy(s)),
      ['receiving', 'verifying', 'installing'],
    );
  });

  it('refuses events that do not fit: done while receiving, received while idle', () => {
    const fsm = updateFsm();
    assert.equal(fsm.fire('received'), false);
    assert.equal(fsm.fire('done'), false);
    assert.equal(fsm.state, 'idle');
    fsm.fire('upload');
    assert.equal(fsm.fire('done'), false);
    assert.equal(fsm.state, 'receiving');
  });
});

describe('the release file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-release-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a release file', () => {
    const file = join(dir, 'release.json');
    const doc = {
      model: 'sim-demo',
      version: '0.2.0-dev.7',
      compatible: 'switchboard-sim-demo',
      build: 'v0.1.0-42-gabcdef0',
    };
    writeFileSync(file, JSON.stringify(doc));
    assert.deepEqual(readRelease(file), { release: doc, file });
  });

  it('falls back to the development release when there is none', () => {
    const r = readRelease(join(dir, 'absent.json'));
    assert.equal(r.file, undefined);
    assert.deepEqual(r.release, developmentRelease());
    assert.equal(r.release.model, 'sim-demo');
    assert.equal(r.release.compatible, 'switchboard-sim-demo');
    assert.equal(r.release.build, 'dev');
    assert.ok(parseSemver(r.release.version));
  });

  it('names every wrong field of a malformed release file, and the file', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({ model: 'Sim Demo', version: 'two', compatible: '', extra: 1 }),
    );
    assert.throws(
      () => readRelease(file),
      (err) => {
        assert.ok(isSwitchboardError(err, 'E_RELEASE_FILE'));
        assert.ok(err.message.startsWith(`${file}: `), err.message);
        assert.match(err.message, /model: must be a board model id/);
        assert.match(err.message, /version: must be a semantic version such as "0\.2\.0"/);
        assert.match(err.message, /compatible: must not be empty/);
        assert.match(err.message, /build: is required/);
        assert.match(err.message, /extra: is not a known field/);
        return true;
      },
    );
    writeFileSync(file, '{"model": ');
    assert.throws(
      () => readRelease(file),
      (err) => isSwitchboardError(err, 'E_RELEASE_FILE') && /not a readable JSON/.test(err.message),
    );
  });

  it('takes SWITCHBOARD_RELEASE_FILE when no file is given', () => {
    const file = join(dir, 'env.json');
    writeFileSync(
      file,
      JSON.stringify({
        model: 'e1-4',
        version: '1.0.0',
        compatible: 'switchboard-e1-4',
        build: 'x',
      }),
    );
    const before = process.env.SWITCHBOARD_RELEASE_FILE;
    process.env.SWITCHBOARD_RELEASE_FILE = file;
    try {
      assert.equal(readRelease().release.model, 'e1-4');
    } finally {
      if (before === undefined) delete process.env.SWITCHBOARD_RELEASE_FILE;
      else process.env.SWITCHBOARD_RELEASE_FILE = before;
    }
  });
});
