// SPDX-License-Identifier: GPL-2.0-or-later
// The router: blacklists, every inbound matching dimension, manipulation order, caller ID masks, hunting and failover causes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FAILOVER_CAUSES } from '../src/calls/cause.ts';
import type { InboundRoute, OutboundRoute, SwitchConfig } from '../src/config/schema.ts';
import { isSwitchboardError } from '../src/core/errors.ts';
import { compileManipulation } from '../src/routing/numbers.ts';
import {
  applyMask,
  failoverCause,
  manipulate,
  Router,
  type TrunkState,
  type TrunkStateView,
} from '../src/routing/router.ts';
import { switchConfig } from './helpers/switch-config.ts';

/** A Monday, 10:00 in Shanghai (02:00 UTC). */
const MONDAY_10 = new Date('2024-03-04T02:00:00Z');
/** The same Monday, 20:00 in Shanghai. */
const MONDAY_20 = new Date('2024-03-04T12:00:00Z');

const ivr = (flow: string) => ({ type: 'ivr' as const, flow });

function router(extra: Partial<SwitchConfig>): Router {
  return new Router(switchConfig(extra));
}

function inboundRoutes(...routes: InboundRoute[]): Partial<SwitchConfig> {
  return { routes: { inbound: routes } };
}

/** Every trunk up with free channels and no call, except those given. */
function view(overrides: Record<string, Partial<TrunkState> | undefined> = {}): TrunkStateView {
  return {
    get: (trunk) =>
      trunk in overrides
        ? overrides[trunk] === undefined
          ? undefined
          : { up: true, freeChannels: 30, callsUp: 0, ...overrides[trunk] }
        : { up: true, freeChannels: 30, callsUp: 0 },
  };
}

const call = (over: Partial<{ trunk: string; called: string; calling: string }> = {}) => ({
  trunk: 'pri1',
  called: '95588',
  calling: '075512345678',
  ...over,
});

/** The name of the route an inbound call takes, or the decision kind. */
function routeOf(r: Router, c: ReturnType<typeof call>, now = MONDAY_10): string {
  const d = r.inbound(c, now);
  return d.kind === 'route' ? d.route.name : d.kind;
}

