import { randomBytes, randomInt } from 'node:crypto';
import { newId } from '@parley/core';
import { Template } from '@parley/db';
import { enqueueConversation, sqlRunner } from '@parley/domain';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RouteDef } from '../src/http/route';
import {
  createTenant,
  installApp,
  PASSWORD,
  startTestApi,
  uniqueEmail,
  type Answer,
  type TestApi,
  type Tenant,
} from '../../../test/support/api';
import { insertChannel } from '../../../test/support/channels';
import { inbound, MESSAGE_BODIES, sign } from '../../../test/fixtures/meta';
import { Receiver, testDispatcher } from './webhook-support';

/**
 * THE cross-tenant walk. Every tenant route that takes an id is called by tenant A's admin with
 * tenant B's id of the matching kind, and must answer exactly as for an id that does not exist.
 * The walk reads `api.app.routes`, so a new route joins it automatically, and a new kind of
 * resource fails the walk until B owns one and it is mapped below.
 */

type Kind = 'user' | 'app' | 'installation' | 'organization' | 'channel' | 'conversation' | 'message' | 'contact' | 'broadcast' | 'webhook' | 'delivery' | 'knowledgeEntry' | 'suggestion'
  | 'queue' | 'timeGroup' | 'timeCondition' | 'decisionTree' | 'chatbot' | 'terminate' | 'version' | 'schedule';

/** The path segment in front of a parameter names the kind of resource the parameter is. */
const KIND_BY_SEGMENT: Record<string, Kind> = {
  users: 'user',
  apps: 'app',
  installations: 'installation',
  organizations: 'organization',
  channels: 'channel',
  conversations: 'conversation',
  messages: 'message',
  contacts: 'contact',
  broadcasts: 'broadcast',
  webhooks: 'webhook',
  deliveries: 'delivery',
  'knowledge-base': 'knowledgeEntry',
  suggestions: 'suggestion',
  queues: 'queue',
  'time-groups': 'timeGroup',
  'time-conditions': 'timeCondition',
  'decision-trees': 'decisionTree',
  chatbots: 'chatbot',
  terminates: 'terminate',
  versions: 'version',
  schedules: 'schedule',
};

type Ids = Record<Kind, string>;

/** Bodies that would be accepted with the caller's own resource, keyed `METHOD /path`. */
const BODIES: Record<string, (ids: Ids) => unknown> = {
  'PATCH /v1/channels/:id': () => ({ label: 'Renamed by the walk', messagesPerSecond: 5 }),
  // B's user is an agent: a leak would make it an admin, which the check of B below would see.
  'PATCH /v1/users/:id': () => ({ role: 'admin' }),
  // The contact wrote moments ago, so a free-form reply is inside the window.
  'POST /v1/conversations/:id/messages': () => ({ type: 'text', text: 'Sent by the walk' }),
  'PUT /v1/conversations/:id/assign': (ids) => ({ userId: ids.user }),
  'PUT /v1/conversations/:id/link-request': () => ({ requestId: 'REQ-WALK' }),
  // Not `closed`: the control sends a message after the PATCH, which a closed conversation refuses.
  'PATCH /v1/conversations/:id': () => ({ status: 'resolved' }),
  'PUT /v1/contacts/:id/consent': () => ({ optedOut: true, note: 'walk' }),
  'POST /v1/broadcasts/:id/users': () => ({ users: [{ phone: '+14155550199' }] }),
  'PATCH /v1/webhooks/:id': () => ({ description: 'Changed by the walk' }),
  'POST /v1/webhooks/:id/replay': () => ({ since: new Date(Date.now() - 3_600_000).toISOString(), until: new Date(Date.now() + 60_000).toISOString() }),
  // Not enabled: this API has no AI provider, and enabling would answer 400 assistant_not_configured.
  'PUT /v1/channels/:id/assistant': () => ({ enabled: false, model: 'gpt-walk', instructions: 'Changed by the walk' }),
  'POST /v1/channels/:id/assistant/knowledge-base': () => ({ title: 'Walk', text: 'Added by the walk' }),
  'PATCH /v1/channels/:id/assistant/knowledge-base/:entryId': () => ({ text: 'Edited by the walk' }),
  'POST /v1/conversations/:id/assistant/suggestions/:suggestionId/send': () => ({ text: 'Sent by the walk' }),
  'PUT /v1/routing/draft/channels/:id': () => ({ first: { kind: 'assistant' }, attachments: 'none' }),
  'PUT /v1/routing/draft/queues/:id': () => ({ name: 'Renamed by the walk' }),
  'PUT /v1/routing/draft/time-groups/:id': () => ({ name: 'Renamed by the walk' }),
  'PUT /v1/routing/draft/time-conditions/:id': (ids) => ({ name: 'Walk', timeGroupId: ids.timeGroup, whenOpen: { kind: 'queue', id: ids.queue }, whenClosed: { kind: 'assistant' } }),
  'PUT /v1/routing/draft/decision-trees/:id': (ids) => ({ name: 'Walk', tree: walkTree(ids.queue) }),
  'PUT /v1/routing/draft/chatbots/:id': (ids) => ({ name: 'Walk', url: 'http://127.0.0.1:9/walk-bot', fallback: { kind: 'queue', id: ids.queue } }),
  'PUT /v1/routing/draft/terminates/:id': () => ({ name: 'Walk', cause: 'walk' }),
  // Takes the conversation waiting in the caller's queue.
  'POST /v1/queues/:id/take': () => ({}),
};

