// SPDX-License-Identifier: GPL-2.0-or-later
// docs/mqtt-schemas/*.json are what the code's TypeBox schemas say (regenerate with scripts/mqtt-schemas.ts).

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { schemaFiles } from '../src/mqtt/docs.ts';
import { repoRoot } from '../src/runtime/paths.ts';

const DIR = join(repoRoot, 'docs', 'mqtt-schemas');

describe('mqtt payload schemas in docs/', () => {
  it('has one committed file per payload, each as the code generates it', () => {
    const files = schemaFiles();
    assert.deepEqual(readdirSync(DIR).sort(), [...files.keys()].sort());
    for (const [file, text] of files)
      assert.equal(
        readFileSync(join(DIR, file), 'utf8'),
        text,
        `docs/mqtt-schemas/${file} is stale: run node --import tsx scripts/mqtt-schemas.ts`,
      );
  });

  it('documents every topic in docs/mqtt.md, each with its schema file', () => {
    const doc = readFileSync(join(repoRoot, 'docs', 'mqtt.md'), 'utf8');
    for (const file of schemaFiles().keys())
      assert.ok(doc.includes(`mqtt-schemas/${file}`), `docs/mqtt.md does not link ${file}`);
  });

  it('writes JSON Schema without our own keywords or TypeBox internals', () => {
    for (const [file, text] of schemaFiles()) {
      const schema = JSON.parse(text);
      assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#', file);
      assert.equal(schema.type, 'object', file);
      assert.doesNotMatch(text, /"mustBe"/, file);
    }
  });
});
