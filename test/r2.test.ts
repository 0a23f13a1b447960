// SPDX-License-Identifier: GPL-2.0-or-later
// MFC-R2 trunks: openr2's own r2test at the far end, ours to ours in every variant, blocking, alarms, a stalled event loop, bad input.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSwitchboardError } from '../src/core/errors.ts';
import type { FieldError } from '../src/core/schema.ts';
import type { EngineConfig, EngineTrunk } from '../src/native/engine.ts';
import { runProcess } from '../src/runtime/process.ts';
import type { SimConfig } from '../src/sim/config.ts';
import { R2_NO_GROUP_A_ACCEPT, R2_VARIANT_CODES, type R2Variant } from '../src/trunks/r2.ts';
import { type BoardSpans, validateTrunks } from '../src/trunks/validate.ts';
import { E1_PAIR, eventually, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';
import { type Host, HostError, type Line, startHost } from './helpers/engine.ts';

/** CAS on every timeslot but 16 of both spans of E1_PAIR (span 2 is DAHDI channels 32-62). */
const PAIR_CONF =
  'span=1,1,0,cas,hdb3\nspan=2,2,0,cas,hdb3\n' +
  'cas=1-15:1101\ncas=17-31:1101\ncas=32-46:1101\ncas=48-62:1101\n';

function r2(name: string, span: number, variant: R2Variant, extra: Partial<EngineTrunk> = {}) {
  return { name, signalling: 'mfcr2' as const, span, variant, ...extra };
}

/** The field errors validateTrunks refused a configuration with. */
function refusal(config: unknown, board?: BoardSpans): FieldError[] {
  try {
    validateTrunks(config, board);
  } catch (err) {
    assert.ok(isSwitchboardError(err, 'E_CONFIG_FIELD'), String(err));
    return err.details as FieldError[];
  }
  assert.fail('the configuration was accepted');
}

const E1_BOARD: BoardSpans = {
  get: (span) => (span <= 2 ? { type: 'E1', channels: 31 } : undefined),
};

/** Waits until every channel of the host's trunks is idle (the far end up and not blocking). */
async function linesIdle(host: Host, trunk?: string): Promise<void> {
  const ok = await eventually(async () =>
    (await host.snapshot()).trunks
      .filter((t) => trunk === undefined || t.name === trunk)
      .every((t) => t.channels.every((c) => c.state === 'idle')),
  );
  assert.ok(ok, `channels not idle: ${JSON.stringify((await host.snapshot()).trunks)}`);
}

/** Marks every event so far as seen, so later waits match only what happens next. */
async function settle(host: Host): Promise<void> {
  for (const line of host.events()) await host.waitEvent((e) => e === line);
}

const isEvent =
  (event: string, fields: Record<string, unknown> = {}) =>
  (e: Line) =>
    e.event === event && Object.entries(fields).every(([k, v]) => e[k] === v);

async function protocolErrors(host: Host): Promise<number> {
  return (await host.snapshot()).trunks.reduce((n, t) => n + t.protocolErrors, 0);
}

/** openr2's r2test with its output followed live (line-buffered through stdbuf). */
function startR2test(sim: TestSim, conf: string) {
  const file = join(sim.dir, `r2test-${Date.now()}.conf`);
  writeFileSync(file, conf);
  const child = spawn('stdbuf', ['-oL', 'r2test', '-c', file], { env: sim.env });
  let out = '';
  const waiters: { re: RegExp; ok: (m: string) => void }[] = [];
  const feed = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) {
      const m = w.re.exec(out);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.ok(m[0]);
      }
    }
  };
  child.stdout.on('data', feed);
  child.stderr.on('data', feed);
  const closed = new Promise<void>((ok) => child.on('close', () => ok()));
  return {
    output: () => out,
    waitFor(re: RegExp, timeoutMs = 20_000): Promise<string> {
      const m = re.exec(out);
      if (m) return Promise.resolve(m[0]);
      return new Promise((ok, fail) => {
        const timer = setTimeout(
          () => fail(new Error(`r2test never printed ${re}:\n${out.slice(-3000)}`)),
          timeoutMs,
        );
        waiters.push({
          re,
          ok: (s) => {
            clearTimeout(timer);
            ok(s);
          },
        });
      });
    },
    async stop(): Promise<string> {
      child.kill('SIGINT');
      await closed;
      return out;
    },
  };
}

