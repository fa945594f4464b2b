import { Conversation, DomainEvent, Message, UNSCOPED } from '@parley/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, installApp, startTestApi, type Answer, type TestApi } from '../../../test/support/api';
import { DAY, expectProblem } from './helpers';
import { contactWrites, conversationOf, newOrg, newPhone, newUser, type Org } from './messaging-support';

/**
 * The inbox: listing and filtering conversations, one conversation's state and history, and what
 * agents and partner bots may change (assignment, request link, read state, status).
 */

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

const em = () => api.orm.em.fork();
const MISSING = '0190a5c8-0000-7000-8000-000000000000';

async function list(token: string, query = ''): Promise<Answer> {
  const res = await api.call('GET', `/v1/conversations${query}`, { token });
  expect(res.status, res.text).toBe(200);
  return res;
}

const ids = (res: Answer) => (res.body.data as { id: string }[]).map((c) => c.id);

async function updates(orgId: string, conversationId: string): Promise<Record<string, unknown>[]> {
  const events = await em().find(DomainEvent, { organization: orgId, type: 'conversation.update' }, { ...UNSCOPED, orderBy: { id: 'asc' } });
  return events.filter((e) => (e.data.conversation as { id: string }).id === conversationId).map((e) => e.data);
}

async function writes(org: Org, from: string, text: string, name?: string): Promise<string> {
  await contactWrites(api, org.route, from, text, name ? { name } : {});
  return (await conversationOf(api, org.token, from)).id;
}

describe('GET /v1/conversations', () => {
  it('lists each conversation with its contact, last message, unread count, assignee and request id; filters and pages', async () => {
    const org = await newOrg(api);
    const agent = await newUser(api, org.tenant, 'agent', 'Ana Agent');
    const [fromA, fromB] = [newPhone(), newPhone()];
    const a = await writes(org, fromA, 'Hola', 'Alma');
    const b = await writes(org, fromB, 'First', 'Beto');
    await writes(org, fromB, 'Second question', 'Beto');
    const c = await api.call('POST', '/v1/conversations', {
      token: org.token,
      body: { type: 'contact', contact: { profile: { name: 'Carla', telephone: '+50299990000' } }, requestId: 'REQ-C' },
    });
    expect(c.status, c.text).toBe(201);
    expect((await api.call('PUT', `/v1/conversations/${b}/assign`, { token: org.token, body: { userId: agent.id } })).status).toBe(200);

    const all = await list(org.token);
    expect(ids(all)).toEqual([c.body.id, b, a]);
    expect(all.body.nextCursor).toBeNull();
    const [rowC, rowB, rowA] = all.body.data;
    expect(rowA).toMatchObject({
      status: 'active',
      channelId: org.channel.id,
      contact: { name: 'Alma', phone: `+${fromA}` },
      lastMessage: { preview: 'Hola', at: expect.any(String) },
      unreadCount: 1,
      assignee: null,
      requestId: null,
      lastInboundAt: expect.any(String),
    });
    expect(rowB).toMatchObject({
      contact: { name: 'Beto', phone: `+${fromB}` },
      lastMessage: { preview: 'Second question' },
      unreadCount: 2,
      assignee: { id: agent.id, name: 'Ana Agent', email: agent.email },
    });
    expect(rowC).toMatchObject({ contact: { name: 'Carla', phone: '+50299990000' }, lastMessage: null, unreadCount: 0, requestId: 'REQ-C', lastInboundAt: null });

    // Unread grows with each inbound message.
    await writes(org, fromB, 'Hello??', 'Beto');
    expect((await list(org.token)).body.data[1]).toMatchObject({ id: b, unreadCount: 3, lastMessage: { preview: 'Hello??' } });

    expect(ids(await list(org.token, '?assignee=none'))).toEqual([c.body.id, a]);
    expect(ids(await list(org.token, `?assignee=${agent.id}`))).toEqual([b]);
    expect(ids(await list(org.token, `?assignee=${MISSING}`))).toEqual([]);
    expect(ids(await list(org.token, '?assignee=not-an-id'))).toEqual([]);

    expect((await api.call('PATCH', `/v1/conversations/${a}`, { token: org.token, body: { status: 'resolved' } })).status).toBe(200);
    expect(ids(await list(org.token, '?status=resolved'))).toEqual([a]);
    expect(ids(await list(org.token, '?status=active'))).toEqual([c.body.id, b]);
    expect(ids(await list(org.token, '?status=active&assignee=none'))).toEqual([c.body.id]);
    expect(ids(await list(org.token, '?status=closed'))).toEqual([]);

    // Pages of one, newest first, until nextCursor is null.
    const paged: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 5; i++) {
      const page: Answer = await list(org.token, `?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.body.data.length).toBeLessThanOrEqual(1);
      paged.push(...ids(page));
      cursor = page.body.nextCursor;
      if (!cursor) break;
    }
    expect(paged).toEqual([c.body.id, b, a]);
    expect(cursor).toBeNull();

    expectProblem(await api.call('GET', '/v1/conversations?status=open', { token: org.token }), 400, 'validation_error');
    expectProblem(await api.call('GET', '/v1/conversations?limit=201', { token: org.token }), 400, 'validation_error');
    expectProblem(await api.call('GET', '/v1/conversations?colour=red', { token: org.token }), 400, 'validation_error');
  });
});

describe('GET /v1/conversations/:id and its messages', () => {
  it('shows the window and what may be sent', async () => {
    const org = await newOrg(api);
    const from = newPhone();
    const at = new Date(Math.floor(Date.now() / 1000) * 1000);
    await contactWrites(api, org.route, from, 'Hola', { at });
    const { id, contactId } = await conversationOf(api, org.token, from);
    const res = await api.call('GET', `/v1/conversations/${id}`, { token: org.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id,
      status: 'active',
      channelId: org.channel.id,
      contact: { id: contactId, name: 'Ana Pérez', phone: `+${from}`, email: null },
      assignee: null,
      requestId: null,
      unreadCount: 1,
      lastMessage: { preview: 'Hola', at: at.toISOString() },
      lastInboundAt: at.toISOString(),
      windowExpiresAt: new Date(at.getTime() + DAY).toISOString(),
      canSend: { freeForm: true, templates: true, marketingTemplates: true },
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expectProblem(await api.call('GET', `/v1/conversations/${MISSING}`, { token: org.token }), 404, 'not_found');
    expectProblem(await api.call('GET', '/v1/conversations/not-an-id', { token: org.token }), 404, 'not_found');
  });

  it('pages the history newest first', async () => {
    const org = await newOrg(api);
    const from = newPhone();
    for (const text of ['one', 'two', 'three']) await contactWrites(api, org.route, from, text);
    const { id } = await conversationOf(api, org.token, from);
    for (const text of ['four', 'five']) {
      expect((await api.call('POST', `/v1/conversations/${id}/messages`, { token: org.token, body: { type: 'text', text } })).status).toBe(202);
    }
    const texts: string[] = [];
    const directions: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Answer = await api.call('GET', `/v1/conversations/${id}/messages?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: org.token });
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      texts.push(...page.body.data.map((m: { content: { text: string } }) => m.content.text));
      directions.push(...page.body.data.map((m: { direction: string }) => m.direction));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(texts).toEqual(['five', 'four', 'three', 'two', 'one']);
    expect(directions).toEqual(['outbound', 'outbound', 'inbound', 'inbound', 'inbound']);
    expectProblem(await api.call('GET', `/v1/conversations/${MISSING}/messages`, { token: org.token }), 404, 'not_found');
  });
});

