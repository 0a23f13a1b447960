// SPDX-License-Identifier: GPL-2.0-or-later
// The controller process: watches the DAHDI spans until SIGTERM or SIGINT.

import { parseArgs } from 'node:util';
import { isSwitchboardError } from '../core/errors.ts';
import { loadAddon } from '../native/addon.ts';
import { logger } from '../runtime/log.ts';
import { SpanWatcher } from './span-watch.ts';

/** How often the spans are read, in milliseconds. */
const POLL_MS = 1000;

function main(): void {
  const { values } = parseArgs({ options: { port: { type: 'string' } } });
  const port = values.port === undefined ? undefined : Number(values.port);
  const log = logger.child({ subsystem: 'controller' });
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    log.fatal(
      { code: 'E_USAGE' },
      `--port must be a TCP port number (1-65535), not "${values.port}"`,
    );
    process.exitCode = 2;
    return;
  }

  let addon: ReturnType<typeof loadAddon>;
  try {
    addon = loadAddon();
  } catch (err) {
    if (!isSwitchboardError(err)) throw err;
    log.fatal({ code: err.code }, err.message);
    process.exitCode = 1;
    return;
  }
  // The HTTP API is not part of the controller yet: the port is recorded for when it is.
  log.info({ port: port ?? null, pollMs: POLL_MS }, 'controller started');

  const watcher = new SpanWatcher(() => addon.spans(), logger.child({ subsystem: 'spans' }));
  watcher.poll();
  const timer = setInterval(() => watcher.poll(), POLL_MS);

  // Ctrl-C reaches both us and `switchboard start`, which then sends SIGTERM too: stop once.
  let stopped = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    log.info({ signal }, 'controller stopped');
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main();
