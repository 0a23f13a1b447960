// SPDX-License-Identifier: GPL-2.0-or-later
// Acceptance: alarms from pulled cables and injected faults, error counters, analog hook and ring, timers.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  E1_PAIR,
  eventually,
  parseScan,
  probe,
  type TestSim,
  withConfiguredSim,
  withSim,
} from './helpers/dahdi.ts';

const E1_CCS = `span=1,1,0,ccs,hdb3,crc4
span=2,0,0,ccs,hdb3,crc4
bchan=1-15,17-31
hardhdlc=16
bchan=32-46,48-62
hardhdlc=47
`;

describe('line alarms and faults', () => {
  let sim: TestSim;
  const scan = async () => parseScan((await sim.run('dahdi_scan', [])).stdout);
  const alarmsAre = async (one: string, two: string) =>
    eventually(async () => {
      const s = await scan();
      return s[1]?.alarms === one && s[2]?.alarms === two;
    });

  before(async () => {
    sim = await withConfiguredSim(E1_PAIR, E1_CCS);
  });
  after(async () => {
    await sim.stop();
  });

  it('pulling the cable raises red alarm at both ends, with events on open channels; putting it back clears it', async () => {
    const end1 = sim.start(probe, ['events', '1', '6']);
    const end2 = sim.start(probe, ['events', '32', '6']);
    await Promise.all([
      end1.waitFor((l) => l.ready === true),
      end2.waitFor((l) => l.ready === true),
    ]);
    assert.ok(await alarmsAre('OK', 'OK'));

    await sim.client.uncable(1);
    assert.ok(await alarmsAre('RED', 'RED'), JSON.stringify(await scan()));
    const st = await sim.client.status();
    assert.deepEqual(st.spans[0]?.alarms, ['RED', 'LOS']);
    await end1.waitFor((l) => l.event === 'ALARM');
    await end2.waitFor((l) => l.event === 'ALARM');

    await sim.client.cable(1, 2);
    assert.ok(await alarmsAre('OK', 'OK'));
    await end1.waitFor((l) => l.event === 'NOALARM');
    await end2.waitFor((l) => l.event === 'NOALARM');
    // Exactly one ALARM and one NOALARM on each end: the general state changed twice.
    for (const end of [end1, end2]) {
      assert.deepEqual(
        end.lines.filter((l) => l.event).map((l) => l.event),
        ['ALARM', 'NOALARM'],
      );
    }
  });

  it('loss of signal at one end is red there and yellow (RAI) at the other', async () => {
    await sim.client.fault(2, { fault: 'los' });
    assert.ok(await alarmsAre('YEL', 'RED'), JSON.stringify(await scan()));
    const st = await sim.client.status();
    assert.deepEqual(st.spans[0]?.alarms, ['YELLOW', 'RAI']);
    assert.deepEqual(st.spans[1]?.alarms, ['RED', 'LOS']);
    await sim.client.fault(2, { fault: 'clear' });
    assert.ok(await alarmsAre('OK', 'OK'));
  });

  it('AIS is blue at the receiving end; a forced RAI is yellow', async () => {
    await sim.client.fault(1, { fault: 'ais' });
    assert.ok(await alarmsAre('BLU', 'YEL'), JSON.stringify(await scan()));
    await sim.client.fault(1, { fault: 'clear' });
    await sim.client.fault(2, { fault: 'rai' });
    assert.ok(await alarmsAre('OK', 'YEL'), JSON.stringify(await scan()));
    await sim.client.fault(2, { fault: 'clear' });
    assert.ok(await alarmsAre('OK', 'OK'));
  });

  it('bit errors count BPV and CRC-4 errors here and E-bits at the far end; a clock offset slips', async () => {
    const before = (await sim.client.status()).spans;
    await sim.client.fault(2, { fault: 'errors', rate: 1e-4 });
    await sim.client.fault(1, { fault: 'slip', ppm: 500 });
    await new Promise((r) => setTimeout(r, 1500));
    await sim.client.fault(2, { fault: 'clear' });
    await sim.client.fault(1, { fault: 'clear' });
    const after = (await sim.client.status()).spans;
    const d = (i: number, k: 'bpv' | 'crc4' | 'ebit' | 'slips') =>
      (after[i]?.counters[k] ?? 0) - (before[i]?.counters[k] ?? 0);
    // 1e-4 of 2.048 Mbit/s is about 205 errors a second; 500 ppm of 8000 frames/s is 4 slips a second.
    assert.ok(d(1, 'bpv') > 50, `bpv ${d(1, 'bpv')}`);
    assert.ok(d(1, 'crc4') > 50, `crc4 ${d(1, 'crc4')}`);
    assert.equal(d(0, 'ebit'), d(1, 'crc4'), 'each CRC-4 error comes back as an E-bit');
    assert.ok(d(0, 'slips') >= 2, `slips ${d(0, 'slips')}`);
    assert.equal(d(0, 'bpv'), 0, 'no errors injected on span 1');
    // The counters are DAHDI's: dahdi_tool and the addon read them through DAHDI_SPANSTAT too.
    const span2 = JSON.parse((await sim.run(probe, ['spanstat', '2'])).stdout);
    assert.equal(span2.bpvcount, after[1]?.counters.bpv);
    assert.equal(span2.crc4count, after[1]?.counters.crc4);
  });
});

