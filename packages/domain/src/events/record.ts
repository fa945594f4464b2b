import { newId } from '@parley/core';
import type { SqlRunner } from '../sql';
import type { DomainEventType, EventPayload } from './catalog';

/** Writes a domain event in the caller's transaction, so it exists exactly when the change does. */
export async function recordEvent<T extends DomainEventType>(sql: SqlRunner, organizationId: string, type: T, data: EventPayload<T>, at: Date): Promise<void> {
  await sql.run('insert into domain_events (id, organization_id, type, data, created_at) values (?, ?, ?, ?::jsonb, ?)', [
    newId(),
    organizationId,
    type,
    JSON.stringify(data),
    at,
  ]);
}

/**
 * Events of a batch of changes, written in one statement when the batch flushes, in the same
 * transaction as the changes. Ids are taken when an event is added, so the order is the order of
 * the changes. A payload may be given as a function, called at the flush: the batch can then read
 * what its events show (conversation views) in one query for all of them.
 */
export class EventBatch {
  private rows: { id: string; org: string; type: DomainEventType; data: unknown; at: string }[] = [];

  get size(): number {
    return this.rows.length;
  }

  add<T extends DomainEventType>(organizationId: string, type: T, data: EventPayload<T> | (() => EventPayload<T>), at: Date, id: string = newId()): void {
    this.rows.push({ id, org: organizationId, type, data, at: at.toISOString() });
  }

  async flush(sql: SqlRunner): Promise<void> {
    if (!this.rows.length) return;
    const rows = JSON.stringify(this.rows.map((r) => ({ ...r, data: typeof r.data === 'function' ? (r.data as () => unknown)() : r.data })));
    this.rows = [];
    // Prepared: the events travel as one bound value instead of a literal escaped into the text.
    await sql.prepared(
      `insert into domain_events (id, organization_id, type, data, created_at)
       select id, org, type, data, at from jsonb_to_recordset(?::jsonb) as v(id uuid, org uuid, type text, data jsonb, at timestamptz) order by id`,
      [rows],
    );
  }
}
