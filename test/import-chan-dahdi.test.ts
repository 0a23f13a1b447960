// SPDX-License-Identifier: GPL-2.0-or-later
// importChanDahdi / importAsterisk: dahdi_genconf's real output, a classic chan_dahdi.conf, bad input.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type ImportIssue,
  importAsterisk,
  importChanDahdi,
  importSystemConf,
} from '../src/config/import-dahdi.ts';
import { validateConfig } from '../src/config/validate.ts';
import { isSwitchboardError } from '../src/core/errors.ts';
import type { BoardSpans } from '../src/trunks/validate.ts';
import { BOARD, PRI_PARAMETERS, R2_PARAMETERS } from './fixtures/genconf/board.ts';
import { DAHDI_GENCONF, genconf, spliceSpans, withoutDate } from './helpers/genconf.ts';

const GENCONF_DIR = join(import.meta.dirname, 'fixtures', 'genconf');
const ASTERISK_DIR = join(import.meta.dirname, 'fixtures', 'asterisk');
const fixture = (dir: string, name: string) => readFileSync(join(dir, name), 'utf8');

/** A BoardSpans for a SimConfig-like list of spans (span N is the N-th entry). */
function boardOf(spans: { type: 'E1' | 'T1' | 'analog'; ports?: ('fxs' | 'fxo')[] }[]): BoardSpans {
  return {
    get: (n) => {
      const s = spans[n - 1];
      if (!s) return undefined;
      const channels = s.type === 'E1' ? 31 : s.type === 'T1' ? 24 : (s.ports?.length ?? 0);
      return { type: s.type, channels, ...(s.ports ? { ports: s.ports } : {}) };
    },
  };
}

/** [file, line, text] of every issue, in order. */
const where = (list: ImportIssue[]) => list.map((i) => [i.file, i.line, i.text]);

function reasonOf(list: ImportIssue[], file: string, line: number): string {
  return list
    .filter((i) => i.file === file && i.line === line)
    .map((i) => i.reason)
    .join(' | ');
}

