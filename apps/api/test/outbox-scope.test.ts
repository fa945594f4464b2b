import { createLogger, ManualClock } from '@parley/core';
import { Message, UNSCOPED } from '@parley/db';
import { OutboundSender } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../../test/support/api';
import { contactWrites, conversationOf, FakeGraph, newOrg, newPhone, type Org } from './messaging-support';

/**
 * The outbox sender limited to some organizations (`onlyOrganizations`), as the test platform
 * runs it: another organization's queued messages are left alone, for the sender that owns them.
 */

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

async function queueText(org: Org, text: string): Promise<string> {
  const from = newPhone();
  await contactWrites(api, org.route, from);
  const conversation = await conversationOf(api, org.token, from);
  const res = await api.call('POST', `/v1/conversations/${conversation.id}/messages`, { token: org.token, body: { type: 'text', text } });
  expect(res.status, res.text).toBe(202);
  return res.body.id;
}

const HOUR = 3_600_000;
const sql = () => api.orm.em.fork().getConnection();
const stateOf = async (id: string) => (await api.orm.em.fork().findOneOrFail(Message, { id }, UNSCOPED)).sendState;

describe('an outbox sender limited to some organizations', () => {
  it('claims, expires and sends only their messages, and follows the set as it grows', async () => {
    const mine = await newOrg(api);
    const theirs = await newOrg(api);
    const own = await queueText(mine, 'for my organization');
    const other = await queueText(theirs, 'for another');
    const stuck = await queueText(theirs, 'claimed by another sender');
    // Other test files run unlimited senders on this database. Due only in an hour, these two are
    // left to the sender here, whose clock is two hours ahead; `stuck` looks freshly claimed to
    // every sender but this one, which would take its claim for a dead sender's if it looked.
    await sql().execute(`update messages set next_attempt_at = now() + interval '1 hour' where id in (?)`, [[own, other]]);
    await sql().execute(`update messages set send_state = 'sending', claimed_at = now() where id = ?`, [stuck]);
    const only = new Set<string>();
    const graph = new FakeGraph();
    const clock = new ManualClock(new Date(Date.now() + 2 * HOUR));
    const sender = new OutboundSender(api.orm, graph, api.config.encryptionKey, clock, createLogger({ level: 'silent' }), {
      onlyOrganizations: only,
    });

    // An empty set claims nothing at all.
    await sender.settle();
    expect(graph.calls).toEqual([]);

    only.add(mine.orgId);
    await sender.settle();
    expect(graph.callsOf(own)).toHaveLength(1);
    expect(graph.callsOf(other)).toEqual([]);
    expect(await stateOf(own)).toBe('accepted');
    expect(await stateOf(other)).toBe('pending');
    expect(await stateOf(stuck)).toBe('sending');

    only.add(theirs.orgId);
    // Expired claims are looked for every few seconds, not before every claim.
    clock.advance(10_000);
    await sender.settle();
    expect(graph.callsOf(other)).toHaveLength(1);
    expect(await stateOf(other)).toBe('accepted');
    // Now its organization's: the claim, two hours old on this clock, is taken for a dead sender's.
    expect(await stateOf(stuck)).toBe('unknown');
    expect(graph.callsOf(stuck)).toEqual([]);
  });
});
