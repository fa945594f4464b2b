import { EVENT_CATALOG } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, startTestApi } from '../../../test/support/api';
import { eventually } from '../../../test/support/platform';
import {
  type AssistantHarness,
  assistantOrg,
  assistantState,
  messagesOf,
  outbound,
  pause,
  startAssistantHarness,
  turnOutcome,
  write,
} from './assistant-support';
import { expectProblem } from './helpers';
import { newOrg, newUser } from './messaging-support';

let h: AssistantHarness;
beforeAll(async () => {
  h = await startAssistantHarness();
});
afterAll(async () => h?.close());

describe('assistant configuration', () => {
  it('is configured per channel by admins, read back, and its knowledge base edited entry by entry', async () => {
    const org = await newOrg(h.api);
    const body = {
      enabled: true,
      model: 'gpt-test',
      instructions: 'Be kind.',
      knowledgeBase: [{ title: 'Shipping', text: 'We ship in 2 days.' }],
      handoffMessage: 'A colleague will take over.',
      language: 'Spanish',
      replyLength: 'short',
      quietTimeMs: 1500,
    };
    const put = await h.api.call('PUT', `/v1/channels/${org.channel.id}/assistant`, { token: org.token, body });
    expect(put.status, put.text).toBe(200);
    expect(put.body).toMatchObject({ enabled: true, mode: 'auto', model: 'gpt-test', handoffMessage: 'A colleague will take over.', language: 'Spanish', quietTimeMs: 1500 });
    expect(put.body.knowledgeBase).toHaveLength(1);

    const added = await h.api.call('POST', `/v1/channels/${org.channel.id}/assistant/knowledge-base`, { token: org.token, body: { title: 'Returns', text: 'Returns within 30 days.' } });
    expect(added.status, added.text).toBe(201);
    const edited = await h.api.call('PATCH', `/v1/channels/${org.channel.id}/assistant/knowledge-base/${added.body.id}`, { token: org.token, body: { text: 'Returns within 60 days.' } });
    expect(edited.body).toMatchObject({ title: 'Returns', text: 'Returns within 60 days.' });
    const first = put.body.knowledgeBase[0].id;
    expect((await h.api.call('DELETE', `/v1/channels/${org.channel.id}/assistant/knowledge-base/${first}`, { token: org.token })).status).toBe(204);
    const got = await h.api.call('GET', `/v1/channels/${org.channel.id}/assistant`, { token: org.token });
    expect(got.body.knowledgeBase.map((k: { title: string; text: string }) => [k.title, k.text])).toEqual([['Returns', 'Returns within 60 days.']]);

    // Draft mode, and a mode that contradicts `enabled`.
    const draft = await h.api.call('PUT', `/v1/channels/${org.channel.id}/assistant`, { token: org.token, body: { ...body, knowledgeBase: undefined, mode: 'draft' } });
    expect(draft.body).toMatchObject({ mode: 'draft', enabled: true });
    expect(draft.body.knowledgeBase).toHaveLength(1);
    expectProblem(await h.api.call('PUT', `/v1/channels/${org.channel.id}/assistant`, { token: org.token, body: { ...body, enabled: false, mode: 'auto' } }), 400, 'validation_error');

    // Agents may not manage it; another tenant does not see the channel.
    const agent = await newUser(h.api, org.tenant, 'agent');
    expectProblem(await h.api.call('GET', `/v1/channels/${org.channel.id}/assistant`, { token: agent.token }), 403, 'forbidden');
    const other = await createTenant(h.api);
    expectProblem(await h.api.call('GET', `/v1/channels/${org.channel.id}/assistant`, { token: other.adminToken }), 404, 'not_found');
    expectProblem(await h.api.call('PUT', `/v1/channels/${org.channel.id}/assistant`, { token: other.adminToken, body }), 404, 'not_found');
  });

  it('refuses to enable without a configured provider', async () => {
    const bare = await startTestApi();
    try {
      const org = await newOrg(bare);
      const res = await bare.call('PUT', `/v1/channels/${org.channel.id}/assistant`, { token: org.token, body: { enabled: true, model: 'gpt-test', instructions: 'Hi' } });
      expectProblem(res, 400, 'assistant_not_configured');
      const off = await bare.call('PUT', `/v1/channels/${org.channel.id}/assistant`, { token: org.token, body: { enabled: false, model: 'gpt-test', instructions: 'Hi' } });
      expect(off.status, off.text).toBe(200);
      expect(off.body.mode).toBe('off');
    } finally {
      await bare.close();
    }
  });
});

