// SPDX-License-Identifier: GPL-2.0-or-later
// Firmware updates through the API against fake boot tools: good bundles switch slots, bad ones touch nothing.

import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { factoryResetPlugin } from '../src/api/factory-reset.ts';
import { type FirmwarePort, firmwarePlugin } from '../src/api/firmware.ts';
import { apiPlugin } from '../src/api/server.ts';
import type { Release } from '../src/system/release.ts';
import { FACTORY_RESET_MARKER } from '../src/update/factory-reset.ts';
import { type FirmwareView, UpdateManager } from '../src/update/manager.ts';
import { markGood } from '../src/update/mark-good.ts';
import { raucTools } from '../src/update/tools.ts';
import { call, type Session, setupAdmin, testApi, tokenWithRole } from './helpers/api.ts';
import {
  type FakeBoot,
  fakeBoot,
  makeBundle,
  tampered,
  throwawayKeys,
  unsignedSquashfs,
} from './helpers/fake-boot.ts';

const RELEASE: Release = {
  model: 'sim-demo',
  version: '0.2.0',
  compatible: 'switchboard-sim-demo',
  build: 'test',
};

/** A box: fake boot tools, an update manager, the firmware API; reboots are counted as they finish. */
async function box(root: string, name: string, opts: { maxBundleBytes?: number } = {}) {
  const dir = join(root, name);
  const data = join(dir, 'data');
  mkdirSync(data, { recursive: true });
  const boot = fakeBoot(dir, { version: RELEASE.version });
  const manager = new UpdateManager({
    tools: raucTools(boot.tools),
    release: RELEASE,
    workDir: join(data, 'firmware'),
    dataRoot: data,
    log: pino({ level: 'silent' }),
    ...(opts.maxBundleBytes ? { maxBundleBytes: opts.maxBundleBytes } : {}),
  });
  // The reboot runs after the reply; the test waits for it through this.
  let rebooted: () => void = () => {};
  const reboots: Promise<void>[] = [];
  const nextReboot = () => {
    const p = new Promise<void>((ok) => {
      rebooted = ok;
    });
    reboots.push(p);
    return p;
  };
  const port: FirmwarePort = {
    maxBundleBytes: manager.maxBundleBytes,
    view: () => manager.view(),
    upload: (body, bytes) => manager.upload(body, bytes),
    beginReboot: () => manager.beginReboot(),
    rebootNow: async (why) => {
      await manager.rebootNow(why);
      rebooted();
    },
    requestFactoryReset: (by) => manager.requestFactoryReset(by),
  };
  const api = await testApi([
    apiPlugin(firmwarePlugin, { firmware: port }),
    apiPlugin(factoryResetPlugin, { firmware: port }),
  ]);
  const admin = await setupAdmin(api.app);
  return { dir, data, boot, manager, app: api.app, admin, nextReboot };
}

function upload(
  app: FastifyInstance,
  who: Session,
  payload: Buffer | Readable,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/api/firmware/bundle',
    headers: {
      'content-type': 'application/octet-stream',
      'x-csrf-token': who.csrf,
      ...(Buffer.isBuffer(payload) ? { 'content-length': String(payload.length) } : {}),
      ...headers,
    },
    cookies: { sb_session: who.cookie },
    payload,
  });
}

async function firmware(app: FastifyInstance, who: Session): Promise<FirmwareView> {
  const res = await call(app, who, 'GET', '/api/firmware');
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as FirmwareView;
}

/** The fake box's boot state that an update must not touch when it refuses a bundle. */
function untouched(boot: FakeBoot) {
  const s = boot.read();
  return { grubenv: s.grubenv, slots: s.slots, booted: s.booted, installs: s.installs };
}

