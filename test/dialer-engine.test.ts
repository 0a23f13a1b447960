// SPDX-License-Identifier: GPL-2.0-or-later
// The dialer engine on a fake port and a virtual clock: a 500-contact broadcast to the expected counts, windows, DNC, pacing modes, states.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Contact } from '../src/dialer/contacts.ts';
import { type AgentPool, Dialer, type PlaceRequest } from '../src/dialer/dialer.ts';
import type { AgentCounts } from '../src/dialer/pacing.ts';
import type { CampaignDoc } from '../src/dialer/schema.ts';
import { DialerStore } from '../src/dialer/store.ts';
import { openDb } from '../src/store/db.ts';
import { FakePort, type Scripted, VirtualClock } from './helpers/dialer.ts';
import { logSink } from './helpers/scripted-engine.ts';

const WEEKDAYS: CampaignDoc['windows'][number]['days'] = ['mon', 'tue', 'wed', 'thu', 'fri'];

function broadcastDoc(extra: Partial<CampaignDoc> = {}): CampaignDoc {
  return {
    name: 'notice',
    mode: 'broadcast',
    flow: 'notice-flow',
    timezone: 'Asia/Shanghai',
    windows: [
      { days: WEEKDAYS, from: '09:00', to: '12:00' },
      { days: WEEKDAYS, from: '13:00', to: '18:00' },
    ],
    maxChannels: 2,
    amd: { enabled: true, onMachine: 'hangup' },
    ...extra,
  };
}

function contacts(n: number, zoneOf: (i: number) => string | undefined = () => undefined) {
  return Array.from({ length: n }, (_, i): Contact => {
    const zone = zoneOf(i);
    return {
      row: i + 2,
      number: `138${String(i).padStart(8, '0')}`,
      name: `contact ${i}`,
      ...(zone === undefined ? {} : { timezone: zone }),
      vars: { account: `A${i}` },
    };
  });
}

/**
 * The far ends, by the number's last digit and the attempt:
 * 0-2 confirm with #, 3 presses 1, 4 listens without a key (the flow says notified),
 * 5 busy then confirms, 6 never answers, 7 is a machine, 8 does not exist (Cause 1),
 * 9 congestion twice, then confirms.
 */
function farEnd(req: PlaceRequest): Scripted {
  const digit = Number(req.number.at(-1));
  const human = (keypress?: string, result?: 'notified'): Scripted => ({
    result: {
      answered: true,
      cause: 16,
      amd: 'human',
      ...(keypress === undefined ? {} : { keypress }),
      ...(result === undefined ? {} : { result }),
    },
    answerMs: 10_000,
    durationMs: 40_000,
  });
  switch (digit) {
    case 0:
    case 1:
    case 2:
      return human('#');
    case 3:
      return human('1');
    case 4:
      return human(undefined, 'notified');
    case 5:
      return req.attempt === 1
        ? { result: { answered: false, cause: 17 }, durationMs: 5_000 }
        : human('#');
    case 6:
      return { result: { answered: false, cause: 19 }, durationMs: 30_000 };
    case 7:
      return {
        result: { answered: true, cause: 16, amd: 'machine' },
        answerMs: 8_000,
        durationMs: 12_000,
      };
    case 8:
      return { result: { answered: false, cause: 1 }, durationMs: 3_000 };
    default:
      return req.attempt <= 2
        ? { result: { answered: false, cause: 34 }, durationMs: 2_000 }
        : human('#');
  }
}

/** Local weekday and minutes of an instant, straight from Intl (independent of the dialer's code). */
function local(ms: number, zone: string): { day: string; minutes: number } {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(ms);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return {
    day: get('weekday').toLowerCase().slice(0, 3),
    minutes: (Number(get('hour')) % 24) * 60 + Number(get('minute')),
  };
}

function insideWindows(doc: CampaignDoc, ms: number, zone: string): boolean {
  const t = local(ms, zone);
  return doc.windows.some((w) => {
    const from = Number(w.from.slice(0, 2)) * 60 + Number(w.from.slice(3));
    const to = Number(w.to.slice(0, 2)) * 60 + Number(w.to.slice(3));
    return (w.days as string[]).includes(t.day) && t.minutes >= from && t.minutes < to;
  });
}

async function runUntil(clock: VirtualClock, done: () => boolean, limit: number): Promise<void> {
  while (!done() && clock.ms < limit) {
    const next = clock.next();
    if (next === undefined) break;
    await clock.advanceTo(next);
  }
}

function setup(start: string, channels: number, script: (req: PlaceRequest) => Scripted) {
  const clock = new VirtualClock(start);
  const store = new DialerStore(openDb(':memory:'), clock.now);
  const port = new FakePort(clock, channels, script);
  const { log, lines } = logSink();
  return { clock, store, port, log, lines };
}

