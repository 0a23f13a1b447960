// SPDX-License-Identifier: GPL-2.0-or-later
// DAHDI's system.conf from the switch configuration: span lines, each trunk's channel lines, tone zones.

import type { SwitchConfig } from '../config/schema.ts';
import { SwitchboardError } from '../core/errors.ts';
import type { EngineTrunk } from '../native/engine.ts';
import { channelCount, type SimConfig } from '../sim/config.ts';
import { channelList } from '../sim/dahdiconf.ts';
import { timeslotList } from './pri.ts';
import { cicTimeslots } from './ss7.ts';
import type { BoardSpans } from './validate.ts';

/** One span of the board as DAHDI numbers it: its channels are basechan .. basechan + channels - 1. */
export interface BoardSpan {
  type: 'E1' | 'T1' | 'analog';
  /** Timeslots (E1 31, T1 24) or ports of an analog card. */
  channels: number;
  /** DAHDI channel number of timeslot (port) 1, as dahdi_scan reports it. */
  basechan: number;
  ports?: readonly ('fxs' | 'fxo')[];
}

/** The board, with DAHDI channel numbers: what renderSystemConf and dahdi_cfg -C need. */
export interface BoardLayout extends BoardSpans {
  get(span: number): BoardSpan | undefined;
}

/** The layout of a simulated board: spans in order, channel numbers running on across them. */
export function boardFromSim(config: SimConfig): BoardLayout {
  const spans = new Map<number, BoardSpan>();
  let base = 1;
  config.spans.forEach((s, i) => {
    const channels = channelCount(s);
    spans.set(i + 1, {
      type: s.type,
      channels,
      basechan: base,
      ...(s.ports ? { ports: s.ports } : {}),
    });
    base += channels;
  });
  return { get: (span) => spans.get(span) };
}

/**
 * The zones Debian's libtonezone knows, in its zonedata.c order (chan_dahdi's `tonezone=` is the
 * index): dahdi_cfg's loadzone/defaultzone take only these. The switch's own tone zones add `itu` (ITU-T E.180), which DAHDI has no entry for.
 */
export const DAHDI_TONE_ZONES = [
  'us',
  'au',
  'fr',
  'nl',
  'uk',
  'fi',
  'es',
  'jp',
  'no',
  'at',
  'nz',
  'it',
  'us-old',
  'gr',
  'tw',
  'cl',
  'se',
  'be',
  'sg',
  'il',
  'br',
  'hu',
  'lt',
  'pl',
  'za',
  'pt',
  'ee',
  'mx',
  'in',
  'de',
  'ch',
  'dk',
  'cz',
  'cn',
  'ar',
  'my',
  'th',
  'bg',
  've',
  'ph',
  'ru',
  'tr',
  'pa',
  'mo',
  'cr',
  'ae',
] as const;

/**
 * DAHDI's default zone for a switch tone zone. DAHDI uses it for the ring cadence of FXS ports
 * (and for tones chan_dahdi would ask the kernel for, which we do not). `itu`, or none, gives
 * `us`: what dahdi_cfg loads when system.conf names no zone, and the analog trunks' default.
 */
export function dahdiZone(toneZone: string | undefined): string {
  return toneZone !== undefined && (DAHDI_TONE_ZONES as readonly string[]).includes(toneZone)
    ? toneZone
    : 'us';
}

export interface SystemConfOptions {
  /**
   * How E1/T1 HDLC channels (PRI D-channels, SS7 links) are declared: `hardhdlc` (the card frames
   * HDLC, as current cards and the simulator do) or `dchan` (DAHDI frames it in software). Default
   * `hardhdlc`.
   */
  dchan?: 'hardhdlc' | 'dchan';
}

/**
 * Channel keywords in the order they are written: the trunk kinds' own (bchan, the HDLC
 * channels, cas with MFC-R2's idle bits 1101, analog port signalling named after the far end).
 */
const KEYWORDS = ['bchan', 'hdlc', 'cas', 'fxoks', 'fxols', 'fxsks', 'fxsls'] as const;
type Keyword = (typeof KEYWORDS)[number];

