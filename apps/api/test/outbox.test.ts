import { createLogger, ManualClock, systemClock } from '@parley/core';
import { DomainEvent, Message, UNSCOPED } from '@parley/db';
import { OutboundSender, UNKNOWN_OUTCOME_AFTER_MS } from '@parley/domain';
import { GraphError } from '@parley/graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../../test/support/api';
import { wamid } from '../../../test/fixtures/meta';
import { contactWrites, conversationOf, FakeGraph, metaStatus, newOrg, newPhone, newSender, type Org } from './messaging-support';

/**
 * The outbox's safety at the edges: a stopping worker claims nothing more but finishes what it
 * sent, and a send whose outcome stays unknown is failed after an hour instead of staying queued.
 *
 * Other test files share this database and its outbox, so clocks here are never moved ahead of
 * the real time (a sender from the future would expire their claims): the sends are made by a
 * sender whose clock is in the past instead.
 */

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

const em = () => api.orm.em.fork();
const MINUTE = 60_000;

async function openConversation(org: Org): Promise<string> {
  const from = newPhone();
  await contactWrites(api, org.route, from);
  return (await conversationOf(api, org.token, from)).id;
}

async function queueText(org: Org, conversationId: string, text: string): Promise<string> {
  const res = await api.call('POST', `/v1/conversations/${conversationId}/messages`, { token: org.token, body: { type: 'text', text } });
  expect(res.status, res.text).toBe(202);
  return res.body.id;
}

const messageRow = (id: string) => em().findOneOrFail(Message, { id }, UNSCOPED);
const timeout = () => new GraphError({ status: 0, code: -1, message: 'The request timed out', type: 'TimeoutError', classification: 'retryable' });

describe('stopping the outbox', () => {
  it('claims nothing after stop(), and the send in flight is finished and recorded', async () => {
    const org = await newOrg(api);
    const conversations = [await openConversation(org), await openConversation(org)];
    const inFlight = await queueText(org, conversations[0]!, 'first');
    const later = [await queueText(org, conversations[0]!, 'second'), await queueText(org, conversations[1]!, 'other')];

    let release!: () => void;
    let reached!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const sendStarted = new Promise<void>((r) => (reached = r));
    const graph = new FakeGraph();
    graph.script(inFlight, async () => {
      reached();
      await held;
      return { wamid: wamid() };
    });
    // One message per claim, oldest first: ours is claimed before the ones queued after it.
    const sender = new OutboundSender(api.orm, graph, api.config.encryptionKey, systemClock, createLogger({ level: 'silent' }), { concurrency: 1, pollMs: 20 });
    sender.start();
    await sendStarted;
    const stopped = sender.stop();
    sender.kick();
    release();
    await stopped;
    expect(await messageRow(inFlight)).toMatchObject({ sendState: 'accepted', status: 'sent' });

    // Neither a kick nor the timer starts it again: what was queued after stays for another worker.
    sender.kick();
    await new Promise((r) => setTimeout(r, 300));
    expect(graph.callsFor(org.channel).map((c) => c.messageId)).toEqual([inFlight]);
    for (const id of later) expect(graph.callsOf(id)).toEqual([]);
  });
});

describe('a send whose outcome stays unknown', () => {
  it('is failed with unknown_outcome and its message.update event an hour after the send, unless a status settled it', async () => {
    const org = await newOrg(api);
    const lost = await queueText(org, await openConversation(org), 'Did this arrive?');
    const settled = await queueText(org, await openConversation(org), 'And this?');
    const graph = new FakeGraph();
    graph.script(lost, timeout());
    graph.script(settled, timeout());
    const sentAt = new Date(Date.now() - UNKNOWN_OUTCOME_AFTER_MS - MINUTE);
    await newSender(api, graph, new ManualClock(sentAt)).settle();
    expect(await messageRow(lost)).toMatchObject({ sendState: 'unknown', status: 'queued' });
    const W = wamid();
    await metaStatus(api, org.route, W, 'delivered', { callback: `msg:${settled}` });

    // 59 minutes after the send: still waiting for Meta.
    await newSender(api, graph, new ManualClock(new Date(sentAt.getTime() + UNKNOWN_OUTCOME_AFTER_MS - MINUTE))).settle();
    expect(await messageRow(lost)).toMatchObject({ sendState: 'unknown', status: 'queued' });

    // An hour and a minute after: failed, with its event; never sent again.
    const sweptAt = new Date(sentAt.getTime() + UNKNOWN_OUTCOME_AFTER_MS + MINUTE);
    await newSender(api, graph, new ManualClock(sweptAt)).settle();
    const row = await messageRow(lost);
    expect(row).toMatchObject({ sendState: 'failed', status: 'failed', error: { code: 'unknown_outcome' } });
    expect(row.statusUpdatedAt.toISOString()).toBe(sweptAt.toISOString());
    const events = await em().find(DomainEvent, { organization: org.orgId, type: 'message.update' }, UNSCOPED);
    expect(events.filter((e) => (e.data.message as { id: string }).id === lost).map((e) => e.data)).toEqual([
      {
        message: expect.objectContaining({ id: lost, conversationId: row.conversation, status: 'failed', error: expect.objectContaining({ code: 'unknown_outcome' }) }),
        contact: expect.objectContaining({ id: expect.any(String) }),
        change: 'status',
        changes: { status: 'failed', error: expect.objectContaining({ code: 'unknown_outcome' }) },
        previous: { status: 'queued' },
      },
    ]);
    expect(graph.callsOf(lost)).toHaveLength(1);
    expect(await messageRow(settled)).toMatchObject({ status: 'delivered', wamid: W });
  });
});
