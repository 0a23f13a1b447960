// SPDX-License-Identifier: GPL-2.0-or-later
// The control-socket client against a scripted peer: answers, refusals, garbage, silence.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSwitchboardError } from '../src/core/errors.ts';
import { controlSocket, SimClient, simRequest } from '../src/sim/client.ts';

/** A control socket that answers each request line with `reply(request)` (undefined: silence). */
function peer(
  dir: string,
  reply: (req: Record<string, unknown>) => string | undefined,
): Promise<Server> {
  const server = createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const answer = reply(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
      if (answer !== undefined) conn.write(answer);
    });
  });
  return new Promise((ok) => server.listen(controlSocket(dir), () => ok(server)));
}

describe('sim client', () => {
  let dir: string;
  let server: Server;
  const seen: Record<string, unknown>[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-client-'));
    server = await peer(dir, (req) => {
      seen.push(req);
      if (req.cmd === 'status')
        return '{"ok":true,"spans":[],"tick":{"realtime":false},"clients":1}\n';
      if (req.cmd === 'uncable')
        return '{"ok":false,"code":"E_SIM_SPAN","error":"span 9 does not exist (spans are 1-4)"}\n';
      if (req.cmd === 'cable') return 'this is not json\n';
      if (req.cmd === 'fault') return '{"ok":false,"code":"E_SOMETHING_NEW","error":"nope"}\n';
      return undefined;
    });
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends one JSON line and returns the answer without `ok`', async () => {
    const status = await new SimClient(dir).status();
    assert.deepEqual(status, { spans: [], tick: { realtime: false }, clients: 1 });
    assert.deepEqual(seen.at(-1), { cmd: 'status' });
  });

  it('turns ok:false into a SwitchboardError with the daemon code and message', async () => {
    await assert.rejects(
      new SimClient(dir).uncable(9),
      (err) =>
        isSwitchboardError(err, 'E_SIM_SPAN') &&
        err.message === 'span 9 does not exist (spans are 1-4)',
    );
    await assert.rejects(new SimClient(dir).fault(1, { fault: 'slip', ppm: 50 }), (err) =>
      isSwitchboardError(err, 'E_SIM'),
    );
    assert.deepEqual(seen.at(-1), { cmd: 'fault', span: 1, fault: 'slip', ppm: 50 });
  });

  it('reports a garbled answer as E_SIM_PROTOCOL', async () => {
    await assert.rejects(new SimClient(dir).cable(1, 2), (err) =>
      isSwitchboardError(err, 'E_SIM_PROTOCOL'),
    );
  });

  it('gives up on a silent simulator with E_SIM_TIMEOUT', async () => {
    await assert.rejects(simRequest(dir, { cmd: 'shutdown' }, 100), (err) =>
      isSwitchboardError(err, 'E_SIM_TIMEOUT'),
    );
  });

  it('reports a missing simulator as E_SIM_NOT_RUNNING, and isUp() as false', async () => {
    const nowhere = join(dir, 'nowhere');
    await assert.rejects(new SimClient(nowhere).status(), (err) =>
      isSwitchboardError(err, 'E_SIM_NOT_RUNNING'),
    );
    assert.equal(await new SimClient(nowhere).isUp(), false);
    assert.equal(await new SimClient(dir).isUp(), true);
  });
});
