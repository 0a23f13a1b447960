// SPDX-License-Identifier: GPL-2.0-or-later
// A valid whole-switch configuration for the store, YAML and API tests: every section filled in.

import type { SwitchConfig } from '../../src/config/schema.ts';

/** A fresh copy each call, so a test can change it freely. */
export function sampleConfig(): SwitchConfig {
  const config = {
    system: { name: 'Lab box', timezone: 'Asia/Shanghai', toneZone: 'cn' },
    spans: [
      { span: 1, framing: 'ccs', coding: 'hdb3', crc4: true, timing: 1 },
      { span: 2, framing: 'ccs', coding: 'hdb3', timing: 2 },
      { span: 3, framing: 'cas', coding: 'hdb3', timing: 0 },
    ],
    trunks: [
      { name: 'pri1', signalling: 'pri_cpe', span: 1, switchtype: 'euroisdn' },
      {
        name: 'pri2',
        signalling: 'pri_cpe',
        span: 2,
        switchtype: 'euroisdn',
        timers: { T303: 5000 },
      },
      { name: 'r2', signalling: 'mfcr2', span: 3, variant: 'cn' },
      { name: 'phones', signalling: 'fxo_ks', span: 4, ports: '1-4' },
    ],
    trunkGroups: [{ name: 'carriers', trunks: ['pri1', 'pri2'], hunt: 'sequential' }],
    timeConditions: [
      {
        name: 'office',
        hours: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:30', to: '18:00' }],
        holidays: [{ date: '2025-10-01', to: '2025-10-07', name: 'National Day' }],
      },
    ],
    regions: [{ name: 'shenzhen', prefixes: ['0755'] }],
    blacklists: { inbound: [{ number: '_1[3-9]X00000000', note: 'spam' }] },
    routes: {
      inbound: [
        {
          name: 'hotline',
          called: '95588',
          time: { condition: 'office', when: 'open' },
          destination: { type: 'extension', extension: '201' },
        },
        { name: 'after-hours', called: '95588', destination: { type: 'hangup', cause: 17 } },
        { name: 'local', regions: ['shenzhen'], destination: { type: 'trunk', route: 'out' } },
      ],
      outbound: [{ name: 'out', called: '_0X.', trunkGroups: ['carriers'] }],
    },
    extensions: [
      { number: '201', trunk: 'phones', channel: 1, name: 'Reception' },
      { number: '0202', trunk: 'phones', channel: 2 },
    ],
    mqtt: { nodeId: 'lab-box', healthSeconds: 30, cdr: true, embedded: { port: 0 } },
  };
  return structuredClone(config) as SwitchConfig;
}

/** The sample with trunk pri1 speaking another Q.931 variant: a one-field change. */
export function withSwitchtype(switchtype: string): SwitchConfig {
  const config = sampleConfig();
  const pri1 = config.trunks?.[0];
  if (pri1) pri1.switchtype = switchtype;
  return config;
}