function walkTree(queueId: string) {
  return { defaultLanguage: 'en', start: 'hi', decisions: [{ id: 'hi', actions: [{ type: 'send_message', text: 'Hi' }], next: { type: 'immediate', target: { kind: 'queue', id: queueId } } }] };
}

const routeName = (r: Pick<RouteDef, 'method' | 'path'>) => `${r.method.toUpperCase()} ${r.path}`;
const hasParams = (r: Pick<RouteDef, 'path'>) => /:\w+/.test(r.path);

/**
 * The route's path with each parameter replaced by an id of its kind, chosen by `pick(kind, index)`
 * (index counts parameters from 0); throws when a parameter's kind is not mapped.
 */
function resolvePath(r: Pick<RouteDef, 'method' | 'path'>, pick: Ids | ((kind: Kind, index: number) => string)): string {
  const segments = r.path.split('/');
  let index = 0;
  return segments
    .map((segment, i) => {
      if (!segment.startsWith(':')) return segment;
      const before = segments[i - 1] ?? '';
      const kind = KIND_BY_SEGMENT[before];
      if (!kind) {
        throw new Error(
          `The tenancy walk has no resource kind for ${segment} in ${routeName(r)}. ` +
            `Create one in tenant B and map '${before}' in KIND_BY_SEGMENT (apps/api/test/tenancy.test.ts).`,
        );
      }
      const id = typeof pick === 'function' ? pick(kind, index) : pick[kind];
      index++;
      return encodeURIComponent(id);
    })
    .join('/');
}

const paramCount = (r: Pick<RouteDef, 'path'>) => (r.path.match(/:\w+/g) ?? []).length;

/**
 * Ways to point a route at B: B's ids everywhere, and for nested routes B's id in one place with A's
 * own ids around it (a child of B's reached through A's parent). Each comes with its twin that has
 * an id that does not exist where B's was.
 */
function crossTenantVariants(r: RouteDef): { label: string; cross: string; missing: string; garbage: string }[] {
  const n = paramCount(r);
  const variants = [
    {
      label: "B's ids",
      cross: resolvePath(r, bIds),
      missing: resolvePath(r, () => newId()),
      garbage: resolvePath(r, () => 'not-an-id'),
    },
  ];
  if (n > 1) {
    for (let at = 0; at < n; at++) {
      variants.push({
        label: `B's id at parameter ${at}, A's elsewhere`,
        cross: resolvePath(r, (kind, i) => (i === at ? bIds[kind] : aIds[kind])),
        missing: resolvePath(r, (kind, i) => (i === at ? newId() : aIds[kind])),
        garbage: resolvePath(r, (kind, i) => (i === at ? 'not-an-id' : aIds[kind])),
      });
    }
  }
  return variants;
}

