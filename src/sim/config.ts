// SPDX-License-Identifier: GPL-2.0-or-later
// The simulated board's configuration: schema, loading (YAML or JSON), validation, daemon JSON.

import { type Static, Type } from '@sinclair/typebox';
import { SwitchboardError } from '../core/errors.ts';
import { type FieldError, schemaErrors } from '../core/schema.ts';
import { parseConfigText, readConfigText } from '../runtime/config-file.ts';

export type { FieldError };

/** DAHDI numbers spans from 1 and allows at most DAHDI_MAX_SPANS - 1 of them. */
export const MAX_SPANS = 127;
/** The largest DAHDI analog card (TDM2400) has 24 ports. */
export const MAX_ANALOG_PORTS = 24;
/** struct dahdi_spaninfo keeps the span name in char[20]. */
export const MAX_SPAN_NAME = 19;

export const SpanType = Type.Union(
  [Type.Literal('E1'), Type.Literal('T1'), Type.Literal('analog')],
  {
    description: 'E1 (31 timeslots), T1 (24 timeslots) or an analog card (one channel per port)',
  },
);
export type SpanType = Static<typeof SpanType>;

export const PortKind = Type.Union([Type.Literal('fxs'), Type.Literal('fxo')], {
  description: 'fxs: the port feeds a phone (battery, ringing); fxo: the port is a phone to a line',
});
export type PortKind = Static<typeof PortKind>;

export const SimSpan = Type.Object(
  {
    type: SpanType,
    name: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: MAX_SPAN_NAME,
        description: 'DAHDI span name; default chosen by the simulator (SIM/E1/1 ...)',
      }),
    ),
    ports: Type.Optional(
      Type.Array(PortKind, {
        minItems: 1,
        maxItems: MAX_ANALOG_PORTS,
        description: 'analog cards only: the kind of each port, in channel order',
      }),
    ),
  },
  { additionalProperties: false },
);
export type SimSpan = Static<typeof SimSpan>;

const SpanNumber = Type.Integer({ minimum: 1, maximum: MAX_SPANS, description: 'span number' });

/**
 * One analog port, "SPAN:PORT" (`"6:1"`: port 1 of span 6). `mustBe` is what a validation
 * error says the value must be.
 */
export const PortRef = Type.String({
  pattern: '^[0-9]+:[0-9]+$',
  description: 'an analog port as "SPAN:PORT", e.g. "6:1" for port 1 of span 6',
  mustBe: '"SPAN:PORT" naming an analog port, e.g. "6:1"',
});

export const SimConfig = Type.Object(
  {
    spans: Type.Array(SimSpan, {
      minItems: 1,
      maxItems: MAX_SPANS,
      description: 'the spans of the board; span N is the N-th entry',
    }),
    cables: Type.Optional(
      Type.Array(
        Type.Tuple([SpanNumber, SpanNumber], { mustBe: 'a pair of span numbers [a, b]' }),
        { description: 'pairs of spans joined by a crossover cable, as [a, b]' },
      ),
    ),
    lines: Type.Optional(
      Type.Array(
        Type.Tuple([PortRef, PortRef], {
          mustBe: 'a pair of ports ["SPAN:PORT", "SPAN:PORT"]',
        }),
        {
          description:
            'analog lines, each joining an fxs port to an fxo port, as ["SPAN:PORT", "SPAN:PORT"]; ports on no line are not connected',
        },
      ),
    ),
  },
  { additionalProperties: false },
);
export type SimConfig = Static<typeof SimConfig>;

/** One invalid field: `path` reads like the YAML (`spans[2].type`). */

/** Timeslots per span type; an analog card has one channel per port. */
export function channelCount(span: SimSpan): number {
  switch (span.type) {
    case 'E1':
      return 31;
    case 'T1':
      return 24;
    case 'analog':
      return span.ports?.length ?? 0;
  }
}

/** An analog port named by a line end. */
export interface PortAddress {
  span: number;
  port: number;
}

/** `"6:1"` -> `{ span: 6, port: 1 }`; the schema has already checked the form. */
export function parsePortRef(ref: string): PortAddress {
  const [span = '', port = ''] = ref.split(':');
  return { span: Number(span), port: Number(port) };
}

