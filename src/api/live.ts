// SPDX-License-Identifier: GPL-2.0-or-later
// GET /api/live: the live view (spans, every timeslot, call events) over an authenticated WebSocket.

import type {} from '@fastify/websocket';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { CallSummary } from '../calls/manager.ts';
import type { CallEvent, ChannelStatus, LiveEvents, SpanStatus } from '../controller/live.ts';
import { SwitchboardError } from '../core/errors.ts';
import { ErrorReply } from './error-handler.ts';
import './types.ts';

/** What the plugin reads: the controller's LiveFeed (or a test double of it). */
export interface LiveSource {
  spans(): SpanStatus[];
  channels(): ChannelStatus[];
  on<K extends keyof LiveEvents>(event: K, listener: (...args: LiveEvents[K]) => void): () => void;
}

export interface LivePluginOptions {
  feed: LiveSource;
  /** The calls up now, sent with the first message; default none. */
  calls?: () => CallSummary[];
  /**
   * A client that has this many bytes queued (it reads too slowly) is disconnected with close
   * code 1013; it reconnects and starts again from a fresh view. Default 4 MiB; range 64 KiB..64 MiB.
   */
  maxBufferedBytes?: number;
  /** Changes are gathered this long and sent as one message, ms; default 50, range 0..1000. */
  batchMs?: number;
  /**
   * How often an open socket checks that its session (or token) is still valid, ms; one that
   * ended (logout, timeout, account disabled, token revoked) is closed with 1008. Default
   * 15000; range 100..300000.
   */
  authCheckMs?: number;
}

/** The first message: the whole view. */
export interface LiveSnapshot {
  type: 'snapshot';
  spans: SpanStatus[];
  channels: ChannelStatus[];
  calls: CallSummary[];
}

/** Every later message: what changed since the one before, in the order it happened. */
export interface LiveDelta {
  type: 'delta';
  events: (
    | { kind: 'span'; span: SpanStatus }
    | { kind: 'channel'; channel: ChannelStatus }
    | { kind: 'call'; call: CallEvent }
  )[];
}

export type LiveMessage = LiveSnapshot | LiveDelta;

/** Close codes the UI tells apart (RFC 6455 §7.4: 1013 try again later, 1008 policy violation). */
export const LIVE_CLOSE = { slowClient: 1013, shuttingDown: 1001, sessionEnded: 1008 } as const;

function inRange(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max)
    throw new SwitchboardError(
      'E_CONFIG_FIELD',
      `live.${name}: must be an integer from ${min} to ${max}, not ${v}`,
    );
  return v;
}

/**
 * The Origin a browser sent must be this box: the page that opens the socket was served by us.
 * A WebSocket is not covered by the same-origin policy, and the session cookie goes with it, so
 * without this any web page the installer visits could read the switch's live view.
 * Clients that are not browsers send no Origin and are let through (they hold a session anyway).
 */
export function originAllowed(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  const host = req.headers.host;
  return host !== undefined && url.host.toLowerCase() === host.toLowerCase();
}

export const livePlugin: FastifyPluginAsync<LivePluginOptions> = async (app, opts) => {
  const maxBuffered = inRange(
    'maxBufferedBytes',
    opts.maxBufferedBytes ?? 4 << 20,
    64 << 10,
    64 << 20,
  );
  const batchMs = inRange('batchMs', opts.batchMs ?? 50, 0, 1000);
  const authCheckMs = inRange('authCheckMs', opts.authCheckMs ?? 15000, 100, 300000);
  const sockets = new Set<WebSocket>();

  app.addHook('onClose', async () => {
    for (const s of sockets) s.close(LIVE_CLOSE.shuttingDown, 'controller stopping');
  });

  app.route({
    method: 'GET',
    url: '/api/live',
    config: { role: 'viewer' },
    schema: {
      summary:
        'The live view over a WebSocket: the whole view first, then every span, timeslot and call change',
      description:
        'Connect with `Upgrade: websocket` and the session cookie (or an API token). The first ' +
        'message is `{type: "snapshot", spans, channels, calls}`, every later one `{type: "delta", ' +
        'events: [{kind: "span"|"channel"|"call", ...}]}`. A browser must connect from a page of ' +
        'this box (Origin); a client that falls behind is closed with 1013 and should reconnect.',
      tags: ['live'],
      response: { '4xx': ErrorReply },
    },
    preHandler: async (req) => {
      if (!originAllowed(req))
        throw new SwitchboardError(
          'E_ORIGIN_REFUSED',
          `the live view opens only from a page of this box; Origin ${String(req.headers.origin)} is not ${String(req.headers.host)}`,
        );
    },
    handler: async () => {
      throw new SwitchboardError(
        'E_REQUEST',
        'GET /api/live is a WebSocket: connect with the Upgrade: websocket header',
      );
    },
    wsHandler: (socket: WebSocket, req) => {
      sockets.add(socket);
      const log = req.log.child({ live: req.id, user: req.user?.name });
      let pending: LiveDelta['events'] = [];
      let timer: NodeJS.Timeout | undefined;
      const flush = () => {
        timer = undefined;
        if (pending.length === 0 || socket.readyState !== socket.OPEN) return;
        if (socket.bufferedAmount > maxBuffered) {
          log.warn({ buffered: socket.bufferedAmount }, 'live client too slow: disconnected');
          socket.close(LIVE_CLOSE.slowClient, 'too slow: reconnect for a fresh view');
          return;
        }
        const message: LiveDelta = { type: 'delta', events: pending };
        pending = [];
        socket.send(JSON.stringify(message));
      };
      const queue = (e: LiveDelta['events'][number]) => {
        pending.push(e);
        if (timer === undefined) timer = setTimeout(flush, batchMs);
      };
      const off = [
        opts.feed.on('span', (span) => queue({ kind: 'span', span })),
        opts.feed.on('channel', (channel) => queue({ kind: 'channel', channel })),
        opts.feed.on('call', (call) => queue({ kind: 'call', call })),
      ];
      const snapshot: LiveSnapshot = {
        type: 'snapshot',
        spans: opts.feed.spans(),
        channels: opts.feed.channels(),
        calls: opts.calls?.() ?? [],
      };
      socket.send(JSON.stringify(snapshot));
      const check = setInterval(() => {
        if (app.stillAuthenticated(req)) return;
        log.info('live socket closed: its session has ended');
        socket.close(LIVE_CLOSE.sessionEnded, 'the session has ended: log in again');
      }, authCheckMs);
      check.unref();
      // The browser sends nothing; anything it does send is ignored (maxPayload bounds it).
      socket.on('close', () => {
        clearInterval(check);
        for (const o of off) o();
        if (timer !== undefined) clearTimeout(timer);
        sockets.delete(socket);
      });
      socket.on('error', (err) => log.debug({ err }, 'live socket error'));
    },
  });
};
