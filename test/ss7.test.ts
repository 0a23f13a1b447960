// SPDX-License-Identifier: GPL-2.0-or-later
// Acceptance of the SS7 stack: two point codes over an E1 cable, each an engine host of its own.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSwitchboardError } from '../src/core/errors.ts';
import type { EngineTrunk } from '../src/native/engine.ts';
import { runProcess } from '../src/runtime/process.ts';
import { SS7_TIMERS } from '../src/trunks/ss7.ts';
import { validateTrunks } from '../src/trunks/validate.ts';
import { E1_PAIR, eventually, probe, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';
import { type Host, HostError, type Line, startHost } from './helpers/engine.ts';

// Span 1 (channels 1-31) and span 2 (32-62) cabled together, MTP2 on timeslot 16 of each.
const SYSTEM_CONF = `span=1,1,0,ccs,hdb3,crc4
span=2,0,0,ccs,hdb3,crc4
bchan=1-15,17-31
hardhdlc=16
bchan=32-46,48-62
hardhdlc=47
`;

function trunk(span: number, pointcode: number, adjacent: number, extra = {}): EngineTrunk {
  return {
    name: `pc${pointcode}`,
    signalling: 'ss7',
    variant: 'itu',
    pointcode,
    adjacentPointcode: adjacent,
    links: [{ span, timeslot: 16 }],
    cics: [{ span, firstCic: 1 }],
    ...extra,
  };
}

const isLinkUp = (e: Line) => e.event === 'link' && e.state === 'up';
const isLinkDown = (e: Line) => e.event === 'link' && e.state === 'down';

/** Waits for an event matching `pred` among those that arrive from now on. */
function next(h: Host, pred: (e: Line) => boolean, timeoutMs?: number): Promise<Line> {
  const old = new Set(h.lines);
  return h.waitEvent((e) => !old.has(e) && pred(e), timeoutMs);
}

async function channels(h: Host) {
  return (await h.snapshot()).trunks[0]?.channels ?? [];
}

async function allIdle(h: Host): Promise<boolean> {
  const list = await channels(h);
  return list.length === 30 && list.every((c) => c.state === 'idle');
}

/** Frames counted as malformed, and frames lost to full receive buffers before they could be. */
async function discarded(h: Host): Promise<number> {
  const t = (await h.snapshot()).trunks[0];
  return (t?.protocolErrors ?? 0) + (t?.links ?? []).reduce((n, l) => n + Number(l.overruns), 0);
}

async function expectCode(p: Promise<unknown>, code: string, field?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof HostError, String(err));
    assert.equal(err.code, code, err.message);
    if (field !== undefined) assert.equal(err.field, field, err.message);
    return true;
  });
}

/** Answers the next `n` calls offered to `h` (ACM, then ANM); resolves with their ids. */
async function answer(h: Host, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const offered = await h.waitEvent((e) => e.event === 'offered');
    const call = offered.call as number;
    ids.push(call);
    await h.command({ op: 'alert', call });
    await h.command({ op: 'answer', call });
  }
  return ids;
}

/** Places `n` calls from `from`, has `to` answer them, and waits until every one is answered. */
async function establish(from: Host, to: Host, n: number, trunkName: string) {
  const placed = await Promise.all(
    Array.from({ length: n }, (_, k) =>
      from.command({ op: 'place', trunk: trunkName, called: `2000${k}`, calling: '1000' }),
    ),
  );
  const ids = placed.map((r) => r.call as number);
  const farIds = await answer(to, n);
  for (const call of ids) await from.waitEvent((e) => e.event === 'answered' && e.call === call);
  return { ids, farIds };
}

