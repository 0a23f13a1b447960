// SPDX-License-Identifier: GPL-2.0-or-later
// The commands a NOC may send over MQTT (bridge/request/<command>): an allow-list, each with its arguments and role.

import { type TObject, type TProperties, Type } from '@sinclair/typebox';
import type { AuditEntry, TokenIdentity } from '../api/auth.ts';
import { HTTP_STATUS } from '../api/error-handler.ts';
import { type Role, roleAtLeast } from '../api/types.ts';
import { isSwitchboardError, SwitchboardError } from '../core/errors.ts';
import { schemaErrors } from '../core/schema.ts';
import type { CommandResponse } from './schemas.ts';
import { Transaction } from './schemas.ts';

/** What the commands act on (the controller gives the real switch; tests a fake). */
export interface CommandPort {
  /** The box at a glance: spans, calls up, campaigns, the outbox. */
  status(): unknown;
  /** Blocks or unblocks a channel, a CIC range or the whole trunk (engine command). */
  maintenance(
    op: 'block' | 'unblock',
    args: { trunk: string; channel?: number; cic?: number; lastCic?: number },
  ): void;
  campaign(name: string, command: 'pause' | 'resume'): void;
  traceStart(span: number, maxBytes?: number): void;
  traceStop(span: number): unknown;
}

const Trunk = Type.String({ minLength: 1, maxLength: 40, description: 'the trunk name' });
const Maintenance = {
  trunk: Trunk,
  channel: Type.Optional(
    Type.Integer({ minimum: 1, description: 'timeslot or port; default the whole trunk' }),
  ),
  cic: Type.Optional(Type.Integer({ minimum: 0, maximum: 16383, description: 'SS7: the circuit' })),
  lastCic: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 16383,
      description: 'SS7: a CIC range cic..lastCic (CGB/CGU)',
    }),
  ),
};
const Campaign = { campaign: Type.String({ minLength: 1, maxLength: 64 }) };
const Span = { span: Type.Integer({ minimum: 1, maximum: 127 }) };

interface CommandDef {
  summary: string;
  /** The weakest role whose token may run it (the same as the HTTP route's). */
  role: Role;
  args: TProperties;
  /** Changes nothing: not audited. */
  readOnly?: boolean;
  run(port: CommandPort, args: Record<string, unknown>): unknown;
}

function maintenance(op: 'block' | 'unblock') {
  return (port: CommandPort, a: Record<string, unknown>) => {
    port.maintenance(op, a as Parameters<CommandPort['maintenance']>[1]);
    return { trunk: a.trunk, op };
  };
}

/** The allow-list. Anything else is answered E_MQTT_COMMAND_UNKNOWN. */
export const COMMANDS: Readonly<Record<string, CommandDef>> = {
  status: {
    summary: 'the box at a glance: spans, calls up, campaigns, the outbox',
    role: 'operator',
    args: {},
    readOnly: true,
    run: (port) => port.status(),
  },
  block: {
    summary: 'block a channel, a CIC range or a whole trunk (as POST /api/trunks/NAME/block)',
    role: 'operator',
    args: Maintenance,
    run: maintenance('block'),
  },
  unblock: {
    summary: 'unblock a channel, a CIC range or a whole trunk',
    role: 'operator',
    args: Maintenance,
    run: maintenance('unblock'),
  },
  campaign_pause: {
    summary: 'pause a running campaign (calls up finish)',
    role: 'operator',
    args: Campaign,
    run: (port, a) => {
      port.campaign(a.campaign as string, 'pause');
      return { campaign: a.campaign, state: 'paused' };
    },
  },
  campaign_resume: {
    summary: 'resume a paused campaign',
    role: 'operator',
    args: Campaign,
    run: (port, a) => {
      port.campaign(a.campaign as string, 'resume');
      return { campaign: a.campaign, state: 'running' };
    },
  },
  trace_start: {
    summary:
      "start capturing a span's D-channel or MTP2 frames (download the pcap from GET /api/spans/N/trace.pcap)",
    role: 'installer',
    args: {
      ...Span,
      maxBytes: Type.Optional(
        Type.Integer({ minimum: 4096, maximum: 256 * 1024 * 1024, description: 'default 64 MiB' }),
      ),
    },
    run: (port, a) => {
      port.traceStart(a.span as number, a.maxBytes as number | undefined);
      return { span: a.span, running: true };
    },
  },
  trace_stop: {
    summary: 'stop a capture (it stays readable)',
    role: 'installer',
    args: Span,
    run: (port, a) => port.traceStop(a.span as number),
  },
};

/** Fields every request may carry besides the command's own. */
const Common = {
  transaction: Type.Optional(Transaction),
  token: Type.Optional(
    Type.String({
      maxLength: 64,
      description:
        'an API token of the box (operator or above; installer for traces); or the MQTT 5 user property "token" or "authorization: Bearer <token>"',
    }),
  ),
};

/** The request payload of a command, as a schema (the docs are generated from it). */
export function requestSchema(command: string): TObject {
  const def = COMMANDS[command];
  if (def === undefined) throw new RangeError(`no command ${command}`);
  return Type.Object(
    { ...Common, ...def.args },
    {
      $id: `Request_${command}`,
      additionalProperties: false,
      description: `${def.summary}. Role: ${def.role}.`,
    },
  );
}

const SCHEMAS = new Map(Object.keys(COMMANDS).map((c) => [c, requestSchema(c)]));

