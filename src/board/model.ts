// SPDX-License-Identifier: GPL-2.0-or-later
// Board definitions (board/models/<id>.yaml): line cards, span numbering, the board controller's serial line.

import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { SwitchboardError } from '../core/errors.ts';
import { type FieldError, schemaErrors } from '../core/schema.ts';
import { parseConfigText, readConfigText } from '../runtime/config-file.ts';
import { paths } from '../runtime/paths.ts';
import { MAX_ANALOG_PORTS, MAX_SPAN_NAME, MAX_SPANS, type SimSpan } from '../sim/config.ts';
import type { BoardLayout, BoardSpan } from '../trunks/system-conf.ts';

/** The model the whole repository simulates (board/sim/demo.yaml): `switchboard start`'s default. */
export const DEFAULT_BOARD_MODEL = 'sim-demo';

/** Ports of one E1/T1 card: DAHDI's digital drivers (wct4xxp, wcte43x) have at most 8 spans a card. */
export const MAX_DIGITAL_PORTS = 8;
/** LEDs the board protocol can set in one frame (docs/board-protocol.md, LED_SET). */
export const MAX_LEDS = 64;
/** Line rates a board MCU's UART is expected to run at. */
export const BAUD_RATES = [9600, 19200, 38400, 57600, 115200, 230400] as const;

const ModelId = Type.String({
  pattern: '^[a-z0-9][a-z0-9-]{0,31}$',
  mustBe:
    'a model id of lower-case letters, digits and dashes (at most 32 characters), e.g. "sb-4e1"',
  description:
    'model id: the file name board/models/<id>.yaml and the RAUC compatible switchboard-<id>',
});

export const CardKind = Type.Union([Type.Literal('e1t1'), Type.Literal('analog')], {
  description:
    'e1t1: a digital card, one DAHDI span per port; analog: FXS/FXO ports, the whole card one DAHDI span',
});
export type CardKind = Static<typeof CardKind>;

export const Card = Type.Object(
  {
    slot: Type.Integer({ minimum: 1, maximum: 32, description: 'the slot the card sits in' }),
    kind: CardKind,
    product: Type.String({
      minLength: 1,
      maxLength: 80,
      description: 'what the card is (product and DAHDI driver), for people',
    }),
    ports: Type.Array(
      Type.Union([
        Type.Literal('E1'),
        Type.Literal('T1'),
        Type.Literal('fxs'),
        Type.Literal('fxo'),
      ]),
      {
        minItems: 1,
        maxItems: MAX_ANALOG_PORTS,
        description:
          'each port in order: E1 or T1 on an e1t1 card (its line mode), fxs or fxo on an analog card',
      },
    ),
  },
  { additionalProperties: false },
);
export type Card = Static<typeof Card>;

export const SpanRef = Type.Object(
  {
    span: Type.Integer({
      minimum: 1,
      maximum: MAX_SPANS,
      description: 'DAHDI span number; span N is the N-th entry',
    }),
    slot: Type.Integer({ minimum: 1, maximum: 32, description: 'the card carrying the span' }),
    port: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_DIGITAL_PORTS,
        description: 'e1t1 cards: the port that is this span; absent for an analog card',
      }),
    ),
    name: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: MAX_SPAN_NAME,
        description: 'the span name the driver reports (dahdi_scan name=), when it is known',
      }),
    ),
  },
  { additionalProperties: false },
);
export type SpanRef = Static<typeof SpanRef>;

export const BoardMcu = Type.Object(
  {
    device: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      description:
        'serial device of the front-panel/board MCU (e.g. /dev/ttyS1); null: the model has none (a simulated board gets its MCU on a pseudo-terminal from `switchboard start`, or --board-serial)',
    }),
    baudRate: Type.Integer({
      mustBe: `one of ${BAUD_RATES.join(', ')}`,
      description: 'the serial line rate, bit/s',
    }),
    leds: Type.Integer({
      minimum: 0,
      maximum: MAX_LEDS,
      description: 'span LEDs on the front panel: LED N shows span N',
    }),
    lcd: Type.Object(
      {
        rows: Type.Integer({ minimum: 1, maximum: 4, description: 'text lines' }),
        columns: Type.Integer({ minimum: 8, maximum: 40, description: 'characters a line' }),
      },
      { additionalProperties: false },
    ),
    watchdogMs: Type.Integer({
      minimum: 1000,
      maximum: 60000,
      description:
        'the hardware watchdog timeout the MCU enforces, ms: without a kick for this long it closes the bypass relay',
    }),
  },
  { additionalProperties: false },
);
export type BoardMcu = Static<typeof BoardMcu>;

