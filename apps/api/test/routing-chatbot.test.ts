import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelope, MESSAGE_BODIES, wamid } from '../../../test/fixtures/meta';
import { eventually } from '../../../test/support/platform';
import {
  apply,
  botOn,
  buttonReply,
  contactSends,
  draft,
  newContact,
  outboundOf,
  routingOrg,
  type RoutingHarness,
  type RoutingOrg,
  sessionWorkflowCompletes,
  startRoutingHarness,
  startTestBot,
  type TestBot,
  text,
  waitDestination,
  waitOutbound,
} from './routing-runtime-support';
import { newPhone, postSigned } from './messaging-support';

let h: RoutingHarness;
let bot: TestBot;
let slow: TestBot;
let org: RoutingOrg;
let queueId: string;
let fallbackQueue: string;
let chatbotId: string;
let slowBotId: string;
let versionId: string;

interface Forward {
  type: string;
  callbackUrl: string;
  chatbotId: string;
  conversation: { id: string; contact: { phone: string; name: string }; customFields: Record<string, unknown> };
  message: { id: string; type: string; text: string | null; replyId: string | null; attachments: unknown[] };
}

const forwardsFor = (conversationId: string): Forward[] => bot.requests.map((r) => JSON.parse(r.body) as Forward).filter((f) => f.conversation.id === conversationId);

/** The bot's first request for the conversation: its session's workflow makes it soon after the start. */
const firstForward = (conversationId: string): Promise<Forward> => eventually(async () => forwardsFor(conversationId)[0], 10_000, 'the first forward');

async function callback(url: string, body: unknown, idempotencyKey?: string) {
  const path = new URL(url).pathname;
  return h.api.call('POST', path, { body, ...(idempotencyKey ? { headers: { 'idempotency-key': idempotencyKey } } : {}) });
}

beforeAll(async () => {
  h = await startRoutingHarness();
  bot = await startTestBot();
  slow = await startTestBot();
  slow.handle = async (_req, res) => {
    await new Promise((r) => setTimeout(r, 2000));
    if (!res.destroyed) res.writeHead(200).end('{}');
  };
  org = await routingOrg(h);
  queueId = await draft(h, org, 'queues', { name: 'Humans' });
  fallbackQueue = await draft(h, org, 'queues', { name: 'Fallback' });
  chatbotId = await draft(h, org, 'chatbots', { name: 'Bot', url: `${bot.url}/bot`, customFields: ['plan'], fallback: { kind: 'queue', id: fallbackQueue }, timeoutMs: 2000 });
  slowBotId = await draft(h, org, 'chatbots', { name: 'Slow bot', url: `${slow.url}/bot`, fallback: { kind: 'queue', id: fallbackQueue }, timeoutMs: 500 });
  versionId = await apply(h, org);
});

afterAll(async () => {
  await bot?.close();
  await slow?.close();
  await h?.close();
});

