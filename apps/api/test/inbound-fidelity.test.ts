import { randomInt } from 'node:crypto';
import { createLogger, ManualClock, RetryLaterError } from '@parley/core';
import { GroupWriter, laneOf, MetaInboundProcessor, metaWebhookPayload, PhoneNumberDirectory, RETRY_SCHEDULE_MS, storableJson } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi, TEST_SECRETS } from '../../../test/support/api';
import { envelope, inbound, sign, status, wamid } from '../../../test/fixtures/meta';
import { insertChannel } from '../../../test/support/channels';
import { Broadcast } from '@parley/db';
import { countRows } from './helpers';
import { contactWrites, FakeGraph, newOrg, newSender, type Org, postSigned } from './messaging-support';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

const settle = () => api.app.services.metaProcessor.settle();
const operator = { token: TEST_SECRETS.PLATFORM_ADMIN_TOKEN };

async function messagesOf(org: Org, conversationId: string) {
  const res = await api.call('GET', `/v1/conversations/${conversationId}/messages?limit=200`, { token: org.token });
  expect(res.status, res.text).toBe(200);
  return res.body.data as { id: string; wamid: string; type: string; content: Record<string, unknown>; editedAt: string | null; deletedAt: string | null; history: unknown[]; direction: string }[];
}

async function conversations(org: Org) {
  const res = await api.call('GET', '/v1/conversations?limit=200', { token: org.token });
  expect(res.status, res.text).toBe(200);
  return res.body.data as { id: string; status: string; contact: { id: string; phone: string | null; name: string | null }; unreadCount: number; windowExpiresAt: string | null }[];
}

async function contactRow(orgId: string, where: string, value: string) {
  const rows = await api.orm.em.fork().getConnection().execute<{ id: string; phone: string | null; wa_id: string | null; user_id: string | null; username: string | null }[]>(
    `select id, phone, wa_id, user_id, username from contacts where organization_id = ? and ${where} = ?`,
    [orgId, value],
  );
  return rows;
}

async function failuresOf(orgOrDelivery: { orgId?: string; marker?: string }) {
  return api.orm.em.fork().getConnection().execute<{ id: string; state: string; reason: string; item_kind: string; attempts: number; item: unknown }[]>(
    orgOrDelivery.orgId
      ? 'select id, state, reason, item_kind, attempts, item from meta_inbound_failures where organization_id = ? order by id'
      : 'select id, state, reason, item_kind, attempts, item from meta_inbound_failures where item::text like ? order by id',
    [orgOrDelivery.orgId ?? `%${orgOrDelivery.marker}%`],
  );
}

async function contactIdsOf(org: Org, waId: string): Promise<string[]> {
  const rows = await api.orm.em.fork().getConnection().execute<{ id: string }[]>('select id from contacts where organization_id = ? and wa_id = ?', [org.orgId, waId]);
  return rows.map((r) => r.id);
}

const mexicanMobile = () => `521${randomInt(5_500_000_000, 5_599_999_999)}`;

