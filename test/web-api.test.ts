// SPDX-License-Identifier: GPL-2.0-or-later
// The API the web UI adds: the live WebSocket, the static shell, health/logs/backup/restore, YAML flows, drafts, test calls.

import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { WebSocket } from 'ws';
import { callsPlugin } from '../src/api/calls.ts';
import { campaignsPlugin } from '../src/api/campaigns.ts';
import { flowsPlugin } from '../src/api/flows.ts';
import { healthPlugin } from '../src/api/health.ts';
import { type LiveMessage, type LiveSource, livePlugin } from '../src/api/live.ts';
import { apiPlugin } from '../src/api/server.ts';
import { systemPlugin } from '../src/api/system.ts';
import { webPlugin } from '../src/api/web.ts';
import type { DialRequest } from '../src/calls/manager.ts';
import { idleDialer } from '../src/controller/agents.ts';
import type { ChannelStatus, LiveEvents, SpanStatus } from '../src/controller/live.ts';
import { FlowStore } from '../src/ivr/store.ts';
import { LogRing } from '../src/runtime/log-ring.ts';
import {
  applyStagedRestore,
  backupTo,
  DB_FILE,
  REPLACED_FILE,
  STAGED_FILE,
} from '../src/store/backup.ts';
import { ConfigStore } from '../src/store/config-store.ts';
import { openDb } from '../src/store/db.ts';
import type { Health } from '../src/system/health.ts';
import {
  ADMIN_PASSWORD,
  call,
  login,
  type Session,
  setupAdmin,
  type TestApi,
  testApi,
  tokenWithRole,
} from './helpers/api.ts';

/** A live feed the test drives: what the controller's LiveFeed gives, by hand. */
class FakeFeed implements LiveSource {
  spanList: SpanStatus[] = [span(1, 'OK')];
  channelList: ChannelStatus[] = [
    { span: 1, channel: 1, state: 'idle', trunk: 'pri1' },
    { span: 1, channel: 2, state: 'talking', trunk: 'pri1', call: 7 },
  ];
  readonly listeners = new Map<string, Set<unknown>>();
  spans() {
    return this.spanList;
  }
  channels() {
    return this.channelList;
  }
  on<K extends keyof LiveEvents>(event: K, fn: (...a: LiveEvents[K]) => void): () => void {
    const set = this.listeners.get(event) ?? new Set();
    this.listeners.set(event, set);
    set.add(fn);
    return () => set.delete(fn);
  }
  emit<K extends keyof LiveEvents>(event: K, ...args: LiveEvents[K]): void {
    for (const fn of this.listeners.get(event) ?? [])
      (fn as (...a: LiveEvents[K]) => void)(...args);
  }
  count(): number {
    return [...this.listeners.values()].reduce((n, set) => n + set.size, 0);
  }
}

function span(n: number, state: string): SpanStatus {
  return {
    span: n,
    name: `SIM/E1/${n}`,
    type: 'E1',
    state,
    alarms: state === 'OK' ? [] : [state],
    configured: true,
    clockSource: 1,
    counters: { bpv: 0 },
    links: [{ trunk: 'pri1', kind: 'dchannel', state: 'up' }],
    trunks: ['pri1'],
    channels: { idle: 1, talking: 1 },
  };
}

const HEALTH: Health = {
  at: '2026-05-01T10:00:00.000Z',
  uptimeS: 100,
  processUptimeS: 50,
  cpu: { loadPercent: 12.5, cores: 2, load1: 0.3 },
  memory: { totalBytes: 1000, availableBytes: 600, usedPercent: 40, processRssBytes: 100 },
  disks: [{ mount: '/', sizeBytes: 1000, usedBytes: 500, usedPercent: 50 }],
  temperatures: { cpuC: null, maxC: null },
};

/** Opens a WebSocket; resolves with it once open, or with the refusing HTTP status and body. */
function connect(
  url: string,
  headers: Record<string, string>,
): Promise<
  | { ws: WebSocket; messages: LiveMessage[]; next: () => Promise<LiveMessage> }
  | { status: number; body: string }
> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const messages: LiveMessage[] = [];
    const waiting: ((m: LiveMessage) => void)[] = [];
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as LiveMessage;
      const w = waiting.shift();
      if (w) w(m);
      else messages.push(m);
    });
    const next = () =>
      new Promise<LiveMessage>((res) => {
        const m = messages.shift();
        if (m) res(m);
        else waiting.push(res);
      });
    ws.on('open', () => resolve({ ws, messages, next }));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', (err) => {
      if (!String(err).includes('Unexpected server response')) reject(err);
    });
  });
}

