// SPDX-License-Identifier: GPL-2.0-or-later
// Imports Asterisk's chan_dahdi.conf ([channels], sticky options) into trunks, trunk groups and extensions.

import type { EngineTrunk } from '../native/engine.ts';
import {
  ANALOG_TIMERS,
  LINE_SIGNALLING,
  STATION_SIGNALLING,
  TONE_ZONES,
} from '../trunks/analog.ts';
import { PRI_TIMERS } from '../trunks/pri.ts';
import {
  R2_CATEGORIES,
  R2_LOG_LEVELS,
  R2_MAX_DIGITS,
  R2_NO_GROUP_A_ACCEPT,
  R2_TIMERS,
  R2_VARIANT_CODES,
} from '../trunks/r2.ts';
import { SS7_TIMERS } from '../trunks/ss7.ts';
import type { TimerSpec } from '../trunks/timers.ts';
import type { BoardSpans } from '../trunks/validate.ts';
import {
  channelsText,
  DAHDI_MAX_CHANNEL,
  DAHDI_TONE_ZONES,
  type DahdiFunction,
  type ImportIssue,
  Issues,
  placeChannel,
  rangeText,
  type SpanLayout,
  type SystemConfImport,
  textLines,
} from './import-system-conf.ts';
import type { Extension, SwitchConfig, TrunkGroup } from './schema.ts';

export interface ChanDahdiOptions {
  /**
   * The imported system.conf of the same box: it places chan_dahdi's global channel numbers on
   * spans and timeslots, and says what each channel is (bchan, dchan, cas, fxoks ...). Without
   * it the board places channels, or, without a board either, every span is taken as an E1.
   */
  systemConf?: SystemConfImport;
  /** The board, when known and no system.conf is given. */
  board?: BoardSpans;
  /** Name used in issues; default `chan_dahdi.conf`. */
  file?: string;
}

export interface ChanDahdiImport {
  /** `trunks`, `trunkGroups` (from group=), `extensions` (phones' callerid=) and `system.toneZone`. */
  config: Partial<SwitchConfig>;
  /** The line each trunk (by name) and extension (by number) comes from: its first channel line. */
  origins: Record<string, { line: number; text: string }>;
  unsupported: ImportIssue[];
  notes: string[];
}

type Kind = 'pri' | 'ss7' | 'r2' | 'analog';

/** A set option and where it was set. */
interface Opt {
  value: string;
  line: number;
  text: string;
}

type Snapshot = ReadonlyMap<string, Opt>;

interface Where {
  line: number;
  text: string;
}

/** One channel => line's channel, placed and accepted. */
interface ChannelUse {
  channel: number;
  span: number;
  timeslot: number;
  signalling: string;
  kind: Kind;
  at: Where;
  opts: Snapshot;
  groups: number[];
  cic?: number;
  linkset?: number;
}

interface Linkset {
  number: number;
  at: Where;
  opts: Snapshot;
  links: { channel: number; slc?: number; at: Where }[];
  timers: Map<string, Opt>;
}

/** Asterisk's ast_true / ast_false. */
function isTrue(v: string): boolean {
  return /^(yes|true|y|t|1|on)$/i.test(v.trim());
}
function isFalse(v: string): boolean {
  return /^(no|false|n|f|0|off)$/i.test(v.trim());
}

/** chan_dahdi's defaults for options this importer does not map: set to these, they change nothing. */
const DEFAULTS: Record<string, string> = {
  context: 'default',
  language: '',
  immediate: 'no',
  immediatering: 'yes',
  busydetect: 'no',
  busycount: '3',
  rxgain: '0',
  txgain: '0',
  echocancel: 'yes',
  echocancelwhenbridged: 'no',
  mohinterpret: 'default',
  transfertobusy: 'yes',
  cidstart: 'ring',
  hidecallerid: 'no',
  hidecalleridname: 'no',
  pridialplan: 'unknown',
  prilocaldialplan: 'national',
  resetinterval: 'never',
  mfcr2_call_files: 'no',
  mfcr2_accept_on_offer: 'yes',
  ignore_failed_channels: 'yes',
  threewaycalling: 'no',
  transfer: 'no',
  callwaiting: 'no',
  callwaitingcallerid: 'no',
  canpark: 'no',
  cancallforward: 'no',
  callreturn: 'no',
  faxdetect: 'no',
  relaxdtmf: 'no',
  priindication: 'inband',
  priexclusive: 'no',
  facilityenable: 'no',
  nsf: 'none',
};

/** Why an option has no counterpart, for the common ones (others get a generic reason). */
const NO_COUNTERPART: Record<string, string> = {
  context:
    'dialplan contexts have no counterpart: incoming calls are routed by routes.inbound, which match on trunk or trunk group',
  language: 'the prompt language is chosen by IVR flows, not per channel',
  mailbox: 'voicemail boxes have no counterpart',
  immediate:
    'FXS ports always collect digits and hand the number to routing (timers firstDigitTimeout, digitTimeout)',
  echocancel:
    'echo cancellation is switched on per call (media "echo" command), not per channel here',
  echocancelwhenbridged:
    'echo cancellation is switched on per call (media "echo" command), not per channel here',
  echotraining:
    'echo cancellation is switched on per call (media "echo" command), not per channel here',
  rxgain: 'channel gains have no counterpart',
  txgain: 'channel gains have no counterpart',
  pridialplan:
    'the type of number is set per call and by number manipulation on routes, not per trunk',
  prilocaldialplan:
    'the type of number is set per call and by number manipulation on routes, not per trunk',
  internationalprefix:
    'prefixes by type of number belong in the routes (called_manipulation / calling_manipulation)',
  nationalprefix:
    'prefixes by type of number belong in the routes (called_manipulation / calling_manipulation)',
  localprefix:
    'prefixes by type of number belong in the routes (called_manipulation / calling_manipulation)',
  privateprefix:
    'prefixes by type of number belong in the routes (called_manipulation / calling_manipulation)',
  unknownprefix:
    'prefixes by type of number belong in the routes (called_manipulation / calling_manipulation)',
  resetinterval: 'periodic RESTART of idle B-channels has no counterpart in the PRI trunk settings',
  hidecallerid:
    'presentation restricted has no trunk setting: set routes.outbound[].callerId.presentation to "restricted" on the routes using these trunks',
  hidecalleridname:
    'presentation restricted has no trunk setting: set routes.outbound[].callerId.presentation to "restricted" on the routes using these trunks',
  cidstart: 'caller ID is expected after the first ring only (no polarity or DTMF start)',
  mfcr2_call_files:
    'openr2 call files have no counterpart: the trunk\'s "logging" sends openr2 messages to the log',
  mfcr2_logdir:
    'openr2 call files have no counterpart: the trunk\'s "logging" sends openr2 messages to the log',
  mfcr2_advanced_protocol_file:
    'an openr2 protocol file has no counterpart: set the R2 timers on the trunk (timers)',
  mfcr2_accept_on_offer:
    'the controller decides when an offered MFC-R2 call is accepted; there is no setting',
  caller:
    '"caller" is not a chan_dahdi option (dahdi_genconf writes it for MFC-R2 spans; chan_dahdi ignores it)',
  callgroup: 'call groups and call pickup have no counterpart',
  pickupgroup: 'call groups and call pickup have no counterpart',
  namedcallgroup: 'call groups and call pickup have no counterpart',
  namedpickupgroup: 'call groups and call pickup have no counterpart',
  ss7_called_nai:
    'the nature of address is set per call and by number manipulation on routes, not per linkset',
  ss7_calling_nai:
    'the nature of address is set per call and by number manipulation on routes, not per linkset',
  cadence:
    'distinctive ring cadences have no counterpart (ringCadence sets the one cadence of a trunk)',
  trunkgroup:
    'NFAS (one D-channel for several spans) is not supported: each PRI span has its own D-channel',
  spanmap:
    'NFAS (one D-channel for several spans) is not supported: each PRI span has its own D-channel',
};

