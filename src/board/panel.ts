// SPDX-License-Identifier: GPL-2.0-or-later
// What the front panel shows: span LEDs from DAHDI alarms, the LCD's address and alarm summary (pure).

import { networkInterfaces } from 'node:os';
import type { DahdiSpan } from '../native/addon.ts';
import type { Led } from './protocol.ts';

const OFF: Led = { colour: 'off', blink: false };

/** Alarms that mean the span receives no usable signal (red: LOS, loss of frame or multiframe). */
const RED_ALARMS = new Set(['RED', 'LOS', 'LFA', 'LMFA']);

/**
 * The LED of one span:
 * - off: no such span, or not configured (dahdi_cfg gave it no channels; NOTOPEN)
 * - red: RED, LOS, LFA, LMFA (loss of signal, frame or multiframe)
 * - yellow: YELLOW (RAI, the far end reports a fault); blinking for BLUE (AIS, all ones from
 *   upstream) and LOOPBACK
 * - green: no alarm; blinking for RECOVER (an alarm is clearing)
 */
export function spanLed(span: DahdiSpan | undefined): Led {
  if (!span || span.numchans === 0) return OFF;
  const alarms = new Set<string>(span.alarms);
  if (alarms.has('NOTOPEN')) return OFF;
  if ([...alarms].some((a) => RED_ALARMS.has(a))) return { colour: 'red', blink: false };
  if (alarms.has('BLUE') || alarms.has('LOOPBACK')) return { colour: 'yellow', blink: true };
  if (alarms.has('YELLOW')) return { colour: 'yellow', blink: false };
  if (alarms.has('RECOVER')) return { colour: 'green', blink: true };
  return { colour: 'green', blink: false };
}

/** LED N shows span N; `undefined` spans (DAHDI cannot be read): every LED blinks red. */
export function panelLeds(count: number, spans: readonly DahdiSpan[] | undefined): Led[] {
  if (spans === undefined)
    return Array.from({ length: count }, () => ({ colour: 'red', blink: true }));
  const byNumber = new Map(spans.map((s) => [s.span, s]));
  return Array.from({ length: count }, (_x, i) => spanLed(byNumber.get(i + 1)));
}

/** The box's address for the LCD: the first IPv4 address of a non-loopback interface. */
export function boxAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

function fit(text: string, columns: number): string {
  return text.length > columns ? text.slice(0, columns) : text.padEnd(columns);
}

/**
 * The alarm line: `6 SPANS OK`, or the spans in alarm with R (red) or Y (yellow: RAI, AIS)
 * in span order, `ALM 1R 5R 3Y`; a list too long for the line ends in `+`. Spans that are
 * not configured are left out. `DAHDI DOWN` when DAHDI cannot be read.
 */
export function alarmSummary(spans: readonly DahdiSpan[] | undefined, columns: number): string {
  if (spans === undefined) return fit('DAHDI DOWN', columns);
  const marks: string[] = [];
  let ok = 0;
  for (const s of [...spans].sort((a, b) => a.span - b.span)) {
    const led = spanLed(s);
    if (led.colour === 'red') marks.push(`${s.span}R`);
    else if (led.colour === 'yellow') marks.push(`${s.span}Y`);
    else if (led.colour === 'green') ok += 1;
  }
  if (marks.length === 0) return fit(ok === 0 ? 'NO SPANS' : `${ok} SPANS OK`, columns);
  let line = 'ALM';
  for (const [i, m] of marks.entries()) {
    const more = i < marks.length - 1;
    if (`${line} ${m}${more ? ' +' : ''}`.length > columns) return fit(`${line} +`, columns);
    line = `${line} ${m}`;
  }
  return fit(line, columns);
}

/** The LCD lines: the address, the alarm summary, then the model name on a third line. */
export function lcdLines(opts: {
  rows: number;
  columns: number;
  address: string | undefined;
  spans: readonly DahdiSpan[] | undefined;
  model: string;
}): string[] {
  const { rows, columns, address } = opts;
  const ip = address === undefined ? 'NO NETWORK' : `IP ${address}`;
  const lines = [
    fit(ip.length <= columns ? ip : (address ?? ''), columns),
    alarmSummary(opts.spans, columns),
    fit(opts.model, columns),
  ];
  return Array.from({ length: rows }, (_x, i) => lines[i] ?? fit('', columns));
}
