// SPDX-License-Identifier: GPL-2.0-or-later
// Imports DAHDI's system.conf (as dahdi_cfg reads it) into spans and a per-span channel layout.

import { SwitchboardError } from '../core/errors.ts';
import { DAHDI_TONE_ZONES } from '../trunks/system-conf.ts';
import type { BoardSpans } from '../trunks/validate.ts';
import type { SpanConfig, SwitchConfig } from './schema.ts';

/** Something an importer could not carry over, where it stands and why. */
export interface ImportIssue {
  /** Which input it comes from (`system.conf`, `chan_dahdi.conf`, or the name given). */
  file: string;
  /** 1-based line number in that input. */
  line: number;
  /** The line as written (trimmed). */
  text: string;
  /** Why it is not imported, in installer words. */
  reason: string;
}

/**
 * What dahdi_cfg does with a channel, by its system.conf keyword (aliases folded:
 * `indclear` is `bchan`, `user` is `cas`, a one-channel `fcshdlc` is `dchan`).
 */
export type DahdiFunction =
  | 'bchan'
  | 'dchan'
  | 'hardhdlc'
  | 'cas'
  | 'fxoks'
  | 'fxols'
  | 'fxsks'
  | 'fxsls'
  | 'unused'
  | 'fxogs'
  | 'fxsgs'
  | 'e&m'
  | 'e&me1'
  | 'clear'
  | 'rawhdlc'
  | 'nethdlc'
  | 'fcshdlc'
  | 'mtp2'
  | 'dacs'
  | 'dacsrbs';

/** One configured channel of a span, as system.conf left it. */
export interface TimeslotConfig {
  /** Position on the span: the timeslot of an E1/T1, the port of an analog card (1-based). */
  timeslot: number;
  /** The global DAHDI channel number system.conf used. */
  channel: number;
  function: DahdiFunction;
  /** False when the switch cannot use the channel this way (the issue says why). */
  supported: boolean;
  /** CAS idle bits ABCD (`cas=...:1101`). */
  idleBits?: string;
  /** Companding law forced by alaw= / mulaw= (absent: the span's default). */
  law?: 'alaw' | 'mulaw';
  /** DAHDI echo canceller module named by echocanceller= (mg2, oslec, hwec ...). */
  echoCanceller?: string;
  /** system.conf line that configured the channel. */
  line: number;
}

/** One span and where its channels sit in DAHDI's global channel numbering. */
export interface SpanLayout {
  span: number;
  type: 'E1' | 'T1' | 'analog';
  /** Global DAHDI channel number of timeslot (port) 1. */
  firstChannel: number;
  /** Timeslots (ports) on the span: 31 for E1, 24 for T1, the port count of an analog card. */
  channels: number;
  /**
   * How size and place were learnt: `board` (the board description), `span line` (framing of a
   * system.conf span= line), `inferred` (analog channels after the last known span, taken as
   * one analog card: a guess, said so in the notes) or `assumed` (chan_dahdi.conf imported
   * without system.conf nor board: every span taken as an E1).
   */
  source: 'board' | 'span line' | 'inferred' | 'assumed';
  /** The configured channels, by timeslot. */
  timeslots: TimeslotConfig[];
}

export interface SystemConfImport {
  /** `spans` (one per valid span= line) and `system.toneZone` (from defaultzone=). */
  config: Partial<SwitchConfig>;
  /** Every placed span with its configured channels (the channel layout per span). */
  layout: SpanLayout[];
  /** The span= line of each imported span, by "span N". */
  origins: Record<string, { line: number; text: string }>;
  unsupported: ImportIssue[];
  notes: string[];
}

export interface SystemConfOptions {
  /**
   * The board, when known: span types and sizes (analog cards have no span= line, so without it
   * their channels can only be guessed). Spans are numbered from 1; channels follow in span order.
   */
  board?: BoardSpans;
  /** Name used in issues; default `system.conf`. */
  file?: string;
}

export { DAHDI_TONE_ZONES };

/** DAHDI channel numbers run 1..DAHDI_MAX_CHANNELS-1 (1023). */
export const DAHDI_MAX_CHANNEL = 1023;
/** dahdi_cfg's highest timing priority (MAX_TIMING). */
const MAX_TIMING = 255;

const SPAN_SIZE = { E1: 31, T1: 24 } as const;