export const BoardModel = Type.Object(
  {
    id: ModelId,
    name: Type.String({ minLength: 1, maxLength: 80, description: 'the model name, for people' }),
    description: Type.Optional(Type.String({ maxLength: 400 })),
    simulated: Type.Boolean({
      description:
        'true: the spans are the userspace DAHDI simulator (board/sim), not line cards in the box',
    }),
    cards: Type.Array(Card, { minItems: 1, maxItems: 32, description: 'the line cards' }),
    spans: Type.Array(SpanRef, {
      minItems: 1,
      maxItems: MAX_SPANS,
      description:
        'DAHDI span order: span N is the N-th entry, the order the drivers register the cards and ports; channels number on across the spans in this order',
    }),
    controller: BoardMcu,
  },
  { additionalProperties: false },
);
export type BoardModel = Static<typeof BoardModel>;

/** One span of a model as DAHDI numbers it. */
export interface ModelSpan {
  span: number;
  slot: number;
  /** The port of an e1t1 card; absent for an analog card (the whole card is the span). */
  port?: number;
  type: 'E1' | 'T1' | 'analog';
  /** Timeslots (E1 31, T1 24) or ports (analog). */
  channels: number;
  /** DAHDI channel number of the span's first timeslot or port. */
  basechan: number;
  name?: string;
  /** Analog cards: the kind of each port in channel order. */
  ports?: ('fxs' | 'fxo')[];
}

function cardErrors(model: BoardModel): FieldError[] {
  const out: FieldError[] = [];
  const slots = new Map<number, number>();
  model.cards.forEach((card, i) => {
    const seen = slots.get(card.slot);
    if (seen !== undefined)
      out.push({
        path: `cards[${i}].slot`,
        message: `slot ${card.slot} already holds cards[${seen}]`,
      });
    else slots.set(card.slot, i);
    const allowed = card.kind === 'e1t1' ? ['E1', 'T1'] : ['fxs', 'fxo'];
    card.ports.forEach((p, j) => {
      if (!allowed.includes(p))
        out.push({
          path: `cards[${i}].ports[${j}]`,
          message: `must be "${allowed[0]}" or "${allowed[1]}" on an ${card.kind} card, not "${p}"`,
        });
    });
    if (card.kind === 'e1t1' && card.ports.length > MAX_DIGITAL_PORTS)
      out.push({
        path: `cards[${i}].ports`,
        message: `an e1t1 card has at most ${MAX_DIGITAL_PORTS} ports`,
      });
  });
  return out;
}

/** Span order rules: N-th entry is span N, each port or analog card exactly once. */
function spanErrors(model: BoardModel): FieldError[] {
  const out: FieldError[] = [];
  const bySlot = new Map(model.cards.map((c) => [c.slot, c]));
  const taken = new Map<string, number>();
  model.spans.forEach((ref, i) => {
    const path = `spans[${i}]`;
    if (ref.span !== i + 1)
      out.push({
        path: `${path}.span`,
        message: `must be ${i + 1}: span N is the N-th entry (DAHDI numbers spans in order)`,
      });
    const card = bySlot.get(ref.slot);
    if (!card) {
      out.push({ path: `${path}.slot`, message: `no card is in slot ${ref.slot}` });
      return;
    }
    let key: string;
    if (card.kind === 'analog') {
      if (ref.port !== undefined) {
        out.push({
          path: `${path}.port`,
          message: `slot ${ref.slot} is an analog card: the whole card is one span, give no port`,
        });
        return;
      }
      key = `${ref.slot}`;
    } else {
      if (ref.port === undefined) {
        out.push({
          path: `${path}.port`,
          message: `is required: slot ${ref.slot} is an e1t1 card with one span per port`,
        });
        return;
      }
      if (ref.port > card.ports.length) {
        out.push({
          path: `${path}.port`,
          message: `slot ${ref.slot} has ports 1-${card.ports.length}, not ${ref.port}`,
        });
        return;
      }
      key = `${ref.slot}:${ref.port}`;
    }
    const before = taken.get(key);
    if (before !== undefined)
      out.push({
        path,
        message: `${card.kind === 'analog' ? `the card in slot ${key}` : `slot:port ${key}`} is already span ${before}`,
      });
    else taken.set(key, ref.span);
  });
  if (out.length > 0) return out;
  for (const card of model.cards) {
    const keys =
      card.kind === 'analog'
        ? [`${card.slot}`]
        : card.ports.map((_p, j) => `${card.slot}:${j + 1}`);
    for (const key of keys)
      if (!taken.has(key))
        out.push({
          path: 'spans',
          message:
            card.kind === 'analog'
              ? `the analog card in slot ${key} is no span`
              : `port ${key.split(':')[1]} of the card in slot ${card.slot} is no span`,
        });
  }
  return out;
}

function controllerErrors(model: BoardModel): FieldError[] {
  const baud = model.controller.baudRate;
  return (BAUD_RATES as readonly number[]).includes(baud)
    ? []
    : [{ path: 'controller.baudRate', message: `must be one of ${BAUD_RATES.join(', ')}` }];
}

/** Every problem of a candidate board definition; empty when it is valid. */
export function boardModelErrors(input: unknown): FieldError[] {
  const errors = schemaErrors(BoardModel, input);
  if (errors.length > 0) return errors;
  const model = input as BoardModel;
  const cards = cardErrors(model);
  return [...cards, ...(cards.length === 0 ? spanErrors(model) : []), ...controllerErrors(model)];
}