describe('changing a conversation', () => {
  it('assigns to a user of the organization only, and unassigns', async () => {
    const org = await newOrg(api);
    const agent = await newUser(api, org.tenant, 'agent', 'Ana Agent');
    const stranger = await newUser(api, await createTenant(api), 'agent', 'Someone Else');
    const id = await writes(org, newPhone(), 'Hola');

    const assigned = await api.call('PUT', `/v1/conversations/${id}/assign`, { token: org.token, body: { userId: agent.id } });
    expect(assigned.status, assigned.text).toBe(200);
    expect(assigned.body.assignee).toEqual({ id: agent.id, name: 'Ana Agent', email: agent.email });
    for (const userId of [stranger.id, MISSING, 'not-an-id']) {
      const bad = await api.call('PUT', `/v1/conversations/${id}/assign`, { token: org.token, body: { userId } });
      expectProblem(bad, 400, 'validation_error');
      expect(bad.body.errors).toEqual([{ path: 'userId', message: expect.any(String) }]);
    }
    expect((await em().findOneOrFail(Conversation, { id }, UNSCOPED)).assignee).toBe(agent.id);
    const unassigned = await api.call('PUT', `/v1/conversations/${id}/assign`, { token: org.token, body: { userId: null } });
    expect(unassigned.body.assignee).toBeNull();
    expect(await updates(org.orgId, id)).toEqual([
      { conversation: expect.objectContaining({ id, assignee: { id: agent.id, name: agent.name, email: agent.email } }), changes: { assigneeId: agent.id }, previous: { assigneeId: null } },
      { conversation: expect.objectContaining({ id, assignee: null }), changes: { assigneeId: null }, previous: { assigneeId: agent.id } },
    ]);
  });

  it('links and unlinks a request, and marks the conversation read, each recorded as conversation.update', async () => {
    const org = await newOrg(api);
    const from = newPhone();
    const id = await writes(org, from, 'one');
    await writes(org, from, 'two');
    const linked = await api.call('PUT', `/v1/conversations/${id}/link-request`, { token: org.token, body: { requestId: 'REQ-77' } });
    expect(linked.status, linked.text).toBe(200);
    expect(linked.body.requestId).toBe('REQ-77');
    expect((await list(org.token)).body.data[0]).toMatchObject({ id, requestId: 'REQ-77', unreadCount: 2 });

    const read = await api.call('PUT', `/v1/conversations/${id}/read`, { token: org.token });
    expect(read.status, read.text).toBe(200);
    expect(read.body.unreadCount).toBe(0);
    expect((await em().findOneOrFail(Conversation, { id }, UNSCOPED)).unreadCount).toBe(0);
    // Reading again changes nothing, so records nothing.
    expect((await api.call('PUT', `/v1/conversations/${id}/read`, { token: org.token })).status).toBe(200);

    const unlinked = await api.call('PUT', `/v1/conversations/${id}/link-request`, { token: org.token, body: { requestId: null } });
    expect(unlinked.body.requestId).toBeNull();
    expectProblem(await api.call('PUT', `/v1/conversations/${id}/link-request`, { token: org.token, body: { requestId: '' } }), 400, 'validation_error');

    expect((await updates(org.orgId, id)).map((u) => u.changes)).toEqual([{ requestId: 'REQ-77' }, { unreadCount: 0 }, { requestId: null }]);
  });

  it('resolves and reactivates, closes for good (409 conversation_closed), and starts a new conversation when a closed one’s contact writes', async () => {
    const org = await newOrg(api);
    const from = newPhone();
    const id = await writes(org, from, 'Hola');
    const patch = (status: string) => api.call('PATCH', `/v1/conversations/${id}`, { token: org.token, body: { status } });

    expect((await patch('resolved')).body.status).toBe('resolved');
    // The contact writing reopens a resolved conversation.
    await writes(org, from, 'One more thing');
    expect((await em().findOneOrFail(Conversation, { id }, UNSCOPED)).status).toBe('active');
    expect((await patch('resolved')).status).toBe(200);
    expect((await patch('active')).body.status).toBe('active');
    const closed = await patch('closed');
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({ status: 'closed', canSend: { freeForm: false, templates: false, marketingTemplates: false } });
    expectProblem(await patch('active'), 409, 'conversation_closed');
    expectProblem(await patch('resolved'), 409, 'conversation_closed');
    expectProblem(await patch('archived'), 400, 'validation_error');
    expectProblem(await api.call('POST', `/v1/conversations/${id}/messages`, { token: org.token, body: { type: 'text', text: 'Hello?' } }), 409, 'conversation_closed');
    expect((await em().findOneOrFail(Conversation, { id }, UNSCOPED)).status).toBe('closed');

    expect((await updates(org.orgId, id)).map((u) => u.changes)).toEqual([
      { status: 'resolved' },
      { status: 'active' }, // reopened by the contact
      { status: 'resolved' },
      { status: 'active' },
      { status: 'closed' },
    ]);

    await writes(org, from, 'Are you there?');
    const conversations = await em().find(Conversation, { organization: org.orgId }, { ...UNSCOPED, orderBy: { id: 'asc' } });
    expect(conversations.map((c) => [c.id === id, c.status])).toEqual([
      [true, 'closed'],
      [false, 'active'],
    ]);
    const fresh = conversations[1]!;
    expect(fresh.unreadCount).toBe(1);
    expect(await em().count(Message, { conversation: fresh.id }, UNSCOPED)).toBe(1);
    const again = await api.call('POST', '/v1/conversations', { token: org.token, body: { type: 'contact', contact: { profile: { telephone: `+${from}` } } } });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(fresh.id);
  });
});

