import { createLogger, systemClock } from '@parley/core';
import { Broadcast, Template } from '@parley/db';
import { BroadcastSender, type SendPort } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, startTestApi, type TestApi } from '../../../test/support/api';
import { insertChannel } from '../../../test/support/channels';

/** The broadcast sender against the real database, with a Graph API stand-in that can hold it up. */
let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

async function runningBroadcast(recipients: number, messagesPerSecond: number): Promise<{ organizationId: string; broadcastId: string; channelId: string }> {
  const tenant = await createTenant(api);
  const channel = await insertChannel(api, tenant.organizationId);
  const em = api.orm.em.fork();
  await em.getConnection().execute('update channels set messages_per_second = ? where id = ?', [messagesPerSecond, channel.id]);
  em.persist(new Template(tenant.organizationId, channel.id, '1', 'hello_world', 'en_US', 'APPROVED', 'UTILITY', 'POSITIONAL', [{ type: 'BODY', text: 'Hello' }]));
  const broadcast = new Broadcast(tenant.organizationId, channel.id, { name: 'hello_world', language: 'en_US', category: 'UTILITY' }, {});
  broadcast.total = recipients;
  await em.persist(broadcast).flush();
  await em.getConnection().execute(
    `insert into broadcast_recipients (organization_id, broadcast_id, phone, params, status, status_rank, attempts, updated_at)
     select ?, ?, '+1415556' || lpad(i::text, 4, '0'), '{}', 'pending', 0, 0, now() from generate_series(1, ?) as i`,
    [tenant.organizationId, broadcast.id, recipients],
  );
  return { organizationId: tenant.organizationId, broadcastId: broadcast.id, channelId: channel.id };
}

describe('the broadcast sender', () => {
  it('logs a draw whose requests were held up at the time they left, not when they were drawn', async () => {
    const { organizationId, broadcastId, channelId } = await runningBroadcast(40, 1000);
    const dispatchedAt: number[] = [];
    let held = false;
    const graph: SendPort = {
      sendMessage: async () => {
        // The first send of a group stalls the event loop, as a GC pause would, before the rest leave.
        if (!held && dispatchedAt.length === 0) {
          held = true;
          const until = Date.now() + 80;
          while (Date.now() < until);
        }
        dispatchedAt.push(Date.now());
        return { wamid: `wamid.${dispatchedAt.length}` };
      },
    };
    const sender = new BroadcastSender(api.orm, graph, api.config.encryptionKey, systemClock, createLogger({ level: 'silent' }));
    const result = await sender.sendBatch({ organizationId, broadcastId, budgetMs: 5000 });
    expect(result).toMatchObject({ processed: 40, done: true });

    const [first] = await api.orm.em
      .fork()
      .getConnection()
      .execute<{ drawn_at: Date; count: number }[]>('select drawn_at, count from channel_send_log where channel_id = ? order by id limit 1', [channelId]);
    // The first group's last request left after the stall; its draw is logged no earlier than that.
    const lastOfFirstGroup = dispatchedAt[first!.count - 1]!;
    expect(new Date(first!.drawn_at).getTime()).toBeGreaterThanOrEqual(lastOfFirstGroup - 5);
  });
});
