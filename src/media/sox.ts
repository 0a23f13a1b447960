// SPDX-License-Identifier: GPL-2.0-or-later
// The sox command lines the prompt code shares: encodings, runs, and a tool's words on failure.

import { SwitchboardError } from '../core/errors.ts';
import { type ProcessResult, runProcess } from '../runtime/process.ts';
import type { PlayableFormat } from './wav.ts';
import { PLAYABLE_RATE } from './wav.ts';

/** sox output options for each playable encoding, always 8 kHz mono WAV. */
export function soxOutputArgs(format: PlayableFormat): string[] {
  const encoding: Record<PlayableFormat, string[]> = {
    alaw: ['-e', 'a-law', '-b', '8'],
    ulaw: ['-e', 'mu-law', '-b', '8'],
    pcm16: ['-e', 'signed-integer', '-b', '16'],
  };
  return ['-r', String(PLAYABLE_RATE), '-c', '1', ...encoding[format], '-t', 'wav'];
}

/**
 * Runs a tool to completion. A tool that is not installed becomes E_COMMAND naming the setup
 * script; a run killed after `timeoutMs` comes back with `code: null` for the caller to word.
 */
export async function runTool(
  cmd: string,
  args: string[],
  opts: { timeoutMs: number; input?: string },
): Promise<ProcessResult> {
  try {
    return await runProcess(cmd, args, opts);
  } catch (err) {
    throw missingTool(cmd, err);
  }
}

export function missingTool(cmd: string, err: unknown): SwitchboardError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT'
      ? 'is not installed (scripts/setup.sh installs it)'
      : `cannot be started (${code ?? err})`;
  return new SwitchboardError('E_COMMAND', `${cmd} ${why}`, {
    cause: err,
    details: { command: cmd },
  });
}

/** A tool's standard error on one line, in its own words, for a message and its details. */
export function toolWords(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .join('; ');
}

/** sox's warnings (clipping, premature end of file) from its standard error. */
export function soxWarnings(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => / WARN /.test(l));
}
