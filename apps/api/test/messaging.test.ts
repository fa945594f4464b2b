import { ManualClock } from '@parley/core';
import { ConsentEvent, Contact, Conversation, DomainEvent, Message, MessageStatusEvent, UNSCOPED } from '@parley/db';
import { GraphError } from '@parley/graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installApp, startTestApi, type TestApi } from '../../../test/support/api';
import { wamid } from '../../../test/fixtures/meta';
import { countRows, DAY, expectProblem, HOUR } from './helpers';
import {
  contactWrites,
  conversationOf,
  FakeGraph,
  insertTemplate,
  metaStatus,
  newOrg,
  newPhone,
  newSender,
  type Org,
  postSigned,
} from './messaging-support';
import { status as statusPayload } from '../../../test/fixtures/meta';

/**
 * Conversations and the outbound path: the upsert, the customer-service window, each message type
 * and Meta's limits on it, the per-conversation outbox the worker drains, and what Meta's answers
 * (and later status webhooks) do to a message.
 */

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

const em = () => api.orm.em.fork();

async function upsert(org: Org, body: unknown, headers: Record<string, string> = {}) {
  return api.call('POST', '/v1/conversations', { token: org.token, body, headers });
}

async function send(org: Org, conversationId: string, body: unknown, headers: Record<string, string> = {}) {
  return api.call('POST', `/v1/conversations/${conversationId}/messages`, { token: org.token, body, headers });
}

async function meId(token: string): Promise<string> {
  const me = await api.call('GET', '/v1/me', { token });
  return me.body.userId;
}

/** A contact who wrote a moment ago: their window is open. */
async function openConversation(org: Org, from = newPhone()): Promise<{ from: string; conversationId: string; contactId: string; inboundWamid: string }> {
  const inboundWamid = await contactWrites(api, org.route, from);
  const { id, contactId } = await conversationOf(api, org.token, from);
  return { from, conversationId: id, contactId, inboundWamid };
}

async function messageRow(id: string): Promise<Message> {
  return em().findOneOrFail(Message, { id }, UNSCOPED);
}

async function outboundCount(orgId: string): Promise<number> {
  return countRows(api, `select count(*)::int as n from messages where organization_id = ? and direction = 'outbound'`, [orgId]);
}

const contactBody = (profile: Record<string, string>, messages?: unknown[]) => ({ type: 'contact', contact: { profile }, ...(messages ? { messages } : {}) });

