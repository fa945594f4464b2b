import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { conversationUpdated, enqueueConversation, recordEvent, sqlRunner } from '@parley/domain';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, uniqueEmail } from '../../../test/support/api';
import { eventually, onboardChannel, startTestPlatform, type TestPlatform } from '../../../test/support/platform';
import { ensureConsoleBuilt } from '../scripts/ensure-built';

/**
 * The admin configuration screens in Debian's Chromium against a started platform: routing
 * (queues, business hours, a decision tree with its diagram and validation problems, the channel's
 * first destination, dry run, apply, versions and restore), the agents' waiting queues, the AI
 * assistant with its knowledge base, and the opt-out keywords.
 * CONSOLE_SCREENSHOTS=1 also writes docs/console/routing.png and assistant.png.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = process.env.CONSOLE_SCREENSHOTS ? path.resolve(import.meta.dirname, '../../../docs/console') : undefined;

let platform: TestPlatform;
let browser: Browser;
let page: Page;
let base: string;
let organizationId: string;
let adminEmail: string;
let channelId: string;
let phoneNumberId: string;
const agent = { name: 'Ana Agent', email: uniqueEmail('agent') };

/** A taller window for the picture, scrolled to the top of the screen. */
async function shot(name: string): Promise<void> {
  if (!SHOTS) return;
  await mkdir(SHOTS, { recursive: true });
  const size = page.viewportSize()!;
  await page.setViewportSize({ width: 1280, height: 1250 });
  await page.locator('main').evaluate((el: { scrollTop: number }) => {
    el.scrollTop = 0;
  });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  await page.setViewportSize(size);
}

async function tab(name: string): Promise<void> {
  await page.getByRole('tab', { name }).click();
  await page.getByRole('tabpanel', { name }).waitFor();
}

const draftState = () => page.locator('#draft-state').textContent();

/** Form controls on the screen that no label names (by <label>, aria-label or aria-labelledby). */
const unlabelled = (target: Page) =>
  target.evaluate(
    "[...document.querySelectorAll('main input, main select, main textarea')].filter((el) => el.type !== 'hidden' && !el.labels?.length && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')).map((el) => el.outerHTML.slice(0, 80))",
  );