describe('dahdi_genconf output for a board of 2 E1 PRI spans, 1 E1 MFC-R2 span and an analog card', () => {
  it('the fixtures are what Debian dahdi_genconf writes for the board (run again now)', {
    skip:
      !existsSync(DAHDI_GENCONF) && `${DAHDI_GENCONF} is missing: install Debian's dahdi package`,
  }, async () => {
    for (const [suffix, params] of [
      ['pri', PRI_PARAMETERS],
      ['r2', R2_PARAMETERS],
    ] as const) {
      const out = await genconf(BOARD, params);
      if (process.env.SWITCHBOARD_WRITE_FIXTURES === '1') {
        writeFileSync(join(GENCONF_DIR, `system-${suffix}.conf`), out.systemConf);
        writeFileSync(join(GENCONF_DIR, `dahdi-channels-${suffix}.conf`), out.chanDahdi);
      }
      assert.equal(
        withoutDate(out.systemConf),
        withoutDate(fixture(GENCONF_DIR, `system-${suffix}.conf`)),
      );
      assert.equal(
        withoutDate(out.chanDahdi),
        withoutDate(fixture(GENCONF_DIR, `dahdi-channels-${suffix}.conf`)),
      );
    }
  });

  // dahdi_genconf makes all E1 spans PRI or all MFC-R2: the installer's mix takes span 3 from the R2 run.
  const systemConf = spliceSpans(
    fixture(GENCONF_DIR, 'system-pri.conf'),
    fixture(GENCONF_DIR, 'system-r2.conf'),
    [3],
  );
  const chanDahdi = spliceSpans(
    fixture(GENCONF_DIR, 'dahdi-channels-pri.conf'),
    fixture(GENCONF_DIR, 'dahdi-channels-r2.conf'),
    [3],
  );
  const board = boardOf(BOARD.spans);

  it('imports spans, trunks, groups and phones, and lists what it leaves out by line', () => {
    const r = importAsterisk({ systemConf, chanDahdi, board });
    assert.deepEqual(r.config, {
      system: { toneZone: 'cn' },
      spans: [
        { span: 1, type: 'E1', framing: 'ccs', coding: 'hdb3', timing: 0, crc4: true },
        { span: 2, type: 'E1', framing: 'ccs', coding: 'hdb3', timing: 1, crc4: true },
        { span: 3, type: 'E1', framing: 'cas', coding: 'hdb3', timing: 3, crc4: false },
      ],
      trunks: [
        {
          name: 'pri-span1',
          signalling: 'pri_net',
          span: 1,
          switchtype: 'euroisdn',
          dchannel: 16,
          bchannels: '1-15,17-31',
        },
        {
          name: 'pri-span2',
          signalling: 'pri_cpe',
          span: 2,
          switchtype: 'euroisdn',
          dchannel: 16,
          bchannels: '1-15,17-31',
        },
        {
          name: 'r2-span3',
          signalling: 'mfcr2',
          span: 3,
          variant: 'cn',
          channels: '1-15,17-31',
          maxAni: 10,
          maxDnis: 4,
          getAniFirst: false,
          category: 'national_subscriber',
          logging: ['error', 'warning', 'notice', 'debug', 'mf', 'cas'],
        },
        { name: 'fxs-ports-span4', signalling: 'fxo_ks', span: 4, ports: '1-2', callerId: 'bell' },
        { name: 'fxo-ports-span4', signalling: 'fxs_ks', span: 4, ports: '3-4', callerId: 'bell' },
      ],
      trunkGroups: [
        {
          name: 'group0',
          trunks: ['pri-span1', 'pri-span2', 'r2-span3', 'fxo-ports-span4'],
          hunt: 'sequential',
        },
        { name: 'group5', trunks: ['fxs-ports-span4'], hunt: 'sequential' },
        { name: 'group11', trunks: ['pri-span1'], hunt: 'sequential' },
        { name: 'group12', trunks: ['pri-span2'], hunt: 'sequential' },
        { name: 'group13', trunks: ['r2-span3'], hunt: 'sequential' },
      ],
      extensions: [
        { number: '4094', trunk: 'fxs-ports-span4', channel: 1, name: 'Channel 94' },
        { number: '4095', trunk: 'fxs-ports-span4', channel: 2, name: 'Channel 95' },
      ],
    });
    validateConfig(r.config, board);
    assert.deepEqual(where(r.unsupported), [
      ['system.conf', 13, 'echocanceller=oslec,1-15,17-31'],
      ['system.conf', 20, 'echocanceller=oslec,32-46,48-62'],
      ['system.conf', 26, 'dchan=78'],
      ['system.conf', 27, 'echocanceller=oslec,63-77,79-93'],
      ['system.conf', 31, 'echocanceller=oslec,94'],
      ['system.conf', 33, 'echocanceller=oslec,95'],
      ['system.conf', 35, 'echocanceller=oslec,96'],
      ['system.conf', 37, 'echocanceller=oslec,97'],
      ['chan_dahdi.conf', 12, 'context=from-pstn'],
      ['chan_dahdi.conf', 21, 'context=from-pstn'],
      ['chan_dahdi.conf', 30, 'context=from-pstn'],
      ['chan_dahdi.conf', 33, 'caller = no'],
      ['chan_dahdi.conf', 34, 'mfcr2_logdir = span3'],
      ['chan_dahdi.conf', 40, 'mfcr2_call_files=yes'],
      ['chan_dahdi.conf', 52, 'mailbox=4094'],
      ['chan_dahdi.conf', 54, 'context=from-internal'],
      ['chan_dahdi.conf', 64, 'mailbox=4095'],
      ['chan_dahdi.conf', 66, 'context=from-internal'],
      ['chan_dahdi.conf', 77, 'context=from-pstn'],
      ['chan_dahdi.conf', 87, 'context=from-pstn'],
    ]);
    const u = r.unsupported;
    assert.match(
      reasonOf(u, 'system.conf', 26),
      /span 3 is framed cas: its timeslot 16 carries the ABCD bits/,
    );
    assert.match(reasonOf(u, 'system.conf', 13), /^echo canceller oslec on channels 1-15,17-31: /);
    assert.match(reasonOf(u, 'chan_dahdi.conf', 12), /^dialplan contexts have no counterpart/);
    assert.match(reasonOf(u, 'chan_dahdi.conf', 33), /"caller" is not a chan_dahdi option/);
    assert.match(reasonOf(u, 'chan_dahdi.conf', 40), /^openr2 call files have no counterpart/);
    assert.match(reasonOf(u, 'chan_dahdi.conf', 52), /^voicemail boxes have no counterpart$/);
    assert.ok(
      r.notes.some((n) =>
        /^tone zone cn: FXS ports play .* fxs-ports-span4 keeps the default \(us\)$/.test(n),
      ),
    );
    assert.ok(
      r.notes.some((n) => /has no \[section\] header: read as the body of \[channels\]/.test(n)),
    );
  });

  it('without the board, the analog card is inferred after the last span, and said so', () => {
    const r = importAsterisk({ systemConf, chanDahdi });
    assert.deepEqual(
      r.config.trunks?.map((t) => [t.name, t.span, t.ports ?? t.bchannels ?? t.channels]),
      [
        ['pri-span1', 1, '1-15,17-31'],
        ['pri-span2', 2, '1-15,17-31'],
        ['r2-span3', 3, '1-15,17-31'],
        ['fxs-ports-span4', 4, '1-2'],
        ['fxo-ports-span4', 4, '3-4'],
      ],
    );
    assert.match(r.notes[0] ?? '', /^channels 94-97 have analog signalling .* span 4, ports 1-4/);
  });

  it('the all-PRI and all-R2 runs import as they are', () => {
    const pri = importAsterisk({
      systemConf: fixture(GENCONF_DIR, 'system-pri.conf'),
      chanDahdi: fixture(GENCONF_DIR, 'dahdi-channels-pri.conf'),
      board,
    });
    assert.deepEqual(
      pri.config.trunks?.map((t) => [t.name, t.signalling]),
      [
        ['pri-span1', 'pri_net'],
        ['pri-span2', 'pri_cpe'],
        ['pri-span3', 'pri_cpe'],
        ['fxs-ports-span4', 'fxo_ks'],
        ['fxo-ports-span4', 'fxs_ks'],
      ],
    );
    assert.deepEqual(pri.config.trunkGroups?.[0]?.trunks, [
      'pri-span1',
      'pri-span2',
      'pri-span3',
      'fxo-ports-span4',
    ]);
    const r2 = importAsterisk({
      systemConf: fixture(GENCONF_DIR, 'system-r2.conf'),
      chanDahdi: fixture(GENCONF_DIR, 'dahdi-channels-r2.conf'),
      board,
    });
    assert.deepEqual(
      r2.config.trunks
        ?.filter((t) => t.signalling === 'mfcr2')
        .map((t) => [t.name, t.variant, t.channels]),
      [
        ['r2-span1', 'cn', '1-15,17-31'],
        ['r2-span2', 'cn', '1-15,17-31'],
        ['r2-span3', 'cn', '1-15,17-31'],
      ],
    );
    // dahdi_genconf's dchan= on every R2 span is reported, one line each.
    assert.deepEqual(
      r2.unsupported.filter((i) => i.text.startsWith('dchan=')).map((i) => i.line),
      [12, 19, 26],
    );
  });
});

