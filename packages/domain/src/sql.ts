import { createHash } from 'node:crypto';
import type { EntityManager, Knex } from '@mikro-orm/postgresql';

/**
 * Hand-written SQL inside the EntityManager's current transaction, for the hot paths where a
 * single statement (an upsert, a conditional update) says exactly what must happen atomically.
 * Placeholders are `?`; an array binding expands to a list, so write `in (?)` for sets.
 */
export interface SqlRunner {
  all<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  run(sql: string, params?: unknown[]): Promise<void>;
  /**
   * A statement of fixed text run as a named prepared statement with bound values: PostgreSQL
   * parses it once per connection and, after a few runs, stops planning it. For the statements
   * run for every inbound message and every API read. Each `?` is one value (no list expansion:
   * pass a set as `sqlArray(values)` against `= any(?::uuid[])`), and a value whose type
   * PostgreSQL cannot infer from its place needs a cast (`?::uuid`).
   *
   * The generic plan follows the tables' statistics: ANALYZE (autovacuum's, as tables grow)
   * makes it again. Without ANALYZE, a plan made while the tables were nearly empty would stay.
   * Planning every run (`plan_cache_mode = force_custom_plan`) avoids that, but measured slower
   * than the parsing it saves (docs/benchmarks.md, inbound).
   */
  prepared<T = Record<string, unknown>>(sql: string, params: unknown[]): Promise<T[]>;
}

/**
 * A list as ONE bound value, for prepared statements: write `= any(?::uuid[])` (or `text[]`,
 * `bigint[]`). Unlike `in (?)`, whose text changes with the list's length (so it is parsed and
 * planned on every run, which for a page of 50 ids cost three times its execution), the text
 * stays the same and its plan is kept.
 */
export function sqlArray(values: readonly (string | number | bigint)[]): string {
  return `{${values.map((v) => `"${String(v).replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')}}`;
}

/**
 * A read kept for the length of a transaction (of its SqlRunner): a batch of inbound messages
 * asks a channel's route, its attachment policy or its organization's settings once, not once per
 * message. A failed read is not kept, so the item it failed is set aside and its retry asks again.
 */
export function perTransaction<T>(): (sql: SqlRunner, key: string, read: () => Promise<T>) => Promise<T> {
  const kept = new WeakMap<SqlRunner, Map<string, Promise<T>>>();
  return (sql, key, read) => {
    let known = kept.get(sql);
    if (!known) kept.set(sql, (known = new Map()));
    let value = known.get(key);
    if (!value) {
      const reads = known;
      value = read();
      reads.set(key, value);
      value.catch(() => reads.delete(key));
    }
    return value;
  };
}

interface Compiled {
  name: string;
  text: string;
}

const compiled = new Map<string, Compiled>();

/**
 * The statement's name and its text with PostgreSQL's placeholders, made once per text: the same
 * text always gets the same name, so each connection prepares it once. A `?` is a value; `\\?`
 * is a literal `?` (jsonb's operator), as knex reads them for `all` and `run`.
 */
function compile(sql: string): Compiled {
  let statement = compiled.get(sql);
  if (!statement) {
    let n = 0;
    const text = sql.replace(/(\\*)\?/g, (_match, escapes: string) => (escapes.length % 2 ? '?' : `$${++n}`));
    compiled.set(sql, (statement = { name: `parley_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`, text }));
  }
  return statement;
}

/** What `prepared` needs of knex's client: its connections (a transaction's client has one). */
interface ConnectionSource {
  acquireConnection(): Promise<{ query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }> }>;
  releaseConnection(connection: unknown): Promise<unknown>;
}

export function sqlRunner(em: EntityManager): SqlRunner {
  const connection = em.getConnection();
  const ctx = em.getTransactionContext<Knex.Transaction>();
  return {
    all: <T>(sql: string, params: unknown[] = []) => connection.execute<T[]>(sql, params, 'all', ctx),
    run: async (sql: string, params: unknown[] = []) => {
      await connection.execute(sql, params, 'run', ctx);
    },
    prepared: async <T>(sql: string, params: unknown[]) => {
      if (params.some(Array.isArray)) throw new Error('a prepared statement takes single values, not lists');
      // Straight to the driver, on the transaction's connection (or one of the pool's): knex's
      // query pipeline (placeholders rewritten on every run, the transaction checked key by key)
      // cost more than the driver itself on the statements run for every message.
      if (ctx?.isCompleted()) throw new Error('a prepared statement after its transaction ended');
      const source = (ctx ?? connection.getKnex()).client as unknown as ConnectionSource;
      const { name, text } = compile(sql);
      const driver = await source.acquireConnection();
      try {
        return (await driver.query({ name, text, values: params })).rows as T[];
      } catch (err) {
        // The same exceptions as `all` and `run` throw, so callers need not know how it ran.
        throw connection.getPlatform().getExceptionConverter().convertException(err as Error);
      } finally {
        if (!ctx) await source.releaseConnection(driver);
      }
    },
  };
}
