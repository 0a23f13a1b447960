// SPDX-License-Identifier: GPL-2.0-or-later
// The web UI in headless Chromium on a fresh controller: setup, login, a PRI pair configured and applied, the
// dashboard live (keyboard-only and on a phone), a flow, a route, a test call to its call record, every page.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { buildWeb } from '../web/build.ts';
import { E1_PAIR, type TestSim, withSim } from './helpers/dahdi.ts';
import {
  type BareController,
  launchChromium,
  SCREENSHOT_DIR,
  screenshot,
  startBareController,
} from './helpers/web.ts';

const PASSWORD = 'Trunk-test 2026';

/** A flow that answers and clears: the far end of the test call. */
const ANSWER_FLOW = {
  name: 'answer-test',
  description: 'answers, then clears with NORMAL_CLEARING',
  start: 'pickup',
  nodes: { pickup: { type: 'answer', next: 'bye' }, bye: { type: 'hangup', cause: 16 } },
};

/**
 * The page's document, in functions that run in the browser. The tests are type-checked for
 * Node.js, without the DOM's types; the functions are sent to the page as they are written
 * (strings would be eval'd there, which the UI's Content-Security-Policy forbids).
 */
// biome-ignore lint/suspicious/noExplicitAny: page code, typed by the browser that runs it
declare const document: any;

/** Waits until `fn(arg)`, run in the page, is true. */
// biome-ignore lint/suspicious/noExplicitAny: see `document`
async function until(page: Page, fn: (arg: any) => boolean, arg?: unknown, timeout = 30_000) {
  await page.waitForFunction(fn, arg, { timeout });
}

/**
 * Waits until `read()` gives `expected` (the page renders what the switch sends when it arrives,
 * later on a loaded machine), then asserts it: the failure shows the last value read.
 */
