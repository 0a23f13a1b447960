// SPDX-License-Identifier: GPL-2.0-or-later
// The carrier's callees on real cables: our answering-machine detection hears a person or a machine, and a person's confirm key comes after our prompt.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readCarrierLog } from '../src/carrier/carrier.ts';
import { renderTts } from '../src/media/tts.ts';
import {
  CARRIER_BOARD,
  CARRIER_SYSTEM_CONF,
  CARRIER_TRUNKS,
  callees,
  type OurSide,
  type RunningCarrier,
  startCarrier,
  startOurSide,
  trunkUp,
} from './helpers/carrier.ts';
import { eventually, type TestSim, withConfiguredSim } from './helpers/dahdi.ts';
import type { Line } from './helpers/engine.ts';

const HUMAN = '62881111';
const MACHINE = '62882222';

/** Places a call from our side and waits for its answer; the call id. */
async function answeredCall(ours: OurSide, trunk: string, called: string): Promise<number> {
  const { call } = await ours.host.command({ op: 'place', trunk, called, calling: '01062881000' });
  const first = await ours.host.waitEvent(
    (e) => (e.event === 'answered' || e.event === 'released') && e.call === call,
    60_000,
  );
  assert.equal(first.event, 'answered', `${trunk} ${called}: ${JSON.stringify(first)}`);
  return call as number;
}

/** Where an event is in our side's lines (events arrive in order). */
function position(ours: OurSide, pred: (e: Line) => boolean): number {
  return ours.host.lines.findIndex((l) => typeof l.event === 'string' && pred(l));
}

describe('the carrier answers as people and machines do', () => {
  let sim: TestSim;
  let ours: OurSide;
  let carrier: RunningCarrier;
  let logFile: string;
  let prompt: string;
  before(async () => {
    sim = await withConfiguredSim(CARRIER_BOARD, CARRIER_SYSTEM_CONF);
    ours = await startOurSide(sim);
    ours.answering = false;
    // What a switch's dialer does on each answered call: listen for a machine and for keys.
    ours.detect = { dtmf: true, amd: true };
    // The broadcast's prompt, about 2.5 s: the person presses # 6 s after answering, after it.
    prompt = (
      await renderTts('This is a message from your bank. Press hash to confirm.', {
        cacheDir: join(sim.dir, 'prompts'),
      })
    ).path;
    logFile = join(sim.dir, 'carrier.jsonl');
    carrier = await startCarrier(
      sim,
      {
        seed: 3,
        trunks: CARRIER_TRUNKS,
        outbound: {
          // Anything not listed is refused: the rules decide who answers.
          mix: { congestion: 1 },
          numbers: callees([
            {
              number: HUMAN,
              answeredBy: 'human',
              digits: [{ afterSeconds: 6, press: '#' }],
            },
            { number: MACHINE, answeredBy: 'machine' },
          ]),
        },
      },
      { logFile },
    );
    await trunkUp(ours, 'pri');
    await trunkUp(ours, 'r2');
  });
  after(async () => {
    await carrier?.stop();
    await ours?.host.stop();
    await sim?.stop();
  });

  for (const trunk of ['pri', 'r2'])
    test(`${trunk}: a person is human to our AMD and presses # after our prompt; a machine is machine`, async () => {
      const before = carrier.records().length;

      const person = await answeredCall(ours, trunk, HUMAN);
      const played = await ours.host.command({ op: 'play', call: person, files: [prompt] });
      const heard = await eventually(
        async () => ours.amd(person) !== undefined && ours.dtmf(person) === '#',
        30_000,
      );
      assert.ok(heard, `amd ${ours.amd(person)}, digits "${ours.dtmf(person)}"`);
      assert.equal(ours.amd(person), 'human HUMAN');
      // Our prompt played out in full before the confirm key came.
      const promptDone = position(
        ours,
        (e) => e.event === 'playDone' && e.play === played.play && e.reason === 'done',
      );
      const key = position(ours, (e) => e.event === 'dtmf' && e.call === person);
      assert.ok(promptDone >= 0 && promptDone < key, `prompt end at ${promptDone}, # at ${key}`);
      await ours.host.command({ op: 'release', call: person, cause: 16 });

      const machine = await answeredCall(ours, trunk, MACHINE);
      const judged = await eventually(async () => ours.amd(machine) !== undefined, 30_000);
      assert.ok(judged, 'an AMD verdict on the machine');
      assert.match(ours.amd(machine) ?? '', /^machine (LONGGREETING|MAXWORDS)$/);
      // A dialer that heard a machine hangs up in the middle of the greeting.
      await ours.host.command({ op: 'release', call: machine, cause: 16 });

      const logged = await eventually(async () => carrier.records().length === before + 2, 20_000);
      assert.ok(logged, JSON.stringify(carrier.records().slice(before)));
      const far = trunk === 'pri' ? 'net' : 'cn';
      assert.deepEqual(
        carrier
          .records()
          .slice(before)
          .map((r) => [
            r.trunk,
            r.called,
            r.rule,
            r.planned,
            r.answeredBy,
            r.outcome,
            r.digits,
            r.cause,
            r.releasedBy,
            r.greeting?.text === undefined ? undefined : r.greeting.text !== null,
            r.greeting?.beep,
            r.greeting?.complete,
          ]),
        [
          [far, HUMAN, HUMAN, 'answer', 'human', 'answer', '#', 16, 'switch', true, false, true],
          [
            far,
            MACHINE,
            MACHINE,
            'answer',
            'machine',
            'answer',
            '',
            16,
            'switch',
            true,
            true,
            false,
          ],
        ],
      );
      const [, machineRecord] = carrier.records().slice(before);
      assert.ok((machineRecord?.greeting?.playedMs ?? 0) > 0, 'part of the greeting went out');
      // The log file has the same lines as the carrier's stdout.
      assert.deepEqual(readCarrierLog(logFile), carrier.records());
    });
});
