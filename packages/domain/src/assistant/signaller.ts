import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '@parley/core';
import { PollingJob } from '../polling';
import { sqlRunner } from '../sql';

/** Starts or signals a conversation's turn workflow (Temporal's signalWithStart). */
export interface AssistantTurnStarter {
  signal(input: { organizationId: string; conversationId: string; messageIds: string[]; lastMessageAt: number; quietTimeMs: number }): Promise<void>;
}

/** The workflow of a conversation's turns: tenant and conversation in the id, so no two tenants share one. */
export function assistantWorkflowId(organizationId: string, conversationId: string): string {
  return `assistant:${organizationId}:${conversationId}`;
}

/** Notified by the trigger that writes pending turns (migration 20261129193600_assistant). */
export const ASSISTANT_WAKE_CHANNEL = 'assistant';

/**
 * Hands pending turns to Temporal. A contact's message on a channel with the assistant on leaves
 * a row in `assistant_pending`, written by a trigger in the transaction that stored the message;
 * this job signals the conversation's workflow and deletes the row in one transaction. A crash
 * between the signal and the commit signals again: the workflow ignores a message it already has.
 */
export class AssistantSignaller extends PollingJob {
  constructor(
    private readonly orm: MikroORM,
    private readonly starter: AssistantTurnStarter,
    logger: Logger,
    options: { pollMs?: number; batchSize?: number; organizationIds?: readonly string[] } = {},
  ) {
    super(logger, options.pollMs ?? 500, 'assistant turn signalling');
    this.batchSize = options.batchSize ?? 100;
    this.organizationIds = options.organizationIds ?? null;
  }

  private readonly batchSize: number;
  /** Tests serve only their own tenants, as the webhook dispatcher does. */
  private readonly organizationIds: readonly string[] | null;

  async drain(): Promise<number> {
    return this.drainBatches(this.batchSize, () => this.batch());
  }

  private async batch(): Promise<number> {
    return this.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      const rows = await sql.all<{ event_id: string; organization_id: string; conversation_id: string; message_id: string; created_at: Date; quiet_time_ms: number | null }>(
        `select p.event_id, p.organization_id, p.conversation_id, p.message_id, p.created_at, s.quiet_time_ms
         from assistant_pending p left join assistant_settings s on s.channel_id = p.channel_id and s.organization_id = p.organization_id
         where (?::jsonb is null or p.organization_id in (select value::uuid from jsonb_array_elements_text(?::jsonb)))
         order by p.created_at, p.event_id limit ? for update of p skip locked`,
        [this.organizationIds ? JSON.stringify(this.organizationIds) : null, this.organizationIds ? JSON.stringify(this.organizationIds) : null, this.batchSize],
      );
      if (!rows.length) return 0;
      const byConversation = new Map<string, typeof rows>();
      for (const r of rows) byConversation.set(r.conversation_id, [...(byConversation.get(r.conversation_id) ?? []), r]);
      await Promise.all(
        [...byConversation.values()].map(async (group) => {
          const first = group[0]!;
          // A channel whose assistant was removed since: nothing to answer.
          if (first.quiet_time_ms === null) return;
          await this.starter.signal({
            organizationId: first.organization_id,
            conversationId: first.conversation_id,
            messageIds: group.map((g) => g.message_id),
            lastMessageAt: Math.max(...group.map((g) => new Date(g.created_at).getTime())),
            quietTimeMs: first.quiet_time_ms,
          });
        }),
      );
      await sql.run('delete from assistant_pending where event_id in (?)', [rows.map((r) => r.event_id)]);
      return rows.length;
    });
  }
}