describe('GET /api/live: the live view over a WebSocket', () => {
  let api: TestApi;
  let feed: FakeFeed;
  let admin: Session;
  let base: string;

  before(async () => {
    feed = new FakeFeed();
    api = await testApi((db) => [
      apiPlugin(livePlugin, { feed, calls: () => [], batchMs: 0, authCheckMs: 100 }),
      apiPlugin(systemPlugin, {
        db,
        dataDir: mkdtempSync(join(tmpdir(), 'switchboard-live-')),
        logs: new LogRing(),
      }),
    ]);
    admin = await setupAdmin(api.app);
    base = (await api.app.listen({ port: 0, host: '127.0.0.1' })).replace('http', 'ws');
  });
  after(async () => {
    await api.app.close();
  });

  it('refuses the upgrade without a session (401) and from a page of another site (403)', async () => {
    const none = await connect(`${base}/api/live`, {});
    assert.ok('status' in none);
    assert.equal(none.status, 401);
    assert.equal(JSON.parse(none.body).error, 'E_AUTH_REQUIRED');
    const foreign = await connect(`${base}/api/live`, {
      cookie: `sb_session=${admin.cookie}`,
      origin: 'http://evil.example',
    });
    assert.ok('status' in foreign);
    assert.equal(foreign.status, 403);
    assert.equal(JSON.parse(foreign.body).error, 'E_ORIGIN_REFUSED');
    assert.equal(feed.count(), 0, 'a refused upgrade subscribes to nothing');
  });

  it('sends the whole view first, then each change in order; unsubscribes when the socket closes', async () => {
    const c = await connect(`${base}/api/live`, {
      cookie: `sb_session=${admin.cookie}`,
      origin: base.replace('ws', 'http'),
    });
    assert.ok('ws' in c);
    const first = await c.next();
    assert.equal(first.type, 'snapshot');
    assert.ok(first.type === 'snapshot');
    assert.deepEqual(first.spans, feed.spanList);
    assert.deepEqual(first.channels, feed.channelList);
    assert.equal(feed.count(), 3, 'span, channel and call listeners');
    feed.emit('channel', { span: 1, channel: 2, state: 'idle', trunk: 'pri1' });
    feed.emit('span', span(1, 'RED'));
    feed.emit('call', {
      event: 'end',
      call: 'b-1',
      at: '2026-05-01T10:00:01.000Z',
      direction: 'outbound',
      called: '5000',
      calling: '',
      cause: 16,
      causeName: 'NORMAL_CLEARING',
    });
    const kinds: string[] = [];
    while (kinds.length < 3) {
      const m = await c.next();
      assert.equal(m.type, 'delta');
      if (m.type === 'delta') for (const e of m.events) kinds.push(e.kind);
    }
    assert.deepEqual(kinds, ['channel', 'span', 'call']);
    const closed = new Promise((r) => c.ws.once('close', r));
    c.ws.close();
    await closed;
    for (let i = 0; i < 50 && feed.count() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(feed.count(), 0);
  });

  it('takes an API token without an Origin (a script, not a browser)', async () => {
    const token = await tokenWithRole(api.app, admin, 'viewer');
    const c = await connect(`${base}/api/live`, { authorization: `Bearer ${token.token}` });
    assert.ok('ws' in c);
    assert.equal((await c.next()).type, 'snapshot');
    c.ws.close();
  });

  it('closes the socket (1008) when its session ends, and when its token is revoked', async () => {
    const second = await login(api.app, 'admin', ADMIN_PASSWORD);
    const c = await connect(`${base}/api/live`, { cookie: `sb_session=${second.cookie}` });
    assert.ok('ws' in c);
    assert.equal((await c.next()).type, 'snapshot');
    const closed = new Promise<number>((r) => c.ws.once('close', (code) => r(code)));
    assert.equal((await call(api.app, second, 'POST', '/api/logout')).statusCode, 204);
    assert.equal(await closed, 1008);
    const token = await tokenWithRole(api.app, admin, 'viewer');
    const t = await connect(`${base}/api/live`, { authorization: `Bearer ${token.token}` });
    assert.ok('ws' in t);
    const revoked = new Promise<number>((r) => t.ws.once('close', (code) => r(code)));
    assert.equal((await call(api.app, admin, 'DELETE', `/api/tokens/${token.id}`)).statusCode, 204);
    assert.equal(await revoked, 1008);
  });

  it('answers a plain GET (no upgrade) with an error that says what to do', async () => {
    const res = await call(api.app, admin, 'GET', '/api/live');
    assert.equal(res.statusCode, 400);
    assert.match(res.json().message, /WebSocket/);
  });
});

describe('the static shell at / and /assets/', () => {
  let api: TestApi;
  let root: string;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'switchboard-webroot-'));
    mkdirSync(join(root, 'assets'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><div id="app"></div>');
    const js = 'console.log("switchboard");'.repeat(50);
    writeFileSync(join(root, 'assets', 'app-ABC123.js'), js);
    writeFileSync(join(root, 'assets', 'app-ABC123.js.gz'), gzipSync(js));
    writeFileSync(join(root, '.secret'), 'no');
    api = await testApi([apiPlugin(webPlugin, { root })]);
  });
  after(async () => {
    await api.app.close();
  });

  it('serves the page without a login, revalidated on every load', async () => {
    const res = await call(api.app, undefined, 'GET', '/');
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /text\/html/);
    assert.equal(res.headers['cache-control'], 'no-cache');
    assert.match(res.body, /id="app"/);
    // Helmet's policy holds for it: scripts from this box only, no framing.
    assert.match(res.headers['content-security-policy'] as string, /script-src 'self'/);
    assert.equal(res.headers['x-frame-options'], 'DENY');
  });

  it('serves hashed assets for a year, gzipped to browsers that take it', async () => {
    const res = await api.app.inject({
      method: 'GET',
      url: '/assets/app-ABC123.js',
      headers: { 'accept-encoding': 'gzip' },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.match(res.headers['cache-control'] as string, /max-age=31536000.*immutable/);
    const plain = await call(api.app, undefined, 'GET', '/assets/app-ABC123.js');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.match(plain.body, /^console\.log/);
  });

  it('serves nothing outside the build and no dotfiles; the API still needs a login', async () => {
    for (const url of ['/assets/..%2Findex.html', '/assets/.secret', '/assets/nothing.js']) {
      const res = await call(api.app, undefined, 'GET', url);
      assert.ok([400, 403, 404].includes(res.statusCode), `${url}: ${res.statusCode}`);
    }
    assert.equal((await call(api.app, undefined, 'GET', '/api/status')).statusCode, 401);
  });

  it('says the UI is not built rather than failing', async () => {
    const empty = await testApi([apiPlugin(webPlugin, { root: join(root, 'missing') })]);
    try {
      const res = await call(empty.app, undefined, 'GET', '/');
      assert.equal(res.statusCode, 503);
      assert.equal(res.json().error, 'E_WEB_NOT_BUILT');
    } finally {
      await empty.app.close();
    }
  });
});

