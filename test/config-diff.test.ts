// SPDX-License-Identifier: GPL-2.0-or-later
// Configuration diffs: named items matched by name, paths in installer words, route order reported.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalConfig, canonicalJson } from '../src/config/canonical.ts';
import { diffConfigs } from '../src/config/diff.ts';
import type { SwitchConfig } from '../src/config/schema.ts';
import { sampleConfig } from './helpers/config.ts';

/** `op path` lines, sorted, for comparisons that do not depend on walk order. */
function lines(a: SwitchConfig, b: SwitchConfig): string[] {
  return diffConfigs(a, b)
    .map((c) => `${c.op} ${c.path}`)
    .sort();
}

describe('config diff', () => {
  it('finds no change between a configuration and its canonical copy', () => {
    const a = sampleConfig();
    assert.deepEqual(diffConfigs(a, canonicalConfig(a)), []);
  });

  it('names a changed trunk field by the trunk name', () => {
    const a = sampleConfig();
    const b = sampleConfig();
    const pri2 = b.trunks?.[1];
    if (pri2) pri2.switchtype = 'qsig';
    assert.deepEqual(diffConfigs(a, b), [
      {
        path: 'trunks[name=pri2].switchtype',
        op: 'change',
        before: 'euroisdn',
        after: 'qsig',
      },
    ]);
  });

  it('reports an inserted trunk as one add, not a change of every trunk after it', () => {
    const a = sampleConfig();
    const b = sampleConfig();
    const added = { name: 'pri0', signalling: 'pri_net', span: 5, switchtype: 'euroisdn' } as const;
    b.trunks?.unshift(added);
    assert.deepEqual(diffConfigs(a, b), [{ path: 'trunks[name=pri0]', op: 'add', after: added }]);
  });

  it('keys spans by span number and extensions by number', () => {
    const a = sampleConfig();
    const b = sampleConfig();
    b.spans?.reverse();
    (b.spans?.[0] as { timing: number }).timing = 5; // span 3 after the reverse
    b.extensions?.pop();
    assert.deepEqual(lines(a, b), [
      'change spans[span=3].timing',
      'remove extensions[number=0202]',
    ]);
  });

  it('reports reordered routes as a reorder with the names in both orders', () => {
    const a = sampleConfig();
    const b = sampleConfig();
    b.routes?.inbound?.reverse();
    assert.deepEqual(diffConfigs(a, b), [
      {
        path: 'routes.inbound',
        op: 'reorder',
        before: ['hotline', 'after-hours', 'local'],
        after: ['local', 'after-hours', 'hotline'],
      },
    ]);
  });

  it('does not report a reorder for an unordered list (trunks)', () => {
    const a = sampleConfig();
    const b = sampleConfig();
    b.trunks?.reverse();
    assert.deepEqual(diffConfigs(a, b), []);
  });

  it('reports a removed route without a reorder of the others', () => {
    const a = sampleConfig();
    const b = sampleConfig();
    b.routes?.inbound?.splice(1, 1);
    assert.deepEqual(lines(a, b), ['remove routes.inbound[name=after-hours]']);
  });

  it('compares unkeyed lists whole (a trunk group hunting order)', () => {
    const a = sampleConfig();
    const b = sampleConfig();
    b.trunkGroups?.[0]?.trunks.reverse();
    assert.deepEqual(diffConfigs(a, b), [
      {
        path: 'trunkGroups[name=carriers].trunks',
        op: 'change',
        before: ['pri1', 'pri2'],
        after: ['pri2', 'pri1'],
      },
    ]);
  });

  it('reports fields inside an added section one by one, and quotes pattern keys', () => {
    const a: SwitchConfig = {};
    const b: SwitchConfig = {
      system: { name: 'box' },
      blacklists: { outbound: [{ number: '_1[3-9]X.' }] },
    };
    assert.deepEqual(lines(a, b), [
      'add blacklists.outbound[number="_1[3-9]X."]',
      'add system.name',
    ]);
    assert.deepEqual(lines(b, a), [
      'remove blacklists.outbound[number="_1[3-9]X."]',
      'remove system.name',
    ]);
  });

  it('counts an absent list and an empty one as the same', () => {
    assert.deepEqual(diffConfigs({ spans: [] }, {}), []);
  });

  it('names a change of destination kind field by field', () => {
    const a = sampleConfig();
    const b = sampleConfig();
    const route = b.routes?.inbound?.[1];
    if (route) route.destination = { type: 'extension', extension: '201' };
    assert.deepEqual(lines(a, b), [
      'add routes.inbound[name=after-hours].destination.extension',
      'change routes.inbound[name=after-hours].destination.type',
      'remove routes.inbound[name=after-hours].destination.cause',
    ]);
  });
});

describe('canonical JSON', () => {
  it('is the same whatever order the keys came in, and puts name and signalling first', () => {
    const a = sampleConfig();
    const shuffled = JSON.parse(
      JSON.stringify(a, (_k, v) =>
        v && typeof v === 'object' && !Array.isArray(v)
          ? Object.fromEntries(Object.entries(v).reverse())
          : v,
      ),
    ) as SwitchConfig;
    assert.notEqual(JSON.stringify(shuffled), JSON.stringify(a));
    assert.equal(canonicalJson(shuffled), canonicalJson(a));
    const trunk = canonicalConfig(shuffled).trunks?.[1] as object;
    assert.deepEqual(Object.keys(trunk), ['name', 'signalling', 'span', 'switchtype', 'timers']);
    assert.deepEqual(Object.keys(canonicalConfig(shuffled)), Object.keys(a));
  });
});