describe('dialer: a 500-contact broadcast', () => {
  it('ends with exactly the expected outcomes and results, inside the windows, never calling DNC numbers', async () => {
    // Friday 16:30 in Shanghai: the campaign runs into the weekend and finishes on Monday.
    const { clock, store, port, log } = setup('2024-01-05T08:30:00Z', 30, farEnd);
    const dialer = new Dialer({ store, port, log, now: clock.now, timers: clock, tickMs: 5000 });
    const doc = broadcastDoc();
    dialer.create(doc);
    const list = contacts(500, (i) => (i % 7 === 3 ? 'Europe/London' : undefined));
    assert.deepEqual(dialer.addContacts('notice', list), { added: 500, duplicates: [] });
    // Ten numbers, one of each last digit, barred as people write them.
    const barred = [
      '+86 138 0000 0000',
      '8613800000001',
      ...list.slice(2, 10).map((c) => c.number),
    ];
    assert.equal(dialer.addDnc(barred, 'asked not to be called'), 10);
    dialer.start('notice');
    dialer.run();
    const state = () => store.campaign('notice')?.state;
    await runUntil(
      clock,
      () => port.up === 0 && state() === 'done',
      Date.parse('2024-01-12T00:00:00Z'),
    );
    dialer.close();
    assert.equal(state(), 'done');

    const m = dialer.monitor().find((c) => c.name === 'notice');
    assert.ok(m);
    // 49 contacts per last digit are called (the 50th is on the DNC list).
    assert.deepEqual(m.outcomes, {
      human: 49 * 7, // 0-4, and 5 and 9 in the end
      machine: 49 * 2, // 7: first try and its one retry
      abandoned: 0,
      busy: 49, // 5, once
      no_answer: 49 * 3, // 6: first try and two retries
      congestion: 49 * 2, // 9, twice
      invalid_number: 49, // 8
      refused: 0,
      failed: 0,
    });
    assert.deepEqual(m.results, {
      success: 49 * 5, // 0, 1, 2, 5, 9
      notified: 49, // 4
      refused: 49, // 3
      failed: 49 * 2, // 6, 7
      wrong_number: 49, // 8
    });
    assert.deepEqual(m.contacts, { pending: 0, dialing: 0, done: 500 });
    assert.equal(m.skipped.dnc, 10);
    assert.equal(m.attempts, 49 * (10 + 6));
    assert.equal(port.placed.length, 49 * 16);
    assert.equal(port.peak, 2, 'maxChannels 2: never more calls up');

    // Nobody barred was dialled; everybody else the number of times the rule says.
    const barredNumbers = new Set(list.slice(0, 10).map((c) => c.number));
    const perNumber = new Map<string, number[]>();
    for (const p of port.placed) {
      assert.equal(barredNumbers.has(p.req.number), false, `${p.req.number} is on the DNC list`);
      const times = perNumber.get(p.req.number) ?? [];
      times.push(p.at);
      perNumber.set(p.req.number, times);
      assert.equal(p.req.attempt, times.length, 'attempts are numbered 1, 2, 3 per contact');
    }
    const expectedTries = [1, 1, 1, 1, 1, 2, 3, 2, 1, 3];
    for (const c of list.slice(10))
      assert.equal(perNumber.get(c.number)?.length, expectedTries[Number(c.number.at(-1))]);

    // Every call started inside the windows in Shanghai, and in London for London's contacts;
    // retries no earlier than their interval.
    const zoneOf = new Map(list.map((c) => [c.number, c.timezone]));
    let london = 0;
    let weekend = false;
    for (const p of port.placed) {
      assert.ok(insideWindows(doc, p.at, 'Asia/Shanghai'), `${new Date(p.at).toISOString()}`);
      const zone = zoneOf.get(p.req.number);
      if (zone) {
        london++;
        assert.ok(
          insideWindows(doc, p.at, zone),
          `${p.req.number} at ${new Date(p.at).toISOString()} in ${zone}`,
        );
      }
      if (local(p.at, 'Asia/Shanghai').day === 'mon') weekend = true;
    }
    assert.ok(london > 0);
    assert.ok(weekend, 'the campaign went on after the weekend');
    for (const [number, times] of perNumber) {
      const gap = { 5: 10, 6: 30, 7: 120, 9: 5 }[Number(number.at(-1))];
      for (let i = 1; i < times.length; i++)
        assert.ok((times[i] as number) - (times[i - 1] as number) >= (gap as number) * 60_000);
    }

    // The result lists export with the contacts' variables.
    const csv = dialer.exportResults('notice', 'success');
    assert.ok(csv.startsWith('\uFEFF'), 'a byte-order mark, for Excel');
    const success = csv.trim().split('\n');
    assert.equal(success.length, 1 + 49 * 5);
    assert.match(
      success[0] as string,
      /^row,number,name,result,outcome,attempts,last_attempt,cause,keypress,agent,reason,account$/,
    );
    const wrong = dialer.exportResults('notice', 'wrong_number').trim().split('\n');
    assert.equal(wrong.length, 1 + 49);
    assert.match(wrong[1] as string, /^\d+,138\d{7}8,contact \d+,wrong_number,invalid_number,1,/);
  });

  it('keeps to maxChannels and to the channels the port has free', async () => {
    const { clock, store, port, log } = setup('2024-01-08T01:00:00Z', 3, farEnd);
    const dialer = new Dialer({ store, port, log, now: clock.now, timers: clock });
    dialer.create(broadcastDoc({ maxChannels: 10 }));
    dialer.addContacts('notice', contacts(30));
    dialer.start('notice');
    dialer.run();
    await clock.advanceTo(clock.ms + 600_000);
    dialer.close();
    assert.equal(port.peak, 3, 'three channels free on the route, never more calls');
    assert.ok(port.placed.length > 3);
  });
});

