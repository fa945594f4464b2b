import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxGraph, type SandboxGraph } from '../src/index';
import { APP_ID, APP_SECRET, call, exchangeCode, expectMetaError, startReceiver, templateMessage, textMessage, type Loose, type Receiver } from './helpers';

let sandbox: SandboxGraph;
let receiver: Receiver;
let token: string;
const PHONE = '109000000000002';

beforeAll(async () => {
  receiver = await startReceiver();
  sandbox = await startSandboxGraph({ appId: APP_ID, appSecret: APP_SECRET, webhookUrl: receiver.url, statusDelaysMs: { sent: 1, delivered: null } });
  token = await exchangeCode(sandbox);
});
afterAll(async () => {
  await sandbox.stop();
  await receiver.close();
});
afterEach(async () => {
  sandbox.clearFaults();
  await sandbox.waitForIdle();
});

const send = (to = '15557770000', json: unknown = textMessage(to)) => call(sandbox, 'POST', `/${PHONE}/messages`, { token, json });

describe('errors per Meta code', () => {
  it.each([
    [130429, 429, 'Rate limit hit'],
    [131026, 400, 'Message undeliverable'],
    [131047, 400, 'Re-engagement message'],
    [131050, 400, 'User has stopped marketing messages'],
    [131048, 400, 'Spam rate limit hit'],
    [131056, 400, '(Business Account, Consumer Account) pair rate limit hit'],
    [1, 500, 'An unknown error occurred'],
    [2, 503, 'Service temporarily unavailable'],
    [131000, 500, 'Something went wrong'],
  ])('code %i answers HTTP %i', async (code, status, title) => {
    sandbox.setFaults({ failNext: { count: 1, error: code } });
    const error = expectMetaError(await send(), status, code);
    expect(error).toMatchObject({ type: 'OAuthException', error_user_title: title, error_data: { messaging_product: 'whatsapp', details: expect.any(String) } });
    if (code > 100) expect(error.message).toBe(`(#${code}) ${title}`);
    expect((await send()).status).toBe(200);
  });

  it('derives the code from a plain 5xx status and lets every field be overridden', async () => {
    sandbox.setFaults({ failNext: { count: 1, error: { httpStatus: 503 } } });
    expectMetaError(await send(), 503, 2);
    sandbox.setFaults({ failNext: { count: 1, error: { httpStatus: 500 } } });
    expectMetaError(await send(), 500, 1);
    sandbox.setFaults({ failNext: { count: 1, error: { code: 131009, httpStatus: 400, subcode: 2494010, title: 'Custom', details: 'Custom details', message: 'Custom message' } } });
    const error = expectMetaError(await send(), 400, 131009);
    expect(error).toMatchObject({ message: 'Custom message', error_subcode: 2494010, error_user_title: 'Custom', error_data: { details: 'Custom details' } });
  });

  it('can answer a non-JSON body, as a proxy in front of Graph would', async () => {
    sandbox.setFaults({ failNext: { count: 1, error: { httpStatus: 502, rawBody: '<html><body>502 Bad Gateway</body></html>' } } });
    const before = sandbox.sends().length;
    const res = await send();
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.body).toContain('Bad Gateway');
    expect(sandbox.sends()).toHaveLength(before);
  });
});

