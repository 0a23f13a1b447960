// SPDX-License-Identifier: GPL-2.0-or-later
// When a campaign may call: weekly windows in the campaign's and each contact's zone, retries and call-backs (Intl only, DST safe).

import { localTime } from '../routing/time.ts';
import type { CallWindow, CampaignSettings, RetryOutcome } from './schema.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;
const WEEKDAY_OF_UTC_DAY = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** Windows in one zone: a set of instants. */
export interface ZonedWindows {
  zone: string;
  windows: readonly CallWindow[];
}

function clock(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** Midnight UTC of a YYYY-MM-DD date, in ms: local dates are reckoned as if they were UTC. */
function dayMs(date: string): number {
  return Date.UTC(
    Number(date.slice(0, 4)),
    Number(date.slice(5, 7)) - 1,
    Number(date.slice(8, 10)),
  );
}

function dateOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The wall-clock time of an instant in a zone, as ms of "local time reckoned as UTC" (minute precision). */
function localMs(t: number, zone: string): number {
  const l = localTime(new Date(t), zone);
  return dayMs(l.date) + l.minutes * MINUTE;
}

/** The zone's offset from UTC at an instant, in ms (whole minutes in every zone in use). */
function offsetAt(t: number, zone: string): number {
  return localMs(t, zone) - Math.floor(t / MINUTE) * MINUTE;
}

/**
 * The first instant at which the wall clock in `zone` reads `date` `minutes` or later.
 * A time that happens twice (autumn DST change) gives its first occurrence; a time that does not
 * happen at all (spring change: 02:30 in a zone that jumps 02:00 -> 03:00) gives the jump
 * itself, which is when a window starting then really opens.
 */
export function zonedTime(date: string, minutes: number, zone: string): number {
  const wanted = dayMs(date) + minutes * MINUTE;
  // The offsets a day either side cover any single DST change near the wanted time.
  const candidates = [
    ...new Set([wanted - offsetAt(wanted - DAY, zone), wanted - offsetAt(wanted + DAY, zone)]),
  ].sort((a, b) => a - b);
  for (const t of candidates) if (localMs(t, zone) === wanted) return t;
  // In the gap: search the earliest minute whose wall clock has passed the wanted time.
  let lo = candidates[0] as number;
  let hi = candidates[candidates.length - 1] as number;
  if (localMs(hi, zone) < wanted) return hi;
  while (hi - lo > MINUTE) {
    const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
    if (localMs(mid, zone) >= wanted) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Is `now` inside one of the windows (days, `from` inclusive, `to` exclusive) in the zone? */
export function inWindows(w: ZonedWindows, now: number): boolean {
  const t = localTime(new Date(now), w.zone);
  return w.windows.some(
    (x) => x.days.includes(t.weekday) && t.minutes >= clock(x.from) && t.minutes < clock(x.to),
  );
}

/**
 * The window sets a contact must be inside of: the campaign's in its zone and, when the contact
 * has a zone of its own (a different one), the same windows in the contact's zone.
 */
export function contactWindows(
  c: Pick<CampaignSettings, 'timezone' | 'windows'>,
  contactZone?: string,
): ZonedWindows[] {
  const sets: ZonedWindows[] = [{ zone: c.timezone, windows: c.windows }];
  if (contactZone && contactZone !== c.timezone)
    sets.push({ zone: contactZone, windows: c.windows });
  return sets;
}

/** May a call start at `now` (inside every set)? */
export function mayCall(sets: readonly ZonedWindows[], now: number): boolean {
  return sets.every((s) => inWindows(s, now));
}

/**
 * The first instant at or after `now` inside every set, or undefined when there is none within
 * `horizonDays` (two zones whose windows never overlap). The intersection of sets of
 * left-closed intervals opens either now or where one of them opens, so only window starts are
 * tried, each converted by `zonedTime` (DST safe) and checked against all sets.
 */
export function nextOpen(
  sets: readonly ZonedWindows[],
  now: number,
  horizonDays = 15,
): number | undefined {
  if (mayCall(sets, now)) return now;
  const starts: number[] = [];
  for (const s of sets) {
    const today = dayMs(localTime(new Date(now), s.zone).date);
    for (let d = 0; d <= horizonDays; d++) {
      const day = today + d * DAY;
      const weekday = WEEKDAY_OF_UTC_DAY[new Date(day).getUTCDay()] as string;
      for (const w of s.windows) {
        if (!(w.days as readonly string[]).includes(weekday)) continue;
        const t = zonedTime(dateOf(day), clock(w.from), s.zone);
        if (t > now) starts.push(t);
      }
    }
  }
  starts.sort((a, b) => a - b);
  for (const t of starts) if (mayCall(sets, t)) return t;
  return undefined;
}

/**
 * When to call again after an attempt ended with `outcome`, or undefined when it is final: the
 * outcome has no retries, its retries are used up (`sameOutcome` counts the attempts that ended
 * so, this one included), or the contact has had `maxAttempts` attempts in all.
 */
export function retryAt(
  c: Pick<CampaignSettings, 'retries' | 'maxAttempts'>,
  outcome: string,
  sameOutcome: number,
  attempts: number,
  now: number,
): number | undefined {
  if (!Object.hasOwn(c.retries, outcome)) return undefined;
  const r = c.retries[outcome as RetryOutcome];
  if (sameOutcome > r.max || attempts >= c.maxAttempts) return undefined;
  return now + r.intervalMinutes * MINUTE;
}

/**
 * A date and time as contact lists write it: ISO 8601 with an offset or Z ("2025-05-01T09:30+08:00"),
 * or local wall-clock time in `zone` ("2025-05-01 09:30", "2025/5/1 9:30:00", a date alone is
 * midnight). Undefined when it is not one.
 */
export function parseDateTime(text: string, zone: string): number | undefined {
  const m =
    /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(
      text.trim(),
    );
  if (!m) return undefined;
  const [y, mo, d, h = '0', mi = '0', s = '0'] = m.slice(1, 7).map((x) => x ?? undefined) as [
    string,
    string,
    string,
    string?,
    string?,
    string?,
  ];
  const date = Date.UTC(Number(y), Number(mo) - 1, Number(d));
  const iso = new Date(date).toISOString().slice(0, 10);
  // Date.UTC rolls 2025-02-30 over to March: such a date is not a date.
  if (iso !== `${y}-${mo.padStart(2, '0')}-${d.padStart(2, '0')}`) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  const zoneText = m[7];
  if (zoneText) {
    const sign = zoneText.startsWith('-') ? -1 : 1;
    const digits = zoneText.replace(':', '');
    const off =
      zoneText.toUpperCase() === 'Z'
        ? 0
        : sign * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
    return date + (Number(h) * 60 + Number(mi) - off) * MINUTE + Number(s) * 1000;
  }
  return zonedTime(iso, Number(h) * 60 + Number(mi), zone) + Number(s) * 1000;
}