/** openr2 wants every R2 channel in CAS with the ABCD idle bits 1101 (ITU-T Q.421 idle, blocked). */
const R2_IDLE_BITS = '1101';

/**
 * What system.conf says about one span: its span= line, its timeslots (ports) by keyword, and
 * the trunk each timeslot belongs to.
 */
interface SpanBlock {
  line?: string;
  channels: Map<Keyword, Set<number>>;
  owners: Map<number, string>;
}

type SpanTypes = Map<number, 'E1' | 'T1' | 'analog'>;

function spanTypes(config: SwitchConfig, board: BoardSpans | undefined): SpanTypes {
  const out: SpanTypes = new Map();
  for (const s of config.spans ?? [])
    out.set(s.span, s.type ?? (board?.get(s.span)?.type === 'T1' ? 'T1' : 'E1'));
  return out;
}

function sizeOf(types: SpanTypes, board: BoardSpans | undefined, span: number): number {
  return board?.get(span)?.channels ?? (types.get(span) === 'T1' ? 24 : 31);
}

function spanLine(s: NonNullable<SwitchConfig['spans']>[number], type: 'E1' | 'T1' | 'analog') {
  // CRC-4 is an E1 multiframe option: on by default with CCS framing, off with CAS (schema).
  const crc4 = type === 'E1' && (s.crc4 ?? s.framing === 'ccs');
  return `span=${s.span},${s.timing},${s.lbo ?? 0},${s.framing},${s.coding}${crc4 ? ',crc4' : ''}${s.yellow ? ',yellow' : ''}`;
}

const ANALOG_KEYWORD: Record<string, Keyword> = {
  fxo_ks: 'fxoks',
  fxo_ls: 'fxols',
  fxs_ks: 'fxsks',
  fxs_ls: 'fxsls',
};

/**
 * Every span's block, in timeslot (port) terms so that it does not depend on the board's
 * channel numbering. The trunks are taken as valid (validateConfig).
 */
function spanBlocks(config: SwitchConfig, board: BoardSpans | undefined): Map<number, SpanBlock> {
  const types = spanTypes(config, board);
  const blocks = new Map<number, SpanBlock>();
  const block = (span: number): SpanBlock => {
    let b = blocks.get(span);
    if (!b) {
      b = { channels: new Map(), owners: new Map() };
      blocks.set(span, b);
    }
    return b;
  };
  let owner = '';
  const add = (span: number, keyword: Keyword, timeslots: Iterable<number>) => {
    const b = block(span);
    const set = b.channels.get(keyword) ?? new Set<number>();
    for (const ts of timeslots) {
      set.add(ts);
      b.owners.set(ts, owner);
    }
    b.channels.set(keyword, set);
  };
  for (const s of config.spans ?? []) block(s.span).line = spanLine(s, types.get(s.span) ?? 'E1');
  for (const trunk of config.trunks ?? []) {
    const t = trunk as EngineTrunk & Record<string, unknown>;
    owner = t.name;
    switch (t.signalling) {
      case 'pri_net':
      case 'pri_cpe': {
        // The D-channel as an HDLC channel (PriTrunk::open requires hardhdlc or dchan), the
        // B-channels as clear channels (bchan): native/src/pri.cc.
        const span = t.span as number;
        const size = sizeOf(types, board, span);
        const d = (t.dchannel as number | undefined) ?? (size === 24 ? 24 : 16);
        const b =
          t.bchannels !== undefined
            ? timeslotList(t.bchannels as string | number[])
            : Array.from({ length: size }, (_, k) => k + 1).filter((ts) => ts !== d);
        add(span, 'hdlc', [d]);
        add(span, 'bchan', b);
        break;
      }
      case 'ss7': {
        // Signalling links are HDLC channels with MTP2 in software (libss7); CIC bearers are
        // clear channels: native/src/ss7.cc.
        const links = t.links as { span: number; timeslot?: number }[];
        for (const l of links)
          add(l.span, 'hdlc', [l.timeslot ?? (sizeOf(types, board, l.span) === 24 ? 24 : 16)]);
        const sizes: BoardSpans = {
          get: (span) => ({ type: types.get(span) ?? 'E1', channels: sizeOf(types, board, span) }),
        };
        const cics = t.cics as { span: number }[];
        cics.forEach((c, i) => {
          add(
            c.span,
            'bchan',
            cicTimeslots(t as unknown as Parameters<typeof cicTimeslots>[0], i, sizes),
          );
        });
        break;
      }
      case 'mfcr2': {
        // openr2 takes CAS channels with idle bits 1101; timeslot 16 carries the ABCD bits.
        const ts =
          t.channels !== undefined
            ? timeslotList(t.channels as string | number[])
            : Array.from({ length: 31 }, (_, k) => k + 1).filter((x) => x !== 16);
        add(t.span as number, 'cas', ts);
        break;
      }
      default: {
        // Analog ports: DAHDI names the signalling after the far end, so an FXS port (fxo_*
        // trunk signalling) is fxoks/fxols, as chan_dahdi configures it: native/src/analog.cc.
        const keyword = ANALOG_KEYWORD[t.signalling];
        if (keyword) add(t.span as number, keyword, timeslotList(t.ports as string | number[]));
      }
    }
  }
  return blocks;
}

