// SPDX-License-Identifier: GPL-2.0-or-later
// An IVR flow document (the FlowMaker's call flows): nodes, their options and edges, in one TypeBox schema.
//
// A flow is a graph: `start` names the first node, each node names the nodes it goes on to in
// its edge fields (`next`, `onTimeout`, `choices`...). An edge left out ends the flow: the call
// is cleared with Cause NORMAL_CLEARING (16). Text fields marked "template" may use `${name}` to
// insert a variable: one of the flow's own, or a built-in (BUILTIN_VARS).

import { type Static, type TSchema, type TString, Type } from '@sinclair/typebox';
import { WEEKDAYS } from '../config/schema.ts';

/** Languages a flow speaks (prompt sets and spoken numbers, dates, amounts). */
export const FLOW_LANGS = ['en', 'zh'] as const;
export type FlowLang = (typeof FLOW_LANGS)[number];

/**
 * Variables every call has. Only `lang` may be set by a flow (a "press 2 for Chinese" menu);
 * the others come from the switch.
 */
export const BUILTIN_VARS = ['calling', 'called', 'trunk', 'callId', 'lang'] as const;
/** The built-ins a flow may set. */
export const WRITABLE_BUILTINS: readonly string[] = ['lang'];

export const NODE_ID_PATTERN = '^[A-Za-z][A-Za-z0-9_-]{0,39}$';
export const VAR_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,39}$';
const PROMPT_SEGMENT = '[A-Za-z0-9][A-Za-z0-9_.-]*';
/** Same rules as src/media/names.ts promptName: 1-4 plain segments, no `..`, no absolute path. */
export const PROMPT_NAME_PATTERN = `^${PROMPT_SEGMENT}(/${PROMPT_SEGMENT}){0,3}$`;

/** A flow's name: the `flow` of an inbound route's `{type: 'ivr'}` destination. */
export const FlowName = Type.String({
  minLength: 1,
  maxLength: 40,
  pattern: '^[A-Za-z0-9_.-]+$',
  mustBe: 'a name of 1-40 letters, digits, "_", "." or "-"',
});

export const NodeId = Type.String({
  pattern: NODE_ID_PATTERN,
  mustBe: 'a node id (a letter, then up to 39 letters, digits, "_" or "-")',
});

export const VarName = Type.String({
  pattern: VAR_NAME_PATTERN,
  mustBe: 'a variable name (a letter or "_", then up to 39 letters, digits or "_")',
});

const PromptName = Type.String({
  maxLength: 200,
  pattern: PROMPT_NAME_PATTERN,
  mustBe: 'a prompt name such as welcome or ivr/sales/menu (1-4 plain parts, no .wav needed)',
});

function varName(description: string): TString {
  return Type.String({
    pattern: VAR_NAME_PATTERN,
    mustBe: 'a variable name (a letter or "_", then up to 39 letters, digits or "_")',
    description,
  });
}

function digitSet(description: string, minLength = 0): TString {
  return Type.String({
    minLength,
    maxLength: 16,
    pattern: '^[0-9*#A-D]*$',
    mustBe: 'DTMF digits (0-9, *, #, A-D)',
    description,
  });
}

function template(description: string, maxLength = 2000): TString {
  return Type.String({
    maxLength,
    description: `${description} (template: \${name} inserts a variable)`,
  });
}

function edge(description: string) {
  return Type.Optional(
    Type.String({
      pattern: NODE_ID_PATTERN,
      mustBe: 'a node id',
      description: `${description}; left out: the flow ends (cause 16)`,
    }),
  );
}

function ms(min: number, max: number, dflt: number, what: string) {
  return Type.Optional(
    Type.Integer({
      minimum: min,
      maximum: max,
      default: dflt,
      description: `${what}, ms; default ${dflt}, range ${min}..${max}`,
    }),
  );
}

// ---- play items -------------------------------------------------------------------------------

