// SPDX-License-Identifier: GPL-2.0-or-later
// The JSON payload of every MQTT topic as a TypeBox schema (docs/mqtt-schemas/*.json are generated from these).

import { type Static, type TObject, type TProperties, type TSchema, Type } from '@sinclair/typebox';
import type { CallRecord } from '../cdr/record.ts';
import { DISPOSITIONS } from '../cdr/record.ts';
import { CallEvent, ChannelStatus, SpanStatus } from '../controller/live.ts';
import { Health } from '../system/health.ts';

/** Outbox messages carry this: one sequence per box, never reused, in the order produced. */
const MessageId = Type.Integer({
  minimum: 1,
  description:
    'message id: one increasing sequence per box over channel, call/event and cdr messages, never reused; a NOC de-duplicates by it',
});
const At = Type.String({ format: 'date-time', description: 'when it happened' });

function extend<B extends TProperties, P extends TProperties>(
  base: TObject<B>,
  extra: P,
  id: string,
  description: string,
): TObject<P & B> {
  return Type.Object({ ...extra, ...base.properties } as P & B, {
    $id: id,
    additionalProperties: false,
    description,
  });
}

export const BridgeState = Type.Object(
  { state: Type.Union([Type.Literal('online'), Type.Literal('offline')]) },
  {
    $id: 'BridgeState',
    additionalProperties: false,
    description:
      'retained; "offline" is also the last will, sent by the broker when the box goes silent',
  },
);
export type BridgeState = Static<typeof BridgeState>;

export const BridgeInfo = Type.Object(
  {
    nodeId: Type.String(),
    name: Type.Union([Type.String(), Type.Null()], {
      description: 'system.name of the configuration',
    }),
    serial: Type.Union([Type.String(), Type.Null()], {
      description: "the box's serial number, null when the board does not tell",
    }),
    hostname: Type.String(),
    bootId: Type.String({
      description: 'changes at every controller start (CDR ids begin with it)',
    }),
    startedAt: Type.String({ format: 'date-time' }),
    versions: Type.Object(
      {
        firmware: Type.String({ description: 'the firmware version the box runs (its release)' }),
        build: Type.String({
          description: "the firmware build (git describe; 'dev' off an image)",
        }),
        compatible: Type.String({ description: 'what an update bundle must be made for' }),
        node: Type.String(),
        platform: Type.String({ description: 'os and CPU architecture' }),
        kernel: Type.String(),
      },
      { additionalProperties: false },
    ),
    board: Type.Object(
      {
        model: Type.String({ description: 'the board model (board/models/<id>.yaml)' }),
        spans: Type.Array(
          Type.Object(
            {
              span: Type.Integer(),
              name: Type.String(),
              type: Type.String({ description: 'E1, T1, J1 or analog' }),
              channels: Type.Integer(),
            },
            { additionalProperties: false },
          ),
        ),
        mismatches: Type.Array(Type.String(), {
          description:
            'where the spans DAHDI reports differ from the model ("span 3 (E1) is missing": a card missing, unseated or of another kind); empty when they agree',
        }),
      },
      { additionalProperties: false },
    ),
    broker: Type.Union([Type.Literal('embedded'), Type.Literal('noc')]),
    cdr: Type.Boolean({ description: 'whether call records are published on <base>/<node>/cdr' }),
  },
  { $id: 'BridgeInfo', additionalProperties: false, description: 'retained' },
);
export type BridgeInfo = Static<typeof BridgeInfo>;

/** What the outbox holds and what it had to drop (also in GET /metrics). */
export const OutboxStats = Type.Object(
  {
    pending: Type.Integer({ description: 'messages waiting for the broker' }),
    maxMessages: Type.Integer(),
    dropped: Type.Object(
      {
        channel: Type.Integer(),
        call: Type.Integer(),
        cdr: Type.Integer(),
      },
      {
        additionalProperties: false,
        description: 'dropped because the outbox was full, since the controller started',
      },
    ),
    refused: Type.Integer({
      description: 'messages the broker refused (MQTT 5 reason code), since the controller started',
    }),
  },
  { additionalProperties: false },
);
export type OutboxStats = Static<typeof OutboxStats>;

export const BridgeHealth = extend(
  Health,
  { outbox: OutboxStats },
  'BridgeHealth',
  'every mqtt.healthSeconds (default 60 s); QoS 0, not retained',
);
export type BridgeHealth = Static<typeof BridgeHealth>;

export const SpanMessage = extend(
  SpanStatus,
  { at: At },
  'SpanMessage',
  'retained; sent when alarms, links or channel counts change, and counters at most every 5 s',
);
export type SpanMessage = Static<typeof SpanMessage>;

export const ChannelMessage = extend(
  ChannelStatus,
  { id: MessageId, at: At },
  'ChannelMessage',
  'when a timeslot changes state; QoS 1 through the outbox',
);
export type ChannelMessage = Static<typeof ChannelMessage>;

