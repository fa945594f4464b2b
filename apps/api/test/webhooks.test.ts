import { ManualClock } from '@parley/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, installApp, startTestApi, type TestApi } from '../../../test/support/api';
import { expectProblem, DAY, HOUR } from './helpers';
import { contactWrites, newOrg, newPhone } from './messaging-support';
import { Receiver, testDispatcher, waitFor, writeEvents } from './webhook-support';

let api: TestApi;
const receivers: Receiver[] = [];
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  api = await startTestApi({ env: { ALLOW_INSECURE_WEBHOOKS: 'true' } });
});
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  for (const r of receivers.splice(0)) await r.close();
});
afterAll(async () => {
  await api.close();
});

async function receiver(): Promise<Receiver> {
  const r = await Receiver.start();
  receivers.push(r);
  return r;
}

async function subscribe(token: string, r: Receiver, body: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  const res = await api.call('POST', '/v1/webhooks', { token, body: { url: r.url, events: ['message', 'conversation', 'broadcast', 'webhook'], ...body } });
  expect(res.status, res.text).toBe(201);
  r.secrets.push(res.body.secret);
  return res.body;
}

describe('subscriptions', () => {
  it('verifies the endpoint with a challenge, shows the whsec_ secret once and stores it encrypted', async () => {
    const t = await createTenant(api);
    const r = await receiver();
    const created = await api.call('POST', '/v1/webhooks', {
      token: t.adminToken,
      body: { url: r.url, events: ['message.create.contact.chat'], filter: { touchpoint: 'whatsapp' }, description: 'CRM sync' },
    });
    expect(created.status, created.text).toBe(201);
    expect(r.challenges).toHaveLength(1);
    expect(created.body).toMatchObject({ url: r.url, events: ['message.create.contact.chat'], filter: { touchpoint: 'whatsapp' }, status: 'active', description: 'CRM sync' });
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const read = await api.call('GET', `/v1/webhooks/${created.body.id}`, { token: t.adminToken });
    expect(read.status).toBe(200);
    expect(read.body.secret).toBeUndefined();
    const [row] = await api.orm.em.fork().getConnection().execute<{ secret_ciphertext: string }[]>('select secret_ciphertext from webhook_subscriptions where id = ?', [created.body.id]);
    expect(row!.secret_ciphertext).toMatch(/^v2\./);
    expect(row!.secret_ciphertext).not.toContain(created.body.secret.slice(6, 20));
  });

  it('refuses an endpoint that does not echo the challenge, and stores nothing', async () => {
    const t = await createTenant(api);
    const r = await receiver();
    r.challengeAnswer = () => ({ status: 200, body: 'ok' });
    const res = await api.call('POST', '/v1/webhooks', { token: t.adminToken, body: { url: r.url, events: ['message'] } });
    expectProblem(res, 422, 'webhook_verification_failed');
    r.challengeAnswer = () => ({ status: 500 });
    expectProblem(await api.call('POST', '/v1/webhooks', { token: t.adminToken, body: { url: r.url, events: ['message'] } }), 422, 'webhook_verification_failed');
    const list = await api.call('GET', '/v1/webhooks', { token: t.adminToken });
    expect(list.body.data).toEqual([]);
  });

  it('refuses unknown events and prefixes that stop inside a word', async () => {
    const t = await createTenant(api);
    const r = await receiver();
    for (const events of [['message.cre'], ['nothing'], ['message.create.contact.chat.contact.extra'], []]) {
      const res = await api.call('POST', '/v1/webhooks', { token: t.adminToken, body: { url: r.url, events } });
      expectProblem(res, 400, 'validation_error');
    }
    expect(r.challenges).toEqual([]);
  });

  it('gives a partner its own subscriptions only, and needs the read scope of the events', async () => {
    const t = await createTenant(api);
    const partner = await installApp(api, t, t, {
      appScopes: ['conversations:read', 'webhooks:read', 'webhooks:write', 'broadcasts:read'],
      grant: ['conversations:read', 'webhooks:read', 'webhooks:write'],
    });
    const other = await installApp(api, t, t, { appScopes: ['webhooks:read', 'webhooks:write'], grant: ['webhooks:read', 'webhooks:write'] });
    const r = await receiver();
    const mine = await subscribe(partner.accessToken, r, { events: ['message.create.contact.chat'] });
    expect((await api.call('GET', `/v1/webhooks/${mine.id}`, { token: partner.accessToken })).body.installationId).toBe(partner.installationId);
    expectProblem(await api.call('GET', `/v1/webhooks/${mine.id}`, { token: other.accessToken }), 404, 'not_found');
    expectProblem(await api.call('DELETE', `/v1/webhooks/${mine.id}`, { token: other.accessToken }), 404, 'not_found');
    expect((await api.call('GET', '/v1/webhooks', { token: other.accessToken })).body.data).toEqual([]);
    expect((await api.call('GET', '/v1/webhooks', { token: t.adminToken })).body.data.map((s: { id: string }) => s.id)).toEqual([mine.id]);
    // Broadcast events show broadcasts: a token without broadcasts:read may not receive them.
    expectProblem(await api.call('POST', '/v1/webhooks', { token: partner.accessToken, body: { url: r.url, events: ['broadcast'] } }), 403, 'forbidden');
    expectProblem(await api.call('POST', '/v1/webhooks', { token: other.accessToken, body: { url: r.url, events: ['message'] } }), 403, 'forbidden');
    // A partner that writes conversations already sees them in its answers: it may hear of them.
    const writer = await installApp(api, t, t, { appScopes: ['conversations:write', 'webhooks:write'], grant: ['conversations:write', 'webhooks:write'] });
    expect((await api.call('POST', '/v1/webhooks', { token: writer.accessToken, body: { url: r.url, events: ['message.create.contact.chat'] } })).status).toBe(201);
    // Another organization's admin cannot see it either.
    const stranger = await createTenant(api);
    expectProblem(await api.call('GET', `/v1/webhooks/${mine.id}`, { token: stranger.adminToken }), 404, 'not_found');
    // Uninstalling lets the partner go: its subscriptions go with it.
    expect((await api.call('DELETE', `/v1/installations/${partner.installationId}`, { token: t.adminToken })).status).toBe(204);
    expectProblem(await api.call('GET', `/v1/webhooks/${mine.id}`, { token: t.adminToken }), 404, 'not_found');
  });

  it('updates, re-verifies a new URL, and deletes', async () => {
    const t = await createTenant(api);
    const r = await receiver();
    const sub = await subscribe(t.adminToken, r);
    const patched = await api.call('PATCH', `/v1/webhooks/${sub.id}`, { token: t.adminToken, body: { events: ['broadcast.completed'], filter: { touchpoint: null } } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.events).toEqual(['broadcast.completed']);
    const r2 = await receiver();
    r2.challengeAnswer = () => ({ status: 404 });
    expectProblem(await api.call('PATCH', `/v1/webhooks/${sub.id}`, { token: t.adminToken, body: { url: r2.url } }), 422, 'webhook_verification_failed');
    expect((await api.call('GET', `/v1/webhooks/${sub.id}`, { token: t.adminToken })).body.url).toBe(r.url);
    r2.challengeAnswer = null;
    expect((await api.call('PATCH', `/v1/webhooks/${sub.id}`, { token: t.adminToken, body: { url: r2.url } })).body.url).toBe(r2.url);
    expect((await api.call('PATCH', `/v1/webhooks/${sub.id}`, { token: t.adminToken, body: { status: 'disabled' } })).body).toMatchObject({
      status: 'disabled',
      disabledReason: 'disabled by request',
    });
    expect((await api.call('DELETE', `/v1/webhooks/${sub.id}`, { token: t.adminToken })).status).toBe(204);
    expectProblem(await api.call('GET', `/v1/webhooks/${sub.id}`, { token: t.adminToken }), 404, 'not_found');
  });
});

describe('target safety at the API', () => {
  it('refuses private and non-https targets when insecure webhooks are not allowed, without contacting them', async () => {
    const strict = await startTestApi({
      webhookResolver: async (host) => {
        if (host === 'hooks.partner.test') return [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.7', family: 4 }];
        if (host === 'rebind.partner.test') return [{ address: '127.0.0.1', family: 4 }];
        throw Object.assign(new Error(`no test address for ${host}`), { code: 'ENOTFOUND' });
      },
    });
    try {
      const t = await createTenant(strict);
      for (const url of [
        'http://example.com/hook',
        'https://10.1.2.3/hook',
        'https://169.254.169.254/latest/meta-data',
        'https://[::ffff:127.0.0.1]/hook',
        'https://[64:ff9b::a00:1]/hook',
        'https://hooks.partner.test/hook',
        'https://rebind.partner.test/hook',
        'https://localhost/hook',
      ]) {
        const res = await strict.call('POST', '/v1/webhooks', { token: t.adminToken, body: { url, events: ['message'] } });
        expectProblem(res, 400, 'webhook_url_forbidden');
      }
      expect((await strict.call('GET', '/v1/webhooks', { token: t.adminToken })).body.data).toEqual([]);
    } finally {
      await strict.close();
    }
  });
});

describe('delivery', () => {
  it('delivers a contact’s message, signed, with the event id as webhook-id and one shape per event', async () => {
    const org = await newOrg(api);
    const all = await receiver();
    const prefixed = await receiver();
    const email = await receiver();
    await subscribe(org.token, all);
    await subscribe(org.token, prefixed, { events: ['message.create.contact.chat'] });
    await subscribe(org.token, email, { events: ['message'], filter: { touchpoint: 'email' } });
    const { dispatcher, http } = testDispatcher(api, [org.orgId]);
    stops.push(async () => http.close());
    const from = newPhone();
    await contactWrites(api, org.route, from, 'Hola');
    await dispatcher.settle();
    const types = all.received.map((r) => r.event.type).sort();
    expect(types).toEqual(['conversation.create', 'message.create.contact.chat.contact']);
    for (const r of [...all.received, ...prefixed.received]) {
      expect(r.verifiedWith, 'signature verifies').not.toBeNull();
      expect(r.webhookId).toBe(r.event.id);
      expect(r.event.organizationId).toBe(org.orgId);
      expect(r.headers['content-type']).toBe('application/json');
    }
    expect(prefixed.received.map((r) => r.event.type)).toEqual(['message.create.contact.chat.contact']);
    expect(email.received).toEqual([]);
    const [conversation, message] = [...all.received].sort((a, b) => a.event.sequence - b.event.sequence);
    expect(conversation!.event.type).toBe('conversation.create');
    expect(message!.event.sequence).toBeGreaterThan(conversation!.event.sequence);
    const [row] = await api.orm.em.fork().getConnection().execute<{ id: string; type: string; data: unknown; created_at: Date }[]>(
      `select id, type, data, created_at from domain_events where id = ?`,
      [message!.webhookId],
    );
    expect(message!.event.data).toEqual(row!.data);
    expect(message!.event.createdAt).toBe(new Date(row!.created_at).toISOString());
  });

  it('gets everything to a receiver that was down for a while, on the contract’s schedule, and logs each attempt', async () => {
    const t = await createTenant(api);
    const clock = new ManualClock(new Date(Date.now() + 1000));
    const r = await receiver();
    const sub = await subscribe(t.adminToken, r);
    let down = true;
    r.answer = () => (down ? { status: 503, body: 'maintenance' } : { status: 200 });
    const { dispatcher, http } = testDispatcher(api, [t.organizationId], clock, { random: () => 0.5 });
    stops.push(async () => http.close());
    const ids = await writeEvents(api, t.organizationId, 5, clock.now());
    await dispatcher.settle();
    expect(r.received).toHaveLength(5);
    // Nothing is due before the 5 s retry.
    clock.advance(4_000);
    await dispatcher.settle();
    expect(r.received).toHaveLength(5);
    clock.advance(1_000);
    await dispatcher.settle();
    expect(r.received).toHaveLength(10);
    clock.advance(5 * 60_000);
    await dispatcher.settle();
    expect(r.received).toHaveLength(15);
    const backlog = await api.call('GET', '/v1/webhooks/backlog', { token: t.adminToken });
    expect(backlog.body).toMatchObject({ pendingDeliveries: 5, undispatchedEvents: 0 });
    down = false;
    clock.advance(30 * 60_000);
    await dispatcher.settle();
    expect(r.ids()).toEqual(new Set(ids));
    expect(r.received.every((x) => x.verifiedWith)).toBe(true);
    expect((await api.call('GET', '/v1/webhooks/backlog', { token: t.adminToken })).body).toMatchObject({ pendingDeliveries: 0, oldestUndeliveredAgeSeconds: 0 });
    const log = await api.call('GET', `/v1/webhooks/${sub.id}/deliveries?limit=10`, { token: t.adminToken });
    expect(log.status, log.text).toBe(200);
    expect(log.body.data).toHaveLength(5);
    const first = log.body.data[0];
    expect(first).toMatchObject({ status: 'succeeded', attemptCount: 4, lastStatusCode: 200 });
    expect(first.attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([503, 503, 503, 200]);
    expect(first.attempts[0]).toMatchObject({ succeeded: false, responseExcerpt: 'maintenance', trigger: 'event', error: 'HTTP 503' });
    // The subscription is no longer failing.
    expect((await api.call('GET', `/v1/webhooks/${sub.id}`, { token: t.adminToken })).body.failingSince).toBeNull();
  });

  it('gives up after the eighth attempt, about 27 hours on, and the failure shows in the log', async () => {
    const t = await createTenant(api);
    const clock = new ManualClock(new Date(Date.now() + 1000));
    const r = await receiver();
    const sub = await subscribe(t.adminToken, r);
    r.answer = () => ({ status: 500 });
    const { dispatcher, http } = testDispatcher(api, [t.organizationId], clock, { random: () => 0.5 });
    stops.push(async () => http.close());
    await writeEvents(api, t.organizationId, 1, clock.now());
    const times: number[] = [];
    await dispatcher.settle();
    for (const step of [5_000, 5 * 60_000, 30 * 60_000, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR, 10 * HOUR]) {
      times.push(r.received.length);
      clock.advance(step);
      await dispatcher.settle();
    }
    expect(r.received).toHaveLength(8);
    expect(times).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const failed = await api.call('GET', `/v1/webhooks/${sub.id}/deliveries?status=failed`, { token: t.adminToken });
    expect(failed.body.data).toHaveLength(1);
    expect(failed.body.data[0]).toMatchObject({ attemptCount: 8, nextAttemptAt: null, lastStatusCode: 500 });
    expect((await api.call('GET', `/v1/webhooks/${sub.id}`, { token: t.adminToken })).body.status).toBe('active');
  });

  it('honours Retry-After beyond the schedule, within bounds', async () => {
    const t = await createTenant(api);
    const clock = new ManualClock(new Date(Date.now() + 1000));
    const r = await receiver();
    await subscribe(t.adminToken, r);
    let answer = { status: 429, headers: { 'retry-after': '120' } };
    r.answer = () => answer;
    const { dispatcher, http } = testDispatcher(api, [t.organizationId], clock, { random: () => 0.5 });
    stops.push(async () => http.close());
    await writeEvents(api, t.organizationId, 1, clock.now());
    await dispatcher.settle();
    clock.advance(60_000);
    await dispatcher.settle();
    expect(r.received).toHaveLength(1);
    clock.advance(60_000);
    await dispatcher.settle();
    expect(r.received).toHaveLength(2);
    // A week is past the bound: the wait is capped at 10 hours.
    answer = { status: 503, headers: { 'retry-after': String(7 * 24 * 3600) } };
    clock.advance(5 * 60_000);
    await dispatcher.settle();
    expect(r.received).toHaveLength(3);
    answer = { status: 200, headers: {} } as never;
    clock.advance(10 * HOUR);
    await dispatcher.settle();
    expect(r.received).toHaveLength(4);
  });

  it('disables a subscription that answers 410, and tells the organization’s other subscriptions', async () => {
    const t = await createTenant(api);
    const gone = await receiver();
    const watcher = await receiver();
    const sub = await subscribe(t.adminToken, gone, { events: ['conversation'] });
    await subscribe(t.adminToken, watcher, { events: ['webhook.disabled'] });
    gone.answer = () => ({ status: 410 });
    const { dispatcher, http } = testDispatcher(api, [t.organizationId]);
    stops.push(async () => http.close());
    await writeEvents(api, t.organizationId, 3, new Date());
    await dispatcher.settle();
    const read = await api.call('GET', `/v1/webhooks/${sub.id}`, { token: t.adminToken });
    expect(read.body).toMatchObject({ status: 'disabled', disabledReason: expect.stringContaining('410') });
    expect(watcher.received).toHaveLength(1);
    expect(watcher.received[0]!.event).toMatchObject({ type: 'webhook.disabled', data: { subscription: { id: sub.id, status: 'disabled' }, reason: expect.stringContaining('410') } });
    // Nothing more goes to it.
    const before = gone.received.length;
    await writeEvents(api, t.organizationId, 2, new Date());
    await dispatcher.settle();
    expect(gone.received.length).toBe(before);
  });

  it('disables a subscription after five days of failures with the reason, and re-activation resumes its deliveries', async () => {
    const t = await createTenant(api);
    const clock = new ManualClock(new Date(Date.now() + 1000));
    const broken = await receiver();
    const watcher = await receiver();
    const sub = await subscribe(t.adminToken, broken, { events: ['conversation'] });
    await subscribe(t.adminToken, watcher, { events: ['webhook'] });
    broken.answer = () => ({ status: 502 });
    const { dispatcher, http } = testDispatcher(api, [t.organizationId], clock, { random: () => 0.5 });
    stops.push(async () => http.close());
    const start = clock.now().getTime();
    for (let day = 0; day <= 5; day++) {
      await writeEvents(api, t.organizationId, 1, clock.now());
      for (let h = 0; h < 24 && clock.now().getTime() - start < 5 * DAY + HOUR; h++) {
        await dispatcher.settle();
        clock.advance(HOUR);
      }
    }
    await dispatcher.settle();
    const read = await api.call('GET', `/v1/webhooks/${sub.id}`, { token: t.adminToken });
    expect(read.body.status).toBe('disabled');
    expect(read.body.disabledReason).toMatch(/5 days/);
    expect(watcher.received.map((r) => r.event.type)).toEqual(['webhook.disabled']);
    // Fixed and re-activated (verified again), it gets what is still pending.
    broken.answer = () => ({ status: 200 });
    const reactivated = await api.call('PATCH', `/v1/webhooks/${sub.id}`, { token: t.adminToken, body: { status: 'active' } });
    expect(reactivated.body).toMatchObject({ status: 'active', failingSince: null, disabledReason: null });
    const pending = (await api.call('GET', `/v1/webhooks/${sub.id}/deliveries?status=pending`, { token: t.adminToken })).body.data.length;
    expect(pending).toBeGreaterThan(0);
    const before = broken.received.length;
    clock.advance(11 * HOUR);
    await dispatcher.settle();
    expect(broken.received.length).toBe(before + pending);
  });

  it('signs with both secrets for 24 hours after a rotation', async () => {
    const t = await createTenant(api);
    const clock = new ManualClock(new Date(Date.now() + 1000));
    const r = await receiver();
    const sub = await subscribe(t.adminToken, r);
    const { dispatcher, http } = testDispatcher(api, [t.organizationId], clock);
    stops.push(async () => http.close());
    const oldSecret = sub.secret;
    const rotated = await api.call('POST', `/v1/webhooks/${sub.id}/rotate-secret`, { token: t.adminToken });
    expect(rotated.status, rotated.text).toBe(200);
    const newSecret = rotated.body.secret as string;
    expect(newSecret).not.toBe(oldSecret);
    expect(rotated.body.previousSecretExpiresAt).not.toBeNull();
    await writeEvents(api, t.organizationId, 1, clock.now());
    await dispatcher.settle();
    const during = r.received.at(-1)!;
    expect(during.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    for (const secret of [oldSecret, newSecret]) {
      r.secrets = [secret];
      const { Webhook } = await import('standardwebhooks');
      expect(() => new Webhook(secret).verify(during.body, during.headers)).not.toThrow();
    }
    // After the grace period only the new secret signs.
    r.secrets = [oldSecret, newSecret];
    clock.advance(DAY + 1000);
    await writeEvents(api, t.organizationId, 1, clock.now());
    await dispatcher.settle();
    const after = r.received.at(-1)!;
    expect(after.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    expect(after.verifiedWith).toBe(newSecret);
  });

  it('retries one delivery by hand with the same webhook-id, and replays a time range under the same event ids', async () => {
    const t = await createTenant(api);
    const r = await receiver();
    const sub = await subscribe(t.adminToken, r);
    const { dispatcher, http } = testDispatcher(api, [t.organizationId]);
    stops.push(async () => http.close());
    const since = new Date(Date.now() - 1000);
    const ids = await writeEvents(api, t.organizationId, 3, new Date());
    await dispatcher.settle();
    expect(r.received).toHaveLength(3);
    const log = await api.call('GET', `/v1/webhooks/${sub.id}/deliveries`, { token: t.adminToken });
    const one = log.body.data[0];
    const retried = await api.call('POST', `/v1/webhooks/${sub.id}/deliveries/${one.id}/retry`, { token: t.adminToken });
    expect(retried.status, retried.text).toBe(202);
    await dispatcher.settle();
    expect(r.received).toHaveLength(4);
    expect(r.received[3]!.webhookId).toBe(one.eventId);
    const detail = await api.call('GET', `/v1/webhooks/${sub.id}/deliveries/${one.id}`, { token: t.adminToken });
    expect(detail.body.attempts.map((a: { trigger: string }) => a.trigger)).toEqual(['event', 'manual']);
    const replay = await api.call('POST', `/v1/webhooks/${sub.id}/replay`, { token: t.adminToken, body: { since: since.toISOString(), until: new Date(Date.now() + 1000).toISOString() } });
    expect(replay.status, replay.text).toBe(202);
    expect(replay.body.replayed).toBe(3);
    await dispatcher.settle();
    expect(r.received).toHaveLength(7);
    expect(new Set(r.received.slice(4).map((x) => x.webhookId))).toEqual(new Set(ids));
    // The log filters by status, event type and time.
    expect((await api.call('GET', `/v1/webhooks/${sub.id}/deliveries?eventType=conversation`, { token: t.adminToken })).body.data).toHaveLength(3);
    expect((await api.call('GET', `/v1/webhooks/${sub.id}/deliveries?eventType=message`, { token: t.adminToken })).body.data).toHaveLength(0);
    expect((await api.call('GET', `/v1/webhooks/${sub.id}/deliveries?status=pending`, { token: t.adminToken })).body.data).toHaveLength(0);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await api.call('GET', `/v1/webhooks/${sub.id}/deliveries?since=${encodeURIComponent(future)}`, { token: t.adminToken })).body.data).toHaveLength(0);
    expectProblem(await api.call('GET', `/v1/webhooks/${sub.id}/deliveries?since=yesterday`, { token: t.adminToken }), 400, 'validation_error');

    // A range that ends before it starts is refused and queues nothing.
    const backwards = await api.call('POST', `/v1/webhooks/${sub.id}/replay`, { token: t.adminToken, body: { since: new Date().toISOString(), until: since.toISOString() } });
    expectProblem(backwards, 422, 'invalid_range');
    expect((await api.call('GET', `/v1/webhooks/${sub.id}/deliveries?status=pending`, { token: t.adminToken })).body.data).toHaveLength(0);
    // A delivery whose attempt is under way is not retried on top of it.
    await api.orm.em.fork().getConnection().execute('update webhook_deliveries set leased_until = ? where id = ?', [new Date(Date.now() + 60_000), one.id]);
    expectProblem(await api.call('POST', `/v1/webhooks/${sub.id}/deliveries/${one.id}/retry`, { token: t.adminToken }), 409, 'delivery_in_progress');
    expect((await api.call('GET', `/v1/webhooks/${sub.id}/deliveries/${one.id}`, { token: t.adminToken })).body.status).toBe('succeeded');
  });

  it('keeps a slow endpoint of one tenant from delaying a fast one of another', async () => {
    const slowTenant = await createTenant(api);
    const fastTenant = await createTenant(api);
    const slow = await receiver();
    const fast = await receiver();
    slow.answer = () => ({ status: 200, delayMs: 1_000 });
    await subscribe(slowTenant.adminToken, slow);
    await subscribe(fastTenant.adminToken, fast);
    const { dispatcher, http } = testDispatcher(api, [slowTenant.organizationId, fastTenant.organizationId], undefined, { firstLaneCap: 4 });
    dispatcher.start();
    stops.push(async () => {
      await dispatcher.stop();
      http.close();
    });
    await writeEvents(api, slowTenant.organizationId, 40, new Date());
    const started = Date.now();
    const fastIds = await writeEvents(api, fastTenant.organizationId, 40, new Date());
    await waitFor(() => fast.ids().size === 40, 10_000, 'the fast receiver');
    const fastDone = Date.now() - started;
    // The slow one takes 10 s for its 40 (4 at a time); the fast one is not behind it.
    expect(slow.received.length).toBeLessThan(20);
    expect(fastDone).toBeLessThan(3_000);
    expect(fast.ids()).toEqual(new Set(fastIds));
  });

  it('shows the operator which organizations are behind', async () => {
    const t = await createTenant(api);
    const r = await receiver();
    await subscribe(t.adminToken, r);
    await writeEvents(api, t.organizationId, 2, new Date(Date.now() - 60_000));
    const res = await api.call('GET', '/v1/operator/webhook-backlog?limit=200', { token: api.config.platformAdminToken });
    expect(res.status, res.text).toBe(200);
    const mine = res.body.data.find((b: { organizationId: string }) => b.organizationId === t.organizationId);
    expect(mine).toMatchObject({ undispatchedEvents: 2 });
    expect(mine.oldestUndeliveredAgeSeconds).toBeGreaterThanOrEqual(59);
    const { dispatcher, http } = testDispatcher(api, [t.organizationId]);
    stops.push(async () => http.close());
    await dispatcher.settle();
    expect((await api.call('GET', '/v1/webhooks/backlog', { token: t.adminToken })).body).toEqual({
      oldestUndeliveredEventAt: null,
      oldestUndeliveredAgeSeconds: 0,
      pendingDeliveries: 0,
      undispatchedEvents: 0,
    });
  });
});
