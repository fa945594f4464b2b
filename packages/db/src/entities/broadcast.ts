import { EntitySchema } from '@mikro-orm/core';
import { newId } from '@parley/core';
import { Channel } from './channel';
import { organizationProperty } from './tenant';

export type BroadcastStatus = 'draft' | 'running' | 'completed' | 'cancelled' | 'failed';

/** A template sent to many recipients by a Temporal workflow; recipients live in their own table. */
export class Broadcast {
  id: string = newId();
  status: BroadcastStatus = 'running';
  total = 0;
  createdBy?: string | null = null;
  failureReason?: string | null = null;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
  finishedAt?: Date | null = null;

  constructor(
    public organization: string,
    public channel: string,
    public template: { name: string; language: string; category: string; components?: Record<string, unknown>[] | null },
    public params: Record<string, string>,
  ) {}
}

export const BroadcastSchema = new EntitySchema<Broadcast>({
  class: Broadcast,
  tableName: 'broadcasts',
  properties: {
    id: { type: 'uuid', primary: true },
    organization: organizationProperty,
    channel: { kind: 'm:1', entity: () => Channel, mapToPk: true, fieldName: 'channel_id', deleteRule: 'cascade' },
    template: { type: 'json' },
    params: { type: 'json' },
    status: { type: 'text' },
    total: { type: 'int', default: 0 },
    createdBy: { type: 'text', fieldName: 'created_by', nullable: true },
    failureReason: { type: 'text', fieldName: 'failure_reason', nullable: true },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
    updatedAt: { type: 'timestamptz', fieldName: 'updated_at', onUpdate: () => new Date() },
    finishedAt: { type: 'timestamptz', fieldName: 'finished_at', nullable: true },
  },
});

export type RecipientStatus = 'pending' | 'sending' | 'sent' | 'delivered' | 'read' | 'failed' | 'skipped' | 'unknown';

/**
 * One recipient of a broadcast, and the record of its send: claimed (`sending`, committed) before
 * the request goes out, so no crash can make it go out twice.
 */
export class BroadcastRecipient {
  id!: string;
  organization!: string;
  broadcast!: string;
  phone!: string;
  params!: Record<string, string>;
  status!: RecipientStatus;
  statusRank!: number;
  wamid?: string | null;
  error?: { code: number | string; title: string; details?: string } | null;
  skipReason?: string | null;
  attempts!: number;
  nextAttemptAt?: Date | null;
  updatedAt!: Date;
}

export const BroadcastRecipientSchema = new EntitySchema<BroadcastRecipient>({
  class: BroadcastRecipient,
  tableName: 'broadcast_recipients',
  indexes: [
    { name: 'broadcast_recipients_broadcast_status', properties: ['broadcast', 'status'] },
    { name: 'broadcast_recipients_broadcast_phone', properties: ['broadcast', 'phone'] },
    // The claim walks pending recipients in order; without this it sorts the whole broadcast each time.
    {
      name: 'broadcast_recipients_pending',
      expression: 'create index "broadcast_recipients_pending" on "broadcast_recipients" ("broadcast_id", "id") where "status" = \'pending\'',
    },
    // Statuses that arrive without the recipient's tag find their recipient by wamid.
    {
      name: 'broadcast_recipients_wamid',
      expression: 'create index "broadcast_recipients_wamid" on "broadcast_recipients" ("wamid") where "wamid" is not null',
    },
  ],
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    organization: { type: 'uuid', fieldName: 'organization_id' },
    broadcast: { kind: 'm:1', entity: () => Broadcast, mapToPk: true, fieldName: 'broadcast_id', deleteRule: 'cascade' },
    phone: { type: 'text' },
    params: { type: 'json', default: '{}' },
    status: { type: 'text' },
    statusRank: { type: 'smallint', fieldName: 'status_rank', default: 0 },
    wamid: { type: 'text', nullable: true },
    error: { type: 'json', nullable: true },
    skipReason: { type: 'text', fieldName: 'skip_reason', nullable: true },
    attempts: { type: 'int', default: 0 },
    nextAttemptAt: { type: 'timestamptz', fieldName: 'next_attempt_at', nullable: true },
    updatedAt: { type: 'timestamptz', fieldName: 'updated_at' },
  },
});

/**
 * A channel's shared send budget: a token bucket every sender of the channel draws from. It
 * smooths the sends; `ChannelSendLog` holds the hard per-second limit.
 */
export class ChannelSendBudget {
  channel!: string;
  tokens!: number;
  refilledAt!: Date;
}

export const ChannelSendBudgetSchema = new EntitySchema<ChannelSendBudget>({
  class: ChannelSendBudget,
  tableName: 'channel_send_budgets',
  properties: {
    channel: { type: 'uuid', primary: true, fieldName: 'channel_id' },
    tokens: { type: 'double' },
    refilledAt: { type: 'timestamptz', fieldName: 'refilled_at' },
  },
});

/**
 * What each draw from a channel's budget took, and when (database clock). The sum over the last
 * second bounds the next draw, so no one-second window holds more than the channel's limit.
 * Rows older than a couple of seconds are deleted by the draws themselves.
 */
export class ChannelSendLog {
  id!: string;
  channel!: string;
  drawnAt!: Date;
  count!: number;
}

export const ChannelSendLogSchema = new EntitySchema<ChannelSendLog>({
  class: ChannelSendLog,
  tableName: 'channel_send_log',
  indexes: [{ name: 'channel_send_log_channel_drawn', properties: ['channel', 'drawnAt'] }],
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    channel: { type: 'uuid', fieldName: 'channel_id' },
    drawnAt: { type: 'timestamptz', fieldName: 'drawn_at' },
    count: { type: 'int' },
  },
});
