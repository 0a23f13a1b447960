// SPDX-License-Identifier: GPL-2.0-or-later
// The web UI's build (deterministic, under budget) and its pure parts: schema forms, the flow graph layout, routes.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { SwitchConfig } from '../src/config/schema.ts';
import { LogRing } from '../src/runtime/log-ring.ts';
import { PriTrunk } from '../src/trunks/pri.ts';
import { buildWeb, JS_BUDGET_GZIP_BYTES } from '../web/build.ts';
import { flowEdges, layoutFlow } from '../web/src/flow-layout.ts';
import { parseHash } from '../web/src/router.ts';
import {
  choices,
  errorsAt,
  fieldId,
  fromText,
  getAt,
  kindOf,
  type Schema,
  schemaAt,
  setAt,
  toText,
} from '../web/src/schema.ts';

/** The configuration schema as the UI receives it (JSON over the API). */
const CONFIG = JSON.parse(JSON.stringify(SwitchConfig)) as Schema;
const PRI = JSON.parse(JSON.stringify(PriTrunk)) as Schema;

function files(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const f of readdirSync(dir, { recursive: true }).map(String).sort()) {
    try {
      out[f] = readFileSync(join(dir, f));
    } catch {
      // a directory
    }
  }
  return out;
}

describe('the web build', () => {
  it('is the same byte for byte twice, under the JavaScript budget, with gzip copies and a page that names its files', async () => {
    const a = await buildWeb(join(await mkdtemp(join(tmpdir(), 'switchboard-web-a-')), 'dist'));
    const b = await buildWeb(join(await mkdtemp(join(tmpdir(), 'switchboard-web-b-')), 'dist'));
    const fa = files(a.outDir);
    const fb = files(b.outDir);
    assert.deepEqual(Object.keys(fa), Object.keys(fb));
    for (const name of Object.keys(fa))
      assert.ok((fa[name] as Buffer).equals(fb[name] as Buffer), `${name} differs between builds`);
    assert.ok(a.js.gzipBytes > 5000, `implausibly small: ${a.js.gzipBytes}`);
    assert.ok(
      a.js.gzipBytes < JS_BUDGET_GZIP_BYTES,
      `${a.js.gzipBytes} bytes of gzipped JavaScript, budget ${JS_BUDGET_GZIP_BYTES}`,
    );
    const html = (fa['index.html'] as Buffer).toString();
    const js = Object.keys(fa).find((f) => /^assets\/app-[A-Z0-9]+\.js$/.test(f));
    const css = Object.keys(fa).find((f) => /^assets\/app-[A-Z0-9]+\.css$/.test(f));
    assert.ok(js && css, Object.keys(fa).join(', '));
    assert.ok(html.includes(`src="/${js}"`) && html.includes(`href="/${css}"`), html);
    assert.ok(!html.includes('{{'), 'every placeholder is filled');
    assert.ok(gunzipSync(fa[`${js}.gz`] as Buffer).equals(fa[js] as Buffer));
    // No absolute path of the machine that built it ends up in the firmware.
    assert.ok(!(fa[js] as Buffer).toString().includes(tmpdir()));
    assert.ok(!(fa[js] as Buffer).toString().includes('/work/'));
  });
});

