// SPDX-License-Identifier: GPL-2.0-or-later
// What the carrier's answered callees say: greetings rendered with espeak-ng and the machine's beep, made once at start.

import { mkdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isSwitchboardError, SwitchboardError } from '../core/errors.ts';
import type { FieldError } from '../core/schema.ts';
import { runTool, soxOutputArgs, toolWords } from '../media/sox.ts';
import { renderTts } from '../media/tts.ts';
import { inspectWav } from '../media/wav.ts';
import type { AnsweredBy, NumberRule, Outbound, Scenario } from './scenario.ts';
import { BEEP_HZ, BEEP_MS } from './scenario.ts';

/**
 * The beep's level: 10 dB below sox's full-scale sine, about -7 dBm0, as loud as a
 * machine's beep is on a line and well inside A-law.
 */
const BEEP_GAIN_DB = -10;

/** One rendered piece of audio the carrier plays. */
export interface CalleeSound {
  /** Absolute path of the 8 kHz A-law WAV. */
  path: string;
  durationMs: number;
}

/** What one answered callee plays: its greeting's text and files, back to back. */
export interface CalleeSpeech {
  /** The greeting's text; null when the callee says nothing (a machine then only beeps). */
  text: string | null;
  /** Played in order with no gap (empty: the callee stays silent). */
  files: string[];
  /** Length of all files together, ms. */
  durationMs: number;
}

/** The carrier's rendered audio: each distinct greeting text, and the beep. */
export interface CalleeAudio {
  texts: Map<string, CalleeSound>;
  beep: CalleeSound;
}

/** The greeting a callee says: the matching rule's, else the scenario's for who answers. */
export function greetingText(
  outbound: Outbound,
  rule: NumberRule | undefined,
  by: AnsweredBy,
): string | null {
  if (rule?.greeting !== undefined) return rule.greeting;
  return outbound.greetings[by];
}

/**
 * The texts answered callees may say under this scenario: a person's and a machine's greeting
 * when the mix or a rule can lead to them, and every rule's own greeting.
 */
export function greetingTexts(scenario: Scenario): string[] {
  const out = scenario.outbound;
  const weight = (share: string) => out.mix.find(([s]) => s === share)?.[1] ?? 0;
  const texts = new Set<string>();
  const add = (t: string | null | undefined) => {
    if (typeof t === 'string') texts.add(t);
  };
  // A call no rule matches, or a rule without outcome, draws from the mix.
  if (weight('answer') > 0) add(out.greetings.human);
  if (weight('machine') > 0) add(out.greetings.machine);
  for (const rule of out.numbers) {
    if (rule.greeting !== undefined) add(rule.greeting);
    else if (rule.outcome === 'answer') add(out.greetings[rule.answeredBy ?? 'human']);
  }
  return [...texts];
}

/** What a callee answering as `by` plays, from the rendered audio. */
export function calleeSpeech(
  audio: CalleeAudio,
  text: string | null,
  by: AnsweredBy,
): CalleeSpeech {
  const sounds: CalleeSound[] = [];
  if (text !== null) {
    const spoken = audio.texts.get(text);
    // validateScenario and greetingTexts agree on every text; a miss is a bug, not input.
    if (!spoken) throw new SwitchboardError('E_INTERNAL', `greeting "${text}" was not rendered`);
    sounds.push(spoken);
  }
  if (by === 'machine') sounds.push(audio.beep);
  return {
    text,
    files: sounds.map((s) => s.path),
    durationMs: sounds.reduce((n, s) => n + s.durationMs, 0),
  };
}

/** The machine's beep: a sine of BEEP_HZ for BEEP_MS, made by sox (the TTS cache is for TTS alone). */
async function renderBeep(dir: string): Promise<CalleeSound> {
  const path = join(dir, `beep-${BEEP_HZ}hz-${BEEP_MS}ms.wav`);
  const tmp = `${path}.${process.pid}.tmp`;
  const run = await runTool(
    'sox',
    [
      '--no-glob',
      '-n',
      ...soxOutputArgs('alaw'),
      tmp,
      'synth',
      String(BEEP_MS / 1000),
      'sine',
      String(BEEP_HZ),
      'gain',
      String(BEEP_GAIN_DB),
    ],
    { timeoutMs: 10_000 },
  );
  if (run.code !== 0) {
    await rm(tmp, { force: true });
    throw new SwitchboardError(
      'E_COMMAND',
      `sox could not make the beep (${toolWords(run.stderr)})`,
    );
  }
  await rename(tmp, path);
  return { path, durationMs: (await inspectWav(path)).durationMs };
}

/**
 * Renders every greeting the scenario's callees may say (espeak-ng through src/media/tts.ts,
 * cached by content under `workDir/greetings`) and the beep. A voice espeak-ng does not know is
 * refused as the scenario field it came from.
 * @throws SwitchboardError E_CONFIG_FIELD (outbound.greetings.voice), E_TTS or E_COMMAND
 */
export async function renderCalleeAudio(scenario: Scenario, workDir: string): Promise<CalleeAudio> {
  const dir = resolve(workDir, 'greetings');
  await mkdir(dir, { recursive: true });
  const texts = new Map<string, CalleeSound>();
  for (const text of greetingTexts(scenario)) {
    try {
      const r = await renderTts(text, { cacheDir: dir, voice: scenario.outbound.greetings.voice });
      texts.set(text, { path: r.path, durationMs: (await inspectWav(r.path)).durationMs });
    } catch (err) {
      if (isSwitchboardError(err, 'E_TTS_VOICE')) {
        const details: FieldError[] = [{ path: 'outbound.greetings.voice', message: err.message }];
        throw new SwitchboardError(
          'E_CONFIG_FIELD',
          `invalid carrier scenario:\n  outbound.greetings.voice: ${err.message}`,
          { details, cause: err },
        );
      }
      throw err;
    }
  }
  return { texts, beep: await renderBeep(resolve(workDir)) };
}
