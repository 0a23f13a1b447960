// SPDX-License-Identifier: GPL-2.0-or-later
// importSystemConf: Debian's system.conf.sample as shipped and uncommented, boards, and bad input.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { type ImportIssue, importSystemConf, placeChannel } from '../src/config/import-dahdi.ts';
import { validateConfig } from '../src/config/validate.ts';
import { isSwitchboardError } from '../src/core/errors.ts';
import type { BoardSpans } from '../src/trunks/validate.ts';

/** Shipped by Debian's dahdi package (the test environment installs it for dahdi_cfg). */
const SAMPLE = '/usr/share/doc/dahdi/examples/system.conf.sample';

/** The sample's example lines that configure spans and channels: "#keyword=..." with no space. */
const EXAMPLE_LINE =
  /^#((span|bchan|dchan|hardhdlc|cas|fxoks|fxols|fxsks|fxsls|fxogs|fxsgs|e&m|e&me1|clear|unused|rawhdlc|nethdlc|fcshdlc|mtp2|dacs|dacsrbs|alaw|mulaw|deflaw|echocanceller)=.*)$/;

function board(spans: [number, 'E1' | 'T1' | 'analog', number][]): BoardSpans {
  const m = new Map(spans.map(([n, type, channels]) => [n, { type, channels }]));
  return { get: (n) => m.get(n) };
}

/** line -> text of each issue, and each reason checked against a pattern. */
function expectIssues(
  got: ImportIssue[],
  want: [number, string, RegExp][],
  file = 'system.conf',
): void {
  assert.deepEqual(
    got.map((i) => [i.line, i.text]),
    want.map(([line, text]) => [line, text]),
  );
  got.forEach((issue, k) => {
    const [, , reason] = want[k] as [number, string, RegExp];
    assert.match(issue.reason, reason, `line ${issue.line}`);
    assert.equal(issue.file, file);
  });
}

