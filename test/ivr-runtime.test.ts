// SPDX-License-Identifier: GPL-2.0-or-later
// The flow interpreter against a scripted caller: menus, collection, branches, web requests, recordings, transfers, guards.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: flow templates are written ${var}, as installers write them

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { LegMediaCommand } from '../src/calls/manager.ts';
import { type FlowLogEntry, runFlow } from '../src/ivr/runtime.ts';
import type { FlowDoc } from '../src/ivr/schema.ts';
import type { ActiveFlow } from '../src/ivr/validate.ts';
import { active, FakeCall, fakeServices, flow, type Reaction } from './helpers/ivr.ts';

/** Presses `digits` during the n-th play command (0-based) the flow sends. */
function onPlay(plays: Record<number, string>): Reaction {
  let n = 0;
  return (cmd, c) => {
    if (cmd.op !== 'play') return;
    const digits = plays[n++];
    if (digits) c.press(digits);
  };
}

/** The prompt names of each play, from the fake services' paths (/p/en/name.wav). */
function names(call: FakeCall): string[] {
  return call.played.map((files) =>
    files.map((f) => f.replace(/^\/p\/[a-z]+\//, '').replace(/\.wav$/, '')).join(' '),
  );
}

function edges(log: FlowLogEntry[]): string[] {
  return log.map((e) => `${e.node}:${String(e.output.end ?? e.output.edge ?? e.type)}`);
}

const MENU: FlowDoc = flow({
  welcome: { type: 'play', items: [{ prompt: 'welcome' }], bargeIn: true, next: 'main' },
  main: {
    type: 'menu',
    prompt: [{ prompt: 'main-menu' }],
    choices: { '1': 'sales', '2': 'support' },
    var: 'choice',
    retries: 2,
    invalidPrompt: [{ prompt: 'invalid' }],
    timeoutPrompt: [{ prompt: 'no-input' }],
    onInvalid: 'toomany',
    onTimeout: 'nobody',
  },
  sales: { type: 'play', items: [{ prompt: 'sales' }] },
  support: { type: 'play', items: [{ prompt: 'support' }] },
  toomany: { type: 'hangup', cause: 21 },
  nobody: { type: 'hangup', cause: 18 },
});

describe('ivr runtime: menus', () => {
  it('walks a menu by DTMF to the branch chosen, answering first and starting detection once', async () => {
    const call = new FakeCall(onPlay({ 1: '2' }));
    const r = await runFlow(call, active(MENU), fakeServices(call));
    assert.equal(r.end, 'end');
    assert.equal(r.cause, 16);
    assert.equal(call.answers, 1);
    assert.deepEqual(names(call), ['welcome', 'main-menu', 'support']);
    assert.equal(call.ops().filter((op) => op === 'detect').length, 1);
    assert.deepEqual(edges(r.log), ['welcome:next', 'main:choices.2', 'support:end']);
    assert.deepEqual(r.log[1]?.input, { tries: ['2'] });
    assert.equal(r.vars.choice, '2');
    assert.deepEqual(
      r.log.map((e) => e.seq),
      [1, 2, 3],
    );
  });

  it('takes a digit typed during the welcome (type-ahead): the menu prompt is not played', async () => {
    const call = new FakeCall(onPlay({ 0: '1' }));
    const r = await runFlow(call, active(MENU), fakeServices(call));
    assert.deepEqual(names(call), ['welcome', 'sales']);
    assert.equal(r.log[0]?.input.reason, 'bargeIn');
    assert.deepEqual(edges(r.log), ['welcome:next', 'main:choices.1', 'sales:end']);
  });

  it('drops digits pressed during a prompt without barge-in', async () => {
    const doc = structuredClone(MENU) as FlowDoc & { nodes: Record<string, { bargeIn?: boolean }> };
    (doc.nodes.welcome as { bargeIn?: boolean }).bargeIn = false;
    // The digit during welcome is lost; the caller presses 1 during the menu prompt.
    const call = new FakeCall(onPlay({ 0: '2', 1: '1' }));
    const r = await runFlow(call, active(doc), fakeServices(call));
    assert.deepEqual(names(call), ['welcome', 'main-menu', 'sales']);
    assert.deepEqual(r.log[1]?.input, { tries: ['1'] });
  });

  it('offers the menu again after an invalid digit, then leaves by onInvalid when retries run out', async () => {
    // Wrong digits during each menu prompt: 7, then 8 9 (9 is flushed as the rest of a mistake), then 5.
    const call = new FakeCall(onPlay({ 1: '7', 3: '89', 5: '5' }));
    const r = await runFlow(call, active(MENU), fakeServices(call));
    assert.deepEqual(names(call), [
      'welcome',
      'main-menu',
      'invalid',
      'main-menu',
      'invalid',
      'main-menu',
    ]);
    assert.deepEqual(r.log[1]?.input, { tries: ['7', '8', '5'] });
    assert.equal(r.end, 'hangup');
    assert.equal(r.cause, 21);
    assert.deepEqual(edges(r.log), ['welcome:next', 'main:onInvalid', 'toomany:hangup']);
  });

  it('plays the timeout prompt between tries and leaves by onTimeout when nobody presses', async () => {
    const call = new FakeCall();
    const svc = fakeServices(call);
    const r = await runFlow(call, active(MENU), svc);
    assert.deepEqual(names(call), [
      'welcome',
      'main-menu',
      'no-input',
      'main-menu',
      'no-input',
      'main-menu',
    ]);
    assert.deepEqual(r.log[1]?.input, { tries: ['timeout', 'timeout', 'timeout'] });
    assert.equal(r.cause, 18);
    // Three waits of timeoutMs (default 5000) on the virtual clock.
    assert.equal(r.log[1]?.ms, 15000);
  });

  it('with retries 0, the first wrong digit leaves', async () => {
    const doc = flow({
      m: {
        type: 'menu',
        prompt: [{ prompt: 'm' }],
        choices: { '1': 'x' },
        retries: 0,
        onInvalid: 'bad',
      },
      x: { type: 'hangup' },
      bad: { type: 'hangup', cause: 28 },
    });
    const call = new FakeCall(onPlay({ 0: '4' }));
    const r = await runFlow(call, active(doc), fakeServices(call));
    assert.equal(r.cause, 28);
    assert.deepEqual(names(call), ['m']);
  });
});

describe('ivr runtime: collect', () => {
  const COLLECT = flow({
    ask: {
      type: 'collect',
      prompt: [{ prompt: 'enter-account' }],
      var: 'account',
      min: 4,
      max: 8,
      next: 'ok',
      onTimeout: 'short',
    },
    ok: { type: 'play', items: [{ digits: '${account}' }] },
    short: { type: 'hangup', cause: 28 },
  });

  it('collects digits up to the terminator, which is not kept', async () => {
    const call = new FakeCall(onPlay({ 0: '12345#9' }));
    const r = await runFlow(call, active(COLLECT), fakeServices(call));
    assert.equal(r.vars.account, '12345');
    assert.deepEqual(r.log[0]?.input, { digits: '12345', ended: 'terminator' });
    assert.equal(r.log[0]?.output.edge, 'next');
    assert.deepEqual(names(call), [
      'enter-account',
      'digits/1 digits/2 digits/3 digits/4 digits/5',
    ]);
  });

  it('stops at max digits without waiting for a terminator', async () => {
    const call = new FakeCall(onPlay({ 0: '1234567890' }));
    const r = await runFlow(call, active(COLLECT), fakeServices(call));
    assert.equal(r.vars.account, '12345678');
    assert.deepEqual(r.log[0]?.input, { digits: '12345678', ended: 'max' });
  });

  it('ends on the inter-digit timeout with enough digits (next) and with too few (onTimeout)', async () => {
    let call = new FakeCall(onPlay({ 0: '4321' }));
    let r = await runFlow(call, active(COLLECT), fakeServices(call));
    assert.deepEqual(r.log[0]?.input, { digits: '4321', ended: 'timeout' });
    assert.equal(r.log[0]?.output.edge, 'next');
    // Inter-digit wait default 3000 ms after the 4th digit.
    assert.equal(r.log[0]?.ms, 3000);

    call = new FakeCall(onPlay({ 0: '12' }));
    r = await runFlow(call, active(COLLECT), fakeServices(call));
    assert.equal(r.log[0]?.output.edge, 'onTimeout');
    assert.equal(r.vars.account, '12');
    assert.equal(r.cause, 28);

    call = new FakeCall();
    r = await runFlow(call, active(COLLECT), fakeServices(call));
    assert.deepEqual(r.log[0]?.input, { digits: '', ended: 'timeout' });
    assert.equal(r.log[0]?.ms, 5000);
    assert.equal(r.log[0]?.output.edge, 'onTimeout');
  });
});

describe('ivr runtime: branch, set and templates', () => {
  const office = {
    name: 'office',
    timezone: 'Asia/Shanghai',
    hours: [
      {
        days: ['mon', 'tue', 'wed', 'thu', 'fri'] as ('mon' | 'tue' | 'wed' | 'thu' | 'fri')[],
        from: '09:00',
        to: '18:00',
      },
    ],
  };

  async function branch(when: object, o: { calling?: string; vars?: Record<string, string> } = {}) {
    const doc = flow(
      {
        b: { type: 'branch', cases: [{ when: when as never, next: 'yes' }], else: 'no' },
        yes: { type: 'hangup', cause: 16 },
        no: { type: 'hangup', cause: 17 },
      },
      { variables: { n: '', code: '', ...o.vars } },
    );
    const call = new FakeCall(undefined, o.calling ? { calling: o.calling } : {});
    const svc = fakeServices(call, { timeConditions: [office] });
    const r = await runFlow(call, active(doc), svc);
    return r.cause === 16;
  }

  it('branches on a variable: eq, ne, lt, gt, in, matches, pattern', async () => {
    assert.equal(await branch({ var: 'n', eq: '5' }, { vars: { n: '5' } }), true);
    assert.equal(await branch({ var: 'n', eq: '5' }, { vars: { n: '6' } }), false);
    assert.equal(await branch({ var: 'n', ne: '5' }, { vars: { n: '6' } }), true);
    assert.equal(await branch({ var: 'n', lt: '10' }, { vars: { n: '9' } }), true);
    assert.equal(await branch({ var: 'n', lt: '10' }, { vars: { n: '10' } }), false);
    assert.equal(await branch({ var: 'n', gt: '10' }, { vars: { n: '100' } }), true);
    // Not a number: neither smaller nor greater.
    assert.equal(await branch({ var: 'n', lt: '10' }, { vars: { n: 'abc' } }), false);
    assert.equal(await branch({ var: 'n', lt: '10' }, { vars: { n: '' } }), false);
    assert.equal(await branch({ var: 'n', in: ['a', 'b'] }, { vars: { n: 'b' } }), true);
    assert.equal(
      await branch({ var: 'code', matches: '^VIP-' }, { vars: { code: 'VIP-7' } }),
      true,
    );
    assert.equal(
      await branch({ var: 'code', pattern: '_1[3-9]X.' }, { vars: { code: '1391' } }),
      true,
    );
    assert.equal(
      await branch({ var: 'code', pattern: '_1[3-9]X.' }, { vars: { code: '1201' } }),
      false,
    );
    // Compared with another variable through a template.
    assert.equal(await branch({ var: 'n', eq: '${code}' }, { vars: { n: 'x', code: 'x' } }), true);
  });

  it('branches on time: a named time condition, an inline window in its own zone', async () => {
    // The virtual clock starts Monday 2024-03-04 10:00 in Shanghai (Sunday 21:00 in New York).
    assert.equal(await branch({ time: 'office' }), true);
    const window = (timezone: string) => ({
      time: { timezone, hours: [{ days: ['mon'], from: '09:00', to: '17:00' }] },
    });
    assert.equal(await branch(window('Asia/Shanghai')), true);
    assert.equal(await branch(window('America/New_York')), false);
    // A condition removed from the configuration since: it does not hold.
    assert.equal(await branch({ time: 'gone' }), false);
  });

  it('branches on the caller and the number called', async () => {
    assert.equal(await branch({ calling: '_139X.' }, { calling: '13912345678' }), true);
    assert.equal(await branch({ calling: '_139X.' }, { calling: '13812345678' }), false);
    assert.equal(await branch({ called: '95588' }), true);
  });

  it('sets variables from templates and speaks them; lang switches the prompt set', async () => {
    const doc = flow(
      {
        s: {
          type: 'set',
          vars: { greeting: 'hi ${who}, caller ${calling}', lang: 'zh', n: '${count}' },
          next: 'p',
        },
        p: {
          type: 'play',
          items: [
            { tts: '${greeting}' },
            { number: '${n}' },
            { amount: '12.05' },
            { date: 'now', format: 'time' },
          ],
        },
      },
      { variables: { who: 'Li', count: '15' } },
    );
    const call = new FakeCall();
    const r = await runFlow(call, active(doc), fakeServices(call));
    assert.equal(r.vars.greeting, 'hi Li, caller 13912345678');
    assert.deepEqual(r.log[0]?.output.vars, {
      greeting: 'hi Li, caller 13912345678',
      lang: 'zh',
      n: '15',
    });
    const files = call.played[0] as string[];
    assert.equal(files[0], '/tts/zh/hi Li, caller 13912345678.wav');
    assert.ok(
      files.every((f, i) => i === 0 || f.startsWith('/p/zh/')),
      files.join(' '),
    );
    // 十五, then 十二元零五分 (a zero jiao is said between yuan and fen), then 上午十点.
    assert.deepEqual(
      files.slice(1).map((f) => f.replace(/^\/p\/zh\//, '').replace(/\.wav$/, '')),
      [
        'digits/10',
        'digits/5',
        'digits/10',
        'digits/2',
        'currency/cny',
        'digits/0',
        'digits/5',
        'currency/cny-fen',
        'digits/a-m',
        'digits/10',
        'dates/hour',
      ],
    );
  });

  it('leaves out a prompt that went missing, logs it, and goes on', async () => {
    const doc = flow({
      p: {
        type: 'play',
        items: [{ prompt: 'gone' }, { prompt: 'here' }, { number: 'abc' }],
        next: 'q',
      },
      q: { type: 'play', items: [{ prompt: 'gone' }], next: 'r' },
      r: { type: 'hangup' },
    });
    const call = new FakeCall();
    const svc = fakeServices(call, { missing: ['gone'] });
    const r = await runFlow(call, active(doc), svc);
    assert.deepEqual(names(call), ['here']);
    const missing = r.log[0]?.output.missing as string[];
    assert.equal(missing.length, 2);
    assert.match(missing[0] as string, /^\[0\] E_PROMPT_MISSING: /);
    assert.match(missing[1] as string, /^\[2\] E_SAY_INPUT: /);
    // Both in the controller log too; the second play, all missing, played nothing.
    assert.equal(svc.warnings.length, 3);
    assert.deepEqual(edges(r.log), ['p:next', 'q:next', 'r:hangup']);
    assert.equal(r.end, 'hangup');
  });
});

describe('ivr runtime: http', () => {
  let server: Server;
  let base: string;
  const sockets = new Set<Socket>();
  const seen: { url: string; method: string; body: string; headers: IncomingMessage['headers'] }[] =
    [];
  let onHang: (() => void) | undefined;

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        seen.push({ url: req.url ?? '', method: req.method ?? '', body, headers: req.headers });
        if (req.url?.startsWith('/accounts/')) {
          res.setHeader('content-type', 'application/json');
          res.end(
            JSON.stringify({
              customer: { name: 'Li Lei', vip: true },
              balance: 12.5,
              items: [{ id: 'a1' }],
            }),
          );
        } else if (req.url === '/fail') {
          res.statusCode = 500;
          res.end('{"error":"down"}');
        } else if (req.url === '/text') {
          res.end('not json');
        } else if (req.url === '/hang') {
          onHang?.();
          // Never answers: the flow's timeout must end the wait.
        } else {
          res.statusCode = 404;
          res.end();
        }
      });
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address() as { port: number };
    base = `http://127.0.0.1:${addr.port}`;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  function httpFlow(url: string, extra: object = {}): FlowDoc {
    return flow(
      {
        h: {
          type: 'http',
          url,
          timeoutMs: 400,
          map: {
            name: '$.customer.name',
            vip: '$.customer.vip',
            first: '$.items[0].id',
            none: '$.nope',
          },
          statusVar: 'status',
          next: 'ok',
          onError: 'err',
          ...extra,
        },
        ok: { type: 'hangup', cause: 16 },
        err: { type: 'hangup', cause: 41 },
      },
      { variables: { account: 'a/b 7' } },
    );
  }

  it('maps a JSON answer to variables; variables in the URL are encoded', async () => {
    const call = new FakeCall();
    const r = await runFlow(
      call,
      active(httpFlow(`${base}/accounts/\${account}?from=\${calling}`)),
      fakeServices(call),
    );
    assert.equal(r.cause, 16);
    assert.deepEqual(r.log[0]?.output.vars, {
      status: '200',
      name: 'Li Lei',
      vip: 'true',
      first: 'a1',
      none: '',
    });
    assert.equal(r.log[0]?.input.status, 200);
    assert.equal(seen.at(-1)?.url, '/accounts/a%2Fb%207?from=13912345678');
    // A web request needs no answered call.
    assert.equal(call.answers, 0);
  });

  it('sends a POST body with its content type and headers', async () => {
    const call = new FakeCall();
    const doc = httpFlow(`${base}/accounts/x`, {
      method: 'POST',
      body: '{"caller":"${calling}"}',
      headers: { 'x-token': 'k-${account}' },
    });
    await runFlow(call, active(doc), fakeServices(call));
    const req = seen.at(-1);
    assert.equal(req?.method, 'POST');
    assert.equal(req?.body, '{"caller":"13912345678"}');
    assert.equal(req?.headers['content-type'], 'application/json');
    assert.equal(req?.headers['x-token'], 'k-a/b 7');
  });

  it('takes onError on a 500, keeping the status', async () => {
    const call = new FakeCall();
    const r = await runFlow(call, active(httpFlow(`${base}/fail`)), fakeServices(call));
    assert.equal(r.cause, 41);
    assert.equal(r.end, 'hangup');
    assert.equal(r.log[0]?.output.edge, 'onError');
    assert.equal(r.log[0]?.output.error, 'HTTP status 500');
    assert.equal(r.vars.status, '500');
  });

  it('takes onError when the answer is not JSON', async () => {
    const call = new FakeCall();
    const r = await runFlow(call, active(httpFlow(`${base}/text`)), fakeServices(call));
    assert.equal(r.log[0]?.output.error, 'the answer is not JSON');
    assert.equal(r.log[0]?.output.edge, 'onError');
  });

  it('takes onError when the server never answers, and the call goes on', async () => {
    const call = new FakeCall();
    const r = await runFlow(call, active(httpFlow(`${base}/hang`)), fakeServices(call));
    assert.equal(r.log[0]?.output.edge, 'onError');
    assert.equal(r.log[0]?.output.error, 'no answer within 400 ms');
    assert.equal(r.vars.status, '0');
    assert.deepEqual(edges(r.log), ['h:onError', 'err:hangup']);
  });

  it('takes onError when nothing listens', async () => {
    const call = new FakeCall();
    const r = await runFlow(call, active(httpFlow('http://127.0.0.1:1/x')), fakeServices(call));
    assert.equal(r.log[0]?.output.edge, 'onError');
    assert.equal(typeof r.log[0]?.output.error, 'string');
  });

  it('stops waiting when the caller hangs up during the request', async () => {
    const call = new FakeCall();
    onHang = () => call.hangup();
    const doc = httpFlow(`${base}/hang`, { timeoutMs: 30000 });
    const r = await runFlow(call, active(doc), fakeServices(call));
    onHang = undefined;
    assert.equal(r.end, 'aborted');
    assert.deepEqual(r.log[0]?.output, { aborted: true });
  });
});

describe('ivr runtime: record, voicemail, conference', () => {
  it('records into the file the services name, after a beep, and keeps its path', async () => {
    const doc = flow({
      rec: { type: 'record', var: 'note', maxMs: 30000, silenceMs: 2000, next: 'p' },
      p: { type: 'play', items: [{ prompt: 'thanks' }] },
    });
    const call = new FakeCall((cmd, c) => {
      if (cmd.op === 'record') c.press('#');
    });
    const r = await runFlow(call, active(doc), fakeServices(call));
    assert.equal(r.vars.note, '/rec/b00t-1-rec.wav');
    const rec = call.commands.find((c) => c.op === 'record') as Extract<
      LegMediaCommand,
      { op: 'record' }
    >;
    assert.deepEqual(rec, {
      op: 'record',
      file: '/rec/b00t-1-rec.wav',
      maxMs: 30000,
      silenceMs: 2000,
      stopDigits: '#',
    });
    assert.deepEqual(call.ops(), ['detect', 'tone', 'record', 'play']);
    assert.deepEqual(r.log[0]?.input, { reason: 'dtmf', ms: 1800, digit: '#' });
    assert.equal(call.answers, 1);
  });

  it('takes a voicemail: greeting, beep, message stored with the caller and length', async () => {
    const doc = flow(
      {
        vm: {
          type: 'voicemail',
          mailbox: 'box-${dept}',
          greeting: [{ prompt: 'leave-message' }],
          beep: true,
          next: 'bye',
        },
        bye: { type: 'hangup' },
      },
      { variables: { dept: 'sales' } },
    );
    // A digit skips the greeting; it does not also end the message.
    const call = new FakeCall(onPlay({ 0: '1' }));
    const svc = fakeServices(call);
    const r = await runFlow(call, active(doc), svc);
    assert.equal(svc.voicemails.length, 1);
    const m = svc.voicemails[0];
    assert.equal(m?.mailbox, 'box-sales');
    assert.equal(m?.file, '/vm/box-sales/b00t-1.wav');
    assert.equal(m?.calling, '13912345678');
    assert.equal(m?.ms, 2500);
    assert.deepEqual(r.log[0]?.input, { reason: 'silence', ms: 2500 });
    assert.deepEqual(call.ops(), ['detect', 'play', 'tone', 'record']);
  });

  it('keeps a voicemail message when the caller hangs up instead of pressing #', async () => {
    const doc = flow({
      vm: { type: 'voicemail', mailbox: 'main', beep: false, next: 'bye' },
      bye: { type: 'hangup' },
    });
    const call = new FakeCall((cmd, c) => {
      if (cmd.op === 'record') c.hangup();
    });
    const svc = fakeServices(call);
    const r = await runFlow(call, active(doc), svc);
    assert.equal(r.end, 'aborted');
    assert.deepEqual(
      svc.voicemails.map((m) => [m.mailbox, m.file, m.ms]),
      [['main', '/vm/main/b00t-1.wav', 3100]],
    );
    assert.deepEqual(r.log[0]?.input, { reason: 'released', ms: 3100 });
    assert.equal(r.log.length, 1);
  });

  it('joins a conference room and leaves it on the leave digit', async () => {
    const doc = flow(
      {
        c: { type: 'conference', room: 'room-${n}', leaveDigits: '*', next: 'bye' },
        bye: { type: 'play', items: [{ prompt: 'bye' }] },
      },
      { variables: { n: '42' } },
    );
    const call = new FakeCall((cmd, c) => {
      if (cmd.op === 'confJoin') c.press('5*');
    });
    const r = await runFlow(call, active(doc), fakeServices(call));
    assert.deepEqual(call.commands.slice(0, 3), [
      { op: 'detect', dtmf: true },
      { op: 'confJoin', conference: 'room-42', talk: true },
      { op: 'confLeave' },
    ]);
    assert.deepEqual(r.log[0]?.input, { left: 'digit', digit: '*' });
    assert.deepEqual(edges(r.log), ['c:next', 'bye:end']);
  });

  it('leaves a conference when the longest stay runs out', async () => {
    const doc = flow({ c: { type: 'conference', room: 'r', muted: true, maxMs: 60000 } });
    const call = new FakeCall();
    const r = await runFlow(call, active(doc), fakeServices(call));
    assert.deepEqual(call.commands, [
      { op: 'confJoin', conference: 'r', talk: false },
      { op: 'confLeave' },
    ]);
    assert.deepEqual(r.log[0]?.input, { left: 'maxMs' });
    assert.equal(r.log[0]?.ms, 60000);
  });
});

describe('ivr runtime: transfers', () => {
  it('runs another flow inside the call and comes back to next', async () => {
    const sub = active(
      {
        name: 'pin',
        start: 'ask',
        nodes: {
          ask: { type: 'collect', var: 'pin', max: 4, next: 'mark', onTimeout: 'mark' },
          mark: { type: 'set', vars: { checked: 'yes' } },
        },
      },
      3,
    );
    const main = active(
      flow(
        {
          hello: { type: 'play', items: [{ prompt: 'hello' }], next: 't' },
          t: { type: 'transfer', to: { flow: 'pin', return: true }, next: 'after' },
          after: { type: 'play', items: [{ tts: 'pin ${pin} ${checked}' }] },
        },
        { variables: { checked: 'no', pin: '' } },
      ),
    );
    const call = new FakeCall((cmd, c) => {
      if (cmd.op === 'detect') c.press('4321');
    });
    const r = await runFlow(call, main, fakeServices(call, { flows: new Map([['pin', sub]]) }));
    assert.deepEqual(
      r.log.map((e) => `${e.flow}@${e.version}:${e.node}`),
      ['test@1:hello', 'test@1:t', 'pin@3:ask', 'pin@3:mark', 'test@1:after'],
    );
    assert.deepEqual(r.log[1]?.output, { flow: 'pin', version: 3, return: true });
    assert.deepEqual(call.played.at(-1), ['/tts/en/pin 4321 yes.wav']);
    assert.equal(r.end, 'end');
  });

  it('a transfer without return hands the call to the other flow for good', async () => {
    const other = active(
      { name: 'other', start: 'h', nodes: { h: { type: 'hangup', cause: 31 } } },
      2,
    );
    const main = active(
      flow({
        t: { type: 'transfer', to: { flow: 'other' }, next: 'never' },
        never: { type: 'hangup', cause: 16 },
      }),
    );
    const call = new FakeCall();
    const r = await runFlow(call, main, fakeServices(call, { flows: new Map([['other', other]]) }));
    assert.equal(r.cause, 31);
    assert.deepEqual(edges(r.log), ['t:transfer', 'h:hangup']);
  });

  it('takes onFail for a flow that does not exist', async () => {
    const main = active(
      flow({
        t: { type: 'transfer', to: { flow: 'ghost', return: true }, next: 'n', onFail: 'f' },
        n: { type: 'hangup', cause: 16 },
        f: { type: 'hangup', cause: 3 },
      }),
    );
    const call = new FakeCall();
    const svc = fakeServices(call);
    const r = await runFlow(call, main, svc);
    assert.equal(r.cause, 3);
    assert.equal(r.log[0]?.output.error, 'there is no flow "ghost"');
    assert.equal(svc.warnings.length, 1);
  });

  it('ends the flow when a number takes the call, goes on when it does not', async () => {
    const doc = flow(
      {
        t: { type: 'transfer', to: { number: '${target}' }, onFail: 'q' },
        q: { type: 'transfer', to: { queue: 'support' }, next: 'sorry' },
        sorry: { type: 'play', items: [{ prompt: 'sorry' }] },
      },
      { variables: { target: '8001' } },
    );
    let call = new FakeCall();
    let svc = fakeServices(call, { transfer: () => ({ result: 'bridged', cause: 16 }) });
    let r = await runFlow(call, active(doc), svc);
    assert.equal(r.end, 'transferred');
    assert.deepEqual(svc.transfers, ['8001']);
    assert.deepEqual(svc.queues, []);

    call = new FakeCall();
    svc = fakeServices(call, { transfer: () => ({ result: 'failed', cause: 17 }) });
    r = await runFlow(call, active(doc), svc);
    assert.deepEqual(edges(r.log), ['t:onFail', 'q:next', 'sorry:end']);
    assert.deepEqual(r.log[0]?.input, { result: 'failed', cause: 17 });
    assert.deepEqual(svc.queues, ['support']);

    call = new FakeCall();
    svc = fakeServices(call, { queue: () => ({ result: 'served' }) });
    r = await runFlow(call, active(doc), svc);
    assert.equal(r.end, 'transferred');
    assert.deepEqual(edges(r.log), ['t:onFail', 'q:transferred']);
  });

  it('takes onFail for a number that is not a number after templating', async () => {
    const doc = flow(
      {
        t: { type: 'transfer', to: { number: '${target}' }, onFail: 'f' },
        f: { type: 'hangup', cause: 28 },
      },
      { variables: { target: 'abc' } },
    );
    const call = new FakeCall();
    const svc = fakeServices(call);
    const r = await runFlow(call, active(doc), svc);
    assert.equal(r.cause, 28);
    assert.deepEqual(svc.transfers, []);
  });
});

describe('ivr runtime: guards', () => {
  it('ends a call whose flows hand it to each other without ever waiting (cause 41, logged)', async () => {
    const a = active({
      name: 'a',
      start: 's',
      nodes: {
        s: { type: 'set', vars: { x: '1' }, next: 't' },
        t: { type: 'transfer', to: { flow: 'b' } },
      },
    });
    const b = active({
      name: 'b',
      start: 's',
      nodes: {
        s: { type: 'set', vars: { y: '1' }, next: 't' },
        t: { type: 'transfer', to: { flow: 'a' } },
      },
    });
    const call = new FakeCall();
    const svc = fakeServices(call, {
      flows: new Map([
        ['a', a],
        ['b', b],
      ]),
    });
    const r = await runFlow(call, a, svc, { maxInstantSteps: 50 });
    assert.equal(r.end, 'guard');
    assert.equal(r.cause, 41);
    const last = r.log.at(-1) as FlowLogEntry;
    assert.equal(last.type, 'guard');
    assert.equal(r.log.length, 51);
    assert.match(String(last.output.error), /^50 steps in a row took no time/);
    assert.equal(svc.errors.length, 1);
  });

  it('ends a call on a stored flow with an instant loop (made before the check existed)', async () => {
    // Not through compileFlow: an old flow object that the static check would refuse today.
    const doc = flow({
      a: { type: 'set', vars: { n: '1' }, next: 'b' },
      b: { type: 'answer', next: 'a' },
    });
    const old = Object.freeze({ name: 'old', version: 1, doc }) as unknown as ActiveFlow;
    const call = new FakeCall();
    const r = await runFlow(call, old, fakeServices(call));
    assert.equal(r.end, 'guard');
    assert.equal(r.cause, 41);
    assert.equal(r.log.length, 201);
  });

  it('does not trip on a long flow that waits between instant steps', async () => {
    const doc = flow({
      m: {
        type: 'menu',
        prompt: [{ prompt: 'm' }],
        choices: { '1': 's' },
        retries: 0,
        onTimeout: 'end',
      },
      s: { type: 'set', vars: { n: '1' }, next: 'm' },
      end: { type: 'hangup' },
    });
    let presses = 0;
    const call = new FakeCall((cmd, c) => {
      if (cmd.op === 'play' && presses++ < 300) c.press('1');
    });
    const r = await runFlow(call, active(doc), fakeServices(call), { maxInstantSteps: 10 });
    assert.equal(r.end, 'hangup');
    assert.equal(r.log.length, 602);
  });

  it('does not wait for ever for a playDone that never comes', async () => {
    const call = new FakeCall();
    call.stuckPlays = true;
    const doc = flow({
      p: { type: 'play', items: [{ prompt: 'x' }], next: 'q' },
      q: { type: 'hangup' },
    });
    const svc = fakeServices(call);
    const r = await runFlow(call, active(doc), svc, { mediaTimeoutMs: 1000 });
    assert.equal(r.end, 'failed');
    assert.equal(r.cause, 41);
    assert.match(String(r.log[0]?.output.error), /did not report play 1 over within 1000 ms/);
    assert.deepEqual(call.ops(), ['play', 'stop']);
  });

  it('stops at once when the caller hangs up during a menu, without releasing the call', async () => {
    const call = new FakeCall((cmd, c, i) => {
      if (cmd.op === 'play' && i === 2) c.hangup();
    });
    const r = await runFlow(call, active(MENU), fakeServices(call));
    assert.equal(r.end, 'aborted');
    assert.equal(call.releasedWith, undefined);
    assert.deepEqual(r.log.at(-1)?.output, { aborted: true });
  });

  it('fails the call with cause 41 when the engine refuses a command', async () => {
    const call = new FakeCall();
    call.media = async () => {
      throw new Error('E_CHANNEL_BUSY: connected through the time-slot switch');
    };
    const r = await runFlow(call, active(MENU), fakeServices(call));
    assert.equal(r.end, 'failed');
    assert.equal(r.cause, 41);
    assert.equal(r.log.length, 1);
  });
});