/**
 * r2test's configuration (see /etc/openr2/r2test.conf): DAHDI channel 32 (our timeslot 1)
 * answers what we call, channel 33 calls our timeslot 2 from 1122334455 to 5678.
 */
function r2testConf(variant: string, maxAni: number): string {
  return [
    `variant=${variant}`,
    'loglevel=error,warning,notice',
    'callfiles=no',
    `maxani=${maxAni}`,
    'maxdnis=4',
    'getanifirst=no',
    'mfthreshold=0',
    'mfbacktimeout=-1',
    'meteringpulsetimeout=-1',
    'collectcalls=no',
    'chargecalls=yes',
    'doubleanswer=no',
    'immediateaccept=no',
    'skipcategory=no',
    'category=NATIONAL_SUBSCRIBER',
    'caller=no',
    'channel=32-32',
    'dnid=5678',
    'cid=1122334455',
    'caller=yes',
    'channel=33-33',
    '',
  ].join('\n');
}

describe('MFC-R2 trunk configuration', () => {
  it('offers exactly the variants openr2 lists (r2test -l)', async () => {
    const r = await runProcess('r2test', ['-l']);
    const listed = r.stdout
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/)[0]?.toLowerCase())
      .filter((v): v is string => !!v);
    assert.deepEqual([...listed].sort(), [...R2_VARIANT_CODES].sort());
  });

  it('accepts a full trunk and refuses bad fields by name', () => {
    const good = {
      trunks: [
        r2('cn1', 1, 'cn', {
          channels: '1-15,17-31',
          maxAni: 0,
          maxDnis: 8,
          category: 'national_priority_subscriber',
          timers: { mf_back_cycle: 3000, r2_metering_pulse: 300 },
          mfBackTimeout: 3000,
          logging: ['error', 'warning', 'mf'],
        }),
      ],
    };
    assert.equal(validateTrunks(good, E1_BOARD), good);
    const paths = (config: unknown, board?: BoardSpans) =>
      refusal(config, board).map((e) => e.path);
    assert.deepEqual(paths({ trunks: [r2('x', 1, 'fr' as R2Variant)] }), ['trunks[0].variant']);
    assert.deepEqual(paths({ trunks: [r2('x', 1, 'itu', { channels: '1-16' })] }), [
      'trunks[0].channels',
    ]);
    assert.match(
      refusal({ trunks: [r2('x', 1, 'itu', { channels: [15, 16, 17] })] })[0]?.message ?? '',
      /timeslot 16/,
    );
    assert.deepEqual(paths({ trunks: [r2('x', 1, 'itu', { maxDnis: 0 })] }), ['trunks[0].maxDnis']);
    assert.deepEqual(paths({ trunks: [r2('x', 1, 'itu', { maxDnis: 80 })] }), [
      'trunks[0].maxDnis',
    ]);
    assert.deepEqual(paths({ trunks: [r2('x', 1, 'itu', { maxAni: -1 })] }), ['trunks[0].maxAni']);
    assert.deepEqual(paths({ trunks: [r2('x', 1, 'cn', { immediateAccept: true })] }), [
      'trunks[0].immediateAccept',
    ]);
    assert.deepEqual(paths({ trunks: [r2('x', 1, 'itu', { category: 'collect_call' })] }), [
      'trunks[0].category',
    ]);
    assert.deepEqual(paths({ trunks: [r2('x', 1, 'itu', { timers: { r2_seize: 10 } })] }), [
      'trunks[0].timers.r2_seize',
    ]);
    assert.deepEqual(paths({ trunks: [r2('x', 1, 'itu', { timers: { T1: 100 } })] }), [
      'trunks[0].timers.T1',
    ]);
    assert.deepEqual(
      paths({
        trunks: [r2('x', 1, 'itu', { mfBackTimeout: 2000, timers: { mf_back_cycle: 3000 } })],
      }),
      ['trunks[0].mfBackTimeout'],
    );
    assert.deepEqual(paths({ trunks: [r2('x', 3, 'itu')] }, E1_BOARD), ['trunks[0].span']);
    assert.deepEqual(
      paths({ trunks: [r2('x', 1, 'itu')] }, { get: () => ({ type: 'T1', channels: 24 }) }),
      ['trunks[0].span'],
    );
    assert.deepEqual(paths({ trunks: [r2('x', 1, 'itu', { colour: 'red' })] }), [
      'trunks[0].colour',
    ]);
  });
});

