// SPDX-License-Identifier: GPL-2.0-or-later
// MQTT requests: parsing, the allow-list, the token and its role, argument checks naming the field, audit, never a throw.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import type { AuditEntry, TokenIdentity } from '../src/api/auth.ts';
import { SwitchboardError } from '../src/core/errors.ts';
import { COMMANDS, type CommandPort, runRequest } from '../src/mqtt/commands.ts';
import { CommandResponse } from '../src/mqtt/schemas.ts';

const TOKENS: Record<string, TokenIdentity> = {
  sbt_viewer: { tokenId: 1, userId: 1, user: 'vera', role: 'viewer' },
  sbt_operator: { tokenId: 2, userId: 2, user: 'otto', role: 'operator' },
  sbt_installer: { tokenId: 3, userId: 3, user: 'ines', role: 'installer' },
};

function harness(overrides: Partial<CommandPort> = {}) {
  const calls: string[] = [];
  const audit: AuditEntry[] = [];
  const internal: unknown[] = [];
  const port: CommandPort = {
    status: () => ({ spans: 2 }),
    maintenance: (op, a) => {
      calls.push(`${op} ${JSON.stringify(a)}`);
    },
    campaign: (name, command) => {
      calls.push(`${command} ${name}`);
    },
    traceStart: (span, max) => {
      calls.push(`traceStart ${span} ${max}`);
    },
    traceStop: (span) => ({ span, frames: 3 }),
    ...overrides,
  };
  const run = (command: string, payload: unknown, userProperties?: Record<string, string>) => {
    const raw = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
    const r = runRequest(command, raw, {
      topic: `switchboard/box/bridge/request/${command}`,
      ...(userProperties ? { userProperties } : {}),
      checkToken: (t) => TOKENS[t],
      port,
      audit: (e) => audit.push(e),
      onInternalError: (err) => internal.push(err),
    });
    assert.ok(Value.Check(CommandResponse, r), JSON.stringify(r));
    return r;
  };
  return { run, calls, audit, internal };
}

describe('mqtt commands', () => {
  it('runs an allowed command with an operator token and echoes the transaction', () => {
    const h = harness();
    const r = h.run('block', {
      trunk: 'pri1',
      channel: 5,
      token: 'sbt_operator',
      transaction: 'abc',
    });
    assert.deepEqual(r, {
      status: 'ok',
      data: { trunk: 'pri1', op: 'block' },
      error: null,
      transaction: 'abc',
    });
    assert.deepEqual(h.calls, ['block {"trunk":"pri1","channel":5}']);
    const n = h.run('campaign_resume', {
      campaign: 'parcels',
      token: 'sbt_operator',
      transaction: 7,
    });
    assert.equal(n.transaction, 7);
    assert.deepEqual(n.data, { campaign: 'parcels', state: 'running' });
  });

  it('takes the token from an MQTT 5 user property, "token" or "authorization: Bearer"', () => {
    const h = harness();
    assert.equal(h.run('status', {}, { token: 'sbt_operator' }).status, 'ok');
    assert.equal(h.run('status', '', { Authorization: 'Bearer sbt_operator' }).status, 'ok');
    assert.equal(
      h.run('status', {}, { authorization: 'Basic sbt_operator' }).error?.code,
      'E_AUTH_REQUIRED',
    );
  });

  it('refuses without a token, with an unknown one, and with a role too weak (traces need installer)', () => {
    const h = harness();
    assert.equal(h.run('block', { trunk: 'pri1' }).error?.code, 'E_AUTH_REQUIRED');
    assert.equal(
      h.run('block', { trunk: 'pri1', token: 'sbt_nobody' }).error?.code,
      'E_AUTH_REQUIRED',
    );
    const weak = h.run('unblock', { trunk: 'pri1', token: 'sbt_viewer' });
    assert.equal(weak.error?.code, 'E_FORBIDDEN');
    assert.match(weak.error?.message ?? '', /needs the operator role; vera's token is viewer/);
    assert.equal(h.run('status', { token: 'sbt_viewer' }).error?.code, 'E_FORBIDDEN');
    assert.equal(
      h.run('trace_start', { span: 1, token: 'sbt_operator' }).error?.code,
      'E_FORBIDDEN',
    );
    assert.equal(h.run('trace_start', { span: 1, token: 'sbt_installer' }).status, 'ok');
    assert.deepEqual(h.calls, ['traceStart 1 undefined']);
  });

  it('answers malformed payloads and unknown commands with an error, never a throw', () => {
    const h = harness();
    const notJson = h.run('block', '{"trunk":');
    assert.equal(notJson.error?.code, 'E_REQUEST');
    assert.equal(notJson.transaction, null);
    for (const p of ['[1,2]', '"text"', '42', 'null'])
      assert.equal(h.run('block', p).error?.code, 'E_REQUEST', p);
    const unknown = h.run('reboot', { token: 'sbt_operator', transaction: 'x' });
    assert.equal(unknown.error?.code, 'E_MQTT_COMMAND_UNKNOWN');
    assert.equal(unknown.transaction, 'x');
    for (const c of Object.keys(COMMANDS))
      assert.match(unknown.error?.message ?? '', new RegExp(c));
    // A transaction that is not a string or number is not echoed.
    assert.equal(
      h.run('status', { token: 'sbt_operator', transaction: { a: 1 } }).transaction,
      null,
    );
    assert.deepEqual(h.calls, []);
  });

  it('names each wrong argument', () => {
    const h = harness();
    const r = h.run('block', { token: 'sbt_operator', channel: 0, extra: true });
    assert.equal(r.error?.code, 'E_REQUEST_FIELD');
    const paths = ((r.error?.details ?? []) as { path: string }[]).map((d) => d.path).sort();
    assert.deepEqual(paths, ['channel', 'extra', 'trunk']);
    const span = h.run('trace_stop', { token: 'sbt_installer', span: 200 });
    assert.equal(span.error?.code, 'E_REQUEST_FIELD');
    assert.match(span.error?.message ?? '', /^span: must be at most 127/);
    assert.deepEqual(h.calls, []);
  });

  it("passes on the switch's own error code, and hides a bug behind E_INTERNAL", () => {
    const h = harness({
      campaign: () => {
        throw new SwitchboardError('E_CAMPAIGN_STATE', 'campaign "parcels" is done');
      },
      traceStop: () => {
        throw new TypeError('undefined is not a function');
      },
    });
    const state = h.run('campaign_pause', { campaign: 'parcels', token: 'sbt_operator' });
    assert.equal(state.error?.code, 'E_CAMPAIGN_STATE');
    const bug = h.run('trace_stop', { span: 1, token: 'sbt_installer' });
    assert.equal(bug.error?.code, 'E_INTERNAL');
    assert.doesNotMatch(bug.error?.message ?? '', /undefined is not/);
    assert.equal(h.internal.length, 1);
  });

  it('audits every authenticated request that changes something, without the token', () => {
    const h = harness();
    h.run('block', { trunk: 'pri1', token: 'sbt_operator' });
    h.run('block', { trunk: 'pri1' });
    h.run('unblock', { trunk: 'pri1', token: 'sbt_viewer' });
    h.run('status', { token: 'sbt_operator' });
    assert.deepEqual(
      h.audit.map((a) => `${a.user} ${a.method} ${a.action} ${a.status} ${a.tokenId}`),
      ['otto MQTT mqtt_block 200 2', 'vera MQTT mqtt_unblock 403 1'],
    );
    assert.equal(h.audit[0]?.url, 'switchboard/box/bridge/request/block');
    assert.deepEqual(h.audit[0]?.detail, { trunk: 'pri1' });
  });
});
