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
  /** A delivery that failed as a whole waits until then (backoff over hours). */
  nextAttemptAt?: Date | null;
  /** Out of attempts: kept, listed for the operator, and replayable. */
  parkedAt?: Date | null;
  /** 0-1023, from the person the delivery is about: the processor's lanes split the work by it. */
  lane!: number;
}

export const MetaWebhookDeliverySchema = new EntitySchema<MetaWebhookDelivery>({
  class: MetaWebhookDelivery,
  tableName: 'meta_webhook_deliveries',
  indexes: [
    {
      name: 'meta_webhook_deliveries_pending',
      expression:
        'create index "meta_webhook_deliveries_pending" on "meta_webhook_deliveries" ("id") where "processed_at" is null and "parked_at" is null',
    },
  ],
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    receivedAt: { type: 'timestamptz', fieldName: 'received_at' },
    payload: { type: 'json' },
    processedAt: { type: 'timestamptz', fieldName: 'processed_at', nullable: true },
    attempts: { type: 'int', default: 0 },
    lastError: { type: 'text', fieldName: 'last_error', nullable: true },
    nextAttemptAt: { type: 'timestamptz', fieldName: 'next_attempt_at', nullable: true },
    parkedAt: { type: 'timestamptz', fieldName: 'parked_at', nullable: true },
    lane: { type: 'smallint', default: 0 },
  },
});

export type InboundFailureState = 'retrying' | 'parked' | 'replayed';

/**
 * One item of a Meta delivery (a message, a status, a change) that could not be applied, set
 * aside on its own with its raw JSON and the reason, so its neighbours still apply. Failures that
 * may pass (a lock timeout, a database hiccup) are retried with backoff; the rest are parked for
 * the platform operator, who can replay them once the cause is fixed.
 */
export class InboundFailure {
  id!: string;
  deliveryId?: string | null;
  organization?: string | null;
  channel?: string | null;
  phoneNumberId?: string | null;
  itemKind!: string;
  item!: unknown;
  /** What applying the item needs besides itself (the change's contacts, the field). */
  context!: Record<string, unknown>;
  reason!: string;
  /** The item's identity: the same item redelivered while it waits is not set aside twice. */
  fingerprint!: string;
  state!: InboundFailureState;
  attempts!: number;
  nextAttemptAt?: Date | null;
  createdAt!: Date;
  updatedAt!: Date;
  resolvedAt?: Date | null;
}

export const InboundFailureSchema = new EntitySchema<InboundFailure>({
  class: InboundFailure,
  tableName: 'meta_inbound_failures',
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    deliveryId: { type: 'bigint', fieldName: 'delivery_id', nullable: true },
    organization: { type: 'uuid', fieldName: 'organization_id', nullable: true },
    channel: { type: 'uuid', fieldName: 'channel_id', nullable: true },
    phoneNumberId: { type: 'text', fieldName: 'phone_number_id', nullable: true },
    itemKind: { type: 'text', fieldName: 'item_kind' },
    item: { type: 'json' },
    context: { type: 'json' },
    reason: { type: 'text' },
    fingerprint: { type: 'text' },
    state: { type: 'text' },
    attempts: { type: 'int', default: 1 },
    nextAttemptAt: { type: 'timestamptz', fieldName: 'next_attempt_at', nullable: true },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
    updatedAt: { type: 'timestamptz', fieldName: 'updated_at' },
    resolvedAt: { type: 'timestamptz', fieldName: 'resolved_at', nullable: true },
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
