import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, startTestApi } from '../../../test/support/api';
import {
  type AssistantHarness,
  assistantOrg,
  assistantState,
  outbound,
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
