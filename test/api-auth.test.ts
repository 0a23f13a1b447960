// SPDX-License-Identifier: GPL-2.0-or-later
// Accounts and access: first-run setup, passwords, login limits, cookies, CSRF, tokens, last admin, audit.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { passwordProblem, redact } from '../src/api/auth.ts';
import { HTTP_STATUS } from '../src/api/error-handler.ts';
import { buildApi, PACKAGE } from '../src/api/server.ts';
import { ERROR_CODES, type ErrorCode } from '../src/core/errors.ts';
import { openDb } from '../src/store/db.ts';
import {
  ADMIN_PASSWORD,
  call,
  login,
  type Session,
  sessionOf,
  setupAdmin,
  type TestApi,
  testApi,
  tokenWithRole,
  userWithRole,
} from './helpers/api.ts';

/** The reply body of an error. */
function failure(res: { statusCode: number; json: () => unknown }) {
  const { error, message } = res.json() as { error: string; message: string };
  return { status: res.statusCode, error, message };
}

describe('passwordProblem', () => {
  it('accepts a long mixed password and names what is wrong with weak ones', () => {
    assert.equal(passwordProblem('admin', 'Correct-horse-42'), undefined);
    assert.equal(passwordProblem('admin', 'short1A'), 'must be at least 10 characters');
    assert.equal(passwordProblem('admin', 'xxAdmin-1234'), 'must not contain the user name');
    assert.equal(
      passwordProblem('admin', 'abcdefghijkl'),
      'must mix at least two kinds of character (lower case, upper case, digits, others)',
    );
    assert.equal(
      passwordProblem('admin', 'aaaaaaaaa1'),
      'must have at least 5 different characters',
    );
    assert.equal(passwordProblem('admin', 'MyPassword99'), 'must not contain "password"');
    // Letters of any script count as letters.
    assert.equal(passwordProblem('admin', 'Ωmega-Στήλη-7'), undefined);
  });
});

describe('redact', () => {
  it('blanks fields named like secrets and API tokens anywhere, and keeps the rest', () => {
    assert.deepEqual(
      redact({
        name: 'otto',
        password: 'x',
        nested: [{ newPassword: 'y', apiToken: 'z', tokenId: 7, clientSecret: 's' }],
        note: 'sbt_abc',
        passwordSet: true,
      }),
      {
        name: 'otto',
        password: '[redacted]',
        nested: [
          {
            newPassword: '[redacted]',
            apiToken: '[redacted]',
            tokenId: 7,
            clientSecret: '[redacted]',
          },
        ],
        note: '[redacted]',
        passwordSet: true,
      },
    );
  });
});

describe('error statuses', () => {
  it('gives every error code a client (4xx) or server (5xx) status', () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const status = HTTP_STATUS[code];
      assert.ok(status >= 400 && status < 600, `${code}: ${status}`);
    }
    assert.equal(HTTP_STATUS.E_AUTH_REQUIRED, 401);
    assert.equal(HTTP_STATUS.E_CSRF, 403);
    assert.equal(HTTP_STATUS.E_SETUP_DONE, 409);
  });
});

