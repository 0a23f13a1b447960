// SPDX-License-Identifier: GPL-2.0-or-later
// The `mqtt` section of the switch configuration: the NOC's broker or the embedded one, topics, TLS, outbox.

import { type Static, Type } from '@sinclair/typebox';
import type { FieldError } from '../core/schema.ts';

const filePath = {
  minLength: 2,
  maxLength: 255,
  pattern: '^/',
  mustBe: 'an absolute path of a file on the box',
};

/** One topic level: no `/`, no wildcards, not starting with `$` (reserved for brokers). */
const topicLevel = {
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9_.-]+$',
  mustBe: 'a topic level of 1-64 letters, digits, "_", "." or "-"',
};

export const MqttConfig = Type.Object(
  {
    enabled: Type.Optional(
      Type.Boolean({
        description: 'false: no MQTT at all (no embedded broker, no NOC connection); default true',
      }),
    ),
    broker: Type.Optional(
      Type.String({
        minLength: 8,
        maxLength: 255,
        description:
          "the NOC's broker, mqtt://HOST[:PORT] (default port 1883) or mqtts://HOST[:PORT] (TLS, default 8883); absent: the embedded broker",
      }),
    ),
    nodeId: Type.Optional(
      Type.String({
        ...topicLevel,
        description:
          "this box's topic level (<baseTopic>/<nodeId>/...); default the box's serial number, else its host name",
      }),
    ),
    baseTopic: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        pattern: '^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$',
        mustBe: 'topic levels of letters, digits, "_", "." or "-" joined by "/" (no wildcards)',
        description: 'the first topic level(s) of every topic; default "switchboard"',
      }),
    ),
    healthSeconds: Type.Optional(
      Type.Integer({
        minimum: 5,
        maximum: 3600,
        description: 'how often bridge/health is published, in seconds (5-3600); default 60',
      }),
    ),
    cdr: Type.Optional(
      Type.Boolean({
        description: 'publish every call record on <base>/<node>/cdr (QoS 1); default false',
      }),
    ),
    clientId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: '^[A-Za-z0-9_.-]+$',
        mustBe: '1-64 letters, digits, "_", "." or "-"',
        description: 'MQTT client id at the NOC broker; default switchboard-<nodeId>',
      }),
    ),
    username: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: 'user name at the NOC broker' }),
    ),
    passwordFile: Type.Optional(
      Type.String({
        ...filePath,
        description:
          'a file on the box holding the password for username (read at each connect; kept out of the configuration, which viewers can read)',
      }),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(
            Type.String({
              ...filePath,
              description:
                "PEM file of the CA(s) that signed the broker's certificate; default the system's CAs",
            }),
          ),
          cert: Type.Optional(
            Type.String({ ...filePath, description: 'PEM client certificate (with key)' }),
          ),
          key: Type.Optional(
            Type.String({ ...filePath, description: 'PEM private key of the client certificate' }),
          ),
          serverName: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 253,
              description:
                "the name the broker's certificate must carry; default the broker's host",
            }),
          ),
        },
        { additionalProperties: false, description: 'for an mqtts:// broker' },
      ),
    ),
    keepaliveSeconds: Type.Optional(
      Type.Integer({
        minimum: 5,
        maximum: 600,
        description:
          'MQTT keepalive, in seconds (5-600); the broker sends the last will 1.5 keepalives after the box goes silent; default 30',
      }),
    ),
    reconnect: Type.Optional(
      Type.Object(
        {
          minSeconds: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 60,
              description: 'first wait after a lost connection (1-60 s); default 1',
            }),
          ),
          maxSeconds: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 3600,
              description: 'the wait doubles up to this (1-3600 s); default 60',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    embedded: Type.Optional(
      Type.Object(
        {
          port: Type.Optional(
            Type.Integer({
              minimum: 0,
              maximum: 65535,
              description: 'TCP port of the embedded broker (0: any free port); default 1883',
            }),
          ),
          host: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 64,
              description: 'address it listens on; default 0.0.0.0 (every IPv4 interface)',
            }),
          ),
        },
        {
          additionalProperties: false,
          description:
            'the in-process broker used when no broker is set (clients log in with an API token as password)',
        },
      ),
    ),
    outbox: Type.Optional(
      Type.Object(
        {
          maxMessages: Type.Optional(
            Type.Integer({
              minimum: 1000,
              maximum: 1000000,
              description:
                'events and call records kept while the broker is unreachable (1000-1000000); when full the oldest channel events go first, then call events, then call records; default 100000',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  {
    additionalProperties: false,
    description: 'MQTT to the NOC: the embedded broker, or a client of the NOC broker',
  },
);
export type MqttConfig = Static<typeof MqttConfig>;

/** The `mqtt` section with every default filled in; `broker` absent means the embedded broker. */
export interface MqttSettings {
  enabled: boolean;
  broker?: { url: string; tls: boolean };
  nodeId: string;
  baseTopic: string;
  healthSeconds: number;
  cdr: boolean;
  clientId: string;
  username?: string;
  passwordFile?: string;
  tls: { ca?: string; cert?: string; key?: string; serverName?: string };
  keepaliveSeconds: number;
  reconnect: { minSeconds: number; maxSeconds: number };
  embedded: { port: number; host: string };
  outbox: { maxMessages: number };
}

export const MQTT_DEFAULTS = {
  baseTopic: 'switchboard',
  healthSeconds: 60,
  keepaliveSeconds: 30,
  reconnect: { minSeconds: 1, maxSeconds: 60 },
  embedded: { port: 1883, host: '0.0.0.0' },
  outbox: { maxMessages: 100000 },
} as const;

/** A node id from a serial number or host name: characters a topic level may not carry become `-`. */
export function nodeIdFrom(text: string): string {
  const id = text
    .trim()
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
  return id === '' ? 'switchboard' : id;
}

/** Fills in the defaults; `fallbackNodeId` is the box's serial or host name. */
export function mqttSettings(config: MqttConfig | undefined, fallbackNodeId: string): MqttSettings {
  const c = config ?? {};
  const nodeId = c.nodeId ?? nodeIdFrom(fallbackNodeId);
  return {
    enabled: c.enabled ?? true,
    ...(c.broker !== undefined
      ? { broker: { url: c.broker, tls: c.broker.startsWith('mqtts:') } }
      : {}),
    nodeId,
    baseTopic: c.baseTopic ?? MQTT_DEFAULTS.baseTopic,
    healthSeconds: c.healthSeconds ?? MQTT_DEFAULTS.healthSeconds,
    cdr: c.cdr ?? false,
    clientId: c.clientId ?? `switchboard-${nodeId}`,
    ...(c.username !== undefined ? { username: c.username } : {}),
    ...(c.passwordFile !== undefined ? { passwordFile: c.passwordFile } : {}),
    tls: { ...(c.tls ?? {}) },
    keepaliveSeconds: c.keepaliveSeconds ?? MQTT_DEFAULTS.keepaliveSeconds,
    reconnect: {
      minSeconds: c.reconnect?.minSeconds ?? MQTT_DEFAULTS.reconnect.minSeconds,
      maxSeconds: c.reconnect?.maxSeconds ?? MQTT_DEFAULTS.reconnect.maxSeconds,
    },
    embedded: {
      port: c.embedded?.port ?? MQTT_DEFAULTS.embedded.port,
      host: c.embedded?.host ?? MQTT_DEFAULTS.embedded.host,
    },
    outbox: { maxMessages: c.outbox?.maxMessages ?? MQTT_DEFAULTS.outbox.maxMessages },
  };
}

/**
 * What the schema cannot say about the `mqtt` section: the broker URL, TLS options that need an
 * mqtts:// broker, a certificate without its key, a password without a user name, reconnect
 * waits in the wrong order. Paths are `mqtt.<field>`.
 */
export function mqttConfigErrors(c: MqttConfig | undefined): FieldError[] {
  const out: FieldError[] = [];
  if (c === undefined) return out;
  if (c.broker !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(c.broker);
    } catch {
      out.push({
        path: 'mqtt.broker',
        message: `"${c.broker}" is not a URL: write mqtt://HOST[:PORT] or mqtts://HOST[:PORT]`,
      });
    }
    if (url) {
      if (url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:')
        out.push({
          path: 'mqtt.broker',
          message: `must start with mqtt:// or mqtts://, not ${url.protocol}//`,
        });
      else if (url.hostname === '') out.push({ path: 'mqtt.broker', message: 'names no host' });
      else if (url.username !== '' || url.password !== '')
        out.push({
          path: 'mqtt.broker',
          message: 'must not carry a user name or password: use username and passwordFile',
        });
      else if (
        (url.pathname !== '' && url.pathname !== '/') ||
        url.search !== '' ||
        url.hash !== ''
      )
        out.push({
          path: 'mqtt.broker',
          message: 'must be only mqtt[s]://HOST[:PORT], without a path or query',
        });
      if (url.protocol === 'mqtt:' && c.tls !== undefined)
        out.push({
          path: 'mqtt.tls',
          message: 'TLS settings need an mqtts:// broker (the broker is mqtt://, unencrypted)',
        });
    }
  } else {
    for (const key of ['username', 'passwordFile', 'tls', 'clientId', 'reconnect'] as const)
      if (c[key] !== undefined)
        out.push({
          path: `mqtt.${key}`,
          message: 'applies to the NOC broker: set mqtt.broker, or remove it',
        });
  }
  if (c.passwordFile !== undefined && c.username === undefined)
    out.push({ path: 'mqtt.passwordFile', message: 'needs mqtt.username as well' });
  if ((c.tls?.cert === undefined) !== (c.tls?.key === undefined))
    out.push({
      path: c.tls?.cert === undefined ? 'mqtt.tls.cert' : 'mqtt.tls.key',
      message: 'a client certificate needs both tls.cert and tls.key',
    });
  const min = c.reconnect?.minSeconds ?? MQTT_DEFAULTS.reconnect.minSeconds;
  const max = c.reconnect?.maxSeconds ?? MQTT_DEFAULTS.reconnect.maxSeconds;
  if (min > max)
    out.push({
      path: 'mqtt.reconnect.maxSeconds',
      message: `must not be less than minSeconds (${min})`,
    });
  return out;
}
