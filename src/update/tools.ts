// SPDX-License-Identifier: GPL-2.0-or-later
// The boot tools behind firmware updates (rauc, systemctl): one small interface, run as real programs.

import { spawn } from 'node:child_process';
import { existsSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SwitchboardError } from '../core/errors.ts';
import { repoRoot } from '../runtime/paths.ts';
import type { VerityParams } from './verity.ts';

/** What `rauc info` says about a bundle whose signature it verified. */
export interface BundleInfo {
  compatible: string;
  version: string;
  description: string | null;
  build: string | null;
  /** `plain` (signature over the whole file) or `verity` (signed manifest, payload by hash tree). */
  format: string;
  /** The signed verity parameters of a `verity` bundle. */
  verity?: VerityParams;
  /** Slot class of each image (`rootfs`), with its file name and size in bytes. */
  images: { slotClass: string; filename: string; size: number | null }[];
}

/** One slot as `rauc status --detailed` reports it. */
export interface SlotStatus {
  /** `rootfs.0`, `rootfs.1` */
  name: string;
  slotClass: string | null;
  bootname: string | null;
  /** `booted`, `active` or `inactive`. */
  state: string;
  /** The bootloader's view: good (bootable), bad, or null for a slot it does not boot. */
  good: boolean | null;
  /** Version and compatible of the bundle last installed to the slot, when RAUC recorded one. */
  version?: string;
  compatible?: string;
}

export interface BootStatus {
  compatible: string | null;
  /** Bootname of the running slot (`A`), or null when unknown. */
  booted: string | null;
  /** Name of the slot the bootloader tries first (`rootfs.1`), or null. */
  primary: string | null;
  slots: SlotStatus[];
}

/**
 * The programs an update drives. Each call is one command; failures are SwitchboardErrors:
 * `info` classifies refusals (E_FIRMWARE_UNSIGNED, E_FIRMWARE_SIGNATURE, E_FIRMWARE_KEYRING),
 * the others fail with E_FIRMWARE_TOOL (E_FIRMWARE_INSTALL for install).
 */
export interface BootTools {
  /** `rauc info --keyring=K --output-format=json FILE` (and the readable form for the format). */
  info(bundle: string): Promise<BundleInfo>;
  /** `rauc install FILE`; `onProgress` gets each progress line (percent, RAUC's words). */
  install(bundle: string, onProgress: (percent: number, message: string) => void): Promise<void>;
  /** `rauc status --detailed --output-format=json` */
  status(): Promise<BootStatus>;
  /** `rauc status mark-good|mark-bad booted` */
  mark(good: boolean): Promise<string>;
  /**
   * Reboots the box: `systemctl reboot`, or, for an unprivileged controller, makes the reboot
   * request file a root unit watches (ToolPaths.rebootRequest). `reason` goes in the file.
   */
  reboot(reason?: string): Promise<void>;
  /** `systemctl is-active --quiet UNIT` */
  isActive(unit: string): Promise<boolean>;
}

export interface ToolPaths {
  /** The rauc program; default $SWITCHBOARD_RAUC or `rauc` on PATH. */
  rauc: string;
  /** The systemctl program; default $SWITCHBOARD_SYSTEMCTL or `systemctl` on PATH. */
  systemctl: string;
  /** The keyring bundles are verified against (PEM, one or more CA certificates). */
  keyring: string;
  /**
   * $SWITCHBOARD_REBOOT_REQUEST: a controller without the right to reboot makes this file and
   * a root unit reboots (systemd/switchboard-reboot.path); unset: `systemctl reboot`.
   */
  rebootRequest?: string;
  /**
   * $SWITCHBOARD_BUNDLE_HANDOVER: RAUC installs only a bundle owned by root (or by itself), so an
   * unprivileged controller moves the verified bundle into this directory, where a root unit
   * (systemd/switchboard-bundle-handover.path) makes root its owner, before `rauc install`.
   * Unset: the bundle is installed where it is.
   */
  bundleHandover?: string;
  /** How long to wait for the handover; default 60 s. */
  handoverTimeoutMs?: number;
}

/** Default wait for the root unit to take over a bundle. */
export const HANDOVER_TIMEOUT_MS = 60_000;