describe('analog lines: hook and ring', () => {
  let sim: TestSim;
  before(async () => {
    sim = await withConfiguredSim(
      {
        spans: [{ type: 'analog', ports: ['fxs', 'fxo'] }],
        lines: [['1:1', '1:2']],
      },
      'fxoks=1\nfxsks=2\nloadzone=us\ndefaultzone=us\n',
    );
  });
  after(async () => {
    await sim.stop();
  });

  it('the FXS port rings the line, the FXO port sees the ring, answers and hangs up', async () => {
    // Channel 2 (FXO port, fxsks) waits for ringing, answers, then hangs up.
    const fxo = sim.start(probe, [
      'hook',
      '2',
      'wait:2500',
      'offhook',
      'wait:300',
      'onhook',
      'wait:300',
    ]);
    await fxo.waitFor((l) => l.ready === true);
    // Channel 1 (FXS port, fxoks) rings and watches the hook.
    const fxs = sim.start(probe, ['hook', '1', 'ring', 'wait:4000']);
    const [rf, rs] = await Promise.all([fxo.done, fxs.done]);
    assert.equal(rf.code, 0, rf.stderr);
    assert.equal(rs.code, 0, rs.stderr);
    const ev = (s: typeof fxo) =>
      s.lines.filter((l) => l.event || l.op).map((l) => l.event ?? l.op);
    assert.deepEqual(ev(fxo), ['RINGBEGIN', 'RINGOFFHOOK', 'offhook', 'onhook']);
    // The ringer went on, off after the 2 s burst of the US cadence, then the phone answered
    // in the silence and hung up.
    assert.deepEqual(ev(fxs), ['ring', 'RINGERON', 'RINGEROFF', 'RINGOFFHOOK', 'ONHOOK']);
  });

  it('an FXS port refuses to ring a line that is off hook', async () => {
    const fxo = sim.start(probe, ['hook', '2', 'offhook', 'wait:800']);
    await fxo.waitFor((l) => l.op === 'offhook');
    const fxs = await sim.run(probe, ['hook', '1', 'wait:100', 'ring']);
    const ring = fxs.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((l) => l.op === 'ring');
    assert.equal(ring.result, -1);
    assert.equal(ring.errno, 16, 'EBUSY');
    await fxo.done;
  });
});

describe('/dev/dahdi/timer', () => {
  it('expires at the configured interval, counted by the 1 ms tick', async () => {
    const sim = await withSim({ spans: [{ type: 'E1' }] });
    try {
      const r = await sim.run(probe, ['timer', '20', '25']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const t = JSON.parse(r.stdout);
      assert.equal(t.expired, 25);
      // 25 expiries of 20 ticks cannot come sooner than 500 ms of ticks (less the first's phase).
      assert.ok(t.elapsedNs >= 480e6, `elapsed ${t.elapsedNs / 1e6} ms`);
    } finally {
      await sim.stop();
    }
  });
});

describe('when the simulator goes away', () => {
  it('a blocked read ends with ENODEV, as after a card removal, instead of hanging', async () => {
    const sim = await withConfiguredSim(
      { spans: [{ type: 'E1' }] },
      'span=1,1,0,ccs,hdb3,crc4\nbchan=1-31\n',
    );
    try {
      const reader = sim.start(probe, ['read', '1']);
      await reader.waitFor((l) => l.ready === true);
      await new Promise((res) => setTimeout(res, 100));
      process.kill(sim.pid, 'SIGKILL');
      const done = await reader.done;
      const last = JSON.parse(done.stdout.trim().split('\n').pop() as string);
      assert.equal(last.result, -1);
      assert.equal(last.errno, 19, `ENODEV, got ${done.stdout}`);
    } finally {
      await sim.stop();
    }
  });
});
