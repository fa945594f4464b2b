import { EntitySchema } from '@mikro-orm/core';
import { newId } from '@parley/core';
import { organizationProperty } from './tenant';

/**
 * The outbox of things that happened, written in the same transaction as the change itself, with
 * the contract's event names (`message.create.contact.chat.contact`, `conversation.create`, ...).
 * Partner webhook delivery reads from here.
 */
export class DomainEvent {
  id: string = newId();
  createdAt: Date = new Date();

  constructor(
    public organization: string,
    public type: string,
    public data: Record<string, unknown>,
  ) {}
}

export const DomainEventSchema = new EntitySchema<DomainEvent>({
  class: DomainEvent,
  tableName: 'domain_events',
  properties: {
    id: { type: 'uuid', primary: true },
    // Served by the (organization_id, created_at) index (migration 20261130050000).
    organization: { ...organizationProperty, index: false },
    type: { type: 'text' },
    data: { type: 'json' },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
  },
});
