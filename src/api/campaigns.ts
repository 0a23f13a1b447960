// SPDX-License-Identifier: GPL-2.0-or-later
// API: dialing campaigns (create, contacts import, start/pause/resume/stop, pacing, monitor, results), do-not-call list, agents.

import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { AgentDesk } from '../controller/agents.ts';
import { SwitchboardError } from '../core/errors.ts';
import { importContacts } from '../dialer/contacts.ts';
import type { Dialer } from '../dialer/dialer.ts';
import { RESULTS, type Result } from '../dialer/outcome.ts';
import { CampaignDoc } from '../dialer/schema.ts';
import type { DialerStore } from '../dialer/store.ts';
import { checkedByHandler } from './validation.ts';
import './types.ts';

export interface CampaignsPluginOptions {
  dialer: Dialer;
  store: DialerStore;
  agents: AgentDesk;
  /** Largest contact list upload, bytes of JSON; default 30 MiB (a 20 MiB list in base64). */
  bodyLimit?: number;
}

const NameParams = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 64, description: 'the campaign name' }) },
  { additionalProperties: false },
);
const ColumnRef = Type.Union(
  [Type.String({ minLength: 1, maxLength: 100 }), Type.Integer({ minimum: 1 })],
  {
    description: 'a column by its header name, or by position counted from 1',
  },
);
const ContactsUpload = Type.Object(
  {
    format: Type.Union([Type.Literal('csv'), Type.Literal('xlsx'), Type.Literal('txt')], {
      description:
        'csv (UTF-8, delimiter , ; or tab sniffed), xlsx (Excel), txt (a number per line, optionally a tab or comma and a name)',
    }),
    content: Type.Optional(Type.String({ description: 'the list as text (csv, txt)' })),
    contentBase64: Type.Optional(
      Type.String({ description: 'the file as base64 (xlsx, or any format)' }),
    ),
    mapping: Type.Optional(
      Type.Object(
        {
          number: ColumnRef,
          name: Type.Optional(ColumnRef),
          timezone: Type.Optional(ColumnRef),
          callbackAt: Type.Optional(ColumnRef),
          vars: Type.Optional(
            Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,39}$' }), ColumnRef),
          ),
        },
        { additionalProperties: false, description: 'which column holds what (csv and xlsx)' },
      ),
    ),
    header: Type.Optional(
      Type.Boolean({ description: 'csv: the first row names the columns; default true' }),
    ),
    sheet: Type.Optional(
      Type.String({ maxLength: 100, description: 'xlsx: the sheet; default the first' }),
    ),
    region: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z]{2}$',
        description: 'country of numbers written without one; default CN',
      }),
    ),
    timezone: Type.Optional(
      Type.String({
        maxLength: 64,
        description: 'zone of call-back times without an offset; default UTC',
      }),
    ),
  },
  { additionalProperties: false },
);
type ContactsUpload = Static<typeof ContactsUpload>;
const Command = Type.Object(
  {
    name: NameParams.properties.name,
    command: Type.Union(['start', 'pause', 'resume', 'stop'].map((c) => Type.Literal(c))),
  },
  { additionalProperties: false },
);
const Pacing = Type.Object(
  {
    maxChannels: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
    channelShare: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    progressiveRatio: Type.Optional(Type.Number({ minimum: 1, maximum: 5 })),
    ratio: Type.Optional(Type.Number({ minimum: 0.1, maximum: 5 })),
    minRatio: Type.Optional(Type.Number({ minimum: 0.05, maximum: 5 })),
    maxRatio: Type.Optional(Type.Number({ minimum: 0.1, maximum: 5 })),
    abandonCapPercent: Type.Optional(Type.Number({ minimum: 0.1, maximum: 20 })),
    abandonSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 15 })),
  },
  {
    additionalProperties: false,
    description: 'pacing settings to change now (see the campaign document)',
  },
);
const ResultsQuery = Type.Object(
  {
    list: Type.Optional(
      Type.Union([...RESULTS.map((r) => Type.Literal(r)), Type.Literal('all')], {
        description: 'success, notified, refused, failed, wrong_number or all (default)',
      }),
    ),
  },
  { additionalProperties: false },
);
const Dnc = Type.Object(
  {
    numbers: Type.Array(Type.String({ minLength: 1, maxLength: 40 }), {
      minItems: 1,
      maxItems: 100_000,
    }),
    reason: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
const NumberParams = Type.Object(
  { number: Type.String({ minLength: 1, maxLength: 40 }) },
  { additionalProperties: false },
);
const AgentParams = Type.Object(
  {
    extension: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'the extension the agent works on',
    }),
  },
  { additionalProperties: false },
);
const Login = Type.Object(
  { group: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);
const Ready = Type.Object({ ready: Type.Boolean() }, { additionalProperties: false });
const Decision = Type.Object(
  { decision: Type.Union([Type.Literal('accept'), Type.Literal('skip')]) },
  { additionalProperties: false },
);

function unknownCampaign(name: string): SwitchboardError {
  return new SwitchboardError('E_CAMPAIGN_UNKNOWN', `there is no campaign "${name}"`, {
    details: { field: 'name', value: name },
  });
}

function listBytes(body: ContactsUpload): Uint8Array {
  if (body.contentBase64 !== undefined) {
    if (!/^[A-Za-z0-9+/=\s]*$/.test(body.contentBase64))
      throw new SwitchboardError('E_CONTACTS_FORMAT', 'contentBase64: is not base64', {
        details: { field: 'contentBase64' },
      });
    return Buffer.from(body.contentBase64, 'base64');
  }
  if (body.content !== undefined) return Buffer.from(body.content, 'utf8');
  throw new SwitchboardError(
    'E_CONTACTS_FORMAT',
    'content: give the list as content (text) or contentBase64',
    {
      details: { field: 'content' },
    },
  );
}

export const campaignsPlugin: FastifyPluginAsync<CampaignsPluginOptions> = async (app, opts) => {
  const { dialer, store, agents } = opts;
  const bodyLimit = opts.bodyLimit ?? 30 * 1024 * 1024;
  const monitorOf = (name: string) => {
    const m = dialer.monitor().find((c) => c.name === name);
    if (!m) throw unknownCampaign(name);
    return m;
  };

  app.get(
    '/api/campaigns',
    {
      config: { role: 'viewer' },
      schema: {
        summary:
          'Every campaign with its live monitor: state, counters per outcome and result, calls up; and the drafts (not started yet) with their contact counts',
        tags: ['campaigns'],
      },
    },
    async () => ({
      campaigns: dialer.monitor(),
      drafts: store
        .campaigns()
        .filter((row) => row.state === 'draft')
        .map((row) => ({
          name: row.name,
          mode: row.doc.mode,
          contacts: store.contactCounts(row.id),
        })),
    }),
  );

  app.post<{ Body: CampaignDoc }>(
    '/api/campaigns',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Create a campaign (draft); import its contacts, then start it',
        tags: ['campaigns'],
        body: checkedByHandler(CampaignDoc),
      },
    },
    async (req, reply) => {
      const row = dialer.create(req.body);
      req.auditDetail = { campaign: row.name };
      return reply.code(201).send({ name: row.name, state: row.state });
    },
  );

  app.get<{ Params: { name: string } }>(
    '/api/campaigns/:name',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'A campaign: its document, its state and its monitor (null for a draft)',
        tags: ['campaigns'],
        params: NameParams,
      },
    },
    async (req) => {
      const row = store.campaign(req.params.name);
      if (!row) throw unknownCampaign(req.params.name);
      // A draft has no monitor yet (it has never run).
      const monitor = dialer.monitor().find((c) => c.name === row.name) ?? null;
      return { campaign: row.doc, state: row.state, monitor };
    },
  );

  app.put<{ Params: { name: string }; Body: CampaignDoc }>(
    '/api/campaigns/:name',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Replace a campaign document (not while it runs: pause it first)',
        tags: ['campaigns'],
        params: NameParams,
        body: checkedByHandler(CampaignDoc),
      },
    },
    async (req) => {
      const body = req.body as { name?: unknown };
      if (body && typeof body === 'object' && body.name !== req.params.name)
        throw new SwitchboardError(
          'E_CAMPAIGN_FIELD',
          `name: must be "${req.params.name}", the campaign in the path`,
          {
            details: { field: 'name', value: body.name },
          },
        );
      dialer.update(req.body);
      req.auditDetail = { campaign: req.params.name };
      return { ok: true };
    },
  );

  app.post<{ Params: { name: string }; Body: ContactsUpload }>(
    '/api/campaigns/:name/contacts',
    {
      config: { role: 'operator' },
      bodyLimit,
      schema: {
        summary:
          'Import a contact list (CSV, XLSX, TXT): numbers normalised; duplicates, invalid numbers and broken rows reported by row',
        tags: ['campaigns'],
        params: NameParams,
        body: ContactsUpload,
      },
    },
    async (req) => {
      if (!store.campaign(req.params.name)) throw unknownCampaign(req.params.name);
      const b = req.body;
      const { contacts, report } = await importContacts(listBytes(b), {
        format: b.format,
        ...(b.mapping ? { mapping: b.mapping } : {}),
        ...(b.header === undefined ? {} : { header: b.header }),
        ...(b.sheet ? { sheet: b.sheet } : {}),
        ...(b.region ? { region: b.region.toUpperCase() } : {}),
        ...(b.timezone ? { timezone: b.timezone } : {}),
      });
      const added = dialer.addContacts(req.params.name, contacts);
      req.auditDetail = { campaign: req.params.name, imported: report.imported };
      return { report, added };
    },
  );

  app.post<{ Params: { name: string; command: 'start' | 'pause' | 'resume' | 'stop' } }>(
    '/api/campaigns/:name/:command',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Start, pause, resume or stop a campaign (stop is final; calls up finish)',
        tags: ['campaigns'],
        params: Command,
      },
    },
    async (req) => {
      const { name, command } = req.params;
      dialer[command](name);
      req.auditDetail = { campaign: name, command };
      return { name, state: monitorOf(name).state };
    },
  );

  app.patch<{ Params: { name: string }; Body: Static<typeof Pacing> }>(
    '/api/campaigns/:name/pacing',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Change pacing now, running or not',
        tags: ['campaigns'],
        params: NameParams,
        body: Pacing,
      },
    },
    async (req) => {
      dialer.setPacing(req.params.name, req.body);
      req.auditDetail = { campaign: req.params.name, ...req.body };
      return { ok: true };
    },
  );

  app.get<{ Params: { name: string }; Querystring: { list?: Result | 'all' } }>(
    '/api/campaigns/:name/results.csv',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'A result list as CSV (success, notified, refused, failed, wrong_number, or all)',
        tags: ['campaigns'],
        params: NameParams,
        querystring: ResultsQuery,
      },
    },
    async (req, reply) => {
      if (!store.campaign(req.params.name)) throw unknownCampaign(req.params.name);
      const list = req.query.list ?? 'all';
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${req.params.name}-${list}.csv"`)
        .send(dialer.exportResults(req.params.name, list));
    },
  );

  app.get(
    '/api/dnc',
    {
      config: { role: 'viewer' },
      schema: { summary: 'The do-not-call list', tags: ['campaigns'] },
    },
    async () => ({
      numbers: store.dncList().map((d) => ({ ...d, addedAt: new Date(d.addedAt).toISOString() })),
    }),
  );

  app.post<{ Body: Static<typeof Dnc> }>(
    '/api/dnc',
    {
      config: { role: 'operator' },
      schema: {
        summary:
          'Add numbers to the do-not-call list (normalised as contact lists are); no campaign calls them',
        tags: ['campaigns'],
        body: Dnc,
      },
    },
    async (req) => {
      const added = dialer.addDnc(req.body.numbers, req.body.reason);
      req.auditDetail = { added };
      return { added };
    },
  );

  app.delete<{ Params: { number: string } }>(
    '/api/dnc/:number',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Take a number off the do-not-call list',
        tags: ['campaigns'],
        params: NumberParams,
      },
    },
    async (req) => {
      if (!store.removeDnc(req.params.number))
        throw new SwitchboardError(
          'E_CAMPAIGN_UNKNOWN',
          `${req.params.number} is not on the do-not-call list`,
          {
            details: { field: 'number', value: req.params.number },
          },
        );
      return { ok: true };
    },
  );

  app.get(
    '/api/agents',
    {
      config: { role: 'viewer' },
      schema: { summary: 'Logged-in agents and their state', tags: ['agents'] },
    },
    async () => ({ agents: agents.list() }),
  );

  app.post<{ Params: { extension: string }; Body: Static<typeof Login> }>(
    '/api/agents/:extension/login',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Log an agent in to a group on their extension (not ready until they say so)',
        tags: ['agents'],
        params: AgentParams,
        body: Login,
      },
    },
    async (req) => agents.login(req.params.extension, req.body.group),
  );

  app.post<{ Params: { extension: string }; Body: Static<typeof Ready> }>(
    '/api/agents/:extension/ready',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Ready or not ready for calls',
        tags: ['agents'],
        params: AgentParams,
        body: Ready,
      },
    },
    async (req) => agents.setReady(req.params.extension, req.body.ready),
  );

  app.post<{ Params: { extension: string }; Body: Static<typeof Decision> }>(
    '/api/agents/:extension/preview',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Preview mode: accept (the call is placed) or skip the contact shown',
        tags: ['agents'],
        params: AgentParams,
        body: Decision,
      },
    },
    async (req) => {
      agents.decide(req.params.extension, req.body.decision);
      return { ok: true };
    },
  );

  app.post<{ Params: { extension: string } }>(
    '/api/agents/:extension/logout',
    {
      config: { role: 'operator' },
      schema: { summary: 'Log an agent out', tags: ['agents'], params: AgentParams },
    },
    async (req) => {
      agents.logout(req.params.extension);
      return { ok: true };
    },
  );
};
