import { newId } from '@parley/core';
import type { TenantSql } from './tenant';

export interface OpenedConversation {
  id: string;
  created: boolean;
  /** It was resolved and the contact's message reopened it. */
  reopened: boolean;
  previousStatus: string | null;
}

/**
 * The contact's open conversation (active or resolved), created if there is none: at most one is
 * open per contact, and the unique index decides under concurrency. A closed conversation is
 * never reopened. `reopen` (a contact wrote) turns a resolved one active again.
 */
export async function openConversation(
  t: TenantSql,
  contactId: string,
  options: { channelId: string | null; requestId?: string | null | undefined; reopen: boolean; now: Date },
): Promise<OpenedConversation> {
  const created = await t.sql.all<{ id: string }>(
    `insert into conversations (id, organization_id, contact_id, channel_id, status, unread_count, request_id, created_at, updated_at)
     values (?, ?, ?, ?, 'active', 0, ?, ?, ?)
     on conflict (organization_id, contact_id) where status <> 'closed' do nothing returning id`,
    [newId(), t.organizationId, contactId, options.channelId, options.requestId ?? null, options.now, options.now],
  );
  if (created[0]) return { id: created[0].id, created: true, reopened: false, previousStatus: null };
  const [open] = await t.sql.all<{ id: string; status: string }>(
    `select id, status from conversations where organization_id = ? and contact_id = ? and status <> 'closed' for update`,
    [t.organizationId, contactId],
  );
  if (!open) throw new Error('open conversation vanished while it was being found');
  if (options.reopen && open.status === 'resolved') {
    await t.sql.run(`update conversations set status = 'active', updated_at = ? where id = ? and organization_id = ?`, [options.now, open.id, t.organizationId]);
    return { id: open.id, created: false, reopened: true, previousStatus: 'resolved' };
  }
  return { id: open.id, created: false, reopened: false, previousStatus: open.status };
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
