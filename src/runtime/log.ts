// SPDX-License-Identifier: GPL-2.0-or-later
// The process-wide pino logger: JSON lines on stdout, one child logger per subsystem.

import { pino } from 'pino';

/** Log level from SWITCHBOARD_LOG_LEVEL (trace, debug, info, warn, error, fatal; default info). */
export const logger = pino({
  level: process.env.SWITCHBOARD_LOG_LEVEL ?? 'info',
  base: { pid: process.pid },
});

export type Logger = pino.Logger;
