import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apply, draft, newContact, routingOrg, type RoutingHarness, type RoutingOrg, startRoutingHarness, waitDestination, waitOutbound } from './routing-runtime-support';

/*
 * The API applies bots' transfers itself (the callback route), through its own routing runtime;
 * a destination that starts a decision tree must start it there as the worker would.
 */

let h: RoutingHarness;
let org: RoutingOrg;
let treeId: string;
let chatbotId: string;
let queueId: string;
let versionId: string;

beforeAll(async () => {
  h = await startRoutingHarness();
  org = await routingOrg(h);
  queueId = await draft(h, org, 'queues', { name: 'After the tree' });
  chatbotId = await draft(h, org, 'chatbots', { name: 'Bot', url: 'http://127.0.0.1:9/bot', fallback: { kind: 'queue', id: queueId } });
  treeId = await draft(h, org, 'decision-trees', {
    name: 'Handed over',
    tree: {
      defaultLanguage: 'en',
      start: 'hello',
      decisions: [{ id: 'hello', actions: [{ type: 'send_message', text: 'The tree has the chat now.' }], next: { type: 'immediate', target: { kind: 'queue', id: queueId } } }],
    },
  });
  versionId = await apply(h, org);
});

afterAll(async () => {
  await h?.close();
});

describe('the API’s routing runtime', () => {
  it('starts a decision tree a bot transfers the chat to', async () => {
    const contact = await newContact(h, org, 'Put me through');
    await h.api.app.services.applyDestination({
      organizationId: org.orgId,
      conversationId: contact.conversationId,
      channelId: org.channelId,
      destination: { kind: 'decision_tree', id: treeId },
      versionId,
      at: new Date(),
      path: [{ kind: 'chatbot', chatbotId, outcome: 'transfer' }],
    });
    const [sent] = await waitOutbound(h, org, contact.conversationId, 1);
    expect(sent!.content).toMatchObject({ text: 'The tree has the chat now.' });
    // The tree ran in the harness's worker and handed the chat on.
    const d = await waitDestination(h, contact.conversationId);
    expect(d.destination).toEqual({ kind: 'queue', id: queueId });
    expect(d.path).toEqual([{ kind: 'decision', treeId, decisionId: 'hello' }]);
    const [session] = await h.api.orm.em
      .fork()
      .getConnection()
      .execute<{ kind: string; object_id: string }[]>('select kind, object_id from routing_sessions where conversation_id = ? order by created_at limit 1', [contact.conversationId]);
    expect(session).toMatchObject({ kind: 'tree', object_id: treeId });
  });
});
