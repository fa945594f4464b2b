import { createLogger, systemClock } from '@parley/core';
import { Broadcast } from '@parley/db';
import { BroadcastSender, EVENT_TYPES, eventSchema, isEventType, type DomainEventType } from '@parley/domain';
import { GraphError } from '@parley/graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installApp, startTestApi, type TestApi } from '../../../test/support/api';
import { envelope, wamid } from '../../../test/fixtures/meta';
import { contactWrites, conversationOf, FakeGraph, insertTemplate, metaStatus, newOrg, newPhone, newSender, newUser, type Org, postSigned } from './messaging-support';

/**
 * Real actions through the API, the Meta webhook and the workers, and what each wrote to
 * `domain_events`: every event parses with its catalog schema, and carries the same view of its
 * resource as the API answers for it at that moment.
 */

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

interface Row {
  id: string;
  type: DomainEventType;
  // Event data is checked against its schema as it is read; the assertions then walk it freely.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: Record<string, any>;
}

/** The organization's events written since the last call, each checked against its schema. */
function eventLog(orgId: string) {
  const seen = new Set<string>();
  return async (): Promise<Row[]> => {
    const rows = await api.orm.em
      .fork()
      .getConnection()
      .execute<Row[]>('select id, type, data from domain_events where organization_id = ? order by id', [orgId]);
    const fresh = rows.filter((r) => !seen.has(r.id));
    for (const r of fresh) {
      seen.add(r.id);
      expect(isEventType(r.type), r.type).toBe(true);
      const parsed = eventSchema(r.type).safeParse(r.data);
      expect(parsed.error, `${r.type} ${JSON.stringify(r.data)}`).toBeUndefined();
    }
    return fresh;
  };
}

const settle = () => api.app.services.metaProcessor.settle();

async function getMessage(org: Org, conversationId: string, messageId: string): Promise<Record<string, unknown>> {
  const res = await api.call('GET', `/v1/conversations/${conversationId}/messages?limit=200`, { token: org.token });
  expect(res.status, res.text).toBe(200);
  const item = (res.body.data as { id: string }[]).find((m) => m.id === messageId);
  expect(item, `message ${messageId}`).toBeDefined();
  return item as Record<string, unknown>;
}