describe('importSystemConf on Debian system.conf.sample', {
  skip: !existsSync(SAMPLE) && `${SAMPLE} is missing: install Debian's dahdi package`,
}, () => {
  const shipped = existsSync(SAMPLE) ? readFileSync(SAMPLE, 'utf8') : '';

  it('as shipped yields the tone zone and nothing else: every example is commented out', () => {
    const r = importSystemConf(shipped);
    assert.deepEqual(r.config, { spans: [], system: { toneZone: 'us' } });
    assert.deepEqual(r.layout, []);
    assert.deepEqual(r.unsupported, []);
    assert.deepEqual(r.notes, ['no span= line: no E1/T1 span is configured']);
    validateConfig(r.config);
  });

  it('with its span and channel examples uncommented: spans, channels and every refusal by line', () => {
    const lines = shipped.split('\n');
    const uncommented: number[] = [];
    const variant = lines
      .map((l, i) => {
        if (!EXAMPLE_LINE.test(l)) return l;
        uncommented.push(i + 1);
        return l.replace(EXAMPLE_LINE, '$1');
      })
      .join('\n');
    // The examples the variant turns on (if Debian changes the sample, this says how).
    assert.deepEqual(
      uncommented,
      [
        67, 68, 69, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 296, 297,
        301, 302, 322, 325,
      ],
    );
    const r = importSystemConf(variant);
    assert.deepEqual(r.config.spans, [
      { span: 1, type: 'T1', framing: 'esf', coding: 'b8zs', timing: 0 },
      { span: 2, type: 'T1', framing: 'esf', coding: 'b8zs', timing: 1 },
      { span: 3, type: 'E1', framing: 'ccs', coding: 'hdb3', timing: 0, crc4: true },
    ]);
    assert.deepEqual(r.config.system, { toneZone: 'us' });
    // Channels 1-24 on span 1, 25-48 on span 2, 49-79 on span 3 (T1, T1, E1).
    assert.deepEqual(
      r.layout.map((s) => [s.span, s.type, s.firstChannel, s.channels, s.source]),
      [
        [1, 'T1', 1, 24, 'span line'],
        [2, 'T1', 25, 24, 'span line'],
        [3, 'E1', 49, 31, 'span line'],
      ],
    );
    const [t1a, t1b, e1] = r.layout as [
      (typeof r.layout)[0],
      (typeof r.layout)[0],
      (typeof r.layout)[0],
    ];
    // fxoks=1-24 lands on T1 timeslots: kept in the layout, but not usable (a channel bank).
    assert.equal(t1a.timeslots.length, 24);
    assert.ok(t1a.timeslots.every((t) => t.function === 'fxoks' && !t.supported && t.line === 180));
    // The alaw/mulaw/deflaw and echocanceller lines leave their marks on channels 1-10.
    assert.deepEqual(
      t1a.timeslots.slice(0, 10).map((t) => [t.timeslot, t.law, t.echoCanceller]),
      [
        [1, 'mulaw', 'mg2'],
        [2, 'mulaw', 'kb1'],
        [3, 'mulaw', 'mg2'],
        [4, 'mulaw', 'mg2'],
        [5, undefined, 'mg2'],
        [6, 'mulaw', 'mg2'],
        [7, 'mulaw', 'mg2'],
        [8, 'mulaw', 'mg2'],
        [9, 'mulaw', undefined],
        [10, 'mulaw', undefined],
      ],
    );
    // bchan=25-47, dchan=48: a T1 PRI layout on span 2.
    assert.deepEqual(
      t1b.timeslots.map((t) => [t.timeslot, t.function, t.supported]),
      [...Array.from({ length: 23 }, (_, k) => [k + 1, 'bchan', true]), [24, 'dchan', true]],
    );
    assert.deepEqual(e1.timeslots, []);
    assert.deepEqual(r.notes, ['span 3 (E1, channels 49-79): no channel is configured']);
    expectIssues(r.unsupported, [
      [180, 'fxoks=1-24', /^channels 1-24: analog signalling over T1 .*channel bank/],
      [183, 'fxols=1-12', /^channels 1-12 are already configured as fxoks at line 180$/],
      [184, 'fxols=13-24', /^channels 13-24 are already configured as fxoks at line 180$/],
      [185, 'e&m=25-29', /^channels 25-29 are already configured as bchan at line 181$/],
      [186, 'nethdlc=30-33', /^channels 30-33 are already configured as bchan at line 181$/],
      [187, 'clear=44', /^channel 44 is already configured as bchan at line 181$/],
      [188, 'clear=45', /^channel 45 is already configured as bchan at line 181$/],
      [189, 'clear=46', /^channel 46 is already configured as bchan at line 181$/],
      [190, 'clear=47', /^channel 47 is already configured as bchan at line 181$/],
      [191, 'fcshdlc=48', /^channel 48 is already configured as dchan at line 182$/],
      [192, 'dacs=1-24:48', /^channels 1-24 are already configured as fxoks at line 180$/],
      [193, 'dacsrbs=1-24:48', /^channels 1-24 are already configured as fxoks at line 180$/],
      [297, 'alaw=1-4', /^channels 1-4: alaw on a T1 span: .*keeps its standard mu-law$/],
      [322, 'echocanceller=mg2,1-8', /^echo canceller mg2 on channels 1-8: /],
      [325, 'echocanceller=kb1,2', /^echo canceller kb1 on channel 2: /],
    ]);
    validateConfig(r.config);
  });
});

