// SPDX-License-Identifier: GPL-2.0-or-later
// Call records for the CDR tests: a believable inbound call to an extension, numbered n.

import type { CallRecord } from '../../src/cdr/record.ts';

/**
 * Call `n` of a run: it started n minutes after `base` (UTC), lasted 65 s, was answered after
 * 5 s; the fields given in `over` replace the defaults.
 */
export function callRecord(
  n: number,
  over: Partial<CallRecord> = {},
  base = Date.UTC(2025, 4, 1, 8, 0, 0),
): CallRecord {
  const started = new Date(base + n * 60_000);
  const answered = new Date(started.getTime() + 5_000);
  const ended = new Date(started.getTime() + 65_000);
  return {
    id: `boot1-${n}`,
    direction: 'inbound',
    startedAt: started.toISOString(),
    answeredAt: answered.toISOString(),
    endedAt: ended.toISOString(),
    durationMs: 65_000,
    billableMs: 60_000,
    called: '95588',
    calling: `1380000${String(n).padStart(4, '0')}`,
    route: 'hotline',
    destination: 'extension 201',
    disposition: 'answered',
    cause: 16,
    causeName: 'NORMAL_CLEARING',
    a: {
      trunk: 'pri1',
      span: 1,
      channel: 1 + (n % 30),
      called: '95588',
      calling: `1380000${String(n).padStart(4, '0')}`,
      startedAt: started.toISOString(),
      answeredAt: answered.toISOString(),
      endedAt: ended.toISOString(),
      cause: 16,
      causeName: 'NORMAL_CLEARING',
      releasedBy: 'remote',
    },
    b: {
      trunk: 'phones',
      span: 4,
      channel: 1,
      called: '201',
      calling: `1380000${String(n).padStart(4, '0')}`,
      startedAt: started.toISOString(),
      answeredAt: answered.toISOString(),
      endedAt: ended.toISOString(),
      cause: 16,
      causeName: 'NORMAL_CLEARING',
      releasedBy: 'local',
    },
    ...over,
  };
}
