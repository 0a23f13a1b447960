// SPDX-License-Identifier: GPL-2.0-or-later
// The image in qemu: boots to the controller's API, takes a newer signed bundle through the API, reboots into the other slot and keeps it.

import assert from 'node:assert/strict';
import { mkdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  copyDisk,
  freePort,
  type Image,
  imageUnderTest,
  makeBundle,
  newerVersion,
  postFile,
  readGrubenv,
  setGrubenv,
  setupAdmin,
  Vm,
  WORK_ROOT,
} from './qemu.ts';

/** How long one boot to the API may take under software emulation on a busy two-core machine. */
const BOOT_MS = 15 * 60_000;
const PASSWORD = 'Image-test 2026';
/** The factory writes the image to a bigger disk: this much more than the image, for /data to grow into. */
const DISK_GROWTH = 1024 * 1024 * 1024;

/** GET /api/firmware as the contract gives it (the fields this test reads). */
interface Firmware {
  model: string;
  version: string;
  compatible: string;
  booted: 'A' | 'B' | null;
  slots: {
    name: string;
    bootname: string;
    state: string;
    good: boolean | null;
    version?: string;
  }[];
  update: { state: string; progress: number; message: string };
}

describe('firmware image in qemu: boot, update through the API, slot switch', {
  timeout: 90 * 60_000,
}, () => {
  const work = join(WORK_ROOT, 'test-update');
  let image: Image;
  let vm: Vm | undefined;
  let token = '';
  let bundle = '';
  let next = '';
  let broken = '';
  let brokenVersion = '';

  before(() => {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    image = imageUnderTest();
    next = newerVersion(image.info.version);
    bundle = makeBundle(image, work, next);
    // A newer firmware whose controller never comes up (its service runs /bin/false).
    brokenVersion = newerVersion(next, 'broken');
    const dropIn = join(work, 'broken.conf');
    writeFileSync(dropIn, '[Service]\nExecStart=\nExecStart=/bin/false\n');
    broken = makeBundle(image, work, brokenVersion, [
      `write ${dropIn} /etc/systemd/system/switchboard.service.d/broken.conf`,
    ]);
  });
  after(async () => {
    await vm?.kill();
  });

  async function api(method: string, path: string) {
    const res = await fetch(`${vm?.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {}
    return { status: res.status, text, json };
  }

  /** Polls GET /api/firmware until `done` holds for it; returns that answer. */
  async function firmwareUntil(
    done: (f: Firmware) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<Firmware> {
    const until = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const r = await api('GET', '/api/firmware');
        last = r.json ?? r.text;
        if (r.status === 200 && done(r.json as Firmware)) return r.json as Firmware;
      } catch (err) {
        last = String(err);
      }
      if (Date.now() > until)
        throw new Error(`${what}: not within ${timeoutMs / 1000} s; last: ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 3000));
    }
  }

  it('boots slot A to a controller on the simulator that answers on its API', async () => {
    const disk = copyDisk(image, join(work, 'disk.img'));
    truncateSync(disk, statSync(disk).size + DISK_GROWTH);
    // Diagnostics only: the journal on the serial console (grubenv EXTRA_ARGS).
    setGrubenv(image, disk, work, { EXTRA_ARGS: 'systemd.journald.forward_to_console=1' });
    vm = new Vm({ disk, serialLog: join(work, 'serial.log'), apiPort: await freePort() }, work);
    const started = Date.now();
    await vm.waitSerial(/switchboard: booting slot A/, BOOT_MS);
    // No password anywhere: the first request is refused, first-run setup makes the admin.
    assert.equal(await vm.waitApi(BOOT_MS), 401);
    process.stdout.write(`# boot to API: ${Math.round((Date.now() - started) / 1000)} s\n`);
    token = await setupAdmin(vm.base, PASSWORD);
    // The installer's web UI ships in the image: its page and its script.
    const page = await fetch(`${vm.base}/`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<div id="app">/);
    const script = /src="(\/assets\/app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    assert.ok(script, `no script in ${html}`);
    assert.equal((await fetch(`${vm.base}${script}`)).status, 200);
    assert.match(vm.serial(), /Started switchboard-sim\.service/);
    assert.match(vm.serial(), /Started switchboard\.service/);
    assert.doesNotMatch(vm.serial(), /automatic login|autologin/i);
    // The controller runs as its own account, not root (the journal is on the console).
    assert.match(vm.serial(), /"user":"switchboard"[^\n]*"msg":"controller started"/);
    assert.doesNotMatch(vm.serial(), /"user":"root"[^\n]*"msg":"controller started"/);
  });

  it('grows /data to the end of a disk bigger than the image on the first boot', async () => {
    const r = await api('GET', '/api/system/health');
    assert.equal(r.status, 200, r.text);
    const health = r.json as { disks: { mount: string; sizeBytes: number }[] };
    const data = health.disks.find((d) => d.mount === '/data');
    assert.ok(data, `no /data in ${r.text}`);
    const built = image.info.layout.dataMiB * 1024 * 1024;
    // ext4's own overhead keeps the size a little under the partition's: most of the growth shows.
    assert.ok(
      data.sizeBytes > built + 0.8 * DISK_GROWTH,
      `/data is ${data.sizeBytes} bytes; built ${built}, the disk has ${DISK_GROWTH} more`,
    );
  });

  it('reports slot A booted and, once mark-good has run, good', async () => {
    const f = await firmwareUntil(
      (f) => f.slots.find((s) => s.bootname === 'A')?.good === true,
      BOOT_MS,
      'slot A marked good',
    );
    assert.equal(f.booted, 'A');
    assert.equal(f.version, image.info.version);
    assert.equal(f.compatible, image.info.compatible);
    assert.deepEqual(
      f.slots.map((s) => [s.name, s.bootname]),
      [
        ['rootfs.0', 'A'],
        ['rootfs.1', 'B'],
      ],
    );
  });

  it('takes a newer signed bundle through the API and installs it to slot B', async () => {
    const r = await postFile(`${vm?.base}/api/firmware/bundle`, token, bundle);
    assert.equal(r.status, 202, r.text);
    const f = await firmwareUntil(
      (f) => f.update.state === 'installed' || f.update.state === 'failed',
      BOOT_MS,
      'bundle installed',
    );
    assert.equal(f.update.state, 'installed', f.update.message);
    assert.equal(f.update.progress, 100);
    // RAUC took the bundle because root's handover unit made root its owner first.
    assert.match(
      (vm as Vm).serial(),
      /switchboard-bundle-handover\.service: Deactivated successfully/,
    );
  });

  it('reboots into slot B, where mark-good keeps the new firmware', async () => {
    const r = await api('POST', '/api/firmware/reboot');
    assert.equal(r.status, 202, r.text);
    // The unprivileged controller asked root's reboot unit, which logs why.
    await (vm as Vm).waitSerial(/reboot asked by the controller: /, BOOT_MS);
    await (vm as Vm).waitSerial(/switchboard: booting slot B/, BOOT_MS);
    await (vm as Vm).waitApi(BOOT_MS);
    const f = await firmwareUntil(
      (f) => f.booted === 'B' && f.slots.find((s) => s.bootname === 'B')?.good === true,
      BOOT_MS,
      'slot B booted and marked good',
    );
    assert.equal(f.version, next);
    assert.equal(f.slots.find((s) => s.bootname === 'A')?.good, true, 'slot A stays good');
    // Minutes of the controller under systemd's watchdog: its pings arrived all along.
    assert.doesNotMatch((vm as Vm).serial(), /switchboard\.service: Watchdog timeout/);
    // grubenv as the guest left it (the boot partition is mounted with `flush`).
    const env = readGrubenv(image, join(work, 'disk.img'), work);
    assert.equal(env.ORDER, 'B A');
    assert.equal(env.B_OK, '1');
    assert.equal(env.B_TRY, '0', 'mark-good reset the tries');
  });

  it('falls back to slot B when the firmware installed to slot A never gets its controller up', async () => {
    const up = await postFile(`${vm?.base}/api/firmware/bundle`, token, broken);
    assert.equal(up.status, 202, up.text);
    const f = await firmwareUntil(
      (f) => f.update.state === 'installed' || f.update.state === 'failed',
      BOOT_MS,
      'broken bundle installed',
    );
    assert.equal(f.update.state, 'installed', f.update.message);
    const bootsA = (vm as Vm).count(/switchboard: booting slot A/);
    const bootsB = (vm as Vm).count(/switchboard: booting slot B/);
    const r = await api('POST', '/api/firmware/reboot');
    assert.equal(r.status, 202, r.text);
    // Slot A boots, its controller never answers, mark-good marks it bad and reboots: slot B.
    await (vm as Vm).waitSerial(/switchboard: booting slot A/, BOOT_MS, bootsA + 1);
    await (vm as Vm).waitSerial(/switchboard: booting slot B/, 3 * BOOT_MS, bootsB + 1);
    await (vm as Vm).waitApi(BOOT_MS);
    const back = await firmwareUntil((f) => f.booted === 'B', BOOT_MS, 'slot B booted again');
    assert.equal(back.version, next, 'the firmware that ran before the update');
    assert.equal(back.slots.find((s) => s.bootname === 'A')?.good, false, 'slot A is marked bad');
    const triesOfA = (vm as Vm).count(/switchboard: booting slot A/) - bootsA;
    assert.ok(triesOfA >= 1 && triesOfA <= 3, `slot A booted ${triesOfA} times (1 to 3)`);
    await (vm as Vm).kill();
    vm = undefined;
    const env = readGrubenv(image, join(work, 'disk.img'), work);
    assert.equal(env.ORDER, 'A B', 'RAUC made the installed slot first');
    assert.equal(env.A_OK, '0', 'and mark-good marked it bad');
    assert.equal(env.B_OK, '1');
  });
});
