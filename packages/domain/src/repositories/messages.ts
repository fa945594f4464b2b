import { newId } from '@parley/core';
import type { MessageRevision, MessageRole, MessageStatus, SendState } from '@parley/db';
import type { MessageView } from '../conversations';
import type { SqlPart, TenantSql } from './tenant';

/** A messages row as SQL returns it; `messageRowView` turns it into what the API shows. */
export interface MessageRow {
  id: string;
  conversation_id: string;
  channel_id: string | null;
  direction: 'inbound' | 'outbound';
  role: MessageRole;
  type: string;
  content: Record<string, unknown>;
  status: MessageStatus;
  wamid: string | null;
  error: { code: number; title: string; details?: string } | null;
  ai: boolean;
  author: string | null;
  edited_at: Date | null;
  revoked_at: Date | null;
  history: MessageRevision[] | null;
  status_updated_at: Date;
  created_at: Date;
}

/** A message row with its conversation's contact, for what is told about the message. */
export interface MessageWithContactRow extends MessageRow {
  contact_id: string;
  contact_name: string | null;
  contact_phone: string | null;
}

/** Joined to `m` (a message) as `cv` and `ct`; selects what `MessageWithContactRow` adds. */
const CONTACT_OF_M = `conversations cv join contacts ct on ct.id = cv.contact_id`;
const CONTACT_COLUMNS = `ct.id as contact_id, ct.name as contact_name, ct.phone as contact_phone`;

const COLUMN_NAMES = ['id', 'conversation_id', 'channel_id', 'direction', 'role', 'type', 'content', 'status', 'wamid', 'error', 'ai', 'author', 'edited_at', 'revoked_at', 'history', 'status_updated_at', 'created_at'];
const COLUMNS = COLUMN_NAMES.join(', ');

/** The columns of a `MessageRow`, qualified by `alias` (for statements that join other tables). */
export function messageColumns(alias: string): string {
  return COLUMN_NAMES.map((c) => `${alias}.${c}`).join(', ');
}

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

export function messageRowView(r: MessageRow): MessageView {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    channelId: r.channel_id,
    touchpoint: 'whatsapp',
    direction: r.direction,
    role: r.role,
    type: r.type,
    content: r.content,
    status: r.status,
    wamid: r.wamid,
    error: r.error,
    ai: r.ai,
    authorId: r.author,
    editedAt: iso(r.edited_at),
    deletedAt: iso(r.revoked_at),
    history: r.history ?? [],
    createdAt: iso(r.created_at)!,
    statusUpdatedAt: iso(r.status_updated_at)!,
  };
}

/**
 * The insert of a contact's message into the conversation in `conversation` (a relation with an
 * `id` column), returning the `MessageRow` columns: a wamid seen before inserts nothing. Apart so
 * that the inbound processor can write a contact's message in one statement with the same rule.
 */
export function insertInboundMessageStep(
  t: TenantSql,
  conversation: SqlPart,
  input: { channelId: string; type: string; content: Record<string, unknown>; wamid: string; sentAt: Date; now: Date },
): SqlPart {
  return {
    sql: `insert into messages (id, organization_id, conversation_id, channel_id, direction, role, ai, type, content, wamid, status, status_rank, status_updated_at, created_at)
     select ?::uuid, ?::uuid, src.id, ?::uuid, 'inbound', 'contact', false, ?::text, ?::jsonb, ?::text, 'received', 0, ?::timestamptz, ?::timestamptz from ${conversation.sql} src
     on conflict (wamid) where wamid is not null do nothing returning ${COLUMNS}`,
    params: [newId(), t.organizationId, input.channelId, input.type, JSON.stringify(input.content), input.wamid, input.now, input.sentAt, ...conversation.params],
  };
}

/** A contact's message, stored once: a wamid seen before creates nothing (answers null). */
export async function insertInboundMessage(
  t: TenantSql,
  input: { conversationId: string; channelId: string; type: string; content: Record<string, unknown>; wamid: string; sentAt: Date; now: Date },
): Promise<MessageRow | null> {
  const step = insertInboundMessageStep(t, { sql: '(select ?::uuid as id)', params: [input.conversationId] }, input);
  const [row] = await t.sql.prepared<MessageRow>(step.sql, step.params);
  return row ?? null;
}

/**
 * A message the business sends or sent. Queued ones (`sendState: 'pending'`) are picked up by the
 * outbox; one written in the WhatsApp Business app arrives already sent, with its wamid.
 */