/** Options this importer maps onto trunk, group, extension or system fields. */
const MAPPED = new Set([
  'channel',
  'channels',
  'signalling',
  'signaling',
  'group',
  'callerid',
  'usecallerid',
  'cidsignalling',
  'tonezone',
  'answeronpolarityswitch',
  'hanguponpolarityswitch',
  'ringtimeout',
  'firstdigit_timeout',
  'interdigit_timeout',
  'switchtype',
  'overlapdial',
  'service_message_support',
  'pritimer',
  'ss7type',
  'linkset',
  'slc',
  'pointcode',
  'adjpointcode',
  'defaultdpc',
  'cicbeginswith',
  'networkindicator',
  'sigchan',
  'mfcr2_variant',
  'mfcr2_max_ani',
  'mfcr2_max_dnis',
  'mfcr2_get_ani_first',
  'mfcr2_category',
  'mfcr2_skip_category',
  'mfcr2_double_answer',
  'mfcr2_immediate_accept',
  'mfcr2_allow_collect_calls',
  'mfcr2_charge_calls',
  'mfcr2_forced_release',
  'mfcr2_mfback_timeout',
  'mfcr2_metering_pulse_timeout',
  'mfcr2_logging',
]);

/** chan_dahdi signalling names the switch has no trunk for, with the reason. */
function signallingProblem(sig: string): string | undefined {
  if (['pri_net', 'pri_cpe', 'ss7', 'mfcr2', 'auto'].includes(sig)) return undefined;
  if ([...STATION_SIGNALLING, ...LINE_SIGNALLING].includes(sig as never)) return undefined;
  if (sig.startsWith('bri_')) return `signalling ${sig}: BRI is not supported (E1/T1 spans only)`;
  if (sig === 'fxs_gs' || sig === 'fxo_gs')
    return `signalling ${sig}: ground start is not supported (analog ports run loop start or kewlstart)`;
  if (/^(em|em_e1|em_w|featd|featdmf|featdmf_ta|featb|fgccama|fgccamamf|e911)$/.test(sig))
    return `signalling ${sig}: E&M / Feature Group signalling is not supported`;
  if (/^sf/.test(sig)) return `signalling ${sig}: SF (in-band tone) signalling is not supported`;
  if (/_(rx|tx|rxtx|txrx)$/.test(sig))
    return `signalling ${sig}: radio interfaces are not supported`;
  return `"${sig}" is not a chan_dahdi signalling`;
}

/** What chan_dahdi's signalling needs system.conf to have configured the channel as. */
function neededFunction(sig: string): DahdiFunction | undefined {
  switch (sig) {
    case 'pri_net':
    case 'pri_cpe':
    case 'ss7':
      return 'bchan';
    case 'mfcr2':
      return 'cas';
    case 'fxo_ks':
      return 'fxoks';
    case 'fxo_ls':
      return 'fxols';
    case 'fxs_ks':
      return 'fxsks';
    case 'fxs_ls':
      return 'fxsls';
    default:
      return undefined;
  }
}

const AUTO_SIGNALLING: Partial<Record<DahdiFunction, string>> = {
  fxoks: 'fxo_ks',
  fxols: 'fxo_ls',
  fxsks: 'fxs_ks',
  fxsls: 'fxs_ls',
};

function kindOf(sig: string): Kind {
  if (sig === 'pri_net' || sig === 'pri_cpe') return 'pri';
  if (sig === 'ss7') return 'ss7';
  if (sig === 'mfcr2') return 'r2';
  return 'analog';
}

/** ast_get_group: "1,3-5" -> [1,3,4,5]; pieces that are not groups 0..63 are reported. */
function parseGroups(value: string): { groups: number[]; bad: string[] } {
  const groups = new Set<number>();
  const bad: string[] = [];
  if (value.trim() === '') return { groups: [], bad };
  for (const raw of value.split(',')) {
    const piece = raw.trim();
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(piece);
    if (!m) {
      bad.push(piece);
      continue;
    }
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    for (let g = first; g <= last; g++) {
      if (g > 63) {
        bad.push(`${g}`);
        break;
      }
      groups.add(g);
    }
  }
  return { groups: [...groups].sort((a, b) => a - b), bad };
}

/** `"Name" <4001>`, `Name <4001>` or `4001` -> name and number (ast_callerid_split). */
function splitCallerId(value: string): { name?: string; number?: string } {
  const m = /^\s*(?:"([^"]*)"|([^<]*?))\s*<([^>]*)>\s*$/.exec(value);
  if (m) {
    const name = (m[1] ?? m[2] ?? '').trim();
    const number = (m[3] ?? '').trim();
    return { ...(name ? { name } : {}), ...(number ? { number } : {}) };
  }
  const v = value.trim();
  return /^[0-9*#+]+$/.test(v) ? { number: v } : v ? { name: v } : {};
}

/** A point code as chan_dahdi takes it: a number, or "a-b-c" (ANSI). */
function pointCode(v: string): number | string | undefined {
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t);
  if (/^\d{1,3}-\d{1,3}-\d{1,3}$/.test(t)) return t;
  return undefined;
}

/** Asterisk config lines: comments (;, ;-- --;), sections, directives, key = value, key => value. */
type ConfLine =
  | { kind: 'section'; at: Where; name: string; rest: string }
  | { kind: 'directive'; at: Where; name: string }
  | { kind: 'option'; at: Where; key: string; value: string }
  | { kind: 'bad'; at: Where };

