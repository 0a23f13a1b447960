// SPDX-License-Identifier: GPL-2.0-or-later
// Errors as the API answers them: {error: code, message, details?} with an HTTP status by code.

import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchemaCompiler,
  FastifySchemaValidationError,
} from 'fastify';
import { type ErrorCode, isSwitchboardError, SwitchboardError } from '../core/errors.ts';
import { type FieldError, fieldPath, schemaErrors } from '../core/schema.ts';

/** The body of every error answer. */
export interface ApiError {
  /** A stable code from ERROR_CODES (src/core/errors.ts). */
  error: ErrorCode;
  message: string;
  /** For field errors: every refused field (ApiFieldError[]). */
  details?: unknown;
}

/** A refused request field; `in` says which part of the request it is in. */
export interface ApiFieldError extends FieldError {
  in?: 'body' | 'querystring' | 'params' | 'headers';
}

/** Codes whose status the suffix rules below do not give. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  E_USAGE: 400,
  E_CONFIG_FILE: 400,
  E_REQUEST: 400,
  E_PROMPT_FORMAT: 400,
  E_PROMPT_TOO_LONG: 400,
  E_PROMPT_NAME: 400,
  E_TTS_VOICE: 400,
  E_SAY_LANG: 400,
  E_PROMPT_MISSING: 404,
  E_CONFIG_CONFLICT: 409,
  E_ENGINE_RUNNING: 409,
  E_ENGINE_STOPPED: 409,
  E_CALL_STATE: 409,
  E_CHANNEL_BUSY: 409,
  E_SIM_RUNNING: 409,
};

/**
 * The HTTP status of an error code: 400 for wrong input (`*_FIELD`, `*_INPUT`, unreadable files
 * and requests), 404 for what does not exist (`*_UNKNOWN`), 409 when the state refuses the
 * request (a stale revision, a busy channel), 500 for failures inside (store, engine, DAHDI).
 */
export function httpStatus(code: ErrorCode): number {
  const known = STATUS[code];
  if (known !== undefined) return known;
  if (/_(FIELD|INPUT)$/.test(code)) return 400;
  if (/_UNKNOWN$/.test(code)) return 404;
  return 500;
}

function fieldError(message: string, details: ApiFieldError[]): SwitchboardError {
  const first = details[0] as ApiFieldError;
  const where = first.in === 'body' || first.in === undefined ? '' : ` (${first.in})`;
  const more = details.length > 1 ? ` (and ${details.length - 1} more)` : '';
  return new SwitchboardError('E_REQUEST_FIELD', `${first.path}${where}: ${message}${more}`, {
    details,
  });
}

/** Fastify's own (Ajv) validation errors, named like ours: `limit (querystring): must be <= 1000`. */
function ajvFieldErrors(
  validation: FastifySchemaValidationError[],
  part: ApiFieldError['in'],
): ApiFieldError[] {
  return validation.map((v) => {
    let path = v.instancePath ? fieldPath(v.instancePath) : '';
    const extra = v.params.missingProperty ?? v.params.additionalProperty;
    if (typeof extra === 'string') path = path === '' ? extra : `${path}.${extra}`;
    const message =
      v.keyword === 'required'
        ? 'is required'
        : v.keyword === 'additionalProperties'
          ? 'is not a known field'
          : (v.message ?? 'has a wrong value');
    return { path: path === '' ? '(top level)' : path, message, in: part };
  });
}

/** The status and body an error is answered with. */
export function apiError(err: unknown): { status: number; body: ApiError } {
  if (isSwitchboardError(err)) {
    // A thrower may fix the status (statusCode on the error), e.g. an auth plugin's 401/403.
    const fixed = (err as { statusCode?: unknown }).statusCode;
    const status =
      typeof fixed === 'number' && fixed >= 400 && fixed < 600 ? fixed : httpStatus(err.code);
    const body: ApiError = { error: err.code, message: err.message };
    if (err.details !== undefined) body.details = err.details;
    return { status, body };
  }
  const fe = err as Partial<FastifyError> & {
    validation?: FastifySchemaValidationError[];
    validationContext?: ApiFieldError['in'];
  };
  if (Array.isArray(fe.validation) && fe.validation.length > 0) {
    const details = ajvFieldErrors(fe.validation, fe.validationContext);
    const e = fieldError((details[0] as ApiFieldError).message, details);
    return { status: 400, body: { error: e.code, message: e.message, details } };
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500)
    return {
      status,
      body: {
        error: 'E_REQUEST',
        message: fe.message ?? 'the request cannot be read',
        ...(fe.code ? { details: { code: fe.code } } : {}),
      },
    };
  return {
    status: 500,
    body: { error: 'E_INTERNAL', message: 'internal error: the controller log has the details' },
  };
}

/** Fastify error handler: logs failures inside at error level, refused requests at info. */
export function apiErrorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = apiError(err);
  if (status >= 500) req.log.error({ err }, body.message);
  else req.log.info({ code: body.error }, body.message);
  void reply.code(status).send(body);
}

/**
 * Marks a body schema as checked by the route handler itself (a whole configuration goes
 * through validateConfig, whose cross-checks the schema cannot express): the schema still
 * documents the body in OpenAPI, but the validator compiler lets it through.
 */
export function checkedByHandler<T extends TSchema>(schema: T): T {
  return { ...schema, 'x-checked-by': 'handler' };
}

/**
 * A validator compiler for TypeBox route schemas. Unlike fastify's default Ajv set-up it refuses
 * unknown fields instead of silently removing them, reports every field with our messages
 * (schemaErrors), converts query-string and path values to the schema's types, and fills in
 * schema defaults. A refused request becomes E_REQUEST_FIELD (400) naming each field.
 */
export const typeboxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  if (schema['x-checked-by'] === 'handler') return () => true;
  const part = (httpPart ?? 'body') as ApiFieldError['in'];
  const convert = part !== 'body';
  return (data: unknown) => {
    let value: unknown = data === null ? undefined : Value.Clone(data);
    if (convert) value = Value.Convert(schema, value);
    value = Value.Default(schema, value);
    const errors = schemaErrors(schema, value);
    if (errors.length === 0) return { value };
    const details: ApiFieldError[] = errors.map((e) => ({ ...e, in: part }));
    return { error: fieldError((details[0] as ApiFieldError).message, details) };
  };
};

/**
 * Makes a plugin's routes answer errors the API way and validate with TypeBox. Call it at the
 * top of a plugin (it is encapsulated: it applies to the routes that plugin registers).
 */
export function useApiErrors(app: FastifyInstance): void {
  app.setErrorHandler(apiErrorHandler);
  app.setValidatorCompiler(typeboxValidatorCompiler);
}