describe('who wrote', () => {
  it('keeps a message from a Mexican mobile (521 + ten digits), with the E.164 phone derived from it', async () => {
    const org = await newOrg(api);
    const from = mexicanMobile();
    const { payload, id } = inbound(org.route, from, { type: 'text', text: { body: 'Hola desde CDMX' } }, { name: 'Lupita' });
    await postSigned(api, payload);
    await settle();
    const [row] = await conversations(org);
    expect(row?.contact.phone).toBe(`+52${from.slice(3)}`);
    const messages = await messagesOf(org, row!.id);
    expect(messages.map((m) => [m.wamid, m.content.text])).toEqual([[id, 'Hola desde CDMX']]);
    expect((await contactRow(org.orgId, 'wa_id', from)).length).toBe(1);
    // The next message of the same person lands in the same conversation.
    await contactWrites(api, org.route, from, 'otra vez');
    expect((await conversations(org)).length).toBe(1);
    expect((await messagesOf(org, row!.id)).length).toBe(2);
  });

  it('keeps a message that names its sender only by business-scoped user id, under a contact keyed by it', async () => {
    const org = await newOrg(api);
    const userId = `US.${randomInt(1e9, 9e9)}${randomInt(1e9, 9e9)}`;
    const body = (id: string, text: string) =>
      envelope(org.route, {
        contacts: [{ profile: { name: 'Muhsin', username: 'muhsin' }, user_id: userId, parent_user_id: 'US.ENT.1' }],
        messages: [{ from_user_id: userId, id, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: text } }],
      });
    await postSigned(api, body(wamid(), 'first'));
    await postSigned(api, body(wamid(), 'second'));
    await settle();
    const rows = await conversations(org);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.contact).toMatchObject({ phone: null, name: 'Muhsin' });
    expect((await messagesOf(org, rows[0]!.id)).map((m) => m.content.text).sort()).toEqual(['first', 'second']);
    expect(await contactRow(org.orgId, 'user_id', userId)).toEqual([expect.objectContaining({ wa_id: null, username: 'muhsin' })]);
    expect(await failuresOf({ orgId: org.orgId })).toEqual([]);
  });

  it('stores the wa_id Meta answers a send with, so the reply from it lands in the same conversation (Brazil)', async () => {
    const org = await newOrg(api);
    const eightDigits = String(randomInt(10_000_000, 99_999_999));
    const written = `+55119${eightDigits}`;
    const answered = `5511${eightDigits}`;
    const upsert = await api.call('POST', '/v1/conversations', {
      token: org.token,
      body: { type: 'contact', contact: { profile: { name: 'João', telephone: written } } },
    });
    expect(upsert.status, upsert.text).toBe(201);
    // An agent's template reaches Meta, which answers with the contact's older wa_id.
    await api.orm.em.fork().getConnection().execute(
      `insert into messages (id, organization_id, conversation_id, channel_id, direction, role, ai, type, content, status, status_rank, send_state, send_attempts, status_updated_at, created_at)
       values (gen_random_uuid(), ?, ?, ?, 'outbound', 'agent', false, 'text', '{"text":"Olá"}', 'queued', 0, 'pending', 0, now(), now())`,
      [org.orgId, upsert.body.id, org.channel.id],
    );
    const graph = new FakeGraph();
    const sender = newSender(api, {
      sendMessage: async (...args: Parameters<FakeGraph['sendMessage']>) => ({ ...(await graph.sendMessage(...args)), contactWaId: answered }),
    } as unknown as FakeGraph);
    await sender.drain();
    expect(graph.callsFor(org.channel)).toHaveLength(1);
    await contactWrites(api, org.route, answered, 'Obrigado!');
    const rows = await conversations(org);
    expect(rows.map((r) => r.id)).toEqual([upsert.body.id]);
    expect(rows[0]!.contact.phone).toBe(written);
    expect((await messagesOf(org, upsert.body.id)).map((m) => m.content.text)).toContain('Obrigado!');
  });

  it('follows a contact who changed number (system message), and keeps the notice in the thread', async () => {
    const org = await newOrg(api);
    const before = `50230${randomInt(100_000, 999_999)}`;
    const after = `50240${randomInt(100_000, 999_999)}`;
    await contactWrites(api, org.route, before, 'hola');
    const notice = envelope(org.route, {
      messages: [{ from: before, id: wamid(), timestamp: String(Math.floor(Date.now() / 1000)), type: 'system', system: { body: `User A changed from ${before} to ${after}`, wa_id: after, type: 'user_changed_number' } }],
    });
    await postSigned(api, notice);
    await settle();
    await contactWrites(api, org.route, after, 'desde mi número nuevo');
    const rows = await conversations(org);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.contact.phone).toBe(`+${after}`);
    const messages = await messagesOf(org, rows[0]!.id);
    expect(messages.map((m) => m.type).sort()).toEqual(['system', 'text', 'text']);
  });

  it('opens the conversation on request_welcome without inventing a message', async () => {
    const org = await newOrg(api);
    const from = `50231${randomInt(100_000, 999_999)}`;
    await postSigned(api, envelope(org.route, { contacts: [{ profile: { name: 'Nueva' }, wa_id: from }], messages: [{ from, id: wamid(), timestamp: String(Math.floor(Date.now() / 1000)), type: 'request_welcome' }] }));
    await settle();
    const rows = await conversations(org);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.windowExpiresAt).not.toBeNull();
    expect(rows[0]!.unreadCount).toBe(0);
    expect(await messagesOf(org, rows[0]!.id)).toEqual([]);
  });
});

