// SPDX-License-Identifier: GPL-2.0-or-later
// The real FlowServices on a box: prompt sets, espeak-ng speech, fetch, recording and voicemail directories, the configuration.

import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SwitchConfig } from '../config/schema.ts';
import { resolvePlaylist } from '../media/promptset.ts';
import { renderTts } from '../media/tts.ts';
import {
  type FlowClock,
  type FlowLogger,
  type FlowServices,
  type HttpAnswer,
  systemClock,
} from './runtime.ts';
import type { FlowLang } from './schema.ts';

/** Longest web answer a flow reads, bytes: a flow maps a few fields, not a download. */
export const HTTP_MAX_ANSWER_BYTES = 1024 * 1024;

/** espeak-ng voice for speech in each flow language (zh text is written in characters). */
const TTS_VOICE: Record<FlowLang, string> = { en: 'en', zh: 'cmn' };

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * A FlowContext.promptExists over a prompt directory (`<root>/<lang>/<name>.wav`, en as the
 * fallback), for checking flows when they are saved.
 */
export function promptExistsIn(root: string): (name: string, lang: FlowLang) => boolean {
  return (name, lang) => {
    const clean = name.replace(/\.wav$/i, '');
    const parts = clean.split('/');
    if (parts.length > 4 || !parts.every((p) => SEGMENT.test(p))) return false;
    return [lang, 'en'].some((set) => existsSync(`${join(root, set, ...parts)}.wav`));
  };
}

export interface FlowServiceOptions {
  /** Prompt sets: `<promptRoot>/<lang>/<name>.wav`. */
  promptRoot: string;
  /** Rendered speech cache (src/media/tts.ts). */
  ttsCacheDir: string;
  /** Where record nodes write (`<dir>/<call id>-<node>-<ms>.wav`); created when missing. */
  recordingDir: string;
  /** Voicemail: `<dir>/<mailbox>/<call id>-<ms>.wav` with a `.json` of the message beside it. */
  voicemailDir: string;
  /** The running configuration (time conditions, system.timezone). */
  config: () => SwitchConfig;
  transfer: FlowServices['transfer'];
  queue: FlowServices['queue'];
  logger: FlowLogger;
  /** Prompt names to files; default resolvePlaylist over promptRoot (the controller's library also renders built-ins). */
  resolvePrompts?: FlowServices['resolvePrompts'];
  /** Default the global fetch, answers cut at HTTP_MAX_ANSWER_BYTES. */
  fetch?: FlowServices['fetch'];
  clock?: FlowClock;
}

async function cappedText(res: Response): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > HTTP_MAX_ANSWER_BYTES) {
      await reader.cancel();
      throw new Error(`the answer is longer than ${HTTP_MAX_ANSWER_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

async function globalFetch(
  url: string,
  req: Parameters<FlowServices['fetch']>[1],
): Promise<HttpAnswer> {
  const res = await fetch(url, {
    method: req.method,
    headers: req.headers,
    ...(req.body === undefined ? {} : { body: req.body }),
    signal: req.signal,
    redirect: 'follow',
  });
  return { status: res.status, text: () => cappedText(res) };
}

/** Everything a flow uses on a real box except other flows (ivrApp adds those from the store). */
export function flowServices(o: FlowServiceOptions): Omit<FlowServices, 'loadFlow'> {
  const clock = o.clock ?? systemClock;
  const stamp = () => clock.now().getTime();
  return {
    resolvePrompts:
      o.resolvePrompts ?? ((names, lang) => resolvePlaylist(names, { root: o.promptRoot, lang })),
    tts: async (text, { voice, lang }) =>
      (await renderTts(text, { voice: voice ?? TTS_VOICE[lang], cacheDir: o.ttsCacheDir })).path,
    fetch: o.fetch ?? globalFetch,
    transfer: o.transfer,
    queue: o.queue,
    timeCondition: (name) => o.config().timeConditions?.find((t) => t.name === name),
    timezone: () => o.config().system?.timezone,
    recordingFile: async ({ callId, node }) => {
      await mkdir(o.recordingDir, { recursive: true });
      return join(o.recordingDir, `${callId}-${node}-${stamp()}.wav`);
    },
    voicemailFile: async ({ callId, mailbox }) => {
      const dir = join(o.voicemailDir, mailbox);
      await mkdir(dir, { recursive: true });
      return join(dir, `${callId}-${stamp()}.wav`);
    },
    storeVoicemail: async (msg) => {
      await writeFile(msg.file.replace(/\.wav$/, '.json'), `${JSON.stringify(msg, null, 2)}\n`);
    },
    clock,
    logger: o.logger,
  };
}