describe('MFC-R2 against openr2 r2test (unmodified, Debian libopenr2-bin)', () => {
  let sim: TestSim;
  before(async () => {
    sim = await withConfiguredSim(E1_PAIR, PAIR_CONF);
  });
  after(async () => {
    await sim.stop();
  });

  // China: ANI cannot come from an openr2 calling side (R2_CHINA_ANI_GAP), so both called sides
  // ask for the category only (maxAni 0); DNIS and category still cross intact.
  for (const variant of ['itu', 'cn'] as const) {
    const withAni = variant !== 'cn';
    it(`${variant}: we call r2test and r2test calls us; DNIS, ANI and category intact both ways`, async () => {
      const host = await startHost(
        sim,
        { trunks: [r2('r2', 1, variant, { channels: '1-2', maxAni: withAni ? 10 : 0 })] },
        `r2test-${variant}`,
      );
      const far = startR2test(sim, r2testConf(variant, withAni ? 10 : 0));
      try {
        // r2test's caller seizes our timeslot 2 as soon as it sees it idle.
        const offered = await host.waitEvent(isEvent('offered'), 20_000);
        assert.equal(offered.channel, 2);
        assert.equal(offered.called, '5678');
        assert.equal(offered.calling, withAni ? '1122334455' : '');
        assert.equal(offered.category, 'national_subscriber');
        await host.command({ op: 'answer', call: offered.call as number });
        await far.waitFor(/call has been answered on chan 33/);

        const sel = await eventually(async () => {
          const ch = (await host.snapshot()).trunks[0]?.channels.find((c) => c.channel === 1);
          return ch?.state === 'idle';
        });
        assert.ok(sel);
        const { call } = await host.command({
          op: 'place',
          trunk: 'r2',
          channel: 1,
          called: '4321',
          calling: '0987654321',
        });
        await far.waitFor(
          new RegExp(
            `call ready on chan 32\\. ANI = ${withAni ? '0987654321' : ''}, DNIS = 4321, Category = 0`,
          ),
        );
        await host.waitEvent(isEvent('answered', { call }));
        const outgoing = host
          .events((e) => e.call === call)
          .map((e) => e.event)
          .filter((e) => e !== 'log');
        assert.deepEqual(outgoing, ['dialing', 'alerting', 'answered']);

        await host.command({ op: 'release', call: call as number });
        await host.command({
          op: 'release',
          call: offered.call as number,
          cause: 'NORMAL_CLEARING',
        });
        for (const id of [call, offered.call]) {
          const rel = await host.waitEvent(isEvent('released', { call: id }));
          assert.equal(rel.by, 'local');
          assert.equal(rel.cause, 16);
        }
        await far.waitFor(/call ended at chan 32/);
        await far.waitFor(/call ended at chan 33/);
        assert.equal(await protocolErrors(host), 0);
        assert.doesNotMatch(far.output(), /Protocol error/);
      } finally {
        await far.stop();
        await host.stop();
      }
    });
  }

  it('cn: an openr2 caller asked for ANI answers with silence; the MF timeout is counted, the line recovers', async () => {
    // The named gap, reproduced: we ask for 10 ANI digits, r2test (calling) takes A-1 for "next
    // DNIS digit", has none left and waits; our MF cycle times out (shortened to 1 s here).
    const host = await startHost(
      sim,
      { trunks: [r2('r2', 1, 'cn', { channels: '1-2', timers: { mf_back_cycle: 1000 } })] },
      'r2test-cn-gap',
    );
    const far = startR2test(sim, r2testConf('cn', 0));
    try {
      await host.waitEvent(isEvent('log', { kind: 'protocol_error' }), 20_000);
      assert.equal(await protocolErrors(host), 1);
      assert.equal(host.events(isEvent('offered')).length, 0);
      await far.waitFor(/protocol error on chan 33/);
      // openr2 put our side back to idle: the trunk still serves calls (r2test's callee).
      await linesIdle(host, 'r2');
    } finally {
      await far.stop();
      await host.stop();
    }
  });
});

