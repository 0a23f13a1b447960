// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit for MQTT against the whole controller: a PRI switch that hairpins the carrier's calls, tokens, outbox ids.

import assert from 'node:assert/strict';
import type { Role } from '../../src/api/types.ts';
import { ADMIN_PASSWORD, type RunningController } from './controller.ts';
import type { Received } from './mqtt.ts';

/**
 * Our side of a PRI pair (span 1, user side): the carrier's calls to 010-6288-xxxx go back out
 * over the same trunk to 6288-xxxx, which the carrier answers; so each call has a start, an
 * answer, an end and one call record.
 */
export function hairpinSwitch(mqtt: Record<string, unknown>): Record<string, unknown> {
  return {
    system: { name: 'MQTT test box', timezone: 'UTC' },
    spans: [{ span: 1, framing: 'ccs', coding: 'hdb3', crc4: true, timing: 1 }],
    trunks: [{ name: 'pri', signalling: 'pri_cpe', span: 1, switchtype: 'euroisdn' }],
    trunkGroups: [{ name: 'g-pri', trunks: ['pri'], hunt: 'sequential' }],
    routes: {
      inbound: [
        {
          name: 'hairpin',
          trunks: ['pri'],
          called: '_0106288XXXX',
          called_manipulation: { strip: 3 },
          destination: { type: 'trunk', route: 'out' },
        },
      ],
      outbound: [{ name: 'out', called: '_X.', trunkGroups: ['g-pri'] }],
    },
    mqtt,
  };
}

/**
 * The carrier on span 2: `total` calls in, two at a time, answered back out after a second; with
 * `total` 0 it only keeps the far end of the PRI link up.
 */
export function hairpinScenario(total: number, seed = 11): Record<string, unknown> {
  return {
    seed,
    trunks: [{ name: 'net', signalling: 'pri_net', span: 2, switchtype: 'euroisdn' }],
    ...(total === 0 ? {} : { inbound: inbound(total) }),
    outbound: {
      mix: { answer: 1 },
      ringSeconds: { min: 0, max: 0 },
      holdSeconds: { min: 1, max: 1 },
    },
  };
}

function inbound(total: number): Record<string, unknown> {
  return {
    trunks: ['net'],
    total,
    concurrent: 2,
    rate: 600,
    arrival: 'uniform',
    holdSeconds: { min: 1, max: 1 },
    called: { order: 'sequence', numbers: ['01062881001', '01062881002'] },
    calling: { order: 'sequence', numbers: ['13912345678'] },
  };
}

/** An API token with `role`, made by the admin from a login session (tokens cannot mint tokens). */
export async function tokenFor(ctl: RunningController, role: Role): Promise<string> {
  const login = await fetch(`${ctl.base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'admin', password: ADMIN_PASSWORD }),
  });
  assert.equal(login.status, 200);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const { csrf } = (await login.json()) as { csrf: string };
  const made = await fetch(`${ctl.base}/api/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf },
    body: JSON.stringify({ name: `mqtt ${role}`, role }),
  });
  assert.equal(made.status, 201);
  return ((await made.json()) as { token: string }).token;
}

/** Messages that come through the outbox (they carry an id). */
export function outboxMessages(messages: Received[], prefix: string): Received[] {
  return messages.filter((m) =>
    /^(channel\/|call\/event$|cdr$)/.test(m.topic.slice(prefix.length)),
  );
}

/**
 * Checks that outbox messages arrived without loss or duplicates: every id between the first
 * and the last received exactly once, and in increasing order. Returns the ids.
 */
export function assertNoLossNoDuplicates(messages: Received[], prefix: string): number[] {
  const ids = outboxMessages(messages, prefix).map((m) => m.json.id as number);
  assert.ok(ids.length > 0, 'no outbox message arrived');
  const unique = new Set(ids);
  const dups = ids.filter((id, i) => ids.indexOf(id) !== i);
  assert.deepEqual(dups, [], 'ids received twice');
  const first = Math.min(...ids);
  const last = Math.max(...ids);
  const missing: number[] = [];
  for (let id = first; id <= last; id++) if (!unique.has(id)) missing.push(id);
  assert.deepEqual(missing, [], `ids missing between ${first} and ${last}`);
  const outOfOrder = ids.filter((id, i) => i > 0 && id < (ids[i - 1] as number));
  assert.deepEqual(outOfOrder, [], 'ids out of order');
  return ids;
}
