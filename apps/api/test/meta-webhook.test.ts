import type { Channel } from '@parley/db';
import { Contact, Conversation, DomainEvent, Message, MessageStatusEvent, UNSCOPED } from '@parley/db';
import { MetaInboundProcessor, PhoneNumberDirectory } from '@parley/domain';
import { createLogger, systemClock } from '@parley/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, startTestApi, type TestApi } from '../../../test/support/api';
import { insertChannel, metaId } from '../../../test/support/channels';
import { envelope, inbound, MESSAGE_BODIES, type Route, sign, status, wamid } from '../../../test/fixtures/meta';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

async function post(payload: unknown, options: { secret?: string; signature?: string | null; raw?: string } = {}) {
  const body = options.raw ?? JSON.stringify(payload);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.signature !== null) headers['x-hub-signature-256'] = options.signature ?? sign(body, options.secret ?? api.config.meta.appSecret);
  return api.call('POST', '/webhooks/meta', { raw: body, headers });
}

async function settle(): Promise<void> {
  await api.app.services.metaProcessor.settle();
}

async function storedDeliveries(marker: string): Promise<number> {
  const rows = await api.orm.em
    .fork()
    .getConnection()
    .execute<{ n: string }[]>('select count(*)::int as n from meta_webhook_deliveries where payload::text like ?', [`%${marker}%`]);
  return Number(rows[0]!.n);
}

async function setup(): Promise<{ orgId: string; channel: Channel; route: Route }> {
  const tenant = await createTenant(api);
  const channel = await insertChannel(api, tenant.organizationId);
  return { orgId: tenant.organizationId, channel, route: { wabaId: channel.wabaId, phoneNumberId: channel.phoneNumberId } };
}

function em() {
  return api.orm.em.fork();
}

describe('GET /webhooks/meta (verification)', () => {
  it('echoes the challenge for the right verify token and refuses others', async () => {
    const ok = await api.call('GET', `/webhooks/meta?hub.mode=subscribe&hub.verify_token=${api.config.meta.verifyToken}&hub.challenge=1158201444`);
    expect(ok.status).toBe(200);
    expect(ok.text).toBe('1158201444');
    const wrong = await api.call('GET', '/webhooks/meta?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1158201444');
    expect(wrong.status).toBe(403);
    expect(wrong.text).not.toContain('1158201444');
    const missing = await api.call('GET', '/webhooks/meta');
    expect(missing.status).toBe(403);
  });
});