/** Channel-function keywords of dahdi_cfg, each with the function it configures. */
const FUNCTIONS: Record<string, DahdiFunction> = {
  bchan: 'bchan',
  indclear: 'bchan',
  dchan: 'dchan',
  hardhdlc: 'hardhdlc',
  cas: 'cas',
  user: 'cas',
  fxoks: 'fxoks',
  fxols: 'fxols',
  fxsks: 'fxsks',
  fxsls: 'fxsls',
  unused: 'unused',
  fxogs: 'fxogs',
  fxsgs: 'fxsgs',
  'e&m': 'e&m',
  'e&me1': 'e&me1',
  clear: 'clear',
  rawhdlc: 'rawhdlc',
  nethdlc: 'nethdlc',
  fcshdlc: 'fcshdlc',
  mtp2: 'mtp2',
  dacs: 'dacs',
  dacsrbs: 'dacsrbs',
};

/** Why a channel function has no counterpart here. */
const UNSUPPORTED_FUNCTION: Partial<Record<DahdiFunction, string>> = {
  fxogs: 'ground start signalling is not supported (analog ports run loop start or kewlstart)',
  fxsgs: 'ground start signalling is not supported (analog ports run loop start or kewlstart)',
  'e&m': 'E&M signalling is not supported (trunks are PRI, SS7, MFC-R2 or analog loop/kewlstart)',
  'e&me1': 'E&M signalling is not supported (trunks are PRI, SS7, MFC-R2 or analog loop/kewlstart)',
  clear: 'clear-channel data bundles are not supported (no data links on this switch)',
  rawhdlc: 'raw HDLC data bundles are not supported (no data links on this switch)',
  nethdlc: 'HDLC network interfaces (nethdlc) are not supported (no data links on this switch)',
  fcshdlc:
    'a multi-channel HDLC bundle is not supported; a single fcshdlc channel is taken as a D-channel',
  mtp2: 'kernel MTP2 is not used: the switch runs MTP2 in software (libss7) on a hardhdlc or dchan timeslot',
  dacs: 'DACS cross-connects are not configured in system.conf here: the switch patches timeslots itself',
  dacsrbs:
    'DACS cross-connects are not configured in system.conf here: the switch patches timeslots itself',
};

/** Radio interface (PCI Radio Interface card) and other keywords with no counterpart. */
const UNSUPPORTED_KEYWORDS: Record<string, string> = {
  dynamic: 'dynamic spans (TDM over Ethernet and the like) are not supported',
  channel: 'radio interface channel parameters (PCI Radio Interface) are not supported',
  channels: 'radio interface channel parameters (PCI Radio Interface) are not supported',
  ctcss: 'radio interface parameters (PCI Radio Interface) are not supported',
  dcsrx: 'radio interface parameters (PCI Radio Interface) are not supported',
  rxdcs: 'radio interface parameters (PCI Radio Interface) are not supported',
  tx: 'radio interface parameters (PCI Radio Interface) are not supported',
  debouncetime: 'radio interface parameters (PCI Radio Interface) are not supported',
  bursttime: 'radio interface parameters (PCI Radio Interface) are not supported',
  exttone: 'radio interface parameters (PCI Radio Interface) are not supported',
  invertcor: 'radio interface parameters (PCI Radio Interface) are not supported',
  corthresh: 'radio interface parameters (PCI Radio Interface) are not supported',
  rxgain: 'radio interface parameters (PCI Radio Interface) are not supported',
  txgain: 'radio interface parameters (PCI Radio Interface) are not supported',
  deemp: 'radio interface parameters (PCI Radio Interface) are not supported',
  preemp: 'radio interface parameters (PCI Radio Interface) are not supported',
  '56k': '56 kbit/s HDLC is not supported (no data links on this switch)',
};

/** [1,2,3,5] -> "1-3,5" */
export function rangeText(numbers: readonly number[]): string {
  const sorted = [...numbers].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i] as number;
    let end = start;
    while (sorted[i + 1] === end + 1) {
      end += 1;
      i += 1;
    }
    parts.push(start === end ? `${start}` : `${start}-${end}`);
    i += 1;
  }
  return parts.join(',');
}

/** "channel 5" or "channels 1-3,5" */
export function channelsText(numbers: readonly number[]): string {
  return `${numbers.length === 1 ? 'channel' : 'channels'} ${rangeText(numbers)}`;
}

/**
 * A system.conf channel list ("1-15,17-31", "25, 26") as dahdi_cfg reads it, in list order.
 * dahdi_cfg refuses the whole line on a bad piece, so one error refuses the list.
 */
