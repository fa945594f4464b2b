import { DomainEvent, UNSCOPED } from '@parley/db';
import { broadcastWorkflowId } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, type Tenant } from '../../../test/support/api';
import { eventually, onboardChannel, startTestPlatform, type TestPlatform } from '../../../test/support/platform';

let p: TestPlatform;
beforeAll(async () => {
  p = await startTestPlatform();
});
afterAll(async () => p.close());

const onboard = (options: { messagesPerSecond?: number } = {}) => onboardChannel(p, options);

const orderUpdate = (name = '{{ name }}', state = '{{ state }}') => ({
  name: 'order_update',
  language: 'en_US',
  components: [
    { type: 'header', parameters: [{ type: 'text', text: '{{ order }}' }] },
    { type: 'body', parameters: [{ type: 'text', text: name }, { type: 'text', text: state }] },
  ],
});

function phones(n: number, base: number): string[] {
  return Array.from({ length: n }, (_, i) => `+1415555${String(base + i).padStart(4, '0')}`);
}

async function finished(tenant: Tenant, id: string, status = 'completed') {
  return eventually(async () => {
    const res = await p.api.call('GET', `/v1/broadcasts/${id}?limit=200`, { token: tenant.adminToken });
    return res.body.status === status ? res.body : undefined;
  }, 30_000, `broadcast ${status}`);
}

