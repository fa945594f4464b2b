import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * Hand-written SQL inside the EntityManager's current transaction, for the hot paths where a
 * single statement (an upsert, a conditional update) says exactly what must happen atomically.
 * Placeholders are `?`; an array binding expands to a list, so write `in (?)` for sets.
 */
export interface SqlRunner {
  all<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  run(sql: string, params?: unknown[]): Promise<void>;
}

export function sqlRunner(em: EntityManager): SqlRunner {
  const connection = em.getConnection();
  const ctx = em.getTransactionContext();
  return {
    all: <T>(sql: string, params: unknown[] = []) => connection.execute<T[]>(sql, params, 'all', ctx),
    run: async (sql: string, params: unknown[] = []) => {
      await connection.execute(sql, params, 'run', ctx);
    },
  };
}