describe('who may change conversations', () => {
  it('lets an agent list, read, assign, link, mark read, change status and send, as role agent', async () => {
    const org = await newOrg(api);
    const agent = await newUser(api, org.tenant, 'agent');
    const id = await writes(org, newPhone(), 'Hola');
    const t = { token: agent.token };
    expect(ids(await list(agent.token))).toEqual([id]);
    expect((await api.call('GET', `/v1/conversations/${id}`, t)).status).toBe(200);
    expect((await api.call('GET', `/v1/conversations/${id}/messages`, t)).status).toBe(200);
    expect((await api.call('PUT', `/v1/conversations/${id}/assign`, { ...t, body: { userId: agent.id } })).body.assignee.id).toBe(agent.id);
    expect((await api.call('PUT', `/v1/conversations/${id}/link-request`, { ...t, body: { requestId: 'REQ-1' } })).body.requestId).toBe('REQ-1');
    expect((await api.call('PUT', `/v1/conversations/${id}/read`, t)).body.unreadCount).toBe(0);
    expect((await api.call('PATCH', `/v1/conversations/${id}`, { ...t, body: { status: 'resolved' } })).body.status).toBe('resolved');
    const sent = await api.call('POST', `/v1/conversations/${id}/messages`, { ...t, body: { type: 'text', text: 'On it' } });
    expect(sent.status, sent.text).toBe(202);
    expect(sent.body).toMatchObject({ role: 'agent', authorId: agent.id });
    const event = await em().findOneOrFail(DomainEvent, { organization: org.orgId, type: 'message.create.contact.chat.agent' }, UNSCOPED);
    expect(event.data.message).toMatchObject({ id: sent.body.id, role: 'agent', content: { text: 'On it' } });
    // Agents do not manage the organization's consent settings.
    expectProblem(await api.call('PUT', '/v1/settings/opt-out', { ...t, body: { keywords: ['baja'] } }), 403, 'forbidden');
  });

  it('needs conversations:write for changes and messages:write for sends from a partner, whose messages are the bot’s', async () => {
    const org = await newOrg(api);
    const id = await writes(org, newPhone(), 'Hola');
    const reader = await installApp(api, org.tenant, org.tenant, { grant: ['conversations:read', 'messages:write'] });
    const writer = await installApp(api, org.tenant, org.tenant, { grant: ['conversations:read', 'conversations:write'] });

    for (const [method, path, body] of [
      ['PUT', `/v1/conversations/${id}/assign`, { userId: null }],
      ['PUT', `/v1/conversations/${id}/link-request`, { requestId: 'REQ-1' }],
      ['PUT', `/v1/conversations/${id}/read`, undefined],
      ['PATCH', `/v1/conversations/${id}`, { status: 'resolved' }],
      ['POST', '/v1/conversations', { type: 'contact', contact: { profile: { telephone: '+50299990001' } } }],
    ] as const) {
      expectProblem(await api.call(method, path, { token: reader.accessToken, ...(body ? { body } : {}) }), 403, 'forbidden');
      const ok = await api.call(method, path, { token: writer.accessToken, ...(body ? { body } : {}) });
      expect(ok.status, `${method} ${path}: ${ok.text}`).toBeLessThan(300);
    }
    // Writing conversations is not sending messages.
    expectProblem(await api.call('POST', `/v1/conversations/${id}/messages`, { token: writer.accessToken, body: { type: 'text', text: 'x' } }), 403, 'forbidden');
    expectProblem(
      await api.call('POST', '/v1/conversations', {
        token: writer.accessToken,
        body: { type: 'contact', contact: { profile: { telephone: '+50299990001' } }, messages: [{ type: 'chat', text: 'x' }] },
      }),
      403,
      'forbidden',
    );
    expectProblem(await api.call('POST', '/v1/messages', { token: writer.accessToken, body: { phoneNumber: '+50299990001', text: 'x' } }), 403, 'forbidden');
    expect(await em().count(Message, { organization: org.orgId, direction: 'outbound' }, UNSCOPED)).toBe(0);

    const sent = await api.call('POST', `/v1/conversations/${id}/messages`, { token: reader.accessToken, body: { type: 'text', text: 'Beep' } });
    expect(sent.status, sent.text).toBe(202);
    expect(sent.body).toMatchObject({ role: 'bot', authorId: null });
    const events = await em().find(DomainEvent, { organization: org.orgId, type: { $like: 'message.create.%' } }, { ...UNSCOPED, orderBy: { id: 'asc' } });
    expect(events.map((e) => e.type)).toEqual(['message.create.contact.chat.contact', 'message.create.contact.chat.bot']);
    expect(events[1]!.data.message).toMatchObject({ id: sent.body.id, role: 'bot', direction: 'outbound' });

    // A user may send as the bot (an automation acting through a person's token).
    const asBot = await api.call('POST', `/v1/conversations/${id}/messages`, { token: org.token, body: { type: 'text', text: 'Auto', role: 'bot' } });
    expect(asBot.body).toMatchObject({ role: 'bot' });
    expect(await em().count(DomainEvent, { organization: org.orgId, type: 'message.create.contact.chat.bot' }, UNSCOPED)).toBe(2);
  });
});
