// SPDX-License-Identifier: GPL-2.0-or-later
// The Q.850 cause table agrees with the engine's, and causes map to CDR dispositions.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  CAUSES,
  causeName,
  causeValue,
  dispositionOf,
  placeErrorCause,
} from '../src/calls/cause.ts';
import { repoRoot } from '../src/runtime/paths.ts';

describe('causes', () => {
  it('names every cause exactly as the engine does (native/src/calls.cc)', () => {
    const source = readFileSync(join(repoRoot, 'native/src/calls.cc'), 'utf8');
    const native = [...source.matchAll(/\{(\d+), "([A-Z_0-9]+)"\}/g)].map(
      (m) => [Number(m[1]), m[2]] as const,
    );
    assert.ok(native.length > 40, 'the native table was found');
    assert.deepEqual(
      native,
      Object.entries(CAUSES).map(([name, n]) => [n, name]),
    );
  });

  it('names and values both ways; CAUSE_<n> for a value without a name', () => {
    assert.equal(causeName(16), 'NORMAL_CLEARING');
    assert.equal(causeName(5), 'CAUSE_5');
    assert.equal(causeValue('USER_BUSY'), 17);
    assert.equal(causeValue('CAUSE_5'), 5);
    assert.equal(causeValue('CAUSE_200'), undefined);
    assert.equal(causeValue('BUSY'), undefined);
  });

  it('maps unanswered causes to dispositions', () => {
    assert.equal(dispositionOf(17), 'busy');
    assert.equal(dispositionOf(18), 'no_answer');
    assert.equal(dispositionOf(19), 'no_answer');
    assert.equal(dispositionOf(21), 'rejected');
    assert.equal(dispositionOf(34), 'congestion');
    assert.equal(dispositionOf(102), 'congestion');
    assert.equal(dispositionOf(1), 'failed');
    assert.equal(dispositionOf(28), 'failed');
  });

  it('a refused place stands for congestion when the channel is busy', () => {
    assert.equal(placeErrorCause('E_CHANNEL_BUSY'), 34);
    assert.equal(placeErrorCause('E_TRUNK_UNKNOWN'), 47);
    assert.equal(placeErrorCause(undefined), 41);
  });
});