describe('a classic hand-written chan_dahdi.conf: PRI, MFC-R2, SS7 and analog', () => {
  const board = boardOf([
    { type: 'E1' },
    { type: 'E1' },
    { type: 'E1' },
    { type: 'E1' },
    { type: 'analog', ports: ['fxs', 'fxs', 'fxo', 'fxo'] },
  ]);
  const r = importAsterisk({
    systemConf: fixture(ASTERISK_DIR, 'system.conf'),
    chanDahdi: fixture(ASTERISK_DIR, 'chan_dahdi.conf'),
    board,
  });

  it('makes one trunk per span and signalling, one per SS7 linkset, with the mapped options', () => {
    assert.deepEqual(r.config.trunks, [
      {
        name: 'pri-span1',
        signalling: 'pri_cpe',
        span: 1,
        switchtype: 'euroisdn',
        dchannel: 16,
        bchannels: '1-15,17-31',
        overlap: 'incoming',
        timers: { T200: 1000, T313: 4000 },
      },
      {
        name: 'r2-span2',
        signalling: 'mfcr2',
        span: 2,
        variant: 'mx',
        channels: '1-15,17-31',
        maxAni: 10,
        maxDnis: 4,
        getAniFirst: false,
        skipCategory: false,
        doubleAnswer: false,
        allowCollectCalls: false,
        chargeCalls: true,
        forcedRelease: false,
        category: 'national_subscriber',
        logging: ['error', 'warning', 'mf'],
      },
      {
        name: 'ss7-linkset1',
        signalling: 'ss7',
        variant: 'itu',
        pointcode: 28,
        adjacentPointcode: 2,
        networkIndicator: 'national',
        links: [{ span: 3, timeslot: 16 }],
        cics: [
          { span: 3, firstCic: 1, timeslots: '1-15,17-31' },
          { span: 4, firstCic: 31, timeslots: '1-31' },
        ],
        timers: { 'ISUP.T7': 20000, 'MTP3.T2': 1400 },
      },
      {
        name: 'fxs-ports-span5',
        signalling: 'fxo_ls',
        span: 5,
        ports: '1-2',
        callerId: 'v23',
        timers: { firstDigitTimeout: 12000 },
      },
      {
        name: 'fxo-ports-span5',
        signalling: 'fxs_ks',
        span: 5,
        ports: '3',
        callerId: 'v23',
        polarity: true,
        timers: { ringTimeout: 8000 },
      },
    ]);
    assert.deepEqual(
      r.config.trunkGroups?.map((g) => [g.name, g.trunks]),
      [
        ['group1', ['pri-span1']],
        ['group2', ['r2-span2']],
        ['group3', ['ss7-linkset1']],
        ['group4', ['fxs-ports-span5']],
        ['group5', ['fxo-ports-span5']],
      ],
    );
    assert.deepEqual(r.config.extensions, [
      { number: '201', trunk: 'fxs-ports-span5', channel: 1, name: 'Reception' },
      { number: '202', trunk: 'fxs-ports-span5', channel: 2, name: 'Office' },
    ]);
    assert.deepEqual(r.config.system, { toneZone: 'mx' });
    validateConfig(r.config, board);
  });

  it('lists every option and line it cannot carry over, with the reason', () => {
    assert.deepEqual(where(r.unsupported), [
      ['system.conf', 25, 'fxsgs=128'],
      ['system.conf', 27, 'echocanceller=mg2,1-15,17-31'],
      ['chan_dahdi.conf', 7, 'spanmap => 1,1,1'],
      ['chan_dahdi.conf', 10, 'language=es'],
      ['chan_dahdi.conf', 11, 'context=from-pstn'],
      ['chan_dahdi.conf', 14, 'callwaiting=yes'],
      ['chan_dahdi.conf', 25, 'resetinterval=3600'],
      ['chan_dahdi.conf', 28, 'pritimer => k,7'],
      ['chan_dahdi.conf', 39, 'mfcr2_logdir=span2'],
      ['chan_dahdi.conf', 45, 'mfcr2_immediate_accept=yes'],
      ['chan_dahdi.conf', 51, 'context=from-pbx'],
      ['chan_dahdi.conf', 60, 'defaultdpc=3'],
      ['chan_dahdi.conf', 66, 'isup_timer.t99=5'],
      ['chan_dahdi.conf', 67, '#include ss7.timers'],
      ['chan_dahdi.conf', 68, 'ss7_called_nai=dynamic'],
      ['chan_dahdi.conf', 70, 'context=from-transit'],
      ['chan_dahdi.conf', 76, 'context=from-internal'],
      ['chan_dahdi.conf', 86, 'context=from-pstn'],
      ['chan_dahdi.conf', 93, 'channel => 128'],
      ['chan_dahdi.conf', 96, '[phones]'],
    ]);
    const u = r.unsupported;
    assert.match(
      reasonOf(u, 'system.conf', 25),
      /^channel 128: ground start signalling is not supported/,
    );
    assert.match(reasonOf(u, 'chan_dahdi.conf', 7), /^NFAS .* is not supported/);
    assert.match(reasonOf(u, 'chan_dahdi.conf', 25), /periodic RESTART of idle B-channels/);
    assert.match(reasonOf(u, 'chan_dahdi.conf', 28), /^timer K cannot be set \(settable: T200, /);
    assert.match(
      reasonOf(u, 'chan_dahdi.conf', 45),
      /^the mx variant has no Group A accept signal/,
    );
    assert.match(reasonOf(u, 'chan_dahdi.conf', 60), /^defaultdpc 3 differs from adjpointcode 2/);
    assert.match(reasonOf(u, 'chan_dahdi.conf', 66), /^timer ISUP\.T99 cannot be set/);
    assert.match(reasonOf(u, 'chan_dahdi.conf', 67), /^#include is not followed/);
    assert.match(
      reasonOf(u, 'chan_dahdi.conf', 93),
      /^channel 128: signalling fxs_gs: ground start is not supported/,
    );
    assert.match(reasonOf(u, 'chan_dahdi.conf', 96), /^section \[phones\] is not imported/);
    assert.ok(r.notes.some((n) => /^tone zone mx: /.test(n)));
  });
});

describe('importChanDahdi alone and with bad input', () => {
  const systemConf = [
    'span=1,1,0,ccs,hdb3,crc4',
    'span=2,2,0,cas,hdb3',
    'bchan=1-15,17-31',
    'hardhdlc=16',
    'cas=32-62:1101',
  ].join('\n');

  it('reports every bad line by number, imports the rest, never crashes', () => {
    const chanDahdi = [
      'context=early', // 1
      '[channels]', // 2
      'this is garbage', // 3
      'signalling=pri_cpe', // 4
      'switchtype=euroisdn', // 5
      'channel => 15-1', // 6: backwards, swapped as chan_dahdi does
      'channel => 17-31,200', // 7: 200 is on no span
      'channel => 5', // 8: twice
      'channel => 16', // 9: the D-channel
      'switchtype=ni1', // 10
      'channel => 32', // 11: a CAS channel
      'signalling=mfcr2', // 12
      'mfcr2_variant=zz', // 13
      'channel => 33-40', // 14: no such variant
      'mfcr2_variant=cn', // 15
      'channel => 32-62', // 16
      'signalling=em_w', // 17
      'channel => 41', // 18
      'signalling=ss7', // 19
      'channel => 41', // 20: no cicbeginswith
      'sigchan=16', // 21: no point codes
      'channel => pseudo', // 22
      'channel => 1-x', // 23
      'group=1,99,abc', // 24
      'tonezone=77', // 25
      'channel => 3', // 26
    ].join('\n');
    const r = importAsterisk({ systemConf, chanDahdi });
    assert.deepEqual(where(r.unsupported), [
      ['system.conf', 5, 'cas=32-62:1101'],
      ['chan_dahdi.conf', 1, 'context=early'],
      ['chan_dahdi.conf', 3, 'this is garbage'],
      ['chan_dahdi.conf', 7, 'channel => 17-31,200'],
      ['chan_dahdi.conf', 8, 'channel => 5'],
      ['chan_dahdi.conf', 9, 'channel => 16'],
      ['chan_dahdi.conf', 11, 'channel => 32'],
      ['chan_dahdi.conf', 14, 'channel => 33-40'],
      ['chan_dahdi.conf', 16, 'channel => 32-62'],
      ['chan_dahdi.conf', 18, 'channel => 41'],
      ['chan_dahdi.conf', 20, 'channel => 41'],
      ['chan_dahdi.conf', 21, 'sigchan=16'],
      ['chan_dahdi.conf', 22, 'channel => pseudo'],
      ['chan_dahdi.conf', 23, 'channel => 1-x'],
      ['chan_dahdi.conf', 24, 'group=1,99,abc'],
      ['chan_dahdi.conf', 25, 'tonezone=77'],
      ['chan_dahdi.conf', 26, 'channel => 3'],
    ]);
    const u = r.unsupported;
    const c = 'chan_dahdi.conf';
    assert.match(
      reasonOf(u, 'system.conf', 5),
      /^channel 47: timeslot 16 of a CAS E1 carries the ABCD bits/,
    );
    assert.match(reasonOf(u, c, 1), /^outside any section/);
    assert.match(reasonOf(u, c, 3), /^syntax error/);
    assert.equal(reasonOf(u, c, 7), 'channel 200: not on any span');
    assert.equal(reasonOf(u, c, 8), 'channel 5: already configured at line 6');
    assert.equal(
      reasonOf(u, c, 9),
      'channel 16: system.conf configures it as hardhdlc (line 4); pri_cpe needs bchan',
    );
    assert.equal(
      reasonOf(u, c, 11),
      'channel 32: system.conf configures it as cas (line 5); pri_cpe needs bchan',
    );
    assert.match(
      reasonOf(u, c, 14),
      /^channels 33-40: mfcr2_variant zz \(line 13\) is not an openr2 variant/,
    );
    assert.equal(
      reasonOf(u, c, 16),
      'channels 33-40: already configured at line 14; channel 47: configured as cas in system.conf (line 5), which is not imported',
    );
    assert.match(reasonOf(u, c, 18), /^channel 41: signalling em_w: E&M/);
    assert.match(reasonOf(u, c, 20), /^channel 41: SS7 channels need cicbeginswith/);
    assert.match(
      reasonOf(u, c, 21),
      /^a sigchan needs ss7type, pointcode, adjpointcode, defaultdpc, networkindicator, linkset/,
    );
    assert.match(reasonOf(u, c, 22), /^the pseudo channel has no counterpart/);
    assert.match(reasonOf(u, c, 23), /^"1-x" is not a channel number/);
    assert.match(reasonOf(u, c, 24), /^"99", "abc": groups are numbers 0..63/);
    assert.match(reasonOf(u, c, 25), /^tonezone is a DAHDI zone number 0..45, not "77"$/);
    assert.equal(reasonOf(u, c, 26), 'channel 3: SS7 channels need cicbeginswith set above them');
    assert.ok(
      r.notes.includes(
        'line 6: range 15-1 runs backwards; chan_dahdi swaps it, and so does the import',
      ),
    );
    assert.deepEqual(
      r.config.trunks?.map((t) => [t.name, t.bchannels ?? t.channels]),
      [
        ['pri-span1', '1-15,17-31'],
        ['r2-span2', '1,10-15,17-31'],
      ],
    );
    validateConfig(r.config);
  });

  it('leaves out what only the configuration check refuses, naming the line', () => {
    const chanDahdi = [
      '[channels]', // 1
      'signalling=ss7', // 2
      'ss7type=itu', // 3
      'linkset=1', // 4
      'pointcode=20000', // 5: beyond 14-bit ITU point codes
      'adjpointcode=2', // 6
      'defaultdpc=2', // 7
      'networkindicator=national', // 8
      'cicbeginswith=1', // 9
      'sigchan=16', // 10
      'group=7', // 11
      'channel => 1-15,17-31', // 12
    ].join('\n');
    const r = importAsterisk({
      systemConf: 'span=1,1,0,ccs,hdb3,crc4\nbchan=1-15,17-31\nhardhdlc=16\n',
      chanDahdi,
    });
    assert.deepEqual(where(r.unsupported), [['chan_dahdi.conf', 12, 'channel => 1-15,17-31']]);
    assert.match(
      reasonOf(r.unsupported, 'chan_dahdi.conf', 12),
      /^refused by the configuration check: trunks\[0\]\.pointcode: 20000 is out of range for ITU point codes/,
    );
    assert.equal(r.config.trunks, undefined);
    assert.equal(r.config.trunkGroups, undefined);
    assert.ok(r.notes.includes('trunk group group7 left out: none of its trunks was imported'));
  });

  it('one trunk per span: a second signalling on a span, or other options on a later line, are reported', () => {
    const chanDahdi = [
      '[channels]', // 1
      'signalling=pri_net', // 2
      'switchtype=euroisdn', // 3
      'channel => 1-10', // 4
      'switchtype=qsig', // 5
      'channel => 11-15', // 6: same trunk, other switchtype
      'signalling=pri_cpe', // 7
      'channel => 17-20', // 8: the span already carries pri_net
    ].join('\n');
    const r = importAsterisk({
      systemConf: 'span=1,1,0,ccs,hdb3,crc4\nbchan=1-15,17-31\nhardhdlc=16\n',
      chanDahdi,
    });
    assert.deepEqual(where(r.unsupported), [
      ['chan_dahdi.conf', 6, 'channel => 11-15'],
      ['chan_dahdi.conf', 8, 'channel => 17-20'],
    ]);
    assert.match(
      reasonOf(r.unsupported, 'chan_dahdi.conf', 6),
      /^switchtype differs from line 4, the first line of trunk pri-span1: one trunk has one setting, line 4's is kept$/,
    );
    assert.match(
      reasonOf(r.unsupported, 'chan_dahdi.conf', 8),
      /^channels 17-20: span 1 already carries pri_net channels \(line 4\); a span carries one digital trunk$/,
    );
    assert.deepEqual(r.config.trunks, [
      {
        name: 'pri-span1',
        signalling: 'pri_net',
        span: 1,
        switchtype: 'euroisdn',
        dchannel: 16,
        bchannels: '1-15',
      },
    ]);
  });

  it('without system.conf, places channels as E1 spans and says what it could not check', () => {
    const r = importChanDahdi(
      '[channels]\nsignalling=pri_cpe\nchannel => 32-46\nsignalling=auto\nchannel => 1\n',
    );
    assert.deepEqual(r.config.trunks, [
      { name: 'pri-span2', signalling: 'pri_cpe', span: 2, switchtype: 'ni2', bchannels: '1-15' },
    ]);
    assert.deepEqual(where(r.unsupported), [['chan_dahdi.conf', 5, 'channel => 1']]);
    assert.match(
      reasonOf(r.unsupported, 'chan_dahdi.conf', 5),
      /signalling is not set \(auto\) and no system\.conf says/,
    );
    assert.match(
      r.notes[0] ?? '',
      /^no system\.conf given: DAHDI channel numbers are placed as if every span were an E1/,
    );
    assert.ok(
      r.notes.includes(
        "span 2: no switchtype set; chan_dahdi's default, national (NI-2), is imported",
      ),
    );
    // importAsterisk without system.conf: the span has no framing, so the trunk cannot stand.
    const a = importAsterisk({ chanDahdi: '[channels]\nsignalling=pri_cpe\nchannel => 32-46\n' });
    assert.deepEqual(a.config, {});
    assert.match(
      a.unsupported[0]?.reason ?? '',
      /^refused by the configuration check: trunks\[0\]: span 2 has no entry in spans/,
    );
  });

  it('signalling=auto takes the analog signalling system.conf gave the port', () => {
    const r = importAsterisk({
      systemConf: 'fxoks=1-2\nfxsls=3\n',
      chanDahdi: '[channels]\nchannel => 1-3\n',
      board: boardOf([{ type: 'analog', ports: ['fxs', 'fxs', 'fxo'] }]),
    });
    assert.deepEqual(
      r.config.trunks?.map((t) => [t.name, t.signalling, t.ports]),
      [
        ['fxs-ports-span1', 'fxo_ks', '1-2'],
        ['fxo-ports-span1', 'fxs_ls', '3'],
      ],
    );
    assert.deepEqual(r.unsupported, []);
  });

  it('throws only for input that is not text, and survives random lines', () => {
    for (const bad of [undefined, null, 7, ['[channels]']]) {
      assert.throws(
        () => importChanDahdi(bad as unknown as string),
        (err: unknown) => isSwitchboardError(err, 'E_CONFIG_FILE'),
      );
      // importAsterisk takes a missing file as not given.
      if (bad === undefined) continue;
      assert.throws(
        () => importAsterisk({ chanDahdi: bad as unknown as string }),
        (err: unknown) => isSwitchboardError(err, 'E_CONFIG_FILE'),
      );
    }
    const keys = [
      'channel',
      'signalling',
      'group',
      'switchtype',
      'mfcr2_variant',
      'ss7type',
      'sigchan',
      'linkset',
      'pointcode',
      'adjpointcode',
      'defaultdpc',
      'networkindicator',
      'cicbeginswith',
      'callerid',
      'context',
      '[channels]',
      '#include',
      ';',
      '',
    ];
    const values = [
      '1-15,17-31',
      '32-62',
      'pri_net',
      'mfcr2',
      'ss7',
      'fxo_ks',
      'cn',
      'itu',
      '1',
      '16',
      '2',
      'national',
      '"A" <12>',
      '0,11',
      'x',
      '15-1',
      '',
    ];
    const sys = importSystemConf(systemConf);
    let seed = 99;
    const pick = <T>(list: T[]): T => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return list[seed % list.length] as T;
    };
    let issues = 0;
    for (let round = 0; round < 150; round++) {
      const text = Array.from(
        { length: 14 },
        () => `${pick(keys)}${pick([' => ', '=', ' ', ''])}${pick(values)}`,
      ).join('\n');
      const r = importAsterisk({ systemConf, chanDahdi: text });
      validateConfig(r.config);
      importChanDahdi(text, { systemConf: sys });
      issues += r.unsupported.length;
    }
    assert.ok(issues > 0);
  });
});