function fieldOfSpan(config: SwitchConfig, span: number): string {
  const s = (config.spans ?? []).findIndex((x) => x.span === span);
  if (s >= 0) return `spans[${s}].span`;
  const t = (config.trunks ?? []).findIndex((x) => (x as { span?: unknown }).span === span);
  return t >= 0 ? `trunks[${t}].span` : 'spans';
}

/**
 * DAHDI's system.conf for a switch configuration (validated beforehand with validateConfig):
 * one `span=N,timing,lbo,framing,coding[,crc4][,yellow]` line per `spans[]` entry, then the
 * channel lines of the trunks on that span, as the engine's stacks open them: PRI `bchan=` and
 * `hardhdlc=` (the D-channel); SS7 `hardhdlc=` (each signalling link) and `bchan=` (the CICs);
 * MFC-R2 `cas=...:1101`; analog ports `fxoks=`/`fxols=` (FXS ports, fxo_* signalling) and
 * `fxsks=`/`fxsls=` (FXO ports). `loadzone` names every zone in use, `defaultzone` the system's
 * (dahdiZone). Channel numbers come from the board's layout.
 * @throws SwitchboardError E_CONFIG_FIELD when a span is not on the board
 */
/**
 * The companding law of the analog ports: `system.law`, else A-law unless every configured
 * E1/T1 span is a T1 (E1 is A-law, T1 µ-law, and a bridge between a port and a span needs one law).
 */
export function analogLaw(config: SwitchConfig): 'alaw' | 'mulaw' {
  if (config.system?.law) return config.system.law;
  const spans = config.spans ?? [];
  return spans.length > 0 &&
    spans.every((s) => s.type === 'T1' || s.framing === 'esf' || s.framing === 'd4')
    ? 'mulaw'
    : 'alaw';
}

export function renderSystemConf(
  config: SwitchConfig,
  board: BoardLayout,
  options: SystemConfOptions = {},
): string {
  const hdlc = options.dchan ?? 'hardhdlc';
  const blocks = spanBlocks(config, board);
  const out = ['# DAHDI system.conf, generated by switchboard from the switch configuration', ''];
  for (const span of [...blocks.keys()].sort((a, b) => a - b)) {
    const b = blocks.get(span) as SpanBlock;
    const layout = board.get(span);
    if (!layout)
      throw new SwitchboardError(
        'E_CONFIG_FIELD',
        `${fieldOfSpan(config, span)}: span ${span} is not on this board`,
        { details: [{ path: fieldOfSpan(config, span), message: 'not on this board' }] },
      );
    const desc = (config.spans ?? []).find((s) => s.span === span)?.description;
    out.push(`# span ${span}: ${layout.type}${desc ? ` (${desc})` : ''}`);
    if (b.line) out.push(b.line);
    for (const k of KEYWORDS) {
      const set = b.channels.get(k);
      if (!set || set.size === 0) continue;
      const channels = channelList(
        [...set].sort((x, y) => x - y).map((ts) => layout.basechan + ts - 1),
      );
      if (k === 'hdlc') out.push(`${hdlc}=${channels}`);
      else if (k === 'cas') out.push(`cas=${channels}:${R2_IDLE_BITS}`);
      else out.push(`${k}=${channels}`);
    }
    // Analog ports take the box's law: the time-slot switch copies bytes between channels, so a
    // phone bridged to an E1 call must speak A-law like the E1 does.
    if (layout.type === 'analog' && analogLaw(config) === 'alaw') {
      const ports = [...b.channels.entries()]
        .filter(([k]) => k.startsWith('fx'))
        .flatMap(([, set]) => [...set]);
      if (ports.length > 0)
        out.push(
          `alaw=${channelList(ports.sort((x, y) => x - y).map((ts) => layout.basechan + ts - 1))}`,
        );
    }
    out.push('');
  }
  const zone = dahdiZone(config.system?.toneZone);
  const zones = new Set([zone]);
  for (const t of config.trunks ?? [])
    if (t.signalling.startsWith('fx')) zones.add(((t as { zone?: string }).zone ?? 'us') as string);
  for (const z of zones) out.push(`loadzone=${z}`);
  out.push(`defaultzone=${zone}`, '');
  return out.join('\n');
}

