// SPDX-License-Identifier: GPL-2.0-or-later
// The client of the NOC's broker: MQTT 5 (mqtt.js), TLS, user/password or client certificate, reconnecting with backoff.

import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { SwitchboardError } from '../core/errors.ts';
import type { MqttSettings } from './config.ts';
import {
  type PublishOptions,
  RefusedPublish,
  type Transport,
  type TransportEvents,
} from './transport.ts';

export interface NocClientOptions {
  settings: MqttSettings;
  /** The full topic of bridge/state (the last will goes there). */
  stateTopic: string;
  /** The request topic filter subscribed to. */
  requestTopics: string;
  events: TransportEvents;
  /** Told about connection failures, worded for the installer, with the wait before the next try. */
  onFailure?: (reason: string, retryInS: number) => void;
}

function readFile(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new SwitchboardError(
      'E_MQTT',
      `mqtt.${field}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      { cause: err },
    );
  }
}

/** A connection failure in installer words. */
export function failureReason(err: Error & { code?: unknown }): string {
  const code = err.code;
  if (code === 'ECONNREFUSED') return 'nothing answers on that port (connection refused)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the host name does not resolve';
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH')
    return `the broker is unreachable (${code})`;
  if (code === 134 || code === 4) return 'the broker refused the user name or password';
  if (code === 135 || code === 5) return 'the broker refused us: not authorised';
  if (typeof code === 'string' && /CERT|SSL|TLS/.test(code)) return `TLS: ${err.message} (${code})`;
  return err.message;
}

/**
 * The bridge's connection to the NOC broker. Connects with protocol version 5 and a clean start
 * (requests sent while the box was away are not run late), sets bridge/state "offline" (retained)
 * as its last will, subscribes to the requests on every connect, and reconnects after a lost
 * connection, waiting reconnect.minSeconds first and twice as long after each failed try, up to
 * reconnect.maxSeconds. The password file is read again before each try.
 */
export class NocClient implements Transport {
  readonly kind = 'noc' as const;
  readonly #opts: NocClientOptions;
  #client?: MqttClient;
  #waitMs: number;
  #wasConnected = false;
  /** Tries that failed since the last connection. */
  #failedTries = 0;
  #lastError?: Error;

  constructor(opts: NocClientOptions) {
    this.#opts = opts;
    this.#waitMs = opts.settings.reconnect.minSeconds * 1000;
  }

  get where(): string {
    return this.#opts.settings.broker?.url ?? '';
  }

  get connected(): boolean {
    return this.#client?.connected === true;
  }

  #connectOptions(): IClientOptions {
    const s = this.#opts.settings;
    const options: IClientOptions = {
      protocolVersion: 5,
      clientId: s.clientId,
      clean: true,
      keepalive: s.keepaliveSeconds,
      connectTimeout: 10_000,
      reconnectPeriod: this.#waitMs,
      resubscribe: false,
      queueQoSZero: false,
      will: {
        topic: this.#opts.stateTopic,
        payload: Buffer.from(JSON.stringify({ state: 'offline' })),
        qos: 1,
        retain: true,
      },
    };
    if (s.username !== undefined) options.username = s.username;
    if (s.passwordFile !== undefined)
      options.password = readFile(s.passwordFile, 'passwordFile').toString('utf8').trim();
    if (s.broker?.tls) {
      options.rejectUnauthorized = true;
      if (s.tls.ca) options.ca = readFile(s.tls.ca, 'tls.ca');
      if (s.tls.cert) options.cert = readFile(s.tls.cert, 'tls.cert');
      if (s.tls.key) options.key = readFile(s.tls.key, 'tls.key');
      if (s.tls.serverName) options.servername = s.tls.serverName;
    }
    return options;
  }

  /** Starts connecting; resolves at once (the first connection may take a while, or never come). */
  async start(): Promise<void> {
    const s = this.#opts.settings;
    const url = s.broker?.url;
    if (url === undefined) throw new SwitchboardError('E_MQTT', 'no NOC broker is configured');
    const client = mqtt.connect(url, this.#connectOptions());
    this.#client = client;
    client.on('connect', () => {
      this.#wasConnected = true;
      this.#lastError = undefined;
      this.#waitMs = s.reconnect.minSeconds * 1000;
      client.subscribe(this.#opts.requestTopics, { qos: 1 }, (err) => {
        if (err) this.#opts.onFailure?.(`cannot subscribe to the requests: ${err.message}`, 0);
      });
      this.#opts.events.connected();
    });
    client.on('message', (topic, payload, packet) => {
      const props = packet.properties;
      this.#opts.events.request({
        topic,
        payload,
        ...(props?.userProperties ? { userProperties: props.userProperties } : {}),
        ...(props?.correlationData ? { correlationData: props.correlationData } : {}),
      });
    });
    client.on('error', (err) => {
      this.#lastError = err;
    });
    // Before mqtt.js's own handler, which arms the next try with options.reconnectPeriod.
    client.prependListener('close', () => {
      const reason = this.#lastError ? failureReason(this.#lastError) : 'the connection was closed';
      if (this.#wasConnected) {
        this.#wasConnected = false;
        this.#failedTries = 1;
        this.#waitMs = s.reconnect.minSeconds * 1000;
        this.#opts.events.disconnected(reason);
      } else {
        // The first try at start waits minSeconds; each failed one after doubles the wait.
        if (this.#failedTries++ > 0)
          this.#waitMs = Math.min(this.#waitMs * 2, s.reconnect.maxSeconds * 1000);
        this.#opts.onFailure?.(reason, this.#waitMs / 1000);
      }
      this.#lastError = undefined;
      client.options.reconnectPeriod = this.#waitMs;
      // The password may have been changed on the box meanwhile.
      if (s.passwordFile !== undefined)
        try {
          client.options.password = readFile(s.passwordFile, 'passwordFile')
            .toString('utf8')
            .trim();
        } catch (err) {
          this.#opts.onFailure?.((err as Error).message, this.#waitMs / 1000);
        }
    });
  }

  publish(
    topic: string,
    payload: string,
    opts: PublishOptions & { correlationData?: Buffer },
    done: (err?: Error) => void,
  ): void {
    const client = this.#client;
    if (client === undefined) {
      done(new Error('not started'));
      return;
    }
    client.publish(
      topic,
      payload,
      {
        qos: opts.qos,
        retain: opts.retain === true,
        ...(opts.correlationData ? { properties: { correlationData: opts.correlationData } } : {}),
      },
      (err) => {
        if (!err) return done();
        const code = (err as Error & { code?: unknown }).code;
        if (typeof code === 'number' && code >= 0x80)
          return done(new RefusedPublish(`the broker refused ${topic}: ${err.message}`, code));
        done(err);
      },
    );
  }

  /** Sends `last` (retained) when connected, then a normal DISCONNECT: the broker drops the will. */
  async stop(last?: { topic: string; payload: string }): Promise<void> {
    const client = this.#client;
    if (client === undefined) return;
    this.#client = undefined;
    if (client.connected && last)
      await Promise.race([
        new Promise<void>((r) =>
          client.publish(last.topic, last.payload, { qos: 1, retain: true }, () => r()),
        ),
        new Promise<void>((r) => setTimeout(r, 2000).unref()),
      ]);
    await new Promise<void>((r) => client.end(!client.connected, {}, () => r()));
  }
}
