import { randomInt } from 'node:crypto';
import { createLogger, ManualClock } from '@parley/core';
import { enqueueConversation, queueStanding, RoutingSchedulePoller, sqlRunner } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, PASSWORD, startTestApi, uniqueEmail, type TestApi, type Tenant } from '../../../test/support/api';
import { insertChannel } from '../../../test/support/channels';
import { expectProblem } from './helpers';

const MINUTE = 60_000;
const clock = new ManualClock(new Date('2026-12-01T12:00:00Z'));
let api: TestApi;
let A: Tenant;
let B: Tenant;
let agent: { id: string; token: string };
let otherAgent: { id: string; token: string };
let channelId: string;

async function addAgent(t: Tenant): Promise<{ id: string; token: string }> {
  const email = uniqueEmail('agent');
  const user = await api.call('POST', '/v1/users', { token: t.adminToken, body: { email, password: PASSWORD, name: 'Agent', role: 'agent' } });
  expect(user.status, user.text).toBe(201);
  const login = await api.call('POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
  return { id: user.body.id, token: login.body.accessToken };
}

/** Logs everyone in again: user tokens last an hour of the test clock. */
async function relogin(): Promise<void> {
  for (const t of [A, B]) {
    const res = await api.call('POST', '/v1/auth/token', { body: { grant_type: 'refresh_token', refresh_token: t.adminRefreshToken } });
    expect(res.status, res.text).toBe(200);
    t.adminToken = res.body.accessToken;
    t.adminRefreshToken = res.body.refreshToken;
  }
}

const call = (t: Tenant | string, method: string, path: string, body?: unknown) =>
  api.call(method, path, { token: typeof t === 'string' ? t : t.adminToken, ...(body !== undefined ? { body } : {}) });

async function openConversation(t: Tenant): Promise<string> {
  const res = await call(t, 'POST', '/v1/conversations', { type: 'contact', contact: { profile: { name: 'Waiting contact', telephone: `+1415${randomInt(1_000_000, 9_999_999)}` } } });
  expect(res.status, res.text).toBe(201);
  return res.body.id;
}

beforeAll(async () => {
  api = await startTestApi({ clock, env: { ALLOW_INSECURE_WEBHOOKS: 'true' } });
  A = await createTenant(api, { name: 'Routing A' });
  B = await createTenant(api, { name: 'Routing B' });
  agent = await addAgent(A);
  otherAgent = await addAgent(A);
  channelId = (await insertChannel(api, A.organizationId)).id;
});
afterAll(async () => {
  await api.close();
});

describe('the draft', () => {
  it('CRUD on each kind of object', async () => {
    const created = await call(A, 'POST', '/v1/routing/draft/queues', { name: 'Sales', priority: 5, agentIds: [agent.id], autoResponse: 'You are number {{queue.position}}.' });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toEqual({ id: expect.any(String), name: 'Sales', priority: 5, agentIds: [agent.id], autoResponse: 'You are number {{queue.position}}.' });
    const id = created.body.id;
    expect((await call(A, 'GET', `/v1/routing/draft/queues/${id}`)).body).toEqual(created.body);
    const replaced = await call(A, 'PUT', `/v1/routing/draft/queues/${id}`, { name: 'Sales EU', agentIds: [] });
    expect(replaced.status, replaced.text).toBe(200);
    expect(replaced.body).toEqual({ id, name: 'Sales EU', priority: 0, agentIds: [], autoResponse: null });
    const list = await call(A, 'GET', '/v1/routing/draft/queues');
    expect(list.body.data.map((q: { id: string }) => q.id)).toContain(id);

    const group = await call(A, 'POST', '/v1/routing/draft/time-groups', {
      name: 'Office',
      weekly: { monday: [{ from: '09:00', to: '13:00' }, { from: '15:00', to: '19:00' }], friday: [{ from: '22:00', to: '02:00' }] },
      holidays: [{ date: '2026-12-25', name: 'Christmas' }],
      overrides: [{ date: '2026-12-24', closed: false, ranges: [{ from: '09:00', to: '12:00' }] }],
    });
    expect(group.status, group.text).toBe(201);
    expect(group.body.weekly.tuesday).toEqual([]);
    const terminate = await call(A, 'POST', '/v1/routing/draft/terminates', { name: 'Closed', cause: 'out_of_hours', answered: false, missedChatQueueId: id });
    expect(terminate.status, terminate.text).toBe(201);
    const condition = await call(A, 'POST', '/v1/routing/draft/time-conditions', {
      name: 'Office hours',
      timeGroupId: group.body.id,
      whenOpen: { kind: 'queue', id },
      whenClosed: { kind: 'terminate', id: terminate.body.id },
    });
    expect(condition.status, condition.text).toBe(201);
    const bot = await call(A, 'POST', '/v1/routing/draft/chatbots', { name: 'Bot', url: 'http://127.0.0.1:9/bot', customFields: ['plate'], fallback: { kind: 'queue', id }, timeoutMs: 2000 });
    expect(bot.status, bot.text).toBe(201);
    const tree = await call(A, 'POST', '/v1/routing/draft/decision-trees', {
      name: 'Menu',
      tree: { defaultLanguage: 'en', start: 'hello', decisions: [{ id: 'hello', actions: [{ type: 'send_message', text: 'Hi' }], next: { type: 'immediate', target: { kind: 'queue', id } } }] },
    });
    expect(tree.status, tree.text).toBe(201);
    const routing = await call(A, 'PUT', `/v1/routing/draft/channels/${channelId}`, { first: { kind: 'time_condition', id: condition.body.id }, attachments: 'from_contact' });
    expect(routing.status, routing.text).toBe(200);
    expect(routing.body).toEqual({ channelId, first: { kind: 'time_condition', id: condition.body.id }, attachments: 'from_contact' });
    expect((await call(A, 'GET', `/v1/routing/draft/channels/${channelId}`)).body).toEqual(routing.body);

    const draft = await call(A, 'GET', '/v1/routing/draft');
    expect(draft.body.document).toMatchObject({
      queues: [expect.objectContaining({ id })],
      timeGroups: [expect.objectContaining({ id: group.body.id })],
      timeConditions: [expect.objectContaining({ id: condition.body.id })],
      chatbots: [expect.objectContaining({ id: bot.body.id })],
      decisionTrees: [expect.objectContaining({ id: tree.body.id })],
      terminates: [expect.objectContaining({ id: terminate.body.id })],
      channels: [routing.body],
    });

    // Removing what others refer to is refused, with the paths that refer to it.
    const refused = await call(A, 'DELETE', `/v1/routing/draft/queues/${id}`);
    expectProblem(refused, 400, 'validation_error');
    expect(refused.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(
      ['chatbots.0.fallback.id', 'decisionTrees.0.tree.decisions.0.next.target.id', 'terminates.0.missedChatQueueId', 'timeConditions.0.whenOpen.id'].sort(),
    );
    // Taken apart in order, everything goes.
    for (const path of [
      `/v1/routing/draft/channels/${channelId}`,
      `/v1/routing/draft/time-conditions/${condition.body.id}`,
      `/v1/routing/draft/chatbots/${bot.body.id}`,
      `/v1/routing/draft/decision-trees/${tree.body.id}`,
      `/v1/routing/draft/terminates/${terminate.body.id}`,
      `/v1/routing/draft/queues/${id}`,
      `/v1/routing/draft/time-groups/${group.body.id}`,
    ]) {
      const res = await call(A, 'DELETE', path);
      expect(res.status, `${path}: ${res.text}`).toBe(204);
      expect((await call(A, 'GET', path)).status).toBe(404);
    }
    expect((await call(A, 'GET', '/v1/routing/draft')).body.document).toEqual({
      queues: [],
      timeGroups: [],
      timeConditions: [],
      decisionTrees: [],
      chatbots: [],
      terminates: [],
      channels: [],
    });
  });

  it('refuses invalid objects with a path per problem, and saves nothing', async () => {
    const before = (await call(A, 'GET', '/v1/routing/draft')).body.document;

    const shape = await call(A, 'POST', '/v1/routing/draft/queues', { name: 'X', priority: 500, autoResponse: 'Wait {{queue.eta}}' });
    expectProblem(shape, 400, 'validation_error');
    expect(shape.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['autoResponse', 'priority']);

    const agentless = await call(A, 'POST', '/v1/routing/draft/queues', { name: 'X', agentIds: [B.organizationId, 'nobody'] });
    expectProblem(agentless, 400, 'validation_error');
    expect(agentless.body.errors).toEqual([
      { path: expect.stringMatching(/^queues\.\d+\.agentIds\.0$/), message: expect.stringContaining('No active user') },
      { path: expect.stringMatching(/^queues\.\d+\.agentIds\.1$/), message: expect.any(String) },
    ]);

    const dangling = await call(A, 'POST', '/v1/routing/draft/time-conditions', {
      name: 'Dangling',
      timeGroupId: 'missing-group',
      whenOpen: { kind: 'queue', id: 'missing-queue' },
      whenClosed: { kind: 'assistant' },
    });
    expectProblem(dangling, 400, 'validation_error');
    expect(dangling.body.errors.map((e: { path: string }) => e.path)).toEqual(['timeConditions.0.timeGroupId', 'timeConditions.0.whenOpen.id']);

    const destination = await call(A, 'POST', '/v1/routing/draft/time-conditions', { name: 'D', timeGroupId: 'g', whenOpen: { kind: 'queue' }, whenClosed: { kind: 'assistant', id: 'x' } });
    expectProblem(destination, 400, 'validation_error');
    expect(destination.body.errors.map((e: { path: string }) => e.path)).toEqual(['whenOpen.id', 'whenClosed.id']);

    const metadata = await call(A, 'POST', '/v1/routing/draft/chatbots', { name: 'Bot', url: 'http://169.254.169.254/latest', fallback: { kind: 'assistant' } });
    expectProblem(metadata, 400, 'validation_error');
    expect(metadata.body.errors).toEqual([{ path: 'url', message: expect.stringContaining('bot URL') }]);

    const group = await call(A, 'POST', '/v1/routing/draft/time-groups', { name: 'Loop', includes: ['elsewhere'], weekly: { monday: [{ from: '25:00', to: '01:00' }] } });
    expectProblem(group, 400, 'validation_error');
    expect(group.body.errors.map((e: { path: string }) => e.path)).toEqual(['weekly.monday.0.from']);

    const tree = await call(A, 'POST', '/v1/routing/draft/decision-trees', {
      name: 'Broken',
      tree: { defaultLanguage: 'en', start: 'nope', decisions: [{ id: 'hello', next: { type: 'immediate', target: { kind: 'chatbot', id: 'no-bot' } } }] },
    });
    expectProblem(tree, 400, 'validation_error');
    expect(tree.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['decisionTrees.0.tree.start']));
    for (const e of tree.body.errors as { path: string }[]) expect(e.path).toMatch(/^decisionTrees\.0\.tree\./);

    const unknownField = await call(A, 'POST', '/v1/routing/draft/terminates', { name: 'T', cause: 'c', colour: 'red' });
    expectProblem(unknownField, 400, 'validation_error');
    expect(unknownField.body.errors).toEqual([{ path: 'colour', message: 'Unknown field.' }]);

    expect((await call(A, 'GET', '/v1/routing/draft')).body.document).toEqual(before);
  });

  it('refuses a chain of time conditions that loops, and an include cycle', async () => {
    const g1 = (await call(A, 'POST', '/v1/routing/draft/time-groups', { name: 'G1' })).body.id;
    const g2 = (await call(A, 'POST', '/v1/routing/draft/time-groups', { name: 'G2', includes: [g1] })).body.id;
    const cycle = await call(A, 'PUT', `/v1/routing/draft/time-groups/${g1}`, { name: 'G1', includes: [g2] });
    expectProblem(cycle, 400, 'validation_error');
    expect(cycle.body.errors).toEqual([{ path: expect.stringMatching(/^timeGroups\.\d+\.includes$/), message: expect.stringContaining('cycle') }]);

    const q = (await call(A, 'POST', '/v1/routing/draft/queues', { name: 'Q' })).body.id;
    const tc1 = (await call(A, 'POST', '/v1/routing/draft/time-conditions', { name: 'TC1', timeGroupId: g1, whenOpen: { kind: 'queue', id: q }, whenClosed: { kind: 'queue', id: q } })).body.id;
    const tc2 = await call(A, 'POST', '/v1/routing/draft/time-conditions', { name: 'TC2', timeGroupId: g2, whenOpen: { kind: 'queue', id: q }, whenClosed: { kind: 'time_condition', id: tc1 } });
    expect(tc2.status, tc2.text).toBe(201);
    const loop = await call(A, 'PUT', `/v1/routing/draft/time-conditions/${tc1}`, { name: 'TC1', timeGroupId: g1, whenOpen: { kind: 'queue', id: q }, whenClosed: { kind: 'time_condition', id: tc2.body.id } });
    expectProblem(loop, 400, 'validation_error');
    expect(loop.body.errors).toEqual([{ path: expect.stringMatching(/^timeConditions\.\d+$/), message: expect.stringContaining(`${tc1} -> ${tc2.body.id} -> ${tc1}`) }]);
    for (const path of [`time-conditions/${tc2.body.id}`, `time-conditions/${tc1}`, `queues/${q}`, `time-groups/${g2}`, `time-groups/${g1}`]) {
      expect((await call(A, 'DELETE', `/v1/routing/draft/${path}`)).status).toBe(204);
    }
  });

  it('is for admins only', async () => {
    expectProblem(await call(agent.token, 'GET', '/v1/routing/draft'), 403, 'forbidden');
    expectProblem(await call(agent.token, 'POST', '/v1/routing/draft/queues', { name: 'X' }), 403, 'forbidden');
    expectProblem(await call(agent.token, 'POST', '/v1/routing/apply', {}), 403, 'forbidden');
  });
});

describe('apply, versions, compare and rollback', () => {
  it('draft edits do not change the live version until applied; compare lists the differences; rollback restores', async () => {
    const T = await createTenant(api, { name: 'Versions' });
    expect((await call(T, 'GET', '/v1/routing/live')).body).toMatchObject({ version: null, timeZone: 'UTC', document: { queues: [] } });
    const q = (await call(T, 'POST', '/v1/routing/draft/queues', { name: 'Support' })).body;
    const t = (await call(T, 'POST', '/v1/routing/draft/terminates', { name: 'Bye', cause: 'done' })).body;
    expect((await call(T, 'GET', '/v1/routing/live')).body.version).toBeNull();
    expect((await call(T, 'GET', '/v1/routing/compare')).body).toEqual({
      live: null,
      changes: [
        { kind: 'queue', id: q.id, name: 'Support', change: 'added' },
        { kind: 'terminate', id: t.id, name: 'Bye', change: 'added' },
      ],
    });

    const v1 = await call(T, 'POST', '/v1/routing/apply', {});
    expect(v1.status, v1.text).toBe(201);
    expect(v1.body.version).toMatchObject({ number: 1, source: 'apply', live: true, createdBy: expect.stringMatching(/^user:/) });
    expect((await call(T, 'GET', '/v1/routing/compare')).body.changes).toEqual([]);

    // Edit the draft: the live version stays as applied.
    await call(T, 'PUT', `/v1/routing/draft/queues/${q.id}`, { name: 'Support (renamed)' });
    await call(T, 'DELETE', `/v1/routing/draft/terminates/${t.id}`);
    const added = (await call(T, 'POST', '/v1/routing/draft/queues', { name: 'Sales' })).body;
    const live = await call(T, 'GET', '/v1/routing/live');
    expect(live.body.version).toMatchObject({ id: v1.body.version.id, number: 1 });
    expect(live.body.document.queues).toEqual([{ id: q.id, name: 'Support', priority: 0, agentIds: [], autoResponse: null }]);
    expect((await call(T, 'GET', '/v1/routing/compare')).body).toEqual({
      live: { id: v1.body.version.id, number: 1 },
      changes: [
        { kind: 'queue', id: q.id, name: 'Support (renamed)', change: 'changed' },
        { kind: 'queue', id: added.id, name: 'Sales', change: 'added' },
        { kind: 'terminate', id: t.id, name: 'Bye', change: 'removed' },
      ],
    });

    const v2 = await call(T, 'POST', '/v1/routing/apply', {});
    expect(v2.body.version).toMatchObject({ number: 2, live: true });
    expect((await call(T, 'GET', '/v1/routing/live')).body.document.queues.map((x: { name: string }) => x.name)).toEqual(['Support (renamed)', 'Sales']);

    // Rollback: version 1 becomes live again as version 3; the draft is left alone.
    const restored = await call(T, 'POST', `/v1/routing/versions/${v1.body.version.id}/restore`);
    expect(restored.status, restored.text).toBe(201);
    expect(restored.body).toMatchObject({ number: 3, source: 'restore', restoredFrom: 1, live: true });
    const after = await call(T, 'GET', '/v1/routing/live');
    expect(after.body.version.number).toBe(3);
    expect(after.body.document).toEqual((await call(T, 'GET', `/v1/routing/versions/${v1.body.version.id}`)).body.document);
    expect((await call(T, 'GET', '/v1/routing/draft')).body.document.queues).toHaveLength(2);

    // By number too: version 2 back again.
    const byNumber = await call(T, 'POST', '/v1/routing/versions/2/restore');
    expect(byNumber.body).toMatchObject({ number: 4, restoredFrom: 2 });
    expect((await call(T, 'GET', '/v1/routing/versions/4')).body.document).toEqual((await call(T, 'GET', `/v1/routing/versions/${v2.body.version.id}`)).body.document);
    expectProblem(await call(T, 'GET', '/v1/routing/versions/99'), 404, 'not_found');
    await call(T, 'POST', `/v1/routing/versions/${v1.body.version.id}/restore`);

    const versions = await call(T, 'GET', '/v1/routing/versions?limit=2');
    expect(versions.body.data.map((v: { number: number; live: boolean }) => [v.number, v.live])).toEqual([
      [5, true],
      [4, false],
    ]);
    const rest = await call(T, 'GET', `/v1/routing/versions?limit=3&cursor=${versions.body.nextCursor}`);
    expect(rest.body).toMatchObject({ data: [{ number: 3 }, { number: 2 }, { number: 1 }], nextCursor: null });
  });

  it('a scheduled apply takes effect at its time, by the reader or by the poller', async () => {
    await relogin();
    const T = await createTenant(api, { name: 'Scheduled' });
    await call(T, 'POST', '/v1/routing/draft/queues', { name: 'Now' });
    expect((await call(T, 'POST', '/v1/routing/apply', {})).status).toBe(201);
    await call(T, 'POST', '/v1/routing/draft/queues', { name: 'Later' });
    const at = new Date(clock.now().getTime() + 30 * MINUTE).toISOString();
    const scheduled = await call(T, 'POST', '/v1/routing/apply', { at });
    expect(scheduled.status, scheduled.text).toBe(202);
    expect(scheduled.body.schedule).toMatchObject({ at, status: 'pending', versionId: null });
    // Edits after scheduling are not part of it.
    await call(T, 'POST', '/v1/routing/draft/queues', { name: 'Even later' });

    clock.advance(29 * MINUTE);
    expect((await call(T, 'GET', '/v1/routing/live')).body.version.number).toBe(1);
    clock.advance(1 * MINUTE);
    const live = await call(T, 'GET', '/v1/routing/live');
    expect(live.body.version).toMatchObject({ number: 2, source: 'scheduled', createdAt: at });
    expect(live.body.document.queues.map((x: { name: string }) => x.name)).toEqual(['Now', 'Later']);
    expect((await call(T, 'GET', '/v1/routing/schedules')).body.data).toEqual([expect.objectContaining({ status: 'applied', versionId: live.body.version.id })]);

    // Nobody reads: the worker's poller makes it live.
    const at2 = new Date(clock.now().getTime() + 10 * MINUTE);
    expect((await call(T, 'POST', '/v1/routing/apply', { at: at2.toISOString() })).status).toBe(202);
    clock.advance(10 * MINUTE);
    const poller = new RoutingSchedulePoller(api.orm, clock, createLogger({ level: 'silent' }));
    expect(await poller.drain()).toBeGreaterThanOrEqual(1);
    const [row] = await api.orm.em.fork().getConnection().execute<{ number: number; source: string }[]>(
      'select number, source from routing_versions where organization_id = ? order by number desc limit 1',
      [T.organizationId],
    );
    expect(row).toEqual({ number: 3, source: 'scheduled' });

    // A pending schedule can be cancelled; an applied one cannot.
    const cancelled = await call(T, 'POST', '/v1/routing/apply', { at: new Date(clock.now().getTime() + 5 * MINUTE).toISOString() });
    expect((await call(T, 'DELETE', `/v1/routing/schedules/${cancelled.body.schedule.id}`)).status).toBe(204);
    expectProblem(await call(T, 'DELETE', `/v1/routing/schedules/${cancelled.body.schedule.id}`), 404, 'not_found');
    expectProblem(await call(T, 'DELETE', `/v1/routing/schedules/${scheduled.body.schedule.id}`), 409, 'schedule_applied');
    clock.advance(5 * MINUTE);
    expect((await call(T, 'GET', '/v1/routing/live')).body.version.number).toBe(3);
  });

  it('applying a draft that went stale (an agent was disabled) is refused with the path', async () => {
    await relogin();
    const T = await createTenant(api, { name: 'Stale' });
    const a = await addAgent(T);
    await call(T, 'POST', '/v1/routing/draft/queues', { name: 'Q', agentIds: [a.id] });
    await api.orm.em.fork().getConnection().execute('update users set disabled_at = now() where id = ?', [a.id]);
    const res = await call(T, 'POST', '/v1/routing/apply', {});
    expectProblem(res, 400, 'validation_error');
    expect(res.body.errors).toEqual([{ path: 'queues.0.agentIds.0', message: expect.any(String) }]);
  });
});

describe('queues at runtime', () => {
  it('waiting list, positions, average wait, take, and assignment by an admin', async () => {
    await relogin();
    agent.token = (await api.call('POST', '/v1/auth/login', { body: { email: await emailOf(agent.id), password: PASSWORD } })).body.accessToken;
    otherAgent.token = (await api.call('POST', '/v1/auth/login', { body: { email: await emailOf(otherAgent.id), password: PASSWORD } })).body.accessToken;
    const queue = (await call(A, 'POST', '/v1/routing/draft/queues', { name: 'Front desk', priority: 3, agentIds: [agent.id] })).body;
    const other = (await call(A, 'POST', '/v1/routing/draft/queues', { name: 'Back office', agentIds: [otherAgent.id] })).body;
    expect((await call(A, 'POST', '/v1/routing/apply', {})).status).toBe(201);

    const conversations = [await openConversation(A), await openConversation(A), await openConversation(A)];
    const elsewhere = await openConversation(A);
    const sql = sqlRunner(api.orm.em.fork());
    const standings = [];
    for (const id of conversations) {
      standings.push(await enqueueConversation(sql, A.organizationId, queue.id, id, clock.now()));
      clock.advance(5 * MINUTE);
    }
    await enqueueConversation(sql, A.organizationId, other.id, elsewhere, clock.now());
    expect(standings.map((s) => [s.position, s.averageWaitMinutes])).toEqual([
      [1, 0],
      [2, 0],
      [3, 0],
    ]);
    // Enqueued again in the same queue, it keeps its place.
    expect((await enqueueConversation(sql, A.organizationId, queue.id, conversations[0]!, clock.now())).position).toBe(1);

    const waiting = await call(agent.token, 'GET', '/v1/queues/waiting');
    expect(waiting.status, waiting.text).toBe(200);
    expect(waiting.body.data.map((w: { conversationId: string; position: number }) => [w.conversationId, w.position])).toEqual(conversations.map((c, i) => [c, i + 1]));
    expect(waiting.body.data[0]).toMatchObject({ queueId: queue.id, queueName: 'Front desk', queuePriority: 3, averageWaitMinutes: 0, contact: { name: 'Waiting contact' } });
    // The admin sees every queue; the other agent only its own.
    expect((await call(A, 'GET', '/v1/queues/waiting')).body.data).toHaveLength(4);
    expect((await call(otherAgent.token, 'GET', '/v1/queues/waiting')).body.data.map((w: { conversationId: string }) => w.conversationId)).toEqual([elsewhere]);
    const paged = await call(agent.token, 'GET', '/v1/queues/waiting?limit=2');
    const next = await call(agent.token, 'GET', `/v1/queues/waiting?limit=2&cursor=${paged.body.nextCursor}`);
    expect(next.body).toMatchObject({ data: [{ conversationId: conversations[2], position: 3 }], nextCursor: null });

    // The agent takes the oldest: it was waiting 15 minutes.
    const taken = await call(agent.token, 'POST', `/v1/queues/${queue.id}/take`, {});
    expect(taken.status, taken.text).toBe(200);
    expect(taken.body).toMatchObject({ id: conversations[0], assignee: { id: agent.id } });
    const now = await call(agent.token, 'GET', '/v1/queues/waiting');
    expect(now.body.data.map((w: { conversationId: string; position: number; averageWaitMinutes: number }) => [w.conversationId, w.position, w.averageWaitMinutes])).toEqual([
      [conversations[1], 1, 15],
      [conversations[2], 2, 15],
    ]);
    expect(await queueStanding(sql, A.organizationId, conversations[2]!, clock.now())).toMatchObject({ position: 2, averageWaitMinutes: 15 });

    // An agent of another queue may not take from this one; a named conversation can be taken.
    expectProblem(await call(otherAgent.token, 'POST', `/v1/queues/${queue.id}/take`, {}), 403, 'forbidden');
    expectProblem(await call(agent.token, 'POST', `/v1/queues/${queue.id}/take`, { conversationId: elsewhere }), 404, 'not_found');
    const named = await call(agent.token, 'POST', `/v1/queues/${queue.id}/take`, { conversationId: conversations[2] });
    expect(named.body).toMatchObject({ id: conversations[2], assignee: { id: agent.id } });

    // An admin assigning the conversation also takes it out of the queue.
    const assigned = await call(A, 'PUT', `/v1/conversations/${conversations[1]}/assign`, { userId: otherAgent.id });
    expect(assigned.status, assigned.text).toBe(200);
    expect((await call(agent.token, 'GET', '/v1/queues/waiting')).body.data).toEqual([]);
    expectProblem(await call(agent.token, 'POST', `/v1/queues/${queue.id}/take`, {}), 409, 'queue_empty');
  });

  it("another tenant's queues, versions and routing objects are not found", async () => {
    const bAgent = await addAgent(B);
    const q = (await call(A, 'POST', '/v1/routing/draft/queues', { name: 'A only' })).body;
    const applied = await call(A, 'POST', '/v1/routing/apply', {});
    for (const [method, path, body] of [
      ['GET', `/v1/routing/draft/queues/${q.id}`],
      ['PUT', `/v1/routing/draft/queues/${q.id}`, { name: 'Stolen' }],
      ['DELETE', `/v1/routing/draft/queues/${q.id}`],
      ['GET', `/v1/routing/versions/${applied.body.version.id}`],
      ['POST', `/v1/routing/versions/${applied.body.version.id}/restore`],
      ['PUT', `/v1/routing/draft/channels/${channelId}`, { first: { kind: 'assistant' } }],
      ['POST', `/v1/queues/${q.id}/take`, {}],
      ['DELETE', `/v1/routing/schedules/${(await call(A, 'POST', '/v1/routing/apply', { at: new Date(clock.now().getTime() + 60 * MINUTE).toISOString() })).body.schedule.id}`],
    ] as [string, string, unknown?][]) {
      expectProblem(await call(B, method, path, body), 404, 'not_found');
    }
    expectProblem(await call(bAgent.token, 'POST', `/v1/queues/${q.id}/take`, {}), 404, 'not_found');
    expect((await call(A, 'GET', `/v1/routing/draft/queues/${q.id}`)).body.name).toBe('A only');
    expect((await call(B, 'GET', '/v1/routing/draft')).text).not.toContain(q.id);
  });
});

describe('time zone', () => {
  it('is an IANA zone, shown with the live routing', async () => {
    expectProblem(await call(A, 'PUT', '/v1/settings/time-zone', { timeZone: 'Mars/Olympus' }), 400, 'validation_error');
    expect((await call(A, 'PUT', '/v1/settings/time-zone', { timeZone: 'Europe/Madrid' })).body).toEqual({ timeZone: 'Europe/Madrid' });
    expect((await call(A, 'GET', '/v1/settings/time-zone')).body).toEqual({ timeZone: 'Europe/Madrid' });
    expect((await call(A, 'GET', '/v1/routing/live')).body.timeZone).toBe('Europe/Madrid');
  });
});

async function emailOf(userId: string): Promise<string> {
  const [row] = await api.orm.em.fork().getConnection().execute<{ email: string }[]>('select email from users where id = ?', [userId]);
  return row!.email;
}