describe('/api/system: health, logs, backup and restore', () => {
  let api: TestApi;
  let admin: Session;
  let dataDir: string;
  const ring = new LogRing({ maxLines: 10 });

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'switchboard-system-'));
    api = await testApi((db) => {
      new ConfigStore(db).commit(
        { system: { name: 'Lab box' } },
        { author: 'test', source: 'api' },
      );
      return [
        apiPlugin(systemPlugin, {
          db,
          dataDir,
          logs: ring,
          boxName: () => 'Lab box',
        }),
        apiPlugin(healthPlugin, { db, version: '0.0.0-test', health: async () => HEALTH }),
      ];
    });
    admin = await setupAdmin(api.app);
  });
  after(async () => {
    await api.app.close();
  });

  it('reads the health', async () => {
    const res = await call(api.app, admin, 'GET', '/api/system/health');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), HEALTH);
  });

  it('keeps the last lines of the log, by level, and follows it with after=', async () => {
    for (let i = 1; i <= 14; i++)
      ring.add(
        `${JSON.stringify({ level: i % 3 === 0 ? 40 : 30, time: i, msg: `line ${i}`, subsystem: i % 2 ? 'api' : 'calls' })}\n`,
      );
    const all = (await call(api.app, admin, 'GET', '/api/system/logs?level=info')).json();
    assert.deepEqual(
      all.lines.map((l: { msg: string }) => l.msg),
      Array.from({ length: 10 }, (_, i) => `line ${i + 5}`),
      'the ring keeps the newest 10, oldest first',
    );
    assert.equal(all.last, 14);
    const warn = (await call(api.app, admin, 'GET', '/api/system/logs?level=warn')).json();
    assert.deepEqual(
      warn.lines.map((l: { msg: string }) => l.msg),
      ['line 6', 'line 9', 'line 12'],
    );
    ring.add(JSON.stringify({ level: 50, time: 15, msg: 'line 15' }));
    const more = (await call(api.app, admin, 'GET', '/api/system/logs?after=14')).json();
    assert.deepEqual(
      more.lines.map((l: { msg: string }) => l.msg),
      ['line 15'],
    );
    const bad = await call(api.app, admin, 'GET', '/api/system/logs?level=loud');
    assert.equal(bad.statusCode, 400);
  });

  let backup: Buffer;

  it('downloads a consistent backup as one SQLite file and leaves no copy behind', async () => {
    const res = await call(api.app, admin, 'GET', '/api/system/backup');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/vnd.sqlite3');
    assert.match(
      res.headers['content-disposition'] as string,
      /switchboard-Lab_box-\d{8}-\d{6}\.db/,
    );
    backup = res.rawPayload;
    assert.equal(backup.subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
    const file = join(dataDir, 'downloaded.db');
    writeFileSync(file, backup);
    const copy = new Database(file, { readonly: true });
    assert.equal(copy.pragma('journal_mode', { simple: true }), 'delete');
    assert.deepEqual(copy.prepare('SELECT revision FROM config_current').get(), { revision: 1 });
    copy.close();
    for (let i = 0; i < 50 && readdirSync(dataDir).some((f) => f.startsWith('backup-')); i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      readdirSync(dataDir).filter((f) => f.startsWith('backup-')),
      [],
    );
  });

  const upload = (body: Buffer) =>
    api.app.inject({
      method: 'POST',
      url: '/api/system/restore',
      headers: { 'content-type': 'application/octet-stream', 'x-csrf-token': admin.csrf },
      cookies: { sb_session: admin.cookie },
      payload: body,
    });

  it('refuses a restore that is not a Switchboard store this box can run, saying why', async () => {
    const other = join(dataDir, 'other.db');
    const o = new Database(other);
    o.exec('CREATE TABLE notes (t TEXT)');
    o.close();
    const noAdmin = join(dataDir, 'no-admin.db');
    writeFileSync(noAdmin, backup);
    const n = new Database(noAdmin);
    n.exec("UPDATE users SET disabled = 1 WHERE role = 'admin'");
    n.close();
    const newer = join(dataDir, 'newer.db');
    writeFileSync(newer, backup);
    const w = new Database(newer);
    w.prepare("INSERT INTO migrations VALUES ('config', 99, 'future', '2030-01-01')").run();
    w.close();
    for (const [body, why] of [
      [Buffer.from('just some text, not a database'), /not an SQLite database/],
      [readFileSync(other), /no migrations table/],
      [readFileSync(noAdmin), /no enabled admin/],
      [readFileSync(newer), /config schema is version 99, newer than this firmware's 1/],
    ] as const) {
      const res = await upload(body);
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().error, 'E_BACKUP_INVALID');
      assert.match(res.json().message, why);
    }
    assert.equal(existsSync(join(dataDir, STAGED_FILE)), false, 'nothing refused is staged');
    assert.deepEqual(
      readdirSync(dataDir).filter((f) => f.startsWith('upload-')),
      [],
    );
  });

  it('stages a good backup for the next start, shows it, cancels it', async () => {
    const res = await upload(backup);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().revision, 1);
    assert.equal(res.json().boxName, 'Lab box');
    assert.equal(res.json().admins, 1);
    const state = (await call(api.app, admin, 'GET', '/api/system/restore')).json();
    assert.equal(state.staged, true);
    assert.equal(state.summary.revision, 1);
    assert.equal((await call(api.app, admin, 'DELETE', '/api/system/restore')).statusCode, 200);
    const again = await call(api.app, admin, 'DELETE', '/api/system/restore');
    assert.equal(again.statusCode, 404);
    assert.equal(again.json().error, 'E_RESTORE_NONE');
  });
});