function confLines(lines: string[]): ConfLine[] {
  const out: ConfLine[] = [];
  let inBlock = false;
  lines.forEach((raw, i) => {
    const line = i + 1;
    let body = '';
    let k = 0;
    while (k < raw.length) {
      if (inBlock) {
        const end = raw.indexOf('--;', k);
        if (end < 0) {
          k = raw.length;
          break;
        }
        inBlock = false;
        k = end + 3;
        continue;
      }
      const c = raw[k] as string;
      if (c === '\\' && raw[k + 1] === ';') {
        body += ';';
        k += 2;
        continue;
      }
      if (c === ';') {
        if (raw.startsWith(';--', k)) {
          inBlock = true;
          k += 3;
          continue;
        }
        break;
      }
      body += c;
      k += 1;
    }
    body = body.trim();
    if (body === '') return;
    const at = { line, text: raw.trim() };
    if (body.startsWith('#')) {
      out.push({ kind: 'directive', at, name: (body.slice(1).split(/\s/)[0] ?? '').toLowerCase() });
      return;
    }
    const section = /^\[([^\]]*)\](.*)$/.exec(body);
    if (section) {
      out.push({
        kind: 'section',
        at,
        name: (section[1] ?? '').trim().toLowerCase(),
        rest: (section[2] ?? '').trim(),
      });
      return;
    }
    const eq = body.indexOf('=');
    if (eq <= 0) {
      out.push({ kind: 'bad', at });
      return;
    }
    const key = body.slice(0, eq).trim().toLowerCase();
    const value = body
      .slice(eq + 1)
      .replace(/^>/, '')
      .trim();
    if (key === '') out.push({ kind: 'bad', at });
    else out.push({ kind: 'option', at, key, value });
  });
  return out;
}

/** chan_dahdi's channel list: "1-15,17-31"; a reversed range is swapped (with a warning). */
function parseChanDahdiChannels(
  value: string,
): { channels: number[]; reversed: string[] } | { error: string } {
  const channels: number[] = [];
  const reversed: string[] = [];
  for (const raw of value.split(',')) {
    const piece = raw.trim();
    if (piece.toLowerCase() === 'pseudo')
      return {
        error: 'the pseudo channel has no counterpart (conferences and timing are internal)',
      };
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(piece);
    if (!m) return { error: `"${piece}" is not a channel number or a range like 1-15` };
    let first = Number(m[1]);
    let last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) {
      reversed.push(piece);
      [first, last] = [last, first];
    }
    if (first < 1 || last > DAHDI_MAX_CHANNEL)
      return { error: `channel ${first < 1 ? first : last} is outside 1..${DAHDI_MAX_CHANNEL}` };
    for (let n = first; n <= last; n++) channels.push(n);
  }
  return { channels, reversed };
}

/** Layout to place channels when no system.conf is given: the board, or E1 spans throughout. */
function fallbackLayout(board: BoardSpans | undefined): SpanLayout[] {
  const layout: SpanLayout[] = [];
  let base = 1;
  for (let span = 1; span <= 127 && base <= DAHDI_MAX_CHANNEL; span++) {
    const b = board ? board.get(span) : { type: 'E1' as const, channels: 31 };
    if (!b) continue;
    layout.push({
      span,
      type: b.type,
      firstChannel: base,
      channels: b.channels,
      source: board ? 'board' : 'assumed',
      timeslots: [],
    });
    base += b.channels;
  }
  return layout;
}

/** A timer override checked against its table: the value, or why it is refused. */
function timerValue(
  table: Readonly<Record<string, TimerSpec>>,
  name: string,
  raw: string,
): { name: string; value: number } | { error: string } {
  const spec = table[name];
  if (!spec)
    return { error: `timer ${name} cannot be set (settable: ${Object.keys(table).join(', ')})` };
  if (!/^-?\d+$/.test(raw.trim())) return { error: `"${raw}" is not a number of ${spec.unit}` };
  const value = Number(raw);
  if (value < spec.min || value > spec.max)
    return {
      error: `${name} ${value} ${spec.unit} is outside ${spec.min}..${spec.max} ${spec.unit} (${spec.meaning})`,
    };
  return { name, value };
}

class TrunkBuilder {
  constructor(
    private readonly issues: Issues,
    private readonly notes: string[],
  ) {}
  /** A setting that is lost: reported at the option's own line. */
  lost(opt: Opt, reason: string): void {
    this.issues.add(opt, reason);
  }
  note(text: string): void {
    if (!this.notes.includes(text)) this.notes.push(text);
  }
}

/**
 * Imports the [channels] section of chan_dahdi.conf. Options are sticky, as in chan_dahdi: each
 * `channel =>` line takes the options set above it. Channels become one trunk per span and
 * signalling (`pri-span1`, `r2-span3`, `fxs-ports-span4` for FXS ports feeding phones,
 * `fxo-ports-span4` for FXO ports on lines) or per SS7 linkset (`ss7-linkset1`); `group=`
 * numbers become trunk groups (`group1` ...) holding the trunks with channels in them; a phone's
 * `callerid=` on an FXS port becomes an extension. Options with no counterpart, signalling the
 * switch does not run, channels that system.conf does not configure to match, and `#include` are
 * listed in `unsupported` with their line. Never throws on text.
 * @throws SwitchboardError E_CONFIG_FILE when `text` is not a string
 */