function bodyFor(r: Pick<RouteDef, 'method' | 'path' | 'body'>, ids: Ids): unknown {
  if (!r.body) return undefined;
  const make = BODIES[routeName(r)];
  if (!make) {
    throw new Error(
      `The tenancy walk has no valid body for ${routeName(r)}. Add one to BODIES (apps/api/test/tenancy.test.ts).`,
    );
  }
  return make(ids);
}

/** A 1×1 PNG: what the walk uploads to upload routes. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

/** What a walked call sends: a file for an upload route, else the route's JSON body (if any). */
function payloadFor(r: RouteDef, ids: Ids): { body?: unknown; raw?: Buffer; headers?: Record<string, string> } {
  if (r.upload) return { raw: PNG, headers: { 'content-type': 'image/png' } };
  const body = bodyFor(r, ids);
  return body !== undefined ? { body } : {};
}

/** The routes the walk covers: tenant routes that take a parameter. */
function walkedRoutes(routes: RouteDef[]): RouteDef[] {
  return routes.filter((r) => r.auth === 'tenant' && hasParams(r));
}

/**
 * The route found the resource: a success, or, for media (fetched from Meta, which the tests point
 * at a closed port), 502 `graph_error`, which is only reached once the message was found.
 */
function expectFound(res: Answer, name: string) {
  if (res.status === 502) expect(res.body.code, name).toBe('graph_error');
  else expect(res.status, `${name}: ${res.text}`).toBeLessThan(400);
}

/** A problem without its per-request `instance`: what must be identical for B's id and a missing one. */
function shape(res: Answer) {
  const { instance: _instance, ...rest } = (res.body ?? {}) as Record<string, unknown>;
  return { status: res.status, contentType: res.headers.get('content-type'), body: rest };
}

let api: TestApi;
let temporalConnection: Connection;
let A: Tenant;
let B: Tenant;
let aIds: Ids;
let bIds: Ids;
let bPartnerToken: string;
let bAdminEmail: string;
let bTag: string;
let aAgentToken: string;
let aPartnerToken: string;
const receivers: Receiver[] = [];

