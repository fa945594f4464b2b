import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { WebhookDispatcher } from '@parley/domain';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, PASSWORD, type Tenant, uniqueEmail } from '../../../test/support/api';
import { eventually, startTestPlatform, type TestPlatform } from '../../../test/support/platform';
import { Receiver, testDispatcher } from '../../api/test/webhook-support';
import { ensureConsoleBuilt } from '../scripts/ensure-built';

/**
 * The admin configuration screens in Debian's Chromium against a started platform: a partner
 * webhook subscribed to a real receiver on 127.0.0.1, its delivery log after an event, a secret
 * rotation and a retry; an app hired from the bot store and a partner token issued; a user's
 * role changed. CONSOLE_SCREENSHOTS=1 also writes docs/console/webhooks.png and apps.png.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = process.env.CONSOLE_SCREENSHOTS ? path.resolve(import.meta.dirname, '../../../docs/console') : undefined;

let platform: TestPlatform;
let browser: Browser;
let page: Page;
let tenant: Tenant;
let base: string;
let receiver: Receiver;
let dispatcher: WebhookDispatcher;
let appName: string;
let agentEmail: string;
let subscriptionId: string;

async function shot(name: string): Promise<void> {
  if (!SHOTS) return;
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/**
 * How far the page and main scroll sideways, and the elements sticking out past main's right
 * edge (inside a `.scroll-x` region, scrolling is intended), so a failure says what to fix. A
 * string, not a function: this file is type-checked without the DOM library.
 */
function sideways(): Promise<unknown> {
  return page.evaluate(`(() => {
    const main = document.querySelector('main');
    const root = document.documentElement;
    const edge = main.getBoundingClientRect().right;
    const out = [...main.querySelectorAll('*')]
      .filter((el) => el.getBoundingClientRect().right > edge + 0.5 && !el.closest('.scroll-x *'))
      .map((el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''));
    return { page: root.scrollWidth - root.clientWidth, main: main.scrollWidth - main.clientWidth, out };
  })()`);
}

/** A contact starts a conversation: the `conversation.create` event the subscription receives. */
async function conversationStarts(phone: string): Promise<void> {
  const res = await platform.api.call('POST', '/v1/conversations', {
    token: tenant.adminToken,
    body: { type: 'contact', contact: { profile: { name: 'Ana', telephone: phone } } },
  });
  expect(res.status, res.text).toBe(201);
}

beforeAll(async () => {
  await ensureConsoleBuilt({ quiet: true });
  // The receiver listens on http://127.0.0.1, which only ALLOW_INSECURE_WEBHOOKS admits.
  platform = await startTestPlatform({ env: { ALLOW_INSECURE_WEBHOOKS: 'true' } });
  base = platform.api.url;
  const tag = `admin-browser-${Date.now()}`;
  tenant = await createTenant(platform.api, { name: 'Admin Co', tags: [tag] });
  // The bot store lists an app to organizations carrying one of its tags; another one publishes it.
  const publisher = await createTenant(platform.api, { name: 'Partner Co' });
  appName = `Order bot ${Date.now()}`;
  const app = await platform.api.call('POST', '/v1/apps', {
    token: publisher.adminToken,
    body: { name: appName, description: 'Answers where an order is.', tags: [tag], scopes: ['conversations:read', 'messages:write'] },
  });
  expect(app.status, app.text).toBe(201);
  agentEmail = uniqueEmail('agent');
  const agent = await platform.api.call('POST', '/v1/users', {
    token: tenant.adminToken,
    body: { email: agentEmail, password: PASSWORD, name: 'Alex Agent', role: 'agent' },
  });
  expect(agent.status, agent.text).toBe(201);

  receiver = await Receiver.start();
  // The test platform runs no webhook dispatcher (the worker process does). This one fans out and
  // delivers only this organization's events: the database is shared with other test files, whose
  // deliveries an unscoped dispatcher would take and send from here.
  dispatcher = testDispatcher(platform.api, [tenant.organizationId]).dispatcher;
  dispatcher.start();

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless', '--disable-gpu'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(10_000);
}, 180_000);

afterAll(async () => {
  await dispatcher?.stop();
  await receiver?.close();
  await browser?.close();
  platform?.api.app.events.close();
  await platform?.close();
});

