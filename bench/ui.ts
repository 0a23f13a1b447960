// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard bench ui`: the web UI's size as a browser downloads it (gzip), against its 200 kB flash budget.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWeb, JS_BUDGET_GZIP_BYTES } from '../web/build.ts';

/**
 * Builds the UI from web/src into a scratch directory (the same build as web/dist) and reports
 * what a first page load transfers: the JavaScript and the style sheet, raw and gzipped (level 9,
 * as the controller serves them), and the JavaScript's share of its budget.
 */
export async function run(): Promise<object> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-ui-'));
  try {
    const started = performance.now();
    const b = await buildWeb(join(dir, 'dist'));
    const buildMs = Math.round(performance.now() - started);
    const html = b.files.find((f) => f.file === 'index.html');
    return {
      js: { bytes: b.js.bytes, gzipBytes: b.js.gzipBytes },
      css: { bytes: b.css.bytes, gzipBytes: b.css.gzipBytes },
      html: { bytes: html?.bytes ?? 0, gzipBytes: html?.gzipBytes ?? 0 },
      firstLoadGzipBytes: b.js.gzipBytes + b.css.gzipBytes + (html?.gzipBytes ?? 0),
      budget: {
        jsGzipBytes: JS_BUDGET_GZIP_BYTES,
        // Under 1 is under budget.
        jsRatio: Number((b.js.gzipBytes / JS_BUDGET_GZIP_BYTES).toFixed(4)),
      },
      buildMs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
