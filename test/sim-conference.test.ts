// SPDX-License-Identifier: GPL-2.0-or-later
// Acceptance: the in-kernel monitor and conference modes, through Debian's dahdi_monitor and pseudo channels.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { E1_PAIR, probe, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';

/** Goertzel power of `hz` in signed 16-bit little-endian samples at 8 kHz, normalised per sample. */
function power(file: string, hz: number, skip = 800): number {
  const buf = readFileSync(file);
  const n = Math.floor(buf.length / 2);
  const coeff = 2 * Math.cos((2 * Math.PI * hz) / 8000);
  let s1 = 0;
  let s2 = 0;
  for (let i = skip; i < n; i++) {
    const s0 = buf.readInt16LE(i * 2) + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const count = Math.max(1, n - skip);
  return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (count * count);
}

describe('monitor and conference modes', () => {
  let sim: TestSim;
  before(async () => {
    sim = await withConfiguredSim(
      E1_PAIR,
      'span=1,1,0,ccs,hdb3,crc4\nspan=2,2,0,ccs,hdb3,crc4\nbchan=1-62\n',
    );
  });
  after(async () => {
    await sim.stop();
  });

  it('dahdi_monitor records what a channel receives and what it sends, apart', async () => {
    const near = sim.start(probe, ['tone', '1', '1000', '4']);
    const far = sim.start(probe, ['tone', '32', '400', '4']);
    await Promise.all([
      near.waitFor((l) => l.ready === true),
      far.waitFor((l) => l.ready === true),
    ]);
    const rx = join(sim.dir, 'rx.raw');
    const tx = join(sim.dir, 'tx.raw');
    const mon = sim.start('dahdi_monitor', ['1', '-r', rx, '-t', tx]);
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(mon.pid as number, 'SIGINT');
    await mon.done;
    await Promise.all([near.done, far.done]);
    assert.ok(readFileSync(rx).length >= 8000, 'at least half a second of receive audio');
    // Channel 1 receives the far end's 400 Hz and sends its own 1000 Hz.
    assert.ok(
      power(rx, 400) > 100 * power(rx, 1000),
      `rx 400 Hz ${power(rx, 400)} vs 1000 Hz ${power(rx, 1000)}`,
    );
    assert.ok(
      power(tx, 1000) > 100 * power(tx, 400),
      `tx 1000 Hz ${power(tx, 1000)} vs 400 Hz ${power(tx, 400)}`,
    );
  });

  it('in a three-party conference each party hears the two others and not itself', async () => {
    const freqs = [500, 1200, 2100];
    const files = freqs.map((f) => join(sim.dir, `party-${f}.raw`));
    const parties = freqs.map((f, i) =>
      sim.start(probe, ['tone', '7', String(f), '2', 'pseudo', files[i] as string]),
    );
    await Promise.all(parties.map((p) => p.done));
    freqs.forEach((own, i) => {
      const file = files[i] as string;
      const mine = power(file, own);
      for (const other of freqs.filter((f) => f !== own)) {
        const theirs = power(file, other);
        assert.ok(
          theirs > 100 * mine,
          `party ${own} Hz hears ${other} Hz at ${theirs}, itself at ${mine}`,
        );
      }
    });
  });
});

describe('DACS: an in-kernel cross-connect between two spans', () => {
  it('patches one trunk to another timeslot by timeslot, both ways', async () => {
    // Span 2 is patched to span 3 (channels 32-62 to 63-93): span 1 talks to span 4 through it.
    const sim = await withConfiguredSim(
      {
        spans: [{ type: 'E1' }, { type: 'E1' }, { type: 'E1' }, { type: 'E1' }],
        cables: [
          [1, 2],
          [3, 4],
        ],
      },
      'span=1,1,0,ccs,hdb3,crc4\nspan=2,2,0,ccs,hdb3,crc4\nspan=3,3,0,ccs,hdb3,crc4\nspan=4,4,0,ccs,hdb3,crc4\nbchan=1-31\ndacs=32-62:63\nbchan=94-124\n',
    );
    try {
      const west = sim.start(probe, ['tone', '5', '1000', '3']);
      const east = sim.start(probe, ['tone', '98', '600', '3']);
      await Promise.all([
        west.waitFor((l) => l.ready === true),
        east.waitFor((l) => l.ready === true),
      ]);
      const atWest = join(sim.dir, 'west-rx.raw');
      const atEast = join(sim.dir, 'east-rx.raw');
      const monWest = sim.start('dahdi_monitor', ['5', '-r', atWest]);
      const monEast = sim.start('dahdi_monitor', ['98', '-r', atEast]);
      await new Promise((res) => setTimeout(res, 1500));
      for (const m of [monWest, monEast]) process.kill(m.pid as number, 'SIGINT');
      await Promise.all([monWest.done, monEast.done, west.done, east.done]);
      // Timeslot 5 of span 1 reaches timeslot 5 of span 4 and back.
      assert.ok(power(atEast, 1000) > 100 * power(atEast, 600), 'span 4 hears span 1');
      assert.ok(power(atWest, 600) > 100 * power(atWest, 1000), 'span 1 hears span 4');
    } finally {
      await sim.stop();
    }
  });
});
