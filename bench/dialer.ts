// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard bench dialer`: contacts completed per hour on 2 and 16 E1 spans against the channel-limited maximum; IVR sessions per core.

import { readFileSync } from 'node:fs';
import { priPairs, startCarrier } from '../test/helpers/carrier.ts';
import { type Json, type RunningController, startController } from '../test/helpers/controller.ts';
import { eventually, withConfiguredSim } from '../test/helpers/dahdi.ts';

/** Spans of each run (E1, 30 B-channels each). `SWITCHBOARD_BENCH_DIALER_SPANS=2,16` changes them. */
const SPANS = (process.env.SWITCHBOARD_BENCH_DIALER_SPANS ?? '2,16').split(',').map(Number);
/** Contacts per channel: the campaign is this many waves deep. */
const WAVES = Number(process.env.SWITCHBOARD_BENCH_DIALER_WAVES ?? 3);

/** The message every contact hears: a short notice, then the call is cleared. */
const FLOW = {
  name: 'bench',
  start: 'notice',
  nodes: {
    notice: { type: 'play', items: [{ tts: 'This is a short notice.' }], next: 'bye' },
    bye: { type: 'hangup', cause: 16 },
  },
};

function switchConfig(spans: number) {
  const trunks = Array.from({ length: spans }, (_, i) => ({
    name: `pri${i + 1}`,
    signalling: 'pri_cpe',
    span: 2 * i + 1,
    switchtype: 'euroisdn',
  }));
  return {
    system: { timezone: 'UTC', toneZone: 'cn' },
    spans: trunks.map((t) => ({
      span: t.span,
      framing: 'ccs',
      coding: 'hdb3',
      crc4: true,
      timing: 0,
    })),
    trunks,
    trunkGroups: [{ name: 'all', trunks: trunks.map((t) => t.name), hunt: 'round_robin' }],
    routes: { outbound: [{ name: 'bench', called: '_X.', trunkGroups: ['all'] }] },
  };
}

function carrierScenario(spans: number) {
  return {
    seed: 5,
    trunks: Array.from({ length: spans }, (_, i) => ({
      name: `net${i + 1}`,
      signalling: 'pri_net',
      span: 2 * i + 2,
      switchtype: 'euroisdn',
    })),
    outbound: {
      mix: { answer: 1 },
      ringSeconds: { min: 0, max: 0 },
      holdSeconds: null,
      greetings: { human: null },
    },
  };
}

