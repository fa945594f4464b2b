import type { ParleyClient } from '../../../packages/sdk/src/client';

type ListQuery = { limit: number; status?: 'active' | 'resolved' | 'closed'; assignee?: string };

/** One page of the conversation list. */
export function readConversations(client: ParleyClient, query: ListQuery & { cursor?: string }) {
  return client.GET('/v1/conversations', { params: { query } });
}
type ListAnswer = ReturnType<typeof readConversations>;

/** The inbox's first page as it opens: active conversations, anyone's, newest first. */
export const FIRST_INBOX_PAGE: ListQuery = { limit: 100, status: 'active' };
/** A page read longer ago than this is not shown as current. */
const FRESH_MS = 10_000;

let primed: { key: string; at: number; answer: ListAnswer } | undefined;

/**
 * Starts reading the inbox's first page while the session is still being checked, instead of
 * after: on opening the console at the inbox, the two requests go out together rather than one
 * after the other.
 */
export function primeInbox(client: ParleyClient): void {
  if (!window.location.pathname.startsWith('/console/inbox')) return;
  primed = { key: JSON.stringify(FIRST_INBOX_PAGE), at: Date.now(), answer: readConversations(client, FIRST_INBOX_PAGE) };
}

/** The primed answer for exactly this query, once; later reads go to the API. */
export function takePrimedInbox(query: ListQuery): ListAnswer | undefined {
  const p = primed;
  primed = undefined;
  return p && p.key === JSON.stringify(query) && Date.now() - p.at < FRESH_MS ? p.answer : undefined;
}
