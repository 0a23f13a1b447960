// SPDX-License-Identifier: GPL-2.0-or-later
// Campaign windows across time zones and DST changes, the next open instant, retries and call-back times.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  contactWindows,
  inWindows,
  mayCall,
  nextOpen,
  parseDateTime,
  retryAt,
  zonedTime,
} from '../src/dialer/schedule.ts';
import { campaignSettings } from '../src/dialer/schema.ts';

const WEEK: ('mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun')[] = [
  'mon',
  'tue',
  'wed',
  'thu',
  'fri',
  'sat',
  'sun',
];
const t = (iso: string) => Date.parse(iso);

describe('windows', () => {
  const office = {
    zone: 'Asia/Shanghai',
    windows: [{ days: WEEK.slice(0, 5), from: '09:00', to: '18:00' }],
  };

  it('are open from `from` to just before `to`, on their days, in their zone', () => {
    // Monday 2024-01-08 in Shanghai (UTC+8).
    assert.equal(inWindows(office, t('2024-01-08T00:59:59Z')), false, '08:59:59');
    assert.equal(inWindows(office, t('2024-01-08T01:00:00Z')), true, '09:00');
    assert.equal(inWindows(office, t('2024-01-08T09:59:00Z')), true, '17:59');
    assert.equal(inWindows(office, t('2024-01-08T10:00:00Z')), false, '18:00');
    assert.equal(inWindows(office, t('2024-01-06T03:00:00Z')), false, 'Saturday');
  });

  it("a contact with a zone is called only where both the campaign's and its own windows are open", () => {
    const c = campaignSettings({
      name: 'c',
      mode: 'broadcast',
      flow: 'f',
      timezone: 'Asia/Shanghai',
      windows: [{ days: WEEK, from: '09:00', to: '21:00' }],
    });
    const london = contactWindows(c, 'Europe/London');
    assert.equal(london.length, 2);
    assert.equal(contactWindows(c, 'Asia/Shanghai').length, 1, 'the same zone once');
    // January (GMT): London 09:00-21:00 is Shanghai 17:00-05:00, so 17:00-21:00 Shanghai.
    assert.equal(mayCall(london, t('2024-01-08T08:59:00Z')), false, 'SH 16:59, London 08:59');
    assert.equal(mayCall(london, t('2024-01-08T09:00:00Z')), true, 'SH 17:00, London 09:00');
    assert.equal(mayCall(london, t('2024-01-08T12:59:00Z')), true, 'SH 20:59');
    assert.equal(mayCall(london, t('2024-01-08T13:00:00Z')), false, 'SH 21:00');
    // July (BST, UTC+1): the overlap starts an hour earlier, Shanghai 16:00.
    assert.equal(mayCall(london, t('2024-07-08T08:00:00Z')), true, 'SH 16:00, London 09:00 BST');
    assert.equal(nextOpen(london, t('2024-01-08T02:00:00Z')), t('2024-01-08T09:00:00Z'));
    assert.equal(nextOpen(london, t('2024-07-08T02:00:00Z')), t('2024-07-08T08:00:00Z'));
  });

  it('next open: after a Friday evening comes Monday morning', () => {
    // Friday 2024-01-05 18:30 Shanghai.
    assert.equal(nextOpen([office], t('2024-01-05T10:30:00Z')), t('2024-01-08T01:00:00Z'));
    assert.equal(
      nextOpen([office], t('2024-01-08T02:00:00Z')),
      t('2024-01-08T02:00:00Z'),
      'open now: now',
    );
  });

  it('next open across a DST change: the window opens at its local time, on either side', () => {
    const ny = {
      zone: 'America/New_York',
      windows: [{ days: WEEK, from: '09:00', to: '17:00' }],
    };
    // Saturday 2024-03-09 18:00 EST; Sunday 2024-03-10 clocks go 02:00 EST -> 03:00 EDT.
    assert.equal(nextOpen([ny], t('2024-03-09T23:00:00Z')), t('2024-03-10T13:00:00Z'), '09:00 EDT');
    // Autumn: Sunday 2024-11-03 02:00 EDT -> 01:00 EST.
    assert.equal(nextOpen([ny], t('2024-11-02T22:00:00Z')), t('2024-11-03T14:00:00Z'), '09:00 EST');
  });

  it('a window that starts inside the spring gap opens when the clock jumps; an ambiguous start is its first occurrence', () => {
    // Europe/Berlin 2024-03-31: 02:00 CET -> 03:00 CEST (01:00Z).
    assert.equal(zonedTime('2024-03-31', 150, 'Europe/Berlin'), t('2024-03-31T01:00:00Z'));
    const night = {
      zone: 'Europe/Berlin',
      windows: [{ days: ['sun' as const], from: '02:30', to: '04:00' }],
    };
    assert.equal(nextOpen([night], t('2024-03-30T12:00:00Z')), t('2024-03-31T01:00:00Z'));
    // 2024-10-27: 03:00 CEST -> 02:00 CET; 02:30 happens at 00:30Z and again at 01:30Z.
    assert.equal(zonedTime('2024-10-27', 150, 'Europe/Berlin'), t('2024-10-27T00:30:00Z'));
    assert.equal(zonedTime('2024-10-27', 600, 'Europe/Berlin'), t('2024-10-27T09:00:00Z'));
    assert.equal(zonedTime('2024-07-01', 0, 'Asia/Shanghai'), t('2024-06-30T16:00:00Z'));
  });

  it('no next open when the zones never overlap', () => {
    const sets = [
      { zone: 'Asia/Shanghai', windows: [{ days: WEEK, from: '09:00', to: '12:00' }] },
      { zone: 'America/Los_Angeles', windows: [{ days: WEEK, from: '09:00', to: '12:00' }] },
    ];
    assert.equal(nextOpen(sets, t('2024-01-08T00:00:00Z')), undefined);
  });
});

