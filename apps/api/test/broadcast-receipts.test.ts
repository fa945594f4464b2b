import { Broadcast, BroadcastRecipient, ConsentEvent, Contact, UNSCOPED } from '@parley/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecipientStatuses, sqlRunner } from '@parley/domain';
import { createTenant, startTestApi, type TestApi } from '../../../test/support/api';
import { insertChannel } from '../../../test/support/channels';
import { inbound, type Route, sign, status, wamid } from '../../../test/fixtures/meta';

/**
 * Status webhooks of broadcast sends ("receipts"): the webhook applies a delivery made only of
 * them itself, in one grouped update, instead of storing it for the worker.
 */
let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

async function post(payload: unknown) {
  const body = JSON.stringify(payload);
  return api.call('POST', '/webhooks/meta', { raw: body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(body, api.config.meta.appSecret) } });
}

async function storedDeliveries(marker: string): Promise<number> {
  const rows = await api.orm.em
    .fork()
    .getConnection()
    .execute<{ n: number }[]>('select count(*)::int as n from meta_webhook_deliveries where payload::text like ?', [`%${marker}%`]);
  return rows[0]!.n;
}

/** A running broadcast with `n` recipients already sent (each with its wamid), as the sender leaves them. */
async function sentBroadcast(n: number): Promise<{ route: Route; organizationId: string; recipients: { id: string; wamid: string }[] }> {
  const tenant = await createTenant(api);
  const channel = await insertChannel(api, tenant.organizationId);
  const em = api.orm.em.fork();
  const broadcast = new Broadcast(tenant.organizationId, channel.id, { name: 'hello_world', language: 'en_US', category: 'UTILITY' }, {});
  broadcast.total = n;
  await em.persistAndFlush(broadcast);
  const wamids = Array.from({ length: n }, () => wamid());
  const rows = await em.getConnection().execute<{ id: string; wamid: string }[]>(
    `insert into broadcast_recipients (organization_id, broadcast_id, phone, params, status, status_rank, wamid, attempts, updated_at)
     select ?, ?, '+1415555' || (8000 + i), '{}', 'sent', 1, w, 1, now() from unnest(?::text[]) with ordinality as t(w, i)
     order by i returning id, wamid`,
    [tenant.organizationId, broadcast.id, `{${wamids.join(',')}}`],
  );
  const recipients = rows.map((r) => ({ id: String(r.id), wamid: r.wamid }));
  return { route: { wabaId: channel.wabaId, phoneNumberId: channel.phoneNumberId }, organizationId: tenant.organizationId, recipients };
}

async function statusOf(id: string): Promise<string> {
  const r = await api.orm.em.fork().findOneOrFail(BroadcastRecipient, { id }, UNSCOPED);
  return r.status;
}

