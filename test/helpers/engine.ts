// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit for the signalling engine: each end of a cable is an engine host in its own process.

import type { EngineConfig } from '../../src/native/engine.ts';
import { type Host, startEngineHost } from '../../src/native/host-client.ts';
import type { TestSim } from './dahdi.ts';

export { type Host, HostError, type Line } from '../../src/native/host-client.ts';

/** Starts an engine host against the test's simulator; fails with the host's fatal error. */
export function startHost(sim: TestSim, config: EngineConfig, name = 'host'): Promise<Host> {
  return startEngineHost(sim.env, sim.dir, config, name);
}