async function settles<T>(read: () => Promise<T>, expected: T, timeout = 30_000): Promise<void> {
  const until = Date.now() + timeout;
  let value = await read();
  while (value !== expected && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  assert.equal(value, expected);
}

/** In the page: exactly `n` elements match `selector`. */
const countIs = ([selector, n]: [string, number]): boolean =>
  document.querySelectorAll(selector).length === n;

/** In the page: the element at `selector` has `attr` = `value`. */
const attrIs = ([selector, attr, value]: [string, string, string]): boolean =>
  document.querySelector(selector)?.getAttribute(attr) === value;

/** The selector of span `span`'s timeslots in `state`, or of timeslot `ts`. */
const IDLE_1 = 'section.span[data-span="1"] button.cell[data-state="idle"]';
const TS_1_2 = 'section.span[data-span="1"] button.cell[data-ts="2"]';

/** The focused element's text and attributes, to follow the keyboard focus. */
function focused(page: Page): Promise<{ tag: string; text: string; label: string; ts: string }> {
  return page.evaluate(() => {
    const el = document.activeElement;
    return {
      tag: el ? String(el.tagName).toLowerCase() : '',
      text: el?.textContent ? String(el.textContent).trim() : '',
      label: el?.getAttribute('aria-label') ?? '',
      ts: el?.getAttribute('data-ts') ?? '',
    };
  });
}

/** Presses Tab until `match` holds for the focused element (at most `max` presses); returns the presses. */
async function tabTo(
  page: Page,
  match: (f: Awaited<ReturnType<typeof focused>>) => boolean,
  max = 60,
): Promise<number> {
  for (let i = 1; i <= max; i++) {
    await page.keyboard.press('Tab');
    if (match(await focused(page))) return i;
  }
  throw new Error(
    `Tab never reached the element; focus is on ${JSON.stringify(await focused(page))}`,
  );
}

async function open(page: Page, base: string, hash: string, heading: string) {
  await page.goto(`${base}/#/${hash}`);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

describe('the web UI on a fresh controller (headless Chromium)', () => {
  let sim: TestSim;
  let ctl: BareController;
  let browser: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  const shots: string[] = [];
  let callId = '';
  let current = '';

  before(async () => {
    // The UI under test is the one in this tree, whatever web/dist held before.
    await buildWeb();
    sim = await withSim(E1_PAIR);
    ctl = await startBareController(sim);
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${current}: ${e.message} ${e.stack ?? ''}`));
    page.on('console', (m) => {
      // A refusal the test asks for (a wrong password) is logged by Chromium as a failed load.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
        pageErrors.push(`${current}: ${m.text()}`);
    });
  });
  beforeEach((t) => {
    current = t.name;
  });

  after(async () => {
    await browser?.close();
    await ctl?.stop();
    await sim?.stop();
    console.log(`web UI screenshots (${shots.length}): ${SCREENSHOT_DIR}`);
  });

  const shot = async (name: string) => {
    shots.push(await screenshot(page, name));
  };

  it('serves the shell without a login, and nothing else', async () => {
    const html = await fetch(`${ctl.base}/`);
    assert.equal(html.status, 200);
    assert.match(await html.text(), /<div id="app">/);
    const api = await fetch(`${ctl.base}/api/config`);
    assert.equal(api.status, 401);
  });

  it('first-run setup creates the admin and opens the dashboard', async () => {
    await page.goto(ctl.base);
    await page.getByRole('heading', { name: 'Set up this switch' }).waitFor();
    await shot('01-setup');
    // The password rules are the server's: a weak one is refused next to its field.
    await page.getByLabel('Password', { exact: true }).fill('password12');
    await page.getByLabel('Password again').fill('password12');
    await page.getByRole('button', { name: 'Create the administrator' }).click();
    await page.locator('.field-error', { hasText: 'must' }).waitFor();
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Password again').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create the administrator' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await page.locator('.link-state.live').waitFor();
    // The board's two spans arrive over the WebSocket, unconfigured and in red alarm.
    await until(page, () => document.querySelectorAll('section.span').length === 2);
    await settles(() => page.locator('section.span[data-span="1"] button.cell').count(), 31);
  });

  it('logs out, refuses a wrong password and logs in again', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in to the switch' }).waitFor();
    await page.getByText('You have logged out.').waitFor();
    // The session is gone on the server too.
    assert.equal((await page.request.get(`${ctl.base}/api/me`)).status(), 401);
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill('Not-the-password 1');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('E_LOGIN_FAILED').waitFor();
    await shot('02-login');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  });

  it('configures a PRI pair on spans 1-2 with inline checks, reviews the diff and applies it', async () => {
    await open(page, ctl.base, 'trunks', 'Trunks');
    await page.getByText('Running revision: none yet').waitFor();
    // Both cabled spans, with the usual E1 settings; span 2 does not give timing.
    await page.getByLabel('Span of the board').selectOption('1');
    await page.getByRole('button', { name: 'Add span' }).click();
    await page.getByLabel('Span of the board').selectOption('2');
    await page.getByRole('button', { name: 'Add span' }).click();
    await page.locator('#cf-spans-1-timing').fill('0');
    // Our user side on span 1, the network side on span 2.
    await page.locator('#add-trunk-name').fill('pri-a');
    await page.locator('#add-trunk-signalling').selectOption('pri_cpe');
    await page.locator('#add-trunk-span').selectOption('1');
    await page.getByRole('button', { name: 'Add trunk' }).click();
    await page.locator('#add-trunk-name').fill('pri-b');
    await page.locator('#add-trunk-signalling').selectOption('pri_net');
    await page.locator('#add-trunk-span').selectOption('2');
    await page.getByRole('button', { name: 'Add trunk' }).click();
    // A D-channel on timeslot 40 does not exist: the switch says so beside the field.
    await page.locator('#cf-trunks-0-dchannel').fill('40');
    await page.locator('#cf-trunks-0-dchannel[aria-invalid="true"]').waitFor();
    const problem = await page.locator('#cf-trunks-0-dchannel-err').textContent();
    assert.match(problem ?? '', /31/);
    assert.ok(
      await page.getByRole('button', { name: 'Review changes' }).isDisabled(),
      'a refused configuration cannot be reviewed',
    );
    await shot('03-trunks-inline-error');
    await page.locator('#cf-trunks-0-dchannel').fill('');
    await page.getByText(/Checked: \d+ changes?\./).waitFor();
    await settles(() => page.locator('#cf-trunks-0-dchannel[aria-invalid="true"]').count(), 0);
    await page.getByRole('button', { name: 'Review changes' }).click();
    await page.getByRole('heading', { name: 'Changes to apply' }).waitFor();
    const changes = await page.locator('ul.changes li').allTextContents();
    for (const path of [
      'spans[span=1]',
      'spans[span=2]',
      'trunks[name=pri-a]',
      'trunks[name=pri-b]',
    ])
      assert.ok(
        changes.some((c) => c.startsWith(path)),
        `${path} is in the diff: ${changes.join(' | ')}`,
      );
    await page.getByLabel('Comment (kept with the revision)').fill('PRI pair for the web test');
    await shot('04-trunks-review');
    await page.getByRole('button', { name: 'Apply to the switch' }).click();
    await page.getByText(/Revision 1 applied/).waitFor({ timeout: 60_000 });
    await page.getByText('Running revision: 1').waitFor();
    await page.locator('table tr', { hasText: 'PRI pair for the web test' }).waitFor();
    await shot('05-trunks-applied');
  });

  it('shows the span come up on the dashboard: no alarm, D-channel up, idle timeslots', async () => {
    await open(page, ctl.base, 'dashboard', 'Dashboard');
    const span1 = page.locator('section.span[data-span="1"]');
    await span1
      .locator('[data-testid="span-state"]', { hasText: 'OK' })
      .waitFor({ timeout: 60_000 });
    await span1
      .locator('[data-testid="link-state"]', { hasText: 'D-channel pri-a: up' })
      .waitFor({ timeout: 60_000 });
    await until(page, countIs, [IDLE_1, 30]);
    // Timeslot 16 is the D-channel, shown as signalling (a letter and a colour).
    const ts16 = span1.locator('button.cell[data-ts="16"]');
    await settles(() => ts16.getAttribute('data-state'), 'signalling');
    assert.match((await ts16.getAttribute('aria-label')) ?? '', /D-channel/);
    await settles(() => span1.locator('button.cell[data-ts="1"] .mark').textContent(), 'I');
    await page
      .locator('section.span[data-span="2"] [data-testid="link-state"]', {
        hasText: 'D-channel pri-b: up',
      })
      .waitFor();
    await shot('06-dashboard-up');
  });

  it('works keyboard-only: Tab reaches the span and the grid, Enter opens a timeslot, Block and Unblock act', async () => {
    await page.goto(`${ctl.base}/#/dashboard`);
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await until(page, countIs, [IDLE_1, 30]);
    await page.evaluate(() => document.activeElement?.blur());
    // The span's own button: Enter shows its timing and counters.
    await tabTo(page, (f) => f.text.startsWith('Span 1 ·'));
    const toggle = page.locator('section.span[data-span="1"] .span-toggle');
    await settles(() => toggle.getAttribute('aria-expanded'), 'false');
    await page.keyboard.press('Enter');
    await settles(() => toggle.getAttribute('aria-expanded'), 'true');
    await page.locator('#span-1-details').waitFor({ state: 'visible' });
    // One Tab into the grid lands on its first timeslot (one tab stop per grid).
    await page.keyboard.press('Tab');
    await settles(async () => (await focused(page)).ts, '1');
    await page.keyboard.press('ArrowRight');
    await settles(async () => (await focused(page)).ts, '2');
    await page.keyboard.press('Enter');
    const panel = page.getByRole('region', { name: 'Span 1 timeslot 2' });
    await panel.waitFor();
    await settles(async () => (await focused(page)).text, 'Span 1 timeslot 2');
    await settles(() => panel.getByTestId('channel-state').textContent(), 'idle');
    await tabTo(page, (f) => f.text === 'Block', 10);
    await page.keyboard.press('Enter');
    const ts2 = page.locator(TS_1_2);
    await until(page, attrIs, [TS_1_2, 'data-state', 'blocked']);
    await settles(() => panel.getByTestId('channel-state').textContent(), 'blocked');
    await shot('07-dashboard-keyboard-blocked');
    await tabTo(page, (f) => f.text === 'Unblock', 10);
    await page.keyboard.press('Enter');
    await until(page, attrIs, [TS_1_2, 'data-state', 'idle']);
    // Escape closes the panel and gives focus back to the timeslot.
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    await until(page, () => document.activeElement?.getAttribute('data-ts') === '2');
    await settles(() => ts2.getAttribute('aria-pressed'), 'false');
  });

  it('uploads, checks and activates IVR flows (JSON and YAML) and draws their graphs', async () => {
    await open(page, ctl.base, 'flows', 'IVR flows');
    const fileInput = page.getByLabel('Flow file (YAML or JSON)');
    await fileInput.setInputFiles({
      name: 'answer-test.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(ANSWER_FLOW)),
    });
    await settles(() => page.getByLabel('Flow name').inputValue(), 'answer-test');
    await page.getByRole('button', { name: 'Check' }).click();
    await page.getByTestId('flow-check').getByText('The flow passes every check.').waitFor();
    await page.getByRole('button', { name: 'Save and activate' }).click();
    await page.getByRole('heading', { name: 'Flow answer-test, version 1' }).waitFor();
    await until(page, () => document.querySelectorAll('figure.flow-graph g.node').length >= 2);
    // The demo hotline as its YAML file: parsed by the switch, drawn with its menu's edges.
    await fileInput.setInputFiles({
      name: 'hotline.yaml',
      mimeType: 'application/yaml',
      buffer: readFileSync(new URL('../board/demo/flows/hotline.yaml', import.meta.url)),
    });
    await settles(() => page.getByLabel('Flow name').inputValue(), 'hotline');
    await page.getByRole('button', { name: 'Save and activate' }).click();
    await page.getByRole('heading', { name: 'Flow hotline, version 1' }).waitFor();
    const graph = page.locator('section', { hasText: 'Flow hotline, version 1' }).locator('svg');
    await settles(() => graph.locator('g.node').count(), 7);
    assert.ok((await graph.locator('text.edge-label', { hasText: 'press 1' }).count()) >= 1);
    await shot('08-flows');
    // A broken flow is refused with its node named.
    await fileInput.setInputFiles({
      name: 'broken.json',
      mimeType: 'application/json',
      buffer: Buffer.from(
        JSON.stringify({
          name: 'broken',
          start: 'a',
          nodes: { a: { type: 'answer', next: 'nowhere' } },
        }),
      ),
    });
    await page.getByRole('button', { name: 'Check' }).click();
    await page.getByTestId('flow-check').getByText('The flow is refused:').waitFor();
    assert.match((await page.getByTestId('flow-check').textContent()) ?? '', /nowhere/);
  });

  it('adds an inbound route on pri-b to the flow and applies it', async () => {
    await open(page, ctl.base, 'routing', 'Routing');
    await page.getByRole('button', { name: 'Add to routes.inbound' }).click();
    await page.locator('#cf-routes-inbound-0-name').fill('to-answer');
    await page.locator('#cf-routes-inbound-0-trunks').fill('pri-b');
    await page.locator('#cf-routes-inbound-0-called').fill('_X.');
    await page.locator('#cf-routes-inbound-0-destination-type').selectOption('ivr');
    await page.locator('#cf-routes-inbound-0-destination-flow').fill('answer-test');
    await page.getByText(/Checked: \d+ changes?\./).waitFor();
    await page.getByRole('button', { name: 'Review changes' }).click();
    await page.locator('ul.changes li', { hasText: 'routes.inbound[name=to-answer]' }).waitFor();
    await page.getByRole('button', { name: 'Apply to the switch' }).click();
    await page.getByText(/Revision 2 applied/).waitFor({ timeout: 60_000 });
    await shot('09-routing');
  });

  it('places a test call on pri-a timeslot 1 and follows it to its cause', async () => {
    await open(page, ctl.base, 'test-call?trunk=pri-a&channel=1', 'Test call');
    await settles(() => page.getByLabel('Trunk').inputValue(), 'pri-a');
    await settles(() => page.getByLabel('Channel (optional)').inputValue(), '1');
    await page.getByLabel('Number to call').fill('5000');
    await page.getByLabel('Calling number (optional)').fill('01062880001');
    await page.getByRole('button', { name: 'Place the call' }).click();
    await page.getByTestId('call-cause').waitFor({ timeout: 60_000 });
    const steps = await page
      .locator('[data-testid="call-progress"] li')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-step')));
    assert.deepEqual(steps, ['requested', 'start', 'answer', 'end']);
    await settles(() => page.getByTestId('call-cause').textContent(), 'cause 16 NORMAL_CLEARING');
    const title = await page.getByRole('heading', { name: /^Call / }).textContent();
    callId = (title ?? '').replace(/^Call /, '');
    assert.ok(callId.length > 0);
    await shot('10-test-call');
  });

  it('shows the test call in the call records, filtered, with a CSV export of the same filter', async () => {
    await page.getByRole('link', { name: 'Its call record' }).click();
    await page.getByRole('heading', { level: 1, name: 'Call records' }).waitFor();
    await page.getByRole('heading', { name: `Call record ${callId}` }).waitFor();
    assert.match((await page.getByTestId('cdr-result').textContent()) ?? '', /^answered, cause 16/);
    await page.locator(`tr[data-call="${callId}"]`).waitFor();
    await page.getByLabel('Direction').selectOption('outbound');
    await page.getByLabel('Number contains').fill('5000');
    await page.getByRole('button', { name: 'Show records' }).click();
    await page.getByTestId('cdr-total').getByText('1 record,').waitFor();
    const href = await page.getByRole('link', { name: 'Export these as CSV' }).getAttribute('href');
    assert.equal(href, '/api/cdr.csv?number=5000&direction=outbound');
    const csv = await page.request.get(`${ctl.base}${href}`);
    assert.equal(csv.status(), 200);
    assert.match(await csv.text(), new RegExp(callId));
    await shot('11-cdr');
  });

  it('starts and stops a signalling trace and downloads the pcap', async () => {
    await open(page, ctl.base, 'traces', 'Signalling traces');
    const row = page.locator('tr[data-span="1"]');
    await row.getByRole('button', { name: 'Start the trace on span 1' }).click();
    await row.getByTestId('trace-state').getByText('running').waitFor();
    await row.getByRole('button', { name: 'Stop the trace on span 1' }).click();
    await row.getByTestId('trace-state').getByText('stopped').waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.getByRole('link', { name: 'Download span1.pcap' }).click(),
    ]);
    const file = await download.path();
    const pcap = readFileSync(file);
    // The classic pcap magic, little-endian.
    assert.equal(pcap.readUInt32LE(0), 0xa1b2c3d4);
    await shot('12-traces');
  });

  it('creates a campaign, imports its contacts with a progress bar and starts it', async () => {
    await open(page, ctl.base, 'campaigns', 'Campaigns');
    await page.getByLabel('Name', { exact: true }).fill('web-notice');
    await page.getByLabel('IVR flow').selectOption('answer-test');
    await page.getByLabel('Time zone of the calling window').fill('UTC');
    for (const d of ['sat', 'sun']) await page.getByLabel(d, { exact: true }).check();
    await page.getByLabel('From (HH:MM)').fill('00:00');
    await page.getByLabel('Until (HH:MM)').fill('23:59');
    await page.getByRole('button', { name: 'Create the campaign' }).click();
    await page
      .locator('tr[data-campaign="web-notice"] [data-testid="campaign-state"]', {
        hasText: 'draft',
      })
      .waitFor();
    await page.getByLabel('Contact list (CSV, Excel .xlsx or TXT)').setInputFiles({
      name: 'contacts.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(
        'phone,name\n13800138000,Li Lei\n13900139000,Han Meimei\nnot-a-number,Bad\n',
      ),
    });
    await page.getByRole('button', { name: 'Import' }).click();
    await page.getByTestId('import-report').waitFor();
    await settles(() => page.locator('#import-progress').getAttribute('value'), '1');
    assert.match(
      (await page.getByTestId('import-report').textContent()) ?? '',
      /2 of 3 rows imported.*1 refused/,
    );
    await page.locator('tr[data-campaign="web-notice"]', { hasText: '2 / 0 / 0' }).waitFor();
    await shot('13-campaigns');
    await page
      .locator('tr[data-campaign="web-notice"]')
      .getByRole('button', { name: 'Start' })
      .click();
    await until(page, () => {
      const st = document
        .querySelector('tr[data-campaign="web-notice"] [data-testid="campaign-state"]')
        ?.textContent?.trim();
      return st !== undefined && st !== 'draft';
    });
    const link = page.locator('tr[data-campaign="web-notice"] a', { hasText: 'all (CSV)' });
    await settles(() => link.getAttribute('href'), '/api/campaigns/web-notice/results.csv');
  });

  it('creates an agent campaign for a group, and names an agent extension the switch does not have', async () => {
    await open(page, ctl.base, 'campaigns', 'Campaigns');
    await page.getByText('No agent is logged in.').waitFor();
    await page.getByLabel('Name', { exact: true }).fill('web-callback');
    await page.getByLabel('Mode').selectOption('progressive');
    // An agent mode asks for the agent group instead of a flow.
    assert.equal(await page.getByLabel('IVR flow').count(), 0);
    await page.getByText('one call for each ready agent of the group').waitFor();
    await page.getByLabel('Agent group').fill('sales');
    await page.getByLabel('Time zone of the calling window').fill('UTC');
    await page.getByRole('button', { name: 'Create the campaign' }).click();
    await page.locator('tr[data-campaign="web-callback"]', { hasText: '(progressive)' }).waitFor();
    await settles(
      () =>
        page
          .locator('tr[data-campaign="web-callback"] [data-testid="campaign-state"]')
          .textContent(),
      'draft',
    );
    // The web test's switch has no extensions: the login is refused, naming the extension.
    await page.getByLabel('Agent extension').fill('8001');
    await page.getByLabel('Group', { exact: true }).fill('sales');
    await page.getByRole('button', { name: 'Log the agent in' }).click();
    await page.getByText('E_AGENT_UNKNOWN').waitFor();
    await page.getByText(/"8001" is not an extension/).waitFor();
    await shot('13b-campaigns-agents');
  });

  it('adds a user with a role', async () => {
    await open(page, ctl.base, 'users', 'Users');
    await page.getByLabel('User name').fill('night-shift');
    await page.getByLabel('Password', { exact: true }).fill('Late-watch 2026');
    await page.getByLabel('Role', { exact: true }).selectOption('operator');
    await page.getByRole('button', { name: 'Add the user' }).click();
    await page.locator('tr[data-user="night-shift"]').waitFor();
    await settles(() => page.getByLabel('Role of night-shift').inputValue(), 'operator');
    await shot('14-users');
  });

  it('shows the operator only what an operator may do, and the switch refuses the rest', async () => {
    // A browser of its own: the operator's session cookie, not the admin's.
    const ctx = await launchChromium();
    try {
      const op = await ctx.newPage();
      op.on('pageerror', (e) => pageErrors.push(`${current} (operator): ${e.message}`));
      await op.goto(`${ctl.base}/`);
      await op.getByLabel('User name').fill('night-shift');
      await op.getByLabel('Password').fill('Late-watch 2026');
      await op.getByRole('button', { name: 'Log in' }).click();
      await op.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
      const menu = op.getByRole('navigation', { name: 'Main' });
      await menu.getByRole('link', { name: 'Test call' }).waitFor();
      await menu.getByRole('link', { name: 'Account' }).waitFor();
      assert.equal(await menu.getByRole('link', { name: 'Signalling traces' }).count(), 0);
      assert.equal(await menu.getByRole('link', { name: 'Users' }).count(), 0);
      // Operators run the switch: a timeslot can be blocked from the grid.
      await until(op, countIs, [IDLE_1, 30]);
      await op.locator(TS_1_2).click();
      await op
        .getByRole('region', { name: 'Span 1 timeslot 2' })
        .getByRole('button', { name: 'Block', exact: true })
        .waitFor();
      // The trunks are shown, not editable: no review, no apply, every field disabled.
      await open(op, ctl.base, 'trunks', 'Trunks');
      await op.getByText(/Running revision: \d+/).waitFor();
      await op.locator('#cf-trunks-0-dchannel').waitFor();
      assert.equal(await op.locator('#cf-trunks-0-dchannel').isDisabled(), true);
      assert.equal(await op.getByRole('button', { name: 'Review changes' }).count(), 0);
      // The system page has health, not the log or backups.
      await open(op, ctl.base, 'system', 'System');
      await op.getByTestId('health').getByText('CPU').waitFor();
      assert.equal(await op.getByRole('link', { name: 'Download a backup' }).count(), 0);
      await screenshot(op, '17-operator-system').then((f) => shots.push(f));
      // What the UI does not offer is refused by the switch too, with the operator's session.
      const me = (await (await op.request.get(`${ctl.base}/api/me`)).json()) as { csrf: string };
      const trace = await op.request.post(`${ctl.base}/api/spans/1/trace/start`, {
        data: {},
        headers: { 'x-csrf-token': me.csrf },
      });
      assert.equal(trace.status(), 403, await trace.text());
      assert.equal(((await trace.json()) as { error: string }).error, 'E_FORBIDDEN');
      const backup = await op.request.get(`${ctl.base}/api/system/backup`);
      assert.equal(backup.status(), 403, await backup.text());
    } finally {
      await ctx.close();
    }
  });

  it('shows health and the log, downloads a backup, refuses a wrong restore and stages a right one', async () => {
    await open(page, ctl.base, 'system', 'System');
    await page.getByTestId('health').getByText('CPU').waitFor();
    // The board: the model, and where DAHDI disagrees with it (this simulator has only two E1
    // spans of the demo board's six), with no MCU on a bare controller.
    await page
      .getByTestId('board')
      .getByText('Switchboard simulated demo board (sim-demo)')
      .waitFor();
    await page.getByTestId('board-mismatch').getByText('span 3 (E1) is missing').waitFor();
    await page.getByTestId('board-mismatch').getByText('span 6 (analog) is missing').waitFor();
    await page
      .getByTestId('mcu-link')
      .getByText(/no serial device/)
      .waitFor();
    await page.locator('.log-line', { hasText: 'revision committed' }).first().waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download a backup' }).click(),
    ]);
    const backup = readFileSync(await download.path());
    assert.equal(backup.subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
    const chooser = page.getByLabel('Backup file');
    await chooser.setInputFiles({
      name: 'notes.db',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from('not a database at all'),
    });
    await page.getByRole('button', { name: 'Check and stage the restore' }).click();
    await page.getByText('E_BACKUP_INVALID').waitFor();
    await chooser.setInputFiles({
      name: download.suggestedFilename(),
      mimeType: 'application/octet-stream',
      buffer: backup,
    });
    await page.getByRole('button', { name: 'Check and stage the restore' }).click();
    await page.getByTestId('restore-staged').waitFor();
    assert.match(
      (await page.getByTestId('restore-staged').textContent()) ?? '',
      /Configuration revision2/,
    );
    await shot('15-system');
    await page.getByRole('button', { name: 'Cancel the restore' }).click();
    await page.getByText('The staged restore is cancelled.').waitFor();
    await page.getByTestId('restore-staged').waitFor({ state: 'detached' });
    const state = await page.request.get(`${ctl.base}/api/system/restore`);
    assert.deepEqual(await state.json(), { staged: false });
  });

  it('fits a phone: no sideways scrolling on the dashboard, the menu opens from its button', async () => {
    const phone = await browser.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${ctl.base}/#/dashboard`);
    await phone.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await until(phone, countIs, [IDLE_1, 30]);
    const widths: { scroll: number; client: number } = await phone.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      client: document.documentElement.clientWidth,
    }));
    assert.ok(
      widths.scroll <= widths.client,
      `scrollWidth ${widths.scroll} > clientWidth ${widths.client}`,
    );
    await settles(() => phone.locator('#main-nav').isVisible(), false);
    await phone.getByRole('button', { name: 'Menu' }).click();
    await phone
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Call records' })
      .waitFor();
    shots.push(await screenshot(phone, '16-phone-dashboard'));
    await phone.close();
  });

  it('takes a screenshot of every page and logged no script error', async () => {
    for (const [hash, heading, name] of [
      ['dashboard', 'Dashboard', '20-page-dashboard'],
      ['trunks', 'Trunks', '21-page-trunks'],
      ['routing', 'Routing', '22-page-routing'],
      ['test-call', 'Test call', '23-page-test-call'],
      ['traces', 'Signalling traces', '24-page-traces'],
      ['flows?name=hotline', 'IVR flows', '25-page-flows'],
      ['campaigns', 'Campaigns', '26-page-campaigns'],
      ['cdr', 'Call records', '27-page-cdr'],
      ['users', 'Users', '28-page-users'],
      ['system', 'System', '29-page-system'],
    ] as const) {
      await open(page, ctl.base, hash, heading);
      await page.waitForLoadState('networkidle');
      await shot(name);
    }
    assert.deepEqual(pageErrors, []);
    assert.ok(shots.length >= 20);
  });
});
