// SPDX-License-Identifier: GPL-2.0-or-later
// The real flow services on a box: prompt checks over a prompt directory, recording and voicemail files, configuration lookups.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { SwitchConfig } from '../src/config/schema.ts';
import { flowServices, promptExistsIn } from '../src/ivr/services.ts';

const dir = mkdtempSync(join(tmpdir(), 'ivr-services-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function touch(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, '');
}

describe('flow services', () => {
  it('finds prompts in the language set or the en fallback, and never outside the directory', () => {
    const root = join(dir, 'prompts');
    touch(join(root, 'en', 'welcome.wav'));
    touch(join(root, 'zh', 'ivr', 'menu.wav'));
    touch(join(dir, 'secret.wav'));
    const exists = promptExistsIn(root);
    assert.equal(exists('welcome', 'zh'), true);
    assert.equal(exists('welcome.wav', 'en'), true);
    assert.equal(exists('ivr/menu', 'zh'), true);
    assert.equal(exists('ivr/menu', 'en'), false);
    assert.equal(exists('../secret', 'en'), false);
    assert.equal(exists('nothing', 'en'), false);
  });

  it('names recording and voicemail files in their directories, keeps the message beside its file, reads the configuration', async () => {
    const config: SwitchConfig = {
      system: { timezone: 'Asia/Shanghai' },
      timeConditions: [{ name: 'office', hours: [{ days: ['mon'], from: '09:00', to: '18:00' }] }],
    };
    const s = flowServices({
      promptRoot: join(dir, 'prompts'),
      ttsCacheDir: join(dir, 'tts'),
      recordingDir: join(dir, 'rec'),
      voicemailDir: join(dir, 'vm'),
      config: () => config,
      transfer: async () => ({ result: 'failed' }),
      queue: async () => ({ result: 'failed' }),
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      clock: { now: () => new Date(1000), setTimer: () => 0, clearTimer: () => undefined },
    });
    const rec = await s.recordingFile({ callId: 'b-1', flow: 'hotline', node: 'note' });
    assert.equal(rec, join(dir, 'rec', 'b-1-note-1000.wav'));
    assert.ok(statSync(join(dir, 'rec')).isDirectory());
    const vm = await s.voicemailFile({ callId: 'b-1', mailbox: 'sales' });
    assert.equal(vm, join(dir, 'vm', 'sales', 'b-1-1000.wav'));
    const msg = {
      mailbox: 'sales',
      file: vm,
      ms: 4200,
      callId: 'b-1',
      calling: '139',
      called: '95588',
      flow: 'hotline',
      at: '2024-03-04T02:00:00.000Z',
    };
    await s.storeVoicemail(msg);
    assert.deepEqual(JSON.parse(readFileSync(vm.replace(/\.wav$/, '.json'), 'utf8')), msg);
    assert.equal(s.timeCondition('office')?.name, 'office');
    assert.equal(s.timeCondition('weekend'), undefined);
    assert.equal(s.timezone(), 'Asia/Shanghai');
  });
});