describe('importSystemConf: channel numbers to spans and timeslots', () => {
  const text = [
    'span=1,1,0,ccs,hdb3,crc4', // 1
    'span=3,0,0,esf,b8zs', // 2
    'bchan=1-15,17-31', // 3
    'hardhdlc=16', // 4
    'fxoks=32-33', // 5
    'fxsks=34-35', // 6
    'bchan=36-58', // 7
    'dchan=59', // 8
  ].join('\n');

  it('with the board, an analog card between two E1/T1 spans takes its place in the numbering', () => {
    const r = importSystemConf(text, {
      board: board([
        [1, 'E1', 31],
        [2, 'analog', 4],
        [3, 'T1', 24],
      ]),
    });
    assert.deepEqual(r.unsupported, []);
    assert.deepEqual(
      r.layout.map((s) => [s.span, s.type, s.firstChannel, s.channels, s.source]),
      [
        [1, 'E1', 1, 31, 'board'],
        [2, 'analog', 32, 4, 'board'],
        [3, 'T1', 36, 24, 'board'],
      ],
    );
    assert.deepEqual(
      r.layout[1]?.timeslots.map((t) => [t.channel, t.timeslot, t.function]),
      [
        [32, 1, 'fxoks'],
        [33, 2, 'fxoks'],
        [34, 3, 'fxsks'],
        [35, 4, 'fxsks'],
      ],
    );
    const at = placeChannel(r.layout, 59);
    assert.deepEqual([at?.layout.span, at?.timeslot], [3, 24]);
    assert.deepEqual(
      r.config.spans?.map((s) => s.span),
      [1, 3],
    );
    validateConfig(r.config);
  });

  it('without the board, channels after an undescribed span are reported, not guessed', () => {
    const r = importSystemConf(text);
    expectIssues(r.unsupported, [
      [
        5,
        'fxoks=32-33',
        /^channels 32-33 are not on any span \(the known spans hold channels 1-31/,
      ],
      [6, 'fxsks=34-35', /^channels 34-35 are not on any span/],
      [7, 'bchan=36-58', /^channels 36-58 are not on any span/],
      [8, 'dchan=59', /^channel 59 is not on any span/],
    ]);
    assert.match(r.notes[0] ?? '', /^span 3 follows span 2, which system.conf does not describe/);
  });

  it('without the board, analog channels after the last span are taken as one analog card, said so', () => {
    const r = importSystemConf(
      'span=1,1,0,ccs,hdb3,crc4\nbchan=1-15,17-31\ndchan=16\nfxoks=32-35\nfxsks=36\n',
    );
    assert.deepEqual(r.unsupported, []);
    assert.deepEqual(
      r.layout.map((s) => [s.span, s.type, s.firstChannel, s.channels, s.source]),
      [
        [1, 'E1', 1, 31, 'span line'],
        [2, 'analog', 32, 5, 'inferred'],
      ],
    );
    assert.match(r.notes[0] ?? '', /^channels 32-36 have analog signalling .* span 2, ports 1-5/);
  });

  it('refuses span lines that contradict the board', () => {
    const r = importSystemConf('span=1,1,0,esf,b8zs\nspan=2,0,0,ccs,hdb3\nspan=9,0,0,ccs,hdb3\n', {
      board: board([
        [1, 'E1', 31],
        [2, 'analog', 8],
      ]),
    });
    expectIssues(r.unsupported, [
      [1, 'span=1,1,0,esf,b8zs', /^span 1 is an E1 span on this board; esf framing is T1$/],
      [2, 'span=2,0,0,ccs,hdb3', /^span 2 is an analog card on this board/],
      [3, 'span=9,0,0,ccs,hdb3', /^span 9 is not on this board$/],
    ]);
    assert.deepEqual(r.config.spans, []);
  });

  it('keeps CAS spans for MFC-R2 and reports a D-channel where the ABCD bits run', () => {
    const r = importSystemConf('span=1,1,0,cas,hdb3\ncas=1-15:1101\ncas=17-31:1101\ndchan=16\n');
    assert.deepEqual(r.config.spans, [
      { span: 1, type: 'E1', framing: 'cas', coding: 'hdb3', timing: 1, crc4: false },
    ]);
    assert.equal(
      r.layout[0]?.timeslots.filter((t) => t.function === 'cas' && t.supported).length,
      30,
    );
    assert.equal(r.layout[0]?.timeslots[0]?.idleBits, '1101');
    expectIssues(r.unsupported, [
      [4, 'dchan=16', /span 1 is framed cas: its timeslot 16 carries the ABCD bits/],
    ]);
  });
});

describe('importSystemConf: bad input is reported by line, never a crash', () => {
  it('reports garbage, short span lines, backward ranges and channels on no span', () => {
    const text = [
      '# bad input', // 1
      'this line has no equals sign', // 2
      'span=1,1,0,ccs,hdb3,crc4', // 3
      'span=2,0,0,ccs', // 4
      'span=3,x,9,foo,bar', // 5
      'span=1,2,0,ccs,hdb3', // 6
      'bchan=31-17', // 7
      'bchan=1-15,17-31', // 8
      'dchan=16', // 9
      'bchan=40-45', // 10
      'cas=20-21', // 11
      'bchan=5,7-', // 12
      'frobnicate=1', // 13
      '=5', // 14
      'fxoks=', // 15
      'bchan=1', // 16
      'defaultzone=xx', // 17
      'span=4,0,0,esf,b8zs,crc4,yellow,nt', // 18
      'dynamic=eth,eth0/00:02:b3:35:43:9c,24,0', // 19
      'bchan=2000', // 20
    ].join('\r\n');
    const r = importSystemConf(text);
    expectIssues(r.unsupported, [
      [2, 'this line has no equals sign', /^syntax error: not keyword=value/],
      [
        4,
        'span=2,0,0,ccs',
        /^span= needs <span>,<timing>,<lbo>,<framing>,<coding>.*: found 4 fields$/,
      ],
      [
        5,
        'span=3,x,9,foo,bar',
        /^timing "x" is not 0..255; line build-out "9" is not 0..7; framing "foo" .*; coding "bar"/,
      ],
      [6, 'span=1,2,0,ccs,hdb3', /^span 1 is already configured at line 3$/],
      [7, 'bchan=31-17', /^range 31-17 runs backwards \(dahdi_cfg refuses it\)$/],
      [
        10,
        'bchan=40-45',
        /^channels 40-45 are not on any span \(the known spans hold channels 1-31/,
      ],
      [11, 'cas=20-21', /^CAS channels need their idle bits ABCD after a colon/],
      [12, 'bchan=5,7-', /^"7-" is not a channel number or a range like 1-15$/],
      [13, 'frobnicate=1', /^unknown keyword "frobnicate"/],
      [14, '=5', /^syntax error/],
      [15, 'fxoks=', /^syntax error/],
      [16, 'bchan=1', /^channel 1 is already configured as bchan at line 8$/],
      [17, 'defaultzone=xx', /^"xx" is not a DAHDI tone zone/],
      [
        18,
        'span=4,0,0,esf,b8zs,crc4,yellow,nt',
        /^nt: termination .*; crc4 is an E1 option: dropped on this T1 span$/,
      ],
      [19, 'dynamic=eth,eth0/00:02:b3:35:43:9c,24,0', /^dynamic spans .* are not supported$/],
      [20, 'bchan=2000', /^channel 2000 is outside 1..1023$/],
    ]);
    assert.deepEqual(r.config.spans, [
      { span: 1, type: 'E1', framing: 'ccs', coding: 'hdb3', timing: 1, crc4: true },
      { span: 4, type: 'T1', framing: 'esf', coding: 'b8zs', timing: 0, yellow: true },
    ]);
    validateConfig(r.config);
  });

  it('throws only for input that is not text', () => {
    for (const bad of [undefined, null, 42, {}, Buffer.from('span=1,1,0,ccs,hdb3')]) {
      assert.throws(
        () => importSystemConf(bad as unknown as string),
        (err: unknown) =>
          isSwitchboardError(err, 'E_CONFIG_FILE') &&
          /system\.conf: must be text/.test(err.message),
      );
    }
    assert.deepEqual(importSystemConf('').config, { spans: [] });
  });

  it('survives random lines of system.conf words and always yields a valid configuration', () => {
    const words = [
      'span',
      'bchan',
      'dchan',
      'hardhdlc',
      'cas',
      'fxoks',
      'fxsls',
      'e&m',
      'clear',
      'alaw',
      'echocanceller',
      'loadzone',
      'defaultzone',
      'dynamic',
      'x',
      '',
    ];
    const values = [
      '1',
      '1-15,17-31',
      '16',
      '31-1',
      '1,0,0,ccs,hdb3,crc4',
      '2,1,0,esf,b8zs',
      '3,0',
      '1-24:1101',
      'mg2,1-8',
      'us',
      'cn',
      ',',
      '-',
      '999999',
      'a=b',
      '',
    ];
    let seed = 12345;
    const pick = <T>(list: T[]): T => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return list[seed % list.length] as T;
    };
    let issues = 0;
    for (let round = 0; round < 200; round++) {
      const text = Array.from(
        { length: 12 },
        () => `${pick(words)}${pick(['=', ' = ', '', '#'])}${pick(values)}`,
      ).join('\n');
      const r = importSystemConf(text);
      validateConfig(r.config);
      issues += r.unsupported.length;
      for (const i of r.unsupported) assert.ok(i.line >= 1 && i.line <= 12);
    }
    assert.ok(issues > 0);
  });
});
