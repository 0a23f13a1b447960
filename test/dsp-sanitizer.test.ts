// SPDX-License-Identifier: GPL-2.0-or-later
// The addon's AddressSanitizer/UBSan build (build/asan) running the DSP: DTMF, progress tones, fax, AMD, generators.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { repoRoot } from '../src/runtime/paths.ts';

const asanAddon = `${repoRoot}build/asan/switchboard.node`;
// Node itself is not sanitized: the ASan runtime is preloaded.
const asanRuntime = spawnSync('g++', ['-print-file-name=libasan.so'], {
  encoding: 'utf8',
}).stdout.trim();

test('the DSP under AddressSanitizer and UBSan', () => {
  if (!existsSync(asanAddon)) {
    const built = spawnSync('bash', [`${repoRoot}scripts/build-addon-asan.sh`], {
      encoding: 'utf8',
    });
    assert.equal(built.status, 0, built.stderr);
  }
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', `${repoRoot}test/fixtures/dsp-workout.ts`],
    {
      cwd: repoRoot,
      encoding: 'utf8',
      env: {
        ...process.env,
        LD_PRELOAD: asanRuntime,
        SWITCHBOARD_ADDON: asanAddon,
        // Leaks stay unchecked: Node's own allocations at exit are not ours. Any other report
        // aborts the child, and the test sees it die.
        ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1',
        UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
      },
    },
  );
  assert.equal(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}');
  assert.deepEqual(result.heard, [
    'dtmfStart:1',
    'dtmf:1',
    'dtmfStart:5',
    'dtmf:5',
    'dtmfStart:9',
    'dtmf:9',
    'dtmfStart:#',
    'dtmf:#',
    'tone:busy',
    'amd:machine',
    'toneEnd:busy',
    'tone:sit',
  ]);
  assert.ok(result.tones > 300);
  assert.equal(result.refused, 5);
  assert.equal(result.reference, '42');
  assert.equal(result.mixed, true);
});
