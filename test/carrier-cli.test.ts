// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard carrier`: the demo scenario on the demo board, its spans, its log, Ctrl-C; refusals.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CarrierRecord } from '../src/carrier/carrier.ts';
import { applySpanConfs, renderSpanConfs } from '../src/carrier/spans.ts';
import type { EngineConfig } from '../src/native/engine.ts';
import { paths } from '../src/runtime/paths.ts';
import { type StartedProcess, startProcess } from '../src/runtime/process.ts';
import { loadSimConfig } from '../src/sim/config.ts';
import { renderSystemConf } from '../src/sim/dahdiconf.ts';
import { runCli } from './helpers/cli.ts';
import { eventually, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';
import { type Host, startHost } from './helpers/engine.ts';

const launcher = fileURLToPath(new URL('../bin/switchboard.mjs', import.meta.url));
const demo = fileURLToPath(new URL('../board/carrier/demo.yaml', import.meta.url));

const run = runCli;

describe('switchboard carrier: refusals', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-carrier-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('needs --scenario (usage error, exit 2)', async () => {
    const r = await run('carrier');
    assert.equal(r.code, 2);
    assert.match(r.err, /--scenario FILE is required/);
  });

  it('refuses a bad scenario naming the field, before looking for a simulator', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'trunks:\n  - { name: x, signalling: pri_net, span: 2, switchtype: euroisdn }\noutbound:\n  mix: { busy: -1 }\n',
    );
    const r = await run('carrier', '--scenario', file, '--sim-dir', join(dir, 'nosim'));
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /^error: invalid .*bad\.yaml:\n {2}outbound\.mix\.busy: must be a weight from 0 to 1000000/,
    );
  });

  it('says so when no simulator runs', async () => {
    const r = await run('carrier', '--scenario', demo, '--sim-dir', join(dir, 'nosim'));
    assert.equal(r.code, 1);
    assert.match(r.err, /no simulator is running in .*nosim/);
  });
});

describe('switchboard carrier: the demo scenario on the demo board', () => {
  let sim: TestSim;
  let ours: Host;
  let cli: StartedProcess;
  let logFile: string;
  /** Spans 1-4 once the carrier is up, before our side configures its own. */
  let framing: string[];
  before(async () => {
    // As `switchboard start` leaves it: every E1 span CCS, which MFC-R2 cannot run on.
    const board = loadSimConfig(paths.demoBoard);
    sim = await withConfiguredSim(board, renderSystemConf(board));
    logFile = join(sim.dir, 'carrier.jsonl');
    cli = startProcess(
      process.execPath,
      [launcher, 'carrier', '--scenario', demo, '--sim-dir', sim.dir, '--log', logFile],
      { env: { ...process.env, SWITCHBOARD_LOG_LEVEL: 'warn' }, timeoutMs: 600_000 },
    );
    await cli.waitFor((l) => l.carrier === 'ready' || l.fatal !== undefined, 60_000);
    const fatal = cli.lines.find((l) => l.fatal !== undefined);
    if (fatal) throw new Error(JSON.stringify(fatal));
    framing = (await sim.client.status()).spans.slice(0, 4).map((s) => s.framing);
    // The switch's side of the cables, as the demo scenario's comments ask for it; its R2 span
    // made CAS the way the carrier makes its own.
    const trunks = [
      { name: 'pri', signalling: 'pri_cpe', span: 1, switchtype: 'euroisdn' },
      { name: 'r2', signalling: 'mfcr2', span: 3, variant: 'cn', maxAni: 0, maxDnis: 8 },
    ] as EngineConfig['trunks'];
    applySpanConfs(
      sim.dir,
      renderSpanConfs(
        trunks.filter((t) => t.signalling === 'mfcr2'),
        (await sim.client.status()).spans,
      ),
    );
    ours = await startHost(sim, { trunks }, 'ours');
  });
  after(async () => {
    await ours?.stop();
    if (cli?.pid !== undefined && cli.lines.every((l) => l.stats === undefined)) {
      // SIGTERM, not SIGKILL: the command passes it on to the carrier process it started.
      process.kill(cli.pid, 'SIGTERM');
      await Promise.race([cli.done, new Promise((r) => setTimeout(r, 20_000))]);
    }
    await sim?.stop();
  });

  it('configures its own spans (CAS for MFC-R2 on span 4), carries calls, logs them, and stops on SIGTERM', async () => {
    assert.deepEqual(framing, ['ccs', 'ccs', 'ccs', 'cas']);
    const up = await eventually(async () => {
      const t = (await ours.snapshot()).trunks;
      return (
        t[0]?.links.every((l) => l.state === 'up') === true &&
        (t[1]?.channels.some((c) => c.state === 'idle') ?? false)
      );
    }, 30_000);
    assert.ok(up, 'our PRI link came up and the carrier R2 lines went idle');
    await new Promise((r) => setTimeout(r, 2000)); // both ends of the PRI establish at once: one T200
    // The demo's fixed numbers: the bank answers (and its callee presses 1), a busy number.
    const bank = await ours.command({ op: 'place', trunk: 'pri', called: '95588' });
    await ours.waitEvent((e) => e.event === 'answered' && e.call === bank.call, 30_000);
    await ours.command({ op: 'detect', call: bank.call as number, dtmf: true });
    await ours.waitEvent((e) => e.event === 'dtmf' && e.call === bank.call, 30_000);
    await ours.command({ op: 'release', call: bank.call as number, cause: 16 });
    const busy = await ours.command({ op: 'place', trunk: 'r2', called: '13800000017' });
    const rel = await ours.waitEvent((e) => e.event === 'released' && e.call === busy.call, 30_000);
    assert.deepEqual([rel.cause, rel.r2Cause], [17, 'busy_number']);
    const logged = () =>
      readFileSync(logFile, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as CarrierRecord)
        .filter((r) => r.direction === 'outbound');
    const both = await eventually(async () => logged().length === 2, 10_000);
    assert.ok(both, readFileSync(logFile, 'utf8'));
    assert.deepEqual(
      logged().map((r) => [r.trunk, r.called, r.outcome, r.cause, r.digits]),
      [
        ['carrier-pri', '95588', 'answer', 16, '1'],
        ['carrier-r2', '13800000017', 'busy', 17, ''],
      ],
    );
    process.kill(cli.pid as number, 'SIGTERM');
    const { code } = await cli.done;
    assert.equal(code, 0);
    const stats = [...cli.lines].reverse().find((l) => l.stats !== undefined)?.stats as {
      outbound: { attempts: number; active: number };
      inbound: { active: number };
    };
    assert.deepEqual(
      [stats.outbound.attempts, stats.outbound.active, stats.inbound.active],
      [2, 0, 0],
    );
  });
});