describe('router: inbound', () => {
  it('checks the inbound blacklist on the calling number before any route', () => {
    const r = router({
      blacklists: {
        inbound: [{ number: '_1700XXXXXXX', note: 'virtual operator' }, { number: '110' }],
      },
      ...inboundRoutes({ name: 'all', destination: ivr('main') }),
    });
    assert.deepEqual(r.inbound(call({ calling: '17001234567' }), MONDAY_10), {
      kind: 'blocked',
      entry: { number: '_1700XXXXXXX', note: 'virtual operator' },
    });
    assert.deepEqual(r.inbound(call({ calling: '110' }), MONDAY_10), {
      kind: 'blocked',
      entry: { number: '110' },
    });
    // The blacklist is on the calling number only: a blacklisted called number routes.
    assert.equal(routeOf(r, call({ called: '110', calling: '13800138000' })), 'all');
  });

  it('takes the first route in order whose trunks (names or groups) include the trunk', () => {
    const r = router(
      inboundRoutes(
        { name: 'from-network', trunks: ['network'], destination: ivr('a') },
        { name: 'from-pri3', trunks: ['pri3'], destination: ivr('b') },
        { name: 'from-carrierA', trunks: ['carrierA'], destination: ivr('c') },
        { name: 'anywhere', destination: ivr('d') },
      ),
    );
    assert.equal(routeOf(r, call({ trunk: 'pri1' })), 'from-network');
    // pri3 is in carrierA too: the earlier route wins.
    assert.equal(routeOf(r, call({ trunk: 'pri3' })), 'from-pri3');
    assert.equal(routeOf(r, call({ trunk: 'pri2' })), 'from-carrierA');
    assert.equal(routeOf(r, call({ trunk: 'pri4' })), 'anywhere');
  });

  it('matches the called and the calling number against patterns', () => {
    const r = router(
      inboundRoutes(
        { name: 'vip', called: '95588', calling: '_139XXXXXXXX', destination: ivr('vip') },
        { name: 'service', called: '95588', destination: ivr('service') },
        { name: 'beijing-did', called: '_010XXXXXXXX', destination: ivr('bj') },
      ),
    );
    assert.equal(routeOf(r, call({ calling: '13912345678' })), 'vip');
    assert.equal(routeOf(r, call({ calling: '13812345678' })), 'service');
    assert.equal(routeOf(r, call({ called: '01062345678' })), 'beijing-did');
    assert.equal(routeOf(r, call({ called: '0106234567' })), 'none');
    assert.equal(routeOf(r, call({ called: '955880' })), 'none');
  });

  it('finds the caller region by the longest matching prefix over all regions', () => {
    const r = router({
      regions: [
        { name: 'mobile', prefixes: ['13', '15'] },
        { name: 'special-mobile', prefixes: ['1390'] },
        { name: 'shenzhen', prefixes: ['0755'] },
        { name: 'guangdong', prefixes: ['075', '020'] },
      ],
      ...inboundRoutes(
        { name: 'sz', regions: ['shenzhen'], destination: ivr('sz') },
        { name: 'gd', regions: ['guangdong'], destination: ivr('gd') },
        { name: 'special', regions: ['special-mobile'], destination: ivr('sp') },
        { name: 'mob', regions: ['mobile'], destination: ivr('mob') },
        { name: 'rest', destination: ivr('rest') },
      ),
    });
    assert.equal(r.regionOf('075512345678'), 'shenzhen');
    assert.equal(r.regionOf('075712345678'), 'guangdong');
    assert.equal(r.regionOf('13901234567'), 'special-mobile');
    assert.equal(r.regionOf('13800138000'), 'mobile');
    assert.equal(r.regionOf('4008123123'), undefined);
    assert.equal(routeOf(r, call({ calling: '075512345678' })), 'sz');
    assert.equal(routeOf(r, call({ calling: '02012345678' })), 'gd');
    assert.equal(routeOf(r, call({ calling: '13901234567' })), 'special');
    assert.equal(routeOf(r, call({ calling: '15012345678' })), 'mob');
    // No region at all: only routes without `regions` take the call.
    assert.equal(routeOf(r, call({ calling: '4008123123' })), 'rest');
    const d = r.inbound(call({ calling: '075512345678' }), MONDAY_10);
    assert.equal(d.kind === 'route' && d.region, 'shenzhen');
  });

  it('takes a route while its time condition is open, or closed, as the route asks', () => {
    const r = router({
      timeConditions: [
        {
          name: 'office',
          hours: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '18:00' }],
        },
      ],
      ...inboundRoutes(
        { name: 'day', time: { condition: 'office', when: 'open' }, destination: ivr('day') },
        { name: 'night', time: { condition: 'office', when: 'closed' }, destination: ivr('night') },
      ),
    });
    // The condition has no zone: system.timezone (Asia/Shanghai) decides.
    assert.equal(routeOf(r, call(), MONDAY_10), 'day');
    assert.equal(routeOf(r, call(), MONDAY_20), 'night');
  });

  it('manipulates both numbers: replace whole, then strip, then prefix', () => {
    const r = router(
      inboundRoutes({
        name: 'did',
        called: '_8XXX',
        called_manipulation: {
          replace: { match: '8001', with: '95588001' },
          strip: 2,
          prefix: '9',
        },
        calling_manipulation: { strip: 1, prefix: '+86' },
        destination: ivr('x'),
      }),
    );
    const d = r.inbound(call({ called: '8001', calling: '075512345678' }), MONDAY_10);
    assert.equal(d.kind, 'route');
    if (d.kind !== 'route') return;
    // replace first (8001 -> 95588001), strip 2 (588001), prefix 9 (9588001).
    assert.equal(d.called, '9588001');
    assert.equal(d.calling, '+8675512345678');
    // A number the replace pattern does not match is only stripped and prefixed.
    const other = r.inbound(call({ called: '8002' }), MONDAY_10);
    assert.equal(other.kind === 'route' && other.called, '902');
    assert.deepEqual(d.destination, ivr('x'));
  });

  it('says whether an overlap number could still grow into a route', () => {
    const r = router(
      inboundRoutes(
        { name: 'ext', trunks: ['phones'], called: '_2XX', destination: ivr('x') },
        { name: 'out', trunks: ['phones'], called: '_9.', destination: ivr('y') },
        { name: 'network-only', trunks: ['pri1'], called: '_5XXXX', destination: ivr('z') },
      ),
    );
    const ph = (called: string) => ({ trunk: 'phones', called, calling: '201' });
    assert.equal(r.wantsMoreDigits(ph(''), MONDAY_10), true);
    assert.equal(r.wantsMoreDigits(ph('2'), MONDAY_10), true);
    assert.equal(r.wantsMoreDigits(ph('20'), MONDAY_10), true);
    assert.equal(r.wantsMoreDigits(ph('201'), MONDAY_10), false);
    assert.equal(r.wantsMoreDigits(ph('9'), MONDAY_10), true);
    assert.equal(r.wantsMoreDigits(ph('912345'), MONDAY_10), true);
    // _5XXXX is only for pri1: on the phones trunk, 5 leads nowhere.
    assert.equal(r.wantsMoreDigits(ph('5'), MONDAY_10), false);
    assert.equal(r.wantsMoreDigits({ ...ph('5'), trunk: 'pri1' }, MONDAY_10), true);
  });

  it('refuses a configuration whose pattern does not compile, naming the field', () => {
    const config = switchConfig();
    config.routes = {
      inbound: [{ name: 'bad', called: '_12[3', destination: ivr('x') }],
    };
    assert.throws(
      () => new Router(config),
      (err) =>
        isSwitchboardError(err, 'E_CONFIG_FIELD') &&
        err.message.startsWith('routes.inbound[0].called: '),
    );
  });
});