describe('POST /v1/conversations (upsert)', () => {
  it('upserts by telephone: 201 the first time, 200 after, the number stored in E.164 whatever its spelling', async () => {
    const org = await newOrg(api);
    const first = await upsert(org, contactBody({ name: 'Ana Pérez', telephone: '+502 1234 5678' }));
    expect(first.status, first.text).toBe(201);
    expect(first.body).toMatchObject({
      id: expect.any(String),
      status: 'active',
      contact: { id: expect.any(String), name: 'Ana Pérez', phone: '+50212345678', email: null, fields: {}, optedOut: false },
      assignee: null,
      requestId: null,
      unreadCount: 0,
      lastInboundAt: null,
      windowExpiresAt: null,
      messages: [],
    });
    for (const spelling of ['0050212345678', '50212345678', ' +502-1234-5678 ']) {
      const again = await upsert(org, contactBody({ telephone: spelling }));
      expect(again.status, `${spelling}: ${again.text}`).toBe(200);
      expect(again.body.id).toBe(first.body.id);
      expect(again.body.contact).toMatchObject({ id: first.body.contact.id, phone: '+50212345678', name: 'Ana Pérez' });
    }
    const contacts = await em().find(Contact, { organization: org.orgId }, UNSCOPED);
    expect(contacts.map((c) => c.phone)).toEqual(['+50212345678']);
    expect(await em().count(Conversation, { organization: org.orgId }, UNSCOPED)).toBe(1);
    expect(await em().count(DomainEvent, { organization: org.orgId, type: 'conversation.create' }, UNSCOPED)).toBe(1);
  });

  it('upserts by email (case-insensitively) when there is no telephone', async () => {
    const org = await newOrg(api);
    const first = await upsert(org, contactBody({ name: 'Bo', email: 'Bo.Smith@Example.test' }));
    expect(first.status, first.text).toBe(201);
    expect(first.body.contact).toMatchObject({ email: 'bo.smith@example.test', phone: null, name: 'Bo' });
    const again = await upsert(org, contactBody({ email: 'bo.smith@example.test' }));
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(await em().count(Contact, { organization: org.orgId }, UNSCOPED)).toBe(1);
    // A contact with no phone cannot be written to on WhatsApp.
    const chat = await send(org, first.body.id, { type: 'text', text: 'Hi' });
    expectProblem(chat, 422, 'contact_has_no_phone');
  });

  it('refuses an unparseable telephone with 400 invalid_phone, and a profile with neither phone nor email', async () => {
    const org = await newOrg(api);
    const bad = await upsert(org, contactBody({ telephone: 'call me maybe' }));
    expectProblem(bad, 400, 'invalid_phone');
    expect(bad.body.errors).toEqual([{ path: 'contact.profile.telephone', message: expect.any(String) }]);
    const tooShort = await upsert(org, contactBody({ telephone: '+1 23' }));
    expectProblem(tooShort, 400, 'invalid_phone');
    const nothing = await upsert(org, contactBody({ name: 'Nobody' }));
    expectProblem(nothing, 400, 'validation_error');
    expect(nothing.body.errors).toEqual([{ path: 'contact.profile', message: expect.any(String) }]);
    const unknownField = await upsert(org, { ...contactBody({ telephone: '+50212345678' }), organizationId: 'x' });
    expectProblem(unknownField, 400, 'validation_error');
    expect(await em().count(Contact, { organization: org.orgId }, UNSCOPED)).toBe(0);
  });

  it('sets contact fields from field messages and keeps earlier ones', async () => {
    const org = await newOrg(api);
    const res = await upsert(org, contactBody({ telephone: '+50212340001' }, [{ type: 'field', text: '.licenseplate XX-99-WZ' }]));
    expect(res.status, res.text).toBe(201);
    expect(res.body.contact.fields).toEqual({ licenseplate: 'XX-99-WZ' });
    const more = await upsert(org, contactBody({ telephone: '+50212340001' }, [{ type: 'field', text: '.Color  dark blue ' }]));
    expect(more.status).toBe(200);
    expect(more.body.contact.fields).toEqual({ licenseplate: 'XX-99-WZ', color: 'dark blue' });
    const contact = await em().findOneOrFail(Contact, { organization: org.orgId, phone: '+50212340001' }, UNSCOPED);
    expect(contact.fields).toEqual({ licenseplate: 'XX-99-WZ', color: 'dark blue' });
    // Field messages are not chat: nothing was queued.
    expect(await outboundCount(org.orgId)).toBe(0);
  });

  it('stores nothing at all when one item is malformed (contact, conversation and earlier items are one transaction)', async () => {
    const org = await newOrg(api);
    const res = await upsert(
      org,
      contactBody({ telephone: '+50212340002' }, [
        { type: 'field', text: '.licenseplate XX-99-WZ' },
        { type: 'field', text: 'licenseplate without a dot' },
      ]),
    );
    expectProblem(res, 400, 'validation_error');
    expect(res.body.errors).toEqual([{ path: 'messages.1.text', message: expect.any(String) }]);
    expect(await em().count(Contact, { organization: org.orgId }, UNSCOPED)).toBe(0);
    expect(await em().count(Conversation, { organization: org.orgId }, UNSCOPED)).toBe(0);
    expect(await em().count(DomainEvent, { organization: org.orgId }, UNSCOPED)).toBe(0);
  });

  it('refuses a chat text to a contact whose window is closed with 422 and stores nothing', async () => {
    const org = await newOrg(api);
    const res = await upsert(
      org,
      contactBody({ telephone: '+50212340003' }, [
        { type: 'field', text: '.licenseplate XX-99-WZ' },
        { type: 'chat', role: 'agent', touchpoint: 'whatsapp', text: 'Your car is ready' },
      ]),
    );
    expectProblem(res, 422, 'outside_customer_service_window');
    expect(await em().count(Contact, { organization: org.orgId }, UNSCOPED)).toBe(0);
    expect(await em().count(Conversation, { organization: org.orgId }, UNSCOPED)).toBe(0);
    expect(await outboundCount(org.orgId)).toBe(0);
  });

  it('queues a chat text for a contact who wrote, and sends it', async () => {
    const org = await newOrg(api);
    const { from, conversationId } = await openConversation(org);
    const res = await upsert(org, contactBody({ telephone: `+${from}` }, [{ type: 'chat', role: 'agent', touchpoint: 'whatsapp', text: 'Your car is ready' }]));
    expect(res.status, res.text).toBe(200);
    expect(res.body.id).toBe(conversationId);
    expect(res.body.messages).toEqual([
      expect.objectContaining({ type: 'text', content: { text: 'Your car is ready' }, status: 'queued', direction: 'outbound', role: 'agent', conversationId }),
    ]);
    const graph = new FakeGraph();
    await newSender(api, graph).settle();
    expect(graph.callsOf(res.body.messages[0].id).map((c) => c.payload)).toEqual([
      { to: from, biz_opaque_callback_data: `msg:${res.body.messages[0].id}`, type: 'text', text: { body: 'Your car is ready', preview_url: false } },
    ]);
  });

  it('sends a synced template named in meta, with its params, and answers template_not_found for an unknown one', async () => {
    const org = await newOrg(api);
    await insertTemplate(api, org, { name: 'order_update', language: 'en_US' });
    // No window needed: templates are what may be sent outside it.
    const res = await upsert(
      org,
      contactBody({ name: 'Ana', telephone: '+50212340004' }, [
        { type: 'chat', role: 'agent', touchpoint: 'whatsapp', meta: { template: 'order_update', language: 'en_US', 1: 'Ana', 2: 'A-1001' } },
      ]),
    );
    expect(res.status, res.text).toBe(201);
    const [queued] = res.body.messages;
    expect(queued).toMatchObject({ type: 'template', status: 'queued', role: 'agent' });
    expect(queued.content.template).toMatchObject({ name: 'order_update', language: 'en_US' });

    // The language may be left out when the template exists in one language only.
    const implicit = await upsert(org, contactBody({ telephone: '+50212340004' }, [{ type: 'chat', meta: { template: 'order_update', 1: 'Bo', 2: 'A-1002' } }]));
    expect(implicit.status, implicit.text).toBe(200);

    const graph = new FakeGraph();
    await newSender(api, graph).settle();
    const calls = graph.callsFor(org.channel);
    expect(calls.map((c) => c.payload)).toEqual([
      {
        to: '50212340004',
        biz_opaque_callback_data: `msg:${queued.id}`,
        type: 'template',
        template: {
          name: 'order_update',
          language: { code: 'en_US' },
          components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }, { type: 'text', text: 'A-1001' }] }],
        },
      },
      expect.objectContaining({
        template: expect.objectContaining({ components: [{ type: 'body', parameters: [{ type: 'text', text: 'Bo' }, { type: 'text', text: 'A-1002' }] }] }),
      }),
    ]);

    const unknown = await upsert(org, contactBody({ telephone: '+50212340005' }, [{ type: 'chat', meta: { template: 'no_such_template', language: 'en_US' } }]));
    expectProblem(unknown, 400, 'template_not_found');
    const wrongLanguage = await upsert(org, contactBody({ telephone: '+50212340005' }, [{ type: 'chat', meta: { template: 'order_update', language: 'es' } }]));
    expectProblem(wrongLanguage, 400, 'template_not_found');
    const missingParam = await upsert(org, contactBody({ telephone: '+50212340005' }, [{ type: 'chat', meta: { template: 'order_update', 1: 'Ana' } }]));
    expectProblem(missingParam, 400, 'template_params_mismatch');
    expect(missingParam.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: expect.stringMatching(/^messages\.0\..*2$/) })]));
    expect(await em().count(Contact, { organization: org.orgId, phone: '+50212340005' }, UNSCOPED)).toBe(0);
    expect(await outboundCount(org.orgId)).toBe(2);
  });

  it('accepts the bot-store guide’s item verbatim (text naming meta.template) and a template given by its id, sending the template only', async () => {
    const org = await newOrg(api);
    const synced = await insertTemplate(api, org, { name: 'order_update', language: 'en' });
    const guide = { type: 'chat', role: 'agent', touchpoint: 'whatsapp', text: 'order_update', meta: { template: 'order_update', language: 'en', 1: 'Ana', 2: 'A-1001' } };
    const res = await upsert(org, contactBody({ name: 'Ana', telephone: '+50212340009' }, [guide]));
    expect(res.status, res.text).toBe(201);
    expect(res.body.messages).toEqual([expect.objectContaining({ type: 'template', status: 'queued', role: 'agent' })]);

    const byOurId = await upsert(org, contactBody({ telephone: '+50212340009' }, [{ type: 'chat', text: synced.id, meta: { template: synced.id, 1: 'Bo', 2: 'A-1002' } }]));
    expect(byOurId.status, byOurId.text).toBe(200);
    const byMetaId = await upsert(org, contactBody({ telephone: '+50212340009' }, [{ ...guide, meta: { ...guide.meta, template: synced.metaTemplateId, 2: 'A-1003' } }]));
    expect(byMetaId.status, byMetaId.text).toBe(200);
    for (const r of [byOurId, byMetaId]) expect(r.body.messages[0].content.template).toMatchObject({ name: 'order_update', language: 'en' });

    const graph = new FakeGraph();
    await newSender(api, graph).settle();
    const payloads = graph.callsFor(org.channel).map((c) => c.payload);
    // Three templates went out and no free text: the guide's `text` is only the template's name.
    expect(payloads.map((p) => p.type)).toEqual(['template', 'template', 'template']);
    expect(payloads.map((p) => (p as { template: { name: string; language: { code: string }; components: { parameters: { text: string }[] }[] } }).template)).toEqual(
      ['A-1001', 'A-1002', 'A-1003'].map((order, i) => ({
        name: 'order_update',
        language: { code: 'en' },
        components: [{ type: 'body', parameters: [{ type: 'text', text: ['Ana', 'Bo', 'Ana'][i] }, { type: 'text', text: order }] }],
      })),
    );

    // Text that names another template, an id of no synced template, or a language the id contradicts: 400, nothing sent.
    const otherText = await upsert(org, contactBody({ telephone: '+50212340009' }, [{ ...guide, text: 'Your order shipped!' }]));
    expectProblem(otherText, 400, 'validation_error');
    expect(otherText.body.errors).toEqual([{ path: 'messages.0.text', message: expect.any(String) }]);
    expectProblem(await upsert(org, contactBody({ telephone: '+50212340009' }, [{ type: 'chat', meta: { template: '0190a5c8-0000-7000-8000-000000000000', 1: 'A', 2: 'B' } }])), 400, 'template_not_found');
    const wrongLanguage = await upsert(org, contactBody({ telephone: '+50212340009' }, [{ type: 'chat', meta: { template: synced.id, language: 'es', 1: 'A', 2: 'B' } }]));
    expectProblem(wrongLanguage, 400, 'validation_error');
    expect(wrongLanguage.body.errors).toEqual([{ path: 'messages.0.meta.language', message: expect.any(String) }]);
    expect(await outboundCount(org.orgId)).toBe(3);
  });

  it('creates exactly one contact and one open conversation under 50 concurrent upserts of one phone, and of one email', async () => {
    const org = await newOrg(api);
    const byPhone = await Promise.all(Array.from({ length: 50 }, () => upsert(org, contactBody({ telephone: '+50212340006' }))));
    const statuses = (rs: { status: number }[]) => rs.map((r) => r.status).sort((a, b) => b - a);
    expect(statuses(byPhone)).toEqual([201, ...Array<number>(49).fill(200)]);
    expect(new Set(byPhone.map((r) => r.body.id)).size).toBe(1);
    const byEmail = await Promise.all(Array.from({ length: 50 }, () => upsert(org, contactBody({ email: 'race@example.test' }))));
    expect(statuses(byEmail)).toEqual([201, ...Array<number>(49).fill(200)]);
    expect(new Set(byEmail.map((r) => r.body.id)).size).toBe(1);

    expect(await em().count(Contact, { organization: org.orgId }, UNSCOPED)).toBe(2);
    expect(await em().count(Conversation, { organization: org.orgId, status: { $ne: 'closed' } }, UNSCOPED)).toBe(2);
    expect(await em().count(DomainEvent, { organization: org.orgId, type: 'conversation.create' }, UNSCOPED)).toBe(2);
  });

  it('replays the first answer for a repeated Idempotency-Key, creating and sending once', async () => {
    const org = await newOrg(api);
    await insertTemplate(api, org);
    const body = contactBody({ telephone: '+50212340007' }, [{ type: 'chat', meta: { template: 'order_update', 1: 'Ana', 2: 'A-7' } }]);
    const first = await upsert(org, body, { 'Idempotency-Key': 'upsert-1' });
    expect(first.status, first.text).toBe(201);
    const again = await upsert(org, body, { 'Idempotency-Key': 'upsert-1' });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotency-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    const other = await upsert(org, contactBody({ telephone: '+50212340008' }), { 'Idempotency-Key': 'upsert-1' });
    expectProblem(other, 422, 'idempotency_key_reused');

    const { conversationId } = await openConversation(org);
    const text = { type: 'text', text: 'Once only' };
    const sent = await send(org, conversationId, text, { 'Idempotency-Key': 'send-1' });
    expect(sent.status).toBe(202);
    const resent = await send(org, conversationId, text, { 'Idempotency-Key': 'send-1' });
    expect(resent.status).toBe(202);
    expect(resent.body.id).toBe(sent.body.id);

    expect(await em().count(Contact, { organization: org.orgId, phone: '+50212340007' }, UNSCOPED)).toBe(1);
    expect(await outboundCount(org.orgId)).toBe(2);
    const graph = new FakeGraph();
    await newSender(api, graph).settle();
    expect(graph.callsFor(org.channel).map((c) => c.messageId).sort()).toEqual([first.body.messages[0].id, sent.body.id].sort());
  });
});