describe('assistant replies', () => {
  it('answers a burst of three messages once, marked ai, through the send path', async () => {
    const org = await assistantOrg(h, { quietTimeMs: 800 });
    h.fake.on(org.marker, { action: 'reply', reply: 'We ship in two days.', reason: 'shipping question' });
    const chat = await write(h, org, 'hola');
    await write(h, org, 'tienen envío?', chat);
    await write(h, org, 'a Quetzaltenango', chat);
    const [turn] = await turnOutcome(h, org, chat.conversationId);
    expect(turn!.outcome).toBe('replied');
    const requests = h.fake.requestsWith(org.marker);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.prompt).toContain('a Quetzaltenango');
    expect(requests[0]!.responseFormat).toMatchObject({ type: 'json_schema' });
    const sent = await outbound(h, org, chat.conversationId);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ role: 'bot', ai: true, content: { text: 'We ship in two days.' } });
    expect(await assistantState(h, org, chat.conversationId)).toMatchObject({ state: 'active', tokensUsed: 120 });
  });
});

describe('a message during generation', () => {
  it('drops the answer being made and answers everything together, once', async () => {
    const org = await assistantOrg(h);
    h.fake.on(org.marker, { action: 'reply', reply: 'Answer to the first only', reason: 'first', delayMs: 1500 }, { action: 'reply', reply: 'Answer to both', reason: 'both' });
    const chat = await write(h, org, 'first question');
    await eventually(async () => h.fake.requestsWith(org.marker).length > 0, 10_000, 'the first model call');
    await write(h, org, 'second question', chat);
    expect(await turnOutcome(h, org, chat.conversationId)).toEqual([{ outcome: 'replied', reason: 'both' }]);
    const requests = h.fake.requestsWith(org.marker);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.prompt).toContain('second question');
    expect((await outbound(h, org, chat.conversationId)).map((m) => m.content.text)).toEqual(['Answer to both']);
  });
});

describe('WhatsApp-shaped replies', () => {
  it('offers the model’s options as quick-reply buttons, and falls back to text when WhatsApp would refuse them', async () => {
    const org = await assistantOrg(h);
    h.fake.on(
      org.marker,
      { action: 'reply', reply: 'Which size do you need?', buttons: ['Small', 'Large'], reason: 'size' },
      { action: 'reply', reply: 'Pick one', buttons: ['A title far longer than twenty', 'B'], reason: 'too long' },
    );
    const chat = await write(h, org, 'I want the shirt');
    await turnOutcome(h, org, chat.conversationId);
    await write(h, org, 'hmm', chat);
    await turnOutcome(h, org, chat.conversationId, 2);
    const sent = (await messagesOf(h, org, chat.conversationId)).filter((m) => m.direction === 'outbound');
    expect(sent.map((m) => [m.type, m.ai])).toEqual([
      ['interactive', true],
      ['text', true],
    ]);
    expect(sent[0]!.content).toMatchObject({
      interactive: {
        type: 'button',
        body: { text: 'Which size do you need?' },
        action: { buttons: [{ type: 'reply', reply: { title: 'Small' } }, { type: 'reply', reply: { title: 'Large' } }] },
      },
    });
    expect(sent[1]!.content.text).toBe('Pick one');
  });
});