describe('edits and deletions', () => {
  it('an edit changes the original and keeps its history; a revoke clears it and marks it deleted', async () => {
    const org = await newOrg(api);
    const from = `50232${randomInt(100_000, 999_999)}`;
    const original = wamid();
    const referral = { source_url: 'https://fb.me/ad', source_id: '120', source_type: 'ad', headline: 'Cajas', ctwa_clid: 'ARAkLkA8' };
    await postSigned(api, inbound(org.route, from, { type: 'text', text: { body: 'Quiero 2 cajas' }, referral }, { id: original }).payload);
    await settle();
    const ts = String(Math.floor(Date.now() / 1000));
    const edit = envelope(org.route, {
      contacts: [{ profile: { name: 'Ana' }, wa_id: from }],
      messages: [{ from, id: wamid(), timestamp: ts, type: 'edit', edit: { original_message_id: original, message: { type: 'text', text: { body: 'Quiero 3 cajas' } } } }],
    });
    await postSigned(api, edit);
    await postSigned(api, edit); // Meta's redelivery changes nothing more
    await settle();
    const [conversation] = await conversations(org);
    let [message] = await messagesOf(org, conversation!.id);
    expect(message).toMatchObject({ wamid: original, type: 'text', content: { text: 'Quiero 3 cajas', referral: expect.objectContaining({ ctwaClid: 'ARAkLkA8' }) } });
    expect(message!.editedAt).not.toBeNull();
    expect(message!.history).toEqual([expect.objectContaining({ type: 'text', content: expect.objectContaining({ text: 'Quiero 2 cajas' }) })]);

    await postSigned(api, envelope(org.route, { messages: [{ from, id: wamid(), timestamp: ts, type: 'revoke', revoke: { original_message_id: original } }] }));
    await settle();
    [message] = await messagesOf(org, conversation!.id);
    expect(message).toMatchObject({ wamid: original, content: {}, history: [] });
    expect(message!.deletedAt).not.toBeNull();
    const events = await countRows(api, `select count(*)::int as n from domain_events where organization_id = ? and type = 'message.update' and data->'message'->>'id' = ?`, [org.orgId, message!.id]);
    expect(events).toBe(2);
  });

  it('an edit that arrives before its original waits, and applies once the original is there', async () => {
    const org = await newOrg(api);
    const from = `50233${randomInt(100_000, 999_999)}`;
    const originalId = wamid();
    await postSigned(api, envelope(org.route, { messages: [{ from, id: wamid(), timestamp: '1749854575', type: 'edit', edit: { original_message_id: originalId, message: { type: 'text', text: { body: 'corrected' } } } }] }));
    await settle();
    const [waiting] = await failuresOf({ orgId: org.orgId });
    expect(waiting).toMatchObject({ state: 'retrying', item_kind: 'message' });
    expect(waiting!.reason).toMatch(/not known yet/);
    await postSigned(api, inbound(org.route, from, { type: 'text', text: { body: 'typo' } }, { id: originalId }).payload);
    await settle();
    const replay = await api.call('POST', `/v1/operator/inbound-failures/${waiting!.id}/replay`, operator);
    expect(replay.status, replay.text).toBe(200);
    expect(replay.body.state).toBe('replayed');
    const [conversation] = await conversations(org);
    expect((await messagesOf(org, conversation!.id))[0]!.content).toEqual({ text: 'corrected' });
  });
});

