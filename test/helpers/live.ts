// SPDX-License-Identifier: GPL-2.0-or-later
// A synthetic switch for the live feed: E1 PRI spans whose timeslots change state on demand (tests, bench mqtt).

import type { DahdiAlarm, DahdiSpan } from '../../src/native/addon.ts';
import type { ChannelState, EngineSnapshot, SnapshotTrunk } from '../../src/native/engine.ts';

/** What a churning channel goes through, in order. */
export const CHURN: readonly ChannelState[] = ['idle', 'seized', 'ringing', 'talking'];

export interface SyntheticSwitch {
  spans(): DahdiSpan[];
  snapshot(): EngineSnapshot;
  /** Sets a timeslot's state (B-channels 1-15 and 17-31). */
  set(span: number, channel: number, state: ChannelState): void;
  alarm(span: number, alarms: DahdiAlarm[]): void;
  /** Moves every B-channel of every span one step along CHURN: 30 changes per span. */
  churnAll(): number;
  /** B-channels per span. */
  readonly bChannels: number[];
}

/** `count` E1 spans, each a PRI trunk `pri<n>` with its D-channel on timeslot 16. */
export function syntheticSwitch(count: number): SyntheticSwitch {
  const bChannels = Array.from({ length: 31 }, (_, i) => i + 1).filter((t) => t !== 16);
  const states = new Map<string, number>();
  const alarms = new Map<number, DahdiAlarm[]>();
  const key = (s: number, c: number) => `${s}:${c}`;
  return {
    bChannels,
    spans: () =>
      Array.from({ length: count }, (_, i) => ({
        span: i + 1,
        name: `SIM/E1/${i + 1}`,
        desc: '',
        alarms: alarms.get(i + 1) ?? [],
        type: 'E1',
        spantype: 'E1',
        totalchans: 31,
        numchans: 31,
        lineconfig: { framing: 'ccs', coding: 'hdb3', crc4: true },
        counters: { bpv: 0, crc4: 0, ebit: 0, fas: 0, fe: 0, cv: 0, be: 0, errsec: 0 },
        syncsrc: 1,
      })),
    snapshot: () => ({
      trunks: Array.from(
        { length: count },
        (_, i): SnapshotTrunk => ({
          name: `pri${i + 1}`,
          signalling: 'pri_cpe',
          spans: [i + 1],
          protocolErrors: 0,
          links: [{ span: i + 1, kind: 'dchannel', state: 'up' }],
          channels: bChannels.map((ts) => {
            const state = CHURN[(states.get(key(i + 1, ts)) ?? 0) % CHURN.length] ?? 'idle';
            return {
              span: i + 1,
              channel: ts,
              dahdiChannel: i * 31 + ts,
              state,
              ...(state === 'idle' ? {} : { call: (i + 1) * 100 + ts }),
            };
          }),
          calls: [],
        }),
      ),
      traces: [],
      media: { legs: [], connections: [] } as unknown as EngineSnapshot['media'],
    }),
    set(span, channel, state) {
      const at = CHURN.indexOf(state);
      if (at < 0) throw new Error(`the synthetic switch churns through ${CHURN.join(', ')} only`);
      states.set(key(span, channel), at);
    },
    alarm(span, list) {
      alarms.set(span, list);
    },
    churnAll() {
      for (let s = 1; s <= count; s++)
        for (const ts of bChannels) states.set(key(s, ts), (states.get(key(s, ts)) ?? 0) + 1);
      return count * bChannels.length;
    },
  };
}
