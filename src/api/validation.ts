// SPDX-License-Identifier: GPL-2.0-or-later
// Request validation with TypeBox: the route schemas the OpenAPI document shows are the ones checked.

import { isIP } from 'node:net';
import { Kind, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { FormatRegistry } from '@sinclair/typebox/type';
import { Value } from '@sinclair/typebox/value';
import type { FastifySchemaCompiler } from 'fastify';
import { SwitchboardError } from '../core/errors.ts';
import { type FieldError, schemaErrors } from '../core/schema.ts';

/**
 * The string formats route schemas may use. TypeBox knows none by itself (ajv, which fastify
 * would otherwise use, brings them in ajv-formats); these are the ones an API needs.
 */
const FORMATS: Record<string, (value: string) => boolean> = {
  'date-time': (v) =>
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i.test(v) &&
    !Number.isNaN(Date.parse(v)),
  date: (v) => /^\d{4}-\d\d-\d\d$/.test(v) && !Number.isNaN(Date.parse(v)),
  time: (v) => /^\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?$/i.test(v),
  ipv4: (v) => isIP(v) === 4,
  ipv6: (v) => isIP(v) === 6,
  uuid: (v) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v),
  hostname: (v) =>
    v.length <= 253 && /^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/i.test(v),
  uri: (v) => URL.canParse(v),
};
for (const [name, check] of Object.entries(FORMATS))
  if (!FormatRegistry.Has(name)) FormatRegistry.Set(name, check);

/** Where a request part sits in a field path: `body.password`, `query.limit`, `params.name`. */
const PART_NAMES: Record<string, string> = {
  body: 'body',
  querystring: 'query',
  params: 'params',
  headers: 'headers',
};

/** `password` under `body` -> `body.password`; a refused part as a whole is just `body`. */
function prefixed(part: string, errors: FieldError[]): FieldError[] {
  return errors.map((e) => ({
    path:
      e.path === '(top level)'
        ? part
        : e.path.startsWith('[')
          ? part + e.path
          : `${part}.${e.path}`,
    message: e.message,
  }));
}

/**
 * fastify's validator compiler, TypeBox instead of ajv: errors come from `schemaErrors()` in the
 * same installer words as configuration errors, one per field. The query string and path
 * parameters arrive as text and are converted to the schema's numbers and booleans first; a
 * JSON body is taken as sent (no coercion, so `"5"` is not a number). Defaults are filled in.
 * A schema that is not TypeBox (it has no Kind) is refused when the route is compiled: every
 * API schema is written in TypeBox, which also types the handlers.
 */
/**
 * Marks a body schema that the handler checks itself (a body that may also arrive as YAML):
 * the OpenAPI document still shows it, the request validator lets it through.
 */
export function checkedByHandler<T extends TSchema>(schema: T): T {
  return { ...schema, 'x-checked-by': 'handler' };
}

export const typeboxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({
  schema,
  method,
  url,
  httpPart,
}) => {
  if (schema['x-checked-by'] === 'handler') return (data: unknown) => ({ value: data });
  if (!(Kind in schema))
    throw new SwitchboardError(
      'E_INTERNAL',
      `${method} ${url}: the ${httpPart ?? 'request'} schema is not a TypeBox schema`,
    );
  const check = TypeCompiler.Compile(schema);
  const part = PART_NAMES[httpPart ?? 'body'] ?? httpPart ?? 'body';
  const convert = httpPart === 'querystring' || httpPart === 'params' || httpPart === 'headers';
  return (data: unknown) => {
    let value = data;
    if (convert) value = Value.Default(schema, Value.Convert(schema, Value.Clone(value ?? {})));
    else if (value !== null && value !== undefined) value = Value.Default(schema, value);
    if (check.Check(value)) return { value };
    const details = prefixed(part, schemaErrors(schema, value));
    const message = details.map((d) => `${d.path}: ${d.message}`).join('; ');
    return { error: new SwitchboardError('E_REQUEST_FIELD', message, { details }) };
  };
};
