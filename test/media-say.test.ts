// SPDX-License-Identifier: GPL-2.0-or-later
// Spoken numbers, digits, dates and times: English and Chinese word lists, and the prompt names behind them.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSwitchboardError } from '../src/core/errors.ts';
import { PROMPT_SET_SPEECH, PROMPT_SET_TEXT } from '../src/media/promptset.ts';
import { SAY_NUMBER_MAX, sayDate, sayDigits, sayNumber, sayTime } from '../src/media/say.ts';

/** A playlist as the words it speaks: en space-separated, zh run together. */
function words(names: string[], lang: 'en' | 'zh'): string {
  return names.map((n) => PROMPT_SET_TEXT[lang][n] ?? `<${n}>`).join(lang === 'en' ? ' ' : '');
}

const NUMBERS: [number, string, string][] = [
  [0, 'zero', '零'],
  [7, 'seven', '七'],
  [10, 'ten', '十'],
  [11, 'eleven', '十一'],
  [15, 'fifteen', '十五'],
  [20, 'twenty', '二十'],
  [21, 'twenty one', '二十一'],
  [100, 'one hundred', '一百'],
  [101, 'one hundred and one', '一百零一'],
  [110, 'one hundred and ten', '一百一十'],
  [200, 'two hundred', '两百'],
  [999, 'nine hundred and ninety nine', '九百九十九'],
  [1000, 'one thousand', '一千'],
  [1005, 'one thousand and five', '一千零五'],
  [1010, 'one thousand and ten', '一千零一十'],
  [1200, 'one thousand two hundred', '一千二百'],
  [1234, 'one thousand two hundred and thirty four', '一千二百三十四'],
  [2000, 'two thousand', '两千'],
  [2222, 'two thousand two hundred and twenty two', '两千二百二十二'],
  [10000, 'ten thousand', '一万'],
  [10001, 'ten thousand and one', '一万零一'],
  [10100, 'ten thousand one hundred', '一万零一百'],
  [12345, 'twelve thousand three hundred and forty five', '一万两千三百四十五'],
  [20000, 'twenty thousand', '两万'],
  [100000, 'one hundred thousand', '十万'],
  [101000, 'one hundred and one thousand', '十万一千'],
  [120000, 'one hundred and twenty thousand', '十二万'],
  [1000000, 'one million', '一百万'],
  [1001000, 'one million one thousand', '一百万一千'],
  [10010000, 'ten million ten thousand', '一千零一万'],
  [20000000, 'twenty million', '两千万'],
  [100000000, 'one hundred million', '一亿'],
  [100001000, 'one hundred million one thousand', '一亿零一千'],
  [100010000, 'one hundred million ten thousand', '一亿零一万'],
  [200000000, 'two hundred million', '两亿'],
  [
    999999999,
    'nine hundred and ninety nine million nine hundred and ninety nine thousand nine hundred and ninety nine',
    '九亿九千九百九十九万九千九百九十九',
  ],
  [1000000001, 'one billion and one', '十亿零一'],
  [-5, 'minus five', '负五'],
];

