import { createLogger, DomainError, systemClock } from '@parley/core';
import { DomainEvent, UNSCOPED } from '@parley/db';
import { DEFAULT_OPT_OUT, OutboundSender, queueMessage, type SendInput } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busiestWindow } from '../../../bench/lib';
import { installApp, startTestApiOnOwnDatabase, type TestApi } from '../../../test/support/api';
import { eventually } from '../../../test/support/platform';
import { expectProblem } from './helpers';
import { contactWrites, conversationOf, FakeGraph, insertTemplate, newOrg, newPhone, newUser, type Org } from './messaging-support';

/**
 * One send path for every actor (queueMessage): agents and partners through the API, the
 * platform's consent confirmations from the inbound processor, the AI assistant called directly
 * as its workflow's activity does. Each is held to the same rules and told with one event shape,
 * named by the message's role, with `ai` true only for the assistant.
 *
 * The file has a database of its own, so its outbox sender sees only its own messages.
 */

let api: TestApi;
beforeAll(async () => {
  api = await startTestApiOnOwnDatabase('send_path');
});
afterAll(async () => {
  await api.close();
});

const em = () => api.orm.em.fork();
const DAY = 24 * 60 * 60 * 1000;

/** The assistant's send, as its activity makes it: in a transaction of its own, no HTTP principal. */
function assistantSends(org: Org, input: SendInput) {
  return em().transactional((tx) => queueMessage(tx, org.orgId, { kind: 'assistant' }, input, new Date()));
}

/** The domain error a direct call refused with, as code and extra members. */
async function refusal(work: Promise<unknown>): Promise<{ code: string; status: number; extra: Record<string, unknown> | undefined }> {
  const err = await work.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  const e = err as DomainError & { extra?: Record<string, unknown> };
  return { code: e.code, status: e.status, extra: e.extra };
}

async function writes(org: Org, text: string, at?: Date): Promise<{ from: string; id: string; contactId: string }> {
  const from = newPhone();
  await contactWrites(api, org.route, from, text, at ? { at } : {});
  return { from, ...(await conversationOf(api, org.token, from)) };
}

async function messageEvents(org: Org) {
  const rows = await em().find(DomainEvent, { organization: org.orgId, type: { $like: 'message.create.%' } }, { ...UNSCOPED, orderBy: { id: 'asc' } });
  return rows.map((r) => ({ type: r.type, message: r.data.message as { id: string; role: string; ai: boolean; authorId: string | null } }));
}

async function senders(ids: string[]) {
  const rows = await em()
    .getConnection()
    .execute<{ id: string; sender_kind: string | null; sender_ref: string | null }[]>('select id, sender_kind, sender_ref from messages where id in (?)', [ids]);
  return new Map(rows.map((r) => [r.id, { kind: r.sender_kind, ref: r.sender_ref }]));
}

function installPartner(org: Org) {
  return installApp(api, org.tenant, org.tenant, { grant: ['conversations:read', 'conversations:write', 'messages:write'] });
}

