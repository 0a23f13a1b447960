// SPDX-License-Identifier: GPL-2.0-or-later
// Loads the native addon (build/Release/switchboard.node, or $SWITCHBOARD_ADDON) with its types.

import { createRequire } from 'node:module';
import { isErrorCode, SwitchboardError } from '../core/errors.ts';
import { paths } from '../runtime/paths.ts';
import type { RawDspExports } from './dsp.ts';

/** DAHDI_ALARM_* names; BIT<n> for a bit this build does not know. */
export type DahdiAlarm =
  | 'RECOVER'
  | 'LOOPBACK'
  | 'YELLOW'
  | 'RED'
  | 'BLUE'
  | 'NOTOPEN'
  | 'LOS'
  | 'LFA'
  | 'LMFA'
  | `BIT${number}`;

/** One span as DAHDI_SPANSTAT reports it. */
export interface DahdiSpan {
  span: number;
  name: string;
  desc: string;
  alarms: DahdiAlarm[];
  /** E1, T1 or J1 for a digital span (the driver's span type), `analog` for an analog card. */
  type: string;
  /** The driver's span type as DAHDI reports it (5 characters: E1, T1, FXS, FXO, ANALO ...). */
  spantype: string;
  totalchans: number;
  /** Channels configured by dahdi_cfg. */
  numchans: number;
  /** null where the span has none (not configured yet, or analog). */
  lineconfig: {
    framing: 'ccs' | 'cas' | 'esf' | 'd4' | null;
    coding: 'hdb3' | 'ami' | 'b8zs' | null;
    crc4: boolean;
  };
  /** Error counters: bipolar violations, CRC-4, E-bit, FAS, framing, coding violations, bit errors, errored seconds. */
  counters: {
    bpv: number;
    crc4: number;
    ebit: number;
    fas: number;
    fe: number;
    cv: number;
    be: number;
    errsec: number;
  };
  /** Span currently giving timing, 0 for free run. */
  syncsrc: number;
}

interface RawAddon extends RawDspExports {
  spans(): DahdiSpan[];
  Engine: import('./engine.ts').RawEngineClass;
}

/** The addon's functions; its errors arrive as SwitchboardError with the addon's code. */
export interface Addon {
  /** Every span that answers DAHDI_SPANSTAT. Throws E_DAHDI_OPEN when /dev/dahdi/ctl cannot be opened. */
  spans(): DahdiSpan[];
}

/** The path loadAddon() uses: $SWITCHBOARD_ADDON (a sanitizer or image build) or the node-gyp build. */
export function addonPath(): string {
  return process.env.SWITCHBOARD_ADDON || paths.addon;
}

/**
 * Calls into the addon: native errors carry `code` (and `errno`, `syscall` for system calls, or
 * the `field` at fault for a command); they become SwitchboardError with details.field.
 */
export function wrap<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    const e = err as { code?: unknown; field?: unknown; message?: string };
    if (isErrorCode(e.code)) {
      throw new SwitchboardError(e.code, e.message ?? String(err), {
        cause: err,
        details: e.field === undefined ? undefined : { field: e.field },
      });
    }
    throw err;
  }
}

let cached: Addon | undefined;
let cachedRaw: RawAddon | undefined;

/**
 * The addon module itself, loaded once per process.
 * @throws SwitchboardError E_ADDON_LOAD when it is missing or does not load
 */
export function loadRaw(): RawAddon {
  if (cachedRaw) return cachedRaw;
  const file = addonPath();
  try {
    cachedRaw = createRequire(import.meta.url)(file) as RawAddon;
    return cachedRaw;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    throw new SwitchboardError(
      'E_ADDON_LOAD',
      missing
        ? `the native addon is not built (${file} is missing): run \`bash scripts/setup.sh\``
        : `cannot load the native addon ${file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * Loads the addon once per process.
 * @throws SwitchboardError E_ADDON_LOAD when it is missing or does not load
 */
export function loadAddon(): Addon {
  if (cached) return cached;
  const raw = loadRaw();
  cached = { spans: () => wrap(() => raw.spans()) };
  return cached;
}
