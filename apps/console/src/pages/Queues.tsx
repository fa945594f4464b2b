import { useCallback, useEffect, useRef, useState } from 'react';
import { useNavigate } from 'react-router';
import type { paths } from '../../../../packages/sdk/src/generated/openapi';
import { problemText } from '../api';
import { type StreamEvent, useEventStream } from '../events';
import { useSession } from '../session';

type Waiting = paths['/v1/queues/waiting']['get']['responses'][200]['content']['application/json']['data'][number];

/** A backstop while the event stream is down; the stream itself refreshes the list as queues change. */
const REFRESH_MS = 60_000;

/** Whether an event changed who waits in a queue. */
export function queueChanged(event: StreamEvent): boolean {
  if (event.type !== 'conversation.update') return false;
  const changes = event.data.changes as Record<string, unknown> | undefined;
  return changes !== undefined && 'queueId' in changes;
}

export function waitedFor(enqueuedAt: string, now: number): string {
  const minutes = Math.max(0, Math.floor((now - Date.parse(enqueuedAt)) / 60_000));
  if (minutes < 1) return 'less than a minute';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}

/** Groups waiting conversations by queue, higher priority first, each oldest first. */
export function groupByQueue(rows: Waiting[]): { queueId: string; name: string; priority: number; removed: boolean; averageWaitMinutes: number; rows: Waiting[] }[] {
  const groups = new Map<string, { queueId: string; name: string; priority: number; removed: boolean; averageWaitMinutes: number; rows: Waiting[] }>();
  for (const r of rows) {
    const g = groups.get(r.queueId) ?? { queueId: r.queueId, name: r.queueName, priority: r.queuePriority, removed: r.queueRemoved, averageWaitMinutes: r.averageWaitMinutes, rows: [] };
    g.rows.push(r);
    groups.set(r.queueId, g);
  }
  return [...groups.values()].sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name)).map((g) => ({ ...g, rows: g.rows.sort((a, b) => a.position - b.position) }));
}

/** The conversations waiting in the caller's queues, for agents to take one. */
export function QueuesPage() {
  const { client, isAdmin } = useSession();
  const navigate = useNavigate();
  const [rows, setRows] = useState<Waiting[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(() => Date.now());

  const load = useCallback(async () => {
    const all: Waiting[] = [];
    let cursor: string | undefined;
    // A few pages at most: a screen of more than 600 waiting chats is not read row by row.
    for (let page = 0; page < 3; page++) {
      const { data, error } = await client.GET('/v1/queues/waiting', { params: { query: { limit: 200, ...(cursor ? { cursor } : {}) } } });
      if (!data) return setError(problemText(error));
      all.push(...data.data);
      if (!data.nextCursor) break;
      cursor = data.nextCursor;
    }
    setError(null);
    setRows(all);
    setNow(Date.now());
  }, [client]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  // A conversation joining a queue, or leaving it for a person, is a conversation.update whose
  // changes name the queue: the list is read again then (a burst of them, once).
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(pending.current), []);
  const live = useEventStream(client, (event) => {
    if (!queueChanged(event)) return;
    clearTimeout(pending.current);
    pending.current = setTimeout(() => void load(), 150);
  });

  const take = async (queueId: string, conversationId?: string) => {
    const { data, error, response } = await client.POST('/v1/queues/{id}/take', { params: { path: { id: queueId } }, body: conversationId ? { conversationId } : {} });
    if (!data) {
      setError(response.status === 409 ? 'Nobody is waiting in that queue any more.' : response.status === 404 ? 'A colleague took that conversation first.' : problemText(error));
      return load();
    }
    void navigate(`/inbox/${data.id}`);
  };

  const groups = rows ? groupByQueue(rows) : [];
  return (
    <section className="page config" aria-labelledby="queues-title">
      <div className="page-head">
        <h1 id="queues-title">Queues</h1>
        <button type="button" className="secondary" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <p className="hint">
        {isAdmin ? 'Conversations waiting in every queue.' : 'Conversations waiting in the queues you work.'} Taking one assigns it to you. {live === 'live' ? 'The list follows the queues live.' : 'Connecting to live updates…'}
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {rows === null ? (
        <p role="status">Loading…</p>
      ) : groups.length === 0 ? (
        <p role="status">Nobody is waiting.</p>
      ) : (
        groups.map((g) => (
          <section key={g.queueId} className="card stack queue-card" aria-labelledby={`wq-${g.queueId}`}>
            <div className="page-head">
              <h2 id={`wq-${g.queueId}`}>
                {g.name} {g.removed && <span className="badge">removed from routing</span>}
              </h2>
              {!g.removed && <button type="button" onClick={() => void take(g.queueId)}>Take next</button>}
            </div>
            <p className="hint">
              {g.rows.length} waiting · recent average wait {g.averageWaitMinutes} min
              {g.removed && ' · this queue is no longer live: assign these conversations from the inbox'}
            </p>
            <table>
              <caption className="visually-hidden">Waiting in {g.name}</caption>
              <thead>
                <tr>
                  <th scope="col">Position</th>
                  <th scope="col">Contact</th>
                  <th scope="col">Waiting for</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {g.rows.map((r) => (
                  <tr key={r.id}>
                    <td>{r.position}</td>
                    <td>
                      {r.contact.name ?? r.contact.phone ?? 'Unknown'}
                      {r.contact.name && r.contact.phone && <span className="muted"> {r.contact.phone}</span>}
                    </td>
                    <td>
                      <time dateTime={r.enqueuedAt}>{waitedFor(r.enqueuedAt, now)}</time>
                    </td>
                    <td>
                      {!g.removed && (
                        <button type="button" className="secondary" onClick={() => void take(g.queueId, r.conversationId)} aria-label={`Take ${r.contact.name ?? r.contact.phone ?? 'conversation'}`}>
                          Take
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        ))
      )}
    </section>
  );
}
