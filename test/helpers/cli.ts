// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit for the CLI: runs `switchboard ARGS...` in-process and collects what it printed.

import type { Io } from '../../src/cli/command.ts';
import { main } from '../../src/cli/main.ts';

/** Runs the CLI with `argv`; its exit code and its standard output and error. */
export async function runCli(
  ...argv: string[]
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
  };
  return { code: await main(argv, io), out, err };
}