describe('SS7 ISUP between two point codes over an E1 cable', () => {
  let sim: TestSim;
  let a: Host;
  let b: Host;

  before(async () => {
    sim = await withConfiguredSim(E1_PAIR, SYSTEM_CONF);
    [a, b] = await Promise.all([
      startHost(sim, { trunks: [trunk(1, 1, 2)] }, 'pc1'),
      startHost(sim, { trunks: [trunk(2, 2, 1)] }, 'pc2'),
    ]);
    await a.request('traceStart', { span: 1 });
  });
  after(async () => {
    if (process.env.SS7_DUMP) {
      writeFileSync(
        `${process.env.SS7_DUMP}/a.jsonl`,
        a.lines.map((l) => JSON.stringify(l)).join('\n'),
      );
      writeFileSync(
        `${process.env.SS7_DUMP}/b.jsonl`,
        b.lines.map((l) => JSON.stringify(l)).join('\n'),
      );
      writeFileSync(`${process.env.SS7_DUMP}/a.pcap`, await a.trace(1));
    }
    await Promise.all([a?.stop(), b?.stop()]);
    await sim?.stop();
  });

  it('aligns: both ends report the link up, and the start-up GRS leaves every CIC idle on both', async () => {
    await Promise.all([a.waitEvent(isLinkUp, 20_000), b.waitEvent(isLinkUp, 20_000)]);
    assert.ok(await eventually(() => allIdle(a), 10_000), 'span 1 CICs idle');
    assert.ok(await eventually(() => allIdle(b), 10_000), 'span 2 CICs idle');
    const s = (await a.snapshot()).trunks[0];
    assert.equal(s?.linkset, 'up');
    assert.deepEqual(
      s?.links.map((l) => [l.span, l.slc, l.state]),
      [[1, 0, 'up']],
    );
    assert.deepEqual(
      s?.channels.map((c) => c.cic),
      Array.from({ length: 30 }, (_, k) => k + 1),
    );
    // CICs follow the listed timeslots: 1-15 on timeslots 1-15, 16-30 on 17-31.
    assert.equal(s?.channels.find((c) => c.cic === 16)?.channel, 17);
    assert.equal(s?.protocolErrors, 0);
  });

  it('applies the timer table of src/trunks/ss7.ts', async () => {
    const timers = (await a.snapshot()).trunks[0]?.timers;
    const defaults = Object.fromEntries(Object.entries(SS7_TIMERS).map(([k, v]) => [k, v.default]));
    assert.deepEqual(timers, defaults);
  });

  it('30 simultaneous calls, one per CIC: placed, alerted, answered, released with cause 16 on both sides', async () => {
    const { ids, farIds } = await establish(a, b, 30, 'pc1');
    const calls = (await a.snapshot()).trunks[0]?.calls ?? [];
    assert.equal(calls.length, 30);
    assert.equal(new Set(calls.map((c) => c.cic)).size, 30, 'every CIC carries one call');
    assert.ok(calls.every((c) => c.state === 'answered'));
    assert.ok((await channels(b)).every((c) => c.state === 'talking'));
    for (const call of ids) await a.command({ op: 'release', call, cause: 16 });
    const mine = await Promise.all(
      ids.map((call) => a.waitEvent((e) => e.event === 'released' && e.call === call)),
    );
    const theirs = await Promise.all(
      farIds.map((call) => b.waitEvent((e) => e.event === 'released' && e.call === call)),
    );
    assert.ok(mine.every((e) => e.cause === 16 && e.by === 'local'));
    assert.ok(
      theirs.every((e) => e.cause === 16 && e.causeName === 'NORMAL_CLEARING' && e.by === 'remote'),
    );
    assert.equal(a.events((e) => e.event === 'alerting').length, 30);
    assert.ok(await eventually(() => allIdle(a)));
    assert.ok(await eventually(() => allIdle(b)));
  });

  it('the capture decodes with tshark: IAM, ACM, ANM, REL, RLC in order for a call', async () => {
    const { ids } = await establish(a, b, 1, 'pc1');
    const call = ids[0] as number;
    const cic = (await a.snapshot()).trunks[0]?.calls.find((c) => c.call === call)?.cic;
    await a.command({ op: 'release', call });
    await a.waitEvent((e) => e.event === 'released' && e.call === call);
    const file = join(sim.dir, 'span1.pcap');
    writeFileSync(file, await a.trace(1));
    const r = await runProcess('tshark', [
      '-r',
      file,
      '-o',
      'mtp3.standard:ITU',
      '-T',
      'fields',
      '-e',
      'isup.cic',
      '-e',
      'isup.message_type',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t'))
      .filter(([c, t]) => c === String(cic) && t !== '');
    // The last call on that CIC: message types 1 IAM, 6 ACM, 9 ANM, 12 REL, 16 RLC.
    const types = rows.map(([, t]) => Number(t));
    const last = types.slice(types.lastIndexOf(1));
    assert.deepEqual(last, [1, 6, 9, 12, 16], `CIC ${cic}: ${types.join(' ')}`);
    // Alignment and the start-up resets are in the same capture.
    assert.match(r.stdout, /\t23\n/, 'a GRS (23) was captured');
    assert.match(r.stdout, /\t41\n/, 'a GRA (41) was captured');
  });

  it('group reset on command: a call on the range is cleared on both sides, every CIC ends idle', async () => {
    const { ids, farIds } = await establish(a, b, 2, 'pc1');
    await a.command({ op: 'reset', trunk: 'pc1', cic: 1, lastCic: 30 });
    for (const call of ids) {
      const e = await a.waitEvent((x) => x.event === 'released' && x.call === call);
      assert.equal(e.by, 'local');
    }
    for (const call of farIds) {
      const e = await b.waitEvent((x) => x.event === 'released' && x.call === call);
      assert.equal(e.by, 'remote', 'the far end saw the GRS');
      assert.equal(e.cause, 41);
    }
    assert.ok(await eventually(() => allIdle(a)));
    assert.ok(await eventually(() => allIdle(b)));
    // A single circuit: RSC, answered with RLC.
    const reset = next(b, (e) => e.event === 'channel' && e.cic === 7 && e.state === 'reset');
    const idle = next(b, (e) => e.event === 'channel' && e.cic === 7 && e.state === 'idle');
    await b.command({ op: 'reset', trunk: 'pc2', cic: 7 });
    await reset;
    await idle;
  });

  it('a CIC blocked by one side (BLO) refuses calls from both; unblocking (UBL) restores it', async () => {
    const blocked = next(b, (e) => e.event === 'channel' && e.cic === 5);
    await a.command({ op: 'block', trunk: 'pc1', cic: 5 });
    const seen = await blocked;
    assert.equal(seen.state, 'blocked');
    assert.equal(seen.by, 'remote');
    const snap = (await channels(b)).find((c) => c.cic === 5);
    assert.equal(snap?.state, 'blocked');
    assert.equal(snap?.blockedRemotely, true);
    await expectCode(
      b.command({ op: 'place', trunk: 'pc2', called: '1', cic: 5 }),
      'E_CHANNEL_BUSY',
      'cic',
    );
    await expectCode(
      a.command({ op: 'place', trunk: 'pc1', called: '1', cic: 5 }),
      'E_CHANNEL_BUSY',
      'cic',
    );
    const unblocked = next(b, (e) => e.event === 'channel' && e.cic === 5 && e.state === 'idle');
    await a.command({ op: 'unblock', trunk: 'pc1', cic: 5 });
    await unblocked;
    const r = await b.command({ op: 'place', trunk: 'pc2', called: '42', cic: 5 });
    const [far] = await answer(a, 1);
    await b.waitEvent((e) => e.event === 'answered' && e.call === r.call);
    await a.command({ op: 'release', call: far as number });
    const rel = await b.waitEvent((e) => e.event === 'released' && e.call === r.call);
    assert.equal(rel.cause, 16);
  });

  it('group blocking (CGB/CGU) over a CIC range', async () => {
    const seen = [10, 11, 12].map((cic) =>
      next(a, (e) => e.event === 'channel' && e.cic === cic && e.state === 'blocked'),
    );
    await b.command({ op: 'block', trunk: 'pc2', cic: 10, lastCic: 12 });
    await Promise.all(seen);
    const list = await channels(a);
    assert.deepEqual(
      list.filter((c) => c.blockedRemotely).map((c) => c.cic),
      [10, 11, 12],
    );
    await expectCode(
      a.command({ op: 'place', trunk: 'pc1', called: '1', cic: 11 }),
      'E_CHANNEL_BUSY',
    );
    await b.command({ op: 'unblock', trunk: 'pc2', cic: 10, lastCic: 12 });
    assert.ok(await eventually(() => allIdle(a)));
    assert.ok(await eventually(() => allIdle(b)));
  });

  it('a JavaScript event loop blocked for 2 s leaves the link and established calls alone', async () => {
    const { ids, farIds } = await establish(a, b, 5, 'pc1');
    const downsBefore = a.events(isLinkDown).length + b.events(isLinkDown).length;
    await a.request('block', { ms: 2000 });
    await b.request('block', { ms: 2000 });
    assert.equal(a.events(isLinkDown).length + b.events(isLinkDown).length, downsBefore);
    const calls = (await a.snapshot()).trunks[0]?.calls ?? [];
    assert.deepEqual(
      calls.map((c) => c.state),
      ['answered', 'answered', 'answered', 'answered', 'answered'],
    );
    for (const call of farIds) await b.command({ op: 'release', call });
    for (const call of ids) {
      const e = await a.waitEvent((x) => x.event === 'released' && x.call === call);
      assert.equal(e.cause, 16);
      assert.equal(e.by, 'remote');
    }
  });

  it('pulling the cable takes the link down and clears its calls; re-cabling brings both back', async () => {
    const { ids, farIds } = await establish(a, b, 3, 'pc1');
    const downs = [next(a, isLinkDown), next(b, isLinkDown)];
    const red = next(a, (e) => e.event === 'alarm' && (e.alarms as string[]).length > 0);
    await sim.client.uncable(1);
    await Promise.all(downs);
    const alarm = await red;
    assert.ok((alarm.alarms as string[]).includes('RED'), JSON.stringify(alarm));
    for (const [h, list] of [
      [a, ids],
      [b, farIds],
    ] as const) {
      for (const call of list) {
        const e = await h.waitEvent((x) => x.event === 'released' && x.call === call);
        assert.equal(e.cause, 41, 'NORMAL_TEMPORARY_FAILURE');
        assert.equal(e.by, 'stack');
      }
    }
    assert.equal((await a.snapshot()).trunks[0]?.linkset, 'down');
    await expectCode(a.command({ op: 'place', trunk: 'pc1', called: '1' }), 'E_CHANNEL_BUSY');
    const ups = [next(a, isLinkUp, 20_000), next(b, isLinkUp, 20_000)];
    const clear = next(a, (e) => e.event === 'alarm' && (e.alarms as string[]).length === 0);
    await sim.client.cable(1, 2);
    await Promise.all(ups);
    await clear;
    assert.ok(await eventually(() => allIdle(a), 10_000));
    assert.ok(await eventually(() => allIdle(b), 10_000));
    const again = await establish(a, b, 1, 'pc1');
    await a.command({ op: 'release', call: again.ids[0] as number });
    await b.waitEvent((e) => e.event === 'released' && e.call === again.farIds[0]);
  });

  it('bit errors on the link are counted as protocol errors, never a crash; calls work after', async () => {
    const before = (await b.snapshot()).trunks[0]?.protocolErrors ?? 0;
    await sim.client.fault(2, { fault: 'errors', rate: 1e-3 });
    await new Promise((r) => setTimeout(r, 1500));
    await sim.client.fault(2, { fault: 'clear' });
    const after = (await b.snapshot()).trunks[0]?.protocolErrors ?? 0;
    assert.ok(after > before, `protocol errors ${before} -> ${after}`);
    assert.ok(
      b.events((e) => e.event === 'log' && e.kind === 'protocol_error').length > 0,
      'each one is logged',
    );
    // The link recovers (MTP2 retransmits what was lost) and carries calls again.
    assert.ok(
      await eventually(async () => (await a.snapshot()).trunks[0]?.linkset === 'up', 20_000),
    );
    assert.ok(await eventually(() => allIdle(a), 20_000));
    assert.ok(await eventually(() => allIdle(b), 20_000));
    const { ids, farIds } = await establish(a, b, 2, 'pc1');
    for (const call of ids) await a.command({ op: 'release', call });
    for (const call of farIds)
      await b.waitEvent((e) => e.event === 'released' && e.call === call && e.cause === 16);
  });

  it('dual seizure: both ends take the same CIC at once, exactly one call survives', async () => {
    // CIC 3 is odd: the exchange with the lower point code (pc1) controls it (Q.764 dual seizure).
    const results = await Promise.allSettled([
      a.command({ op: 'place', trunk: 'pc1', called: '301', cic: 3 }),
      b.command({ op: 'place', trunk: 'pc2', called: '302', cic: 3 }),
    ]);
    const placed: { host: Host; far: Host; call: number }[] = [];
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        // The far end's IAM got there before this command: the CIC was busy already.
        assert.equal((r.reason as HostError).code, 'E_CHANNEL_BUSY');
      } else {
        placed.push({ host: i === 0 ? a : b, far: i === 0 ? b : a, call: r.value.call as number });
      }
    });
    const isEnd = (p: (typeof placed)[number]) => (e: Line) =>
      e.call === p.call && (e.event === 'released' || e.event === 'answered');
    // Whoever is offered a call answers it; the call that yields clears with cause 34.
    const offered = await Promise.race([
      a.waitEvent((e) => e.event === 'offered' && e.cic === 3).then((e) => ({ host: a, e })),
      b.waitEvent((e) => e.event === 'offered' && e.cic === 3).then((e) => ({ host: b, e })),
    ]);
    await offered.host.command({ op: 'answer', call: offered.e.call as number });
    const ends = await Promise.all(placed.map((p) => p.host.waitEvent(isEnd(p))));
    const survivors = placed.filter((_, i) => ends[i]?.event === 'answered');
    assert.equal(survivors.length, 1, JSON.stringify(ends));
    for (const e of ends.filter((x) => x.event === 'released')) assert.equal(e.cause, 34);
    const survivor = survivors[0] as (typeof placed)[number];
    assert.equal(survivor.far, offered.host);
    // When both IAMs went out (a true dual seizure, not one end seeing the other's IAM first),
    // the controlling exchange keeps its call.
    const dialed = placed.filter(
      (p) => p.host.events((e) => e.call === p.call && e.event === 'dialing').length > 0,
    );
    if (dialed.length === 2) assert.equal(survivor.host, a, 'pc1 controls odd CICs');
    await survivor.host.command({ op: 'release', call: survivor.call });
    await offered.host.waitEvent((e) => e.event === 'released' && e.call === offered.e.call);
    assert.ok(await eventually(() => allIdle(a)));
    assert.ok(await eventually(() => allIdle(b)));
  });

  it('junk frames are counted and dropped; the far end restarting realigns the link', async () => {
    await b.stop();
    const before = await discarded(a);
    // With pc2 gone, write on its signalling channel: frames whose length indicator (0) does
    // not match their length (17 and 57 octets too long).
    for (const size of ['20', '60']) {
      const r = await sim.run(probe, ['hdlc-send', '47', '100', size]);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.ok(
      await eventually(async () => (await discarded(a)) >= before + 200),
      'every malformed frame is counted',
    );
    const up = next(a, isLinkUp, 20_000);
    b = await startHost(sim, { trunks: [trunk(2, 2, 1)] }, 'pc2-again');
    await Promise.all([up, b.waitEvent(isLinkUp, 20_000)]);
    assert.ok(await eventually(() => allIdle(a), 10_000));
    assert.ok(await eventually(() => allIdle(b), 10_000));
    const { ids, farIds } = await establish(a, b, 1, 'pc1');
    await a.command({ op: 'release', call: ids[0] as number });
    await b.waitEvent((e) => e.event === 'released' && e.call === farIds[0]);
  });
});