/** utime + stime of a process, seconds (Linux /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function monitor(ctl: RunningController, name: string): Promise<Json> {
  return (await ctl.api('GET', `/api/campaigns/${name}`)).json.monitor;
}

async function campaign(
  ctl: RunningController,
  name: string,
  contacts: string[],
  maxChannels: number,
) {
  const made = await ctl.api('POST', '/api/campaigns', {
    name,
    mode: 'broadcast',
    flow: 'bench',
    timezone: 'UTC',
    windows: [
      { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' },
    ],
    ringTimeoutSeconds: 30,
    maxChannels,
    retries: {
      busy: { max: 0, intervalMinutes: 1 },
      no_answer: { max: 0, intervalMinutes: 1 },
      congestion: { max: 0, intervalMinutes: 1 },
    },
  });
  if (made.status !== 201) throw new Error(`campaign: ${made.text}`);
  const imp = await ctl.api('POST', `/api/campaigns/${name}/contacts`, {
    format: 'txt',
    content: contacts.join('\n'),
  });
  if (imp.json?.report?.imported !== contacts.length) throw new Error(`contacts: ${imp.text}`);
  await ctl.api('POST', `/api/campaigns/${name}/start`);
}

async function runSpans(spans: number) {
  const { board, systemConf } = priPairs(spans);
  const sim = await withConfiguredSim(board, systemConf);
  const ctl = await startController(sim, switchConfig(spans));
  const carrier = await startCarrier(sim, carrierScenario(spans));
  try {
    const up = await eventually(async () => {
      const t = (await ctl.api('GET', '/api/trunks')).json.trunks as Json[];
      return t.every((x) => x.links.every((l: Json) => l.state === 'up'));
    }, 120_000);
    if (!up) throw new Error('the D-channels did not come up');
    const saved = await ctl.api('PUT', '/api/flows/bench', FLOW);
    if (saved.status !== 200) throw new Error(`flow: ${saved.text}`);
    const pid = ctl.proc.pid as number;

    // Reference: one contact alone, the holding time a channel cannot go below.
    const single = Date.now();
    await campaign(ctl, 'reference', ['13700000000'], 1);
    await eventually(async () => (await monitor(ctl, 'reference')).state === 'done', 60_000, 50);
    const holdMs = Date.now() - single;

    // Idle cost of the controller with every trunk up (no calls).
    const idle0 = cpuSeconds(pid);
    const idleStart = Date.now();
    await new Promise((r) => setTimeout(r, 5000));
    const idleCores = (cpuSeconds(pid) - idle0) / ((Date.now() - idleStart) / 1000);

    // The run: every channel, WAVES contacts each.
    const channels = spans * 30;
    const contacts = Array.from(
      { length: channels * WAVES },
      (_, i) => `1390${String(i).padStart(7, '0')}`,
    );
    const cpu0 = cpuSeconds(pid);
    const t0 = Date.now();
    await campaign(ctl, 'run', contacts, channels);
    let sessionSamples = 0;
    let sessionSum = 0;
    let peak = 0;
    const finished = await eventually(
      async () => {
        const m = await monitor(ctl, 'run');
        const live = m.calls.filter((c: Json) => c.state === 'answered').length;
        sessionSum += live;
        sessionSamples++;
        peak = Math.max(peak, live);
        return m.state === 'done';
      },
      30 * 60_000,
      500,
    );
    const seconds = (Date.now() - t0) / 1000;
    const cores = (cpuSeconds(pid) - cpu0) / seconds;
    const m = await monitor(ctl, 'run');
    const completed = m.contacts.done as number;
    const perHour = (completed / seconds) * 3600;
    const maxPerHour = (channels * 3600) / (holdMs / 1000);
    const meanSessions = sessionSum / Math.max(1, sessionSamples);
    return {
      spans,
      channels,
      contacts: contacts.length,
      finished,
      completed,
      results: m.results,
      outcomes: m.outcomes,
      seconds: Number(seconds.toFixed(1)),
      referenceHoldMs: holdMs,
      contactsPerHour: Math.round(perHour),
      // Contacts who heard the notice (the others failed, mostly congestion: see the README).
      reachedPerHour: Math.round(((m.outcomes.human as number) / seconds) * 3600),
      channelLimitedPerHour: Math.round(maxPerHour),
      ratioToChannelLimit: Number((perHour / maxPerHour).toFixed(3)),
      ivrSessions: { mean: Number(meanSessions.toFixed(1)), peak },
      controllerCores: { busy: Number(cores.toFixed(3)), idle: Number(idleCores.toFixed(3)) },
      sessionsPerCore: Number((meanSessions / Math.max(cores, 0.001)).toFixed(1)),
    };
  } finally {
    await carrier.stop();
    await ctl.stop();
    await sim.stop();
  }
}

export async function run(): Promise<object> {
  const results = [];
  for (const spans of SPANS) results.push(await runSpans(spans));
  return {
    description:
      'A broadcast campaign (answer, a 1.5 s TTS notice, clear) through the whole controller over PRI E1 spans to the simulated carrier, every contact answered at once. contactsPerHour against the channel-limited maximum: channels x 3600 / the holding time of one contact dialled alone in the same run (setup, answer, notice, clearing, dialer tick). ivrSessions: answered calls in their flow, sampled every 500 ms; sessionsPerCore: mean sessions / CPU cores the controller process (engine and media threads included) used meanwhile.',
    results,
  };
}
