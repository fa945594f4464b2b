import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, systemClock, UnprocessableError } from '@parley/core';
import { AssistantTurns, queueMessage } from '@parley/domain';
import { countRows, DAY } from './helpers';
import { type AssistantHarness, assistantOrg, assistantState, MODEL_TIMEOUT_MS, outbound, pause, startAssistantHarness, turnOutcome, write } from './assistant-support';

let h: AssistantHarness;
beforeAll(async () => {
  h = await startAssistantHarness();
});
afterAll(async () => h?.close());

describe('the model failing', () => {
  it('retries a 429 and replies', async () => {
    const org = await assistantOrg(h);
    h.fake.on(org.marker, { status: 429, retryAfter: 0 }, { action: 'reply', reply: 'Here I am.', reason: 'ok' });
    const chat = await write(h, org, 'hello');
    expect((await turnOutcome(h, org, chat.conversationId))[0]!.outcome).toBe('replied');
    expect(h.fake.requestsWith(org.marker)).toHaveLength(2);
    expect((await outbound(h, org, chat.conversationId)).map((m) => [m.content.text, m.ai])).toEqual([['Here I am.', true]]);
  });

  it('retries a request that timed out and replies', async () => {
    const org = await assistantOrg(h);
    h.fake.on(org.marker, { hang: true }, { action: 'reply', reply: 'Sorry for the wait.', reason: 'ok' });
    const chat = await write(h, org, 'hello');
    expect((await turnOutcome(h, org, chat.conversationId, 1, MODEL_TIMEOUT_MS + 15_000))[0]!.outcome).toBe('replied');
    expect(h.fake.requestsWith(org.marker)).toHaveLength(2);
    expect(await outbound(h, org, chat.conversationId)).toHaveLength(1);
  });

  it('gives up on a model that keeps answering 5xx: nothing is sent and a person is asked, with the reason', async () => {
    const org = await assistantOrg(h, { handoffMessage: 'A colleague will take over.' });
    h.fake.on(org.marker, { status: 503 }, { status: 500 }, { status: 502 }, { status: 500 });
    const chat = await write(h, org, 'hello');
    const [turn] = await turnOutcome(h, org, chat.conversationId, 1, 25_000);
    expect(turn!.outcome).toBe('failed');
    expect(h.fake.requestsWith(org.marker)).toHaveLength(4);
    expect(await outbound(h, org, chat.conversationId)).toHaveLength(0);
    const state = await assistantState(h, org, chat.conversationId);
    expect(state.state).toBe('handed_over');
    expect(state.reason).toMatch(/^generation_failed: transient: The model answered 50\d/);
  });

  it.each([
    ['prose instead of the structure', { malformed: 'Sure! I would reply: we ship tomorrow.' }, /^generation_failed: malformed:/],
    ['JSON outside the schema', { malformed: '{"action":"dance","reason":"x","reply":null}' }, /^generation_failed: malformed:/],
    ['a refusal', { refusal: 'I cannot help with that.' }, /^generation_failed: refused: The model refused/],
  ])('treats %s as a failure at once: nothing sent, a person asked', async (_what, answer, reason) => {
    const org = await assistantOrg(h, { handoffMessage: 'A colleague will take over.' });
    h.fake.on(org.marker, answer, { action: 'reply', reply: 'must not be used', reason: 'x' });
    const chat = await write(h, org, 'hello');
    expect((await turnOutcome(h, org, chat.conversationId))[0]!.outcome).toBe('failed');
    expect(h.fake.requestsWith(org.marker)).toHaveLength(1);
    expect(await outbound(h, org, chat.conversationId)).toHaveLength(0);
    expect((await assistantState(h, org, chat.conversationId)).reason).toMatch(reason);
  });
});