describe('firmware updates through the API', () => {
  const root = mkdtempSync(join(tmpdir(), 'switchboard-fwapi-'));
  const bundles: Record<string, string> = {};
  after(() => rmSync(root, { recursive: true, force: true }));
  before(() => {
    const b = join(root, 'bundles');
    mkdirSync(b);
    bundles.good = makeBundle(b, 'good', { version: '0.3.0' });
    bundles.goodPlain = makeBundle(b, 'good-plain', { version: '0.3.0-rc.1', format: 'plain' });
    bundles.older = makeBundle(b, 'older', { version: '0.1.9' });
    bundles.prerelease = makeBundle(b, 'prerelease', { version: '0.2.0-dev.7' });
    bundles.same = makeBundle(b, 'same', { version: '0.2.0' });
    bundles.wrongModel = makeBundle(b, 'wrong-model', {
      version: '0.3.0',
      compatible: 'switchboard-e1-8',
    });
    bundles.foreign = makeBundle(b, 'foreign', {
      version: '0.3.0',
      keys: throwawayKeys(join(b, 'foreign-keys')),
    });
    bundles.noRootfs = makeBundle(b, 'no-rootfs', { version: '0.3.0', slotClass: 'appfs' });
    bundles.tamperedPayload = tampered(bundles.good, join(b, 't-payload.raucb'), 'payload');
    bundles.tamperedTree = tampered(bundles.good, join(b, 't-tree.raucb'), 'tree');
    bundles.tamperedSignature = tampered(bundles.good, join(b, 't-sig.raucb'), 'signature');
    bundles.tamperedPlain = tampered(bundles.goodPlain, join(b, 't-plain.raucb'), 'payload');
    bundles.unsigned = unsignedSquashfs(b, 'unsigned');
    bundles.random = join(b, 'random.raucb');
    writeFileSync(
      bundles.random,
      Buffer.from(Array.from({ length: 40000 }, (_, i) => (i * 7919 + 13) % 251)),
    );
  });

  it('installs a good bundle to the inactive slot; the reboot boots it and mark-good keeps it', async () => {
    const { boot, manager, app, admin, nextReboot, data } = await box(root, 'good');
    try {
      const before = await firmware(app, admin);
      assert.equal(before.booted, 'A');
      assert.equal(before.update.state, 'idle');
      assert.deepEqual(
        before.slots.map((s) => [s.name, s.bootname, s.state, s.good, s.version]),
        [
          ['rootfs.0', 'A', 'booted', true, '0.2.0'],
          ['rootfs.1', 'B', 'inactive', true, '0.2.0'],
        ],
      );

      const res = await upload(app, admin, readFileSync(bundles.good as string));
      assert.equal(res.statusCode, 202, res.body);
      const accepted = res.json() as FirmwareView['update'];
      assert.equal(accepted.state, 'installing');
      assert.deepEqual(accepted.bundle, { version: '0.3.0', compatible: 'switchboard-sim-demo' });

      const done = await manager.settled();
      assert.equal(done.state, 'installed', done.message);
      assert.equal(done.progress, 100);
      assert.match(done.message, /firmware 0\.3\.0 installed to slot B \(rootfs\.1\): reboot/);
      // The upload is gone from the data partition once installed.
      assert.deepEqual(readdirSync(join(data, 'firmware')), []);

      const installed = await firmware(app, admin);
      assert.equal(installed.update.state, 'installed');
      assert.equal(installed.booted, 'A');
      assert.deepEqual(
        installed.slots.map((s) => [s.name, s.version]),
        [
          ['rootfs.0', '0.2.0'],
          ['rootfs.1', '0.3.0'],
        ],
      );
      assert.equal(boot.calls('rauc', 'install').length, 1);
      assert.equal(boot.read().reboots, 0, 'no reboot until asked for');

      const rebooting = nextReboot();
      const r = await call(app, admin, 'POST', '/api/firmware/reboot');
      assert.equal(r.statusCode, 202, r.body);
      await rebooting;
      assert.equal(boot.read().reboots, 1);
      const after = await firmware(app, admin);
      assert.equal(after.booted, 'B');
      assert.equal(after.slots.find((s) => s.bootname === 'B')?.good, false, 'on trial');

      // The new slot's controller is healthy: the mark-good check keeps the slot.
      const server = await app.listen({ port: 0, host: '127.0.0.1' });
      const verdict = await markGood({
        url: server,
        timeoutS: 30,
        unit: 'switchboard.service',
        tools: raucTools(boot.tools),
      });
      assert.equal(verdict.result, 'good');
      assert.equal(verdict.slot, 'B');
      const kept = await firmware(app, admin);
      assert.equal(kept.booted, 'B');
      assert.deepEqual(
        kept.slots.map((s) => [s.bootname, s.state, s.good, s.version]),
        [
          ['A', 'inactive', true, '0.2.0'],
          ['B', 'booted', true, '0.3.0'],
        ],
      );
      assert.deepEqual(
        boot.calls('rauc', 'status').filter((c) => c[2]?.startsWith('mark')),
        [['rauc', 'status', 'mark-good', 'booted']],
      );
      // The audit log has the upload (with the version) and the reboot, by the admin.
      const audit = (await call(app, admin, 'GET', '/api/audit')).json() as {
        entries: { action: string | null; status: number; user: string | null; detail: unknown }[];
      };
      const actions = audit.entries.map((e) => [e.action, e.status, e.user]);
      assert.ok(
        actions.some((a) => a[0] === 'firmware_upload' && a[1] === 202 && a[2] === 'admin'),
        JSON.stringify(actions),
      );
      assert.ok(actions.some((a) => a[0] === 'firmware_reboot' && a[1] === 202));
      const uploadEntry = audit.entries.find((e) => e.action === 'firmware_upload');
      assert.deepEqual(uploadEntry?.detail, {
        bytes: readFileSync(bundles.good as string).length,
        version: '0.3.0',
      });
    } finally {
      await app.close();
    }
  });

  it('takes an upload over a real HTTP connection, with a Content-Length or chunked', async () => {
    const { boot, manager, app, admin } = await box(root, 'http');
    try {
      const base = await app.listen({ port: 0, host: '127.0.0.1' });
      const bytes = readFileSync(bundles.good as string);
      const headers = {
        'content-type': 'application/octet-stream',
        'x-csrf-token': admin.csrf,
        cookie: `sb_session=${admin.cookie}`,
      };
      const whole = await fetch(`${base}/api/firmware/bundle`, {
        method: 'POST',
        headers,
        body: bytes,
      });
      assert.equal(whole.status, 202, await whole.text());
      assert.equal((await manager.settled()).state, 'installed');
      const chunks = [
        bytes.subarray(0, 20000),
        bytes.subarray(20000, 50000),
        bytes.subarray(50000),
      ];
      const chunked = await fetch(`${base}/api/firmware/bundle`, {
        method: 'POST',
        headers,
        body: new ReadableStream({
          pull(controller) {
            const next = chunks.shift();
            if (next) controller.enqueue(next);
            else controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      assert.equal(chunked.status, 202, await chunked.text());
      assert.equal((await manager.settled()).state, 'installed');
      assert.equal(boot.calls('rauc', 'install').length, 2);
    } finally {
      await app.close();
    }
  });

  it('installs a plain-format bundle and a newer prerelease too', async () => {
    const { boot, manager, app, admin } = await box(root, 'plain');
    try {
      const res = await upload(app, admin, readFileSync(bundles.goodPlain as string));
      assert.equal(res.statusCode, 202, res.body);
      assert.equal((await manager.settled()).state, 'installed');
      assert.deepEqual(
        boot.read().installs.map((i) => i.version),
        ['0.3.0-rc.1'],
      );
    } finally {
      await app.close();
    }
  });

  it('refuses every bad bundle with its reason, and touches nothing', async () => {
    const { boot, manager, app, admin, data } = await box(root, 'bad');
    const cases: [string, number, string, RegExp][] = [
      [
        'tamperedPayload',
        400,
        'E_FIRMWARE_SIGNATURE',
        /does not match the signed verity root hash/,
      ],
      ['tamperedTree', 400, 'E_FIRMWARE_SIGNATURE', /stored verity hash tree does not match/],
      ['tamperedSignature', 400, 'E_FIRMWARE_SIGNATURE', /signature does not verify/],
      ['tamperedPlain', 400, 'E_FIRMWARE_SIGNATURE', /signature does not verify/],
      ['unsigned', 400, 'E_FIRMWARE_UNSIGNED', /not a signed RAUC bundle \(rauc: .*Signature size/],
      ['random', 400, 'E_FIRMWARE_UNSIGNED', /not a signed RAUC bundle/],
      ['foreign', 400, 'E_FIRMWARE_SIGNATURE', /signed by a key this box does not trust/],
      [
        'wrongModel',
        400,
        'E_FIRMWARE_MODEL',
        /bundle is for "switchboard-e1-8", this box \(model sim-demo\) takes "switchboard-sim-demo"/,
      ],
      [
        'older',
        409,
        'E_FIRMWARE_DOWNGRADE',
        /firmware 0\.1\.9, older than the 0\.2\.0 this box runs/,
      ],
      [
        'prerelease',
        409,
        'E_FIRMWARE_DOWNGRADE',
        /firmware 0\.2\.0-dev\.7, older than the 0\.2\.0 this box runs/,
      ],
      ['same', 409, 'E_FIRMWARE_SAME_VERSION', /firmware 0\.2\.0 is already installed and running/],
      ['noRootfs', 400, 'E_FIRMWARE_BUNDLE', /has no rootfs image \(it has appfs\)/],
    ];
    try {
      const start = untouched(boot);
      for (const [name, status, code, words] of cases) {
        const res = await upload(app, admin, readFileSync(bundles[name] as string));
        assert.equal(res.statusCode, status, `${name}: ${res.body}`);
        const body = res.json() as { error: string; message: string };
        assert.equal(body.error, code, `${name}: ${body.message}`);
        assert.match(body.message, words, name);
        const view = await firmware(app, admin);
        assert.equal(view.update.state, 'failed', name);
        assert.equal(view.update.error, code, name);
        assert.equal(view.update.message, body.message, name);
        // Nothing kept on the data partition, nothing written to a slot.
        assert.deepEqual(readdirSync(join(data, 'firmware')), [], name);
        assert.deepEqual(untouched(boot), start, name);
      }
      assert.deepEqual(boot.calls('rauc', 'install'), []);
      assert.deepEqual(boot.calls('systemctl'), []);
      assert.ok(boot.calls('rauc', 'info').length >= cases.length);
      // A refusal leaves the way open: a good bundle after them all installs.
      const res = await upload(app, admin, readFileSync(bundles.good as string));
      assert.equal(res.statusCode, 202, res.body);
      assert.equal((await manager.settled()).state, 'installed');
    } finally {
      await app.close();
    }
  });

  it('reports a failed install and keeps the slots as RAUC left them', async () => {
    const { boot, manager, app, admin, data } = await box(root, 'install-fails');
    try {
      const s = boot.read();
      s.failInstall = 'Failed writing image to rootfs.1: No space left on device';
      boot.write(s);
      const res = await upload(app, admin, readFileSync(bundles.good as string));
      assert.equal(res.statusCode, 202, res.body);
      const done = await manager.settled();
      assert.equal(done.state, 'failed');
      assert.equal(done.error, 'E_FIRMWARE_INSTALL');
      assert.match(done.message, /No space left on device/);
      assert.deepEqual(readdirSync(join(data, 'firmware')), []);
      assert.equal(boot.read().grubenv.ORDER, 'A B');
    } finally {
      await app.close();
    }
  });

  it('takes one update at a time, and no reboot or factory reset while one runs', async () => {
    const { boot, manager, app, admin, data } = await box(root, 'busy');
    try {
      const bytes = readFileSync(bundles.good as string);
      const body = new PassThrough();
      const first = upload(app, admin, body);
      body.write(bytes.subarray(0, 1000));
      // Streamed, not buffered: the first bytes are on disk while the body is still open.
      const part = join(data, 'firmware', 'upload.raucb.part');
      while (!existsSync(part) || statSync(part).size < 1000)
        await new Promise((r) => setImmediate(r));
      assert.equal(manager.status().state, 'receiving');
      assert.equal(manager.status().message, 'receiving the bundle: 1000 B');
      const second = await upload(app, admin, readFileSync(bundles.good as string));
      assert.equal(second.statusCode, 409, second.body);
      assert.equal((second.json() as { error: string }).error, 'E_FIRMWARE_BUSY');
      assert.match((second.json() as { message: string }).message, /already receiving/);
      const reboot = await call(app, admin, 'POST', '/api/firmware/reboot');
      assert.equal(reboot.statusCode, 409, reboot.body);
      const reset = await call(app, admin, 'POST', '/api/system/factory-reset', {
        confirm: 'factory-reset',
      });
      assert.equal(reset.statusCode, 409, reset.body);
      assert.equal(existsSync(join(data, FACTORY_RESET_MARKER)), false);
      body.end(bytes.subarray(1000));
      const res = await first;
      assert.equal(res.statusCode, 202, res.body);
      assert.equal((await manager.settled()).state, 'installed');
      assert.equal(boot.calls('rauc', 'install').length, 1);
      assert.equal(boot.read().reboots, 0);
    } finally {
      await app.close();
    }
  });

  it('refuses a bundle over the size limit, declared or streamed, keeping nothing', async () => {
    const { boot, manager, app, admin, data } = await box(root, 'large', {
      maxBundleBytes: 32 * 1024,
    });
    try {
      const bytes = readFileSync(bundles.good as string);
      assert.ok(bytes.length > 32 * 1024);
      const declared = await upload(app, admin, bytes);
      assert.equal(declared.statusCode, 413, declared.body);
      assert.equal((declared.json() as { error: string }).error, 'E_FIRMWARE_TOO_LARGE');
      assert.match(
        (declared.json() as { message: string }).message,
        /^refused: the bundle is \d+ KiB; this box takes bundles of at most 32 KiB$/,
      );
      assert.equal(manager.status().state, 'idle', 'refused before anything was received');
      // Without a Content-Length the limit is found while streaming; the part file goes.
      const streamed = await upload(
        app,
        admin,
        Readable.from([bytes.subarray(0, 30000), bytes.subarray(30000)]),
      );
      assert.equal(streamed.statusCode, 413, streamed.body);
      assert.equal((streamed.json() as { error: string }).error, 'E_FIRMWARE_TOO_LARGE');
      assert.match((streamed.json() as { message: string }).message, /is more than 32 KiB/);
      assert.equal(manager.status().state, 'failed');
      assert.deepEqual(readdirSync(join(data, 'firmware')), []);
      assert.deepEqual(boot.calls('rauc'), []);
    } finally {
      await app.close();
    }
  });

  it('says so when the bundle cannot be stored on the data partition', async () => {
    const { boot, manager, app, admin, data } = await box(root, 'storage');
    try {
      // Where the upload would go is taken by a file: nothing can be written there.
      writeFileSync(join(data, 'firmware'), 'in the way');
      const res = await upload(app, admin, readFileSync(bundles.good as string));
      assert.equal(res.statusCode, 507, res.body);
      assert.equal((res.json() as { error: string }).error, 'E_FIRMWARE_STORAGE');
      assert.match((res.json() as { message: string }).message, /cannot be stored in .*firmware/);
      assert.equal(manager.status().state, 'failed');
      assert.deepEqual(boot.calls('rauc'), []);
    } finally {
      await app.close();
    }
  });

  it('answers an upload that is not application/octet-stream with 415, and only admins may upload', async () => {
    const { app, admin, boot } = await box(root, 'types');
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/api/firmware/bundle',
        headers: { 'content-type': 'text/plain', 'x-csrf-token': admin.csrf },
        cookies: { sb_session: admin.cookie },
        payload: 'not a bundle',
      });
      assert.equal(res.statusCode, 415, res.body);
      assert.equal((res.json() as { error: string }).error, 'E_REQUEST');
      assert.match(
        (res.json() as { message: string }).message,
        /Content-Type: application\/octet-stream, not "text\/plain"/,
      );
      const installer = await tokenWithRole(app, admin, 'installer');
      const refused = await app.inject({
        method: 'POST',
        url: '/api/firmware/bundle',
        headers: {
          'content-type': 'application/octet-stream',
          authorization: `Bearer ${installer.token}`,
        },
        payload: readFileSync(bundles.good as string),
      });
      assert.equal(refused.statusCode, 403);
      assert.deepEqual(boot.calls('rauc'), []);
    } finally {
      await app.close();
    }
  });

  it('shows why the slots are unknown when rauc status fails (a development machine)', async () => {
    const dir = join(root, 'no-rauc');
    mkdirSync(dir, { recursive: true });
    const manager = new UpdateManager({
      tools: raucTools({ rauc: join(dir, 'no-such-rauc'), systemctl: 'x', keyring: 'k' }),
      release: RELEASE,
      workDir: join(dir, 'firmware'),
      dataRoot: dir,
      log: pino({ level: 'silent' }),
    });
    const view = await manager.view();
    assert.equal(view.booted, null);
    assert.deepEqual(view.slots, []);
    assert.match(view.slotsError ?? '', /no-such-rauc cannot be run/);
    assert.equal(view.version, '0.2.0');
  });

  it('factory reset: needs the confirmation, writes the marker, reboots, leaves the slots', async () => {
    const { boot, app, admin, data, nextReboot } = await box(root, 'reset');
    try {
      writeFileSync(join(data, 'switchboard.db'), 'precious');
      for (const body of [{}, { confirm: 'yes' }, { confirm: 'factory-reset', now: true }]) {
        const res = await call(app, admin, 'POST', '/api/system/factory-reset', body);
        assert.equal(res.statusCode, 400, res.body);
        assert.equal((res.json() as { error: string }).error, 'E_REQUEST_FIELD');
      }
      const refused = await call(app, admin, 'POST', '/api/system/factory-reset', {});
      assert.match((refused.json() as { message: string }).message, /body\.confirm: /);
      assert.equal(existsSync(join(data, FACTORY_RESET_MARKER)), false);
      assert.equal(boot.read().reboots, 0);

      const rebooting = nextReboot();
      const res = await call(app, admin, 'POST', '/api/system/factory-reset', {
        confirm: 'factory-reset',
      });
      assert.equal(res.statusCode, 202, res.body);
      await rebooting;
      const marker = JSON.parse(readFileSync(join(data, FACTORY_RESET_MARKER), 'utf8')) as {
        by: string;
        requestedAt: string;
      };
      assert.equal(marker.by, 'admin');
      assert.ok(!Number.isNaN(Date.parse(marker.requestedAt)));
      // Cleared at the next boot, not now; the firmware slots are never touched.
      assert.equal(readFileSync(join(data, 'switchboard.db'), 'utf8'), 'precious');
      const state = boot.read();
      assert.equal(state.reboots, 1);
      assert.deepEqual(state.grubenv, {
        ORDER: 'A B',
        A_OK: '1',
        A_TRY: '1',
        B_OK: '1',
        B_TRY: '0',
      });
      assert.deepEqual(state.installs, []);
      // The audit log names who asked.
      const audit = await call(app, admin, 'GET', '/api/audit');
      assert.match(audit.body, /factory_reset/);
    } finally {
      await app.close();
    }
  });
});
