// SPDX-License-Identifier: GPL-2.0-or-later
// Simulator lifecycle (start, refuse a second, stop, early death) and `sim run`, with a test double.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.ts';
import { isSwitchboardError } from '../src/core/errors.ts';
import { SimClient } from '../src/sim/client.ts';
import { livePid, runningConfig, simEnv, startSim, stopSim } from '../src/sim/daemon.ts';

// The real daemon is tested by the simulator's own suite; this double only speaks the protocol.
const fakeDaemon = fileURLToPath(new URL('fixtures/fake-switchboard-simd.mjs', import.meta.url));
// Any shared library does as the preload: these tests check the environment, not DAHDI.
const fakePreload = '/lib/x86_64-linux-gnu/libc.so.6';

describe('sim daemon lifecycle (test double)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-simd-'));
    process.env.SWITCHBOARD_SIMD = fakeDaemon;
    process.env.SWITCHBOARD_SIM_PRELOAD = fakePreload;
  });
  after(() => {
    delete process.env.SWITCHBOARD_SIMD;
    delete process.env.SWITCHBOARD_SIM_PRELOAD;
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts, answers status, refuses a second start, and stops', async () => {
    const simDir = join(dir, 'a');
    const sim = await startSim({
      config: { spans: [{ type: 'E1' }, { type: 'E1' }], cables: [[1, 2]] },
      dir: simDir,
    });
    try {
      assert.equal(sim.dir, simDir);
      assert.equal(livePid(simDir), sim.pid);
      assert.deepEqual(runningConfig(simDir), {
        spans: [{ type: 'E1' }, { type: 'E1' }],
        cables: [[1, 2]],
      });
      const status = await sim.client.status();
      assert.deepEqual(
        status.spans.map((s) => [s.span, s.cable]),
        [
          [1, 2],
          [2, 1],
        ],
      );
      await assert.rejects(startSim({ dir: simDir }), (err) =>
        isSwitchboardError(err, 'E_SIM_RUNNING'),
      );
    } finally {
      await sim.stop();
    }
    assert.equal(livePid(simDir), undefined);
    assert.equal(await new SimClient(simDir).isUp(), false);
    assert.equal(await stopSim(simDir), false, 'stopping twice is harmless');
  });

  it('reports a daemon that dies at start with its log', async () => {
    const dying = join(dir, 'dying.sh');
    writeFileSync(dying, '#!/bin/sh\necho "simd: cannot parse config" >&2\nexit 3\n', {
      mode: 0o755,
    });
    process.env.SWITCHBOARD_SIMD = dying;
    try {
      await assert.rejects(
        startSim({ dir: join(dir, 'b') }),
        (err) =>
          isSwitchboardError(err, 'E_SIM_START') &&
          err.message.includes('exited with code 3') &&
          err.message.includes('simd: cannot parse config'),
      );
    } finally {
      process.env.SWITCHBOARD_SIMD = fakeDaemon;
    }
  });

  it('refuses to start with an invalid configuration before spawning anything', async () => {
    await assert.rejects(
      startSim({ config: { spans: [{ type: 'E3' }] } as never, dir: join(dir, 'c') }),
      (err) => isSwitchboardError(err, 'E_CONFIG_FIELD'),
    );
  });

  it('puts the preload first in LD_PRELOAD and names the simulator directory', () => {
    const env = simEnv('rel/dir', { ...process.env, LD_PRELOAD: '/other.so' });
    assert.equal(env.LD_PRELOAD, `${fakePreload} /other.so`);
    assert.equal(env.SWITCHBOARD_SIM_DIR, join(process.cwd(), 'rel/dir'));
  });

  it('`sim run` passes the environment and returns the exit code of the command', async () => {
    const simDir = join(dir, 'd');
    const sim = await startSim({ config: { spans: [{ type: 'T1' }] }, dir: simDir });
    try {
      const script = `[ "$SWITCHBOARD_SIM_DIR" = "${simDir}" ] && [ "$LD_PRELOAD" = "${fakePreload}" ] && exit 7`;
      assert.equal(await main(['sim', 'run', '--dir', simDir, '--', 'sh', '-c', script]), 7);
      const io = {
        out: () => {},
        err: (t: string) => assert.match(t, /^error: command not found: no-such-cmd-x/),
      };
      assert.equal(await main(['sim', 'run', '--dir', simDir, '--', 'no-such-cmd-x'], io), 1);
    } finally {
      await sim.stop();
    }
  });
});
