// SPDX-License-Identifier: GPL-2.0-or-later
// Writes docs/mqtt-schemas/*.json from the TypeBox schemas (test/mqtt-schemas.test.ts checks they are current).

import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemaFiles } from '../src/mqtt/docs.ts';
import { repoRoot } from '../src/runtime/paths.ts';

const dir = join(repoRoot, 'docs', 'mqtt-schemas');
mkdirSync(dir, { recursive: true });
const files = schemaFiles();
for (const old of readdirSync(dir)) if (!files.has(old)) rmSync(join(dir, old));
for (const [file, text] of files) writeFileSync(join(dir, file), text);
console.log(`wrote ${files.size} schemas to ${dir}`);
