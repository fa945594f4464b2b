import { EntitySchema } from '@mikro-orm/core';
import { newId } from '@parley/core';
import { Channel } from './channel';
import { Conversation } from './conversation';
import { organizationProperty } from './tenant';

export type MessageDirection = 'inbound' | 'outbound';
export type MessageStatus = 'received' | 'queued' | 'sent' | 'delivered' | 'read' | 'failed';
export type MessageRole = 'contact' | 'agent' | 'bot';

/** Status order; a status only ever replaces one of lower rank. */
export const MESSAGE_STATUS_RANK: Record<MessageStatus, number> = {
  received: 0,
  queued: 0,
  sent: 1,
  delivered: 2,
  read: 3,
  failed: 4,
};

/** An earlier content of an edited or revoked message, and when it was replaced. */
export interface MessageRevision {
  type: string;
  content: Record<string, unknown>;
  replacedAt: string;
  /** The wamid of the edit or revocation that replaced it. */
  by: string;
}

export interface MessageError {
  code: number;
  title: string;
  details?: string;
}

/**
 * Where an outbound message is in its trip to Meta: `pending` (waiting its turn), `sending`
 * (claimed; a request may be in flight), `accepted` (Meta gave a wamid), `failed`, or `unknown`
 * (the process died mid-request: never re-sent blindly, resolved by Meta's status webhooks).
 */
export type SendState = 'pending' | 'sending' | 'accepted' | 'failed' | 'unknown';

export class Message {
  id: string = newId();
  sendState?: SendState | null = null;
  sendAttempts = 0;
  nextAttemptAt?: Date | null = null;
  claimedAt?: Date | null = null;
  wamid?: string | null = null;
  statusRank = 0;
  error?: MessageError | null = null;
  author?: string | null = null;
  ai = false;
  /** The contact edited the message (Meta's `edit`); `history` keeps each earlier content. */
  editedAt?: Date | null = null;
  /** The contact deleted the message for everyone (Meta's `revoke`); its content is cleared. */
  revokedAt?: Date | null = null;
  history?: MessageRevision[] | null = null;
  statusUpdatedAt: Date = new Date();
  createdAt: Date = new Date();

  constructor(
    public organization: string,
    public conversation: string,
    public channel: string | null,
    public direction: MessageDirection,
    public role: MessageRole,
    public type: string,
    /** The typed message body (text, media reference, location, interactive reply, ...). */
    public content: Record<string, unknown>,
    public status: MessageStatus,
  ) {}
}

export const MessageSchema = new EntitySchema<Message>({
  class: Message,
  tableName: 'messages',
  indexes: [
    {
      name: 'messages_wamid_unique',
      expression: 'create unique index "messages_wamid_unique" on "messages" ("wamid") where "wamid" is not null',
    },
    { properties: ['conversation', 'id'] },
    {
      name: 'messages_outbox',
      expression: 'create index "messages_outbox" on "messages" ("conversation_id", "id") where "send_state" in (\'pending\', \'sending\')',
    },
    // Sends left `unknown` with no status, failed by the outbox after an hour.
    {
      name: 'messages_unknown_outcome',
      expression: 'create index "messages_unknown_outcome" on "messages" ("claimed_at") where "send_state" = \'unknown\' and "status_rank" = 0',
    },
  ],
  properties: {
    id: { type: 'uuid', primary: true },
    organization: organizationProperty,
    conversation: { kind: 'm:1', entity: () => Conversation, mapToPk: true, fieldName: 'conversation_id', deleteRule: 'cascade' },
    channel: { kind: 'm:1', entity: () => Channel, mapToPk: true, fieldName: 'channel_id', nullable: true, deleteRule: 'set null' },
    direction: { type: 'text' },
    role: { type: 'text' },
    author: { type: 'uuid', nullable: true },
    ai: { type: 'boolean', default: false },
    type: { type: 'text' },
    content: { type: 'json' },
    wamid: { type: 'text', nullable: true },
    status: { type: 'text' },
    statusRank: { type: 'smallint', fieldName: 'status_rank', default: 0 },
    error: { type: 'json', nullable: true },
    sendState: { type: 'text', fieldName: 'send_state', nullable: true },
    sendAttempts: { type: 'int', fieldName: 'send_attempts', default: 0 },
    nextAttemptAt: { type: 'timestamptz', fieldName: 'next_attempt_at', nullable: true },
    claimedAt: { type: 'timestamptz', fieldName: 'claimed_at', nullable: true },
    editedAt: { type: 'timestamptz', fieldName: 'edited_at', nullable: true },
    revokedAt: { type: 'timestamptz', fieldName: 'revoked_at', nullable: true },
    history: { type: 'json', nullable: true },
    statusUpdatedAt: { type: 'timestamptz', fieldName: 'status_updated_at' },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
  },
});
