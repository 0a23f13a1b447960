// SPDX-License-Identifier: GPL-2.0-or-later
// The embedded MQTT broker (aedes, in-process): clients log in with an API token, viewers read, operators send requests.

import { createServer, type Server } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { type Role, roleAtLeast } from '../api/types.ts';
import { SwitchboardError } from '../core/errors.ts';
import type { TopicTree } from './topics.ts';
import type { IncomingRequest, PublishOptions, Transport, TransportEvents } from './transport.ts';

/** Who a client logged in as (the API token given as its password). */
export interface BrokerIdentity {
  user: string;
  role: Role;
  tokenId: number;
}

export interface EmbeddedBrokerOptions {
  /** TCP port (0: any free port); the bound one is in `port` once started. */
  port: number;
  host: string;
  topics: TopicTree;
  /** Checks an API token (the password a client logs in with). */
  checkToken: (token: string) => BrokerIdentity | undefined;
  events: TransportEvents;
  /** Told about every client refused at login, publish or subscribe, for the log. */
  onRefused?: (what: string, client: string) => void;
}

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/**
 * The broker of a box with no NOC broker configured. There is no default password: a client
 * logs in with an API token of the box as its password (any user name). Every role may subscribe
 * to topics under <base>/; operators (and above) may publish, and only to
 * <base>/<node>/bridge/request/<command>, never retained; request payloads (they carry tokens)
 * are never forwarded to any client. Only the controller itself publishes state topics. A client
 * that publishes where it may not is disconnected (MQTT 3.1.1 has no way to refuse one publish).
 * State lives in memory: retained topics go with the process, and the controller republishes them
 * when it starts.
 */
export class EmbeddedBroker implements Transport {
  readonly kind = 'embedded' as const;
  readonly connected = true;
  readonly #opts: EmbeddedBrokerOptions;
  readonly #clients = new WeakMap<Client, BrokerIdentity>();
  #aedes?: Aedes;
  #server?: Server;
  #port = 0;

  constructor(opts: EmbeddedBrokerOptions) {
    this.#opts = opts;
  }

  /** The bound TCP port (after start). */
  get port(): number {
    return this.#port;
  }

  get where(): string {
    return `${this.#opts.host}:${this.#port || this.#opts.port}`;
  }

  /** Connected MQTT clients. */
  get clients(): number {
    return this.#aedes?.connectedClients ?? 0;
  }

  async start(): Promise<void> {
    const { topics, checkToken } = this.#opts;
    const refused = (what: string, client: Client | null) =>
      this.#opts.onRefused?.(what, client?.id ?? '?');
    const aedes = await Aedes.createBroker({
      // A subscriber that stops reading is cut off rather than stalling everyone else.
      drainTimeout: 10_000,
      heartbeatInterval: 60_000,
      maxClientsIdLength: 64,
      authenticate: (client, _user, password, done) => {
        const token = password?.toString('utf8') ?? '';
        const who = token === '' ? undefined : checkToken(token);
        if (who === undefined) {
          refused('login without a valid API token as password', client);
          done(authError('log in with an API token of the box as the password', 4), false);
          return;
        }
        this.#clients.set(client, who);
        done(null, true);
      },
      authorizePublish: (client, packet, done) => {
        if (client === null) return done(null);
        const who = this.#clients.get(client);
        let why: string | undefined;
        if (who === undefined) why = 'not logged in';
        else if (!topics.isRequest(packet.topic))
          why = `publish to ${packet.topic}: clients publish only requests (${topics.prefix}bridge/request/<command>)`;
        else if (!roleAtLeast(who.role, 'operator'))
          why = `publish to ${packet.topic}: ${who.user}'s token is ${who.role}; requests need operator`;
        else if (packet.retain) why = `publish to ${packet.topic}: a request must not be retained`;
        if (why === undefined) return done(null);
        refused(why, client);
        done(new Error(why));
      },
      authorizeSubscribe: (client, sub, done) => {
        if (!this.#clients.has(client) || !sub.topic.startsWith(`${topics.base}/`)) {
          refused(`subscribe to ${sub.topic}: only topics under ${topics.base}/`, client);
          return done(null, null);
        }
        done(null, sub);
      },
      // Requests carry API tokens: nobody but the controller reads them.
      authorizeForward: (_client, packet) => (topics.isRequest(packet.topic) ? null : packet),
    });
    this.#aedes = aedes;
    await new Promise<void>((resolve, reject) => {
      aedes.subscribe(
        topics.requests,
        (packet, cb) => {
          const req: IncomingRequest = {
            topic: packet.topic,
            payload: Buffer.isBuffer(packet.payload)
              ? packet.payload
              : Buffer.from(packet.payload ?? ''),
          };
          try {
            this.#opts.events.request(req);
          } finally {
            cb();
          }
        },
        () => resolve(),
      );
      setTimeout(() => reject(new Error('aedes did not subscribe')), 5000).unref();
    });
    const server = createServer(aedes.handle);
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const why =
          err.code === 'EADDRINUSE'
            ? 'the port is in use (another broker, or another controller)'
            : err.code === 'EACCES'
              ? 'not allowed to bind it'
              : err.message;
        reject(
          new SwitchboardError(
            'E_MQTT',
            `the embedded MQTT broker cannot listen on ${this.#opts.host}:${this.#opts.port}: ${why} (${err.code ?? 'error'})`,
            { cause: err },
          ),
        );
      });
      server.listen(this.#opts.port, this.#opts.host, () => resolve());
    }).catch(async (err) => {
      await new Promise<void>((r) => aedes.close(() => r()));
      throw err;
    });
    const address = server.address();
    this.#port = typeof address === 'object' && address !== null ? address.port : this.#opts.port;
    this.#opts.events.connected();
  }

  publish(topic: string, payload: string, opts: PublishOptions, done: (err?: Error) => void): void {
    const aedes = this.#aedes;
    if (aedes === undefined || aedes.closed) {
      done(new Error('the embedded broker is not running'));
      return;
    }
    aedes.publish(
      {
        cmd: 'publish',
        topic,
        payload: Buffer.from(payload),
        qos: opts.qos,
        retain: opts.retain === true,
        dup: false,
      },
      (err) => done(err ?? undefined),
    );
  }

  async stop(last?: { topic: string; payload: string }): Promise<void> {
    const aedes = this.#aedes;
    if (aedes === undefined) return;
    if (last && !aedes.closed)
      await new Promise<void>((r) =>
        this.publish(last.topic, last.payload, { qos: 1, retain: true }, () => r()),
      );
    await new Promise<void>((r) => {
      if (this.#server?.listening) this.#server.close(() => r());
      else r();
      // Connected clients keep the server open until they are gone: aedes.close ends them.
      aedes.close();
    });
    this.#aedes = undefined;
  }
}
