// SPDX-License-Identifier: GPL-2.0-or-later
// The carrier's scenario file and its seeded draws; the carrier's decisions against a scripted engine.

import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  Carrier,
  type CarrierEngine,
  type CarrierRecord,
  LINK_SETTLE_MS,
  readCarrierLog,
} from '../src/carrier/carrier.ts';
import { expandNumber, numberSourceError, stream, weighted } from '../src/carrier/draw.ts';
import {
  DEFAULT_HUMAN_GREETING,
  DEFAULT_MACHINE_GREETING,
  GREETING_AFTER_MS,
  loadScenario,
  OUTCOMES,
  parseScenario,
  type Scenario,
  scenarioErrors,
  validateScenario,
} from '../src/carrier/scenario.ts';
import { renderSpanConfs } from '../src/carrier/spans.ts';
import { isSwitchboardError } from '../src/core/errors.ts';
import type { EngineCommand, EngineEvent, EngineSnapshot } from '../src/native/engine.ts';
import { runProcess } from '../src/runtime/process.ts';
import { CARRIER_TRUNKS } from './helpers/carrier.ts';

const demo = fileURLToPath(new URL('../board/carrier/demo.yaml', import.meta.url));
/** The scripted carriers' greetings: rendered once, cached by content across runs. */
const workDir = join(tmpdir(), 'switchboard-carrier-test');
const PRI = { name: 'net', signalling: 'pri_net', span: 2, switchtype: 'euroisdn' };

/** The first refused field of a scenario, as "path: message". */
function refusal(input: unknown): string {
  const errors = scenarioErrors(input);
  assert.ok(errors.length > 0, 'the scenario was accepted');
  return `${errors[0]?.path}: ${errors[0]?.message}`;
}