export interface RequestContext {
  /** The full request topic (for the audit log). */
  topic: string;
  /** MQTT 5 user properties of the request. */
  userProperties?: Record<string, string | string[]>;
  checkToken: (token: string) => TokenIdentity | undefined;
  port: CommandPort;
  /** Records what an authenticated request did (as the HTTP API records changes). */
  audit?: (entry: AuditEntry) => void;
  /** Told about failures that are bugs (not the requester's fault). */
  onInternalError?: (err: unknown) => void;
}

function firstProperty(props: RequestContext['userProperties'], name: string): string | undefined {
  if (props === undefined) return undefined;
  for (const [k, v] of Object.entries(props))
    if (k.toLowerCase() === name) return Array.isArray(v) ? v[0] : v;
  return undefined;
}

/** The token of a request: the payload's `token`, else a user property. */
function requestToken(
  payload: Record<string, unknown>,
  props: RequestContext['userProperties'],
): string | undefined {
  if (typeof payload.token === 'string') return payload.token;
  const prop = firstProperty(props, 'token');
  if (prop !== undefined) return prop;
  const auth = firstProperty(props, 'authorization');
  const bearer = auth === undefined ? null : /^Bearer +(\S+)$/i.exec(auth);
  return bearer?.[1];
}

function transactionOf(payload: unknown): CommandResponse['transaction'] {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return null;
  const t = (payload as Record<string, unknown>).transaction;
  if (typeof t === 'string' && t.length <= 128) return t;
  if (typeof t === 'number' && Number.isFinite(t)) return t;
  return null;
}

function fail(transaction: CommandResponse['transaction'], err: SwitchboardError): CommandResponse {
  return {
    status: 'error',
    data: null,
    error: {
      code: err.code,
      message: err.message,
      ...(err.details === undefined ? {} : { details: err.details }),
    },
    transaction,
  };
}

/**
 * Runs one request: parses the payload (a JSON object; empty counts as `{}`), finds the command
 * in the allow-list, checks the API token (payload `token`, or MQTT 5 user property `token` or
 * `authorization: Bearer ...`) and its role, validates the arguments, runs it and answers
 * `{status, data, error, transaction}`. Never throws: every failure is an error response with a
 * stable code (E_REQUEST, E_MQTT_COMMAND_UNKNOWN, E_AUTH_REQUIRED, E_FORBIDDEN,
 * E_REQUEST_FIELD, or the code the switch raised). Requests from a valid token that change
 * something are audited (method MQTT, url the topic), refused ones included.
 */
export function runRequest(command: string, raw: Buffer, ctx: RequestContext): CommandResponse {
  let payload: unknown;
  const text = raw.toString('utf8').trim();
  try {
    payload = text === '' ? {} : JSON.parse(text);
  } catch {
    return fail(
      null,
      new SwitchboardError('E_REQUEST', 'the request payload is not JSON: send a JSON object'),
    );
  }
  const transaction = transactionOf(payload);
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload))
    return fail(
      transaction,
      new SwitchboardError('E_REQUEST', 'the request payload must be a JSON object'),
    );
  const body = payload as Record<string, unknown>;
  const def = COMMANDS[command];
  if (def === undefined)
    return fail(
      transaction,
      new SwitchboardError(
        'E_MQTT_COMMAND_UNKNOWN',
        `no command "${command}": the commands are ${Object.keys(COMMANDS).join(', ')}`,
      ),
    );
  const token = requestToken(body, ctx.userProperties);
  if (token === undefined)
    return fail(
      transaction,
      new SwitchboardError(
        'E_AUTH_REQUIRED',
        'the request carries no API token: put one in "token" (or the MQTT 5 user property "token")',
      ),
    );
  const who = ctx.checkToken(token);
  if (who === undefined)
    return fail(
      transaction,
      new SwitchboardError(
        'E_AUTH_REQUIRED',
        'the API token is unknown, revoked, or its account is disabled',
      ),
    );
  const { token: _secret, transaction: _t, ...args } = body;
  let response: CommandResponse;
  if (!roleAtLeast(who.role, def.role))
    response = fail(
      transaction,
      new SwitchboardError(
        'E_FORBIDDEN',
        `${command} needs the ${def.role} role; ${who.user}'s token is ${who.role}`,
      ),
    );
  else {
    const errors = schemaErrors(SCHEMAS.get(command) as TObject, body);
    if (errors.length > 0) {
      const first = errors[0] as { path: string; message: string };
      response = fail(
        transaction,
        new SwitchboardError(
          'E_REQUEST_FIELD',
          `${first.path}: ${first.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
          { details: errors },
        ),
      );
    } else {
      try {
        const data = def.run(ctx.port, args) ?? null;
        response = { status: 'ok', data, error: null, transaction };
      } catch (err) {
        if (isSwitchboardError(err)) response = fail(transaction, err);
        else {
          ctx.onInternalError?.(err);
          response = fail(
            transaction,
            new SwitchboardError('E_INTERNAL', `${command} failed inside the controller (logged)`),
          );
        }
      }
    }
  }
  if (!def.readOnly && ctx.audit)
    try {
      ctx.audit({
        user: who.user,
        via: 'token',
        tokenId: who.tokenId,
        ip: null,
        method: 'MQTT',
        url: ctx.topic,
        status:
          response.error === null
            ? 200
            : (HTTP_STATUS[response.error.code as keyof typeof HTTP_STATUS] ?? 500),
        action: `mqtt_${command}`,
        detail: args,
      });
    } catch (err) {
      ctx.onInternalError?.(err);
    }
  return response;
}
