// SPDX-License-Identifier: GPL-2.0-or-later
// The live feed: span and timeslot changes from DAHDI and the engine snapshot, call events, isolation of subscribers.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { CallManagerEvents, CallSummary } from '../src/calls/manager.ts';
import type { CallRecord } from '../src/cdr/record.ts';
import { type ChannelStatus, LiveFeed, type SpanStatus } from '../src/controller/live.ts';
import { SwitchboardError } from '../src/core/errors.ts';
import type { DahdiAlarm, DahdiSpan } from '../src/native/addon.ts';
import type { ChannelState, EngineSnapshot } from '../src/native/engine.ts';

function span(n: number, alarms: DahdiAlarm[] = [], crc4 = 0): DahdiSpan {
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
    counters: { bpv: 0, crc4, ebit: 0, fas: 0, fe: 0, cv: 0, be: 0, errsec: 0 },
    syncsrc: 1,
  };
}

/** A PRI trunk on span 1: B-channels 1-15 and 17-31, the D-channel on 16. */
function snapshot(states: Record<number, ChannelState> = {}, dchan = 'up'): EngineSnapshot {
  const channels = [];
  for (let ts = 1; ts <= 31; ts++)
    if (ts !== 16)
      channels.push({
        span: 1,
        channel: ts,
        dahdiChannel: ts,
        state: states[ts] ?? 'idle',
        ...(states[ts] === 'talking' ? { call: 100 + ts } : {}),
      });
  return {
    trunks: [
      {
        name: 'pri1',
        signalling: 'pri_net',
        spans: [1],
        protocolErrors: 0,
        links: [{ span: 1, kind: 'dchannel', state: dchan }],
        channels,
        calls: [],
      },
    ],
    traces: [],
    media: { legs: [], connections: [] } as unknown as EngineSnapshot['media'],
  };
}

function record() {
  const spans: SpanStatus[] = [];
  const channels: ChannelStatus[] = [];
  return { spans, channels };
}

describe('live feed', () => {
  it('sends every span and timeslot once, then only what changed', () => {
    let spans = [span(1), span(2)];
    let snap = snapshot();
    const feed = new LiveFeed({ spans: () => spans, snapshot: () => snap, countersMs: 60_000 });
    const seen = record();
    feed.on('span', (s) => seen.spans.push(s));
    feed.on('channel', (c) => seen.channels.push(c));

    feed.poll();
    assert.equal(seen.spans.length, 2);
    assert.equal(seen.channels.length, 62);
    const s1 = seen.spans[0] as SpanStatus;
    assert.deepEqual(s1.channels, { idle: 30, unconfigured: 1 });
    assert.deepEqual(s1.links, [{ trunk: 'pri1', kind: 'dchannel', state: 'up' }]);
    assert.deepEqual(s1.trunks, ['pri1']);
    assert.equal(s1.clockSource, 1);
    assert.equal(seen.spans[1]?.channels.unconfigured, 31);

    // Nothing changed: nothing sent.
    feed.poll();
    assert.equal(seen.spans.length, 2);
    assert.equal(seen.channels.length, 62);

    // One call up on timeslot 5: one channel event, and span 1's counts change.
    snap = snapshot({ 5: 'talking' });
    feed.poll();
    assert.deepEqual(seen.channels.slice(62), [
      { span: 1, channel: 5, state: 'talking', trunk: 'pri1', call: 105 },
    ]);
    assert.equal(seen.spans.length, 3);
    assert.deepEqual(seen.spans[2]?.channels, { idle: 29, talking: 1, unconfigured: 1 });

    // Counters alone move: held back until countersMs has passed.
    spans = [span(1, [], 7), span(2)];
    feed.poll();
    assert.equal(seen.spans.length, 3);
    assert.equal(feed.spans()[0]?.counters.crc4, 7, 'the current view has the new counters');

    // An alarm and the D-channel going down: span 1 is sent again.
    spans = [span(1, ['RED', 'LOS'], 7), span(2)];
    snap = snapshot({ 5: 'talking' }, 'down');
    feed.poll();
    assert.equal(seen.spans.length, 4);
    assert.equal(seen.spans[3]?.state, 'RED+LOS');
    assert.equal(seen.spans[3]?.links[0]?.state, 'down');

    // Span 2 disappears from DAHDI: it leaves the current view.
    spans = [span(1, ['RED', 'LOS'], 7)];
    feed.poll();
    assert.deepEqual(
      feed.spans().map((s) => s.span),
      [1],
    );
    assert.equal(feed.channels().length, 31);
  });

  it('sends counters when they are due', () => {
    let spans = [span(1)];
    const feed = new LiveFeed({ spans: () => spans, snapshot: () => snapshot(), countersMs: 0 });
    const seen = record();
    feed.on('span', (s) => seen.spans.push(s));
    feed.poll();
    spans = [span(1, [], 3)];
    feed.poll();
    feed.poll();
    assert.deepEqual(
      seen.spans.map((s) => s.counters.crc4),
      [0, 3],
    );
  });

  it('skips a poll DAHDI cannot answer, and isolates a subscriber that throws', () => {
    let fail = true;
    const feed = new LiveFeed({
      spans: () => {
        if (fail) throw new SwitchboardError('E_DAHDI_OPEN', 'cannot open /dev/dahdi/ctl');
        return [span(1)];
      },
      snapshot: () => snapshot(),
    });
    const got: number[] = [];
    feed.on('span', () => {
      throw new Error('a broken subscriber');
    });
    const off = feed.on('span', (s) => got.push(s.span));
    feed.poll();
    assert.equal(feed.failedPolls, 1);
    fail = false;
    feed.poll();
    assert.deepEqual(got, [1]);
    assert.equal(feed.listenerErrors, 1);
    off();
    assert.equal(feed.failedPolls, 1);
  });

  it('turns the call manager events into start, answer and end, and the end into a CDR', () => {
    const calls = new EventEmitter<CallManagerEvents>();
    const feed = new LiveFeed({ spans: () => [], snapshot: () => snapshot(), calls });
    const events: string[] = [];
    let cdrs = 0;
    feed.on('call', (e) => events.push(`${e.event}:${e.call}:${e.trunk}:${e.cause ?? '-'}`));
    feed.on('cdr', () => cdrs++);
    const summary: CallSummary = {
      id: 'b1-7',
      direction: 'inbound',
      phase: 'routing' as CallSummary['phase'],
      startedAt: '2026-11-23T08:00:00.000Z',
      called: '201',
      calling: '13800138000',
      legs: [
        { direction: 'in', trunk: 'pri1', call: 7, state: 'offered' as never, span: 1, channel: 3 },
      ],
    };
    calls.emit('callStarted', summary);
    calls.emit('callAnswered', { ...summary, answeredAt: '2026-11-23T08:00:02.000Z' });
    calls.emit('callEnded', summary, {
      id: 'b1-7',
      endedAt: '2026-11-23T08:00:09.000Z',
      disposition: 'answered',
      cause: 16,
      causeName: 'NORMAL_CLEARING',
      durationMs: 9000,
      billableMs: 7000,
    } as CallRecord);
    assert.deepEqual(events, ['start:b1-7:pri1:-', 'answer:b1-7:pri1:-', 'end:b1-7:pri1:16']);
    assert.equal(cdrs, 1);
  });
});
