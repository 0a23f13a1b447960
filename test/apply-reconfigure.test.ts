// SPDX-License-Identifier: GPL-2.0-or-later
// Applying a changed configuration on the demo-like board: dahdi_cfg -S for touched spans, engine reconfigure, calls elsewhere carry on.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { SwitchConfig } from '../src/config/schema.ts';
import { isSwitchboardError } from '../src/core/errors.ts';
import type { EngineTrunk } from '../src/native/engine.ts';
import type { SimConfig } from '../src/sim/config.ts';
import { applySwitchConfig, engineConfig } from '../src/trunks/apply.ts';
import { boardFromSim, renderSystemConf } from '../src/trunks/system-conf.ts';
import { eventually, parseScan, type TestSim, withSim } from './helpers/dahdi.ts';
import { type Host, type HostError, type Line, startHost } from './helpers/engine.ts';

/** Like the demo board: four E1 spans, 1 cabled to 2 and 3 to 4, and an analog card (span 5). */
const BOARD_SIM: SimConfig = {
  spans: [
    { type: 'E1' },
    { type: 'E1' },
    { type: 'E1' },
    { type: 'E1' },
    { type: 'analog', ports: ['fxs', 'fxs', 'fxo', 'fxo'] },
  ],
  cables: [
    [1, 2],
    [3, 4],
  ],
  lines: [
    ['5:1', '5:3'],
    ['5:2', '5:4'],
  ],
};
const BOARD = boardFromSim(BOARD_SIM);

type Span = NonNullable<SwitchConfig['spans']>[number];
const ccs = (span: number): Span => ({ span, framing: 'ccs', coding: 'hdb3', timing: span });
const cas = (span: number): Span => ({ span, framing: 'cas', coding: 'hdb3', timing: span });

function pri(name: string, side: 'net' | 'cpe', span: number, extra = {}): EngineTrunk {
  return {
    name,
    signalling: side === 'net' ? 'pri_net' : 'pri_cpe',
    span,
    switchtype: 'euroisdn',
    ...extra,
  };
}

/** PRI on every span: net (1) to cpe (2), t3 (3) to t4 (4). */
const ALL_PRI: SwitchConfig = {
  system: { toneZone: 'itu' },
  spans: [ccs(1), ccs(2), ccs(3), ccs(4)],
  trunks: [pri('net', 'net', 1), pri('cpe', 'cpe', 2), pri('t3', 'net', 3), pri('t4', 'cpe', 4)],
};

const is =
  (event: string, fields: Record<string, unknown> = {}) =>
  (e: Line) =>
    e.event === event && Object.entries(fields).every(([k, v]) => e[k] === v);

/** A call from trunk `from` answered on trunk `to` of the same host; both ends' call ids. */
async function answered(
  host: Host,
  from: string,
  to: string,
  called: string,
): Promise<{ out: number; in: number }> {
  const { call } = await host.command({ op: 'place', trunk: from, called, calling: '1000' });
  const offered = await host.waitEvent(is('offered', { trunk: to, called }), 30_000);
  await host.command({ op: 'answer', call: offered.call as number });
  await host.waitEvent(is('answered', { call }), 30_000);
  return { out: call as number, in: offered.call as number };
}

/** Clears from the calling end with NORMAL_CLEARING and checks both ends say so. */
async function clearNormally(host: Host, c: { out: number; in: number }): Promise<void> {
  await host.command({ op: 'release', call: c.out, cause: 16 });
  const far = await host.waitEvent(is('released', { call: c.in }), 30_000);
  assert.equal(far.causeName, 'NORMAL_CLEARING');
  assert.equal(far.by, 'remote');
  const near = await host.waitEvent(is('released', { call: c.out }), 30_000);
  assert.equal(near.causeName, 'NORMAL_CLEARING');
  assert.equal(near.by, 'local');
}

/** DTMF sent on one end of an answered call is heard at the other. */
async function dtmfThrough(host: Host, c: { out: number; in: number }, digits: string) {
  await host.command({ op: 'detect', call: c.in, dtmf: true });
  await host.command({ op: 'sendDtmf', call: c.out, digits });
  let heard = '';
  for (const _ of digits) heard += (await host.waitEvent(is('dtmf', { call: c.in }), 30_000)).digit;
  assert.equal(heard, digits);
}

async function linksUp(host: Host, trunks: string[]): Promise<void> {
  const ok = await eventually(async () => {
    const snap = await host.snapshot();
    // Up, and (SS7) out of the group reset that follows alignment: a CIC in reset takes no call.
    return trunks.every((n) => {
      const t = snap.trunks.find((x) => x.name === n);
      return t?.links[0]?.state === 'up' && t.channels.some((c) => c.state === 'idle');
    });
  }, 30_000);
  assert.ok(ok, `links of ${trunks.join(', ')} are not all up with idle channels`);
}