beforeAll(async () => {
  // Broadcasts start Temporal workflows; no worker polls this queue, so none runs.
  temporalConnection = await Connection.connect({ address: inject('temporalAddress') });
  api = await startTestApi({
    temporal: new Client({ connection: temporalConnection }),
    env: { TEMPORAL_TASK_QUEUE: `tenancy-walk-${newId()}`, ALLOW_INSECURE_WEBHOOKS: 'true' },
  });
  const suffix = randomBytes(4).toString('hex');
  bTag = `b-only-${suffix}`;
  A = await createTenant(api, { name: 'Tenant A', tags: [`a-only-${suffix}`, `shared-${suffix}`] });
  B = await createTenant(api, { name: 'Tenant B', tags: [bTag, `shared-${suffix}`] });
  bAdminEmail = B.adminEmail;

  async function own(t: Tenant, tag: string): Promise<{ ids: Ids; agentToken: string }> {
    const agentEmail = uniqueEmail('agent');
    const user = await api.call('POST', '/v1/users', {
      token: t.adminToken,
      body: { email: agentEmail, password: PASSWORD, name: 'Agent', role: 'agent' },
    });
    expect(user.status, user.text).toBe(201);
    const login = await api.call('POST', '/v1/auth/login', { body: { email: agentEmail, password: PASSWORD } });
    expect(login.status).toBe(200);
    // An app with a tag only its own organization carries, hired by that organization.
    const hired = await installApp(api, t, t, { tags: [tag], appScopes: ['conversations:read', 'messages:write'], grant: ['conversations:read'] });
    // A webhook subscription, which will have a delivery of the conversation's events.
    const receiver = await Receiver.start();
    receivers.push(receiver);
    const webhook = await api.call('POST', '/v1/webhooks', { token: t.adminToken, body: { url: receiver.url, events: ['conversation'], description: 'Walk' } });
    expect(webhook.status, webhook.text).toBe(201);
    // A channel, and a conversation opened by a contact who sent an image through it.
    const channel = await insertChannel(api, t.organizationId);
    const from = `50255${randomInt(100_000, 999_999)}`;
    const { payload } = inbound({ wabaId: channel.wabaId, phoneNumberId: channel.phoneNumberId }, from, MESSAGE_BODIES.image!);
    const raw = JSON.stringify(payload);
    const delivered = await api.call('POST', '/webhooks/meta', {
      raw,
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(raw, api.config.meta.appSecret) },
    });
    expect(delivered.status, delivered.text).toBe(200);
    await api.app.services.metaProcessor.settle();
    const conversations = await api.call('GET', '/v1/conversations', { token: t.adminToken });
    expect(conversations.status, conversations.text).toBe(200);
    const conversation = (conversations.body.data as { id: string; contact: { id: string; phone: string } }[]).find((c) => c.contact.phone === `+${from}`);
    expect(conversation, conversations.text).toBeDefined();
    const messages = await api.call('GET', `/v1/conversations/${conversation!.id}/messages`, { token: t.adminToken });
    expect(messages.body.data).toHaveLength(1);
    // A held broadcast of a synced template (held: no workflow runs for it).
    await api.orm.em.fork().persistAndFlush(new Template(t.organizationId, channel.id, '1', 'hello_world', 'en_US', 'APPROVED', 'UTILITY', 'POSITIONAL', [{ type: 'BODY', text: 'Hello' }]));
    const broadcast = await api.call('POST', '/v1/broadcasts', {
      token: t.adminToken,
      body: { template: { name: 'hello_world', language: 'en_US' }, users: [{ phone: '+14155550198' }], hold: true },
    });
    expect(broadcast.status, broadcast.text).toBe(202);
    const { dispatcher, http } = testDispatcher(api, [t.organizationId]);
    await dispatcher.settle();
    http.close();
    const deliveries = await api.call('GET', `/v1/webhooks/${webhook.body.id}/deliveries`, { token: t.adminToken });
    expect(deliveries.body.data.length, deliveries.text).toBeGreaterThan(0);
    // The channel's assistant with a knowledge-base entry, and a suggestion it made in the conversation.
    const assistant = await api.call('PUT', `/v1/channels/${channel.id}/assistant`, {
      token: t.adminToken,
      body: { enabled: false, model: 'gpt-walk', instructions: 'Walk', knowledgeBase: [{ title: 'Walk', text: 'Entry' }] },
    });
    expect(assistant.status, assistant.text).toBe(200);
    const suggestionId = newId();
    await api.orm.em
      .fork()
      .getConnection()
      .execute(
        `insert into assistant_suggestions (id, organization_id, conversation_id, turn_id, text, state, created_at, updated_at) values (?, ?, ?, ?, 'Suggested', 'open', now(), now())`,
        [suggestionId, t.organizationId, conversation!.id, `walk:${suggestionId}`],
      );
    // One of each routing object, applied, so that the draft and the live version hold them.
    const routing = async (path: string, body: unknown, method = 'POST') => {
      const res = await api.call(method, path, { token: t.adminToken, body });
      expect(res.status, `${path}: ${res.text}`).toBeLessThan(300);
      return res.body;
    };
    const queue = await routing('/v1/routing/draft/queues', { name: 'Walk queue', agentIds: [user.body.id] });
    const timeGroup = await routing('/v1/routing/draft/time-groups', { name: 'Walk hours', weekly: { monday: [{ from: '09:00', to: '17:00' }] } });
    const timeCondition = await routing('/v1/routing/draft/time-conditions', { name: 'Walk', timeGroupId: timeGroup.id, whenOpen: { kind: 'queue', id: queue.id }, whenClosed: { kind: 'assistant' } });
    const decisionTree = await routing('/v1/routing/draft/decision-trees', { name: 'Walk', tree: walkTree(queue.id) });
    const chatbot = await routing('/v1/routing/draft/chatbots', { name: 'Walk', url: 'http://127.0.0.1:9/walk-bot', fallback: { kind: 'queue', id: queue.id } });
    const terminate = await routing('/v1/routing/draft/terminates', { name: 'Walk', cause: 'walk' });
    await routing(`/v1/routing/draft/channels/${channel.id}`, { first: { kind: 'time_condition', id: timeCondition.id } }, 'PUT');
    const applied = await routing('/v1/routing/apply', {});
    const scheduled = await routing('/v1/routing/apply', { at: new Date(Date.now() + 86_400_000).toISOString() });
    // A second conversation waits in the queue (the first one is assigned by the walk).
    const waiting = await routing('/v1/conversations', { type: 'contact', contact: { profile: { name: 'Waiting', telephone: `+1415555${randomInt(1000, 9999)}` } } });
    await enqueueConversation(sqlRunner(api.orm.em.fork()), t.organizationId, queue.id, waiting.id, new Date());
    return {
      ids: {
        user: user.body.id,
        app: hired.appId,
        installation: hired.installationId,
        organization: t.organizationId,
        channel: channel.id,
        conversation: conversation!.id,
        message: messages.body.data[0].id,
        contact: conversation!.contact.id,
        broadcast: broadcast.body.id,
        webhook: webhook.body.id,
        delivery: deliveries.body.data[0].id,
        knowledgeEntry: assistant.body.knowledgeBase[0].id,
        suggestion: suggestionId,
        queue: queue.id,
        timeGroup: timeGroup.id,
        timeCondition: timeCondition.id,
        decisionTree: decisionTree.id,
        chatbot: chatbot.id,
        terminate: terminate.id,
        version: applied.version.id,
        schedule: scheduled.schedule.id,
      },
      agentToken: login.body.accessToken,
    };
  }

  const b = await own(B, bTag);
  bIds = b.ids;
  const bTokens = await api.call('POST', `/v1/installations/${bIds.installation}/tokens`, { token: B.adminToken });
  expect(bTokens.status).toBe(201);
  bPartnerToken = bTokens.body.accessToken;

  const a = await own(A, `a-only-${suffix}`);
  aIds = a.ids;
  aAgentToken = a.agentToken;
  const aTokens = await api.call('POST', `/v1/installations/${aIds.installation}/tokens`, { token: A.adminToken });
  aPartnerToken = aTokens.body.accessToken;

  // The premise: A cannot see B's app through a shared tag.
  const visible = await api.call('GET', `/v1/apps?limit=200`, { token: A.adminToken });
  expect(visible.body.data.map((x: { id: string }) => x.id)).not.toContain(bIds.app);
});
afterAll(async () => {
  await api.close();
  await temporalConnection.close();
  for (const r of receivers) await r.close();
});