describe('POST /v1/conversations/:id/messages', () => {
  it('queues a text (202), sends it with its callback tag, and moves it along with Meta’s statuses', async () => {
    const org = await newOrg(api);
    const { from, conversationId } = await openConversation(org);
    const res = await send(org, conversationId, { type: 'text', text: 'We ship tomorrow' });
    expect(res.status, res.text).toBe(202);
    expect(res.body).toEqual({
      id: expect.any(String),
      conversationId,
      channelId: org.channel.id,
      touchpoint: 'whatsapp',
      direction: 'outbound',
      role: 'agent',
      type: 'text',
      content: { text: 'We ship tomorrow' },
      status: 'queued',
      wamid: null,
      error: null,
      ai: false,
      authorId: await meId(org.token),
      editedAt: null,
      deletedAt: null,
      history: [],
      createdAt: expect.any(String),
      statusUpdatedAt: expect.any(String),
    });
    const id = res.body.id as string;
    expect(await messageRow(id)).toMatchObject({ status: 'queued', sendState: 'pending', wamid: null });

    const graph = new FakeGraph();
    const W = wamid();
    graph.script(id, { wamid: W });
    await newSender(api, graph).settle();
    const [call] = graph.callsOf(id);
    expect(call).toEqual({
      token: 'business-token-for-tests',
      phoneNumberId: org.channel.phoneNumberId,
      messageId: id,
      payload: { to: from, biz_opaque_callback_data: `msg:${id}`, type: 'text', text: { body: 'We ship tomorrow', preview_url: false } },
    });
    expect(call!.payload.to).not.toContain('+');
    expect(await messageRow(id)).toMatchObject({ status: 'sent', sendState: 'accepted', wamid: W, sendAttempts: 1 });

    await metaStatus(api, org.route, W, 'delivered');
    expect((await messageRow(id)).status).toBe('delivered');
    await metaStatus(api, org.route, W, 'read');
    const history = await api.call('GET', `/v1/conversations/${conversationId}/messages`, { token: org.token });
    expect(history.body.data[0]).toMatchObject({ id, status: 'read', wamid: W });
    const updates = await em().find(DomainEvent, { organization: org.orgId, type: 'message.update' }, { ...UNSCOPED, orderBy: { id: 'asc' } });
    expect(updates.map((u) => [(u.data.message as { status: string }).status, u.data.changes, u.data.previous])).toEqual([
      ['sent', { status: 'sent', wamid: W }, { status: 'queued', wamid: null }],
      ['delivered', { status: 'delivered' }, { status: 'sent' }],
      ['read', { status: 'read' }, { status: 'delivered' }],
    ]);

    // Nothing is sent twice.
    await newSender(api, graph).settle();
    expect(graph.callsOf(id)).toHaveLength(1);
  });

  it('accepts every message type and sends each in Meta’s shape, in the order accepted', async () => {
    const org = await newOrg(api);
    const { from, conversationId } = await openConversation(org);
    const buttons = {
      type: 'interactive',
      interactive: {
        type: 'button',
        header: { type: 'text', text: 'Delivery' },
        body: { text: 'When should we come?' },
        footer: { text: 'Acme' },
        action: {
          buttons: [
            { type: 'reply', reply: { id: 'am', title: 'Morning' } },
            { type: 'reply', reply: { id: 'pm', title: 'Afternoon' } },
            { type: 'reply', reply: { id: 'later', title: 'Later' } },
          ],
        },
      },
    };
    const list = {
      type: 'interactive',
      interactive: {
        type: 'list',
        body: { text: 'Pick a topic' },
        action: {
          button: 'Topics',
          sections: [
            { title: 'Orders', rows: [{ id: 'status', title: 'Order status', description: 'Where is my order?' }, { id: 'cancel', title: 'Cancel' }] },
            { title: 'Other', rows: [{ id: 'human', title: 'Talk to a person' }] },
          ],
        },
      },
    };
    // `meta` is what Meta must receive when it differs from what the API was given.
    const cases: { body: Record<string, unknown>; meta?: Record<string, unknown> }[] = [
      { body: { type: 'text', text: 'See https://acme.test', previewUrl: true }, meta: { type: 'text', text: { body: 'See https://acme.test', preview_url: true } } },
      { body: { type: 'image', image: { link: 'https://cdn.acme.test/receipt.png', caption: 'Your receipt' } } },
      { body: { type: 'image', image: { id: '1234567890' } } },
      { body: { type: 'document', document: { id: '4234567890', filename: 'invoice.pdf', caption: 'Invoice' } } },
      { body: { type: 'document', document: { link: 'https://cdn.acme.test/terms.pdf' } } },
      { body: { type: 'audio', audio: { id: '3234567890' } } },
      { body: { type: 'audio', audio: { link: 'https://cdn.acme.test/hello.ogg' } } },
      { body: { type: 'video', video: { link: 'https://cdn.acme.test/how-to.mp4', caption: 'How to' } } },
      { body: { type: 'video', video: { id: '2234567890' } } },
      { body: buttons },
      { body: list },
      { body: { type: 'location', location: { latitude: 14.6349, longitude: -90.5069, name: 'Oficina', address: 'Zona 10, Guatemala' } } },
      { body: { type: 'location', location: { latitude: -90, longitude: 180 } } },
    ];
    const ids: string[] = [];
    for (const c of cases) {
      const res = await send(org, conversationId, c.body);
      expect(res.status, `${JSON.stringify(c.body)}: ${res.text}`).toBe(202);
      expect(res.body).toMatchObject({ type: c.body.type, status: 'queued' });
      ids.push(res.body.id);
    }
    const graph = new FakeGraph();
    await newSender(api, graph).settle();
    const calls = graph.callsFor(org.channel);
    expect(calls.map((c) => c.messageId)).toEqual(ids);
    expect(calls.map((c) => c.payload)).toEqual(cases.map((c, i) => ({ to: from, biz_opaque_callback_data: `msg:${ids[i]}`, ...(c.meta ?? c.body) })));
    const rows = await em().find(Message, { id: { $in: ids } }, UNSCOPED);
    expect(rows.map((r) => r.status)).toEqual(ids.map(() => 'sent'));

    const conversation = await api.call('GET', `/v1/conversations/${conversationId}`, { token: org.token });
    expect(conversation.body.lastMessage.preview).toBe('[location]');
  });

  it('refuses what Meta would refuse with 400, queuing nothing', async () => {
    const org = await newOrg(api);
    const { conversationId } = await openConversation(org);
    const button = (id: string, title = id) => ({ type: 'reply', reply: { id, title } });
    const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `r${i}`, title: `Row ${i}` }));
    const invalid: [string, Record<string, unknown>][] = [
      ['4 reply buttons', { type: 'interactive', interactive: { type: 'button', body: { text: 'Pick' }, action: { buttons: [button('a'), button('b'), button('c'), button('d')] } } }],
      ['duplicate button ids', { type: 'interactive', interactive: { type: 'button', body: { text: 'Pick' }, action: { buttons: [button('a', 'Yes'), button('a', 'No')] } } }],
      ['a button title over 20 characters', { type: 'interactive', interactive: { type: 'button', body: { text: 'Pick' }, action: { buttons: [button('a', 'x'.repeat(21))] } } }],
      ['11 list rows', { type: 'interactive', interactive: { type: 'list', body: { text: 'Pick' }, action: { button: 'Open', sections: [{ title: 'A', rows: rows(6) }, { title: 'B', rows: rows(5).map((r) => ({ ...r, id: `b${r.id}` })) }] } } }],
      ['duplicate row ids', { type: 'interactive', interactive: { type: 'list', body: { text: 'Pick' }, action: { button: 'Open', sections: [{ rows: [{ id: 'x', title: 'One' }, { id: 'x', title: 'Two' }] }] } } }],
      ['text of 4097 characters', { type: 'text', text: 'x'.repeat(4097) }],
      ['empty text', { type: 'text', text: '' }],
      ['media with neither id nor link', { type: 'image', image: { caption: 'Nothing' } }],
      ['media with both id and link', { type: 'document', document: { id: '4234567890', link: 'https://cdn.acme.test/x.pdf' } }],
      ['an http link', { type: 'video', video: { link: 'http://cdn.acme.test/x.mp4' } }],
      ['a caption on audio', { type: 'audio', audio: { id: '3234567890', caption: 'no' } }],
      ['latitude 91', { type: 'location', location: { latitude: 91, longitude: 0 } }],
      ['longitude -181', { type: 'location', location: { latitude: 0, longitude: -181 } }],
      ['an unknown type', { type: 'sticker', sticker: { id: '5234567890' } }],
      ['an unknown field', { type: 'text', text: 'hi', to: '+15550001111' }],
    ];
    for (const [label, body] of invalid) {
      const res = await send(org, conversationId, body);
      expect(res.status, `${label}: ${res.text}`).toBe(400);
      expect(res.body.code, label).toBe('validation_error');
      expect(res.body.errors.length, label).toBeGreaterThan(0);
    }
    const fourButtons = await send(org, conversationId, invalid[0]![1]);
    expect(fourButtons.body.errors).toEqual([expect.objectContaining({ path: 'interactive.action.buttons' })]);
    expect(await outboundCount(org.orgId)).toBe(0);
  });

  it('replies to a message of the conversation with Meta’s context, and refuses a reply to anything else', async () => {
    const org = await newOrg(api);
    const { from, conversationId, inboundWamid } = await openConversation(org);
    const other = await openConversation(org);
    const history = await api.call('GET', `/v1/conversations/${conversationId}/messages`, { token: org.token });
    const parent = history.body.data[0];
    expect(parent.wamid).toBe(inboundWamid);
    const res = await send(org, conversationId, { type: 'text', text: 'Yes, we do', replyTo: parent.id });
    expect(res.status, res.text).toBe(202);
    expect(res.body.content).toEqual({ text: 'Yes, we do', context: { messageId: inboundWamid } });

    const otherHistory = await api.call('GET', `/v1/conversations/${other.conversationId}/messages`, { token: org.token });
    for (const replyTo of [otherHistory.body.data[0].id, '0190a5c8-0000-7000-8000-000000000000', 'nope']) {
      const bad = await send(org, conversationId, { type: 'text', text: 'x', replyTo });
      expectProblem(bad, 400, 'validation_error');
      expect(bad.body.errors).toEqual([{ path: 'replyTo', message: expect.any(String) }]);
    }

    const graph = new FakeGraph();
    await newSender(api, graph).settle();
    expect(graph.callsOf(res.body.id).map((c) => c.payload)).toEqual([
      { to: from, biz_opaque_callback_data: `msg:${res.body.id}`, context: { message_id: inboundWamid }, type: 'text', text: { body: 'Yes, we do', preview_url: false } },
    ]);
  });

  it('refuses free-form messages to a contact who never wrote with 422, queuing nothing', async () => {
    const org = await newOrg(api);
    const created = await upsert(org, contactBody({ telephone: '+50212340009' }));
    for (const body of [
      { type: 'text', text: 'Hello?' },
      { type: 'image', image: { link: 'https://cdn.acme.test/a.png' } },
      { type: 'location', location: { latitude: 1, longitude: 2 } },
    ]) {
      const res = await send(org, created.body.id, body);
      expectProblem(res, 422, 'outside_customer_service_window');
    }
    expect(await outboundCount(org.orgId)).toBe(0);
    const view = await api.call('GET', `/v1/conversations/${created.body.id}`, { token: org.token });
    expect(view.body).toMatchObject({ windowExpiresAt: null, canSend: { freeForm: false, templates: true, marketingTemplates: true } });
  });

  it('answers 404 for a conversation that does not exist', async () => {
    const org = await newOrg(api);
    const res = await send(org, '0190a5c8-0000-7000-8000-000000000000', { type: 'text', text: 'x' });
    expectProblem(res, 404, 'not_found');
  });
});