describe('the admin screens in a browser', () => {
  it('signs in as an admin, who sees Webhooks and Apps', async () => {
    await page.goto(`${base}/console/login`);
    await page.getByLabel('Email').fill(tenant.adminEmail);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/console/inbox`);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Webhooks' }).waitFor();
    await nav.getByRole('link', { name: 'Apps' }).waitFor();
  }, 60_000);

  it('subscribes a webhook to a receiver and shows its secret once', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    await page.getByText('No subscription yet.').waitFor();

    // Without an event the form refuses before calling the platform.
    await page.getByLabel('Endpoint URL').fill(receiver.url);
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Choose at least one event');
    expect(receiver.challenges).toHaveLength(0);

    await page.getByLabel('Every conversation event').check();
    // The group covers its events, which are shown ticked and locked.
    expect(await page.getByLabel(/conversation\.create/).isChecked()).toBe(true);
    expect(await page.getByLabel(/conversation\.create/).isDisabled()).toBe(true);
    await page.getByLabel('Description (optional)').fill('CRM sync');
    await page.getByRole('button', { name: 'Subscribe' }).click();

    const secretBox = page.getByRole('region', { name: /Signing secret of/ });
    await secretBox.waitFor();
    expect(await secretBox.textContent()).toContain('you will not see it again');
    const secret = await secretBox.getByRole('textbox', { name: 'Signing secret' }).inputValue();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    expect(receiver.challenges).toHaveLength(1);
    receiver.secrets = [secret];

    const card = page.getByRole('listitem', { name: `Subscription ${receiver.url}` });
    await card.waitFor();
    expect(await card.textContent()).toContain('Active');
    expect(await card.textContent()).toContain('conversation');
    await secretBox.getByRole('button', { name: 'I have kept it' }).click();
    await secretBox.waitFor({ state: 'detached' });
    // Gone for good: nothing on the page or in the API's answers carries it any more.
    expect(await page.content()).not.toContain(secret);
    const listed = await platform.api.call('GET', '/v1/webhooks', { token: tenant.adminToken });
    expect(listed.text).not.toContain(secret);
    subscriptionId = listed.body.data[0].id;
  }, 60_000);

  it('shows the delivery log with a delivered attempt after an event happens', async () => {
    await page.getByRole('link', { name: `Delivery log and settings of ${receiver.url}` }).click();
    await page.waitForURL(`${base}/console/webhooks/${subscriptionId}`);
    await page.getByRole('heading', { name: receiver.url, level: 1 }).waitFor();
    await page.getByText('No delivery matches.').waitFor();

    await conversationStarts('+14155550170');
    // The receiver has it, signed with the secret shown once.
    const received = await eventually(async () => receiver.received.find((r) => r.event.type === 'conversation.create'), 10_000, 'the delivery');
    expect(received.verifiedWith).toBe(receiver.secrets[0]);

    // The log reads itself again every 5 s; the Refresh button does it now.
    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    const item = page.getByRole('listitem', { name: 'conversation.create, Delivered' });
    await item.waitFor();
    await item.locator('summary').click();
    const attempts = item.getByRole('region', { name: 'Attempts of conversation.create' });
    await attempts.waitFor();
    const row = attempts.locator('tbody tr');
    expect(await row.count()).toBe(1);
    const cells = await row.first().locator('td').allTextContents();
    expect(cells[1]).toBe('event');
    expect(cells[2]).toBe('204');
    expect(cells[3]).toMatch(/^\d+ ms$/);
    expect(await item.textContent()).toContain(received.webhookId);

    // Filtering by status asks the API: nothing failed.
    await page.getByLabel('Status', { exact: true }).selectOption('failed');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    await page.getByText('No delivery matches.').waitFor();
    await page.getByRole('button', { name: 'Clear', exact: true }).click();
    await item.waitFor();
  }, 60_000);

  it('rotates the secret, shown once, and retries a delivery signed with the new one', async () => {
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const secretBox = page.getByRole('region', { name: 'New signing secret' });
    await secretBox.waitFor();
    const rotated = await secretBox.getByRole('textbox', { name: 'Signing secret' }).inputValue();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(receiver.secrets[0]);
    await page.getByText(/The previous secret signs until/).waitFor();
    await secretBox.getByRole('button', { name: 'I have kept it' }).click();
    await secretBox.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(rotated);

    // The receiver now knows only the new secret: the retry must verify with it.
    receiver.secrets = [rotated];
    const before = receiver.received.length;
    const item = page.getByRole('listitem', { name: /^conversation\.create, / });
    if ((await item.locator('details').getAttribute('open')) === null) await item.locator('summary').click();
    await item.getByRole('button', { name: 'Retry conversation.create now' }).click();
    await page.getByText('Retry of conversation.create queued').waitFor();
    const retried = await eventually(async () => receiver.received.length > before && receiver.received.at(-1), 10_000, 'the retry');
    expect(retried.webhookId).toBe(receiver.received[0]!.webhookId);
    expect(retried.verifiedWith).toBe(rotated);

    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    const attempts = item.getByRole('region', { name: 'Attempts of conversation.create' });
    await expect.poll(async () => (await attempts.locator('tbody tr').allTextContents()).length, { timeout: 10_000 }).toBe(2);
    expect(await attempts.locator('tbody tr').nth(1).locator('td').nth(1).textContent()).toBe('manual');
  }, 60_000);

  it('replays a time range and shows the backlog', async () => {
    const now = new Date();
    const local = (d: Date) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await page.getByLabel('From', { exact: true }).fill(local(new Date(now.getTime() - 3_600_000)));
    await page.getByLabel('Until', { exact: true }).fill(local(new Date(now.getTime() + 120_000)));
    await page.getByRole('button', { name: 'Replay' }).click();
    await page.getByText('1 event queued for delivery again.').waitFor();
    await eventually(async () => receiver.received.filter((r) => r.webhookId === receiver.received[0]!.webhookId).length >= 3, 10_000, 'the replay');
    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    const attempts = page.getByRole('region', { name: 'Attempts of conversation.create' });
    await expect.poll(async () => (await attempts.locator('tbody tr td:nth-child(2)').allTextContents()), { timeout: 10_000 }).toEqual(['event', 'manual', 'replay']);
    // The log is below the settings; main scrolls inside the viewport, so scroll it there first.
    await page.evaluate(`(() => {
      const main = document.querySelector('main');
      main.scrollTop += document.getElementById('log-title').getBoundingClientRect().top - main.getBoundingClientRect().top - 16;
    })()`);
    await shot('webhooks');

    await page.getByRole('link', { name: '← All webhooks' }).click();
    await expect.poll(() => page.getByTestId('backlog').textContent(), { timeout: 10_000 }).toBe('Everything is delivered.');
  }, 60_000);

  it('fits a phone: no sideways scrolling on the subscription screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: `Delivery log and settings of ${receiver.url}` }).click();
    const item = page.getByRole('listitem', { name: /^conversation\.create, / });
    await item.locator('summary').click();
    expect(await sideways()).toEqual({ page: 0, main: 0, out: [] });
    await page.setViewportSize({ width: 1280, height: 900 });
  }, 60_000);

  it('edits the events, disables and enables again, and deletes after a confirmation', async () => {
    const get = () => platform.api.call('GET', `/v1/webhooks/${subscriptionId}`, { token: tenant.adminToken });
    await page.getByLabel('Every message event').check();
    await page.getByRole('button', { name: 'Save events' }).click();
    await page.getByText('Saved.', { exact: true }).waitFor();
    expect((await get()).body.events).toEqual(['conversation', 'message']);

    await page.getByRole('button', { name: 'Disable', exact: true }).click();
    await page.getByText(/^Disabled on .*: disabled by request\.$/).waitFor();
    expect((await get()).body).toMatchObject({ status: 'disabled', disabledReason: 'disabled by request' });
    const challenges = receiver.challenges.length;
    await page.getByRole('button', { name: 'Enable', exact: true }).click();
    await page.getByText(/^Enabled: the endpoint answered the challenge/).waitFor();
    // Enabling verifies the endpoint again.
    expect(receiver.challenges).toHaveLength(challenges + 1);
    expect((await get()).body.status).toBe('active');

    // Dismissing the confirmation keeps it; accepting deletes it.
    page.once('dialog', (d) => void d.dismiss());
    await page.getByRole('button', { name: 'Delete…' }).click();
    expect((await get()).status).toBe(200);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete…' }).click();
    await page.waitForURL(`${base}/console/webhooks`);
    await page.getByText('No subscription yet.').waitFor();
    expect((await get()).status).toBe(404);
  }, 60_000);

  it('installs an app from the bot store and issues a partner token shown once', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Apps' }).click();
    await page.getByRole('heading', { name: 'Bot store', level: 1 }).waitFor();
    await page.getByText('No app is installed.').waitFor();
    const card = page.getByRole('listitem', { name: `App ${appName}` });
    // Grant only one of the two scopes it asks for.
    await card.getByLabel('messages:write').uncheck();
    await card.getByRole('button', { name: `Install ${appName}` }).click();
    const installed = page.getByRole('listitem', { name: `Installation of ${appName}` });
    await installed.waitFor();
    expect(await installed.textContent()).toContain('conversations:read');
    expect(await installed.textContent()).not.toContain('messages:write');
    await shot('apps');

    await installed.getByRole('button', { name: `Issue token for ${appName}` }).click();
    const secretBox = page.getByRole('region', { name: `Partner token for ${appName}` });
    await secretBox.waitFor();
    expect(await secretBox.textContent()).toContain('you will not see it again');
    const accessToken = await secretBox.getByRole('textbox', { name: 'Access token' }).inputValue();
    const me = await platform.api.call('GET', '/v1/me', { token: accessToken });
    expect(me.status, me.text).toBe(200);
    expect(me.body).toMatchObject({ kind: 'installation', organizationId: tenant.organizationId, scopes: ['conversations:read'] });
    await secretBox.getByRole('button', { name: 'I have kept it' }).click();
    await secretBox.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(accessToken);

    // Uninstalling asks first; the partner's token stops at once and the app can be hired again.
    page.once('dialog', (d) => void d.accept());
    await installed.getByRole('button', { name: `Uninstall ${appName}` }).click();
    await page.getByText(`${appName} is uninstalled.`).waitFor();
    await page.getByText('No app is installed.').waitFor();
    expect((await platform.api.call('GET', '/v1/me', { token: accessToken })).status).toBe(401);
    await card.getByRole('button', { name: `Install ${appName}` }).waitFor();
  }, 60_000);

  it('changes a user’s role, and refuses to leave the organization without an admin', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();

    // The only admin stepping down: refused, and the choice snaps back.
    const selfRow = page.getByRole('row').filter({ hasText: '(you)' });
    page.once('dialog', (d) => void d.accept());
    await selfRow.getByRole('combobox').selectOption('agent');
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('without an active admin');
    await expect.poll(() => selfRow.getByRole('combobox').inputValue()).toBe('admin');

    await page.getByRole('combobox', { name: 'Role of Alex Agent' }).selectOption('admin');
    await page.getByText('Alex Agent is now an admin.').waitFor();
    const users = await platform.api.call('GET', '/v1/users', { token: tenant.adminToken });
    expect(users.body.data.find((u: { email: string }) => u.email === agentEmail)).toMatchObject({ role: 'admin', disabledAt: null });

    // Deactivating asks first, then signs the user out for good until reactivated.
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Deactivate Alex Agent' }).click();
    await page.getByText('Alex Agent is deactivated.').waitFor();
    const login = await platform.api.call('POST', '/v1/auth/login', { body: { email: agentEmail, password: PASSWORD } });
    expect(login.status).toBe(401);
    await page.getByRole('button', { name: 'Reactivate Alex Agent' }).click();
    await page.getByText('Alex Agent can sign in again.').waitFor();
    expect((await platform.api.call('POST', '/v1/auth/login', { body: { email: agentEmail, password: PASSWORD } })).status).toBe(200);
  }, 60_000);

  it('fits a phone: the webhooks, bot store and users screens', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const [link, heading] of [['Webhooks', 'Webhooks'], ['Apps', 'Bot store'], ['Users', 'Users']] as const) {
      await nav.getByRole('link', { name: link }).click();
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      expect(await sideways(), link).toEqual({ page: 0, main: 0, out: [] });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  }, 60_000);

  it('lets an admin step down once another admin exists, and then shows the agent’s console', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    const selfRow = page.getByRole('row').filter({ hasText: '(you)' });
    // Declining the confirmation changes nothing.
    page.once('dialog', (d) => void d.dismiss());
    await selfRow.getByRole('combobox').selectOption('agent');
    await expect.poll(() => selfRow.getByRole('combobox').inputValue()).toBe('admin');
    page.once('dialog', (d) => void d.accept());
    await selfRow.getByRole('combobox').selectOption('agent');
    // The console reloads and reads the role again: the agent's navigation, without admin screens.
    await page.waitForURL(`${base}/console/inbox`);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Inbox' }).waitFor();
    expect(await nav.getByRole('link', { name: 'Webhooks' }).count()).toBe(0);
    await page.goto(`${base}/console/webhooks`);
    await page.waitForURL(`${base}/console/inbox`);
  }, 60_000);
});
