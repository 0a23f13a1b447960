// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit for the firmware image: build or find it, edit copies of the disk without mounts, boot them in qemu.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { repoRoot } from '../../src/runtime/paths.ts';

/** What image-build/build.sh wrote in build-info.json (the fields the tests use). */
export interface BuildInfo {
  model: string;
  version: string;
  compatible: string;
  build: string;
  disk: { file: string };
  rootfs: { file: string };
  layout: { bootMiB: number; slotMiB: number; dataMiB: number };
}

export interface Image {
  dir: string;
  info: BuildInfo;
  disk: string;
  rootfs: string;
}

/** Where the image tests keep their image, disks and serial logs (ignored by git). */
export const WORK_ROOT = join(repoRoot, 'image-build', 'out');

/**
 * The image under test: $SWITCHBOARD_IMAGE_DIR when set (an image-build output directory, to
 * test an image built before), else a fresh build of the working tree into
 * image-build/out/test-image (the Debian base is cached, so a minute or two).
 */
export function imageUnderTest(): Image {
  let dir = process.env.SWITCHBOARD_IMAGE_DIR;
  if (!dir) {
    dir = join(WORK_ROOT, 'test-image');
    execFileSync('bash', [join(repoRoot, 'image-build', 'build.sh'), '--out', dir, '--no-bundle'], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  }
  dir = resolve(dir);
  const info = JSON.parse(readFileSync(join(dir, 'build-info.json'), 'utf8')) as BuildInfo;
  return { dir, info, disk: join(dir, info.disk.file), rootfs: join(dir, info.rootfs.file) };
}

/** A version newer than `v` (the next patch release's first pre-release: 0.1.0 -> 0.1.1-update.1). */
export function newerVersion(v: string, tag = 'update'): string {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v);
  if (!m) throw new Error(`not a version: ${v}`);
  return `${m[1]}.${m[2]}.${Number(m[3]) + 1}-${tag}.1`;
}

/** Byte offsets of the partitions in the disk (image-build/build.sh's layout). */
export function partitions(info: BuildInfo) {
  const MiB = 1048576;
  const boot = MiB;
  const a = boot + info.layout.bootMiB * MiB;
  const b = a + info.layout.slotMiB * MiB;
  const data = b + info.layout.slotMiB * MiB;
  return { boot, a, b, data };
}

/** A sparse copy of a disk or file system image (seconds, not a gigabyte of writes). */
export function copySparse(from: string, to: string): string {
  rmSync(to, { force: true });
  execFileSync('cp', ['--sparse=always', from, to]);
  return to;
}

/** A writable copy of the image's disk. */
export function copyDisk(image: Image, file: string): string {
  return copySparse(image.disk, file);
}

/** grubenv of the disk's boot partition, as `grub-editenv list` prints it. */
export function readGrubenv(image: Image, disk: string, work: string): Record<string, string> {
  const env = join(work, 'grubenv.read');
  rmSync(env, { force: true });
  execFileSync('mcopy', ['-i', `${disk}@@${partitions(image.info).boot}`, '::/grubenv', env]);
  const out: Record<string, string> = {};
  for (const line of execFileSync('grub-editenv', [env, 'list'], { encoding: 'utf8' }).split(
    '\n',
  )) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** Sets grubenv variables on the disk's boot partition (what RAUC or a vendor's tool would). */
export function setGrubenv(
  image: Image,
  disk: string,
  work: string,
  vars: Record<string, string>,
): void {
  const env = join(work, 'grubenv.write');
  const where = `${disk}@@${partitions(image.info).boot}`;
  rmSync(env, { force: true });
  execFileSync('mcopy', ['-i', where, '::/grubenv', env]);
  execFileSync('grub-editenv', [env, 'set', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)]);
  execFileSync('mcopy', ['-o', '-i', where, env, '::/grubenv']);
}

/** Writes a slot image into slot A or B of the disk (as `rauc install` would). */
export function writeSlot(image: Image, disk: string, slot: 'A' | 'B', slotImage: string): void {
  const p = partitions(image.info);
  const seek = (slot === 'A' ? p.a : p.b) / 1048576;
  execFileSync('dd', [
    `if=${slotImage}`,
    `of=${disk}`,
    'bs=1M',
    `seek=${seek}`,
    'conv=notrunc,sparse',
    'status=none',
  ]);
}

