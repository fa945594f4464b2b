import { createLogger, ManualClock } from '@parley/core';
import { RoutingDispatcher, RoutingRunner, sqlRunner } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../../test/support/api';
import { inbound, MESSAGE_BODIES } from '../../../test/fixtures/meta';
import { expectProblem } from './helpers';
import { contactWrites, conversationOf, FakeGraph, insertTemplate, newOrg, newPhone, newSender, type Org, postSigned } from './messaging-support';

// Tuesday 1 December 2026, 12:00 UTC (13:00 in Madrid).
const NOON = new Date('2026-12-01T12:00:00Z');
const clock = new ManualClock(NOON);
const graph = new FakeGraph();
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ clock });
});
afterAll(async () => {
  await api.close();
});

const call = (org: Org, method: string, path: string, body?: unknown) => api.call(method, path, { token: org.token, ...(body !== undefined ? { body } : {}) });

async function created(org: Org, segment: string, body: unknown): Promise<string> {
  const res = await call(org, 'POST', `/v1/routing/draft/${segment}`, body);
  expect(res.status, res.text).toBe(201);
  return res.body.id;
}

async function routeChannel(org: Org, first: unknown, attachments = 'both'): Promise<void> {
  const res = await call(org, 'PUT', `/v1/routing/draft/channels/${org.channel.id}`, { first, attachments });
  expect(res.status, res.text).toBe(200);
}

async function apply(org: Org, at?: Date): Promise<void> {
  const res = await call(org, 'POST', '/v1/routing/apply', at ? { at: at.toISOString() } : {});
  expect([201, 202], res.text).toContain(res.status);
}

/** The worker's routing job for this organization, drained. */
async function route(org: Org, dispatcher = new RoutingDispatcher(clock, null)): Promise<void> {
  await new RoutingRunner(api.orm, dispatcher, createLogger({ level: 'silent' }), { organizationIds: [org.orgId] }).settle();
}

/** The contact writes, the inbound processor stores it, and routing runs: the conversation id. */
async function writes(org: Org, from: string, text = 'Hola'): Promise<string> {
  await contactWrites(api, org.route, from, text, { at: clock.now() });
  await route(org);
  return (await conversationOf(api, org.token, from)).id;
}

async function conversation(org: Org, id: string) {
  const res = await call(org, 'GET', `/v1/conversations/${id}`);
  expect(res.status, res.text).toBe(200);
  return res.body;
}

async function messages(org: Org, id: string): Promise<{ role: string; type: string; content: Record<string, unknown>; direction: string }[]> {
  const res = await call(org, 'GET', `/v1/conversations/${id}/messages?limit=100`);
  expect(res.status, res.text).toBe(200);
  return res.body.data;
}

const botTexts = async (org: Org, id: string) => (await messages(org, id)).filter((m) => m.role === 'bot').map((m) => (m.content as { text?: string }).text ?? (m.content as { template?: { name: string } }).template?.name);

