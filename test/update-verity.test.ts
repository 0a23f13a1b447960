// SPDX-License-Identifier: GPL-2.0-or-later
// Bundle checks against the real rauc: the verity payload check, rauc info's refusals, status parsing.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSwitchboardError } from '../src/core/errors.ts';
import { parseStatus, raucReason, raucTools } from '../src/update/tools.ts';
import { checkVerityPayload } from '../src/update/verity.ts';
import { DEV_KEYS, makeBundle, tampered, throwawayKeys } from './helpers/fake-boot.ts';

describe('bundle checks with the real rauc', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-verity-'));
  const tools = raucTools({ rauc: 'rauc', systemctl: 'systemctl', keyring: DEV_KEYS.keyring });
  let small: string;
  let twoLevels: string;
  let plain: string;
  after(() => rmSync(dir, { recursive: true, force: true }));
  before(() => {
    small = makeBundle(dir, 'small', { version: '0.2.0' });
    // 2 MiB of image: 513 payload blocks, so the hash tree has two levels.
    twoLevels = makeBundle(dir, 'two-levels', { version: '0.2.0', imageBytes: 2 * 1024 * 1024 });
    plain = makeBundle(dir, 'plain', { version: '0.2.0', format: 'plain' });
  });

  it('reads compatible, version, format, verity parameters and images from rauc info', async () => {
    const info = await tools.info(small);
    assert.equal(info.compatible, 'switchboard-sim-demo');
    assert.equal(info.version, '0.2.0');
    assert.equal(info.format, 'verity');
    assert.match(info.verity?.hash ?? '', /^[0-9a-f]{64}$/);
    assert.match(info.verity?.salt ?? '', /^[0-9a-f]{64}$/);
    assert.equal(info.verity?.size, 4096);
    assert.deepEqual(info.images, [{ slotClass: 'rootfs', filename: 'rootfs.img', size: 65536 }]);
    const p = await tools.info(plain);
    assert.equal(p.format, 'plain');
    assert.equal(p.verity, undefined);
  });

  it("recomputes the hash tree to rauc's signed root, for one and two tree levels", async () => {
    for (const [bundle, levels] of [
      [small, 1],
      [twoLevels, 2],
    ] as const) {
      const info = await tools.info(bundle);
      assert.ok(info.verity);
      const fractions: number[] = [];
      const r = await checkVerityPayload(bundle, info.verity, (f) => fractions.push(f));
      assert.equal(r.ok, true, `${bundle}: ${r.problem}`);
      // One level holds 128 block digests: more blocks than that need a second level.
      const blocks = r.payloadBytes / 4096;
      assert.ok(Number.isInteger(blocks));
      assert.equal(blocks > 128, levels === 2, `${blocks} blocks`);
      assert.equal(fractions.at(-1), 1);
    }
  });

  it('finds a flipped byte in the payload or in the stored tree, which rauc info lets through', async () => {
    for (const [spot, words] of [
      ['payload', /does not match the signed verity root hash/],
      ['tree', /stored verity hash tree does not match/],
    ] as const) {
      const bad = tampered(twoLevels, join(dir, `t-${spot}.raucb`), spot, 6 * 4096);
      // The signature covers only the manifest: rauc info still says yes.
      const info = await tools.info(bad);
      assert.ok(info.verity);
      const r = await checkVerityPayload(bad, info.verity);
      assert.equal(r.ok, false, spot);
      assert.match(r.problem, words);
    }
  });

  it('refuses a truncated file and nonsense verity parameters', async () => {
    const info = await tools.info(small);
    assert.ok(info.verity);
    const short = join(dir, 'short.raucb');
    writeFileSync(short, Buffer.alloc(4));
    assert.match((await checkVerityPayload(short, info.verity)).problem, /too short/);
    assert.match(
      (await checkVerityPayload(small, { ...info.verity, size: 1000 })).problem,
      /not a whole number of 4 KiB blocks/,
    );
    assert.match(
      (await checkVerityPayload(small, { ...info.verity, hash: 'xyz' })).problem,
      /no valid verity hash/,
    );
  });

  it("classifies rauc info's refusals: no signature, a foreign signer, a broken signature", async () => {
    const random = join(dir, 'random.raucb');
    writeFileSync(random, Buffer.from(Array.from({ length: 50000 }, (_, i) => (i * 7919) % 251)));
    const foreign = makeBundle(dir, 'foreign', {
      version: '0.2.0',
      keys: throwawayKeys(join(dir, 'foreign-keys')),
    });
    const cases = [
      [random, 'E_FIRMWARE_UNSIGNED', /not a signed RAUC bundle/],
      [foreign, 'E_FIRMWARE_SIGNATURE', /signed by a key this box does not trust/],
      [
        tampered(small, join(dir, 'sig.raucb'), 'signature'),
        'E_FIRMWARE_SIGNATURE',
        /signature does not verify/,
      ],
      [
        tampered(plain, join(dir, 'plain-payload.raucb'), 'payload'),
        'E_FIRMWARE_SIGNATURE',
        /signature does not verify/,
      ],
    ] as const;
    for (const [file, code, words] of cases)
      await assert.rejects(tools.info(file), (err) => {
        assert.ok(isSwitchboardError(err, code), `${file}: ${String(err)}`);
        assert.match(err.message, words);
        return true;
      });
    const noKeyring = raucTools({
      rauc: 'rauc',
      systemctl: 'systemctl',
      keyring: join(dir, 'none.pem'),
    });
    await assert.rejects(noKeyring.info(small), (err) =>
      isSwitchboardError(err, 'E_FIRMWARE_KEYRING'),
    );
    const noRauc = raucTools({
      rauc: join(dir, 'no-rauc'),
      systemctl: 'x',
      keyring: DEV_KEYS.keyring,
    });
    await assert.rejects(noRauc.info(small), (err) => isSwitchboardError(err, 'E_FIRMWARE_TOOL'));
  });
});

