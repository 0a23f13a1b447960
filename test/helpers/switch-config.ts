// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit: a small but complete switch configuration (PRI trunks, phones, routes), validated like the real one.

import type { SwitchConfig } from '../../src/config/schema.ts';
import { validateConfig } from '../../src/config/validate.ts';

const pri = (name: string, span: number) => ({
  name,
  signalling: 'pri_cpe',
  span,
  switchtype: 'euroisdn',
});

/**
 * Four PRI trunks (pri1..pri4 on spans 1..4), four phones on an FXS card (trunk `phones`,
 * extensions 201..204 on ports 1..4), trunk groups for every hunt method, and the given
 * routes, regions, time conditions and blacklists on top. validateConfig checks the result,
 * so every fixture is a configuration the switch would accept.
 */
export function switchConfig(extra: Partial<SwitchConfig> = {}): SwitchConfig {
  const input: SwitchConfig = {
    system: { timezone: 'Asia/Shanghai' },
    spans: [1, 2, 3, 4].map((span) => ({
      span,
      framing: 'ccs' as const,
      coding: 'hdb3' as const,
      timing: span === 1 ? 1 : 0,
    })),
    trunks: [
      pri('pri1', 1),
      pri('pri2', 2),
      pri('pri3', 3),
      pri('pri4', 4),
      { name: 'phones', signalling: 'fxo_ks', span: 5, ports: '1-4' },
    ] as SwitchConfig['trunks'],
    trunkGroups: [
      { name: 'carrierA', trunks: ['pri2', 'pri3'], hunt: 'sequential' },
      { name: 'carrierB', trunks: ['pri4'], hunt: 'sequential' },
      { name: 'rr', trunks: ['pri2', 'pri3', 'pri4'], hunt: 'round_robin' },
      { name: 'least', trunks: ['pri2', 'pri3', 'pri4'], hunt: 'least_used' },
      { name: 'network', trunks: ['pri1'], hunt: 'sequential' },
    ],
    extensions: [1, 2, 3, 4].map((port) => ({
      number: `20${port}`,
      trunk: 'phones',
      channel: port,
    })),
    ...extra,
  };
  return validateConfig(input);
}