describe('which sends fail', () => {
  it('fails the next N sends, then recovers', async () => {
    sandbox.setFaults({ failNext: { count: 2, error: 130429 } });
    expect((await send()).status).toBe(429);
    expect(sandbox.getFaults().failNext?.count).toBe(1);
    expect((await send()).status).toBe(429);
    expect((await send()).status).toBe(200);
    expect(sandbox.getFaults().failNext?.count).toBe(0);
  });

  it('fails a reproducible fraction of sends', async () => {
    const run = async () => {
      sandbox.setFaults({ failRate: { fraction: 0.3, error: 131000, seed: 42 } });
      const statuses: number[] = [];
      for (let i = 0; i < 100; i++) statuses.push((await send()).status);
      return statuses;
    };
    const first = await run();
    const failed = first.filter((s) => s === 500).length;
    expect(failed).toBeGreaterThan(15);
    expect(failed).toBeLessThan(45);
    expect(first.every((s) => s === 200 || s === 500)).toBe(true);
    expect(await run()).toEqual(first);
    sandbox.setFaults({ failRate: { fraction: 1, error: 2 } });
    expect((await send()).status).toBe(503);
  });

  it('fails one recipient permanently while others go through, whatever the number format', async () => {
    sandbox.setFaults({ failRecipients: { '+1 (555) 000-0001': 131026 }, failNext: { count: 5, error: 130429 } });
    expect((await send('15550000001')).status).toBe(400);
    expect((await send('+15550000001')).status).toBe(400);
    expect(sandbox.getFaults().failNext?.count).toBe(5);
    expect((await send('15550000002')).status).toBe(429);
    sandbox.setFaults({ failRecipients: { '15550000001': 131026 } });
    expect((await send('15550000002')).status).toBe(200);
    expect(sandbox.sends({ to: '15550000001' })).toHaveLength(0);
  });

  it('fails other Graph operations, as embedded-signup error tests need', async () => {
    sandbox.setFaults({ failOperations: { register: 133010, oauth: { code: 100, subcode: 36007, message: 'Invalid code' }, message_templates: 2, subscribed_apps: 200 } });
    expectMetaError(await call(sandbox, 'POST', `/${PHONE}/register`, { token, json: { messaging_product: 'whatsapp', pin: '123456' } }), 400, 133010);
    expectMetaError(await call(sandbox, 'GET', `/oauth/access_token?client_id=${APP_ID}&client_secret=${APP_SECRET}&code=c`), 400, 100);
    expectMetaError(await call(sandbox, 'GET', '/777/message_templates', { token }), 503, 2);
    expectMetaError(await call(sandbox, 'POST', '/777/subscribed_apps', { token }), 403, 200);
    expect((await call(sandbox, 'GET', `/${PHONE}`, { token })).status).toBe(200);
    sandbox.setFaults({ failOperations: { messages: 131000 } });
    expectMetaError(await send(), 500, 131000);
  });
});

describe('failures after acceptance', () => {
  it('accepts, then reports the error as a failed status webhook', async () => {
    sandbox.setFaults({ failRecipients: { '15550000003': { code: 131047, async: true } } });
    const res = await send('15550000003', templateMessage('15550000003', 'hello_world', undefined, { biz_opaque_callback_data: 'b-1' }));
    expect(res.status).toBe(200);
    const wamid = res.body.messages[0].id;
    await receiver.waitFor(() => receiver.statuses(wamid).length === 1);
    await sandbox.waitForIdle();
    expect(receiver.statuses(wamid)).toEqual([
      {
        id: wamid,
        status: 'failed',
        timestamp: expect.any(String),
        recipient_id: '15550000003',
        biz_opaque_callback_data: 'b-1',
        errors: [{ code: 131047, title: 'Re-engagement message', message: 'Re-engagement message', error_data: { details: expect.stringContaining('24 hours') }, href: expect.any(String) }],
      },
    ]);
    expect(sandbox.sends({ to: '15550000003' })[0]).toMatchObject({ failure: { code: 131047, title: 'Re-engagement message' } });
  });

  it('drops the connection after accepting: the caller never sees the wamid, the webhooks still come', async () => {
    sandbox.setFaults({ failNext: { count: 1, error: { drop: 'after' } } });
    await expect(send('15550000004', templateMessage('15550000004', 'hello_world', undefined, { biz_opaque_callback_data: 'unknown-outcome' }))).rejects.toThrow();
    const [record] = sandbox.sends({ to: '15550000004' });
    expect(record).toBeDefined();
    await receiver.waitFor(() => receiver.statuses(record!.wamid).length === 1);
    expect(receiver.statuses(record!.wamid)[0]).toMatchObject({ status: 'sent', biz_opaque_callback_data: 'unknown-outcome' });
    expect(sandbox.requests({ operation: 'messages' }).at(-1)?.status).toBe(0);
    expect(sandbox.stats().sends.dropped).toBeGreaterThan(0);
  });

  it('drops the connection before accepting: nothing is sent', async () => {
    sandbox.setFaults({ failNext: { count: 1, error: { drop: 'before' } } });
    await expect(send('15550000005')).rejects.toThrow();
    expect(sandbox.sends({ to: '15550000005' })).toHaveLength(0);
  });
});

