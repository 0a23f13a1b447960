// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit: simulated phones, each the FXO port at the far end of a simulated analog line, run by our own engine.
//
// A phone is what an FXO port is: it sees the ring (and the caller ID between the first two
// rings), goes off hook to answer, dials DTMF, hangs up. Our engine with fxs_ks/fxs_ls signalling
// does exactly that on the simulator's FXO port, so a phone is a trunk of an engine host: the
// DSP (FSK caller ID reception, DTMF generation) is the same spandsp code a real line would meet.

import type { EngineTrunk } from '../../src/native/engine.ts';
import type { Host, Line } from './engine.ts';

export interface PhoneOptions {
  /** Trunk name in the phone host. */
  name: string;
  span: number;
  /** The FXO port at the far end of the line. */
  port: number;
  /** fxs_ks (default) hears the exchange's loop drop when the far end clears; fxs_ls does not. */
  signalling?: 'fxs_ks' | 'fxs_ls';
  callerId?: 'off' | 'bell' | 'v23' | 'dtmf';
  polarity?: boolean;
  timers?: Record<string, number>;
}

/** The engine trunk that makes a phone of an FXO port. */
export function phoneTrunk(o: PhoneOptions): EngineTrunk {
  return {
    name: o.name,
    signalling: o.signalling ?? 'fxs_ks',
    span: o.span,
    ports: [o.port],
    callerId: o.callerId ?? 'off',
    ...(o.polarity === undefined ? {} : { polarity: o.polarity }),
    // A phone does not wait for dial tone as long as a PBX line would.
    timers: { dialDelay: 200, ...o.timers },
  };
}

export class Phone {
  constructor(
    readonly host: Host,
    readonly name: string,
  ) {}

  /** Waits for the next event of this phone matching `event` (and `call` when given). */
  next(event: string, call?: number, timeoutMs = 15_000): Promise<Line> {
    return this.host.waitEvent(
      (e) => e.trunk === this.name && e.event === event && (call === undefined || e.call === call),
      timeoutMs,
    );
  }

  /** Every event of this phone so far (optionally of one call), in order. */
  events(call?: number): Line[] {
    return this.host.events(
      (e) => e.trunk === this.name && (call === undefined || e.call === call),
    );
  }

  /** Waits until the phone rings: the offered call, with the caller ID it received. */
  ringing(timeoutMs?: number): Promise<Line> {
    return this.next('offered', undefined, timeoutMs);
  }

  /** Picks up the handset. */
  async answer(call: number): Promise<void> {
    await this.host.command({ op: 'answer', call });
  }

  /** Lifts the handset and dials `number` as DTMF; resolves with the call id. */
  async dial(number: string): Promise<number> {
    const { call } = await this.host.command({ op: 'place', trunk: this.name, called: number });
    return call as number;
  }

  /** Presses keys during a call (DTMF). */
  async press(call: number, digits: string): Promise<void> {
    await this.host.command({ op: 'digits', call, digits });
  }

  async hangUp(call: number): Promise<void> {
    await this.host.command({ op: 'release', call });
  }
}

/** The digits events of `call` in `host`, joined. */
export function digitsOf(host: Host, call: number): string {
  return host
    .events((e) => e.event === 'digits' && e.call === call)
    .map((e) => e.digits)
    .join('');
}
