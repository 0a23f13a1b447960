// SPDX-License-Identifier: GPL-2.0-or-later
// The whole configuration as a commented YAML file an installer can keep, edit and import back.

import { Document, isNode, isScalar, LineCounter, parseDocument } from 'yaml';
import { SwitchboardError } from '../core/errors.ts';
import type { FieldError } from '../core/schema.ts';
import type { BoardSpans } from '../trunks/validate.ts';
import { canonicalConfig } from './canonical.ts';
import type { SECTIONS, SwitchConfig } from './schema.ts';
import { validateConfig } from './validate.ts';

/** One line above each section, so a file read on its own explains itself. */
const SECTION_NOTES: Readonly<Record<(typeof SECTIONS)[number], string>> = {
  system: 'the box: name, time zone, call-progress tone zone',
  spans: 'E1/T1 spans: framing, line coding, CRC-4, clock priority (DAHDI system.conf)',
  trunks: 'trunks: the signalling on the spans (PRI, SS7, MFC-R2) and analog ports',
  trunkGroups: 'trunk groups: trunks hunted together by outbound routes',
  timeConditions: 'time conditions: office hours and holidays',
  regions: 'regions: callers grouped by calling-number prefix',
  blacklists: 'blacklists: numbers refused inbound and outbound',
  routes: 'routes: inbound and outbound, each list tried in order (the first match wins)',
  extensions: 'extensions: phones on FXS ports',
  mqtt: 'MQTT to the NOC: the embedded broker or the NOC broker, topics, TLS, the outbox (docs/mqtt.md)',
};

export interface YamlExportOptions {
  /** The revision exported (named in the header). */
  revision?: number;
  /** When the export was made; default now. */
  exportedAt?: Date | string;
  /** The box name for the header; default system.name of the configuration. */
  boxName?: string;
}

/** A FieldError of an imported file, with the line it is on (1-based) when it can be found. */
export interface YamlFieldError extends FieldError {
  line?: number;
}

/**
 * The configuration as YAML: a header comment (what it is, revision, date, how to import it),
 * then the sections in the order of SECTIONS, each with a one-line note. Strings that would
 * read back as numbers or booleans are quoted ("0201"), so `configFromYaml` returns exactly
 * the configuration given.
 */
export function configToYaml(config: SwitchConfig, options: YamlExportOptions = {}): string {
  const box = options.boxName ?? config.system?.name;
  const at =
    options.exportedAt instanceof Date
      ? options.exportedAt.toISOString()
      : (options.exportedAt ?? new Date().toISOString());
  const doc = new Document(canonicalConfig(config));
  doc.commentBefore = [
    ` Switchboard configuration${box ? ` of "${box}"` : ''}: the whole switch (spans, trunks, routes ...).`,
    ` ${options.revision === undefined ? 'Not a stored revision' : `Revision ${options.revision}`}, exported ${at}.`,
    ' To import it back (it is checked as a whole, applied, and stored as a new revision):',
    '   web UI: Configuration > Import; or, as an installer,',
    "   curl -X POST -H 'Content-Type: application/yaml' --data-binary @this-file.yaml \\",
    '        https://<box>/api/config/import',
    ' Quote numbers and patterns ("0201", "_010XXXXXXXX"): unquoted digits read as a number.',
  ].join('\n');
  const contents = doc.contents;
  if (contents && 'items' in contents)
    (contents.items as { key: unknown }[]).forEach((pair, i) => {
      const key = pair.key;
      if (!isScalar(key)) return;
      const note = SECTION_NOTES[key.value as keyof typeof SECTION_NOTES];
      if (note) key.commentBefore = ` ${note}`;
      // The header comment already ends with a blank line before the first section.
      if (i > 0) key.spaceBefore = true;
    });
  return doc.toString({ lineWidth: 0 });
}

/** `routes.inbound[2].called` -> ['routes', 'inbound', 2, 'called'] */
function pathKeys(path: string): (string | number)[] {
  if (path === '(top level)') return [];
  const keys: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g))
    keys.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  return keys;
}

/** The line of a field in the file, or of the nearest enclosing one that is there. */
function locate(
  doc: Document,
  lines: LineCounter,
  text: string,
  error: FieldError,
): YamlFieldError {
  const keys = pathKeys(error.path);
  for (let n = keys.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(keys.slice(0, n), true);
    if (!isNode(node) || !node.range) continue;
    const line = lines.linePos(node.range[0]).line;
    let message = error.message;
    // A hand-edited `called: 95588` reads as a number; say how to make it the string it must be.
    if (n === keys.length && isScalar(node) && typeof node.value === 'number')
      if (/string|number|digits/.test(message) && !/^must be (at |an integer)/.test(message))
        message += ` (write it in quotes, "${text.slice(node.range[0], node.range[1])}", if it is a number or pattern)`;
    return { path: error.path, message, line };
  }
  return error;
}

/**
 * Reads a configuration file: YAML first (a syntax error names its line and column), then
 * validateConfig (every wrong field named with its path and line).
 * @throws SwitchboardError E_CONFIG_FILE (not YAML, empty, several documents, alias bomb)
 * @throws SwitchboardError E_CONFIG_FIELD with details: YamlFieldError[]
 */
export function configFromYaml(text: string, board?: BoardSpans): SwitchConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const { line, col } = lines.linePos(first.pos[0]);
    throw new SwitchboardError('E_CONFIG_FILE', `line ${line}, column ${col}: ${first.message}`, {
      details: { line, column: col, yaml: first.code },
    });
  }
  let input: unknown;
  try {
    // A small alias budget: a configuration has no need of aliases, a "billion laughs" file does.
    input = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new SwitchboardError('E_CONFIG_FILE', `the file cannot be read: ${String(err)}`, {
      cause: err,
    });
  }
  if (input === null || input === undefined)
    throw new SwitchboardError('E_CONFIG_FILE', 'the file holds no configuration (it is empty)');
  try {
    return validateConfig(input, board);
  } catch (err) {
    if (!(err instanceof SwitchboardError) || err.code !== 'E_CONFIG_FIELD') throw err;
    const details = (err.details as FieldError[]).map((e) => locate(doc, lines, text, e));
    const head = details[0] as YamlFieldError;
    const more = details.length > 1 ? ` (and ${details.length - 1} more)` : '';
    throw new SwitchboardError(
      'E_CONFIG_FIELD',
      `${head.path}${head.line ? ` (line ${head.line})` : ''}: ${head.message}${more}`,
      { details },
    );
  }
}
