import { loadConfig } from '@parley/config';
import { safeErrorMessage } from '@parley/core';
import { createOrm, DEFAULT_DATABASE_TIMEOUTS, migrate, type MikroORM } from '@parley/db';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';

const opened: MikroORM[] = [];
async function orm(timeouts?: Parameters<typeof createOrm>[0]['timeouts']): Promise<MikroORM> {
  const o = await createOrm({ url: inject('databaseUrl'), poolMax: 3, timeouts });
  opened.push(o);
  return o;
}
afterAll(async () => {
  for (const o of opened) await o.close(true);
});

type Settings = { statement_timeout: string; lock_timeout: string; idle_in_transaction_session_timeout: string };
const SHOW = `select current_setting('statement_timeout') as statement_timeout, current_setting('lock_timeout') as lock_timeout,
  current_setting('idle_in_transaction_session_timeout') as idle_in_transaction_session_timeout, pg_backend_pid() as pid`;

/** The settings of `n` distinct connections of the pool: each is held by an open transaction until all have read. */
async function settingsOfConnections(o: MikroORM, n: number): Promise<(Settings & { pid: number })[]> {
  const rows: (Settings & { pid: number })[] = [];
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const transactions = Array.from({ length: n }, () =>
    o.em.fork().transactional(async (em) => {
      rows.push((await em.getConnection().execute<(Settings & { pid: number })[]>(SHOW, [], 'all', em.getTransactionContext()))[0]!);
      await held;
    }),
  );
  await waitFor(() => rows.length === n);
  release();
  await Promise.all(transactions);
  return rows;
}

async function waitFor(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
}

async function failure(run: () => Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await run();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('did not fail');
}

describe('database timeouts', () => {
  it('are set on every connection, by default statement 30 s, lock 10 s, idle in transaction 60 s', async () => {
    expect(DEFAULT_DATABASE_TIMEOUTS).toEqual({ statementMs: 30_000, lockMs: 10_000, idleInTransactionMs: 60_000 });
    const rows = await settingsOfConnections(await orm(), 3);
    expect(new Set(rows.map((r) => r.pid)).size).toBe(3);
    for (const { pid: _pid, ...settings } of rows) {
      expect(settings).toEqual({ statement_timeout: '30s', lock_timeout: '10s', idle_in_transaction_session_timeout: '1min' });
    }
  });

  it('come from the configuration (DATABASE_*_TIMEOUT_MS), unset ones keeping their default', async () => {
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_STATEMENT_TIMEOUT_MS: '1500', DATABASE_LOCK_TIMEOUT_MS: '0' });
    const [row] = await settingsOfConnections(await orm(config.database.timeouts), 1);
    expect(row).toMatchObject({ statement_timeout: '1500ms', lock_timeout: '0', idle_in_transaction_session_timeout: '1min' });
    expect(() => loadConfig({ NODE_ENV: 'test', DATABASE_STATEMENT_TIMEOUT_MS: '-1' })).toThrow(/DATABASE_STATEMENT_TIMEOUT_MS/);
  });

  it('cancel a statement that runs longer than the statement timeout', async () => {
    const o = await orm({ statementMs: 300 });
    const started = Date.now();
    const err = await failure(() => o.em.getConnection().execute('select pg_sleep(10)'));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err.code).toBe('57014');
    expect(safeErrorMessage(err)).toBe('canceling statement due to statement timeout (57014)');
    // The connection is usable afterwards.
    expect(await o.em.getConnection().execute('select 1 as one')).toEqual([{ one: 1 }]);
  });

  it('fail a statement that waits for a lock longer than the lock timeout', async () => {
    const holder = await orm();
    const waiter = await orm({ lockMs: 200, statementMs: 10_000 });
    const table = `lock_timeout_${process.pid}`;
    await holder.em.getConnection().execute(`create table ${table} (id int primary key)`);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holding = holder.em.fork().transactional(async (em) => {
      await em.getConnection().execute(`lock table ${table} in access exclusive mode`, [], 'run', em.getTransactionContext());
      locked();
      await held;
    });
    try {
      await isLocked;
      const started = Date.now();
      const err = await failure(() => waiter.em.getConnection().execute(`select * from ${table}`));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(err.code).toBe('55P03');
    } finally {
      release();
      await holding;
      await holder.em.getConnection().execute(`drop table ${table}`);
    }
  });

  it('end a session left idle in a transaction', async () => {
    const o = await orm({ idleInTransactionMs: 200 });
    const err = await failure(() =>
      o.em.fork().transactional(async (em) => {
        await em.getConnection().execute('select 1', [], 'all', em.getTransactionContext());
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        await em.getConnection().execute('select 1', [], 'all', em.getTransactionContext());
      }),
    );
    expect(err.message).toMatch(/idle-in-transaction|terminat|Connection/i);
  });

  it('do not cut migrations, which run without statement or lock limits', async () => {
    const admin = new pg.Client({ connectionString: inject('databaseUrl') });
    await admin.connect();
    const name = `parley_migrate_timeouts_${process.pid}`;
    await admin.query(`create database "${name}"`);
    try {
      const url = new URL(inject('databaseUrl'));
      url.pathname = `/${name}`;
      // The application's statements may last 1 ms here; the migrations must still all apply.
      const app = await createOrm({ url: url.toString(), poolMax: 1, timeouts: { statementMs: 1 } });
      try {
        const applied = await migrate(app);
        expect(applied.length).toBeGreaterThan(5);
      } finally {
        await app.close(true);
      }
    } finally {
      await admin.query(`drop database if exists "${name}" with (force)`);
      await admin.end();
    }
  });
});