describe('queueMessage: every actor', () => {
  it('names the event by role, flags only the assistant’s message as AI, and records who sent each, in events and in the history', async () => {
    const org = await newOrg(api);
    const partner = await installPartner(org);
    const c = await writes(org, 'Hola');
    const person = await newUser(api, org.tenant, 'agent');

    const agent = await api.call('POST', `/v1/conversations/${c.id}/messages`, { token: person.token, body: { type: 'text', text: 'From a person' } });
    expect(agent.status, agent.text).toBe(202);
    const bot = await api.call('POST', `/v1/conversations/${c.id}/messages`, { token: partner.accessToken, body: { type: 'text', text: 'From a partner' } });
    expect(bot.status, bot.text).toBe(202);
    const ai = await assistantSends(org, { conversationId: c.id, content: { type: 'text', text: 'From the assistant' } });
    // The contact opts out: the platform confirms, through the same path.
    await contactWrites(api, org.route, c.from, 'STOP');

    const events = await messageEvents(org);
    const outbound = events.filter((e) => e.type !== 'message.create.contact.chat.contact');
    expect(outbound.map((e) => [e.type, e.message.role, e.message.ai])).toEqual([
      ['message.create.contact.chat.agent', 'agent', false],
      ['message.create.contact.chat.bot', 'bot', false],
      ['message.create.contact.chat.bot', 'bot', true],
      ['message.create.contact.chat.bot', 'bot', false],
    ]);
    const [agentEvent, partnerEvent, aiEvent, consentEvent] = outbound;
    expect(agentEvent!.message).toEqual(agent.body);
    expect(partnerEvent!.message).toEqual(bot.body);
    expect(aiEvent!.message).toEqual(ai);
    expect(ai).toMatchObject({ role: 'bot', ai: true, authorId: null, status: 'queued', direction: 'outbound', content: { text: 'From the assistant' } });
    expect(agent.body.authorId).toBe(person.id);
    expect(bot.body.authorId).toBeNull();

    // The history shows the same flags as the events.
    const history = await api.call('GET', `/v1/conversations/${c.id}/messages`, { token: org.token });
    expect(history.status, history.text).toBe(200);
    const byId = new Map((history.body.data as { id: string; ai: boolean; role: string; content: Record<string, unknown> }[]).map((m) => [m.id, m]));
    expect(byId.get(agent.body.id)).toMatchObject({ ai: false, role: 'agent' });
    expect(byId.get(bot.body.id)).toMatchObject({ ai: false, role: 'bot' });
    expect(byId.get(ai.id)).toMatchObject({ ai: true, role: 'bot' });
    expect(byId.get(consentEvent!.message.id)).toMatchObject({ ai: false, role: 'bot', content: { text: DEFAULT_OPT_OUT.confirmationText, consent: 'opt_out' } });

    const stored = await senders([agent.body.id, bot.body.id, ai.id, consentEvent!.message.id]);
    expect(stored.get(agent.body.id)).toEqual({ kind: 'agent', ref: person.id });
    expect(stored.get(bot.body.id)).toEqual({ kind: 'partner', ref: partner.installationId });
    expect(stored.get(ai.id)).toEqual({ kind: 'assistant', ref: null });
    expect(stored.get(consentEvent!.message.id)).toEqual({ kind: 'system', ref: 'consent' });

    // The conversation's last message is the newest send, whoever made it.
    const conversation = await api.call('GET', `/v1/conversations/${c.id}`, { token: org.token });
    expect(conversation.body.lastMessage.preview).toBe(DEFAULT_OPT_OUT.confirmationText);
  });

  it('refuses a free-form message outside the window to every actor, with when it closed, and stores nothing', async () => {
    const org = await newOrg(api);
    const partner = await installPartner(org);
    // Meta's timestamps are whole seconds.
    const wrote = new Date(Math.floor((Date.now() - DAY - 60_000) / 1000) * 1000);
    const c = await writes(org, 'Hola', wrote);
    const expires = new Date(wrote.getTime() + DAY).toISOString();

    for (const token of [org.token, partner.accessToken]) {
      const res = await api.call('POST', `/v1/conversations/${c.id}/messages`, { token, body: { type: 'text', text: 'Late' } });
      expectProblem(res, 422, 'outside_customer_service_window');
      expect(res.body.windowExpiresAt).toBe(expires);
    }
    const ai = await refusal(assistantSends(org, { conversationId: c.id, content: { type: 'text', text: 'Late' } }));
    expect(ai).toMatchObject({ code: 'outside_customer_service_window', status: 422, extra: { windowExpiresAt: expires } });

    // A template is still allowed, for the assistant too.
    await insertTemplate(api, org);
    const template = await assistantSends(org, { conversationId: c.id, content: { type: 'template', template: { name: 'order_update', language: 'en_US' }, params: { 1: 'Ana', 2: 'A-1' } } });
    expect(template).toMatchObject({ type: 'template', ai: true, status: 'queued' });
    expect((await messageEvents(org)).map((e) => e.message.id)).toEqual([expect.any(String), template.id]);
  });

  it('refuses templates to an opted-out contact to every actor, and a marketing template to one who refuses marketing, while replies in the window go', async () => {
    const org = await newOrg(api);
    const partner = await installPartner(org);
    await insertTemplate(api, org);
    await insertTemplate(api, org, { name: 'spring_sale', category: 'MARKETING' });
    const c = await writes(org, 'stop');
    const template = { type: 'template', template: { name: 'order_update', language: 'en_US' }, params: { 1: 'Ana', 2: 'A-1' } } as const;

    for (const token of [org.token, partner.accessToken]) {
      expectProblem(await api.call('POST', `/v1/conversations/${c.id}/messages`, { token, body: template }), 422, 'contact_opted_out');
    }
    expect(await refusal(assistantSends(org, { conversationId: c.id, content: template }))).toMatchObject({ code: 'contact_opted_out', status: 422 });
    const reply = await assistantSends(org, { conversationId: c.id, content: { type: 'text', text: 'Understood.' } });
    expect(reply).toMatchObject({ ai: true, status: 'queued' });

    // Marketing opt-out (Meta 131050) refuses marketing templates only.
    const m = await writes(org, 'Hola');
    await em().getConnection().execute('update contacts set marketing_opted_out = true where id = ?', [m.contactId]);
    const marketing = { type: 'template', template: { name: 'spring_sale', language: 'en_US' }, params: { 1: 'Ana', 2: 'A-1' } } as const;
    expect(await refusal(assistantSends(org, { conversationId: m.id, content: marketing }))).toMatchObject({ code: 'contact_opted_out' });
    expectProblem(await api.call('POST', `/v1/conversations/${m.id}/messages`, { token: org.token, body: marketing }), 422, 'contact_opted_out');
    expect(await assistantSends(org, { conversationId: m.id, content: template })).toMatchObject({ type: 'template', ai: true });
  });

  it('checks templates and reply context the same way for every actor', async () => {
    const org = await newOrg(api);
    await insertTemplate(api, org);
    const c = await writes(org, 'Hola');
    const unknown = await refusal(assistantSends(org, { conversationId: c.id, content: { type: 'template', template: { name: 'nope', language: 'en_US' } } }));
    expect(unknown.code).toBe('template_not_found');
    const missing = await refusal(assistantSends(org, { conversationId: c.id, content: { type: 'template', template: { name: 'order_update', language: 'en_US' } } }));
    expect(missing.code).toBe('template_params_mismatch');
    expectProblem(
      await api.call('POST', `/v1/conversations/${c.id}/messages`, { token: org.token, body: { type: 'template', template: { name: 'order_update', language: 'en_US' } } }),
      400,
      'template_params_mismatch',
    );

    const inbound = (await messageEvents(org)).find((e) => e.type === 'message.create.contact.chat.contact')!.message;
    const answer = await assistantSends(org, { conversationId: c.id, content: { type: 'text', text: 'Yes' }, replyTo: inbound.id });
    expect(answer.content).toMatchObject({ text: 'Yes', context: { messageId: expect.any(String) } });
    const bad = await refusal(assistantSends(org, { conversationId: c.id, content: { type: 'text', text: 'Yes' }, replyTo: answer.id }));
    expect(bad.code).toBe('validation_error');
  });

  it('refuses a closed conversation and one of another organization to every actor', async () => {
    const org = await newOrg(api);
    const other = await newOrg(api);
    const partner = await installPartner(org);
    const c = await writes(org, 'Hola');
    const closed = await api.call('PATCH', `/v1/conversations/${c.id}`, { token: org.token, body: { status: 'closed' } });
    expect(closed.status, closed.text).toBe(200);

    for (const token of [org.token, partner.accessToken]) {
      expectProblem(await api.call('POST', `/v1/conversations/${c.id}/messages`, { token, body: { type: 'text', text: 'x' } }), 409, 'conversation_closed');
    }
    expect(await refusal(assistantSends(org, { conversationId: c.id, content: { type: 'text', text: 'x' } }))).toMatchObject({ code: 'conversation_closed', status: 409 });
    expect(await refusal(assistantSends(other, { conversationId: c.id, content: { type: 'text', text: 'x' } }))).toMatchObject({ code: 'not_found', status: 404 });
    expect((await messageEvents(org)).filter((e) => e.type !== 'message.create.contact.chat.contact')).toEqual([]);
  });

  it('lets a person speak as the bot and a partner as an agent, as the API’s role asks, with the event to match', async () => {
    const org = await newOrg(api);
    const partner = await installPartner(org);
    const c = await writes(org, 'Hola');
    const asBot = await api.call('POST', `/v1/conversations/${c.id}/messages`, { token: org.token, body: { type: 'text', text: 'Auto', role: 'bot' } });
    const asAgent = await api.call('POST', `/v1/conversations/${c.id}/messages`, { token: partner.accessToken, body: { type: 'text', text: 'Human-ish', role: 'agent' } });
    expect([asBot.body.role, asAgent.body.role]).toEqual(['bot', 'agent']);
    const types = (await messageEvents(org)).slice(1).map((e) => e.type);
    expect(types).toEqual(['message.create.contact.chat.bot', 'message.create.contact.chat.agent']);
    const stored = await senders([asBot.body.id, asAgent.body.id]);
    expect([stored.get(asBot.body.id)?.kind, stored.get(asAgent.body.id)?.kind]).toEqual(['agent', 'partner']);
  });
});

