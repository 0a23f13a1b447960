// SPDX-License-Identifier: GPL-2.0-or-later
// Where the repository's built artefacts and data files are, wherever the process was started.

import { fileURLToPath } from 'node:url';

/**
 * The repository root (this file lives in src/runtime/; an image's compiled CLI and controller
 * live two levels down too, in dist/switchboard/, so the same path holds there).
 */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export const paths = {
  /** The simulator daemon (built by `make -C native/sim`). */
  simDaemon: `${repoRoot}native/sim/build/switchboard-simd`,
  /** The preload library that routes a process's DAHDI calls to the simulator. */
  simPreload: `${repoRoot}native/sim/build/libdahdisim.so`,
  /** Where `make -C native/sim` puts the simulator and its tools. */
  simBuildDir: `${repoRoot}native/sim/build`,
  /** dahdi_probe: a plain DAHDI API client for end-to-end checks and benchmarks. */
  dahdiProbe: `${repoRoot}native/sim/build/dahdi_probe`,
  /** The native addon as node-gyp builds it. */
  addon: `${repoRoot}build/Release/switchboard.node`,
  /** The demo board that `switchboard start` and `sim up` use by default. */
  demoBoard: `${repoRoot}board/sim/demo.yaml`,
  /** Board definitions, one YAML file a model (board/models/<id>.yaml). */
  boardModels: `${repoRoot}board/models`,
  /** The demo switch configuration `switchboard start` applies on a fresh database. */
  demoConfig: `${repoRoot}board/config/demo.yaml`,
  /** The demo IVR flows and campaign `switchboard start` installs on a fresh database. */
  demoSeed: `${repoRoot}board/demo`,
  /** The demo carrier scenario `switchboard start` runs on the far ends of the demo board. */
  demoCarrier: `${repoRoot}board/carrier/demo.yaml`,
  /** The CLI entry point. */
  cli: `${repoRoot}bin/switchboard.mjs`,
  benchDir: `${repoRoot}bench`,
  benchResults: `${repoRoot}bench/results`,
  controllerMain: `${repoRoot}src/controller/main.ts`,
  /** The simulated carrier's process (`switchboard carrier` runs it through tsx). */
  carrierMain: `${repoRoot}src/carrier/main.ts`,
};
