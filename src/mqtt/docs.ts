// SPDX-License-Identifier: GPL-2.0-or-later
// docs/mqtt-schemas/*.json from the TypeBox schemas: one JSON Schema per MQTT payload (scripts/mqtt-schemas.ts writes them).

import type { TSchema } from '@sinclair/typebox';
import { COMMANDS, requestSchema } from './commands.ts';
import { PUBLISHED_PAYLOADS, type TopicDoc } from './schemas.ts';

/** Every documented payload: what the bridge publishes, then one request per command. */
export function topicDocs(): TopicDoc[] {
  return [
    ...PUBLISHED_PAYLOADS,
    ...Object.keys(COMMANDS).map((command) => ({
      file: `request-${command}.json`,
      topic: `bridge/request/${command}`,
      schema: requestSchema(command),
    })),
  ];
}

/** Keywords of ours that are not JSON Schema (`mustBe` words error messages). */
const OWN_KEYWORDS = new Set(['mustBe']);

function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  // Object.entries leaves out TypeBox's symbol keys ([Kind], [OptionalKind]).
  for (const [k, v] of Object.entries(value)) if (!OWN_KEYWORDS.has(k)) out[k] = plain(v);
  return out;
}

/** One payload's JSON Schema document, as written to docs/mqtt-schemas/<file>. */
export function schemaDocument(doc: TopicDoc): string {
  const {
    $id: _id,
    description,
    ...rest
  } = plain(doc.schema as TSchema) as Record<string, unknown>;
  const out = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: `https://switchboard.invalid/mqtt-schemas/${doc.file}`,
    title: `<base>/<node>/${doc.topic}`,
    ...(description === undefined ? {} : { description }),
    ...rest,
  };
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** Every file of docs/mqtt-schemas/ with its text. */
export function schemaFiles(): Map<string, string> {
  return new Map(topicDocs().map((d) => [d.file, schemaDocument(d)]));
}
