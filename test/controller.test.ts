// SPDX-License-Identifier: GPL-2.0-or-later
// The whole controller on the simulator with the simulated carrier: apply, routing, hunting, CDRs, kill -9.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SimClient } from '../src/sim/client.ts';
import {
  CARRIER_BOARD,
  CARRIER_SYSTEM_CONF,
  CARRIER_TRUNKS,
  OUR_TRUNKS,
  type RunningCarrier,
  startCarrier,
} from './helpers/carrier.ts';
import { type RunningController, startController } from './helpers/controller.ts';
import { eventually, parseScan, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';

/** The carrier board plus an uncabled T1 (span 5) that only the apply test configures. */
const BOARD = { ...CARRIER_BOARD, spans: [...CARRIER_BOARD.spans, { type: 'T1' as const }] };

/** Our switch: PRI user side on span 1, China R2 on span 3, routes the tests predict. */
const SWITCH = {
  system: { timezone: 'UTC', toneZone: 'cn' },
  spans: [
    { span: 1, framing: 'ccs', coding: 'hdb3', crc4: true, timing: 1 },
    { span: 3, framing: 'cas', coding: 'hdb3', crc4: false, timing: 2 },
  ],
  trunks: OUR_TRUNKS.trunks,
  trunkGroups: [
    { name: 'g-r2', trunks: ['r2'], hunt: 'sequential' },
    { name: 'g-pri', trunks: ['pri'], hunt: 'sequential' },
  ],
  blacklists: { inbound: [{ number: '_0109999XXXX', note: 'nuisance range' }] },
  routes: {
    inbound: [
      {
        name: 'closed-line',
        trunks: ['pri'],
        called: '01062889999',
        destination: { type: 'hangup', cause: 21 },
      },
      {
        name: 'beijing-transit',
        trunks: ['pri'],
        called: '_0106288XXXX',
        // R2 China carries 8-digit local numbers: drop the 010 trunk prefix.
        called_manipulation: { strip: 3 },
        destination: { type: 'trunk', route: 'via-r2' },
      },
    ],
    outbound: [
      { name: 'out', called: '_6288XXXX', trunkGroups: ['g-r2', 'g-pri'] },
      { name: 'via-r2', called: '_X.', trunkGroups: ['g-r2'] },
    ],
  },
};

function carrierScenario(inbound: object | undefined, seed = 7): Record<string, unknown> {
  return {
    seed,
    trunks: CARRIER_TRUNKS,
    ...(inbound ? { inbound } : {}),
    outbound: {
      mix: { answer: 1 },
      ringSeconds: { min: 0, max: 0 },
      holdSeconds: { min: 1, max: 1 },
      numbers: [
        {
          number: '62881001',
          outcome: 'answer',
          ringSeconds: { min: 0, max: 0 },
          holdSeconds: { min: 1, max: 1 },
        },
        { number: '62881017', outcome: 'busy' },
      ],
    },
  };
}

describe('the controller on the simulator, with the simulated carrier', () => {
  let sim: TestSim;
  let ctl: RunningController;

  before(async () => {
    sim = await withConfiguredSim(BOARD, CARRIER_SYSTEM_CONF);
    ctl = await startController(sim, SWITCH);
  });
  after(async () => {
    await ctl?.stop();
    await sim?.stop();
  });

  it('brings up the fresh box: revision 1 from the initial file, trunks in service', async () => {
    const cfg = await ctl.api('GET', '/api/config');
    assert.equal(cfg.status, 200);
    assert.equal(cfg.json.revision, 1);
    const revisions = (await ctl.api('GET', '/api/config/revisions')).json;
    assert.deepEqual(
      revisions.revisions.map((r: { id: number; source: string }) => `${r.id} ${r.source}`),
      ['1 setup'],
    );
    await eventually(async () => {
      const t = await ctl.api('GET', '/api/trunks');
      const pri = t.json.trunks.find((x: { name: string }) => x.name === 'pri');
      return pri?.links.every((l: { state: string }) => l.state === 'up') === true;
    }, 30_000);
  });

  it('applies a change to the simulator (dahdi_scan shows it), refuses a bad one untouched, rolls back', async () => {
    const before = (await ctl.api('GET', '/api/config')).json;
    const scan0 = parseScan((await sim.run('dahdi_scan', [])).stdout);
    const changed = {
      ...before.config,
      spans: [
        ...before.config.spans,
        { span: 5, type: 'T1', framing: 'esf', coding: 'b8zs', timing: 0 },
      ],
    };
    const put = await ctl.api('PUT', '/api/config?comment=add%20the%20T1', changed);
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.revision.id, 2);
    // Only span 5 was configured again: the PRI and R2 trunks kept running.
    assert.deepEqual(put.json.restarted, ['span 5']);
    const scan1 = parseScan((await sim.run('dahdi_scan', [])).stdout);
    assert.equal(scan1[5]?.framing, 'ESF');
    assert.equal(scan1[5]?.coding, 'B8ZS');
    assert.equal(scan1[1]?.framing, scan0[1]?.framing);

    // A T1 cannot be framed ccs, and a trunk group cannot name a missing trunk: both named.
    const bad = {
      ...changed,
      spans: changed.spans.map((s: { span: number }) =>
        s.span === 5 ? { ...s, framing: 'ccs' } : s,
      ),
      trunkGroups: [...changed.trunkGroups, { name: 'g-x', trunks: ['nope'], hunt: 'sequential' }],
    };
    const refused = await ctl.api('PUT', '/api/config', bad);
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error, 'E_CONFIG_FIELD');
    const paths = refused.json.details.map((d: { path: string }) => d.path).sort();
    assert.ok(paths.includes('spans[2].framing'), paths.join());
    assert.equal((await ctl.api('GET', '/api/config')).json.revision, 2);
    assert.equal(parseScan((await sim.run('dahdi_scan', [])).stdout)[5]?.framing, 'ESF');

    const back = await ctl.api('POST', '/api/config/rollback', { revision: 1 });
    assert.equal(back.status, 200, back.text);
    const now = (await ctl.api('GET', '/api/config')).json;
    assert.equal(now.revision, 3);
    assert.deepEqual(now.config, before.config);
    const diff = await ctl.api('GET', '/api/config/diff?from=2&to=3');
    assert.deepEqual(
      diff.json.changes.map((c: { path: string; op: string }) => `${c.op} ${c.path}`),
      ['remove spans[span=5]'],
    );
  });

  it('routes inbound calls by the rules and writes exactly one CDR per attempt', async () => {
    const carrier: RunningCarrier = await startCarrier(
      sim,
      carrierScenario({
        trunks: ['net'],
        total: 5,
        concurrent: 1,
        rate: 600,
        arrival: 'uniform',
        holdSeconds: { min: 1, max: 1 },
        called: {
          order: 'sequence',
          numbers: ['01062881001', '01062881017', '01062889999', '02100000000', '01062881001'],
        },
        calling: {
          order: 'sequence',
          numbers: ['13912345678', '13912345678', '13912345678', '13912345678', '01099991234'],
        },
      }),
    );
    try {
      await carrier.inboundDone(180_000);
      const mine = () => ctl.ended().filter((l) => l.direction === 'inbound');
      await eventually(async () => mine().length >= 5, 60_000);
      const { json } = await ctl.api('GET', '/api/cdr?direction=inbound&limit=50');
      assert.equal(json.total, 5);
      const byCalled = json.records
        .slice()
        .sort((a: { startedAt: string }, b: { startedAt: string }) =>
          a.startedAt.localeCompare(b.startedAt),
        )
        .map(
          (r: {
            called: string;
            disposition: string;
            cause: number;
            route?: string;
            b?: { trunk: string };
          }) => [r.called, r.disposition, r.cause, r.route ?? '-', r.b?.trunk ?? '-'].join(' '),
        );
      assert.deepEqual(byCalled, [
        '01062881001 answered 16 beijing-transit r2',
        '01062881017 busy 17 beijing-transit r2',
        '01062889999 rejected 21 closed-line -',
        '02100000000 no_route 1 - -',
        '01062881001 blocked 21 - -',
      ]);
      // The carrier saw the same five attempts, and the causes it got match.
      const inbound = carrier.records().filter((r) => r.direction === 'inbound');
      assert.equal(inbound.length, 5);
      assert.deepEqual(
        inbound.map((r) => r.cause),
        [16, 17, 21, 1, 21],
      );
      // The transit leg reached the carrier as an 8-digit R2 number.
      const out = carrier
        .records()
        .filter((r) => r.direction === 'outbound')
        .map((r) => r.called);
      assert.deepEqual(out, ['62881001', '62881017']);
    } finally {
      await carrier.stop();
    }
  });

  it('hunts past a trunk in alarm: a test call skips R2 with its cable pulled and goes out on PRI', async () => {
    const client = new SimClient(sim.dir);
    const carrier = await startCarrier(sim, carrierScenario(undefined));
    try {
      await client.uncable(3);
      await eventually(async () => {
        const t = await ctl.api('GET', '/api/trunks');
        const r2 = t.json.trunks.find((x: { name: string }) => x.name === 'r2');
        return r2.channels.every((c: { state: string }) => c.state === 'alarm');
      }, 30_000);
      const dial = await ctl.api('POST', '/api/calls', {
        called: '62881001',
        calling: '01062880000',
      });
      assert.equal(dial.status, 202, dial.text);
      const id = dial.json.id;
      await eventually(async () => (await ctl.api('GET', `/api/cdr/${id}`)).status === 200, 60_000);
      const cdr = (await ctl.api('GET', `/api/cdr/${id}`)).json;
      assert.equal(cdr.direction, 'outbound');
      assert.equal(cdr.route, 'out');
      assert.equal(cdr.disposition, 'answered');
      assert.equal(cdr.a.trunk, 'pri');
      assert.deepEqual(
        cdr.skipped.map((s: { trunk: string; reason: string }) => `${s.trunk} ${s.reason}`),
        ['r2 down'],
      );
    } finally {
      await client.cable(3, 4);
      await carrier.stop();
    }
  });

  it('loses no committed CDR and keeps the database intact when killed with SIGKILL mid-burst', async () => {
    const carrier = await startCarrier(
      sim,
      carrierScenario({
        trunks: ['net'],
        total: 60,
        concurrent: 8,
        rate: 1200,
        arrival: 'uniform',
        holdSeconds: { min: 0, max: 1 },
        called: { order: 'sequence', numbers: ['01062889999', '02100000000'] },
      }),
    );
    const seen = ctl.ended().length;
    try {
      await eventually(async () => ctl.ended().length >= seen + 10, 120_000);
      process.kill(ctl.proc.pid as number, 'SIGKILL');
      await ctl.proc.done;
    } finally {
      await carrier.stop();
    }
    const logged = ctl.ended().map((l) => l.call as string);
    const db = new Database(join(ctl.dataDir, 'switchboard.db'), { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const ids = new Set(
        (db.prepare('SELECT id FROM cdr').all() as { id: string }[]).map((r) => r.id),
      );
      const missing = logged.filter((id) => !ids.has(id));
      assert.deepEqual(missing, []);
      assert.ok(logged.length >= seen + 10);
    } finally {
      db.close();
    }
  });
});