/**
 * The kinds of item a playlist holds, by the one field that names the kind. Validation picks
 * the kind by that field (validate.ts), so errors name the item's own fields.
 */
export const PLAY_ITEM_KINDS = {
  prompt: Type.Object(
    { prompt: { ...PromptName, description: "a prompt of the flow language's set (en fallback)" } },
    { additionalProperties: false },
  ),
  tts: Type.Object(
    {
      tts: template('text spoken by espeak-ng (at most 2000 characters after templating)'),
      voice: Type.Optional(
        Type.String({
          maxLength: 40,
          pattern: '^[A-Za-z0-9_+-]+$',
          description: "espeak-ng voice (en, en-us, cmn ...); default the flow language's",
        }),
      ),
    },
    { additionalProperties: false },
  ),
  number: Type.Object(
    { number: template('a whole number spoken as a number (±999,999,999,999)', 200) },
    { additionalProperties: false },
  ),
  digits: Type.Object(
    { digits: template('digits, * and # spoken one at a time (at most 64)', 200) },
    { additionalProperties: false },
  ),
  date: Type.Object(
    {
      date: template('an ISO date/time (2024-03-04T10:00:00Z), or "now"', 200),
      format: Type.Optional(
        Type.Union([Type.Literal('date'), Type.Literal('time'), Type.Literal('datetime')], {
          description: 'what is said: the date, the time of day or both; default date',
        }),
      ),
    },
    { additionalProperties: false },
  ),
  amount: Type.Object(
    {
      amount: template('a sum of money with up to two decimals (12.50)', 200),
      currency: Type.Optional(
        Type.String({
          pattern: '^[A-Z]{3}$',
          mustBe: 'an ISO 4217 currency code such as CNY',
          description:
            'ISO 4217 code; default CNY. Needs prompts currency/<code> (and currency/<code>-minor, zh CNY: currency/cny-jiao, currency/cny-fen)',
        }),
      ),
    },
    { additionalProperties: false },
  ),
} as const;
export type PlayItemKind = keyof typeof PLAY_ITEM_KINDS;

export const PlayItem = Type.Union(Object.values(PLAY_ITEM_KINDS), {
  description:
    'one of {prompt}, {tts, voice?}, {number}, {digits}, {date, format?}, {amount, currency?}',
});
export type PlayItem = Static<typeof PlayItem>;

// ---- branch conditions ------------------------------------------------------------------------

const WEEKDAY = Type.Union(WEEKDAYS.map((d) => Type.Literal(d)));
const Clock = Type.String({ pattern: '^([01][0-9]|2[0-4]):[0-5][0-9]$', mustBe: 'a time "HH:MM"' });

/** A weekly window written into the flow (instead of naming a time condition of the switch). */
export const InlineWindow = Type.Object(
  {
    timezone: Type.Optional(
      Type.String({
        maxLength: 64,
        description: "IANA time zone (Asia/Shanghai); default the switch's system.timezone",
      }),
    ),
    hours: Type.Array(
      Type.Object(
        { days: Type.Array(WEEKDAY, { minItems: 1 }), from: Clock, to: Clock },
        { additionalProperties: false },
      ),
      {
        minItems: 1,
        description: 'when the window is open; "to" is exclusive, "24:00" the end of day',
      },
    ),
  },
  { additionalProperties: false },
);

/** The operators of a variable condition; exactly one per condition. */
export const VAR_OPERATORS = ['eq', 'ne', 'lt', 'gt', 'in', 'matches', 'pattern'] as const;

