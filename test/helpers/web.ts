// SPDX-License-Identifier: GPL-2.0-or-later
// Test kit for the web UI: a fresh controller (no configuration, no account), Debian's Chromium, screenshots.

import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { paths, repoRoot } from '../../src/runtime/paths.ts';
import { type StartedProcess, startProcess } from '../../src/runtime/process.ts';
import type { TestSim } from './dahdi.ts';

/** Debian's chromium (scripts/setup.sh installs it); no browser is ever downloaded. */
export const CHROMIUM = '/usr/bin/chromium';

/** Where the web tests put their screenshots (gitignored). */
export const SCREENSHOT_DIR = join(repoRoot, 'test-results', 'web');

export interface BareController {
  proc: StartedProcess;
  base: string;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * Starts src/controller/main.ts on `sim` as a box fresh from the factory: no configuration
 * (nothing is applied until someone does it in the UI) and no account (first-run setup).
 */
export async function startBareController(
  sim: TestSim,
  dataDir = mkdtempSync(join(tmpdir(), 'switchboard-web-')),
): Promise<BareController> {
  const proc = startProcess(
    process.execPath,
    [
      '--import',
      'tsx',
      paths.controllerMain,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--data-dir',
      dataDir,
      '--sim-dir',
      sim.dir,
    ],
    { env: sim.env, timeoutMs: 3600_000 },
  );
  await proc.waitFor((l) => l.msg === 'controller started' || l.level === 60, 60_000);
  const started = proc.lines.find((l) => l.msg === 'controller started');
  if (!started)
    throw new Error(`the controller did not start: ${JSON.stringify(proc.lines.at(-1))}`);
  return {
    proc,
    base: String(started.address),
    dataDir,
    async stop() {
      const signal = (s: NodeJS.Signals) => {
        try {
          if (proc.pid !== undefined) process.kill(proc.pid, s);
        } catch {} // gone already
      };
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), 15_000);
      await proc.done;
      clearTimeout(timer);
    },
  };
}

/**
 * Headless Chromium with a fresh user-data directory of its own (no cookies or cache from an
 * earlier run), talking to nothing but the controller.
 */
export async function launchChromium(
  viewport = { width: 1280, height: 900 },
): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium`);
  const profile = mkdtempSync(join(tmpdir(), 'switchboard-chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    acceptDownloads: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Saves a full-page screenshot as SCREENSHOT_DIR/NAME.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
