// SPDX-License-Identifier: GPL-2.0-or-later
// Firmware updates: receive a bundle, verify it before anything is written, install it to the inactive slot, reboot.

import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Fsm } from '../calls/fsm.ts';
import { type ErrorCode, isSwitchboardError, SwitchboardError } from '../core/errors.ts';
import { compareSemver, parseSemver } from '../core/semver.ts';
import type { Release } from '../system/release.ts';
import { writeFactoryResetMarker } from './factory-reset.ts';
import { type UpdateEvent, type UpdateState, updateBusy, updateFsm } from './fsm.ts';
import type { BootStatus, BootTools, BundleInfo } from './tools.ts';
import { checkVerityPayload } from './verity.ts';

/** Largest bundle an upload may be, in bytes, by default (1 GiB). */
export const DEFAULT_MAX_BUNDLE_BYTES = 1024 * 1024 * 1024;

/** The update as GET /api/firmware shows it. */
export interface UpdateStatus {
  state: UpdateState;
  /** 0-100 within the state: bytes received, payload hashed, RAUC's install progress. */
  progress: number;
  /** What is happening or what went wrong, for people. */
  message: string;
  /** The error code of a failed update. */
  error?: ErrorCode;
  /** The bundle being (or last) handled, once its signature verified. */
  bundle?: { version: string; compatible: string };
}

/** One slot as GET /api/firmware shows it. */
export interface SlotView {
  name: string;
  bootname: string;
  /** RAUC's slot state: booted, active (the one booted from next) or inactive. */
  state: string;
  /** The bootloader's view: good, bad, or null when unknown. */
  good: boolean | null;
  /** The firmware version last installed to the slot, when RAUC recorded one. */
  version?: string;
}

export interface FirmwareView extends Release {
  /** Bootname of the running slot, null when it cannot be told (no RAUC: a development machine). */
  booted: string | null;
  slots: SlotView[];
  /** Why the slots are not known (`rauc status` failed), when they are not. */
  slotsError?: string;
  update: UpdateStatus;
}

/** A bundle that passed every check. */
export interface BundleCheck {
  info: BundleInfo;
  /** Bytes of payload hashed against the signed verity root (0 for a plain bundle). */
  payloadBytes: number;
}

export interface UpdateManagerOptions {
  tools: BootTools;
  /** The firmware the box runs. */
  release: Release;
  /** Where an upload is stored while it is checked and installed (on the data partition). */
  workDir: string;
  /** The directory a factory reset clears (see dataRootFor). */
  dataRoot: string;
  /** Largest upload in bytes; default 1 GiB. */
  maxBundleBytes?: number;
  log: Logger;
}

const IDLE_MESSAGE = 'no firmware update since the controller started';

/** Deletes an upload file; a path that cannot be removed (or is not there) is no error here. */
function discard(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {
    // ENOTDIR, EACCES: what cannot be removed was not written by us either.
  }
}

