import { isId, newId } from '@parley/core';
import { MESSAGE_STATUS_RANK, type MessageStatus } from '@parley/db';
import { contactOfRow, type EventBatch, messageStatusChanged } from '../events';
import { messageColumns, type MessageWithContactRow } from '../repositories/messages';
import type { SqlRunner } from '../sql';
import type { MetaStatus } from './payload';

/** Tag carried by every conversation send (outbound.ts), so a status can name its message. */
export const MESSAGE_CALLBACK_PREFIX = 'msg:';

interface Row {
  org: string;
  wamid: string;
  status: MessageStatus;
  rank: number;
  occurred_at: string;
  recipient_id: string | null;
  tag: string | null;
  /** The message a `msg:` tag names: a send whose outcome was lost learns its wamid from it. */
  message_id: string | null;
  errors: unknown;
  error: { code: number; title: string; details?: string } | null;
  event_id: string;
  seq: number;
}

/** A status whose message is not known (yet): a broadcast recipient's, or one whose send has not recorded its wamid. */
export interface UnmatchedStatus {
  organizationId: string;
  wamid: string;
  status: MessageStatus;
  errors: MetaStatus['errors'];
  /** Its row in `message_status_events`. */
  eventId: string;
}

export function statusError(status: MessageStatus, errors: MetaStatus['errors']): Row['error'] {
  const first = errors?.[0] as { code: number; title?: string; message?: string; error_data?: { details?: string } } | undefined;
  return status === 'failed' && first ? { code: first.code, title: first.title ?? first.message ?? 'Failed', details: first.error_data?.details ?? first.message } : null;
}

/**
 * Statuses of conversation messages, applied in one statement per batch: each (wamid, status)
 * recorded once in `message_status_events` (a redelivery is a no-op), the message moved forward
 * to the furthest of them (read implies delivered; nothing moves back), and one `message.update`
 * for each step it took. A status arriving before its message is known stays recorded, unapplied,
 * until the send that created the message records its wamid.
 */
export class MessageStatuses {
  private readonly rows = new Map<string, Row>();

  get size(): number {
    return this.rows.size;
  }

  add(organizationId: string, s: MetaStatus, status: MessageStatus, occurredAt: Date): void {
    const key = `${organizationId}\n${s.id}\n${status}`;
    if (this.rows.has(key)) return;
    const tagged = s.biz_opaque_callback_data?.startsWith(MESSAGE_CALLBACK_PREFIX) ? s.biz_opaque_callback_data.slice(MESSAGE_CALLBACK_PREFIX.length) : null;
    this.rows.set(key, {
      org: organizationId,
      wamid: s.id,
      status,
      rank: MESSAGE_STATUS_RANK[status],
      occurred_at: occurredAt.toISOString(),
      recipient_id: s.recipient_id ?? null,
      tag: s.biz_opaque_callback_data ?? null,
      message_id: tagged && isId(tagged) ? tagged : null,
      errors: s.errors ?? null,
      error: statusError(status, s.errors),
      event_id: newId(),
      seq: this.rows.size,
    });
  }

