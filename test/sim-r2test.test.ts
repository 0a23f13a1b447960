// SPDX-License-Identifier: GPL-2.0-or-later
// Acceptance of the CAS path: openr2's unmodified r2test completes MFC-R2 calls across a simulated cable.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { E1_PAIR, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';

describe('r2test (Debian libopenr2-bin) over the simulator', () => {
  let sim: TestSim;
  before(async () => {
    sim = await withConfiguredSim(
      E1_PAIR,
      'span=1,1,0,cas,hdb3\nspan=2,2,0,cas,hdb3\ncas=1-15:1101\ncas=32-46:1101\nloadzone=us\ndefaultzone=us\n',
    );
  });
  after(async () => {
    await sim.stop();
  });

  it('ITU variant: seizure, MF ANI and DNIS, accept and answer on every channel, no protocol error', async () => {
    // openr2's own example configuration: span 1 answers, span 2 calls 4321 from 0987654321.
    const conf = readFileSync('/etc/openr2/r2test.conf', 'utf8')
      .replace(/^variant=.*$/m, 'variant=itu')
      .replace(/^loglevel=.*$/m, 'loglevel=error,warning,notice')
      .replace(/^channel=(17-31|48-62)$/gm, '');
    const file = join(sim.dir, 'r2test.conf');
    writeFileSync(file, conf);
    // r2test calls for ever. It runs line-buffered (stdbuf) so that what it printed is not lost
    // in a pipe buffer when it is interrupted, and it is stopped once five calls are answered
    // (or after 90 s on a very loaded machine): the assertions are on counts, not on time.
    const child = spawn('stdbuf', ['-oL', '-eL', 'r2test', '-c', file], { env: sim.env });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const limit = setTimeout(() => child.kill('SIGINT'), 90_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if ((stdout.match(/call has been answered/g) ?? []).length >= 5) child.kill('SIGINT');
    });
    await new Promise((resolve) => child.on('close', resolve));
    clearTimeout(limit);
    const r = { stdout, stderr };
    const ready = r.stdout.match(/call ready on chan \d+\. ANI = \d*, DNIS = \d*/g) ?? [];
    assert.ok(ready.length >= 5, `calls offered: ${ready.length}\n${r.stdout.slice(-2000)}`);
    for (const line of ready) assert.match(line, /ANI = 0987654321, DNIS = 4321$/);
    const answered = r.stdout.match(/call has been answered on chan \d+/g) ?? [];
    assert.ok(answered.length >= 5, `calls answered: ${answered.length}`);
    assert.doesNotMatch(r.stdout + r.stderr, /Protocol error/);
  });
});