beforeAll(async () => {
  await ensureConsoleBuilt({ quiet: true });
  // An AI provider is configured (never called here): enabling the assistant needs one.
  platform = await startTestPlatform({ worker: false, env: { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1', OPENAI_API_KEY: 'test-key' } });
  base = platform.api.url;
  const onboarded = await onboardChannel(platform);
  organizationId = onboarded.tenant.organizationId;
  adminEmail = onboarded.tenant.adminEmail;
  channelId = onboarded.channelId;
  phoneNumberId = onboarded.route.phoneNumberId;
  const created = await platform.api.call('POST', '/v1/users', { token: onboarded.tenant.adminToken, body: { ...agent, password: PASSWORD, role: 'agent' } });
  expect(created.status, created.text).toBe(201);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless', '--disable-gpu'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(10_000);
  // Confirmations (remove, restore) are accepted.
  page.on('dialog', (d) => void d.accept());
}, 180_000);

afterAll(async () => {
  await browser?.close();
  platform?.api.app.events.close();
  await platform?.close();
});

describe('the configuration screens in a browser', () => {
  it('signs in as an admin and opens an empty routing draft', async () => {
    await page.goto(`${base}/console/login`);
    await page.getByLabel('Email').fill(adminEmail);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/console/inbox`);
    await page.getByRole('link', { name: 'Routing' }).click();
    await page.getByRole('heading', { name: 'Routing', level: 1 }).waitFor();
    await expect.poll(draftState).toContain('Nothing is live yet');
    expect(await draftState()).toContain('Draft matches live');
    expect(await page.getByRole('button', { name: 'Apply configuration changes' }).isDisabled()).toBe(true);
    // The sections are tabs: arrow keys move between them, and only the current one is a tab stop.
    await page.getByRole('tab', { name: 'Queues' }).focus();
    await page.keyboard.press('ArrowRight');
    await page.getByRole('tabpanel', { name: 'Business hours' }).waitFor();
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Business hours');
    await page.keyboard.press('End');
    await page.getByRole('tabpanel', { name: 'Versions' }).waitFor();
    await page.keyboard.press('ArrowRight');
    await page.getByRole('tabpanel', { name: 'Queues' }).waitFor();
    expect(await page.getByRole('tab', { name: 'Queues' }).getAttribute('tabindex')).toBe('0');
    expect(await page.getByRole('tab', { name: 'Versions' }).getAttribute('tabindex')).toBe('-1');
  }, 60_000);

  it('creates queues with their agents', async () => {
    await tab('Queues');
    for (const [name, priority] of [
      ['Sales', '10'],
      ['Support', '5'],
    ] as const) {
      await page.getByLabel('Queue name').fill(name);
      await page.getByLabel('Priority (0–100)').fill(priority);
      await page.getByRole('checkbox', { name: /Ana Agent/ }).check();
      await page.getByRole('button', { name: 'Add queue' }).click();
      await page.getByRole('status').filter({ hasText: `Queue ${name} saved in the draft.` }).waitFor();
    }
    const table = page.getByRole('table', { name: 'Queues in the draft' });
    await expect.poll(() => table.getByRole('row').count()).toBe(3);
    expect(await table.getByRole('row', { name: /Sales/ }).textContent()).toContain('Ana Agent');
    // The server's limit comes back on its field.
    await page.getByRole('button', { name: 'Edit queue Support' }).click();
    await page.getByLabel('Auto-response (optional)').fill('Hi {{contact.name}}, you are number {{queue.position}}.');
    await page.getByRole('button', { name: 'Save queue' }).click();
    await page.getByRole('alert').filter({ hasText: 'Unknown placeholder {{contact.name}}' }).waitFor();
    expect(await page.getByLabel('Auto-response (optional)').getAttribute('aria-invalid')).toBe('true');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(draftState).toContain('Draft differs from live');
  }, 60_000);

  it('creates a time group with split shifts, a night range and a holiday', async () => {
    await tab('Business hours');
    await page.getByLabel('Time group name').fill('Office');
    await page.getByRole('button', { name: 'Add a range on Monday' }).click();
    await page.getByLabel('Monday range 1 closes').fill('13:00');
    await page.getByRole('button', { name: 'Add a range on Monday' }).click();
    await page.getByLabel('Monday range 2 opens').fill('14');
    await page.getByLabel('Monday range 2 opens').blur();
    expect(await page.getByLabel('Monday range 2 opens').inputValue()).toBe('14:00');
    await page.getByLabel('Monday range 2 closes').fill('18:00');
    await page.getByRole('button', { name: 'Copy Monday to Tuesday–Friday' }).click();
    expect(await page.getByLabel('Friday range 2 closes').inputValue()).toBe('18:00');
    // A range may run past midnight; a malformed one is pointed out before saving.
    await page.getByRole('button', { name: 'Add a range on Saturday' }).click();
    await page.getByLabel('Saturday range 1 opens').fill('22:00');
    await page.getByLabel('Saturday range 1 closes').fill('02:00');
    await page.getByText('22:00–02:00 (ends the next day)').waitFor();
    await page.getByRole('button', { name: 'Add a range on Sunday' }).click();
    await page.getByLabel('Sunday range 1 opens').fill('25:00');
    await page.getByText('Opening time must be HH:MM (00:00 to 23:59).').waitFor();
    await page.getByRole('button', { name: 'Remove Sunday range 1' }).click();
    await page.getByLabel('Holiday date').fill('2026-12-25');
    await page.getByLabel('Holiday name').fill('Christmas');
    await page.getByRole('button', { name: 'Add holiday' }).click();
    await page.getByRole('button', { name: 'Add time group' }).click();
    await page.getByRole('status').filter({ hasText: 'Time group Office saved in the draft.' }).waitFor();
    await page.getByText('Mon–Fri 09:00–13:00, 14:00–18:00; Sat 22:00–02:00 (ends the next day)').waitFor();
    await page.getByText('1 holiday, 0 overrides').waitFor();
  }, 60_000);

  it('shows a bad decision tree’s problems on their path, then fixes it in the form and shows its diagram', async () => {
    await tab('Decision trees');
    await page.getByRole('button', { name: 'New decision tree' }).click();
    await page.getByLabel('Tree name').fill('Welcome menu');
    // The form starts from a tree offering the draft's queues as choices.
    expect(await page.getByLabel('Choice 1 title').inputValue()).toBe('Sales');
    expect(await page.getByLabel('Choice 2 title').inputValue()).toBe('Support');
    await page.getByLabel('Choice 1 pattern').fill('(a+)+$');
    await page.getByRole('button', { name: 'JSON', exact: true }).click();
    const json = page.getByLabel('Tree (JSON)');
    const tree = JSON.parse(await json.inputValue()) as { decisions: { next: { choices?: { target: unknown; pattern?: string }[] } }[] };
    expect(tree.decisions[1]!.next.choices![0]!.pattern).toBe('(a+)+$');
    tree.decisions[1]!.next.choices![1]!.target = 'nowhere';
    await json.fill(JSON.stringify(tree));
    // The diagram follows the JSON as it is typed: the unknown decision shows at once.
    await page.getByRole('article', { name: 'Unknown decision “nowhere”' }).waitFor();
    await page.getByRole('button', { name: 'Save tree' }).click();
    const problems = page.getByRole('alert').filter({ hasText: 'Not saved' });
    await problems.waitFor();
    expect(await problems.getByRole('button', { name: 'decisions.1.next.choices.1.target' }).count()).toBe(1);
    expect(await problems.getByRole('button', { name: /decisions\.1\.next\.choices\.0\.pattern/ }).count()).toBe(1);
    // The problem is also shown on its edge in the diagram.
    expect(await page.locator('[data-edge="decisions.1.next.choices.1"]').getAttribute('class')).toContain('has-problem');
    // Choosing a problem puts the cursor on its line of the JSON (reformatted on save).
    await problems.getByRole('button', { name: 'decisions.1.next.choices.1.target' }).click();
    type TextArea = { value: string; selectionStart: number; selectionEnd: number };
    const selected = await json.evaluate((el: TextArea) => el.value.slice(el.selectionStart, el.selectionEnd));
    expect(selected.trim()).toBe('"target": "nowhere"');

    // Fixed in the form: the decision says how many problems it has.
    await page.getByRole('button', { name: 'Form', exact: true }).click();
    await page.getByText('Decision menu — 2 problems').waitFor();
    await page.getByLabel('Choice 1 pattern').fill('');
    await page.getByLabel('Choice 1 similar words').fill('buy, price');
    await page.getByLabel('Choice 2 goes to', { exact: true }).selectOption({ label: 'Queue' });
    await page.getByLabel('Choice 2 goes to: which queue').selectOption({ label: 'Support' });
    await page.getByRole('button', { name: 'Save tree' }).click();
    await page.getByRole('status').filter({ hasText: 'Tree Welcome menu saved in the draft.' }).waitFor();
    const diagram = page.getByRole('list', { name: /Diagram of the tree/ });
    await diagram.getByRole('article', { name: 'Start Decision welcome' }).waitFor();
    const menu = diagram.getByRole('article', { name: 'Decision menu' });
    expect(await menu.locator('.question').textContent()).toContain('How can we help?');
    const rows = await menu.getByRole('list', { name: 'Goes to' }).getByRole('listitem').allTextContents();
    expect(rows.map((r) => r.replace(/\s+/g, ' ').trim())).toEqual([
      'answer Sales → goes to Queue Sales',
      'answer Support → goes to Queue Support',
      'default any other answer → goes to Decision menu',
    ]);
    expect(await page.locator('svg.tree-edges path.edge').count()).toBe(4);
    const saved = await platform.api.call('GET', '/v1/routing/draft/decision-trees', { token: await adminToken() });
    expect(saved.body.data[0].tree.decisions[1].next.choices[0]).toMatchObject({ title: 'Sales', similar: ['buy', 'price'] });
    expect(saved.body.data[0].tree.decisions[1].next.choices[0].pattern).toBeUndefined();
    // Following an edge with the keyboard lands on its target box.
    await menu.getByRole('link', { name: /Queue Sales/ }).press('Enter');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Queue Sales');
  }, 60_000);

  it('adds an ending and a chatbot, with the bot URL checked by the server', async () => {
    await tab('Endings and bots');
    await page.getByLabel('Ending name').fill('After hours');
    await page.getByLabel('Cause (for reports)').fill('out_of_hours');
    await page.getByLabel('Count as a missed chat for').selectOption({ label: 'Sales' });
    await page.getByRole('button', { name: 'Add ending' }).click();
    await page.getByRole('status').filter({ hasText: 'Ending After hours saved in the draft.' }).waitFor();
    await page.getByText('Cause out_of_hours; missed chat for Sales').waitFor();

    await page.getByLabel('Chatbot name').fill('Order bot');
    await page.getByLabel('Bot URL (https)').fill('https://bot.invalid/hook');
    await page.getByLabel('Kind').selectOption('terminate');
    await page.getByLabel('End the chat', { exact: true }).selectOption({ label: 'After hours' });
    await page.getByRole('button', { name: 'Add chatbot' }).click();
    await page.getByRole('alert').filter({ hasText: 'Not saved' }).waitFor();
    expect(await page.getByLabel('Bot URL (https)').getAttribute('aria-invalid')).toBe('true');
    await page.getByLabel('Bot URL (https)').fill('https://93.184.216.34/hook');
    await page.getByRole('button', { name: 'Add chatbot' }).click();
    await page.getByRole('status').filter({ hasText: 'Chatbot Order bot saved in the draft.' }).waitFor();
    await page.getByText('https://93.184.216.34/hook; if it fails: End the chat After hours').waitFor();
    await page.getByRole('button', { name: 'Show the signing secret of Order bot' }).click();
    expect(await page.locator('code.secret').textContent()).toMatch(/^whsec_/);
  }, 60_000);

  it('routes the channel to the tree, dry runs a message, applies and shows the live version change', async () => {
    await tab('Channels');
    await page.getByLabel('Kind').selectOption('decision_tree');
    await page.getByLabel('Decision tree', { exact: true }).selectOption({ label: 'Welcome menu' });
    await page.getByLabel('Attachments').selectOption('from_contact');
    await page.getByRole('button', { name: 'Save channel routing' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved in the draft: Decision tree Welcome menu.' }).waitFor();

    await page.getByText(/Compare: \d+ changes/).click();
    const changes = page.getByRole('list', { name: 'Changes the draft would make' });
    for (const text of ['added Queue Sales', 'added Time group Office', 'added Decision tree Welcome menu', 'added Channel routing Line']) {
      await changes.getByText(text).waitFor();
    }

    await tab('Dry run');
    await page.getByLabel('Message', { exact: true }).fill('sales');
    await page.getByRole('button', { name: 'Run dry run' }).click();
    const route = page.getByRole('list', { name: 'Route' });
    await route.waitFor();
    const steps = await route.getByRole('listitem').allTextContents();
    expect(steps[0]).toBe('The number’s routing sends it to Decision tree Welcome menu');
    expect(steps).toContain('Tree Welcome menu: decision menu, answered choice choice_1 (typed the title)');
    await page.getByText('Destination: Queue Sales').waitFor();
    await page.getByText(/It would be number 1 in Sales/).waitFor();
    // The live routing has nothing yet.
    await page.getByRole('radio', { name: 'Live' }).check();
    await page.getByRole('button', { name: 'Run dry run' }).click();
    await page.getByText('This number has no routing: the conversation would wait in the inbox.').waitFor();

    await page.getByRole('button', { name: 'Apply configuration changes' }).click();
    await page.getByText('Version 1 is live.').waitFor();
    await expect.poll(draftState).toContain('Live: version 1');
    expect(await draftState()).toContain('Draft matches live');
    await page.getByRole('button', { name: 'Run dry run' }).click();
    await page.getByText('Live version 1', { exact: false }).waitFor();
    await page.getByText('Destination: Queue Sales').waitFor();
    await tab('Decision trees');
    await shot('routing');
  }, 60_000);

  it('lists versions and restores an earlier one as a new live version', async () => {
    await tab('Queues');
    await page.getByRole('button', { name: 'Edit queue Support' }).click();
    await page.getByLabel('Priority (0–100)').fill('7');
    await page.getByRole('button', { name: 'Save queue' }).click();
    await expect.poll(draftState).toContain('Draft differs from live');
    await page.getByRole('button', { name: 'Apply configuration changes' }).click();
    await expect.poll(draftState).toContain('Live: version 2');
    await tab('Versions');
    const table = page.getByRole('table', { name: 'Routing versions, newest first' });
    await table.getByRole('row', { name: /^2 Live/ }).waitFor();
    await table.getByRole('button', { name: 'Restore version 1' }).click();
    await page.getByText('Version 1 restored as version 3, now live.').waitFor();
    await table.getByRole('row', { name: /Restored from version 1/ }).waitFor();
    await table.getByRole('button', { name: 'Show version 1' }).click();
    const contents = table.locator('.version-contents');
    await contents.getByText('Sales, Support').waitFor();
    await contents.getByText('Line → Decision tree Welcome menu').waitFor();
    expect(await table.getByRole('button', { name: 'Show version 1' }).getAttribute('aria-expanded')).toBe('true');
    await expect.poll(draftState).toContain('Live: version 3');
    // The draft is not changed by a restore, so it now differs from the live routing again.
    expect(await draftState()).toContain('Draft differs from live');

    // The draft may also be applied later, and the scheduled apply cancelled.
    await page.getByText('Apply later').click();
    await page.getByLabel(/^Time \(/).fill('2099-01-02T06:00');
    await page.getByRole('button', { name: 'Schedule apply' }).click();
    const scheduled = page.getByRole('list', { name: 'Scheduled applies' });
    await scheduled.getByText(/Goes live on .*2099/).waitFor();
    const schedules = await platform.api.call('GET', '/v1/routing/schedules', { token: await adminToken() });
    expect(schedules.body.data[0]).toMatchObject({ status: 'pending', at: '2099-01-02T06:00:00.000Z' });
    await scheduled.getByRole('button', { name: /Cancel the apply of/ }).click();
    await expect.poll(() => scheduled.count()).toBe(0);
    // With the last one gone, the panel stays open, so its confirmation stays in view.
    await page.getByText(/The apply of .* is cancelled\./).waitFor();
  }, 60_000);

  it('fits a phone screen: the tree diagram, hours and versions scroll inside, not the page', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    const tokens = (await page.evaluate("sessionStorage.getItem('parley.session')")) as string;
    await phone.goto(`${base}/console/login`);
    await phone.evaluate(`sessionStorage.setItem('parley.session', ${JSON.stringify(tokens)})`);
    for (const section of ['queues', 'hours', 'channels', 'trees', 'endings', 'dry-run', 'versions']) {
      await phone.goto(`${base}/console/routing?tab=${section}`);
      await phone.getByRole('tabpanel').waitFor();
      await phone.waitForTimeout(200);
      const overflow = (await phone.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
      expect(overflow, section).toBeLessThanOrEqual(0);
      expect(await unlabelled(phone), section).toEqual([]);
      // Only main scrolls: nothing pushes the window itself taller than the screen.
      const below = (await phone.evaluate('document.documentElement.scrollHeight - window.innerHeight')) as number;
      expect(below, section).toBeLessThanOrEqual(0);
    }
    await phone.goto(`${base}/console/routing?tab=trees`);
    await phone.getByRole('article', { name: 'Decision menu' }).waitFor();
    await phone.close();
  }, 60_000);

  it('lets an agent take a conversation waiting in a queue, which appears there live', async () => {
    const agentPage = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    await agentPage.goto(`${base}/console/login`);
    await agentPage.getByLabel('Email').fill(agent.email);
    await agentPage.getByLabel('Password').fill(PASSWORD);
    await agentPage.getByRole('button', { name: 'Sign in' }).click();
    await agentPage.waitForURL(`${base}/console/inbox`);
    expect(await agentPage.getByRole('link', { name: 'Routing' }).count()).toBe(0);
    await agentPage.getByRole('link', { name: 'Queues' }).click();
    await agentPage.getByText('Nobody is waiting.').waitFor();
    await agentPage.getByText('The list follows the queues live.').waitFor();

    const res = await fetch(`${platform.sandbox.url}/_sandbox/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phoneNumberId, from: '50255550001', name: 'Bea', type: 'text', text: 'Hola' }),
    });
    expect(res.status).toBe(200);
    const sql = sqlRunner(platform.api.orm.em.fork());
    const conversation = await eventually(async () => {
      const rows = await sql.all<{ id: string }>(`select cv.id from conversations cv join contacts ct on ct.id = cv.contact_id where cv.organization_id = ? and ct.phone = ?`, [organizationId, '+50255550001']);
      return rows[0];
    }, 10_000, 'the conversation');
    const live = await sql.all<{ document: { queues: { id: string; name: string }[] } }>(
      `select v.document from routing_versions v where v.organization_id = ? order by v.number desc limit 1`,
      [organizationId],
    );
    const sales = live[0]!.document.queues.find((q) => q.name === 'Sales')!;
    // The routing runner is the worker's; here the conversation joins the queue as the runner's
    // dispatcher does it: the waiting row and its conversation.update in one transaction.
    const joinedAt = Date.now();
    await platform.api.orm.em.fork().transactional(async (tx) => {
      const t = sqlRunner(tx);
      const standing = await enqueueConversation(t, organizationId, sales.id, conversation.id, new Date());
      await recordEvent(t, organizationId, 'conversation.update', await conversationUpdated(t, organizationId, conversation.id, { queueId: sales.id }, { queueId: standing.previousQueueId }, new Date()), new Date());
    });

    // No reload: the event stream brings it, well before the page's one-minute backstop.
    const queue = agentPage.getByRole('region', { name: 'Sales' });
    const row = queue.getByRole('row', { name: /Bea/ });
    await row.waitFor({ timeout: 15_000 });
    expect(Date.now() - joinedAt).toBeLessThan(15_000);
    expect(await row.getByRole('cell').first().textContent()).toBe('1');
    const overflow = (await agentPage.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    expect(overflow).toBeLessThanOrEqual(0);
    await row.getByRole('button', { name: 'Take Bea' }).click();
    await agentPage.waitForURL(new RegExp(`/console/inbox/${conversation.id}$`));
    await agentPage.getByRole('heading', { name: 'Bea', level: 2 }).waitFor();
    const [assigned] = await sql.all<{ assignee: string | null }>(`select assignee from conversations where id = ?`, [conversation.id]);
    expect(assigned!.assignee).not.toBeNull();
    await agentPage.getByRole('link', { name: 'Queues' }).click();
    await agentPage.getByText('Nobody is waiting.').waitFor();
    await agentPage.close();
  }, 60_000);

  it('configures the channel’s assistant and its knowledge base, kept after a reload', async () => {
    await page.getByRole('link', { name: 'Assistant' }).click();
    await page.getByRole('heading', { name: 'AI assistant', level: 1 }).waitFor();
    await page.getByText('This number has no assistant yet.').waitFor();
    await page.getByRole('radio', { name: /Suggest drafts/ }).check();
    await page.getByLabel('Handoff message (optional)').fill('Te paso con una persona del equipo.');
    await page.getByLabel('Reply language').fill('Spanish');
    await page.getByLabel('Reply length').selectOption('medium');
    await page.getByLabel('Quiet time (seconds)').fill('5');
    await page.getByLabel('Knowledge entries per reply').fill('4');
    await page.getByRole('button', { name: 'Save assistant' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved: suggest drafts.' }).waitFor();

    await page.getByLabel('Title').fill('Shipping');
    await page.getByLabel('Text', { exact: true }).fill('We ship within 48 hours to all of Guatemala.');
    await page.getByRole('button', { name: 'Add entry' }).click();
    const entries = page.getByRole('list', { name: 'Knowledge entries' });
    await entries.getByRole('heading', { name: 'Shipping' }).waitFor();
    await entries.getByRole('button', { name: 'Edit Shipping' }).click();
    await page.getByLabel('Entry text').fill('We ship within 24 hours to all of Guatemala.');
    await page.getByRole('button', { name: 'Save entry' }).click();
    await entries.getByText('We ship within 24 hours to all of Guatemala.').waitFor();

    await page.getByLabel('Monthly token budget').fill('200000');
    await page.getByRole('button', { name: 'Save budget' }).click();
    await page.getByText('Monthly budget: 200,000 tokens.').waitFor();
    await shot('assistant');

    expect(await unlabelled(page)).toEqual([]);
    await page.reload();
    await page.getByRole('radio', { name: /Suggest drafts/ }).waitFor();
    expect(await page.getByRole('radio', { name: /Suggest drafts/ }).isChecked()).toBe(true);
    expect(await page.getByLabel('Handoff message (optional)').inputValue()).toBe('Te paso con una persona del equipo.');
    expect(await page.getByLabel('Quiet time (seconds)').inputValue()).toBe('5');
    expect(await page.getByLabel('Reply length').inputValue()).toBe('medium');
    await entries.getByText('We ship within 24 hours to all of Guatemala.').waitFor();
    expect(await page.getByLabel('Monthly token budget').inputValue()).toBe('200000');
    const settings = await platform.api.call('GET', `/v1/channels/${channelId}/assistant`, { token: await adminToken() });
    expect(settings.body).toMatchObject({ mode: 'draft', enabled: true, language: 'Spanish', replyLength: 'medium', quietTimeMs: 5000, knowledgeTopK: 4 });
    await entries.getByRole('button', { name: 'Remove Shipping' }).click();
    await page.getByText('No entries yet.').waitFor();
  }, 60_000);

  it('changes the opt-out keywords, kept after a reload', async () => {
    await page.getByRole('link', { name: 'Opt-out' }).click();
    const keywords = page.getByLabel('Opt-out keywords (one a line)');
    await expect.poll(() => keywords.inputValue()).toContain('stop');
    await keywords.fill('stop\nBaja\n\nunsubscribe, cancelar');
    await page.getByLabel('Opt-in keywords (one a line)').fill('start');
    await page.getByRole('button', { name: 'Save keywords' }).click();
    await page.getByText('Saved: 4 opt-out and 1 opt-in keyword.').waitFor();
    expect(await unlabelled(page)).toEqual([]);
    await page.reload();
    await expect.poll(() => keywords.inputValue()).toBe('stop\nbaja\nunsubscribe\ncancelar');
    expect(await page.getByLabel('Opt-in keywords (one a line)').inputValue()).toBe('start');
    // The same word for both is refused by the server and nothing changes.
    await page.getByLabel('Opt-in keywords (one a line)').fill('baja');
    await page.getByRole('button', { name: 'Save keywords' }).click();
    await page.getByRole('alert').filter({ hasText: 'Also an opt-out keyword: baja.' }).waitFor();
  }, 60_000);
});

async function adminToken(): Promise<string> {
  const login = await platform.api.call('POST', '/v1/auth/login', { body: { email: adminEmail, password: PASSWORD } });
  return login.body.accessToken as string;
}
