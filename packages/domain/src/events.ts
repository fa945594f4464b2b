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