/** The keyring of an image (RAUC's system.conf names the same file). */
export const BOX_KEYRING = '/etc/rauc/keyring.pem';
/** The development keyring committed in the repository (image-build/dev-keys/README.md). */
export const DEV_KEYRING = `${repoRoot}image-build/dev-keys/dev-ca.cert.pem`;

/**
 * Where the tools and the keyring are: $SWITCHBOARD_RAUC, $SWITCHBOARD_SYSTEMCTL,
 * $SWITCHBOARD_KEYRING, $SWITCHBOARD_REBOOT_REQUEST and $SWITCHBOARD_BUNDLE_HANDOVER when set; otherwise the programs on PATH and, as keyring, the box's
 * (/etc/rauc/keyring.pem) on an image, the development CA on a development machine (no release file).
 */
export function toolPaths(onImage: boolean, env: NodeJS.ProcessEnv = process.env): ToolPaths {
  return {
    rauc: env.SWITCHBOARD_RAUC || 'rauc',
    systemctl: env.SWITCHBOARD_SYSTEMCTL || 'systemctl',
    keyring: env.SWITCHBOARD_KEYRING || (onImage ? BOX_KEYRING : DEV_KEYRING),
    ...(env.SWITCHBOARD_REBOOT_REQUEST ? { rebootRequest: env.SWITCHBOARD_REBOOT_REQUEST } : {}),
    ...(env.SWITCHBOARD_BUNDLE_HANDOVER ? { bundleHandover: env.SWITCHBOARD_BUNDLE_HANDOVER } : {}),
  };
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end; `onLine` sees each stdout line as it comes. Never throws for exit codes. */
function run(
  cmd: string,
  args: string[],
  opts: { onLine?: (line: string) => void; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (d: Buffer) => {
      const text = d.toString('utf8');
      stdout += text;
      if (!opts.onLine) return;
      partial += text;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) opts.onLine(l);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.once('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(
        new SwitchboardError('E_FIRMWARE_TOOL', `${cmd} cannot be run: ${err.message}`, {
          cause: err,
          details: { command: cmd },
        }),
      );
    });
    child.once('close', (code) => {
      if (timer) clearTimeout(timer);
      if (partial && opts.onLine) opts.onLine(partial);
      resolve({ code, stdout, stderr });
    });
  });
}

/** RAUC's own words for a failure: its error lines, without its progress and OpenSSL's noise. */
export function raucReason(out: string): string {
  const lines = out
    .split('\n')
    .map((l) => l.trim())
    .filter(
      (l) =>
        l !== '' &&
        !l.startsWith('rauc-Message:') &&
        !/^[0-9A-F]{8,}:error:/.test(l) &&
        !/^\s*\d{1,3}% /.test(l),
    );
  const key = lines.filter((l) =>
    /^(Invalid bundle format|signature verification failed|Failed|failed|LastError|No such file|Error)/i.test(
      l,
    ),
  );
  return (key.at(-1) ?? lines.at(-1) ?? 'no reason given').replace(/^LastError: /, '');
}

function failure(cmd: string, args: string[], r: RunResult): string {
  return `${[cmd, ...args].join(' ')} failed (exit ${r.code ?? 'signal'}): ${raucReason(`${r.stdout}\n${r.stderr}`)}`;
}

/**
 * Classifies a refusal of `rauc info`: no signature at all, a signature that does not verify,
 * or a keyring the box cannot read.
 */
