// SPDX-License-Identifier: GPL-2.0-or-later
// Runs every test/**/*.test.ts with node:test through tsx (Node 20's --test takes no globs),
// except test/image/: the firmware image tests boot qemu for many minutes (`npm run test:image`).

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const files = readdirSync(join(root, 'test'), { recursive: true })
  .map(String)
  .filter(
    (f) =>
      f.endsWith('.test.ts') && !f.split('/').includes('node_modules') && !f.startsWith('image/'),
  )
  .sort()
  .map((f) => join('test', f));

if (files.length === 0) {
  console.error('run-tests: no test/**/*.test.ts found');
  process.exit(1);
}
// One file at a time: tests start simulators and child processes; two cores are not many.
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
