// SPDX-License-Identifier: GPL-2.0-or-later
// Spoken digits, numbers, dates and times as playlists of prompt names, in English and Mandarin.
//
// Prompt names follow Asterisk's sound names where it has one (digits/7, digits/hundred, digits/h-1
// for "first", digits/oclock, digits/a-m) and name other words by meaning (days/monday,
// months/january). A name means the same thing in every prompt set; each language's set speaks it
// its own way (digits/hundred is "hundred" in en and 百 in zh), so a set that lacks a prompt can
// borrow the fallback language's. Words only Chinese needs have their own names: digits/liang
// (两), digits/yao (幺, the 1 of phone numbers), digits/ten-thousand (万),
// digits/hundred-million (亿), dates/year (年), dates/month (月), dates/day (日), dates/hour (点),
// dates/minute (分), dates/noon (中午), dates/small-hours (凌晨), dates/evening (晚上).
// The pure functions here produce names only; promptset.ts holds the words behind each name.

import { SwitchboardError } from '../core/errors.ts';

export const SAY_LANGS = ['en', 'zh'] as const;
export type SayLang = (typeof SAY_LANGS)[number];
/** Largest magnitude sayNumber speaks: 999,999,999,999 (en "billion", zh 9999亿). */
export const SAY_NUMBER_MAX = 999_999_999_999;
/** Longest digit string sayDigits speaks. */
export const SAY_DIGITS_MAX = 64;

function inputError(field: string, value: unknown, message: string): SwitchboardError {
  return new SwitchboardError('E_SAY_INPUT', message, { details: { field, value } });
}

/**
 * The language of a playlist: `en` or `zh`, also written with a region (`en-GB`, `zh-CN`, `zh_TW`).
 * Anything else is E_SAY_LANG naming the value.
 */
export function sayLang(lang: unknown): SayLang {
  const primary = typeof lang === 'string' ? lang.toLowerCase().split(/[-_]/)[0] : undefined;
  const found = SAY_LANGS.find((l) => l === primary);
  if (!found)
    throw new SwitchboardError(
      'E_SAY_LANG',
      `language ${JSON.stringify(lang)} has no rules for speaking numbers, dates and times (${SAY_LANGS.join(', ')})`,
      { details: { field: 'lang', value: lang } },
    );
  return found;
}

const d = (n: number) => `digits/${n}`;

// --- digits -------------------------------------------------------------------------------------

/**
 * A digit string one digit at a time: `0`-`9`, `*` (digits/star) and `#` (digits/pound). In zh
 * a 1 is 幺 (digits/yao), as phone numbers are read in mainland China so it is not heard as 七.
 */
export function sayDigits(digits: string, lang: string): string[] {
  const l = sayLang(lang);
  if (typeof digits !== 'string' || digits.length === 0)
    throw inputError(
      'digits',
      digits,
      `digits ${JSON.stringify(digits)} is not a non-empty string of 0-9 * #`,
    );
  if (digits.length > SAY_DIGITS_MAX)
    throw inputError(
      'digits',
      digits,
      `digits: ${digits.length} characters, more than ${SAY_DIGITS_MAX}`,
    );
  return [...digits].map((c, i) => {
    if (c === '*') return 'digits/star';
    if (c === '#') return 'digits/pound';
    if (c >= '0' && c <= '9') return l === 'zh' && c === '1' ? 'digits/yao' : d(Number(c));
    throw inputError(
      'digits',
      digits,
      `digits ${JSON.stringify(digits)}: ${JSON.stringify(c)} at position ${i + 1} is not 0-9, * or #`,
    );
  });
}

// --- numbers ------------------------------------------------------------------------------------

function checkInteger(n: unknown, field: string, min: number, max: number): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
    throw inputError(field, n, `${field} ${String(n)} is not a whole number from ${min} to ${max}`);
  return n;
}

/** en 1-99: digits/1-20 whole, then tens and units (digits/30 digits/4). */
function enBelow100(n: number): string[] {
  if (n <= 20) return [d(n)];
  const units = n % 10;
  return units === 0 ? [d(n)] : [d(n - units), d(units)];
}

/** en 1-999, British style: "two hundred and thirty-four". */
function enBelow1000(n: number): string[] {
  const hundreds = Math.floor(n / 100);
  const rest = n % 100;
  const out = hundreds > 0 ? [d(hundreds), 'digits/hundred'] : [];
  if (hundreds > 0 && rest > 0) out.push('digits/and');
  if (rest > 0) out.push(...enBelow100(rest));
  return out;
}

