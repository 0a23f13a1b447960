// SPDX-License-Identifier: GPL-2.0-or-later
// The command line: --help of every command names its options; errors are one line, no stack.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { usageError } from '../src/cli/command.ts';
import { commands } from '../src/cli/main.ts';
import { formatChannels } from '../src/cli/sim.ts';
import type { SimSpanStatus } from '../src/sim/client.ts';
import { runCli } from './helpers/cli.ts';

const launcher = fileURLToPath(new URL('../bin/switchboard.mjs', import.meta.url));

const run = runCli;

describe('cli', () => {
  it('lists every command in the top-level help', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const { code, out } = await run(...argv);
      assert.equal(code, 0);
      for (const cmd of commands) assert.ok(out.includes(cmd.name), `top help names ${cmd.name}`);
    }
  });

  it('lists the firmware commands in `firmware --help`, with the environment they read', async () => {
    const { code, out } = await run('firmware', '--help');
    assert.equal(code, 0);
    for (const sub of ['status', 'verify', 'install', 'mark-good'])
      assert.match(out, new RegExp(`^  firmware ${sub} `, 'm'));
    assert.match(out, /SWITCHBOARD_RAUC/);
    assert.match(out, /SWITCHBOARD_KEYRING/);
  });

  it('lists the sim commands in `sim --help`', async () => {
    const { code, out } = await run('sim', '--help');
    assert.equal(code, 0);
    for (const sub of ['up', 'down', 'status', 'cable', 'uncable', 'fault', 'run'])
      assert.match(out, new RegExp(`^  sim ${sub} `, 'm'));
  });

  for (const cmd of commands) {
    it(`\`${cmd.name} --help\` exits 0 and explains every option`, async () => {
      const { code, out, err } = await run(...cmd.name.split(' '), '--help');
      assert.equal(code, 0);
      assert.equal(err, '');
      assert.ok(out.startsWith(`Usage: switchboard ${cmd.name} `));
      for (const [name, spec] of Object.entries(cmd.options)) {
        const line = out.split('\n').find((l) => l.includes(`--${name}`));
        assert.ok(line, `help of ${cmd.name} names --${name}`);
        assert.ok(line.includes(spec.help), `help of ${cmd.name} explains --${name}`);
      }
      assert.match(out, /--help\s+show this help/);
    });
  }

  it('documents the options the brief promises', async () => {
    const expect: Record<string, string[]> = {
      start: [
        '--sim-config FILE',
        '--port N',
        '--data-dir DIR',
        '--config FILE',
        '--carrier FILE',
        '--no-carrier',
        '--board-model ID',
        '--board-serial PATH',
      ],
      'sim up': ['--config FILE', '--dir DIR'],
      'sim status': ['--json', '--channels SPAN'],
      'sim fault': ['los', 'ais', 'rai', 'errors RATE', 'slip PPM', 'clear'],
      'sim run': ['CMD', 'ARGS'],
      'prompts import': ['SOURCE NAME', '--dir DIR', '--format FORMAT'],
      'prompts tts': ['--cache DIR', '--voice VOICE', '--voices'],
      'prompts say': ['KIND VALUE', '--lang LANG'],
      bench: ['NAME'],
      carrier: ['--scenario FILE', '--sim-dir DIR', '--log FILE', '--keep-spans'],
      'config check': ['FILE'],
      'board check': ['FILE'],
      'board sim-mcu': ['--device PATH', '--pty LINK', '--model ID', 'silent', 'garble N'],
      'config import-asterisk': ['--system-conf FILE', '--chan-dahdi FILE'],
      'firmware status': ['--json'],
      'firmware verify': ['FILE', '--keyring FILE'],
      'firmware install': ['FILE', '--keyring FILE'],
      'firmware mark-good': ['--url URL', '--timeout-s N', '--unit UNIT'],
      'image build': ['--version V', '--out DIR', '--no-bundle', 'SWITCHBOARD_SIGNING_KEY'],
    };
    for (const [name, words] of Object.entries(expect)) {
      const { out } = await run(...name.split(' '), '--help');
      for (const w of words) assert.ok(out.includes(w), `${name} --help mentions ${w}`);
    }
  });

  it('rejects wrong usage with exit 2 and a pointer to --help', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['frobnicate'],
        /^error: unknown command "frobnicate"; commands: start, sim, carrier, config, prompts, board, firmware, bench, image/,
      ],
      [['sim', 'explode'], /^error: unknown sim command "explode"/],
      [['prompts', 'explode'], /^error: unknown prompts command "explode"/],
      [
        ['prompts', 'say', 'weight', '5'],
        /^error: KIND "weight" is not one of number, digits, date, time/,
      ],
      [
        ['sim', 'up', '--bogus'],
        /^error: Unknown option '--bogus'.*see `switchboard sim up --help`/,
      ],
      [['sim', 'cable', '1'], /^error: missing argument: expected SPAN_A SPAN_B/],
      [['sim', 'cable', '1', 'two'], /^error: SPAN_B must be a whole number/],
      [['sim', 'fault', '1', 'fire'], /^error: unknown fault "fire"/],
      [['sim', 'fault', '1', 'los', 'now'], /^error: los takes no value/],
      [['sim', 'fault', '1', 'errors', '2'], /^error: RATE is a bit error rate from 0 to 1/],
      [['sim', 'fault', '1', 'slip'], /^error: PPM must be a number/],
      [['sim', 'status', '--channels', 'six'], /^error: --channels must be a whole number/],
      [['start', '--port', '70000'], /^error: --port must be a whole number from 1 to 65535/],
      [['bench'], /^error: missing NAME; known benches:/],
    ];
    for (const [argv, message] of cases) {
      const { code, err } = await run(...argv);
      assert.equal(code, 2, `exit code of ${argv.join(' ')}`);
      assert.match(err, message);
    }
  });

  it('checks a configuration file offline, naming each refused field', async () => {
    const good = await run('config', 'check', 'board/config/demo.yaml');
    assert.equal(good.code, 0);
    assert.match(good.out, /valid \(2 spans, 2 trunks, 6 routes\)/);
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'spans:\n  - { span: 1, framing: esf, coding: hdb3, timing: 1 }\ntrunkGroups:\n  - { name: g, trunks: [nope], hunt: sequential }\n',
    );
    const bad = await run('config', 'check', file);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /spans\[0\]\.framing: an E1 span is framed "ccs" or "cas", not "esf"/);
    assert.match(bad.out, /trunkGroups\[0\]\.trunks\[0\]: no trunk is named "nope"/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('with no command prints the help on stderr and exits 2', async () => {
    const { code, out, err } = await run();
    assert.equal(code, 2);
    assert.equal(out, '');
    assert.match(err, /^Usage: switchboard COMMAND/);
  });

  it('says which simulator is missing instead of failing obscurely', async () => {
    const { code, err } = await run('sim', 'status', '--dir', '/nonexistent/sim');
    assert.equal(code, 1);
    assert.equal(
      err,
      'error: no simulator is running in /nonexistent/sim (start one with `switchboard sim up`)\n',
    );
  });

  it('prints the channels of a span, hook state for analog ports, CAS bits for E1/T1', () => {
    const chan = {
      channel: 1,
      chanpos: 1,
      sig: 0,
      open: false,
      rxbits: -1,
      txbits: 0,
      offhook: false,
      ringing: false,
      blocksize: 0,
      numbufs: 0,
      rxQueued: 0,
      txQueued: 0,
      eventsQueued: 0,
      rxOverruns: 0,
      txUnderruns: 0,
      waker: -1,
      confno: 0,
      confmode: 0,
    };
    const span = {
      span: 6,
      name: 'SIM/ANALOG/6',
      type: 'analog',
      channels: 2,
      basechan: 149,
    } as SimSpanStatus;
    assert.equal(
      formatChannels(span, [
        {
          ...chan,
          channel: 149,
          chanpos: 1,
          sig: 0x1020,
          open: true,
          offhook: true,
          numbufs: 2,
          blocksize: 8,
        },
        { ...chan, channel: 150, chanpos: 2, sig: 0x1008, numbufs: 4, ringing: true },
      ]).replace(/ +$/gm, ''),
      [
        'span 6 SIM/ANALOG/6 (analog, channels 149-150)',
        'chan  pos  open  sig    bufs  rxq  txq  events  overruns  underruns  hook  ring',
        '149   1    yes   FXOKS  2x8   0    0    0       0         0          off   -',
        '150   2    no    FXOLS  -     0    0    0       0         0          on    ringing',
        '',
      ].join('\n'),
    );
    const e1 = { ...span, span: 1, name: 'SIM/E1/1', type: 'E1', basechan: 1 } as SimSpanStatus;
    const out = formatChannels(e1, [
      {
        ...chan,
        sig: 1 << 15,
        open: true,
        numbufs: 4,
        blocksize: 160,
        rxQueued: 2,
        rxbits: 0b1001,
        txbits: 0b1101,
        rxOverruns: 7,
      },
      { ...chan, channel: 2, chanpos: 2, sig: -(2 ** 31) },
    ]);
    assert.deepEqual(out.split('\n').slice(1, 4), [
      'chan  pos  open  sig     bufs   rxq  txq  events  overruns  underruns  rxABCD  txABCD',
      '1     1    yes   CAS     4x160  2    0    0       7         0          1001    1101',
      '2     2    no    BROKEN  -      0    0    0       0         0          -       0000',
    ]);
  });

  it('usageError points at the right help', () => {
    assert.match(usageError('', 'x').message, /\(see `switchboard --help`\)$/);
    assert.match(usageError('sim', 'x').message, /\(see `switchboard sim --help`\)$/);
  });

  it('the launcher runs the CLI: --help works, an unknown bench is one clear line', () => {
    const help = spawnSync(process.execPath, [launcher, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: switchboard COMMAND/);

    const bench = spawnSync(process.execPath, [launcher, 'bench', 'no-such-bench'], {
      encoding: 'utf8',
    });
    assert.equal(bench.status, 1);
    assert.match(bench.stderr, /^error: unknown bench "no-such-bench"; known benches: .+\n$/);
    assert.doesNotMatch(bench.stderr, /^\s+at /m, 'no stack trace');
  });
});