describe('MFC-R2 ours to ours in every variant openr2 knows', () => {
  // One cabled pair of spans per variant; host A owns the odd spans, host B the even ones.
  const sims: SimConfig = { spans: [], cables: [] };
  R2_VARIANT_CODES.forEach((_, i) => {
    sims.spans.push({ type: 'E1' }, { type: 'E1' });
    sims.cables?.push([2 * i + 1, 2 * i + 2]);
  });
  const conf = sims.spans
    .map((_, i) => {
      const base = 31 * i + 1;
      return `span=${i + 1},${i + 1},0,cas,hdb3\ncas=${base}-${base + 1}:1101\n`;
    })
    .join('');
  let sim: TestSim;
  let a: Host;
  let b: Host;
  // China's called sides ask for no ANI (R2_CHINA_ANI_GAP). B accepts calls in Group A
  // (immediateAccept) where the variant can, A accepts in Group B without charge.
  const trunks = (side: 'a' | 'b'): EngineConfig => ({
    trunks: R2_VARIANT_CODES.map((v, i) =>
      r2(`${side}-${v}`, 2 * i + (side === 'a' ? 1 : 2), v, {
        channels: '1-2',
        ...(v === 'cn' ? { maxAni: 0 } : {}),
        ...(side === 'a' ? { chargeCalls: false } : {}),
        ...(side === 'b' && !R2_NO_GROUP_A_ACCEPT.includes(v) ? { immediateAccept: true } : {}),
      }),
    ),
  });
  before(async () => {
    sim = await withConfiguredSim(sims, conf);
    [a, b] = await Promise.all([
      startHost(sim, trunks('a'), 'a'),
      startHost(sim, trunks('b'), 'b'),
    ]);
    await Promise.all([linesIdle(a), linesIdle(b)]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await sim.stop();
  });

  /** One call: offered with the numbers intact, answered, cleared by the caller. */
  async function call(
    from: Host,
    to: Host,
    variant: R2Variant,
    sides: [string, string],
    channel: number,
    called: string,
    calling: string,
  ): Promise<void> {
    const trunk = `${sides[0]}-${variant}`;
    const { call: id } = await from.command({ op: 'place', trunk, channel, called, calling });
    const offered = await to.waitEvent(isEvent('offered', { trunk: `${sides[1]}-${variant}` }));
    assert.equal(offered.channel, channel, variant);
    assert.equal(offered.called, called, variant);
    assert.equal(offered.calling, variant === 'cn' ? '' : calling, variant);
    assert.equal(offered.category, 'national_subscriber', variant);
    // R2 has no alerting of its own: alert accepts; answer follows once the MF exchange ended.
    await to.command({ op: 'alert', call: offered.call as number });
    await to.command({ op: 'answer', call: offered.call as number });
    await from.waitEvent(isEvent('answered', { call: id }));
    await from.command({ op: 'release', call: id as number });
    const mine = await from.waitEvent(isEvent('released', { call: id }));
    const theirs = await to.waitEvent(isEvent('released', { call: offered.call }));
    assert.deepEqual([mine.by, mine.cause], ['local', 16], variant);
    assert.deepEqual([theirs.by, theirs.cause, theirs.r2Cause], ['remote', 16, 'normal_clearing']);
    assert.deepEqual(
      from
        .events((e) => e.call === id)
        .map((e) => e.event)
        .filter((e) => e !== 'log'),
      ['dialing', 'alerting', 'answered', 'released'],
      variant,
    );
  }

  /**
   * The called side accepts a call and releases it before answering: both ends end it (the
   * caller by the far end's forced release), then the channel carries an answered call.
   */
  async function releasedUnanswered(
    from: Host,
    to: Host,
    variant: R2Variant,
    sides: [string, string],
    channel: number,
  ): Promise<void> {
    const trunk = `${sides[0]}-${variant}`;
    const { call: id } = await from.command({ op: 'place', trunk, channel, called: '2468' });
    const offered = await to.waitEvent(isEvent('offered', { trunk: `${sides[1]}-${variant}` }));
    await to.command({ op: 'accept', call: offered.call as number });
    await from.waitEvent(isEvent('alerting', { call: id }));
    await to.command({ op: 'release', call: offered.call as number, cause: 'NO_ANSWER' });
    const theirs = await from.waitEvent(isEvent('released', { call: id }));
    const mine = await to.waitEvent(isEvent('released', { call: offered.call }));
    assert.deepEqual(
      [theirs.by, theirs.cause, theirs.r2Cause],
      ['remote', 16, 'forced_release'],
      variant,
    );
    assert.deepEqual([mine.by, mine.cause], ['local', 19], variant);
    await call(from, to, variant, sides, channel, '1357', '1234509876');
    assert.equal(from.events(isEvent('released', { call: id })).length, 1, variant);
    assert.equal(to.events(isEvent('released', { call: offered.call })).length, 1, variant);
  }

  it('every variant: call, answer, clear both ways with ANI and DNIS intact (all at once)', async () => {
    await Promise.all(
      R2_VARIANT_CODES.flatMap((v) => [
        call(a, b, v, ['a', 'b'], 1, '4321', '0987654321'),
        call(b, a, v, ['b', 'a'], 2, '8765', '1234567890'),
      ]),
    );
    for (const host of [a, b]) {
      assert.equal(await protocolErrors(host), 0);
      await linesIdle(host);
      const snap = await host.snapshot();
      assert.equal(snap.trunks.length, R2_VARIANT_CODES.length);
      for (const t of snap.trunks) assert.deepEqual(t.calls, [], t.name);
    }
  });
  it('every variant: the called side releases an accepted, unanswered call; both ends end it (all at once)', async () => {
    await Promise.all(
      R2_VARIANT_CODES.flatMap((v) => [
        releasedUnanswered(a, b, v, ['a', 'b'], 1),
        releasedUnanswered(b, a, v, ['b', 'a'], 2),
      ]),
    );
    for (const host of [a, b]) {
      assert.equal(await protocolErrors(host), 0);
      await linesIdle(host);
      for (const t of (await host.snapshot()).trunks) assert.deepEqual(t.calls, [], t.name);
    }
  });
});

describe('MFC-R2 maintenance, alarms, causes and a stalled controller (itu)', () => {
  let sim: TestSim;
  let a: Host;
  let b: Host;
  before(async () => {
    sim = await withConfiguredSim(E1_PAIR, PAIR_CONF);
    [a, b] = await Promise.all([
      startHost(sim, { trunks: [r2('a', 1, 'itu', { channels: '1-3' })] }, 'a'),
      startHost(
        sim,
        {
          trunks: [
            r2('b', 2, 'itu', {
              channels: '1-3',
              hunting: 'descending',
              doubleAnswer: true,
              forcedRelease: true,
              timers: { r2_double_answer: 200 },
            }),
          ],
        },
        'b',
      ),
    ]);
    await Promise.all([linesIdle(a), linesIdle(b)]);
    // The lines came up blocked (far end not yet there) and went idle: old news.
    await Promise.all([settle(a), settle(b)]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await sim.stop();
  });

  it('a blocked channel is blocked at the far end and refuses calls; unblock restores it', async () => {
    await a.command({ op: 'block', trunk: 'a', channel: 1 });
    await a.waitEvent(isEvent('channel', { channel: 1, state: 'blocked', by: 'local' }));
    await b.waitEvent(isEvent('channel', { channel: 1, state: 'blocked', by: 'remote' }));
    const snap = await b.snapshot();
    assert.equal(snap.trunks[0]?.channels.find((c) => c.channel === 1)?.state, 'blocked');

    const { call: refused } = await b.command({
      op: 'place',
      trunk: 'b',
      channel: 1,
      called: '1234',
    });
    const rel = await b.waitEvent(isEvent('released', { call: refused }));
    assert.deepEqual([rel.cause, rel.causeName, rel.by], [44, 'REQUESTED_CHAN_UNAVAIL', 'stack']);

    // The whole trunk: nothing left to hunt.
    await a.command({ op: 'block', trunk: 'a' });
    for (const ts of [2, 3])
      await b.waitEvent(isEvent('channel', { channel: ts, state: 'blocked', by: 'remote' }));
    const { call: none } = await b.command({ op: 'place', trunk: 'b', called: '1234' });
    assert.equal((await b.waitEvent(isEvent('released', { call: none }))).cause, 34);

    await a.command({ op: 'unblock', trunk: 'a' });
    for (const ts of [1, 2, 3])
      await b.waitEvent(isEvent('channel', { channel: ts, state: 'idle', by: 'remote' }));
    await linesIdle(a);

    // A call on the unblocked channel, refused busy: the cause crosses as Group B signal B-3.
    const { call } = await b.command({ op: 'place', trunk: 'b', channel: 1, called: '1234' });
    const offered = await a.waitEvent(isEvent('offered', { channel: 1 }));
    await a.command({ op: 'release', call: offered.call as number, cause: 'USER_BUSY' });
    const theirs = await b.waitEvent(isEvent('released', { call }));
    assert.deepEqual(
      [theirs.cause, theirs.causeName, theirs.by, theirs.r2Cause],
      [17, 'USER_BUSY', 'remote', 'busy_number'],
    );
    const mine = await a.waitEvent(isEvent('released', { call: offered.call }));
    assert.deepEqual([mine.cause, mine.by, mine.r2Cause], [17, 'local', 'busy_number']);
    assert.equal(await protocolErrors(a), 0);
    assert.equal(await protocolErrors(b), 0);
  });

  it('a number shorter than maxDnis ends with I-15; the category crosses as sent', async () => {
    const { call } = await b.command({
      op: 'place',
      trunk: 'b',
      channel: 3,
      called: '12',
      calling: '777',
      category: 'test_equipment',
    });
    const offered = await a.waitEvent(isEvent('offered', { channel: 3 }));
    assert.deepEqual(
      [offered.called, offered.calling, offered.category],
      ['12', '777', 'test_equipment'],
    );
    await a.command({ op: 'release', call: offered.call as number, cause: 'UNALLOCATED' });
    const rel = await b.waitEvent(isEvent('released', { call }));
    assert.deepEqual([rel.cause, rel.r2Cause], [1, 'unallocated_number']);
    await a.waitEvent(isEvent('released', { call: offered.call }));
  });

  it('reset puts a blocked channel back to idle at both ends', async () => {
    await a.command({ op: 'block', trunk: 'a', channel: 2 });
    await b.waitEvent(isEvent('channel', { channel: 2, state: 'blocked', by: 'remote' }));
    await a.command({ op: 'reset', trunk: 'a', channel: 2 });
    await a.waitEvent(isEvent('channel', { channel: 2, state: 'idle', by: 'local' }));
    await b.waitEvent(isEvent('channel', { channel: 2, state: 'idle', by: 'remote' }));
    await linesIdle(a);
    await linesIdle(b);
  });

  it('the called side releases an accepted, unanswered call: both ends end it, the channel takes the next call', async () => {
    // A has no forcedRelease: before the answer it still clears with the forced-release line
    // signal, since ITU's clear-back (1 1) is the seizing acknowledgement already on the line.
    await linesIdle(a);
    await linesIdle(b);
    const { call } = await b.command({ op: 'place', trunk: 'b', channel: 2, called: '2468' });
    const offered = await a.waitEvent(isEvent('offered', { channel: 2 }));
    await a.command({ op: 'accept', call: offered.call as number });
    await b.waitEvent(isEvent('alerting', { call }));
    await a.command({ op: 'release', call: offered.call as number, cause: 'NO_ANSWER' });
    const theirs = await b.waitEvent(isEvent('released', { call }));
    assert.deepEqual([theirs.by, theirs.cause, theirs.r2Cause], ['remote', 16, 'forced_release']);
    const mine = await a.waitEvent(isEvent('released', { call: offered.call }));
    assert.deepEqual([mine.by, mine.cause, mine.causeName], ['local', 19, 'NO_ANSWER']);
    for (const host of [a, b]) {
      const ch = (await host.snapshot()).trunks[0]?.channels.find((c) => c.channel === 2);
      assert.equal(ch?.call, undefined);
    }
    await linesIdle(a);
    await linesIdle(b);

    // The same channel carries the next call: answered and cleared.
    const { call: again } = await b.command({
      op: 'place',
      trunk: 'b',
      channel: 2,
      called: '1357',
    });
    const next = await a.waitEvent(isEvent('offered', { channel: 2 }));
    await a.command({ op: 'answer', call: next.call as number });
    await b.waitEvent(isEvent('answered', { call: again }));
    await b.command({ op: 'release', call: again as number });
    assert.equal((await b.waitEvent(isEvent('released', { call: again }))).by, 'local');
    assert.equal((await a.waitEvent(isEvent('released', { call: next.call }))).by, 'remote');
    assert.equal(b.events(isEvent('released', { call })).length, 1);
    assert.equal(a.events(isEvent('released', { call: offered.call })).length, 1);
    assert.equal(await protocolErrors(a), 0);
    assert.equal(await protocolErrors(b), 0);
    await linesIdle(a);
    await linesIdle(b);
  });

  it('double answer reaches the caller as one answer and one metering pulse', async () => {
    // B answers, clears back for r2_double_answer (200 ms) and answers again; a caller that
    // takes clear-backs shorter than meteringPulseTimeout for metering sees a billing pulse.
    await a.stop();
    a = await startHost(
      sim,
      { trunks: [r2('a', 1, 'itu', { channels: '1-3', meteringPulseTimeout: 600 })] },
      'a-metering',
    );
    await linesIdle(a);
    await settle(a);
    const { call } = await a.command({ op: 'place', trunk: 'a', called: '4321', calling: '55' });
    const offered = await b.waitEvent(isEvent('offered'));
    assert.equal(offered.channel, 1);
    await b.command({ op: 'answer', call: offered.call as number });
    await a.waitEvent(isEvent('answered', { call }));
    const pulse = await a.waitEvent(isEvent('metering', { call }));
    assert.equal(pulse.pulses, 1);
    const snap = await a.snapshot();
    assert.equal(snap.trunks[0]?.calls[0]?.state, 'answered');
    assert.equal(snap.trunks[0]?.calls[0]?.meteringPulses, 1);
    await b.command({ op: 'release', call: offered.call as number });
    // B clears with the forced-release line signal (forcedRelease).
    const rel = await a.waitEvent(isEvent('released', { call }));
    assert.deepEqual([rel.by, rel.cause, rel.r2Cause], ['remote', 16, 'forced_release']);
    await b.waitEvent(isEvent('released', { call: offered.call }));
  });

  // B answers with doubleAnswer from here on; A (since the metering test) counts its clear-back
  // as a metering pulse, as a caller facing such an exchange is configured to.
  it('a 2 s stall of the event loop disturbs neither an answered call nor calls set up meanwhile', async () => {
    await linesIdle(a);
    // Call 1, answered before the stall.
    const { call: first } = await a.command({
      op: 'place',
      trunk: 'a',
      channel: 1,
      called: '1111',
    });
    const firstIn = await b.waitEvent(isEvent('offered', { channel: 1 }));
    await b.command({ op: 'answer', call: firstIn.call as number });
    await a.waitEvent(isEvent('answered', { call: first }));

    // Call 2 placed by A just before its loop stalls; call 3 offered to A during the stall.
    const { call: second } = await a.command({
      op: 'place',
      trunk: 'a',
      channel: 2,
      called: '2222',
    });
    const stall = a.request('block', { ms: 2000 });
    const { call: third } = await b.command({
      op: 'place',
      trunk: 'b',
      channel: 3,
      called: '3333',
      calling: '0987654321',
    });
    const secondIn = await b.waitEvent(isEvent('offered', { channel: 2 }));
    await b.command({ op: 'answer', call: secondIn.call as number });
    assert.deepEqual(await stall, { blockedMs: 2000 });

    await a.waitEvent(isEvent('answered', { call: second }));
    const thirdIn = await a.waitEvent(isEvent('offered', { channel: 3 }));
    assert.deepEqual([thirdIn.called, thirdIn.calling], ['3333', '0987654321']);
    await a.command({ op: 'answer', call: thirdIn.call as number });
    await b.waitEvent(isEvent('answered', { call: third }));

    const mine = [first, second, thirdIn.call];
    const theirs = [firstIn.call, secondIn.call, third];
    assert.equal(a.events((e) => e.event === 'released' && mine.includes(e.call)).length, 0);
    assert.equal(b.events((e) => e.event === 'released' && theirs.includes(e.call)).length, 0);
    for (const host of [a, b]) {
      const snap = await host.snapshot();
      assert.deepEqual(
        snap.trunks[0]?.calls.map((c) => c.state),
        ['answered', 'answered', 'answered'],
      );
      assert.equal(await protocolErrors(host), 0);
    }

    for (const id of [first, second]) await a.command({ op: 'release', call: id as number });
    await b.command({ op: 'release', call: third as number });
    for (const id of [first, second, thirdIn.call])
      await a.waitEvent(isEvent('released', { call: id }));
    await linesIdle(a);
    await linesIdle(b);
  });

  it('a span alarm drops the call on it and marks the channels; the line comes back idle', async () => {
    const { call } = await a.command({ op: 'place', trunk: 'a', channel: 1, called: '1234' });
    const offered = await b.waitEvent(isEvent('offered', { channel: 1 }));
    await b.command({ op: 'answer', call: offered.call as number });
    await a.waitEvent(isEvent('answered', { call }));

    await sim.client.uncable(1);
    const alarm = await a.waitEvent(isEvent('alarm', { span: 1 }));
    assert.ok((alarm.alarms as string[]).length > 0, JSON.stringify(alarm));
    const rel = await a.waitEvent(isEvent('released', { call }));
    assert.deepEqual([rel.cause, rel.by], [38, 'stack']);
    const inAlarm = await eventually(
      async () =>
        (await a.snapshot()).trunks[0]?.channels.every((c) => c.state === 'alarm') === true,
    );
    assert.ok(inAlarm, JSON.stringify((await a.snapshot()).trunks[0]?.channels));

    await sim.client.cable(1, 2);
    const clear = await a.waitEvent(isEvent('alarm', { span: 1 }));
    assert.deepEqual(clear.alarms, []);
    await b.waitEvent(isEvent('released', { call: offered.call }));
    await linesIdle(a);
    await linesIdle(b);
  });

  it('refuses what R2 cannot do: digits after the number, a CIC, signalling traces', async () => {
    const { call } = await a.command({ op: 'place', trunk: 'a', channel: 1, called: '1234' });
    await assert.rejects(a.command({ op: 'digits', call: call as number, digits: '5' }), {
      code: 'E_COMMAND_FIELD',
    });
    await assert.rejects(a.command({ op: 'place', trunk: 'a', called: '12a4' }), {
      code: 'E_COMMAND_FIELD',
      field: 'called',
    });
    await assert.rejects(a.command({ op: 'place', trunk: 'a', called: '1', channel: 16 }), {
      code: 'E_CHANNEL_UNKNOWN',
    });
    await assert.rejects(a.command({ op: 'block', trunk: 'a', cic: 3 }), {
      code: 'E_COMMAND_FIELD',
    });
    await assert.rejects(a.request('traceStart', { span: 1 }), { code: 'E_TRACE' });
    const offered = await b.waitEvent(isEvent('offered', { channel: 1 }));
    await a.command({ op: 'release', call: call as number });
    await a.waitEvent(isEvent('released', { call }));
    await b.waitEvent(isEvent('released', { call: offered.call }));
  });
});

describe('MFC-R2 configuration refused by the addon', () => {
  let sim: TestSim;
  before(async () => {
    // Timeslots 17-31 of span 1 are not configured for CAS.
    sim = await withConfiguredSim(E1_PAIR, 'span=1,1,0,cas,hdb3\ncas=1-15:1101\n');
  });
  after(async () => {
    await sim.stop();
  });

  const refused = async (trunk: Record<string, unknown>) => {
    try {
      await startHost(sim, { trunks: [trunk as unknown as EngineTrunk] }, 'bad');
    } catch (err) {
      assert.ok(err instanceof HostError, String(err));
      return err;
    }
    return assert.fail('the addon accepted the trunk');
  };

  it('names the field: a channel not configured as cas, timeslot 16, a variant, maxDnis', async () => {
    const notCas = await refused(r2('x', 1, 'itu', { channels: '1-15,17' }));
    assert.deepEqual([notCas.code, notCas.field], ['E_CONFIG_FIELD', 'trunks[0].channels']);
    assert.match(notCas.message, /not cas/);
    const ts16 = await refused(r2('x', 1, 'itu', { channels: '15-16' }));
    assert.deepEqual([ts16.code, ts16.field], ['E_CONFIG_FIELD', 'trunks[0].channels']);
    const variant = await refused(r2('x', 1, 'fr' as R2Variant));
    assert.deepEqual([variant.code, variant.field], ['E_CONFIG_FIELD', 'trunks[0].variant']);
    const dnis = await refused(r2('x', 1, 'itu', { maxDnis: 80 }));
    assert.deepEqual([dnis.code, dnis.field], ['E_CONFIG_FIELD', 'trunks[0].maxDnis']);
    const span = await refused(r2('x', 9, 'itu'));
    assert.deepEqual([span.code, span.field], ['E_CONFIG_FIELD', 'trunks[0].span']);
  });
});