describe('isolation and dead letters', () => {
  it('a bad message is set aside with its reason and raw JSON; its neighbours in the same change apply', async () => {
    const org = await newOrg(api);
    const from = `50234${randomInt(100_000, 999_999)}`;
    const good = [wamid(), wamid()];
    const marker = `no-id-${randomInt(1e9, 9e9)}`;
    await postSigned(
      api,
      envelope(org.route, {
        contacts: [{ profile: { name: 'Ana' }, wa_id: from }],
        messages: [
          { from, id: good[0], timestamp: '1749854575', type: 'text', text: { body: 'one' } },
          { from, timestamp: '1749854576', type: 'text', text: { body: marker } },
          { from, id: good[1], timestamp: 1749854577, type: 'text', text: { body: 'three' } },
        ],
      }),
    );
    await settle();
    const [conversation] = await conversations(org);
    expect((await messagesOf(org, conversation!.id)).map((m) => m.content.text).sort()).toEqual(['one', 'three']);
    const failures = await failuresOf({ orgId: org.orgId });
    expect(failures).toEqual([expect.objectContaining({ state: 'parked', item_kind: 'message', item: expect.objectContaining({ text: { body: marker } }) })]);
    expect(failures[0]!.reason).toMatch(/id/);
    const listed = await api.call('GET', `/v1/operator/inbound-failures?state=parked&organizationId=${org.orgId}`, operator);
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.data).toEqual([expect.objectContaining({ id: failures[0]!.id, kind: 'message', field: 'messages', reason: failures[0]!.reason })]);
    // A tenant cannot read the operator's desk.
    expect((await api.call('GET', '/v1/operator/inbound-failures', { token: org.token })).status).toBe(403);
  });

  it('an item the database refuses is set aside on its own and applies when replayed after the fix', async () => {
    const org = await newOrg(api);
    const from = `50235${randomInt(100_000, 999_999)}`;
    const poisoned = `wamid.POISON${randomInt(1e9, 9e9)}`;
    const conn = api.orm.em.fork().getConnection();
    const fn = `poison_${randomInt(1e9, 9e9)}`;
    await conn.execute(`create function ${fn}() returns trigger language plpgsql as $$ begin if new.wamid = '${poisoned}' then raise exception 'refused by test'; end if; return new; end $$`);
    await conn.execute(`create trigger ${fn} before insert on messages for each row execute function ${fn}()`);
    try {
      await postSigned(
        api,
        envelope(org.route, {
          contacts: [{ profile: { name: 'Ana' }, wa_id: from }],
          messages: [
            { from, id: wamid(), timestamp: '1749854575', type: 'text', text: { body: 'before' } },
            { from, id: poisoned, timestamp: '1749854576', type: 'text', text: { body: 'poisoned' } },
            { from, id: wamid(), timestamp: '1749854577', type: 'text', text: { body: 'after' } },
          ],
        }),
      );
      await settle();
    } finally {
      await conn.execute(`drop trigger ${fn} on messages`);
      await conn.execute(`drop function ${fn}()`);
    }
    const [conversation] = await conversations(org);
    expect((await messagesOf(org, conversation!.id)).map((m) => m.content.text).sort()).toEqual(['after', 'before']);
    const [failure] = await failuresOf({ orgId: org.orgId });
    expect(failure).toMatchObject({ state: 'retrying', item_kind: 'message' });
    expect(failure!.reason).toContain('refused by test');
    expect(failure!.reason).not.toContain('insert into');
    const replay = await api.call('POST', `/v1/operator/inbound-failures/${failure!.id}/replay`, operator);
    expect(replay.body.state).toBe('replayed');
    expect((await messagesOf(org, conversation!.id)).map((m) => m.content.text).sort()).toEqual(['after', 'before', 'poisoned']);
  });

  it('retries a set-aside item on a backoff that spans hours, then parks it for the operator', async () => {
    const org = await newOrg(api);
    // Far from the real clock, so no other test process's processor finds this item due.
    const clock = new ManualClock(new Date(Date.now() + 400 * 24 * 3600_000));
    const processor = new MetaInboundProcessor(api.orm, new PhoneNumberDirectory(api.orm), clock, createLogger({ level: 'silent' }));
    const missing = wamid();
    const [row] = await api.orm.em.fork().getConnection().execute<{ id: string }[]>(
      `insert into meta_inbound_failures (organization_id, phone_number_id, item_kind, item, context, reason, fingerprint, state, attempts, next_attempt_at, created_at, updated_at)
       values (?, ?, 'message', ?::jsonb, ?::jsonb, 'the edited message is not known yet', ?, 'retrying', 1, ?, ?, ?) returning id`,
      [
        org.orgId,
        org.channel.phoneNumberId,
        JSON.stringify({ from: '50212345678', id: wamid(), timestamp: '1749854575', type: 'edit', edit: { original_message_id: missing, message: { type: 'text', text: { body: 'x' } } } }),
        JSON.stringify({ field: 'messages', phoneNumberId: org.channel.phoneNumberId, wabaId: org.channel.wabaId }),
        `test-${missing}`,
        clock.now(),
        clock.now(),
        clock.now(),
      ],
    );
    const waits: number[] = [];
    for (let i = 0; i < 20; i++) {
      // What the scheduled retry does once the item is due (retryDueFailures), for this item alone.
      await processor.replay(row!.id, false);
      const [f] = await api.orm.em.fork().getConnection().execute<{ state: string; next_attempt_at: Date | null; attempts: number }[]>(
        'select state, next_attempt_at, attempts from meta_inbound_failures where id = ?',
        [row!.id],
      );
      if (f!.state !== 'retrying') break;
      waits.push(new Date(f!.next_attempt_at!).getTime() - clock.now().getTime());
      clock.set(new Date(f!.next_attempt_at!));
    }
    const [final] = await failuresOf({ orgId: org.orgId });
    expect(final).toMatchObject({ state: 'parked', attempts: RETRY_SCHEDULE_MS.length + 1 });
    expect(waits).toHaveLength(RETRY_SCHEDULE_MS.length - 1);
    // Seconds at first, hours at the end.
    expect(waits[0]).toBeLessThan(60_000);
    expect(waits.at(-1)).toBeGreaterThan(4 * 3600_000);
    expect(waits.reduce((a, b) => a + b, 0)).toBeGreaterThan(10 * 3600_000);
  });

  it('the running processor retries a set-aside item once it is due, without the operator', async () => {
    const org = await newOrg(api);
    const from = `50243${randomInt(100_000, 999_999)}`;
    const conn = api.orm.em.fork().getConnection();
    const id = wamid();
    const [row] = await conn.execute<{ id: string }[]>(
      `insert into meta_inbound_failures (organization_id, phone_number_id, item_kind, item, context, reason, fingerprint, state, attempts, next_attempt_at, created_at, updated_at)
       values (?, ?, 'message', ?::jsonb, ?::jsonb, 'refused by test', ?, 'retrying', 1, now() - interval '1 second', now(), now()) returning id`,
      [
        org.orgId,
        org.channel.phoneNumberId,
        JSON.stringify({ from, id, timestamp: '1749854575', type: 'text', text: { body: 'due again' } }),
        JSON.stringify({ field: 'messages', phoneNumberId: org.channel.phoneNumberId, wabaId: org.channel.wabaId }),
        `test-${id}`,
      ],
    );
    await settle();
    const [after] = await failuresOf({ orgId: org.orgId });
    expect(after).toMatchObject({ id: row!.id, state: 'replayed' });
    expect(await countRows(api, 'select count(*)::int as n from messages where organization_id = ? and wamid = ?', [org.orgId, id])).toBe(1);
  });

  it('a redelivered bad item is not set aside twice', async () => {
    const org = await newOrg(api);
    const body = envelope(org.route, { messages: [{ from: '50212345678', timestamp: '1749854575', type: 'text', text: { body: `dup-${randomInt(1e9, 9e9)}` } }] });
    await postSigned(api, body);
    await postSigned(api, body);
    await settle();
    expect(await failuresOf({ orgId: org.orgId })).toHaveLength(1);
  });

  it('Meta’s value-level errors are recorded on the channel and listed on it', async () => {
    const org = await newOrg(api);
    const body = envelope(org.route, {
      errors: [{ code: 130429, title: 'Rate limit hit', message: 'Rate limit hit', error_data: { details: 'Cloud API message throughput has been reached.' }, href: '/docs/whatsapp/cloud-api/support/error-codes/' }],
    });
    await postSigned(api, body);
    await postSigned(api, body);
    await settle();
    const notices = await api.call('GET', `/v1/channels/${org.channel.id}/notices?kind=error`, { token: org.token });
    expect(notices.status, notices.text).toBe(200);
    expect(notices.body.data).toEqual([expect.objectContaining({ kind: 'error', code: 130429, title: 'Rate limit hit', detail: 'Cloud API message throughput has been reached.' })]);
  });

  it('a person’s marketing preference set in WhatsApp (stop, then resume) is kept on their contact, in the consent ledger', async () => {
    const org = await newOrg(api);
    const waId = `50244${randomInt(100_000, 999_999)}`;
    const preference = (value: 'stop' | 'resume') => ({
      object: 'whatsapp_business_account',
      entry: [{ id: org.route.wabaId, changes: [{ field: 'user_preferences', value: { messaging_product: 'whatsapp', metadata: { phone_number_id: org.route.phoneNumberId }, user_preferences: [{ wa_id: waId, detail: `User requested to ${value} marketing messages`, category: 'marketing_messages', value, timestamp: 1731705721 }] } }] }],
    });
    const state = async () => {
      const [row] = await api.orm.em.fork().getConnection().execute<{ marketing_opted_out: boolean; changes: string[] }[]>(
        `select c.marketing_opted_out, array(select e.change from consent_events e where e.contact_id = c.id order by e.created_at, e.id) as changes
           from contacts c where c.organization_id = ? and c.wa_id = ?`,
        [org.orgId, waId],
      );
      return row;
    };
    await postSigned(api, preference('stop'));
    await settle();
    expect(await state()).toEqual({ marketing_opted_out: true, changes: ['marketing_opt_out'] });
    await postSigned(api, preference('resume'));
    await settle();
    expect(await state()).toEqual({ marketing_opted_out: false, changes: ['marketing_opt_out', 'marketing_opt_in'] });
    const [contact] = await contactIdsOf(org, waId);
    const ledger = await api.call('GET', `/v1/contacts/${contact}/consent`, { token: org.token });
    expect(ledger.status, ledger.text).toBe(200);
    expect((ledger.body.data as { change: string; cause: string }[]).map((e) => [e.change, e.cause])).toEqual([
      ['marketing_opt_in', 'whatsapp_preferences'],
      ['marketing_opt_out', 'whatsapp_preferences'],
    ]);
  });

  it('a delivery for a channel disconnected after it was stored is not applied to it', async () => {
    const org = await newOrg(api);
    const from = `50236${randomInt(100_000, 999_999)}`;
    // The API's directory has the channel cached from this delivery.
    await postSigned(api, inbound(org.route, from, { type: 'text', text: { body: 'first' } }).payload);
    await api.orm.em.fork().getConnection().execute(`update channels set status = 'deleted' where id = ?`, [org.channel.id]);
    await settle();
    expect(await countRows(api, 'select count(*)::int as n from messages where organization_id = ?', [org.orgId])).toBe(0);
  });
});

