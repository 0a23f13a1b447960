// SPDX-License-Identifier: GPL-2.0-or-later
// Outcome classification of dialled calls and the result list each finished contact lands in.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  classify,
  OUTCOME_TABLE,
  OUTCOMES,
  type PortResult,
  RESULTS,
  resultOf,
  retryKeyOf,
} from '../src/dialer/outcome.ts';
import { campaignSettings, RETRY_OUTCOMES } from '../src/dialer/schema.ts';

const base = {
  name: 'c',
  flow: 'f',
  timezone: 'UTC',
  windows: [{ days: ['mon' as const], from: '09:00', to: '17:00' }],
};

describe('outcome classification', () => {
  it('one row per case: answer, AMD, tones, then the Q.850 cause', () => {
    const table: [PortResult, string][] = [
      [{ answered: true, cause: 16 }, 'human'],
      [{ answered: true, cause: 16, amd: 'human' }, 'human'],
      [{ answered: true, cause: 16, amd: 'notsure' }, 'human'],
      [{ answered: true, cause: 16, amd: 'machine' }, 'machine'],
      [{ answered: true, cause: 16, amd: 'machine', abandoned: true }, 'abandoned'],
      [{ answered: true, cause: 16, abandoned: true }, 'abandoned'],
      [{ answered: false, cause: 17 }, 'busy'],
      [{ answered: false, cause: 16, tones: ['busy'] }, 'busy'],
      [{ answered: false, cause: 18 }, 'no_answer'],
      [{ answered: false, cause: 19 }, 'no_answer'],
      [{ answered: false, cause: 20 }, 'no_answer'],
      [{ answered: false, cause: 27 }, 'no_answer'],
      [{ answered: false, cause: 16 }, 'no_answer'],
      [{ answered: false, cause: 1 }, 'invalid_number'],
      [{ answered: false, cause: 3 }, 'invalid_number'],
      [{ answered: false, cause: 22 }, 'invalid_number'],
      [{ answered: false, cause: 28 }, 'invalid_number'],
      [{ answered: false, cause: 31, tones: ['SIT'] }, 'invalid_number'],
      [{ answered: false, cause: 34 }, 'congestion'],
      [{ answered: false, cause: 42 }, 'congestion'],
      [{ answered: false, cause: 102 }, 'congestion'],
      [{ answered: false, cause: 16, tones: ['congestion'] }, 'congestion'],
      [{ answered: false, cause: 21 }, 'refused'],
      [{ answered: false, cause: 52 }, 'failed'],
      [{ answered: false, cause: 111 }, 'failed'],
    ];
    for (const [r, want] of table) assert.equal(classify(r).outcome, want, JSON.stringify(r));
    assert.equal(classify({ answered: false, cause: 17 }).reason, 'cause USER_BUSY (17)');
    assert.equal(classify({ answered: false, cause: 9 }).reason, 'cause CAUSE_9 (9)');
  });

  it('the outcome table covers every outcome and retries only by keys the schema has', () => {
    assert.deepEqual(Object.keys(OUTCOME_TABLE).sort(), [...OUTCOMES].sort());
    for (const o of OUTCOMES) {
      const rule = OUTCOME_TABLE[o];
      if (rule.retry) assert.ok((RETRY_OUTCOMES as readonly string[]).includes(rule.retry), o);
      assert.ok(
        rule.result === 'answered' || (RESULTS as readonly string[]).includes(rule.result),
        o,
      );
    }
  });
});

describe('result lists', () => {
  const broadcast = campaignSettings({
    ...base,
    mode: 'broadcast',
    confirmKeys: '1#',
    wrongNumberKeys: '9',
  });
  const human = (extra: Partial<PortResult> = {}): PortResult => ({
    answered: true,
    cause: 16,
    ...extra,
  });

  it('broadcast: the flow verdict, else the first key', () => {
    const table: [PortResult, string][] = [
      [human({ keypress: '#' }), 'success'],
      [human({ keypress: '1' }), 'success'],
      [human({ keypress: '1234#' }), 'success'],
      [human({ keypress: '2' }), 'refused'],
      [human({ keypress: '9' }), 'wrong_number'],
      [human(), 'refused'],
      [human({ result: 'notified' }), 'notified'],
      [human({ keypress: '2', result: 'success' }), 'success'],
    ];
    for (const [r, want] of table)
      assert.equal(resultOf(broadcast, 'human', r), want, JSON.stringify(r));
  });

  it('unanswered and failed outcomes land in their lists; machines per onMachine', () => {
    assert.equal(
      resultOf(broadcast, 'invalid_number', { answered: false, cause: 1 }),
      'wrong_number',
    );
    assert.equal(resultOf(broadcast, 'refused', { answered: false, cause: 21 }), 'refused');
    assert.equal(resultOf(broadcast, 'busy', { answered: false, cause: 17 }), 'failed');
    assert.equal(resultOf(broadcast, 'machine', human({ amd: 'machine' })), 'failed');
    assert.equal(retryKeyOf(broadcast, 'machine'), 'machine');
    const message = campaignSettings({
      ...base,
      mode: 'broadcast',
      amd: { enabled: true, onMachine: 'message' },
    });
    assert.equal(resultOf(message, 'machine', human({ amd: 'machine' })), 'notified');
    assert.equal(
      retryKeyOf(message, 'machine'),
      undefined,
      'a machine given the message is finished',
    );
    assert.equal(retryKeyOf(broadcast, 'human'), undefined);
  });

  it('agent modes: the agent verdict, else notified; abandoned is failed', () => {
    const sales = campaignSettings({ ...base, mode: 'predictive', agentGroup: 'sales' });
    assert.equal(resultOf(sales, 'human', human()), 'notified');
    assert.equal(resultOf(sales, 'human', human({ result: 'success', agent: '201' })), 'success');
    assert.equal(resultOf(sales, 'abandoned', human({ abandoned: true })), 'failed');
  });
});