/**
 * Validates a parsed board definition.
 * @param source named in the error (a file name); when it is board/models/<id>.yaml the id must match
 * @throws SwitchboardError E_CONFIG_FIELD naming every invalid field
 */
export function validateBoardModel(input: unknown, source = 'board definition'): BoardModel {
  const errors = boardModelErrors(input);
  if (errors.length === 0 && source.endsWith('.yaml')) {
    const expected = basename(source, '.yaml');
    const id = (input as BoardModel).id;
    if (id !== expected)
      errors.push({
        path: 'id',
        message: `"${id}" does not match the file name (${expected}.yaml holds model ${expected})`,
      });
  }
  if (errors.length > 0) {
    const lines = errors.map((e) => `  ${e.path}: ${e.message}`).join('\n');
    throw new SwitchboardError('E_CONFIG_FIELD', `invalid ${source}:\n${lines}`, {
      details: errors,
    });
  }
  return input as BoardModel;
}

export function parseBoardModel(text: string, source: string): BoardModel {
  return validateBoardModel(parseConfigText(text, source), source);
}

/** The ids of the committed board definitions (board/models/*.yaml), sorted. */
export function boardModelIds(dir = paths.boardModels): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => basename(f, '.yaml'))
    .sort();
}

/**
 * A board definition by model id (board/models/<id>.yaml) or by file path (anything with a `/`
 * or ending in .yaml: a vendor's own definition).
 * @throws SwitchboardError E_CONFIG_FILE for an unknown model, E_CONFIG_FIELD for a bad definition
 */
export function loadBoardModel(idOrFile: string, dir = paths.boardModels): BoardModel {
  const isFile = idOrFile.includes('/') || idOrFile.endsWith('.yaml');
  if (!isFile && !boardModelIds(dir).includes(idOrFile))
    throw new SwitchboardError(
      'E_CONFIG_FILE',
      `no board model "${idOrFile}" (models: ${boardModelIds(dir).join(', ')})`,
    );
  const file = isFile ? idOrFile : join(dir, `${idOrFile}.yaml`);
  return parseBoardModel(readConfigText(file), file);
}

/** The model's spans in DAHDI order, with their channel numbers. */
export function modelSpans(model: BoardModel): ModelSpan[] {
  const bySlot = new Map(model.cards.map((c) => [c.slot, c]));
  let base = 1;
  return model.spans.map((ref) => {
    const card = bySlot.get(ref.slot) as Card;
    const named = ref.name === undefined ? {} : { name: ref.name };
    let span: ModelSpan;
    if (card.kind === 'analog') {
      const ports = card.ports as ('fxs' | 'fxo')[];
      span = {
        span: ref.span,
        slot: ref.slot,
        type: 'analog',
        channels: ports.length,
        basechan: base,
        ...named,
        ports,
      };
    } else {
      const type = card.ports[(ref.port ?? 1) - 1] as 'E1' | 'T1';
      span = {
        span: ref.span,
        slot: ref.slot,
        port: ref.port as number,
        type,
        channels: type === 'E1' ? 31 : 24,
        basechan: base,
        ...named,
      };
    }
    base += span.channels;
    return span;
  });
}

/** The model's spans as a simulator board declares them (type, name, ports): board/sim's shape. */
export function modelSimSpans(model: BoardModel): SimSpan[] {
  return modelSpans(model).map((s) => ({
    type: s.type,
    ...(s.name === undefined ? {} : { name: s.name }),
    ...(s.ports === undefined ? {} : { ports: s.ports }),
  }));
}

/** The model as the BoardLayout that configuration checks and system.conf rendering use. */
export function modelLayout(model: BoardModel): BoardLayout {
  const spans = new Map<number, BoardSpan>(
    modelSpans(model).map((s) => [
      s.span,
      {
        type: s.type,
        channels: s.channels,
        basechan: s.basechan,
        ...(s.ports ? { ports: s.ports } : {}),
      },
    ]),
  );
  return { get: (span) => spans.get(span) };
}

/**
 * Where the spans DAHDI reports disagree with the model (a card missing, in another slot order,
 * a port in the other line mode): one sentence each; empty when they agree.
 */
export function modelMismatch(
  model: BoardModel,
  spans: readonly { span: number; type: string }[],
): string[] {
  const out: string[] = [];
  const expected = modelSpans(model);
  const found = new Map(spans.map((s) => [s.span, s]));
  for (const e of expected) {
    const s = found.get(e.span);
    const type = s ? (s.type === 'J1' ? 'T1' : s.type) : undefined;
    if (!s) out.push(`span ${e.span} (${e.type}) is missing`);
    else if (type !== e.type) out.push(`span ${e.span} is ${s.type}, the model says ${e.type}`);
    found.delete(e.span);
  }
  for (const s of found.values()) out.push(`span ${s.span} (${s.type}) is not in the model`);
  return out;
}