/** What changes on one span between two configurations. */
export interface SpanChange {
  span: number;
  /** The span= line changed (or appeared, or went): the whole span is configured again. */
  line: boolean;
  /** Timeslots (analog: ports) whose channel line changed, ascending. */
  timeslots: number[];
  /** Trunks of the old configuration with a channel on what changes (the whole span when `line`). */
  trunks: string[];
}

function keywordOf(b: SpanBlock | undefined, ts: number): Keyword | undefined {
  if (!b) return undefined;
  for (const [k, set] of b.channels) if (set.has(ts)) return k;
  return undefined;
}

/**
 * Span by span, what system.conf says differently in `after` than in `before` (everything when
 * there is no `before`), ascending by span. Compared in timeslot terms, so the board is needed
 * only for the size of spans without a `type` (E1 by default). Tone zones belong to no span:
 * every dahdi_cfg run loads them.
 */
export function spanChanges(
  before: SwitchConfig | undefined,
  after: SwitchConfig,
  board?: BoardSpans,
): SpanChange[] {
  const a = before ? spanBlocks(before, board) : new Map<number, SpanBlock>();
  const b = spanBlocks(after, board);
  const out: SpanChange[] = [];
  for (const span of [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => x - y)) {
    const old = a.get(span);
    const now = b.get(span);
    const line = old?.line !== now?.line;
    const all = new Set([...(old?.owners.keys() ?? []), ...(now?.owners.keys() ?? [])]);
    const timeslots = [...all]
      .filter((ts) => keywordOf(old, ts) !== keywordOf(now, ts))
      .sort((x, y) => x - y);
    if (!line && timeslots.length === 0) continue;
    const trunks = new Set<string>();
    for (const [ts, name] of old?.owners ?? [])
      if (line || timeslots.includes(ts)) trunks.add(name);
    out.push({ span, line, timeslots, trunks: [...trunks] });
  }
  return out;
}

/**
 * The spans whose span line or channel lines differ between two configurations (all spans of
 * `after` when there is no `before`), ascending: the spans `dahdi_cfg -S` must apply again.
 * See spanChanges.
 */
export function spansTouched(
  before: SwitchConfig | undefined,
  after: SwitchConfig,
  board?: BoardSpans,
): number[] {
  return spanChanges(before, after, board).map((c) => c.span);
}

/**
 * DAHDI channels of a span as `dahdi_cfg -C` takes them ("63-93"): the given timeslots (ports),
 * or the whole span.
 */
export function spanChannels(
  board: BoardLayout,
  span: number,
  timeslots?: readonly number[],
): string {
  const s = board.get(span);
  if (!s) throw new SwitchboardError('E_CONFIG_FIELD', `span ${span} is not on this board`);
  const list = timeslots ?? Array.from({ length: s.channels }, (_, k) => k + 1);
  return channelList([...list].sort((x, y) => x - y).map((ts) => s.basechan + ts - 1));
}