export function parseChannelList(text: string): { channels: number[] } | { error: string } {
  const channels: number[] = [];
  const pieces = text.split(',').map((p) => p.trim());
  for (const piece of pieces) {
    if (piece === '') return { error: `"${text}" has an empty entry` };
    const bounds = piece.split('-').map((p) => p.trim());
    if (bounds.length > 2 || bounds.some((b) => !/^\d+$/.test(b)))
      return { error: `"${piece}" is not a channel number or a range like 1-15` };
    const [first, last] = bounds.map(Number) as [number, number | undefined];
    const end = last ?? first;
    for (const n of [first, end])
      if (n < 1 || n > DAHDI_MAX_CHANNEL)
        return { error: `channel ${n} is outside 1..${DAHDI_MAX_CHANNEL}` };
    if (first > end) return { error: `range ${piece} runs backwards (dahdi_cfg refuses it)` };
    for (let n = first; n <= end; n++) channels.push(n);
  }
  return { channels };
}

/** The lines of a text with their 1-based numbers; refuses anything that is not text. */
export function textLines(text: unknown, file: string): string[] {
  if (typeof text !== 'string')
    throw new SwitchboardError(
      'E_CONFIG_FILE',
      `${file}: must be text (a string), not ${text === null ? 'null' : typeof text}`,
    );
  return text.split(/\r\n|\n|\r/);
}

interface Statement {
  line: number;
  text: string;
  key: string;
  value: string;
}

interface PlacedChannel {
  layout: SpanLayout;
  timeslot: number;
}

/** Global channel number -> span and timeslot, from the spans placed so far. */
export function placeChannel(
  layout: readonly SpanLayout[],
  channel: number,
): PlacedChannel | undefined {
  for (const s of layout)
    if (channel >= s.firstChannel && channel < s.firstChannel + s.channels)
      return { layout: s, timeslot: channel - s.firstChannel + 1 };
  return undefined;
}

function spanTypeOfFraming(framing: string): 'E1' | 'T1' {
  return framing === 'esf' || framing === 'd4' ? 'T1' : 'E1';
}

/** Issues of one input, one per line: further reasons for the same line are appended. */
export class Issues {
  readonly list: ImportIssue[] = [];
  private readonly byLine = new Map<number, { issue: ImportIssue; reasons: string[] }>();
  constructor(readonly file: string) {}
  add(at: { line: number; text: string }, reason: string): void {
    const seen = this.byLine.get(at.line);
    if (seen) {
      if (!seen.reasons.includes(reason)) {
        seen.reasons.push(reason);
        seen.issue.reason = seen.reasons.join('; ');
      }
      return;
    }
    const issue = { file: this.file, line: at.line, text: at.text, reason };
    this.byLine.set(at.line, { issue, reasons: [reason] });
    this.list.push(issue);
  }
  /** The issues in line order. */
  sorted(): ImportIssue[] {
    return [...this.list].sort((a, b) => a.line - b.line);
  }
}

/** Splits the file into key=value statements as dahdi_cfg does; syntax errors become issues. */
function statements(lines: string[], issues: Issues): Statement[] {
  const out: Statement[] = [];
  lines.forEach((raw, i) => {
    const line = i + 1;
    const hash = raw.indexOf('#');
    const body = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (body === '') return;
    const text = raw.trim();
    const eq = body.indexOf('=');
    const key = eq >= 0 ? body.slice(0, eq).trim().toLowerCase() : '';
    const value = eq >= 0 ? body.slice(eq + 1).trim() : '';
    if (eq < 0 || key === '' || value === '') {
      issues.add({ line, text }, 'syntax error: not keyword=value (dahdi_cfg refuses the line)');
      return;
    }
    out.push({ line, text, key, value });
  });
  return out;
}

interface SpanLine {
  st: Statement;
  config: SpanConfig;
}