describe('POST /webhooks/meta (signature and storage)', () => {
  it('refuses missing and wrong signatures with 401 and stores nothing', async () => {
    const { route } = await setup();
    const { payload, id } = inbound(route, '50212345678', MESSAGE_BODIES.text!);
    expect((await post(payload, { signature: null })).status).toBe(401);
    const forged = await post(payload, { secret: 'not-the-app-secret' });
    expect(forged.status).toBe(401);
    expect(forged.body.code).toBe('unauthorized');
    expect((await post(payload, { signature: 'sha256=zz' })).status).toBe(401);
    // A signature over other bytes does not cover these.
    expect((await post(payload, { signature: sign(JSON.stringify(payload) + ' ', api.config.meta.appSecret) })).status).toBe(401);
    expect(await storedDeliveries(id)).toBe(0);
  });

  it('answers 400 to a signed body that is not JSON, and 401 to an unsigned one', async () => {
    expect((await post(null, { raw: '{"object": "whatsapp_business_account", ' })).status).toBe(400);
    expect((await post(null, { raw: '{not json', signature: null })).status).toBe(401);
  });

  it('answers 200 for an unknown phone_number_id and stores nothing', async () => {
    const { payload, id } = inbound({ wabaId: metaId(), phoneNumberId: metaId() }, '50212345678', MESSAGE_BODIES.text!);
    const res = await post(payload);
    expect(res.status).toBe(200);
    expect(await storedDeliveries(id)).toBe(0);
  });

  it('stores the delivery before answering 200, then creates contact, conversation, message and events', async () => {
    const { orgId, route, channel } = await setup();
    const { payload, id } = inbound(route, '50212345678', MESSAGE_BODIES.text!, { name: 'Ana Pérez' });
    const res = await post(payload);
    expect(res.status).toBe(200);
    expect(await storedDeliveries(id)).toBe(1);
    await settle();

    const contact = await em().findOneOrFail(Contact, { organization: orgId, phone: '+50212345678' }, UNSCOPED);
    expect(contact.name).toBe('Ana Pérez');
    const conversation = await em().findOneOrFail(Conversation, { organization: orgId, contact: contact.id }, UNSCOPED);
    expect(conversation).toMatchObject({ status: 'active', unreadCount: 1, channel: channel.id, lastMessagePreview: 'Hola, ¿tienen envío?' });
    const message = await em().findOneOrFail(Message, { wamid: id }, UNSCOPED);
    expect(message).toMatchObject({ direction: 'inbound', role: 'contact', type: 'text', status: 'received', conversation: conversation.id });
    expect(message.content).toEqual({ text: 'Hola, ¿tienen envío?' });
    const events = await em().find(DomainEvent, { organization: orgId }, { ...UNSCOPED, orderBy: { createdAt: 'asc' } });
    expect(events.map((e) => e.type)).toEqual(['conversation.create', 'message.create.contact.chat.contact']);
  });

  it('creates nothing new when Meta redelivers a message', async () => {
    const { orgId, route } = await setup();
    const { payload, id } = inbound(route, '50212345679', MESSAGE_BODIES.text!);
    await Promise.all([post(payload), post(payload), post(payload)]);
    await settle();
    await post(payload);
    await settle();
    expect(await em().count(Message, { wamid: id }, UNSCOPED)).toBe(1);
    const conversation = await em().findOneOrFail(Conversation, { organization: orgId }, UNSCOPED);
    expect(conversation.unreadCount).toBe(1);
    expect(await em().count(DomainEvent, { organization: orgId, type: 'message.create.contact.chat.contact' }, UNSCOPED)).toBe(1);
  });

  it('parses every message type into a typed message', async () => {
    const { orgId, route } = await setup();
    const ids: Record<string, string> = {};
    for (const [kind, body] of Object.entries(MESSAGE_BODIES)) {
      const { payload, id } = inbound(route, '50230000001', body);
      ids[kind] = id;
      expect((await post(payload)).status).toBe(200);
    }
    await settle();
    const byKind = async (kind: string) => em().findOneOrFail(Message, { wamid: ids[kind]!, organization: orgId }, UNSCOPED);
    expect((await byKind('image')).content).toEqual({
      media: { id: '1234567890', mimeType: 'image/jpeg', sha256: 'abc123=', caption: 'My receipt' },
    });
    expect((await byKind('audio')).content).toMatchObject({ media: { id: '3234567890', voice: true } });
    expect((await byKind('document')).content).toMatchObject({ media: { filename: 'invoice.pdf', mimeType: 'application/pdf' } });
    expect((await byKind('video')).type).toBe('video');
    expect((await byKind('sticker')).content).toMatchObject({ media: { id: '5234567890', animated: false } });
    expect((await byKind('location')).content).toEqual({
      location: { latitude: 14.6349, longitude: -90.5069, name: 'Oficina', address: 'Zona 10, Guatemala' },
    });
    expect((await byKind('contacts')).content).toMatchObject({ contacts: [{ name: { formatted_name: 'Luis Gómez' } }] });
    expect((await byKind('button_reply')).content).toEqual({ interactive: { kind: 'button_reply', id: 'yes', title: 'Sí' } });
    expect((await byKind('list_reply')).content).toEqual({
      interactive: { kind: 'list_reply', id: 'row-2', title: 'Envío', description: 'Estado del envío' },
    });
    expect((await byKind('button')).content).toEqual({ button: { text: 'Stop promotions', payload: 'STOP_PROMO' } });
    expect((await byKind('reaction')).content).toEqual({ reaction: { messageId: 'wamid.ORIGINAL', emoji: '👍', removed: false } });
    expect((await byKind('unsupported')).type).toBe('unsupported');
  });

  it('keeps reply context', async () => {
    const { route } = await setup();
    const { payload, id } = inbound(route, '50230000002', { ...MESSAGE_BODIES.text!, context: { from: '15550001111', id: 'wamid.PARENT' } });
    await post(payload);
    await settle();
    const message = await em().findOneOrFail(Message, { wamid: id }, UNSCOPED);
    expect(message.content.context).toEqual({ messageId: 'wamid.PARENT', from: '15550001111' });
  });

  it('handles many entries, changes and messages in one delivery', async () => {
    const a = await setup();
    const b = await setup();
    const m1 = inbound(a.route, '50240000001', MESSAGE_BODIES.text!);
    const m2 = inbound(a.route, '50240000002', MESSAGE_BODIES.location!);
    const m3 = inbound(b.route, '50240000003', MESSAGE_BODIES.image!);
    const firstValue = (m1.payload.entry as { changes: { value: { messages: unknown[]; contacts: unknown[] } }[] }[])[0]!.changes[0]!.value;
    const secondValue = (m2.payload.entry as { changes: { value: { messages: unknown[]; contacts: unknown[] } }[] }[])[0]!.changes[0]!.value;
    firstValue.messages.push(...secondValue.messages);
    firstValue.contacts.push(...secondValue.contacts);
    const combined = {
      object: 'whatsapp_business_account',
      entry: [...(m1.payload.entry as unknown[]), ...(m3.payload.entry as unknown[]), ...(envelope({ wabaId: 'x', phoneNumberId: metaId() }, {}).entry as unknown[])],
    };
    expect((await post(combined)).status).toBe(200);
    await settle();
    for (const { id } of [m1, m2, m3]) expect(await em().count(Message, { wamid: id }, UNSCOPED)).toBe(1);
    expect(await em().count(Contact, { organization: a.orgId }, UNSCOPED)).toBe(2);
    expect(await em().count(Contact, { organization: b.orgId }, UNSCOPED)).toBe(1);
  });

  it('reopens a resolved conversation and starts a new one after a closed one', async () => {
    const { orgId, route } = await setup();
    await post(inbound(route, '50250000001', MESSAGE_BODIES.text!).payload);
    await settle();
    const first = await em().findOneOrFail(Conversation, { organization: orgId }, UNSCOPED);
    await em().nativeUpdate(Conversation, { id: first.id }, { status: 'resolved' }, UNSCOPED);
    await post(inbound(route, '50250000001', MESSAGE_BODIES.text!).payload);
    await settle();
    expect((await em().findOneOrFail(Conversation, { id: first.id }, UNSCOPED)).status).toBe('active');
    const reopened = await em().find(DomainEvent, { organization: orgId, type: 'conversation.update' }, UNSCOPED);
    expect(reopened.map((e) => e.data)).toEqual([{ conversation: expect.objectContaining({ id: first.id, status: 'active' }), changes: { status: 'active' }, previous: { status: 'resolved' } }]);

    await em().nativeUpdate(Conversation, { id: first.id }, { status: 'closed' }, UNSCOPED);
    await post(inbound(route, '50250000001', MESSAGE_BODIES.text!).payload);
    await settle();
    const all = await em().find(Conversation, { organization: orgId }, { ...UNSCOPED, orderBy: { id: 'asc' } });
    expect(all.map((c) => c.status)).toEqual(['closed', 'active']);
    expect(await em().count(Message, { conversation: all[1]!.id }, UNSCOPED)).toBe(1);
  });

  it('applies a delivery left unprocessed by a crash when the next process starts', async () => {
    const { route } = await setup();
    const { payload, id } = inbound(route, '50260000001', MESSAGE_BODIES.text!);
    // The row as the webhook leaves it: stored, acknowledged, not processed (the process died).
    await em()
      .getConnection()
      .execute('insert into meta_webhook_deliveries (received_at, payload) values (now(), ?::jsonb)', [JSON.stringify(payload)]);
    expect(await em().count(Message, { wamid: id }, UNSCOPED)).toBe(0);
    const restarted = new MetaInboundProcessor(api.orm, new PhoneNumberDirectory(api.orm), systemClock, createLogger({ level: 'silent' }));
    await restarted.drain();
    expect(await em().count(Message, { wamid: id }, UNSCOPED)).toBe(1);
    const pending = await em()
      .getConnection()
      .execute<{ n: number }[]>('select count(*)::int as n from meta_webhook_deliveries where processed_at is null and payload::text like ?', [`%${id}%`]);
    expect(pending[0]!.n).toBe(0);
  });
});