describe('carrier scenario files', () => {
  it('loads the demo scenario: PRI network side on span 2, China R2 on span 4 asking for no ANI', () => {
    const s = loadScenario(demo);
    assert.deepEqual(
      s.engine.trunks.map((t) => [t.signalling, t.span]),
      [
        ['pri_net', 2],
        ['mfcr2', 4],
      ],
    );
    const r2 = s.engine.trunks[1] as Record<string, unknown>;
    assert.deepEqual([r2.variant, r2.maxAni], ['cn', 0]);
    const rate = s.inbound?.flows.reduce((n, f) => n + f.rate, 0);
    assert.equal(rate, 6);
    assert.ok(s.outbound.mix.filter(([, w]) => w > 0).length >= 4, 'a mix of outcomes');
  });

  it('fills in the documented defaults', () => {
    const s = validateScenario({
      trunks: [PRI],
      inbound: { rate: 2, called: { numbers: ['100'] } },
    });
    assert.equal(s.seed, 1);
    const f = s.inbound?.flows[0];
    assert.deepEqual(
      [f?.trunks, f?.arrival, f?.called.order, f?.holdSeconds, f?.total, f?.digits],
      [['net'], 'poisson', 'sequence', { min: 5, max: 30 }, undefined, []],
    );
    assert.deepEqual(s.outbound.mix, [
      ['answer', 1],
      ['machine', 0],
      ['busy', 0],
      ['no_answer', 0],
      ['invalid_number', 0],
      ['congestion', 0],
    ]);
    assert.deepEqual(s.outbound.causes, {
      busy: 17,
      no_answer: 19,
      invalid_number: 1,
      congestion: 34,
    });
    assert.deepEqual(s.outbound.greetings, {
      human: DEFAULT_HUMAN_GREETING,
      machine: DEFAULT_MACHINE_GREETING,
      voice: 'en',
    });
    assert.deepEqual(
      [s.outbound.ringSeconds, s.outbound.holdSeconds, s.outbound.noAnswerSeconds],
      [{ min: 2, max: 2 }, null, null],
    );
  });

  it('lets flows inherit the options given in inbound', () => {
    const s = validateScenario({
      trunks: CARRIER_TRUNKS,
      inbound: {
        total: 10,
        holdSeconds: { min: 1, max: 2 },
        called: { numbers: ['100'] },
        flows: [
          { trunks: ['net'], rate: 1 },
          { trunks: ['cn'], rate: 2, called: { numbers: ['200'] } },
        ],
      },
    });
    assert.equal(s.inbound?.total, 10);
    assert.deepEqual(
      s.inbound?.flows.map((f) => [f.trunks, f.rate, f.called.numbers, f.holdSeconds.max, f.total]),
      [
        [['net'], 1, ['100'], 2, undefined],
        [['cn'], 2, ['200'], 2, undefined],
      ],
    );
  });

  it('splits answers between people and machines: a mix share, a number answered by either, greetings', () => {
    const s = validateScenario({
      trunks: [PRI],
      outbound: {
        mix: { answer: 60, machine: 10, busy: 30 },
        greetings: { human: 'Wei?', machine: null, voice: 'cmn' },
        numbers: [
          { number: '1', answeredBy: 'machine' },
          { number: '2', outcome: 'answer', answeredBy: 'human', greeting: 'Yes?' },
          { number: '3', outcome: 'answer' },
          { number: '4', greeting: null },
        ],
      },
    });
    assert.deepEqual(
      s.outbound.mix.filter(([, w]) => w > 0),
      [
        ['answer', 60],
        ['machine', 10],
        ['busy', 30],
      ],
    );
    assert.deepEqual(s.outbound.greetings, { human: 'Wei?', machine: null, voice: 'cmn' });
    assert.deepEqual(
      s.outbound.numbers.map((r) => [r.number, r.outcome, r.answeredBy, r.greeting]),
      [
        // answeredBy alone means the number is answered.
        ['1', 'answer', 'machine', undefined],
        ['2', 'answer', 'human', 'Yes?'],
        ['3', 'answer', undefined, undefined],
        // No outcome: drawn from the mix, whoever answers says nothing.
        ['4', undefined, undefined, null],
      ],
    );
  });

  it('files written before answeredBy existed are still valid and answer with a person', () => {
    const old = {
      trunks: [PRI],
      outbound: {
        mix: { answer: 70, busy: 10, no_answer: 10, invalid_number: 5, congestion: 5 },
        numbers: [
          { number: '95588', outcome: 'answer', digits: [{ afterSeconds: 3, press: '1' }] },
        ],
      },
    };
    assert.deepEqual(scenarioErrors(old), []);
    const s = validateScenario(old);
    assert.deepEqual(
      s.outbound.mix.find(([share]) => share === 'machine'),
      ['machine', 0],
    );
    assert.equal(s.outbound.numbers[0]?.answeredBy, undefined);
  });

  const bad: [string, unknown, RegExp][] = [
    ['no trunks', { inbound: {} }, /^trunks: is required/],
    ['an unknown top-level field', { trunks: [PRI], outbund: {} }, /outbund: is not a known field/],
    [
      'a trunk field',
      { trunks: [{ ...PRI, switchtype: 'x' }] },
      /^trunks\[0\]\.switchtype: must be/,
    ],
    [
      'a China R2 trunk asking for the ANI the switch cannot send',
      { trunks: [{ name: 'cn', signalling: 'mfcr2', span: 4, variant: 'cn' }] },
      /^trunks\[0\]\.maxAni: must be 0 on a China \(cn\) trunk/,
    ],
    ['a seed out of range', { trunks: [PRI], seed: -1 }, /^seed: must be at least 0/],
    [
      'a missing rate',
      { trunks: [PRI], inbound: { called: { numbers: ['1'] } } },
      /^inbound\.rate: is required/,
    ],
    [
      'a missing rate in a flow',
      { trunks: [PRI], inbound: { called: { numbers: ['1'] }, flows: [{ rate: 1 }, {}] } },
      /^inbound\.flows\[1\]\.rate: is required \(in the flow or in inbound\)/,
    ],
    [
      'a zero rate',
      { trunks: [PRI], inbound: { rate: 0, called: { numbers: ['1'] } } },
      /^inbound\.rate: must be a rate/,
    ],
    [
      'an unknown trunk in a flow',
      {
        trunks: [PRI],
        inbound: { called: { numbers: ['1'] }, flows: [{ rate: 1, trunks: ['nope'] }] },
      },
      /^inbound\.flows\[0\]\.trunks\[0\]: "nope" is not a carrier trunk/,
    ],
    [
      'an open-ended pattern to generate',
      { trunks: [PRI], inbound: { rate: 1, called: { numbers: ['100', '_010.'] } } },
      /^inbound\.called\.numbers\[1\]: .*fixed length/,
    ],
    [
      'a number that is neither digits nor a pattern',
      { trunks: [PRI], inbound: { rate: 1, called: { numbers: ['0108888XXXX'] } } },
      /^inbound\.called\.numbers\[0\]: .*starts with "_"/,
    ],
    [
      'a range running backwards',
      {
        trunks: [PRI],
        inbound: { rate: 1, called: { numbers: ['1'] }, holdSeconds: { min: 9, max: 3 } },
      },
      /^inbound\.holdSeconds\.max: 3 is below min \(9\)/,
    ],
    [
      'a digit that is not DTMF',
      {
        trunks: [PRI],
        inbound: { rate: 1, called: { numbers: ['1'] }, digits: [{ press: '1x' }] },
      },
      /^inbound\.digits\[0\]\.press: must be DTMF digits/,
    ],
    [
      'a mix of nothing',
      { trunks: [PRI], outbound: { mix: { busy: 0 } } },
      /^outbound\.mix: needs at least one/,
    ],
    [
      'an unknown outcome in the mix',
      { trunks: [PRI], outbound: { mix: { maybe: 1 } } },
      /^outbound\.mix\.maybe: is not a known field/,
    ],
    [
      'an unknown outcome for a number',
      { trunks: [PRI], outbound: { numbers: [{ number: '1', outcome: 'maybe' }] } },
      /^outbound\.numbers\[0\]\.outcome: must be "answer", "busy", "no_answer", "invalid_number" or "congestion"/,
    ],
    [
      'a number pattern that is not one',
      { trunks: [PRI], outbound: { numbers: [{ number: 'abc' }] } },
      /^outbound\.numbers\[0\]\.number: "abc" is neither a number/,
    ],
    [
      'a cause for an answered number',
      { trunks: [PRI], outbound: { numbers: [{ number: '1', outcome: 'answer', cause: 17 }] } },
      /^outbound\.numbers\[0\]\.cause: is the release cause of a refusal/,
    ],
    [
      'who answers a number that is refused',
      {
        trunks: [PRI],
        outbound: { numbers: [{ number: '1', outcome: 'busy', answeredBy: 'human' }] },
      },
      /^outbound\.numbers\[0\]\.answeredBy: says who answers, but outcome is busy/,
    ],
    [
      'an answering machine that presses keys',
      {
        trunks: [PRI],
        outbound: { numbers: [{ number: '1', answeredBy: 'machine', digits: [{ press: '1' }] }] },
      },
      /^outbound\.numbers\[0\]\.digits: an answering machine presses no keys/,
    ],
    [
      'an unknown answerer',
      { trunks: [PRI], outbound: { numbers: [{ number: '1', answeredBy: 'robot' }] } },
      /^outbound\.numbers\[0\]\.answeredBy: must be "human" or "machine"/,
    ],
    [
      'a greeting of spaces',
      { trunks: [PRI], outbound: { numbers: [{ number: '1', greeting: '   ' }] } },
      /^outbound\.numbers\[0\]\.greeting: must be a text to speak/,
    ],
    [
      'an empty machine greeting',
      { trunks: [PRI], outbound: { greetings: { machine: '' } } },
      /^outbound\.greetings\.machine: must be a text to speak/,
    ],
    [
      'a voice that is not a voice name',
      { trunks: [PRI], outbound: { greetings: { voice: 'en us' } } },
      /^outbound\.greetings\.voice: must be an espeak-ng voice name/,
    ],
    [
      'a hold time that is neither range nor null',
      { trunks: [PRI], outbound: { holdSeconds: 'forever' } },
      /^outbound\.holdSeconds: must be \{min, max\} in seconds, or null/,
    ],
    [
      'a cause out of range',
      { trunks: [PRI], outbound: { causes: { busy: 200 } } },
      /^outbound\.causes\.busy: must be at most 127/,
    ],
  ];
  for (const [what, input, expected] of bad)
    it(`refuses ${what}, naming the field`, () => assert.match(refusal(input), expected));

  it('throws E_CONFIG_FIELD with every field, E_CONFIG_FILE for YAML it cannot parse', () => {
    assert.throws(
      () => parseScenario('trunks: []\nseed: x\n', 'bad.yaml'),
      (err: unknown) =>
        isSwitchboardError(err, 'E_CONFIG_FIELD') &&
        /invalid bad\.yaml:\n {2}seed: must be an integer\n {2}trunks: must have at least 1 entry/.test(
          err.message,
        ),
    );
    assert.throws(
      () => parseScenario('trunks: [\n', 'broken.yaml'),
      (err: unknown) =>
        isSwitchboardError(err, 'E_CONFIG_FILE') && err.message.includes('broken.yaml'),
    );
    assert.throws(
      () => loadScenario('/nonexistent/scenario.yaml'),
      (err: unknown) => isSwitchboardError(err, 'E_CONFIG_FILE') && err.message.includes('ENOENT'),
    );
  });

  it('the carrier process refuses a bad scenario naming the field, and exits 2', async () => {
    const file = join(process.env.TMPDIR ?? '/tmp', `carrier-bad-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ trunks: [PRI], inbound: { rate: 1 } }));
    const main = fileURLToPath(new URL('../src/carrier/main.ts', import.meta.url));
    const r = await runProcess(process.execPath, ['--import', 'tsx', main, '--scenario', file]);
    assert.equal(r.code, 2);
    const fatal = JSON.parse(r.stdout.trim().split('\n').at(-1) as string).fatal;
    assert.equal(fatal.code, 'E_CONFIG_FIELD');
    assert.deepEqual(fatal.details[0], { path: 'inbound.called', message: 'is required' });
  });
});

describe('seeded draws', () => {
  it('a stream is the same in every run and independent of the others', () => {
    const a = Array.from({ length: 5 }, () => stream(7, 'outbound', 'net', 3).nextU32());
    assert.equal(new Set(a).size, 1, 'the same labels give the same first draw');
    const run = (seed: number) => {
      const r = stream(seed, 'x');
      return Array.from({ length: 20 }, () => r.below(1000));
    };
    assert.deepEqual(run(1), run(1));
    assert.notDeepEqual(run(1), run(2));
    assert.notEqual(stream(7, 'outbound', 'net', 3).next(), stream(7, 'outbound', 'net', 4).next());
  });

  it('expands patterns with digits of their classes', () => {
    const r = stream(3, 'numbers');
    for (let i = 0; i < 200; i++) {
      assert.match(expandNumber('_0108888XXXX', r), /^0108888\d{4}$/);
      assert.match(expandNumber('_1[3-5]ZN', r), /^1[3-5][1-9][2-9]$/);
      assert.match(expandNumber('_[137-9]#*', r), /^[137-9]#\*$/);
    }
    assert.equal(expandNumber('95588', r), '95588');
    assert.equal(numberSourceError('_010XXXXXXXX'), undefined);
    assert.match(numberSourceError('_01[5-2]') ?? '', /runs backwards/);
    assert.match(numberSourceError('_01!') ?? '', /fixed length/);
  });

  it('draws outcomes by weight, never one of weight 0', () => {
    const r = stream(9, 'mix');
    const counts: Record<string, number> = { answer: 0, busy: 0, congestion: 0 };
    const table = [
      ['answer', 6],
      ['busy', 3],
      ['congestion', 1],
      ['no_answer', 0],
    ] as const;
    for (let i = 0; i < 10_000; i++) {
      const key = weighted(table, r);
      counts[key] = (counts[key] ?? 0) + 1;
    }
    assert.equal(counts.no_answer, undefined);
    assert.ok(
      (counts.answer ?? 0) > (counts.busy ?? 0) && (counts.busy ?? 0) > (counts.congestion ?? 0),
    );
  });
});

describe('carrier spans for dahdi_cfg', () => {
  it('renders CCS with a D-channel for PRI and CAS for MFC-R2, in DAHDI channel numbers', () => {
    const board = [1, 2, 3, 4].map((span) => ({
      span,
      type: 'E1' as const,
      basechan: 31 * (span - 1) + 1,
      channels: 31,
    }));
    const s = validateScenario({ trunks: CARRIER_TRUNKS });
    assert.deepEqual(
      renderSpanConfs(s.engine.trunks, board).map((c) => [
        c.span,
        c.channels,
        c.conf.split('\n').slice(1, -1),
      ]),
      [
        [2, '32-62', ['span=2,0,0,ccs,hdb3,crc4', 'bchan=32-46,48-62', 'hardhdlc=47']],
        [4, '94-124', ['span=4,0,0,cas,hdb3', 'cas=94-108,110-124:1101']],
      ],
    );
  });
});

// ---- the carrier's decisions against a scripted engine ---------------------------------------

/** An engine that records commands and plays the switch's side by injected events. */
class ScriptedEngine implements CarrierEngine {
  readonly commands: EngineCommand[] = [];
  #call = 100;
  #play = 1;
  constructor(readonly emit: (events: EngineEvent[]) => void) {}
  start(): void {}
  stop(): EngineEvent[] {
    return [];
  }
  command(cmd: EngineCommand) {
    this.commands.push(cmd);
    if (cmd.op === 'place') return { call: this.#call++ };
    if (cmd.op === 'sendDtmf' || cmd.op === 'play') return { play: this.#play++ };
    return {};
  }
  snapshot(): EngineSnapshot {
    return {
      trunks: [
        {
          name: 'net',
          signalling: 'pri_net',
          spans: [2],
          protocolErrors: 0,
          links: [{ span: 2, kind: 'dchannel', state: 'up' }],
          channels: [{ span: 2, channel: 1, dahdiChannel: 32, state: 'idle' }],
          calls: [],
        },
      ],
      traces: [],
    } as unknown as EngineSnapshot;
  }
  ops(): string[] {
    return this.commands.map((c) =>
      c.op === 'release'
        ? `release ${c.cause}`
        : c.op === 'sendDtmf'
          ? `dtmf ${c.digits}`
          : c.op === 'play'
            ? `play ${c.files.map((f) => basename(f)).join(' ')}`
            : c.op,
    );
  }
}

function event(e: Record<string, unknown>): EngineEvent {
  return { trunk: 'net', time: 0, span: 2, channel: 1, ...e } as unknown as EngineEvent;
}

describe('carrier decisions (scripted engine, mocked clock)', () => {
  const running: Carrier[] = [];
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'] }));
  afterEach(async () => {
    // Nothing waits for the switch to confirm (clearMs 0): the flows end, the process can exit.
    await Promise.all(running.splice(0).map((c) => c.stop(0)));
    mock.timers.reset();
  });

  /** Moves the mocked clock on in 10 ms steps, letting the flows' promises run in between. */
  async function advance(ms: number): Promise<void> {
    for (let t = 0; t < ms; t += 10) {
      mock.timers.tick(10);
      await new Promise((ok) => setImmediate(ok));
    }
  }

  /** A started carrier on a scripted engine; its greetings are rendered into the test's work dir. */
  async function carrier(scenario: Scenario, logFile?: string) {
    let engine: ScriptedEngine | undefined;
    const records: CarrierRecord[] = [];
    const c = new Carrier(scenario, {
      engine: (emit) => {
        engine = new ScriptedEngine(emit);
        return engine;
      },
      onRecord: (r) => records.push(r),
      workDir,
      ...(logFile ? { logFile } : {}),
      log: { debug() {}, info() {}, warn() {}, error() {} } as never,
    });
    await c.start();
    running.push(c);
    return { c, engine: engine as ScriptedEngine, records };
  }

  it('answers after the ring time, presses the digits in steps, hangs up after the hold time but not before the digits', async () => {
    const { engine, records } = await carrier(
      validateScenario({
        trunks: [PRI],
        outbound: {
          // A person who says nothing: the digits alone (greetings have tests of their own).
          greetings: { human: null },
          ringSeconds: { min: 2, max: 2 },
          holdSeconds: { min: 1, max: 1 },
          digits: [
            { afterSeconds: 1, press: '12' },
            { afterSeconds: 1, press: '#' },
          ],
        },
      }),
    );
    engine.emit([event({ event: 'offered', call: 7, called: '95588', calling: '1' })]);
    assert.deepEqual(engine.ops(), ['accept', 'alert']);
    mock.timers.tick(2000);
    assert.deepEqual(engine.ops().slice(2), ['answer']);
    engine.emit([event({ event: 'answered', call: 7 })]);
    mock.timers.tick(1000);
    // The hold time is up, but the digits are not pressed yet: the first step goes out.
    assert.deepEqual(engine.ops().slice(3), ['dtmf 12']);
    engine.emit([
      event({ event: 'playDone', call: 7, play: 1, kind: 'dtmf', reason: 'done', playedMs: 400 }),
    ]);
    mock.timers.tick(1000);
    assert.deepEqual(engine.ops().slice(4), ['dtmf #']);
    engine.emit([
      event({ event: 'playDone', call: 7, play: 2, kind: 'dtmf', reason: 'done', playedMs: 200 }),
    ]);
    assert.deepEqual(engine.ops().slice(5), ['release 16']);
    engine.emit([
      event({ event: 'released', call: 7, cause: 16, causeName: 'NORMAL_CLEARING', by: 'local' }),
    ]);
    assert.deepEqual(
      records.map((r) => [r.direction, r.planned, r.outcome, r.digits, r.releasedBy, r.billableMs]),
      [['outbound', 'answer', 'answer', '12#', 'carrier', 2000]],
    );
  });

  it('refuses per number: busy 17, invalid 1 (and restarts the PRI B-channel libpri leaves seized), congestion 34', async () => {
    const { engine, records } = await carrier(
      validateScenario({
        trunks: [PRI],
        outbound: {
          numbers: [
            { number: '_17', outcome: 'busy' },
            { number: '1', outcome: 'invalid_number' },
            { number: '34', outcome: 'congestion' },
          ],
        },
      }),
    );
    engine.emit([event({ event: 'offered', call: 1, called: '17', calling: '' })]);
    engine.emit([
      event({ event: 'released', call: 1, cause: 17, causeName: 'USER_BUSY', by: 'local' }),
    ]);
    engine.emit([event({ event: 'offered', call: 2, called: '1', calling: '' })]);
    engine.emit([event({ event: 'offered', call: 3, called: '34', calling: '' })]);
    assert.deepEqual(engine.ops(), ['release 17', 'release 1', 'reset', 'release 34', 'reset']);
    assert.deepEqual(
      records.map((r) => [r.called, r.outcome, r.cause]),
      [
        ['17', 'busy', 17],
        ['1', 'invalid_number', 1],
        ['34', 'congestion', 34],
      ],
    );
  });

  it('the same seed plans the same outcomes for the same calls; another seed does not', async () => {
    const plan = async (seed: number) => {
      const { engine, records } = await carrier(
        validateScenario({
          seed,
          trunks: [PRI],
          outbound: { mix: { answer: 1, busy: 1, invalid_number: 1, congestion: 1, no_answer: 1 } },
        }),
      );
      for (let call = 1; call <= 40; call++) {
        engine.emit([event({ event: 'offered', call, called: '123', calling: '' })]);
        engine.emit([
          event({ event: 'released', call, cause: 16, causeName: 'NORMAL_CLEARING', by: 'remote' }),
        ]);
      }
      return records.map((r) => r.planned);
    };
    const first = await plan(123);
    assert.equal(first.length, 40);
    assert.deepEqual(await plan(123), first);
    assert.notDeepEqual(await plan(124), first);
    assert.deepEqual(new Set(first), new Set(OUTCOMES));
  });

  it('places exactly `total` calls, one at a time under `concurrent`, and a caller gives up after its patience', async () => {
    const { c, engine, records } = await carrier(
      validateScenario({
        trunks: [PRI],
        inbound: {
          rate: 60,
          arrival: 'uniform',
          total: 3,
          concurrent: 1,
          called: { numbers: ['100', '200'] },
          abandon: { afterSeconds: { min: 5, max: 5 } },
        },
      }),
    );
    const places = () => engine.commands.filter((x) => x.op === 'place');
    await advance(LINK_SETTLE_MS + 1000);
    assert.equal(places().length, 1);
    await advance(4000);
    assert.equal(places().length, 1, 'the cap holds the next call back');
    await advance(1000);
    assert.deepEqual(engine.ops().slice(-1), ['release 16']);
    engine.emit([
      event({ event: 'released', call: 100, cause: 16, causeName: 'NORMAL_CLEARING', by: 'local' }),
    ]);
    for (const call of [101, 102]) {
      await advance(1000);
      engine.emit([event({ event: 'answered', call })]);
      engine.emit([
        event({ event: 'released', call, cause: 16, causeName: 'NORMAL_CLEARING', by: 'remote' }),
      ]);
    }
    await advance(60_000);
    assert.deepEqual(
      places().map((p) => (p as { called: string }).called),
      ['100', '200', '100'],
    );
    assert.deepEqual(
      records.map((r) => [r.seq, r.outcome, r.releasedBy]),
      [
        [0, 'abandoned', 'carrier'],
        [1, 'answer', 'switch'],
        [2, 'answer', 'switch'],
      ],
    );
    assert.equal(c.stats().inboundDone, true);
  });

  it('a call cleared in the middle of its DTMF logs the digits whose tone went out in full', async () => {
    const { engine, records } = await carrier(
      validateScenario({
        trunks: [PRI],
        outbound: {
          greetings: { human: null },
          ringSeconds: { min: 0, max: 0 },
          digits: [{ afterSeconds: 0, press: '1234', onMs: 100, offMs: 100 }],
        },
      }),
    );
    engine.emit([event({ event: 'offered', call: 5, called: '1', calling: '' })]);
    mock.timers.tick(0);
    engine.emit([event({ event: 'answered', call: 5 })]);
    mock.timers.tick(0);
    assert.deepEqual(engine.ops().slice(-1), ['dtmf 1234']);
    engine.emit([
      event({ event: 'released', call: 5, cause: 16, causeName: 'NORMAL_CLEARING', by: 'remote' }),
    ]);
    assert.equal(records.length, 0, 'the record waits for the playback to end');
    // Two digits and the pause after them (400 ms), and half of the third tone.
    engine.emit([
      event({
        event: 'playDone',
        call: 5,
        play: 1,
        kind: 'dtmf',
        reason: 'released',
        playedMs: 450,
      }),
    ]);
    assert.deepEqual(
      records.map((r) => [r.outcome, r.digits]),
      [['answer', '12']],
    );
  });

  it('a person answers: "Hello?" after GREETING_AFTER_MS, a key that fell due meanwhile after it, all in the record', async () => {
    const { engine, records } = await carrier(
      validateScenario({
        trunks: [PRI],
        outbound: {
          ringSeconds: { min: 0, max: 0 },
          digits: [{ afterSeconds: 0.2, press: '#' }],
          numbers: [{ number: '200', answeredBy: 'human', greeting: 'Yes, speaking.' }],
        },
      }),
    );
    engine.emit([event({ event: 'offered', call: 7, called: '100', calling: '' })]);
    mock.timers.tick(0);
    engine.emit([event({ event: 'answered', call: 7 })]);
    mock.timers.tick(200);
    assert.deepEqual(engine.ops(), ['accept', 'alert', 'answer'], 'the key waits for the greeting');
    mock.timers.tick(GREETING_AFTER_MS - 200);
    const hello = engine.ops().at(-1) as string;
    assert.match(hello, /^play [0-9a-f]{64}\.wav$/);
    engine.emit([
      event({ event: 'playDone', call: 7, play: 1, kind: 'prompt', reason: 'done', playedMs: 807 }),
    ]);
    assert.deepEqual(engine.ops().slice(4), ['dtmf #']);
    engine.emit([
      event({ event: 'playDone', call: 7, play: 2, kind: 'dtmf', reason: 'done', playedMs: 200 }),
      event({ event: 'released', call: 7, cause: 16, causeName: 'NORMAL_CLEARING', by: 'remote' }),
    ]);
    // Another number's own greeting is another file.
    engine.emit([event({ event: 'offered', call: 8, called: '200', calling: '' })]);
    mock.timers.tick(0);
    engine.emit([event({ event: 'answered', call: 8 })]);
    mock.timers.tick(GREETING_AFTER_MS);
    assert.match(engine.ops().at(-1) as string, /^play [0-9a-f]{64}\.wav$/);
    assert.notEqual(engine.ops().at(-1), hello);
    assert.deepEqual(
      records.map((r) => [r.planned, r.answeredBy, r.greeting, r.digits, r.releasedBy, r.outcome]),
      [
        [
          'answer',
          'human',
          { text: DEFAULT_HUMAN_GREETING, beep: false, playedMs: 807, complete: true },
          '#',
          'switch',
          'answer',
        ],
      ],
    );
  });

  it('an answering machine: greeting and beep back to back, no keys, and a switch hanging up mid-greeting is logged with what was played', async () => {
    const { c, engine, records } = await carrier(
      validateScenario({
        trunks: [PRI],
        outbound: {
          mix: { machine: 1 },
          ringSeconds: { min: 0, max: 0 },
          // The mix-level digits are a person's: a machine presses none.
          digits: [{ afterSeconds: 0, press: '1' }],
        },
      }),
    );
    engine.emit([event({ event: 'offered', call: 9, called: '100', calling: '' })]);
    mock.timers.tick(0);
    engine.emit([event({ event: 'answered', call: 9 })]);
    mock.timers.tick(GREETING_AFTER_MS);
    assert.match(engine.ops().at(-1) as string, /^play [0-9a-f]{64}\.wav beep-1000hz-600ms\.wav$/);
    mock.timers.tick(5000);
    assert.equal(engine.ops().filter((o) => o.startsWith('dtmf')).length, 0);
    engine.emit([
      event({ event: 'released', call: 9, cause: 16, causeName: 'NORMAL_CLEARING', by: 'remote' }),
    ]);
    assert.equal(records.length, 0, 'the record waits for the end of the greeting');
    engine.emit([
      event({
        event: 'playDone',
        call: 9,
        play: 1,
        kind: 'prompt',
        reason: 'released',
        playedMs: 3000,
      }),
    ]);
    assert.deepEqual(
      records.map((r) => [r.planned, r.answeredBy, r.greeting, r.digits, r.releasedBy]),
      [
        [
          'answer',
          'machine',
          { text: DEFAULT_MACHINE_GREETING, beep: true, playedMs: 3000, complete: false },
          '',
          'switch',
        ],
      ],
    );
    assert.deepEqual(c.stats().outbound.answeredBy, { human: 0, machine: 1 });
  });

  it('the mix draws people, machines and refusals by share, the same for the same seed', async () => {
    const plan = async (seed: number) => {
      const { engine, records } = await carrier(
        validateScenario({
          seed,
          trunks: [PRI],
          outbound: { mix: { answer: 1, machine: 1, busy: 1 } },
        }),
      );
      for (let call = 1; call <= 30; call++) {
        engine.emit([event({ event: 'offered', call, called: '123', calling: '' })]);
        engine.emit([
          event({ event: 'released', call, cause: 16, causeName: 'NORMAL_CLEARING', by: 'remote' }),
        ]);
      }
      return records.map((r) => `${r.planned}:${r.answeredBy ?? '-'}`);
    };
    const first = await plan(5);
    assert.equal(first.length, 30);
    assert.deepEqual(await plan(5), first);
    assert.deepEqual(new Set(first), new Set(['answer:human', 'answer:machine', 'busy:-']));
  });

  it('writes the log it is read back from: one JSON line per attempt, and names a line that is not one', async () => {
    const file = join(workDir, `log-${process.pid}.jsonl`);
    writeFileSync(file, '');
    const { engine, records } = await carrier(
      validateScenario({
        trunks: [PRI],
        outbound: { numbers: [{ number: '17', outcome: 'busy' }] },
      }),
      file,
    );
    engine.emit([event({ event: 'offered', call: 1, called: '17', calling: '555' })]);
    engine.emit([
      event({ event: 'released', call: 1, cause: 17, causeName: 'USER_BUSY', by: 'local' }),
    ]);
    engine.emit([event({ event: 'offered', call: 2, called: '18', calling: '555' })]);
    engine.emit([
      event({ event: 'released', call: 2, cause: 16, causeName: 'NORMAL_CLEARING', by: 'remote' }),
    ]);
    const read = readCarrierLog(file);
    assert.deepEqual(read, records);
    assert.deepEqual(
      read.map((r) => [
        r.called,
        r.rule,
        r.planned,
        r.answeredBy,
        r.outcome,
        r.cause,
        r.releasedBy,
      ]),
      [
        ['17', '17', 'busy', undefined, 'busy', 17, 'carrier'],
        ['18', undefined, 'answer', 'human', 'abandoned', 16, 'switch'],
      ],
    );
    writeFileSync(file, `${readFileSync(file, 'utf8')}not json\n`);
    assert.throws(
      () => readCarrierLog(file),
      (err: unknown) => isSwitchboardError(err, 'E_CARRIER_LOG') && /line 3 /.test(err.message),
    );
    assert.deepEqual(readCarrierLog(join(workDir, 'no-such-log.jsonl')), []);
    rmSync(file, { force: true });
  });

  it('refuses a greeting voice espeak-ng does not have, naming the field', async () => {
    await assert.rejects(
      carrier(
        validateScenario({ trunks: [PRI], outbound: { greetings: { voice: 'xx-nowhere' } } }),
      ),
      (err: unknown) =>
        isSwitchboardError(err, 'E_CONFIG_FIELD') &&
        (err.details as { path: string }[])[0]?.path === 'outbound.greetings.voice',
    );
  });
});
