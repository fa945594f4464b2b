import type { ForkOptions } from '@mikro-orm/core';
import { EntityManager } from '@mikro-orm/postgresql';
import { TENANT_FILTERS } from '@parley/db';

/**
 * One database transaction around a whole unit of work, services' own transactions included:
 * they open theirs with `em.fork().transactional()`, and the forks of this EntityManager keep its
 * transaction, so theirs become savepoints of it and commit or roll back with it. A record that
 * must commit together with the writes it speaks for (an `Idempotency-Key` answer) is written here.
 */
export class SharedTransaction extends EntityManager {
  /** Shared by every fork: work that must see the transaction committed. */
  private deferred: (() => Promise<void>)[] = [];

  /** Begins a transaction with `base`'s tenant scope. */
  static async begin(base: EntityManager): Promise<SharedTransaction> {
    const em = new SharedTransaction(base.config, base.getDriver(), base.getMetadata(), false);
    for (const name of TENANT_FILTERS) {
      const params = base.getFilterParams(name);
      if (params) em.setFilterParams(name, params);
    }
    await em.begin();
    return em;
  }

  override fork(options: ForkOptions = {}): this {
    const fork = super.fork({ ...options, keepTransactionContext: true });
    fork.deferred = this.deferred;
    return fork;
  }

  defer(work: () => Promise<void>): void {
    this.deferred.push(work);
  }

  /** Commits, then runs the deferred work in order. */
  override async commit(): Promise<void> {
    await super.commit();
    for (const work of this.deferred.splice(0)) await work();
  }

  override async rollback(): Promise<void> {
    this.deferred.length = 0;
    await super.rollback();
  }
}

/**
 * Runs `work` once `em`'s writes are committed: at once, or, inside a SharedTransaction, after it
 * commits (never, if it rolls back). For what other processes act on, such as starting a workflow
 * that reads the rows just written.
 */
export async function afterCommit(em: EntityManager, work: () => Promise<void>): Promise<void> {
  if (em instanceof SharedTransaction && em.isInTransaction()) em.defer(work);
  else await work();
}