describe('a staged restore at the next start', () => {
  it('takes the store’s place; the store it replaces is kept with its WAL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-restore-'));
    const old = openDb(join(dir, DB_FILE));
    new ConfigStore(old).commit({ system: { name: 'old' } }, { author: 't', source: 'api' });
    const other = openDb(join(dir, 'other.db'));
    new ConfigStore(other).commit({ system: { name: 'restored' } }, { author: 't', source: 'api' });
    await backupTo(other, join(dir, STAGED_FILE));
    other.close();
    old.close();
    assert.equal(
      applyStagedRestore(dir)?.revision ?? null,
      null,
      'no summary file: an empty summary',
    );
    assert.equal(existsSync(join(dir, STAGED_FILE)), false);
    const now = openDb(join(dir, DB_FILE));
    assert.equal(new ConfigStore(now).current()?.config.system?.name, 'restored');
    now.close();
    const kept = new Database(join(dir, REPLACED_FILE), { readonly: true });
    const row = kept.prepare('SELECT config FROM config_revisions').get() as { config: string };
    assert.equal(JSON.parse(row.config).system.name, 'old');
    kept.close();
    assert.equal(applyStagedRestore(dir), undefined, 'nothing staged: nothing happens');
  });
});

describe('the API changes the UI relies on', () => {
  let api: TestApi;
  let admin: Session;
  const dialled: DialRequest[] = [];

  before(async () => {
    api = await testApi((db) => [
      apiPlugin(flowsPlugin, { store: new FlowStore(db) }),
      apiPlugin(
        campaignsPlugin,
        (({ dialer, dialerStore, agents }) => ({ dialer, store: dialerStore, agents }))(
          idleDialer(db),
        ),
      ),
      apiPlugin(callsPlugin, {
        port: {
          calls: () => [],
          stats: () => ({ attempts: 0, live: 0, refused: 0, unknownCalls: 0 }),
          dial: (req) => {
            dialled.push(req);
            return 'boot-1';
          },
          hangup: async () => undefined,
        },
      }),
    ]);
    admin = await setupAdmin(api.app);
  });
  after(async () => {
    await api.app.close();
  });

  const yaml = (method: string, url: string, text: string) =>
    api.app.inject({
      method: method as 'PUT',
      url,
      headers: { 'content-type': 'application/yaml', 'x-csrf-token': admin.csrf },
      cookies: { sb_session: admin.cookie },
      payload: text,
    });

  it('takes a flow as its YAML file, and names the line of a YAML error', async () => {
    const text = readFileSync(new URL('../board/demo/flows/hotline.yaml', import.meta.url), 'utf8');
    const check = await yaml('POST', '/api/flows/validate', text);
    assert.deepEqual(check.json(), { ok: true });
    const saved = await yaml('PUT', '/api/flows/hotline', text);
    assert.equal(saved.statusCode, 200, saved.body);
    assert.equal(saved.json().version, 1);
    const flow = (await call(api.app, admin, 'GET', '/api/flows/hotline')).json();
    assert.equal(flow.flow.start, 'welcome');
    const broken = await yaml('POST', '/api/flows/validate', 'name: x\nnodes: [unclosed\n');
    assert.equal(broken.statusCode, 400);
    assert.equal(broken.json().error, 'E_FLOW_INVALID');
    assert.match(broken.json().message, /line/);
  });

  it('lists a draft campaign (not started) with its contacts, and shows it without a monitor', async () => {
    const created = await call(api.app, admin, 'POST', '/api/campaigns', {
      name: 'web-draft',
      mode: 'broadcast',
      flow: 'hotline',
      timezone: 'UTC',
      windows: [{ days: ['mon'], from: '09:00', to: '17:00' }],
    });
    assert.equal(created.statusCode, 201, created.body);
    const imported = await call(api.app, admin, 'POST', '/api/campaigns/web-draft/contacts', {
      format: 'txt',
      content: '13800138000\n13900139000\n',
    });
    assert.equal(imported.statusCode, 200, imported.body);
    const list = (await call(api.app, admin, 'GET', '/api/campaigns')).json();
    assert.deepEqual(list.campaigns, []);
    assert.deepEqual(list.drafts, [
      { name: 'web-draft', mode: 'broadcast', contacts: { pending: 2, dialing: 0, done: 0 } },
    ]);
    const one = (await call(api.app, admin, 'GET', '/api/campaigns/web-draft')).json();
    assert.equal(one.state, 'draft');
    assert.equal(one.monitor, null);
  });

  it('passes a test call’s trunk and channel to the call side, and checks them', async () => {
    const res = await call(api.app, admin, 'POST', '/api/calls', {
      called: '5000',
      trunk: 'pri-a',
      channel: 3,
    });
    assert.equal(res.statusCode, 202, res.body);
    assert.deepEqual(dialled, [{ called: '5000', trunk: 'pri-a', channel: 3 }]);
    const bad = await call(api.app, admin, 'POST', '/api/calls', { called: '5000', channel: 0 });
    assert.equal(bad.statusCode, 400);
    assert.equal(dialled.length, 1);
  });
});