describe('the walk itself', () => {
  it('covers the tenant routes that take an id', () => {
    const walked = walkedRoutes(api.app.routes).map(routeName);
    // The routes that exist today; more join automatically.
    expect(walked).toEqual(
      expect.arrayContaining([
        'GET /v1/apps/:id',
        'GET /v1/installations/:id',
        'DELETE /v1/installations/:id',
        'POST /v1/installations/:id/tokens',
        'GET /v1/channels/:id',
        'PATCH /v1/channels/:id',
        'DELETE /v1/channels/:id',
        'GET /v1/conversations/:id',
        'GET /v1/conversations/:id/messages',
        'GET /v1/conversations/:id/messages/:messageId/media',
        'POST /v1/conversations/:id/messages',
        'PUT /v1/conversations/:id/assign',
        'PUT /v1/conversations/:id/link-request',
        'PUT /v1/conversations/:id/read',
        'PATCH /v1/conversations/:id',
        'GET /v1/contacts/:id/consent',
        'PUT /v1/contacts/:id/consent',
      ]),
    );
  });

  it('has a mapping (and, where needed, a body) for every walked route', () => {
    for (const r of walkedRoutes(api.app.routes)) {
      expect(() => resolvePath(r, bIds), routeName(r)).not.toThrow();
      expect(() => bodyFor(r, bIds), routeName(r)).not.toThrow();
    }
  });

  it('fails loudly for a tenant route whose parameter has no mapping', () => {
    const unmapped = [
      { method: 'get', path: '/v1/widgets/:id' },
      { method: 'post', path: '/v1/installations/:id/gadgets/:gadgetId' },
    ] as const;
    for (const r of unmapped) expect(() => resolvePath(r, bIds)).toThrow(/no resource kind for :\w+ in .*KIND_BY_SEGMENT/s);
    expect(() => bodyFor({ method: 'patch', path: '/v1/widgets/:id', body: {} as RouteDef['body'] }, bIds)).toThrow(/no valid body/);
    // And the walk picks such routes up by itself.
    const fake = { ...api.app.routes.find((r) => r.auth === 'tenant')!, path: '/v1/widgets/:id' };
    expect(walkedRoutes([fake])).toHaveLength(1);
  });
});