describe('the consent confirmation', () => {
  it('is not sent, and the opt-out still stands, when the keyword arrives after the window closed', async () => {
    const org = await newOrg(api);
    const c = await writes(org, 'STOP', new Date(Date.now() - DAY - 60_000));
    const consent = await api.call('GET', `/v1/contacts/${c.contactId}/consent`, { token: org.token });
    expect(consent.body.contact.optedOut).toBe(true);
    expect((await messageEvents(org)).map((e) => e.type)).toEqual(['message.create.contact.chat.contact']);
  });

  it('goes out through the outbox, within the channel’s messages-per-second with the agents’ replies', async () => {
    const org = await newOrg(api);
    await em().getConnection().execute('update channels set messages_per_second = 1 where id = ?', [org.channel.id]);
    const stopper = await writes(org, 'STOP');
    const others = [await writes(org, 'Hola'), await writes(org, 'Hola')];
    const replies = [];
    for (const o of others) {
      const res = await api.call('POST', `/v1/conversations/${o.id}/messages`, { token: org.token, body: { type: 'text', text: 'Hi' } });
      expect(res.status, res.text).toBe(202);
      replies.push(res.body.id as string);
    }
    const confirmation = (await messageEvents(org)).find((e) => e.message.role === 'bot' && e.type === 'message.create.contact.chat.bot')!.message;
    expect((await conversationOf(api, org.token, stopper.from)).id).toBe(stopper.id);

    const graph = new FakeGraph();
    // Earlier tests' messages on other channels go out too; the budget is this channel's.
    const sentAt: { at: number }[] = [];
    const timed = {
      sendMessage: async (...args: Parameters<FakeGraph['sendMessage']>) => {
        if (args[1] === org.channel.phoneNumberId) sentAt.push({ at: Date.now() });
        return graph.sendMessage(...args);
      },
    };
    const sender = new OutboundSender(api.orm, timed, api.config.encryptionKey, systemClock, createLogger({ level: 'silent' }), { pollMs: 50 });
    sender.start();
    try {
      await eventually(async () => graph.callsFor(org.channel).length >= 3 || undefined, 20_000, 'three sends');
    } finally {
      await sender.stop();
    }
    expect(graph.callsFor(org.channel).map((call) => call.messageId).sort()).toEqual([confirmation.id, ...replies].sort());
    expect(graph.callsOf(confirmation.id)[0]!.payload).toMatchObject({ type: 'text', text: { body: DEFAULT_OPT_OUT.confirmationText } });
    expect(sentAt).toHaveLength(3);
    expect(busiestWindow(sentAt, 1000)).toBeLessThanOrEqual(1);
  }, 40_000);
});
