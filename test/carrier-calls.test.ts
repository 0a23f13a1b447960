// SPDX-License-Identifier: GPL-2.0-or-later
// The simulated carrier on real cables: its inbound calls, its answers to ours, its DTMF, its seed, its stop.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CarrierRecord } from '../src/carrier/carrier.ts';
import {
  CARRIER_BOARD,
  CARRIER_SYSTEM_CONF,
  CARRIER_TRUNKS,
  type OurSide,
  startCarrier,
  startOurSide,
  trunkUp,
} from './helpers/carrier.ts';
import { eventually, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';
import type { Line } from './helpers/engine.ts';

const is = (event: string, call?: unknown) => (e: Line) =>
  e.event === event && (call === undefined || e.call === call);

let nextChannel = 0;

/**
 * What our side saw of a call it placed: answered, or the release cause. PRI calls go out on a
 * new B-channel each time: the carrier restarts the B-channel of a refusal libpri releases
 * silently (PRI_SILENT_RELEASE_CAUSES), and a SETUP on that channel racing the RESTART would be
 * cleared (41) by it.
 */
async function place(
  ours: OurSide,
  trunk: string,
  called: string,
  onAnswer?: (call: number) => Promise<void>,
): Promise<{ call: number; result: 'answer' | number; r2Cause?: unknown }> {
  nextChannel = (nextChannel % 15) + 1;
  const { call } = await ours.host.command({
    op: 'place',
    trunk,
    called,
    calling: '01062881000',
    ...(trunk === 'pri' ? { channel: nextChannel } : {}),
  });
  const id = call as number;
  const first = await ours.host.waitEvent(
    (e) => (e.event === 'answered' || e.event === 'released') && e.call === id,
    60_000,
  );
  if (first.event === 'released')
    return { call: id, result: first.cause as number, r2Cause: first.r2Cause };
  await onAnswer?.(id);
  await ours.host.waitEvent(is('released', id), 60_000);
  return { call: id, result: 'answer' };
}

describe('simulated carrier over PRI and MFC-R2 China cables', () => {
  let sim: TestSim;
  let ours: OurSide;
  before(async () => {
    sim = await withConfiguredSim(CARRIER_BOARD, CARRIER_SYSTEM_CONF);
    ours = await startOurSide(sim);
  });
  after(async () => {
    await ours?.host.stop();
    await sim?.stop();
  });

  test('inbound: exactly `total` calls arrive with the configured numbers, and the callers press their digits as DTMF', async () => {
    ours.answering = true;
    const carrier = await startCarrier(sim, {
      seed: 11,
      trunks: CARRIER_TRUNKS,
      inbound: {
        holdSeconds: { min: 1, max: 1 },
        flows: [
          {
            trunks: ['net'],
            rate: 600,
            arrival: 'uniform',
            total: 3,
            concurrent: 1,
            called: { numbers: ['01062881001', '01062881002', '_0106288[23]XXX'] },
            calling: { numbers: ['13800138000', '_1391234XXXX'] },
            digits: [
              { afterSeconds: 1.5, press: '1' },
              { afterSeconds: 0.3, press: '2#' },
            ],
          },
          {
            trunks: ['cn'],
            rate: 600,
            arrival: 'uniform',
            total: 2,
            concurrent: 1,
            called: { numbers: ['62881234', '_6288XXXX'] },
            calling: { numbers: ['13911112222'] },
            digits: [{ afterSeconds: 1.5, press: '5' }],
          },
        ],
      },
    });
    const before = ours.offered().length;
    try {
      const done = await carrier.inboundDone();
      assert.equal(done.inbound.attempts, 5);
      assert.equal(done.inbound.outcomes.answer, 5);
      assert.equal(done.inbound.digits, 3 * 3 + 2 * 1);
    } finally {
      await carrier.stop();
    }
    const records = carrier.records().filter((r) => r.direction === 'inbound');
    const pri = records.filter((r) => r.trunk === 'net').sort((a, b) => a.seq - b.seq);
    const r2 = records.filter((r) => r.trunk === 'cn').sort((a, b) => a.seq - b.seq);
    assert.deepEqual(
      pri.map((r) => [r.seq, r.outcome, r.digits, r.releasedBy]),
      [
        [0, 'answer', '12#', 'carrier'],
        [1, 'answer', '12#', 'carrier'],
        [2, 'answer', '12#', 'carrier'],
      ],
    );
    assert.deepEqual(
      r2.map((r) => [r.seq, r.outcome, r.digits]),
      [
        [0, 'answer', '5'],
        [1, 'answer', '5'],
      ],
    );
    assert.equal(pri[0]?.called, '01062881001');
    assert.equal(pri[1]?.called, '01062881002');
    assert.match(pri[2]?.called ?? '', /^0106288[23]\d{3}$/);
    assert.deepEqual(
      pri.map((r) => r.calling.replace(/^1391234\d{4}$/, '1391234XXXX')),
      ['13800138000', '1391234XXXX', '13800138000'],
    );
    assert.equal(r2[0]?.called, '62881234');
    assert.match(r2[1]?.called ?? '', /^6288\d{4}$/);

    // Our side got exactly those calls, numbers intact, and heard every digit pressed.
    const offered = ours.offered().slice(before);
    const onPri = offered.filter((e) => e.trunk === 'pri');
    const onR2 = offered.filter((e) => e.trunk === 'r2');
    assert.equal(offered.length, 5);
    assert.deepEqual(
      onPri.map((e) => [e.called, e.calling]),
      pri.map((r) => [r.called, r.calling]),
    );
    // China R2 carries no calling number from an openr2 caller (R2_CHINA_ANI_GAP).
    assert.deepEqual(
      onR2.map((e) => [e.called, e.calling]),
      r2.map((r) => [r.called, '']),
    );
    for (const e of onPri) assert.equal(ours.dtmf(e.call as number), '12#');
    for (const e of onR2) assert.equal(ours.dtmf(e.call as number), '5');
  });

  test('outbound: each number gets exactly its override (answer, busy 17, invalid 1, congestion 34, no answer 19) and the callee presses its digits', async () => {
    ours.answering = false;
    const carrier = await startCarrier(sim, {
      seed: 5,
      trunks: CARRIER_TRUNKS,
      outbound: {
        // Anything not listed would be congestion: the overrides must be what decides.
        mix: { congestion: 1 },
        ringSeconds: { min: 0.2, max: 0.2 },
        numbers: [
          {
            number: '62889999',
            outcome: 'answer',
            holdSeconds: null,
            digits: [
              { afterSeconds: 1.5, press: '7' },
              { afterSeconds: 0.2, press: '8' },
            ],
          },
          { number: '62880017', outcome: 'busy' },
          { number: '62880001', outcome: 'invalid_number' },
          { number: '62880034', outcome: 'congestion' },
          { number: '_6288001X', outcome: 'no_answer', noAnswerSeconds: 0.5 },
        ],
      },
    });
    try {
      await trunkUp(ours, 'pri');
      await trunkUp(ours, 'r2');
      const answered = async (call: number) => {
        // The callee's digits arrive as DTMF in the audio; then we hang up (it never does).
        const ok = await eventually(async () => ours.dtmf(call) === '78', 20_000);
        assert.ok(ok, `digits heard: "${ours.dtmf(call)}"`);
        await ours.host.command({ op: 'release', call, cause: 16 });
      };
      const seen: [string, string, unknown][] = [];
      for (const number of ['62889999', '62880017', '62880001', '62880034', '62880019'])
        seen.push(['pri', number, (await place(ours, 'pri', number, answered)).result]);
      // R2: the refusals are Group B signals, which carry the cause to our side.
      for (const number of ['62889999', '62880017', '62880001', '62880034']) {
        const r = await place(ours, 'r2', number, answered);
        seen.push(['r2', number, r.result]);
        if (r.result !== 'answer') assert.ok(r.r2Cause, `an R2 cause for ${number}`);
      }
      assert.deepEqual(seen, [
        ['pri', '62889999', 'answer'],
        ['pri', '62880017', 17],
        ['pri', '62880001', 1],
        ['pri', '62880034', 34],
        ['pri', '62880019', 19],
        ['r2', '62889999', 'answer'],
        ['r2', '62880017', 17],
        ['r2', '62880001', 1],
        ['r2', '62880034', 34],
      ]);
      const ok = await eventually(async () => carrier.records().length === 9, 10_000);
      assert.ok(ok, JSON.stringify(carrier.records()));
      assert.deepEqual(
        carrier.records().map((r) => [r.trunk, r.called, r.planned, r.outcome, r.digits]),
        [
          ['net', '62889999', 'answer', 'answer', '78'],
          ['net', '62880017', 'busy', 'busy', ''],
          ['net', '62880001', 'invalid_number', 'invalid_number', ''],
          ['net', '62880034', 'congestion', 'congestion', ''],
          ['net', '62880019', 'no_answer', 'no_answer', ''],
          ['cn', '62889999', 'answer', 'answer', '78'],
          ['cn', '62880017', 'busy', 'busy', ''],
          ['cn', '62880001', 'invalid_number', 'invalid_number', ''],
          ['cn', '62880034', 'congestion', 'congestion', ''],
        ],
      );
      const stats = await carrier.stats();
      assert.equal(stats.outbound.attempts, 9);
      assert.equal(stats.outbound.digits, 4);
    } finally {
      await carrier.stop();
    }
  });

  test('the weighted mix: two runs with the same seed give the same sequence of outcomes', async () => {
    ours.answering = false;
    const scenario = {
      seed: 424242,
      trunks: CARRIER_TRUNKS,
      outbound: {
        mix: { answer: 2, busy: 1, invalid_number: 1, congestion: 1 },
        ringSeconds: { min: 0, max: 0 },
        holdSeconds: { min: 0.3, max: 0.3 },
      },
    };
    const run = async (): Promise<{ ours: unknown[]; planned: (string | undefined)[] }> => {
      const carrier = await startCarrier(sim, scenario);
      try {
        await trunkUp(ours, 'pri');
        const seen: unknown[] = [];
        for (let i = 0; i < 8; i++) seen.push((await place(ours, 'pri', `6288100${i}`)).result);
        const ok = await eventually(async () => carrier.records().length === 8, 10_000);
        assert.ok(ok);
        return { ours: seen, planned: carrier.records().map((r: CarrierRecord) => r.planned) };
      } finally {
        await carrier.stop();
      }
    };
    const first = await run();
    const second = await run();
    assert.equal(first.ours.length, 8);
    assert.deepEqual(second.ours, first.ours);
    assert.deepEqual(second.planned, first.planned);
    // What the carrier planned is what our side saw.
    const cause: Record<string, unknown> = {
      answer: 'answer',
      busy: 17,
      invalid_number: 1,
      congestion: 34,
    };
    assert.deepEqual(
      first.planned.map((p) => cause[p as string]),
      first.ours,
    );
    assert.ok(new Set(first.ours).size >= 2, `a mix, not one outcome: ${first.ours.join(',')}`);
  });

  test('SIGTERM clears the calls in progress with NORMAL_CLEARING (16) and exits cleanly', async () => {
    ours.answering = true;
    const carrier = await startCarrier(sim, {
      trunks: CARRIER_TRUNKS,
      inbound: {
        rate: 600,
        arrival: 'uniform',
        total: 2,
        trunks: ['net', 'cn'],
        called: { numbers: ['62883333'] },
        holdSeconds: { min: 3600, max: 3600 },
      },
    });
    const before = ours.host.events(is('answered')).length;
    const ok = await eventually(
      async () => ours.host.events(is('answered')).length >= before + 2,
      60_000,
    );
    assert.ok(ok, 'both calls were answered');
    const calls = ours.host
      .events(is('answered'))
      .slice(before)
      .map((e) => e.call);
    const { code, stats } = await carrier.stop();
    assert.equal(code, 0);
    for (const call of calls) {
      const rel = await ours.host.waitEvent(is('released', call), 20_000);
      assert.deepEqual([rel.cause, rel.by], [16, 'remote']);
    }
    assert.deepEqual(
      carrier
        .records()
        .map((r) => [r.trunk, r.outcome, r.releasedBy, r.cause, r.stopped])
        .sort(),
      [
        ['cn', 'answer', 'carrier', 16, true],
        ['net', 'answer', 'carrier', 16, true],
      ],
    );
    assert.equal(carrier.records().length, 2);
    assert.equal(stats?.inbound.active, 0);
    assert.equal(stats?.inbound.outcomes.answer, 2);
  });
});
