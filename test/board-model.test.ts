// SPDX-License-Identifier: GPL-2.0-or-later
// Board definitions: every committed model loads, sim-demo is board/sim/demo.yaml, bad ones name the field.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  type BoardModel,
  boardModelErrors,
  boardModelIds,
  type Card,
  DEFAULT_BOARD_MODEL,
  loadBoardModel,
  modelLayout,
  modelMismatch,
  modelSimSpans,
  modelSpans,
  type SpanRef,
} from '../src/board/model.ts';
import { isSwitchboardError } from '../src/core/errors.ts';
import { paths } from '../src/runtime/paths.ts';
import { loadSimConfig } from '../src/sim/config.ts';
import { boardFromSim } from '../src/trunks/system-conf.ts';
import { runCli } from './helpers/cli.ts';

/** The committed sim-demo definition as plain data, to break one field at a time. */
function simDemo(): BoardModel {
  return parse(readFileSync(join(paths.boardModels, 'sim-demo.yaml'), 'utf8')) as BoardModel;
}

function errorLines(input: unknown): string[] {
  return boardModelErrors(input).map((e) => `${e.path}: ${e.message}`);
}

const card = (m: BoardModel, i: number) => m.cards[i] as Card;
const spanRef = (m: BoardModel, i: number) => m.spans[i] as SpanRef;

/** sim-demo with `change` applied to a copy. */
function broken(change: (m: BoardModel) => void): BoardModel {
  const m = structuredClone(simDemo());
  change(m);
  return m;
}

