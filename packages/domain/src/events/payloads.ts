import type { ConversationStatus } from '@parley/db';
import { broadcastView } from '../broadcasts/service';
import { broadcastStatistics } from '../broadcasts/stats';
import { type ConversationView, conversationView } from '../conversations';
import { type MessageRow, messageRowView, type MessageWithContactRow } from '../repositories/messages';
import type { ConversationRouting } from '../routing/runtime-state';
import { type SqlRunner, sqlArray } from '../sql';
import type {
  BroadcastEventData,
  ContactRef,
  ConversationChanges,
  ConversationCreatedData,
  ConversationUpdatedData,
  MessageChanges,
  MessageCreatedData,
  MessageUpdatedData,
} from './catalog';

/*
 * One payload builder per resource. Each builds the view the API answers for that resource, with
 * the API's own view functions, so a partner sees one shape of message, conversation and
 * broadcast whether it reads them or is told about them.
 */

// ---- messages ----

/** A message row and its conversation's contact, as `messagesWithContact` selects them. */
export type MessageContactRow = MessageWithContactRow;

/**
 * Selects the message rows of `source` (a CTE or table of message columns, such as an update's
 * RETURNING) with their contact, joined by key: one statement for a whole batch.
 */
export function messagesWithContact(source: string): string {
  return `select src.*, ct.id as contact_id, ct.name as contact_name, ct.phone as contact_phone
            from ${source} src join conversations cv on cv.id = src.conversation_id join contacts ct on ct.id = cv.contact_id`;
}

export function contactRef(c: { id: string; name?: string | null | undefined; phone?: string | null | undefined }): ContactRef {
  return { id: c.id, name: c.name ?? null, phone: c.phone ?? null };
}

export function contactOfRow(r: MessageContactRow): ContactRef {
  return { id: r.contact_id, name: r.contact_name, phone: r.contact_phone };
}

/** `message.create.*`: the message as the API lists it, and who the conversation is with. */
export function messageCreated(row: MessageRow, contact: ContactRef): MessageCreatedData {
  return { message: messageRowView(row), contact };
}

/** `message.update`: the message as it is now, and what changed. */
export function messageUpdated(
  row: MessageRow,
  contact: ContactRef,
  change: MessageUpdatedData['change'],
  changes: MessageChanges,
  previous: MessageChanges,
): MessageUpdatedData {
  return { message: messageRowView(row), contact, change, changes, previous };
}

/** `message.update` for a status step: to `status` (with `error` on failure), from `previousStatus`. */
export function messageStatusChanged(row: MessageRow, contact: ContactRef, previousStatus: string, extra: { wamid?: { from: string | null } } = {}): MessageUpdatedData {
  const changes: MessageChanges = { status: row.status, ...(row.status === 'failed' ? { error: row.error } : {}), ...(extra.wamid ? { wamid: row.wamid } : {}) };
  const previous: MessageChanges = { status: previousStatus, ...(extra.wamid ? { wamid: extra.wamid.from } : {}) };
  return messageUpdated(row, contact, 'status', changes, previous);
}

/** `message.update` for an edit: the new type and content; the old ones are the newest `history` entry. */
export function messageEdited(row: MessageRow, contact: ContactRef): MessageUpdatedData {
  const view = messageRowView(row);
  const replaced = view.history[view.history.length - 1] as { type?: string; content?: Record<string, unknown> } | undefined;
  return {
    message: view,
    contact,
    change: 'edited',
    changes: { type: view.type, content: view.content, editedAt: view.editedAt },
    previous: { ...(replaced?.type !== undefined ? { type: replaced.type } : {}), ...(replaced?.content !== undefined ? { content: replaced.content } : {}) },
  };
}

/** `message.update` for a deletion for everyone; what it said is gone, and not repeated here. */
export function messageDeleted(row: MessageRow, contact: ContactRef): MessageUpdatedData {
  const view = messageRowView(row);
  return { message: view, contact, change: 'deleted', changes: { deletedAt: view.deletedAt }, previous: { deletedAt: null } };
}

// ---- conversations ----

interface ConversationViewRow {
  id: string;
  status: ConversationStatus;
  channel_id: string | null;
  request_id: string | null;
  unread_count: number;
  last_message_preview: string | null;
  last_message_at: Date | string | null;
  last_inbound_at: Date | string | null;
  created_at: Date | string;
  updated_at: Date | string;
  contact_id: string;
  contact_name: string | null;
  contact_phone: string | null;
  contact_email: string | null;
  contact_last_inbound_at: Date | string | null;
  opted_out: boolean;
  marketing_opted_out: boolean;
  assignee_id: string | null;
  assignee_name: string | null;
  assignee_email: string | null;
  assistant_state: 'active' | 'paused' | 'handed_over' | null;
  assistant_reason: string | null;
}