describe('router: numbers', () => {
  it('manipulate: strip past the end leaves the prefix; no manipulation leaves the number', () => {
    assert.equal(manipulate('123', compileManipulation({ strip: 5, prefix: '0' })), '0');
    assert.equal(manipulate('123', undefined), '123');
    assert.equal(
      manipulate('110', compileManipulation({ replace: { match: '_11X', with: '' }, prefix: '9' })),
      '9',
    );
  });

  it('applyMask: X keeps the caller digit at that position, others replace it', () => {
    assert.equal(applyMask('075512345678', '0755XXXX0000'), '075512340000');
    assert.equal(applyMask('075512345678', 'XXXXXXXXXXXX'), '075512345678');
    assert.equal(applyMask('13800138000', '138****XXXX'), '138****8000');
    // A shorter caller number: an X past its end shows nothing.
    assert.equal(applyMask('12345', '0XXXXXXX'), '02345');
  });
});

const OUT: OutboundRoute[] = [
  {
    name: 'emergency',
    called: '_11[09]',
    trunkGroups: ['network'],
  },
  {
    name: 'agents-only',
    called: '_0XXXXXXXXXX',
    from: ['agents'],
    callerId: { number: '075588880000', presentation: 'allowed' },
    trunkGroups: ['carrierA', 'carrierB'],
  },
  {
    name: 'masked',
    called: '_1XXXXXXXXXX',
    called_manipulation: { prefix: '0' },
    calling_manipulation: { strip: 1 },
    callerId: { mask: 'XXXXXXX0000' },
    trunkGroups: ['rr'],
  },
  {
    name: 'withheld',
    called: '_0XXXXXXXXXX',
    callerId: { presentation: 'restricted' },
    trunkGroups: ['least'],
  },
  { name: 'named-only', called: '_8888', trunkGroups: ['carrierA'] },
];

function outRouter(extra: Partial<SwitchConfig> = {}): Router {
  return router({
    blacklists: { outbound: [{ number: '_1900X.', note: 'premium' }] },
    routes: { outbound: OUT },
    ...extra,
  });
}