export async function insertOutboundMessage(
  t: TenantSql,
  input: {
    id?: string;
    conversationId: string;
    channelId: string | null;
    role: MessageRole;
    author?: string | null;
    ai?: boolean;
    /** Who queued it (queueMessage's actor): its kind, and the user, installation or reason. */
    sender?: { kind: string; ref: string | null };
    type: string;
    content: Record<string, unknown>;
    status: MessageStatus;
    sendState: SendState;
    wamid?: string | null;
    at: Date;
  },
): Promise<MessageRow | null> {
  const rank = input.status === 'queued' ? 0 : input.status === 'sent' ? 1 : 0;
  const [row] = await t.sql.all<MessageRow>(
    `insert into messages (id, organization_id, conversation_id, channel_id, direction, role, author, ai, sender_kind, sender_ref, type, content, wamid, status, status_rank, send_state, send_attempts, status_updated_at, created_at)
     values (?, ?, ?, ?, 'outbound', ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, 0, ?, ?)
     on conflict (wamid) where wamid is not null do nothing returning ${COLUMNS}`,
    [
      input.id ?? newId(),
      t.organizationId,
      input.conversationId,
      input.channelId,
      input.role,
      input.author ?? null,
      input.ai ?? false,
      input.sender?.kind ?? null,
      input.sender?.ref ?? null,
      input.type,
      JSON.stringify(input.content),
      input.wamid ?? null,
      input.status,
      rank,
      input.sendState,
      input.at,
      input.at,
    ],
  );
  return row ?? null;
}

/**
 * The contact (or the business, from its app) edited a message: it takes the new content and the
 * old one joins its history; its reply context, ad referral and source stay. Answers null when
 * the original is not known (yet).
 */
export async function editMessage(
  t: TenantSql,
  originalWamid: string,
  input: { type: string; content: Record<string, unknown>; editWamid: string; at: Date },
): Promise<MessageWithContactRow | null> {
  const [row] = await t.sql.all<MessageWithContactRow>(
    `update messages m set
       history = coalesce(m.history, '[]'::jsonb) || jsonb_build_array(jsonb_build_object('type', m.type, 'content', m.content, 'replacedAt', ?::text, 'by', ?::text)),
       type = ?,
       -- What the message was a reply to, the ad that started it, and where it came from stay with it.
       content = ?::jsonb || jsonb_strip_nulls(jsonb_build_object('context', m.content->'context', 'referral', m.content->'referral', 'source', m.content->'source')),
       edited_at = ?
     from ${CONTACT_OF_M}
     where cv.id = m.conversation_id and m.wamid = ? and m.organization_id = ? and m.revoked_at is null
       and not coalesce(m.history, '[]'::jsonb) @> jsonb_build_array(jsonb_build_object('by', ?::text))
     returning ${messageColumns('m')}, ${CONTACT_COLUMNS}`,
    [input.at.toISOString(), input.editWamid, input.type, JSON.stringify(input.content), input.at, originalWamid, t.organizationId, input.editWamid],
  );
  return row ?? null;
}

/**
 * The contact deleted a message for everyone: its content is cleared from the message (and
 * from its history), and the message stays in the thread marked deleted. Answers the row when
 * it changed, `unchanged` when it was already deleted, null when the original is not known.
 */
export async function revokeMessage(t: TenantSql, originalWamid: string, input: { revokeWamid: string; at: Date }): Promise<MessageWithContactRow | 'unchanged' | null> {
  const [row] = await t.sql.all<MessageWithContactRow>(
    `update messages m set content = '{}'::jsonb, history = null, revoked_at = ?
     from ${CONTACT_OF_M}
     where cv.id = m.conversation_id and m.wamid = ? and m.organization_id = ? and m.revoked_at is null
     returning ${messageColumns('m')}, ${CONTACT_COLUMNS}`,
    [input.at, originalWamid, t.organizationId],
  );
  if (row) return row;
  const known = await t.sql.all('select 1 from messages where wamid = ? and organization_id = ?', [originalWamid, t.organizationId]);
  return known.length ? 'unchanged' : null;
}

export async function findMessageByWamid(t: TenantSql, wamid: string): Promise<MessageRow | null> {
  const [row] = await t.sql.all<MessageRow>(`select ${COLUMNS} from messages where wamid = ? and organization_id = ?`, [wamid, t.organizationId]);
  return row ?? null;
}