describe('sayNumber', () => {
  for (const [n, en, zh] of NUMBERS) {
    it(`${n}: ${en} / ${zh}`, () => {
      assert.equal(words(sayNumber(n, 'en'), 'en'), en);
      assert.equal(words(sayNumber(n, 'zh'), 'zh'), zh);
    });
  }

  it('uses Asterisk prompt names', () => {
    assert.deepEqual(sayNumber(1234, 'en'), [
      'digits/1',
      'digits/thousand',
      'digits/2',
      'digits/hundred',
      'digits/and',
      'digits/30',
      'digits/4',
    ]);
    assert.deepEqual(sayNumber(20000000, 'zh'), [
      'digits/liang',
      'digits/thousand',
      'digits/ten-thousand',
    ]);
    assert.deepEqual(sayNumber(-SAY_NUMBER_MAX, 'en').slice(0, 3), [
      'digits/minus',
      'digits/9',
      'digits/hundred',
    ]);
  });

  it('takes a language with a region', () => {
    assert.deepEqual(sayNumber(2, 'en-GB'), ['digits/2']);
    assert.deepEqual(sayNumber(2000, 'zh_CN'), ['digits/liang', 'digits/thousand']);
  });

  it('refuses what it cannot speak, naming the value', () => {
    for (const bad of [
      Number.NaN,
      1.5,
      Number.POSITIVE_INFINITY,
      SAY_NUMBER_MAX + 1,
      -SAY_NUMBER_MAX - 1,
      '12',
      null,
    ]) {
      assert.throws(
        () => sayNumber(bad as number, 'en'),
        (err) =>
          isSwitchboardError(err, 'E_SAY_INPUT') &&
          (err.details as { field: string }).field === 'number' &&
          err.message.includes(String(bad)),
      );
    }
    assert.throws(
      () => sayNumber(1, 'fr'),
      (err) => isSwitchboardError(err, 'E_SAY_LANG') && err.message.includes('"fr"'),
    );
  });
});

describe('sayDigits', () => {
  it('speaks one digit at a time, 幺 for 1 in zh', () => {
    assert.deepEqual(sayDigits('4071', 'en'), ['digits/4', 'digits/0', 'digits/7', 'digits/1']);
    assert.equal(words(sayDigits('10086*#', 'en'), 'en'), 'one zero zero eight six star pound');
    assert.equal(words(sayDigits('13800138000', 'zh'), 'zh'), '幺三八零零幺三八零零零');
  });

  it('refuses other characters, naming the position', () => {
    assert.throws(
      () => sayDigits('12a4', 'en'),
      (err) => isSwitchboardError(err, 'E_SAY_INPUT') && /"a" at position 3/.test(err.message),
    );
    assert.throws(
      () => sayDigits('', 'en'),
      (err) => isSwitchboardError(err, 'E_SAY_INPUT'),
    );
    assert.throws(
      () => sayDigits('1'.repeat(65), 'en'),
      (err) => isSwitchboardError(err, 'E_SAY_INPUT'),
    );
  });
});

