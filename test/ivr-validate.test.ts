// SPDX-License-Identifier: GPL-2.0-or-later
// Flow validation: every refusal names the node and field; instant loops are found; checked flows are frozen.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: flow templates are written ${var}, as installers write them

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSwitchboardError } from '../src/core/errors.ts';
import type { FieldError } from '../src/core/schema.ts';
import { compileFlow, type FlowContext, validateFlow } from '../src/ivr/validate.ts';
import { flow, sampleFlow } from './helpers/ivr.ts';

type SampleNode =
  | 'hours'
  | 'closed'
  | 'answer'
  | 'welcome'
  | 'main'
  | 'account'
  | 'lookup'
  | 'saybalance'
  | 'agent'
  | 'conf'
  | 'message'
  | 'recording'
  | 'mark'
  | 'bye';
type Loose = Record<string, unknown>;

/** A mutable copy of the sample for a test to break. */
function sample(): Loose & { nodes: Record<SampleNode, Loose> & Record<string, Loose> } {
  return sampleFlow() as unknown as Loose & {
    nodes: Record<SampleNode, Loose> & Record<string, Loose>;
  };
}

function lines(errors: FieldError[]): string[] {
  return errors.map((e) => `${e.path}: ${e.message}`);
}

const everything: FlowContext = {
  promptExists: (name) => !name.startsWith('missing'),
  flowExists: (name) => name === 'other',
  queueExists: (name) => name === 'support',
  timeConditionExists: (name) => name === 'office',
};