describe('assistant context', () => {
  it('prompts with the linked request, the tenant’s fields and the most relevant entries, nothing older than the last resolve and nothing of another tenant', async () => {
    const kb = [
      { title: 'Shipping', text: 'Shipping to Quetzaltenango takes 2 days, free above Q500.' },
      { title: 'Returns', text: 'Returns are accepted within 30 days with the receipt.' },
      { title: 'Opening hours', text: 'Stores open 9 to 18, Monday to Saturday.' },
    ];
    const org = await assistantOrg(h, { knowledgeBase: kb, knowledgeTopK: 1 });
    const other = await assistantOrg(h, { knowledgeBase: [{ title: 'Shipping', text: 'OTHER-TENANT shipping costs Q999 to Quetzaltenango.' }] });
    const chat = await write(h, org, 'my old secret code is 4321');
    await turnOutcome(h, org, chat.conversationId);
    // The other tenant's contact has the same phone number and writes the same question.
    const otherChat = await write(h, other, 'OTHER-TENANT history: do you ship to Quetzaltenango?', { from: chat.from });
    await turnOutcome(h, other, otherChat.conversationId);

    expect((await h.api.call('PATCH', `/v1/conversations/${chat.conversationId}`, { token: org.token, body: { status: 'resolved' } })).status).toBe(200);
    expect((await h.api.call('PUT', `/v1/conversations/${chat.conversationId}/link-request`, { token: org.token, body: { requestId: 'REQ-7781' } })).status).toBe(200);
    const field = await h.api.call('POST', '/v1/conversations', {
      token: org.token,
      body: { type: 'contact', contact: { profile: { telephone: `+${chat.from}` } }, messages: [{ type: 'field', text: '.licenseplate XX-99-WZ' }] },
    });
    expect(field.status, field.text).toBeLessThan(300);
    h.fake.on((c) => c.prompt.includes(org.marker) && c.prompt.includes('Quetzaltenango'), { action: 'reply', reply: 'Two days, free above Q500.', reason: 'kb' });
    await write(h, org, 'Do you ship to Quetzaltenango?', chat);
    await turnOutcome(h, org, chat.conversationId, 2);

    const prompt = h.fake.requestsWith(org.marker).find((r) => r.prompt.includes('Do you ship'))!.prompt;
    expect(prompt).toContain('REQ-7781');
    expect(prompt).toContain('XX-99-WZ');
    expect(prompt).toContain('Shipping to Quetzaltenango takes 2 days');
    expect(prompt).not.toContain('Returns are accepted');
    expect(prompt).not.toContain('Stores open');
    expect(prompt).not.toContain('4321');
    expect(prompt).not.toContain('OTHER-TENANT');
    expect(prompt).not.toContain(other.marker);
  });
});