describe('broadcast receipts on the Meta webhook', () => {
  it('are applied before the 200, without storing the delivery, and only ever move forward', async () => {
    const { route, recipients } = await sentBroadcast(2);
    const [a, b] = recipients as [{ id: string; wamid: string }, { id: string; wamid: string }];

    const read = await post(status(route, a.wamid, 'read', { callback: `bcr:${a.id}` }));
    expect(read.status).toBe(200);
    // No worker runs in this test: what the 200 promised is already in the recipient row.
    expect(await statusOf(a.id)).toBe('read');
    expect(await storedDeliveries(a.wamid)).toBe(0);

    // A late `delivered` (Meta does not promise order) and a redelivery change nothing.
    expect((await post(status(route, a.wamid, 'delivered', { callback: `bcr:${a.id}` }))).status).toBe(200);
    expect((await post(status(route, a.wamid, 'read', { callback: `bcr:${a.id}` }))).status).toBe(200);
    expect(await statusOf(a.id)).toBe('read');

    // Several receipts in one delivery, as Meta batches them: each recipient gets its furthest.
    const batched = status(route, b.wamid, 'delivered', { callback: `bcr:${b.id}` }) as { entry: { changes: { value: { statuses: unknown[] } }[] }[] };
    const readToo = status(route, b.wamid, 'read', { callback: `bcr:${b.id}` }) as typeof batched;
    batched.entry[0]!.changes[0]!.value.statuses.push(readToo.entry[0]!.changes[0]!.value.statuses[0]);
    expect((await post(batched)).status).toBe(200);
    expect(await statusOf(b.id)).toBe('read');
  });

  it('learn the wamid of a send whose outcome was lost', async () => {
    const { route, recipients } = await sentBroadcast(1);
    const r = recipients[0]!;
    await api.orm.em.fork().getConnection().execute(`update broadcast_recipients set status = 'unknown', status_rank = 0, wamid = null where id = ?`, [r.id]);
    expect((await post(status(route, r.wamid, 'delivered', { callback: `bcr:${r.id}` }))).status).toBe(200);
    const row = await api.orm.em.fork().findOneOrFail(BroadcastRecipient, { id: r.id }, UNSCOPED);
    expect(row).toMatchObject({ status: 'delivered', wamid: r.wamid });
  });

  it('cannot touch another organization’s recipient: a tag naming one is applied to nothing', async () => {
    const mine = await sentBroadcast(1);
    const theirs = await sentBroadcast(1);
    const victim = theirs.recipients[0]!;
    expect((await post(status(mine.route, victim.wamid, 'read', { callback: `bcr:${victim.id}` }))).status).toBe(200);
    expect(await statusOf(victim.id)).toBe('sent');
  });

  it('go the stored way when the delivery holds anything else: a message, a failure, or an untagged status', async () => {
    const { route, recipients } = await sentBroadcast(3);
    const [a, b, c] = recipients as [{ id: string; wamid: string }, { id: string; wamid: string }, { id: string; wamid: string }];

    const failed = status(route, a.wamid, 'failed', { callback: `bcr:${a.id}`, errors: [{ code: 131026, title: 'Message undeliverable' }] });
    expect((await post(failed)).status).toBe(200);
    expect(await storedDeliveries(a.wamid)).toBe(1);

    const mixed = status(route, b.wamid, 'read', { callback: `bcr:${b.id}` }) as { entry: { changes: { value: Record<string, unknown> }[] }[] };
    const message = inbound(route, '14155550100', { type: 'text', text: { body: 'hello' } }).payload as typeof mixed;
    mixed.entry[0]!.changes[0]!.value.messages = message.entry[0]!.changes[0]!.value.messages;
    mixed.entry[0]!.changes[0]!.value.contacts = message.entry[0]!.changes[0]!.value.contacts;
    expect((await post(mixed)).status).toBe(200);
    expect(await storedDeliveries(b.wamid)).toBe(1);

    // A Graph API that does not echo biz_opaque_callback_data: the worker finds the recipient by wamid.
    expect((await post(status(route, c.wamid, 'delivered'))).status).toBe(200);
    expect(await storedDeliveries(c.wamid)).toBe(1);

    await api.app.services.metaProcessor.settle();
    expect(await statusOf(a.id)).toBe('failed');
    expect(await statusOf(b.id)).toBe('read');
    expect(await statusOf(c.id)).toBe('delivered');
  });

  it('a 131050 failure keeps the person’s refusal of marketing on their contact, so later marketing broadcasts skip them', async () => {
    const { route, organizationId, recipients } = await sentBroadcast(1);
    const r = recipients[0]!;
    const refused = status(route, r.wamid, 'failed', { callback: `bcr:${r.id}`, errors: [{ code: 131050, title: 'User has stopped marketing messages' }] });
    expect((await post(refused)).status).toBe(200);
    expect((await post(refused)).status).toBe(200);
    await api.app.services.metaProcessor.settle();
    const row = await api.orm.em.fork().findOneOrFail(BroadcastRecipient, { id: r.id }, UNSCOPED);
    expect(row).toMatchObject({ status: 'failed', error: { code: 131050 } });
    const contact = await api.orm.em.fork().findOneOrFail(Contact, { organization: organizationId, phone: row.phone }, UNSCOPED);
    expect(contact.marketingOptedOut).toBe(true);
    const events = await api.orm.em.fork().find(ConsentEvent, { contact: contact.id }, UNSCOPED);
    expect(events.map((e) => [e.change, e.cause])).toEqual([['marketing_opt_out', 'meta_131050']]);
  });

  it('concurrent grouped updates of the same recipients lock them in one order and never deadlock', async () => {
    const { organizationId, recipients } = await sentBroadcast(300);
    const receipts = (order: typeof recipients, value: 'delivered' | 'read') => {
      const set = new RecipientStatuses();
      for (const r of order) set.add(organizationId, { id: r.wamid, status: value, timestamp: '0', biz_opaque_callback_data: `bcr:${r.id}` }, value);
      return set;
    };
    for (let round = 0; round < 10; round++) {
      await api.orm.em.fork().getConnection().execute(`update broadcast_recipients set status = 'sent', status_rank = 1 where id in (?)`, [recipients.map((r) => r.id)]);
      // Two API processes applying receipts for the same recipients, listed in opposite orders,
      // with the plan a large table gets (index lookups in the order of the list), not the hash
      // join a small test table gets, which would happen to lock in one order anyway.
      const flush = (set: RecipientStatuses) =>
        api.orm.em.fork().transactional(async (tx) => {
          const sql = sqlRunner(tx);
          await sql.run('set local enable_hashjoin = off');
          await sql.run('set local enable_mergejoin = off');
          await set.flush(sql, new Date());
        });
      await Promise.all([flush(receipts(recipients, 'delivered')), flush(receipts([...recipients].reverse(), 'read'))]);
    }
    expect(await statusOf(recipients[0]!.id)).toBe('read');
  });

  it('a status tag that is not a string is no tag: the delivery is stored, not refused', async () => {
    const { route, recipients } = await sentBroadcast(1);
    const r = recipients[0]!;
    const odd = status(route, r.wamid, 'read') as { entry: { changes: { value: { statuses: Record<string, unknown>[] } }[] }[] };
    odd.entry[0]!.changes[0]!.value.statuses[0]!.biz_opaque_callback_data = 12345;
    expect((await post(odd)).status).toBe(200);
    expect(await storedDeliveries(r.wamid)).toBe(1);
  });
});