describe('board models', () => {
  it('loads every committed model, each under its own file name', () => {
    const ids = boardModelIds();
    assert.ok(ids.length >= 3, `models: ${ids.join(', ')}`);
    assert.ok(ids.includes(DEFAULT_BOARD_MODEL));
    for (const id of ids) {
      const m = loadBoardModel(id);
      assert.equal(m.id, id);
      assert.ok(modelSpans(m).length >= 1);
    }
    // At least two real models, one of them with an analog card.
    const real = ids.map((id) => loadBoardModel(id)).filter((m) => !m.simulated);
    assert.ok(real.length >= 2);
    assert.ok(real.every((m) => m.controller.device !== null));
    assert.ok(real.some((m) => m.cards.some((c) => c.kind === 'analog')));
  });

  it('sim-demo is exactly the simulated demo board, with the same DAHDI channel numbers', () => {
    const model = loadBoardModel('sim-demo');
    const demo = loadSimConfig(paths.demoBoard);
    assert.deepEqual(modelSimSpans(model), demo.spans);
    const fromModel = modelLayout(model);
    const fromSim = boardFromSim(demo);
    for (let span = 1; span <= demo.spans.length + 1; span++)
      assert.deepEqual(fromModel.get(span), fromSim.get(span), `span ${span}`);
    assert.deepEqual(
      modelSpans(model).map((s) => [s.span, s.slot, s.port ?? null, s.type, s.basechan]),
      [
        [1, 1, 1, 'E1', 1],
        [2, 1, 2, 'E1', 32],
        [3, 1, 3, 'E1', 63],
        [4, 1, 4, 'E1', 94],
        [5, 2, 1, 'T1', 125],
        [6, 3, null, 'analog', 149],
      ],
    );
    assert.equal(model.controller.device, null);
    assert.equal(model.controller.leds, 6);
  });

  it('numbers the 16-E1 box with its analog card as span 17 (channels 497-504)', () => {
    const m = loadBoardModel('sb-16e1-8a');
    const spans = modelSpans(m);
    assert.equal(spans.length, 17);
    assert.deepEqual(spans[16], {
      span: 17,
      slot: 5,
      type: 'analog',
      channels: 8,
      basechan: 497,
      ports: ['fxs', 'fxs', 'fxs', 'fxs', 'fxo', 'fxo', 'fxo', 'fxo'],
    });
    assert.deepEqual(
      [spans[4]?.slot, spans[4]?.port, spans[15]?.slot, spans[15]?.port],
      [2, 1, 4, 4],
    );
  });

  it('names the field of every refused definition', () => {
    assert.deepEqual(errorLines(broken((m) => (card(m, 0).kind = 'pri' as 'e1t1'))), [
      'cards[0].kind: must be "e1t1" or "analog"',
    ]);
    assert.deepEqual(errorLines(broken((m) => (card(m, 0).ports[1] = 'fxs'))), [
      'cards[0].ports[1]: must be "E1" or "T1" on an e1t1 card, not "fxs"',
    ]);
    assert.deepEqual(errorLines(broken((m) => (card(m, 2).ports[0] = 'E1'))), [
      'cards[2].ports[0]: must be "fxs" or "fxo" on an analog card, not "E1"',
    ]);
    assert.deepEqual(errorLines(broken((m) => (card(m, 1).slot = 1))), [
      'cards[1].slot: slot 1 already holds cards[0]',
    ]);
    assert.deepEqual(errorLines(broken((m) => (spanRef(m, 2).span = 7))), [
      'spans[2].span: must be 3: span N is the N-th entry (DAHDI numbers spans in order)',
    ]);
    assert.deepEqual(errorLines(broken((m) => (spanRef(m, 4).slot = 9))), [
      'spans[4].slot: no card is in slot 9',
    ]);
    assert.deepEqual(errorLines(broken((m) => delete spanRef(m, 0).port)), [
      'spans[0].port: is required: slot 1 is an e1t1 card with one span per port',
    ]);
    assert.deepEqual(errorLines(broken((m) => (spanRef(m, 4).port = 3))), [
      'spans[4].port: slot 2 has ports 1-1, not 3',
    ]);
    assert.deepEqual(errorLines(broken((m) => (spanRef(m, 5).port = 1))), [
      'spans[5].port: slot 3 is an analog card: the whole card is one span, give no port',
    ]);
    assert.deepEqual(errorLines(broken((m) => (spanRef(m, 1).port = 1))), [
      'spans[1]: slot:port 1:1 is already span 1',
    ]);
    assert.deepEqual(errorLines(broken((m) => m.spans.pop())), [
      'spans: the analog card in slot 3 is no span',
    ]);
    assert.deepEqual(errorLines(broken((m) => (m.controller.baudRate = 1234))), [
      'controller.baudRate: must be one of 9600, 19200, 38400, 57600, 115200, 230400',
    ]);
    assert.deepEqual(errorLines(broken((m) => (m.controller.leds = 65))), [
      'controller.leds: must be at most 64',
    ]);
    assert.deepEqual(errorLines(broken((m) => (m.controller.lcd.columns = 80))), [
      'controller.lcd.columns: must be at most 40',
    ]);
    assert.deepEqual(
      errorLines(broken((m) => delete (m.controller as Partial<BoardModel['controller']>).device)),
      ['controller.device: is required'],
    );
    assert.deepEqual(errorLines(broken((m) => (m.id = 'Sim Demo'))), [
      'id: must be a model id of lower-case letters, digits and dashes (at most 32 characters), e.g. "sb-4e1"',
    ]);
    assert.deepEqual(errorLines(broken((m) => Object.assign(m, { leds: 6 }))), [
      'leds: is not a known field',
    ]);
  });

  it('refuses a file whose id is not its name, and an unknown model id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-model-'));
    const file = join(dir, 'other.yaml');
    writeFileSync(file, readFileSync(join(paths.boardModels, 'sim-demo.yaml')));
    assert.throws(
      () => loadBoardModel(file),
      (err) =>
        isSwitchboardError(err, 'E_CONFIG_FIELD') &&
        /id: "sim-demo" does not match the file name \(other\.yaml/.test(err.message),
    );
    assert.throws(
      () => loadBoardModel('sb-99e1'),
      (err) =>
        isSwitchboardError(err, 'E_CONFIG_FILE') &&
        /no board model "sb-99e1" \(models: .*sim-demo/.test(err.message),
    );
    // The CLI says the same, one line per field.
    writeFileSync(
      join(dir, 'bad.yaml'),
      readFileSync(join(paths.boardModels, 'sim-demo.yaml'), 'utf8')
        .replace('id: sim-demo', 'id: bad')
        .replace('leds: 6', 'leds: 99'),
    );
    const r = await runCli('board', 'check', join(dir, 'bad.yaml'));
    assert.equal(r.code, 1);
    assert.equal(r.out, `${join(dir, 'bad.yaml')}: controller.leds: must be at most 64\n`);
    const ok = await runCli('board', 'check', join(paths.boardModels, 'sb-4e1.yaml'));
    assert.equal(ok.code, 0);
    assert.match(ok.out, /valid \(model sb-4e1, 1 cards, 4 spans, 4 LEDs\)/);
    const list = await runCli('board', 'list');
    assert.deepEqual(
      list.out
        .trim()
        .split('\n')
        .map((l) => l.split('\t')[0]),
      boardModelIds(),
    );
  });

  it('says where DAHDI and the model disagree', () => {
    const m = loadBoardModel('sim-demo');
    const spans = modelSpans(m).map((s) => ({ span: s.span, type: s.type as string }));
    assert.deepEqual(modelMismatch(m, spans), []);
    const other = spans.slice(0, 5).map((s) => (s.span === 5 ? { span: 5, type: 'E1' } : s));
    other.push({ span: 7, type: 'E1' });
    assert.deepEqual(modelMismatch(m, other), [
      'span 5 is E1, the model says T1',
      'span 6 (analog) is missing',
      'span 7 (E1) is not in the model',
    ]);
  });
});
