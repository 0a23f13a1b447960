// SPDX-License-Identifier: GPL-2.0-or-later
// The controller's recent log lines in memory (bounded by lines and bytes), for GET /api/system/logs.

/** One kept line as pino wrote it, parsed. */
export type LogLine = Record<string, unknown> & { level: number; time: number; msg?: string };

export interface LogRingOptions {
  /** Lines kept; the oldest go first. Default 2000; range 10..100000. */
  maxLines?: number;
  /** Bytes of JSON kept (a few huge lines must not hold the box's memory). Default 2 MiB; range 64 KiB..64 MiB. */
  maxBytes?: number;
}

/** pino's level numbers and names. */
export const LOG_LEVELS = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
} as const;
export type LogLevelName = keyof typeof LOG_LEVELS;

/**
 * A pino destination that keeps the last lines. Written synchronously by pino's multistream,
 * so a line is in the ring as soon as the log call returns. Lines longer than a quarter of
 * `maxBytes` are cut (and marked) rather than pushing everything else out.
 */
export class LogRing {
  readonly #maxLines: number;
  readonly #maxBytes: number;
  #lines: { text: string; seq: number }[] = [];
  #bytes = 0;
  #seq = 0;

  constructor(opts: LogRingOptions = {}) {
    this.#maxLines = clamp(opts.maxLines ?? 2000, 10, 100000);
    this.#maxBytes = clamp(opts.maxBytes ?? 2 << 20, 64 << 10, 64 << 20);
  }

  /** pino's destination interface: one JSON line per call. */
  write(line: string): void {
    this.add(line);
  }

  /** Adds one line (a trailing newline is dropped). */
  add(line: string): void {
    let text = line.endsWith('\n') ? line.slice(0, -1) : line;
    if (text === '') return;
    const cap = Math.floor(this.#maxBytes / 4);
    if (text.length > cap)
      text = JSON.stringify({
        level: 40,
        time: Date.now(),
        msg: '[log line cut]',
        head: text.slice(0, 1000),
      });
    this.#seq++;
    this.#lines.push({ text, seq: this.#seq });
    this.#bytes += text.length;
    while (this.#lines.length > this.#maxLines || this.#bytes > this.#maxBytes) {
      const gone = this.#lines.shift();
      if (!gone) break;
      this.#bytes -= gone.text.length;
    }
  }

  /** Lines written since the process started (kept or not). */
  get written(): number {
    return this.#seq;
  }

  /**
   * The newest `limit` lines at or above `level`, oldest first, parsed; lines after sequence
   * number `after` only, when given (to follow the log). Lines that are not JSON are wrapped.
   */
  read(opts: { limit?: number; level?: number; after?: number; subsystem?: string } = {}): {
    lines: (LogLine & { seq: number })[];
    last: number;
  } {
    const limit = opts.limit ?? 200;
    const out: (LogLine & { seq: number })[] = [];
    for (let i = this.#lines.length - 1; i >= 0 && out.length < limit; i--) {
      const l = this.#lines[i] as { text: string; seq: number };
      if (opts.after !== undefined && l.seq <= opts.after) break;
      let parsed: LogLine;
      try {
        parsed = JSON.parse(l.text) as LogLine;
      } catch {
        parsed = { level: 30, time: 0, msg: l.text };
      }
      if (opts.level !== undefined && (parsed.level ?? 0) < opts.level) continue;
      if (opts.subsystem !== undefined && parsed.subsystem !== opts.subsystem) continue;
      out.push({ ...parsed, seq: l.seq });
    }
    return { lines: out.reverse(), last: this.#seq };
  }
}

function clamp(v: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.floor(v)));
}