describe('the customer-service window over time', () => {
  let clock: ManualClock;
  let timed: TestApi;
  beforeAll(async () => {
    clock = new ManualClock(new Date());
    timed = await startTestApi({ clock });
  });
  afterAll(async () => timed.close());

  it('is open for 24 hours after the contact last wrote, then only templates may be sent', async () => {
    const base = await newOrg(timed);
    // A user's access token lives an hour; a partner's 30 days outlasts the clock's jumps.
    const partner = await installApp(timed, base.tenant, base.tenant, { grant: ['conversations:read', 'conversations:write', 'messages:write'] });
    const org = { ...base, token: partner.accessToken };
    await insertTemplate(timed, org);
    const from = newPhone();
    const wroteAt = clock.now();
    await contactWrites(timed, org.route, from, 'Hola', { at: wroteAt });
    const { id } = await conversationOf(timed, org.token, from);
    const expiresAt = new Date(Math.floor(wroteAt.getTime() / 1000) * 1000 + DAY).toISOString();

    const fresh = await timed.call('GET', `/v1/conversations/${id}`, { token: org.token });
    expect(fresh.body).toMatchObject({ windowExpiresAt: expiresAt, canSend: { freeForm: true, templates: true, marketingTemplates: true } });

    clock.advance(23 * HOUR);
    const late = await timed.call('POST', `/v1/conversations/${id}/messages`, { token: org.token, body: { type: 'text', text: 'Still here' } });
    expect(late.status, late.text).toBe(202);

    clock.advance(HOUR + 1000);
    const closed = await timed.call('POST', `/v1/conversations/${id}/messages`, { token: org.token, body: { type: 'text', text: 'Too late' } });
    expectProblem(closed, 422, 'outside_customer_service_window');
    expect(closed.body.windowExpiresAt).toBe(expiresAt);
    const view = await timed.call('GET', `/v1/conversations/${id}`, { token: org.token });
    expect(view.body).toMatchObject({ windowExpiresAt: expiresAt, canSend: { freeForm: false, templates: true, marketingTemplates: true } });
    const template = await timed.call('POST', `/v1/conversations/${id}/messages`, {
      token: org.token,
      body: { type: 'template', template: { name: 'order_update', language: 'en_US' }, params: { 1: 'Ana', 2: 'A-9' } },
    });
    expect(template.status, template.text).toBe(202);
    const texts = await em().find(Message, { conversation: id, direction: 'outbound' }, { ...UNSCOPED, orderBy: { id: 'asc' } });
    expect(texts.map((m) => m.type)).toEqual(['text', 'template']);
  });
});