describe('flow validation', () => {
  it('accepts a flow using every node kind, against every check', () => {
    const ok: FlowContext = { ...everything, promptExists: () => true };
    assert.deepEqual(validateFlow(sampleFlow(), ok), []);
  });

  it('names the node and field of a schema error', () => {
    const doc = sample();
    (doc.nodes.main as Record<string, unknown>).timeoutMs = 90000;
    (doc.nodes.account as Record<string, unknown>).colour = 'red';
    doc.nodes.bye = { type: 'hangup', cause: 200 };
    doc.nodes.weird = { type: 'teleport' };
    doc.nodes.main.choices = { '1': 'account', x: 'bye' };
    const got = lines(validateFlow(doc));
    assert.ok(got.includes('nodes.main.timeoutMs: must be at most 60000'), got.join('\n'));
    assert.ok(got.includes('nodes.account.colour: is not a known field'), got.join('\n'));
    assert.ok(got.includes('nodes.bye.cause: must be at most 127'), got.join('\n'));
    assert.ok(
      got.some((l) => l.startsWith('nodes.weird.type: must be "answer", "play"')),
      got.join('\n'),
    );
    assert.ok(
      got.includes('nodes.main.choices.x: "x" is not a digit (0-9, * or #)'),
      got.join('\n'),
    );
  });

  it('checks play items, transfer targets and conditions by their own fields', () => {
    const doc = sample();
    doc.nodes.welcome.items = [
      { prompt: 'welcome', tts: 'hello' },
      { say: 'x' },
      { tts: 'hi', voice: 'no spaces allowed' },
      { prompt: '../etc/passwd' },
    ];
    doc.nodes.agent.to = { number: '123', queue: 'support' };
    doc.nodes.hours.cases = [
      { when: { var: 'account', eq: '1', ne: '2' }, next: 'answer' },
      { when: { var: 'account', matches: '([' }, next: 'answer' },
      { when: { calling: '_1[9-3]' }, next: 'answer' },
      {
        when: {
          time: {
            timezone: 'Mars/Olympus',
            hours: [{ days: ['mon'], from: '09:00', to: '17:00' }],
          },
        },
        next: 'answer',
      },
    ];
    const got = lines(validateFlow(doc));
    const want = [
      'nodes.welcome.items[0]: must have only one of prompt, tts',
      'nodes.welcome.items[1]: must have one of prompt, tts, number, digits, date or amount',
      'nodes.agent.to: must have only one of number, queue',
      'nodes.hours.cases[0].when: has eq and ne: one operator per condition (add a case for each)',
      'nodes.hours.cases[2].when.calling: "_1[9-3]": range 9-3 runs backwards',
      'nodes.hours.cases[3].when.time.timezone: "Mars/Olympus" is not an IANA time zone',
    ];
    for (const w of want) assert.ok(got.includes(w), `${w}\n--- got:\n${got.join('\n')}`);
    assert.ok(
      got.some((l) => l.startsWith('nodes.welcome.items[2].voice: ')),
      got.join('\n'),
    );
    assert.ok(
      got.some((l) => l.startsWith('nodes.welcome.items[3].prompt: must be a prompt name')),
      got.join('\n'),
    );
    assert.ok(
      got.some((l) =>
        l.startsWith('nodes.hours.cases[1].when.matches: is not a regular expression'),
      ),
      got.join('\n'),
    );
  });

  it('refuses edges to nodes that do not exist, naming the edge', () => {
    const doc = sample();
    doc.nodes.main.choices = { '1': 'account', '2': 'nope' };
    doc.nodes.lookup.onError = 'gone';
    doc.nodes.hours.cases = [{ when: { time: 'office' }, next: 'nowhere' }];
    doc.start = 'begin';
    const got = lines(validateFlow(doc));
    for (const w of [
      'nodes.main.choices.2: goes to node "nope", which does not exist',
      'nodes.lookup.onError: goes to node "gone", which does not exist',
      'nodes.hours.cases[0].next: goes to node "nowhere", which does not exist',
      'start: goes to node "begin", which does not exist',
    ])
      assert.ok(got.includes(w), `${w}\n--- got:\n${got.join('\n')}`);
  });

  it('refuses nodes that cannot be reached from start', () => {
    const doc = sample();
    doc.nodes.island = { type: 'play', items: [{ prompt: 'x' }], next: 'bye' };
    doc.nodes.main.choices = { '1': 'account', '2': 'agent', '9': 'message' };
    const got = lines(validateFlow(doc));
    assert.ok(got.includes('nodes.island: is not reachable from start "hours"'), got.join('\n'));
    // conf and recording (and mark after it) lost their only way in.
    assert.ok(got.includes('nodes.conf: is not reachable from start "hours"'), got.join('\n'));
    assert.ok(got.includes('nodes.mark: is not reachable from start "hours"'), got.join('\n'));
    assert.ok(!got.some((l) => l.startsWith('nodes.bye:')), got.join('\n'));
  });

  it('refuses a loop of nodes that take no time, naming the nodes in it', () => {
    const doc = flow({
      a: { type: 'set', vars: { n: '1' }, next: 'b' },
      b: { type: 'branch', cases: [{ when: { var: 'n', eq: '1' }, next: 'c' }], else: 'd' },
      c: { type: 'answer', next: 'a' },
      d: { type: 'hangup' },
    });
    assert.deepEqual(lines(validateFlow(doc)), [
      'nodes.a: is in a loop of nodes that neither play, wait for input nor record (a -> b -> c -> a): the call would spin without end',
    ]);
    const self = flow({ s: { type: 'set', vars: { n: '1' }, next: 's' } });
    assert.deepEqual(lines(validateFlow(self)), [
      'nodes.s: is in a loop of nodes that neither play, wait for input nor record (s -> s): the call would spin without end',
    ]);
  });

  it('accepts loops that wait for the caller (a menu, a play, an http request)', () => {
    const doc = flow({
      m: {
        type: 'menu',
        prompt: [{ prompt: 'm' }],
        choices: { '1': 's' },
        onTimeout: 'm',
        onInvalid: 'm',
      },
      s: { type: 'set', vars: { n: '1' }, next: 'h' },
      h: { type: 'http', url: 'http://x/', next: 'b', onError: 'b' },
      b: { type: 'branch', cases: [{ when: { var: 'n', eq: '1' }, next: 's' }], else: 'm' },
    });
    assert.deepEqual(validateFlow(doc), []);
  });

  it('refuses prompts, flows, queues and time conditions the switch does not have', () => {
    const doc = sample();
    doc.nodes.welcome.items = [{ prompt: 'missing-welcome' }];
    doc.nodes.agent.to = { queue: 'sales' };
    doc.nodes.conf = { type: 'transfer', to: { flow: 'nosuch', return: true }, next: 'main' };
    doc.nodes.hours.cases = [{ when: { time: 'weekend' }, next: 'answer' }];
    const ctx: FlowContext = {
      ...everything,
      promptExists: (name) => !name.startsWith('missing') && !name.startsWith('currency/'),
    };
    const got = lines(validateFlow(doc, ctx));
    for (const w of [
      'nodes.welcome.items[0].prompt: prompt "missing-welcome" is not in the en prompt set',
      'nodes.saybalance.items[1].currency: prompt "currency/cny" is not in the en prompt set',
      'nodes.agent.to.queue: there is no queue "sales"',
      'nodes.conf.to.flow: there is no flow "nosuch"',
      'nodes.hours.cases[0].when.time: there is no time condition "weekend" in the configuration',
    ])
      assert.ok(got.includes(w), `${w}\n--- got:\n${got.join('\n')}`);
    // Without the callbacks (the store's structural check), names outside the flow pass.
    assert.deepEqual(validateFlow(doc), []);
  });

  it('refuses bad templates, unknown variables and writing what the switch sets', () => {
    const doc = sample();
    doc.nodes.lookup.url = 'https://crm.example/${account';
    doc.nodes.mark.vars = { calling: '123', noted: '${nosuch}', lang: 'zh' };
    doc.nodes.hours.cases = [{ when: { var: 'ghost', eq: '1' }, next: 'answer' }];
    const got = lines(validateFlow(doc));
    for (const w of [
      'nodes.lookup.url: "${" at position 21 is never closed with "}"',
      'nodes.mark.vars.calling: calling is set by the switch and cannot be changed',
      'nodes.mark.vars.noted: reads variable "nosuch", which no node sets and "variables" does not declare',
      'nodes.hours.cases[0].when.var: "ghost" is a variable no node sets and "variables" does not declare',
    ])
      assert.ok(got.includes(w), `${w}\n--- got:\n${got.join('\n')}`);
    assert.ok(!got.some((l) => l.startsWith('nodes.mark.vars.lang')), 'lang may be set');
  });

  it('refuses a collect whose min is above its max, and a bad JSON path', () => {
    const doc = sample();
    doc.nodes.account.min = 8;
    doc.nodes.account.max = 4;
    doc.nodes.lookup.map = { balance: '$.items[*].x' };
    const got = lines(validateFlow(doc));
    assert.ok(got.includes('nodes.account.min: 8 is more than max (4)'), got.join('\n'));
    assert.ok(
      got.some((l) => l.startsWith('nodes.lookup.map.balance: "$.items[*].x": position 8')),
      got.join('\n'),
    );
  });

  it('answers errors, not exceptions, for input that is no flow at all', () => {
    assert.deepEqual(lines(validateFlow(null)), ['(top level): must be a mapping']);
    const got = lines(validateFlow({ name: 'x y', nodes: [] }));
    assert.ok(
      got.includes('name: must be a name of 1-40 letters, digits, "_", "." or "-"'),
      got.join('\n'),
    );
    assert.ok(got.includes('start: is required'), got.join('\n'));
    assert.ok(got.includes('nodes: must be a mapping'), got.join('\n'));
    const bad = lines(
      validateFlow({ name: 'x', start: 'a', nodes: { '1a': { type: 'hangup' }, a: 5 } }),
    );
    assert.ok(
      bad.some((l) => l.startsWith('nodes.1a: "1a" is not a node id')),
      bad.join('\n'),
    );
    assert.ok(bad.includes('nodes.a: must be a mapping with a type'), bad.join('\n'));
  });

  it('compiles a sound flow into a frozen copy and refuses a broken one with every error', () => {
    const doc = sampleFlow();
    const f = compileFlow(doc, 4);
    assert.equal(f.version, 4);
    assert.equal(f.name, 'hotline');
    assert.ok(Object.isFrozen(f.doc.nodes.main));
    assert.throws(() => {
      (f.doc.nodes.bye as { cause?: number }).cause = 17;
    }, TypeError);
    // The caller's document is not the frozen one.
    (doc.nodes.bye as { cause?: number }).cause = 17;
    assert.equal((f.doc.nodes.bye as { cause?: number }).cause, undefined);
    const broken = sample();
    broken.start = 'nope';
    assert.throws(
      () => compileFlow(broken, 1),
      (err) =>
        isSwitchboardError(err, 'E_FLOW_INVALID') &&
        (err.details as FieldError[]).some((e) => e.path === 'start'),
    );
  });
});