describe('cross-tenant ids', () => {
  it("every tenant route answers B's id to A's admin with 404 not_found, exactly as a missing id", async () => {
    const routes = walkedRoutes(api.app.routes);
    expect(routes.length).toBeGreaterThan(0);
    // Resolve everything first: an unmapped route fails the walk before any call is made.
    const plan = routes.map((r) => ({ r, variants: crossTenantVariants(r), payload: payloadFor(r, aIds) }));
    let calls = 0;
    for (const { r, variants, payload } of plan) {
      const options = { token: A.adminToken, ...payload };
      for (const v of variants) {
        const name = `${routeName(r)} (${v.label})`;
        const crossTenant = await api.call(r.method.toUpperCase(), v.cross, options);
        calls++;
        expect(crossTenant.status, `${name}: ${crossTenant.text}`).toBe(404);
        expect(crossTenant.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(crossTenant.body).toMatchObject({ status: 404, code: 'not_found', type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
        // Nothing in the answer names B's resource or its people.
        for (const id of Object.values(bIds)) if (!v.cross.includes(id)) expect(crossTenant.text, name).not.toContain(id);
        expect(crossTenant.text).not.toContain(bAdminEmail);

        const missing = await api.call(r.method.toUpperCase(), v.missing, options);
        const garbage = await api.call(r.method.toUpperCase(), v.garbage, options);
        expect(shape(missing), `${name}: a missing id must look like B's id`).toEqual(shape(crossTenant));
        expect(shape(garbage), `${name}: a non-uuid id must look like B's id`).toEqual(shape(crossTenant));
      }
    }
    expect(calls).toBeGreaterThanOrEqual(routes.length);
  });

  it("without the permission, B's id and a missing id get the same answer too", async () => {
    for (const token of [aAgentToken, aPartnerToken]) {
      for (const r of walkedRoutes(api.app.routes)) {
        const options = { token, ...payloadFor(r, aIds) };
        for (const v of crossTenantVariants(r)) {
          const cross = await api.call(r.method.toUpperCase(), v.cross, options);
          const missing = await api.call(r.method.toUpperCase(), v.missing, options);
          expect([403, 404], `${routeName(r)} (${v.label}): ${cross.text}`).toContain(cross.status);
          expect(shape(missing), `${routeName(r)} (${v.label})`).toEqual(shape(cross));
        }
      }
    }
  });

  it("the walk changed nothing in B", async () => {
    const inst = await api.call('GET', `/v1/installations/${bIds.installation}`, { token: B.adminToken });
    expect(inst.status).toBe(200);
    expect(inst.body).toMatchObject({ id: bIds.installation, status: 'active', uninstalledAt: null });
    const me = await api.call('GET', '/v1/me', { token: bPartnerToken });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ kind: 'installation', organizationId: B.organizationId, installationId: bIds.installation });
    const app = await api.call('GET', `/v1/apps/${bIds.app}`, { token: B.adminToken });
    expect(app.status).toBe(200);
    expect(app.body.publisherOrganizationId).toBe(B.organizationId);
    const channel = await api.call('GET', `/v1/channels/${bIds.channel}`, { token: B.adminToken });
    expect(channel.status).toBe(200);
    expect(channel.body).toMatchObject({ id: bIds.channel, label: 'Support line', status: 'active' });
    expect(channel.body.messagesPerSecond).not.toBe(5);
    const messages = await api.call('GET', `/v1/conversations/${bIds.conversation}/messages`, { token: B.adminToken });
    expect(messages.status).toBe(200);
    expect(messages.body.data.map((m: { id: string }) => m.id)).toEqual([bIds.message]);
    const conversation = await api.call('GET', `/v1/conversations/${bIds.conversation}`, { token: B.adminToken });
    expect(conversation.body).toMatchObject({ status: 'active', assignee: null, requestId: null, unreadCount: 1 });
    const consent = await api.call('GET', `/v1/contacts/${bIds.contact}/consent`, { token: B.adminToken });
    expect(consent.status).toBe(200);
    expect(consent.body).toMatchObject({ contact: { id: bIds.contact, optedOut: false }, data: [] });
    const bUsers = await api.call('GET', '/v1/users', { token: B.adminToken });
    expect(bUsers.body.data.find((u: { id: string }) => u.id === bIds.user)).toMatchObject({ role: 'agent', disabledAt: null });
    const webhook = await api.call('GET', `/v1/webhooks/${bIds.webhook}`, { token: B.adminToken });
    expect(webhook.body).toMatchObject({ id: bIds.webhook, status: 'active', description: 'Walk', previousSecretExpiresAt: null });
    const delivery = await api.call('GET', `/v1/webhooks/${bIds.webhook}/deliveries/${bIds.delivery}`, { token: B.adminToken });
    expect(delivery.body.attempts.map((a: { trigger: string }) => a.trigger)).toEqual(['event']);
    const waiting = await api.call('GET', '/v1/queues/waiting', { token: B.adminToken });
    expect(waiting.body.data).toEqual([expect.objectContaining({ queueId: bIds.queue, position: 1 })]);
    const live = await api.call('GET', '/v1/routing/live', { token: B.adminToken });
    expect(live.body.version.id).toBe(bIds.version);
    const schedules = await api.call('GET', '/v1/routing/schedules', { token: B.adminToken });
    expect(schedules.body.data).toEqual([expect.objectContaining({ id: bIds.schedule, status: 'pending' })]);
    expect(live.body.document.queues).toEqual([expect.objectContaining({ id: bIds.queue, name: 'Walk queue' })]);
  });

  it("A cannot hire B's private app by naming it in a body", async () => {
    const before = await api.call('GET', '/v1/installations?limit=200', { token: A.adminToken });
    const res = await api.call('POST', '/v1/installations', { token: A.adminToken, body: { appId: bIds.app, scopes: ['conversations:read'] } });
    expect(res.status, res.text).toBe(404);
    expect(res.body.code).toBe('not_found');
    const missing = await api.call('POST', '/v1/installations', { token: A.adminToken, body: { appId: newId(), scopes: ['conversations:read'] } });
    expect(shape(missing)).toEqual(shape(res));
    const after = await api.call('GET', '/v1/installations?limit=200', { token: A.adminToken });
    expect(after.body.data).toEqual(before.body.data);
  });
});

describe('lists', () => {
  async function allPages(path: string, token: string): Promise<{ texts: string[]; ids: string[] }> {
    const texts: string[] = [];
    const ids: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      const sep = path.includes('?') ? '&' : '?';
      const res: Answer = await api.call('GET', `${path}${sep}limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token });
      expect(res.status, `${path}: ${res.text}`).toBe(200);
      texts.push(res.text);
      ids.push(...(res.body.data as { id: string }[]).map((x) => x.id));
      cursor = res.body.nextCursor;
      if (!cursor) return { texts, ids };
    }
    throw new Error(`${path} did not end`);
  }

  it("GET /v1/users, /v1/installations and /v1/apps from A never contain B's ids, on any page", async () => {
    const users = await allPages('/v1/users', A.adminToken);
    expect(users.ids).toContain(aIds.user);
    expect(users.ids).not.toContain(bIds.user);

    const installations = await allPages('/v1/installations', A.adminToken);
    expect(installations.ids).toContain(aIds.installation);
    expect(installations.ids).not.toContain(bIds.installation);

    const apps = await allPages('/v1/apps', A.adminToken);
    expect(apps.ids).toContain(aIds.app);
    expect(apps.ids).not.toContain(bIds.app);

    const channels = await allPages('/v1/channels', A.adminToken);
    expect(channels.ids).toContain(aIds.channel);
    expect(channels.ids).not.toContain(bIds.channel);

    const conversations = await allPages('/v1/conversations', A.adminToken);
    expect(conversations.ids).toContain(aIds.conversation);
    expect(conversations.ids).not.toContain(bIds.conversation);

    for (const text of [...users.texts, ...installations.texts, ...apps.texts, ...channels.texts, ...conversations.texts]) {
      for (const id of Object.values(bIds)) expect(text).not.toContain(id);
      expect(text).not.toContain(bAdminEmail);
    }
  });

  it("filters cannot reach B's resources", async () => {
    for (const path of [
      `/v1/apps?tag=${bTag}`,
      `/v1/apps?owned=true`,
      `/v1/installations?status=active`,
      `/v1/installations?status=uninstalled`,
      `/v1/users?role=agent`,
      `/v1/users?role=admin`,
      `/v1/conversations?status=active`,
      `/v1/conversations?assignee=none`,
      `/v1/conversations?assignee=${bIds.user}`,
    ]) {
      const res = await api.call('GET', path, { token: A.adminToken });
      expect(res.status, path).toBe(200);
      for (const id of Object.values(bIds)) if (!path.includes(id)) expect(res.text, path).not.toContain(id);
      expect(res.text).not.toContain(bAdminEmail);
    }
    const byTag = await api.call('GET', `/v1/apps?tag=${bTag}`, { token: A.adminToken });
    expect(byTag.body.data).toEqual([]);
  });

  it("a cursor made from B's id pages only through A's rows", async () => {
    // Cursors are positions, not grants: one positioned just above B's newest id still lists only A's rows.
    const above = Buffer.from(JSON.stringify({ after: 'ffffffff-ffff-7fff-bfff-ffffffffffff' })).toString('base64url');
    const res = await api.call('GET', `/v1/users?cursor=${above}`, { token: A.adminToken });
    expect(res.status).toBe(200);
    const ids = res.body.data.map((u: { id: string }) => u.id);
    expect(ids).toContain(aIds.user);
    expect(ids).not.toContain(bIds.user);
  });

  it("no tenant list or read without an id mentions anything of B's", async () => {
    // Grows with the API: every parameterless tenant GET.
    // A stream never ends, so it is read in its own test (event-stream.test.ts, one tenant's events only).
    const routes = api.app.routes.filter((r) => r.auth === 'tenant' && r.method === 'get' && !hasParams(r) && r.responses[200]?.contentType !== 'text/event-stream');
    expect(routes.map(routeName)).toEqual(expect.arrayContaining(['GET /v1/users', 'GET /v1/installations', 'GET /v1/apps', 'GET /v1/me']));
    for (const r of routes) {
      const res = await api.call('GET', r.path, { token: A.adminToken });
      expect(res.status, `${routeName(r)}: ${res.text}`).toBe(200);
      for (const id of Object.values(bIds)) expect(res.text, routeName(r)).not.toContain(id);
      expect(res.text, routeName(r)).not.toContain(bAdminEmail);
    }
  });
});

describe('B sees its own things (the walk is not vacuous)', () => {
  it("B's admin reads what A could not", async () => {
    const routes = walkedRoutes(api.app.routes).filter((r) => r.method === 'get');
    for (const r of routes) {
      const res = await api.call('GET', resolvePath(r, bIds), { token: B.adminToken });
      expectFound(res, routeName(r));
      if (res.status !== 502) expect(res.status, `${routeName(r)}: ${res.text}`).toBe(200);
    }
    const users = await api.call('GET', '/v1/users?limit=200', { token: B.adminToken });
    expect(users.body.data.map((u: { id: string }) => u.id)).toContain(bIds.user);
  });
});

describe('the control: the walked routes work with A\'s own ids', () => {
  // Last in the file: it deletes A's own resources.
  it('the same routes work with A\'s own ids (the 404s came from tenancy, not from a bad request)', async () => {
    // Destructive calls last, children before their parents, so every route finds its resource still in place.
    const order = { get: 0, put: 1, patch: 1, post: 2, delete: 3 } as const;
    const routes = [...walkedRoutes(api.app.routes)].sort(
      (x, y) => order[x.method] - order[y.method] || (x.method === 'delete' ? paramCount(y) - paramCount(x) : 0),
    );
    for (const r of routes) {
      const res = await api.call(r.method.toUpperCase(), resolvePath(r, aIds), { token: A.adminToken, ...payloadFor(r, aIds) });
      expect([400, 401, 403, 404], `${routeName(r)} with A's own id: ${res.status} ${res.text}`).not.toContain(res.status);
      expectFound(res, routeName(r));
    }
  });
});
