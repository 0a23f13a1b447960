// SPDX-License-Identifier: GPL-2.0-or-later
// The controller bridges a PRI call to a phone on an FXS port, and a phone's call out on PRI, through the time-slot switch.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RunningCarrier, startCarrier } from './helpers/carrier.ts';
import { type RunningController, startController } from './helpers/controller.ts';
import { eventually, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';
import { type Host, type Line, startHost } from './helpers/engine.ts';
import { Phone, phoneTrunk } from './helpers/phone.ts';

// Span 1-2: a PRI cable to the carrier. Span 3: an analog card whose FXS port 1 (channel 63)
// feeds a line to its FXO port 2 (channel 64), where the simulated phone hangs.
const BOARD = {
  spans: [
    { type: 'E1' as const },
    { type: 'E1' as const },
    { type: 'analog' as const, ports: ['fxs', 'fxo'] as ('fxs' | 'fxo')[] },
  ],
  cables: [[1, 2]] as [number, number][],
  lines: [['3:1', '3:2']] as [string, string][],
};
const SYSTEM_CONF = [
  'span=1,1,0,ccs,hdb3,crc4',
  'bchan=1-15,17-31',
  'hardhdlc=16',
  'span=2,2,0,ccs,hdb3,crc4',
  'bchan=32-46,48-62',
  'hardhdlc=47',
  'fxoks=63',
  'fxsks=64',
  'alaw=63-64',
  '',
].join('\n');

const SWITCH = {
  system: { timezone: 'UTC', toneZone: 'cn' },
  spans: [{ span: 1, framing: 'ccs', coding: 'hdb3', crc4: true, timing: 1 }],
  trunks: [
    { name: 'pri', signalling: 'pri_cpe', span: 1, switchtype: 'euroisdn' },
    { name: 'phones', signalling: 'fxo_ks', span: 3, ports: [1] },
  ],
  trunkGroups: [{ name: 'g-pri', trunks: ['pri'], hunt: 'sequential' }],
  extensions: [{ number: '201', trunk: 'phones', channel: 1, name: 'reception' }],
  routes: {
    inbound: [
      {
        name: 'did-201',
        trunks: ['pri'],
        called: '_X.',
        destination: { type: 'extension', extension: '201' },
      },
      {
        name: 'phone-out',
        trunks: ['phones'],
        called: '_6288XXXX',
        destination: { type: 'trunk', route: 'via-pri' },
      },
    ],
    outbound: [{ name: 'via-pri', called: '_X.', trunkGroups: ['g-pri'] }],
  },
};

describe('the controller with a phone on an FXS port', () => {
  let sim: TestSim;
  let ctl: RunningController;
  let host: Host;
  let phone: Phone;
  let carrier: RunningCarrier;

  before(async () => {
    sim = await withConfiguredSim(BOARD, SYSTEM_CONF);
    ctl = await startController(sim, SWITCH);
    host = await startHost(
      sim,
      { trunks: [phoneTrunk({ name: 'phone', span: 3, port: 2 })] },
      'phone',
    );
    phone = new Phone(host, 'phone');
    carrier = await startCarrier(sim, {
      seed: 3,
      trunks: [{ name: 'net', signalling: 'pri_net', span: 2, switchtype: 'euroisdn' }],
      inbound: {
        trunks: ['net'],
        total: 1,
        rate: 60,
        called: { numbers: ['201'] },
        calling: { numbers: ['13912345678'] },
        holdSeconds: { min: 4, max: 4 },
        digits: [{ afterSeconds: 1, press: '5' }],
      },
      outbound: {
        mix: { answer: 1 },
        ringSeconds: { min: 0, max: 0 },
        holdSeconds: null,
        digits: [{ afterSeconds: 1, press: '7' }],
      },
    });
  });
  after(async () => {
    await carrier?.stop();
    await host?.stop();
    await ctl?.stop();
    await sim?.stop();
  });

  it('rings extension 201 for a PRI call, bridges it when the phone answers, and records it once', async () => {
    const ring = await phone.ringing(60_000);
    const call = ring.call as number;
    await phone.answer(call);
    await host.command({ op: 'detect', call, dtmf: true });
    // The carrier's caller presses 5 after the answer: it reaches the phone through the bridge.
    const dtmf: Line = await host.waitEvent((e) => e.event === 'dtmf' && e.call === call, 30_000);
    assert.equal(dtmf.digit, '5');
    await phone.next('released', call, 30_000);
    await eventually(
      async () => (await ctl.api('GET', '/api/cdr?direction=inbound')).json.total === 1,
      30_000,
    );
    const [cdr] = (await ctl.api('GET', '/api/cdr?direction=inbound')).json.records;
    assert.equal(cdr.disposition, 'answered');
    assert.equal(cdr.route, 'did-201');
    assert.equal(cdr.destination, 'extension 201');
    assert.equal(cdr.a.trunk, 'pri');
    assert.equal(cdr.b.trunk, 'phones');
    assert.equal(cdr.calling, '13912345678');
  });

  it("takes a call the phone dials out over PRI, and carries the callee's DTMF back to the phone", async () => {
    const call = await phone.dial('62881001');
    await phone.next('answered', call, 60_000);
    await host.command({ op: 'detect', call, dtmf: true });
    const dtmf: Line = await host.waitEvent((e) => e.event === 'dtmf' && e.call === call, 30_000);
    assert.equal(dtmf.digit, '7');
    await phone.hangUp(call);
    await eventually(
      async () => (await ctl.api('GET', '/api/cdr?limit=10')).json.total === 2,
      30_000,
    );
    const records = (await ctl.api('GET', '/api/cdr?limit=10')).json.records;
    const out = records.find((r: { called: string }) => r.called === '62881001');
    assert.equal(out.disposition, 'answered');
    assert.equal(out.route, 'phone-out');
    assert.equal(out.a.trunk, 'phones');
    assert.equal(out.b.trunk, 'pri');
    const seen = carrier.records().filter((r) => r.direction === 'outbound');
    assert.deepEqual(
      seen.map((r) => `${r.called} ${r.outcome}`),
      ['62881001 answer'],
    );
  });
});