describe('statuses', () => {
  async function outbound(orgId: string, channel: Channel): Promise<{ id: string; wamid: string }> {
    const fork = em();
    const contact = new Contact(orgId);
    contact.phone = `+5027${Math.floor(Math.random() * 1e7)}`.padEnd(12, '0');
    const conversation = new Conversation(orgId, contact.id, channel.id);
    const message = new Message(orgId, conversation.id, channel.id, 'outbound', 'agent', 'text', { text: 'hi' }, 'sent');
    message.wamid = wamid();
    message.statusRank = 1;
    await fork.persistAndFlush([contact, conversation, message]);
    return { id: message.id, wamid: message.wamid };
  }

  it('only ever move forward, whatever order and however often Meta sends them', async () => {
    const { orgId, route, channel } = await setup();
    const m = await outbound(orgId, channel);
    await post(status(route, m.wamid, 'read'));
    await post(status(route, m.wamid, 'delivered'));
    await post(status(route, m.wamid, 'sent'));
    await post(status(route, m.wamid, 'read'));
    await settle();
    const message = await em().findOneOrFail(Message, { id: m.id }, UNSCOPED);
    expect(message.status).toBe('read');
    expect(await em().count(MessageStatusEvent, { wamid: m.wamid }, UNSCOPED)).toBe(3);
    const updates = await em().find(DomainEvent, { organization: orgId, type: 'message.update' }, UNSCOPED);
    expect(updates.map((u) => [(u.data.message as { status: string }).status, u.data.changes, u.data.previous])).toEqual([['read', { status: 'read' }, { status: 'sent' }]]);
  });

  it('record failures with Meta’s code and title', async () => {
    const { orgId, route, channel } = await setup();
    const m = await outbound(orgId, channel);
    await post(
      status(route, m.wamid, 'failed', {
        errors: [{ code: 131047, title: 'Re-engagement message', message: 'Re-engagement message', error_data: { details: 'More than 24 hours have passed.' } }],
      }),
    );
    await settle();
    const message = await em().findOneOrFail(Message, { id: m.id }, UNSCOPED);
    expect(message.status).toBe('failed');
    expect(message.error).toEqual({ code: 131047, title: 'Re-engagement message', details: 'More than 24 hours have passed.' });
  });

  it('wait for a message that is not known yet instead of being lost', async () => {
    const { orgId, route } = await setup();
    const early = wamid();
    await post(status(route, early, 'delivered'));
    await settle();
    const event = await em().findOneOrFail(MessageStatusEvent, { wamid: early }, UNSCOPED);
    expect(event.organization).toBe(orgId);
    expect(event.appliedAt).toBeNull();
  });
});
