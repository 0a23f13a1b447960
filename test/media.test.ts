// SPDX-License-Identifier: GPL-2.0-or-later
// The media layer over a simulated E1 cable: prompts, recordings, DTMF, conferences, the time-slot switch.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EngineTrunk } from '../src/native/engine.ts';
import { renderSystemConf } from '../src/sim/dahdiconf.ts';
import { E1_PAIR, eventually, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';
import { type Host, HostError, type Line, startHost } from './helpers/engine.ts';
import { alawPattern, readWav, samples, sinePcm, toneLevel, writeWav } from './helpers/wav.ts';

// Span 1 (channels 1-31) is cabled to span 2 (channels 32-62); PRI network side on span 1.
const SYSTEM_CONF = renderSystemConf(E1_PAIR);

function trunk(side: 'net' | 'cpe'): EngineTrunk {
  return {
    name: side,
    signalling: side === 'net' ? 'pri_net' : 'pri_cpe',
    span: side === 'net' ? 1 : 2,
    switchtype: 'euroisdn',
  };
}

const is = (event: string, call?: unknown) => (e: Line) =>
  e.event === event && (call === undefined || e.call === call);

/** Places a call from net to cpe and answers it; returns both ends' call ids. */
async function call(net: Host, cpe: Host, called: string): Promise<{ net: number; cpe: number }> {
  const placed = await net.command({ op: 'place', trunk: 'net', called, calling: '1000' });
  const id = placed.call as number;
  const offered = await cpe.waitEvent((e) => e.event === 'offered' && e.called === called);
  const incoming = offered.call as number;
  await cpe.command({ op: 'answer', call: incoming });
  await net.waitEvent(is('answered', id));
  return { net: id, cpe: incoming };
}

async function rejects(p: Promise<unknown>, code: string, field?: string): Promise<HostError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HostError, String(err));
    assert.equal(err.code, code, err.message);
    if (field !== undefined) assert.equal(err.field, field, err.message);
    return err;
  }
  assert.fail(`expected ${code}`);
}

/** Where `needle` starts inside `hay`, -1 when it is not there whole. */
function find(hay: Buffer, needle: Buffer): number {
  return hay.indexOf(needle);
}

