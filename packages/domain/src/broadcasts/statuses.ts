import { MESSAGE_STATUS_RANK, type MessageStatus } from '@parley/db';
import type { MetaStatus } from '../meta/payload';
import type { SqlRunner } from '../sql';

/** Tag carried by every broadcast send; status webhooks name the recipient with it. */
export const RECIPIENT_CALLBACK_PREFIX = 'bcr:';

const RECIPIENT_ID = /^\d{1,18}$/;

/** The recipient a status webhook is about, from the tag its send carried; null if it names none. */
export function recipientOfStatus(s: { biz_opaque_callback_data?: unknown }): string | null {
  const tag = s.biz_opaque_callback_data;
  if (typeof tag !== 'string' || !tag.startsWith(RECIPIENT_CALLBACK_PREFIX)) return null;
  const id = tag.slice(RECIPIENT_CALLBACK_PREFIX.length);
  return RECIPIENT_ID.test(id) ? id : null;
}

/**
 * Broadcast recipients' statuses, applied in one statement: a broadcast makes up to three
 * webhooks per send, so this is the hot path. Only the furthest status per recipient is kept
 * (forward only, as always), and a recipient whose outcome was unknown learns its wamid.
 */
export class RecipientStatuses {
  private readonly byRecipient = new Map<string, { id: string; org: string; status: MessageStatus; rank: number; wamid: string; error: unknown }>();

  get size(): number {
    return this.byRecipient.size;
  }

  /** False when the status names no broadcast recipient. */
  add(organizationId: string, s: MetaStatus, status: MessageStatus): boolean {
    const id = recipientOfStatus(s);
    if (id === null) return false;
    const rank = MESSAGE_STATUS_RANK[status];
    const key = `${organizationId}:${id}`;
    const seen = this.byRecipient.get(key);
    if (seen && seen.rank >= rank) return true;
    const first = s.errors?.[0] as { code: number; title?: string; message?: string; error_data?: { details?: string } } | undefined;
    const error = status === 'failed' && first ? { code: first.code, title: first.title ?? first.message ?? 'Failed', details: first.error_data?.details ?? first.message } : null;
    this.byRecipient.set(key, { id, org: organizationId, status, rank, wamid: s.id, error });
    return true;
  }

  /** Adds another set's statuses, keeping the furthest per recipient. */
  merge(other: RecipientStatuses): void {
    for (const [key, value] of other.byRecipient) {
      const seen = this.byRecipient.get(key);
      if (!seen || seen.rank < value.rank) this.byRecipient.set(key, value);
    }
  }

  async flush(sql: SqlRunner, now: Date): Promise<void> {
    if (this.byRecipient.size === 0) return;
    await sql.run(
      `with v as materialized (select * from jsonb_to_recordset(?::jsonb) as v(id bigint, org uuid, status text, rank int, wamid text, error jsonb)),
       ${LOCK_IN_ORDER}
       update broadcast_recipients r
          set status = v.status, status_rank = v.rank, wamid = coalesce(r.wamid, v.wamid), error = coalesce(v.error, r.error), updated_at = ?
         from v, locked
        where r.id = v.id and locked.id = v.id and r.organization_id = v.org and r.status_rank < v.rank`,
      [JSON.stringify([...this.byRecipient.values()]), now],
    );
    this.byRecipient.clear();
  }
}

/**
 * Locks the recipient rows named in `v` in id order before a grouped update. Receipts (in API
 * processes and the worker) and send outcomes update overlapping rows at the same moment; taken
 * in whatever order the join yields, their locks could deadlock.
 */
export const LOCK_IN_ORDER = `locked as (select r.id from broadcast_recipients r where r.id in (select id from v) order by r.id for update of r)`;