  /**
   * Applies what was added, adding each step's `message.update` to `events`; answers the newly
   * recorded statuses whose message is not known.
   */
  async flush(sql: SqlRunner, now: Date, events: EventBatch): Promise<UnmatchedStatus[]> {
    if (!this.rows.size) return [];
    const rows = JSON.stringify([...this.rows.values()]);
    this.rows.clear();
    // Lost sends first, so their statuses below find them by the wamid they learn here.
    await sql.run(
      `with v as (select distinct on (message_id) * from jsonb_to_recordset(?::jsonb) as v(org uuid, wamid text, message_id uuid) where message_id is not null)
       update messages m set wamid = v.wamid, send_state = 'accepted' from v where m.id = v.message_id and m.organization_id = v.org and m.wamid is null`,
      [rows],
    );
    const recorded = await sql.all<{
      org: string;
      wamid: string;
      status: MessageStatus;
      errors: MetaStatus['errors'];
      event_id: string;
      step_id: string;
      known: boolean;
      step: boolean;
      step_error: Row['error'];
      previous_status: MessageStatus | null;
      previous_error: Row['error'];
      message: MessageWithContactRow | null;
    }>(
      `with v as materialized (
         select * from jsonb_to_recordset(?::jsonb)
           as v(org uuid, wamid text, status text, rank int, occurred_at timestamptz, recipient_id text, tag text, errors jsonb, error jsonb, event_id uuid, seq int)
       ),
       cur as materialized (
         select m.id, m.wamid, m.organization_id, m.status_rank, m.status, m.error, m.conversation_id,
                ct.id as contact_id, ct.name as contact_name, ct.phone as contact_phone
           from messages m join conversations cv on cv.id = m.conversation_id join contacts ct on ct.id = cv.contact_id
          where m.wamid in (select wamid from v) order by m.id for update of m
       ),
       ins as (
         insert into message_status_events (organization_id, wamid, status, occurred_at, recipient_id, biz_opaque_callback_data, errors, applied_at)
         select v.org, v.wamid, v.status, v.occurred_at, v.recipient_id, v.tag, v.errors,
                case when exists (select 1 from cur where cur.wamid = v.wamid and cur.organization_id = v.org) then ?::timestamptz end
           from v order by v.seq
         on conflict (wamid, status) do nothing
         returning id, organization_id, wamid, status
       ),
       fresh as (
         select v.*, ins.id as ledger_id,
                -- The furthest status of the same message earlier in this batch: one behind it is no step.
                coalesce(max(v.rank) over (partition by v.wamid, v.org order by v.seq rows between unbounded preceding and 1 preceding), 0) as earlier_rank
           from v join ins on ins.wamid = v.wamid and ins.status = v.status and ins.organization_id = v.org
       ),
       best as (select distinct on (wamid, org) * from fresh order by wamid, org, rank desc),
       upd as (
         update messages m set status = best.status, status_rank = best.rank, status_updated_at = ?, error = coalesce(best.error, m.error)
           from best join cur on cur.wamid = best.wamid and cur.organization_id = best.org
          where m.id = cur.id and cur.status_rank < best.rank
         returning ${messageColumns('m')}
       )
       -- Each step (a status further than the message was and than the batch's earlier ones) is
       -- told with the message as the step left it: the final row, at that step's status.
       select fresh.org, fresh.wamid, fresh.status, fresh.errors, fresh.ledger_id::text as event_id, fresh.event_id::text as step_id,
              cur.id is not null as known,
              coalesce(fresh.rank > greatest(cur.status_rank, fresh.earlier_rank), false) as step,
              fresh.error as step_error, cur.status as previous_status, cur.error as previous_error,
              case when upd.id is not null then to_jsonb(upd) || jsonb_build_object('contact_id', cur.contact_id, 'contact_name', cur.contact_name, 'contact_phone', cur.contact_phone) end as message
         from fresh
         left join cur on cur.wamid = fresh.wamid and cur.organization_id = fresh.org
         left join upd on upd.id = cur.id
        order by fresh.seq`,
      [rows, now, now],
    );
    // Steps in the order they were added; each one's previous status is the step before it.
    const lastOf = new Map<string, { status: MessageStatus; error: Row['error'] }>();
    for (const r of recorded) {
      if (!r.step || !r.message) continue;
      const before = lastOf.get(r.message.id) ?? { status: r.previous_status!, error: r.previous_error };
      const error = r.step_error ?? before.error;
      lastOf.set(r.message.id, { status: r.status, error });
      events.add(r.org, 'message.update', messageStatusChanged({ ...r.message, status: r.status, error }, contactOfRow(r.message), before.status), now, r.step_id);
    }
    return recorded.filter((r) => !r.known).map((r) => ({ organizationId: r.org, wamid: r.wamid, status: r.status, errors: r.errors ?? undefined, eventId: r.event_id }));
  }
}