describe('media over a PRI call on a simulated E1 cable', () => {
  let sim: TestSim;
  let net: Host;
  let cpe: Host;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-media-'));
    sim = await withConfiguredSim(E1_PAIR, SYSTEM_CONF);
    net = await startHost(sim, { trunks: [trunk('net')], media: { zone: 'cn' } }, 'net');
    cpe = await startHost(sim, { trunks: [trunk('cpe')] }, 'cpe');
    await net.waitEvent((e) => e.event === 'link' && e.state === 'up');
    await cpe.waitEvent((e) => e.event === 'link' && e.state === 'up');
  });
  after(async () => {
    await Promise.all([net?.stop(), cpe?.stop()]);
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a prompt played on one end is recorded on the other bit-exact in A-law, across a 2 s event-loop stall', async () => {
    const c = await call(net, cpe, '2001');
    // Six seconds of A-law bytes covering every code: any slip, gap or conversion shows.
    const prompt = alawPattern(48_000, 7);
    const file = writeWav(join(dir, 'pattern.wav'), 'alaw', prompt);
    const rec = join(dir, 'pattern-rec.wav');
    const started = await cpe.command({ op: 'record', call: c.cpe, file: rec, format: 'alaw' });
    assert.ok(started.record);
    const { play } = await net.command({ op: 'play', call: c.net, files: [file] });
    assert.ok(play);
    // Both event loops stall for 2 s in the middle of the prompt; the media threads do not.
    await new Promise((r) => setTimeout(r, 1000));
    await Promise.all([net.request('block', { ms: 2000 }), cpe.request('block', { ms: 2000 })]);
    const done = await net.waitEvent(is('playDone', c.net));
    assert.equal(done.reason, 'done');
    assert.equal(done.play, play);
    assert.equal(done.playedMs, 6000);
    await new Promise((r) => setTimeout(r, 300));
    await cpe.command({ op: 'stop', call: c.cpe, what: 'record' });
    const recDone = await cpe.waitEvent(is('recordDone', c.cpe));
    assert.equal(recDone.reason, 'stopped');
    const wav = readWav(rec);
    assert.equal(wav.format, 6);
    assert.equal(wav.rate, 8000);
    assert.equal(wav.channels, 1);
    assert.ok(find(wav.data, prompt) >= 0, 'the whole prompt arrived byte for byte, in one piece');
    const snap = await cpe.snapshot();
    const leg = snap.media.legs.find((l) => l.call === c.cpe);
    assert.ok(leg && leg.readErrors === 0);
    await net.command({ op: 'release', call: c.net, cause: 16 });
    await cpe.waitEvent(is('released', c.cpe));
    await net.waitEvent(is('mediaDetached', c.net));
  });

  test('DTMF sent on one end is detected on the other with its duration, and barges in on a prompt', async () => {
    const c = await call(net, cpe, '2002');
    const music = writeWav(join(dir, 'music.wav'), 'pcm16', sinePcm(600, 20_000, -20));
    const { play } = await cpe.command({ op: 'play', call: c.cpe, files: [music], bargeIn: true });
    await net.command({ op: 'sendDtmf', call: c.net, digits: '1234567890*#', onMs: 80, offMs: 80 });
    const sent = await net.waitEvent(is('playDone', c.net), 20_000);
    assert.equal(sent.kind, 'dtmf');
    assert.equal(sent.reason, 'done');
    const barge = await cpe.waitEvent(is('playDone', c.cpe));
    assert.equal(barge.play, play);
    assert.equal(barge.reason, 'bargeIn');
    assert.equal(barge.digit, '1');
    await new Promise((r) => setTimeout(r, 200));
    const digits = cpe.events(is('dtmf', c.cpe));
    assert.equal(digits.map((d) => d.digit).join(''), '1234567890*#');
    for (const d of digits) {
      assert.ok(Math.abs((d.ms as number) - 80) <= 25, `digit ${d.digit} lasted ${d.ms} ms`);
      // Sent at -10 dBm0 (low group) and -8 dBm0 (high group): about -6 dBm0 together.
      assert.ok((d.level as number) < -3 && (d.level as number) > -10, `level ${d.level}`);
    }
    // A recording stops on its stop digit.
    const rec = join(dir, 'stop-digit.wav');
    await cpe.command({ op: 'record', call: c.cpe, file: rec, stopDigits: '#' });
    await net.command({ op: 'sendDtmf', call: c.net, digits: '5#' });
    const recDone = await cpe.waitEvent(is('recordDone', c.cpe));
    assert.equal(recDone.reason, 'dtmf');
    assert.equal(recDone.digit, '#');
    assert.ok(existsSync(rec));
    await net.command({ op: 'release', call: c.net, cause: 16 });
    await cpe.waitEvent(is('released', c.cpe));
  });

  test('a recording ends at its maximum length and on silence, and a release ends it too', async () => {
    const c = await call(net, cpe, '2003');
    const a = join(dir, 'max.wav');
    await cpe.command({ op: 'record', call: c.cpe, file: a, maxMs: 1000, format: 'pcm16' });
    const first = await cpe.waitEvent(is('recordDone', c.cpe));
    assert.equal(first.reason, 'maxLength');
    assert.equal(first.ms, 1000);
    assert.equal(readWav(a).data.length, 16_000);
    // Nothing is sent: the line is silent, so a 600 ms silence limit ends it.
    const b = join(dir, 'silence.wav');
    await cpe.command({ op: 'record', call: c.cpe, file: b, silenceMs: 600 });
    const second = await cpe.waitEvent(is('recordDone', c.cpe));
    assert.equal(second.reason, 'silence');
    assert.ok((second.ms as number) >= 600 && (second.ms as number) < 1000, `${second.ms} ms`);
    const c3 = join(dir, 'released.wav');
    await cpe.command({ op: 'record', call: c.cpe, file: c3, direction: 'both', stereo: true });
    await net.command({ op: 'release', call: c.net, cause: 16 });
    const third = await cpe.waitEvent(is('recordDone', c.cpe));
    assert.equal(third.reason, 'released');
    const wav = readWav(c3);
    assert.equal(wav.channels, 2);
  });

  test('three-party conference: each party hears the two others and not itself; a listen-only party is not heard', async () => {
    const tones = [500, 1100, 1700];
    const calls: { net: number; cpe: number }[] = [];
    for (let i = 0; i < 3; i++) calls.push(await call(net, cpe, `300${i}`));
    const conf = await net.command({
      op: 'confCreate',
      conference: 'bridge',
      parties: calls.map((c) => ({ call: c.net })),
    });
    assert.equal(conf.parties, 3);
    // Each far end sends its own tone and records what the conference sends back.
    const recordAll = async (tag: string) => {
      const files = calls.map((_, i) => join(dir, `conf-${tag}-${i}.wav`));
      for (let i = 0; i < 3; i++) {
        const c = calls[i];
        assert.ok(c);
        await cpe.command({
          op: 'record',
          call: c.cpe,
          file: files[i] as string,
          format: 'pcm16',
          maxMs: 1500,
        });
      }
      for (const c of calls) await cpe.waitEvent(is('recordDone', c.cpe));
      return files.map((f) => samples(readWav(f).data).subarray(2400));
    };
    for (let i = 0; i < 3; i++) {
      const f = writeWav(join(dir, `tone-${i}.wav`), 'pcm16', sinePcm(tones[i] as number, 30_000));
      await cpe.command({ op: 'play', call: (calls[i] as { cpe: number }).cpe, files: [f] });
    }
    await new Promise((r) => setTimeout(r, 400));
    const heard = await recordAll('all');
    for (let i = 0; i < 3; i++) {
      const pcm = heard[i] as Int16Array;
      for (let j = 0; j < 3; j++) {
        const level = toneLevel(pcm, tones[j] as number);
        if (i === j) assert.ok(level < -30, `party ${i} hears itself at ${level.toFixed(1)} dB`);
        else assert.ok(level > -10, `party ${i} hears party ${j} at only ${level.toFixed(1)} dB`);
      }
    }
    // Party 2 becomes listen-only: parties 0 and 1 no longer hear it, it still hears them.
    await net.command({ op: 'confSet', call: (calls[2] as { net: number }).net, talk: false });
    await new Promise((r) => setTimeout(r, 200));
    const after = await recordAll('listen');
    assert.ok(toneLevel(after[0] as Int16Array, 1700) < -30);
    assert.ok(toneLevel(after[1] as Int16Array, 1700) < -30);
    assert.ok(toneLevel(after[0] as Int16Array, 1100) > -10);
    assert.ok(toneLevel(after[2] as Int16Array, 500) > -10);
    assert.ok(toneLevel(after[2] as Int16Array, 1100) > -10);
    const snap = await net.snapshot();
    const bridge = snap.media.conferences.find((x) => x.name === 'bridge');
    assert.ok(bridge);
    assert.equal(bridge.parties.length, 3);
    assert.equal(bridge.parties.filter((p) => !p.talk).length, 1);
    for (const c of calls) await net.command({ op: 'release', call: c.net, cause: 16 });
    const ended = await net.waitEvent((e) => e.event === 'conference' && e.state === 'ended');
    assert.equal(ended.conference, 'bridge');
    for (const c of calls) await cpe.waitEvent(is('released', c.cpe));
  });

  test('the time-slot switch joins two calls through DAHDI and carries a prompt bit-exact', async () => {
    const a = await call(net, cpe, '4001');
    const b = await call(net, cpe, '4002');
    const r = await net.command({ op: 'connect', a: { call: a.net }, b: { call: b.net } });
    assert.equal(r.mode, 'duplex');
    let snap = await net.snapshot();
    assert.equal(snap.media.connections.length, 1);
    assert.equal(snap.media.connections[0]?.via, 'DAHDI_CONF_DIGITALMON');
    const prompt = alawPattern(16_000, 3);
    const file = writeWav(join(dir, 'tsi.wav'), 'alaw', prompt);
    const rec = join(dir, 'tsi-rec.wav');
    await cpe.command({ op: 'record', call: b.cpe, file: rec });
    await cpe.command({ op: 'play', call: a.cpe, files: [file] });
    await cpe.waitEvent(is('playDone', a.cpe));
    await new Promise((res) => setTimeout(res, 300));
    await cpe.command({ op: 'stop', call: b.cpe });
    await cpe.waitEvent(is('recordDone', b.cpe));
    assert.ok(find(readWav(rec).data, prompt) >= 0, 'the prompt crossed the switch byte for byte');
    // A prompt on a cross-connected channel is refused: the kernel owns what it sends.
    await rejects(
      net.command({ op: 'play', call: a.net, files: [file] }),
      'E_CHANNEL_BUSY',
      'call',
    );
    await net.command({ op: 'disconnect', call: a.net });
    snap = await net.snapshot();
    assert.equal(snap.media.connections.length, 0);
    for (const c of [a, b]) await net.command({ op: 'release', call: c.net, cause: 16 });
    for (const c of [a, b]) await cpe.waitEvent(is('released', c.cpe));
  });

  test('bad media commands get clear errors naming the field, and nothing breaks', async () => {
    const c = await call(net, cpe, '5001');
    await rejects(
      net.command({ op: 'play', call: c.net, files: [join(dir, 'nope.wav')] }),
      'E_PROMPT_MISSING',
      'files[0]',
    );
    const corrupt = join(dir, 'corrupt.wav');
    writeFileSync(corrupt, Buffer.from('RIFF\x10\x00\x00\x00WAVEjunkjunk'));
    await rejects(
      net.command({ op: 'play', call: c.net, files: [corrupt] }),
      'E_PROMPT_FORMAT',
      'files[0]',
    );
    const wide = writeWav(join(dir, 'wide.wav'), 'pcm16', sinePcm(400, 500), 16_000);
    const e = await rejects(
      net.command({ op: 'play', call: c.net, files: [wide] }),
      'E_PROMPT_FORMAT',
      'files[0]',
    );
    assert.match(e.message, /16000 Hz is not 8000 Hz/);
    const fine = writeWav(join(dir, 'fine.wav'), 'pcm16', sinePcm(400, 500));
    await rejects(
      net.command({ op: 'play', call: 999_999, files: [fine] }),
      'E_CALL_UNKNOWN',
      'call',
    );
    await rejects(
      net.command({ op: 'record', dahdiChannel: 999, file: join(dir, 'x.wav') }),
      'E_DAHDI_OPEN',
      'dahdiChannel',
    );
    await rejects(
      net.command({ op: 'confCreate', conference: 'solo', parties: [{ call: c.net }] }),
      'E_COMMAND_FIELD',
      'parties',
    );
    await rejects(
      net.command({ op: 'tone', call: c.net, tone: 'whistle' }),
      'E_COMMAND_FIELD',
      'tone',
    );
    await rejects(
      net.command({ op: 'record', call: c.net, file: '/nonexistent/dir/x.wav' }),
      'E_RECORD_FILE',
      'file',
    );
    await rejects(
      net.command({ op: 'sendDtmf', call: c.net, digits: '12x' }),
      'E_COMMAND_FIELD',
      'digits',
    );
    await rejects(
      net.command({ op: 'detect', call: c.net, amd: { greeting: 5 } }),
      'E_COMMAND_FIELD',
      'amd.greeting',
    );
    await rejects(net.command({ op: 'echo', call: c.net, taps: 100 }), 'E_COMMAND_FIELD', 'taps');
    // Echo cancellation is switched through DAHDI's ioctl and shows in the snapshot.
    assert.deepEqual(await net.command({ op: 'echo', call: c.net, taps: 256 }), { taps: 256 });
    const leg = (await net.snapshot()).media.legs.find((l) => l.call === c.net);
    assert.equal(leg?.echoTaps, 256);
    await net.command({ op: 'echo', call: c.net, taps: 0 });
    // The call and its media still work: a China busy tone goes out and is recognised.
    await cpe.command({ op: 'detect', call: c.cpe, progress: true, zone: 'cn' });
    await net.command({ op: 'tone', call: c.net, tone: 'busy' });
    const tone = await cpe.waitEvent(is('tone', c.cpe));
    assert.equal(tone.name, 'busy');
    assert.ok(readFileSync(corrupt).length > 0, 'the bad prompt was not touched');
    await net.command({ op: 'release', call: c.net, cause: 16 });
    await cpe.waitEvent(is('released', c.cpe));
  });
});