describe('latency', () => {
  it('adds per-send latency from faults and server-wide latency from options', async () => {
    sandbox.setFaults({ latencyMs: 120 });
    let started = performance.now();
    expect((await send()).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(110);
    sandbox.clearFaults();
    sandbox.setLatency(80);
    started = performance.now();
    expect((await call(sandbox, 'GET', `/${PHONE}`, { token })).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(70);
    sandbox.setLatency(0);
  });
});

describe('control endpoints', () => {
  it('sets, reads and clears faults over HTTP', async () => {
    const set = await fetch(`${sandbox.url}/_sandbox/faults`, { method: 'POST', body: JSON.stringify({ failNext: { count: 1, error: 131026 } }) });
    expect(await set.json()).toEqual({ failNext: { count: 1, error: 131026 } });
    expectMetaError(await send(), 400, 131026);
    await fetch(`${sandbox.url}/_sandbox/faults`, { method: 'POST', body: JSON.stringify({ failRecipients: { '15550000009': 131050 } }) });
    expect((await send('15550000009')).status).toBe(400);
    expect(await (await fetch(`${sandbox.url}/_sandbox/faults`, { method: 'DELETE' })).json()).toEqual({});
    expect((await send('15550000009')).status).toBe(200);
    const bad = await fetch(`${sandbox.url}/_sandbox/faults`, { method: 'POST', body: '{nope' });
    expect(bad.status).toBe(400);
  });

  it('configures the webhook URL and delays, seeds numbers, templates and codes, and reports stats', async () => {
    const config = await fetch(`${sandbox.url}/_sandbox/config`, { method: 'POST', body: JSON.stringify({ statusDelaysMs: { sent: 2, read: null } }) }).then((r) => r.json() as Loose);
    expect(config).toEqual({ webhookUrl: receiver.url, latencyMs: 0, statusDelaysMs: { sent: 2, delivered: null, read: null } });
    await fetch(`${sandbox.url}/_sandbox/phone-numbers`, { method: 'POST', body: JSON.stringify({ id: 'ctl-phone', wabaId: 'ctl-waba' }) });
    await fetch(`${sandbox.url}/_sandbox/templates`, {
      method: 'POST',
      body: JSON.stringify({ wabaId: 'ctl-waba', template: { name: 'ctl', language: 'en', category: 'UTILITY', components: [{ type: 'BODY', text: 'x' }] } }),
    });
    await fetch(`${sandbox.url}/_sandbox/codes`, { method: 'POST', body: JSON.stringify({ code: 'ctl-code', wabaId: 'ctl-waba', accessToken: 'ctl-token' }) });
    expect(await exchangeCode(sandbox, 'ctl-code')).toBe('ctl-token');
    const templates = await call(sandbox, 'GET', '/ctl-waba/message_templates?name=ctl', { token: 'ctl-token' });
    expect(templates.body.data).toHaveLength(1);
    const stats = await fetch(`${sandbox.url}/_sandbox/stats`).then((r) => r.json() as Loose);
    expect(stats).toMatchObject({ requests: expect.any(Number), sends: { accepted: expect.any(Number), rejected: expect.any(Number) }, webhooks: { attempted: expect.any(Number) } });
    expect(stats.sends.rejected).toBeGreaterThan(0);
    expect((await fetch(`${sandbox.url}/_sandbox/health`)).status).toBe(200);
    const webhooks = await fetch(`${sandbox.url}/_sandbox/webhooks?limit=2`).then((r) => r.json() as Loose);
    expect(webhooks.data.length).toBeLessThanOrEqual(2);
    await fetch(`${sandbox.url}/_sandbox/reset`, { method: 'POST' });
    expect(sandbox.requests()).toHaveLength(0);
    expect(sandbox.sends()).toHaveLength(0);
    expect(sandbox.stats().requests).toBe(0);
    sandbox.setStatusDelays({ sent: 1, delivered: null, read: null });
  });
});

describe('template checks (opt-in)', () => {
  it('refuses unknown templates and parameter mismatches like Meta', async () => {
    const strict = await startSandboxGraph({ appSecret: APP_SECRET, validateTemplates: true, statusDelaysMs: { sent: null } });
    try {
      strict.registerCode('c', { wabaId: 'tw', phoneNumberId: 'tp', accessToken: 'tt' });
      const t = await exchangeCode(strict, 'c');
      const post = (json: unknown) => call(strict, 'POST', '/tp/messages', { token: t, json });
      expect((await post(templateMessage('15550000010'))).status).toBe(200);
      expectMetaError(await post(templateMessage('15550000010', 'nope')), 400, 132001);
      expectMetaError(await post(templateMessage('15550000010', 'order_update', [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }])), 400, 132000);
      expectMetaError(await post(templateMessage('15550000010', 'promo_image', [{ type: 'body', parameters: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }])), 400, 132012);
      const good = templateMessage('15550000010', 'promo_image', [
        { type: 'header', parameters: [{ type: 'image', image: { link: 'https://example.com/a.jpg' } }] },
        { type: 'body', parameters: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
        { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: 'summer' }] },
      ]);
      expect((await post(good)).status).toBe(200);
      expect(strict.sends({ to: '15550000010' }).at(-1)).toMatchObject({ wabaId: 'tw', category: 'marketing' });
    } finally {
      await strict.stop();
    }
  });
});
