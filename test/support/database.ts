import pg from 'pg';
import { createOrm, migrate } from '@parley/db';
import { inject } from 'vitest';

/**
 * A migrated database of a test file's own, beside the run's shared one, for tests that must see
 * every row of a table the other files write to at the same time (the outbox, which a sender
 * claims whoever queued it). `drop()` removes it.
 */
export async function ownDatabase(label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const shared = new URL(inject('databaseUrl'));
  const name = `${shared.pathname.slice(1)}_${label}`;
  const adminUrl = new URL(shared);
  adminUrl.pathname = '/postgres';
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: adminUrl.toString() });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`drop database if exists "${name}" with (force)`);
  await admin(`create database "${name}"`);
  const url = new URL(shared);
  url.pathname = `/${name}`;
  const orm = await createOrm({ url: url.toString(), poolMax: 2 });
  await migrate(orm);
  await orm.close(true);
  return { url: url.toString(), drop: () => admin(`drop database if exists "${name}" with (force)`) };
}