describe('SS7 ANSI variant: 24-bit point codes written a-b-c', () => {
  let sim: TestSim;
  let a: Host;
  let b: Host;
  const ansi = (span: number, pc: string, adj: string) =>
    trunk(span, 0, 0, {
      name: `ansi-${span}`,
      variant: 'ansi',
      pointcode: pc,
      adjacentPointcode: adj,
      timers: { 'ISUP.T7': 20000 },
    });

  before(async () => {
    sim = await withConfiguredSim(E1_PAIR, SYSTEM_CONF);
    [a, b] = await Promise.all([
      startHost(sim, { trunks: [ansi(1, '1-1-1', '1-1-2')] }, 'ansi1'),
      startHost(sim, { trunks: [ansi(2, '1-1-2', '1-1-1')] }, 'ansi2'),
    ]);
    await a.request('traceStart', { span: 1 });
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await sim?.stop();
  });

  it('aligns, resets, carries a call; tshark decodes the ANSI routing labels', async () => {
    await Promise.all([a.waitEvent(isLinkUp, 20_000), b.waitEvent(isLinkUp, 20_000)]);
    assert.ok(await eventually(() => allIdle(a), 10_000));
    assert.ok(await eventually(() => allIdle(b), 10_000));
    const s = (await a.snapshot()).trunks[0];
    assert.equal(s?.pointcode, 0x010101);
    assert.equal((s?.timers as Record<string, number> | undefined)?.['ISUP.T7'], 20000);
    const { ids, farIds } = await establish(a, b, 1, 'ansi-1');
    await b.command({ op: 'release', call: farIds[0] as number, cause: 'USER_BUSY' });
    const rel = await a.waitEvent((e) => e.event === 'released' && e.call === ids[0]);
    assert.equal(rel.cause, 17);
    const file = join(sim.dir, 'ansi.pcap');
    writeFileSync(file, await a.trace(1));
    const r = await runProcess('tshark', [
      '-r',
      file,
      '-o',
      'mtp3.standard:ANSI',
      '-T',
      'fields',
      '-e',
      'mtp3.ansi_opc',
      '-e',
      'isup.message_type',
      '-Y',
      'isup',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    const types = rows.map(([, t]) => Number(t));
    for (const t of [1, 6, 9, 12, 16]) assert.ok(types.includes(t), `message ${t} in ${types}`);
    // tshark prints an ANSI point code as "1-1-1,65793,0x10101"; ANSI sends GRS twice (T1.113).
    assert.ok(
      rows.some(([opc]) => opc?.startsWith('1-1-1,')),
      r.stdout,
    );
    assert.ok(
      rows.some(([opc]) => opc?.startsWith('1-1-2,')),
      r.stdout,
    );
    assert.equal(rows.filter(([opc, t]) => opc?.startsWith('1-1-1,') && t === '23').length, 2);
  });
});

// ---- ISUP bytes (Q.763) for the scripted peer --------------------------------------------------

const cicOf = (cic: number) => [cic & 0xff, (cic >> 8) & 0x0f];

/** IAM: NCI, FCI, calling party's category (ordinary), TMR (speech), called number with ST. */
function iam(cic: number, called: string, opts: { nci?: number; optional?: number[] } = {}) {
  const digits = [...called].map(Number).concat([0xf]);
  const address: number[] = [];
  for (let i = 0; i < digits.length; i += 2)
    address.push((digits[i] as number) | ((digits[i + 1] ?? 0) << 4));
  const number = [digits.length % 2 ? 0x83 : 0x03, 0x10, ...address];
  const optional = opts.optional ?? [];
  return [
    ...cicOf(cic),
    0x01,
    opts.nci ?? 0,
    0x60,
    0x01,
    0x0a,
    0x00,
    2,
    optional.length ? 2 + number.length : 0,
    number.length,
    ...number,
    ...(optional.length ? [...optional, 0] : []),
  ];
}

const hex = (bytes: number[]) => Buffer.from(bytes).toString('hex');

describe('SS7 against a scripted signalling point (not libss7)', () => {
  let sim: TestSim;
  let a: Host;
  let peer: ReturnType<TestSim['start']>;
  const send = (bytes: number[]) => peer.send(`${JSON.stringify({ isup: hex(bytes) })}\n`);
  /** The next ISUP message of `type` on `cic` from the engine, after those already seen. */
  const received = async (type: number, cic: number) => {
    const seen = new Set(peer.lines);
    const match = (l: Line) => !seen.has(l) && l.isup === type && l.cic === cic;
    await peer.waitFor(match, 10_000);
    return peer.lines.find(match) as Line;
  };
  const errors = async () => (await a.snapshot()).trunks[0]?.protocolErrors ?? 0;

  before(async () => {
    sim = await withConfiguredSim(E1_PAIR, SYSTEM_CONF);
    peer = sim.start('python3', [
      join(import.meta.dirname, 'fixtures/mtp2-peer.py'),
      '47',
      '2',
      '1',
      '0',
    ]);
    await peer.waitFor((l) => l.ready === true);
    a = await startHost(sim, { trunks: [trunk(1, 1, 2, { resetOnStart: false })] }, 'pc1');
    await peer.waitFor((l) => l.mtp3 === 'up', 20_000);
    await a.waitEvent(isLinkUp, 20_000);
    assert.ok(await eventually(() => allIdle(a)));
  });
  after(async () => {
    if (process.env.SS7_DUMP) {
      writeFileSync(
        `${process.env.SS7_DUMP}/peer-a.jsonl`,
        a.lines.map((l) => JSON.stringify(l)).join('\n'),
      );
      writeFileSync(
        `${process.env.SS7_DUMP}/peer.jsonl`,
        peer.lines.map((l) => JSON.stringify(l)).join('\n'),
      );
    }
    await a?.stop();
    if (peer?.pid) process.kill(peer.pid, 'SIGTERM');
    await peer?.done;
    await sim?.stop();
  });

  it('malformed ISUP messages are counted and discarded; the link and the next call are unharmed', async () => {
    const before = await errors();
    const longNumber = [0x03, 0x10, ...Array(56).fill(0x11)];
    const malformed = [
      // A called party number longer than libss7's 64-character buffer.
      [...cicOf(1), 0x01, 0, 0x60, 0x01, 0x0a, 0x00, 2, 0, longNumber.length, ...longNumber],
      // GRS with a range of 200 circuits (at most 31).
      [...cicOf(1), 0x17, 1, 1, 200],
      // A generic name of length 0 (libss7 would copy "-1" octets).
      iam(1, '555', { optional: [0xc7, 0x00] }),
      // Only a CIC.
      cicOf(1),
      // CGB whose status bits are missing.
      [...cicOf(1), 0x18, 0x00, 1, 1, 7],
    ];
    for (const m of malformed) send(m);
    assert.ok(await eventually(async () => (await errors()) === before + malformed.length));
    const logged = a.events((e) => e.kind === 'protocol_error');
    assert.match(String(logged.at(-1)?.message), /ISUP message discarded/);
    assert.equal(a.events((e) => e.event === 'offered').length, 0);
    // The MSUs were acknowledged (MTP2 sequence intact): a proper IAM is offered.
    send(iam(2, '1234'));
    const offered = await a.waitEvent((e) => e.event === 'offered');
    assert.equal(offered.cic, 2);
    assert.equal(offered.called, '1234');
    assert.equal(offered.complete, true);
    await a.command({ op: 'answer', call: offered.call as number });
    await received(0x07, 2); // CON: answered without ACM
    await a.command({ op: 'release', call: offered.call as number, cause: 'USER_BUSY' });
    const rel = await received(0x0c, 2);
    assert.match(String(rel.hex), /91$/, 'REL carries cause 17');
    send([...cicOf(2), 0x10, 0x00]); // RLC
    const done = await a.waitEvent((e) => e.event === 'released' && e.call === offered.call);
    assert.equal(done.cause, 17);
    assert.equal(done.by, 'local');
    assert.equal((await a.snapshot()).trunks[0]?.linkset, 'up');
  });

  it('an IAM on a circuit we blocked is refused with REL and the blocking repeated', async () => {
    await a.command({ op: 'block', trunk: 'pc1', cic: 5 });
    await received(0x13, 5); // BLO
    send([...cicOf(5), 0x15]); // BLA
    send(iam(5, '77'));
    const rel = await received(0x0c, 5);
    assert.match(String(rel.hex), /a9$/, 'REL carries cause 41');
    await received(0x13, 5); // BLO again
    send([...cicOf(5), 0x10, 0x00]); // RLC
    send([...cicOf(5), 0x15]); // BLA
    assert.equal(a.events((e) => e.event === 'offered' && e.cic === 5).length, 0);
    await a.command({ op: 'unblock', trunk: 'pc1', cic: 5 });
    await received(0x14, 5); // UBL
    send([...cicOf(5), 0x16]); // UBA
    assert.ok(await eventually(() => allIdle(a)));
  });

  it('an IAM asking for a continuity check is offered once COT reports success', async () => {
    const seized = next(a, (e) => e.event === 'channel' && e.cic === 7 && e.state === 'seized');
    send(iam(7, '900', { nci: 0x04 }));
    await seized;
    assert.equal(a.events((e) => e.event === 'offered' && e.cic === 7).length, 0);
    const snap = (await channels(a)).find((c) => c.cic === 7);
    assert.equal(snap?.state, 'seized', 'held for the continuity check');
    send([...cicOf(7), 0x05, 0x01]); // COT: continuity check successful
    const offered = await a.waitEvent((e) => e.event === 'offered' && e.cic === 7);
    const call = offered.call as number;
    await a.command({ op: 'progress', call });
    await received(0x06, 7); // ACM first: CPG may only follow it
    const inband = await received(0x2c, 7);
    assert.equal(String(inband.hex).slice(6, 8), '03', 'CPG event: in-band information');
    await a.command({ op: 'alert', call });
    const alerting = await received(0x2c, 7);
    assert.equal(String(alerting.hex).slice(6, 8), '01', 'CPG event: alerting');
    await a.command({ op: 'answer', call });
    await received(0x09, 7); // ANM
    await expectCode(a.command({ op: 'answer', call }), 'E_CALL_STATE', 'call');
    send([...cicOf(7), 0x0c, 2, 0, 2, 0x80, 0x90]); // REL, cause 16
    const done = await a.waitEvent((e) => e.event === 'released' && e.call === offered.call);
    assert.equal(done.by, 'remote');
    assert.equal(done.cause, 16);
    await received(0x10, 7); // RLC
  });
});

describe('SS7 configuration refused, naming the field', () => {
  const base = () => trunk(1, 1, 2) as Record<string, unknown>;
  const refused = (t: Record<string, unknown>, extra: Record<string, unknown>[] = []) => {
    try {
      validateTrunks({ trunks: [t, ...extra] });
    } catch (err) {
      assert.ok(isSwitchboardError(err, 'E_CONFIG_FIELD'));
      return (err.details as { path: string; message: string }[]).map((e) => e.path);
    }
    assert.fail('accepted');
  };

  it('accepts the test configuration', () => {
    validateTrunks({ trunks: [base(), trunk(2, 2, 1)] });
  });

  it('overlapping CIC ranges within a linkset and across linksets to the same point code', () => {
    const t = {
      ...base(),
      cics: [
        { span: 1, firstCic: 1, timeslots: '1-15' },
        { span: 3, firstCic: 10 },
      ],
    };
    assert.deepEqual(refused(t), ['trunks[0].cics[1].firstCic']);
    const other = { ...trunk(3, 1, 2), name: 'other', cics: [{ span: 3, firstCic: 25 }] };
    assert.deepEqual(refused(base(), [other]), ['trunks[1].cics[0].firstCic']);
    // Towards another point code the same CICs are other circuits.
    validateTrunks({ trunks: [base(), { ...other, adjacentPointcode: 3 }] });
  });

  it('point codes out of range for the variant', () => {
    assert.deepEqual(refused({ ...base(), pointcode: 16384 }), ['trunks[0].pointcode']);
    assert.deepEqual(refused({ ...base(), adjacentPointcode: '1-2-3' }), [
      'trunks[0].adjacentPointcode',
    ]);
    validateTrunks({
      trunks: [{ ...base(), variant: 'ansi', pointcode: '1-2-3', adjacentPointcode: 16777215 }],
    });
    assert.deepEqual(refused({ ...base(), variant: 'ansi', pointcode: '1-256-3' }), [
      'trunks[0].pointcode',
    ]);
    assert.deepEqual(refused({ ...base(), variant: 'china' }), ['trunks[0].variant']);
  });

  it('a signalling link on a bearer timeslot, timers out of range, continuity', () => {
    const t = {
      ...base(),
      links: [{ span: 1, timeslot: 3 }],
      cics: [{ span: 1, firstCic: 1, timeslots: '1-15' }],
    };
    assert.deepEqual(refused(t), ['trunks[0].links[0].timeslot']);
    assert.deepEqual(refused({ ...base(), timers: { 'ISUP.T7': 5000 } }), [
      'trunks[0].timers.ISUP.T7',
    ]);
    assert.deepEqual(refused({ ...base(), continuity: 'required' }), ['trunks[0].continuity']);
  });

  it('spans that the board does not have', () => {
    const board = {
      get: (span: number) => (span <= 2 ? { type: 'E1' as const, channels: 31 } : undefined),
    };
    assert.throws(
      () => validateTrunks({ trunks: [{ ...base(), cics: [{ span: 4, firstCic: 1 }] }] }, board),
      (err: unknown) =>
        isSwitchboardError(err) &&
        (err.details as { path: string }[]).some((e) => e.path === 'trunks[0].cics[0].span'),
    );
  });
});

describe('SS7 configuration refused by the engine itself', () => {
  let sim: TestSim;
  before(async () => {
    sim = await withConfiguredSim(E1_PAIR, SYSTEM_CONF);
  });
  after(async () => {
    await sim?.stop();
  });

  it('a link timeslot that system.conf does not make hardhdlc', async () => {
    const t = trunk(1, 1, 2, {
      links: [{ span: 1, timeslot: 1 }],
      cics: [{ span: 1, firstCic: 1, timeslots: '2-15,17-31' }],
    });
    await assert.rejects(startHost(sim, { trunks: [t] }), (err: unknown) => {
      assert.ok(err instanceof HostError);
      assert.equal(err.code, 'E_CONFIG_FIELD');
      assert.equal(err.field, 'trunks[0].links[0].timeslot');
      assert.match(err.message, /hardhdlc/);
      return true;
    });
  });

  it('known gaps and ranges: china, continuity required, a timer out of range', async () => {
    for (const [extra, field] of [
      [{ variant: 'china' }, 'trunks[0].variant'],
      [{ continuity: 'required' }, 'trunks[0].continuity'],
      [{ timers: { 'ISUP.T7': 1 } }, 'trunks[0].timers.ISUP.T7'],
      [{ pointcode: 20000 }, 'trunks[0].pointcode'],
    ] as const) {
      await assert.rejects(startHost(sim, { trunks: [trunk(1, 1, 2, extra)] }), (err: unknown) => {
        assert.ok(err instanceof HostError);
        assert.equal(err.field, field, err.message);
        return true;
      });
    }
  });
});