/** Runs debugfs requests (`-w`) on an ext4 image, or on one inside a disk at a byte offset. */
export function debugfs(fsImage: string, requests: string[], offset?: number): string {
  const target = offset === undefined ? fsImage : `${fsImage}?offset=${offset}`;
  return execFileSync('debugfs', ['-w', '-f', '-', target], {
    input: `${requests.join('\n')}\n`,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/**
 * A signed update bundle (image-build/bundle.sh) of `version` made from the image's slot image,
 * with `/etc/switchboard/release.json` saying that version; `edit` may change the slot image
 * copy further (debugfs requests) before it is bundled.
 */
export function makeBundle(
  image: Image,
  work: string,
  version: string,
  edit: string[] = [],
): string {
  const out = join(work, `switchboard-${version}.raucb`);
  let rootfs = image.rootfs;
  if (edit.length > 0) {
    rootfs = copySparse(image.rootfs, join(work, `rootfs-${version}.ext4`));
    debugfs(rootfs, edit);
  }
  execFileSync(
    'bash',
    [
      join(repoRoot, 'image-build', 'bundle.sh'),
      '--rootfs',
      rootfs,
      '--version',
      version,
      '--compatible',
      image.info.compatible,
      '--set-release',
      '--out',
      out,
      '--work',
      join(work, `bundle-${version}`),
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return out;
}

/** A free TCP port on the host for qemu's forward to the guest's API. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address() as { port: number };
  await new Promise((ok) => srv.close(ok));
  return port;
}

export interface VmOptions {
  disk: string;
  /** The guest's serial console is written here. */
  serialLog: string;
  /** Host port forwarded to the guest's API port 8080. */
  apiPort: number;
  /** Guest memory, MiB; default 1024. */
  memoryMiB?: number;
}

/**
 * The image booted in qemu-system-x86_64 with software emulation (TCG: no KVM needed), UEFI
 * firmware (OVMF), virtio disk and network, user networking with a forward to the API, the
 * serial console in a file. A guest reboot restarts the guest in the same qemu process.
 */
export class Vm {
  readonly opts: VmOptions;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  #stderr = '';

  constructor(opts: VmOptions, work: string) {
    this.opts = opts;
    mkdirSync(work, { recursive: true });
    const vars = join(work, 'OVMF_VARS.fd');
    copyFileSync('/usr/share/OVMF/OVMF_VARS_4M.fd', vars);
    writeFileSync(opts.serialLog, '');
    this.child = spawn(
      'qemu-system-x86_64',
      [
        '-accel',
        'tcg',
        '-machine',
        'q35',
        '-m',
        String(opts.memoryMiB ?? 1024),
        '-smp',
        '2',
        '-drive',
        'if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd',
        '-drive',
        `if=pflash,format=raw,file=${vars}`,
        '-drive',
        `file=${opts.disk},if=virtio,format=raw`,
        '-netdev',
        `user,id=n0,hostfwd=tcp:127.0.0.1:${opts.apiPort}-:8080`,
        '-device',
        'virtio-net-pci,netdev=n0',
        '-serial',
        `file:${opts.serialLog}`,
        '-display',
        'none',
        '-monitor',
        'none',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child.stderr?.on('data', (d: Buffer) => {
      this.#stderr += d.toString();
    });
    this.exited = new Promise((ok) => this.child.once('exit', (code) => ok(code)));
  }

  get base(): string {
    return `http://127.0.0.1:${this.opts.apiPort}`;
  }

  /** The serial console so far. */
  serial(): string {
    return existsSync(this.opts.serialLog) ? readFileSync(this.opts.serialLog, 'latin1') : '';
  }

  /** The last lines of the serial console, for a failure message. */
  tail(lines = 40): string {
    return this.serial().split('\n').slice(-lines).join('\n');
  }

  /** How often `pattern` occurs on the serial console. */
  count(pattern: RegExp): number {
    return this.serial().match(new RegExp(pattern.source, 'g'))?.length ?? 0;
  }

  /** Waits until the serial console matches `pattern` `times` times; throws with its tail after `timeoutMs`. */
  async waitSerial(pattern: RegExp, timeoutMs: number, times = 1): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.count(pattern) < times) {
      if (this.child.exitCode !== null)
        throw new Error(`qemu exited (${this.child.exitCode}): ${this.#stderr}\n${this.tail()}`);
      if (Date.now() > until)
        throw new Error(`no ${pattern} (x${times}) within ${timeoutMs / 1000} s:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /**
   * Waits until the API answers any HTTP status (401 counts: the controller serves); returns
   * the status. Throws with the serial console's tail after `timeoutMs`.
   */
  async waitApi(timeoutMs: number, path = '/api/health'): Promise<number> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        const res = await fetch(`${this.base}${path}`, { signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        return res.status;
      } catch {}
      if (this.child.exitCode !== null)
        throw new Error(`qemu exited (${this.child.exitCode}): ${this.#stderr}\n${this.tail()}`);
      if (Date.now() > until)
        throw new Error(`the API did not answer within ${timeoutMs / 1000} s:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  /** Powers the guest off (no clean shutdown: the tests read only what the boot wrote). */
  async kill(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

/** An admin session on a fresh box: first-run setup, then an API token. */
export async function setupAdmin(base: string, password: string): Promise<string> {
  const setup = await fetch(`${base}/api/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'admin', password }),
  });
  if (setup.status !== 201) throw new Error(`setup: ${setup.status} ${await setup.text()}`);
  const cookie = (setup.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const csrf = ((await setup.json()) as { csrf: string }).csrf;
  const made = await fetch(`${base}/api/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf },
    body: JSON.stringify({ name: 'image-test', role: 'admin' }),
  });
  if (made.status !== 201) throw new Error(`token: ${made.status} ${await made.text()}`);
  return ((await made.json()) as { token: string }).token;
}

/**
 * POSTs a file as application/octet-stream and waits for the answer however long it takes
 * (fetch gives up after 300 s without response headers, and a 300 MiB bundle takes longer than
 * that to cross qemu's user network and be verified under software emulation).
 */
export function postFile(
  url: string,
  token: string,
  file: string,
): Promise<{ status: number; text: string }> {
  return new Promise((ok, fail) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/octet-stream',
          'content-length': String(statSync(file).size),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => ok({ status: res.statusCode ?? 0, text }));
        res.on('error', fail);
      },
    );
    req.on('error', fail);
    createReadStream(file).pipe(req);
  });
}
