// SPDX-License-Identifier: GPL-2.0-or-later
// The simulator's AddressSanitizer/UBSan build through the main flows, and the codec unit test in both builds.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from '../src/runtime/paths.ts';
import { probe, type TestSim, withSim } from './helpers/dahdi.ts';

const asanDaemon = `${repoRoot}native/sim/build/switchboard-simd-asan`;
const asanPreload = `${repoRoot}native/sim/build/libdahdisim-asan.so`;
// The sanitized preload runs inside programs that are not sanitized: the ASan runtime goes first.
const asanRuntime = spawnSync('g++', ['-print-file-name=libasan.so'], {
  encoding: 'utf8',
}).stdout.trim();

describe('codec unit tests (HDLC, G.711)', () => {
  for (const name of ['test_codec', 'test_codec_asan']) {
    it(`${name} passes`, () => {
      const bin = `${repoRoot}native/sim/build/${name}`;
      if (!existsSync(bin)) {
        const built = spawnSync('make', ['-s', '-C', `${repoRoot}native/sim`, `build/${name}`], {
          encoding: 'utf8',
        });
        assert.equal(built.status, 0, built.stderr);
      }
      const r = spawnSync(bin, [], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /\d+ passed, 0 failed/);
    });
  }
});

describe('the sanitizer build of the daemon', () => {
  let sim: TestSim;
  let stopped = false;
  before(async () => {
    process.env.SWITCHBOARD_SIMD = asanDaemon;
    try {
      sim = await withSim({
        spans: [{ type: 'E1' }, { type: 'E1' }, { type: 'analog', ports: ['fxs', 'fxo'] }],
        cables: [[1, 2]],
        lines: [['3:1', '3:2']],
      });
    } finally {
      delete process.env.SWITCHBOARD_SIMD;
    }
    // Every DAHDI client below (dahdi_cfg, dahdi_probe) carries the sanitized preload. Leak
    // checking stays off for them: the programs are Debian's, and their leaks are not ours.
    Object.assign(sim.env, {
      LD_PRELOAD: `${asanRuntime}:${asanPreload}`,
      ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1',
      UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
    });
  });
  after(async () => {
    if (!stopped) await sim.stop();
  });

  it('configures, streams, frames, faults and rings without a sanitizer report in daemon or preload', async () => {
    const cfg = await sim.configure(
      'span=1,1,0,ccs,hdb3,crc4\nspan=2,0,0,ccs,hdb3,crc4\nbchan=1-15,17-31\nhardhdlc=16\nbchan=32-46,48-62\nhardhdlc=47\nfxoks=63\nfxsks=64\n',
    );
    assert.equal(cfg.code, 0, cfg.stderr);
    const a = sim.start(probe, ['stream', '1', '15', '1.5', '160', 'epoll']);
    const b = sim.start(probe, ['stream', '32', '46', '1.5', '160', 'poll']);
    await Promise.all([a.waitFor((l) => l.ready === true), b.waitFor((l) => l.ready === true)]);
    a.send('go\n');
    b.send('go\n');
    const [ra, rb] = await Promise.all([a.done, b.done]);
    assert.equal(ra.code, 0, ra.stdout + ra.stderr);
    assert.equal(rb.code, 0, rb.stdout + rb.stderr);
    for (const c of [ra, rb]) assert.doesNotMatch(c.stderr, /AddressSanitizer|runtime error:/);
    const recv = sim.start(probe, ['hdlc-recv', '47', '40', '10']);
    await recv.waitFor((l) => l.ready === true);
    await sim.client.fault(2, { fault: 'errors', rate: 1e-5 });
    const send = await sim.run(probe, ['hdlc-send', '16', '40', '40']);
    assert.equal(send.code, 0, send.stderr);
    await sim.client.fault(2, { fault: 'clear' });
    await sim.client.uncable(1);
    await sim.client.cable(1, 2);
    const ring = await sim.run(probe, ['hook', '63', 'ring', 'wait:100', 'ringoff']);
    assert.equal(ring.code, 0, ring.stderr);
    const clients = [cfg, send, ring, await sim.run(probe, ['ioctl', '0', '77'])];
    clients.push(await sim.run(probe, ['specify', '999']));
    for (const c of clients) assert.doesNotMatch(c.stderr, /AddressSanitizer|runtime error:/);
    await recv.done;
    assert.ok((await sim.client.status()).spans.length === 3);
  });

  it('exits cleanly with no AddressSanitizer, LeakSanitizer or UBSan report in its log', async () => {
    stopped = true;
    const log = await sim.stopAndReadLog();
    assert.match(log, /tick thread running/);
    assert.match(log, /simd: stopped/);
    assert.doesNotMatch(log, /AddressSanitizer|runtime error:|LeakSanitizer/);
  });
});
