// SPDX-License-Identifier: GPL-2.0-or-later
// GET /api/board: the board model (cards, span numbering) and the board MCU's state (LEDs, LCD, relay, watchdog).

import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { BoardControllerState } from '../board/controller.ts';
import { BoardMcu, Card } from '../board/model.ts';
import { ErrorReply } from './error-handler.ts';
import './types.ts';

const ModelSpanView = Type.Object({
  span: Type.Integer(),
  slot: Type.Integer({ description: 'the card carrying the span' }),
  port: Type.Optional(Type.Integer({ description: 'e1t1 cards: the port' })),
  type: Type.Union([Type.Literal('E1'), Type.Literal('T1'), Type.Literal('analog')]),
  channels: Type.Integer(),
  basechan: Type.Integer({ description: "DAHDI channel number of the span's first channel" }),
  name: Type.Optional(Type.String()),
  ports: Type.Optional(Type.Array(Type.Union([Type.Literal('fxs'), Type.Literal('fxo')]))),
});

export const BoardView = Type.Object({
  model: Type.Object({
    id: Type.String(),
    name: Type.String(),
    description: Type.Optional(Type.String()),
    simulated: Type.Boolean(),
    cards: Type.Array(Card),
    spans: Type.Array(ModelSpanView),
    controller: BoardMcu,
  }),
  mcu: Type.Union([BoardControllerState, Type.Null()], {
    description: 'the board controller; null when it does not run (see note)',
  }),
  note: Type.Optional(
    Type.String({ description: 'why no board controller runs (no serial device configured)' }),
  ),
  mismatches: Type.Array(Type.String(), {
    description:
      'where the spans DAHDI reports now differ from the model (a card missing, unseated or of another kind: "span 3 (E1) is missing"); empty when they agree',
  }),
});
export type BoardView = Static<typeof BoardView>;

export const boardPlugin: FastifyPluginAsync<{ board: () => BoardView }> = async (app, opts) => {
  app.get(
    '/api/board',
    {
      config: { role: 'viewer' },
      schema: {
        summary:
          'The board model (line cards, span numbering, MCU serial line) and the board MCU: link, span LEDs, LCD, bypass relay, watchdog, counters',
        tags: ['board'],
        response: { 200: BoardView, '4xx': ErrorReply },
      },
    },
    async () => opts.board(),
  );
};
