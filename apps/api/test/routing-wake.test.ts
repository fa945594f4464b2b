import { createLogger, systemClock } from '@parley/core';
import { ROUTING_INBOUND_WAKE_CHANNEL, RoutingDispatcher, RoutingRunner, WakeListener } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../../test/support/api';
import { eventually } from '../../../test/support/platform';
import { contactWrites, newOrg, newPhone, type Org } from './messaging-support';

/*
 * The worker's routing runner starts when a new conversation commits (its trigger's NOTIFY
 * routing_inbound), not at its next poll, and routes a burst of them side by side, so a
 * conversation does not wait behind the ones before it.
 */

let api: TestApi;
let org: Org;
let queueId: string;
const logger = createLogger({ level: 'silent' });

beforeAll(async () => {
  api = await startTestApi();
  org = await newOrg(api);
  const queue = await api.call('POST', '/v1/routing/draft/queues', { token: org.token, body: { name: 'Sales' } });
  expect(queue.status, queue.text).toBe(201);
  queueId = queue.body.id;
  const routed = await api.call('PUT', `/v1/routing/draft/channels/${org.channel.id}`, { token: org.token, body: { first: { kind: 'queue', id: queueId }, attachments: 'both' } });
  expect(routed.status, routed.text).toBe(200);
  const applied = await api.call('POST', '/v1/routing/apply', { token: org.token, body: {} });
  expect(applied.status, applied.text).toBe(201);
});
afterAll(async () => api?.close());

const routedCount = async (): Promise<number> => {
  const [row] = await api.orm.em
    .fork()
    .getConnection()
    .execute<{ n: number }[]>(`select count(*)::int as n from routing_conversations where organization_id = ? and destination->>'id' = ?`, [org.orgId, queueId]);
  return row!.n;
};

describe('waking the routing runner', () => {
  it('a new conversation is routed at once by the notification, though the runner polls once an hour', async () => {
    const runner = new RoutingRunner(api.orm, new RoutingDispatcher(systemClock, null), logger, { pollMs: 60 * 60 * 1000, organizationIds: [org.orgId] });
    let kicks = 0;
    const listener = new WakeListener(api.config.database.url!, { [ROUTING_INBOUND_WAKE_CHANNEL]: () => (kicks++, runner.kick()) }, logger, { minMs: 20, maxMs: 200 });
    runner.start();
    listener.start();
    try {
      // Listening: the catch-up kick after LISTEN has come.
      await eventually(async () => kicks > 0, 10_000, 'the listener to listen');
      await runner.settle();
      const before = await routedCount();
      await contactWrites(api, org.route, newPhone(), 'Hello');
      await eventually(async () => (await routedCount()) === before + 1, 5_000, 'the conversation routed by the wake-up');
    } finally {
      await listener.stop();
      await runner.stop();
    }
  });

  it('routes a burst side by side: a slow routing does not hold the ones after it', async () => {
    const dispatcher = new RoutingDispatcher(systemClock, null);
    // The first conversation's routing takes 2 s (a slow statement, say); the others must not wait for it.
    let first = true;
    const dispatch = dispatcher.dispatch.bind(dispatcher);
    dispatcher.dispatch = async (sql, input) => {
      if (first) {
        first = false;
        await new Promise((r) => setTimeout(r, 2000));
      }
      return dispatch(sql, input);
    };
    const runner = new RoutingRunner(api.orm, dispatcher, logger, { pollMs: 60 * 60 * 1000, organizationIds: [org.orgId] });
    const before = await routedCount();
    for (let i = 0; i < 4; i++) await contactWrites(api, org.route, newPhone(), `Burst ${i}`);
    runner.start();
    try {
      await eventually(async () => (await routedCount()) >= before + 3, 1_500, 'three of the four routed while the first is slow');
      await eventually(async () => (await routedCount()) === before + 4, 5_000, 'the slow one routed too');
    } finally {
      await runner.stop();
    }
  });
});
