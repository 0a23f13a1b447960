// SPDX-License-Identifier: GPL-2.0-or-later
// The controller's span watcher: first snapshot logged whole, then alarm changes; DAHDI absent.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { diffSpans, explainDahdiError, SpanWatcher } from '../src/controller/span-watch.ts';
import { SwitchboardError } from '../src/core/errors.ts';
import type { DahdiAlarm, DahdiSpan } from '../src/native/addon.ts';

function span(n: number, alarms: DahdiAlarm[] = []): DahdiSpan {
  return {
    span: n,
    name: `SIM/E1/${n}`,
    desc: '',
    alarms,
    type: 'E1',
    spantype: 'E1',
    totalchans: 31,
    numchans: 31,
    lineconfig: { framing: 'ccs', coding: 'hdb3', crc4: true },
    counters: { bpv: 0, crc4: 0, ebit: 0, fas: 0, fe: 0, cv: 0, be: 0, errsec: 0 },
    syncsrc: 0,
  };
}

/** A pino logger whose lines land in an array. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, log: pino({ base: undefined }, stream) };
}

describe('span watch', () => {
  it('diffs alarms, arrivals and departures, ignoring counters', () => {
    const before = [span(1), span(2, ['RED'])];
    const busy = { ...span(1), counters: { ...span(1).counters, bpv: 5 } };
    assert.deepEqual(diffSpans(before, [busy, span(2, ['RED'])]), []);
    assert.deepEqual(
      diffSpans(before, [span(1, ['YELLOW']), span(3)]).map((e) => [e.kind, e.span.span]),
      [
        ['alarms', 1],
        ['added', 3],
        ['removed', 2],
      ],
    );
  });

  it('logs every span first, then only changes', async () => {
    const { lines, log } = capture();
    const snapshots = [
      [span(1), span(2, ['RED', 'LOS'])],
      [span(1), span(2, ['RED', 'LOS'])],
      [span(1, ['YELLOW']), span(2)],
    ];
    const watcher = new SpanWatcher(() => snapshots.shift() ?? [], log);
    watcher.poll();
    watcher.poll();
    watcher.poll();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      lines.map((l) => [l.msg, l.span, l.state]),
      [
        ['span', 1, 'OK'],
        ['span', 2, 'RED+LOS'],
        ['span alarms changed', 1, 'YELLOW'],
        ['span alarms changed', 2, 'OK'],
      ],
    );
  });

  it('says once, and clearly, that DAHDI cannot be opened, and keeps polling', async () => {
    const { lines, log } = capture();
    const open = new SwitchboardError(
      'E_DAHDI_OPEN',
      'cannot open /dev/dahdi/ctl: No such file or directory',
    );
    let calls = 0;
    const watcher = new SpanWatcher(() => {
      calls += 1;
      if (calls <= 2) throw open;
      return [span(1)];
    }, log);
    assert.equal(watcher.poll(), undefined);
    assert.equal(watcher.poll(), undefined);
    assert.equal(watcher.poll()?.length, 1);
    await new Promise((r) => setImmediate(r));
    assert.equal(lines.length, 2);
    assert.equal(lines[0]?.code, 'E_DAHDI_OPEN');
    assert.match(String(lines[0]?.msg), /\/dev\/dahdi\/ctl.*switchboard sim up/);
    assert.equal(lines[1]?.msg, 'span');
  });

  it('tells apart a missing driver and a missing simulator', () => {
    const err = new SwitchboardError(
      'E_DAHDI_OPEN',
      'cannot open /dev/dahdi/ctl: Connection refused',
    );
    assert.match(
      explainDahdiError(err, { LD_PRELOAD: '/x/libdahdisim.so', SWITCHBOARD_SIM_DIR: '/tmp/s' }),
      /preload is active but no simulator answers in \/tmp\/s/,
    );
    assert.match(explainDahdiError(err, {}), /no DAHDI driver is loaded.*switchboard start/);
  });
});