export function infoRefusal(file: string, r: RunResult): SwitchboardError {
  const all = `${r.stdout}\n${r.stderr}`;
  const reason = raucReason(all);
  const details = { file, rauc: reason };
  if (/failed to load CA file|keyring/i.test(all) && !/signature verification failed/i.test(all))
    return new SwitchboardError(
      'E_FIRMWARE_KEYRING',
      `the box's keyring cannot be read (rauc: ${reason})`,
      { details },
    );
  if (/Invalid bundle format|Signature size|no valid CMS|Failed to seek/i.test(all))
    return new SwitchboardError(
      'E_FIRMWARE_UNSIGNED',
      `refused: this is not a signed RAUC bundle (rauc: ${reason}); an incomplete upload looks the same`,
      { details },
    );
  if (
    /unable to get local issuer certificate|self.signed certificate|unable to verify the first|certificate signature failure/i.test(
      all,
    )
  )
    return new SwitchboardError(
      'E_FIRMWARE_SIGNATURE',
      `refused: the bundle is signed by a key this box does not trust (rauc: ${reason})`,
      { details },
    );
  return new SwitchboardError(
    'E_FIRMWARE_SIGNATURE',
    `refused: the bundle's signature does not verify, it was changed after signing or damaged (rauc: ${reason})`,
    { details },
  );
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** `rauc info --output-format=json` plus the readable form's Bundle Format and Verity lines. */
export function parseInfo(json: string, readable: string): BundleInfo {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new SwitchboardError(
      'E_FIRMWARE_TOOL',
      `rauc info printed no JSON: ${json.slice(0, 200)}`,
    );
  }
  const images: BundleInfo['images'] = [];
  for (const entry of Array.isArray(doc.images) ? doc.images : [])
    for (const [slotClass, img] of Object.entries(entry as Record<string, Record<string, unknown>>))
      images.push({
        slotClass,
        filename: str(img.filename) ?? '',
        size: typeof img.size === 'number' ? img.size : null,
      });
  const field = (name: string) =>
    new RegExp(`^\\s*${name}:\\s*'?([^'\\n]*)'?\\s*$`, 'm').exec(readable)?.[1]?.trim();
  const format = str(doc.format) ?? field('Bundle Format') ?? 'plain';
  const info: BundleInfo = {
    compatible: str(doc.compatible) ?? '',
    version: str(doc.version) ?? '',
    description: str(doc.description),
    build: str(doc.build),
    format,
    images,
  };
  if (format === 'verity') {
    const hash = field('Verity Hash');
    const salt = field('Verity Salt');
    const size = Number(field('Verity Size'));
    if (hash && salt && Number.isFinite(size)) info.verity = { hash, salt, size };
  }
  return info;
}

/** `rauc status --detailed --output-format=json`, in our shape. */
export function parseStatus(json: string): BootStatus {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new SwitchboardError(
      'E_FIRMWARE_TOOL',
      `rauc status printed no JSON: ${json.slice(0, 200)}`,
    );
  }
  const slots: SlotStatus[] = [];
  for (const entry of Array.isArray(doc.slots) ? doc.slots : [])
    for (const [name, raw] of Object.entries(entry as Record<string, Record<string, unknown>>)) {
      const bundle = ((raw.slot_status as Record<string, unknown> | undefined)?.bundle ??
        {}) as Record<string, unknown>;
      const version = str(bundle.version);
      const compatible = str(bundle.compatible);
      slots.push({
        name,
        slotClass: str(raw.class),
        bootname: str(raw.bootname),
        state: str(raw.state) ?? 'inactive',
        good: raw.boot_status === 'good' ? true : raw.boot_status === 'bad' ? false : null,
        ...(version ? { version } : {}),
        ...(compatible ? { compatible } : {}),
      });
    }
  slots.sort((a, b) => a.name.localeCompare(b.name));
  // RAUC's `booted` is the bootname from the kernel command line, or a device path when it had
  // to guess: the slot in state `booted` is the reliable answer.
  const bootedSlot = slots.find((s) => s.state === 'booted');
  const booted =
    bootedSlot?.bootname ?? (slots.some((s) => s.bootname === doc.booted) ? str(doc.booted) : null);
  return { compatible: str(doc.compatible), booted, primary: str(doc.boot_primary), slots };
}

/**
 * Moves `bundle` into the handover directory and waits until root owns it there (the root unit
 * changes the owner; RAUC then accepts it and the controller can no longer write it). Returns the
 * path RAUC is to install; `giveBack` moves it back to where it was, whatever happened.
 */