describe('broadcasts end to end (Temporal, sandbox Graph API)', () => {
  it('sends each recipient once with its own params, then defaults, and tracks statuses to read', async () => {
    const { tenant } = await onboard();
    const users: { phone: string; params: Record<string, string> }[] = phones(12, 1000).map((phone, i) => ({ phone, params: { name: `Person ${i}`, order: `#${i}` } }));
    users[3]!.params = { name: 'Special', order: '#3', state: 'lost' };
    const created = await p.api.call('POST', '/v1/broadcasts', {
      token: tenant.adminToken,
      body: { template: orderUpdate(), params: { state: 'shipped' }, users },
    });
    expect(created.status).toBe(202);
    expect(created.body.status).toBe('running');

    await finished(tenant, created.body.id);
    const done = await eventually(async () => {
      const res = await p.api.call('GET', `/v1/broadcasts/${created.body.id}`, { token: tenant.adminToken });
      return res.body.statistics.read === 12 ? res.body : undefined;
    }, 20_000, 'all read');
    expect(done.statistics).toEqual({ total: 12, pending: 0, sent: 0, delivered: 0, read: 12, failed: 0, skipped: 0, unknown: 0 });
    expect(done.statuses).toHaveLength(12);
    expect(done.statuses.every((s: { messageId: string | null }) => s.messageId?.startsWith('wamid.'))).toBe(true);

    for (const [i, u] of users.entries()) {
      const sends = p.sandbox.sends({ to: u.phone });
      expect(sends).toHaveLength(1);
      const body = JSON.stringify(sends[0]!.payload);
      expect(body).toContain(`Person ${i}`.replace('Person 3', 'Special'));
      expect(body).toContain(i === 3 ? 'lost' : 'shipped');
      expect(body).toContain('bcr:');
    }
    const events = await p.api.orm.em.fork().find(DomainEvent, { organization: tenant.organizationId, type: { $like: 'broadcast.%' } }, UNSCOPED);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['broadcast.update', 'broadcast.completed']));

    const csv = await p.api.call('GET', `/v1/broadcasts/${created.body.id}/statuses.csv`, { token: tenant.adminToken });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('phone,status,messageId,errorCode,errorTitle,errorDetails,skipReason,updatedAt');
    expect(lines).toHaveLength(13);
    expect(lines[1]).toMatch(/^\+14155551000,read,wamid\./);
  });

  it('refuses params that do not fit the template, listing each recipient path, and creates nothing', async () => {
    const { tenant } = await onboard();
    const res = await p.api.call('POST', '/v1/broadcasts', {
      token: tenant.adminToken,
      body: { template: orderUpdate(), users: [{ phone: '+14155550001', params: { name: 'A', order: '1', state: 'x' } }, { phone: '+14155550002', params: { name: 'B' } }] },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('template_params_mismatch');
    expect(res.body.errors.every((e: { path: string }) => e.path.startsWith('users.1.'))).toBe(true);
    const unknown = await p.api.call('POST', '/v1/broadcasts', {
      token: tenant.adminToken,
      body: { template: { name: 'nope', language: 'en_US' }, users: [{ phone: '+14155550001' }] },
    });
    expect(unknown.body.code).toBe('template_not_found');
    const list = await p.api.call('GET', '/v1/broadcasts', { token: tenant.adminToken });
    expect(list.body.data).toEqual([]);
  });

  it('fails an unparseable phone on its own, skips opted-out contacts, and classifies Meta errors', async () => {
    const { tenant } = await onboard();
    const [ok, permanent, window, transient, optedOut] = phones(5, 2000);
    // The opted-out person must exist as a contact of the organization.
    const upsert = await p.api.call('POST', '/v1/conversations', { token: tenant.adminToken, body: { type: 'contact', contact: { profile: { telephone: optedOut } } } });
    const contactId = upsert.body.contact.id;
    expect((await p.api.call('PUT', `/v1/contacts/${contactId}/consent`, { token: tenant.adminToken, body: { optedOut: true } })).status).toBe(200);
    p.sandbox.setFaults({ failRecipients: { [permanent!]: 131026, [window!]: 131047 }, failNext: { count: 2, error: 130429 } });
    try {
      const res = await p.api.call('POST', '/v1/broadcasts', {
        token: tenant.adminToken,
        body: {
          template: { name: 'hello_world', language: 'en_US' },
          users: [{ phone: ok! }, { phone: permanent! }, { phone: window! }, { phone: transient! }, { phone: optedOut! }, { phone: 'not a phone' }],
        },
      });
      expect(res.status).toBe(202);
      const done = await finished(tenant, res.body.id);
      const byPhone = Object.fromEntries(done.statuses.map((s: { phone: string }) => [s.phone, s]));
      expect(byPhone['not a phone']).toMatchObject({ status: 'failed', error: { code: 'invalid_phone' } });
      expect(byPhone[permanent!]).toMatchObject({ status: 'failed', error: { code: 131026 } });
      expect(byPhone[window!]).toMatchObject({ status: 'failed', error: { code: 131047 } });
      expect(byPhone[optedOut!]).toMatchObject({ status: 'skipped', skipReason: 'opted_out' });
      expect(['sent', 'delivered', 'read']).toContain(byPhone[transient!].status);
      expect(['sent', 'delivered', 'read']).toContain(byPhone[ok!].status);
      expect(p.sandbox.sends({ to: optedOut! })).toHaveLength(0);
      expect(done.statistics.failed).toBe(3);
      expect(done.statistics.skipped).toBe(1);
    } finally {
      p.sandbox.clearFaults();
    }
  });

  it('stops within seconds when cancelled; unsent recipients stay pending', async () => {
    const { tenant } = await onboard({ messagesPerSecond: 5 });
    const users = phones(60, 3000).map((phone) => ({ phone }));
    const res = await p.api.call('POST', '/v1/broadcasts', { token: tenant.adminToken, body: { template: { name: 'hello_world', language: 'en_US' }, users } });
    await eventually(async () => (users.some((u) => p.sandbox.sends({ to: u.phone }).length > 0) ? true : undefined), 10_000, 'first send');
    const cancelled = await p.api.call('POST', `/v1/broadcasts/${res.body.id}/cancel`, { token: tenant.adminToken });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 2500));
    const sentSoon = users.filter((u) => p.sandbox.sends({ to: u.phone }).length > 0).length;
    await new Promise((r) => setTimeout(r, 1500));
    const sentLater = users.filter((u) => p.sandbox.sends({ to: u.phone }).length > 0).length;
    expect(sentLater).toBe(sentSoon);
    expect(sentLater).toBeLessThan(30);
    const after = await p.api.call('GET', `/v1/broadcasts/${res.body.id}`, { token: tenant.adminToken });
    expect(after.body.status).toBe('cancelled');
    expect(after.body.statistics.pending).toBeGreaterThanOrEqual(60 - sentLater - 5);
    expect(after.body.statistics.total).toBe(60);
  });

  it('never exceeds the channel’s messages-per-second, shared by two broadcasts at once', async () => {
    const { tenant } = await onboard({ messagesPerSecond: 10 });
    // 50 each: at 10 a second either one alone takes 5 s, so a loaded Temporal worker that picks up
    // the second workflow seconds late still leaves a stretch where both must share the budget.
    const a = phones(50, 4000).map((phone) => ({ phone }));
    const b = phones(50, 5000).map((phone) => ({ phone }));
    const template = { name: 'hello_world', language: 'en_US' };
    const [ra, rb] = await Promise.all([
      p.api.call('POST', '/v1/broadcasts', { token: tenant.adminToken, body: { template, users: a } }),
      p.api.call('POST', '/v1/broadcasts', { token: tenant.adminToken, body: { template, users: b } }),
    ]);
    await finished(tenant, ra.body.id);
    await finished(tenant, rb.body.id);
    const times = [...a, ...b].map((u) => new Date(p.sandbox.sends({ to: u.phone })[0]!.at).getTime()).sort((x, y) => x - y);
    let worst = 0;
    for (let i = 0; i < times.length; i++) {
      let j = i;
      while (j < times.length && times[j]! - times[i]! < 1000) j++;
      worst = Math.max(worst, j - i);
    }
    // Every one-second window of draws holds at most 9 (the limit less its margin); the sandbox's
    // clock may see one more, as requests drawn apart can arrive closer together.
    expect(worst).toBeLessThanOrEqual(10);
    // No starving: once both are sending, neither waits for the other to finish. Measured from the
    // moment both had started, since a loaded Temporal worker may start one workflow later.
    const sendTimes = (users: { phone: string }[]) => users.map((u) => new Date(p.sandbox.sends({ to: u.phone })[0]!.at).getTime()).sort((x, y) => x - y);
    const [ta, tb] = [sendTimes(a), sendTimes(b)];
    const from = Math.max(ta[0]!, tb[0]!);
    const to = Math.min(ta.at(-1)!, tb.at(-1)!);
    const inA = ta.filter((t) => t >= from && t <= to).length;
    const inB = tb.filter((t) => t >= from && t <= to).length;
    expect(to, 'the two broadcasts overlapped').toBeGreaterThan(from);
    expect(Math.min(inA, inB)).toBeGreaterThanOrEqual(3);
  }, 90_000);

  it('holds a draft, appends users, starts it; a Idempotency-Key replay creates one broadcast', async () => {
    const { tenant } = await onboard();
    const key = `bc-${Date.now()}`;
    const body = { template: { name: 'hello_world', language: 'en_US' }, users: [{ phone: '+14155556000' }], hold: true };
    const first = await p.api.call('POST', '/v1/broadcasts', { token: tenant.adminToken, body, headers: { 'idempotency-key': key } });
    const again = await p.api.call('POST', '/v1/broadcasts', { token: tenant.adminToken, body, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    expect(first.body.status).toBe('draft');
    const appended = await p.api.call('POST', `/v1/broadcasts/${first.body.id}/users`, { token: tenant.adminToken, body: { users: [{ phone: '+14155556001' }] } });
    expect(appended.body.total).toBe(2);
    await new Promise((r) => setTimeout(r, 300));
    expect(p.sandbox.sends({ to: '+14155556000' })).toHaveLength(0);
    expect((await p.api.call('POST', `/v1/broadcasts/${first.body.id}/start`, { token: tenant.adminToken })).status).toBe(202);
    const done = await finished(tenant, first.body.id);
    expect(done.statistics.total).toBe(2);
    const late = await p.api.call('POST', `/v1/broadcasts/${first.body.id}/users`, { token: tenant.adminToken, body: { users: [{ phone: '+14155556002' }] } });
    expect(late.status).toBe(409);
  });

  it('lists each phone once (compared in E.164), at creation and across appends, and a retried append with its Idempotency-Key adds nothing', async () => {
    const { tenant } = await onboard();
    const token = tenant.adminToken;
    const body = {
      template: { name: 'hello_world', language: 'en_US' },
      // One number three ways, another twice; an unparseable number still fails on its own.
      users: [{ phone: '+1 415 555 6100' }, { phone: '+14155556101' }, { phone: '+1 (415) 555-6100' }, { phone: '14155556101' }, { phone: '+14155556100' }, { phone: 'nope' }],
      hold: true,
    };
    const created = await p.api.call('POST', '/v1/broadcasts', { token, body });
    expect(created.status, created.text).toBe(202);
    expect(created.body).toMatchObject({ status: 'draft', added: 3, duplicates: 3 });
    const id = created.body.id;

    const append = (users: { phone: string }[], key?: string) =>
      p.api.call('POST', `/v1/broadcasts/${id}/users`, { token, body: { users }, headers: key ? { 'idempotency-key': key } : {} });
    const more = [{ phone: '+1 415-555-6101' }, { phone: '+14155556102' }, { phone: '+14155556102' }, { phone: '+14155556103' }];
    const first = await append(more, `append-${id}`);
    expect(first.status, first.text).toBe(200);
    expect(first.body).toEqual({ id, total: 5, added: 2, duplicates: 2 });
    const retried = await append(more, `append-${id}`);
    expect(retried.body).toEqual(first.body);
    expect(retried.headers.get('idempotency-replayed')).toBe('true');
    expect((await append([{ phone: '+14155556104' }], `append-${id}`)).status).toBe(422);
    // Without a key, the same phones again are all duplicates.
    expect((await append(more)).body).toEqual({ id, total: 5, added: 0, duplicates: 4 });

    expect((await p.api.call('POST', `/v1/broadcasts/${id}/start`, { token })).status).toBe(202);
    const done = await finished(tenant, id);
    expect(done.statistics).toMatchObject({ total: 5, failed: 1 });
    for (const phone of ['+14155556100', '+14155556101', '+14155556102', '+14155556103']) expect(p.sandbox.sends({ to: phone })).toHaveLength(1);
    expect(done.statuses.map((r: { phone: string }) => r.phone).sort()).toEqual(['+14155556100', '+14155556101', '+14155556102', '+14155556103', 'nope']);
  });

  it('ends failed, with its reason, when the channel’s business token cannot be decrypted; nothing is sent', async () => {
    const { tenant, channelId } = await onboard();
    const held = await p.api.call('POST', '/v1/broadcasts', { token: tenant.adminToken, body: { template: { name: 'hello_world', language: 'en_US' }, users: [{ phone: '+14155556200' }], hold: true } });
    // As if ENCRYPTION_KEY had been replaced without keeping the old key readable.
    await p.api.orm.em.fork().getConnection().execute(`update channels set business_token_ciphertext = 'v1:unknown-key:AAAA:BBBB:CCCC' where id = ?`, [channelId]);
    expect((await p.api.call('POST', `/v1/broadcasts/${held.body.id}/start`, { token: tenant.adminToken })).status).toBe(202);
    const done = await finished(tenant, held.body.id, 'failed');
    expect(done.failureReason).toMatch(/cannot be decrypted/);
    expect(done.finishedAt).not.toBeNull();
    expect(done.statistics).toMatchObject({ total: 1, pending: 1, sent: 0 });
    expect(p.sandbox.sends({ to: '+14155556200' })).toHaveLength(0);
    const events = await p.api.orm.em.fork().find(DomainEvent, { organization: tenant.organizationId, type: 'broadcast.update' }, { ...UNSCOPED, orderBy: { id: 'asc' } });
    expect(events.map((e) => (e.data.broadcast as { status: string }).status)).toEqual(['running', 'failed']);
  });

  it('ends failed when its channel was disconnected before it could send', async () => {
    const { tenant, channelId } = await onboard();
    const held = await p.api.call('POST', '/v1/broadcasts', { token: tenant.adminToken, body: { template: { name: 'hello_world', language: 'en_US' }, users: [{ phone: '+14155556201' }], hold: true } });
    expect((await p.api.call('DELETE', `/v1/channels/${channelId}`, { token: tenant.adminToken })).status).toBe(204);
    expect((await p.api.call('POST', `/v1/broadcasts/${held.body.id}/start`, { token: tenant.adminToken })).status).toBe(202);
    const done = await finished(tenant, held.body.id, 'failed');
    expect(done.failureReason).toMatch(/disconnected/);
    expect(p.sandbox.sends({ to: '+14155556201' })).toHaveLength(0);
  });

  it('ends failed when its template is no longer synced on the channel, leaving every recipient unsent', async () => {
    const { tenant, channelId } = await onboard();
    const users = [{ phone: '+14155556203' }, { phone: '+14155556204' }];
    const held = await p.api.call('POST', '/v1/broadcasts', { token: tenant.adminToken, body: { template: { name: 'hello_world', language: 'en_US' }, users, hold: true } });
    // Meta deleted the template and the sync followed.
    await p.api.orm.em.fork().getConnection().execute(`delete from templates where channel_id = ? and name = 'hello_world'`, [channelId]);
    expect((await p.api.call('POST', `/v1/broadcasts/${held.body.id}/start`, { token: tenant.adminToken })).status).toBe(202);
    const done = await finished(tenant, held.body.id, 'failed');
    expect(done.failureReason).toMatch(/hello_world \(en_US\) is no longer synced/);
    expect(done.statistics).toMatchObject({ total: 2, pending: 2, failed: 0 });
  });

  it('keeps heartbeating while the channel’s budget is held by other senders for longer than the heartbeat timeout', async () => {
    const { tenant, channelId } = await onboard({ messagesPerSecond: 10 });
    // Another sender holds the whole budget for the next 18 s (the activity's heartbeat timeout is 15 s).
    await p.api.orm.em
      .fork()
      .getConnection()
      .execute(`insert into channel_send_log (channel_id, drawn_at, count) values (?, clock_timestamp() + interval '17 seconds', 1000)`, [channelId]);
    const created = await p.api.call('POST', '/v1/broadcasts', { token: tenant.adminToken, body: { template: { name: 'hello_world', language: 'en_US' }, users: [{ phone: '+14155556202' }] } });
    expect(created.status).toBe(202);
    const done = await eventually(async () => {
      const res = await p.api.call('GET', `/v1/broadcasts/${created.body.id}`, { token: tenant.adminToken });
      return res.body.status === 'completed' ? res.body : undefined;
    }, 40_000, 'broadcast completed');
    expect(done.statistics).toMatchObject({ total: 1, unknown: 0, failed: 0 });
    const history = await p.temporal.workflow.getHandle(broadcastWorkflowId(tenant.organizationId, created.body.id)).fetchHistory();
    // Retries are not in the history, but each activity's started event records its last attempt.
    const attempts = (history.events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt] : []));
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.every((a) => a === 1)).toBe(true);
    expect(p.sandbox.sends({ to: '+14155556202' })).toHaveLength(1);
  }, 60_000);

  it('needs broadcasts:write to create and broadcasts:read to read; another tenant gets 404', async () => {
    const { tenant } = await onboard();
    const res = await p.api.call('POST', '/v1/broadcasts', { token: tenant.adminToken, body: { template: { name: 'hello_world', language: 'en_US' }, users: [{ phone: '+14155557000' }] } });
    const other = await createTenant(p.api);
    for (const [method, path] of [
      ['GET', `/v1/broadcasts/${res.body.id}`],
      ['GET', `/v1/broadcasts/${res.body.id}/statuses.csv`],
      ['POST', `/v1/broadcasts/${res.body.id}/cancel`],
    ] as const) {
      const r = await p.api.call(method, path, { token: other.adminToken });
      expect(r.status).toBe(404);
    }
    const agent = await p.api.call('POST', '/v1/users', { token: tenant.adminToken, body: { email: `agent-${Date.now()}@example.test`, password: 'correct horse battery staple', name: 'Agent', role: 'agent' } });
    const login = await p.api.call('POST', '/v1/auth/login', { body: { email: agent.body.email, password: 'correct horse battery staple' } });
    const denied = await p.api.call('POST', '/v1/broadcasts', { token: login.body.accessToken, body: { template: { name: 'hello_world', language: 'en_US' }, users: [{ phone: '+14155557001' }] } });
    expect(denied.status).toBe(403);
  });
});
