import { createLogger, systemClock } from '@parley/core';
import { laneOf, MetaInboundProcessor, metaWebhookPayload, PhoneNumberDirectory } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { inbound } from '../../../test/fixtures/meta';
import { startTestApiOnOwnDatabase, type TestApi } from '../../../test/support/api';
import { newOrg, newPhone } from './messaging-support';

/*
 * A drain sends only the lanes that have deliveries due, found from the oldest rows (the first
 * 200 with the default batch of 25 and two lanes), and a lane's batches grow while a backlog
 * waits. A database of this file's own: the backlog must be the only one the processor sees.
 */

let api: TestApi;
beforeAll(async () => {
  api = await startTestApiOnOwnDatabase('lanes');
});
afterAll(async () => {
  await api.close();
});

const laneOfFrom = (route: { wabaId: string; phoneNumberId: string }, from: string) =>
  laneOf(metaWebhookPayload.parse(inbound(route, from, { type: 'text', text: { body: 'x' } }).payload)) % 2;

/** Deliveries as the webhook stores them, one message each, written at once (a backlog). */
async function storeBacklog(route: { wabaId: string; phoneNumberId: string }, messages: { from: string; text: string }[]): Promise<void> {
  const rows = messages.map(({ from, text }) => {
    const payload = inbound(route, from, { type: 'text', text: { body: text } }).payload;
    return { payload: JSON.stringify(payload), lane: laneOf(metaWebhookPayload.parse(payload)) };
  });
  await api.orm.em
    .fork()
    .getConnection()
    .execute(`insert into meta_webhook_deliveries (received_at, payload, lane) select now(), r.payload::jsonb, r.lane from jsonb_to_recordset(?::jsonb) as r(payload text, lane int)`, [
      JSON.stringify(rows),
    ]);
}

describe('the inbound processor’s lanes', () => {
  it('one drain applies a backlog in every lane, a lane first seen past the oldest rows read included', async () => {
    const org = await newOrg(api);
    const busy = newPhone();
    let other = newPhone();
    while (laneOfFrom(org.route, other) === laneOfFrom(org.route, busy)) other = newPhone();
    // 450 messages of one person (one lane), then one of another person, in another lane: the
    // oldest 200 rows name only the first lane.
    await storeBacklog(org.route, [...Array.from({ length: 450 }, (_, i) => ({ from: busy, text: `busy ${i}` })), { from: other, text: 'the other lane' }]);
    const processor = new MetaInboundProcessor(api.orm, new PhoneNumberDirectory(api.orm), systemClock, createLogger({ level: 'silent' }));
    expect(await processor.drain()).toBe(451);
    const [left] = await api.orm.em.fork().getConnection().execute<{ n: number }[]>('select count(*)::int as n from meta_webhook_deliveries where processed_at is null');
    expect(left!.n).toBe(0);
    const texts = await api.orm.em
      .fork()
      .getConnection()
      .execute<{ text: string }[]>(`select content->>'text' as text from messages where organization_id = ? and direction = 'inbound'`, [org.orgId]);
    expect(texts.map((t) => t.text)).toContain('the other lane');
    expect(texts).toHaveLength(451);
    // Nothing left: a drain now reads the lanes and claims nothing.
    expect(await processor.drain()).toBe(0);
  });

  it('takes a backlog in batches that double while they come back full, up to 200', async () => {
    const org = await newOrg(api);
    const from = newPhone();
    await storeBacklog(org.route, Array.from({ length: 450 }, (_, i) => ({ from, text: `backlog ${i}` })));
    const processor = new MetaInboundProcessor(api.orm, new PhoneNumberDirectory(api.orm), systemClock, createLogger({ level: 'silent' }));
    const batches = vi.spyOn(processor, 'processBatch');
    expect(await processor.drain()).toBe(450);
    const sizes = batches.mock.calls.map((call) => call[1]);
    const claimed = await Promise.all(batches.mock.results.map(async (r) => ((await r.value) as { claimed: number }).claimed));
    expect(sizes).toEqual([25, 50, 100, 200, 200]);
    expect(claimed).toEqual([25, 50, 100, 200, 75]);
  });
});