export const CONDITION_KINDS = {
  var: Type.Object(
    {
      var: VarName,
      eq: Type.Optional(template('equal to this text')),
      ne: Type.Optional(template('different from this text')),
      lt: Type.Optional(template('a number, and smaller than this one')),
      gt: Type.Optional(template('a number, and greater than this one')),
      in: Type.Optional(
        Type.Array(Type.String({ maxLength: 200 }), {
          minItems: 1,
          maxItems: 100,
          description: 'one of these texts',
        }),
      ),
      matches: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 200,
          description: 'a JavaScript regular expression',
        }),
      ),
      pattern: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 64,
          description: 'an Asterisk-style number pattern ("_1[3-9]X.")',
        }),
      ),
    },
    { additionalProperties: false, description: 'a variable, and exactly one operator' },
  ),
  time: Type.Object(
    {
      time: Type.Union([FlowName, InlineWindow], {
        description: 'a time condition of the switch configuration by name, or an inline window',
      }),
    },
    {
      additionalProperties: false,
      description: 'true while open (holidays of a named one close it)',
    },
  ),
  calling: Type.Object(
    {
      calling: Type.String({
        minLength: 1,
        maxLength: 64,
        description: "the caller's number: a number or pattern",
      }),
    },
    { additionalProperties: false },
  ),
  called: Type.Object(
    {
      called: Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'the number called: a number or pattern',
      }),
    },
    { additionalProperties: false },
  ),
} as const;
export type ConditionKind = keyof typeof CONDITION_KINDS;

export const Condition = Type.Union(Object.values(CONDITION_KINDS), {
  description: 'one of {var, <operator>}, {time}, {calling}, {called}',
});
export type Condition = Static<typeof Condition>;

// ---- transfer targets -------------------------------------------------------------------------

export const TARGET_KINDS = {
  number: Type.Object(
    { number: template('the number dialled through the outbound routes', 64) },
    { additionalProperties: false },
  ),
  queue: Type.Object({ queue: FlowName }, { additionalProperties: false }),
  flow: Type.Object(
    {
      flow: FlowName,
      return: Type.Optional(
        Type.Boolean({
          description:
            'true: come back to `next` when the other flow ends (a hangup node there still clears the call); default false',
        }),
      ),
    },
    { additionalProperties: false },
  ),
} as const;
export type TargetKind = keyof typeof TARGET_KINDS;

export const TransferTarget = Type.Union(Object.values(TARGET_KINDS), {
  description: 'one of {number}, {queue}, {flow, return?}',
});
export type TransferTarget = Static<typeof TransferTarget>;

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'DELETE'] as const;

// ---- nodes ------------------------------------------------------------------------------------

/** Where the graphical editor draws a node; the runtime never looks at it. */
const Position = Type.Optional(
  Type.Object(
    { x: Type.Number(), y: Type.Number() },
    { additionalProperties: false, description: 'editor position (pixels); ignored when running' },
  ),
);
const Label = Type.Optional(Type.String({ maxLength: 80, description: 'a name for people' }));

/**
 * The node kinds, built from the schemas of their variant fields. validate.ts builds them a
 * second time with those fields left open and checks each variant itself, so that an error
 * names the wrong field of the item rather than "does not match any of six shapes".
 */
