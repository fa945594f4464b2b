import { type SqlRunner, sqlArray } from '../sql';
import type { AutoResponseOutcome, FinalDestination, RoutingStep } from './runtime';

/* A conversation's routing state, read for the conversation view (kept apart from the dispatcher's imports). */

/** A conversation's routing, as GET /v1/conversations/:id shows it. */
export interface ConversationRouting {
  destination: FinalDestination | null;
  path: RoutingStep[];
  reason: string;
  version: number | null;
  at: string;
  cause?: string | undefined;
  answered?: boolean | undefined;
  missedChatQueueId?: string | undefined;
  autoResponse?: AutoResponseOutcome | undefined;
  error?: string | undefined;
}

interface RoutingRow {
  conversation_id: string;
  destination: unknown;
  path: unknown;
  reason: string;
  version_number: number | null;
  routed_at: Date | string;
  cause: string | null;
  answered: boolean | null;
  missed_chat_queue_id: string | null;
  auto_response: unknown;
  error: string | null;
}

const json = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

export async function conversationRoutings(sql: SqlRunner, organizationId: string, conversationIds: string[]): Promise<Map<string, ConversationRouting>> {
  if (!conversationIds.length) return new Map();
  const rows = await sql.prepared<RoutingRow>('select * from routing_conversations where organization_id = ? and conversation_id = any(?::uuid[])', [organizationId, sqlArray(conversationIds)]);
  return new Map(
    rows.map((r) => [
      r.conversation_id,
      {
        destination: json<FinalDestination | null>(r.destination),
        path: json<RoutingStep[]>(r.path),
        reason: r.reason,
        version: r.version_number === null ? null : Number(r.version_number),
        at: new Date(r.routed_at).toISOString(),
        ...(r.cause !== null ? { cause: r.cause } : {}),
        ...(r.answered !== null ? { answered: r.answered } : {}),
        ...(r.missed_chat_queue_id !== null ? { missedChatQueueId: r.missed_chat_queue_id } : {}),
        ...(r.auto_response !== null ? { autoResponse: json<AutoResponseOutcome>(r.auto_response) } : {}),
        ...(r.error !== null ? { error: r.error } : {}),
      },
    ]),
  );
}
