import { randomInt } from 'node:crypto';
import { ManualClock } from '@parley/core';
import { enqueueConversation, type MessagingService, QueueService, sqlRunner } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, PASSWORD, startTestApi, uniqueEmail, type TestApi, type Tenant } from '../../../test/support/api';
import { insertChannel } from '../../../test/support/channels';
import { expectProblem } from './helpers';

const clock = new ManualClock(new Date('2026-12-01T12:00:00Z'));
let api: TestApi;

const call = (token: string, method: string, path: string, body?: unknown) => api.call(method, path, { token, ...(body !== undefined ? { body } : {}) });

async function addAgent(t: Tenant): Promise<{ id: string; token: string }> {
  const email = uniqueEmail('agent');
  const user = await call(t.adminToken, 'POST', '/v1/users', { email, password: PASSWORD, name: 'Agent', role: 'agent' });
  expect(user.status, user.text).toBe(201);
  const login = await api.call('POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
  return { id: user.body.id, token: login.body.accessToken };
}

async function openConversation(t: Tenant): Promise<string> {
  const res = await call(t.adminToken, 'POST', '/v1/conversations', { type: 'contact', contact: { profile: { name: 'Waiting contact', telephone: `+1415${randomInt(1_000_000, 9_999_999)}` } } });
  expect(res.status, res.text).toBe(201);
  return res.body.id;
}

/** A tenant with a live queue the agent works, and a conversation waiting in it. */
async function waitingTenant() {
  const t = await createTenant(api);
  await insertChannel(api, t.organizationId);
  const agent = await addAgent(t);
  const queue = (await call(t.adminToken, 'POST', '/v1/routing/draft/queues', { name: 'Front desk', priority: 2, agentIds: [agent.id] })).body;
  expect((await call(t.adminToken, 'POST', '/v1/routing/apply', {})).status).toBe(201);
  const conversationId = await openConversation(t);
  await enqueueConversation(sqlRunner(api.orm.em.fork()), t.organizationId, queue.id, conversationId, clock.now());
  return { t, agent, queueId: queue.id as string, conversationId };
}

async function assigneeOf(conversationId: string): Promise<string | null> {
  const [row] = await api.orm.em.fork().getConnection().execute<{ assignee: string | null }[]>('select assignee from conversations where id = ?', [conversationId]);
  return row!.assignee;
}

async function updateEvents(organizationId: string, conversationId: string): Promise<number> {
  const [row] = await api.orm.em
    .fork()
    .getConnection()
    .execute<{ n: string }[]>(`select count(*) as n from domain_events where organization_id = ? and type = 'conversation.update' and data::text like ?`, [organizationId, `%${conversationId}%`]);
  return Number(row!.n);
}

beforeAll(async () => {
  api = await startTestApi({ clock });
});
afterAll(async () => {
  await api.close();
});

describe('taking from a queue', () => {
  it('claims, assigns and records the event in one transaction: a failure between them leaves the conversation waiting', async () => {
    const { t, agent, queueId, conversationId } = await waitingTenant();
    const real = api.app.services.queues;
    const messaging = api.app.services.messaging;
    const failing = (when: 'before' | 'after'): Pick<MessagingService, 'updateIn'> => ({
      async updateIn(...args) {
        if (when === 'after') await messaging.updateIn(...args);
        throw new Error(`injected failure ${when} the assignment`);
      },
    });
    try {
      for (const when of ['before', 'after'] as const) {
        api.app.services.queues = new QueueService(clock, failing(when));
        const res = await call(agent.token, 'POST', `/v1/queues/${queueId}/take`, {});
        expect(res.status, res.text).toBe(500);
        const waiting = await call(agent.token, 'GET', '/v1/queues/waiting');
        expect(waiting.body.data).toMatchObject([{ conversationId, queueId, position: 1 }]);
        expect(await assigneeOf(conversationId)).toBeNull();
        expect(await updateEvents(t.organizationId, conversationId)).toBe(0);
        const [waits] = await api.orm.em.fork().getConnection().execute<{ n: string }[]>('select count(*) as n from queue_waits where conversation_id = ?', [conversationId]);
        expect(Number(waits!.n)).toBe(0);
      }
    } finally {
      api.app.services.queues = real;
    }
    const taken = await call(agent.token, 'POST', `/v1/queues/${queueId}/take`, {});
    expect(taken.status, taken.text).toBe(200);
    expect(taken.body).toMatchObject({ id: conversationId, assignee: { id: agent.id } });
    expect(await updateEvents(t.organizationId, conversationId)).toBe(1);
    // The one event tells both: assigned to the agent, and no longer waiting in the queue.
    const [taken2] = await api.orm.em
      .fork()
      .getConnection()
      .execute<{ data: unknown }[]>(`select data from domain_events where organization_id = ? and type = 'conversation.update' and data->'conversation'->>'id' = ?`, [t.organizationId, conversationId]);
    expect(taken2?.data).toMatchObject({ changes: { assigneeId: agent.id, queueId: null }, previous: { assigneeId: null, queueId } });
    expect((await call(agent.token, 'GET', '/v1/queues/waiting')).body.data).toEqual([]);
    expectProblem(await call(agent.token, 'POST', `/v1/queues/${queueId}/take`, {}), 409, 'queue_empty');
  });

  it('conversations waiting in a queue a later version removed are listed to admins under that queue, flagged', async () => {
    const { t, agent, queueId, conversationId } = await waitingTenant();
    const kept = (await call(t.adminToken, 'POST', '/v1/routing/draft/queues', { name: 'Kept' })).body;
    expect((await call(t.adminToken, 'DELETE', `/v1/routing/draft/queues/${queueId}`)).status).toBe(204);
    expect((await call(t.adminToken, 'POST', '/v1/routing/apply', {})).status).toBe(201);
    const other = await openConversation(t);
    clock.advance(60_000);
    await enqueueConversation(sqlRunner(api.orm.em.fork()), t.organizationId, kept.id, other, clock.now());

    const all = await call(t.adminToken, 'GET', '/v1/queues/waiting');
    expect(all.status, all.text).toBe(200);
    expect(all.body.data).toMatchObject([
      { conversationId, queueId, queueName: 'Front desk', queuePriority: 2, queueRemoved: true, position: 1 },
      { conversationId: other, queueId: kept.id, queueName: 'Kept', queueRemoved: false, position: 1 },
    ]);
    expect((await call(t.adminToken, 'GET', `/v1/queues/waiting?queueId=${queueId}`)).body.data).toMatchObject([{ conversationId, queueRemoved: true }]);
    // The removed queue has no agents any more, and cannot be taken from; an admin assigns instead.
    expect((await call(agent.token, 'GET', '/v1/queues/waiting')).body.data).toEqual([]);
    expectProblem(await call(agent.token, 'POST', `/v1/queues/${queueId}/take`, {}), 404, 'not_found');
    expect((await call(t.adminToken, 'PUT', `/v1/conversations/${conversationId}/assign`, { userId: agent.id })).status).toBe(200);
    expect((await call(t.adminToken, 'GET', '/v1/queues/waiting')).body.data).toMatchObject([{ conversationId: other }]);
  });
});