export const CallEventMessage = extend(
  CallEvent,
  { id: MessageId },
  'CallEventMessage',
  'a call started, was answered or ended (with its cause); QoS 1 through the outbox',
);
export type CallEventMessage = Static<typeof CallEventMessage>;

const CdrLeg = Type.Object(
  {
    trunk: Type.String(),
    span: Type.Optional(Type.Integer()),
    channel: Type.Optional(Type.Integer()),
    cic: Type.Optional(Type.Integer()),
    called: Type.String(),
    calling: Type.String(),
    startedAt: Type.String({ format: 'date-time' }),
    answeredAt: Type.Optional(Type.String({ format: 'date-time' })),
    endedAt: Type.Optional(Type.String({ format: 'date-time' })),
    cause: Type.Optional(Type.Integer()),
    causeName: Type.Optional(Type.String()),
    releasedBy: Type.Optional(
      Type.Union([Type.Literal('remote'), Type.Literal('local'), Type.Literal('stack')]),
    ),
  },
  { additionalProperties: false },
);

/** src/cdr/record.ts's CallRecord as a schema (the compiler checks that the two agree). */
export const CallRecordSchema = Type.Object(
  {
    id: Type.String({ description: 'the call record id, <boot id>-<n>' }),
    direction: Type.Union([
      Type.Literal('inbound'),
      Type.Literal('outbound'),
      Type.Literal('internal'),
    ]),
    startedAt: Type.String({ format: 'date-time' }),
    answeredAt: Type.Optional(Type.String({ format: 'date-time' })),
    endedAt: Type.String({ format: 'date-time' }),
    durationMs: Type.Integer(),
    billableMs: Type.Integer(),
    called: Type.String(),
    calling: Type.String(),
    callingPresentation: Type.Optional(
      Type.Union([Type.Literal('allowed'), Type.Literal('restricted')]),
    ),
    route: Type.Optional(Type.String()),
    destination: Type.Optional(Type.String()),
    disposition: Type.Union(DISPOSITIONS.map((d) => Type.Literal(d))),
    cause: Type.Integer({ description: 'Q.850 cause' }),
    causeName: Type.String(),
    a: CdrLeg,
    b: Type.Optional(CdrLeg),
    tries: Type.Optional(
      Type.Array(
        Type.Object(
          { trunk: Type.String(), cause: Type.Integer(), causeName: Type.String() },
          { additionalProperties: false },
        ),
      ),
    ),
    skipped: Type.Optional(
      Type.Array(
        Type.Object(
          {
            trunk: Type.String(),
            reason: Type.Union([
              Type.Literal('down'),
              Type.Literal('busy'),
              Type.Literal('unknown'),
            ]),
            why: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
);
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Fails to compile when src/cdr/record.ts and this schema drift apart.
const recordMatches: Same<Static<typeof CallRecordSchema>, CallRecord> = true;
void recordMatches;

export const CdrMessage = Type.Object(
  { id: MessageId, cdr: CallRecordSchema },
  {
    $id: 'CdrMessage',
    additionalProperties: false,
    description: 'one call record per call attempt (mqtt.cdr: true); QoS 1 through the outbox',
  },
);
export type CdrMessage = { id: number; cdr: CallRecord };

export const CommandError = Type.Object(
  {
    code: Type.String({ description: 'stable error code (E_AUTH_REQUIRED, E_FORBIDDEN...)' }),
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);

export const Transaction = Type.Union([Type.String({ maxLength: 128 }), Type.Number()], {
  description: 'any string or number; echoed in the response',
});

export const CommandResponse = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
    data: Type.Unknown({ description: "the command's result; null on error" }),
    error: Type.Union([CommandError, Type.Null()]),
    transaction: Type.Union([Transaction, Type.Null()], {
      description: "the request's transaction, null when it had none",
    }),
  },
  {
    $id: 'CommandResponse',
    additionalProperties: false,
    description: 'on bridge/response/<command>, for every request on bridge/request/<command>',
  },
);
export type CommandResponse = Static<typeof CommandResponse>;

/** One documented topic: its pattern under <base>/<node>/ and its payload. */
export interface TopicDoc {
  /** The file under docs/mqtt-schemas/. */
  file: string;
  topic: string;
  schema: TSchema;
}

/** Every payload the bridge publishes (requests are in commands.ts). */
export const PUBLISHED_PAYLOADS: readonly TopicDoc[] = [
  { file: 'bridge-state.json', topic: 'bridge/state', schema: BridgeState },
  { file: 'bridge-info.json', topic: 'bridge/info', schema: BridgeInfo },
  { file: 'bridge-health.json', topic: 'bridge/health', schema: BridgeHealth },
  { file: 'span.json', topic: 'span/<span>', schema: SpanMessage },
  { file: 'channel.json', topic: 'channel/<span>/<timeslot>', schema: ChannelMessage },
  { file: 'call-event.json', topic: 'call/event', schema: CallEventMessage },
  { file: 'cdr.json', topic: 'cdr', schema: CdrMessage },
  { file: 'response.json', topic: 'bridge/response/<command>', schema: CommandResponse },
];
