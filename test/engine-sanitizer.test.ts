// SPDX-License-Identifier: GPL-2.0-or-later
// The addon's AddressSanitizer/UBSan build (build/asan) carrying PRI, SS7 and MFC-R2 calls, traces and media.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { EngineTrunk } from '../src/native/engine.ts';
import { repoRoot } from '../src/runtime/paths.ts';
import { renderSystemConf } from '../src/sim/dahdiconf.ts';
import { E1_PAIR, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';
import { type Host, type HostError, type Line, startHost } from './helpers/engine.ts';
import { sinePcm, writeWav } from './helpers/wav.ts';

const asanAddon = `${repoRoot}build/asan/switchboard.node`;
// Node itself is not sanitized: the ASan runtime is preloaded ahead of the simulator's preload.
const asanRuntime = spawnSync('g++', ['-print-file-name=libasan.so'], {
  encoding: 'utf8',
}).stdout.trim();

async function sanitizedSim(systemConf: string): Promise<TestSim> {
  if (!existsSync(asanAddon)) {
    const built = spawnSync('bash', [`${repoRoot}scripts/build-addon-asan.sh`], {
      encoding: 'utf8',
    });
    assert.equal(built.status, 0, built.stderr);
  }
  const sim = await withConfiguredSim(E1_PAIR, systemConf);
  Object.assign(sim.env, {
    LD_PRELOAD: `${asanRuntime}:${sim.env.LD_PRELOAD}`,
    SWITCHBOARD_ADDON: asanAddon,
    // Leaks stay unchecked: Node's own allocations at exit are not ours. Any other report aborts
    // the host, and the test sees it die.
    ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1',
    UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
  });
  return sim;
}

const is = (event: string, call?: unknown) => (e: Line) =>
  e.event === event && (call === undefined || e.call === call);

/** A call from `a` answered by `b` and cleared from `a`, with both ends reporting it. */
async function callThrough(a: Host, trunkA: string, b: Host): Promise<void> {
  const { call } = await a.command({ op: 'place', trunk: trunkA, called: '4321', calling: '1234' });
  const offered = await b.waitEvent(is('offered'), 30_000);
  assert.equal(offered.called, '4321');
  await b.command({ op: 'answer', call: offered.call as number });
  await a.waitEvent(is('answered', call), 30_000);
  await a.command({ op: 'release', call: call as number });
  assert.equal((await b.waitEvent(is('released', offered.call), 30_000)).cause, 16);
  await a.waitEvent(is('released', call), 30_000);
}

describe('the sanitizer build of the addon', () => {
  let sim: TestSim | undefined;
  const hosts: Host[] = [];
  beforeEach(() => {
    hosts.length = 0;
  });
  afterEach(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
    await sim?.stop();
    sim = undefined;
  });

  async function pair(a: EngineTrunk, b: EngineTrunk): Promise<[Host, Host]> {
    const ha = await startHost(sim as TestSim, { trunks: [a] }, 'a');
    hosts.push(ha);
    const hb = await startHost(sim as TestSim, { trunks: [b] }, 'b');
    hosts.push(hb);
    return [ha, hb];
  }

  test('PRI: a call each way, a RESTART and a trace', async () => {
    sim = await sanitizedSim(renderSystemConf(E1_PAIR));
    const [net, cpe] = await pair(
      { name: 'net', signalling: 'pri_net', span: 1, switchtype: 'euroisdn' },
      { name: 'cpe', signalling: 'pri_cpe', span: 2, switchtype: 'euroisdn' },
    );
    await net.waitEvent((e) => e.event === 'link' && e.state === 'up', 30_000);
    await cpe.waitEvent((e) => e.event === 'link' && e.state === 'up', 30_000);
    await net.request('traceStart', { span: 1 });
    await callThrough(net, 'net', cpe);
    await callThrough(cpe, 'cpe', net);
    // Calls libpri frees without an event (RELEASE COMPLETE with cause 34 or 1 at once, RELEASE
    // with 6 then the far end's RELEASE COMPLETE): refused by the called side, given up by the
    // caller. Each ends at both ends, and the channel takes the next call.
    for (const [cause, byCaller] of [
      [34, false],
      [6, false],
      [1, true],
    ] as const) {
      const { call } = await net.command({ op: 'place', trunk: 'net', called: '55', channel: 3 });
      const offered = await cpe.waitEvent(is('offered'), 30_000);
      const [ender, id] = byCaller ? [net, call] : [cpe, offered.call];
      await ender.command({ op: 'release', call: id as number, cause });
      assert.equal((await net.waitEvent(is('released', call), 30_000)).cause, cause);
      assert.equal((await cpe.waitEvent(is('released', offered.call), 30_000)).cause, cause);
    }
    await callThrough(net, 'net', cpe);
    await net.command({ op: 'reset', trunk: 'net', channel: 5 });
    await net.waitEvent(
      (e) => e.event === 'channel' && e.channel === 5 && e.state === 'idle',
      30_000,
    );
    assert.ok((await net.trace(1)).length > 24 + 8 * 16, 'frames were captured');
  });

  test('SS7: alignment, a call, blocking', async () => {
    sim = await sanitizedSim(renderSystemConf(E1_PAIR));
    const ss7 = (pointcode: number, adjacent: number, span: number): EngineTrunk => ({
      name: `pc${pointcode}`,
      signalling: 'ss7',
      variant: 'itu',
      pointcode,
      adjacentPointcode: adjacent,
      links: [{ span, timeslot: 16 }],
      cics: [{ span, firstCic: 1 }],
    });
    const [a, b] = await pair(ss7(1, 2, 1), ss7(2, 1, 2));
    await a.waitEvent((e) => e.event === 'link' && e.state === 'up', 30_000);
    await b.waitEvent((e) => e.event === 'link' && e.state === 'up', 30_000);
    // The start-up group reset leaves every CIC idle before calls go out.
    for (let i = 0; i < 100; i++) {
      const snap = await a.snapshot();
      if (snap.trunks[0]?.channels.every((c) => c.state === 'idle')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await callThrough(a, 'pc1', b);
    await a.command({ op: 'block', trunk: 'pc1', cic: 5 });
    await b.waitEvent((e) => e.event === 'channel' && e.cic === 5 && e.state === 'blocked', 30_000);
  });

  test('media: prompts, recordings, DTMF, a conference, the time-slot switch and a release mid-play', async () => {
    sim = await sanitizedSim(renderSystemConf(E1_PAIR));
    const dir = sim.dir;
    const [net, cpe] = await pair(
      { name: 'net', signalling: 'pri_net', span: 1, switchtype: 'euroisdn' },
      { name: 'cpe', signalling: 'pri_cpe', span: 2, switchtype: 'euroisdn' },
    );
    await net.waitEvent((e) => e.event === 'link' && e.state === 'up', 30_000);
    await cpe.waitEvent((e) => e.event === 'link' && e.state === 'up', 30_000);
    const calls: { net: number; cpe: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const { call } = await net.command({ op: 'place', trunk: 'net', called: `90${i}` });
      const offered = await cpe.waitEvent(
        (e) => e.event === 'offered' && e.called === `90${i}`,
        30_000,
      );
      await cpe.command({ op: 'answer', call: offered.call as number });
      await net.waitEvent(is('answered', call), 30_000);
      calls.push({ net: call as number, cpe: offered.call as number });
    }
    const [c0, c1, c2] = calls as [
      { net: number; cpe: number },
      { net: number; cpe: number },
      { net: number; cpe: number },
    ];
    const prompt = writeWav(join(dir, 'p.wav'), 'pcm16', sinePcm(700, 1500));
    await cpe.command({
      op: 'record',
      call: c0.cpe,
      file: join(dir, 'r.wav'),
      direction: 'both',
      stereo: true,
    });
    await net.command({ op: 'play', call: c0.net, files: [prompt, prompt] });
    await cpe.command({ op: 'detect', call: c1.cpe, dtmf: true });
    await net.command({ op: 'sendDtmf', call: c1.net, digits: '159#' });
    await net.command({
      op: 'detect',
      call: c2.net,
      progress: true,
      zone: 'cn',
      fax: true,
      amd: true,
    });
    await cpe.command({ op: 'tone', call: c2.cpe, tone: 'busy', zone: 'cn' });
    await net.waitEvent(is('playDone', c0.net), 30_000);
    for (let i = 0; i < 4; i++) await cpe.waitEvent(is('dtmf', c1.cpe), 30_000);
    await net.command({
      op: 'confCreate',
      conference: 'k',
      parties: [{ call: c0.net }, { call: c1.net }],
    });
    await net.command({ op: 'confJoin', conference: 'k', call: c2.net, talk: false });
    await net.command({ op: 'confSet', call: c2.net, whisperTo: { call: c0.net } });
    await new Promise((r) => setTimeout(r, 500));
    await net.command({ op: 'confLeave', call: c0.net });
    await net.command({ op: 'confDestroy', conference: 'k' });
    await net.command({ op: 'connect', a: { call: c0.net }, b: { call: c1.net } });
    await new Promise((r) => setTimeout(r, 300));
    await net.command({ op: 'disconnect', call: c1.net });
    await net.command({ op: 'play', call: c2.net, files: [prompt] }).catch(() => undefined);
    await net.command({ op: 'record', call: c2.net, file: join(dir, 'cut.wav') });
    for (const c of calls) await net.command({ op: 'release', call: c.net });
    await cpe.waitEvent(is('recordDone', c0.cpe), 30_000);
    await net.waitEvent(is('recordDone', c2.net), 30_000);
    const snap = await net.snapshot();
    assert.equal(snap.media.legs.length, 0, 'every leg ended with its call');
  });

  test('MFC-R2: an ITU call ours to ours', async () => {
    sim = await sanitizedSim(
      'span=1,1,0,cas,hdb3\nspan=2,2,0,cas,hdb3\ncas=1-15:1101\ncas=17-31:1101\ncas=32-46:1101\ncas=48-62:1101\n',
    );
    const [a, b] = await pair(
      { name: 'a', signalling: 'mfcr2', span: 1, variant: 'itu' },
      { name: 'b', signalling: 'mfcr2', span: 2, variant: 'itu' },
    );
    // Both ends start with every channel idle (CAS 1001 both ways) before a seizure.
    await new Promise((r) => setTimeout(r, 1000));
    await callThrough(a, 'a', b);
  });

  test('reconfigure: a changed trunk with a call and media up, a refused change, an open failure brought back, a trunk removed and added', async () => {
    sim = await sanitizedSim(renderSystemConf(E1_PAIR));
    const net: EngineTrunk = {
      name: 'net',
      signalling: 'pri_net',
      span: 1,
      switchtype: 'euroisdn',
    };
    const cpe: EngineTrunk = {
      name: 'cpe',
      signalling: 'pri_cpe',
      span: 2,
      switchtype: 'euroisdn',
    };
    const h = await startHost(sim, { trunks: [net, cpe] }, 'both');
    hosts.push(h);
    const up = (trunk: string) =>
      h.waitEvent((e) => e.event === 'link' && e.trunk === trunk && e.state === 'up', 30_000);
    await up('net');
    await up('cpe');
    const { call } = await h.command({ op: 'place', trunk: 'net', called: '55' });
    const offered = await h.waitEvent(is('offered'), 30_000);
    await h.command({ op: 'answer', call: offered.call as number });
    await h.waitEvent(is('answered', call), 30_000);
    await h.command({ op: 'tone', call: offered.call as number, tone: 'dial' });
    await h.command({ op: 'detect', call: call as number, dtmf: true });

    const changed = { ...cpe, timers: { T200: 1500 } };
    assert.deepEqual(await h.reconfigure({ trunks: [net, changed] }), {
      kept: ['net'],
      stopped: ['cpe'],
      started: ['cpe'],
    });
    assert.equal((await h.waitEvent(is('released', offered.call), 30_000)).by, 'stack');
    assert.equal((await h.waitEvent(is('released', call), 30_000)).cause, 41);
    await up('cpe');
    await callThrough(h, 'net', h);

    await assert.rejects(
      h.reconfigure({ trunks: [net, { ...changed, switchtype: 'bogus' }] }),
      (err: HostError) => err.field === 'trunks[1].switchtype',
    );
    await assert.rejects(
      h.reconfigure({ trunks: [net, { ...changed, dchannel: 1 }] }),
      (err: HostError) => err.field === 'trunks[1].dchannel',
    );
    await up('cpe');
    assert.deepEqual(await h.reconfigure({ trunks: [net] }), {
      kept: ['net'],
      stopped: ['cpe'],
      started: [],
    });
    assert.deepEqual(await h.reconfigure({ trunks: [net, cpe], media: { zone: 'cn' } }), {
      kept: ['net'],
      stopped: [],
      started: ['cpe'],
    });
    await up('cpe');
    await callThrough(h, 'net', h);
    const snap = await h.snapshot();
    assert.deepEqual(
      snap.trunks.map((t) => t.name),
      ['net', 'cpe'],
    );
    assert.equal(snap.media.zone, 'cn');
  });

  test('reconfigure: an MFC-R2 trunk whose bearer is lent to the media layer', async () => {
    sim = await sanitizedSim(
      'span=1,1,0,cas,hdb3\nspan=2,2,0,cas,hdb3\ncas=1-15:1101\ncas=17-31:1101\ncas=32-46:1101\ncas=48-62:1101\n',
    );
    const a: EngineTrunk = { name: 'a', signalling: 'mfcr2', span: 1, variant: 'itu' };
    const b: EngineTrunk = { name: 'b', signalling: 'mfcr2', span: 2, variant: 'itu' };
    const h = await startHost(sim, { trunks: [a, b] }, 'r2');
    hosts.push(h);
    await new Promise((r) => setTimeout(r, 1000));
    const { call } = await h.command({ op: 'place', trunk: 'a', called: '4321', calling: '1234' });
    const offered = await h.waitEvent(is('offered'), 30_000);
    await h.command({ op: 'answer', call: offered.call as number });
    await h.waitEvent(is('answered', call), 30_000);
    // The R2 trunk lends the bearer's descriptor to the media layer for the tone.
    await h.command({ op: 'tone', call: offered.call as number, tone: 'busy' });
    assert.deepEqual(await h.reconfigure({ trunks: [a, { ...b, maxAni: 4 }] }), {
      kept: ['a'],
      stopped: ['b'],
      started: ['b'],
    });
    const detached = await h.waitEvent(is('mediaDetached', offered.call), 30_000);
    assert.equal(detached.reason, 'trunkStopped');
    assert.equal((await h.waitEvent(is('released', offered.call), 30_000)).by, 'stack');
    // The far end may already have cleared when it saw the retired trunk's channels blocked.
    await h.command({ op: 'release', call: call as number }).catch(() => undefined);
    await h.waitEvent(is('released', call), 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    await callThrough(h, 'a', h);
  });
});