describe('dialer: campaigns side by side', () => {
  it('share free channels fairly, one call each in turn', () => {
    const { clock, store, port, log } = setup('2024-01-08T01:00:00Z', 10, () => ({
      result: { answered: true, cause: 16, keypress: '#' },
      durationMs: 60_000,
    }));
    const dialer = new Dialer({ store, port, log, now: clock.now, timers: clock });
    for (const name of ['alpha', 'beta', 'gamma']) {
      dialer.create(broadcastDoc({ name, maxChannels: 30 }));
      dialer.addContacts(name, contacts(20));
    }
    dialer.start('alpha');
    dialer.start('beta');
    dialer.start('gamma');
    const by = (name: string) => port.placed.filter((p) => p.req.campaign.name === name).length;
    // alpha started alone and took every channel; now three share what frees up.
    assert.equal(by('alpha'), 10);
    port.up = 1; // nine channels come free (their calls were elsewhere)
    dialer.tick();
    assert.deepEqual([by('alpha') - 10, by('beta'), by('gamma')].sort(), [3, 3, 3]);
  });
});

describe('dialer: states', () => {
  it('start, pause, resume, stop follow the state table; a wrong command names the state', () => {
    const { clock, store, port, log } = setup('2024-01-08T01:00:00Z', 2, farEnd);
    const dialer = new Dialer({ store, port, log, now: clock.now, timers: clock });
    dialer.create(broadcastDoc());
    dialer.addContacts('notice', contacts(10));
    assert.throws(() => dialer.pause('notice'), {
      code: 'E_CAMPAIGN_STATE',
      message: /it is draft/,
    });
    dialer.start('notice');
    assert.equal(port.placed.length, 2);
    dialer.pause('notice');
    port.up = 0;
    dialer.tick();
    assert.equal(port.placed.length, 2, 'paused: no new calls');
    dialer.update(broadcastDoc({ maxChannels: 4 }));
    assert.equal(store.campaign('notice')?.doc.maxChannels, 4, 'a paused campaign may change');
    dialer.resume('notice');
    assert.equal(port.placed.length, 4);
    assert.throws(() => dialer.update(broadcastDoc()), { code: 'E_CAMPAIGN_STATE' });
    dialer.stop('notice');
    assert.throws(() => dialer.resume('notice'), { code: 'E_CAMPAIGN_STATE', message: /stopped/ });
    assert.throws(() => dialer.start('nope'), { code: 'E_CAMPAIGN_UNKNOWN' });
    assert.throws(() => dialer.create(broadcastDoc()), { code: 'E_CAMPAIGN_EXISTS' });
    assert.throws(() => dialer.create({ ...broadcastDoc({ name: 'x' }), flow: undefined }), {
      code: 'E_CAMPAIGN_FIELD',
      message: /flow: is required/,
    });
    assert.throws(() => dialer.setPacing('notice', { channelShare: 0 }), {
      code: 'E_CAMPAIGN_FIELD',
      message: /pacing\.channelShare/,
    });
    assert.throws(() => dialer.exportResults('notice', 'maybe' as 'success'), {
      code: 'E_CAMPAIGN_FIELD',
    });
  });

  it('a progressive campaign needs an agent pool', () => {
    const { clock, store, port, log } = setup('2024-01-08T01:00:00Z', 2, farEnd);
    const dialer = new Dialer({ store, port, log, now: clock.now, timers: clock });
    dialer.create(broadcastDoc({ name: 'sales', mode: 'progressive', agentGroup: 'sales' }));
    assert.throws(() => dialer.start('sales'), {
      code: 'E_CAMPAIGN_STATE',
      message: /no agent pool/,
    });
  });
});

