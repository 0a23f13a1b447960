// SPDX-License-Identifier: GPL-2.0-or-later
// Dialplan patterns: what they match, and which prefixes could still grow into a match (overlap dialling).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePattern } from '../src/routing/pattern.ts';

describe('patterns', () => {
  it('match literals, classes, sets and tails', () => {
    const p = (s: string) => compilePattern(s);
    assert.equal(p('95588').test('95588'), true);
    assert.equal(p('95588').test('955880'), false);
    assert.equal(p('_010XXXXXXXX').test('01062345678'), true);
    assert.equal(p('_1[3-9]X.').test('13800138000'), true);
    assert.equal(p('_1[3-9]X.').test('12800138000'), false);
    assert.equal(p('_1[3-9]X.').test('138'), false, '. needs one more character');
    assert.equal(p('_1[3-9]X!').test('138'), true, '! takes zero more');
    assert.equal(p('_*9X').test('*91'), true);
    assert.equal(p('_+86Z.').test('+8610'), true);
  });

  it('canExtend: a proper prefix of something the pattern matches', () => {
    const ext = (s: string, n: string) => compilePattern(s).canExtend(n);
    assert.equal(ext('95588', ''), true);
    assert.equal(ext('95588', '955'), true);
    assert.equal(ext('95588', '95588'), false, 'complete: nothing may follow');
    assert.equal(ext('95588', '956'), false);
    assert.equal(ext('_2XX', '2'), true);
    assert.equal(ext('_2XX', '20'), true);
    assert.equal(ext('_2XX', '201'), false);
    assert.equal(ext('_2XX', '3'), false);
    assert.equal(ext('_9.', '9'), true);
    assert.equal(ext('_9.', '9123456'), true);
    assert.equal(ext('_9.', '8'), false);
    assert.equal(ext('_1[3-9]X!', '13'), true);
    assert.equal(ext('_1[3-9]X!', '12'), false);
    assert.equal(ext('_*9X', '*'), true);
  });
});
