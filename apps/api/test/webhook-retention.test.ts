import { createLogger, newId, systemClock } from '@parley/core';
import { createOrm } from '@parley/db';
import { idFloorOf, purgeWebhookHistory, sqlRunner } from '@parley/domain';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createMaintenanceActivities } from '../../worker/src/activities/maintenance';
import { ownDatabase } from '../../../test/support/database';
import { DAY } from './helpers';

// Retention deletes across tenants, so it runs in a database of its own.
let db: Awaited<ReturnType<typeof ownDatabase>>;
let orm: MikroORM;

beforeAll(async () => {
  db = await ownDatabase('webhook_retention');
  orm = await createOrm({ url: db.url, poolMax: 2 });
});
afterAll(async () => {
  await orm.close(true);
  await db.drop();
});

it('the id floor of a moment sorts below every id made after it and above those made before', () => {
  const before = newId();
  const floor = idFloorOf(new Date());
  const after = newId();
  expect(before < floor || before.slice(0, 13) === floor.slice(0, 13)).toBe(true);
  expect(after >= floor).toBe(true);
  expect(idFloorOf(new Date(0))).toBe('00000000-0000-7000-8000-000000000000');
});

it('purges settled deliveries and dispatched events past 30 days, and keeps what is pending or recent', async () => {
  const sql = sqlRunner(orm.em.fork());
  const org = newId();
  const sub = newId();
  const at = new Date();
  await sql.run(`insert into organizations (id, name, tags, created_at, updated_at) values (?, 'Retention', '{}', ?, ?)`, [org, at, at]);
  await sql.run(
    `insert into webhook_subscriptions (id, organization_id, url, events, secret_ciphertext, created_at, updated_at)
     values (?, ?, 'https://hooks.example.com/x', '{message}', 'sealed', ?, ?)`,
    [sub, org, at, at],
  );
  const event = async (dispatched: boolean) => {
    const id = newId();
    await sql.run(`insert into domain_events (id, organization_id, type, data, created_at, dispatched_at) values (?, ?, 'message.update', '{}', ?, ?)`, [
      id,
      org,
      at,
      dispatched ? at : null,
    ]);
    return id;
  };
  const delivery = async (eventId: string, status: string) => {
    const id = newId();
    await sql.run(
      `insert into webhook_deliveries (id, organization_id, subscription_id, event_id, event_type, event_created_at, status, created_at)
       values (?, ?, ?, ?, 'message.update', ?, ?, ?)`,
      [id, org, sub, eventId, at, status, at],
    );
    await sql.run(`insert into webhook_attempts (delivery_id, organization_id, attempted_at, trigger, succeeded, latency_ms) values (?, ?, ?, 'event', true, 3)`, [
      id,
      org,
      at,
    ]);
    return id;
  };
  const delivered = await event(true);
  const deliveredDelivery = await delivery(delivered, 'succeeded');
  const waiting = await event(true);
  await delivery(waiting, 'pending');
  await event(false);
  const count = async (table: string) => (await sql.all<{ n: number }>(`select count(*)::int as n from ${table}`))[0]!.n;

  // 29 days on, all of it is kept.
  expect(await purgeWebhookHistory(sql, new Date(at.getTime() + 29 * DAY))).toEqual({ deliveries: 0, events: 0 });
  // 31 days on: the settled delivery (and its attempt) goes; the pending one stays until its event
  // goes; the undispatched event stays. Deleting the waiting event takes its pending delivery.
  const purged = await purgeWebhookHistory(sql, new Date(at.getTime() + 31 * DAY), { batchSize: 1 });
  expect(purged).toEqual({ deliveries: 1, events: 2 });
  expect(await count('webhook_deliveries')).toBe(0);
  expect(await count('webhook_attempts')).toBe(0);
  expect((await sql.all<{ id: string }>('select id from domain_events')).map((r) => r.id)).not.toContain(delivered);
  expect(await count('domain_events')).toBe(1);
  expect(deliveredDelivery).toBeDefined();

  // The maintenance activity runs it.
  const result = await createMaintenanceActivities({ orm, clock: systemClock, logger: createLogger({ level: 'silent' }) }).purgeExpiredRecords();
  expect(result).toMatchObject({ webhookDeliveries: 0, domainEvents: 0 });
});
