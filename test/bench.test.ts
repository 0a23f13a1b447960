// SPDX-License-Identifier: GPL-2.0-or-later
// The bench runner: finds bench/NAME.ts, writes the figures with the machine, names known benches.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listBenches, machineInfo, runBench, summarise } from '../src/cli/bench.ts';
import { isSwitchboardError } from '../src/core/errors.ts';

describe('bench runner', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
    writeFileSync(
      join(dir, 'tiny.ts'),
      'export async function run() { return { calls: 3, latency: { p50Ms: 1.5 } }; }\n',
    );
    writeFileSync(join(dir, 'broken.ts'), 'export const notRun = 1;\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lists the .ts files of the bench directory', () => {
    assert.deepEqual(listBenches(dir), ['broken', 'tiny']);
    assert.deepEqual(listBenches(join(dir, 'missing')), []);
  });

  it('runs a bench and writes results/NAME.json with the machine', async () => {
    const { file, result } = await runBench('tiny', { benchDir: dir });
    assert.equal(file, join(dir, 'results', 'tiny.json'));
    const written = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual(written, JSON.parse(JSON.stringify(result)));
    assert.deepEqual(written.figures, { calls: 3, latency: { p50Ms: 1.5 } });
    for (const key of ['cpuModel', 'cpuCount', 'totalMemoryBytes', 'kernel', 'node', 'date'])
      assert.ok(key in written.machine, `machine.${key}`);
    assert.equal(written.machine.node, process.version);
  });

  it('names the known benches when the name is unknown', async () => {
    await assert.rejects(
      runBench('nope', { benchDir: dir }),
      (err) =>
        isSwitchboardError(err, 'E_BENCH_UNKNOWN') &&
        err.message === 'unknown bench "nope"; known benches: broken, tiny',
    );
    await assert.rejects(runBench('../tiny', { benchDir: dir }), (err) =>
      isSwitchboardError(err, 'E_BENCH_UNKNOWN'),
    );
  });

  it('refuses a bench module without run()', async () => {
    await assert.rejects(runBench('broken', { benchDir: dir }), (err) =>
      isSwitchboardError(err, 'E_BENCH_INVALID'),
    );
  });

  it('summarises nested figures one per line', () => {
    assert.deepEqual(summarise({ a: 1, b: { c: 'x', d: [1, 2] } }), [
      'a: 1',
      'b.c: x',
      'b.d: [1,2]',
    ]);
    assert.equal(machineInfo(new Date(0)).date, '1970-01-01T00:00:00.000Z');
  });
});
