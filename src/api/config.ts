// SPDX-License-Identifier: GPL-2.0-or-later
// API plugin: the running configuration, its revisions, diff, rollback and YAML export/import.

// Types only: the OpenAPI words (summary, tags) fastify's route schema takes with @fastify/swagger.
import type {} from '@fastify/swagger';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { type ConfigChange, diffConfigs } from '../config/diff.ts';
import { SwitchConfig } from '../config/schema.ts';
import { validateConfig } from '../config/validate.ts';
import { configFromYaml, configToYaml, type YamlFieldError } from '../config/yaml.ts';
import { isSwitchboardError, SwitchboardError } from '../core/errors.ts';
import type { FieldError } from '../core/schema.ts';
import type { CommitMeta, ConfigStore, RevisionInfo } from '../store/config-store.ts';
import { AnalogTrunk } from '../trunks/analog.ts';
import { PriTrunk } from '../trunks/pri.ts';
import { R2Trunk } from '../trunks/r2.ts';
import { Ss7Trunk } from '../trunks/ss7.ts';
import type { BoardSpans } from '../trunks/validate.ts';
import { checkedByHandler } from './validation.ts';
import './types.ts';

/** What the controller's apply function reports. */
export interface ApplyResult {
  /** The revision it committed (ConfigStore.commit). */
  revision: RevisionInfo;
  /** What had to be restarted to apply it, in words ("span 2", "trunk pri1"); empty when nothing. */
  restarted: string[];
}

export interface ConfigPluginOptions {
  store: ConfigStore;
  /**
   * Applies a configuration that this plugin has validated to the running switch, then commits
   * it to the store with `meta` and returns the revision. It throws (a SwitchboardError, whose
   * code sets the HTTP status) when the switch refused it, having committed nothing. Calls are
   * made one at a time by this plugin.
   */
  apply(config: SwitchConfig, meta: CommitMeta): Promise<ApplyResult>;
  /** The board's spans, for the checks against the hardware; default none (checks without a board). */
  board?: () => BoardSpans | undefined;
  /** Largest configuration accepted, in bytes of JSON or YAML; default 4 MiB. */
  bodyLimit?: number;
}

/** The answer to a change (PUT, import, rollback). */
export interface ChangeResult {
  revision: RevisionInfo;
  changes: ConfigChange[];
  restarted: string[];
  /** True when the configuration equals the running one: nothing was applied or stored. */
  unchanged?: boolean;
}

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

const Comment = Type.String({
  maxLength: 500,
  description: 'why the change is made, kept with the revision',
});
function revisionId(description = 'a revision number') {
  return Type.Integer({ minimum: 1, description });
}

const ChangeQuery = Type.Object(
  {
    comment: Type.Optional(Comment),
    base: Type.Optional(
      revisionId(
        'the revision the edit started from: refused (409 E_CONFIG_CONFLICT) when another change was made since',
      ),
    ),
  },
  { additionalProperties: false },
);
type ChangeQuery = Static<typeof ChangeQuery>;

const YamlBody = Type.String({ description: 'a configuration file as exported' });
const yamlContent = Object.fromEntries(
  [...YAML_TYPES, 'text/plain'].map((t) => [t, { schema: YamlBody }]),
);

const ListQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, default: 50, description: 'default 50' }),
    ),
    before: Type.Optional(revisionId('only revisions older than this one (the next page)')),
  },
  { additionalProperties: false },
);

const DiffQuery = Type.Object(
  {
    from: Type.Optional(revisionId('default the parent of `to`')),
    to: Type.Optional(revisionId('default the running revision')),
  },
  { additionalProperties: false },
);

const RollbackBody = Type.Object(
  { revision: revisionId(), comment: Type.Optional(Comment), base: ChangeQuery.properties.base },
  { additionalProperties: false },
);

const ExportQuery = Type.Object(
  {
    revision: Type.Optional(revisionId('default the running revision')),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: revisionId() }, { additionalProperties: false });

function author(req: FastifyRequest): string {
  return req.user?.name ?? 'unknown';
}

/** `Lab box 1` -> `Lab_box_1`, for a file name. */
function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 40);
}