/** Plays an A-law pattern on `from` and checks `to` records it whole; returns the recording. */
async function crossesBitExact(
  from: Host,
  fromCall: number,
  to: Host,
  toCall: number,
  dir: string,
  tag: string,
  law: 'alaw' | 'ulaw' = 'alaw',
): Promise<Buffer> {
  // Any byte pattern: in the line's own law it must cross unchanged.
  const prompt = alawPattern(16_000, 11);
  const file = writeWav(join(dir, `${tag}.wav`), law, prompt);
  const rec = join(dir, `${tag}-rec.wav`);
  await to.command({ op: 'record', call: toCall, file: rec, format: law });
  await from.command({ op: 'play', call: fromCall, files: [file] });
  const done = await from.waitEvent(is('playDone', fromCall));
  assert.equal(done.reason, 'done');
  await new Promise((r) => setTimeout(r, 300));
  await to.command({ op: 'stop', call: toCall, what: 'record' });
  await to.waitEvent(is('recordDone', toCall));
  const data = readWav(rec).data;
  assert.ok(find(data, prompt) >= 0, `${tag}: the prompt arrived byte for byte`);
  return data;
}

describe('media on bearers a trunk lends: MFC-R2 and analog', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-media-lent-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('MFC-R2: openr2 lends the call audio to the media layer and gets it back for the next call', async () => {
    const sim = await withConfiguredSim(
      E1_PAIR,
      'span=1,1,0,cas,hdb3\nspan=2,2,0,cas,hdb3\ncas=1-15:1101\ncas=17-31:1101\ncas=32-46:1101\ncas=48-62:1101\n',
    );
    const r2 = (name: string, span: number): EngineTrunk => ({
      name,
      signalling: 'mfcr2',
      span,
      variant: 'itu',
      channels: '1-2',
    });
    const [a, b] = await Promise.all([
      startHost(sim, { trunks: [r2('a', 1)] }, 'r2a'),
      startHost(sim, { trunks: [r2('b', 2)] }, 'r2b'),
    ]);
    try {
      for (const round of [1, 2]) {
        const ready = await eventually(
          async () =>
            (await a.snapshot()).trunks[0]?.channels.every((c) => c.state === 'idle') ?? false,
        );
        assert.ok(ready, 'the R2 channels are idle');
        const placed = await a.command({
          op: 'place',
          trunk: 'a',
          called: `70${round}`,
          calling: '123',
        });
        const offered = await b.waitEvent(
          (e) => e.event === 'offered' && e.called === `70${round}`,
        );
        assert.equal(offered.calling, '123', 'MF signalling works (the bearer was given back)');
        await b.command({ op: 'answer', call: offered.call as number });
        await a.waitEvent(is('answered', placed.call));
        await crossesBitExact(
          a,
          placed.call as number,
          b,
          offered.call as number,
          dir,
          `r2-${round}`,
        );
        const snap = await a.snapshot();
        assert.match(snap.media.legs[0]?.bearer ?? '', /^lent by a$/);
        await a.command({ op: 'release', call: placed.call as number, cause: 16 });
        await b.waitEvent(is('released', offered.call));
        await a.waitEvent(is('mediaDetached', placed.call));
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await sim.stop();
    }
  });

  test('analog: an FXS port and a phone line carry a prompt, and DTMF detection returns to the stack after the call', async () => {
    const board = {
      spans: [{ type: 'analog' as const, ports: ['fxs', 'fxo'] as ('fxs' | 'fxo')[] }],
      lines: [['1:1', '1:2']] as [string, string][],
    };
    const sim = await withConfiguredSim(board, 'fxoks=1\nfxsks=2\nloadzone=us\ndefaultzone=us\n');
    const [exchange, phone] = await Promise.all([
      startHost(
        sim,
        {
          trunks: [
            { name: 'ext', signalling: 'fxo_ks', span: 1, ports: [1], ringCadence: [800, 2500] },
          ],
        } as never,
        'exchange',
      ),
      startHost(
        sim,
        {
          trunks: [
            { name: 'line', signalling: 'fxs_ks', span: 1, ports: [2], timers: { dialDelay: 200 } },
          ],
        } as never,
        'phone',
      ),
    ]);
    try {
      const placed = await exchange.command({ op: 'place', trunk: 'ext', called: '' });
      const offered = await phone.waitEvent(is('offered'), 20_000);
      await phone.command({ op: 'answer', call: offered.call as number });
      await exchange.waitEvent(is('answered', placed.call));
      // Analog ports run µ-law here (DAHDI's default outside E1).
      const leg = () => exchange.snapshot().then((snap) => snap.media.legs[0]);
      await exchange.command({ op: 'detect', call: placed.call as number, dtmf: true });
      assert.equal((await leg())?.law, 'ulaw');
      await crossesBitExact(
        exchange,
        placed.call as number,
        phone,
        offered.call as number,
        dir,
        'analog',
        'ulaw',
      );
      await phone.command({ op: 'release', call: offered.call as number });
      await exchange.waitEvent(is('released', placed.call));
      await exchange.waitEvent(is('mediaDetached', placed.call));
      // The phone dials in: the port's own DTMF receiver hears the digits again.
      const { call } = await phone.command({ op: 'place', trunk: 'line', called: '42' });
      const incoming = await exchange.waitEvent(is('offered'), 20_000);
      await exchange.waitEvent(
        (e) => e.event === 'digits' && e.call === incoming.call && e.digits === '2',
      );
      await phone.command({ op: 'release', call: call as number });
    } finally {
      await Promise.all([exchange.stop(), phone.stop()]);
      await sim.stop();
    }
  });
});
