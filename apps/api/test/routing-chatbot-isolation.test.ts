import { sqlRunner } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../test/support/platform';
import {
  apply,
  contactSends,
  draft,
  newContact,
  routingOrg,
  type RoutingHarness,
  type RoutingOrg,
  startRoutingHarness,
  startTestBot,
  type TestBot,
  text,
  waitOutbound,
} from './routing-runtime-support';

/*
 * A bot that is slow (or hangs up to its timeout) holds only its own conversation: the routing
 * runner and signaller hand messages to each bot session's workflow and never wait for a bot.
 */

let h: RoutingHarness;
let slowBot: TestBot;
let fastBot: TestBot;
let a: RoutingOrg;
let b: RoutingOrg;

interface Forward {
  type: string;
  callbackUrl: string;
  conversation: { id: string };
  message: { id: string; text: string | null } | null;
}

const forwards = (bot: TestBot, conversationId: string): Forward[] =>
  bot.requests.map((r) => JSON.parse(r.body) as Forward).filter((f) => f.conversation.id === conversationId);

const SLOW_MS = 10_000;

/** When tenant A's bot answered its first (slow) request; null until it has. */
let slowAnsweredAt: number | null = null;
/** When each request reached a bot, by message text. */
const receivedAt = new Map<string, number>();

beforeAll(async () => {
  h = await startRoutingHarness();
  slowBot = await startTestBot();
  fastBot = await startTestBot();
  let first = true;
  slowBot.handle = async (req, res) => {
    const forward = JSON.parse(req.body) as Forward;
    receivedAt.set(forward.message?.text ?? 'welcome', Date.now());
    if (first) {
      // The first request takes 10 s, within the connector's timeout; then the bot answers on its callback.
      first = false;
      await new Promise((r) => setTimeout(r, SLOW_MS));
      slowAnsweredAt = Date.now();
      res.writeHead(200).end('{}');
      await fetch(forward.callbackUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'text', text: 'Sorry for the wait' }) });
      return;
    }
    res.writeHead(200).end('{}');
  };
  fastBot.handle = (req, res) => {
    const forward = JSON.parse(req.body) as Forward;
    receivedAt.set(forward.message?.text ?? 'welcome', Date.now());
    res.writeHead(200).end('{}');
  };
  a = await routingOrg(h);
  b = await routingOrg(h);
  for (const [org, bot, timeoutMs] of [
    [a, slowBot, 15_000],
    [b, fastBot, 5_000],
  ] as const) {
    const humans = await draft(h, org, 'queues', { name: 'Humans' });
    const botId = await draft(h, org, 'chatbots', { name: 'Bot', url: `${bot.url}/bot`, fallback: { kind: 'queue', id: humans }, timeoutMs });
    const routed = await h.api.call('PUT', `/v1/routing/draft/channels/${org.channelId}`, { token: org.token, body: { first: { kind: 'chatbot', id: botId }, attachments: 'both' } });
    expect(routed.status, routed.text).toBe(200);
    await apply(h, org);
  }
  // The runner routes new conversations as the worker's does: polling, on its own.
  h.runner.start();
});

afterAll(async () => {
  await h?.runner.stop();
  await slowBot?.close();
  await fastBot?.close();
  await h?.close();
});

describe('a slow chatbot', () => {
  it('delays no other tenant’s conversation, and its own conversation still gets the bot’s answers in order', async () => {
    // Tenant A's contact writes first; A's bot takes 10 s over it.
    const slowContact = await newContact(h, a, 'A1 first from A');
    await eventually(async () => receivedAt.has('A1 first from A'), 10_000, 'A’s bot to get the first message');
    // A writes again while its bot is busy: that message waits for the first one's answer.
    await contactSends(h, a, slowContact.from, text('A2 second from A'));

    // Tenant B's new conversation (the runner) and its next message (the signaller) reach B's bot meanwhile.
    const other = await newContact(h, b, 'B1 first from B');
    await eventually(async () => receivedAt.has('B1 first from B'), 8_000, 'B’s bot to get B’s first message');
    await contactSends(h, b, other.from, text('B2 second from B'));
    await eventually(async () => receivedAt.has('B2 second from B'), 8_000, 'B’s bot to get B’s second message');
    expect(slowAnsweredAt, 'B’s messages reached B’s bot before A’s bot answered').toBeNull();
    expect(forwards(fastBot, other.conversationId).map((f) => f.message?.text)).toEqual(['B1 first from B', 'B2 second from B']);
    // A's second message is not sent to A's bot while the first is still waiting for an answer.
    expect(receivedAt.has('A2 second from A')).toBe(false);

    // A's bot answers after 10 s: its callback reaches the contact, and then it hears A's second message.
    const [reply] = await waitOutbound(h, a, slowContact.conversationId, 1, 20_000);
    expect(reply!.content).toMatchObject({ text: 'Sorry for the wait' });
    await eventually(async () => receivedAt.has('A2 second from A'), 10_000, 'A’s bot to get A’s second message');
    expect(receivedAt.get('A2 second from A')!).toBeGreaterThanOrEqual(slowAnsweredAt!);
    expect(forwards(slowBot, slowContact.conversationId).map((f) => f.message?.text)).toEqual(['A1 first from A', 'A2 second from A']);
  }, 60_000);

  it('a start retried after a crash hands the message to the session the first attempt opened', async () => {
    const contact = await newContact(h, b, 'Before the crash');
    await eventually(async () => receivedAt.has('Before the crash'), 10_000, 'the bot to get the message');
    // The runner died after opening the session and before the workflow heard of it: the retry
    // finds the session and hands the message to its workflow, which ignores what it already has.
    const [session] = await h.api.orm.em
      .fork()
      .getConnection()
      .execute<{ object_id: string; version_id: string; created_at: Date }[]>(`select object_id, version_id, created_at from routing_sessions where conversation_id = ? and state = 'active'`, [
        contact.conversationId,
      ]);
    const start = {
      kind: 'chatbot' as const,
      input: { organizationId: b.orgId, conversationId: contact.conversationId, channelId: b.channelId, versionId: session!.version_id, chatbotId: session!.object_id, messageId: contact.messageId, at: new Date() },
    };
    await h.dispatcher.start(sqlRunner(h.api.orm.em.fork()), start, new Date(new Date(session!.created_at).getTime() - 1000));
    await new Promise((r) => setTimeout(r, 1000));
    expect(forwards(fastBot, contact.conversationId)).toHaveLength(1);

    // A session opened whose workflow never started (the crash came first) is started by the retry.
    const lost = await newContact(h, b, 'Lost in the crash');
    await eventually(async () => receivedAt.has('Lost in the crash'), 10_000, 'the routed message');
    await h.api.orm.em.fork().getConnection().execute(`update routing_sessions set state = 'ended' where conversation_id = ?`, [lost.conversationId]);
    const opened = await h.chatbots.open({ ...start.input, conversationId: lost.conversationId, messageId: lost.messageId, at: new Date() });
    await h.dispatcher.start(sqlRunner(h.api.orm.em.fork()), { kind: 'chatbot', input: { ...start.input, conversationId: lost.conversationId, messageId: lost.messageId } }, new Date(Date.now() - 60_000));
    const again = await eventually(async () => forwards(fastBot, lost.conversationId)[1], 10_000, 'the message, handed on by the retry');
    expect(again.message?.id).toBe(lost.messageId);
    expect(again.callbackUrl).not.toBe(forwards(fastBot, lost.conversationId)[0]!.callbackUrl);
    expect(opened.workflow_id).toContain(opened.id);
  }, 60_000);
});
