// SPDX-License-Identifier: GPL-2.0-or-later
// Acceptance: two processes on the two ends of a simulated cable exchange bearer bytes and HDLC frames.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { E1_PAIR, probe, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';

// Both spans CCS; every one of the 31 timeslots a clear channel, so every timeslot is checked.
const BEARER_CONF = `span=1,1,0,ccs,hdb3,crc4
span=2,0,0,ccs,hdb3,crc4
bchan=1-62
`;

interface StreamResult {
  channels: number;
  synced: number;
  txBytes: number;
  rxBytes: number;
  errors: number;
  gaps: number;
  firstWriteNs: number;
  firstSyncNs: number;
}

async function streamBothEnds(sim: TestSim, blocksize: number, mode: string, seconds = 2) {
  const a = sim.start(probe, ['stream', '1', '31', String(seconds), String(blocksize), mode]);
  const b = sim.start(probe, ['stream', '32', '62', String(seconds), String(blocksize), mode]);
  // Both ends have every channel open before either sends a byte.
  await Promise.all([a.waitFor((l) => l.ready === true), b.waitFor((l) => l.ready === true)]);
  a.send('go\n');
  b.send('go\n');
  const [ra, rb] = await Promise.all([a.done, b.done]);
  assert.equal(ra.code, 0, `span 1 end: ${ra.stdout} ${ra.stderr}`);
  assert.equal(rb.code, 0, `span 2 end: ${rb.stdout} ${rb.stderr}`);
  const last = (out: string) => JSON.parse(out.trim().split('\n').pop() as string) as StreamResult;
  return [last(ra.stdout), last(rb.stdout)] as const;
}

describe('bearer timeslots across a cable', () => {
  let sim: TestSim;
  before(async () => {
    sim = await withConfiguredSim(E1_PAIR, BEARER_CONF);
  });
  after(async () => {
    await sim.stop();
  });

  for (const mode of ['poll', 'epoll', 'select']) {
    it(`every timeslot carries the far end's bytes in order, none lost (${mode})`, async () => {
      const [a, b] = await streamBothEnds(sim, 160, mode);
      for (const [end, far] of [
        [a, b],
        [b, a],
      ] as const) {
        assert.equal(end.channels, 31);
        assert.equal(end.synced, 31, 'every timeslot received the far end sequence');
        assert.equal(end.errors, 0, 'no byte out of order, lost or duplicated');
        // Everything the far end wrote arrived (the writer stops early so its queue drains).
        assert.equal(end.rxBytes, far.txBytes);
        assert.ok(
          end.txBytes >= 31 * 8000,
          `each timeslot streamed at least a second (${end.txBytes})`,
        );
      }
    });
  }

  it('latency follows the block size: a byte is read once the block it completes is full', async () => {
    for (const blocksize of [40, 320]) {
      const [a, b] = await streamBothEnds(sim, blocksize, 'poll', 1.5);
      const blockMs = blocksize / 8;
      for (const [writer, reader] of [
        [a, b],
        [b, a],
      ] as const) {
        const ms = (reader.firstSyncNs - writer.firstWriteNs) / 1e6;
        // The first bytes complete a receive block that was filling with idle code, so they are
        // readable within one block time of leaving (plus scheduling); never before they are sent.
        assert.ok(ms > 0, `blocksize ${blocksize}: first bytes after ${ms} ms`);
        assert.ok(ms <= blockMs + 1 + 250, `blocksize ${blocksize}: first bytes after ${ms} ms`);
        assert.equal(reader.errors, 0);
        assert.equal(reader.rxBytes, writer.txBytes);
      }
    }
  });
});

describe('HDLC D-channel across a cable', () => {
  let sim: TestSim;
  before(async () => {
    sim = await withConfiguredSim(
      E1_PAIR,
      'span=1,1,0,ccs,hdb3,crc4\nspan=2,0,0,ccs,hdb3,crc4\nbchan=1-15,17-31\nhardhdlc=16\nbchan=32-46,48-62\ndchan=47\n',
    );
  });
  after(async () => {
    await sim.stop();
  });

  it('frames arrive with none lost, duplicated or reordered, at no more than 64 kbit/s', async () => {
    const count = 200;
    const size = 60;
    const receiver = sim.start(probe, ['hdlc-recv', '47', String(count), '30']);
    await receiver.waitFor((l) => l.ready === true);
    const sender = await sim.run(probe, ['hdlc-send', '16', String(count), String(size)]);
    assert.equal(sender.code, 0, sender.stderr);
    const got = await receiver.done;
    assert.equal(got.code, 0, got.stdout + got.stderr);
    const r = JSON.parse(got.stdout.trim().split('\n').pop() as string);
    assert.equal(r.received, count);
    assert.equal(r.duplicates, 0);
    assert.equal(r.lost, 0);
    assert.equal(r.outOfOrder, 0);
    assert.equal(r.corrupt, 0);
    assert.equal(r.badFcs, 0);
    // The sender's clock runs from its first write until its last frame has left the buffers:
    // the payload (flags, FCS and bit stuffing come on top) cannot have gone faster than the line.
    const s = JSON.parse(sender.stdout);
    const bitsPerSecond = (count * size * 8) / (s.elapsedNs / 1e9);
    assert.ok(bitsPerSecond <= 64000, `payload went at ${bitsPerSecond} bit/s`);
    assert.ok(bitsPerSecond > 20000, `payload went at only ${bitsPerSecond} bit/s`);
  });

  it('bit errors on the line surface as BADFCS events, never as corrupt frames', async () => {
    await sim.client.fault(2, { fault: 'errors', rate: 2e-4 });
    try {
      const count = 100;
      const receiver = sim.start(probe, ['hdlc-recv', '47', String(count), '8']);
      await receiver.waitFor((l) => l.ready === true);
      await sim.run(probe, ['hdlc-send', '16', String(count), '60']);
      const got = await receiver.done;
      const r = JSON.parse(got.stdout.trim().split('\n').pop() as string);
      assert.equal(r.corrupt, 0, 'a frame with a bad FCS is never delivered');
      assert.equal(r.duplicates, 0);
      assert.ok(r.badFcs + r.aborts + r.lost > 0, `errors were injected: ${got.stdout}`);
      assert.ok(r.received > 0);
      const st = await sim.client.status();
      const span2 = st.spans[1];
      assert.ok(span2 && span2.counters.bpv > 0 && span2.counters.crc4 > 0);
      assert.ok(
        (st.spans[0]?.counters.ebit ?? 0) > 0,
        'the far end hears of CRC-4 errors via E-bits',
      );
    } finally {
      await sim.client.fault(2, { fault: 'clear' });
    }
  });
});
