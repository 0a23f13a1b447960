// SPDX-License-Identifier: GPL-2.0-or-later
// The campaign document of the outbound dialer (TypeBox): what it calls, when, how often and how fast.

import { type Static, Type } from '@sinclair/typebox';
import { WEEKDAYS } from '../config/schema.ts';
import { SwitchboardError } from '../core/errors.ts';
import { type FieldError, schemaErrors } from '../core/schema.ts';

function name(description?: string) {
  return Type.String({
    minLength: 1,
    maxLength: 40,
    pattern: '^[A-Za-z0-9_.-]+$',
    mustBe: 'a name of 1-40 letters, digits, "_", "." or "-"',
    ...(description === undefined ? {} : { description }),
  });
}
const Clock = Type.String({
  pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$',
  mustBe: 'a time "HH:MM" (00:00..24:00)',
});
function keys(description: string) {
  return Type.String({
    pattern: '^[0-9*#]{1,12}$',
    mustBe: 'DTMF keys (0-9, * and #), 1 to 12 of them',
    description,
  });
}

export const CAMPAIGN_MODES = ['broadcast', 'preview', 'progressive', 'predictive'] as const;
export type CampaignMode = (typeof CAMPAIGN_MODES)[number];

/** Outcomes that may be retried, each with its own count and interval. */
export const RETRY_OUTCOMES = ['busy', 'no_answer', 'congestion', 'machine', 'abandoned'] as const;
export type RetryOutcome = (typeof RETRY_OUTCOMES)[number];

/** A weekly calling window, `from` inclusive, `to` exclusive, in local wall-clock time. */
export const CallWindow = Type.Object(
  {
    days: Type.Array(Type.Union(WEEKDAYS.map((d) => Type.Literal(d))), {
      minItems: 1,
      maxItems: 7,
      description: 'weekdays the window applies to (mon..sun)',
    }),
    from: Clock,
    to: Clock,
  },
  { additionalProperties: false },
);
export type CallWindow = Static<typeof CallWindow>;

function retry(max: number, interval: number, what: string) {
  return Type.Optional(
    Type.Object(
      {
        max: Type.Integer({
          minimum: 0,
          maximum: 10,
          description: `retries after ${what}, count, 0..10; default ${max}`,
        }),
        intervalMinutes: Type.Integer({
          minimum: 1,
          maximum: 10080,
          description: `wait before the retry, minutes, 1..10080 (a week); default ${interval}`,
        }),
      },
      { additionalProperties: false },
    ),
  );
}

/** Retry defaults per outcome: `max` retries, `intervalMinutes` apart. */
export const RETRY_DEFAULTS: Readonly<Record<RetryOutcome, RetrySetting>> = {
  busy: { max: 2, intervalMinutes: 10 },
  no_answer: { max: 2, intervalMinutes: 30 },
  congestion: { max: 3, intervalMinutes: 5 },
  machine: { max: 1, intervalMinutes: 120 },
  // Ofcom and the FTC both restrict calling an abandoned person again; none by default.
  abandoned: { max: 0, intervalMinutes: 1440 },
};

