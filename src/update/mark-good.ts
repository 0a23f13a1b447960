// SPDX-License-Identifier: GPL-2.0-or-later
// After a boot: mark the running slot good once the controller is healthy, else mark it bad and reboot (rollback).

import type { BootTools } from './tools.ts';

export interface MarkGoodOptions {
  /** The controller's API base URL (http://127.0.0.1:8080). */
  url: string;
  /** How long the controller has to come up, in seconds. */
  timeoutS: number;
  /** The controller's systemd unit, which must be active too. */
  unit: string;
  tools: BootTools;
  /** Pause between checks in ms; default 1000. */
  pollMs?: number;
  /** Progress lines for people (the CLI prints them). */
  say?: (line: string) => void;
}

export interface MarkGoodResult {
  result: 'good' | 'bad';
  /** Bootname of the slot that was marked, when rauc status told it. */
  slot: string | null;
  /** Checks made before the verdict. */
  checks: number;
  /** What the last failed check saw (for the rollback message). */
  lastProblem: string;
}

/**
 * Whether the API answers at all: any HTTP status counts (401 included: the controller is up
 * and guarding its routes). A refused or timed-out connection does not.
 */
export async function apiAnswers(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(new URL('/api/status', url), {
      signal: AbortSignal.timeout(Math.max(100, timeoutMs)),
    });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits until the controller's API answers and its unit is active, then runs
 * `rauc status mark-good booted`. When `timeoutS` passes first, runs `rauc status mark-bad booted`
 * and `systemctl reboot`, so GRUB boots the other slot (the one that ran before the update).
 */
export async function markGood(opts: MarkGoodOptions): Promise<MarkGoodResult> {
  const { tools, unit } = opts;
  const say = opts.say ?? (() => {});
  const pollMs = opts.pollMs ?? 1000;
  const deadline = Date.now() + opts.timeoutS * 1000;
  let slot: string | null = null;
  try {
    slot = (await tools.status()).booted;
  } catch {
    // Only for the messages; marking goes by `booted` anyway.
  }
  const which = slot ? `slot ${slot}` : 'the booted slot';
  let checks = 0;
  let lastProblem = 'nothing checked yet';
  for (;;) {
    checks++;
    const left = deadline - Date.now();
    if (!(await apiAnswers(opts.url, Math.min(2000, Math.max(left, 100)))))
      lastProblem = `the API at ${opts.url} does not answer`;
    else if (!(await tools.isActive(unit))) lastProblem = `${unit} is not active`;
    else {
      await tools.mark(true);
      say(`${which} marked good: the API at ${opts.url} answers and ${unit} is active`);
      return { result: 'good', slot, checks, lastProblem: '' };
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
  }
  say(`${lastProblem} after ${opts.timeoutS} s: marking ${which} bad and rebooting into the other`);
  try {
    await tools.mark(false);
  } finally {
    // Even if marking failed, the reboot counts a try: GRUB falls back when tries run out.
    await tools.reboot();
  }
  return { result: 'bad', slot, checks, lastProblem };
}
