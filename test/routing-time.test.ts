// SPDX-License-Identifier: GPL-2.0-or-later
// Time conditions: hours per weekday in the condition's zone, holidays, day boundaries, DST, and the zone fallback.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TimeCondition } from '../src/config/schema.ts';
import { isOpen, localTime } from '../src/routing/time.ts';

const WEEKDAYS: TimeCondition['hours'][number]['days'] = ['mon', 'tue', 'wed', 'thu', 'fri'];

const office = (extra: Partial<TimeCondition> = {}): TimeCondition => ({
  name: 'office',
  hours: [
    { days: WEEKDAYS, from: '09:00', to: '12:00' },
    { days: WEEKDAYS, from: '13:00', to: '18:00' },
    { days: ['sat'], from: '10:00', to: '14:00' },
  ],
  ...extra,
});

describe('time conditions', () => {
  it('reads the wall clock of a zone: date, weekday and minutes', () => {
    // 2024-03-01 16:30 UTC is Friday in London and Saturday 00:30 in Shanghai.
    const t = new Date('2024-03-01T16:30:00Z');
    assert.deepEqual(localTime(t, 'UTC'), { date: '2024-03-01', weekday: 'fri', minutes: 990 });
    assert.deepEqual(localTime(t, 'Asia/Shanghai'), {
      date: '2024-03-02',
      weekday: 'sat',
      minutes: 30,
    });
    // Midnight is minute 0 (never 24:00).
    assert.equal(localTime(new Date('2024-03-04T00:00:00Z'), 'UTC').minutes, 0);
  });

  it('is open within an hours entry: from inclusive, to exclusive, lunch break closed', () => {
    const c = office({ timezone: 'UTC' });
    const at = (iso: string) => isOpen(c, new Date(iso));
    // Monday 2024-03-04.
    assert.equal(at('2024-03-04T08:59:59Z'), false);
    assert.equal(at('2024-03-04T09:00:00Z'), true);
    assert.equal(at('2024-03-04T11:59:59Z'), true);
    assert.equal(at('2024-03-04T12:00:00Z'), false);
    assert.equal(at('2024-03-04T13:00:00Z'), true);
    assert.equal(at('2024-03-04T18:00:00Z'), false);
    // Saturday has its own hours, Sunday none.
    assert.equal(at('2024-03-09T10:30:00Z'), true);
    assert.equal(at('2024-03-09T15:00:00Z'), false);
    assert.equal(at('2024-03-10T10:30:00Z'), false);
  });

  it('uses the condition zone, else the default zone, else UTC, across the day boundary', () => {
    // Friday 2024-03-01 17:30 UTC = Saturday 01:30 in Shanghai.
    const friEvening = new Date('2024-03-01T17:30:00Z');
    const late = { name: 'late', hours: [{ days: WEEKDAYS, from: '17:00', to: '24:00' }] };
    assert.equal(isOpen(late, friEvening), true, 'UTC: Friday 17:30');
    assert.equal(isOpen(late, friEvening, 'Asia/Shanghai'), false, 'Shanghai: Saturday 01:30');
    assert.equal(isOpen({ ...late, timezone: 'UTC' }, friEvening, 'Asia/Shanghai'), true);
    // Monday 01:30 in Shanghai is still Sunday in UTC.
    const sat = { name: 'sat', hours: [{ days: ['mon' as const], from: '00:00', to: '02:00' }] };
    const monEarly = new Date('2024-03-03T17:30:00Z');
    assert.equal(isOpen(sat, monEarly, 'Asia/Shanghai'), true);
    assert.equal(isOpen(sat, monEarly), false);
    // 24:00 closes the day: 23:59 is open.
    assert.equal(isOpen(late, new Date('2024-03-01T23:59:00Z')), true);
    assert.equal(isOpen(late, new Date('2024-03-02T00:00:00Z')), false);
  });

  it('follows local time through a daylight saving change', () => {
    const c = office({ timezone: 'America/New_York' });
    // 13:30 UTC is 08:30 EST (closed) on Friday 2024-03-08, 09:30 EDT (open) on Monday 2024-03-11.
    assert.equal(isOpen(c, new Date('2024-03-08T13:30:00Z')), false);
    assert.equal(isOpen(c, new Date('2024-03-11T13:30:00Z')), true);
  });

  it('is closed on a holiday, single days and inclusive ranges, in local dates', () => {
    const c = office({
      timezone: 'Asia/Shanghai',
      holidays: [
        { date: '2024-10-01', to: '2024-10-07', name: 'National Day' },
        { date: '2024-09-17', name: 'Mid-Autumn' },
      ],
    });
    // Tuesday 2024-09-17 10:00 Shanghai.
    assert.equal(isOpen(c, new Date('2024-09-17T02:00:00Z')), false);
    assert.equal(isOpen(c, new Date('2024-09-18T02:00:00Z')), true);
    // The range's first and last days are both closed; the day after is open.
    assert.equal(isOpen(c, new Date('2024-10-01T02:00:00Z')), false);
    assert.equal(isOpen(c, new Date('2024-10-07T02:00:00Z')), false);
    assert.equal(isOpen(c, new Date('2024-10-08T02:00:00Z')), true);
    // 2024-09-16 20:00 UTC is already the 17th in Shanghai: a holiday there, whatever UTC says.
    const sixteenthUtc = new Date('2024-09-16T20:00:00Z');
    assert.equal(localTime(sixteenthUtc, 'Asia/Shanghai').date, '2024-09-17');
    assert.equal(
      isOpen({ ...c, hours: [{ days: ['tue'], from: '00:00', to: '24:00' }] }, sixteenthUtc),
      false,
    );
  });
});