describe('retries', () => {
  const c = campaignSettings({
    name: 'c',
    mode: 'broadcast',
    flow: 'f',
    timezone: 'UTC',
    windows: [{ days: WEEK, from: '00:00', to: '24:00' }],
    maxAttempts: 4,
    retries: { busy: { max: 2, intervalMinutes: 10 } },
  });
  const now = t('2024-01-08T00:00:00Z');

  it('come after their interval while the outcome has retries left', () => {
    assert.equal(retryAt(c, 'busy', 1, 1, now), now + 600_000);
    assert.equal(retryAt(c, 'busy', 2, 2, now), now + 600_000);
    assert.equal(retryAt(c, 'busy', 3, 3, now), undefined, 'two retries used');
    assert.equal(retryAt(c, 'no_answer', 1, 1, now), now + 30 * 60_000, 'the default 30 minutes');
  });

  it('stop at maxAttempts over all outcomes, and never come for final outcomes', () => {
    assert.equal(retryAt(c, 'no_answer', 1, 4, now), undefined);
    assert.equal(retryAt(c, 'human', 1, 1, now), undefined);
    assert.equal(retryAt(c, 'invalid_number', 1, 1, now), undefined);
  });
});

describe('call-back times', () => {
  it('read ISO with an offset, or local wall-clock time in the zone given', () => {
    assert.equal(parseDateTime('2025-05-01T09:30:00+08:00', 'UTC'), t('2025-05-01T01:30:00Z'));
    assert.equal(parseDateTime('2025-05-01T09:30Z', 'Asia/Shanghai'), t('2025-05-01T09:30:00Z'));
    assert.equal(parseDateTime('2025-05-01 09:30', 'Asia/Shanghai'), t('2025-05-01T01:30:00Z'));
    assert.equal(parseDateTime('2025/5/1 9:30:15', 'Asia/Shanghai'), t('2025-05-01T01:30:15Z'));
    assert.equal(parseDateTime('2025-05-01', 'Asia/Shanghai'), t('2025-04-30T16:00:00Z'));
    assert.equal(parseDateTime('2025-07-01 09:00', 'Europe/London'), t('2025-07-01T08:00:00Z'));
  });

  it('refuse what is not a date and time', () => {
    for (const bad of ['tomorrow', '2025-02-30 10:00', '2025-05-01 25:00', '01/05/2025'])
      assert.equal(parseDateTime(bad, 'UTC'), undefined, bad);
  });
});
