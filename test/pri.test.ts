// SPDX-License-Identifier: GPL-2.0-or-later
// ISDN PRI over a simulated E1 cable: our network side against our user side, in two processes.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EngineTrunk } from '../src/native/engine.ts';
import { renderSystemConf } from '../src/sim/dahdiconf.ts';
import { SWITCHTYPES } from '../src/trunks/pri.ts';
import { validateTrunks } from '../src/trunks/validate.ts';
import { E1_PAIR, probe, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';
import { type Host, type HostError, type Line, startHost } from './helpers/engine.ts';

// Span 1 (channels 1-31, D-channel 16) is cabled to span 2 (channels 32-62, D-channel 47).
const SYSTEM_CONF = renderSystemConf(E1_PAIR);

function trunk(side: 'net' | 'cpe', extra: Record<string, unknown> = {}): EngineTrunk {
  return {
    name: side,
    signalling: side === 'net' ? 'pri_net' : 'pri_cpe',
    span: side === 'net' ? 1 : 2,
    switchtype: 'euroisdn',
    ...extra,
  };
}

interface Pair {
  net: Host;
  cpe: Host;
  stop(): Promise<void>;
}

async function pair(sim: TestSim, extra: Record<string, unknown> = {}): Promise<Pair> {
  const net = await startHost(sim, { trunks: [trunk('net', extra)] }, 'net');
  const cpe = await startHost(sim, { trunks: [trunk('cpe', extra)] }, 'cpe').catch(async (err) => {
    await net.stop();
    throw err;
  });
  try {
    await net.waitEvent((e) => e.event === 'link' && e.state === 'up');
    await cpe.waitEvent((e) => e.event === 'link' && e.state === 'up');
  } catch (err) {
    await Promise.all([net.stop(), cpe.stop()]);
    throw err;
  }
  return {
    net,
    cpe,
    async stop() {
      await Promise.all([net.stop(), cpe.stop()]);
    },
  };
}

const is = (event: string, call?: unknown) => (e: Line) =>
  e.event === event && (call === undefined || e.call === call);

/** Places a call and answers it on the far side; returns both ends' call ids. */
async function connect(
  from: Host,
  fromTrunk: string,
  to: Host,
  called: string,
  calling: string,
  channel?: number,
): Promise<{ out: number; in: number; offered: Line }> {
  const { call } = await from.command({
    op: 'place',
    trunk: fromTrunk,
    called,
    calling,
    ...(channel === undefined ? {} : { channel }),
  });
  assert.ok(call);
  await from.waitEvent(is('dialing', call));
  const offered = await to.waitEvent((e) => e.event === 'offered' && e.called === called);
  const incoming = offered.call as number;
  await to.command({ op: 'accept', call: incoming });
  await from.waitEvent(is('proceeding', call));
  await to.command({ op: 'alert', call: incoming });
  await from.waitEvent(is('alerting', call));
  await to.command({ op: 'answer', call: incoming });
  await from.waitEvent(is('answered', call));
  return { out: call, in: incoming, offered };
}

/** Clears from `a` and checks both ends end the call with NORMAL_CLEARING. */
async function clear(a: Host, callA: number, b: Host, callB: number): Promise<void> {
  await a.command({ op: 'release', call: callA, cause: 16 });
  const far = await b.waitEvent(is('released', callB));
  assert.equal(far.cause, 16);
  assert.equal(far.by, 'remote');
  const near = await a.waitEvent(is('released', callA));
  assert.equal(near.causeName, 'NORMAL_CLEARING');
  assert.equal(near.by, 'local');
}

/**
 * Causes for which libpri clears an unanswered call with RELEASE COMPLETE (1, 34, 44, 81, 82) or
 * RELEASE (6) and then forgets it without an event of its own: UNALLOCATED, CHANNEL_UNACCEPTABLE,
 * NO_CIRCUIT_AVAILABLE, REQUESTED_CHAN_UNAVAIL, INVALID_CALL_REFERENCE, IDENTIFIED_CHANNEL_NOTEXIST.
 */
const SILENT_CAUSES = [1, 6, 34, 44, 81, 82];

/** Checks that a host has no call left and that timeslot `ts` of its trunk is idle. */
async function channelFree(host: Host, ts: number, what: string): Promise<void> {
  const t = (await host.snapshot()).trunks[0];
  assert.ok(t);
  assert.deepEqual(t.calls, [], `${what}: no call left on ${t.name}`);
  assert.equal(t.channels.find((c) => c.channel === ts)?.state, 'idle', `${what}: ${t.name}`);
}

/** A call on timeslot `ts` goes through (answered, cleared): the B-channel is free on both ends. */
async function channelTakesCall(
  from: Host,
  fromTrunk: string,
  to: Host,
  ts: number,
): Promise<void> {
  const c = await connect(from, fromTrunk, to, `9${ts}`, '1', ts);
  assert.equal(c.offered.channel, ts);
  await clear(from, c.out, to, c.in);
}

describe('ISDN PRI, network side to user side', () => {
  let sim: TestSim;
  before(async () => {
    sim = await withConfiguredSim(E1_PAIR, SYSTEM_CONF);
  });
  after(async () => {
    await sim.stop();
  });

  for (const switchtype of SWITCHTYPES) {
    test(`${switchtype}: call, answer and clear in both directions`, async () => {
      const p = await pair(sim, { switchtype });
      try {
        const down = await connect(p.net, 'net', p.cpe, '4321', '1234567');
        assert.equal(down.offered.calling, '1234567');
        assert.equal(down.offered.complete, true);
        await clear(p.net, down.out, p.cpe, down.in);
        const up = await connect(p.cpe, 'cpe', p.net, '0987654321', '5551000');
        assert.equal(up.offered.calling, '5551000');
        await clear(p.net, up.in, p.cpe, up.out);
        const [snapNet, snapCpe] = [await p.net.snapshot(), await p.cpe.snapshot()];
        for (const snap of [snapNet, snapCpe]) {
          const t = snap.trunks[0];
          assert.ok(t);
          assert.equal(t.calls.length, 0, 'no call left behind');
          assert.ok(t.channels.every((c) => c.state === 'idle'));
          assert.equal(t.links[0]?.state, 'up');
          assert.equal(t.switchtype, switchtype);
        }
      } finally {
        await p.stop();
      }
    });
  }

  test('number types, presentation and the calling name travel in SETUP', async () => {
    const p = await pair(sim);
    try {
      const { call } = await p.cpe.command({
        op: 'place',
        trunk: 'cpe',
        called: '862012345678',
        calledType: 'international',
        calling: '2087654321',
        callingType: 'national',
        callingPresentation: 'restricted',
        callingName: 'Front desk',
      });
      const offered = await p.net.waitEvent(is('offered'));
      assert.equal(offered.calledType, 'international');
      assert.equal(offered.callingType, 'national');
      assert.equal(offered.callingPresentation, 'restricted');
      assert.equal(offered.called, '862012345678');
      await p.net.command({ op: 'release', call: offered.call as number, cause: 'USER_BUSY' });
      const rel = await p.cpe.waitEvent(is('released', call));
      assert.equal(rel.cause, 17);
      assert.equal(rel.causeName, 'USER_BUSY');
    } finally {
      await p.stop();
    }
  });

  test('overlap dialling: SETUP with part of the number, the rest in INFORMATION', async () => {
    const p = await pair(sim, { overlap: 'both' });
    try {
      const { call } = await p.cpe.command({
        op: 'place',
        trunk: 'cpe',
        called: '55',
        overlap: true,
      });
      const offered = await p.net.waitEvent(is('offered'));
      assert.equal(offered.called, '55');
      assert.equal(offered.complete, false);
      await p.cpe.waitEvent(is('proceeding', call)); // SETUP ACKNOWLEDGE
      await p.cpe.command({ op: 'digits', call: call as number, digits: '512' });
      let got = '';
      while (got.length < 3) {
        const d = await p.net.waitEvent(is('digits', offered.call));
        got += d.digits as string;
      }
      assert.equal(got, '512');
      await p.net.command({ op: 'answer', call: offered.call as number });
      await p.cpe.waitEvent(is('answered', call));
      const snap = await p.net.snapshot();
      assert.equal(snap.trunks[0]?.calls[0]?.called, '55512');
      await clear(p.cpe, call as number, p.net, offered.call as number);
    } finally {
      await p.stop();
    }
  });

  test('the called side refuses an offered call with cause 1, 34 ...: both ends end it, the B-channel is free', async () => {
    const p = await pair(sim);
    try {
      const ends = [
        { from: p.net, fromTrunk: 'net', to: p.cpe, ts: 5 },
        { from: p.cpe, fromTrunk: 'cpe', to: p.net, ts: 6 },
      ];
      for (const { from, fromTrunk, to, ts } of ends) {
        for (const cause of SILENT_CAUSES) {
          const what = `${fromTrunk} calls, cause ${cause}`;
          const { call } = await from.command({
            op: 'place',
            trunk: fromTrunk,
            called: `7${cause}`,
            channel: ts,
          });
          const offered = await to.waitEvent(
            (e) => e.event === 'offered' && e.called === `7${cause}`,
          );
          assert.equal(offered.channel, ts, what);
          await to.command({ op: 'release', call: offered.call as number, cause });
          const theirs = await from.waitEvent(is('released', call));
          assert.deepEqual([theirs.by, theirs.cause], ['remote', cause], what);
          const mine = await to.waitEvent(is('released', offered.call));
          assert.deepEqual([mine.by, mine.cause], ['local', cause], what);
          await channelFree(from, ts, what);
          await channelFree(to, ts, what);
          await channelTakesCall(from, fromTrunk, to, ts);
          assert.equal(to.events(is('released', offered.call)).length, 1, `${what}: released once`);
          assert.equal(from.events(is('released', call)).length, 1, `${what}: released once`);
        }
      }
    } finally {
      await p.stop();
    }
  });

  test('the calling side gives up with cause 1, 34 ... before any answer or during alerting: both ends end it, the B-channel is free', async () => {
    const p = await pair(sim);
    try {
      const ends = [
        { from: p.net, fromTrunk: 'net', to: p.cpe, ts: 7 },
        { from: p.cpe, fromTrunk: 'cpe', to: p.net, ts: 8 },
      ];
      // Before any answer the called side has sent nothing: libpri frees its call on the
      // caller's RELEASE COMPLETE without an event too.
      for (const alerting of [false, true]) {
        for (const { from, fromTrunk, to, ts } of ends) {
          for (const cause of SILENT_CAUSES) {
            const what = `${fromTrunk} calls and gives up ${alerting ? 'ringing' : 'at once'}, cause ${cause}`;
            const called = `8${alerting ? 1 : 0}${cause}`;
            const { call } = await from.command({
              op: 'place',
              trunk: fromTrunk,
              called,
              channel: ts,
            });
            const offered = await to.waitEvent((e) => e.event === 'offered' && e.called === called);
            if (alerting) {
              await to.command({ op: 'accept', call: offered.call as number });
              await to.command({ op: 'alert', call: offered.call as number });
              await from.waitEvent(is('alerting', call));
            }
            await from.command({ op: 'release', call: call as number, cause });
            const mine = await from.waitEvent(is('released', call));
            assert.deepEqual([mine.by, mine.cause], ['local', cause], what);
            const theirs = await to.waitEvent(is('released', offered.call));
            assert.deepEqual([theirs.by, theirs.cause], ['remote', cause], what);
            await channelFree(from, ts, what);
            await channelFree(to, ts, what);
            await channelTakesCall(from, fromTrunk, to, ts);
            assert.equal(from.events(is('released', call)).length, 1, `${what}: released once`);
            assert.equal(
              to.events(is('released', offered.call)).length,
              1,
              `${what}: released once`,
            );
          }
        }
      }
    } finally {
      await p.stop();
    }
  });

  test('glare: both ends seize the same B-channel, the network side keeps its call', async () => {
    const p = await pair(sim);
    try {
      const [fromNet, fromCpe] = await Promise.all([
        p.net.command({ op: 'place', trunk: 'net', called: '100', channel: 1 }),
        p.cpe.command({ op: 'place', trunk: 'cpe', called: '200', channel: 1 }),
      ]);
      // The user side gives its call up with cause 44 (requested channel not available).
      const lost = await p.cpe.waitEvent(is('released', fromCpe.call));
      assert.equal(lost.cause, 44);
      const offered = await p.cpe.waitEvent((e) => e.event === 'offered' && e.called === '100');
      assert.equal(offered.channel, 1);
      await p.cpe.command({ op: 'answer', call: offered.call as number });
      await p.net.waitEvent(is('answered', fromNet.call));
      assert.equal(p.net.events(is('offered')).length, 0, 'the network side took no call');
      await clear(p.net, fromNet.call as number, p.cpe, offered.call as number);
    } finally {
      await p.stop();
    }
  });

  test('RESTART of one B-channel and of the whole interface clears calls and idles channels', async () => {
    const p = await pair(sim);
    try {
      const a = await connect(p.net, 'net', p.cpe, '301', '1');
      const b = await connect(p.net, 'net', p.cpe, '302', '1');
      const ts = (await p.net.snapshot()).trunks[0]?.calls.find((c) => c.call === a.out)?.channel;
      assert.ok(ts);
      await p.net.command({ op: 'reset', trunk: 'net', channel: ts });
      assert.equal((await p.cpe.waitEvent(is('released', a.in))).cause, 41);
      assert.equal((await p.net.waitEvent(is('released', a.out))).by, 'stack');
      await p.net.waitEvent(
        (e) => e.event === 'channel' && e.channel === ts && e.state === 'reset',
      );
      await p.net.waitEvent((e) => e.event === 'channel' && e.channel === ts && e.state === 'idle');
      // The other call is untouched by a single-channel RESTART.
      assert.equal(p.cpe.events(is('released', b.in)).length, 0);
      await p.cpe.command({ op: 'reset', trunk: 'cpe' });
      await p.net.waitEvent(is('released', b.out));
      await p.cpe.waitEvent(is('released', b.in));
      for (const host of [p.net, p.cpe]) {
        const snap = await host.snapshot();
        assert.equal(snap.trunks[0]?.calls.length, 0);
      }
      // Calls work after the restart.
      const c = await connect(p.cpe, 'cpe', p.net, '303', '2');
      await clear(p.cpe, c.out, p.net, c.in);
    } finally {
      await p.stop();
    }
  });

  test('SERVICE messages block and unblock a B-channel at the far end (NI2)', async () => {
    const p = await pair(sim, { switchtype: 'ni2', serviceMessages: true });
    try {
      await p.net.command({ op: 'block', trunk: 'net', channel: 3 });
      await p.cpe.waitEvent(
        (e) =>
          e.event === 'channel' && e.channel === 3 && e.state === 'blocked' && e.by === 'remote',
      );
      const { call } = await p.cpe.command({ op: 'place', trunk: 'cpe', called: '9', channel: 3 });
      assert.equal((await p.cpe.waitEvent(is('released', call))).cause, 44);
      const snap = await p.cpe.snapshot();
      assert.equal(snap.trunks[0]?.channels.find((c) => c.channel === 3)?.state, 'blocked');
      await p.net.command({ op: 'unblock', trunk: 'net', channel: 3 });
      await p.cpe.waitEvent(
        (e) => e.event === 'channel' && e.channel === 3 && e.state === 'idle' && e.by === 'remote',
      );
      const { call: again } = await p.cpe.command({
        op: 'place',
        trunk: 'cpe',
        called: '9',
        channel: 3,
      });
      const offered = await p.net.waitEvent(is('offered'));
      assert.equal(offered.channel, 3);
      await p.net.command({ op: 'release', call: offered.call as number });
      await p.cpe.waitEvent(is('released', again));
    } finally {
      await p.stop();
    }
  });

  test('D-channel loss clears calls on both ends; recovery brings calls back', async () => {
    const p = await pair(sim, { timers: { T309: 1000, T200: 500, T203: 2000 } });
    try {
      const calls = [];
      for (const n of ['401', '402', '403']) calls.push(await connect(p.net, 'net', p.cpe, n, '7'));
      const ringing = await p.net.command({ op: 'place', trunk: 'net', called: '404' });
      await p.cpe.waitEvent((e) => e.event === 'offered' && e.called === '404');
      await sim.client.uncable(1);
      await p.net.waitEvent((e) => e.event === 'link' && e.state === 'down', 30_000);
      await p.cpe.waitEvent((e) => e.event === 'link' && e.state === 'down', 30_000);
      for (const c of calls) {
        await p.net.waitEvent(is('released', c.out), 30_000);
        await p.cpe.waitEvent(is('released', c.in), 30_000);
      }
      await p.net.waitEvent(is('released', ringing.call), 30_000);
      for (const host of [p.net, p.cpe]) {
        const snap = await host.snapshot();
        assert.deepEqual(
          snap.trunks[0]?.calls,
          [],
          `no call left hanging on ${snap.trunks[0]?.name}`,
        );
      }
      await sim.client.cable(1, 2);
      await p.net.waitEvent((e) => e.event === 'link' && e.state === 'up', 30_000);
      await p.cpe.waitEvent((e) => e.event === 'link' && e.state === 'up', 30_000);
      const c = await connect(p.cpe, 'cpe', p.net, '405', '8');
      await clear(p.cpe, c.out, p.net, c.in);
    } finally {
      await p.stop();
      // Leave the cable in for the next test, whatever happened here.
      await sim.client.cable(1, 2).catch(() => undefined);
    }
  });

  test('the JavaScript event loop blocked for 2 s: link, timers and calls carry on', async () => {
    const p = await pair(sim);
    try {
      const calls = [];
      for (const n of ['501', '502', '503', '504', '505'])
        calls.push(await connect(p.cpe, 'cpe', p.net, n, '9'));
      const blocked = p.net.request('block', { ms: 2000 });
      // While the network side's JavaScript is stuck, its D-channel still answers: a SETUP from
      // the user side is taken by libpri on the trunk thread and waits for the controller.
      await new Promise((r) => setTimeout(r, 300));
      const late = await p.cpe.command({ op: 'place', trunk: 'cpe', called: '506' });
      await blocked;
      const offered = await p.net.waitEvent((e) => e.event === 'offered' && e.called === '506');
      await p.net.command({ op: 'answer', call: offered.call as number });
      await p.cpe.waitEvent(is('answered', late.call));
      for (const host of [p.net, p.cpe]) {
        assert.equal(host.events((e) => e.event === 'link' && e.state === 'down').length, 0);
        assert.equal(host.events(is('released')).length, 0, 'no call was dropped');
        const snap = await host.snapshot();
        assert.equal(snap.trunks[0]?.calls.filter((c) => c.state === 'answered').length, 6);
      }
      for (const c of calls) await clear(p.cpe, c.out, p.net, c.in);
    } finally {
      await p.stop();
    }
  });

  test('signalling trace: tshark decodes the call from the pcap', async () => {
    const p = await pair(sim);
    try {
      await p.net.request('traceStart', { span: 1 });
      const c = await connect(p.net, 'net', p.cpe, '600', '6');
      await clear(p.net, c.out, p.cpe, c.in);
      const file = join(sim.dir, 'pri.pcap');
      const decode = async () => {
        writeFileSync(file, await p.net.trace(1));
        const r = await sim.run('tshark', [
          '-r',
          file,
          '-Y',
          'q931',
          '-T',
          'fields',
          '-e',
          'frame.p2p_dir',
          '-e',
          'q931.message_type',
        ]);
        assert.equal(r.code, 0, r.stderr);
        // p2p_dir 0 is a frame we sent, 1 one we received.
        return r.stdout
          .trim()
          .split('\n')
          .map((l) => l.split('\t'))
          .map(([dir, type]) => `${dir === '0' ? '>' : '<'}${Number(type).toString(16)}`);
      };
      // RELEASE COMPLETE leaves just after the call is reported released: wait for it.
      let messages = await decode();
      for (let i = 0; i < 50 && messages.length < 8; i++) {
        await new Promise((r) => setTimeout(r, 100));
        messages = await decode();
      }
      await p.net.request('traceStop', { span: 1 });
      // SETUP, CALL PROCEEDING, ALERTING, CONNECT, CONNECT ACKNOWLEDGE, DISCONNECT, RELEASE, RELEASE COMPLETE
      assert.deepEqual(messages, ['>5', '<2', '<1', '<7', '>f', '>45', '<4d', '>5a']);
      const text = await sim.run('tshark', ['-r', file, '-Y', 'q931', '-V']);
      assert.match(text.stdout, /Called party number: '600'/);
      assert.match(text.stdout, /Cause value: Normal call clearing \(16\)/);
    } finally {
      await p.stop();
    }
  });

  test('malformed frames from the line are counted and logged, never a crash', async () => {
    const net = await startHost(sim, { trunks: [trunk('net')] }, 'net');
    try {
      // Junk on the far end's D-channel (47): frames too short for LAPD and frames of noise.
      const short = await sim.run(probe, ['hdlc-send', '47', '20', '4']);
      assert.equal(short.code, 0, short.stderr);
      const junk = await sim.run(probe, ['hdlc-send', '47', '20', '40']);
      assert.equal(junk.code, 0, junk.stderr);
      let errors = 0;
      for (let i = 0; i < 100 && errors === 0; i++) {
        errors = (await net.snapshot()).trunks[0]?.protocolErrors ?? 0;
        if (errors === 0) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(errors > 0, 'the junk was counted');
      assert.ok(net.events((e) => e.event === 'log' && e.kind === 'protocol_error').length > 0);
      // The trunk is unharmed: a real user side comes up and a call goes through.
      const cpe = await startHost(sim, { trunks: [trunk('cpe')] }, 'cpe');
      try {
        await net.waitEvent((e) => e.event === 'link' && e.state === 'up');
        const c = await connect(cpe, 'cpe', net, '700', '7');
        await clear(cpe, c.out, net, c.in);
      } finally {
        await cpe.stop();
      }
    } finally {
      await net.stop();
    }
  });

  test('bad commands are refused with the field named', async () => {
    const net = await startHost(sim, { trunks: [trunk('net')] }, 'net');
    try {
      const refused = async (cmd: Record<string, unknown>, code: string, field?: string) => {
        await assert.rejects(net.command(cmd as never), (err: HostError) => {
          assert.equal(err.code, code, err.message);
          if (field) assert.equal(err.field, field);
          return true;
        });
      };
      await refused({ op: 'place', trunk: 'net', called: '12ab' }, 'E_COMMAND_FIELD', 'called');
      await refused(
        { op: 'place', trunk: 'net', called: '1', channel: 16 },
        'E_CHANNEL_UNKNOWN',
        'channel',
      );
      await refused({ op: 'place', trunk: 'nope', called: '1' }, 'E_TRUNK_UNKNOWN', 'trunk');
      await refused({ op: 'release', call: 999 }, 'E_CALL_UNKNOWN', 'call');
      await refused({ op: 'release', call: 999, cause: 500 }, 'E_CALL_UNKNOWN');
      await refused({ op: 'dance', trunk: 'net' }, 'E_COMMAND_FIELD', 'op');
      // With no far end the D-channel is down: a call is refused with a cause, not lost.
      const { call } = await net.command({ op: 'place', trunk: 'net', called: '1' });
      const rel = await net.waitEvent(is('released', call));
      assert.equal(rel.cause, 38);
    } finally {
      await net.stop();
    }
  });

  test('the engine refuses a D-channel on a bearer timeslot and an unknown switchtype', async () => {
    await assert.rejects(
      startHost(sim, { trunks: [trunk('net', { dchannel: 1 })] }),
      (err: HostError) => {
        assert.equal(err.code, 'E_CONFIG_FIELD');
        assert.equal(err.field, 'trunks[0].dchannel');
        assert.match(err.message, /configured as bchan, not hardhdlc/);
        return true;
      },
    );
    await assert.rejects(
      startHost(sim, { trunks: [trunk('net', { switchtype: 'euroisnd' })] }),
      (err: HostError) => {
        assert.equal(err.field, 'trunks[0].switchtype');
        return true;
      },
    );
  });
});

describe('PRI trunk configuration', () => {
  const fieldOf = (input: unknown): string[] => {
    try {
      validateTrunks(input);
      return [];
    } catch (err) {
      return ((err as { details: { path: string }[] }).details ?? []).map((d) => d.path);
    }
  };

  test('a valid trunk passes', () => {
    assert.deepEqual(fieldOf({ trunks: [trunk('net', { timers: { T303: 5000 } })] }), []);
  });

  test('unknown switchtype, D-channel on a bearer, timers out of range are named', () => {
    assert.deepEqual(fieldOf({ trunks: [trunk('net', { switchtype: 'euro' })] }), [
      'trunks[0].switchtype',
    ]);
    assert.deepEqual(fieldOf({ trunks: [trunk('net', { dchannel: 16, bchannels: '1-16' })] }), [
      'trunks[0].bchannels',
    ]);
    assert.deepEqual(fieldOf({ trunks: [trunk('net', { timers: { T303: 10 } })] }), [
      'trunks[0].timers.T303',
    ]);
    assert.deepEqual(fieldOf({ trunks: [trunk('net', { timers: { T999: 10 } })] }), [
      'trunks[0].timers.T999',
    ]);
    assert.deepEqual(fieldOf({ trunks: [trunk('net'), trunk('net', { span: 1 })] }), [
      'trunks[1].name',
      'trunks[1]',
    ]);
  });

  test('the board decides which spans and timeslots exist', () => {
    const board = new Map([[1, { type: 'T1' as const, channels: 24 }]]);
    assert.deepEqual(fieldOf({ trunks: [trunk('net', { span: 3 })] }).length, 0);
    try {
      validateTrunks({ trunks: [trunk('net', { span: 1, dchannel: 25 })] }, board);
      assert.fail('accepted');
    } catch (err) {
      assert.equal((err as { code: string }).code, 'E_CONFIG_FIELD');
      assert.match((err as Error).message, /^trunks\[0\]\.dchannel/);
    }
  });
});