export const CampaignDoc = Type.Object(
  {
    name: name(),
    description: Type.Optional(Type.String({ maxLength: 200 })),
    mode: Type.Union(
      CAMPAIGN_MODES.map((m) => Type.Literal(m)),
      {
        description:
          'broadcast: the IVR flow plays the message and takes the keypress, no agents; preview: an agent sees the contact first, then the call is placed; progressive: calls per ready agent; predictive: paced from measured answer rate and handle time under an abandonment cap',
      },
    ),
    flow: Type.Optional(
      name('broadcast: the IVR flow that plays the message and takes the keypress'),
    ),
    confirmKeys: Type.Optional(keys('broadcast: keys that confirm (result success); default "#"')),
    wrongNumberKeys: Type.Optional(
      keys(
        'broadcast: keys that say "not me" (result wrong_number); default none (every other key is refused)',
      ),
    ),
    callerId: Type.Optional(
      Type.String({
        pattern: '^\\+?[0-9]{1,32}$',
        mustBe: 'a number of up to 32 digits, optionally with a leading +',
        description: 'the calling number sent; default the outbound route and trunk decide',
      }),
    ),
    from: Type.Optional(
      name(
        'the `from` tag outbound routes select on (routes.outbound[].from); default the campaign name',
      ),
    ),
    agentGroup: Type.Optional(
      name('preview, progressive, predictive: the agent group that takes the answers'),
    ),
    maxChannels: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1024,
        description: 'calls of this campaign up at once, 1..1024; default 30 (one E1)',
      }),
    ),
    timezone: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'IANA time zone of the windows, e.g. Asia/Shanghai',
    }),
    windows: Type.Array(CallWindow, {
      minItems: 1,
      maxItems: 28,
      description:
        "when calls may start, in the campaign's zone; a contact with its own zone is also called only inside these windows in its zone",
    }),
    ringTimeoutSeconds: Type.Optional(
      Type.Integer({
        minimum: 10,
        maximum: 180,
        description: 'ring this long before giving up (no_answer), seconds, 10..180; default 30',
      }),
    ),
    maxAttempts: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 20,
        description:
          'attempts per contact over all outcomes, 1..20; default 5 (a bound on top of the per-outcome retries)',
      }),
    ),
    retries: Type.Optional(
      Type.Object(
        {
          busy: retry(RETRY_DEFAULTS.busy.max, RETRY_DEFAULTS.busy.intervalMinutes, 'busy'),
          no_answer: retry(
            RETRY_DEFAULTS.no_answer.max,
            RETRY_DEFAULTS.no_answer.intervalMinutes,
            'no answer',
          ),
          congestion: retry(
            RETRY_DEFAULTS.congestion.max,
            RETRY_DEFAULTS.congestion.intervalMinutes,
            'congestion',
          ),
          machine: retry(
            RETRY_DEFAULTS.machine.max,
            RETRY_DEFAULTS.machine.intervalMinutes,
            'an answering machine (when machines are hung up on)',
          ),
          abandoned: retry(
            RETRY_DEFAULTS.abandoned.max,
            RETRY_DEFAULTS.abandoned.intervalMinutes,
            'an abandoned call (a person answered and no agent was free)',
          ),
        },
        { additionalProperties: false },
      ),
    ),
    amd: Type.Optional(
      Type.Object(
        {
          enabled: Type.Boolean({
            description: 'run answering-machine detection on answered calls; default false',
          }),
          onMachine: Type.Optional(
            Type.Union([Type.Literal('hangup'), Type.Literal('message')], {
              description:
                'hangup: release and retry per retries.machine; message: play the flow to the machine (result notified); default hangup',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    pacing: Type.Optional(
      Type.Object(
        {
          channelShare: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 100,
              description:
                "broadcast: percent of the route's free channels this campaign may take, 1..100; default 100",
            }),
          ),
          progressiveRatio: Type.Optional(
            Type.Number({
              minimum: 1,
              maximum: 5,
              description: 'progressive: calls in progress per ready agent, 1..5; default 1',
            }),
          ),
          ratio: Type.Optional(
            Type.Number({
              minimum: 0.1,
              maximum: 5,
              description:
                'predictive: starting over-dial ratio, expected answers per available agent, 0.1..5; default 1 (adapted between minRatio and maxRatio)',
            }),
          ),
          minRatio: Type.Optional(
            Type.Number({
              minimum: 0.05,
              maximum: 5,
              description:
                'predictive: lowest over-dial ratio, 0.05..5; default 0.2 (small agent groups need it low to stay under the cap)',
            }),
          ),
          maxRatio: Type.Optional(
            Type.Number({
              minimum: 0.1,
              maximum: 5,
              description: 'predictive: highest over-dial ratio, 0.1..5; default 3',
            }),
          ),
          abandonCapPercent: Type.Optional(
            Type.Number({
              minimum: 0.1,
              maximum: 20,
              description:
                'predictive: abandoned calls per live answer the pacer keeps under, percent, 0.1..20; default 3 (the UK Ofcom limit)',
            }),
          ),
          abandonSeconds: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 15,
              description:
                'a person who waits longer than this for an agent is an abandoned call, seconds, 1..15; default 2 (Ofcom)',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type CampaignDoc = Static<typeof CampaignDoc>;

export interface RetrySetting {
  max: number;
  intervalMinutes: number;
}

/** Pacing with every default filled in. */
export interface PacingSettings {
  channelShare: number;
  progressiveRatio: number;
  ratio: number;
  minRatio: number;
  maxRatio: number;
  abandonCapPercent: number;
  abandonSeconds: number;
}

/** A campaign with every default filled in: what the dialer works from. */
export interface CampaignSettings {
  doc: CampaignDoc;
  name: string;
  mode: CampaignMode;
  confirmKeys: string;
  wrongNumberKeys: string;
  from: string;
  maxChannels: number;
  timezone: string;
  windows: CallWindow[];
  ringTimeoutSeconds: number;
  maxAttempts: number;
  retries: Record<RetryOutcome, RetrySetting>;
  amd: { enabled: boolean; onMachine: 'hangup' | 'message' };
  pacing: PacingSettings;
}

export const PACING_DEFAULTS: Readonly<PacingSettings> = {
  channelShare: 100,
  progressiveRatio: 1,
  ratio: 1,
  minRatio: 0.2,
  maxRatio: 3,
  abandonCapPercent: 3,
  abandonSeconds: 2,
};

/** Fills in every default of a (valid) campaign document. */
export function campaignSettings(doc: CampaignDoc): CampaignSettings {
  const retries = {} as Record<RetryOutcome, RetrySetting>;
  for (const o of RETRY_OUTCOMES) retries[o] = { ...(doc.retries?.[o] ?? RETRY_DEFAULTS[o]) };
  return {
    doc,
    name: doc.name,
    mode: doc.mode,
    confirmKeys: doc.confirmKeys ?? '#',
    wrongNumberKeys: doc.wrongNumberKeys ?? '',
    from: doc.from ?? doc.name,
    maxChannels: doc.maxChannels ?? 30,
    timezone: doc.timezone,
    windows: doc.windows,
    ringTimeoutSeconds: doc.ringTimeoutSeconds ?? 30,
    maxAttempts: doc.maxAttempts ?? 5,
    retries,
    amd: { enabled: doc.amd?.enabled ?? false, onMachine: doc.amd?.onMachine ?? 'hangup' },
    pacing: { ...PACING_DEFAULTS, ...doc.pacing },
  };
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function minutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
}

/** The rules a schema cannot say: fields one mode needs, ordered ranges, a real time zone. */
function crossErrors(doc: CampaignDoc): FieldError[] {
  const out: FieldError[] = [];
  if (doc.mode === 'broadcast' && doc.flow === undefined)
    out.push({ path: 'flow', message: 'is required for a broadcast campaign (the IVR flow)' });
  if (doc.mode !== 'broadcast' && doc.agentGroup === undefined)
    out.push({ path: 'agentGroup', message: `is required for a ${doc.mode} campaign` });
  if (!isTimeZone(doc.timezone))
    out.push({ path: 'timezone', message: `"${doc.timezone}" is not an IANA time zone` });
  doc.windows.forEach((w, i) => {
    if (minutes(w.from) >= minutes(w.to))
      out.push({
        path: `windows[${i}].to`,
        message: `must be after from (${w.from}); a window past midnight is two windows`,
      });
  });
  const p = { ...PACING_DEFAULTS, ...doc.pacing };
  if (p.minRatio > p.maxRatio)
    out.push({ path: 'pacing.minRatio', message: `must not exceed maxRatio (${p.maxRatio})` });
  else if (p.ratio < p.minRatio || p.ratio > p.maxRatio)
    out.push({
      path: 'pacing.ratio',
      message: `must lie between minRatio (${p.minRatio}) and maxRatio (${p.maxRatio})`,
    });
  for (const k of doc.wrongNumberKeys ?? '')
    if ((doc.confirmKeys ?? '#').includes(k))
      out.push({ path: 'wrongNumberKeys', message: `"${k}" is a confirm key too` });
  return out;
}

/**
 * Checks a campaign document (schema, then cross-field rules) and returns it typed.
 * @throws SwitchboardError E_CAMPAIGN_FIELD with details: FieldError[] naming each bad field
 */
export function validateCampaign(input: unknown): CampaignDoc {
  let errors = schemaErrors(CampaignDoc, input);
  if (errors.length === 0) errors = crossErrors(input as CampaignDoc);
  if (errors.length > 0)
    throw new SwitchboardError(
      'E_CAMPAIGN_FIELD',
      `the campaign has ${errors.length} wrong field${errors.length === 1 ? '' : 's'}: ${errors
        .map((e) => `${e.path}: ${e.message}`)
        .join('; ')}`,
      { details: errors },
    );
  return input as CampaignDoc;
}
