// SPDX-License-Identifier: GPL-2.0-or-later
// Imports an Asterisk/DAHDI box (system.conf + chan_dahdi.conf) into one validated SwitchConfig.

import { isSwitchboardError } from '../core/errors.ts';
import type { FieldError } from '../core/schema.ts';
import type { BoardSpans } from '../trunks/validate.ts';
import { type ChanDahdiImport, importChanDahdi } from './import-chan-dahdi.ts';
import {
  type ImportIssue,
  importSystemConf,
  type SpanLayout,
  type SystemConfImport,
} from './import-system-conf.ts';
import type { SwitchConfig } from './schema.ts';
import { validateConfig } from './validate.ts';

export {
  type ChanDahdiImport,
  type ChanDahdiOptions,
  importChanDahdi,
} from './import-chan-dahdi.ts';
export {
  DAHDI_TONE_ZONES,
  type DahdiFunction,
  type ImportIssue,
  importSystemConf,
  placeChannel,
  type SpanLayout,
  type SystemConfImport,
  type SystemConfOptions,
  type TimeslotConfig,
} from './import-system-conf.ts';

export interface AsteriskInput {
  /** The text of /etc/dahdi/system.conf. */
  systemConf?: string;
  /** The text of /etc/asterisk/chan_dahdi.conf (with any #include-d file pasted in). */
  chanDahdi?: string;
  /** The board, when known: places analog cards and checks spans against it. */
  board?: BoardSpans;
}

export interface AsteriskImport {
  /** What could be imported; it passes validateConfig (with the board, when given). */
  config: SwitchConfig;
  /** system.conf's channel layout per span (empty without system.conf). */
  layout: SpanLayout[];
  /** Everything not imported, from both files, each with its file and line. */
  unsupported: ImportIssue[];
  notes: string[];
}

/** Most rounds of dropping refused parts before the configuration validates. */
const MAX_ROUNDS = 32;

/**
 * Imports both files of an Asterisk/DAHDI box: system.conf places channels on spans, chan_dahdi.conf
 * makes trunks of them. The merged configuration is then checked with validateConfig; a part it
 * refuses (a span, a trunk, a group member, an extension) is left out and listed in `unsupported`
 * with the line it came from, until the rest validates. Never throws on text input.
 * @throws SwitchboardError E_CONFIG_FILE when a given file is not a string
 */