describe('the outbox: order, retries and failures', () => {
  it('sends a conversation’s messages in order, retrying a transient failure after its backoff while later ones wait; other conversations go on', async () => {
    const org = await newOrg(api);
    const x = await openConversation(org);
    const y = await openConversation(org);
    const xs: string[] = [];
    for (const text of ['one', 'two', 'three']) xs.push((await send(org, x.conversationId, { type: 'text', text })).body.id);
    const y1 = (await send(org, y.conversationId, { type: 'text', text: 'other' })).body.id as string;

    const clock = new ManualClock(new Date());
    const graph = new FakeGraph();
    graph.script(xs[0]!, new GraphError({ status: 429, code: 130429, message: 'Rate limit hit', title: 'Rate limit hit' }));
    const sender = newSender(api, graph, clock);
    await sender.settle();
    expect(graph.callsFor(org.channel).map((c) => c.messageId).sort()).toEqual([xs[0], y1].sort());
    expect(await messageRow(y1)).toMatchObject({ status: 'sent', sendState: 'accepted' });
    const first = await messageRow(xs[0]!);
    expect(first).toMatchObject({ status: 'queued', sendState: 'pending', sendAttempts: 1, wamid: null });
    expect(first.nextAttemptAt!.getTime()).toBeGreaterThan(clock.now().getTime());
    for (const id of xs.slice(1)) expect(await messageRow(id)).toMatchObject({ status: 'queued', sendState: 'pending', sendAttempts: 0 });

    // Before the backoff has passed, nothing moves.
    await sender.settle();
    expect(graph.callsFor(org.channel)).toHaveLength(2);

    clock.advance(2000);
    await sender.settle();
    expect(graph.callsFor(org.channel).map((c) => c.messageId)).toEqual(expect.arrayContaining([xs[0], xs[0], xs[1], xs[2]]));
    expect(graph.callsFor(org.channel).filter((c) => c.payload.to === x.from).map((c) => c.messageId)).toEqual([xs[0], xs[0], xs[1], xs[2]]);
    const rows = await em().find(Message, { id: { $in: xs } }, { ...UNSCOPED, orderBy: { id: 'asc' } });
    expect(rows.map((r) => [r.status, r.sendState, r.sendAttempts])).toEqual([
      ['sent', 'accepted', 2],
      ['sent', 'accepted', 1],
      ['sent', 'accepted', 1],
    ]);
  });

  it('gives up on a message that keeps failing transiently after 8 attempts, failing it with the last error', async () => {
    const org = await newOrg(api);
    const { conversationId } = await openConversation(org);
    const id = (await send(org, conversationId, { type: 'text', text: 'Persistent' })).body.id as string;
    const clock = new ManualClock(new Date());
    const graph = new FakeGraph();
    for (let i = 0; i < 10; i++) graph.script(id, new GraphError({ status: 503, code: 2, message: 'Service temporarily unavailable' }));
    const sender = newSender(api, graph, clock);
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 8; attempt++) {
      await sender.settle();
      expect(graph.callsOf(id)).toHaveLength(attempt);
      const row = await messageRow(id);
      if (attempt < 8) {
        expect(row).toMatchObject({ sendState: 'pending', sendAttempts: attempt, status: 'queued' });
        const wait = row.nextAttemptAt!.getTime() - clock.now().getTime();
        delays.push(wait);
        // Jump exactly to the retry time: the whole run stays inside the claim timeout.
        clock.set(row.nextAttemptAt!);
      }
    }
    // Exponential backoff with jitter: each wait roughly doubles.
    for (const [i, wait] of delays.entries()) {
      expect(wait, `wait ${i}`).toBeGreaterThanOrEqual(0.75 * 500 * 2 ** i - 1);
      expect(wait, `wait ${i}`).toBeLessThanOrEqual(1.25 * 500 * 2 ** i + 1);
    }
    expect(await messageRow(id)).toMatchObject({ status: 'failed', sendState: 'failed', sendAttempts: 8, error: { code: 2, title: 'Service temporarily unavailable' } });
    clock.advance(60_000);
    await sender.settle();
    expect(graph.callsOf(id)).toHaveLength(8);
  });

  it('fails a message at once on a permanent error, with Meta’s code and title, and never retries it', async () => {
    const org = await newOrg(api);
    const { conversationId } = await openConversation(org);
    const id = (await send(org, conversationId, { type: 'text', text: 'Hello' })).body.id as string;
    const next = (await send(org, conversationId, { type: 'text', text: 'Next' })).body.id as string;
    const graph = new FakeGraph();
    graph.script(id, new GraphError({ status: 400, code: 131026, message: '(#131026) Message undeliverable', title: 'Message undeliverable', details: 'Unable to deliver message.' }));
    await newSender(api, graph).settle();
    await newSender(api, graph).settle();
    expect(graph.callsOf(id)).toHaveLength(1);
    // A failed message does not hold the conversation up.
    expect(graph.callsOf(next)).toHaveLength(1);
    expect(await messageRow(id)).toMatchObject({
      status: 'failed',
      sendState: 'failed',
      error: { code: 131026, title: 'Message undeliverable', details: 'Unable to deliver message.' },
    });
    const history = await api.call('GET', `/v1/conversations/${conversationId}/messages`, { token: org.token });
    expect(history.body.data.find((m: { id: string }) => m.id === id)).toMatchObject({
      status: 'failed',
      error: { code: 131026, title: 'Message undeliverable' },
    });
    const failed = await em().find(DomainEvent, { organization: org.orgId, type: 'message.update' }, UNSCOPED);
    expect(failed.filter((e) => (e.data.message as { id: string }).id === id).map((e) => e.data.changes)).toEqual([{ status: 'failed', error: expect.objectContaining({ code: 131026, title: 'Message undeliverable' }) }]);
  });

  it('fails a message Meta refuses for the closed window (131047)', async () => {
    const org = await newOrg(api);
    const { conversationId } = await openConversation(org);
    const id = (await send(org, conversationId, { type: 'text', text: 'Hello' })).body.id as string;
    const graph = new FakeGraph();
    graph.script(id, new GraphError({ status: 400, code: 131047, message: 'Re-engagement message' }));
    await newSender(api, graph).settle();
    expect(graph.callsOf(id)).toHaveLength(1);
    expect(await messageRow(id)).toMatchObject({ status: 'failed', sendState: 'failed', error: { code: 131047, title: 'Re-engagement message' } });
  });

  it('on 131050 fails the message and records the contact’s marketing opt-out; marketing templates are then refused, utility ones allowed', async () => {
    const org = await newOrg(api);
    await insertTemplate(api, org, { name: 'spring_sale', category: 'MARKETING', components: [{ type: 'BODY', text: '20% off everything!' }] });
    await insertTemplate(api, org, { name: 'order_update', category: 'UTILITY' });
    const created = await upsert(org, contactBody({ telephone: '+50212340010' }));
    const conversationId = created.body.id as string;
    const promo = await send(org, conversationId, { type: 'template', template: { name: 'spring_sale', language: 'en_US' } });
    expect(promo.status, promo.text).toBe(202);

    const graph = new FakeGraph();
    graph.script(promo.body.id, new GraphError({ status: 400, code: 131050, message: 'Unable to deliver the message', title: 'User has stopped marketing messages' }));
    await newSender(api, graph).settle();
    expect(graph.callsOf(promo.body.id).map((c) => c.payload)).toEqual([
      { to: '50212340010', biz_opaque_callback_data: `msg:${promo.body.id}`, type: 'template', template: { name: 'spring_sale', language: { code: 'en_US' } } },
    ]);
    expect(await messageRow(promo.body.id)).toMatchObject({ status: 'failed', error: { code: 131050, title: 'User has stopped marketing messages' } });
    const contact = await em().findOneOrFail(Contact, { id: created.body.contact.id }, UNSCOPED);
    expect(contact).toMatchObject({ marketingOptedOut: true, optedOut: false });
    const ledger = await em().find(ConsentEvent, { contact: contact.id }, UNSCOPED);
    expect(ledger.map((e) => ({ change: e.change, cause: e.cause, detail: e.detail }))).toEqual([{ change: 'marketing_opt_out', cause: 'meta_131050', detail: promo.body.id }]);
    const consent = await api.call('GET', `/v1/contacts/${contact.id}/consent`, { token: org.token });
    expect(consent.body).toMatchObject({ contact: { marketingOptedOut: true, optedOut: false }, data: [{ change: 'marketing_opt_out', cause: 'meta_131050' }] });
    const view = await api.call('GET', `/v1/conversations/${conversationId}`, { token: org.token });
    expect(view.body.canSend).toEqual({ freeForm: false, templates: true, marketingTemplates: false });

    const again = await send(org, conversationId, { type: 'template', template: { name: 'spring_sale', language: 'en_US' } });
    expectProblem(again, 422, 'contact_opted_out');
    const utility = await send(org, conversationId, { type: 'template', template: { name: 'order_update', language: 'en_US' }, params: { 1: 'Ana', 2: 'A-3' } });
    expect(utility.status, utility.text).toBe(202);
    expect(await em().count(Message, { conversation: conversationId }, UNSCOPED)).toBe(2);
  });

  it('records the marketing opt-out when Meta reports 131050 in a failed status webhook', async () => {
    const org = await newOrg(api);
    const { conversationId, contactId } = await openConversation(org);
    const id = (await send(org, conversationId, { type: 'text', text: 'Hello' })).body.id as string;
    const W = wamid();
    const graph = new FakeGraph();
    graph.script(id, { wamid: W });
    await newSender(api, graph).settle();
    await metaStatus(api, org.route, W, 'failed', {
      errors: [{ code: 131050, title: 'User has stopped marketing messages', message: 'Unable to deliver the message.', error_data: { details: 'The user stopped marketing messages.' } }],
    });
    expect(await messageRow(id)).toMatchObject({ status: 'failed', error: { code: 131050, title: 'User has stopped marketing messages' } });
    expect(await em().findOneOrFail(Contact, { id: contactId }, UNSCOPED)).toMatchObject({ marketingOptedOut: true, optedOut: false });
    const ledger = await em().find(ConsentEvent, { contact: contactId }, UNSCOPED);
    expect(ledger.map((e) => [e.change, e.cause, e.detail])).toEqual([['marketing_opt_out', 'meta_131050', W]]);
  });

  it('records a timed-out send as unknown, never re-sends it, and resolves it from a status webhook carrying its callback tag', async () => {
    const org = await newOrg(api);
    const { conversationId } = await openConversation(org);
    const id = (await send(org, conversationId, { type: 'text', text: 'Did this arrive?' })).body.id as string;
    const graph = new FakeGraph();
    graph.script(id, new GraphError({ status: 0, code: -1, message: 'The request timed out', type: 'TimeoutError', classification: 'retryable' }));
    await newSender(api, graph).settle();
    expect(await messageRow(id)).toMatchObject({ sendState: 'unknown', status: 'queued', wamid: null });
    await newSender(api, graph).settle();
    // Later, too (within the claim timeout, which other senders sharing this database rely on).
    await newSender(api, graph, new ManualClock(new Date(Date.now() + 90_000))).settle();
    expect(graph.callsOf(id)).toHaveLength(1);

    // Meta did accept it: its statuses name the message through the tag.
    const W = wamid();
    await metaStatus(api, org.route, W, 'delivered', { callback: `msg:${id}` });
    expect(await messageRow(id)).toMatchObject({ wamid: W, sendState: 'accepted', status: 'delivered' });
    await metaStatus(api, org.route, W, 'read');
    expect((await messageRow(id)).status).toBe('read');
    // A tag naming another organization's message changes nothing there.
    const stranger = await newOrg(api);
    await metaStatus(api, stranger.route, wamid(), 'delivered', { callback: `msg:${id}` });
    expect((await messageRow(id)).wamid).toBe(W);
  });

  it('applies a status that arrived before the sender recorded the wamid, once it does', async () => {
    const org = await newOrg(api);
    const { conversationId } = await openConversation(org);
    const id = (await send(org, conversationId, { type: 'text', text: 'Race' })).body.id as string;
    const W = wamid();
    const graph = new FakeGraph();
    graph.script(id, async () => {
      // Meta's webhook overtakes Meta's answer to the send.
      await metaStatus(api, org.route, W, 'delivered');
      return { wamid: W };
    });
    await newSender(api, graph).settle();
    expect(await messageRow(id)).toMatchObject({ wamid: W, status: 'delivered', sendState: 'accepted' });
    const events = await em().find(MessageStatusEvent, { wamid: W }, UNSCOPED);
    expect(events.map((e) => [e.status, e.appliedAt !== null && e.appliedAt !== undefined])).toEqual([['delivered', true]]);
  });

  it('keeps a status that arrived with the callback tag before the sender recorded the wamid (never moved back to sent)', async () => {
    const org = await newOrg(api);
    const { conversationId } = await openConversation(org);
    const id = (await send(org, conversationId, { type: 'text', text: 'Race with a tag' })).body.id as string;
    const W = wamid();
    const graph = new FakeGraph();
    graph.script(id, async () => {
      await postSigned(api, statusPayload(org.route, W, 'read', { callback: `msg:${id}` }));
      await api.app.services.metaProcessor.settle();
      return { wamid: W };
    });
    await newSender(api, graph).settle();
    expect(await messageRow(id)).toMatchObject({ wamid: W, status: 'read', sendState: 'accepted' });
    const history = await api.call('GET', `/v1/conversations/${conversationId}/messages`, { token: org.token });
    expect(history.body.data[0]).toMatchObject({ id, status: 'read' });
  });
});