export function nodeSchemas<I extends TSchema, C extends TSchema, T extends TSchema>(
  item: I,
  condition: C,
  target: T,
) {
  const common = { label: Label, position: Position };
  const list = (what: string, min = 1) =>
    Type.Array(item, { minItems: min, maxItems: 50, description: what });
  const node = <K extends string, T extends Record<string, TSchema>>(
    type: K,
    props: T,
    description: string,
  ) =>
    Type.Object(
      { type: Type.Literal(type), ...common, ...props },
      { additionalProperties: false, description },
    );
  return {
    answer: node('answer', { next: edge('after the answer') }, 'answers the call (connects it)'),
    play: node(
      'play',
      {
        items: list('what is played, back to back'),
        bargeIn: Type.Optional(
          Type.Boolean({
            description:
              'a digit stops the playback and is kept for the next menu or collect (type-ahead); default false: digits pressed meanwhile are dropped',
          }),
        ),
        next: edge('after the playback'),
      },
      'plays prompts, speech, numbers, dates, amounts',
    ),
    collect: node(
      'collect',
      {
        prompt: Type.Optional(list('played first; a digit stops it')),
        var: VarName,
        min: Type.Optional(
          Type.Integer({
            minimum: 1,
            maximum: 64,
            default: 1,
            description: 'fewest digits; default 1, 1..64',
          }),
        ),
        max: Type.Optional(
          Type.Integer({
            minimum: 1,
            maximum: 64,
            default: 20,
            description: 'most digits: collection ends when reached; default 20, 1..64',
          }),
        ),
        timeoutMs: ms(1000, 60000, 5000, 'wait for the first digit'),
        interDigitMs: ms(500, 30000, 3000, 'wait for each further digit'),
        terminator: Type.Optional(
          Type.Union([Type.Literal('#'), Type.Literal('*'), Type.Literal('')], {
            default: '#',
            description: 'the digit that ends the input (not kept); "" for none; default "#"',
          }),
        ),
        next: edge('at least `min` digits were collected'),
        onTimeout: edge(
          'fewer than `min` digits when the wait ran out or the terminator came (the variable keeps them)',
        ),
      },
      'collects digits into a variable',
    ),
    menu: node(
      'menu',
      {
        prompt: list('the menu announcement; a digit stops it'),
        choices: Type.Record(Type.String(), NodeId, {
          description: 'digit (0-9, *, #) -> the node it leads to',
        }),
        var: Type.Optional(varName('keeps the digit chosen')),
        timeoutMs: ms(1000, 60000, 5000, 'wait for a digit after the announcement'),
        retries: Type.Optional(
          Type.Integer({
            minimum: 0,
            maximum: 9,
            default: 2,
            description:
              'times the menu is offered again after an invalid digit or no digit; default 2, 0..9',
          }),
        ),
        invalidPrompt: Type.Optional(
          list('played after a digit that is no choice, before the menu is offered again'),
        ),
        timeoutPrompt: Type.Optional(
          list('played when no digit came, before the menu is offered again'),
        ),
        onInvalid: edge('the last try was an invalid digit'),
        onTimeout: edge('the last try brought no digit'),
      },
      'a menu: one digit chooses the next node',
    ),
    branch: node(
      'branch',
      {
        cases: Type.Array(
          Type.Object({ when: condition, next: NodeId }, { additionalProperties: false }),
          {
            minItems: 1,
            maxItems: 50,
            description: 'tried in order: the first that holds is taken',
          },
        ),
        else: edge('no case holds'),
      },
      'chooses the next node by a variable, the time or the caller',
    ),
    set: node(
      'set',
      {
        vars: Type.Record(Type.String(), template('the new value'), {
          description: 'variable name -> value; set in the order written',
        }),
        next: edge('after setting'),
      },
      'sets variables',
    ),
    http: node(
      'http',
      {
        method: Type.Optional(
          Type.Union(
            HTTP_METHODS.map((m) => Type.Literal(m)),
            {
              default: 'GET',
              description: 'default GET',
            },
          ),
        ),
        url: template('http:// or https:// URL; variables inserted here are URL-encoded', 2000),
        headers: Type.Optional(
          Type.Record(
            Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }),
            template('header value', 1000),
            {
              description: 'request headers',
            },
          ),
        ),
        body: Type.Optional(template('request body, sent as is', 16000)),
        contentType: Type.Optional(
          Type.String({ maxLength: 100, description: 'of the body; default application/json' }),
        ),
        timeoutMs: ms(100, 30000, 5000, 'the whole exchange (connect, answer, body)'),
        map: Type.Optional(
          Type.Record(Type.String(), Type.String({ maxLength: 200 }), {
            description:
              'variable -> JSON path into the answer ($.customer.name, $.items[0].id); a path that finds nothing sets ""',
          }),
        ),
        statusVar: Type.Optional(varName('keeps the HTTP status (0: no answer)')),
        next: edge('a 2xx answer (JSON when `map` is given)'),
        onError: edge(
          'no answer in time, a network error, a status other than 2xx, or JSON that does not parse',
        ),
      },
      'asks a web service, maps its JSON answer to variables',
    ),
    record: node(
      'record',
      {
        var: varName('gets the path of the recorded file'),
        maxMs: ms(1000, 3600000, 60000, 'longest recording'),
        silenceMs: ms(0, 60000, 3000, 'stop after this much silence (0: never)'),
        stopDigits: Type.Optional(digitSet('digits that stop the recording; default "#"')),
        beep: Type.Optional(
          Type.Boolean({ default: true, description: 'a beep first; default true' }),
        ),
        next: edge('after the recording'),
      },
      'records what the caller says into a file',
    ),
    voicemail: node(
      'voicemail',
      {
        mailbox: template('the mailbox (digits, letters, "_", "-" after templating)', 40),
        greeting: Type.Optional(list('played first; a digit skips it')),
        maxMs: ms(1000, 600000, 120000, 'longest message'),
        silenceMs: ms(0, 60000, 5000, 'the message ends after this much silence (0: never)'),
        beep: Type.Optional(
          Type.Boolean({ default: true, description: 'a beep first; default true' }),
        ),
        next: edge('after the message was stored'),
      },
      'takes a voicemail message for a mailbox',
    ),
    transfer: node(
      'transfer',
      {
        to: target,
        next: edge('after a returning flow, or when the transfer failed and there is no onFail'),
        onFail: edge('the number or queue did not take the call, or the flow does not exist'),
      },
      'hands the call to a number, a queue or another flow',
    ),
    conference: node(
      'conference',
      {
        room: template(
          'the conference room (1-64 letters, digits, "_", "-", "." after templating)',
          64,
        ),
        muted: Type.Optional(
          Type.Boolean({ description: 'the caller only listens; default false' }),
        ),
        leaveDigits: Type.Optional(
          digitSet(
            'digits that leave the room and take `next`; default none (stay until hanging up)',
            1,
          ),
        ),
        maxMs: ms(60000, 86400000, 14400000, 'longest stay in the room (then `next`)'),
        next: edge('the caller pressed a leave digit or the stay ran out'),
      },
      'puts the caller into a conference room',
    ),
    hangup: node(
      'hangup',
      {
        cause: Type.Optional(
          Type.Integer({
            minimum: 1,
            maximum: 127,
            default: 16,
            description: 'Q.850 cause; default 16 NORMAL_CLEARING',
          }),
        ),
      },
      'clears the call',
    ),
  };
}

