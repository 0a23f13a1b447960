// SPDX-License-Identifier: GPL-2.0-or-later
// Asserts that a promise fails with a SwitchboardError of a given code and field.

import assert from 'node:assert/strict';
import { isSwitchboardError, type SwitchboardError } from '../../src/core/errors.ts';

/** Resolves with the error when `p` rejects with `code` (and details.field `field`, if given). */
export async function refused(
  p: Promise<unknown>,
  code: string,
  field?: string,
): Promise<SwitchboardError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isSwitchboardError(err), `not a SwitchboardError: ${err}`);
    assert.equal(err.code, code, err.message);
    if (field) assert.equal((err.details as { field?: string }).field, field, err.message);
    return err;
  }
  assert.fail(`expected ${code}`);
}