describe('a number moved to another organization', () => {
  it('is routed to its new organization at once: messages and broadcast receipts alike', async () => {
    const before = await newOrg(api);
    const from = `50239${randomInt(100_000, 999_999)}`;
    // The API's directory caches the route of the number to its first organization.
    await postSigned(api, inbound(before.route, from, { type: 'text', text: { body: 'to the old owner' } }).payload);
    await settle();
    await api.orm.em.fork().getConnection().execute(`update channels set status = 'deleted' where id = ?`, [before.channel.id]);
    const after = await newOrg(api);
    const channel = await insertChannel(api, after.orgId, { phoneNumberId: before.channel.phoneNumberId, wabaId: before.channel.wabaId });
    const em = api.orm.em.fork();
    const broadcast = new Broadcast(after.orgId, channel.id, { name: 'hello_world', language: 'en_US', category: 'UTILITY' }, {});
    broadcast.total = 1;
    await em.persistAndFlush(broadcast);
    const sent = wamid();
    const [recipient] = await em.getConnection().execute<{ id: string }[]>(
      `insert into broadcast_recipients (organization_id, broadcast_id, phone, params, status, status_rank, wamid, attempts, updated_at)
       values (?, ?, '+14155558000', '{}', 'sent', 1, ?, 1, now()) returning id`,
      [after.orgId, broadcast.id, sent],
    );
    await postSigned(api, status(before.route, sent, 'read', { callback: `bcr:${recipient!.id}` }));
    await postSigned(api, inbound(before.route, from, { type: 'text', text: { body: 'to the new owner' } }).payload);
    await settle();
    const [row] = await api.orm.em.fork().getConnection().execute<{ status: string }[]>('select status from broadcast_recipients where id = ?', [recipient!.id]);
    expect(row!.status).toBe('read');
    expect(await countRows(api, 'select count(*)::int as n from messages where organization_id = ?', [after.orgId])).toBe(1);
    expect(await countRows(api, 'select count(*)::int as n from messages where organization_id = ?', [before.orgId])).toBe(1);
  });
});