/** The node kinds with exact variant schemas (the API's and the UI's JSON Schema). */
export const NODE_KINDS = nodeSchemas(PlayItem, Condition, TransferTarget);
export type NodeType = keyof typeof NODE_KINDS;
export const NODE_TYPES = Object.keys(NODE_KINDS) as NodeType[];

export const FlowNode = Type.Union(Object.values(NODE_KINDS));
export type FlowNode = Static<typeof FlowNode>;
export type NodeOf<T extends NodeType> = Extract<FlowNode, { type: T }>;

/** Most nodes in one flow. */
export const MAX_NODES = 500;

/** The whole flow document, as stored, served and edited. */
export const FlowDoc = Type.Object(
  {
    name: FlowName,
    description: Type.Optional(Type.String({ maxLength: 500 })),
    lang: Type.Optional(
      Type.Union(
        FLOW_LANGS.map((l) => Type.Literal(l)),
        { default: 'en', description: 'prompt set and speaking rules; default en' },
      ),
    ),
    start: NodeId,
    variables: Type.Optional(
      Type.Record(Type.String(), Type.String({ maxLength: 2000 }), {
        description:
          "the flow's variables and their starting values; a variable read but never set in this flow must be declared here",
      }),
    ),
    nodes: Type.Record(Type.String(), FlowNode, {
      maxProperties: MAX_NODES,
      description: `node id -> node; at most ${MAX_NODES}`,
    }),
  },
  { additionalProperties: false, title: 'IVR flow' },
);
export type FlowDoc = Static<typeof FlowDoc>;
