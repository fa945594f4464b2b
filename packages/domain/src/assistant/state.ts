import { conversationUpdated, recordEvent } from '../events';
import type { SqlRunner } from '../sql';

export type AssistantState = 'active' | 'paused' | 'handed_over';

/**
 * Sets the assistant's state in a conversation and, when it changed, tells it as
 * `conversation.update` with `changes.assistant`: partners and inboxes learn of a handover or a
 * pause as of any other change. (Takeovers by an agent's message or an assignment are set by the
 * trigger on their own events, which already tell them.)
 */
export async function changeAssistantState(
  sql: SqlRunner,
  organizationId: string,
  conversationId: string,
  state: AssistantState,
  reason: string | null,
  now: Date,
): Promise<void> {
  const [before] = await sql.all<{ state: AssistantState; reason: string | null }>(
    'select state, reason from assistant_conversations where conversation_id = ? and organization_id = ? for update',
    [conversationId, organizationId],
  );
  await sql.run(
    `insert into assistant_conversations (conversation_id, organization_id, state, reason, updated_at) values (?, ?, ?, ?, ?)
     on conflict (conversation_id) do update set state = excluded.state, reason = excluded.reason, updated_at = excluded.updated_at,
       handoff_sent_at = case when excluded.state = 'active' then null else assistant_conversations.handoff_sent_at end`,
    [conversationId, organizationId, state, reason, now],
  );
  if (before && before.state === state && before.reason === reason) return;
  const previous = before ? { state: before.state, reason: before.reason } : null;
  await recordEvent(sql, organizationId, 'conversation.update', await conversationUpdated(sql, organizationId, conversationId, { assistant: { state, reason } }, { assistant: previous }, now), now);
}