describe('a delivery that fails as a whole', () => {
  it('is retried on the backoff and parked after the last try, for the operator to replay', async () => {
    const org = await newOrg(api);
    const from = `50241${randomInt(100_000, 999_999)}`;
    const marker = `whole-${randomInt(1e9, 9e9)}`;
    const conn = api.orm.em.fork().getConnection();
    const fn = `refuse_${randomInt(1e9, 9e9)}`;
    // The message is refused and so is setting it aside: nothing of the delivery can be applied.
    await conn.execute(`create function ${fn}() returns trigger language plpgsql as $$ begin if new::text like '%${marker}%' then raise exception 'refused by test'; end if; return new; end $$`);
    await conn.execute(`create trigger ${fn} before insert on messages for each row execute function ${fn}()`);
    await conn.execute(`create trigger ${fn} before insert on meta_inbound_failures for each row execute function ${fn}()`);
    const processor = api.app.services.metaProcessor;
    let deliveryId: string | undefined;
    try {
      await postSigned(api, inbound(org.route, from, { type: 'text', text: { body: marker } }).payload);
      const [stored] = await conn.execute<{ id: string }[]>(`select id from meta_webhook_deliveries where payload::text like ?`, [`%${marker}%`]);
      deliveryId = stored!.id;
      await processor.processBatch();
      const [first] = await conn.execute<{ attempts: number; next_attempt_at: Date; last_error: string; parked_at: Date | null }[]>(
        'select attempts, next_attempt_at, last_error, parked_at from meta_webhook_deliveries where id = ?',
        [deliveryId],
      );
      expect(first!.attempts).toBeGreaterThanOrEqual(1);
      expect(first!.parked_at).toBeNull();
      expect(first!.last_error).toContain('refused by test');
      expect(first!.last_error).not.toContain(marker);
      // The last try: it is parked, listed, and replayable.
      await conn.execute('update meta_webhook_deliveries set attempts = ?, next_attempt_at = null where id = ?', [RETRY_SCHEDULE_MS.length, deliveryId]);
      await processor.processBatch();
    } finally {
      await conn.execute(`drop trigger ${fn} on messages`);
      await conn.execute(`drop trigger ${fn} on meta_inbound_failures`);
      await conn.execute(`drop function ${fn}()`);
    }
    const parked = await api.call('GET', '/v1/operator/meta-deliveries/parked?limit=200', operator);
    expect(parked.status, parked.text).toBe(200);
    expect((parked.body.data as { id: string }[]).map((d) => d.id)).toContain(String(deliveryId));
    const replay = await api.call('POST', `/v1/operator/meta-deliveries/${deliveryId}/replay`, operator);
    expect(replay.status, replay.text).toBe(200);
    await settle();
    const [conversation] = await conversations(org);
    expect((await messagesOf(org, conversation!.id)).map((m) => m.content.text)).toEqual([marker]);
  });
});