describe('POST /v1/messages', () => {
  it('writes to a number, continuing its conversation, and links the request id', async () => {
    const org = await newOrg(api);
    const { from, conversationId } = await openConversation(org);
    const res = await api.call('POST', '/v1/messages', { token: org.token, body: { phoneNumber: `+${from}`, text: 'Your request is in', requestId: 'REQ-42' } });
    expect(res.status, res.text).toBe(202);
    expect(res.body).toEqual({
      conversationId,
      message: expect.objectContaining({ conversationId, type: 'text', content: { text: 'Your request is in' }, status: 'queued', role: 'agent' }),
    });
    const view = await api.call('GET', `/v1/conversations/${conversationId}`, { token: org.token });
    expect(view.body.requestId).toBe('REQ-42');
    expect((await em().findOneOrFail(Conversation, { id: conversationId }, UNSCOPED)).requestId).toBe('REQ-42');
  });

  it('starts a conversation with a template for a new number, and refuses free-form text to it with nothing created', async () => {
    const org = await newOrg(api);
    await insertTemplate(api, org);
    const text = await api.call('POST', '/v1/messages', { token: org.token, body: { phoneNumber: '+502 1234 0011', text: 'Hi' } });
    expectProblem(text, 422, 'outside_customer_service_window');
    expect(await em().count(Contact, { organization: org.orgId }, UNSCOPED)).toBe(0);

    const res = await api.call('POST', '/v1/messages', {
      token: org.token,
      body: { phoneNumber: '00502 1234 0011', template: { name: 'order_update', language: 'en_US' }, params: { 1: 'Ana', 2: 'A-11' }, requestId: 'REQ-11' },
    });
    expect(res.status, res.text).toBe(202);
    expect(res.body.message).toMatchObject({ type: 'template', status: 'queued', conversationId: res.body.conversationId });
    const conversation = await em().findOneOrFail(Conversation, { id: res.body.conversationId }, UNSCOPED);
    expect(conversation.requestId).toBe('REQ-11');
    const contact = await em().findOneOrFail(Contact, { id: conversation.contact }, UNSCOPED);
    expect(contact.phone).toBe('+50212340011');

    const both = await api.call('POST', '/v1/messages', { token: org.token, body: { phoneNumber: '+50212340011', text: 'x', template: { name: 'order_update', language: 'en_US' } } });
    expectProblem(both, 400, 'validation_error');
    const badPhone = await api.call('POST', '/v1/messages', { token: org.token, body: { phoneNumber: 'not a phone', text: 'x' } });
    expectProblem(badPhone, 400, 'invalid_phone');
  });
});
