// SPDX-License-Identifier: GPL-2.0-or-later
// The process-wide pino logger: JSON lines on stdout and in a memory ring, one child logger per subsystem.

import { pino } from 'pino';
import { LogRing } from './log-ring.ts';

const level = process.env.SWITCHBOARD_LOG_LEVEL ?? 'info';

/** The last lines logged, for GET /api/system/logs (an installer without a shell on the box). */
export const logRing = new LogRing();

/** Log level from SWITCHBOARD_LOG_LEVEL (trace, debug, info, warn, error, fatal; default info). */
export const logger = pino(
  { level, base: { pid: process.pid } },
  pino.multistream([
    { level: level as pino.Level, stream: pino.destination({ dest: 1, sync: true }) },
    { level: level as pino.Level, stream: logRing },
  ]),
);

export type Logger = pino.Logger;