describe('hostile Meta input', () => {
  it('a signed delivery with NUL characters and lone surrogates is answered 200 and stored escaped', async () => {
    const org = await newOrg(api);
    const from = `50237${randomInt(100_000, 999_999)}`;
    const { payload, id } = inbound(org.route, from, { type: 'text', text: { body: 'a\u0000b \ud800 c' } });
    const res = await postSigned(api, payload);
    expect(res.status).toBe(200);
    await settle();
    const [conversation] = await conversations(org);
    const [message] = await messagesOf(org, conversation!.id);
    expect(message).toMatchObject({ wamid: id, content: { text: 'a\\u0000b \\ud800 c' } });
    expect(storableJson('{"a":"ok"}', { a: 'ok' })).toBe('{"a":"ok"}');
  });

  it('a NUL in a neighbour delivery does not fail the deliveries written with it', async () => {
    const writes: string[][] = [];
    const writer = new GroupWriter<string>(async (rows) => {
      writes.push(rows);
      if (rows.includes('bad')) throw new Error('refused');
    }, { maxConcurrent: 1, maxBatch: 10 });
    const first = writer.add('first'); // written alone
    const rest = ['a', 'bad', 'b'].map((r) => writer.add(r).then(() => 'ok', () => 'failed'));
    await first;
    expect(await Promise.all(rest)).toEqual(['ok', 'failed', 'ok']);
    expect(writes).toEqual([['first'], ['a', 'bad', 'b'], ['a'], ['bad'], ['b']]);
  });

  it('the webhook’s queue is bounded: past it, 503 with Retry-After', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const writer = new GroupWriter<number>(() => gate, { maxConcurrent: 1, maxBatch: 1, maxQueued: 2 });
    const accepted = [writer.add(1), writer.add(2), writer.add(3)];
    const refused = await writer.add(4).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RetryLaterError);
    expect(refused).toMatchObject({ status: 503, retryAfterSeconds: 1 });
    release();
    await Promise.all(accepted);
  });

  it('a signed delivery nested beyond reason is refused with 400 before anything recursive reads it', async () => {
    const raw = `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":${'['.repeat(5000)}${']'.repeat(5000)}}]}]}`;
    const res = await api.call('POST', '/webhooks/meta', { raw, headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(raw, api.config.meta.appSecret) } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('nesting_too_deep');
  });

  it('a delivery whose signature covers a broken envelope is answered, not retried forever', async () => {
    const raw = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: 1, changes: [{ value: 'not an object' }] }] });
    const res = await api.call('POST', '/webhooks/meta', { raw, headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(raw, api.config.meta.appSecret) } });
    expect(res.status).toBe(200);
  });
});