/** span=<span>,<timing>,<lbo>,<framing>,<coding>[,crc4][,yellow] */
function parseSpan(st: Statement, issues: Issues): SpanLine | undefined {
  const args = st.value.split(',').map((a) => a.trim());
  if (args.length < 5 || args.length > 9) {
    issues.add(
      st,
      `span= needs <span>,<timing>,<lbo>,<framing>,<coding>[,crc4][,yellow]: found ${args.length} field${args.length === 1 ? '' : 's'}`,
    );
    return undefined;
  }
  const [spanText, timingText, lboText, framingText, codingText, ...rest] = args as [
    string,
    string,
    string,
    string,
    string,
    ...string[],
  ];
  const errors: string[] = [];
  const span = /^\d+$/.test(spanText) ? Number(spanText) : Number.NaN;
  if (!(span >= 1 && span <= 127)) errors.push(`span number "${spanText}" is not 1..127`);
  const timing = /^\d+$/.test(timingText) ? Number(timingText) : Number.NaN;
  if (!(timing >= 0 && timing <= MAX_TIMING))
    errors.push(`timing "${timingText}" is not 0..${MAX_TIMING}`);
  const lbo = /^\d+$/.test(lboText) ? Number(lboText) : Number.NaN;
  if (!(lbo >= 0 && lbo <= 7)) errors.push(`line build-out "${lboText}" is not 0..7`);
  const framing = framingText.toLowerCase();
  if (!['ccs', 'cas', 'esf', 'd4'].includes(framing))
    errors.push(`framing "${framingText}" is not d4, esf, cas or ccs`);
  const coding = codingText.toLowerCase();
  if (!['ami', 'b8zs', 'hdb3'].includes(coding))
    errors.push(`coding "${codingText}" is not ami, b8zs or hdb3`);
  let crc4 = false;
  let yellow = false;
  const dropped: string[] = [];
  for (const r of rest) {
    const opt = r.toLowerCase();
    if (opt === 'crc4') crc4 = true;
    else if (opt === 'yellow') yellow = true;
    else if (opt === 'nt' || opt === 'te' || opt === 'term') dropped.push(opt);
    else errors.push(`"${r}" is not crc4, yellow, nt, te or term`);
  }
  if (errors.length > 0) {
    issues.add(st, errors.join('; '));
    return undefined;
  }
  if (dropped.length > 0)
    issues.add(
      st,
      `${dropped.join(', ')}: termination and NT/TE mode of BRI and hybrid cards have no counterpart (the rest of the line is imported)`,
    );
  const type = spanTypeOfFraming(framing);
  const config: SpanConfig = {
    span,
    type,
    framing: framing as SpanConfig['framing'],
    coding: coding as SpanConfig['coding'],
    timing,
  };
  if (lbo !== 0) config.lbo = lbo;
  if (type === 'E1') config.crc4 = crc4;
  else if (crc4) issues.add(st, 'crc4 is an E1 option: dropped on this T1 span');
  if (yellow) config.yellow = true;
  return { st, config };
}

/** Places spans in DAHDI's global channel numbering: from the board, else from span lines. */
function placeSpans(
  spanLines: Map<number, SpanLine>,
  board: BoardSpans | undefined,
  issues: Issues,
  notes: string[],
): SpanLayout[] {
  const layout: SpanLayout[] = [];
  if (board) {
    let base = 1;
    for (let span = 1; span <= 127; span++) {
      const b = board.get(span);
      if (!b) continue;
      layout.push({
        span,
        type: b.type,
        firstChannel: base,
        channels: b.channels,
        source: 'board',
        timeslots: [],
      });
      base += b.channels;
    }
    for (const [span, sl] of spanLines) {
      const b = board.get(span);
      let why: string | undefined;
      if (!b) why = `span ${span} is not on this board`;
      else if (b.type === 'analog')
        why = `span ${span} is an analog card on this board, not an E1/T1 span`;
      else if (b.type !== sl.config.type)
        why = `span ${span} is ${b.type === 'E1' ? 'an' : 'a'} ${b.type} span on this board; ${sl.config.framing} framing is ${sl.config.type}`;
      if (why) {
        issues.add(sl.st, why);
        spanLines.delete(span);
      }
    }
    return layout;
  }
  let base = 1;
  let span = 1;
  for (; spanLines.has(span); span++) {
    const sl = spanLines.get(span) as SpanLine;
    const type = sl.config.type as 'E1' | 'T1';
    layout.push({
      span,
      type,
      firstChannel: base,
      channels: SPAN_SIZE[type],
      source: 'span line',
      timeslots: [],
    });
    base += SPAN_SIZE[type];
  }
  const after = [...spanLines.keys()].filter((s) => s > span).sort((a, b) => a - b);
  if (after.length > 0)
    notes.push(
      `span${after.length === 1 ? '' : 's'} ${rangeText(after)} follow${after.length === 1 ? 's' : ''} span ${span}, which system.conf does not describe (an analog card?): without the board description ${after.length === 1 ? 'its' : 'their'} channels cannot be placed`,
    );
  return layout;
}