const date = (d: Date | string | null): Date | null => (d === null ? null : new Date(d));

/** The API's views of conversations, read in one statement however many there are. */
export async function conversationViews(
  sql: SqlRunner,
  organizationId: string,
  ids: string[],
  now: Date,
  routings?: Map<string, ConversationRouting>,
): Promise<Map<string, ConversationView>> {
  if (!ids.length) return new Map();
  const rows = await sql.prepared<ConversationViewRow>(
    `select cv.id, cv.status, cv.channel_id, cv.request_id, cv.unread_count, cv.last_message_preview, cv.last_message_at, cv.last_inbound_at, cv.created_at, cv.updated_at,
            ct.id as contact_id, ct.name as contact_name, ct.phone as contact_phone, ct.email as contact_email, ct.last_inbound_at as contact_last_inbound_at,
            ct.opted_out, ct.marketing_opted_out, u.id as assignee_id, u.name as assignee_name, u.email as assignee_email,
            ac.state as assistant_state, ac.reason as assistant_reason
       from conversations cv
       join contacts ct on ct.id = cv.contact_id
       left join users u on u.id = cv.assignee and u.organization_id = cv.organization_id
       left join assistant_conversations ac on ac.conversation_id = cv.id and ac.organization_id = cv.organization_id
      where cv.organization_id = ? and cv.id = any(?::uuid[])`,
    [organizationId, sqlArray([...new Set(ids)])],
  );
  return new Map(
    rows.map((r) => [
      r.id,
      conversationView(
        {
          id: r.id,
          status: r.status,
          channelId: r.channel_id,
          requestId: r.request_id,
          unreadCount: r.unread_count,
          lastMessagePreview: r.last_message_preview,
          lastMessageAt: date(r.last_message_at),
          lastInboundAt: date(r.last_inbound_at),
          createdAt: date(r.created_at)!,
          updatedAt: date(r.updated_at)!,
          assistant: r.assistant_state ? { state: r.assistant_state, reason: r.assistant_reason } : null,
          routing: routings?.get(r.id) ?? null,
        },
        {
          id: r.contact_id,
          name: r.contact_name,
          phone: r.contact_phone,
          email: r.contact_email,
          lastInboundAt: date(r.contact_last_inbound_at),
          optedOut: r.opted_out,
          marketingOptedOut: r.marketing_opted_out,
        },
        r.assignee_id ? { id: r.assignee_id, name: r.assignee_name!, email: r.assignee_email! } : null,
        now,
      ),
    ]),
  );
}

async function oneConversation(sql: SqlRunner, organizationId: string, id: string, now: Date): Promise<ConversationView> {
  const view = (await conversationViews(sql, organizationId, [id], now)).get(id);
  if (!view) throw new Error(`conversation ${id} is not there to build its event`);
  return view;
}

/** `conversation.create`: the conversation as GET /v1/conversations/:id shows it. */
export async function conversationCreated(sql: SqlRunner, organizationId: string, id: string, now: Date): Promise<ConversationCreatedData> {
  return { conversation: await oneConversation(sql, organizationId, id, now) };
}

/** `conversation.update`: the conversation as it is now, and what changed. */
export async function conversationUpdated(
  sql: SqlRunner,
  organizationId: string,
  id: string,
  changes: ConversationChanges,
  previous: ConversationChanges,
  now: Date,
): Promise<ConversationUpdatedData> {
  return { conversation: await oneConversation(sql, organizationId, id, now), changes, previous };
}

// ---- broadcasts ----

/** `broadcast.*`: the broadcast as GET /v1/broadcasts/:id shows it (statistics included, recipients not). */
export async function broadcastEventData(sql: SqlRunner, organizationId: string, id: string): Promise<BroadcastEventData> {
  const [b] = await sql.all<{
    id: string;
    status: BroadcastEventData['broadcast']['status'];
    channel_id: string;
    template: { name: string; language: string };
    created_at: Date | string;
    finished_at: Date | string | null;
    failure_reason: string | null;
  }>('select id, status, channel_id, template, created_at, finished_at, failure_reason from broadcasts where id = ? and organization_id = ?', [id, organizationId]);
  if (!b) throw new Error(`broadcast ${id} is not there to build its event`);
  const view = broadcastView(
    { id: b.id, status: b.status, channelId: b.channel_id, template: b.template, createdAt: date(b.created_at)!, finishedAt: date(b.finished_at), failureReason: b.failure_reason },
    await broadcastStatistics(sql, id),
  );
  return { broadcast: view };
}
