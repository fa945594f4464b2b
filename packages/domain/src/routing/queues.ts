import { isId, newId } from '@parley/core';
import type { SqlRunner } from '../sql';

/**
 * Queues at runtime: which conversations wait in which queue, and how long past waits took.
 * This is operational state, not configuration, so it is not versioned; the queues themselves
 * (name, agents) come from the live routing version. Waiting rows are ordered by their
 * time-ordered id, which is minted when the conversation joins, so "oldest first" is id order.
 */

/** How far back, and over how many takes, the "recent average wait" looks. */
export const AVERAGE_WAIT_WINDOW_MS = 24 * 60 * 60 * 1000;
export const AVERAGE_WAIT_SAMPLE = 50;

export interface QueueStanding {
  queueId: string;
  conversationId: string;
  /** 1 for the next conversation to be taken. */
  position: number;
  enqueuedAt: Date;
  /** Mean of the recent waits of the queue, whole minutes, 0 when there were none. */
  averageWaitMinutes: number;
}

export async function averageWaitMinutes(sql: SqlRunner, organizationId: string, queueId: string, now: Date): Promise<number> {
  const [row] = await sql.all<{ avg: string | null }>(
    `select avg(wait_ms) as avg from (
       select wait_ms from queue_waits where organization_id = ? and queue_id = ? and taken_at > ? order by taken_at desc limit ?
     ) recent`,
    [organizationId, queueId, new Date(now.getTime() - AVERAGE_WAIT_WINDOW_MS), AVERAGE_WAIT_SAMPLE],
  );
  return row?.avg === null || row?.avg === undefined ? 0 : Math.round(Number(row.avg) / 60_000);
}

/** Where a waiting conversation stands, or undefined when it waits nowhere. */
export async function queueStanding(sql: SqlRunner, organizationId: string, conversationId: string, now: Date): Promise<QueueStanding | undefined> {
  const [row] = await sql.all<{ queue_id: string; enqueued_at: Date; position: string }>(
    `select w.queue_id, w.enqueued_at,
       (select count(*) from queue_waiting o where o.organization_id = w.organization_id and o.queue_id = w.queue_id and o.id <= w.id) as position
     from queue_waiting w where w.organization_id = ? and w.conversation_id = ?`,
    [organizationId, conversationId],
  );
  if (!row) return undefined;
  return {
    queueId: row.queue_id,
    conversationId,
    position: Number(row.position),
    enqueuedAt: new Date(row.enqueued_at),
    averageWaitMinutes: await averageWaitMinutes(sql, organizationId, row.queue_id, now),
  };
}

/**
 * Puts a conversation at the end of a queue (for the routing runtime). A conversation waits in
 * one queue at a time: already in this one, it keeps its place; in another, it moves to the end
 * of this one. Answers its position and the queue's recent average wait, for the auto-response.
 */
export async function enqueueConversation(
  sql: SqlRunner,
  organizationId: string,
  queueId: string,
  conversationId: string,
  now: Date,
): Promise<QueueStanding & { previousQueueId: string | null }> {
  // One statement: `before` sees the row as it was (the queue it waited in, if any), and the
  // insert runs whether or not the select reads it, as data-modifying CTEs do.
  const [before] = await sql.all<{ queue_id: string | null }>(
    `with before as (select queue_id from queue_waiting where conversation_id = ? and organization_id = ?),
     joined as (
       insert into queue_waiting (id, organization_id, queue_id, conversation_id, enqueued_at) values (?, ?, ?, ?, ?)
       on conflict (conversation_id) do update set id = excluded.id, queue_id = excluded.queue_id, enqueued_at = excluded.enqueued_at
       where queue_waiting.queue_id <> excluded.queue_id
     )
     select (select queue_id from before) as queue_id`,
    [conversationId, organizationId, newId(), organizationId, queueId, conversationId, now],
  );
  return { ...(await queueStanding(sql, organizationId, conversationId, now))!, previousQueueId: before?.queue_id ?? null };
}

interface WaitingRow {
  id: string;
  queue_id: string;
  conversation_id: string;
  enqueued_at: Date;
}

async function recordWait(sql: SqlRunner, organizationId: string, row: WaitingRow, takenBy: string | null, now: Date): Promise<void> {
  const waitMs = Math.max(0, now.getTime() - new Date(row.enqueued_at).getTime());
  await sql.run(
    `insert into queue_waits (id, organization_id, queue_id, conversation_id, enqueued_at, taken_at, wait_ms, taken_by) values (?, ?, ?, ?, ?, ?, ?, ?)`,
    [newId(), organizationId, row.queue_id, row.conversation_id, row.enqueued_at, now, waitMs, takenBy],
  );
}

/**
 * The conversation was given to a person (taken, or assigned by an admin): it stops waiting and
 * its wait counts towards the queue's average. Answers the queue it waited in (null: none).
 */