export function importAsterisk(input: AsteriskInput): AsteriskImport {
  const board = input.board;
  const sys: SystemConfImport | undefined =
    input.systemConf === undefined
      ? undefined
      : importSystemConf(input.systemConf, board ? { board } : {});
  const chan: ChanDahdiImport | undefined =
    input.chanDahdi === undefined
      ? undefined
      : importChanDahdi(input.chanDahdi, {
          ...(sys ? { systemConf: sys } : {}),
          ...(board ? { board } : {}),
        });
  const unsupported = [...(sys?.unsupported ?? []), ...(chan?.unsupported ?? [])];
  const notes = [...(sys?.notes ?? []), ...(chan?.notes ?? [])];
  if (!sys && !chan) notes.push('nothing to import: neither system.conf nor chan_dahdi.conf given');

  const config: SwitchConfig = {};
  const sysZone = sys?.config.system?.toneZone;
  const chanZone = chan?.config.system?.toneZone;
  if (sysZone && chanZone && sysZone !== chanZone)
    notes.push(
      `tone zone: chan_dahdi.conf's tonezone (${chanZone}) overrides system.conf's defaultzone (${sysZone})`,
    );
  const toneZone = chanZone ?? sysZone;
  if (toneZone) config.system = { toneZone };
  if (sys?.config.spans?.length) config.spans = [...sys.config.spans];
  if (chan?.config.trunks?.length) config.trunks = [...chan.config.trunks];
  if (chan?.config.trunkGroups?.length)
    config.trunkGroups = chan.config.trunkGroups.map((g) => ({ ...g, trunks: [...g.trunks] }));
  if (chan?.config.extensions?.length) config.extensions = [...chan.config.extensions];

  const refuse = (
    origin: { line: number; text: string } | undefined,
    file: string,
    what: string,
    e: FieldError,
  ) => {
    const reason = `refused by the configuration check: ${e.path}: ${e.message}`;
    if (origin) unsupported.push({ file, line: origin.line, text: origin.text, reason });
    else notes.push(`${what} left out: ${reason}`);
  };

  for (let round = 0; round < MAX_ROUNDS; round++) {
    let errors: FieldError[];
    try {
      validateConfig(config, board);
      break;
    } catch (err) {
      if (!isSwitchboardError(err, 'E_CONFIG_FIELD')) throw err;
      errors = err.details as FieldError[];
    }
    const drop = {
      spans: new Set<number>(),
      trunks: new Set<number>(),
      extensions: new Set<number>(),
    };
    const groupDrop = new Set<number>();
    const memberDrop = new Map<number, Set<number>>();
    let other = false;
    for (const e of errors) {
      const m = /^(spans|trunks|extensions|trunkGroups)\[(\d+)\](?:\.trunks\[(\d+)\])?/.exec(
        e.path,
      );
      if (!m) {
        // system.* and anything else: leave the section out.
        const section = e.path.split(/[.[]/)[0] as keyof SwitchConfig;
        notes.push(
          `${section} left out: refused by the configuration check: ${e.path}: ${e.message}`,
        );
        delete config[section];
        other = true;
        continue;
      }
      const i = Number(m[2]);
      if (m[1] === 'spans') {
        const s = config.spans?.[i];
        refuse(s && sys?.origins[`span ${s.span}`], 'system.conf', `span ${s?.span}`, e);
        drop.spans.add(i);
      } else if (m[1] === 'trunks') {
        const t = config.trunks?.[i];
        refuse(t && chan?.origins[t.name], 'chan_dahdi.conf', `trunk ${t?.name}`, e);
        drop.trunks.add(i);
      } else if (m[1] === 'extensions') {
        const x = config.extensions?.[i];
        refuse(
          x && chan?.origins[`extension ${x.number}`],
          'chan_dahdi.conf',
          `extension ${x?.number}`,
          e,
        );
        drop.extensions.add(i);
      } else if (m[3] !== undefined) {
        memberDrop.set(i, new Set([...(memberDrop.get(i) ?? []), Number(m[3])]));
        notes.push(
          `trunk group ${config.trunkGroups?.[i]?.name}: member left out (${e.path}: ${e.message})`,
        );
      } else {
        notes.push(
          `trunk group ${config.trunkGroups?.[i]?.name} left out (${e.path}: ${e.message})`,
        );
        groupDrop.add(i);
      }
    }
    if (config.spans) config.spans = config.spans.filter((_, i) => !drop.spans.has(i));
    const goneTrunks = new Set(
      (config.trunks ?? []).filter((_, i) => drop.trunks.has(i)).map((t) => t.name),
    );
    if (config.trunks) config.trunks = config.trunks.filter((_, i) => !drop.trunks.has(i));
    if (config.extensions)
      config.extensions = config.extensions.filter(
        (x, i) => !drop.extensions.has(i) && !goneTrunks.has(x.trunk),
      );
    if (config.trunkGroups)
      config.trunkGroups = config.trunkGroups
        .map((g, i) => ({
          ...g,
          trunks: g.trunks.filter((t, j) => !goneTrunks.has(t) && !memberDrop.get(i)?.has(j)),
        }))
        .filter((_, i) => !groupDrop.has(i))
        .filter((g) => {
          if (g.trunks.length > 0) return true;
          notes.push(`trunk group ${g.name} left out: none of its trunks was imported`);
          return false;
        });
    const removed =
      drop.spans.size + drop.trunks.size + drop.extensions.size + groupDrop.size + memberDrop.size;
    if (removed === 0 && !other) break;
  }
  for (const key of Object.keys(config) as (keyof SwitchConfig)[]) {
    const v = config[key];
    if (Array.isArray(v) && v.length === 0) delete config[key];
  }
  unsupported.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? 1 : -1));
  let valid: SwitchConfig;
  try {
    valid = validateConfig(config, board);
  } catch (err) {
    if (!isSwitchboardError(err, 'E_CONFIG_FIELD')) throw err;
    // Not reached in practice: every round above removes what was refused.
    notes.push(`nothing imported: the configuration still does not validate (${err.message})`);
    valid = {};
  }
  return { config: valid, layout: sys?.layout ?? [], unsupported, notes };
}