const ANALOG: readonly DahdiFunction[] = ['fxoks', 'fxols', 'fxsks', 'fxsls', 'fxogs', 'fxsgs'];

/**
 * Analog cards have no span= line. Without a board description, channels with analog signalling
 * right after the last placed span are taken as one analog card (the usual layout: digital cards
 * first). Only when no span= line names a later span.
 */
function inferAnalogSpan(
  layout: SpanLayout[],
  spanLines: Map<number, SpanLine>,
  channelStatements: { st: Statement; fn: DahdiFunction; channels: number[] }[],
  notes: string[],
): void {
  const last = layout[layout.length - 1];
  const base = last ? last.firstChannel + last.channels : 1;
  const next = last ? last.span + 1 : 1;
  if ([...spanLines.keys()].some((s) => s >= next)) return;
  const beyond = channelStatements.flatMap((c) => c.channels.filter((n) => n >= base));
  if (beyond.length === 0) return;
  if (channelStatements.some((c) => !ANALOG.includes(c.fn) && c.channels.some((n) => n >= base)))
    return;
  const size = Math.max(...beyond) - base + 1;
  layout.push({
    span: next,
    type: 'analog',
    firstChannel: base,
    channels: size,
    source: 'inferred',
    timeslots: [],
  });
  notes.push(
    `channels ${base}-${base + size - 1} have analog signalling and follow the last span line: taken as one analog card, span ${next}, ports 1-${size}. Pass the board description to be sure (a card whose first ports are not configured would be placed wrongly)`,
  );
}

/** Why a channel function cannot be used on this kind of span, if it cannot. */
function functionProblem(
  fn: DahdiFunction,
  s: SpanLayout,
  timeslot: number,
  spanLine?: SpanLine,
): string | undefined {
  const unsupported = UNSUPPORTED_FUNCTION[fn];
  if (unsupported) return unsupported;
  const analogFn = (ANALOG as readonly string[]).includes(fn);
  if (s.type === 'analog') {
    if (!analogFn && fn !== 'unused')
      return `span ${s.span} is an analog card: ${fn} is for E1/T1 timeslots`;
    return undefined;
  }
  if (analogFn)
    return `analog signalling over ${s.type} robbed-bit/CAS timeslots (a channel bank) is not supported: analog trunks live on analog cards`;
  const framing = spanLine?.config.framing;
  if (fn === 'cas') {
    if (s.type !== 'E1')
      return 'CAS on T1 (robbed bit: E&M, channel banks) is not supported; MFC-R2 runs on E1 spans framed cas';
    if (framing === 'ccs') return `span ${s.span} is framed ccs: CAS channels need cas framing`;
    if (timeslot === 16)
      return 'timeslot 16 of a CAS E1 carries the ABCD bits of every channel: it is not a channel itself';
  }
  if ((fn === 'dchan' || fn === 'hardhdlc') && framing === 'cas')
    return `span ${s.span} is framed cas: its timeslot 16 carries the ABCD bits of every channel, not a D-channel (dahdi_genconf writes this line for MFC-R2 spans; it is ignored)`;
  return undefined;
}

/**
 * Imports DAHDI's system.conf: every span= line into `config.spans`, every channel line into the
 * span layout (global channel numbers mapped to span and timeslot), defaultzone= into
 * `config.system.toneZone`. What the switch cannot do (E&M, ground start, data bundles, dynamic
 * spans, kernel MTP2, echo canceller choice, law overrides...) and what dahdi_cfg itself would
 * refuse (bad syntax, a span= line with missing fields, backward ranges, a channel configured
 * twice, a channel on no span) are listed in `unsupported` with their line. Never throws on text.
 * @throws SwitchboardError E_CONFIG_FILE when `text` is not a string
 */