export async function leaveQueues(sql: SqlRunner, organizationId: string, conversationId: string, takenBy: string | null, now: Date): Promise<string | null> {
  const rows = await sql.all<WaitingRow>(`delete from queue_waiting where organization_id = ? and conversation_id = ? returning id, queue_id, conversation_id, enqueued_at`, [
    organizationId,
    conversationId,
  ]);
  for (const row of rows) await recordWait(sql, organizationId, row, takenBy, now);
  return rows[0]?.queue_id ?? null;
}

/**
 * Claims the oldest waiting conversation of a queue (or the named one) for an agent: the row is
 * locked until the caller's transaction ends (assigning it removes it, see `leaveQueues`), and
 * others skip it, so two agents taking at the same moment get different conversations.
 */
export async function claimWaiting(sql: SqlRunner, organizationId: string, queueId: string, conversationId: string | undefined): Promise<WaitingRow | undefined> {
  if (conversationId !== undefined && !isId(conversationId)) return undefined;
  const [row] = await sql.all<WaitingRow>(
    `select id, queue_id, conversation_id, enqueued_at from queue_waiting where organization_id = ? and queue_id = ? ${conversationId ? 'and conversation_id = ?' : ''}
     order by id limit 1 for update skip locked`,
    conversationId ? [organizationId, queueId, conversationId] : [organizationId, queueId],
  );
  return row;
}

/** The queues conversations wait in now, live or not. */
export async function waitingQueueIds(sql: SqlRunner, organizationId: string): Promise<string[]> {
  const rows = await sql.all<{ queue_id: string }>('select distinct queue_id from queue_waiting where organization_id = ?', [organizationId]);
  return rows.map((r) => r.queue_id);
}

/**
 * Name and priority of queues the live version no longer has, from the latest version that had
 * each, so conversations still waiting in them can be listed under a recognisable queue.
 */
export async function removedQueues(sql: SqlRunner, organizationId: string, queueIds: readonly string[]): Promise<Map<string, { name: string; priority: number }>> {
  const found = new Map<string, { name: string; priority: number }>();
  if (!queueIds.length) return found;
  const rows = await sql.all<{ id: string; name: string; priority: number | string }>(
    `select distinct on (q->>'id') q->>'id' as id, q->>'name' as name, coalesce((q->>'priority')::int, 0) as priority
     from routing_versions v cross join lateral jsonb_array_elements(v.document->'queues') q
     where v.organization_id = ? and q->>'id' in (?)
     order by q->>'id', v.number desc`,
    [organizationId, queueIds],
  );
  for (const r of rows) found.set(r.id, { name: r.name, priority: Number(r.priority) });
  return found;
}

export interface WaitingEntry {
  id: string;
  queueId: string;
  conversationId: string;
  position: number;
  enqueuedAt: Date;
  contact: { id: string; name: string | null; phone: string | null };
}

/** Waiting conversations of the given queues, oldest first, from after the `after` entry. */
export async function listWaiting(sql: SqlRunner, organizationId: string, queueIds: readonly string[], page: { limit: number; after?: string | undefined }): Promise<WaitingEntry[]> {
  const ids = queueIds.filter(isId);
  if (!ids.length) return [];
  const rows = await sql.all<{ id: string; queue_id: string; conversation_id: string; enqueued_at: Date; position: string; contact_id: string; name: string | null; phone: string | null }>(
    `select * from (
       select w.id, w.queue_id, w.conversation_id, w.enqueued_at, c.contact_id, k.name, k.phone,
         row_number() over (partition by w.queue_id order by w.id) as position
       from queue_waiting w
       join conversations c on c.id = w.conversation_id
       join contacts k on k.id = c.contact_id
       where w.organization_id = ? and w.queue_id in (?)
     ) ranked ${page.after ? 'where id > ?' : ''} order by id limit ?`,
    page.after ? [organizationId, ids, page.after, page.limit] : [organizationId, ids, page.limit],
  );
  return rows.map((r) => ({
    id: r.id,
    queueId: r.queue_id,
    conversationId: r.conversation_id,
    position: Number(r.position),
    enqueuedAt: new Date(r.enqueued_at),
    contact: { id: r.contact_id, name: r.name, phone: r.phone },
  }));
}

/** Fills `{{queue.position}}`, `{{queue.averageWaitMinutes}}` and `{{queue.name}}` in an auto-response. */
export function fillQueuePlaceholders(text: string, values: { position: number; averageWaitMinutes: number; name?: string | undefined }): string {
  const map: Record<string, string> = {
    'queue.position': String(values.position),
    'queue.averageWaitMinutes': String(values.averageWaitMinutes),
    'queue.name': values.name ?? '',
  };
  return text.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (all, key: string) => map[key] ?? all);
}
