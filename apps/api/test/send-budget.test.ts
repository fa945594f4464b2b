import { createLogger, systemClock } from '@parley/core';
import { graphClientFor, OutboundSender } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busiestWindow } from '../../../bench/lib';
import { ownDatabase } from '../../../test/support/database';
import { eventually, onboardChannel, startTestPlatform, type TestPlatform } from '../../../test/support/platform';
import { contactWrites, conversationOf, newPhone } from './messaging-support';

/**
 * One budget per channel: agent replies (through the outbox) and a broadcast running at the same
 * time together stay within the channel's messages-per-second, counted where Meta would count
 * them, at the sandbox Graph API. The file has a database of its own, so its outbox sender sees
 * only its own messages and no other file's sender takes them.
 */

let p: TestPlatform;
let db: Awaited<ReturnType<typeof ownDatabase>>;
let sender: OutboundSender;
beforeAll(async () => {
  db = await ownDatabase('budget');
  p = await startTestPlatform({ databaseUrl: db.url });
  const logger = createLogger({ level: 'silent' });
  sender = new OutboundSender(p.api.orm, graphClientFor(p.api.config, logger), p.api.config.encryptionKey, systemClock, logger, { pollMs: 50 });
  sender.start();
});
afterAll(async () => {
  await sender.stop();
  await p.close();
  await db.drop();
});

describe('the channel’s send budget', () => {
  it('holds 5 per second for a running broadcast and ten agent replies together, at the sandbox', async () => {
    const limit = 5;
    const { tenant, route } = await onboardChannel(p, { messagesPerSecond: limit });
    const token = tenant.adminToken;
    const contacts = Array.from({ length: 10 }, () => newPhone());
    const conversations: string[] = [];
    for (const from of contacts) {
      await contactWrites(p.api, route, from);
      conversations.push((await conversationOf(p.api, token, from)).id);
    }

    const recipients = Array.from({ length: 25 }, (_, i) => `+1415555${String(7000 + i)}`);
    const broadcast = await p.api.call('POST', '/v1/broadcasts', {
      token,
      body: { template: { name: 'hello_world', language: 'en_US' }, users: recipients.map((phone) => ({ phone })) },
    });
    expect(broadcast.status, broadcast.text).toBe(202);
    await eventually(async () => p.sandbox.sends({ phoneNumberId: route.phoneNumberId }).length >= 3 || undefined, 15_000, 'the broadcast sending');

    // Ten agents answer at once while the broadcast runs.
    const replies = await Promise.all(
      conversations.map((id, i) => p.api.call('POST', `/v1/conversations/${id}/messages`, { token, body: { type: 'text', text: `On its way (${i})` } })),
    );
    for (const r of replies) expect(r.status, r.text).toBe(202);

    await eventually(async () => {
      const res = await p.api.call('GET', `/v1/broadcasts/${broadcast.body.id}`, { token });
      return res.body.status === 'completed' || undefined;
    }, 30_000, 'broadcast completed');
    await eventually(async () => contacts.every((to) => p.sandbox.sends({ to }).length === 1) || undefined, 15_000, 'every reply sent');

    const sends = p.sandbox.sends({ phoneNumberId: route.phoneNumberId });
    expect(sends).toHaveLength(recipients.length + contacts.length);
    for (const to of contacts) expect(p.sandbox.sends({ to }).map((s) => s.type)).toEqual(['text']);
    expect(busiestWindow(sends, 1000)).toBeLessThanOrEqual(limit);
  }, 90_000);
});