export function importSystemConf(text: string, opts: SystemConfOptions = {}): SystemConfImport {
  const file = opts.file ?? 'system.conf';
  const lines = textLines(text, file);
  const issues = new Issues(file);
  const notes: string[] = [];
  const stmts = statements(lines, issues);

  // Pass 1: span lines (dahdi_cfg configures spans before channels, whatever the order in the file).
  const spanLines = new Map<number, SpanLine>();
  for (const st of stmts) {
    if (st.key !== 'span') continue;
    const sl = parseSpan(st, issues);
    if (!sl) continue;
    const seen = spanLines.get(sl.config.span);
    if (seen)
      issues.add(st, `span ${sl.config.span} is already configured at line ${seen.st.line}`);
    else spanLines.set(sl.config.span, sl);
  }

  // Channel lines, parsed (not yet applied) so that an analog card can be inferred.
  const channelStatements: {
    st: Statement;
    fn: DahdiFunction;
    channels: number[];
    extra?: string;
  }[] = [];
  for (const st of stmts) {
    const fn = FUNCTIONS[st.key];
    if (!fn) continue;
    const colon = st.value.indexOf(':');
    const listText = colon >= 0 ? st.value.slice(0, colon) : st.value;
    const extra = colon >= 0 ? st.value.slice(colon + 1).trim() : undefined;
    const parsed = parseChannelList(listText);
    if ('error' in parsed) {
      issues.add(st, parsed.error);
      continue;
    }
    if (fn === 'cas' && !(extra !== undefined && /^[01]{4}$/.test(extra))) {
      issues.add(
        st,
        'CAS channels need their idle bits ABCD after a colon, e.g. cas=1-15:1101 (dahdi_cfg refuses the line)',
      );
      continue;
    }
    if ((fn === 'dacs' || fn === 'dacsrbs') && !(extra !== undefined && /^\d+$/.test(extra))) {
      issues.add(
        st,
        `${st.key} needs the first cross-connected channel after a colon, e.g. 1-24:48`,
      );
      continue;
    }
    channelStatements.push({ st, fn, channels: parsed.channels, extra });
  }

  const layout = placeSpans(spanLines, opts.board, issues, notes);
  if (!opts.board) inferAnalogSpan(layout, spanLines, channelStatements, notes);

  // Pass 2: channel functions in file order; a channel is configured once (dahdi_cfg refuses more).
  const configuredBy = new Map<number, { fn: DahdiFunction; line: number }>();
  const byChannel = new Map<number, TimeslotConfig>();
  for (const { st, fn: keywordFn, channels, extra } of channelStatements) {
    const fn: DahdiFunction =
      keywordFn === 'fcshdlc' && channels.length === 1 ? 'dchan' : keywordFn;
    const conflicts = new Map<string, number[]>();
    const fresh: number[] = [];
    for (const ch of channels) {
      const seen = configuredBy.get(ch);
      if (seen) {
        const key = `${seen.fn} at line ${seen.line}`;
        conflicts.set(key, [...(conflicts.get(key) ?? []), ch]);
      } else if (!fresh.includes(ch)) fresh.push(ch);
    }
    for (const [where, chs] of conflicts)
      issues.add(
        st,
        `${channelsText(chs)} ${chs.length === 1 ? 'is' : 'are'} already configured as ${where}`,
      );
    for (const ch of fresh) configuredBy.set(ch, { fn, line: st.line });
    const unplaced: number[] = [];
    const problems = new Map<string, number[]>();
    for (const ch of fresh) {
      const at = placeChannel(layout, ch);
      if (!at) {
        unplaced.push(ch);
        continue;
      }
      const problem = functionProblem(fn, at.layout, at.timeslot, spanLines.get(at.layout.span));
      if (problem) problems.set(problem, [...(problems.get(problem) ?? []), ch]);
      const tc: TimeslotConfig = {
        timeslot: at.timeslot,
        channel: ch,
        function: fn,
        supported: problem === undefined,
        line: st.line,
      };
      if (fn === 'cas' && extra !== undefined) tc.idleBits = extra;
      at.layout.timeslots.push(tc);
      byChannel.set(ch, tc);
    }
    if (unplaced.length > 0) {
      const last = layout[layout.length - 1];
      const known = last
        ? `the known spans hold channels 1-${last.firstChannel + last.channels - 1}`
        : 'no span is known';
      issues.add(
        st,
        `${channelsText(unplaced)} ${unplaced.length === 1 ? 'is' : 'are'} not on any span (${known}${opts.board ? '' : '; pass the board description for analog cards'})`,
      );
    }
    for (const [problem, chs] of problems) issues.add(st, `${channelsText(chs)}: ${problem}`);
    if (fn === 'cas' && extra !== undefined && extra !== '1101' && problems.size === 0)
      notes.push(
        `line ${st.line}: CAS idle bits ${extra} (MFC-R2 lines usually idle at 1101); kept in the layout`,
      );
  }

  // Pass 3: law and echo canceller lines apply to configured channels wherever they stand.
  let toneZone: string | undefined;
  for (const st of stmts) {
    if (st.key === 'alaw' || st.key === 'mulaw' || st.key === 'deflaw') {
      const parsed = parseChannelList(st.value);
      if ('error' in parsed) {
        issues.add(st, parsed.error);
        continue;
      }
      const notConfigured: number[] = [];
      const overridden = new Map<string, number[]>();
      for (const ch of parsed.channels) {
        const tc = byChannel.get(ch);
        if (!tc) {
          notConfigured.push(ch);
          continue;
        }
        if (st.key === 'deflaw') {
          delete tc.law;
          continue;
        }
        tc.law = st.key;
        const s = placeChannel(layout, ch)?.layout;
        const natural = s?.type === 'E1' ? 'alaw' : s?.type === 'T1' ? 'mulaw' : undefined;
        if (natural !== st.key) {
          const why =
            s?.type === 'analog'
              ? `the companding law of analog ports follows the card driver; SwitchConfig has no law to force (span ${s.span})`
              : `${st.key} on a ${s?.type} span: SwitchConfig has no law to force; span ${s?.span} keeps its standard ${natural === 'alaw' ? 'A-law' : 'mu-law'}`;
          overridden.set(why, [...(overridden.get(why) ?? []), ch]);
        }
      }
      if (notConfigured.length > 0)
        issues.add(
          st,
          `${channelsText(notConfigured)} ${notConfigured.length === 1 ? 'has' : 'have'} no signalling line: dahdi_cfg ignores the law there`,
        );
      for (const [why, chs] of overridden) issues.add(st, `${channelsText(chs)}: ${why}`);
      continue;
    }
    if (st.key === 'echocanceller') {
      const [name = '', ...lists] = st.value.split(',').map((p) => p.trim());
      const parsed = lists.length > 0 ? parseChannelList(lists.join(',')) : undefined;
      if (name === '' || !parsed || 'error' in parsed) {
        issues.add(
          st,
          parsed && 'error' in parsed
            ? parsed.error
            : 'echocanceller= needs <module>,<channels> (e.g. mg2,1-15)',
        );
        continue;
      }
      for (const ch of parsed.channels) {
        const tc = byChannel.get(ch);
        if (tc) tc.echoCanceller = name;
      }
      issues.add(
        st,
        `echo canceller ${name} on ${channelsText(parsed.channels)}: SwitchConfig does not choose the DAHDI echo canceller module (calls switch echo cancellation on with the media "echo" command)`,
      );
      continue;
    }
    if (st.key === 'loadzone' || st.key === 'defaultzone') {
      const zone = st.value.toLowerCase();
      if (!(DAHDI_TONE_ZONES as readonly string[]).includes(zone)) {
        issues.add(st, `"${st.value}" is not a DAHDI tone zone (${DAHDI_TONE_ZONES.join(', ')})`);
        continue;
      }
      if (st.key === 'defaultzone') {
        if (toneZone !== undefined && toneZone !== zone)
          notes.push(`line ${st.line}: defaultzone=${zone} replaces ${toneZone}`);
        toneZone = zone;
      }
      continue;
    }
    if (st.key === 'span' || FUNCTIONS[st.key]) continue;
    const reason = UNSUPPORTED_KEYWORDS[st.key];
    issues.add(st, reason ?? `unknown keyword "${st.key}" (dahdi_cfg refuses it)`);
  }

  for (const s of layout) {
    s.timeslots.sort((a, b) => a.timeslot - b.timeslot);
    if (s.timeslots.length === 0 && s.source !== 'board')
      notes.push(
        `span ${s.span} (${s.type}, channels ${s.firstChannel}-${s.firstChannel + s.channels - 1}): no channel is configured`,
      );
  }
  const spans = [...spanLines.values()].map((sl) => sl.config).sort((a, b) => a.span - b.span);
  const config: Partial<SwitchConfig> = { spans };
  if (toneZone !== undefined) config.system = { toneZone };
  const origins: SystemConfImport['origins'] = {};
  for (const sl of spanLines.values())
    origins[`span ${sl.config.span}`] = { line: sl.st.line, text: sl.st.text };
  if (spans.length === 0) notes.push('no span= line: no E1/T1 span is configured');
  return { config, layout, origins, unsupported: issues.sorted(), notes };
}
