// SPDX-License-Identifier: GPL-2.0-or-later
// The MFC-R2 bound of `switchboard bench calls`: compelled cycles and ABCD changes read from openr2's trace of one call.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { r2TraceCounts } from '../bench/calls.ts';

/** openr2's mf and cas trace of one call's timeslot, as the calling side logs it, 20 ms apart. */
function trace(messages: string[]): { message: string; time: number }[] {
  return messages.map((message, i) => ({ message, time: 1000 + 20 * i }));
}

describe('bench calls: the MFC-R2 trace', () => {
  it('counts one compelled cycle per forward tone sent and every named ABCD change from the seizure on', () => {
    const lines = trace([
      // The line's idle state at start-up is not part of the call.
      'CAS Tx >> [IDLE] 0x08',
      'CAS Rx << [IDLE] 0x08',
      'CAS Tx >> [SEIZE] 0x00',
      'CAS Raw Tx >> 0x01',
      'CAS Rx << [SEIZE ACK] 0x0C',
      'MF Tx >> 6 [ON]',
      'MF Rx << 1 [ON]',
      'MF Tx >> 6 [OFF]',
      'MF Rx << 1 [OFF]',
      'MF Tx >> 2 [ON]',
      'MF Rx << 3 [ON]',
      'MF Tx >> 2 [OFF]',
      'MF Rx << 3 [OFF]',
      'CAS Rx << [ANSWER] 0x04',
      'CAS Tx >> [CLEAR FORWARD] 0x08',
      'CAS Raw Tx >> 0x0B',
      'CAS Rx << [IDLE] 0x08',
      'CAS Tx >> [IDLE] 0x08',
    ]);
    const counts = r2TraceCounts(lines);
    assert.deepEqual([counts.mfCycles, counts.casChanges], [2, 6]);
    // First forward tone on (line 5) to the last backward tone off (line 12): 7 gaps of 20 ms, 2 cycles.
    assert.equal(counts.tracedCycleMs, 70);
  });

  it('a trace without MF signals has no cycles and no cycle time', () => {
    const counts = r2TraceCounts(trace(['CAS Tx >> [SEIZE] 0x00', 'CAS Rx << [SEIZE ACK] 0x0C']));
    assert.deepEqual([counts.mfCycles, counts.casChanges], [0, 2]);
    assert.ok(Number.isNaN(counts.tracedCycleMs));
  });
});
