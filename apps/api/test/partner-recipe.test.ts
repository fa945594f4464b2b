import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createLogger, SecretBox, systemClock } from '@parley/core';
import { WebhookDispatcher, WebhookHttpClient } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installApp, startTestApi, type TestApi } from '../../../test/support/api';
import { contactWrites, insertTemplate, newOrg, newPhone } from './messaging-support';

/**
 * The integration guide's recipe (examples/partner-recipe) run as a partner would run it: its own
 * process, importing the built @parley/sdk, against the platform started here. It upserts a
 * conversation with a field and a template, subscribes to webhooks, and must log the contact's
 * WhatsApp reply that the delivery engine brings it.
 */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

let api: TestApi;
let dispatcher: WebhookDispatcher | undefined;
let partner: ChildProcess | undefined;

beforeAll(async () => {
  // The example imports the package as published: dist/, built by the SDK's own tsconfig.
  await run(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}packages/sdk/tsconfig.build.json`], { cwd: root });
  api = await startTestApi({ env: { ALLOW_INSECURE_WEBHOOKS: 'true' } });
});

afterAll(async () => {
  partner?.kill('SIGTERM');
  await dispatcher?.stop();
  await api?.close();
});

/** Lines the process prints, and a way to wait for one. */
function lines(child: ChildProcess): { all: string[]; waitFor: (match: RegExp, timeoutMs?: number) => Promise<string> } {
  const all: string[] = [];
  let buffered = '';
  const waiters: { match: RegExp; resolve: (line: string) => void }[] = [];
  const take = (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) {
      all.push(line);
      for (const w of waiters.filter((w) => w.match.test(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  return {
    all,
    waitFor: (match, timeoutMs = 20_000) => {
      const seen = all.find((l) => match.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${match} within ${timeoutMs} ms; the example printed:\n${all.join('\n')}`)), timeoutMs);
        waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
        child.once('exit', (code) => reject(new Error(`the example exited (${code}) before printing ${match}:\n${all.join('\n')}`)));
      });
    },
  };
}

describe('examples/partner-recipe', () => {
  it('upserts a contact conversation with a field and a template, then logs the contact’s WhatsApp reply from a webhook', async () => {
    const org = await newOrg(api);
    // The sandbox's order_update, which the example fills by default.
    await insertTemplate(api, org, {
      name: 'order_update',
      components: [
        { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}', example: { header_text: ['#4521'] } },
        { type: 'BODY', text: 'Hi {{1}}, your order is now {{2}}. Reply to this message if you have any questions.', example: { body_text: [['Maria', 'out for delivery']] } },
      ],
    });
    const scopes = ['conversations:read', 'conversations:write', 'messages:write', 'webhooks:read', 'webhooks:write'];
    const partnerTokens = await installApp(api, org.tenant, org.tenant, { appScopes: scopes, grant: scopes });

    const http = new WebhookHttpClient({ policy: { allowInsecure: true } });
    dispatcher = new WebhookDispatcher(api.orm, new SecretBox(api.config.encryptionKey), http, systemClock, createLogger({ level: 'silent' }), {
      organizationIds: [org.orgId],
      pollMs: 50,
    });
    dispatcher.start();

    const from = newPhone();
    partner = spawn(process.execPath, ['--import', 'tsx', 'examples/partner-recipe/main.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        PARLEY_URL: api.url,
        PARLEY_ACCESS_TOKEN: partnerTokens.accessToken,
        PARLEY_REFRESH_TOKEN: partnerTokens.refreshToken,
        RECEIVER_PORT: '0',
        CONTACT_NAME: 'Ana',
        CONTACT_PHONE: `+${from}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = lines(partner);

    const upserted = await out.waitFor(/\[partner\] conversation \S+ (created|updated)/);
    expect(upserted).toMatch(/created; template order_update queued$/);
    const conversationId = /conversation (\S+)/.exec(upserted)![1]!;
    await out.waitFor(/\[partner\] ready/);

    expect(await out.waitFor(/\[partner\] contact /)).toBe(`[partner] contact +${from} has fields licenseplate=XX-99-WZ`);
    const conversation = await api.call('GET', `/v1/conversations/${conversationId}/messages`, { token: org.token });
    expect(conversation.status, conversation.text).toBe(200);
    expect(conversation.body.data).toEqual([expect.objectContaining({ type: 'template', role: 'agent', direction: 'outbound' })]);

    await contactWrites(api, org.route, from, 'Sí, paso mañana a recogerlo', { name: 'Ana' });
    const reply = await out.waitFor(/\[partner\] reply from/);
    expect(reply).toBe(`[partner] reply from +${from} (Ana) in conversation ${conversationId}: Sí, paso mañana a recogerlo`);
    expect(out.all.filter((l) => /refused/.test(l))).toEqual([]);
  }, 90_000);
});