export function importChanDahdi(text: string, opts: ChanDahdiOptions = {}): ChanDahdiImport {
  const file = opts.file ?? 'chan_dahdi.conf';
  const lines = textLines(text, file);
  const issues = new Issues(file);
  const notes: string[] = [];
  const b = new TrunkBuilder(issues, notes);
  const layout = opts.systemConf?.layout ?? fallbackLayout(opts.board);
  if (!opts.systemConf)
    notes.push(
      opts.board
        ? 'no system.conf given: channels are placed by the board description, and what each channel is configured as in DAHDI is not checked'
        : 'no system.conf given: DAHDI channel numbers are placed as if every span were an E1 of 31 channels; import system.conf with it to place them for sure',
    );
  const tsConfig = (span: number, timeslot: number) =>
    opts.systemConf?.layout
      .find((s) => s.span === span)
      ?.timeslots.find((t) => t.timeslot === timeslot);

  const current = new Map<string, Opt>();
  let cic: { next: number; opt: Opt } | undefined;
  const linksets = new Map<number, Linkset>();
  const uses: ChannelUse[] = [];
  const usedBy = new Map<number, Where>();
  let toneZone: { zone: string; opt: Opt } | undefined;
  const parsedLines = confLines(lines);
  // dahdi_genconf's dahdi-channels.conf has no section header: chan_dahdi.conf #includes it
  // inside [channels], so a file without any header is read as the body of [channels].
  let section: string | undefined = parsedLines.some((l) => l.kind === 'section')
    ? undefined
    : 'channels';
  if (section && parsedLines.length > 0)
    notes.push(
      `${file} has no [section] header: read as the body of [channels] (as dahdi_genconf's dahdi-channels.conf, which chan_dahdi.conf #includes there)`,
    );
  let skipping = false;

  for (const cl of parsedLines) {
    if (cl.kind === 'directive') {
      issues.add(
        cl.at,
        cl.name === 'include' || cl.name === 'tryinclude'
          ? '#include is not followed: import the included file by itself (or paste it in)'
          : `#${cl.name} is not supported`,
      );
      continue;
    }
    if (cl.kind === 'section') {
      section = cl.name;
      skipping = false;
      if (cl.rest !== '')
        issues.add(
          cl.at,
          `section templates ("${cl.rest}") are not supported: options are read as written`,
        );
      if (section !== 'channels' && section !== 'trunkgroups') {
        skipping = true;
        issues.add(
          cl.at,
          `section [${section}] is not imported: only [channels] is read (channels configured in a section of their own with dahdichan= are not)`,
        );
      }
      continue;
    }
    if (cl.kind === 'bad') {
      if (!skipping) issues.add(cl.at, 'syntax error: not key = value or key => value');
      continue;
    }
    if (skipping) continue;
    if (section === undefined) {
      issues.add(cl.at, 'outside any section (Asterisk refuses it)');
      continue;
    }
    const { key, value, at } = cl;
    const opt: Opt = { value, line: at.line, text: at.text };
    if (section === 'trunkgroups') {
      issues.add(at, NO_COUNTERPART[key] ?? `"${key}" in [trunkgroups] is not supported (NFAS)`);
      continue;
    }

    if (key === 'channel' || key === 'channels') {
      applyChannels(opt);
      continue;
    }
    if (key === 'pritimer') {
      const [name = '', v = ''] = value.split(',').map((p) => p.trim());
      if (name === '' || v === '')
        issues.add(at, 'pritimer => needs <timer>,<value>, e.g. t200,1000');
      else current.set(`pritimer:${name.toUpperCase()}`, { ...opt, value: v });
      continue;
    }
    if (key === 'sigchan') {
      addSigchan(opt);
      continue;
    }
    if (key.startsWith('isup_timer.') || key.startsWith('mtp3_timer.')) {
      const ls = linksets.get(Number(current.get('linkset')?.value ?? '-1'));
      if (!ls) {
        issues.add(
          at,
          'SS7 timers are set after the sigchan of their linkset; no linkset is open here',
        );
        continue;
      }
      const name = `${key.startsWith('isup') ? 'ISUP' : 'MTP3'}.${key.split('.')[1]?.toUpperCase()}`;
      ls.timers.set(name, opt);
      continue;
    }
    if (key === 'cicbeginswith') {
      if (!/^\d+$/.test(value)) issues.add(at, `"${value}" is not a CIC number`);
      else cic = { next: Number(value), opt };
      continue;
    }
    if (key === 'tonezone') {
      const n = /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
      if (n === -1) continue;
      const zone = DAHDI_TONE_ZONES[n];
      if (zone === undefined)
        issues.add(
          at,
          `tonezone is a DAHDI zone number 0..${DAHDI_TONE_ZONES.length - 1}, not "${value}"`,
        );
      else toneZone = { zone, opt };
      continue;
    }
    if (key === 'group') {
      const { bad } = parseGroups(value);
      if (bad.length > 0)
        issues.add(
          at,
          `${bad.map((p) => `"${p}"`).join(', ')}: groups are numbers 0..63 (chan_dahdi ignores the rest)`,
        );
    }
    if (!MAPPED.has(key) && value !== '') {
      const def = DEFAULTS[key];
      const isDefault =
        def !== undefined &&
        (def.toLowerCase() === value.toLowerCase() ||
          (isTrue(def) && isTrue(value)) ||
          (isFalse(def) && isFalse(value)) ||
          (/^-?[\d.]+$/.test(def) && Number(def) === Number(value)));
      if (!isDefault)
        issues.add(
          at,
          NO_COUNTERPART[key] ?? `"${key}" has no counterpart in the switch configuration`,
        );
    }
    current.set(key, opt);
  }

  /** sigchan: a signalling link of the current linkset, which it opens with the SS7 options in force. */
  function addSigchan(opt: Opt): void {
    const channel = /^\d+$/.test(opt.value) ? Number(opt.value) : Number.NaN;
    if (!(channel >= 1 && channel <= DAHDI_MAX_CHANNEL)) {
      issues.add(opt, `"${opt.value}" is not a DAHDI channel number`);
      return;
    }
    const missing = ['ss7type', 'pointcode', 'adjpointcode', 'defaultdpc', 'networkindicator']
      .filter((k) => !current.get(k) || current.get(k)?.value === '')
      .concat(current.get('linkset') ? [] : ['linkset']);
    if (missing.length > 0) {
      issues.add(opt, `a sigchan needs ${missing.join(', ')} set above it (chan_dahdi refuses it)`);
      return;
    }
    const number = Number(current.get('linkset')?.value);
    let ls = linksets.get(number);
    if (!ls) {
      ls = { number, at: opt, opts: new Map(current), links: [], timers: new Map() };
      linksets.set(number, ls);
    } else {
      const changed = ['ss7type', 'pointcode', 'adjpointcode', 'networkindicator'].filter(
        (k) => current.get(k)?.value !== ls?.opts.get(k)?.value,
      );
      if (changed.length > 0)
        issues.add(
          opt,
          `${changed.join(', ')} differ from linkset ${number}'s first sigchan (line ${ls.at.line}); that line's values are kept`,
        );
    }
    const slc = current.get('slc');
    const link: Linkset['links'][number] = { channel, at: opt };
    if (slc && /^\d+$/.test(slc.value)) link.slc = Number(slc.value);
    ls.links.push(link);
  }

  /** channel => list: the options in force apply to each listed channel. */
  function applyChannels(opt: Opt): void {
    const parsed = parseChanDahdiChannels(opt.value);
    if ('error' in parsed) {
      issues.add(opt, parsed.error);
      return;
    }
    if (parsed.reversed.length > 0)
      notes.push(
        `line ${opt.line}: range ${parsed.reversed.join(', ')} runs backwards; chan_dahdi swaps it, and so does the import`,
      );
    const sig =
      (current.get('signalling') ?? current.get('signaling'))?.value.toLowerCase() ?? 'auto';
    const sigProblem = signallingProblem(sig);
    if (sigProblem) {
      issues.add(opt, `${channelsText(parsed.channels)}: ${sigProblem}`);
      return;
    }
    const snapshot: Snapshot = new Map(current);
    const { groups } = parseGroups(current.get('group')?.value ?? '');
    const problems = new Map<string, number[]>();
    const problem = (why: string, ch: number) =>
      problems.set(why, [...(problems.get(why) ?? []), ch]);
    let ss7Cic = sig === 'ss7' ? cic : undefined;
    if (sig === 'ss7') {
      const lsNumber = Number(current.get('linkset')?.value ?? Number.NaN);
      if (!cic) {
        issues.add(
          opt,
          `${channelsText(parsed.channels)}: SS7 channels need cicbeginswith set above them`,
        );
        return;
      }
      if (!linksets.has(lsNumber)) {
        issues.add(
          opt,
          `${channelsText(parsed.channels)}: linkset ${current.get('linkset')?.value ?? '(none)'} has no sigchan above this line`,
        );
        return;
      }
    }
    for (const ch of parsed.channels) {
      const thisCic = ss7Cic ? ss7Cic.next++ : undefined;
      const seen = usedBy.get(ch);
      if (seen) {
        problem(`already configured at line ${seen.line}`, ch);
        continue;
      }
      const at = placeChannel(layout, ch);
      if (!at) {
        problem('not on any span', ch);
        continue;
      }
      let signalling = sig;
      const tc = tsConfig(at.layout.span, at.timeslot);
      if (opts.systemConf) {
        if (!tc) {
          problem(`not configured in system.conf (span ${at.layout.span})`, ch);
          continue;
        }
        if (!tc.supported) {
          problem(
            `configured as ${tc.function} in system.conf (line ${tc.line}), which is not imported`,
            ch,
          );
          continue;
        }
        if (sig === 'auto') {
          const auto = AUTO_SIGNALLING[tc.function];
          if (!auto) {
            problem(
              `signalling is not set (auto) and system.conf configures it as ${tc.function}: say pri_net, pri_cpe, ss7 or mfcr2`,
              ch,
            );
            continue;
          }
          signalling = auto;
        }
        const need = neededFunction(signalling);
        if (need && tc.function !== need) {
          problem(
            `system.conf configures it as ${tc.function} (line ${tc.line}); ${signalling} needs ${need}`,
            ch,
          );
          continue;
        }
      } else if (sig === 'auto') {
        problem('signalling is not set (auto) and no system.conf says what the channel is', ch);
        continue;
      }
      const kind = kindOf(signalling);
      if ((kind === 'analog') !== (at.layout.type === 'analog')) {
        problem(
          kind === 'analog'
            ? `${signalling} on ${at.layout.type} span ${at.layout.span}: analog signalling over E1/T1 timeslots (a channel bank) is not supported`
            : `${signalling} on span ${at.layout.span}, an analog card`,
          ch,
        );
        continue;
      }
      usedBy.set(ch, opt);
      const use: ChannelUse = {
        channel: ch,
        span: at.layout.span,
        timeslot: at.timeslot,
        signalling,
        kind,
        at: opt,
        opts: snapshot,
        groups,
      };
      if (thisCic !== undefined) {
        use.cic = thisCic;
        use.linkset = Number(current.get('linkset')?.value);
      }
      uses.push(use);
    }
    ss7Cic = undefined;
    for (const [why, chs] of problems) issues.add(opt, `${channelsText(chs)}: ${why}`);
  }

  // Trunks: one per span and signalling (per linkset for SS7), in the order of their first channel.
  const trunkKey = (u: ChannelUse) =>
    u.kind === 'ss7'
      ? `ss7/${u.linkset}`
      : u.kind === 'analog'
        ? `${u.signalling}/${u.span}`
        : `${u.kind}/${u.span}`;
  const byTrunk = new Map<string, ChannelUse[]>();
  const digitalOwner = new Map<number, string>();
  for (const u of uses) {
    const key = trunkKey(u);
    if (u.kind !== 'analog') {
      const owner = digitalOwner.get(u.span);
      if (owner && owner !== key) {
        const first = byTrunk.get(owner)?.[0];
        issues.add(
          u.at,
          `${channelsText([u.channel])}: span ${u.span} already carries ${first?.signalling} channels (line ${first?.at.line}); a span carries one digital trunk`,
        );
        continue;
      }
      digitalOwner.set(u.span, key);
    }
    byTrunk.set(key, [...(byTrunk.get(key) ?? []), u]);
  }

  const analogKeys = [...byTrunk.keys()].filter((k) => k.startsWith('fx'));
  const trunks: { trunk: EngineTrunk; uses: ChannelUse[] }[] = [];
  const extensions: Extension[] = [];
  for (const [key, list] of byTrunk) {
    const first = list[0] as ChannelUse;
    if (first.kind === 'ss7') {
      // A linkset's settings are its first sigchan's: one build for all its circuits.
      const trunk = buildSs7(first, list);
      if (trunk) trunks.push({ trunk, uses: list });
      continue;
    }
    // Each channel line is built with its own options: a line whose options cannot make a trunk
    // is left out alone; the first line that can sets the trunk, later lines add channels.
    const byLine = new Map<number, ChannelUse[]>();
    for (const u of list) byLine.set(u.at.line, [...(byLine.get(u.at.line) ?? []), u]);
    let base: { trunk: EngineTrunk; uses: ChannelUse[]; first: ChannelUse } | undefined;
    for (const lineUses of byLine.values()) {
      const head = lineUses[0] as ChannelUse;
      const trunk =
        head.kind === 'pri'
          ? buildPri(head, lineUses)
          : head.kind === 'r2'
            ? buildR2(head, lineUses)
            : buildAnalog(key, head, lineUses);
      if (!trunk) continue;
      if (!base) {
        base = { trunk, uses: [...lineUses], first: head };
        continue;
      }
      const bf = base.first;
      if (head.signalling !== bf.signalling) {
        issues.add(
          head.at,
          `${channelsText(lineUses.map((u) => u.channel))}: span ${head.span} already carries ${bf.signalling} channels (line ${bf.at.line}); a span carries one digital trunk`,
        );
        continue;
      }
      const diff = relevantOptions(head.kind, [bf.opts, head.opts]).filter(
        (k) => head.opts.get(k)?.value !== bf.opts.get(k)?.value,
      );
      if (diff.length > 0)
        issues.add(
          head.at,
          `${diff.map((k) => k.replace('pritimer:', 'pritimer ')).join(', ')} ${diff.length === 1 ? 'differs' : 'differ'} from line ${bf.at.line}, the first line of trunk ${base.trunk.name}: one trunk has one setting, line ${bf.at.line}'s is kept`,
        );
      base.uses.push(...lineUses);
    }
    if (!base) continue;
    const slots = rangeText(base.uses.map((u) => u.timeslot));
    const field =
      base.first.kind === 'pri' ? 'bchannels' : base.first.kind === 'r2' ? 'channels' : 'ports';
    base.trunk[field] = slots;
    trunks.push({ trunk: base.trunk, uses: base.uses });
  }

  function relevantOptions(kind: Kind, snaps: Snapshot[]): string[] {
    if (kind === 'pri')
      return [
        'switchtype',
        'overlapdial',
        'service_message_support',
        ...new Set(snaps.flatMap((sn) => [...sn.keys()].filter((k) => k.startsWith('pritimer:')))),
      ];
    if (kind === 'r2') return [...MAPPED].filter((k) => k.startsWith('mfcr2_'));
    if (kind === 'analog')
      return [
        'usecallerid',
        'cidsignalling',
        'answeronpolarityswitch',
        'ringtimeout',
        'firstdigit_timeout',
        'interdigit_timeout',
      ];
    return [];
  }

  function dropped(list: ChannelUse[], reason: string): undefined {
    const byLine = new Map<number, ChannelUse[]>();
    for (const u of list) byLine.set(u.at.line, [...(byLine.get(u.at.line) ?? []), u]);
    for (const us of byLine.values())
      issues.add((us[0] as ChannelUse).at, `${channelsText(us.map((u) => u.channel))}: ${reason}`);
    return undefined;
  }

  function buildPri(first: ChannelUse, list: ChannelUse[]): EngineTrunk | undefined {
    const o = first.opts;
    const sw = o.get('switchtype');
    const map: Record<string, string> = {
      national: 'ni2',
      dms100: 'dms100',
      '4ess': '4ess',
      '5ess': '5ess',
      euroisdn: 'euroisdn',
      qsig: 'qsig',
    };
    const swValue = sw?.value.toLowerCase() ?? 'national';
    const switchtype = map[swValue];
    if (!switchtype)
      return dropped(
        list,
        `switchtype ${swValue} (line ${sw?.line}) is not supported (euroisdn, national, dms100, 4ess, 5ess, qsig)`,
      );
    if (!sw)
      b.note(
        `span ${first.span}: no switchtype set; chan_dahdi's default, national (NI-2), is imported`,
      );
    const trunk: EngineTrunk = {
      name: `pri-span${first.span}`,
      signalling: first.signalling as EngineTrunk['signalling'],
      span: first.span,
      switchtype,
    };
    if (opts.systemConf) {
      const d = opts.systemConf.layout
        .find((s) => s.span === first.span)
        ?.timeslots.filter(
          (t) => t.supported && (t.function === 'dchan' || t.function === 'hardhdlc'),
        );
      if (!d || d.length === 0)
        return dropped(
          list,
          `span ${first.span} has no D-channel in system.conf (dchan= or hardhdlc=); a PRI span needs one`,
        );
      if (d.length > 1)
        return dropped(
          list,
          `span ${first.span} has ${d.length} D-channels in system.conf (timeslots ${rangeText(d.map((t) => t.timeslot))}); a PRI span has one`,
        );
      trunk.dchannel = (d[0] as { timeslot: number }).timeslot;
    } else
      b.note(
        `${trunk.name}: D-channel timeslot not known without system.conf; the default (16 on E1, 24 on T1) applies`,
      );
    trunk.bchannels = rangeText(list.map((u) => u.timeslot));
    const ov = o.get('overlapdial');
    if (ov) {
      const v = ov.value.toLowerCase();
      trunk.overlap =
        isTrue(v) || v === 'both' ? 'both' : v === 'incoming' || v === 'outgoing' ? v : 'none';
    }
    const sms = o.get('service_message_support');
    if (sms && isTrue(sms.value)) {
      if (['ni2', '4ess', '5ess'].includes(switchtype)) trunk.serviceMessages = true;
      else
        b.lost(
          sms,
          `chan_dahdi enables service messages only for the 4ess, 5ess and national switchtypes: ${trunk.name} (${switchtype}) keeps them off`,
        );
    }
    const timers: Record<string, number> = {};
    for (const [key, t] of o) {
      if (!key.startsWith('pritimer:')) continue;
      const r = timerValue(PRI_TIMERS, key.slice('pritimer:'.length), t.value);
      if ('error' in r) b.lost(t, r.error);
      else timers[r.name] = r.value;
    }
    if (Object.keys(timers).length > 0) trunk.timers = timers;
    return trunk;
  }

  function buildR2(first: ChannelUse, list: ChannelUse[]): EngineTrunk | undefined {
    const o = first.opts;
    const variantOpt = o.get('mfcr2_variant');
    const variant = variantOpt?.value.toLowerCase() ?? 'itu';
    if (!(R2_VARIANT_CODES as string[]).includes(variant))
      return dropped(
        list,
        `mfcr2_variant ${variant} (line ${variantOpt?.line}) is not an openr2 variant (${R2_VARIANT_CODES.join(', ')})`,
      );
    if (!variantOpt)
      b.note(`span ${first.span}: no mfcr2_variant set; chan_dahdi's default, itu, is imported`);
    const trunk: EngineTrunk = {
      name: `r2-span${first.span}`,
      signalling: 'mfcr2',
      span: first.span,
      variant,
      channels: rangeText(list.map((u) => u.timeslot)),
    };
    const int = (k: string, field: string, min: number, max: number) => {
      const v = o.get(k);
      if (!v) return;
      if (!/^\d+$/.test(v.value) || Number(v.value) < min || Number(v.value) > max)
        b.lost(v, `${k} ${v.value} is not ${min}..${max}`);
      else trunk[field] = Number(v.value);
    };
    int('mfcr2_max_ani', 'maxAni', 0, R2_MAX_DIGITS);
    int('mfcr2_max_dnis', 'maxDnis', 1, R2_MAX_DIGITS);
    const bool = (k: string, field: string) => {
      const v = o.get(k);
      if (v && v.value !== '') trunk[field] = isTrue(v.value);
    };
    bool('mfcr2_get_ani_first', 'getAniFirst');
    bool('mfcr2_skip_category', 'skipCategory');
    bool('mfcr2_double_answer', 'doubleAnswer');
    bool('mfcr2_allow_collect_calls', 'allowCollectCalls');
    bool('mfcr2_charge_calls', 'chargeCalls');
    bool('mfcr2_forced_release', 'forcedRelease');
    const ia = o.get('mfcr2_immediate_accept');
    if (ia && isTrue(ia.value)) {
      if ((R2_NO_GROUP_A_ACCEPT as readonly string[]).includes(variant))
        b.lost(
          ia,
          `the ${variant} variant has no Group A accept signal in openr2: immediate accept is not imported`,
        );
      else trunk.immediateAccept = true;
    } else if (ia) trunk.immediateAccept = false;
    const cat = o.get('mfcr2_category');
    if (cat) {
      if ((R2_CATEGORIES as readonly string[]).includes(cat.value.toLowerCase())) {
        if (cat.value.toLowerCase() === 'collect_call' && variant !== 'br')
          b.lost(cat, 'only the br variant has a collect-call category signal');
        else trunk.category = cat.value.toLowerCase();
      } else
        b.lost(cat, `"${cat.value}" is not a calling party category (${R2_CATEGORIES.join(', ')})`);
    }
    const ms = (k: string, field: string, timer: string) => {
      const v = o.get(k);
      if (!v || !/^-?\d+$/.test(v.value) || Number(v.value) < 0) return;
      if (k === 'mfcr2_mfback_timeout' && Number(v.value) === 0) return;
      const r = timerValue(R2_TIMERS, timer, v.value);
      if ('error' in r) b.lost(v, r.error);
      else trunk[field] = r.value;
    };
    ms('mfcr2_mfback_timeout', 'mfBackTimeout', 'mf_back_cycle');
    ms('mfcr2_metering_pulse_timeout', 'meteringPulseTimeout', 'r2_metering_pulse');
    const log = o.get('mfcr2_logging');
    if (log) {
      const levels = new Set<string>();
      const unknown: string[] = [];
      for (const raw of log.value.split(',')) {
        const l = raw.trim().toLowerCase();
        if (l === 'all') for (const x of R2_LOG_LEVELS) levels.add(x);
        else if (l === 'nothing') levels.clear();
        else if ((R2_LOG_LEVELS as readonly string[]).includes(l)) levels.add(l);
        else if (l !== '') unknown.push(l);
      }
      if (unknown.length > 0)
        b.lost(
          log,
          `openr2 log level${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} cannot be chosen (${R2_LOG_LEVELS.join(', ')})`,
        );
      trunk.logging = R2_LOG_LEVELS.filter((l) => levels.has(l));
    }
    return trunk;
  }

  function buildSs7(first: ChannelUse, list: ChannelUse[]): EngineTrunk | undefined {
    const ls = linksets.get(first.linkset as number) as Linkset;
    const o = ls.opts;
    const variant = (o.get('ss7type') as Opt).value.toLowerCase();
    if (variant !== 'itu' && variant !== 'ansi')
      return dropped(
        list,
        `ss7type ${variant} (line ${o.get('ss7type')?.line}) is not itu or ansi`,
      );
    const pc = pointCode((o.get('pointcode') as Opt).value);
    const adj = pointCode((o.get('adjpointcode') as Opt).value);
    if (pc === undefined || adj === undefined)
      return dropped(
        list,
        `linkset ${ls.number}: point codes are numbers or a-b-c (pointcode line ${o.get('pointcode')?.line}, adjpointcode line ${o.get('adjpointcode')?.line})`,
      );
    const ni = (o.get('networkindicator') as Opt).value.toLowerCase();
    if (!['national', 'national_spare', 'international', 'international_spare'].includes(ni))
      return dropped(
        list,
        `networkindicator ${ni} (line ${o.get('networkindicator')?.line}) is not national, national_spare, international or international_spare`,
      );
    const dpcOpt = o.get('defaultdpc') as Opt;
    const dpc = pointCode(dpcOpt.value);
    if (dpc === undefined || String(dpc) !== String(adj))
      b.lost(
        dpcOpt,
        `defaultdpc ${dpcOpt.value} differs from adjpointcode ${String(adj)}: every message goes to the adjacent point code here (no routing through an STP to another DPC)`,
      );
    const links: { span: number; timeslot: number; slc?: number }[] = [];
    for (const l of ls.links) {
      const at = placeChannel(layout, l.channel);
      const tc = at ? tsConfig(at.layout.span, at.timeslot) : undefined;
      let why: string | undefined;
      if (!at) why = `sigchan ${l.channel} is not on any span`;
      else if (at.layout.type === 'analog') why = `sigchan ${l.channel} is on an analog card`;
      else if (opts.systemConf && !tc)
        why = `sigchan ${l.channel} is not configured in system.conf (hardhdlc= or dchan=)`;
      else if (
        opts.systemConf &&
        tc &&
        (!tc.supported || (tc.function !== 'dchan' && tc.function !== 'hardhdlc'))
      )
        why = `sigchan ${l.channel} is configured as ${tc.function} in system.conf (line ${tc.line}); an SS7 link needs hardhdlc or dchan`;
      if (why || !at) {
        issues.add(l.at, why ?? 'not placed');
        continue;
      }
      const link: { span: number; timeslot: number; slc?: number } = {
        span: at.layout.span,
        timeslot: at.timeslot,
      };
      if (l.slc !== undefined) link.slc = l.slc;
      links.push(link);
    }
    if (links.length === 0)
      return dropped(list, `linkset ${ls.number} has no usable signalling link (sigchan)`);
    // CIC entries: runs of consecutive CICs on one span, timeslots in list order.
    const cics: { span: number; firstCic: number; timeslots: string }[] = [];
    let run: ChannelUse[] = [];
    const flush = () => {
      if (run.length === 0) return;
      const r0 = run[0] as ChannelUse;
      const ordered = run.map((u) => u.timeslot);
      const ascending = ordered.every((t, i) => i === 0 || t > (ordered[i - 1] as number));
      cics.push({
        span: r0.span,
        firstCic: r0.cic as number,
        timeslots: ascending ? rangeText(ordered) : ordered.join(','),
      });
      run = [];
    };
    for (const u of list) {
      const prev = run[run.length - 1];
      if (
        prev &&
        (prev.span !== u.span || (prev.cic as number) + 1 !== u.cic || u.timeslot < prev.timeslot)
      )
        flush();
      run.push(u);
    }
    flush();
    const trunk: EngineTrunk = {
      name: `ss7-linkset${ls.number}`,
      signalling: 'ss7',
      variant,
      pointcode: pc,
      adjacentPointcode: adj,
      networkIndicator: ni,
      links,
      cics,
    };
    const timers: Record<string, number> = {};
    for (const [name, t] of ls.timers) {
      const r = timerValue(SS7_TIMERS, name, t.value);
      if ('error' in r) b.lost(t, r.error);
      else timers[r.name] = r.value;
    }
    if (Object.keys(timers).length > 0) trunk.timers = timers;
    return trunk;
  }

  function buildAnalog(key: string, first: ChannelUse, list: ChannelUse[]): EngineTrunk {
    const o = first.opts;
    const station = (STATION_SIGNALLING as readonly string[]).includes(first.signalling);
    const port = station ? 'fxs' : 'fxo';
    // Kewlstart and loopstart ports of the same kind on one card make two trunks: name both by start.
    const twin = analogKeys.some(
      (k) =>
        k !== key && k.endsWith(`/${first.span}`) && k.startsWith(first.signalling.slice(0, 3)),
    );
    const start = twin ? `-${first.signalling.slice(4)}` : '';
    const trunk: EngineTrunk = {
      name: `${port}-ports${start}-span${first.span}`,
      signalling: first.signalling as EngineTrunk['signalling'],
      span: first.span,
      ports: rangeText(list.map((u) => u.timeslot)),
    };
    const use = o.get('usecallerid');
    const cidsig = o.get('cidsignalling');
    if (use && isFalse(use.value)) trunk.callerId = 'off';
    else {
      const v = cidsig?.value.toLowerCase() ?? 'bell';
      if (v === 'bell' || v === 'v23' || v === 'dtmf') trunk.callerId = v;
      else if (cidsig) b.lost(cidsig, `caller ID ${v} is not supported (bell, v23, dtmf)`);
    }
    const zone = toneZone?.zone ?? opts.systemConf?.config.system?.toneZone;
    if (station && zone !== undefined) {
      if ((TONE_ZONES as readonly string[]).includes(zone)) trunk.zone = zone;
      else
        b.note(
          `tone zone ${zone}: FXS ports play dial, busy and ringback tones of ${TONE_ZONES.join(', ')} only; ${trunk.name} keeps the default (us)`,
        );
    }
    const aop = o.get('answeronpolarityswitch');
    const hop = o.get('hanguponpolarityswitch');
    // Sticky options meant for the other kind of port are ignored, as chan_dahdi ignores them.
    if (!station && aop && isTrue(aop.value)) {
      trunk.polarity = true;
      if (!hop || !isTrue(hop.value))
        b.note(
          `${trunk.name}: a polarity reversal answers and clears calls here; chan_dahdi had hanguponpolarityswitch off`,
        );
    } else if (!station && hop && isTrue(hop.value))
      b.lost(
        hop,
        'a polarity reversal both answers and clears here: set answeronpolarityswitch too to import it',
      );
    const timers: Record<string, number> = {};
    const timer = (k: string, name: string, forStation: boolean) => {
      const v = o.get(k);
      if (!v || v.value === '') return;
      if (forStation !== station) return;
      const r = timerValue(ANALOG_TIMERS, name, v.value);
      if ('error' in r) b.lost(v, r.error);
      else timers[r.name] = r.value;
    };
    timer('ringtimeout', 'ringTimeout', false);
    timer('firstdigit_timeout', 'firstDigitTimeout', true);
    timer('interdigit_timeout', 'digitTimeout', true);
    if (Object.keys(timers).length > 0) trunk.timers = timers;
    // Phones: the callerid of an FXS port is the phone's own number, an extension here.
    for (const u of list) {
      const cid = u.opts.get('callerid');
      if (!cid || cid.value === '' || cid.value.toLowerCase() === 'asreceived') continue;
      if (!station) {
        b.lost(
          cid,
          'a fixed caller ID for calls out of a line belongs on the outbound route (routes.outbound[].callerId.number)',
        );
        continue;
      }
      const { name, number } = splitCallerId(cid.value);
      if (!number || !/^[0-9]{2,8}$/.test(number)) {
        b.lost(cid, `"${cid.value}": an extension number is 2-8 digits`);
        continue;
      }
      const twice = extensions.find((e) => e.number === number);
      if (twice) {
        b.lost(cid, `extension ${number} is already port ${twice.channel} of ${twice.trunk}`);
        continue;
      }
      const ext: Extension = { number, trunk: trunk.name, channel: u.timeslot };
      if (name) ext.name = name.slice(0, 60);
      extensions.push(ext);
    }
    return trunk;
  }

  // Digital trunks given a fixed caller ID lose it (it belongs on routes).
  for (const { trunk, uses: list } of trunks) {
    if (trunk.signalling.startsWith('fx')) continue;
    for (const u of list) {
      const cid = u.opts.get('callerid');
      if (cid && cid.value !== '' && cid.value.toLowerCase() !== 'asreceived')
        b.lost(
          cid,
          'a fixed caller ID for outgoing calls belongs on the outbound route (routes.outbound[].callerId.number)',
        );
      const use = u.opts.get('usecallerid');
      if (use && isFalse(use.value))
        b.lost(
          use,
          `caller ID is always passed on ${trunk.signalling} trunks; usecallerid=no is not imported`,
        );
    }
  }

  // Trunk groups from group= numbers, holding the trunks with channels in them.
  const groupNumbers = [...new Set(trunks.flatMap((t) => t.uses.flatMap((u) => u.groups)))].sort(
    (x, y) => x - y,
  );
  const trunkGroups: TrunkGroup[] = [];
  for (const g of groupNumbers) {
    const members = trunks.filter((t) => t.uses.some((u) => u.groups.includes(g)));
    for (const t of members) {
      const outside = t.uses.filter((u) => !u.groups.includes(g)).map((u) => u.channel);
      if (outside.length > 0)
        notes.push(
          `group ${g}: ${t.trunk.name} is only partly in it (${channelsText(outside)} are not); trunk groups hold whole trunks, so all of ${t.trunk.name} is in group${g}`,
        );
    }
    trunkGroups.push({
      name: `group${g}`,
      trunks: members.map((t) => t.trunk.name),
      hunt: 'sequential',
    });
  }
  if (trunkGroups.length > 0)
    notes.push(
      'trunk groups hunt sequentially (first trunk with a free channel); chan_dahdi chose the order per call (g/G/r/R in the dial string): set "hunt" if needed',
    );

  for (const ls of linksets.values())
    if (
      !trunks.some((t) => t.trunk.name === `ss7-linkset${ls.number}`) &&
      !uses.some((u) => u.linkset === ls.number)
    )
      issues.add(
        ls.at,
        `linkset ${ls.number} has no circuits (channel lines with signalling=ss7): not imported`,
      );

  const config: Partial<SwitchConfig> = {
    trunks: trunks.map((t) => t.trunk),
    trunkGroups,
  };
  if (extensions.length > 0) config.extensions = extensions;
  if (toneZone) config.system = { toneZone: toneZone.zone };
  const origins: ChanDahdiImport['origins'] = {};
  for (const t of trunks) {
    const at = (t.uses[0] as ChannelUse).at;
    origins[t.trunk.name] = { line: at.line, text: at.text };
  }
  for (const e of extensions) {
    const t = trunks.find((x) => x.trunk.name === e.trunk);
    const u = t?.uses.find((x) => x.timeslot === e.channel);
    const cid = u?.opts.get('callerid');
    if (cid) origins[`extension ${e.number}`] = { line: cid.line, text: cid.text };
  }
  return { config, origins, unsupported: issues.sorted(), notes };
}