describe('statuses in bulk', () => {
  it('move many messages forward in one delivery, one event per step, and a lost send learns its wamid from its tag', async () => {
    const org = await newOrg(api);
    const conn = api.orm.em.fork().getConnection();
    const from = `50242${randomInt(100_000, 999_999)}`;
    await contactWrites(api, org.route, from, 'hola');
    const [conversation] = await conversations(org);
    const wamids = [wamid(), wamid(), wamid()];
    const ids: string[] = [];
    for (const [i, w] of wamids.entries()) {
      const [row] = await conn.execute<{ id: string }[]>(
        `insert into messages (id, organization_id, conversation_id, channel_id, direction, role, ai, type, content, wamid, status, status_rank, send_state, send_attempts, status_updated_at, created_at)
         values (gen_random_uuid(), ?, ?, ?, 'outbound', 'agent', false, 'text', '{"text":"x"}', ?, 'queued', 0, ?, 1, now(), now()) returning id`,
        [org.orgId, conversation!.id, org.channel.id, i === 2 ? null : w, i === 2 ? 'unknown' : 'accepted'],
      );
      ids.push(row!.id);
    }
    const ts = String(Math.floor(Date.now() / 1000));
    const st = (id: string, value: string, extra: Record<string, unknown> = {}) => ({ id, status: value, timestamp: ts, recipient_id: from, ...extra });
    await postSigned(
      api,
      envelope(org.route, {
        statuses: [
          st(wamids[0]!, 'read'),
          st(wamids[0]!, 'delivered'),
          st(wamids[1]!, 'delivered'),
          st(wamids[1]!, 'read'),
          st(wamids[2]!, 'sent', { biz_opaque_callback_data: `msg:${ids[2]}` }),
        ],
      }),
    );
    await settle();
    const rows = await conn.execute<{ id: string; status: string; wamid: string }[]>('select id, status, wamid from messages where id in (?)', [ids]);
    expect(Object.fromEntries(rows.map((r) => [r.id, [r.status, r.wamid]]))).toEqual({
      [ids[0]!]: ['read', wamids[0]],
      [ids[1]!]: ['read', wamids[1]],
      [ids[2]!]: ['sent', wamids[2]],
    });
    const events = await conn.execute<{ data: { message: { id: string; status: string } } }[]>(
      `select data from domain_events where organization_id = ? and type = 'message.update' order by id`,
      [org.orgId],
    );
    expect(events.map((e) => [ids.indexOf(e.data.message.id), e.data.message.status])).toEqual([
      [0, 'read'],
      [1, 'delivered'],
      [1, 'read'],
      [2, 'sent'],
    ]);
    // Each step says where it came from: the status before it, or the batch's step before it.
    expect(events.map((e) => (e.data as unknown as { previous: { status: string } }).previous.status)).toEqual(['queued', 'queued', 'delivered', 'queued']);
  });
});

describe('lanes', () => {
  it('deliveries about one person share a lane; many people spread over the lanes', () => {
    const route = { wabaId: '1', phoneNumberId: '2' };
    const parse = (p: unknown) => metaWebhookPayload.parse(p);
    const from = '50212345678';
    const a = laneOf(parse(inbound(route, from, { type: 'text', text: { body: 'a' } }).payload));
    expect(laneOf(parse(inbound(route, from, { type: 'image', image: { id: '1' } }).payload))).toBe(a);
    expect(laneOf(parse(status(route, wamid(), 'read', { recipient: from })))).toBe(a);
    const lanes = new Set(Array.from({ length: 400 }, (_, i) => laneOf(parse(inbound(route, `5021${1000000 + i}`, { type: 'text', text: { body: 'x' } }).payload)) % 4));
    expect(lanes.size).toBe(4);
  });
});

describe('messages the business wrote in the WhatsApp Business app', () => {
  it('are kept as the business’s own messages in the contact’s conversation', async () => {
    const org = await newOrg(api);
    const to = `50238${randomInt(100_000, 999_999)}`;
    const id = wamid();
    const echo = {
      object: 'whatsapp_business_account',
      entry: [{ id: org.route.wabaId, changes: [{ field: 'smb_message_echoes', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550001111', phone_number_id: org.route.phoneNumberId }, message_echoes: [{ from: '15550001111', to, id, timestamp: '1697044968', type: 'text', text: { body: 'Sent from the app' } }] } }] }],
    };
    await postSigned(api, echo);
    await postSigned(api, echo);
    await settle();
    const rows = await conversations(org);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.contact.phone).toBe(`+${to}`);
    expect(rows[0]!.windowExpiresAt).toBeNull();
    const messages = await messagesOf(org, rows[0]!.id);
    expect(messages).toEqual([expect.objectContaining({ wamid: id, direction: 'outbound', type: 'text', content: expect.objectContaining({ text: 'Sent from the app', source: 'whatsapp_business_app' }) })]);
  });
});
