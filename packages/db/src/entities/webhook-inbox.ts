import { EntitySchema } from '@mikro-orm/core';

/**
 * Every signed Meta delivery, stored as received before it is acknowledged. Processing happens
 * afterwards and marks `processedAt`; rows still unprocessed after a crash are picked up again.
 */
export class MetaWebhookDelivery {
  id!: string;
  receivedAt!: Date;
  payload!: unknown;
  processedAt?: Date | null;
  attempts!: number;
  lastError?: string | null;
}

export const MetaWebhookDeliverySchema = new EntitySchema<MetaWebhookDelivery>({
  class: MetaWebhookDelivery,
  tableName: 'meta_webhook_deliveries',
  indexes: [
    {
      name: 'meta_webhook_deliveries_pending',
      expression:
        'create index "meta_webhook_deliveries_pending" on "meta_webhook_deliveries" ("id") where "processed_at" is null',
    },
  ],
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    receivedAt: { type: 'timestamptz', fieldName: 'received_at' },
    payload: { type: 'json' },
    processedAt: { type: 'timestamptz', fieldName: 'processed_at', nullable: true },
    attempts: { type: 'int', default: 0 },
    lastError: { type: 'text', fieldName: 'last_error', nullable: true },
  },
});

/**
 * Each (wamid, status) Meta reports, once: the unique key turns redeliveries into no-ops, and rows
 * whose message is not known yet wait here until it is.
 */
export class MessageStatusEvent {
  id!: string;
  organization!: string;
  wamid!: string;
  status!: string;
  occurredAt!: Date;
  recipientId?: string | null;
  bizOpaqueCallbackData?: string | null;
  errors?: unknown;
  appliedAt?: Date | null;
}

export const MessageStatusEventSchema = new EntitySchema<MessageStatusEvent>({
  class: MessageStatusEvent,
  tableName: 'message_status_events',
  uniques: [{ name: 'message_status_events_unique', properties: ['wamid', 'status'] }],
  indexes: [
    {
      name: 'message_status_events_unapplied',
      expression:
        'create index "message_status_events_unapplied" on "message_status_events" ("wamid") where "applied_at" is null',
    },
  ],
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    organization: { type: 'uuid', fieldName: 'organization_id' },
    wamid: { type: 'text' },
    status: { type: 'text' },
    occurredAt: { type: 'timestamptz', fieldName: 'occurred_at' },
    recipientId: { type: 'text', fieldName: 'recipient_id', nullable: true },
    bizOpaqueCallbackData: { type: 'text', fieldName: 'biz_opaque_callback_data', nullable: true },
    errors: { type: 'json', nullable: true },
    appliedAt: { type: 'timestamptz', fieldName: 'applied_at', nullable: true },
  },
});