describe('rauc output parsing', () => {
  it('takes the booted slot from the slot in state booted, not from a device path', () => {
    const status = parseStatus(
      JSON.stringify({
        compatible: 'switchboard-sim-demo',
        variant: '',
        booted: '/dev/vda3',
        boot_primary: 'rootfs.1',
        slots: [
          {
            'rootfs.1': {
              class: 'rootfs',
              bootname: 'B',
              state: 'booted',
              boot_status: 'good',
              slot_status: { bundle: { compatible: 'switchboard-sim-demo', version: '0.2.0' } },
            },
          },
          { 'rootfs.0': { class: 'rootfs', bootname: 'A', state: 'inactive', boot_status: 'bad' } },
          { 'efi.0': { class: 'efi', bootname: null, state: 'inactive', boot_status: null } },
        ],
      }),
    );
    assert.equal(status.booted, 'B');
    assert.equal(status.primary, 'rootfs.1');
    assert.deepEqual(
      status.slots.map((s) => [s.name, s.bootname, s.state, s.good, s.version]),
      [
        ['efi.0', null, 'inactive', null, undefined],
        ['rootfs.0', 'A', 'inactive', false, undefined],
        ['rootfs.1', 'B', 'booted', true, '0.2.0'],
      ],
    );
  });

  it("keeps RAUC's reason and drops its progress and OpenSSL's noise", () => {
    assert.equal(
      raucReason(
        [
          'rauc-Message: 07:20:59.478: Reading bundle: t.raucb',
          '802F31E9057F0000:error:1700006D:CMS routines:CMS_verify:content verify error',
          ' 20% Checking bundle',
          'LastError: Failed mounting bundle: no space left',
          'Installing `/data/x.raucb` failed',
        ].join('\n'),
      ),
      'Failed mounting bundle: no space left',
    );
    assert.equal(raucReason(''), 'no reason given');
  });
});
