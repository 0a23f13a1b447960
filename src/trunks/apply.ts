// SPDX-License-Identifier: GPL-2.0-or-later
// Applies a changed switch configuration: system.conf, dahdi_cfg for the touched spans only, then the engine.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { SwitchConfig } from '../config/schema.ts';
import { validateConfig } from '../config/validate.ts';
import { SwitchboardError } from '../core/errors.ts';
import type { EngineConfig, ReconfigureResult } from '../native/engine.ts';
import { dahdiCfg } from '../runtime/dahdi-tools.ts';
import { runProcess } from '../runtime/process.ts';
import {
  type BoardLayout,
  renderSystemConf,
  type SystemConfOptions,
  spanChanges,
  spanChannels,
} from './system-conf.ts';

export interface DahdiApplyOptions extends SystemConfOptions {
  /** The directory system.conf is written to (DIR/system.conf). */
  dir: string;
  board: BoardLayout;
  /** dahdi_cfg's environment (on a simulated board, the simulator's preload); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** A span for dahdi_cfg to configure: a span number (all its channels), or some of its timeslots. */
export type DahdiTarget = number | { span: number; timeslots?: readonly number[] };

export interface DahdiApplyResult {
  /** The system.conf written. */
  file: string;
  /** The spans dahdi_cfg configured, ascending. */
  spans: number[];
  /** What dahdi_cfg printed, span by span. */
  output: string;
}

/**
 * Writes system.conf for `config` and has dahdi_cfg apply it to the `targets` only, one run each
 * of `dahdi_cfg -c FILE -S SPAN -C CHANNELS` (dahdi_cfg refuses -S without -C; CHANNELS is the
 * whole span, or the timeslots given). Such a run parses the whole file but sends
 * DAHDI_SPANCONFIG and DAHDI_STARTUP for that span only (an analog card, which has no span line,
 * gets neither), and DAHDI_CHANCONFIG only for the listed channels whose signalling, law or idle
 * bits change: every other span and channel, and every call on them, is left alone. DAHDI_STARTUP does nothing to a span that is
 * already running (no channel is hung up). Tone zones are loaded again by each run (DAHDI
 * answers EBUSY for a loaded one, which dahdi_cfg ignores). A channel that has disappeared from
 * the file keeps the signalling it had (dahdi_cfg never unconfigures one), which is harmless:
 * no trunk opens it.
 * @throws SwitchboardError E_DAHDI_CFG with dahdi_cfg's output
 */
export async function applySystemConf(
  config: SwitchConfig,
  targets: readonly DahdiTarget[],
  options: DahdiApplyOptions,
): Promise<DahdiApplyResult> {
  const text = renderSystemConf(config, options.board, options);
  const file = join(options.dir, 'system.conf');
  writeFileSync(file, text);
  const outputs: string[] = [];
  const sorted = targets
    .map((t) => (typeof t === 'number' ? { span: t } : t))
    .sort((a, b) => a.span - b.span);
  for (const { span, timeslots } of sorted) {
    const channels = spanChannels(options.board, span, timeslots);
    const args = ['-vv', '-c', file, '-S', String(span), '-C', channels];
    const cmd = dahdiCfg();
    let result: Awaited<ReturnType<typeof runProcess>>;
    try {
      result = await runProcess(cmd, args, {
        ...(options.env ? { env: options.env } : {}),
        timeoutMs: 30_000,
      });
    } catch (err) {
      throw new SwitchboardError('E_DAHDI_CFG', `${cmd} ${args.join(' ')}: ${String(err)}`, {
        cause: err,
        details: { span },
      });
    }
    const output = `${result.stdout}${result.stderr}`.trim();
    if (result.code !== 0)
      throw new SwitchboardError(
        'E_DAHDI_CFG',
        `dahdi_cfg ${args.join(' ')} failed (exit ${result.code ?? 'by signal'})${output ? `:\n${output}` : ''}`,
        { details: { span, output } },
      );
    outputs.push(`# dahdi_cfg ${args.join(' ')}\n${output}`);
  }
  return { file, spans: sorted.map((t) => t.span), output: outputs.join('\n') };
}

/** The engine's part of a switch configuration: its trunks, and the tone zone of its media. */
export function engineConfig(config: SwitchConfig): EngineConfig {
  return { trunks: config.trunks ?? [], media: { zone: config.system?.toneZone ?? 'itu' } };
}

/** What the engine host or the in-process engine offers to an apply. */
export interface ReconfigurableEngine {
  reconfigure(config: EngineConfig): ReconfigureResult | Promise<ReconfigureResult>;
}

export interface ApplyResult extends ReconfigureResult {
  /** Spans dahdi_cfg configured again (spansTouched), ascending. */
  spans: number[];
  /** The system.conf written. */
  file: string;
  /** dahdi_cfg's output. */
  output: string;
}

/**
 * Applies `after` to a switch running `before` (undefined: nothing applied yet) without
 * disturbing what does not change. The configuration is validated first (nothing changes on an
 * error). When system.conf changes (spanChanges), the trunks that must let go of what changes
 * stop first: one reconfigure keeps only the unchanged trunks that own none of it (on an E1/T1
 * span whose span line changes, that is every trunk of the span; on an analog card, the trunks
 * of the ports that change). dahdi_cfg then configures what changed (applySystemConf), and a
 * second reconfigure opens and starts the new, changed and restarted trunks. When system.conf
 * does not change it is still rewritten, and one reconfigure does. Calls on the stopped trunks
 * end with `released` (by 'stack', Cause 41); calls on the kept trunks carry on.
 * @throws SwitchboardError E_CONFIG_FIELD naming the field, E_DAHDI_CFG with dahdi_cfg's output
 */
export async function applySwitchConfig(
  engine: ReconfigurableEngine,
  before: SwitchConfig | undefined,
  after: SwitchConfig,
  options: DahdiApplyOptions,
): Promise<ApplyResult> {
  validateConfig(after, options.board);
  const changes = spanChanges(before, after, options.board);
  const stopped: string[] = [];
  if (changes.length > 0) {
    const restart = new Set(changes.flatMap((c) => c.trunks));
    const next = new Map((after.trunks ?? []).map((t) => [t.name, t]));
    const stay = (before?.trunks ?? []).filter(
      (t) => !restart.has(t.name) && isDeepStrictEqual(t, next.get(t.name)),
    );
    const first = await engine.reconfigure({ ...engineConfig(before ?? after), trunks: stay });
    stopped.push(...first.stopped);
  }
  const targets = changes.map((c) => (c.line ? c.span : { span: c.span, timeslots: c.timeslots }));
  const dahdi = await applySystemConf(after, targets, options);
  const second = await engine.reconfigure(engineConfig(after));
  return {
    kept: second.kept,
    stopped: [...stopped, ...second.stopped],
    started: second.started,
    spans: dahdi.spans,
    file: dahdi.file,
    output: dahdi.output,
  };
}
