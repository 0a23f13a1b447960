// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit for updates: a box's fake boot tools (rauc, systemctl over a GRUB-like state) and signed test bundles.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ToolPaths } from '../../src/update/tools.ts';

const FAKE = fileURLToPath(new URL('../fixtures/fake-bootloader.mjs', import.meta.url));
const DEV_KEYS_DIR = fileURLToPath(new URL('../../image-build/dev-keys/', import.meta.url));

/** Signing keys: the certificate and key that sign, the keyring (CA) that verifies. */
export interface Keys {
  cert: string;
  key: string;
  keyring: string;
}

/** The committed development keys (image-build/dev-keys). */
export const DEV_KEYS: Keys = {
  cert: join(DEV_KEYS_DIR, 'dev-signing.cert.pem'),
  key: join(DEV_KEYS_DIR, 'dev-signing.key.pem'),
  keyring: join(DEV_KEYS_DIR, 'dev-ca.cert.pem'),
};

/** The fake's state file (see test/fixtures/fake-bootloader.mjs). */
export interface FakeBootState {
  compatible: string;
  keyring: string;
  grubenv: Record<string, string>;
  /** Bootname of the running slot, null when GRUB found none to boot. */
  booted: string | null;
  slots: {
    name: string;
    bootname: string;
    device: string;
    bundle: { compatible: string; version: string } | null;
    installed?: { count: number };
  }[];
  units: Record<string, string>;
  /** When set, `rauc install` fails with this LastError. */
  failInstall: string | null;
  /** Every call, as argv (`['rauc', 'install', FILE]`). */
  calls: string[][];
  installs: { slot: string; version: string; bundle: string }[];
  reboots: number;
  /** The slot booted at each (fake) power-on. */
  bootLog: string[];
}

export interface FakeBoot {
  /** Directory with `rauc` and `systemctl` (put it first on PATH, or use `tools`). */
  bin: string;
  stateFile: string;
  /** The tool paths for raucTools(). */
  tools: ToolPaths;
  /** PATH with the fakes first, and FAKE_BOOT_STATE, for child processes (the CLI). */
  env: NodeJS.ProcessEnv;
  read(): FakeBootState;
  write(state: FakeBootState): void;
  /** Calls of one tool and subcommand: calls('rauc', 'install'). */
  calls(tool: string, sub?: string): string[][];
}

/**
 * A box whose slot A runs `version` (both slots good, A booted), with fake boot tools in
 * `dir/bin`. The fake rauc verifies installs against `keyring` (default: the dev keyring).
 */
export function fakeBoot(
  dir: string,
  opts: { compatible?: string; version?: string; keyring?: string } = {},
): FakeBoot {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const stateFile = join(dir, 'boot-state.json');
  const compatible = opts.compatible ?? 'switchboard-sim-demo';
  const bundle = { compatible, version: opts.version ?? '0.1.0' };
  const state: FakeBootState = {
    compatible,
    keyring: opts.keyring ?? DEV_KEYS.keyring,
    grubenv: { ORDER: 'A B', A_OK: '1', A_TRY: '0', B_OK: '1', B_TRY: '0' },
    booted: 'A',
    slots: [
      { name: 'rootfs.0', bootname: 'A', device: '/dev/vda2', bundle },
      { name: 'rootfs.1', bootname: 'B', device: '/dev/vda3', bundle },
    ],
    units: { 'switchboard.service': 'active' },
    failInstall: null,
    calls: [],
    installs: [],
    reboots: 0,
    bootLog: [],
  };
  writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
  for (const tool of ['rauc', 'systemctl']) {
    const file = join(bin, tool);
    writeFileSync(
      file,
      `#!/bin/sh\n# fake ${tool} for tests\nFAKE_BOOT_STATE="\${FAKE_BOOT_STATE:-${stateFile}}" exec "${process.execPath}" "${FAKE}" ${tool} "$@"\n`,
    );
    chmodSync(file, 0o755);
  }
  const read = () => JSON.parse(readFileSync(stateFile, 'utf8')) as FakeBootState;
  return {
    bin,
    stateFile,
    tools: {
      rauc: join(bin, 'rauc'),
      systemctl: join(bin, 'systemctl'),
      keyring: opts.keyring ?? DEV_KEYS.keyring,
    },
    env: {
      ...process.env,
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      FAKE_BOOT_STATE: stateFile,
    },
    read,
    write: (s) => writeFileSync(stateFile, `${JSON.stringify(s, null, 2)}\n`),
    calls: (tool, sub) =>
      read().calls.filter((c) => c[0] === tool && (sub === undefined || c[1] === sub)),
  };
}

