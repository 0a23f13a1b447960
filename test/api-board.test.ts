// SPDX-License-Identifier: GPL-2.0-or-later
// GET /api/board and GET /api/system/health for a viewer: the shapes served, the MCU absent, the API document.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type BoardView, boardPlugin } from '../src/api/board.ts';
import { healthPlugin } from '../src/api/health.ts';
import { apiPlugin, PACKAGE } from '../src/api/server.ts';
import { loadBoardModel, modelSpans } from '../src/board/model.ts';
import { readHealth } from '../src/system/health.ts';
import {
  call,
  type Session,
  setupAdmin,
  type TestApi,
  testApi,
  tokenWithRole,
} from './helpers/api.ts';

describe('board and health API', () => {
  let api: TestApi;
  let admin: Session;
  let viewer: string;
  let view: BoardView;
  let healthReads = 0;

  before(async () => {
    const m = loadBoardModel('sb-16e1-8a');
    view = {
      model: {
        id: m.id,
        name: m.name,
        simulated: m.simulated,
        cards: m.cards,
        spans: modelSpans(m),
        controller: m.controller,
      },
      mcu: null,
      note: 'no serial device for the board MCU',
      mismatches: ['span 17 (analog) is missing'],
    };
    api = await testApi((db) => [
      apiPlugin(healthPlugin, {
        db,
        version: PACKAGE.version,
        health: () => {
          healthReads += 1;
          return readHealth();
        },
      }),
      apiPlugin(boardPlugin, { board: () => view }),
    ]);
    admin = await setupAdmin(api.app);
    viewer = (await tokenWithRole(api.app, admin, 'viewer')).token;
  });
  after(async () => {
    await api.app.close();
  });

  it('serves the board model and a missing MCU to a viewer', async () => {
    const res = await call(api.app, viewer, 'GET', '/api/board');
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.model.id, 'sb-16e1-8a');
    assert.equal(body.model.spans.length, 17);
    assert.deepEqual(body.model.spans[16], {
      span: 17,
      slot: 5,
      type: 'analog',
      channels: 8,
      basechan: 497,
      ports: ['fxs', 'fxs', 'fxs', 'fxs', 'fxo', 'fxo', 'fxo', 'fxo'],
    });
    assert.equal(body.model.controller.device, '/dev/ttyS1');
    assert.equal(body.mcu, null);
    assert.equal(body.note, 'no serial device for the board MCU');
    assert.deepEqual(body.mismatches, ['span 17 (analog) is missing']);
    assert.equal((await call(api.app, undefined, 'GET', '/api/board')).statusCode, 401);
  });

  it("serves the box's health to a viewer, read afresh each time", async () => {
    const res = await call(api.app, viewer, 'GET', '/api/system/health');
    assert.equal(res.statusCode, 200, res.body);
    const h = res.json();
    assert.ok(h.cpu.cores >= 1);
    assert.ok(h.memory.totalBytes >= h.memory.availableBytes);
    assert.ok(h.memory.processRssBytes > 0);
    assert.ok(Array.isArray(h.disks));
    assert.ok(h.temperatures.cpuC === null || typeof h.temperatures.cpuC === 'number');
    await call(api.app, viewer, 'GET', '/api/system/health');
    assert.equal(healthReads, 2);
  });

  it('documents both routes in the API document', async () => {
    const res = await call(api.app, admin, 'GET', '/api/docs/json');
    assert.equal(res.statusCode, 200);
    const paths = res.json().paths;
    assert.ok(paths['/api/board']?.get);
    assert.ok(paths['/api/system/health']?.get);
  });
});
