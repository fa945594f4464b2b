import { EntitySchema } from '@mikro-orm/core';
import { newId } from '@parley/core';
import { Channel } from './channel';
import { Contact } from './contact';
import { organizationProperty } from './tenant';

export type ConversationStatus = 'active' | 'resolved' | 'closed';

/**
 * One thread with a contact. At most one conversation per contact is open (active or resolved);
 * a resolved one reopens when the contact writes, a closed one never does.
 */
export class Conversation {
  id: string = newId();
  status: ConversationStatus = 'active';
  assignee?: string | null = null;
  requestId?: string | null = null;
  lastInboundAt?: Date | null = null;
  lastMessageAt?: Date | null = null;
  lastMessagePreview?: string | null = null;
  unreadCount = 0;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();

  constructor(
    public organization: string,
    public contact: string,
    public channel: string | null,
  ) {}
}

export const ConversationSchema = new EntitySchema<Conversation>({
  class: Conversation,
  tableName: 'conversations',
  indexes: [
    {
      name: 'conversations_open_unique',
      expression:
        'create unique index "conversations_open_unique" on "conversations" ("organization_id", "contact_id") where "status" <> \'closed\'',
    },
    { properties: ['organization', 'status', 'id'] },
  ],
  properties: {
    id: { type: 'uuid', primary: true },
    // Served by the (organization_id, status, id) index (migration 20261130050000).
    organization: { ...organizationProperty, index: false },
    contact: { kind: 'm:1', entity: () => Contact, mapToPk: true, fieldName: 'contact_id', deleteRule: 'cascade', index: true },
    channel: { kind: 'm:1', entity: () => Channel, mapToPk: true, fieldName: 'channel_id', nullable: true, deleteRule: 'set null' },
    status: { type: 'text' },
    assignee: { type: 'uuid', nullable: true },
    requestId: { type: 'text', fieldName: 'request_id', nullable: true },
    lastInboundAt: { type: 'timestamptz', fieldName: 'last_inbound_at', nullable: true },
    lastMessageAt: { type: 'timestamptz', fieldName: 'last_message_at', nullable: true },
    lastMessagePreview: { type: 'text', fieldName: 'last_message_preview', nullable: true },
    unreadCount: { type: 'int', fieldName: 'unread_count', default: 0 },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
    updatedAt: { type: 'timestamptz', fieldName: 'updated_at', onUpdate: () => new Date() },
  },
});