describe('schema forms', () => {
  it('tells field kinds apart from the configuration schema', () => {
    const at = (path: string, value: unknown = {}) =>
      kindOf(schemaAt(CONFIG, path, value) as Schema);
    assert.equal(at('spans'), 'objects');
    assert.equal(at('spans[0].framing'), 'enum');
    assert.equal(at('spans[0].crc4'), 'boolean');
    assert.equal(at('spans[0].timing'), 'number');
    assert.equal(at('system.name'), 'string');
    assert.equal(at('routes.inbound[0].destination'), 'variant');
    assert.equal(at('routes.inbound[0].trunks'), 'text-list');
    assert.equal(at('timeConditions[0].hours[0].days'), 'enum-set');
    assert.equal(at('trunks[0]'), 'any');
    const value = { routes: { inbound: [{ destination: { type: 'ivr', flow: 'x' } }] } };
    assert.equal(
      kindOf(schemaAt(CONFIG, 'routes.inbound[0].destination.flow', value) as Schema),
      'string',
    );
    assert.deepEqual(choices(PRI.properties?.switchtype as Schema), [
      'euroisdn',
      'ni2',
      'dms100',
      '5ess',
      '4ess',
      'qsig',
    ]);
    assert.equal(kindOf(PRI.properties?.timers as Schema), 'record');
    assert.equal(kindOf(PRI.properties?.bchannels as Schema), 'mixed');
  });

  it('turns typed text into values and back: numbers, lists, timers, timeslot lists', () => {
    const num = { type: 'integer' } as Schema;
    assert.equal(fromText(num, ' 16 '), 16);
    assert.equal(fromText(num, ''), undefined);
    assert.equal(fromText(num, 'x1'), 'x1', 'left for the server to name');
    const names = { type: 'array', items: { type: 'string' } } as Schema;
    assert.deepEqual(fromText(names, 'pri-a, pri-b,'), ['pri-a', 'pri-b']);
    assert.equal(toText(names, ['pri-a', 'pri-b']), 'pri-a, pri-b');
    const cadence = { type: 'array', items: { type: 'integer' } } as Schema;
    assert.deepEqual(fromText(cadence, '2000, 4000'), [2000, 4000]);
    const timers = PRI.properties?.timers as Schema;
    assert.deepEqual(fromText(timers, 'T303=5000, T310=12000'), { T303: 5000, T310: 12000 });
    assert.equal(toText(timers, { T303: 5000 }), 'T303=5000');
    const bchannels = PRI.properties?.bchannels as Schema;
    assert.equal(fromText(bchannels, '1-15,17-31'), '1-15,17-31');
    assert.equal(toText(bchannels, [1, 2, 3]), '1,2,3');
    const pointcode = { anyOf: [{ type: 'integer' }, { type: 'string' }] } as Schema;
    assert.equal(fromText(pointcode, '2300'), 2300);
    assert.equal(fromText(pointcode, '1-2-3'), '1-2-3');
  });

  it('edits by API path without touching the original, and finds errors by path', () => {
    const before = { spans: [{ span: 1, framing: 'ccs' }] };
    const after = setAt(before, 'spans[0].framing', 'cas') as typeof before;
    assert.equal(before.spans[0]?.framing, 'ccs');
    assert.equal(after.spans[0]?.framing, 'cas');
    assert.deepEqual(setAt({}, 'routes.inbound[0].name', 'r'), {
      routes: { inbound: [{ name: 'r' }] },
    });
    assert.deepEqual(setAt({ system: { name: 'a', law: 'alaw' } }, 'system.law', undefined), {
      system: { name: 'a' },
    });
    assert.equal(getAt(after, 'spans[0].span'), 1);
    const errors = [
      { path: 'trunks[0].dchannel', message: 'must be at most 31' },
      { path: 'trunks[0]', message: 'is wrong' },
      { path: 'trunks[1].span', message: 'no' },
    ];
    assert.deepEqual(errorsAt(errors, 'trunks[0]'), { here: ['is wrong'], below: 1 });
    assert.deepEqual(errorsAt(errors, 'trunks'), { here: [], below: 3 });
    assert.equal(fieldId('routes.inbound[2].destination'), 'cf-routes-inbound-2-destination');
  });
});