describe('rules that win over the model', () => {
  it('hands over instead of replying when the window closed while the reply was made', async () => {
    const org = await assistantOrg(h, { handoffMessage: 'A colleague will take over.' });
    // The window is open when the turn asks the model, and closes while the model thinks: the
    // contact's last message becomes a day old then. (Not by wall time: on a busy machine the turn
    // could start after a window timed to close within seconds, and never ask.)
    const closeWindow = async () =>
      void (await h.api.orm.em
        .fork()
        .getConnection()
        .execute(`update contacts set last_inbound_at = last_inbound_at - interval '1 day' where organization_id = ?`, [org.orgId]));
    h.fake.on(org.marker, { action: 'reply', reply: 'late reply', reason: 'ok', delayMs: 200, meanwhile: closeWindow });
    const chat = await write(h, org, 'hello');
    expect((await turnOutcome(h, org, chat.conversationId))[0]).toEqual({ outcome: 'handed_over', reason: 'outside_customer_service_window' });
    expect(h.fake.requestsWith(org.marker)).toHaveLength(1);
    // Neither the reply nor the handoff message: outside the window only templates may go.
    expect(await outbound(h, org, chat.conversationId)).toHaveLength(0);
    expect(await assistantState(h, org, chat.conversationId)).toMatchObject({ state: 'handed_over', reason: 'outside_customer_service_window' });
  });

  it('does not answer a contact whose last message is older than the window', async () => {
    const org = await assistantOrg(h);
    const chat = await write(h, org, 'hello from yesterday', undefined, { at: new Date(Date.now() - DAY - 60_000) });
    expect((await turnOutcome(h, org, chat.conversationId))[0]).toEqual({ outcome: 'handed_over', reason: 'outside_customer_service_window' });
    expect(h.fake.requestsWith(org.marker)).toHaveLength(0);
  });

  it('hands an opted-out contact to people without an AI reply', async () => {
    const org = await assistantOrg(h, { handoffMessage: 'A colleague will take over.' });
    const chat = await write(h, org, 'hello');
    await write(h, org, 'STOP', chat);
    expect((await turnOutcome(h, org, chat.conversationId))[0]).toEqual({ outcome: 'handed_over', reason: 'contact_opted_out' });
    expect(h.fake.requestsWith(org.marker)).toHaveLength(0);
    const sent = await outbound(h, org, chat.conversationId);
    expect(sent.filter((m) => m.ai)).toHaveLength(0);
    expect(sent.map((m) => m.content.text)).not.toContain('A colleague will take over.');
  });
});

describe('durability', () => {
  it('answers a message that was stored while no worker handed turns to Temporal', async () => {
    const org = await assistantOrg(h);
    await h.signaller.stop();
    let chat;
    try {
      chat = await write(h, org, 'anyone there?');
      await pause(800);
      expect(await countRows(h.api, 'select count(*)::int as n from assistant_pending where conversation_id = ?', [chat.conversationId])).toBe(1);
      expect(h.fake.requestsWith(org.marker)).toHaveLength(0);
    } finally {
      h.signaller.start();
    }
    expect((await turnOutcome(h, org, chat.conversationId))[0]!.outcome).toBe('replied');
    expect(await countRows(h.api, 'select count(*)::int as n from assistant_pending where conversation_id = ?', [chat.conversationId])).toBe(0);
  });

  it('sends once when the delivery of a turn is retried', async () => {
    const org = await assistantOrg(h);
    const chat = await write(h, org, 'hello');
    await turnOutcome(h, org, chat.conversationId);
    const turns = new AssistantTurns(h.api.orm, null, queueMessage, systemClock, createLogger({ level: 'silent' }));
    const input = { organizationId: org.orgId, conversationId: chat.conversationId, turnId: `retry-test:${chat.conversationId}` };
    const decision = { action: 'reply' as const, reply: 'Only once, please.', reason: 'retry' };
    expect(await turns.deliver(input, decision)).toBe('replied');
    expect(await turns.deliver(input, decision)).toBe('replied');
    expect((await outbound(h, org, chat.conversationId)).filter((m) => m.content.text === 'Only once, please.')).toHaveLength(1);
    // Another organization's id with this conversation finds nothing to act on.
    const stranger = await assistantOrg(h);
    expect(await turns.deliver({ ...input, organizationId: stranger.orgId, turnId: 'stranger' }, decision)).toBe('skipped');
    expect(await countRows(h.api, 'select count(*)::int as n from assistant_turns where organization_id = ?', [stranger.orgId])).toBe(0);
    expect((await outbound(h, org, chat.conversationId)).filter((m) => m.content.text === 'Only once, please.')).toHaveLength(1);
  });

  it('hands over, instead of retrying, when the send path refuses the reply', async () => {
    const org = await assistantOrg(h);
    const chat = await write(h, org, 'hello');
    await turnOutcome(h, org, chat.conversationId);
    const refusing = async () => {
      throw new UnprocessableError('contact_has_no_phone', 'The contact has no phone number to write to on WhatsApp.');
    };
    const turns = new AssistantTurns(h.api.orm, null, refusing, systemClock, createLogger({ level: 'silent' }));
    const input = { organizationId: org.orgId, conversationId: chat.conversationId, turnId: `refused:${chat.conversationId}` };
    expect(await turns.deliver(input, { action: 'reply', reply: 'Hi', reason: 'x' })).toBe('handed_over');
    expect(await assistantState(h, org, chat.conversationId)).toMatchObject({ state: 'handed_over', reason: 'contact_has_no_phone' });
  });
});
