// SPDX-License-Identifier: GPL-2.0-or-later
// API: the firmware release and slots, a signed bundle uploaded and installed to the inactive slot, the reboot into it.

import type { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { UPDATE_STATES } from '../update/fsm.ts';
import type { FirmwareView, UpdateStatus } from '../update/manager.ts';
import { ErrorReply } from './error-handler.ts';
import { checkedByHandler } from './validation.ts';
import './types.ts';

/** What the firmware routes need: the update manager (src/update/manager.ts). */
export interface FirmwarePort {
  /** Largest bundle accepted, in bytes. */
  readonly maxBundleBytes: number;
  view(): Promise<FirmwareView>;
  upload(body: Readable, declaredBytes?: number): Promise<UpdateStatus>;
  /** Claims the reboot (refused with E_FIRMWARE_BUSY while an update is under way). */
  beginReboot(): void;
  rebootNow(reason: string): Promise<void>;
  /** Claims the reboot and writes the factory reset marker; returns the marker's path. */
  requestFactoryReset(by: string): string;
}

export const UpdateStatusSchema = Type.Object(
  {
    state: Type.Union(UPDATE_STATES.map((s) => Type.Literal(s))),
    progress: Type.Integer({ minimum: 0, maximum: 100, description: 'percent, within the state' }),
    message: Type.String(),
    error: Type.Optional(Type.String({ description: 'error code of a failed update' })),
    bundle: Type.Optional(Type.Object({ version: Type.String(), compatible: Type.String() })),
  },
  { title: 'UpdateStatus' },
);

const Slot = Type.Object({
  name: Type.String({ description: 'rootfs.0 or rootfs.1' }),
  bootname: Type.String({ description: 'A or B' }),
  state: Type.String({ description: 'booted, active or inactive (RAUC)' }),
  good: Type.Union([Type.Boolean(), Type.Null()], {
    description: 'the bootloader boots it (good) or skips it (bad); null when unknown',
  }),
  version: Type.Optional(Type.String({ description: 'firmware last installed to the slot' })),
});

const Firmware = Type.Object(
  {
    model: Type.String(),
    version: Type.String({ description: 'firmware the box runs' }),
    compatible: Type.String({ description: 'RAUC compatible: bundles must carry the same' }),
    build: Type.String(),
    booted: Type.Union([Type.String(), Type.Null()], {
      description: 'bootname of the running slot (A or B); null without RAUC',
    }),
    slots: Type.Array(Slot),
    slotsError: Type.Optional(
      Type.String({ description: 'why the slots are not known (rauc status failed)' }),
    ),
    update: UpdateStatusSchema,
  },
  { title: 'Firmware' },
);

const Rebooting = Type.Object({ rebooting: Type.Boolean(), message: Type.String() });

export const firmwarePlugin: FastifyPluginAsync<{ firmware: FirmwarePort }> = async (
  app,
  { firmware },
) => {
  // The bundle arrives as the raw body. fastify would buffer a body (and refuses types it has
  // no parser for): this parser hands the request stream itself to the handler, which writes
  // it to disk counting bytes, so a bundle of hundreds of MB never sits in memory.
  if (!app.hasContentTypeParser('application/octet-stream'))
    app.addContentTypeParser('application/octet-stream', (_req, payload, done) => {
      done(null, payload);
    });

  app.get(
    '/api/firmware',
    {
      config: { role: 'viewer' },
      schema: {
        summary:
          'The firmware the box runs, its A/B slots (booted, good or bad) and the update under way',
        tags: ['firmware'],
        response: { 200: Firmware, '4xx': ErrorReply },
      },
    },
    async () => firmware.view(),
  );

  app.post<{ Body: Readable }>(
    '/api/firmware/bundle',
    {
      config: { role: 'admin' },
      // Declared for the record; the stream parser does not enforce it, the handler does.
      bodyLimit: firmware.maxBundleBytes,
      // Any other type would be parsed (buffered in memory, up to bodyLimit) before the handler
      // runs: refuse it before parsing.
      preParsing: async (req, _reply, payload) => {
        const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
        if (type !== 'application/octet-stream')
          throw Object.assign(
            new Error(
              `send the bundle as the raw body with Content-Type: application/octet-stream, not ${type ? `"${type}"` : 'no content type'}`,
            ),
            { statusCode: 415 },
          );
        return payload;
      },
      schema: {
        summary:
          'Upload a signed RAUC bundle (raw body, application/octet-stream): verified (signature, model, version) before anything is written, then installed to the inactive slot',
        description:
          'Answers 202 once the bundle is received and verified and the install has started; progress is then read from GET /api/firmware. A refused bundle is deleted and nothing changes.',
        tags: ['firmware'],
        consumes: ['application/octet-stream'],
        body: checkedByHandler(
          Type.String({ format: 'binary', description: 'the bundle file (.raucb)' }),
        ),
        response: { 202: UpdateStatusSchema, '4xx': ErrorReply, '5xx': ErrorReply },
      },
    },
    async (req, reply) => {
      const length = req.headers['content-length'];
      const declared = length === undefined ? undefined : Number(length);
      const audit: Record<string, unknown> = { bytes: declared ?? null };
      req.auditAction = 'firmware_upload';
      req.auditDetail = audit;
      try {
        const status = await firmware.upload(
          req.body,
          declared !== undefined && Number.isFinite(declared) ? declared : undefined,
        );
        if (status.bundle) audit.version = status.bundle.version;
        return reply.code(202).send(status);
      } catch (err) {
        audit.refused = (err as { code?: string }).code ?? 'error';
        // The client may still be sending: say that this connection ends with the answer.
        reply.header('connection', 'close');
        throw err;
      }
    },
  );

  app.post(
    '/api/firmware/reboot',
    {
      config: { role: 'admin' },
      schema: {
        summary:
          'Reboot the box (into the slot just installed, if any); refused while an update is under way',
        tags: ['firmware'],
        response: { 202: Rebooting, '4xx': ErrorReply },
      },
      // The reboot is asked for once the answer has gone out.
      onResponse: async (req, reply) => {
        if (reply.statusCode === 202)
          await firmware.rebootNow(`POST /api/firmware/reboot by ${req.user?.name ?? 'unknown'}`);
      },
    },
    async (req, reply) => {
      firmware.beginReboot();
      req.auditAction = 'firmware_reboot';
      return reply.code(202).send({ rebooting: true, message: 'the box reboots now' });
    },
  );
};
