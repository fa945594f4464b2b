import { type Clock, ForbiddenError, isId, NotFoundError } from '@parley/core';
import type { TenantScope } from '../scope';
import { sqlRunner } from '../sql';
import { liveDocument } from './runtime-live';

/** A chat a terminate ended, counted against a queue's missed-chat report. */
export interface MissedChatView {
  conversationId: string;
  cause: string | null;
  answered: boolean;
  endedAt: string;
  contact: { id: string; name: string | null; phone: string | null };
}

/**
 * The missed-chat report of a queue: conversations a terminate ended with that queue as its
 * missed-chat queue, newest first (`before` pages back by time). A conversation counts once, for
 * the last time it was routed.
 */
export class MissedChatService {
  constructor(private readonly clock: Clock) {}

  async list(scope: TenantScope, queueId: string, page: { limit: number; before?: Date | undefined }): Promise<MissedChatView[]> {
    const sql = sqlRunner(scope.em);
    const live = await liveDocument(sql, scope.organizationId, this.clock.now());
    const queue = live?.document.queues.find((q) => q.id === queueId);
    if (!queue || !isId(queueId)) throw new NotFoundError('queue');
    const p = scope.principal;
    if (p.kind === 'user' && p.role === 'agent' && !queue.agentIds.includes(p.userId)) throw new ForbiddenError('Only the queue’s agents and admins read its missed chats.');
    const rows = await sql.all<{ conversation_id: string; cause: string | null; answered: boolean | null; routed_at: Date | string; contact_id: string; name: string | null; phone: string | null }>(
      `select r.conversation_id, r.cause, r.answered, r.routed_at, k.id as contact_id, k.name, k.phone
       from routing_conversations r
       join conversations c on c.id = r.conversation_id and c.organization_id = r.organization_id
       join contacts k on k.id = c.contact_id
       where r.organization_id = ? and r.missed_chat_queue_id = ? ${page.before ? 'and r.routed_at < ?' : ''}
       order by r.routed_at desc, r.conversation_id desc limit ?`,
      page.before ? [scope.organizationId, queueId, page.before, page.limit] : [scope.organizationId, queueId, page.limit],
    );
    return rows.map((r) => ({
      conversationId: r.conversation_id,
      cause: r.cause,
      answered: r.answered ?? false,
      endedAt: new Date(r.routed_at).toISOString(),
      contact: { id: r.contact_id, name: r.name, phone: r.phone },
    }));
  }
}