/** Bytes for people: `512 B`, `32 KiB`, `12.3 MiB`, `1.0 GiB`. */
export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${Math.floor(bytes / 1024)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

/**
 * One firmware update at a time, through a state machine (src/update/fsm.ts): an upload is
 * streamed to a file under `workDir` (never held in memory), verified (signature against the
 * keyring, payload against the signed hash, model, version), and only then installed by RAUC to
 * the inactive slot. A refused bundle is deleted and nothing else changes. The reboot into the
 * new slot is a separate command.
 */
export class UpdateManager {
  readonly release: Release;
  readonly maxBundleBytes: number;
  readonly #tools: BootTools;
  readonly #opts: UpdateManagerOptions;
  readonly #log: Logger;
  readonly #fsm: Fsm<UpdateState, UpdateEvent>;
  #status: UpdateStatus = { state: 'idle', progress: 0, message: IDLE_MESSAGE };
  #rebooting = false;
  #installRun: Promise<void> = Promise.resolve();
  #lastBoot: BootStatus | undefined;

  constructor(opts: UpdateManagerOptions) {
    this.#opts = opts;
    this.#tools = opts.tools;
    this.release = opts.release;
    this.maxBundleBytes = opts.maxBundleBytes ?? DEFAULT_MAX_BUNDLE_BYTES;
    this.#log = opts.log;
    this.#fsm = updateFsm({ log: opts.log });
  }

  /** Deletes an upload that a restart of the controller interrupted (of no use any more). */
  discardLeftovers(): void {
    for (const name of ['upload.raucb.part', 'upload.raucb'])
      discard(join(this.#opts.workDir, name));
  }

  /** The update's state, progress and message. */
  status(): UpdateStatus {
    return {
      ...this.#status,
      ...(this.#status.bundle ? { bundle: { ...this.#status.bundle } } : {}),
    };
  }

  /** An update is under way, or a reboot was asked for: no other may start. */
  get busy(): boolean {
    return this.#rebooting || updateBusy(this.#fsm.state);
  }

  /** Resolves when the install under way (if any) has ended, with the status then. */
  async settled(): Promise<UpdateStatus> {
    await this.#installRun;
    return this.status();
  }

  /** The release, the slots as RAUC sees them, and the update. */
  async view(): Promise<FirmwareView> {
    let boot: BootStatus | undefined;
    let slotsError: string | undefined;
    try {
      boot = await this.#tools.status();
      this.#lastBoot = boot;
    } catch (err) {
      if (!isSwitchboardError(err)) throw err;
      // RAUC answers no status while it installs: show what it said before.
      if (this.busy && this.#lastBoot) boot = this.#lastBoot;
      else slotsError = err.message;
    }
    const slots: SlotView[] = (boot?.slots ?? [])
      .filter((s) => s.bootname !== null)
      .map((s) => ({
        name: s.name,
        bootname: s.bootname ?? '',
        state: s.state,
        good: s.good,
        ...(s.version ? { version: s.version } : {}),
      }));
    return {
      ...this.release,
      booted: boot?.booted ?? null,
      slots,
      ...(slotsError === undefined ? {} : { slotsError }),
      update: this.status(),
    };
  }

  #fire(event: UpdateEvent, status: Omit<UpdateStatus, 'state'>): void {
    const from = this.#fsm.state;
    const to = this.#fsm.fire(event);
    if (to === false)
      throw new SwitchboardError(
        'E_INTERNAL',
        `firmware update: ${event} refused in state ${from}`,
      );
    this.#status = { state: to, ...status };
    this.#log.info(
      { from, event, state: to, progress: status.progress, bundle: status.bundle },
      `firmware update: ${status.message}`,
    );
  }

  #refuseIfBusy(): void {
    if (this.#rebooting)
      throw new SwitchboardError('E_FIRMWARE_BUSY', 'refused: the box is rebooting');
    if (updateBusy(this.#fsm.state))
      throw new SwitchboardError(
        'E_FIRMWARE_BUSY',
        `refused: a firmware update is already ${this.#fsm.state} (${this.#status.progress}%): wait for it to end`,
        { details: { state: this.#fsm.state } },
      );
  }

  #failed(err: unknown): SwitchboardError {
    const e = isSwitchboardError(err)
      ? err
      : new SwitchboardError('E_INTERNAL', `firmware update failed: ${(err as Error).message}`, {
          cause: err,
        });
    const bundle = this.#status.bundle;
    this.#fire('fail', {
      progress: 0,
      message: e.message,
      error: e.code,
      ...(bundle ? { bundle } : {}),
    });
    return e;
  }

  /**
   * Checks a bundle on the box without changing anything: signature against the keyring
   * (rauc info), then model, version and rootfs image, then the payload against the signed hash.
   * @throws SwitchboardError E_FIRMWARE_UNSIGNED, E_FIRMWARE_SIGNATURE, E_FIRMWARE_KEYRING,
   *   E_FIRMWARE_MODEL, E_FIRMWARE_DOWNGRADE, E_FIRMWARE_SAME_VERSION, E_FIRMWARE_BUNDLE
   */
  async check(file: string, onProgress?: (percent: number) => void): Promise<BundleCheck> {
    const info = await this.#tools.info(file);
    const box = this.release;
    if (info.compatible !== box.compatible)
      throw new SwitchboardError(
        'E_FIRMWARE_MODEL',
        `refused: the bundle is for "${info.compatible}", this box (model ${box.model}) takes "${box.compatible}"`,
        { details: { bundle: info.compatible, box: box.compatible, model: box.model } },
      );
    const version = parseSemver(info.version);
    if (!version)
      throw new SwitchboardError(
        'E_FIRMWARE_BUNDLE',
        `refused: the bundle's version "${info.version}" is not a semantic version such as 0.2.0`,
        { details: { version: info.version } },
      );
    const running = parseSemver(box.version);
    const order = running ? compareSemver(version, running) : 1;
    if (order < 0)
      throw new SwitchboardError(
        'E_FIRMWARE_DOWNGRADE',
        `refused: the bundle is firmware ${info.version}, older than the ${box.version} this box runs (downgrades are refused)`,
        { details: { bundle: info.version, box: box.version } },
      );
    if (order === 0)
      throw new SwitchboardError(
        'E_FIRMWARE_SAME_VERSION',
        `refused: firmware ${info.version} is already installed and running on this box`,
        { details: { bundle: info.version, box: box.version } },
      );
    if (!info.images.some((i) => i.slotClass === 'rootfs'))
      throw new SwitchboardError(
        'E_FIRMWARE_BUNDLE',
        `refused: the bundle has no rootfs image (it has ${info.images.map((i) => i.slotClass).join(', ') || 'none'})`,
      );
    let payloadBytes = 0;
    if (info.format === 'verity') {
      if (!info.verity)
        throw new SwitchboardError(
          'E_FIRMWARE_BUNDLE',
          'refused: a verity bundle whose verity hash, salt or size rauc info did not show',
        );
      const r = await checkVerityPayload(file, info.verity, (f) =>
        onProgress?.(Math.floor(f * 100)),
      );
      if (!r.ok)
        throw new SwitchboardError('E_FIRMWARE_SIGNATURE', `refused: ${r.problem}`, {
          details: { payload: r.problem },
        });
      payloadBytes = r.payloadBytes;
    } else if (info.format !== 'plain')
      // A plain bundle's signature covers the whole file, which rauc info has checked.
      throw new SwitchboardError(
        'E_FIRMWARE_BUNDLE',
        `refused: bundle format "${info.format}" is not one this box installs (plain, verity)`,
      );
    return { info, payloadBytes };
  }

  /**
   * Receives a bundle from `body` (streamed to a file, at most maxBundleBytes), verifies it and
   * starts the install. Resolves once the install has started, with the status; the install
   * goes on (see status() and settled()).
   * @param declaredBytes the Content-Length, when the client sent one (refused at once if too big)
   * @throws SwitchboardError E_FIRMWARE_BUSY, E_FIRMWARE_TOO_LARGE, E_FIRMWARE_UPLOAD,
   *   E_FIRMWARE_STORAGE, and every refusal of check()
   */
  async upload(body: Readable, declaredBytes?: number): Promise<UpdateStatus> {
    this.#refuseIfBusy();
    if (declaredBytes !== undefined && declaredBytes > this.maxBundleBytes)
      throw this.#tooLarge(declaredBytes);
    const dir = this.#opts.workDir;
    const part = join(dir, 'upload.raucb.part');
    const file = join(dir, 'upload.raucb');
    this.#fire('upload', {
      progress: 0,
      message: `receiving a bundle${declaredBytes === undefined ? '' : ` of ${size(declaredBytes)}`}`,
    });
    let received: number;
    try {
      mkdirSync(dir, { recursive: true });
      received = await this.#receive(body, part, declaredBytes);
      renameSync(part, file);
    } catch (err) {
      discard(part);
      throw this.#failed(
        isSwitchboardError(err)
          ? err
          : new SwitchboardError(
              'E_FIRMWARE_STORAGE',
              `the bundle cannot be stored in ${dir}: ${(err as Error).message}`,
              { cause: err },
            ),
      );
    }
    this.#fire('received', { progress: 0, message: `received ${size(received)}: verifying` });
    await this.#verifyAndInstall(file, true);
    return this.status();
  }

  /**
   * Installs a bundle already on the box (the CLI): the same checks, then the install, awaited.
   * The file is left where it is. Resolves with the status (installed), or throws.
   */
  async installFile(
    file: string,
    onProgress?: (status: UpdateStatus) => void,
  ): Promise<UpdateStatus> {
    this.#refuseIfBusy();
    this.#fire('open', { progress: 0, message: `verifying ${file}` });
    await this.#verifyAndInstall(file, false, onProgress);
    await this.#installRun;
    if (this.#status.state === 'failed')
      throw new SwitchboardError(this.#status.error ?? 'E_FIRMWARE_INSTALL', this.#status.message);
    return this.status();
  }

  async #verifyAndInstall(
    file: string,
    removeAfter: boolean,
    onProgress?: (status: UpdateStatus) => void,
  ): Promise<void> {
    let check: BundleCheck;
    try {
      check = await this.check(file, (percent) => {
        this.#status.progress = percent;
        this.#status.message = `checking the payload against its signed hash: ${percent}%`;
        onProgress?.(this.status());
      });
    } catch (err) {
      if (removeAfter) discard(file);
      throw this.#failed(err);
    }
    const bundle = { version: check.info.version, compatible: check.info.compatible };
    this.#fire('verified', {
      progress: 0,
      message: `firmware ${bundle.version} verified: installing to the inactive slot`,
      bundle,
    });
    onProgress?.(this.status());
    this.#installRun = this.#install(file, removeAfter, bundle, onProgress);
  }

  async #install(
    file: string,
    removeAfter: boolean,
    bundle: { version: string; compatible: string },
    onProgress?: (status: UpdateStatus) => void,
  ): Promise<void> {
    try {
      await this.#tools.install(file, (percent, message) => {
        this.#status.progress = percent;
        this.#status.message = message;
        onProgress?.(this.status());
      });
    } catch (err) {
      this.#failed(err);
      onProgress?.(this.status());
      return;
    } finally {
      if (removeAfter) discard(file);
    }
    let where = 'the inactive slot';
    try {
      const boot = await this.#tools.status();
      this.#lastBoot = boot;
      const next = boot.slots.find((s) => s.name === boot.primary);
      if (next) where = `slot ${next.bootname} (${next.name})`;
    } catch (err) {
      this.#log.warn({ err }, 'rauc status after the install failed');
    }
    this.#fire('done', {
      progress: 100,
      message: `firmware ${bundle.version} installed to ${where}: reboot to run it`,
      bundle,
    });
    onProgress?.(this.status());
  }

  /** `bytes`: the declared size, or (`atLeast`) what had arrived when the limit was passed. */
  #tooLarge(bytes: number, atLeast = false): SwitchboardError {
    return new SwitchboardError(
      'E_FIRMWARE_TOO_LARGE',
      `refused: the bundle is ${atLeast ? 'more than ' : ''}${size(bytes)}; this box takes bundles of at most ${size(this.maxBundleBytes)}`,
      { details: { limitBytes: this.maxBundleBytes } },
    );
  }

  /** Streams `body` into `file`, counting; never more than maxBundleBytes. Resolves with the size. */
  #receive(body: Readable, file: string, declared: number | undefined): Promise<number> {
    return new Promise((resolve, reject) => {
      const out = createWriteStream(file, { mode: 0o600 });
      let received = 0;
      let settled = false;
      const finish = (err?: SwitchboardError) => {
        if (settled) return;
        settled = true;
        body.off('data', onData);
        body.off('end', onEnd);
        body.off('error', onError);
        body.off('close', onClose);
        if (err) {
          out.destroy();
          // The rest of the request is read and dropped, so the refusal can still be answered.
          body.resume();
          reject(err);
        } else out.end(() => resolve(received));
      };
      const onData = (chunk: Buffer) => {
        received += chunk.length;
        if (received > this.maxBundleBytes) {
          finish(this.#tooLarge(this.maxBundleBytes, true));
          return;
        }
        if (declared) this.#status.progress = Math.min(99, Math.floor((received / declared) * 100));
        this.#status.message = `receiving the bundle: ${size(received)}${declared ? ` of ${size(declared)}` : ''}`;
        if (!out.write(chunk)) {
          body.pause();
          out.once('drain', () => body.resume());
        }
      };
      const onEnd = () => finish();
      const onError = (err: Error) =>
        finish(
          new SwitchboardError(
            'E_FIRMWARE_UPLOAD',
            `the upload broke off after ${size(received)}: ${err.message}`,
            { cause: err },
          ),
        );
      const onClose = () =>
        finish(
          new SwitchboardError(
            'E_FIRMWARE_UPLOAD',
            `the upload broke off after ${size(received)} (the connection closed)`,
          ),
        );
      out.once('error', (err) =>
        finish(
          new SwitchboardError(
            'E_FIRMWARE_STORAGE',
            `the bundle cannot be stored in ${this.#opts.workDir}: ${err.message}`,
            { cause: err },
          ),
        ),
      );
      body.on('data', onData);
      body.once('end', onEnd);
      body.once('error', onError);
      body.once('close', onClose);
    });
  }

  /**
   * Claims the reboot: refused while an update is under way. After this, no update starts;
   * rebootNow() then asks systemd.
   */
  beginReboot(): void {
    this.#refuseIfBusy();
    this.#rebooting = true;
  }

  /** `systemctl reboot` (after beginReboot and the reply). A failure is logged and lifts the claim. */
  async rebootNow(reason: string): Promise<void> {
    this.#log.warn({ reason }, 'rebooting the box');
    try {
      await this.#tools.reboot(reason);
    } catch (err) {
      this.#rebooting = false;
      this.#log.error({ err }, 'the reboot failed');
    }
  }

  /**
   * Asks for a factory reset: claims the reboot and writes the marker in the data root; the
   * caller then calls rebootNow. Firmware slots are not touched.
   */
  requestFactoryReset(by: string): string {
    this.beginReboot();
    try {
      const marker = writeFactoryResetMarker(this.#opts.dataRoot, by);
      this.#log.warn({ marker, by }, 'factory reset asked for: /data is cleared at the next boot');
      return marker;
    } catch (err) {
      this.#rebooting = false;
      throw err;
    }
  }
}