const EN_SCALES: [number, string][] = [
  [1_000_000_000, 'digits/billion'],
  [1_000_000, 'digits/million'],
  [1_000, 'digits/thousand'],
];

function enNumber(n: number): string[] {
  if (n === 0) return [d(0)];
  const out: string[] = [];
  for (const [scale, word] of EN_SCALES) {
    const group = Math.floor(n / scale) % 1000;
    if (group > 0) out.push(...enBelow1000(group), word);
  }
  const rest = n % 1000;
  // "one thousand and five": a last group under a hundred after a larger one takes "and".
  if (rest > 0 && rest < 100 && n >= 1000) out.push('digits/and');
  if (rest > 0) out.push(...enBelow1000(rest));
  return out;
}

const ZH_PLACES = ['', 'digits/10', 'digits/hundred', 'digits/thousand'];

/**
 * zh counting: groups of four digits under 万 (10^4) and 亿 (10^8), each with 千 百 十.
 * - One 零 stands for any run of skipped places between two spoken digits (1005 一千零五,
 *   100001000 一亿零一千), except when the run is only the trailing zeros of a higher group and
 *   the next digit opens its group at 千 (101000 十万一千).
 * - A leading 1 before 十 is silent (10 十, 15 十五, 100000 十万); elsewhere it is 一十 (110 一百一十).
 * - 2 is 两 before 千 (两千, 一万两千), as the first digit before 百 (两百), and as a whole group
 *   before 万/亿 at the start (两万, 两亿); otherwise 二 (二十, 一千二百, 十二万).
 */
function zhNumber(n: number): string[] {
  if (n === 0) return [d(0)];
  const digits = String(n);
  const top = digits.length - 1;
  const out: string[] = [];
  let last = -1; // position (power of ten) of the last digit spoken, -1 before the first
  let groupSpoken = false;
  for (let i = 0; i <= top; i++) {
    const digit = Number(digits[i]);
    const pos = top - i;
    const place = pos % 4;
    const group = Math.floor(pos / 4);
    if (digit !== 0) {
      if (last >= 0 && last - pos > 1) {
        const lastGroup = Math.floor(last / 4);
        if (lastGroup === group || place < 3 || lastGroup - group > 1) out.push(d(0));
      }
      const first = last < 0;
      if (digit === 1 && place === 1 && first) {
        // 十, not 一十
      } else if (
        digit === 2 &&
        (place === 3 || (place === 2 && first) || (place === 0 && pos > 0 && first))
      ) {
        out.push('digits/liang');
      } else {
        out.push(d(digit));
      }
      const unit = ZH_PLACES[place];
      if (unit) out.push(unit);
      last = pos;
      groupSpoken = true;
    }
    if (place === 0 && pos > 0 && groupSpoken) {
      out.push(pos === 4 ? 'digits/ten-thousand' : 'digits/hundred-million');
      groupSpoken = false;
    }
  }
  return out;
}

/**
 * A whole number: en "one thousand two hundred and thirty-four" (digits/1 digits/thousand
 * digits/2 digits/hundred digits/and digits/30 digits/4); zh 一千二百三十四. Negative numbers
 * start with digits/minus (en "minus", zh 负). Range ±SAY_NUMBER_MAX.
 */
export function sayNumber(n: number, lang: string): string[] {
  const l = sayLang(lang);
  checkInteger(n, 'number', -SAY_NUMBER_MAX, SAY_NUMBER_MAX);
  const words = l === 'en' ? enNumber(Math.abs(n)) : zhNumber(Math.abs(n));
  return n < 0 ? ['digits/minus', ...words] : words;
}

// --- dates and times ----------------------------------------------------------------------------

export interface SayDateOptions {
  /** IANA time zone the date is spoken in (`Asia/Shanghai`, `UTC`); default the system's. */
  timeZone?: string;
}

/** Prompt names of the days (`days/<name>`) and months (`months/<name>`), Sunday and January first. */
export const WEEKDAYS = [
  'sunday',
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
];
export const MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];
const SHORT_WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