describe('human control', () => {
  it('stops when an agent writes, and answers again once resumed', async () => {
    const org = await assistantOrg(h);
    const chat = await write(h, org, 'hello');
    expect((await turnOutcome(h, org, chat.conversationId))[0]!.outcome).toBe('replied');
    const agentSend = await h.api.call('POST', `/v1/conversations/${chat.conversationId}/messages`, { token: org.token, body: { type: 'text', text: 'Ana here, I take it from now.' } });
    expect(agentSend.status, agentSend.text).toBe(202);
    expect(await assistantState(h, org, chat.conversationId)).toMatchObject({ state: 'paused', reason: 'agent_message' });
    await write(h, org, 'thanks Ana', chat);
    await pause(1200);
    expect(h.fake.requestsWith(org.marker)).toHaveLength(1);

    const resumed = await h.api.call('POST', `/v1/conversations/${chat.conversationId}/assistant/resume`, { token: org.token });
    expect(resumed.body).toMatchObject({ state: 'active', reason: null });
    await write(h, org, 'one more question', chat);
    expect((await turnOutcome(h, org, chat.conversationId, 2))[1]!.outcome).toBe('replied');
    expect((await outbound(h, org, chat.conversationId)).map((m) => [m.role, m.ai])).toEqual([
      ['bot', true],
      ['agent', false],
      ['bot', true],
    ]);
  });

  it('stops on an assignment made while the turn waits in its quiet time', async () => {
    const org = await assistantOrg(h, { quietTimeMs: 1500 });
    const agent = await newUser(h.api, org.tenant, 'agent');
    const chat = await write(h, org, 'hello?');
    const assigned = await h.api.call('PUT', `/v1/conversations/${chat.conversationId}/assign`, { token: org.token, body: { userId: agent.id } });
    expect(assigned.status, assigned.text).toBe(200);
    await pause(2500);
    expect(h.fake.requestsWith(org.marker)).toHaveLength(0);
    expect(await outbound(h, org, chat.conversationId)).toHaveLength(0);
    expect(await assistantState(h, org, chat.conversationId)).toMatchObject({ state: 'paused', reason: 'assigned' });
  });

  it('sends nothing when paused while the reply is being generated', async () => {
    const org = await assistantOrg(h);
    h.fake.on(org.marker, { action: 'reply', reply: 'too late', reason: 'slow', delayMs: 1500 });
    const chat = await write(h, org, 'hello');
    await eventually(async () => h.fake.requestsWith(org.marker).length > 0, 10_000, 'the model call');
    const paused = await h.api.call('POST', `/v1/conversations/${chat.conversationId}/assistant/pause`, { token: org.token });
    expect(paused.body).toMatchObject({ state: 'paused', reason: 'paused_by_user' });
    expect(await turnOutcome(h, org, chat.conversationId)).toEqual([{ outcome: 'skipped', reason: 'paused' }]);
    expect(await outbound(h, org, chat.conversationId)).toHaveLength(0);
  });

  it('hands over when the model says so, with the handoff message once and the reason on the conversation', async () => {
    const org = await assistantOrg(h, { handoffMessage: 'A colleague will take over shortly.' });
    h.fake.on(org.marker, { action: 'handoff', reply: null, reason: 'asks for a refund' });
    const chat = await write(h, org, 'I want a refund');
    expect((await turnOutcome(h, org, chat.conversationId))[0]).toEqual({ outcome: 'handed_over', reason: 'asks for a refund' });
    expect(await assistantState(h, org, chat.conversationId)).toMatchObject({ state: 'handed_over', reason: 'asks for a refund' });
    // The inbox shows it on the conversation itself.
    const view = await h.api.call('GET', `/v1/conversations/${chat.conversationId}`, { token: org.token });
    expect(view.body.assistant).toEqual({ state: 'handed_over', reason: 'asks for a refund' });
    const list = await h.api.call('GET', '/v1/conversations?limit=200', { token: org.token });
    expect(list.body.data.find((c: { id: string }) => c.id === chat.conversationId).assistant).toEqual({ state: 'handed_over', reason: 'asks for a refund' });
    // Partners hear of it as a conversation update.
    const events = await h.api.orm.em
      .fork()
      .getConnection()
      .execute<{ data: { changes: unknown; previous: unknown; conversation: { assistant?: unknown } } }[]>(
        `select data from domain_events where organization_id = ? and type = 'conversation.update' and data->'changes'->'assistant' is not null order by seq`,
        [org.orgId],
      );
    expect(events.map((e) => e.data.changes)).toEqual([{ assistant: { state: 'handed_over', reason: 'asks for a refund' } }]);
    expect(events[0]!.data.previous).toEqual({ assistant: { state: 'active', reason: null } });
    expect(events[0]!.data.conversation.assistant).toEqual({ state: 'handed_over', reason: 'asks for a refund' });
    expect(EVENT_CATALOG['conversation.update'].schema.safeParse(events[0]!.data).success).toBe(true);
    await write(h, org, 'hello??', chat);
    await pause(1000);
    const sent = await outbound(h, org, chat.conversationId);
    expect(sent.map((m) => [m.content.text, m.ai])).toEqual([['A colleague will take over shortly.', false]]);
    expect(h.fake.requestsWith(org.marker)).toHaveLength(1);
  });
});

describe('resolving', () => {
  it('resolves the conversation when the model says the matter is settled, with its closing line', async () => {
    const org = await assistantOrg(h);
    h.fake.on(org.marker, { action: 'resolve', reply: 'Glad to help, goodbye!', reason: 'thanked' });
    const chat = await write(h, org, 'thanks, that is all');
    expect((await turnOutcome(h, org, chat.conversationId))[0]).toEqual({ outcome: 'resolved', reason: 'thanked' });
    const conversation = await h.api.call('GET', `/v1/conversations/${chat.conversationId}`, { token: org.token });
    expect(conversation.body.status).toBe('resolved');
    expect((await outbound(h, org, chat.conversationId)).map((m) => [m.content.text, m.ai])).toEqual([['Glad to help, goodbye!', true]]);
  });
});

