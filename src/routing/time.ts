// SPDX-License-Identifier: GPL-2.0-or-later
// Time conditions: office hours and holidays in a time zone, from Intl wall-clock time (no time zone library).

import { type TimeCondition, WEEKDAYS } from '../config/schema.ts';

export type Weekday = (typeof WEEKDAYS)[number];

/** The wall-clock time in a zone: local date, weekday and minutes since local midnight. */
export interface LocalTime {
  /** YYYY-MM-DD */
  date: string;
  weekday: Weekday;
  /** 0..1439 */
  minutes: number;
}

const formats = new Map<string, Intl.DateTimeFormat>();

function formatFor(zone: string): Intl.DateTimeFormat {
  let f = formats.get(zone);
  if (!f) {
    // en-US with h23: numeric parts and English weekday names on every ICU build.
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formats.set(zone, f);
  }
  return f;
}

/** The local time of `now` in an IANA zone. Throws RangeError for a zone Intl does not know. */
export function localTime(now: Date, zone: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatFor(zone).formatToParts(now)) parts[p.type] = p.value;
  const weekday = (parts.weekday ?? '').slice(0, 3).toLowerCase() as Weekday;
  // Some ICU versions still print midnight as 24 under h23; it is 0.
  const hour = Number(parts.hour) % 24;
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    weekday,
    minutes: hour * 60 + Number(parts.minute),
  };
}

/** "HH:MM" (00:00..24:00) as minutes since midnight. */
function clock(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

/**
 * Is the condition open at `now`? Closed on a holiday (its dates inclusive, local dates);
 * otherwise open within one of the `hours` entries (its days, `from` inclusive, `to` exclusive,
 * "24:00" meaning the end of the day). The zone is the condition's, else `defaultZone`
 * (system.timezone), else UTC.
 */
export function isOpen(condition: TimeCondition, now: Date, defaultZone?: string): boolean {
  const t = localTime(now, condition.timezone ?? defaultZone ?? 'UTC');
  for (const h of condition.holidays ?? [])
    if (t.date >= h.date && t.date <= (h.to ?? h.date)) return false;
  return condition.hours.some(
    (h) => h.days.includes(t.weekday) && t.minutes >= clock(h.from) && t.minutes < clock(h.to),
  );
}

export { WEEKDAYS };
