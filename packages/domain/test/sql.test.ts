import type { MikroORM } from '@mikro-orm/postgresql';
import { createOrm } from '@parley/db';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { perTransaction, sqlArray, sqlRunner } from '../src/sql';

let orm: MikroORM;
beforeAll(async () => {
  orm = await createOrm({ url: inject('databaseUrl'), poolMax: 2 });
});
afterAll(async () => {
  await orm.close(true);
});

describe('a list bound as one value of a prepared statement', () => {
  it('arrives as the same list, whatever its values hold', async () => {
    const sql = sqlRunner(orm.em.fork());
    const awkward = ['plain', 'with "quotes"', 'back\\slash', '', 'a,b', '{braces}', 'NULL', ' padded ', 'ünïcødé 🙂', "it's", '\\"'];
    const [row] = await sql.prepared<{ values: string[] }>('select ?::text[] as values', [sqlArray(awkward)]);
    expect(row!.values).toEqual(awkward);
    const [empty] = await sql.prepared<{ n: number }>('select cardinality(?::uuid[])::int as n', [sqlArray([])]);
    expect(empty!.n).toBe(0);
    const [numbers] = await sql.prepared<{ total: string }>('select sum(x)::text as total from unnest(?::bigint[]) x', [sqlArray([1, '2', 3n])]);
    expect(numbers!.total).toBe('6');
  });

  it('keeps the statement text the same for lists of any length, so it is planned once', async () => {
    const sql = sqlRunner(orm.em.fork());
    for (const ids of [['a'], ['a', 'b', 'c'], Array.from({ length: 60 }, (_, i) => `v${i}`)]) {
      const [row] = await sql.prepared<{ n: number }>('select count(*)::int as n from unnest(?::text[]) v where v = any(?::text[])', [sqlArray(ids), sqlArray(ids.slice(0, 1))]);
      expect(row!.n).toBe(1);
    }
  });

  it('is refused as a JS array, which the driver would otherwise expand into a list', async () => {
    await expect(sqlRunner(orm.em.fork()).prepared('select ?::text[]', [['a', 'b']])).rejects.toThrow(/single values/);
  });
});

describe('a prepared statement', () => {
  it('runs on its transaction’s connection: it sees the transaction’s writes, and a rollback takes its own', async () => {
    const table = `prepared_${Date.now()}`;
    const outside = sqlRunner(orm.em.fork());
    await outside.run(`create table ${table} (v text)`);
    try {
      await expect(
        orm.em.fork().transactional(async (tx) => {
          const sql = sqlRunner(tx);
          await sql.run(`insert into ${table} values ('by run')`);
          await sql.prepared(`insert into ${table} values (?)`, ['by prepared']);
          const seen = await sql.prepared<{ v: string }>(`select v from ${table} order by v`, []);
          expect(seen.map((r) => r.v)).toEqual(['by prepared', 'by run']);
          // Not yet visible outside: the same transaction, not a connection of the pool.
          expect(await outside.prepared(`select v from ${table}`, [])).toEqual([]);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(await outside.prepared(`select v from ${table}`, [])).toEqual([]);
    } finally {
      await outside.run(`drop table ${table}`);
    }
  });

  it('reads `\\?` as jsonb’s operator and `?` as a value', async () => {
    const [row] = await sqlRunner(orm.em.fork()).prepared<{ has: boolean; other: string }>(`select ?::jsonb \\? 'a' as has, ?::text as other`, ['{"a": 1}', 'x?y']);
    expect(row).toEqual({ has: true, other: 'x?y' });
  });

  it('refuses to run once its transaction has ended, instead of running outside it', async () => {
    let late: ReturnType<typeof sqlRunner> | undefined;
    await orm.em.fork().transactional(async (tx) => {
      late = sqlRunner(tx);
    });
    await expect(late!.prepared('select 1', [])).rejects.toThrow(/after its transaction ended/);
  });
});

describe('a read kept for a transaction', () => {
  it('is read once per transaction and key, again in the next transaction, and not kept when it failed', async () => {
    const kept = perTransaction<number>();
    let reads = 0;
    const read = async () => ++reads;
    const [first, second] = [sqlRunner(orm.em.fork()), sqlRunner(orm.em.fork())];
    expect(await Promise.all([kept(first, 'a', read), kept(first, 'a', read), kept(first, 'b', read)])).toEqual([1, 1, 2]);
    expect(await kept(second, 'a', read)).toBe(3);
    await expect(kept(first, 'c', () => Promise.reject(new Error('database away')))).rejects.toThrow('database away');
    expect(await kept(first, 'c', read)).toBe(4);
  });
});

describe('the documents stored whole', () => {
  it('carry no statistics, so ANALYZE does not sort them (autovacuum runs it as busy tables grow)', async () => {
    const rows = await sqlRunner(orm.em.fork()).all<{ name: string; target: number }>(
      `select c.relname || '.' || a.attname as name, a.attstattarget as target
         from pg_attribute a join pg_class c on c.oid = a.attrelid
        where (c.relname, a.attname) in (('meta_webhook_deliveries', 'payload'), ('domain_events', 'data'), ('messages', 'content'))`,
    );
    expect(Object.fromEntries(rows.map((r) => [r.name, Number(r.target)]))).toEqual({ 'meta_webhook_deliveries.payload': 0, 'domain_events.data': 0, 'messages.content': 0 });
  });
});