describe('router: outbound', () => {
  it('checks the outbound blacklist on the called number first', () => {
    const r = outRouter();
    assert.deepEqual(r.outbound({ called: '19001234567' }, view(), MONDAY_10), {
      kind: 'blocked',
      entry: { number: '_1900X.', note: 'premium' },
    });
  });

  it('takes the first route whose called pattern matches and whose from includes the asker', () => {
    const r = outRouter();
    const agent = r.outbound(
      { from: 'agents', called: '02012345678', calling: '201' },
      view(),
      MONDAY_10,
    );
    assert.equal(agent.kind === 'route' && agent.route.name, 'agents-only');
    // Nobody named, or somebody else: the route with `from` is passed over.
    const anon = r.outbound({ called: '02012345678', calling: '201' }, view(), MONDAY_10);
    assert.equal(anon.kind === 'route' && anon.route.name, 'withheld');
    const ivrFlow = r.outbound({ from: 'ivr-main', called: '02012345678' }, view(), MONDAY_10);
    assert.equal(ivrFlow.kind === 'route' && ivrFlow.route.name, 'withheld');
    assert.deepEqual(r.outbound({ called: '7777' }, view(), MONDAY_10), { kind: 'none' });
  });

  it('a route named by the caller is used without its pattern or from list', () => {
    const r = outRouter();
    const plan = r.outbound(
      { called: '4001', route: 'named-only', from: 'pri1' },
      view(),
      MONDAY_10,
    );
    assert.equal(plan.kind === 'route' && plan.route.name, 'named-only');
    assert.deepEqual(r.outbound({ called: '4001', route: 'gone' }, view(), MONDAY_10), {
      kind: 'none',
    });
  });

  it('builds the caller ID: number replaces, mask overlays, presentation overrides', () => {
    const r = outRouter();
    const agent = r.outbound(
      { from: 'agents', called: '02012345678', calling: '201', presentation: 'restricted' },
      view(),
      MONDAY_10,
    );
    assert.ok(agent.kind === 'route');
    assert.equal(agent.calling, '075588880000');
    assert.equal(agent.presentation, 'allowed');
    // calling_manipulation (strip 1) first, then the mask over what is left.
    const masked = r.outbound(
      { called: '13800138000', calling: '075512345678' },
      view(),
      MONDAY_10,
    );
    assert.ok(masked.kind === 'route');
    assert.equal(masked.called, '013800138000');
    assert.equal(masked.calling, '75512340000');
    assert.equal(masked.presentation, undefined);
    const withheld = r.outbound({ called: '02012345678', calling: '201' }, view(), MONDAY_10);
    assert.ok(withheld.kind === 'route');
    assert.equal(withheld.calling, '201');
    assert.equal(withheld.presentation, 'restricted');
    // No calling number asked for and none configured: none sent.
    const none = r.outbound({ called: '13800138000' }, view(), MONDAY_10);
    assert.ok(none.kind === 'route' && !('calling' in none));
  });

  it('hunts the groups in order, each group by its method: sequential keeps config order', () => {
    const r = outRouter();
    const plan = r.outbound({ from: 'agents', called: '02012345678' }, view(), MONDAY_10);
    assert.ok(plan.kind === 'route');
    assert.deepEqual(plan.candidates, [
      { trunk: 'pri2', group: 'carrierA' },
      { trunk: 'pri3', group: 'carrierA' },
      { trunk: 'pri4', group: 'carrierB' },
    ]);
    assert.deepEqual(plan.skipped, []);
  });

  it('skips trunks in alarm, with the link down, without a free channel or not running, saying why', () => {
    const r = outRouter();
    const plan = r.outbound(
      { from: 'agents', called: '02012345678' },
      view({
        pri2: { up: false, why: 'RED alarm' },
        pri3: { freeChannels: 0 },
        pri4: undefined,
      }),
      MONDAY_10,
    );
    assert.ok(plan.kind === 'route');
    assert.deepEqual(plan.candidates, []);
    assert.deepEqual(plan.skipped, [
      { trunk: 'pri2', group: 'carrierA', reason: 'down', why: 'RED alarm' },
      { trunk: 'pri3', group: 'carrierA', reason: 'busy' },
      { trunk: 'pri4', group: 'carrierB', reason: 'unknown' },
    ]);
    const some = r.outbound(
      { from: 'agents', called: '02012345678' },
      view({ pri3: { up: false } }),
      MONDAY_10,
    );
    assert.ok(some.kind === 'route');
    assert.deepEqual(
      some.candidates.map((c) => c.trunk),
      ['pri2', 'pri4'],
    );
  });

  it('round robin starts after the trunk the group used last, call after call', () => {
    const r = outRouter();
    const order = () => {
      const plan = r.outbound({ called: '13800138000', calling: '201' }, view(), MONDAY_10);
      assert.ok(plan.kind === 'route');
      return plan.candidates.map((c) => c.trunk);
    };
    assert.deepEqual(order(), ['pri2', 'pri3', 'pri4']);
    // Planning alone moves nothing: only a call that went out does.
    assert.deepEqual(order(), ['pri2', 'pri3', 'pri4']);
    const used: string[] = [];
    for (let i = 0; i < 4; i++) {
      const first = order()[0] as string;
      used.push(first);
      r.noteUsed('rr', first);
    }
    assert.deepEqual(used, ['pri2', 'pri3', 'pri4', 'pri2']);
    // The last used trunk in alarm: the next one still follows it in the rotation.
    r.noteUsed('rr', 'pri3');
    const plan = r.outbound(
      { called: '13800138000', calling: '201' },
      view({ pri4: { up: false } }),
      MONDAY_10,
    );
    assert.ok(plan.kind === 'route');
    assert.deepEqual(
      plan.candidates.map((c) => c.trunk),
      ['pri2', 'pri3'],
    );
  });

  it('least used orders by calls up, ties in configuration order', () => {
    const r = outRouter();
    const plan = r.outbound(
      { called: '02012345678' },
      view({ pri2: { callsUp: 5 }, pri3: { callsUp: 2 }, pri4: { callsUp: 2 } }),
      MONDAY_10,
    );
    assert.ok(plan.kind === 'route');
    assert.deepEqual(
      plan.candidates.map((c) => c.trunk),
      ['pri3', 'pri4', 'pri2'],
    );
    const busy = r.outbound(
      { called: '02012345678' },
      view({ pri2: { callsUp: 0 }, pri3: { callsUp: 1 }, pri4: { callsUp: 0 } }),
      MONDAY_10,
    );
    assert.ok(busy.kind === 'route');
    assert.deepEqual(
      busy.candidates.map((c) => c.trunk),
      ['pri2', 'pri4', 'pri3'],
    );
  });

  it('tries a trunk that is in two groups of a route once, where it comes first', () => {
    const r = router({
      trunkGroups: [
        { name: 'g1', trunks: ['pri2', 'pri3'], hunt: 'sequential' },
        { name: 'g2', trunks: ['pri3', 'pri4'], hunt: 'sequential' },
      ],
      routes: { outbound: [{ name: 'o', called: '_X.', trunkGroups: ['g1', 'g2'] }] },
    });
    const plan = r.outbound({ called: '123' }, view(), MONDAY_10);
    assert.ok(plan.kind === 'route');
    assert.deepEqual(plan.candidates, [
      { trunk: 'pri2', group: 'g1' },
      { trunk: 'pri3', group: 'g1' },
      { trunk: 'pri4', group: 'g2' },
    ]);
  });
});

describe('router: failover causes', () => {
  it('congestion-like causes move hunting on; the called party answers are final', () => {
    for (const c of [34, 38, 41, 42, 44, 47, 58, 102]) assert.equal(failoverCause(c), true, `${c}`);
    for (const c of [1, 3, 16, 17, 18, 19, 21, 22, 27, 28, 31, 43, 52, 57, 88, 111, 127])
      assert.equal(failoverCause(c), false, `${c}`);
    assert.equal(FAILOVER_CAUSES.size, 8);
  });
});