describe('the flow graph layout', () => {
  const hotline = {
    start: 'welcome',
    nodes: {
      welcome: { type: 'play', next: 'main' },
      main: {
        type: 'menu',
        choices: { '1': 'sales', '2': 'support' },
        onInvalid: 'goodbye',
        onTimeout: 'goodbye',
      },
      sales: { type: 'play', next: 'hangup' },
      support: { type: 'collect', next: 'readback', onTimeout: 'goodbye' },
      readback: { type: 'play', next: 'main' },
      goodbye: { type: 'play', next: 'hangup' },
      hangup: { type: 'hangup' },
      orphan: { type: 'play', next: 'ghost' },
    },
  };

  it('finds every edge with its label, and the ones that lead nowhere', () => {
    const edges = flowEdges(hotline).map(
      (e) => `${e.from}>${e.to}:${e.label}${e.missing ? '!' : ''}`,
    );
    assert.deepEqual(edges, [
      'welcome>main:',
      'main>sales:press 1',
      'main>support:press 2',
      'main>goodbye:timeout',
      'main>goodbye:invalid',
      'sales>hangup:',
      'support>readback:',
      'support>goodbye:timeout',
      'readback>main:',
      'goodbye>hangup:',
      'orphan>ghost:!',
    ]);
  });

  it('layers nodes by distance from the start, without overlaps, unreached nodes last; the same each time', () => {
    const g = layoutFlow(hotline);
    const layer = Object.fromEntries(g.nodes.map((n) => [n.id, n.layer]));
    assert.deepEqual(layer, {
      welcome: 0,
      main: 1,
      sales: 2,
      support: 2,
      goodbye: 2,
      hangup: 3,
      readback: 3,
      orphan: 4,
    });
    assert.deepEqual(
      g.nodes.filter((n) => n.unreachable).map((n) => n.id),
      ['orphan'],
    );
    for (const a of g.nodes)
      for (const b of g.nodes)
        if (a !== b && a.layer === b.layer)
          assert.ok(Math.abs(a.x - b.x) >= g.nodeWidth, `${a.id} overlaps ${b.id}`);
    for (const n of g.nodes) {
      assert.ok(n.x >= 0 && n.x + g.nodeWidth <= g.width, `${n.id} inside the width`);
      assert.ok(n.y >= 0 && n.y + g.nodeHeight <= g.height, `${n.id} inside the height`);
    }
    assert.deepEqual(layoutFlow(hotline), g);
  });

  it('orders a layer by its parents, so that edges from the left go to the left', () => {
    const g = layoutFlow({
      start: 's',
      nodes: {
        s: { type: 'menu', choices: { '1': 'a', '2': 'b' } },
        a: { type: 'play', next: 'a2' },
        b: { type: 'play', next: 'b2' },
        // Written first, but its parent is on the right.
        b2: { type: 'hangup' },
        a2: { type: 'hangup' },
      },
    });
    const x = Object.fromEntries(g.nodes.map((n) => [n.id, n.x]));
    assert.ok((x.a as number) < (x.b as number));
    assert.ok((x.a2 as number) < (x.b2 as number), 'a2 under a, b2 under b');
  });
});

describe('pages by address, and the log ring', () => {
  it('reads the page and its parameters from the hash', () => {
    assert.deepEqual(
      { ...parseHash('#/test-call?trunk=pri-a&channel=1'), params: undefined },
      { page: 'test-call', params: undefined },
    );
    assert.equal(parseHash('#/test-call?trunk=pri-a&channel=1').params.get('channel'), '1');
    assert.equal(parseHash('').page, 'dashboard');
    assert.equal(parseHash('#/').page, 'dashboard');
  });

  it('keeps the newest lines within its line and byte bounds, and cuts a huge line', () => {
    const ring = new LogRing({ maxLines: 10, maxBytes: 64 * 1024 });
    for (let i = 0; i < 25; i++) ring.add(JSON.stringify({ level: 30, time: i, msg: `m${i}` }));
    assert.deepEqual(
      ring.read().lines.map((l) => l.msg),
      Array.from({ length: 10 }, (_, i) => `m${i + 15}`),
    );
    const big = JSON.stringify({ level: 30, time: 1, msg: 'x'.repeat(40_000) });
    ring.add(big);
    const last = ring.read({ limit: 1 }).lines[0];
    assert.equal(last?.msg, '[log line cut]');
    for (let i = 0; i < 5; i++)
      ring.add(JSON.stringify({ level: 30, time: i, msg: 'y'.repeat(15_000) }));
    const kept = ring.read({ limit: 100 }).lines;
    assert.ok(kept.length < 10, `${kept.length} lines of 15 kB fit in 64 KiB`);
    assert.equal(ring.written, 31);
  });
});
