// SPDX-License-Identifier: GPL-2.0-or-later
// What the bridge publishes through: the embedded broker in-process, or an MQTT 5 client of the NOC broker.

/** A publish refused by the broker (an MQTT 5 reason code of 0x80 or more): it will not be taken later either. */
export class RefusedPublish extends Error {
  constructor(
    message: string,
    readonly reasonCode: number,
  ) {
    super(message);
    this.name = 'RefusedPublish';
  }
}

export interface PublishOptions {
  qos: 0 | 1;
  retain?: boolean;
}

/** A request received on bridge/request/<command>. */
export interface IncomingRequest {
  topic: string;
  payload: Buffer;
  /** MQTT 5 user properties (the NOC broker only). */
  userProperties?: Record<string, string | string[]>;
  /** MQTT 5 correlation data, returned on the response. */
  correlationData?: Buffer;
}

export interface TransportEvents {
  /** Connected (again): retained state is republished, the outbox drains. */
  connected(): void;
  /** The connection is gone; `reason` in installer words. */
  disconnected(reason: string): void;
  request(req: IncomingRequest): void;
}

export interface Transport {
  readonly kind: 'embedded' | 'noc';
  /** Whether publishing now reaches the broker. */
  readonly connected: boolean;
  /** Where it is, for the log: `0.0.0.0:1883` or the NOC broker's URL. */
  readonly where: string;
  start(): Promise<void>;
  /**
   * QoS 1: `done` runs once the broker acknowledged it (PUBACK), with a RefusedPublish when the
   * broker refused it, or another error when it is not known to have arrived. QoS 0: once sent.
   */
  publish(
    topic: string,
    payload: string,
    opts: PublishOptions & { correlationData?: Buffer },
    done: (err?: Error) => void,
  ): void;
  /** Publishes `last` (the offline state) if it can, then disconnects and stops. */
  stop(last?: { topic: string; payload: string }): Promise<void>;
}