interface DateParts {
  year: number;
  /** 1-12 */
  month: number;
  day: number;
  /** 0 = Sunday */
  weekday: number;
  /** 0-23 */
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function dateParts(date: Date, opts: SayDateOptions): DateParts {
  if (!(date instanceof Date) || Number.isNaN(date.getTime()))
    throw inputError('date', date, `date ${String(date)} is not a valid Date`);
  const zone = opts.timeZone ?? '';
  let fmt = formatters.get(zone);
  if (!fmt) {
    try {
      fmt = new Intl.DateTimeFormat('en-US', {
        timeZone: opts.timeZone,
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        weekday: 'short',
        hour: 'numeric',
        minute: 'numeric',
        hourCycle: 'h23',
        era: 'short',
      });
    } catch (err) {
      throw new SwitchboardError(
        'E_SAY_INPUT',
        `timeZone ${JSON.stringify(opts.timeZone)} is not a known time zone`,
        {
          cause: err,
          details: { field: 'timeZone', value: opts.timeZone },
        },
      );
    }
    formatters.set(zone, fmt);
  }
  const parts = Object.fromEntries(fmt.formatToParts(date).map((p) => [p.type, p.value]));
  const year = Number(parts.year);
  if (parts.era !== 'AD' || !(year >= 1 && year <= 9999))
    throw inputError(
      'date',
      date.toISOString(),
      `date ${date.toISOString()}: year outside 1..9999`,
    );
  return {
    year,
    month: Number(parts.month),
    day: Number(parts.day),
    weekday: SHORT_WEEKDAYS.indexOf(parts.weekday ?? ''),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
  };
}

/** en ordinals 1st-31st: digits/h-1 to h-20, h-30, and digits/20 digits/h-1 for 21st. */
function enOrdinal(n: number): string[] {
  if (n <= 20 || n % 10 === 0) return [`digits/h-${n}`];
  const units = n % 10;
  return [d(n - units), `digits/h-${units}`];
}

/**
 * en years: 1984 nineteen eighty-four, 1905 nineteen oh five, 1900 nineteen hundred,
 * 2005 two thousand and five, 2024 twenty twenty-four.
 */
function enYear(year: number): string[] {
  if (year < 1000 || (year >= 2000 && year <= 2009)) return enNumber(year);
  const high = Math.floor(year / 100);
  const low = year % 100;
  if (low === 0) return [...enBelow100(high), 'digits/hundred'];
  return [...enBelow100(high), ...(low < 10 ? ['digits/oh', d(low)] : enBelow100(low))];
}

/**
 * A date: en weekday, month, ordinal day, year ("Monday, January 1st, 2024": days/monday
 * months/january digits/h-1 digits/20 digits/20 digits/4); zh year as digits, month, day,
 * weekday (二零二四年一月一日星期一).
 */
export function sayDate(date: Date, lang: string, opts: SayDateOptions = {}): string[] {
  const l = sayLang(lang);
  const p = dateParts(date, opts);
  const weekday = `days/${WEEKDAYS[p.weekday]}`;
  if (l === 'en')
    return [weekday, `months/${MONTHS[p.month - 1]}`, ...enOrdinal(p.day), ...enYear(p.year)];
  return [
    ...[...String(p.year)].map((c) => d(Number(c))),
    'dates/year',
    ...zhNumber(p.month),
    'dates/month',
    ...zhNumber(p.day),
    'dates/day',
    weekday,
  ];
}

/** zh parts of the day, by the hour they start: 凌晨 0-5, 上午 6-11, 中午 12, 下午 13-17, 晚上 18-23. */
const ZH_PERIODS: [number, string][] = [
  [18, 'dates/evening'],
  [13, 'digits/p-m'],
  [12, 'dates/noon'],
  [6, 'digits/a-m'],
  [0, 'dates/small-hours'],
];

/**
 * A time of day: en on a 12-hour clock, "nine oh five a.m." (digits/9 digits/oh digits/5
 * digits/a-m), "three o'clock p.m." (digits/3 digits/oclock digits/p-m); zh part of the day,
 * hour 点, minutes 分 (上午九点零五分, 下午两点, 凌晨零点三十分).
 */
export function sayTime(date: Date, lang: string, opts: SayDateOptions = {}): string[] {
  const l = sayLang(lang);
  const { hour, minute } = dateParts(date, opts);
  if (l === 'en') {
    const h12 = hour % 12 === 0 ? 12 : hour % 12;
    const ampm = hour < 12 ? 'digits/a-m' : 'digits/p-m';
    if (minute === 0) return [...enNumber(h12), 'digits/oclock', ampm];
    if (minute < 10) return [...enNumber(h12), 'digits/oh', d(minute), ampm];
    return [...enNumber(h12), ...enNumber(minute), ampm];
  }
  const period = ZH_PERIODS.find(([from]) => hour >= from)?.[1] ?? 'digits/a-m';
  const h = hour > 12 ? hour - 12 : hour;
  // 两点: 2 o'clock takes 两 like any counted 2.
  const out = [period, ...(h === 2 ? ['digits/liang'] : zhNumber(h)), 'dates/hour'];
  if (minute === 0) return out;
  return [...out, ...(minute < 10 ? [d(0), d(minute)] : zhNumber(minute)), 'dates/minute'];
}