/** Rules the schema cannot say for lines: analog ports that exist, fxs to fxo, one line each. */
function lineErrors(config: SimConfig): FieldError[] {
  const out: FieldError[] = [];
  const n = config.spans.length;
  const joined = new Map<string, string>();
  (config.lines ?? []).forEach((line, i) => {
    const ends: { ref: string; kind: PortKind }[] = [];
    for (const [j, text] of line.entries()) {
      const path = `lines[${i}][${j}]`;
      const { span, port } = parsePortRef(text);
      const ref = `${span}:${port}`;
      const card = config.spans[span - 1];
      const kind = card?.ports?.[port - 1];
      if (span < 1 || span > n || card === undefined)
        out.push({ path, message: `span ${span} does not exist (spans are 1-${n})` });
      else if (card.type !== 'analog')
        out.push({ path, message: `span ${span} is not an analog card` });
      else if (kind === undefined || port < 1) {
        const count = card.ports?.length ?? 0;
        out.push({
          path,
          message: `port ${port} does not exist on span ${span} (ports are 1-${count})`,
        });
      } else if (joined.has(ref))
        out.push({ path, message: `port ${ref} is already on ${joined.get(ref)}` });
      else ends.push({ ref, kind });
    }
    const [a, b] = ends;
    if (a === undefined || b === undefined) return;
    if (a.ref === b.ref)
      out.push({ path: `lines[${i}]`, message: `a port cannot be joined to itself (${a.ref})` });
    else if (a.kind === b.kind)
      out.push({
        path: `lines[${i}]`,
        message: `a line joins an fxs port to an fxo port (both are ${a.kind})`,
      });
    else {
      joined.set(a.ref, `lines[${i}]`);
      joined.set(b.ref, `lines[${i}]`);
    }
  });
  return out;
}

/**
 * Rules the schema cannot say: ports only on analog cards, cables between existing like spans,
 * lines between existing analog ports.
 */
function boardErrors(config: SimConfig): FieldError[] {
  const out: FieldError[] = [];
  const n = config.spans.length;
  config.spans.forEach((span, i) => {
    if (span.type === 'analog' && span.ports === undefined)
      out.push({ path: `spans[${i}].ports`, message: 'is required for an analog card' });
    if (span.type !== 'analog' && span.ports !== undefined)
      out.push({
        path: `spans[${i}].ports`,
        message: `is only for analog cards, not ${span.type}`,
      });
  });
  const spansOk = out.length === 0;
  const cabled = new Map<number, string>();
  (config.cables ?? []).forEach((cable, i) => {
    const [a, b] = cable;
    let ok = true;
    for (const [j, span] of [a, b].entries()) {
      if (span > n) {
        out.push({
          path: `cables[${i}][${j}]`,
          message: `span ${span} does not exist (spans are 1-${n})`,
        });
        ok = false;
      } else if (cabled.has(span)) {
        out.push({
          path: `cables[${i}][${j}]`,
          message: `span ${span} is already cabled in ${cabled.get(span)}`,
        });
        ok = false;
      }
    }
    if (!ok) return;
    const ta = config.spans[a - 1]?.type;
    const tb = config.spans[b - 1]?.type;
    if (a === b) {
      out.push({ path: `cables[${i}]`, message: `a span cannot be cabled to itself (span ${a})` });
    } else if (ta === 'analog' || tb === 'analog') {
      out.push({
        path: `cables[${i}]`,
        message: 'analog cards are not cabled span to span (join their ports with `lines`)',
      });
    } else if (ta !== tb) {
      out.push({
        path: `cables[${i}]`,
        message: `cannot cable span ${a} (${ta}) to span ${b} (${tb}): both ends must be the same type`,
      });
    } else {
      cabled.set(a, `cables[${i}]`);
      cabled.set(b, `cables[${i}]`);
    }
  });
  // Lines name ports, so they are checked only once every analog card has its ports.
  if (spansOk) out.push(...lineErrors(config));
  return out;
}

/** Every problem of a candidate configuration; empty when it is valid. */
export function simConfigErrors(input: unknown): FieldError[] {
  const errors = schemaErrors(SimConfig, input);
  return errors.length > 0 ? errors : boardErrors(input as SimConfig);
}

/**
 * Validates a parsed configuration and returns it typed.
 * @param source named in the error message (a file name), if any
 * @throws SwitchboardError E_CONFIG_FIELD naming every invalid field
 */
export function validateSimConfig(input: unknown, source = 'simulator config'): SimConfig {
  const errors = simConfigErrors(input);
  if (errors.length > 0) {
    const lines = errors.map((e) => `  ${e.path}: ${e.message}`).join('\n');
    throw new SwitchboardError('E_CONFIG_FIELD', `invalid ${source}:\n${lines}`, {
      details: errors,
    });
  }
  return input as SimConfig;
}

/** Parses YAML or JSON text (JSON when the source name ends in .json). */
export function parseSimConfig(text: string, source: string): SimConfig {
  return validateSimConfig(parseConfigText(text, source), source);
}

/** Reads and validates a simulator configuration file (YAML or JSON). */
export function loadSimConfig(file: string): SimConfig {
  return parseSimConfig(readConfigText(file), file);
}

/**
 * The JSON document the daemon reads with --config: the validated configuration, normalised
 * (cables always present, line ends written SPAN:PORT without leading zeros).
 */
export function toDaemonJson(config: SimConfig): string {
  const doc = {
    spans: config.spans.map((s) => ({
      type: s.type,
      ...(s.name === undefined ? {} : { name: s.name }),
      ...(s.ports === undefined ? {} : { ports: s.ports }),
    })),
    cables: config.cables ?? [],
    // Only when the board names lines, like name and ports above.
    ...(config.lines === undefined
      ? {}
      : {
          lines: config.lines.map((line) =>
            line.map((ref) => {
              const { span, port } = parsePortRef(ref);
              return `${span}:${port}`;
            }),
          ),
        }),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