describe('first-run setup', () => {
  let api: TestApi;
  before(async () => {
    // The deployed hashing cost (argon2 options left at their defaults).
    api = await testApi([], { argon2: {} });
  });
  after(async () => {
    await api.app.close();
  });

  it('is needed on a fresh store, and nobody can log in before it', async () => {
    const state = await call(api.app, undefined, 'GET', '/api/setup');
    assert.deepEqual([state.statusCode, state.json()], [200, { needed: true }]);
    for (const name of ['admin', 'root', 'switchboard']) {
      const res = await call(api.app, undefined, 'POST', '/api/login', {
        name,
        password: name,
      });
      assert.deepEqual(failure(res), {
        status: 401,
        error: 'E_LOGIN_FAILED',
        message: 'wrong user name or password',
      });
    }
  });

  it('refuses weak passwords and bad names, naming the field', async () => {
    const cases: [object, string, string][] = [
      [
        { name: 'admin', password: 'short' },
        'E_REQUEST_FIELD',
        'body.password: must be at least 10 characters',
      ],
      [{ name: 'admin' }, 'E_REQUEST_FIELD', 'body.password: is required'],
      [
        { name: 'admin', password: 'Admin-2024-x' },
        'E_PASSWORD_WEAK',
        'body.password: must not contain the user name',
      ],
      [
        { name: 'admin', password: 'alllowercaseletters' },
        'E_PASSWORD_WEAK',
        'body.password: must mix at least two kinds of character (lower case, upper case, digits, others)',
      ],
      [
        { name: 'a b', password: ADMIN_PASSWORD },
        'E_REQUEST_FIELD',
        'body.name: must be 3 to 32 letters, digits, dots, dashes or underscores, starting with a letter or digit',
      ],
      [
        { name: 'admin', password: ADMIN_PASSWORD, role: 'viewer' },
        'E_REQUEST_FIELD',
        'body.role: is not a known field',
      ],
    ];
    for (const [body, error, message] of cases) {
      const res = await call(api.app, undefined, 'POST', '/api/setup', body);
      assert.deepEqual(failure(res), { status: 400, error, message }, JSON.stringify(body));
      const field = message.split(':')[0];
      assert.equal((res.json() as { details: { path: string }[] }).details[0]?.path, field);
    }
    const state = await call(api.app, undefined, 'GET', '/api/setup');
    assert.deepEqual(state.json(), { needed: true });
  });

  it('creates the first admin, logs them in with a strict httpOnly cookie, and happens once', async () => {
    const res = await call(api.app, undefined, 'POST', '/api/setup', {
      name: 'admin',
      password: ADMIN_PASSWORD,
    });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json() as { user: string; role: string; csrf: string };
    assert.deepEqual([body.user, body.role], ['admin', 'admin']);
    assert.match(body.csrf, /^[A-Za-z0-9_-]{43}$/);
    const setCookie = String(res.headers['set-cookie']);
    assert.match(setCookie, /^sb_session=[A-Za-z0-9_-]{43}; /);
    assert.match(setCookie, /; HttpOnly/);
    assert.match(setCookie, /; SameSite=Strict/);
    assert.match(setCookie, /; Path=\//);
    assert.doesNotMatch(setCookie, /Secure/, 'plain HTTP unless secureCookies');

    const me = await call(api.app, sessionOf(res), 'GET', '/api/me');
    assert.deepEqual(me.json(), { user: 'admin', role: 'admin', via: 'session', csrf: body.csrf });
    assert.deepEqual((await call(api.app, undefined, 'GET', '/api/setup')).json(), {
      needed: false,
    });
    const again = await call(api.app, undefined, 'POST', '/api/setup', {
      name: 'mallory',
      password: 'Another-pass-99',
    });
    assert.equal(failure(again).status, 409);
    assert.equal(failure(again).error, 'E_SETUP_DONE');
  });

  it('stores argon2id hashes and only a hash of the session id', () => {
    const users = api.db.prepare('SELECT password_hash FROM users').all() as {
      password_hash: string;
    }[];
    assert.equal(users.length, 1);
    assert.match(users[0]?.password_hash ?? '', /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const sessions = api.db.prepare('SELECT id_hash FROM sessions').all() as { id_hash: string }[];
    assert.equal(sessions.length, 1);
    assert.match(sessions[0]?.id_hash ?? '', /^[0-9a-f]{64}$/);
  });

  it('reports the setup state and version on /api/status, to a logged-in caller', async () => {
    const s = await login(api.app, 'admin', ADMIN_PASSWORD);
    const res = await call(api.app, s, 'GET', '/api/status');
    const status = res.json() as { version: string; setupDone: boolean; uptimeS: number };
    assert.deepEqual([status.version, status.setupDone], [PACKAGE.version, true]);
    assert.ok(Number.isInteger(status.uptimeS) && status.uptimeS >= 0);
  });
});

describe('secure cookies', () => {
  it('marks the session cookie Secure and sends HSTS when serving HTTPS', async () => {
    const db = openDb(':memory:');
    const app = await buildApi({
      db,
      logger: pino({ level: 'silent' }),
      plugins: [],
      secureCookies: true,
      auth: { argon2: { memoryCost: 4096, timeCost: 1 } },
    });
    try {
      const admin = await setupAdmin(app);
      assert.ok(admin.cookie);
      const res = await call(app, undefined, 'POST', '/api/login', {
        name: 'admin',
        password: ADMIN_PASSWORD,
      });
      assert.match(String(res.headers['set-cookie']), /; Secure/);
      assert.match(String(res.headers['strict-transport-security']), /max-age=/);
      assert.match(String(res.headers['content-security-policy']), /upgrade-insecure-requests/);
    } finally {
      await app.close();
    }
  });
});

describe('login', () => {
  let api: TestApi;
  before(async () => {
    api = await testApi();
    await setupAdmin(api.app);
  });
  after(async () => {
    await api.app.close();
  });

  it('does not count successful logins against the limit', async () => {
    for (let i = 0; i < 8; i++) await login(api.app, 'admin', ADMIN_PASSWORD);
  });

  it('answers a wrong password and an unknown user alike, then 429 after 5 failures', async () => {
    const wrong = await call(api.app, undefined, 'POST', '/api/login', {
      name: 'admin',
      password: 'not-the-password',
    });
    const unknown = await call(api.app, undefined, 'POST', '/api/login', {
      name: 'nobody',
      password: 'not-the-password',
    });
    assert.deepEqual(failure(wrong), failure(unknown));
    assert.equal(failure(wrong).error, 'E_LOGIN_FAILED');
    assert.equal(wrong.headers['set-cookie'], undefined);
    for (let i = 3; i <= 5; i++) {
      const res = await call(api.app, undefined, 'POST', '/api/login', {
        name: 'admin',
        password: `wrong-${i}`,
      });
      assert.equal(res.statusCode, 401, `failure ${i}`);
    }
    // The sixth attempt is refused before the password is looked at, even the right one.
    const limited = await call(api.app, undefined, 'POST', '/api/login', {
      name: 'admin',
      password: ADMIN_PASSWORD,
    });
    assert.equal(failure(limited).status, 429);
    assert.equal(failure(limited).error, 'E_RATE_LIMITED');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);

    // Another address is not affected.
    const elsewhere = await api.app.inject({
      method: 'POST',
      url: '/api/login',
      remoteAddress: '192.0.2.7',
      payload: { name: 'admin', password: ADMIN_PASSWORD },
    });
    assert.equal(elsewhere.statusCode, 200);
  });

  it('limits setup attempts per address, with Retry-After', async () => {
    const fresh = await testApi();
    try {
      const codes: number[] = [];
      for (let i = 0; i < 11; i++)
        codes.push((await call(fresh.app, undefined, 'POST', '/api/setup', {})).statusCode);
      assert.deepEqual(codes, [...Array(10).fill(400), 429]);
      const res = await call(fresh.app, undefined, 'POST', '/api/setup', {});
      assert.equal(failure(res).error, 'E_RATE_LIMITED');
      assert.ok(Number(res.headers['retry-after']) >= 1, String(res.headers['retry-after']));
    } finally {
      await fresh.app.close();
    }
  });

  it('audits failed logins with the account named only when it exists', async () => {
    assert.equal((await call(api.app, undefined, 'POST', '/api/users', {})).statusCode, 401);
    const rows = api.db
      .prepare(
        "SELECT user_name, status, detail FROM audit WHERE action = 'login_failed' ORDER BY id",
      )
      .all() as { user_name: string | null; status: number; detail: string }[];
    assert.equal(rows.length, 5);
    const limited = api.db.prepare("SELECT status FROM audit WHERE action = 'login_limited'").all();
    assert.deepEqual(limited, [{ status: 429 }]);
    // Changes refused to callers without credentials are not kept (they could flood the log).
    const anonymous = api.db
      .prepare('SELECT COUNT(*) AS n FROM audit WHERE status = 401 AND action IS NULL')
      .get() as { n: number };
    assert.equal(anonymous.n, 0);
    assert.deepEqual(rows[0], {
      user_name: 'admin',
      status: 401,
      detail: '{"reason":"wrong password"}',
    });
    assert.deepEqual(rows[1], {
      user_name: null,
      status: 401,
      detail: '{"reason":"unknown user"}',
    });
  });
});

describe('sessions and CSRF', () => {
  let api: TestApi;
  let admin: Session;
  before(async () => {
    api = await testApi([], { sessionIdleS: 600, sessionLifetimeS: 3600 });
    admin = await setupAdmin(api.app);
  });
  after(async () => {
    await api.app.close();
  });

  it('needs the session CSRF token on changes, not on reads', async () => {
    const body = { name: 'carol', password: 'Blue-sky-pass-123', role: 'viewer' };
    const missing = await call(api.app, admin, 'POST', '/api/users', body, null);
    assert.deepEqual([missing.statusCode, failure(missing).error], [403, 'E_CSRF']);
    const wrong = await call(api.app, admin, 'POST', '/api/users', body, 'x'.repeat(43));
    assert.deepEqual([wrong.statusCode, failure(wrong).error], [403, 'E_CSRF']);
    const other = await login(api.app, 'admin', ADMIN_PASSWORD);
    const foreign = await call(api.app, admin, 'POST', '/api/users', body, other.csrf);
    assert.deepEqual([foreign.statusCode, failure(foreign).error], [403, 'E_CSRF']);
    assert.equal(
      (await call(api.app, admin, 'GET', '/api/users', undefined, null)).statusCode,
      200,
    );
    const right = await call(api.app, admin, 'POST', '/api/users', body);
    assert.equal(right.statusCode, 201, right.body);
    const users = (await call(api.app, admin, 'GET', '/api/users')).json() as { name: string }[];
    assert.deepEqual(
      users.map((u) => u.name),
      ['admin', 'carol'],
    );
  });

  it('ends a session at logout, clearing the cookie', async () => {
    const s = await login(api.app, 'carol', 'Blue-sky-pass-123');
    const out = await call(api.app, s, 'POST', '/api/logout');
    assert.equal(out.statusCode, 204);
    assert.match(String(out.headers['set-cookie']), /^sb_session=;/);
    const after = await call(api.app, s, 'GET', '/api/me');
    assert.deepEqual([after.statusCode, failure(after).error], [401, 'E_AUTH_REQUIRED']);
  });

  it('ends an idle session and one past its lifetime', async () => {
    const idle = await login(api.app, 'carol', 'Blue-sky-pass-123');
    const old = await login(api.app, 'carol', 'Blue-sky-pass-123');
    const hashOf = (s: Session) => createHash('sha256').update(s.cookie).digest('hex');
    api.db
      .prepare('UPDATE sessions SET seen_ms = seen_ms - 601000 WHERE id_hash = ?')
      .run(hashOf(idle));
    api.db
      .prepare('UPDATE sessions SET expires_ms = ? WHERE id_hash = ?')
      .run(Date.now() - 1, hashOf(old));
    for (const s of [idle, old]) {
      const res = await call(api.app, s, 'GET', '/api/me');
      assert.equal(res.statusCode, 401);
      const row = api.db.prepare('SELECT 1 FROM sessions WHERE id_hash = ?').get(hashOf(s));
      assert.equal(row, undefined, 'an ended session is deleted');
    }
  });

  it('refuses a forged or malformed session cookie', async () => {
    for (const cookie of ['x'.repeat(43), 'short', '']) {
      const res = await call(api.app, { cookie, csrf: 'x' }, 'GET', '/api/me');
      assert.equal(res.statusCode, 401, cookie);
    }
  });
});

describe('API tokens', () => {
  let api: TestApi;
  let admin: Session;
  let installer: Session;
  before(async () => {
    api = await testApi();
    admin = await setupAdmin(api.app);
    installer = await userWithRole(api.app, admin, 'ines', 'installer');
  });
  after(async () => {
    await api.app.close();
  });

  it('shows a token once, keeps only its hash, and accepts it without CSRF until revoked', async () => {
    const created = await tokenWithRole(api.app, admin, 'operator', 'noc');
    assert.match(created.token, /^sbt_[A-Za-z0-9_-]{43}$/);
    const stored = api.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(created.id);
    assert.ok(!JSON.stringify(stored).includes(created.token.slice(4)));
    const me = await call(api.app, created.token, 'GET', '/api/me');
    assert.deepEqual(me.json(), { user: 'admin', role: 'operator', via: 'token' });
    // A change through a token needs no CSRF token: a logout is a change.
    assert.equal((await call(api.app, created.token, 'POST', '/api/logout')).statusCode, 204);
    const list = (await call(api.app, admin, 'GET', '/api/tokens')).json() as {
      id: number;
      lastUsedAt: string | null;
      revoked: boolean;
    }[];
    const entry = list.find((t) => t.id === created.id);
    assert.ok(entry?.lastUsedAt !== null && entry?.revoked === false, JSON.stringify(entry));
    assert.ok(!JSON.stringify(list).includes(created.token));

    const revoke = await call(api.app, admin, 'DELETE', `/api/tokens/${created.id}`);
    assert.equal(revoke.statusCode, 204);
    const refused = await call(api.app, created.token, 'GET', '/api/me');
    assert.deepEqual([refused.statusCode, failure(refused).error], [401, 'E_AUTH_REQUIRED']);
  });

  it('refuses a malformed Authorization header and an unknown token', async () => {
    for (const authorization of ['Basic YWRtaW46eA==', 'Bearer', `Bearer sbt_${'A'.repeat(43)}`]) {
      const res = await api.app.inject({
        method: 'GET',
        url: '/api/me',
        headers: { authorization },
      });
      assert.equal(res.statusCode, 401, authorization);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="switchboard"');
    }
  });

  it('lets an installer manage their own tokens only, up to their own role', async () => {
    const adminToken = await tokenWithRole(api.app, admin, 'viewer', 'admin-owned');
    const own = await tokenWithRole(api.app, installer, 'installer', 'laptop');
    const tooStrong = await call(api.app, installer, 'POST', '/api/tokens', {
      name: 'x',
      role: 'admin',
    });
    assert.deepEqual([tooStrong.statusCode, failure(tooStrong).error], [403, 'E_FORBIDDEN']);
    assert.match(failure(tooStrong).message, /^body\.role: /);
    const mine = (await call(api.app, installer, 'GET', '/api/tokens')).json() as { id: number }[];
    assert.deepEqual(
      mine.map((t) => t.id),
      [own.id],
    );
    const foreign = await call(api.app, installer, 'DELETE', `/api/tokens/${adminToken.id}`);
    assert.deepEqual([foreign.statusCode, failure(foreign).error], [404, 'E_TOKEN_UNKNOWN']);
    assert.equal((await call(api.app, adminToken.token, 'GET', '/api/me')).statusCode, 200);
    // A token cannot mint tokens: a leaked one does not outlive its revocation.
    const minted = await call(api.app, own.token, 'POST', '/api/tokens', {
      name: 'y',
      role: 'viewer',
    });
    assert.deepEqual([minted.statusCode, failure(minted).error], [403, 'E_FORBIDDEN']);
  });

  it('acts for its creator: never above their role, and stops when they are disabled or deleted', async () => {
    const token = await tokenWithRole(api.app, installer, 'installer', 'demoted');
    const demote = await call(api.app, admin, 'PATCH', '/api/users/ines', { role: 'viewer' });
    assert.equal(demote.statusCode, 200, demote.body);
    assert.deepEqual((await call(api.app, token.token, 'GET', '/api/me')).json(), {
      user: 'ines',
      role: 'viewer',
      via: 'token',
    });
    assert.equal((await call(api.app, token.token, 'GET', '/api/tokens')).statusCode, 403);
    await call(api.app, admin, 'PATCH', '/api/users/ines', { disabled: true });
    assert.equal((await call(api.app, token.token, 'GET', '/api/me')).statusCode, 401);
    await call(api.app, admin, 'PATCH', '/api/users/ines', { disabled: false, role: 'installer' });
    assert.equal((await call(api.app, token.token, 'GET', '/api/me')).statusCode, 200);
    assert.equal((await call(api.app, admin, 'DELETE', '/api/users/ines')).statusCode, 204);
    assert.equal((await call(api.app, token.token, 'GET', '/api/me')).statusCode, 401);
    const row = api.db.prepare('SELECT revoked_at FROM api_tokens WHERE id = ?').get(token.id) as {
      revoked_at: string | null;
    };
    assert.notEqual(row.revoked_at, null);
  });
});

describe('user management', () => {
  let api: TestApi;
  let admin: Session;
  before(async () => {
    api = await testApi();
    admin = await setupAdmin(api.app);
  });
  after(async () => {
    await api.app.close();
  });

  it('keeps the last enabled admin', async () => {
    for (const [method, body] of [
      ['PATCH', { role: 'installer' }],
      ['PATCH', { disabled: true }],
      ['DELETE', undefined],
    ] as const) {
      const res = await call(api.app, admin, method, '/api/users/admin', body);
      assert.deepEqual([res.statusCode, failure(res).error], [409, 'E_LAST_ADMIN'], method);
    }
    // A disabled second admin does not count.
    await userWithRole(api.app, admin, 'deputy', 'admin');
    await call(api.app, admin, 'PATCH', '/api/users/deputy', { disabled: true });
    const still = await call(api.app, admin, 'DELETE', '/api/users/admin');
    assert.equal(still.statusCode, 409);
    await call(api.app, admin, 'PATCH', '/api/users/deputy', { disabled: false });
    const demoted = await call(api.app, admin, 'PATCH', '/api/users/admin', { role: 'installer' });
    assert.deepEqual(
      [demoted.statusCode, (demoted.json() as { role: string }).role],
      [200, 'installer'],
    );
    // The demotion holds at once for the demoted admin's own session.
    assert.equal((await call(api.app, admin, 'GET', '/api/users')).statusCode, 403);
    const deputy = await login(api.app, 'deputy', 'admin-Pass-1234');
    await call(api.app, deputy, 'PATCH', '/api/users/admin', { role: 'admin' });
    assert.equal((await call(api.app, admin, 'GET', '/api/users')).statusCode, 200);
  });

  it('refuses a second account of the same name in any letter case, and unknown names', async () => {
    const dup = await call(api.app, admin, 'POST', '/api/users', {
      name: 'ADMIN',
      password: 'Other-pass-123',
      role: 'viewer',
    });
    assert.deepEqual([dup.statusCode, failure(dup).error], [409, 'E_USER_EXISTS']);
    const unknown = await call(api.app, admin, 'PATCH', '/api/users/nobody', { role: 'viewer' });
    assert.deepEqual([unknown.statusCode, failure(unknown).error], [404, 'E_USER_UNKNOWN']);
    const badRole = await call(api.app, admin, 'PATCH', '/api/users/deputy', { role: 'root' });
    assert.deepEqual(failure(badRole), {
      status: 400,
      error: 'E_REQUEST_FIELD',
      message: 'body.role: must be "viewer", "operator", "installer" or "admin"',
    });
  });

  it('logs a disabled user out everywhere, and one whose password an admin reset', async () => {
    const v1 = await userWithRole(api.app, admin, 'victor', 'viewer');
    const v2 = await login(api.app, 'victor', 'viewer-Pass-1234');
    await call(api.app, admin, 'PATCH', '/api/users/victor', { disabled: true });
    for (const s of [v1, v2])
      assert.equal((await call(api.app, s, 'GET', '/api/me')).statusCode, 401);
    const disabledLogin = await call(api.app, undefined, 'POST', '/api/login', {
      name: 'victor',
      password: 'viewer-Pass-1234',
    });
    assert.equal(failure(disabledLogin).error, 'E_LOGIN_FAILED');
    await call(api.app, admin, 'PATCH', '/api/users/victor', { disabled: false });
    const v3 = await login(api.app, 'victor', 'viewer-Pass-1234');
    const reset = await call(api.app, admin, 'PATCH', '/api/users/victor', {
      password: 'Reset-by-admin-1',
    });
    assert.equal(reset.statusCode, 200, reset.body);
    assert.equal((await call(api.app, v3, 'GET', '/api/me')).statusCode, 401);
    await login(api.app, 'victor', 'Reset-by-admin-1');
  });

  it("changes one's own password with the old one; other sessions end, this one stays", async () => {
    const here = await login(api.app, 'victor', 'Reset-by-admin-1');
    const there = await login(api.app, 'victor', 'Reset-by-admin-1');
    const wrongOld = await call(api.app, here, 'POST', '/api/me/password', {
      oldPassword: 'not-it',
      newPassword: 'Victor-new-pass-7',
    });
    assert.deepEqual([wrongOld.statusCode, failure(wrongOld).error], [403, 'E_PASSWORD_WRONG']);
    const weak = await call(api.app, here, 'POST', '/api/me/password', {
      oldPassword: 'Reset-by-admin-1',
      newPassword: 'victor-1234567',
    });
    assert.deepEqual(failure(weak), {
      status: 400,
      error: 'E_PASSWORD_WEAK',
      message: 'body.newPassword: must not contain the user name',
    });
    const ok = await call(api.app, here, 'POST', '/api/me/password', {
      oldPassword: 'Reset-by-admin-1',
      newPassword: 'Brand-new-pass-7',
    });
    assert.equal(ok.statusCode, 204, ok.body);
    assert.equal((await call(api.app, here, 'GET', '/api/me')).statusCode, 200);
    assert.equal((await call(api.app, there, 'GET', '/api/me')).statusCode, 401);
    await login(api.app, 'victor', 'Brand-new-pass-7');
  });

  it('keeps every change in the audit log, without a password or token in it', async () => {
    await userWithRole(api.app, admin, 'tempo', 'operator');
    assert.equal((await call(api.app, admin, 'DELETE', '/api/users/tempo')).statusCode, 204);
    const token = await tokenWithRole(api.app, admin, 'viewer', 'audit check');
    await call(api.app, admin, 'DELETE', `/api/tokens/${token.id}`);
    await call(api.app, admin, 'GET', '/api/audit?secretKey=s3cr3t&token=sbt_x');
    await call(api.app, admin, 'POST', '/api/logout?token=leaky');

    const all = api.db.prepare('SELECT * FROM audit').all() as Record<string, unknown>[];
    const dump = JSON.stringify(all);
    for (const secret of [
      ADMIN_PASSWORD,
      'Reset-by-admin-1',
      'Brand-new-pass-7',
      'viewer-Pass-1234',
      'operator-Pass-1234',
      token.token,
      'leaky',
    ])
      assert.ok(!dump.includes(secret), `audit holds ${secret}`);
    assert.ok(
      all.every((r) => !['GET', 'HEAD'].includes(String(r.method))),
      'reads are not audited',
    );
    const actions = new Set(all.map((r) => r.action));
    for (const action of [
      'setup',
      'login',
      'logout',
      'user_create',
      'user_update',
      'user_delete',
      'password_change',
      'token_create',
      'token_revoke',
    ])
      assert.ok(actions.has(action), `no ${action} in ${[...actions].join(', ')}`);
    const refused = all.filter((r) => r.status === 409 && r.user_name === 'admin');
    assert.ok(refused.length >= 3, 'refused changes are audited too');
    const logout = all.find((r) => String(r.url).startsWith('/api/logout?'));
    assert.equal(logout?.url, '/api/logout?token=redacted');
  });

  it('serves the audit log to admins, newest first, with filters', async () => {
    const fresh = await login(api.app, 'deputy', 'admin-Pass-1234');
    const all = (await call(api.app, fresh, 'GET', '/api/audit?limit=1000')).json() as {
      total: number;
      entries: { id: number; user: string | null; action: string | null; at: string }[];
    };
    assert.equal(all.entries.length, all.total);
    assert.deepEqual(
      all.entries.map((e) => e.id),
      [...all.entries.map((e) => e.id)].sort((a, b) => b - a),
    );
    const victor = (
      await call(api.app, fresh, 'GET', '/api/audit?user=VICTOR&action=login')
    ).json() as typeof all;
    assert.ok(victor.total >= 3);
    assert.ok(victor.entries.every((e) => e.user === 'victor' && e.action === 'login'));
    const page = (
      await call(api.app, fresh, 'GET', '/api/audit?limit=2&offset=1')
    ).json() as typeof all;
    assert.deepEqual(
      page.entries.map((e) => e.id),
      all.entries.slice(1, 3).map((e) => e.id),
    );
    const middle = all.entries[Math.floor(all.entries.length / 2)];
    assert.ok(middle);
    const since = (
      await call(api.app, fresh, 'GET', `/api/audit?limit=1000&from=${middle.at}`)
    ).json() as typeof all;
    assert.ok(since.entries.every((e) => e.at >= middle.at));
    assert.equal(since.total, all.entries.filter((e) => e.at >= middle.at).length);
    const before = (
      await call(api.app, fresh, 'GET', `/api/audit?limit=1000&to=${middle.at}`)
    ).json() as typeof all;
    assert.equal(before.total + since.total, all.total);
    const bad = await call(api.app, fresh, 'GET', '/api/audit?from=yesterday&limit=0');
    assert.equal(failure(bad).error, 'E_REQUEST_FIELD');
    assert.match(failure(bad).message, /query\.from: /);
  });
});

describe('the API documents itself, behind the login', () => {
  let app: FastifyInstance;
  let admin: Session;
  before(async () => {
    ({ app } = await testApi());
    admin = await setupAdmin(app);
  });
  after(async () => {
    await app.close();
  });

  it('serves OpenAPI 3 with both credentials, the route schemas and who may call what', async () => {
    assert.equal((await call(app, undefined, 'GET', '/api/docs/json')).statusCode, 401);
    assert.equal((await call(app, undefined, 'GET', '/api/docs')).statusCode, 401);
    const res = await call(app, admin, 'GET', '/api/docs/json');
    assert.equal(res.statusCode, 200);
    const doc = res.json() as {
      openapi: string;
      info: { version: string };
      components: { securitySchemes: Record<string, { type: string }> };
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    assert.match(doc.openapi, /^3\./);
    assert.equal(doc.info.version, PACKAGE.version);
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['session', 'token']);
    const createUser = doc.paths['/api/users']?.post;
    assert.ok(createUser, Object.keys(doc.paths).join(', '));
    assert.match(String(createUser.description), /Role: admin\./);
    assert.ok(JSON.stringify(createUser.requestBody).includes('"minLength":10'));
    assert.deepEqual(doc.paths['/api/login']?.post?.security, []);
    assert.equal(doc.paths['/api/status']?.get?.security, undefined, 'the global security holds');
    const ui = await call(app, admin, 'GET', '/api/docs/static/index.html');
    assert.ok([200, 302].includes(ui.statusCode), String(ui.statusCode));
  });

  it('answers errors in one shape and sends security headers', async () => {
    const notFound = await call(app, admin, 'GET', '/api/nothing-here');
    assert.deepEqual(failure(notFound), {
      status: 404,
      error: 'E_NOT_FOUND',
      message: 'no API route GET /api/nothing-here',
    });
    const badJson = await app.inject({
      method: 'POST',
      url: '/api/login',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":',
    });
    assert.deepEqual([badJson.statusCode, failure(badJson).error], [400, 'E_REQUEST']);
    const csp = String(notFound.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /upgrade-insecure-requests/);
    assert.equal(notFound.headers['x-frame-options'], 'DENY');
  });
});