describe('chatbot connectors at runtime', () => {
  it('POSTs the message signed with the connector’s secret, and the bot answers text, a URL button and quick replies', async () => {
    const contact = await newContact(h, org, 'I need help with my order');
    await botOn(h, org, contact, chatbotId, versionId);
    const forward = await firstForward(contact.conversationId);
    expect(forward).toMatchObject({
      type: 'message',
      chatbotId,
      conversation: { id: contact.conversationId, contact: { phone: `+${contact.from}`, name: 'Ana Pérez' }, customFields: { plan: null } },
      message: { id: contact.messageId, type: 'text', text: 'I need help with my order', replyId: null, attachments: [] },
    });
    const request = bot.requests.find((r) => r.body.includes(contact.messageId))!;
    const shown = await h.api.call('GET', `/v1/routing/chatbots/${chatbotId}/secret`, { token: org.token });
    expect(shown.status, shown.text).toBe(200);
    const secret = shown.body.secret as string;
    expect(secret).toMatch(/^whsec_/);
    const [stored] = await h.api.orm.em.fork().getConnection().execute<{ secret_ciphertext: string }[]>('select secret_ciphertext from routing_chatbot_secrets where chatbot_id = ?', [chatbotId]);
    expect(stored!.secret_ciphertext).not.toContain(secret.slice(6));
    expect((await h.api.call('GET', '/v1/routing/chatbots/no-such-bot/secret', { token: org.token })).status).toBe(404);
    expect(() => new Webhook(secret).verify(request.body, request.headers)).not.toThrow();
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(request.body, request.headers)).toThrow();
    expect(forward.callbackUrl).toMatch(new RegExp(`^${h.api.url}/v1/routing/chatbot-callback/[A-Za-z0-9_-]{43}$`));

    expect((await callback(forward.callbackUrl, { type: 'text', text: 'Sure, which order?' })).status).toBe(200);
    const link = await callback(forward.callbackUrl, { type: 'url_button', text: 'Track it here', button: { title: 'Track', url: 'https://example.com/track' } });
    expect(link.status, link.text).toBe(200);
    const replies = await callback(forward.callbackUrl, { type: 'quick_replies', text: 'Anything else?', replies: [{ id: 'yes', title: 'Yes' }, { id: 'no', title: 'No' }] });
    expect(replies.status, replies.text).toBe(200);
    const sent = await outboundOf(h, org, contact.conversationId);
    expect(sent.map((m) => [m.type, m.role])).toEqual([
      ['text', 'bot'],
      ['interactive', 'bot'],
      ['interactive', 'bot'],
    ]);
    expect(sent[0]!.content.text).toBe('Sure, which order?');
    expect(sent[1]!.content.interactive).toEqual({ type: 'cta_url', body: { text: 'Track it here' }, action: { name: 'cta_url', parameters: { display_text: 'Track', url: 'https://example.com/track' } } });
    expect(sent[2]!.content.interactive).toMatchObject({ type: 'button', action: { buttons: [{ reply: { id: 'yes', title: 'Yes' } }, { reply: { id: 'no', title: 'No' } }] } });

    // The contact's later messages reach the bot the same way, with the same callback.
    await contactSends(h, org, contact.from, buttonReply('yes', 'Yes'));
    const later = await eventually(async () => forwardsFor(contact.conversationId)[1], 10_000, 'the second forward');
    expect(later).toMatchObject({ callbackUrl: forward.callbackUrl, message: { type: 'interactive', text: 'Yes', replyId: 'yes' } });
    // Attachments are described by their structure, not sent.
    await contactSends(h, org, contact.from, MESSAGE_BODIES.document!);
    const document = await eventually(async () => forwardsFor(contact.conversationId)[2], 10_000, 'the third forward');
    expect(document!.message).toMatchObject({
      type: 'document',
      text: 'Invoice',
      attachments: [{ type: 'document', id: '4234567890', mimeType: 'application/pdf', filename: 'invoice.pdf', caption: 'Invoice', sha256: 'dsha=' }],
    });
    // More quick replies than WhatsApp's three buttons become a list.
    const many = await callback(forward.callbackUrl, {
      type: 'quick_replies',
      text: 'Which one?',
      replies: ['A', 'B', 'C', 'D'].map((t) => ({ id: t.toLowerCase(), title: `Order ${t}` })),
      buttonText: 'Orders',
    });
    expect(many.status, many.text).toBe(200);
    const list = (await outboundOf(h, org, contact.conversationId)).at(-1)!;
    expect(list.content.interactive).toMatchObject({ type: 'list', action: { button: 'Orders', sections: [{ rows: [{ id: 'a', title: 'Order A' }, {}, {}, {}] }] } });
  });

  it('a bot’s transfer hands the chat to a queue, after which its hash answers 404', async () => {
    const contact = await newContact(h, org, 'Talk to a person');
    await botOn(h, org, contact, chatbotId, versionId);
    const forward = await firstForward(contact.conversationId);
    const unknown = await callback(forward.callbackUrl, { type: 'transfer', queueId: 'no-such-queue' });
    expect(unknown.status, unknown.text).toBe(422);
    const res = await callback(forward.callbackUrl, { type: 'transfer', queueId });
    expect(res.status, res.text).toBe(202);
    const d = await waitDestination(h, contact.conversationId);
    expect(d.destination).toEqual({ kind: 'queue', id: queueId });
    expect(d.path).toEqual([{ kind: 'chatbot', chatbotId, outcome: 'transfer' }]);
    const after = await callback(forward.callbackUrl, { type: 'text', text: 'Still here?' });
    expect(after.status).toBe(404);
    expect(await outboundOf(h, org, contact.conversationId)).toHaveLength(0);
    // Nor does the bot hear the contact's later messages.
    await contactSends(h, org, contact.from, text('Hello?'));
    await new Promise((r) => setTimeout(r, 500));
    expect(forwardsFor(contact.conversationId)).toHaveLength(1);
    // The session's workflow ended with it, instead of waiting a day for messages that go elsewhere.
    expect(await sessionWorkflowCompletes(h, contact.conversationId)).toEqual({ endedReason: 'transfer', result: 'ended' });
  });

  it('a person taking the conversation over ends the bot’s session', async () => {
    const contact = await newContact(h, org, 'Hi bot');
    await botOn(h, org, contact, chatbotId, versionId);
    const forward = await firstForward(contact.conversationId);
    const me = await h.api.call('GET', '/v1/me', { token: org.token });
    const assigned = await h.api.call('PUT', `/v1/conversations/${contact.conversationId}/assign`, { token: org.token, body: { userId: me.body.userId } });
    expect(assigned.status, assigned.text).toBe(200);
    expect((await callback(forward.callbackUrl, { type: 'text', text: 'Too late' })).status).toBe(404);
    await contactSends(h, org, contact.from, text('Are you a person?'));
    await new Promise((r) => setTimeout(r, 500));
    expect(forwardsFor(contact.conversationId)).toHaveLength(1);
    expect(await sessionWorkflowCompletes(h, contact.conversationId)).toEqual({ endedReason: 'assigned', result: 'ended' });
  });

  it('end to end: a channel routed to a bot, the dispatcher starts it, the bot transfers the chat to a queue', async () => {
    const own = await routingOrg(h);
    const humans = await draft(h, own, 'queues', { name: 'Humans' });
    const botId = await draft(h, own, 'chatbots', { name: 'Front bot', url: `${bot.url}/front`, fallback: { kind: 'queue', id: humans } });
    const routed = await h.api.call('PUT', `/v1/routing/draft/channels/${own.channelId}`, { token: own.token, body: { first: { kind: 'chatbot', id: botId }, attachments: 'both' } });
    expect(routed.status, routed.text).toBe(200);
    await apply(h, own);
    const contact = await newContact(h, own, 'Hello bot');
    await h.runner.settle();
    const forward = await eventually(async () => forwardsFor(contact.conversationId)[0], 10_000, 'the forward');
    expect(forward).toMatchObject({ chatbotId: botId, message: { text: 'Hello bot' } });
    const res = await callback(forward.callbackUrl, { type: 'transfer', queueId: humans });
    expect(res.status, res.text).toBe(202);
    const waiting = await eventually(async () => {
      const list = await h.api.call('GET', `/v1/queues/waiting?queueId=${humans}`, { token: own.token });
      return (list.body.data as { conversationId: string }[]).find((w) => w.conversationId === contact.conversationId);
    }, 10_000, 'the conversation waiting in the queue');
    expect(waiting).toMatchObject({ queueId: humans, position: 1 });
  });

  it('a callback retried with its Idempotency-Key answers the first answer and sends nothing again', async () => {
    const contact = await newContact(h, org, 'Where is my order?');
    await botOn(h, org, contact, chatbotId, versionId);
    const forward = await firstForward(contact.conversationId);
    const first = await callback(forward.callbackUrl, { type: 'text', text: 'On its way' }, 'answer-1');
    expect(first.status, first.text).toBe(200);
    const again = await callback(forward.callbackUrl, { type: 'text', text: 'On its way' }, 'answer-1');
    expect(again.status, again.text).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await outboundOf(h, org, contact.conversationId)).toHaveLength(1);
    const reused = await callback(forward.callbackUrl, { type: 'text', text: 'Something else' }, 'answer-1');
    expect(reused.status, reused.text).toBe(422);
    expect(reused.body.code).toBe('idempotency_key_reused');
    expect((await callback(forward.callbackUrl, { type: 'text', text: 'Bad key' }, 'ñ')).status).toBe(400);
    // Another key is another answer.
    const second = await callback(forward.callbackUrl, { type: 'text', text: 'On its way' }, 'answer-2');
    expect(second.status, second.text).toBe(200);
    expect(second.body.messageId).not.toBe(first.body.messageId);
    expect(await outboundOf(h, org, contact.conversationId)).toHaveLength(2);

    // A transfer retried after it ended the session answers the same, and hands the chat over once.
    const transfer = await callback(forward.callbackUrl, { type: 'transfer', queueId }, 'handover');
    expect(transfer.status, transfer.text).toBe(202);
    const retried = await callback(forward.callbackUrl, { type: 'transfer', queueId }, 'handover');
    expect(retried.status, retried.text).toBe(202);
    expect(retried.body).toEqual({ status: 'transferred' });
    expect(h.destinations.filter((d) => d.conversationId === contact.conversationId)).toHaveLength(1);
    // Without a kept key, the ended session still answers 404, and so does a kept text key's other body.
    expect((await callback(forward.callbackUrl, { type: 'text', text: 'Late' })).status).toBe(404);
    expect((await callback(forward.callbackUrl, { type: 'text', text: 'Late' }, 'answer-3')).status).toBe(404);
    expect(await outboundOf(h, org, contact.conversationId)).toHaveLength(2);

    // The keys are kept with the session, and go with it.
    const db = h.api.orm.em.fork().getConnection();
    const [session] = await db.execute<{ id: string }[]>('select id from routing_sessions where conversation_id = ?', [contact.conversationId]);
    const keys = async () => (await db.execute<{ key: string }[]>('select key from routing_chatbot_callbacks where session_id = ? order by key', [session!.id])).map((r) => r.key);
    expect(await keys()).toEqual(['answer-1', 'answer-2', 'handover']);
    await db.execute('delete from routing_sessions where id = ?', [session!.id]);
    expect(await keys()).toEqual([]);
  });

  it('a conversation the contact opened without writing starts the bot with a welcome', async () => {
    const own = await routingOrg(h);
    const humans = await draft(h, own, 'queues', { name: 'Humans' });
    const botId = await draft(h, own, 'chatbots', { name: 'Welcome bot', url: `${bot.url}/welcome`, customFields: ['plan'], fallback: { kind: 'queue', id: humans } });
    const routed = await h.api.call('PUT', `/v1/routing/draft/channels/${own.channelId}`, { token: own.token, body: { first: { kind: 'chatbot', id: botId }, attachments: 'both' } });
    expect(routed.status, routed.text).toBe(200);
    await apply(h, own);
    const from = newPhone();
    const opened = envelope(own.route, { contacts: [{ profile: { name: 'Nueva' }, wa_id: from }], messages: [{ from, id: wamid(), timestamp: String(Math.floor(Date.now() / 1000)), type: 'request_welcome' }] });
    await postSigned(h.api, opened);
    await h.api.app.services.metaProcessor.settle();
    const [conversation] = await h.api.orm.em
      .fork()
      .getConnection()
      .execute<{ id: string }[]>('select cv.id from conversations cv join contacts ct on ct.id = cv.contact_id where cv.organization_id = ? and ct.phone = ?', [own.orgId, `+${from}`]);
    expect(conversation, 'the welcome opened a conversation').toBeDefined();
    await h.runner.settle();
    const welcome = await eventually(async () => forwardsFor(conversation!.id)[0], 10_000, 'the welcome');
    expect(welcome).toMatchObject({ type: 'welcome', chatbotId: botId, conversation: { id: conversation!.id, contact: { phone: `+${from}` }, customFields: { plan: null } }, message: null });
    const request = bot.requests.find((r) => r.body.includes(conversation!.id))!;
    expect(request.headers['webhook-id']).toMatch(/^welcome_/);
    const secret = (await h.api.call('GET', `/v1/routing/chatbots/${botId}/secret`, { token: own.token })).body.secret as string;
    expect(() => new Webhook(secret).verify(request.body, request.headers)).not.toThrow();
    // The bot owns the conversation: it greets, and the contact's first message reaches it.
    const hello = await callback(welcome.callbackUrl, { type: 'text', text: 'Hi! How can I help?' });
    expect(hello.status, hello.text).toBe(200);
    await contactSends(h, own, from, text('My order'));
    const next = await eventually(async () => forwardsFor(conversation!.id)[1], 10_000, 'the first message');
    expect(next).toMatchObject({ type: 'message', callbackUrl: welcome.callbackUrl, message: { text: 'My order' } });
    expect(h.destinations.find((d) => d.conversationId === conversation!.id)).toBeUndefined();
  });

  it('a bot that times out hands the chat to the fallback', async () => {
    const contact = await newContact(h, org);
    // That handing over does not wait for the bot is routing-chatbot-isolation.test.ts's to show.
    await botOn(h, org, contact, slowBotId, versionId);
    const d = await waitDestination(h, contact.conversationId);
    expect(d.destination).toEqual({ kind: 'queue', id: fallbackQueue });
    expect(d.path).toEqual([{ kind: 'chatbot', chatbotId: slowBotId, outcome: 'fallback', reason: 'timeout' }]);
  });

  it('a callback with a wrong hash is 404 and changes nothing', async () => {
    const contact = await newContact(h, org);
    await botOn(h, org, contact, chatbotId, versionId);
    const forward = await firstForward(contact.conversationId);
    const token = forward.callbackUrl.split('/').pop()!;
    const wrong = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    for (const hash of [wrong, 'short', 'x'.repeat(199)]) {
      const res = await h.api.call('POST', `/v1/routing/chatbot-callback/${hash}`, { body: { type: 'text', text: 'Hijack' } });
      expect(res.status, hash).toBe(404);
      expect(res.body.code).toBe('not_found');
    }
    const transfer = await h.api.call('POST', `/v1/routing/chatbot-callback/${wrong}`, { body: { type: 'transfer', queueId } });
    expect(transfer.status).toBe(404);
    expect(await outboundOf(h, org, contact.conversationId)).toHaveLength(0);
    expect(h.destinations.find((d) => d.conversationId === contact.conversationId)).toBeUndefined();
    // The right hash still works.
    expect((await callback(forward.callbackUrl, { type: 'text', text: 'Hi' })).status).toBe(200);
    await waitOutbound(h, org, contact.conversationId, 1);
  });
});
