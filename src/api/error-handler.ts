// SPDX-License-Identifier: GPL-2.0-or-later
// Every API failure as one JSON shape, {error: code, message, details?}, with the HTTP status its code implies.

import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, isSwitchboardError } from '../core/errors.ts';
import { typeboxValidatorCompiler } from './validation.ts';

/** The body of every error reply (also the `4xx`/`5xx` response schema in the OpenAPI document). */
export const ErrorReply = Type.Object(
  {
    error: Type.String({ description: 'stable error code, for example E_REQUEST_FIELD' }),
    message: Type.String({ description: 'what went wrong, for people' }),
    details: Type.Optional(
      Type.Unknown({ description: 'machine-readable detail, for example every refused field' }),
    ),
  },
  { title: 'Error' },
);

/**
 * The HTTP status of each error code. A Record over every code, so that a new code does not
 * compile until someone decides what an API client sees for it.
 */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  E_USAGE: 400,
  E_CONFIG_FILE: 400,
  E_CONFIG_FIELD: 400,
  E_SIM_NOT_BUILT: 503,
  E_SIM_NOT_RUNNING: 503,
  E_SIM_RUNNING: 409,
  E_SIM_START: 503,
  E_SIM_TIMEOUT: 504,
  E_SIM_PROTOCOL: 502,
  E_SIM_SPAN: 404,
  E_SIM: 409,
  E_DAHDI_CFG: 500,
  E_DAHDI_OPEN: 500,
  E_DAHDI_IOCTL: 500,
  E_ADDON_LOAD: 503,
  E_ENGINE: 500,
  E_ENGINE_RUNNING: 409,
  E_ENGINE_STOPPED: 409,
  E_COMMAND_FIELD: 400,
  E_CALL_UNKNOWN: 404,
  E_TRUNK_UNKNOWN: 404,
  E_CHANNEL_UNKNOWN: 404,
  E_CHANNEL_BUSY: 409,
  E_CALL_STATE: 409,
  E_TRACE: 409,
  E_RECORD_FILE: 500,
  E_BENCH_UNKNOWN: 404,
  E_BENCH_INVALID: 500,
  E_COMMAND: 500,
  E_PROMPT_MISSING: 404,
  E_PROMPT_FORMAT: 400,
  E_PROMPT_TOO_LONG: 400,
  E_PROMPT_NAME: 400,
  E_PROMPT_IO: 500,
  E_TTS_INPUT: 400,
  E_TTS_VOICE: 400,
  E_TTS: 500,
  E_SAY_INPUT: 400,
  E_SAY_LANG: 400,
  E_STORE: 500,
  E_AUTH_REQUIRED: 401,
  E_FORBIDDEN: 403,
  E_CSRF: 403,
  E_LOGIN_FAILED: 401,
  E_RATE_LIMITED: 429,
  E_SETUP_DONE: 409,
  E_PASSWORD_WEAK: 400,
  E_PASSWORD_WRONG: 403,
  E_USER_UNKNOWN: 404,
  E_USER_EXISTS: 409,
  E_LAST_ADMIN: 409,
  E_TOKEN_UNKNOWN: 404,
  E_REQUEST_FIELD: 400,
  E_REQUEST: 400,
  E_NOT_FOUND: 404,
  E_INTERNAL: 500,
  E_REVISION_UNKNOWN: 404,
  E_CONFIG_CONFLICT: 409,
  E_CDR_UNKNOWN: 404,
  E_CDR_FIELD: 400,
  E_FLOW_INVALID: 400,
  E_AGENT_UNKNOWN: 404,
  E_AGENT_STATE: 409,
  E_FLOW_UNKNOWN: 404,
  E_FLOW_CONFLICT: 409,
  E_FLOW_LOG_UNKNOWN: 404,
  E_CAMPAIGN_FIELD: 400,
  E_CAMPAIGN_UNKNOWN: 404,
  E_CAMPAIGN_EXISTS: 409,
  E_CAMPAIGN_STATE: 409,
  E_CONTACTS_FORMAT: 400,
  E_CONTACTS_MAPPING: 400,
  E_CONTACTS_LIMIT: 413,
  E_CARRIER_LOG: 500,
  E_BOARD_FRAME: 500,
  E_BOARD_SERIAL: 503,
  E_RELEASE_FILE: 500,
  E_FIRMWARE_UNSIGNED: 400,
  E_FIRMWARE_SIGNATURE: 400,
  E_FIRMWARE_MODEL: 400,
  E_FIRMWARE_DOWNGRADE: 409,
  E_FIRMWARE_SAME_VERSION: 409,
  E_FIRMWARE_BUNDLE: 400,
  E_FIRMWARE_TOO_LARGE: 413,
  E_FIRMWARE_BUSY: 409,
  E_FIRMWARE_INSTALL: 500,
  E_FIRMWARE_UPLOAD: 400,
  E_FIRMWARE_STORAGE: 507,
  E_FIRMWARE_TOOL: 503,
  E_FIRMWARE_KEYRING: 500,
  E_FIRMWARE_UNHEALTHY: 503,
  E_ORIGIN_REFUSED: 403,
  E_WEB_NOT_BUILT: 503,
  E_BACKUP_INVALID: 400,
  E_RESTORE_NONE: 404,
  E_MQTT: 503,
  E_MQTT_COMMAND_UNKNOWN: 404,
  E_SD_NOTIFY: 500,
};

interface ErrorBody {
  error: ErrorCode;
  message: string;
  details?: unknown;
}

function body(error: ErrorCode, message: string, details?: unknown): ErrorBody {
  return details === undefined ? { error, message } : { error, message, details };
}

/**
 * fastify's error handler. A SwitchboardError keeps its code and details; fastify's own client
 * errors (bad JSON, wrong content type, body too large) become E_REQUEST with their status;
 * anything else is a bug: logged with its stack, answered 500 E_INTERNAL without internals.
 */
export function apiErrorHandler(
  err: FastifyError | Error,
  req: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (isSwitchboardError(err)) {
    const status = HTTP_STATUS[err.code];
    if (status >= 500) req.log.error({ err }, err.message);
    return reply.code(status).send(body(err.code, err.message, err.details));
  }
  const status = (err as FastifyError).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return reply.code(status).send(body('E_REQUEST', err.message));
  }
  req.log.error({ err }, 'API request failed');
  return reply
    .code(500)
    .send(
      body('E_INTERNAL', `internal error; the controller log has it under request id ${req.id}`),
    );
}

/** fastify's not-found handler: unknown routes answer in the same shape. */
export function apiNotFoundHandler(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply
    .code(404)
    .send(body('E_NOT_FOUND', `no API route ${req.method} ${req.url.split('?')[0]}`));
}

/**
 * One way every fastify instance of ours answers failures: TypeBox validation naming each field,
 * the JSON error shape and the not-found answer. buildApi uses it; plugin tests on a bare
 * fastify call it too.
 */
export function useApiErrors(app: FastifyInstance): void {
  app.setValidatorCompiler(typeboxValidatorCompiler);
  app.setErrorHandler(apiErrorHandler);
  app.setNotFoundHandler(apiNotFoundHandler);
}
