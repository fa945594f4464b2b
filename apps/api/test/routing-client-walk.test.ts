import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../test/support/platform';
import { routingOrg, type RoutingHarness, type RoutingOrg, startRoutingHarness, startTestBot, type TestBot, waitOutbound } from './routing-runtime-support';

/*
 * Routing as an independent client uses it: everything through the HTTP API (draft, apply, the
 * agent's queue and take, the bot's callback), the contact through the sandbox Graph API's
 * inbound, and the worker's runner and signaller running on their own.
 */

let h: RoutingHarness;
let org: RoutingOrg;
let bot: TestBot;
let agent: { id: string; token: string };
let salesQueue: string;

async function ok(method: string, path: string, token: string | undefined, body?: unknown, status = 200) {
  const res = await h.api.call(method, path, { ...(token ? { token } : {}), ...(body === undefined ? {} : { body }) });
  expect(res.status, `${method} ${path}: ${res.text}`).toBe(status);
  return res.body;
}

/** The contact writes through the sandbox, which signs and posts the webhook as Meta would. */
async function sandboxInbound(from: string, content: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${h.sandbox.url}/_sandbox/inbound`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ phoneNumberId: org.route.phoneNumberId, from, name: 'Ana Pérez', ...content }),
  });
  expect(res.status, await res.text()).toBe(200);
  await h.api.app.services.metaProcessor.settle();
}

async function conversationOf(from: string): Promise<string> {
  return eventually(async () => {
    const list = await h.api.call('GET', `/v1/conversations?limit=50`, { token: org.token });
    return (list.body.data as { id: string; contact: { phone: string } }[]).find((c) => c.contact.phone === `+${from}`)?.id;
  }, 10_000, 'the conversation');
}

async function waitingIn(queueId: string, conversationId: string, token: string) {
  return eventually(async () => {
    const list = await h.api.call('GET', `/v1/queues/waiting?queueId=${queueId}`, { token });
    return (list.body.data as { conversationId: string; position: number; queueId: string }[]).find((w) => w.conversationId === conversationId);
  }, 20_000, 'the conversation waiting in the queue');
}

beforeAll(async () => {
  h = await startRoutingHarness();
  bot = await startTestBot();
  org = await routingOrg(h);
  const created = await ok('POST', '/v1/users', org.token, { email: `agent-${org.orgId}@example.test`, password: 'agent password 1234', name: 'Agent', role: 'agent' }, 201);
  const login = await ok('POST', '/v1/auth/login', undefined, { email: `agent-${org.orgId}@example.test`, password: 'agent password 1234' });
  agent = { id: created.id, token: login.accessToken };

  salesQueue = (await ok('POST', '/v1/routing/draft/queues', org.token, { name: 'Sales', agentIds: [agent.id], autoResponse: 'You are number {{queue.position}} for {{queue.name}}.' }, 201)).id;
  const chatbot = (await ok('POST', '/v1/routing/draft/chatbots', org.token, { name: 'Orders bot', url: `${bot.url}/bot`, fallback: { kind: 'queue', id: salesQueue } }, 201)).id;
  const tree = (
    await ok(
      'POST',
      '/v1/routing/draft/decision-trees',
      org.token,
      {
        name: 'Front desk',
        tree: {
          defaultLanguage: 'en',
          start: 'menu',
          decisions: [
            {
              id: 'menu',
              next: {
                type: 'answer',
                question: 'Hi {{contact.name | there}}, how can we help?',
                choices: [
                  { id: 'sales', title: 'Sales', similar: ['buy'], target: { kind: 'queue', id: salesQueue } },
                  { id: 'orders', title: 'My order', target: { kind: 'chatbot', id: chatbot } },
                ],
                default: 'menu',
              },
            },
          ],
        },
      },
      201,
    )
  ).id;
  await ok('PUT', `/v1/routing/draft/channels/${org.channelId}`, org.token, { first: { kind: 'decision_tree', id: tree }, attachments: 'both' });
  // Nothing is live until applied.
  expect((await ok('GET', '/v1/routing/live', org.token)).version).toBeNull();
  await ok('POST', '/v1/routing/apply', org.token, {}, 201);
  h.runner.start();
});

afterAll(async () => {
  await h?.runner.stop();
  await bot?.close();
  await h?.close();
});

describe('routing walked through the API', () => {
  it('a new chat meets the tree, its answer puts it in the queue, and the queue’s agent takes it', async () => {
    const from = '50255501001';
    await sandboxInbound(from, { type: 'text', text: 'Hello' });
    const conversationId = await conversationOf(from);
    const [question] = await waitOutbound(h, org, conversationId, 1);
    expect(question!.content).toMatchObject({
      interactive: {
        type: 'button',
        body: { text: 'Hi Ana Pérez, how can we help?' },
        action: { buttons: [{ reply: { id: 'menu/sales', title: 'Sales' } }, { reply: { id: 'menu/orders', title: 'My order' } }] },
      },
    });
    await sandboxInbound(from, { type: 'interactive', buttonReply: { id: 'menu/sales', title: 'Sales' } });
    const waiting = await waitingIn(salesQueue, conversationId, agent.token);
    expect(waiting.position).toBe(1);
    const [, autoResponse] = await waitOutbound(h, org, conversationId, 2);
    expect(autoResponse!.content).toMatchObject({ text: 'You are number 1 for Sales.' });

    const taken = await ok('POST', `/v1/queues/${salesQueue}/take`, agent.token, { conversationId });
    expect(taken).toMatchObject({ id: conversationId, assignee: { id: agent.id } });
    const view = await ok('GET', `/v1/conversations/${conversationId}`, org.token);
    expect(view.routing).toMatchObject({ destination: { kind: 'queue', id: salesQueue } });
    expect(view.routing.path).toContainEqual(expect.objectContaining({ kind: 'decision', decisionId: 'menu', answer: { choiceId: 'sales', reason: expect.any(String) } }));
    const after = await h.api.call('GET', `/v1/queues/waiting?queueId=${salesQueue}`, { token: agent.token });
    expect((after.body.data as { conversationId: string }[]).some((w) => w.conversationId === conversationId)).toBe(false);
  });

  it('the tree hands a chat to the bot, which answers on its callback and transfers it to the queue', async () => {
    const from = '50255501002';
    await sandboxInbound(from, { type: 'text', text: 'Hola' });
    const conversationId = await conversationOf(from);
    await waitOutbound(h, org, conversationId, 1);
    await sandboxInbound(from, { type: 'text', text: 'my order' });
    const forward = await eventually(
      async () =>
        bot.requests
          .map((r) => JSON.parse(r.body) as { callbackUrl: string; conversation: { id: string }; message: { text: string | null } | null })
          .find((f) => f.conversation.id === conversationId),
      20_000,
      'the bot to hear of the chat',
    );
    expect(forward.message?.text).toBe('my order');
    const callbackPath = new URL(forward.callbackUrl).pathname;
    const sent = await ok('POST', callbackPath, undefined, { type: 'text', text: 'Let me check your order.' });
    expect(sent.status).toBe('sent');
    const [, reply] = await waitOutbound(h, org, conversationId, 2);
    expect(reply!.content).toMatchObject({ text: 'Let me check your order.' });
    expect(await ok('POST', callbackPath, undefined, { type: 'transfer', queueId: salesQueue }, 202)).toEqual({ status: 'transferred' });
    await waitingIn(salesQueue, conversationId, agent.token);
    const taken = await ok('POST', `/v1/queues/${salesQueue}/take`, agent.token, {});
    expect(taken).toMatchObject({ id: conversationId, assignee: { id: agent.id } });
    const view = await ok('GET', `/v1/conversations/${conversationId}`, org.token);
    expect(view.routing.path.map((s: { kind: string }) => s.kind)).toEqual(['channel', 'decision', 'chatbot']);
    // The bot's session ended with the transfer: its callback now answers 404.
    expect((await h.api.call('POST', callbackPath, { body: { type: 'text', text: 'Still there?' } })).status).toBe(404);
  });
});
