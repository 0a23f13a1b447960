// SPDX-License-Identifier: GPL-2.0-or-later
// GRUB's boot counting in qemu: a slot that never comes up is booted three times, then the box falls back to the good one.

import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  copyDisk,
  copySparse,
  debugfs,
  freePort,
  type Image,
  imageUnderTest,
  readGrubenv,
  setGrubenv,
  Vm,
  WORK_ROOT,
  writeSlot,
} from './qemu.ts';

/** How long one boot may take under software emulation on a busy two-core machine. */
const BOOT_MS = 15 * 60_000;

describe('A/B fallback (GRUB, three tries)', { timeout: 60 * 60_000 }, () => {
  const work = join(WORK_ROOT, 'test-fallback');
  let image: Image;
  let vm: Vm | undefined;

  before(() => {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    image = imageUnderTest();
  });
  after(async () => {
    await vm?.kill();
  });

  it('boots a slot whose init dies three times, then slot A, whose controller answers', async () => {
    const disk = copyDisk(image, join(work, 'disk.img'));
    // Slot B: the same firmware, but its init exits at once, so the kernel panics (panic=10
    // reboots it) before anything could mark the slot good or bad: a slot that hangs or
    // resets, as far as the boot counting can tell.
    const broken = copySparse(image.rootfs, join(work, 'rootfs-broken.ext4'));
    const initScript = join(work, 'init-that-exits');
    writeFileSync(initScript, '#!/bin/sh\necho "test init: exiting at once"\nexit 1\n');
    debugfs(broken, [
      'rm /usr/lib/systemd/systemd',
      `write ${initScript} /usr/lib/systemd/systemd`,
      'sif /usr/lib/systemd/systemd mode 0100755',
    ]);
    writeSlot(image, disk, 'B', broken);
    // As `rauc install` leaves it: the new slot first, marked bootable, no tries yet. The
    // journal goes to the serial console for the failure messages.
    setGrubenv(image, disk, work, {
      ORDER: 'B A',
      B_OK: '1',
      B_TRY: '0',
      A_OK: '1',
      A_TRY: '0',
      EXTRA_ARGS: 'systemd.journald.forward_to_console=1',
    });

    vm = new Vm({ disk, serialLog: join(work, 'serial.log'), apiPort: await freePort() }, work);
    await vm.waitSerial(/switchboard: booting slot A/, 4 * BOOT_MS);
    await vm.waitApi(BOOT_MS);
    const bootsB = vm.count(/switchboard: booting slot B/);
    const bootsA = vm.count(/switchboard: booting slot A/);
    const panics = vm.count(/Kernel panic - not syncing: Attempted to kill init/);
    await vm.kill();
    vm = undefined;

    assert.equal(bootsB, 3, 'slot B is booted three times');
    assert.equal(panics, 3, 'and died each time');
    assert.equal(bootsA, 1, 'then slot A, once');
    const env = readGrubenv(image, disk, work);
    assert.equal(env.ORDER, 'B A', 'GRUB keeps the order RAUC wrote');
    assert.equal(env.B_TRY, '3', 'slot B has used its three tries');
    assert.equal(env.A_OK, '1');
  });
});
