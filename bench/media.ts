// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard bench media`: media-thread CPU per channel and per conference party, against spandsp and a bare mixer.

import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dsp, dspReference, generateDtmf } from '../src/native/dsp.ts';
import { type Host, startEngineHost } from '../src/native/host-client.ts';
import type { MediaSnapshot } from '../src/native/media.ts';
import { runProcess } from '../src/runtime/process.ts';
import type { SimConfig } from '../src/sim/config.ts';
import { simEnv, startSim } from '../src/sim/daemon.ts';
import { renderSystemConf } from '../src/sim/dahdiconf.ts';

// Cabled E1 pairs; every B-channel of every span runs media (30 a span).
const SPANS = Number(process.env.SWITCHBOARD_BENCH_SPANS ?? 4);
const SECONDS = Number(process.env.SWITCHBOARD_BENCH_SECONDS ?? 10);
const CONF_SIZE = Number(process.env.SWITCHBOARD_BENCH_CONF_SIZE ?? 5);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** DAHDI channel numbers of the B-channels of `spans` E1 spans (TS16 is the D-channel). */
function bearers(spans: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < spans; s++)
    for (let ts = 1; ts <= 31; ts++) if (ts !== 16) out.push(s * 31 + ts);
  return out;
}

function wav(data: Buffer): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(6, 20); // A-law
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(8000, 28);
  h.writeUInt16LE(1, 32);
  h.writeUInt16LE(8, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

async function media(host: Host): Promise<MediaSnapshot> {
  return (await host.snapshot()).media;
}

/** Media-thread CPU over `seconds` of steady state, in µs per channel-second. */
async function measure(host: Host, legs: number, seconds: number) {
  const a = await media(host);
  const t0 = process.hrtime.bigint();
  await sleep(seconds * 1000);
  const b = await media(host);
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuUs = (b.cpuNs - a.cpuNs) / 1000;
  return {
    usPerLegSecond: cpuUs / (legs * wallS),
    coreShare: cpuUs / 1e6 / wallS,
    ticks: b.ticks - a.ticks,
    lateTicks: b.lateTicks - a.lateTicks,
    snapshot: b,
  };
}

/** spandsp's bare DTMF receiver and a bare sum-minus-self mixer, run in this process now. */
function references(seconds: number) {
  // Line audio with digits in it, so the receiver does its whole job.
  const digits = generateDtmf('1234567890*#ABCD', 60, 60, -10);
  const pcm = new Int16Array(seconds * 8000);
  for (let i = 0; i < pcm.length; i += digits.length)
    pcm.set(digits.subarray(0, pcm.length - i), i);
  const ref = dspReference.dtmf(pcm);
  const full = new Dsp({ dtmf: true });
  full.process(pcm);
  const tones = new Dsp({ dtmf: false, zone: 'cn' });
  tones.process(pcm);
  const all = new Dsp({ dtmf: true, zone: 'cn', fax: true, amd: true });
  all.process(pcm);
  const parties = 10;
  const mix = dspReference.mix(parties, seconds * 50);
  return {
    spandspDtmfUsPerChannelSecond: ref.cpuNs / 1000 / seconds,
    ourDtmfUsPerChannelSecond: full.cpuNs / 1000 / seconds,
    progressToneUsPerChannelSecond: tones.cpuNs / 1000 / seconds,
    allDetectorsUsPerChannelSecond: all.cpuNs / 1000 / seconds,
    bareMixUsPerPartySecond: mix.cpuNs / 1000 / (parties * seconds),
    dtmfDigitsFoundByReference: ref.digits.length,
  };
}

export async function run(): Promise<object> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-media-'));
  const cables: [number, number][] = [];
  for (let s = 1; s < SPANS; s += 2) cables.push([s, s + 1]);
  const config: SimConfig = {
    spans: Array.from({ length: SPANS }, () => ({ type: 'E1' as const })),
    cables,
  };
  writeFileSync(join(dir, 'system.conf'), renderSystemConf(config));
  const sim = await startSim({ config, dir });
  const env = simEnv(dir);
  let host: Host | undefined;
  try {
    const cfg = await runProcess('dahdi_cfg', ['-c', join(dir, 'system.conf')], { env });
    if (cfg.code !== 0) throw new Error(`dahdi_cfg: ${cfg.stderr}`);
    host = await startEngineHost(env, dir, { trunks: [] }, 'media');
    const chans = bearers(SPANS);
    // A minute of speech-like A-law noise per prompt, so no leg runs out during the measurement.
    const bytes = Buffer.alloc(8000 * 60);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + (i >> 3)) & 0xff;
    const prompt = join(dir, 'prompt.wav');
    writeFileSync(prompt, wav(bytes));

    // 0. The floor: every channel open and read by the media thread, no detector, nothing sent.
    for (const ch of chans) await host.command({ op: 'detect', dahdiChannel: ch, dtmf: false });
    await sleep(1000);
    const idle = await measure(host, chans.length, SECONDS);

    // 1. Play + record + DTMF detection on every channel.
    for (const ch of chans) {
      await host.command({ op: 'detect', dahdiChannel: ch, dtmf: true });
      await host.command({ op: 'play', dahdiChannel: ch, files: [prompt] });
      await host.command({ op: 'record', dahdiChannel: ch, file: join(dir, `rec-${ch}.wav`) });
    }
    await sleep(1000);
    const playRecord = await measure(host, chans.length, SECONDS);
    const legsOk = playRecord.snapshot.legs.filter(
      (l) => l.readErrors === 0 && l.playing && l.recording,
    ).length;
    for (const ch of chans) await host.command({ op: 'stop', dahdiChannel: ch });
    await sleep(500);
    // Every recording is as long as the time it ran: a gap would make it shorter.
    const recordedMs = chans.map((ch) => (statSync(join(dir, `rec-${ch}.wav`)).size - 44) / 8);

    // 2. The same channels in conferences of CONF_SIZE (each party still runs DTMF detection).
    const confs = Math.floor(chans.length / CONF_SIZE);
    for (let c = 0; c < confs; c++) {
      const parties = chans.slice(c * CONF_SIZE, (c + 1) * CONF_SIZE).map((dahdiChannel) => ({
        dahdiChannel,
      }));
      await host.command({ op: 'confCreate', conference: `c${c}`, parties });
    }
    await sleep(1000);
    const conference = await measure(host, confs * CONF_SIZE, SECONDS);
    const frames = conference.snapshot.conferences.reduce((n, c) => n + c.frames, 0);

    const ref = references(SECONDS * 3);
    const us = playRecord.usPerLegSecond;
    const usConf = conference.usPerLegSecond;
    return {
      description:
        'Media-thread CPU per channel with DTMF detection, prompt playback and recording on every ' +
        'B-channel of cabled E1 spans; per party in conferences; ratios to spandsp dtmf_rx and a bare ' +
        'sum-minus-self mixer driven directly in the same run (lower ratio is better). readOnly is ' +
        'the floor: every channel read by the media thread through the (simulated) DAHDI API, no DSP.',
      spans: SPANS,
      seconds: SECONDS,
      readOnly: {
        usPerChannelSecond: round(idle.usPerLegSecond),
        ratioToSpandspDtmf: round(idle.usPerLegSecond / ref.spandspDtmfUsPerChannelSecond),
      },
      playRecordDetect: {
        channels: chans.length,
        usPerChannelSecond: round(us),
        channelsPerCore: Math.floor(1e6 / us),
        coreShare: round(playRecord.coreShare, 3),
        ratioToSpandspDtmf: round(us / ref.spandspDtmfUsPerChannelSecond),
        legsPlayingAndRecording: legsOk,
        shortestRecordingMs: Math.min(...recordedMs),
        lateTicks: playRecord.lateTicks,
      },
      conference: {
        conferences: confs,
        partiesEach: CONF_SIZE,
        usPerPartySecond: round(usConf),
        partyLegsPerCore: Math.floor(1e6 / usConf),
        ratioToBareMix: round(usConf / ref.bareMixUsPerPartySecond),
        ratioToSpandspDtmf: round(usConf / ref.spandspDtmfUsPerChannelSecond),
        framesMixed: frames,
      },
      detectors: {
        spandspDtmfUsPerChannelSecond: round(ref.spandspDtmfUsPerChannelSecond),
        ourDtmfUsPerChannelSecond: round(ref.ourDtmfUsPerChannelSecond),
        ourDtmfRatioToSpandsp: round(
          ref.ourDtmfUsPerChannelSecond / ref.spandspDtmfUsPerChannelSecond,
        ),
        progressToneUsPerChannelSecond: round(ref.progressToneUsPerChannelSecond),
        progressToneRatioToSpandspDtmf: round(
          ref.progressToneUsPerChannelSecond / ref.spandspDtmfUsPerChannelSecond,
        ),
        allDetectorsUsPerChannelSecond: round(ref.allDetectorsUsPerChannelSecond),
        bareMixUsPerPartySecond: round(ref.bareMixUsPerPartySecond),
      },
    };
  } finally {
    await host?.stop();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