async function getConversation(org: Org, id: string): Promise<Record<string, unknown>> {
  const res = await api.call('GET', `/v1/conversations/${id}`, { token: org.token });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

async function getBroadcast(org: Org, id: string): Promise<Record<string, unknown>> {
  const res = await api.call('GET', `/v1/broadcasts/${id}`, { token: org.token });
  expect(res.status, res.text).toBe(200);
  const { statuses: _statuses, nextCursor: _nextCursor, ...view } = res.body;
  return view;
}

const only = (rows: Row[], type: DomainEventType): Row => {
  const matching = rows.filter((r) => r.type === type);
  expect(matching, `one ${type} in ${rows.map((r) => r.type).join(', ')}`).toHaveLength(1);
  return matching[0]!;
};

describe('events of conversations and messages', () => {
  it('carry the API’s views: a contact writes, agents and bots answer, statuses arrive, the contact edits and deletes', async () => {
    const org = await newOrg(api);
    const events = eventLog(org.orgId);
    const from = newPhone();

    // The contact writes: the conversation starts, with its first message.
    const firstWamid = await contactWrites(api, org.route, from, 'Hola, ¿tienen envío?', { name: 'Alma' });
    const { id: conversationId, contactId } = await conversationOf(api, org.token, from);
    let rows = await events();
    expect(rows.map((r) => r.type)).toEqual(['conversation.create', 'message.create.contact.chat.contact']);
    expect(only(rows, 'conversation.create').data).toEqual({ conversation: await getConversation(org, conversationId) });
    const inbound = only(rows, 'message.create.contact.chat.contact').data;
    expect(inbound.message).toEqual(await getMessage(org, conversationId, inbound.message.id));
    expect(inbound.message).toMatchObject({ wamid: firstWamid, touchpoint: 'whatsapp', role: 'contact', content: { text: 'Hola, ¿tienen envío?' } });
    expect(inbound.contact).toEqual({ id: contactId, name: 'Alma', phone: `+${from}` });

    // An agent answers: the event's message is the 202's body and the history's item.
    const agent = await newUser(api, org.tenant, 'agent', 'Ana Agent');
    const sent = await api.call('POST', `/v1/conversations/${conversationId}/messages`, { token: agent.token, body: { type: 'text', text: 'Sí, a todo el país' } });
    expect(sent.status, sent.text).toBe(202);
    rows = await events();
    const agentEvent = only(rows, 'message.create.contact.chat.agent').data;
    expect(agentEvent.message).toEqual(sent.body);
    expect(agentEvent.message).toEqual(await getMessage(org, conversationId, sent.body.id));
    expect(agentEvent.contact).toEqual(inbound.contact);

    // A partner's bot answers.
    const partner = await installApp(api, org.tenant, org.tenant, { grant: ['conversations:read', 'messages:write'] });
    const botSent = await api.call('POST', `/v1/conversations/${conversationId}/messages`, { token: partner.accessToken, body: { type: 'text', text: 'Beep' } });
    expect(botSent.status, botSent.text).toBe(202);
    rows = await events();
    expect(only(rows, 'message.create.contact.chat.bot').data).toEqual({ message: await getMessage(org, conversationId, botSent.body.id), contact: inbound.contact });

    // The outbox sends both; Meta's statuses move the agent's along, one event per step.
    const graph = new FakeGraph();
    const W = wamid();
    graph.script(sent.body.id, { wamid: W });
    graph.script(botSent.body.id, new GraphError({ status: 400, code: 131026, message: 'Message undeliverable' }));
    await newSender(api, graph).settle();
    rows = await events();
    const sentUpdate = rows.find((r) => r.type === 'message.update' && r.data.message.id === sent.body.id)!;
    expect(sentUpdate.data).toMatchObject({ change: 'status', changes: { status: 'sent', wamid: W }, previous: { status: 'queued', wamid: null } });
    expect(sentUpdate.data.message).toEqual(await getMessage(org, conversationId, sent.body.id));
    const failed = rows.find((r) => r.type === 'message.update' && r.data.message.id === botSent.body.id)!;
    expect(failed.data).toMatchObject({ change: 'status', changes: { status: 'failed', error: { code: 131026 } }, previous: { status: 'queued' } });
    expect(failed.data.message).toEqual(await getMessage(org, conversationId, botSent.body.id));

    await metaStatus(api, org.route, W, 'delivered');
    rows = await events();
    expect(only(rows, 'message.update').data).toEqual({
      message: await getMessage(org, conversationId, sent.body.id),
      contact: inbound.contact,
      change: 'status',
      changes: { status: 'delivered' },
      previous: { status: 'sent' },
    });
    await metaStatus(api, org.route, W, 'read');
    rows = await events();
    expect(only(rows, 'message.update').data.message).toEqual(await getMessage(org, conversationId, sent.body.id));
    expect(only(rows, 'message.update').data.message.status).toBe('read');

    // The contact edits their message, then deletes it for everyone.
    const ts = String(Math.floor(Date.now() / 1000));
    await postSigned(
      api,
      envelope(org.route, {
        contacts: [{ profile: { name: 'Alma' }, wa_id: from }],
        messages: [{ from, id: wamid(), timestamp: ts, type: 'edit', edit: { original_message_id: firstWamid, message: { type: 'text', text: { body: 'Hola, ¿envían a Quetzaltenango?' } } } }],
      }),
    );
    await settle();
    rows = await events();
    const edited = only(rows, 'message.update').data;
    expect(edited.message).toEqual(await getMessage(org, conversationId, inbound.message.id));
    expect(edited).toMatchObject({
      change: 'edited',
      changes: { type: 'text', content: { text: 'Hola, ¿envían a Quetzaltenango?' }, editedAt: expect.any(String) },
      previous: { type: 'text', content: { text: 'Hola, ¿tienen envío?' } },
    });
    await postSigned(api, envelope(org.route, { messages: [{ from, id: wamid(), timestamp: ts, type: 'revoke', revoke: { original_message_id: firstWamid } }] }));
    await settle();
    rows = await events();
    const deleted = only(rows, 'message.update').data;
    expect(deleted.message).toEqual(await getMessage(org, conversationId, inbound.message.id));
    expect(deleted).toMatchObject({ change: 'deleted', changes: { deletedAt: expect.any(String) }, previous: { deletedAt: null } });
    expect(deleted.message).toMatchObject({ content: {}, history: [] });
    expect(JSON.stringify(deleted)).not.toContain('Quetzaltenango');
  });

  it('tell a status that arrived before the send knew its wamid once the send records it, from the status it left', async () => {
    const org = await newOrg(api);
    const events = eventLog(org.orgId);
    const from = newPhone();
    await contactWrites(api, org.route, from);
    const { id: conversationId } = await conversationOf(api, org.token, from);
    const sent = await api.call('POST', `/v1/conversations/${conversationId}/messages`, { token: org.token, body: { type: 'text', text: 'Hola' } });
    expect(sent.status, sent.text).toBe(202);
    await events();
    // Meta's `delivered` (without the callback tag) beats its answer to the send.
    const W = wamid();
    const graph = new FakeGraph();
    graph.script(sent.body.id, async () => {
      await metaStatus(api, org.route, W, 'delivered');
      return { wamid: W };
    });
    await newSender(api, graph).settle();
    const updates = (await events()).filter((r) => r.type === 'message.update');
    expect(updates.map((r) => [r.data.changes, r.data.previous])).toEqual([
      [{ status: 'sent', wamid: W }, { status: 'queued', wamid: null }],
      [{ status: 'delivered' }, { status: 'sent' }],
    ]);
    expect(updates[1]!.data.message).toEqual(await getMessage(org, conversationId, sent.body.id));
  });

  it('tell each change of a conversation with its view, what changed and what it was', async () => {
    const org = await newOrg(api);
    const events = eventLog(org.orgId);
    const agent = await newUser(api, org.tenant, 'agent', 'Beto Agent');

    // Started through the API, with a request id.
    const created = await api.call('POST', '/v1/conversations', {
      token: org.token,
      body: { type: 'contact', contact: { profile: { name: 'Carla', telephone: '+50299991234' } }, requestId: 'REQ-9' },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    let rows = await events();
    expect(only(rows, 'conversation.create').data).toEqual({ conversation: await getConversation(org, id) });

    const assigned = await api.call('PUT', `/v1/conversations/${id}/assign`, { token: org.token, body: { userId: agent.id } });
    expect(assigned.status, assigned.text).toBe(200);
    rows = await events();
    expect(only(rows, 'conversation.update').data).toEqual({ conversation: assigned.body, changes: { assigneeId: agent.id }, previous: { assigneeId: null } });
    expect(assigned.body).toEqual(await getConversation(org, id));
    expect(assigned.body.assignee).toEqual({ id: agent.id, name: 'Beto Agent', email: agent.email });

    const resolved = await api.call('PATCH', `/v1/conversations/${id}`, { token: org.token, body: { status: 'resolved' } });
    rows = await events();
    expect(only(rows, 'conversation.update').data).toEqual({ conversation: resolved.body, changes: { status: 'resolved' }, previous: { status: 'active' } });

    // The contact writes: the resolved conversation reopens, told like any other update.
    await contactWrites(api, org.route, '50299991234', 'Otra pregunta');
    rows = await events();
    expect(rows.map((r) => r.type)).toEqual(['conversation.update', 'message.create.contact.chat.contact']);
    expect(only(rows, 'conversation.update').data).toEqual({ conversation: await getConversation(org, id), changes: { status: 'active' }, previous: { status: 'resolved' } });

    const read = await api.call('PUT', `/v1/conversations/${id}/read`, { token: org.token });
    rows = await events();
    expect(only(rows, 'conversation.update').data).toEqual({ conversation: read.body, changes: { unreadCount: 0 }, previous: { unreadCount: 1 } });

    // STOP: the consent reply is the bot's message, told like any other.
    await contactWrites(api, org.route, '50299991234', 'STOP');
    rows = await events();
    const reply = only(rows, 'message.create.contact.chat.bot').data;
    expect(reply.message).toEqual(await getMessage(org, id, reply.message.id));
    const { contact } = (await getConversation(org, id)) as { contact: { id: string; name: string; phone: string } };
    expect(reply.contact).toEqual({ id: contact.id, name: contact.name, phone: '+50299991234' });
  });
});

describe('events of broadcasts', () => {
  it('carry the broadcast as GET /v1/broadcasts/:id shows it, statistics included', async () => {
    const org = await newOrg(api);
    const events = eventLog(org.orgId);
    await insertTemplate(api, org, { name: 'hello_world', components: [{ type: 'BODY', text: 'Hello' }] });

    const held = await api.call('POST', '/v1/broadcasts', {
      token: org.token,
      body: { template: { name: 'hello_world', language: 'en_US' }, users: [{ phone: '+14155557001' }, { phone: '+14155557002' }], hold: true },
    });
    expect(held.status, held.text).toBe(202);
    expect(await events()).toEqual([]);
    const cancelled = await api.call('POST', `/v1/broadcasts/${held.body.id}/cancel`, { token: org.token });
    expect(cancelled.status, cancelled.text).toBe(200);
    let rows = await events();
    expect(only(rows, 'broadcast.update').data).toEqual({ broadcast: cancelled.body });
    expect(cancelled.body).toEqual(await getBroadcast(org, held.body.id));

    // A running broadcast, sent to the end by the sender and finished as the workflow does.
    const em = api.orm.em.fork();
    const broadcast = new Broadcast(org.orgId, org.channel.id, { name: 'hello_world', language: 'en_US', category: 'UTILITY' }, {});
    broadcast.total = 3;
    await em.persist(broadcast).flush();
    await em.getConnection().execute(
      `insert into broadcast_recipients (organization_id, broadcast_id, phone, params, status, status_rank, attempts, updated_at)
       select ?, ?, '+1415557' || lpad(i::text, 4, '0'), '{}', 'pending', 0, 0, now() from generate_series(1, 3) as i`,
      [org.orgId, broadcast.id],
    );
    let n = 0;
    const sender = new BroadcastSender(api.orm, { sendMessage: async () => ({ wamid: `wamid.catalog.${broadcast.id}.${++n}` }) }, api.config.encryptionKey, systemClock, createLogger({ level: 'silent' }));
    expect(await sender.sendBatch({ organizationId: org.orgId, broadcastId: broadcast.id, budgetMs: 5000 })).toMatchObject({ processed: 3, done: true });
    await sender.finish({ organizationId: org.orgId, broadcastId: broadcast.id, status: 'completed' });
    rows = await events();
    expect(rows.map((r) => r.type)).toEqual(['broadcast.update', 'broadcast.completed']);
    const view = await getBroadcast(org, broadcast.id);
    expect(view).toMatchObject({ status: 'completed', statistics: { total: 3, sent: 3, pending: 0 } });
    expect(only(rows, 'broadcast.update').data).toEqual({ broadcast: view });
    expect(only(rows, 'broadcast.completed').data).toEqual({ broadcast: view });
  });
});

describe('the OpenAPI document', () => {
  it('has a webhooks entry per catalog event: the envelope, the Standard Webhooks headers, and the event’s data', async () => {
    const res = await api.call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(Object.keys(doc.webhooks).sort()).toEqual([...EVENT_TYPES].sort());
    const operationIds = new Set<string>();
    for (const type of EVENT_TYPES) {
      const op = doc.webhooks[type].post;
      expect(op, type).toBeDefined();
      operationIds.add(op.operationId);
      expect(op.parameters.filter((p: { in: string }) => p.in === 'header').map((p: { name: string }) => p.name)).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
      const schema = op.requestBody.content['application/json'].schema;
      expect(schema.required).toEqual(expect.arrayContaining(['id', 'type', 'createdAt', 'organizationId', 'sequence', 'data']));
      expect(schema.properties.type.const).toBe(type);
      expect(schema.properties.sequence.type).toBe('integer');
      expect(schema.properties.data.type).toBe('object');
      expect(op.responses['2XX']).toBeDefined();
      expect(op.responses['410']).toBeDefined();
    }
    expect(operationIds.size).toBe(EVENT_TYPES.length);
    // The views are shared components, the same the API's operations refer to.
    expect(doc.webhooks['message.update'].post.requestBody.content['application/json'].schema.properties.data.properties.message).toEqual({ $ref: '#/components/schemas/Message' });
    expect(doc.webhooks['conversation.create'].post.requestBody.content['application/json'].schema.properties.data.properties.conversation).toEqual({ $ref: '#/components/schemas/Conversation' });
    expect(doc.webhooks['broadcast.completed'].post.requestBody.content['application/json'].schema.properties.data.properties.broadcast).toEqual({ $ref: '#/components/schemas/Broadcast' });
    for (const name of ['Message', 'Conversation', 'Broadcast']) expect(doc.components.schemas[name], name).toBeDefined();
    expect(doc.paths['/v1/conversations/{id}'].get.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Conversation' });
  });
});
