// SPDX-License-Identifier: GPL-2.0-or-later
// Simulator configuration: the demo board loads, and every error names the field at fault.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSwitchboardError } from '../src/core/errors.ts';
import { paths } from '../src/runtime/paths.ts';
import {
  loadSimConfig,
  parseSimConfig,
  simConfigErrors,
  toDaemonJson,
  validateSimConfig,
} from '../src/sim/config.ts';

/** The `path: message` lines of the validation error for `input`. */
function errorLines(input: unknown): string[] {
  return simConfigErrors(input).map((e) => `${e.path}: ${e.message}`);
}

describe('sim config', () => {
  it('loads the demo board: 4 E1 cabled in pairs, 1 T1, an analog card', () => {
    const demo = loadSimConfig(paths.demoBoard);
    assert.deepEqual(
      demo.spans.map((s) => s.type),
      ['E1', 'E1', 'E1', 'E1', 'T1', 'analog'],
    );
    assert.deepEqual(demo.cables, [
      [1, 2],
      [3, 4],
    ]);
    assert.deepEqual(demo.spans[5]?.ports, ['fxs', 'fxs', 'fxo', 'fxo']);
    assert.deepEqual(demo.lines, [
      ['6:1', '6:3'],
      ['6:2', '6:4'],
    ]);
  });

  it('names the field of a wrong span type', () => {
    assert.deepEqual(errorLines({ spans: [{ type: 'E1' }, { type: 'E1' }, { type: 'X1' }] }), [
      'spans[2].type: must be "E1", "T1" or "analog"',
    ]);
  });

  it('names missing, unknown and mistyped fields', () => {
    assert.deepEqual(errorLines({}), ['spans: is required']);
    assert.deepEqual(errorLines({ spans: 'E1' }), ['spans: must be a list']);
    assert.deepEqual(errorLines({ spans: [{}] }), ['spans[0].type: is required']);
    assert.deepEqual(errorLines({ spans: [{ type: 'E1', framing: 'ccs' }] }), [
      'spans[0].framing: is not a known field',
    ]);
    assert.deepEqual(errorLines({ spans: [{ type: 'E1', name: 'x'.repeat(20) }] }), [
      'spans[0].name: must be at most 19 characters',
    ]);
    assert.deepEqual(errorLines({ spans: [{ type: 'analog', ports: ['fxs', 'pots'] }] }), [
      'spans[0].ports[1]: must be "fxs" or "fxo"',
    ]);
    assert.deepEqual(errorLines({ spans: [{ type: 'E1' }], cables: [[1]] }), [
      'cables[0]: must be a pair of span numbers [a, b]',
    ]);
    assert.deepEqual(errorLines({ spans: [{ type: 'E1' }], cables: [[0, 1]] }), [
      'cables[0][0]: must be at least 1',
    ]);
  });

  it('checks ports and cables against the board', () => {
    const spans = [{ type: 'E1' }, { type: 'E1' }, { type: 'T1' }, { type: 'analog' }];
    assert.deepEqual(errorLines({ spans }), ['spans[3].ports: is required for an analog card']);
    assert.deepEqual(errorLines({ spans: [{ type: 'T1', ports: ['fxs'] }] }), [
      'spans[0].ports: is only for analog cards, not T1',
    ]);
    const board = { spans: spans.slice(0, 3) };
    assert.deepEqual(errorLines({ ...board, cables: [[1, 9]] }), [
      'cables[0][1]: span 9 does not exist (spans are 1-3)',
    ]);
    assert.deepEqual(errorLines({ ...board, cables: [[2, 2]] }), [
      'cables[0]: a span cannot be cabled to itself (span 2)',
    ]);
    assert.deepEqual(errorLines({ ...board, cables: [[1, 3]] }), [
      'cables[0]: cannot cable span 1 (E1) to span 3 (T1): both ends must be the same type',
    ]);
    assert.deepEqual(
      errorLines({
        ...board,
        cables: [
          [1, 2],
          [2, 1],
        ],
      }),
      [
        'cables[1][0]: span 2 is already cabled in cables[0]',
        'cables[1][1]: span 1 is already cabled in cables[0]',
      ],
    );
  });

  it('checks the form of lines', () => {
    const spans = [{ type: 'analog', ports: ['fxs', 'fxo'] }];
    assert.deepEqual(errorLines({ spans, lines: '1:1' }), ['lines: must be a list']);
    assert.deepEqual(errorLines({ spans, lines: [['1:1']] }), [
      'lines[0]: must be a pair of ports ["SPAN:PORT", "SPAN:PORT"]',
    ]);
    assert.deepEqual(errorLines({ spans, lines: [['1:1', '1:2', '1:3']] }), [
      'lines[0]: must be a pair of ports ["SPAN:PORT", "SPAN:PORT"]',
    ]);
    assert.deepEqual(errorLines({ spans, lines: [['1:1', 2]] }), [
      'lines[0][1]: must be "SPAN:PORT" naming an analog port, e.g. "6:1"',
    ]);
    assert.deepEqual(errorLines({ spans, lines: [['1-1', '1:2']] }), [
      'lines[0][0]: must be "SPAN:PORT" naming an analog port, e.g. "6:1"',
    ]);
    // Cables keep their own wording.
    assert.deepEqual(errorLines({ spans, cables: [[1, 2, 3]] }), [
      'cables[0]: must be a pair of span numbers [a, b]',
    ]);
  });

  it('checks lines against the board: analog ports that exist, fxs to fxo, one line each', () => {
    const spans = [
      { type: 'analog', ports: ['fxs', 'fxs', 'fxo', 'fxo'] },
      { type: 'E1' },
      { type: 'T1' },
      { type: 'analog', ports: ['fxo', 'fxs'] },
    ];
    assert.deepEqual(
      errorLines({
        spans,
        lines: [
          ['1:1', '1:3'],
          ['1:2', '4:1'],
          ['4:2', '1:4'],
        ],
      }),
      [],
      'fxs to fxo, on one card or across two, in either order',
    );
    assert.deepEqual(errorLines({ spans, lines: [['1:1', '3:1']] }), [
      'lines[0][1]: span 3 is not an analog card',
    ]);
    assert.deepEqual(errorLines({ spans, lines: [['9:1', '0:1']] }), [
      'lines[0][0]: span 9 does not exist (spans are 1-4)',
      'lines[0][1]: span 0 does not exist (spans are 1-4)',
    ]);
    assert.deepEqual(errorLines({ spans, lines: [['1:5', '4:0']] }), [
      'lines[0][0]: port 5 does not exist on span 1 (ports are 1-4)',
      'lines[0][1]: port 0 does not exist on span 4 (ports are 1-2)',
    ]);
    assert.deepEqual(errorLines({ spans, lines: [['1:1', '1:2']] }), [
      'lines[0]: a line joins an fxs port to an fxo port (both are fxs)',
    ]);
    assert.deepEqual(errorLines({ spans, lines: [['1:3', '4:1']] }), [
      'lines[0]: a line joins an fxs port to an fxo port (both are fxo)',
    ]);
    assert.deepEqual(errorLines({ spans, lines: [['1:1', '01:1']] }), [
      'lines[0]: a port cannot be joined to itself (1:1)',
    ]);
    assert.deepEqual(
      errorLines({
        spans,
        lines: [
          ['1:1', '1:3'],
          ['1:1', '1:4'],
          ['1:2', '1:03'],
        ],
      }),
      [
        'lines[1][0]: port 1:1 is already on lines[0]',
        'lines[2][1]: port 1:3 is already on lines[0]',
      ],
    );
  });

  it('checks lines only once the spans are valid', () => {
    assert.deepEqual(errorLines({ spans: [{ type: 'analog' }], lines: [['1:1', '1:2']] }), [
      'spans[0].ports: is required for an analog card',
    ]);
  });

  it('does not cable analog cards span to span', () => {
    const spans = [
      { type: 'analog', ports: ['fxs'] },
      { type: 'analog', ports: ['fxo'] },
    ];
    assert.deepEqual(errorLines({ spans, cables: [[1, 2]] }), [
      'cables[0]: analog cards are not cabled span to span (join their ports with `lines`)',
    ]);
  });

  it('throws E_CONFIG_FIELD with every field in the message', () => {
    assert.throws(
      () =>
        validateSimConfig({ spans: [{ type: 'E2' }, { type: 'T1', crc4: true }] }, 'board.yaml'),
      (err) =>
        isSwitchboardError(err, 'E_CONFIG_FIELD') &&
        err.message ===
          'invalid board.yaml:\n  spans[0].type: must be "E1", "T1" or "analog"\n  spans[1].crc4: is not a known field',
    );
  });

  it('reports unparsable and unreadable files as E_CONFIG_FILE', () => {
    assert.throws(
      () => parseSimConfig('spans: [\n', 'broken.yaml'),
      (err) =>
        isSwitchboardError(err, 'E_CONFIG_FILE') &&
        err.message.startsWith('cannot parse broken.yaml'),
    );
    assert.throws(
      () => parseSimConfig('{"spans": [', 'broken.json'),
      (err) => isSwitchboardError(err, 'E_CONFIG_FILE'),
    );
    assert.throws(
      () => loadSimConfig('/nonexistent/board.yaml'),
      (err) => isSwitchboardError(err, 'E_CONFIG_FILE') && err.message.includes('ENOENT'),
    );
  });

  it('accepts JSON and writes the daemon JSON with cables always present, lines when given', () => {
    const config = parseSimConfig('{"spans":[{"type":"T1","name":"T"}]}', 'board.json');
    assert.deepEqual(JSON.parse(toDaemonJson(config)), {
      spans: [{ type: 'T1', name: 'T' }],
      cables: [],
    });
  });

  it('passes lines to the daemon, each port written SPAN:PORT', () => {
    const config = validateSimConfig({
      spans: [{ type: 'analog', ports: ['fxs', 'fxo'] }],
      lines: [['01:2', '1:001']],
    });
    assert.deepEqual(JSON.parse(toDaemonJson(config)).lines, [['1:2', '1:1']]);
    const demo = JSON.parse(toDaemonJson(loadSimConfig(paths.demoBoard)));
    assert.deepEqual(demo.lines, [
      ['6:1', '6:3'],
      ['6:2', '6:4'],
    ]);
  });
});