async function dryRun(org: Org, from: string, extra: Record<string, unknown> = {}) {
  const res = await call(org, 'POST', '/v1/routing/dry-run', { channelId: org.channel.id, from, at: clock.now().toISOString(), ...extra });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

describe('queue', () => {
  it('enqueues with the auto-response and its placeholders, sent through the send path; dry runs match', async () => {
    const org = await newOrg(api);
    const queue = await created(org, 'queues', { name: 'Sales', autoResponse: 'You are number {{queue.position}} in {{queue.name}}; about {{queue.averageWaitMinutes}} min.' });
    await routeChannel(org, { kind: 'queue', id: queue });
    await apply(org);

    const first = newPhone();
    const predicted = await dryRun(org, first, { text: 'Hola' });
    expect(predicted).toMatchObject({ against: 'live', version: 1, routed: true, reason: 'new_conversation', destination: { kind: 'queue', id: queue }, queue: { position: 1, name: 'Sales' } });
    const a = await writes(org, first);
    const view = await conversation(org, a);
    expect(view.routing).toMatchObject({ destination: predicted.destination, path: predicted.path, reason: 'created', version: 1, autoResponse: { sent: true } });
    expect(await botTexts(org, a)).toEqual(['You are number 1 in Sales; about 0 min.']);

    const second = newPhone();
    expect((await dryRun(org, second)).queue.position).toBe(2);
    const b = await writes(org, second);
    expect(await botTexts(org, b)).toEqual(['You are number 2 in Sales; about 0 min.']);
    const waiting = await call(org, 'GET', '/v1/queues/waiting');
    expect(waiting.body.data.map((w: { conversationId: string; position: number }) => [w.conversationId, w.position])).toEqual([
      [a, 1],
      [b, 2],
    ]);
    // Joining the queue is told as a change of the conversation.
    const [joined] = await api.orm.em
      .fork()
      .getConnection()
      .execute<{ data: { conversation: { id: string; routing: { destination: unknown } }; changes: unknown; previous: unknown } }[]>(
        `select data from domain_events where organization_id = ? and type = 'conversation.update' and data->'conversation'->>'id' = ?`,
        [org.orgId, a],
      );
    expect(joined?.data).toMatchObject({ changes: { queueId: queue }, previous: { queueId: null }, conversation: { id: a } });

    // The sandbox Graph API gets the auto-responses from the outbox.
    await newSender(api, graph, clock).settle();
    expect(graph.callsFor(org.channel).map((c) => (c.payload as { text?: { body: string } }).text?.body)).toEqual(
      expect.arrayContaining(['You are number 1 in Sales; about 0 min.', 'You are number 2 in Sales; about 0 min.']),
    );

    // A conversation in progress keeps its place: no second routing, no second auto-response.
    expect((await dryRun(org, first)).reason).toBe('in_progress');
    await writes(org, first, 'Still there?');
    expect(await botTexts(org, a)).toHaveLength(1);
    expect((await conversation(org, a)).routing.at).toBe(view.routing.at);
  });

  it('routes exactly once when the worker dies mid-routing', async () => {
    const org = await newOrg(api);
    const queue = await created(org, 'queues', { name: 'Support', autoResponse: 'Number {{queue.position}}.' });
    await routeChannel(org, { kind: 'queue', id: queue });
    await apply(org);
    const from = newPhone();
    await contactWrites(api, org.route, from, 'Hi', { at: clock.now() });
    const [pending] = await sqlRunner(api.orm.em.fork()).all<{ reason: string }>('select reason from routing_inbound where organization_id = ?', [org.orgId]);
    expect(pending?.reason).toBe('created');

    // The first attempt does all its work and then dies before committing.
    class Dying extends RoutingDispatcher {
      override async dispatch(...args: Parameters<RoutingDispatcher['dispatch']>): ReturnType<RoutingDispatcher['dispatch']> {
        await super.dispatch(...args);
        throw new Error('worker killed');
      }
    }
    await route(org, new Dying(clock, null));
    await sqlRunner(api.orm.em.fork()).run('update routing_inbound set next_attempt_at = now() where organization_id = ?', [org.orgId]);
    await route(org);
    await route(org);
    const id = (await conversationOf(api, org.token, from)).id;
    expect(await botTexts(org, id)).toEqual(['Number 1.']);
    expect((await call(org, 'GET', '/v1/queues/waiting')).body.data).toHaveLength(1);
    expect(await sqlRunner(api.orm.em.fork()).all('select 1 from routing_inbound where organization_id = ?', [org.orgId])).toEqual([]);
  });
});

describe('time condition and terminate', () => {
  it('open hours go to the queue, closed hours end the chat with its template, cause and answered flag', async () => {
    const org = await newOrg(api);
    expect((await call(org, 'PUT', '/v1/settings/time-zone', { timeZone: 'Europe/Madrid' })).status).toBe(200);
    await insertTemplate(api, org, { name: 'closed_now', language: 'es', components: [{ type: 'BODY', text: 'Estamos cerrados.' }] });
    const queue = await created(org, 'queues', { name: 'Office', autoResponse: null });
    const group = await created(org, 'time-groups', { name: 'Weekdays', weekly: { tuesday: [{ from: '09:00', to: '18:00' }] } });
    const terminate = await created(org, 'terminates', { name: 'Closed', cause: 'out_of_hours', autoResponseTemplate: 'closed_now', answered: false, missedChatQueueId: queue });
    const condition = await created(org, 'time-conditions', { name: 'Office hours', timeGroupId: group, whenOpen: { kind: 'queue', id: queue }, whenClosed: { kind: 'terminate', id: terminate } });
    await routeChannel(org, { kind: 'time_condition', id: condition });
    await apply(org);

    const open = newPhone();
    const openPlan = await dryRun(org, open);
    expect(openPlan.path).toEqual([
      { kind: 'channel', channelId: org.channel.id, version: 1, first: { kind: 'time_condition', id: condition } },
      { kind: 'time_condition', timeConditionId: condition, timeGroupId: group, open: true },
    ]);
    const a = await writes(org, open);
    expect((await conversation(org, a)).routing).toMatchObject({ destination: { kind: 'queue', id: queue }, path: openPlan.path });

    // 19:30 in Madrid: closed. The dry run at that instant says what then happens.
    const evening = new Date('2026-12-01T18:30:00Z');
    const closed = newPhone();
    const closedPlan = await dryRun(org, closed, { at: evening.toISOString() });
    expect(closedPlan.destination).toEqual({ kind: 'terminate', id: terminate });
    clock.set(evening);
    await contactWrites(api, org.route, closed, 'Hello?', { at: evening });
    await route(org);
    clock.set(NOON);
    const b = (await sqlRunner(api.orm.em.fork()).all<{ id: string }>(`select cv.id from conversations cv join contacts ct on ct.id = cv.contact_id where ct.phone = ? and cv.organization_id = ?`, [`+${closed}`, org.orgId]))[0]!.id;
    const ended = await conversation(org, b);
    expect(ended.status).toBe('resolved');
    expect(ended.routing).toMatchObject({ destination: closedPlan.destination, path: closedPlan.path, cause: 'out_of_hours', answered: false, missedChatQueueId: queue, autoResponse: { sent: true } });
    expect(await botTexts(org, b)).toEqual(['closed_now']);
    const missed = await call(org, 'GET', `/v1/queues/${queue}/missed`);
    expect(missed.status, missed.text).toBe(200);
    expect(missed.body.data).toEqual([{ conversationId: b, cause: 'out_of_hours', answered: false, endedAt: evening.toISOString(), contact: expect.objectContaining({ phone: `+${closed}` }) }]);
  });

  it('a refused auto-response template is recorded, not an error', async () => {
    const org = await newOrg(api);
    const terminate = await created(org, 'terminates', { name: 'Bye', cause: 'no_service', autoResponseTemplate: 'missing_template', answered: true });
    await routeChannel(org, { kind: 'terminate', id: terminate });
    await apply(org);
    const id = await writes(org, newPhone());
    const view = await conversation(org, id);
    expect(view.status).toBe('resolved');
    expect(view.routing).toMatchObject({ cause: 'no_service', answered: true, autoResponse: { sent: false, code: 'template_not_found' } });
    expect(await botTexts(org, id)).toEqual([]);
  });

  it('the terminate’s template is not sent to a contact who opted out: the refusal is recorded', async () => {
    const org = await newOrg(api);
    await insertTemplate(api, org, { name: 'bye_now', language: 'en_US', components: [{ type: 'BODY', text: 'Goodbye.' }] });
    const terminate = await created(org, 'terminates', { name: 'Bye', cause: 'closed', autoResponseTemplate: 'bye_now' });
    await routeChannel(org, { kind: 'terminate', id: terminate });
    await apply(org);
    const id = await writes(org, newPhone(), 'STOP');
    const view = await conversation(org, id);
    expect(view.routing).toMatchObject({ cause: 'closed', autoResponse: { sent: false, code: 'contact_opted_out' } });
    expect(await botTexts(org, id)).not.toContain('bye_now');
  });

  it('a conversation the terminate resolved is routed again when the contact writes again (reopened)', async () => {
    const org = await newOrg(api);
    const terminate = await created(org, 'terminates', { name: 'Bye', cause: 'first_contact' });
    await routeChannel(org, { kind: 'terminate', id: terminate });
    await apply(org);
    const from = newPhone();
    const id = await writes(org, from);
    expect((await conversation(org, id)).status).toBe('resolved');
    const queue = await created(org, 'queues', { name: 'Now open', autoResponse: 'Back again, number {{queue.position}}.' });
    await routeChannel(org, { kind: 'queue', id: queue });
    await apply(org);
    expect(await dryRun(org, from)).toMatchObject({ reason: 'reopened', routed: true, destination: { kind: 'queue', id: queue } });
    expect(await writes(org, from, 'Hello again')).toBe(id);
    const view = await conversation(org, id);
    expect(view.status).toBe('active');
    expect(view.routing).toMatchObject({ reason: 'reopened', version: 2, destination: { kind: 'queue', id: queue } });
    expect(view.routing.cause).toBeUndefined();
    expect(await botTexts(org, id)).toEqual(['Back again, number 1.']);
  });
});

describe('decision tree', () => {
  it('the dry run walks the tree with the text as the answer; the runtime starts that tree once', async () => {
    const org = await newOrg(api);
    const queue = await created(org, 'queues', { name: 'Sales' });
    const tree = await created(org, 'decision-trees', {
      name: 'Menu',
      tree: {
        defaultLanguage: 'en',
        start: 'welcome',
        decisions: [
          { id: 'welcome', actions: [{ type: 'send_message', text: 'Hi!' }], next: { type: 'immediate', target: 'menu' } },
          {
            id: 'menu',
            next: {
              type: 'answer',
              question: 'How can we help?',
              choices: [{ id: 'sales', title: 'Sales', similar: ['buy'], target: { kind: 'queue', id: queue } }],
              default: { kind: 'terminate' },
            },
          },
        ],
      },
    });
    await routeChannel(org, { kind: 'decision_tree', id: tree });
    await apply(org);

    const from = newPhone();
    const waiting = await dryRun(org, from);
    expect(waiting).toMatchObject({ destination: { kind: 'decision_tree', id: tree }, waiting: { treeId: tree, decisionId: 'menu' } });
    const answered = await dryRun(org, from, { text: 'I want to buy' });
    expect(answered.destination).toEqual({ kind: 'queue', id: queue });
    expect(answered.path.slice(1)).toEqual([
      { kind: 'decision', treeId: tree, decisionId: 'welcome' },
      { kind: 'actions', treeId: tree, decisionId: 'welcome', actions: ['send_message'] },
      { kind: 'decision', treeId: tree, decisionId: 'menu', answer: { choiceId: 'sales', reason: 'similar' } },
    ]);
    expect((await dryRun(org, from, { text: 'something else' })).destination).toEqual({ kind: 'terminate' });

    const started: { treeId: string; conversationId: string }[] = [];
    const dispatcher = new RoutingDispatcher(clock, {
      startDecisionTree: async (input) => {
        started.push({ treeId: input.treeId, conversationId: input.conversationId });
      },
      startChatbot: async () => {
        throw new Error('no bot here');
      },
    });
    await contactWrites(api, org.route, from, 'Hola', { at: clock.now() });
    await route(org, dispatcher);
    await route(org, dispatcher);
    const id = (await conversationOf(api, org.token, from)).id;
    expect(started).toEqual([{ treeId: tree, conversationId: id }]);
    expect((await conversation(org, id)).routing).toMatchObject({ destination: waiting.destination, path: [waiting.path[0]] });
  });
});

describe('assistant', () => {
  /** The assistant's settings as its API stores them (this test runs no AI provider). */
  async function withAssistant(org: Org): Promise<void> {
    await sqlRunner(api.orm.em.fork()).run(
      `insert into assistant_settings (channel_id, organization_id, mode, model, instructions, created_at, updated_at) values (?, ?, 'auto', 'gpt-test', 'Help.', now(), now())`,
      [org.channel.id, org.orgId],
    );
  }
  const pendingTurns = (conversationId: string) => sqlRunner(api.orm.em.fork()).all('select 1 from assistant_pending where conversation_id = ?', [conversationId]);

  it('routing to the assistant hands it the contact’s message', async () => {
    const org = await newOrg(api);
    await withAssistant(org);
    await routeChannel(org, { kind: 'assistant' });
    await apply(org);
    const id = await writes(org, newPhone());
    expect((await conversation(org, id)).routing.destination).toEqual({ kind: 'assistant' });
    expect(await pendingTurns(id)).toHaveLength(1);
  });

  it('a conversation routed elsewhere gets no assistant turn', async () => {
    const org = await newOrg(api);
    await withAssistant(org);
    const queue = await created(org, 'queues', { name: 'People' });
    await routeChannel(org, { kind: 'queue', id: queue });
    await apply(org);
    const from = newPhone();
    const id = await writes(org, from);
    expect(await pendingTurns(id)).toEqual([]);
    await writes(org, from, 'and again');
    expect(await pendingTurns(id)).toEqual([]);
  });
});

describe('attachment policy', () => {
  it('none: a contact’s image is kept as a notice without media, with a reply; an agent’s image is refused', async () => {
    const org = await newOrg(api);
    const queue = await created(org, 'queues', { name: 'Q' });
    await routeChannel(org, { kind: 'queue', id: queue }, 'none');
    await apply(org);
    const from = newPhone();
    expect((await dryRun(org, from, { type: 'image' })).attachment).toEqual({ policy: 'none', accepted: false });
    await postSigned(api, inbound(org.route, from, MESSAGE_BODIES.image!, { at: clock.now() }).payload);
    await api.app.services.metaProcessor.settle();
    await route(org);
    const id = (await conversationOf(api, org.token, from)).id;
    const list = await messages(org, id);
    const notice = list.find((m) => m.direction === 'inbound')!;
    expect(notice.type).toBe('system');
    expect(notice.content).toMatchObject({ system: { type: 'attachment_refused' } });
    expect(JSON.stringify(notice.content)).not.toContain('1234567890');
    expect(await botTexts(org, id)).toContain('Sorry, we cannot receive attachments in this chat. Please write your message as text.');

    const sent = await call(org, 'POST', `/v1/conversations/${id}/messages`, { type: 'image', image: { link: 'https://cdn.acme.test/a.png' } });
    expectProblem(sent, 422, 'attachments_not_allowed');
    expect((await call(org, 'POST', `/v1/conversations/${id}/messages`, { type: 'text', text: 'Text is fine' })).status).toBe(202);
  });

  it('from_contact: the contact’s image is kept; agents may not send one', async () => {
    const org = await newOrg(api);
    const queue = await created(org, 'queues', { name: 'Q' });
    await routeChannel(org, { kind: 'queue', id: queue }, 'from_contact');
    await apply(org);
    const from = newPhone();
    await postSigned(api, inbound(org.route, from, MESSAGE_BODIES.image!, { at: clock.now() }).payload);
    await api.app.services.metaProcessor.settle();
    const id = (await conversationOf(api, org.token, from)).id;
    expect((await messages(org, id)).find((m) => m.direction === 'inbound')?.type).toBe('image');
    expectProblem(await call(org, 'POST', `/v1/conversations/${id}/messages`, { type: 'image', image: { link: 'https://cdn.acme.test/a.png' } }), 422, 'attachments_not_allowed');
  });
});

describe('versions at runtime', () => {
  it('draft edits change nothing until applied; a scheduled apply takes effect at its time; a rollback restores the old behaviour', async () => {
    const org = await newOrg(api);
    const queue = await created(org, 'queues', { name: 'Sales' });
    const terminate = await created(org, 'terminates', { name: 'End', cause: 'closed' });
    await routeChannel(org, { kind: 'queue', id: queue });
    await apply(org);

    await routeChannel(org, { kind: 'terminate', id: terminate });
    expect((await dryRun(org, newPhone(), { against: 'draft' })).destination).toEqual({ kind: 'terminate', id: terminate });
    const before = await writes(org, newPhone());
    expect((await conversation(org, before)).routing.destination).toEqual({ kind: 'queue', id: queue });

    const at = new Date(NOON.getTime() + 10 * 60_000);
    await apply(org, at);
    expect((await dryRun(org, newPhone(), { at: at.toISOString() })).destination).toEqual({ kind: 'terminate', id: terminate });
    const stillOld = await writes(org, newPhone());
    expect((await conversation(org, stillOld)).routing).toMatchObject({ destination: { kind: 'queue', id: queue }, version: 1 });
    clock.set(new Date(at.getTime() + 1000));
    try {
      const after = await writes(org, newPhone());
      expect((await conversation(org, after)).routing).toMatchObject({ destination: { kind: 'terminate', id: terminate }, version: 2 });

      const restored = await call(org, 'POST', '/v1/routing/versions/1/restore');
      expect(restored.status, restored.text).toBe(201);
      const rolledBack = await writes(org, newPhone());
      expect((await conversation(org, rolledBack)).routing).toMatchObject({ destination: { kind: 'queue', id: queue }, version: 3 });
    } finally {
      clock.set(NOON);
    }
  });

  it('a channel without routing is not routed', async () => {
    const org = await newOrg(api);
    const from = newPhone();
    expect(await dryRun(org, from)).toMatchObject({ routed: false, reason: 'no_routing', destination: null });
    const id = await writes(org, from);
    expect((await conversation(org, id)).routing).toBeUndefined();
  });

  it('the dry run is tenant-scoped', async () => {
    const a = await newOrg(api);
    const b = await newOrg(api);
    const res = await call(b, 'POST', '/v1/routing/dry-run', { channelId: a.channel.id, from: '+14155550100' });
    expectProblem(res, 404, 'not_found');
  });
});
