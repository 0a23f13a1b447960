// SPDX-License-Identifier: GPL-2.0-or-later
// Acceptance of the analog stack: FXS ports ring simulated phones (caller ID, answer, DTMF, clears), phones call in.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isSwitchboardError } from '../src/core/errors.ts';
import type { EngineTrunk } from '../src/native/engine.ts';
import { ANALOG_TIMERS } from '../src/trunks/analog.ts';
import { type BoardSpans, validateTrunks } from '../src/trunks/validate.ts';
import { eventually, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';
import { type Host, HostError, startHost } from './helpers/engine.ts';
import { digitsOf, Phone, phoneTrunk } from './helpers/phone.ts';

// One analog card of four lines, each joining an FXS port (odd) to an FXO port (even), and an E1.
const BOARD = {
  spans: [
    {
      type: 'analog' as const,
      ports: ['fxs', 'fxo', 'fxs', 'fxo', 'fxs', 'fxo', 'fxs', 'fxo'] as ('fxs' | 'fxo')[],
    },
    { type: 'E1' as const },
  ],
  lines: [
    ['1:1', '1:2'],
    ['1:3', '1:4'],
    ['1:5', '1:6'],
    ['1:7', '1:8'],
  ] as [string, string][],
};
// Lines 1-3 kewlstart, line 4 loopstart.
const SYSTEM_CONF = 'fxoks=1,3,5\nfxsks=2,4,6\nfxols=7\nfxsls=8\nloadzone=us\ndefaultzone=us\n';

// A short cadence keeps the test quick; its 2.5 s silence still holds the longest caller ID.
const CADENCE = [800, 2500];
// A phone takes the ringing to have stopped a second after the silence of that cadence.
const RING = { ringTimeout: 3500 };

function station(name: string, port: number, extra: Record<string, unknown> = {}): EngineTrunk {
  return {
    name,
    signalling: 'fxo_ks',
    span: 1,
    ports: [port],
    ringCadence: CADENCE,
    ...extra,
  } as EngineTrunk;
}

let sim: TestSim;
before(async () => {
  sim = await withConfiguredSim(BOARD, SYSTEM_CONF);
});
after(async () => {
  await sim.stop();
});

describe('analog trunk configuration', () => {
  const board: BoardSpans = {
    get: (span) =>
      span === 1
        ? { type: 'analog', channels: 8, ports: BOARD.spans[0]?.ports }
        : span === 2
          ? { type: 'E1', channels: 31 }
          : undefined,
  };
  const refused = (trunks: unknown[]) => {
    try {
      validateTrunks({ trunks }, board);
    } catch (err) {
      assert.ok(isSwitchboardError(err) && err.code === 'E_CONFIG_FIELD');
      return (err.details as { path: string; message: string }[]).map(
        (e) => `${e.path}: ${e.message}`,
      );
    }
    assert.fail('the configuration was accepted');
  };

  it('accepts FXS signalling on FXO ports and FXO signalling on FXS ports, ports as a list or a range', () => {
    validateTrunks(
      {
        trunks: [
          { name: 'phones', signalling: 'fxo_ks', span: 1, ports: '1,3', callerId: 'bell' },
          { name: 'lines', signalling: 'fxs_ls', span: 1, ports: [2, 4], polarity: true },
          {
            name: 'more',
            signalling: 'fxo_ls',
            span: 1,
            ports: '5-5',
            ringCadence: [400, 200, 400, 2000],
          },
        ],
      },
      board,
    );
  });

  it('names the field of a port that does not exist, an E1 span, a port twice, the wrong port kind', () => {
    assert.deepEqual(refused([{ name: 'a', signalling: 'fxo_ks', span: 1, ports: [9] }]), [
      'trunks[0].ports: port 9 does not exist on span 1 (ports are 1-8)',
    ]);
    assert.deepEqual(refused([{ name: 'a', signalling: 'fxo_ks', span: 2, ports: [1] }]), [
      'trunks[0].span: span 2 is an E1 span, not an analog card',
    ]);
    assert.deepEqual(refused([{ name: 'a', signalling: 'fxo_ks', span: 1, ports: '1,1' }]), [
      'trunks[0].ports: port 1 is listed twice',
    ]);
    assert.deepEqual(
      refused([
        { name: 'a', signalling: 'fxo_ks', span: 1, ports: [1, 3] },
        { name: 'b', signalling: 'fxo_ls', span: 1, ports: '3-5' },
      ]),
      [
        'trunks[1].ports: port 4 of span 1 is an FXO port; fxo_ls signalling needs an FXS port',
        'trunks[1].ports: port 3 of span 1 is already in trunks[0]',
      ],
    );
    assert.deepEqual(refused([{ name: 'a', signalling: 'fxs_ks', span: 1, ports: [1] }]), [
      'trunks[0].ports: port 1 of span 1 is an FXS port; fxs_ks signalling needs an FXO port',
    ]);
  });

  it('names timers out of range, unknown timers, and station options on an FXO port', () => {
    assert.deepEqual(
      refused([
        {
          name: 'a',
          signalling: 'fxs_ks',
          span: 1,
          ports: [2],
          ringCadence: [1000, 2000],
          callerId: 'fsk',
          timers: { dtmfOn: 10, T1: 5 },
        },
      ]),
      ['trunks[0].callerId: must be "off", "bell", "v23" or "dtmf"'],
    );
    assert.deepEqual(
      refused([
        {
          name: 'a',
          signalling: 'fxs_ks',
          span: 1,
          ports: [2],
          ringCadence: [1000, 2000],
          timers: { dtmfOn: 10, T1: 5 },
        },
      ]),
      [
        'trunks[0].timers.dtmfOn: 10 ms is outside 40..500 ms (DTMF digit length we send (ITU-T Q.24: at least 40 ms))',
        'trunks[0].timers.T1: is not a known timer (known: firstDigitTimeout, digitTimeout, cidDelay, ringTimeout, dialDelay, dtmfOn, dtmfOff)',
        'trunks[0].ringCadence: is for FXS ports (fxo_ks/fxo_ls signalling); fxs_ks runs on an FXO port',
      ],
    );
  });

  it('the engine refuses the same configurations, naming the field, without a board description', async () => {
    const attempt = async (trunks: unknown[]) => {
      try {
        const h = await startHost(sim, { trunks } as never, 'refused');
        await h.stop();
      } catch (err) {
        assert.ok(err instanceof HostError, String(err));
        return `${err.code} ${err.field}: ${err.message}`;
      }
      return 'accepted';
    };
    const results = await Promise.all([
      attempt([{ name: 'a', signalling: 'fxo_ks', span: 1, ports: [9] }]),
      attempt([{ name: 'a', signalling: 'fxo_ks', span: 2, ports: [1] }]),
      attempt([{ name: 'a', signalling: 'fxo_ks', span: 1, ports: [1, 1] }]),
      attempt([{ name: 'a', signalling: 'fxo_ks', span: 1, ports: [2] }]),
      attempt([
        { name: 'a', signalling: 'fxo_ls', span: 1, ports: [7] },
        { name: 'b', signalling: 'fxo_ls', span: 1, ports: [7] },
      ]),
      attempt([{ name: 'a', signalling: 'fxo_ls', span: 1, ports: [5] }]),
      attempt([{ name: 'a', signalling: 'fxs_ks', span: 1, ports: [2], timers: { dtmfOn: 10 } }]),
    ]);
    assert.match(
      results[0] as string,
      /^E_CONFIG_FIELD trunks\[0\]\.ports: .*port 9 does not exist on span 1 \(ports are 1-8\)/,
    );
    assert.match(
      results[1] as string,
      /^E_CONFIG_FIELD trunks\[0\]\.span: .*span 2 is an E1\/T1 span/,
    );
    assert.match(results[2] as string, /^E_CONFIG_FIELD trunks\[0\]\.ports: .*1 is listed twice/);
    assert.match(
      results[3] as string,
      /^E_CONFIG_FIELD trunks\[0\]\.ports: .*port 2 of span 1 is an FXO port; fxo_ks signalling needs an FXS port/,
    );
    // The second trunk cannot open a channel the first holds.
    assert.match(results[4] as string, /^E_DAHDI_OPEN trunks\[1\]\.ports: .*channel 7/);
    // Port 5 is an FXS port set up as fxoks: fxo_ls is not what system.conf says.
    assert.match(
      results[6] as string,
      /^E_CONFIG_FIELD trunks\[0\]\.timers\.dtmfOn: .*10 is out of range 40\.\.500/,
    );
    assert.match(
      results[5] as string,
      /^E_CONFIG_FIELD trunks\[0\]\.ports: .*configured as fxoks, not fxols/,
    );
  });
});

describe('analog calls between FXS ports and simulated phones', () => {
  let exchange: Host;
  let phones: Host;
  const phone: Record<string, Phone> = {};

  const ofCall = (h: Host, call: number) =>
    h.events((e) => e.call === call && e.event !== 'log').map((e) => e.event);
  const waitCall = (h: Host, event: string, call: number) =>
    h.waitEvent((e) => e.event === event && e.call === call);
  const waitDigits = async (h: Host, call: number, count: number) => {
    for (let i = 0; i < count; i++) await waitCall(h, 'digits', call);
    return digitsOf(h, call);
  };
  const channel = async (h: Host, trunk: string) => {
    const snap = await h.snapshot();
    return snap.trunks.find((t) => t.name === trunk)?.channels[0] as Record<string, unknown>;
  };

  before(async () => {
    [exchange, phones] = await Promise.all([
      startHost(
        sim,
        {
          trunks: [
            station('bell', 1, {
              callerId: 'bell',
              timers: { firstDigitTimeout: 2500, digitTimeout: 2500 },
            }),
            station('v23', 3, { callerId: 'v23' }),
            station('dtmf', 5, { callerId: 'dtmf', polarity: true, zone: 'de' }),
            station('loop', 7, { signalling: 'fxo_ls', polarity: true }),
          ],
        },
        'exchange',
      ),
      startHost(
        sim,
        {
          trunks: [
            phoneTrunk({ name: 'p-bell', span: 1, port: 2, callerId: 'bell', timers: RING }),
            phoneTrunk({ name: 'p-v23', span: 1, port: 4, callerId: 'v23', timers: RING }),
            phoneTrunk({
              name: 'p-dtmf',
              span: 1,
              port: 6,
              callerId: 'dtmf',
              polarity: true,
              timers: RING,
            }),
            phoneTrunk({
              name: 'p-loop',
              span: 1,
              port: 8,
              signalling: 'fxs_ls',
              polarity: true,
              timers: RING,
            }),
          ],
        },
        'phones',
      ),
    ]);
    for (const name of ['p-bell', 'p-v23', 'p-dtmf', 'p-loop'])
      phone[name] = new Phone(phones, name);
  });
  after(async () => {
    await Promise.all([exchange?.stop(), phones?.stop()]);
  });

  it('rings the phone with caller ID in Bell 202, V.23 and DTMF; the phone answers, dials DTMF, and either side clears', async () => {
    const one = async (
      trunk: string,
      caller: { calling: string; callingName?: string },
      clears: 'phone' | 'exchange',
    ) => {
      const p = phone[`p-${trunk}`] as Phone;
      const { call } = await exchange.command({ op: 'place', trunk, called: '', ...caller });
      const id = call as number;
      await waitCall(exchange, 'alerting', id);
      const offered = await p.ringing();
      assert.equal(offered.calling, caller.calling, `${trunk}: caller ID number`);
      assert.equal(offered.callingName, caller.callingName, `${trunk}: caller ID name`);
      assert.equal(offered.channel, (await channel(phones, `p-${trunk}`)).channel);
      const pc = offered.call as number;
      await p.answer(pc);
      await waitCall(exchange, 'answered', id);
      await p.next('answered', pc);
      await p.press(pc, '123#');
      assert.equal(await waitDigits(exchange, id, 4), '123#', `${trunk}: digits`);
      if (clears === 'phone') {
        await p.hangUp(pc);
        assert.equal((await waitCall(exchange, 'released', id)).by, 'remote');
        assert.equal((await p.next('released', pc)).by, 'local');
      } else {
        await exchange.command({ op: 'release', call: id });
        assert.equal((await waitCall(exchange, 'released', id)).by, 'local');
        // Kewlstart: the FXS port drops the loop; the phone hears the far end clear.
        const r = await p.next('released', pc);
        assert.equal(r.by, 'remote');
        assert.equal(r.causeName, 'NORMAL_CLEARING');
      }
      assert.deepEqual(ofCall(exchange, id), [
        'alerting',
        'answered',
        'digits',
        'digits',
        'digits',
        'digits',
        'released',
      ]);
      assert.deepEqual(
        p.events(pc).map((e) => e.event),
        ['offered', 'answered', 'released'],
      );
    };
    await Promise.all([
      one('bell', { calling: '5551234', callingName: 'Alice' }, 'phone'),
      one('v23', { calling: '0301234567', callingName: 'Bob Example' }, 'exchange'),
      one('dtmf', { calling: '4512345678' }, 'exchange'),
    ]);
    // Both ends of every line are back at rest.
    for (const t of ['bell', 'v23', 'dtmf'])
      assert.ok(
        await eventually(async () => {
          const [a, b] = [await channel(exchange, t), await channel(phones, `p-${t}`)];
          return a.phase === 'idle' && a.hook === 'onhook' && b.phase === 'idle';
        }),
        t,
      );
  });

  it('a phone goes off hook and dials: the FXS port offers the call, then the digits one by one', async () => {
    const p = phone['p-bell'] as Phone;
    const pc = await p.dial('5551000');
    const offered = await exchange.waitEvent((e) => e.event === 'offered' && e.trunk === 'bell');
    assert.equal(offered.called, '');
    assert.equal(offered.complete, false);
    const id = offered.call as number;
    assert.equal(await waitDigits(exchange, id, 7), '5551000');
    // Without answer supervision the phone's call counts as connected once dialled.
    await p.next('answered', pc);
    assert.equal((await exchange.snapshot()).trunks[0]?.calls[0]?.called, '5551000');
    await exchange.command({ op: 'answer', call: id });
    await waitCall(exchange, 'answered', id);
    // DTMF the other way: the FXS port sends, the phone hears.
    await exchange.command({ op: 'digits', call: id, digits: '*9' });
    await p.next('digits', pc);
    await p.next('digits', pc);
    assert.equal(digitsOf(phones, pc), '*9');
    await p.hangUp(pc);
    assert.equal((await waitCall(exchange, 'released', id)).by, 'remote');
    assert.equal((await p.next('released', pc)).by, 'local');
    assert.deepEqual(ofCall(exchange, id), [
      'offered',
      ...Array(7).fill('digits'),
      'answered',
      'released',
    ]);
    assert.deepEqual(
      p.events(pc).map((e) => e.event),
      ['dialing', 'answered', 'digits', 'digits', 'released'],
    );
  });

  it('battery reversal answers and clears a loopstart call the phone made', async () => {
    const p = phone['p-loop'] as Phone;
    const pc = await p.dial('42');
    const offered = await exchange.waitEvent((e) => e.event === 'offered' && e.trunk === 'loop');
    const id = offered.call as number;
    assert.equal(await waitDigits(exchange, id, 2), '42');
    // Dialled, the phone waits for the reversal rather than assuming an answer.
    await p.next('proceeding', pc);
    await exchange.command({ op: 'answer', call: id });
    await p.next('answered', pc);
    await exchange.command({ op: 'release', call: id, cause: 'NORMAL_CLEARING' });
    assert.equal((await p.next('released', pc)).by, 'remote');
    assert.deepEqual(
      p.events(pc).map((e) => e.event),
      ['dialing', 'proceeding', 'answered', 'released'],
    );
    // The phone hung up in turn: the FXS port leaves its busy-tone lockout for idle.
    assert.ok(await eventually(async () => (await channel(exchange, 'loop')).phase === 'idle'));
  });

  it('no digit lost while the FXS host event loop is blocked for 2 s: detection is native', async () => {
    const p = phone['p-v23'] as Phone;
    const { call } = await exchange.command({
      op: 'place',
      trunk: 'v23',
      called: '',
      calling: '1',
    });
    const id = call as number;
    const pc = (await p.ringing()).call as number;
    await p.answer(pc);
    await waitCall(exchange, 'answered', id);
    const blocked = exchange.request('block', { ms: 2000 });
    await p.press(pc, '0123456789*#');
    await blocked;
    const unblocked = Date.now();
    assert.equal(await waitDigits(exchange, id, 12), '0123456789*#');
    // Digits were detected (stamped by the trunk thread) while the host's event loop spun.
    const during = exchange.events(
      (e) => e.event === 'digits' && e.call === id && Number(e.time) < unblocked,
    );
    assert.ok(during.length > 0, 'no digit was detected during the block');
    await exchange.command({ op: 'release', call: id });
    await p.next('released', pc);
  });

  it('a blocked FXS port is not rung and refuses the phone with busy tone; a blocked FXO port does not answer', async () => {
    await exchange.command({ op: 'block', trunk: 'bell', channel: 1 });
    await exchange.waitEvent(
      (e) => e.event === 'channel' && e.trunk === 'bell' && e.state === 'blocked',
    );
    assert.equal((await channel(exchange, 'bell')).state, 'blocked');
    const { call } = await exchange.command({ op: 'place', trunk: 'bell', called: '', channel: 1 });
    const refusedCall = await waitCall(exchange, 'released', call as number);
    assert.equal(refusedCall.causeName, 'REQUESTED_CHAN_UNAVAIL');
    const { call: any } = await exchange.command({ op: 'place', trunk: 'bell', called: '' });
    assert.equal(
      (await waitCall(exchange, 'released', any as number)).causeName,
      'NORMAL_CIRCUIT_CONGESTION',
    );
    // The phone lifts the handset: no call is offered, the loop drop clears the phone's call.
    const p = phone['p-bell'] as Phone;
    const pc = await p.dial('1');
    assert.equal((await p.next('released', pc)).by, 'remote');
    assert.equal(exchange.events((e) => e.event === 'offered' && e.trunk === 'bell').length, 1);
    // The port leaves its lockout once it sees the phone hang up.
    assert.ok(await eventually(async () => (await channel(exchange, 'bell')).hook === 'onhook'));
    await exchange.command({ op: 'unblock', trunk: 'bell' });
    const { call: again } = await exchange.command({
      op: 'place',
      trunk: 'bell',
      called: '',
      calling: '7',
      callingPresentation: 'restricted',
    });
    const offered = await p.ringing();
    // Presentation restricted: the number stays at the exchange, the phone is told it is private.
    assert.equal(offered.calling, '');
    assert.equal(offered.callingPresentation, 'restricted');
    await exchange.command({ op: 'release', call: again as number });
    await waitCall(exchange, 'released', again as number);
    // An analog line does not say the caller gave up: the phone knows when the rings stop.
    const gaveUp = await p.next('released', offered.call as number);
    assert.equal(gaveUp.by, 'remote');

    // The FXO end blocked: it lets the line ring and offers nothing.
    const q = phone['p-dtmf'] as Phone;
    await phones.command({ op: 'block', trunk: 'p-dtmf' });
    const { call: rung } = await exchange.command({
      op: 'place',
      trunk: 'dtmf',
      called: '',
      calling: '8',
    });
    assert.ok(
      await eventually(async () => Number((await channel(phones, 'p-dtmf')).rings) >= 2, 10_000),
    );
    assert.equal(q.events().filter((e) => e.event === 'offered').length, 1);
    await exchange.command({ op: 'release', call: rung as number });
    await waitCall(exchange, 'released', rung as number);
    await phones.command({ op: 'unblock', trunk: 'p-dtmf' });
  });

  it('digit timeout: a phone that dials nothing is released with address incomplete', async () => {
    const p = phone['p-bell'] as Phone;
    // The phone's own digits may be held back: it goes off hook and waits.
    const pc = await p.dial('');
    const offered = await exchange.waitEvent((e) => e.event === 'offered' && e.trunk === 'bell');
    const r = await waitCall(exchange, 'released', offered.call as number);
    assert.equal(r.causeName, 'INVALID_NUMBER_FORMAT');
    assert.equal(r.by, 'stack');
    assert.equal((await p.next('released', pc)).by, 'remote');
  });

  it('reset puts an FXS port on hook and ends its call', async () => {
    const p = phone['p-v23'] as Phone;
    const pc = await p.dial('9');
    const offered = await exchange.waitEvent((e) => e.event === 'offered' && e.trunk === 'v23');
    await exchange.command({ op: 'reset', trunk: 'v23' });
    const r = await waitCall(exchange, 'released', offered.call as number);
    assert.equal(r.by, 'local');
    assert.equal((await p.next('released', pc)).by, 'remote');
    assert.ok(await eventually(async () => (await channel(exchange, 'v23')).phase === 'idle'));
  });

  it('commands with a wrong field are refused, naming it', async () => {
    const refused = async (cmd: Record<string, unknown>) => {
      try {
        await exchange.command(cmd as never);
      } catch (err) {
        assert.ok(err instanceof HostError);
        return `${err.code} ${err.field}`;
      }
      return 'accepted';
    };
    assert.equal(
      await refused({ op: 'place', trunk: 'bell', channel: 2 }),
      'E_CHANNEL_UNKNOWN channel',
    );
    assert.equal(
      await refused({ op: 'place', trunk: 'dtmf', calling: '12a' }),
      'E_COMMAND_FIELD calling',
    );
    assert.equal(
      await refused({ op: 'block', trunk: 'bell', channel: 9 }),
      'E_CHANNEL_UNKNOWN channel',
    );
    assert.equal(await refused({ op: 'place', trunk: 'nowhere' }), 'E_TRUNK_UNKNOWN trunk');
    assert.equal(
      await refused({ op: 'digits', call: 999_999, digits: '1' }),
      'E_CALL_UNKNOWN call',
    );
    // A phone dials DTMF digits only.
    try {
      await phones.command({ op: 'place', trunk: 'p-bell', called: '12x' });
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof HostError);
      assert.equal(`${err.code} ${err.field}`, 'E_COMMAND_FIELD called');
    }
  });

  it('the snapshot shows each port with its hook, and the timers in force match the documented table', async () => {
    const snap = await exchange.snapshot();
    const v23 = snap.trunks.find((t) => t.name === 'v23');
    assert.ok(v23);
    assert.deepEqual(
      v23.timers,
      Object.fromEntries(Object.entries(ANALOG_TIMERS).map(([k, v]) => [k, v.default])),
    );
    assert.deepEqual(
      v23.channels.map(({ span, channel, dahdiChannel, port, state, hook }) => ({
        span,
        channel,
        dahdiChannel,
        port,
        state,
        hook,
      })),
      [{ span: 1, channel: 3, dahdiChannel: 3, port: 'fxs', state: 'idle', hook: 'onhook' }],
    );
    assert.equal(v23.callerId, 'v23');
    const bell = snap.trunks.find((t) => t.name === 'bell');
    assert.ok(bell);
    assert.equal((bell.timers as Record<string, number>).firstDigitTimeout, 2500);
    const loop = (await phones.snapshot()).trunks.find((t) => t.name === 'p-loop');
    assert.deepEqual(loop?.channels[0]?.port, 'fxo');
    // Nothing went wrong on the way: no error event, no warning or error log at either end.
    const bad = (h: Host) =>
      h.events(
        (e) =>
          e.event === 'error' || (e.event === 'log' && (e.level === 'warn' || e.level === 'error')),
      );
    assert.deepEqual([...bad(exchange), ...bad(phones)], []);
  });
});
