// SPDX-License-Identifier: GPL-2.0-or-later
// The IVR and the dialer on the whole controller over two PRI E1 spans to the simulated carrier: menus, replacement, a 500-contact broadcast, kill -9.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { priPairs, type RunningCarrier, startCarrier } from './helpers/carrier.ts';
import { type Json, type RunningController, startController } from './helpers/controller.ts';
import { eventually, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';

/** Two PRI pairs: the switch on spans 1 and 3 (user side), the carrier on 2 and 4 (network side). */
const PAIRS = priPairs(2);

const SWITCH = {
  system: { timezone: 'UTC', toneZone: 'cn' },
  spans: [
    { span: 1, framing: 'ccs', coding: 'hdb3', crc4: true, timing: 1 },
    { span: 3, framing: 'ccs', coding: 'hdb3', crc4: true, timing: 2 },
  ],
  trunks: [
    { name: 'pri-a', signalling: 'pri_cpe', span: 1, switchtype: 'euroisdn' },
    { name: 'pri-b', signalling: 'pri_cpe', span: 3, switchtype: 'euroisdn' },
  ],
  trunkGroups: [{ name: 'carrier', trunks: ['pri-a', 'pri-b'], hunt: 'round_robin' }],
  routes: {
    inbound: [{ name: 'hotline', called: '95588', destination: { type: 'ivr', flow: 'menu' } }],
    outbound: [{ name: 'mobiles', called: '_1X.', trunkGroups: ['carrier'] }],
  },
};

const CARRIER_TRUNKS = [
  { name: 'net-a', signalling: 'pri_net', span: 2, switchtype: 'euroisdn' },
  { name: 'net-b', signalling: 'pri_net', span: 4, switchtype: 'euroisdn' },
];

/** The inbound menu, version 1 (version 2 only says goodbye differently). */
function menuFlow(thanks: string) {
  return {
    name: 'menu',
    start: 'welcome',
    variables: { account: '' },
    nodes: {
      welcome: { type: 'play', items: [{ tts: 'Welcome.' }], bargeIn: true, next: 'main' },
      main: {
        type: 'menu',
        prompt: [{ tts: 'For sales press 1. For support press 2.' }],
        choices: { '1': 'sales', '2': 'support' },
        timeoutMs: 8000,
        onInvalid: 'end',
        onTimeout: 'end',
      },
      sales: { type: 'play', items: [{ tts: 'Sales.' }], next: 'end' },
      support: {
        type: 'collect',
        prompt: [{ tts: 'Your account number, then hash.' }],
        var: 'account',
        max: 8,
        timeoutMs: 10000,
        next: 'thanks',
        onTimeout: 'end',
      },
      thanks: { type: 'play', items: [{ tts: thanks }], next: 'end' },
      end: { type: 'hangup', cause: 16 },
    },
  };
}

/** The broadcast: one question, the first key is the answer. */
const NOTIFY = {
  name: 'notify',
  start: 'ask',
  variables: { keypress: '' },
  nodes: {
    ask: {
      type: 'collect',
      prompt: [{ tts: 'Your parcel arrives today. Press hash to confirm.' }],
      var: 'keypress',
      max: 1,
      terminator: '',
      timeoutMs: 8000,
      next: 'bye',
      onTimeout: 'bye',
    },
    bye: { type: 'hangup', cause: 16 },
  },
};

/** Contact n's number: the last digit decides what the carrier does with it. */
const number = (n: number) => `1390000${String(n).padStart(4, '0')}`;
/** What the carrier does per last digit, and what the dialer must conclude. */
const BEHAVIOUR = [
  { outcome: 'answer', digits: [{ afterSeconds: 3, press: '#' }] }, // 0 success
  { outcome: 'answer', digits: [{ afterSeconds: 3, press: '#' }] }, // 1 success
  { outcome: 'answer', digits: [{ afterSeconds: 3, press: '#' }] }, // 2 success
  { outcome: 'answer', digits: [{ afterSeconds: 3, press: '#' }] }, // 3 success
  { outcome: 'answer', digits: [{ afterSeconds: 3, press: '1' }] }, // 4 refused
  { outcome: 'answer', digits: [{ afterSeconds: 3, press: '9' }] }, // 5 wrong number (key)
  { outcome: 'answer' }, // 6 refused: no key
  { outcome: 'busy' }, // 7 busy, retried once, then failed
  { outcome: 'invalid_number' }, // 8 wrong number (cause 1)
  { outcome: 'no_answer' }, // 9 rings past our 10 s ring timeout: failed
];

function scenario(inbound?: object) {
  return {
    seed: 11,
    trunks: CARRIER_TRUNKS,
    ...(inbound ? { inbound } : {}),
    outbound: {
      ringSeconds: { min: 0, max: 1 },
      // Callees wait for the switch to hang up (the flow ends the call).
      holdSeconds: null,
      noAnswerSeconds: 60,
      numbers: BEHAVIOUR.map((b, digit) => ({ number: `_1390000XXX${digit}`, ...b })),
    },
  };
}

/** A fixed-offset zone (Etc/GMT-k is UTC+k) where it is about noon now, and one where it is about midnight. */
function zones(): { noon: string; midnight: string } {
  const h = new Date().getUTCHours();
  const zone = (offset: number) => {
    const k = ((offset + 11 + 24) % 24) - 11; // -11..12
    return k === 0 ? 'Etc/GMT' : `Etc/GMT${k > 0 ? '-' : '+'}${Math.abs(k)}`;
  };
  return { noon: zone(12 - h), midnight: zone(-h) };
}

/** Both D-channels up (the carrier's ends must be running). */
async function linksUp(ctl: RunningController): Promise<void> {
  assert.ok(
    await eventually(async () => {
      const t = (await ctl.api('GET', '/api/trunks')).json.trunks as Json[];
      return t.every((x) => x.links.every((l: Json) => l.state === 'up'));
    }, 60_000),
    'the D-channels came up',
  );
}

async function campaignState(ctl: RunningController, name: string): Promise<Json> {
  const r = await ctl.api('GET', `/api/campaigns/${name}`);
  assert.equal(r.status, 200, r.text);
  return r.json.monitor;
}

describe('IVR and dialer on the switch, over two E1 spans to the simulated carrier', () => {
  let sim: TestSim;
  let ctl: RunningController;
  let carrier: RunningCarrier | undefined;

  before(async () => {
    sim = await withConfiguredSim(PAIRS.board, PAIRS.systemConf);
    ctl = await startController(sim, SWITCH);
  });
  afterEach(async () => {
    await carrier?.stop();
    carrier = undefined;
  });
  after(async () => {
    await ctl?.stop();
    await sim?.stop();
  });

  it('an inbound call walks the menu by DTMF to support; a flow replaced meanwhile does not disturb it', async () => {
    const saved = await ctl.api('PUT', '/api/flows/menu', menuFlow('Thank you.'));
    assert.equal(saved.status, 200, saved.text);
    assert.equal(saved.json.version, 1);
    carrier = await startCarrier(
      sim,
      scenario({
        total: 2,
        concurrent: 1,
        arrival: 'uniform',
        rate: 2,
        holdSeconds: { min: 60, max: 60 },
        called: { numbers: ['95588'] },
        calling: { numbers: ['13812345678'] },
        trunks: ['net-a'],
        digits: [
          { afterSeconds: 5, press: '2' },
          { afterSeconds: 3, press: '1234#' },
        ],
      }),
    );
    await linksUp(ctl);
    // The first call reaches the support node: version 2 is saved while it is there.
    let first: string | undefined;
    assert.ok(
      await eventually(async () => {
        const calls = (await ctl.api('GET', '/api/calls')).json.calls as Json[];
        first ??= calls[0]?.id;
        if (!first) return false;
        const log = (await ctl.api('GET', `/api/calls/${first}/flow-log`)).json;
        return (log.entries as Json[] | undefined)?.some((e) => e.node === 'support') === true;
      }, 60_000),
      'timed out waiting',
    );
    const v2 = await ctl.api('PUT', '/api/flows/menu', menuFlow('Goodbye from version two.'));
    assert.equal(v2.json.version, 2, v2.text);
    await carrier.inboundDone(120_000);
    // Our record of a call is written when our side has seen it end, a moment after the carrier.
    let cdrs: Json[] = [];
    assert.ok(
      await eventually(async () => {
        cdrs = (await ctl.api('GET', '/api/cdr?direction=inbound')).json.records as Json[];
        return cdrs.length === 2;
      }, 10_000),
      `two call records: ${JSON.stringify(cdrs)}`,
    );
    const logs = await Promise.all(
      cdrs.map(
        async (r) => (await ctl.api('GET', `/api/calls/${r.id}/flow-log`)).json.entries as Json[],
      ),
    );
    const byId = new Map(cdrs.map((r, i) => [r.id as string, logs[i] as Json[]]));
    const one = byId.get(first as string) as Json[];
    assert.deepEqual(
      one.map((e) => `${e.version}:${e.node}`),
      ['1:welcome', '1:main', '1:support', '1:thanks', '1:end'],
    );
    assert.equal(one.find((e) => e.node === 'main')?.input.tries?.[0], '2');
    assert.equal(one.find((e) => e.node === 'support')?.output.vars?.account, '1234');
    const two = [...byId.entries()].find(([id]) => id !== first)?.[1] as Json[];
    assert.ok(two.length > 0 && two.every((e) => e.version === 2), JSON.stringify(two));
  });

  it('a 500-contact broadcast ends with the outcome counts the carrier scenario makes; nobody outside the window or on the do-not-call list is called', async () => {
    const saved = await ctl.api('PUT', '/api/flows/notify', NOTIFY);
    assert.equal(saved.status, 200, saved.text);
    carrier = await startCarrier(sim, scenario());
    await linksUp(ctl);
    const { noon, midnight } = zones();
    const created = await ctl.api('POST', '/api/campaigns', {
      name: 'parcels',
      mode: 'broadcast',
      flow: 'notify',
      confirmKeys: '#',
      wrongNumberKeys: '9',
      timezone: noon,
      windows: [
        { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '06:00', to: '18:00' },
      ],
      ringTimeoutSeconds: 10,
      // Headroom: a B-channel just cleared on our side may still be clearing at the carrier's.
      maxChannels: 40,
      retries: {
        busy: { max: 1, intervalMinutes: 1 },
        no_answer: { max: 0, intervalMinutes: 1 },
        congestion: { max: 0, intervalMinutes: 1 },
      },
    });
    assert.equal(created.status, 201, created.text);
    // 500 contacts in the window, 20 where it is midnight, 5 on the do-not-call list, and
    // broken rows the import reports.
    const rows = ['phone,name,tz'];
    for (let n = 0; n < 500; n++) rows.push(`${number(n)},Customer ${n},`);
    for (let n = 500; n < 520; n++) rows.push(`${number(n)},Night owl ${n},${midnight}`);
    for (let n = 520; n < 525; n++) rows.push(`+86 ${number(n)},Barred ${n},`);
    rows.push('12345,Too short,', `${number(0)},Duplicate,`, '"unterminated,quote');
    const imported = await ctl.api('POST', '/api/campaigns/parcels/contacts', {
      format: 'csv',
      content: rows.join('\n'),
      mapping: { number: 'phone', name: 'name', timezone: 'tz' },
    });
    assert.equal(imported.status, 200, imported.text);
    const report = imported.json.report;
    assert.equal(report.imported, 525);
    assert.deepEqual(
      report.duplicates.map((d: Json) => `${d.row} ${d.number} ${d.firstRow}`),
      [`528 ${number(0)} 2`],
    );
    assert.ok(
      report.invalid.some((i: Json) => i.row === 527 && i.value === '12345'),
      JSON.stringify(report.invalid),
    );
    const barred = await ctl.api('POST', '/api/dnc', {
      numbers: [520, 521, 522, 523, 524].map((n) => `+86${number(n)}`),
      reason: 'asked not to be called',
    });
    assert.equal(barred.json.added, 5);
    assert.equal((await ctl.api('POST', '/api/campaigns/parcels/start')).status, 200);

    // Done when nobody is left: the busy retry comes a minute after the first try. The night
    // owls are finished unreached (the two windows never overlap), the barred ones skipped.
    assert.ok(
      await eventually(
        async () => {
          const m = await campaignState(ctl, 'parcels');
          return m.contacts.dialing === 0 && m.contacts.pending === 0;
        },
        600_000,
        1000,
      ),
      'timed out waiting',
    );
    const m = await campaignState(ctl, 'parcels');
    assert.equal(m.state, 'done');
    assert.deepEqual(m.skipped, { dnc: 5, noWindow: 20 });
    const odd = (
      (await ctl.api('GET', '/api/cdr?direction=outbound&limit=1000')).json.records as Json[]
    )
      .filter((r) => ![1, 16, 17, 19].includes(r.cause))
      .map(
        (r) =>
          `${r.called} ${r.disposition} ${r.causeName} ${JSON.stringify(r.tries ?? [])} ${JSON.stringify(r.skipped ?? [])}`,
      );
    assert.deepEqual(odd.slice(0, 20), [], `${odd.length} calls ended with other causes`);
    assert.deepEqual(
      { ...m.outcomes },
      {
        human: 350,
        machine: 0,
        abandoned: 0,
        busy: 100,
        no_answer: 50,
        congestion: 0,
        invalid_number: 50,
        refused: 0,
        failed: 0,
      },
    );
    assert.deepEqual(
      { ...m.results },
      { success: 200, notified: 0, refused: 100, failed: 100, wrong_number: 100 },
    );

    // The carrier's side: exactly the calls the scenario implies, each number as often as its outcome allows.
    const placed = carrier.records().filter((r) => r.direction === 'outbound');
    const perNumber = new Map<string, number>();
    for (const r of placed) perNumber.set(r.called, (perNumber.get(r.called) ?? 0) + 1);
    assert.equal(placed.length, 550);
    for (let n = 0; n < 500; n++)
      assert.equal(perNumber.get(number(n)), n % 10 === 7 ? 2 : 1, `calls to ${number(n)}`);
    for (let n = 500; n < 525; n++)
      assert.equal(perNumber.has(number(n)), false, `${number(n)} was called`);
    const confirmed = placed.filter((r) => r.digits === '#').length;
    assert.equal(confirmed, 200);

    const success = await ctl.api('GET', '/api/campaigns/parcels/results.csv?list=success');
    assert.equal(success.status, 200);
    assert.equal(success.text.trim().split('\n').length, 201, 'a header and 200 rows');
  });

  it('after kill -9 in the middle of a campaign, the restarted controller resumes it and calls nobody twice', async () => {
    carrier = await startCarrier(sim, {
      ...scenario(),
      outbound: {
        ringSeconds: { min: 0, max: 1 },
        holdSeconds: null,
        mix: { answer: 1 },
        numbers: [
          { number: '_1391XXXXXXX', outcome: 'answer', digits: [{ afterSeconds: 3, press: '#' }] },
        ],
      },
    });
    await linksUp(ctl);
    const { noon } = zones();
    await ctl.api('POST', '/api/campaigns', {
      name: 'resume',
      mode: 'broadcast',
      flow: 'notify',
      timezone: noon,
      windows: [
        { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '06:00', to: '18:00' },
      ],
      ringTimeoutSeconds: 10,
      maxChannels: 20,
    });
    const rows = ['phone'];
    for (let n = 0; n < 120; n++) rows.push(`1391000${String(n).padStart(4, '0')}`);
    const imp = await ctl.api('POST', '/api/campaigns/resume/contacts', {
      format: 'csv',
      content: rows.join('\n'),
      mapping: { number: 'phone' },
    });
    assert.equal(imp.json.report.imported, 120, imp.text);
    await ctl.api('POST', '/api/campaigns/resume/start');
    assert.ok(
      await eventually(
        async () => (await campaignState(ctl, 'resume')).contacts.done >= 40,
        120_000,
        500,
      ),
      'timed out waiting',
    );
    const dataDir = ctl.dataDir;
    if (ctl.proc.pid !== undefined) process.kill(ctl.proc.pid, 'SIGKILL');
    await ctl.proc.done;
    ctl = await startController(sim, SWITCH, dataDir);
    assert.ok(
      await eventually(
        async () => {
          const m = await campaignState(ctl, 'resume');
          return m.contacts.pending === 0 && m.contacts.dialing === 0;
        },
        300_000,
        1000,
      ),
      'timed out waiting',
    );
    const m = await campaignState(ctl, 'resume');
    assert.equal(m.state, 'done');
    assert.ok(m.interrupted >= 1, 'the calls up at the kill are finished as interrupted');
    assert.equal(m.results.success + m.results.failed, 120, JSON.stringify(m.results));
    assert.equal(m.interrupted, m.results.failed, JSON.stringify(m));
    const placed = carrier.records().filter((r) => r.direction === 'outbound');
    const seen = new Set<string>();
    for (const r of placed) {
      assert.equal(seen.has(r.called), false, `${r.called} was called twice`);
      seen.add(r.called);
    }
  });
});
