import { EntitySchema } from '@mikro-orm/core';
import { newId } from '@parley/core';
import { organizationProperty } from './tenant';

export type ChannelStatus = 'active' | 'deleted';

/**
 * A WhatsApp Business phone number connected through embedded signup. The business token is kept
 * only as AES-256-GCM ciphertext (see SecretBox) and is never serialized.
 */
export class Channel {
  id: string = newId();
  status: ChannelStatus = 'active';
  qualityRating?: string | null = null;
  messagesPerSecond = 80;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
  deletedAt?: Date | null = null;

  constructor(
    public organization: string,
    public label: string,
    public wabaId: string,
    public phoneNumberId: string,
    public displayPhoneNumber: string,
    public verifiedName: string,
    public businessTokenCiphertext: string,
  ) {}
}

export const ChannelSchema = new EntitySchema<Channel>({
  class: Channel,
  tableName: 'channels',
  indexes: [
    {
      name: 'channels_phone_number_active_unique',
      expression:
        'create unique index "channels_phone_number_active_unique" on "channels" ("phone_number_id") where "status" = \'active\'',
    },
  ],
  properties: {
    id: { type: 'uuid', primary: true },
    organization: organizationProperty,
    label: { type: 'text' },
    wabaId: { type: 'text', fieldName: 'waba_id' },
    phoneNumberId: { type: 'text', fieldName: 'phone_number_id' },
    displayPhoneNumber: { type: 'text', fieldName: 'display_phone_number' },
    verifiedName: { type: 'text', fieldName: 'verified_name' },
    qualityRating: { type: 'text', fieldName: 'quality_rating', nullable: true },
    businessTokenCiphertext: { type: 'text', fieldName: 'business_token_ciphertext', hidden: true, lazy: true },
    status: { type: 'text' },
    messagesPerSecond: { type: 'int', fieldName: 'messages_per_second', default: 80 },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
    updatedAt: { type: 'timestamptz', fieldName: 'updated_at', onUpdate: () => new Date() },
    deletedAt: { type: 'timestamptz', fieldName: 'deleted_at', nullable: true },
  },
});

export type ChannelNoticeKind = 'error' | 'account_update' | 'template_status' | 'unhandled';

/**
 * What Meta told about a channel outside messages and statuses: value-level errors (a rate limit,
 * a policy block), account updates, template status changes, and fields Parley does not act on,
 * kept so that nothing Meta sends disappears unseen.
 */
export class ChannelNotice {
  id: string = newId();
  code?: number | null = null;
  title?: string | null = null;
  detail?: string | null = null;
  data: Record<string, unknown> = {};
  /** Same channel, content and day: a redelivery of the same notice, kept once. */
  fingerprint = '';
  occurredAt: Date = new Date();
  createdAt: Date = new Date();

  constructor(
    public organization: string,
    public channel: string,
    public kind: ChannelNoticeKind,
  ) {}
}

export const ChannelNoticeSchema = new EntitySchema<ChannelNotice>({
  class: ChannelNotice,
  tableName: 'channel_notices',
  indexes: [{ name: 'channel_notices_channel', properties: ['channel', 'id'] }],
  properties: {
    id: { type: 'uuid', primary: true },
    organization: organizationProperty,
    channel: { kind: 'm:1', entity: () => Channel, mapToPk: true, fieldName: 'channel_id', deleteRule: 'cascade' },
    kind: { type: 'text' },
    code: { type: 'int', nullable: true },
    title: { type: 'text', nullable: true },
    detail: { type: 'text', nullable: true },
    data: { type: 'json' },
    fingerprint: { type: 'text' },
    occurredAt: { type: 'timestamptz', fieldName: 'occurred_at' },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
  },
});
