import { newId } from '@parley/core';
import type { SqlRunner } from './sql';

/** Contract event names (`resource.operation[.conversationType.messageType.role]`). */
export type DomainEventType =
  | 'message.create.contact.chat.contact'
  | 'message.create.contact.chat.agent'
  | 'message.create.contact.chat.bot'
  | 'message.update'
  | 'conversation.create'
  | 'conversation.update'
  | 'broadcast.update'
  | 'broadcast.completed';

/** Writes a domain event in the caller's transaction, so it exists exactly when the change does. */
export async function recordEvent(
  sql: SqlRunner,
  organizationId: string,
  type: DomainEventType,
  data: Record<string, unknown>,
  at: Date,
): Promise<void> {
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
 * the changes.
 */
export class EventBatch {
  private rows: { id: string; org: string; type: DomainEventType; data: Record<string, unknown>; at: string }[] = [];

  add(organizationId: string, type: DomainEventType, data: Record<string, unknown>, at: Date): void {
    this.rows.push({ id: newId(), org: organizationId, type, data, at: at.toISOString() });
  }

  async flush(sql: SqlRunner): Promise<void> {
    if (!this.rows.length) return;
    const rows = JSON.stringify(this.rows);
    this.rows = [];
    await sql.run(
      `insert into domain_events (id, organization_id, type, data, created_at)
       select id, org, type, data, at from jsonb_to_recordset(?::jsonb) as v(id uuid, org uuid, type text, data jsonb, at timestamptz) order by id`,
      [rows],
    );
  }
}
