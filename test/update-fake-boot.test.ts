// SPDX-License-Identifier: GPL-2.0-or-later
// The fake boot tools the update tests stand on: RAUC's grub rules and GRUB's three tries, as the real tool interface sees them.

import assert from 'node:assert/strict';
import {
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSwitchboardError } from '../src/core/errors.ts';
import { type BootTools, raucTools } from '../src/update/tools.ts';
import { type FakeBoot, fakeBoot, makeBundle } from './helpers/fake-boot.ts';

describe('fake boot tools (rauc, systemctl) over a GRUB-like state', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-fakeboot-'));
  let v2: string;
  let other: string;
  after(() => rmSync(dir, { recursive: true, force: true }));
  before(() => {
    v2 = makeBundle(dir, 'v2', { version: '0.2.0' });
    other = makeBundle(dir, 'other', { version: '0.2.0', compatible: 'switchboard-e1-8' });
  });

  function box(name: string): { boot: FakeBoot; tools: BootTools } {
    const boot = fakeBoot(join(dir, name), { version: '0.1.0' });
    return { boot, tools: raucTools(boot.tools) };
  }

  it('starts on slot A, both slots good, and says so as rauc status does', async () => {
    const { tools } = box('fresh');
    const s = await tools.status();
    assert.equal(s.booted, 'A');
    assert.equal(s.primary, 'rootfs.0');
    assert.deepEqual(
      s.slots.map((x) => [x.name, x.bootname, x.state, x.good, x.version]),
      [
        ['rootfs.0', 'A', 'booted', true, '0.1.0'],
        ['rootfs.1', 'B', 'inactive', true, '0.1.0'],
      ],
    );
  });

  it('installs to the inactive slot with progress, makes it primary; the reboot boots it on its first try', async () => {
    const { boot, tools } = box('install');
    const progress: number[] = [];
    await tools.install(v2, (p) => progress.push(p));
    assert.deepEqual(progress, [0, 0, 20, 20, 40, 40, 80, 100]);
    let state = boot.read();
    assert.deepEqual(state.grubenv, { ORDER: 'B A', A_OK: '1', A_TRY: '0', B_OK: '1', B_TRY: '0' });
    assert.deepEqual(state.installs, [{ slot: 'rootfs.1', version: '0.2.0', bundle: v2 }]);
    assert.equal((await tools.status()).primary, 'rootfs.1');
    await tools.reboot();
    state = boot.read();
    assert.equal(state.booted, 'B');
    assert.equal(state.grubenv.B_TRY, '1');
    // Not good until marked: a boot is a try, not a success.
    const before = await tools.status();
    assert.deepEqual(
      before.slots.map((x) => [x.name, x.state, x.good]),
      [
        ['rootfs.0', 'inactive', true],
        ['rootfs.1', 'booted', false],
      ],
    );
    await tools.mark(true);
    assert.deepEqual(
      (await tools.status()).slots.map((x) => [x.name, x.good, x.version]),
      [
        ['rootfs.0', true, '0.1.0'],
        ['rootfs.1', true, '0.2.0'],
      ],
    );
  });

  it('gives a new slot three tries, then GRUB falls back to the other', async () => {
    const { boot, tools } = box('tries');
    await tools.install(v2, () => {});
    for (let i = 0; i < 4; i++) await tools.reboot();
    const state = boot.read();
    assert.deepEqual(state.bootLog, ['B', 'B', 'B', 'A']);
    assert.equal(state.booted, 'A');
    assert.equal(state.grubenv.B_TRY, '3');
    assert.equal(state.reboots, 4);
  });

  it('falls back at once when the booted slot is marked bad', async () => {
    const { boot, tools } = box('bad');
    await tools.install(v2, () => {});
    await tools.reboot();
    await tools.mark(false);
    await tools.reboot();
    assert.deepEqual(boot.read().bootLog, ['B', 'A']);
    const s = await tools.status();
    assert.equal(s.booted, 'A');
    assert.equal(s.slots.find((x) => x.name === 'rootfs.1')?.good, false);
  });

  it('refuses, like rauc install, a bundle for another model, and fails on demand', async () => {
    const { boot, tools } = box('refuse');
    await assert.rejects(
      tools.install(other, () => {}),
      (err) => {
        assert.ok(isSwitchboardError(err, 'E_FIRMWARE_INSTALL'));
        assert.match(err.message, /Compatible mismatch/);
        return true;
      },
    );
    const state = boot.read();
    state.failInstall = 'Failed writing image: No space left on device';
    boot.write(state);
    await assert.rejects(
      tools.install(v2, () => {}),
      (err) => {
        assert.ok(isSwitchboardError(err, 'E_FIRMWARE_INSTALL'));
        assert.match(err.message, /No space left on device/);
        return true;
      },
    );
    assert.deepEqual(boot.read().installs, []);
    assert.deepEqual(boot.read().grubenv.ORDER, 'A B');
  });

  it('answers is-active from its units, and records every call', async () => {
    const { boot, tools } = box('units');
    assert.equal(await tools.isActive('switchboard.service'), true);
    const state = boot.read();
    state.units['switchboard.service'] = 'failed';
    boot.write(state);
    assert.equal(await tools.isActive('switchboard.service'), false);
    assert.deepEqual(boot.calls('systemctl'), [
      ['systemctl', 'is-active', '--quiet', 'switchboard.service'],
      ['systemctl', 'is-active', '--quiet', 'switchboard.service'],
    ]);
  });

  it('an unprivileged controller asks for the reboot with a request file, and systemctl is not run', async () => {
    const { boot } = box('unprivileged');
    const request = join(dir, 'unprivileged', 'reboot-request');
    const tools = raucTools({ ...boot.tools, rebootRequest: request });
    await tools.reboot('firmware 0.2.0 installed to slot B');
    assert.equal(readFileSync(request, 'utf8'), 'firmware 0.2.0 installed to slot B\n');
    assert.equal(existsSync(`${request}.tmp`), false);
    assert.deepEqual(boot.calls('systemctl'), []);
    assert.equal(boot.read().booted, 'A', 'the request alone reboots nothing');
    // A request that cannot be made is a clear error, not a silent no-op.
    const nowhere = raucTools({ ...boot.tools, rebootRequest: join(dir, 'no-such-dir', 'r') });
    await assert.rejects(nowhere.reboot(), (err: unknown) => {
      assert.ok(isSwitchboardError(err));
      assert.equal(err.code, 'E_FIRMWARE_TOOL');
      assert.match(err.message, /reboot request .*no-such-dir/);
      return true;
    });
  });

  // Changing a file's owner needs root, as the handover unit on a box has it.
  const asRoot = { skip: process.getuid?.() !== 0 ? 'needs root to change file owners' : false };

  /** A box whose controller (uid 1000) uploaded bundle v2, with tools that hand bundles over. */
  function controllerUpload(name: string, handoverTimeoutMs: number) {
    const { boot } = box(name);
    const handover = join(dir, name, 'to-root');
    mkdirSync(handover, { recursive: true });
    const upload = join(dir, name, 'upload.raucb');
    copyFileSync(v2, upload);
    chownSync(upload, 1000, 1000);
    const tools = raucTools({ ...boot.tools, bundleHandover: handover, handoverTimeoutMs });
    return { boot, handover, upload, tools };
  }

  it(
    'hands a bundle the controller owns over to root before RAUC installs it, then gives it back',
    asRoot,
    async () => {
      const { boot, handover, upload, tools } = controllerUpload('handover', 30_000);
      // RAUC refuses the controller's own file, as the real service does.
      const direct = raucTools(boot.tools);
      await assert.rejects(
        direct.install(upload, () => {}),
        /unsafe bundle uid 1000/,
      );
      // The root unit's part: root takes the bundle once it is in the handover directory.
      const moved = join(handover, 'upload.raucb');
      const rootUnit = setInterval(() => {
        if (existsSync(moved)) chownSync(moved, 0, 0);
      }, 50);
      try {
        await tools.install(upload, () => {});
      } finally {
        clearInterval(rootUnit);
      }
      const state = boot.read();
      assert.deepEqual(state.installs, [{ slot: 'rootfs.1', version: '0.2.0', bundle: moved }]);
      assert.equal(existsSync(moved), false);
      assert.equal(statSync(upload).uid, 0, 'given back where it was, now root-owned');
    },
  );

  it(
    'says which unit did not answer when nobody takes the bundle over, and leaves it in place',
    asRoot,
    async () => {
      const { boot, upload, tools } = controllerUpload('no-handover', 500);
      await assert.rejects(
        tools.install(upload, () => {}),
        (err: unknown) => {
          assert.ok(isSwitchboardError(err));
          assert.equal(err.code, 'E_FIRMWARE_TOOL');
          assert.match(err.message, /switchboard-bundle-handover\.path/);
          return true;
        },
      );
      assert.equal(statSync(upload).uid, 1000);
      assert.deepEqual(boot.calls('rauc', 'install'), []);
      assert.equal(boot.read().installs.length, 0);
    },
  );
});
