// SPDX-License-Identifier: GPL-2.0-or-later
// The trunks' state for hunting, read from the engine snapshot: in service, free channels, calls up.

import type { EngineSnapshot, SnapshotTrunk } from '../native/engine.ts';
import type { TrunkState, TrunkStateView } from '../routing/router.ts';

/** One trunk's state from its snapshot entry. */
export function trunkState(t: SnapshotTrunk): TrunkState {
  const down = t.links.filter((l) => l.state !== 'up');
  const alarmed = t.channels.filter((c) => c.state === 'alarm');
  const free = t.channels.filter((c) => c.state === 'idle').length;
  let why: string | undefined;
  // A trunk with links (PRI D-channel, SS7 MTP2) is down when none of them is up; a linkset
  // with one link of two up still carries calls.
  if (t.links.length > 0 && down.length === t.links.length)
    why = down.map((l) => `${l.kind} span ${l.span} ${l.state}`).join(', ');
  else if (t.channels.length > 0 && alarmed.length === t.channels.length)
    why = 'every channel in alarm';
  return {
    up: why === undefined,
    freeChannels: free,
    callsUp: t.calls.length,
    ...(why ? { why } : {}),
  };
}

/**
 * A view over the engine snapshot. The snapshot is read at most once per `maxAgeMs` (routing a
 * burst of calls costs one native snapshot, not one per trunk per call).
 */
export function snapshotView(read: () => EngineSnapshot, maxAgeMs = 20): TrunkStateView {
  let at = -Infinity;
  let byName = new Map<string, TrunkState>();
  return {
    get(trunk) {
      const now = performance.now();
      if (now - at > maxAgeMs) {
        byName = new Map(read().trunks.map((t) => [t.name, trunkState(t)]));
        at = now;
      }
      return byName.get(trunk);
    },
  };
}