/**
 * A bundle made by the real `rauc bundle`, signed by `keys` (default the dev keys): a small
 * random rootfs image and a manifest with `compatible`, `version` and `format`.
 */
export function makeBundle(
  dir: string,
  name: string,
  opts: {
    version: string;
    compatible?: string;
    format?: 'verity' | 'plain';
    keys?: Keys;
    /** Size of the rootfs image in bytes; default 64 KiB. */
    imageBytes?: number;
    /** Slot class of the image; default rootfs. */
    slotClass?: string;
    /** The rauc that makes it (a fake delegates `bundle` to the real one); default rauc on PATH. */
    rauc?: string;
  },
): string {
  const content = join(dir, `${name}.content`);
  mkdirSync(content, { recursive: true });
  // Random, so that squashfs cannot shrink it below the 4 KiB RAUC insists on.
  const bytes = randomBytes(opts.imageBytes ?? 64 * 1024);
  writeFileSync(join(content, 'rootfs.img'), bytes);
  writeFileSync(
    join(content, 'manifest.raucm'),
    [
      '[update]',
      `compatible=${opts.compatible ?? 'switchboard-sim-demo'}`,
      `version=${opts.version}`,
      `description=test bundle ${name}`,
      '',
      '[bundle]',
      `format=${opts.format ?? 'verity'}`,
      '',
      `[image.${opts.slotClass ?? 'rootfs'}]`,
      'filename=rootfs.img',
      '',
    ].join('\n'),
  );
  const keys = opts.keys ?? DEV_KEYS;
  const out = join(dir, `${name}.raucb`);
  execFileSync(
    opts.rauc ?? 'rauc',
    ['bundle', `--cert=${keys.cert}`, `--key=${keys.key}`, content, out],
    { stdio: 'ignore' },
  );
  return out;
}

/** A throwaway CA and signing certificate in `dir`, made by the same script as the dev keys. */
export function throwawayKeys(dir: string): Keys {
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(DEV_KEYS_DIR, 'make-dev-keys.sh'), join(dir, 'make-dev-keys.sh'));
  execFileSync('bash', [join(dir, 'make-dev-keys.sh'), '--force'], { stdio: 'ignore' });
  return {
    cert: join(dir, 'dev-signing.cert.pem'),
    key: join(dir, 'dev-signing.key.pem'),
    keyring: join(dir, 'dev-ca.cert.pem'),
  };
}

/** Where a byte of a bundle is flipped: the squashfs payload, the verity tree, the signature value. */
export type TamperSpot = 'payload' | 'tree' | 'signature';

/** A copy of `bundle` with one byte flipped at `spot`. */
export function tampered(
  bundle: string,
  out: string,
  spot: TamperSpot,
  verityBytes = 4096,
): string {
  const b = readFileSync(bundle);
  const sigSize = Number(b.readBigUInt64BE(b.length - 8));
  const sigStart = b.length - 8 - sigSize;
  const offset =
    spot === 'payload'
      ? 100
      : spot === 'tree'
        ? sigStart - verityBytes + 10
        : // The RSA signature value closes the CMS structure.
          b.length - 8 - 40;
  b[offset] = (b[offset] ?? 0) ^ 0xff;
  writeFileSync(out, b);
  return out;
}

/** A squashfs image with a manifest but no signature (what `rauc bundle` signs, unsigned). */
export function unsignedSquashfs(dir: string, name: string): string {
  const content = join(dir, `${name}.content`);
  mkdirSync(content, { recursive: true });
  writeFileSync(join(content, 'rootfs.img'), randomBytes(8192));
  writeFileSync(
    join(content, 'manifest.raucm'),
    '[update]\ncompatible=switchboard-sim-demo\nversion=9.9.9\n\n[image.rootfs]\nfilename=rootfs.img\n',
  );
  const out = join(dir, `${name}.raucb`);
  execFileSync('mksquashfs', [content, out, '-quiet', '-noappend', '-all-root'], {
    stdio: 'ignore',
  });
  return out;
}