describe('draft mode', () => {
  it('stores suggestions, marks one stale when the contact writes again, and sends an edited one as the agent', async () => {
    const org = await assistantOrg(h, { mode: 'draft' });
    h.fake.on(org.marker, { action: 'reply', reply: 'First suggestion', reason: 'a' }, { action: 'reply', reply: 'Second suggestion', reason: 'b' });
    const chat = await write(h, org, 'hello');
    await turnOutcome(h, org, chat.conversationId);
    await write(h, org, 'are you there?', chat);
    await turnOutcome(h, org, chat.conversationId, 2);
    const list = await h.api.call('GET', `/v1/conversations/${chat.conversationId}/assistant/suggestions`, { token: org.token });
    expect(list.body.data.map((s: { text: string; state: string }) => [s.text, s.state])).toEqual([
      ['Second suggestion', 'open'],
      ['First suggestion', 'stale'],
    ]);
    expect(await outbound(h, org, chat.conversationId)).toHaveLength(0);

    const agent = await newUser(h.api, org.tenant, 'agent');
    const [second, first] = list.body.data;
    const sent = await h.api.call('POST', `/v1/conversations/${chat.conversationId}/assistant/suggestions/${second.id}/send`, { token: agent.token, body: { text: 'Second suggestion, edited' } });
    expect(sent.status, sent.text).toBe(200);
    expect(sent.body).toMatchObject({ state: 'sent', text: 'Second suggestion, edited' });
    const again = await h.api.call('POST', `/v1/conversations/${chat.conversationId}/assistant/suggestions/${second.id}/send`, { token: agent.token, body: {} });
    expectProblem(again, 409, 'suggestion_closed');
    const discarded = await h.api.call('POST', `/v1/conversations/${chat.conversationId}/assistant/suggestions/${first.id}/discard`, { token: agent.token });
    expect(discarded.body.state).toBe('discarded');
    const messages = await outbound(h, org, chat.conversationId);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ role: 'agent', ai: false, authorId: agent.id, content: { text: 'Second suggestion, edited' } });
    // Another tenant cannot see them.
    const other = await createTenant(h.api);
    expectProblem(await h.api.call('GET', `/v1/conversations/${chat.conversationId}/assistant/suggestions`, { token: other.adminToken }), 404, 'not_found');
  });
});

describe('accounting', () => {
  it('counts tokens per organization and conversation, and past the monthly budget hands over instead of answering', async () => {
    const org = await assistantOrg(h, { handoffMessage: 'A person will answer you.' });
    const budget = await h.api.call('PUT', '/v1/assistant/budget', { token: org.token, body: { monthlyTokenBudget: 100 } });
    expect(budget.body).toMatchObject({ monthlyTokenBudget: 100, tokensUsed: 0 });
    h.fake.on(org.marker, { action: 'reply', reply: 'Hi!', reason: 'greeting', usage: { prompt: 90, completion: 30 } });
    const chat = await write(h, org, 'hello');
    expect((await turnOutcome(h, org, chat.conversationId))[0]!.outcome).toBe('replied');
    await write(h, org, 'and another thing', chat);
    expect((await turnOutcome(h, org, chat.conversationId, 2))[1]).toEqual({ outcome: 'handed_over', reason: 'token_budget_exhausted' });
    expect(h.fake.requestsWith(org.marker)).toHaveLength(1);
    expect((await outbound(h, org, chat.conversationId)).map((m) => [m.content.text, m.ai])).toEqual([
      ['Hi!', true],
      ['A person will answer you.', false],
    ]);
    const usage = await h.api.call('GET', '/v1/assistant/usage', { token: org.token });
    expect(usage.body).toMatchObject({ tokensUsed: 120, monthlyTokenBudget: 100, conversations: [{ conversationId: chat.conversationId, tokensUsed: 120 }] });
    const agent = await newUser(h.api, org.tenant, 'agent');
    expectProblem(await h.api.call('GET', '/v1/assistant/usage', { token: agent.token }), 403, 'forbidden');
  });
});
