import { newId } from '@parley/core';
import type { SqlPart, TenantSql } from './tenant';

export interface OpenedConversation {
  id: string;
  created: boolean;
  /** It was resolved and the contact's message reopened it. */
  reopened: boolean;
  previousStatus: string | null;
}

/** A contact's message (or their opening of the chat) that the conversation takes note of. */
export interface InboundNote {
  sentAt: Date;
  /** Shown in the inbox row when it is the newest message; null notes no message. */
  preview: string | null;
  unread: boolean;
}

/**
 * The open-conversation upsert as two steps of a WITH clause for the contact in `contact` (a
 * relation with an `id` column): `conv_before` (the open conversation's status before) and `conv`
 * (`id`, `inserted`). Apart so that the inbound processor can write a contact's message in one
 * statement with the same rule; `openConversation` below is the rule on its own.
 */
export function openConversationSteps(
  t: TenantSql,
  contact: SqlPart,
  options: { channelId: string | null; requestId?: string | null | undefined; reopen: boolean; now: Date; inbound?: InboundNote },
): SqlPart {
  const note = options.inbound;
  const preview = note?.preview?.slice(0, 200) ?? null;
  const sentAt = note?.sentAt ?? null;
  return {
    sql: `conv_before as (
       select o.status from conversations o join ${contact.sql} src on o.contact_id = src.id
        where o.organization_id = ? and o.status <> 'closed'
     ),
     conv as (
       insert into conversations (id, organization_id, contact_id, channel_id, status, unread_count, request_id, last_inbound_at, last_message_preview, last_message_at, created_at, updated_at)
       select ?::uuid, ?::uuid, src.id, ?::uuid, 'active', ?::int, ?::text, ?::timestamptz, ?::text, case when ?::text is not null then ?::timestamptz end, ?::timestamptz, ?::timestamptz
         from ${contact.sql} src
       on conflict (organization_id, contact_id) where status <> 'closed' do update set
         status = case when ?::boolean and conversations.status = 'resolved' then 'active' else conversations.status end,
         last_inbound_at = greatest(conversations.last_inbound_at, excluded.last_inbound_at),
         last_message_preview = case when excluded.last_message_preview is not null
           and (conversations.last_message_at is null or conversations.last_message_at <= excluded.last_message_at) then excluded.last_message_preview else conversations.last_message_preview end,
         last_message_at = greatest(conversations.last_message_at, excluded.last_message_at),
         unread_count = conversations.unread_count + excluded.unread_count,
         channel_id = coalesce(conversations.channel_id, excluded.channel_id),
         updated_at = case when ?::boolean or (?::boolean and conversations.status = 'resolved') then excluded.updated_at else conversations.updated_at end
       returning id, (xmax = 0) as inserted
     )`,
    params: [
      ...contact.params, t.organizationId,
      newId(), t.organizationId, options.channelId, note?.unread ? 1 : 0, options.requestId ?? null, sentAt, preview, preview, sentAt, options.now, options.now,
      ...contact.params,
      options.reopen,
      note !== undefined, options.reopen,
    ],
  };
}

/** What the `conv` and `conv_before` steps tell, as `openConversation` answers it. */
export function openedConversation(row: { id: string; inserted: boolean; previous_status: string | null }, reopen: boolean): OpenedConversation {
  if (row.inserted) return { id: row.id, created: true, reopened: false, previousStatus: null };
  return { id: row.id, created: false, reopened: reopen && row.previous_status === 'resolved', previousStatus: row.previous_status };
}

/**
 * The contact's open conversation (active or resolved), created if there is none, in one
 * statement: at most one is open per contact, and the unique index decides under concurrency. A
 * closed conversation is never reopened. `reopen` (a contact wrote) turns a resolved one active
 * again; `inbound` notes the contact's message (window, preview, unread) in the same write.
 */
export async function openConversation(
  t: TenantSql,
  contactId: string,
  options: { channelId: string | null; requestId?: string | null | undefined; reopen: boolean; now: Date; inbound?: InboundNote },
): Promise<OpenedConversation> {
  const steps = openConversationSteps(t, { sql: '(select ?::uuid as id)', params: [contactId] }, options);
  const [row] = await t.sql.prepared<{ id: string; inserted: boolean; previous_status: string | null }>(
    `with ${steps.sql} select id, inserted, (select status from conv_before) as previous_status from conv`,
    steps.params,
  );
  if (!row) throw new Error('open conversation could not be found or created');
  return openedConversation(row, options.reopen);
}

/** A contact's message arrived: the window, the preview (if it is the newest), the unread count. */
export async function noteInboundMessage(
  t: TenantSql,
  conversationId: string,
  input: { sentAt: Date; preview: string | null; channelId: string; unread: boolean; now: Date },
): Promise<void> {
  await t.sql.run(
    `update conversations set
       last_inbound_at = greatest(last_inbound_at, ?),
       last_message_preview = case when ?::text is not null and (last_message_at is null or last_message_at <= ?) then ? else last_message_preview end,
       last_message_at = case when ?::text is not null then greatest(last_message_at, ?) else last_message_at end,
       unread_count = unread_count + ?,
       channel_id = coalesce(channel_id, ?),
       updated_at = ?
     where id = ? and organization_id = ?`,
    [
      input.sentAt,
      input.preview, input.sentAt, input.preview?.slice(0, 200) ?? null,
      input.preview, input.sentAt,
      input.unread ? 1 : 0,
      input.channelId,
      input.now,
      conversationId,
      t.organizationId,
    ],
  );
}

/** The business wrote (an agent, a bot, the WhatsApp Business app): preview and time, no unread. */
export async function noteOutboundMessage(t: TenantSql, conversationId: string, input: { at: Date; preview: string; channelId: string | null }): Promise<void> {
  await t.sql.run(
    `update conversations set
       last_message_preview = case when last_message_at is null or last_message_at <= ? then ? else last_message_preview end,
       last_message_at = greatest(last_message_at, ?),
       channel_id = coalesce(channel_id, ?),
       updated_at = ?
     where id = ? and organization_id = ?`,
    [input.at, input.preview.slice(0, 200), input.at, input.channelId, input.at, conversationId, t.organizationId],
  );
}
