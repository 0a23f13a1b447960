// SPDX-License-Identifier: GPL-2.0-or-later
// What a flow's play items say, as prompt names: numbers, digits, dates and sums of money in en and zh.

import { SwitchboardError } from '../core/errors.ts';
import { sayDate, sayDigits, sayNumber, sayTime } from '../media/say.ts';
import type { FlowLang, PlayItem } from './schema.ts';

/**
 * A sum of money (`12.50`, `-3`, `0.05`) as prompt names. en: "twelve currency/cny and fifty
 * currency/cny-minor"; zh CNY the way amounts are read in China, 元 角 分 (十二元五角,
 * 一元零五分, 五角); other currencies in zh: major unit then minor unit. The unit words are
 * prompts `currency/<code>` and `currency/<code>-minor` (zh CNY: currency/cny-jiao,
 * currency/cny-fen), recorded like any other prompt.
 * @throws SwitchboardError E_SAY_INPUT when the value is not an amount with up to two decimals
 */
export function sayAmount(value: string, currency: string, lang: FlowLang): string[] {
  const m = /^(-?)([0-9]{1,12})(?:\.([0-9]{1,2}))?$/.exec(value.trim());
  if (!m)
    throw new SwitchboardError(
      'E_SAY_INPUT',
      `${JSON.stringify(value)} is not an amount (digits with up to two decimals, such as 12.50)`,
      { details: { value } },
    );
  const major = Number(m[2]);
  const minor = Number((m[3] ?? '').padEnd(2, '0'));
  const cur = currency.toLowerCase();
  const out: string[] = m[1] && (major > 0 || minor > 0) ? ['digits/minus'] : [];
  if (lang === 'zh' && cur === 'cny') {
    const jiao = Math.floor(minor / 10);
    const fen = minor % 10;
    if (major > 0 || minor === 0) out.push(...sayNumber(major, lang), 'currency/cny');
    if (jiao > 0) out.push(...sayNumber(jiao, lang), 'currency/cny-jiao');
    if (fen > 0) {
      // 一元零五分: a zero jiao between yuan and fen is said.
      if (jiao === 0 && major > 0) out.push('digits/0');
      out.push(...sayNumber(fen, lang), 'currency/cny-fen');
    }
    return out;
  }
  if (major > 0 || minor === 0) out.push(...sayNumber(major, lang), `currency/${cur}`);
  if (minor > 0) {
    if (major > 0 && lang === 'en') out.push('digits/and');
    out.push(...sayNumber(minor, lang), `currency/${cur}-minor`);
  }
  return out;
}

/** A date item's value: "now" or empty for the clock, else an ISO date/time. */
function itemDate(value: string, now: () => Date): Date {
  const v = value.trim();
  if (v === '' || v === 'now') return now();
  const d = new Date(v);
  if (Number.isNaN(d.getTime()))
    throw new SwitchboardError('E_SAY_INPUT', `${JSON.stringify(value)} is not a date`, {
      details: { value },
    });
  return d;
}

/** How an item is spoken, given its templates filled in: prompt names, or text for speech. */
export type ItemSpeech = { names: string[] } | { tts: string; voice?: string };

/**
 * The prompt names (or speech text) of one play item. `render` fills a template in.
 * @throws SwitchboardError E_SAY_INPUT when a value cannot be spoken (not a number, a date...)
 */
export function itemSpeech(
  item: PlayItem,
  render: (template: string) => string,
  lang: FlowLang,
  now: () => Date,
  timeZone: string | undefined,
): ItemSpeech {
  const zone = timeZone === undefined ? {} : { timeZone };
  if ('prompt' in item) return { names: [item.prompt] };
  if ('tts' in item) return { tts: render(item.tts), ...(item.voice ? { voice: item.voice } : {}) };
  if ('number' in item) {
    const v = render(item.number).trim();
    if (!/^-?[0-9]{1,15}$/.test(v))
      throw new SwitchboardError('E_SAY_INPUT', `${JSON.stringify(v)} is not a whole number`, {
        details: { value: v },
      });
    return { names: sayNumber(Number(v), lang) };
  }
  if ('digits' in item) return { names: sayDigits(render(item.digits).trim(), lang) };
  if ('date' in item) {
    const d = itemDate(render(item.date), now);
    const format = item.format ?? 'date';
    const names: string[] = [];
    if (format !== 'time') names.push(...sayDate(d, lang, zone));
    if (format !== 'date') names.push(...sayTime(d, lang, zone));
    return { names };
  }
  return { names: sayAmount(render(item.amount), item.currency ?? 'CNY', lang) };
}

/**
 * Is this failure one item's own (a prompt missing, a value that cannot be said, speech that
 * cannot be rendered)? Such an item is left out of the playlist and the flow goes on; other
 * failures end the call.
 */
export function isItemFailure(err: unknown): err is SwitchboardError {
  return (
    err instanceof SwitchboardError &&
    (err.code.startsWith('E_PROMPT_') ||
      err.code.startsWith('E_TTS') ||
      err.code.startsWith('E_SAY_'))
  );
}
