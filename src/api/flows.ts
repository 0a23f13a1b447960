// SPDX-License-Identifier: GPL-2.0-or-later
// API plugin: IVR flows (list, versions, save, check, delete) and the flow log of a call.

// Types only: the OpenAPI words (summary, tags) fastify's route schema takes with @fastify/swagger.
import type {} from '@fastify/swagger';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { SwitchboardError } from '../core/errors.ts';
import { FlowDoc, FlowName } from '../ivr/schema.ts';
import type { FlowStore } from '../ivr/store.ts';
import { type FlowContext, validateFlow } from '../ivr/validate.ts';
import { parseConfigText } from '../runtime/config-file.ts';
import { checkedByHandler } from './validation.ts';
import './types.ts';

export interface FlowsPluginOptions {
  store: FlowStore;
  /**
   * The checks against the running switch a saved flow must pass: prompts in the prompt sets,
   * queues, time conditions of the configuration. Asked for on each save and check, so they
   * follow configuration changes. Flows are always checked against the store. Default: none.
   */
  context?: () => FlowContext;
  /** Largest flow accepted, bytes of JSON; default 1 MiB. */
  bodyLimit?: number;
}

/** Content types of a YAML flow file. */
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

const NameParams = Type.Object({ name: FlowName }, { additionalProperties: false });
const VersionParams = Type.Object(
  { name: FlowName, version: Type.Integer({ minimum: 1, description: 'a version number' }) },
  { additionalProperties: false },
);
const CallParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 200, description: 'the call (CDR) id' }) },
  { additionalProperties: false },
);
const SaveQuery = Type.Object(
  {
    comment: Type.Optional(
      Type.String({ maxLength: 500, description: 'why the change is made, kept with the version' }),
    ),
    base: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'the version the edit started from (0: a new flow); refused (409 E_FLOW_CONFLICT) when another was saved since',
      }),
    ),
  },
  { additionalProperties: false },
);

export const flowsPlugin: FastifyPluginAsync<FlowsPluginOptions> = async (app, opts) => {
  const { store } = opts;
  const bodyLimit = opts.bodyLimit ?? 1024 * 1024;
  // A flow file as installers write them (YAML, like board/demo/flows): parsed here, then checked
  // exactly like JSON. A YAML syntax error is an E_FLOW_INVALID naming the line.
  for (const type of YAML_TYPES)
    if (!app.hasContentTypeParser(type))
      app.addContentTypeParser(type, { parseAs: 'string', bodyLimit }, (_req, body, done) => {
        try {
          done(null, parseConfigText(String(body), 'the uploaded flow'));
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          done(
            new SwitchboardError('E_FLOW_INVALID', message, {
              details: [{ path: '(file)', message }],
            }),
          );
        }
      });
  const context = (): FlowContext => ({
    flowExists: (name) => store.exists(name),
    ...opts.context?.(),
  });

  app.get(
    '/api/flows',
    {
      config: { role: 'viewer' },
      schema: { summary: 'The IVR flows with their active versions', tags: ['flows'] },
    },
    async () => ({ flows: store.list() }),
  );

  app.get<{ Params: Static<typeof NameParams> }>(
    '/api/flows/:name',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'The active version of a flow (the one new calls run) with its document',
        tags: ['flows'],
        params: NameParams,
      },
    },
    async (req) => {
      const { info, flow } = store.get(req.params.name);
      return { ...info, flow };
    },
  );

  app.get<{ Params: Static<typeof NameParams> }>(
    '/api/flows/:name/versions',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'The versions of a flow, newest first: who saved each, when and why',
        tags: ['flows'],
        params: NameParams,
      },
    },
    async (req) => ({ versions: store.history(req.params.name) }),
  );

  app.get<{ Params: Static<typeof VersionParams> }>(
    '/api/flows/:name/versions/:version',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'One version of a flow with its document',
        tags: ['flows'],
        params: VersionParams,
      },
    },
    async (req) => {
      const { info, flow } = store.get(req.params.name, req.params.version);
      return { ...info, flow };
    },
  );

  app.put<{
    Params: Static<typeof NameParams>;
    Querystring: Static<typeof SaveQuery>;
    Body: unknown;
  }>(
    '/api/flows/:name',
    {
      config: { role: 'installer' },
      bodyLimit,
      schema: {
        summary:
          'Save a flow as its next version, which new calls run at once (calls in the flow finish on theirs); refused whole with every node error. JSON, or a YAML file (application/yaml)',
        tags: ['flows'],
        params: NameParams,
        querystring: SaveQuery,
        body: checkedByHandler(FlowDoc),
      },
    },
    async (req) => {
      const name = req.params.name;
      let doc = req.body;
      if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) {
        const given = (doc as { name?: unknown }).name;
        if (given === undefined) doc = { name, ...doc };
        else if (given !== name)
          throw new SwitchboardError(
            'E_FLOW_INVALID',
            `name: "${String(given)}" is not the flow named in the URL ("${name}")`,
            {
              details: [{ path: 'name', message: `must be "${name}", the flow named in the URL` }],
            },
          );
      }
      const { info, unchanged } = store.save(
        doc,
        {
          author: req.user?.name ?? 'unknown',
          ...(req.query.comment === undefined ? {} : { comment: req.query.comment }),
          ...(req.query.base === undefined ? {} : { base: req.query.base }),
        },
        context(),
      );
      req.auditAction = 'flow_save';
      req.auditDetail = { flow: name, version: info.version, ...(unchanged ? { unchanged } : {}) };
      return { ...info, unchanged };
    },
  );

  app.post<{ Body: unknown }>(
    '/api/flows/validate',
    {
      config: { role: 'installer' },
      bodyLimit,
      schema: {
        summary:
          'Check a flow (JSON, or a YAML file as application/yaml) without saving it: every field and node error, or ok',
        tags: ['flows'],
        body: checkedByHandler(FlowDoc),
      },
    },
    async (req) => {
      const errors = validateFlow(req.body, context());
      return errors.length === 0 ? { ok: true } : { ok: false, errors };
    },
  );

  app.delete<{ Params: Static<typeof NameParams> }>(
    '/api/flows/:name',
    {
      config: { role: 'admin' },
      schema: {
        summary:
          'Delete a flow: calls routed to it are refused from now on (cause 3); calls in it finish',
        tags: ['flows'],
        params: NameParams,
      },
    },
    async (req) => {
      const { versions } = store.delete(req.params.name);
      req.auditAction = 'flow_delete';
      req.auditDetail = { flow: req.params.name, versions };
      return { name: req.params.name, deleted: true, versions };
    },
  );

  app.get<{ Params: Static<typeof CallParams> }>(
    '/api/calls/:id/flow-log',
    {
      config: { role: 'operator' },
      schema: {
        summary:
          'The IVR steps of a call in order: node, what the caller pressed, what the web answered, the edge taken',
        tags: ['flows', 'calls'],
        params: CallParams,
      },
    },
    async (req) => ({ call: req.params.id, entries: store.readLog(req.params.id) }),
  );
};