const configPlugin: FastifyPluginAsync<ConfigPluginOptions> = async (app, opts) => {
  const { store } = opts;
  const bodyLimit = opts.bodyLimit ?? 4 * 1024 * 1024;
  const board = () => opts.board?.();
  for (const type of YAML_TYPES)
    if (!app.hasContentTypeParser(type))
      app.addContentTypeParser(type, { parseAs: 'string', bodyLimit }, (_req, body, done) => {
        done(null, body);
      });

  // One change at a time: the base check, the diff and the apply see the same running revision.
  let queue: Promise<unknown> = Promise.resolve();
  function serial<T>(work: () => Promise<T>): Promise<T> {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  }

  function change(
    req: FastifyRequest,
    config: SwitchConfig,
    meta: Omit<CommitMeta, 'author'>,
    base: number | undefined,
  ): Promise<ChangeResult> {
    return serial(async () => {
      const running = store.current();
      if (base !== undefined && running?.revision !== base)
        throw new SwitchboardError(
          'E_CONFIG_CONFLICT',
          `base: the edit started from revision ${base}, but revision ${running?.revision ?? 'none'} is running now`,
          { details: { base, current: running?.revision ?? null } },
        );
      const changes = diffConfigs(running?.config ?? {}, config);
      if (running && changes.length === 0)
        return {
          revision: store.get(running.revision).info,
          changes,
          restarted: [],
          unchanged: true,
        };
      const result = await opts.apply(config, { ...meta, author: author(req) });
      req.auditDetail = {
        revision: result.revision.id,
        changes: changes.length,
        source: meta.source,
        ...(meta.restores === undefined ? {} : { restores: meta.restores }),
        ...(result.restarted.length > 0 ? { restarted: result.restarted } : {}),
      };
      return { revision: result.revision, changes, restarted: result.restarted };
    });
  }

  app.get(
    '/api/config',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'The running configuration and its revision (null before the first one)',
        tags: ['config'],
      },
    },
    async () => {
      const running = store.current();
      return { revision: running?.revision ?? null, config: running?.config ?? {} };
    },
  );

  app.put<{ Body: SwitchConfig; Querystring: ChangeQuery }>(
    '/api/config',
    {
      config: { role: 'installer' },
      bodyLimit,
      schema: {
        summary:
          'Apply a whole configuration: validated, applied to the switch, stored as a new revision',
        tags: ['config'],
        querystring: ChangeQuery,
        body: checkedByHandler(SwitchConfig),
      },
    },
    async (req) => {
      const config = validateConfig(req.body, board());
      return change(
        req,
        config,
        { source: 'api', comment: req.query.comment ?? '' },
        req.query.base,
      );
    },
  );

  app.post<{ Body: unknown }>(
    '/api/config/validate',
    {
      config: { role: 'installer' },
      bodyLimit,
      schema: {
        summary:
          'Check a configuration (JSON, or a YAML file) without applying it: its field errors, or the changes it would make',
        tags: ['config'],
        body: {
          content: {
            'application/json': { schema: checkedByHandler(SwitchConfig) },
            ...yamlContent,
          },
        },
      },
    },
    async (req) => {
      try {
        const config =
          typeof req.body === 'string'
            ? configFromYaml(req.body, board())
            : validateConfig(req.body, board());
        return { ok: true, changes: diffConfigs(store.current()?.config ?? {}, config) };
      } catch (err) {
        if (!isSwitchboardError(err, 'E_CONFIG_FIELD')) throw err;
        return { ok: false, errors: err.details as (FieldError | YamlFieldError)[] };
      }
    },
  );

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/config/revisions',
    {
      config: { role: 'viewer' },
      schema: { summary: 'Revisions, newest first', tags: ['config'], querystring: ListQuery },
    },
    async (req) => ({ revisions: store.list(req.query) }),
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/config/revisions/:id',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'One revision with its configuration',
        tags: ['config'],
        params: IdParams,
      },
    },
    async (req) => {
      const { info, config } = store.get(req.params.id);
      return { revision: info, config };
    },
  );

  app.get<{ Querystring: Static<typeof DiffQuery> }>(
    '/api/config/diff',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'What changed between two revisions (by default: what the running one changed)',
        tags: ['config'],
        querystring: DiffQuery,
      },
    },
    async (req) => {
      const to = req.query.to ?? store.current()?.revision;
      if (to === undefined)
        throw new SwitchboardError('E_REVISION_UNKNOWN', 'to: there is no revision yet');
      const target = store.get(to);
      const from = req.query.from ?? target.info.parent;
      const before = from === undefined ? {} : store.get(from).config;
      return { from: from ?? null, to, changes: diffConfigs(before, target.config) };
    },
  );

  app.post<{ Body: Static<typeof RollbackBody> }>(
    '/api/config/rollback',
    {
      config: { role: 'installer' },
      schema: {
        summary:
          'Apply an earlier revision again; it is stored as a new revision that names the one it restores',
        tags: ['config'],
        body: RollbackBody,
      },
    },
    async (req) => {
      const target = store.rollbackTarget(req.body.revision, req.body.comment);
      // The board may have changed since that revision was made: it is checked like a new one.
      const config = validateConfig(target.config, board());
      return change(req, config, target.meta, req.body.base);
    },
  );

  app.get(
    '/api/config/schema',
    {
      config: { role: 'viewer' },
      schema: {
        summary:
          'The JSON Schema of the configuration, and of a trunk per signalling: what the UI builds its forms from',
        tags: ['config'],
      },
    },
    async () => ({
      config: SwitchConfig,
      trunks: { pri: PriTrunk, ss7: Ss7Trunk, mfcr2: R2Trunk, analog: AnalogTrunk },
    }),
  );

  app.get<{ Querystring: Static<typeof ExportQuery> }>(
    '/api/config/export',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'The configuration as a YAML file (attachment) that import takes back',
        tags: ['config'],
        querystring: ExportQuery,
        produces: ['application/yaml'],
      },
    },
    async (req, reply) => {
      const id = req.query.revision ?? store.current()?.revision;
      const config = id === undefined ? {} : store.get(id).config;
      const box = config.system?.name;
      const name = `switchboard${box ? `-${fileSafe(box)}` : ''}${id === undefined ? '' : `-r${id}`}.yaml`;
      void reply
        .header('content-type', 'application/yaml; charset=utf-8')
        .header('content-disposition', `attachment; filename="${name}"`);
      return configToYaml(config, id === undefined ? {} : { revision: id });
    },
  );

  app.post<{ Body: string; Querystring: ChangeQuery }>(
    '/api/config/import',
    {
      config: { role: 'installer' },
      bodyLimit,
      schema: {
        summary:
          'Import a YAML configuration file (Content-Type application/yaml or text/plain): checked, applied and stored like PUT /api/config',
        tags: ['config'],
        querystring: ChangeQuery,
        body: { content: yamlContent },
      },
    },
    async (req) => {
      if (typeof req.body !== 'string')
        throw new SwitchboardError(
          'E_REQUEST',
          'the body must be a YAML file sent as application/yaml or text/plain',
        );
      const config = configFromYaml(req.body, board());
      return change(
        req,
        config,
        { source: 'yaml', comment: req.query.comment ?? 'YAML import' },
        req.query.base,
      );
    },
  );
};

export default configPlugin;