/** Agents for the dialer's AgentPool: a fixed number ready, previews answered by a rule. */
class Agents implements AgentPool {
  ready = 0;
  busy = 0;
  readonly previews: { agent: string; number: string }[] = [];
  readonly reserved = new Set<string>();
  #n = 0;
  constructor(
    ready: number,
    readonly decide: (number: string) => 'accept' | 'skip' = () => 'accept',
  ) {
    this.ready = ready;
  }
  counts(_group: string): AgentCounts {
    return { ready: this.ready, busy: this.busy };
  }
  reserve(_group: string): string | undefined {
    if (this.ready === 0) return undefined;
    this.ready--;
    this.busy++;
    const a = `agent-${++this.#n}`;
    this.reserved.add(a);
    return a;
  }
  release(agent: string): void {
    if (this.reserved.delete(agent)) {
      this.ready++;
      this.busy--;
    }
  }
  preview(agent: string, contact: { number: string }) {
    this.previews.push({ agent, number: contact.number });
    return Promise.resolve(this.decide(contact.number));
  }
}

describe('dialer: agent modes', () => {
  it('progressive: ready agents x ratio calls ringing, no more', () => {
    const { clock, store, port, log } = setup('2024-01-08T01:00:00Z', 30, farEnd);
    const agents = new Agents(3);
    const dialer = new Dialer({ store, port, agents, log, now: clock.now, timers: clock });
    dialer.create(
      broadcastDoc({
        name: 'sales',
        mode: 'progressive',
        agentGroup: 'sales',
        maxChannels: 30,
        pacing: { progressiveRatio: 2 },
      }),
    );
    dialer.addContacts('sales', contacts(40));
    dialer.start('sales');
    assert.equal(port.placed.length, 6);
    dialer.tick();
    assert.equal(port.placed.length, 6, 'still ringing: nothing more');
    agents.ready = 4;
    dialer.tick();
    assert.equal(port.placed.length, 8);
  });

  it('preview: each agent sees a contact first; accepted ones are called with that agent, skipped ones wait', async () => {
    const { clock, store, port, log } = setup('2024-01-08T01:00:00Z', 30, farEnd);
    const agents = new Agents(2, (n) => (n.endsWith('1') ? 'skip' : 'accept'));
    const dialer = new Dialer({
      store,
      port,
      agents,
      log,
      now: clock.now,
      timers: clock,
      previewSkipMs: 3_600_000,
    });
    dialer.create(broadcastDoc({ name: 'care', mode: 'preview', agentGroup: 'care' }));
    dialer.addContacts('care', contacts(4));
    dialer.start('care');
    await clock.settle();
    assert.deepEqual(
      agents.previews.map((p) => p.number),
      ['13800000000', '13800000001', '13800000002'],
      'the skipping agent is given the next contact',
    );
    assert.deepEqual(
      port.placed.map((p) => [p.req.number, p.req.agent]),
      [
        ['13800000000', 'agent-1'],
        ['13800000002', 'agent-3'],
      ],
    );
    const m = dialer.monitor()[0];
    assert.deepEqual(
      m?.calls.map((c) => [c.number, c.state, c.agent]),
      [
        ['13800000000', 'dialing', 'agent-1'],
        ['13800000002', 'dialing', 'agent-3'],
      ],
    );
  });
});

describe('dialer: predictive', () => {
  it('starts one call per ready agent, learns from answers, and shows its ratio', async () => {
    const { clock, store, port, log } = setup('2024-01-08T01:00:00Z', 60, (req) =>
      Number(req.number.at(-1)) % 2 === 0
        ? {
            result: { answered: true, cause: 16, amd: 'human' },
            answerMs: 8_000,
            durationMs: 90_000,
          }
        : { result: { answered: false, cause: 19 }, durationMs: 30_000 },
    );
    const agents = new Agents(4);
    const dialer = new Dialer({ store, port, agents, log, now: clock.now, timers: clock });
    dialer.create(
      broadcastDoc({ name: 'sales', mode: 'predictive', agentGroup: 'sales', maxChannels: 60 }),
    );
    dialer.addContacts('sales', contacts(200));
    dialer.start('sales');
    assert.equal(port.placed.length, 4, 'nothing measured yet: as cautious as progressive 1:1');
    dialer.run();
    await clock.advanceTo(clock.ms + 20 * 60_000);
    dialer.close();
    const m = dialer.monitor()[0];
    assert.ok(m);
    assert.equal(m.mode, 'predictive');
    assert.equal(typeof m.ratio, 'number');
    assert.ok(m.outcomes.human > 0 && m.outcomes.no_answer > 0);
    assert.ok(port.placed.length > 40, `${port.placed.length} calls in 20 minutes for 4 agents`);
    assert.ok(port.peak <= 60);
  });
});