async function scan(sim: TestSim) {
  const r = await sim.run('dahdi_scan', []);
  assert.equal(r.code, 0, r.stderr);
  return parseScan(r.stdout);
}

describe('applying a changed configuration', () => {
  let sim: TestSim;
  let host: Host | undefined;
  before(async () => {
    sim = await withSim(BOARD_SIM);
  });
  after(async () => {
    await sim.stop();
  });
  afterEach(async () => {
    await host?.stop();
    host = undefined;
  });

  /** system.conf of `config` applied whole (as at boot), then one engine host running it. */
  async function boot(config: SwitchConfig): Promise<Host> {
    const r = await sim.configure(renderSystemConf(config, BOARD));
    assert.equal(r.code, 0, r.stderr);
    host = await startHost(sim, engineConfig(config));
    return host;
  }

  test('PRI to MFC-R2 on spans 3/4 (framing ccs to cas by dahdi_cfg -S): the answered call on spans 1/2 carries on', async () => {
    const h = await boot(ALL_PRI);
    await linksUp(h, ['net', 'cpe', 't3', 't4']);
    const c = await answered(h, 'net', 'cpe', '2001');
    const mark = h.lines.length;

    const r2: SwitchConfig = {
      ...ALL_PRI,
      spans: [ccs(1), ccs(2), cas(3), cas(4)],
      trunks: [
        pri('net', 'net', 1),
        pri('cpe', 'cpe', 2),
        { name: 't3', signalling: 'mfcr2', span: 3, variant: 'itu' },
        { name: 't4', signalling: 'mfcr2', span: 4, variant: 'itu' },
      ],
    };
    const result = await applySwitchConfig(h, ALL_PRI, r2, {
      dir: sim.dir,
      board: BOARD,
      env: sim.env,
    });
    assert.deepEqual(
      { kept: result.kept, stopped: result.stopped, started: result.started, spans: result.spans },
      { kept: ['net', 'cpe'], stopped: ['t3', 't4'], started: ['t3', 't4'], spans: [3, 4] },
    );
    assert.match(result.output, /SPAN 3: CAS\/HDB3/);
    assert.doesNotMatch(result.output, /SPAN 1:/, 'dahdi_cfg -S 3/-S 4 configured no other span');

    // The span-1/2 call is as it was: answered, the same call, audio both ways.
    const snap = await h.snapshot();
    const net = snap.trunks.find((t) => t.name === 'net');
    assert.deepEqual(
      net?.calls.map((x) => [x.call, x.state]),
      [[c.out, 'answered']],
    );
    assert.deepEqual(
      snap.trunks.map((t) => [t.name, t.signalling]),
      [
        ['net', 'pri_net'],
        ['cpe', 'pri_cpe'],
        ['t3', 'mfcr2'],
        ['t4', 'mfcr2'],
      ],
    );
    await dtmfThrough(h, c, '159#');
    // Nothing on spans 1/2 noticed: no release, no link, alarm or channel change.
    const disturbed = h.lines
      .slice(mark)
      .filter(
        (e) =>
          (e.trunk === 'net' || e.trunk === 'cpe') &&
          ['released', 'link', 'alarm', 'channel'].includes(e.event as string),
      );
    assert.deepEqual(disturbed, []);

    // The kernel (here the simulator) has span 3 in CAS and span 1 untouched.
    const spans = await scan(sim);
    assert.equal(spans[3]?.framing, 'CAS');
    assert.equal(spans[4]?.framing, 'CAS');
    assert.equal(spans[1]?.framing, 'CCS/CRC4');
    assert.equal(spans[1]?.alarms, 'OK');

    // The new R2 trunks carry a call over the reconfigured spans.
    const ok = await eventually(
      async () =>
        (await h.snapshot()).trunks
          .filter((t) => t.name === 't3' || t.name === 't4')
          .every((t) => t.channels.every((ch) => ch.state === 'idle')),
      30_000,
    );
    assert.ok(ok, 'the R2 channels came up idle');
    const r2call = await answered(h, 't3', 't4', '3001');
    await clearNormally(h, r2call);

    await clearNormally(h, c);
  });

  test('a changed trunk with a call up: released by the stack; a removed trunk goes, an added one comes up', async () => {
    const h = await boot(ALL_PRI);
    await linksUp(h, ['net', 'cpe', 't3', 't4']);
    const kept = await answered(h, 'net', 'cpe', '2002');
    const doomed = await answered(h, 't3', 't4', '3002');
    // Media on the doomed call: the media layer lets go of it before its trunk stops.
    await h.command({ op: 'tone', call: doomed.out, tone: 'dial' });
    const mark = h.lines.length;

    // t3 changes (a Q.921 timer), t4 goes, u4 takes span 4 over: system.conf stays the same.
    const changed: SwitchConfig = {
      ...ALL_PRI,
      trunks: [
        pri('net', 'net', 1),
        pri('cpe', 'cpe', 2),
        pri('t3', 'net', 3, { timers: { T200: 1500 } }),
        pri('u4', 'cpe', 4),
      ],
    };
    const result = await applySwitchConfig(h, ALL_PRI, changed, {
      dir: sim.dir,
      board: BOARD,
      env: sim.env,
    });
    assert.deepEqual(
      { kept: result.kept, stopped: result.stopped, started: result.started, spans: result.spans },
      { kept: ['net', 'cpe'], stopped: ['t3', 't4'], started: ['t3', 'u4'], spans: [] },
    );
    const out = await h.waitEvent(is('released', { call: doomed.out }));
    assert.deepEqual(
      [out.by, out.cause, out.causeName, out.trunk],
      ['stack', 41, 'NORMAL_TEMPORARY_FAILURE', 't3'],
    );
    // t4 stops right after t3, whose DISCONNECT (cause 41) it may read first: either way the
    // call ends with cause 41.
    const inn = await h.waitEvent(is('released', { call: doomed.in }));
    assert.equal(inn.cause, 41);
    assert.ok(inn.by === 'stack' || inn.by === 'remote', String(inn.by));
    const detached = await h.waitEvent(is('mediaDetached', { call: doomed.out }));
    assert.equal(detached.reason, 'trunkStopped');
    await assert.rejects(h.command({ op: 'release', call: doomed.out }), (err: HostError) => {
      assert.equal(err.code, 'E_CALL_UNKNOWN');
      return true;
    });
    await h.waitEvent(is('link', { trunk: 'u4', state: 'up' }), 30_000);
    await linksUp(h, ['t3', 'u4']);

    const snap = await h.snapshot();
    assert.deepEqual(
      snap.trunks.map((t) => t.name),
      ['net', 'cpe', 't3', 'u4'],
    );
    assert.deepEqual(
      snap.trunks.map((t) => t.calls.map((c) => c.call)),
      [[kept.out], [kept.in], [], []],
    );
    assert.deepEqual(snap.media.legs, []);
    // Exactly the doomed call's two ends were released; nothing else.
    assert.deepEqual(
      h.lines
        .slice(mark)
        .filter((e) => e.event === 'released')
        .map((e) => e.call)
        .sort(),
      [doomed.out, doomed.in].sort(),
    );
    // The new trunks carry calls; the kept call clears normally.
    const fresh = await answered(h, 't3', 'u4', '3003');
    await clearNormally(h, fresh);
    await clearNormally(h, kept);
  });

  test('a refused reconfiguration names the field and leaves the running trunks alone', async () => {
    const h = await boot(ALL_PRI);
    await linksUp(h, ['net', 'cpe', 't3', 't4']);
    const c = await answered(h, 'net', 'cpe', '2004');
    const t3call = await answered(h, 't3', 't4', '3004');
    const mark = h.lines.length;
    const base = engineConfig(ALL_PRI);
    const refused = async (config: unknown, field: string, message: RegExp) => {
      await assert.rejects(
        h.reconfigure(config as ReturnType<typeof engineConfig>),
        (err: HostError) => {
          assert.equal(err.code, 'E_CONFIG_FIELD');
          assert.equal(err.field, field);
          assert.match(err.message, message);
          return true;
        },
      );
    };
    const trunks = base.trunks;
    // Found before anything stops: a changed trunk's bad field, two trunks of one name, a new
    // trunk on a span a kept trunk runs on, an unknown tone zone.
    await refused(
      {
        ...base,
        trunks: [...trunks.slice(0, 2), { ...trunks[2], switchtype: 'bogus' }, trunks[3]],
      },
      'trunks[2].switchtype',
      /"bogus" is not one of euroisdn/,
    );
    await refused(
      { ...base, trunks: [...trunks, { ...trunks[1], span: 4 }] },
      'trunks[4].name',
      /"cpe" names two trunks/,
    );
    await refused(
      { ...base, trunks: [...trunks, pri('extra', 'cpe', 1)] },
      'trunks[4].span',
      /span 1 is used by both net and extra/,
    );
    await refused({ ...base, media: { zone: 'atlantis' } }, 'media.zone', /not a tone zone/);
    await refused({ ...base, trunks: 'all' }, 'trunks', /must be a list/);
    assert.deepEqual(
      h.lines.slice(mark).filter((e) => typeof e.event === 'string'),
      [],
      'nothing happened on any trunk',
    );

    // Found only when the new trunk opens (its D-channel is a B-channel in system.conf): none of
    // the new trunks runs, and the one it replaced is brought back from its old configuration.
    await refused(
      { ...base, trunks: [...trunks.slice(0, 2), { ...trunks[2], dchannel: 1 }, trunks[3]] },
      'trunks[2].dchannel',
      /configured as bchan, not hardhdlc/,
    );
    const rel = await h.waitEvent(is('released', { call: t3call.out }));
    assert.equal(rel.by, 'stack');
    // The retiring PRI trunk sent DISCONNECT: the far end, which stays, clears with the cause.
    const far = await h.waitEvent(is('released', { call: t3call.in }), 30_000);
    assert.deepEqual([far.by, far.cause], ['remote', 41]);
    await linksUp(h, ['t3']);
    const snap = await h.snapshot();
    assert.deepEqual(
      snap.trunks.map((t) => [t.name, t.calls.map((x) => [x.call, x.state])]),
      [
        ['net', [[c.out, 'answered']]],
        ['cpe', [[c.in, 'answered']]],
        ['t4', []],
        ['t3', []],
      ],
    );
    assert.equal(
      snap.trunks.find((t) => t.name === 't3')?.links[0]?.timeslot,
      16,
      't3 runs its old configuration',
    );
    // Through the whole switch configuration: validateConfig refuses before the engine sees it.
    await assert.rejects(
      applySwitchConfig(
        h,
        ALL_PRI,
        { ...ALL_PRI, spans: [ccs(1), ccs(2), ccs(3), { ...ccs(4), framing: 'esf' }] },
        { dir: sim.dir, board: BOARD, env: sim.env },
      ),
      (err: unknown) => {
        assert.ok(isSwitchboardError(err, 'E_CONFIG_FIELD'), String(err));
        assert.match(err.message, /^spans\[3\]\.framing: an E1 span is framed "ccs" or "cas"/);
        return true;
      },
    );
    await dtmfThrough(h, c, '42');
    await clearNormally(h, c);
  });

  test('every trunk kind opens on the generated system.conf; an analog card is applied with -S and -C', async () => {
    const ss7 = (name: string, span: number, pc: number, adjacent: number): EngineTrunk => ({
      name,
      signalling: 'ss7',
      variant: 'itu',
      pointcode: pc,
      adjacentPointcode: adjacent,
      links: [{ span }],
      cics: [{ span, firstCic: 1 }],
    });
    const every: SwitchConfig = {
      system: { toneZone: 'cn' },
      spans: [ccs(1), ccs(2), ccs(3), ccs(4)],
      trunks: [
        pri('net', 'net', 1),
        pri('cpe', 'cpe', 2),
        ss7('pc1', 3, 1, 2),
        ss7('pc2', 4, 2, 1),
        { name: 'phones', signalling: 'fxo_ks', span: 5, ports: '1-2' },
        { name: 'lines', signalling: 'fxs_ks', span: 5, ports: '3-4' },
      ],
    };
    // Each stack checks the signalling of every channel it opens (bchan, hardhdlc, fxoks ...).
    const h = await boot(every);
    await linksUp(h, ['net', 'cpe', 'pc1', 'pc2']);
    const c = await answered(h, 'pc1', 'pc2', '4001');

    // One FXO port leaves: only the analog card is configured again (no span line: -C only).
    const fewer: SwitchConfig = {
      ...every,
      trunks: [
        ...(every.trunks ?? []).slice(0, 5),
        { name: 'lines', signalling: 'fxs_ks', span: 5, ports: '3' },
      ],
    };
    const result = await applySwitchConfig(h, every, fewer, {
      dir: sim.dir,
      board: BOARD,
      env: sim.env,
    });
    assert.deepEqual(
      { kept: result.kept, stopped: result.stopped, started: result.started, spans: result.spans },
      {
        kept: ['net', 'cpe', 'pc1', 'pc2', 'phones'],
        stopped: ['lines'],
        started: ['lines'],
        spans: [5],
      },
    );
    // The port that left (DAHDI channel 128) was the only channel dahdi_cfg was given.
    assert.match(result.output, /^# dahdi_cfg .* -S 5 -C 128$/m);
    const snap = await h.snapshot();
    assert.deepEqual(
      snap.trunks.find((t) => t.name === 'lines')?.channels.map((ch) => ch.dahdiChannel),
      [127],
    );
    await clearNormally(h, c);
  });
});