describe('sayDate and sayTime', () => {
  const utc = { timeZone: 'UTC' };
  it('says dates as weekday, month, ordinal day, year (en) and 年月日星期 (zh)', () => {
    const newYear = new Date('2024-01-01T09:05:00Z');
    assert.deepEqual(sayDate(newYear, 'en', utc), [
      'days/monday',
      'months/january',
      'digits/h-1',
      'digits/20',
      'digits/20',
      'digits/4',
    ]);
    assert.equal(words(sayDate(newYear, 'zh', utc), 'zh'), '二零二四年一月一日星期一');
    const cases: [string, string, string][] = [
      [
        '1984-03-22',
        'Thursday March twenty second nineteen eighty four',
        '一九八四年三月二十二日星期四',
      ],
      [
        '1905-12-31',
        'Sunday December thirty first nineteen oh five',
        '一九零五年十二月三十一日星期日',
      ],
      ['2005-06-30', 'Thursday June thirtieth two thousand and five', '二零零五年六月三十日星期四'],
      ['2100-02-02', 'Tuesday February second twenty one hundred', '二一零零年二月二日星期二'],
    ];
    for (const [iso, en, zh] of cases) {
      const date = new Date(`${iso}T12:00:00Z`);
      assert.equal(words(sayDate(date, 'en', utc), 'en'), en, iso);
      assert.equal(words(sayDate(date, 'zh', utc), 'zh'), zh, iso);
    }
  });

  it('speaks the date of the time zone it is given', () => {
    const lateUtc = new Date('2024-06-30T20:00:00Z');
    assert.equal(
      words(sayDate(lateUtc, 'zh', { timeZone: 'Asia/Shanghai' }), 'zh'),
      '二零二四年七月一日星期一',
    );
    assert.equal(words(sayTime(lateUtc, 'zh', { timeZone: 'Asia/Shanghai' }), 'zh'), '凌晨四点');
  });

  it('says times on a 12-hour clock (en) and by part of the day (zh)', () => {
    const cases: [string, string, string][] = [
      ['00:30', 'twelve thirty a.m.', '凌晨零点三十分'],
      ['02:00', "two o'clock a.m.", '凌晨两点'],
      ['09:05', 'nine oh five a.m.', '上午九点零五分'],
      ['11:59', 'eleven fifty nine a.m.', '上午十一点五十九分'],
      ['12:00', "twelve o'clock p.m.", '中午十二点'],
      ['14:30', 'two thirty p.m.', '下午两点三十分'],
      ['18:02', 'six oh two p.m.', '晚上六点零二分'],
      ['23:45', 'eleven forty five p.m.', '晚上十一点四十五分'],
    ];
    for (const [hm, en, zh] of cases) {
      const date = new Date(`2024-01-01T${hm}:00Z`);
      assert.equal(words(sayTime(date, 'en', utc), 'en'), en, hm);
      assert.equal(words(sayTime(date, 'zh', utc), 'zh'), zh, hm);
    }
  });

  it('refuses invalid dates and unknown time zones', () => {
    assert.throws(
      () => sayDate(new Date('not a date'), 'en'),
      (err) =>
        isSwitchboardError(err, 'E_SAY_INPUT') &&
        (err.details as { field: string }).field === 'date',
    );
    assert.throws(
      () => sayTime('2024-01-01' as unknown as Date, 'en'),
      (err) => isSwitchboardError(err, 'E_SAY_INPUT') && err.message.includes('2024-01-01'),
    );
    assert.throws(
      () => sayTime(new Date(), 'en', { timeZone: 'Mars/Olympus' }),
      (err) => isSwitchboardError(err, 'E_SAY_INPUT') && err.message.includes('Mars/Olympus'),
    );
    assert.throws(
      () => sayDate(new Date(Date.UTC(10000, 0, 1)), 'en', utc),
      (err) => isSwitchboardError(err, 'E_SAY_INPUT') && /year outside 1\.\.9999/.test(err.message),
    );
  });
});

describe('prompt set text', () => {
  it('has words for exactly the prompt names say.ts produces, in both languages', () => {
    for (const lang of ['en', 'zh'] as const) {
      const produced = new Set<string>();
      const add = (names: string[]) => {
        for (const n of names) produced.add(n);
      };
      for (let n = -20; n <= 2100; n++) add(sayNumber(n, lang));
      for (const n of [1e4, 2e4, 1e5, 2e5, 1e6, 1e8, 2e8, 1e9, 2e9, 1e11, SAY_NUMBER_MAX])
        add(sayNumber(n, lang));
      add(sayDigits('0123456789*#', lang));
      for (let day = 0; day < 366; day++)
        add(sayDate(new Date(Date.UTC(2024, 0, 1 + day)), lang, { timeZone: 'UTC' }));
      for (let minute = 0; minute < 24 * 60; minute++)
        add(sayTime(new Date(Date.UTC(2024, 0, 1, 0, minute)), lang, { timeZone: 'UTC' }));
      assert.deepEqual([...produced].sort(), Object.keys(PROMPT_SET_TEXT[lang]).sort(), lang);
      assert.deepEqual(
        Object.keys(PROMPT_SET_SPEECH[lang]).sort(),
        Object.keys(PROMPT_SET_TEXT[lang]).sort(),
      );
    }
    assert.equal(PROMPT_SET_TEXT.zh['digits/liang'], '两');
    assert.equal(PROMPT_SET_SPEECH.zh['digits/liang'], 'liang3');
    assert.equal(PROMPT_SET_SPEECH.en['digits/h-1'], 'first');
  });
});