async function handOver(
  bundle: string,
  dir: string,
  timeoutMs: number,
): Promise<{ path: string; giveBack: () => void }> {
  const path = join(dir, basename(bundle));
  try {
    renameSync(bundle, path);
  } catch (err) {
    throw new SwitchboardError(
      'E_FIRMWARE_TOOL',
      `the bundle cannot be handed over to root in ${dir}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const giveBack = () => {
    try {
      renameSync(path, bundle);
    } catch {
      // Gone already: nothing is left in the handover directory to give back.
    }
  };
  const until = Date.now() + timeoutMs;
  for (;;) {
    let uid: number;
    try {
      uid = statSync(path).uid;
    } catch (err) {
      giveBack();
      throw new SwitchboardError(
        'E_FIRMWARE_TOOL',
        `the bundle vanished from ${dir} during the handover: ${(err as Error).message}`,
      );
    }
    if (uid === 0) return { path, giveBack };
    if (Date.now() >= until) {
      giveBack();
      throw new SwitchboardError(
        'E_FIRMWARE_TOOL',
        `root did not take over the bundle in ${dir} within ${timeoutMs / 1000} s: is switchboard-bundle-handover.path active?`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The real tools: rauc and systemctl at `paths`. */
export function raucTools(paths: ToolPaths): BootTools {
  const { rauc, systemctl, keyring } = paths;
  return {
    async info(bundle) {
      if (!existsSync(keyring))
        throw new SwitchboardError(
          'E_FIRMWARE_KEYRING',
          `the keyring ${keyring} does not exist: no bundle can be verified`,
          { details: { keyring } },
        );
      const args = [`--keyring=${keyring}`, '--output-format=json', bundle];
      const json = await run(rauc, ['info', ...args], { timeoutMs: 600_000 });
      if (json.code !== 0) throw infoRefusal(bundle, json);
      // The JSON of RAUC 1.8 leaves out the bundle format and the verity parameters.
      const readable = await run(rauc, ['info', `--keyring=${keyring}`, bundle], {
        timeoutMs: 600_000,
      });
      if (readable.code !== 0) throw infoRefusal(bundle, readable);
      return parseInfo(json.stdout, readable.stdout);
    },

    async install(original, onProgress) {
      const handover =
        paths.bundleHandover === undefined
          ? undefined
          : await handOver(
              original,
              paths.bundleHandover,
              paths.handoverTimeoutMs ?? HANDOVER_TIMEOUT_MS,
            );
      const bundle = handover?.path ?? original;
      let r: RunResult;
      try {
        r = await run(rauc, ['install', bundle], {
          onLine: (line) => {
            const m = /^\s*(\d{1,3})% (.*)$/.exec(line);
            if (m) onProgress(Math.min(100, Number(m[1])), (m[2] ?? '').trim());
          },
        });
      } finally {
        handover?.giveBack();
      }
      if (r.code !== 0)
        throw new SwitchboardError('E_FIRMWARE_INSTALL', failure(rauc, ['install', bundle], r), {
          details: { rauc: raucReason(`${r.stdout}\n${r.stderr}`) },
        });
    },

    async status() {
      const args = ['status', '--detailed', '--output-format=json'];
      const r = await run(rauc, args, { timeoutMs: 60_000 });
      if (r.code !== 0) throw new SwitchboardError('E_FIRMWARE_TOOL', failure(rauc, args, r));
      return parseStatus(r.stdout);
    },

    async mark(good) {
      const args = ['status', good ? 'mark-good' : 'mark-bad', 'booted'];
      const r = await run(rauc, args, { timeoutMs: 60_000 });
      if (r.code !== 0) throw new SwitchboardError('E_FIRMWARE_TOOL', failure(rauc, args, r));
      return `${r.stdout}${r.stderr}`.trim();
    },

    async reboot(reason = 'asked for') {
      if (paths.rebootRequest !== undefined) {
        // Written whole, then renamed: the watching unit never sees half a request.
        const file = paths.rebootRequest;
        try {
          writeFileSync(`${file}.tmp`, `${reason}\n`, { mode: 0o640 });
          renameSync(`${file}.tmp`, file);
        } catch (err) {
          throw new SwitchboardError(
            'E_FIRMWARE_TOOL',
            `the reboot request ${file} cannot be made: ${(err as Error).message}`,
            { cause: err },
          );
        }
        return;
      }
      const r = await run(systemctl, ['reboot'], { timeoutMs: 60_000 });
      if (r.code !== 0)
        throw new SwitchboardError('E_FIRMWARE_TOOL', failure(systemctl, ['reboot'], r));
    },

    async isActive(unit) {
      const r = await run(systemctl, ['is-active', '--quiet', unit], { timeoutMs: 30_000 });
      return r.code === 0;
    },
  };
}
