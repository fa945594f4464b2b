import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import type { ParleyClient } from '../../../../packages/sdk/src/client';
import { type Conversation, type Message, problemText } from '../api';
import { AssistantDrafts } from '../components/AssistantDrafts';
import { Composer } from '../components/Composer';
import { MessageBubble } from '../components/MessageBubble';
import { conversationIdOf, type StreamEvent, useEventStream } from '../events';
import { readConversations, takePrimedInbox } from '../prefetch';
import { useSession } from '../session';

type StatusFilter = 'all' | 'active' | 'resolved' | 'closed';
type AssigneeFilter = 'anyone' | 'me' | 'none';

interface Filters {
  status: StatusFilter;
  assignee: AssigneeFilter;
  unread: boolean;
}

function sortKey(c: Conversation): string {
  return c.lastMessage?.at ?? c.updatedAt;
}

export function matches(c: Conversation, f: Filters, myId: string | undefined): boolean {
  if (f.status !== 'all' && c.status !== f.status) return false;
  if (f.assignee === 'me' && c.assignee?.id !== myId) return false;
  if (f.assignee === 'none' && c.assignee) return false;
  if (f.unread && c.unreadCount === 0) return false;
  return true;
}

export function InboxPage() {
  const { client, me } = useSession();
  const { conversationId } = useParams();
  const [filters, setFilters] = useState<Filters>({ status: 'active', assignee: 'anyone', unread: false });
  const [byId, setById] = useState<Map<string, Conversation>>(new Map());
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  // Every event reaches the open conversation, even several in one render.
  const listeners = useRef(new Set<(event: StreamEvent) => void>());
  const subscribe = useCallback((listener: (event: StreamEvent) => void) => {
    listeners.current.add(listener);
    return () => void listeners.current.delete(listener);
  }, []);

  const query = useMemo(() => {
    const q: { limit: number; status?: 'active' | 'resolved' | 'closed'; assignee?: string } = { limit: 100 };
    if (filters.status !== 'all') q.status = filters.status;
    if (filters.assignee === 'me' && me.userId) q.assignee = me.userId;
    if (filters.assignee === 'none') q.assignee = 'none';
    return q;
  }, [filters.status, filters.assignee, me.userId]);

  const loadPage = useCallback(
    async (after: string | null) => {
      setLoading(true);
      // The first page may already be on its way, started with the session check (prefetch.ts).
      const { data, error } = await ((after ? undefined : takePrimedInbox(query)) ?? readConversations(client, after ? { ...query, cursor: after } : query));
      setLoading(false);
      if (!data) return setError(problemText(error));
      setError(null);
      setById((prev) => {
        const next = after ? new Map(prev) : new Map<string, Conversation>();
        for (const c of data.data) next.set(c.id, c);
        return next;
      });
      setCursor(data.nextCursor);
    },
    [client, query],
  );

  useEffect(() => {
    void loadPage(null);
  }, [loadPage]);

  const upsert = useCallback((c: Conversation) => {
    setById((prev) => new Map(prev).set(c.id, c));
  }, []);

  const streamStatus = useEventStream(client, (event) => {
    // Too much was missed while disconnected: start over from the current state.
    if (event.type === 'reset') return void loadPage(null);
    for (const listener of listeners.current) listener(event);
    const conversation = event.data.conversation as Conversation | undefined;
    if (event.type.startsWith('conversation.') && conversation) return upsert(conversation);
    const id = conversationIdOf(event);
    // Message events carry the message, not the conversation: its preview and unread count are re-read.
    if (id) void client.GET('/v1/conversations/{id}', { params: { path: { id } } }).then(({ data }) => data && upsert(data));
  });

  const list = useMemo(
    () => [...byId.values()].filter((c) => matches(c, filters, me.userId)).sort((a, b) => sortKey(b).localeCompare(sortKey(a))),
    [byId, filters, me.userId],
  );
  const unreadTotal = useMemo(() => list.reduce((n, c) => n + (c.unreadCount > 0 ? 1 : 0), 0), [list]);

  return (
    <div className={`inbox ${conversationId ? 'has-open' : ''}`}>
      <section className="conversation-list" aria-labelledby="inbox-title">
        <div className="list-head">
          <h1 id="inbox-title">
            Inbox {unreadTotal > 0 && <span className="count" aria-label={`${unreadTotal} unread conversations`}>{unreadTotal}</span>}
          </h1>
          <span className={`live ${streamStatus}`} role="status">
            {streamStatus === 'live' ? 'Live' : streamStatus === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
          </span>
        </div>
        <fieldset className="filters">
          <legend className="visually-hidden">Filter conversations</legend>
          <label>
            Status
            <select value={filters.status} onChange={(e) => setFilters({ ...filters, status: e.target.value as StatusFilter })}>
              <option value="active">Active</option>
              <option value="resolved">Resolved</option>
              <option value="closed">Closed</option>
              <option value="all">All</option>
            </select>
          </label>
          <label>
            Assignee
            <select value={filters.assignee} onChange={(e) => setFilters({ ...filters, assignee: e.target.value as AssigneeFilter })}>
              <option value="anyone">Anyone</option>
              <option value="me">Me</option>
              <option value="none">Unassigned</option>
            </select>
          </label>
          <label className="check">
            <input type="checkbox" checked={filters.unread} onChange={(e) => setFilters({ ...filters, unread: e.target.checked })} />
            Unread only
          </label>
        </fieldset>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <ConversationItems items={list} selected={conversationId} hasMore={cursor !== null} loading={loading} onMore={() => cursor && void loadPage(cursor)} />
      </section>
      {conversationId ? (
        <ConversationView key={conversationId} id={conversationId} client={client} myId={me.userId} subscribe={subscribe} onChange={upsert} />
      ) : (
        <section className="conversation empty" aria-label="Conversation">
          <p>Choose a conversation.</p>
        </section>
      )}
    </div>
  );
}

function ConversationItems(props: { items: Conversation[]; selected: string | undefined; hasMore: boolean; loading: boolean; onMore: () => void }) {
  const parent = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({ count: props.items.length, getScrollElement: () => parent.current, estimateSize: () => 72, overscan: 8 });
  const items = virtualizer.getVirtualItems();
  const last = items.at(-1);
  const { hasMore, loading, onMore } = props;
  useEffect(() => {
    if (last && last.index >= props.items.length - 10 && hasMore && !loading) onMore();
  }, [last, props.items.length, hasMore, loading, onMore]);

  if (!props.items.length) return <p className="muted pad">{props.loading ? 'Loading…' : 'No conversations match.'}</p>;
  return (
    <div ref={parent} className="items">
      <ul aria-label="Conversations" style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
      {items.map((row) => {
        const c = props.items[row.index]!;
        const name = c.contact.name ?? c.contact.phone ?? 'Unknown contact';
        return (
          <li key={c.id} className="item-row" style={{ position: 'absolute', top: 0, left: 0, right: 0, transform: `translateY(${row.start}px)` }}>
            <Link to={`/inbox/${c.id}`} className={`item ${c.id === props.selected ? 'selected' : ''} ${c.unreadCount ? 'unread' : ''}`} aria-current={c.id === props.selected ? 'page' : undefined}>
              <span className="item-top">
                <span className="name">{name}</span>
                {c.lastMessage && <time dateTime={c.lastMessage.at}>{formatWhen(c.lastMessage.at)}</time>}
              </span>
              <span className="item-bottom">
                <span className="preview">{c.lastMessage?.preview ?? ''}</span>
                {c.unreadCount > 0 && (
                  <span className="count" aria-label={`${c.unreadCount} unread`}>
                    {c.unreadCount}
                  </span>
                )}
              </span>
              <span className="meta">
                {c.status}
                {c.assignee ? ` · ${c.assignee.name}` : ' · unassigned'}
              </span>
            </Link>
          </li>
        );
      })}
      </ul>
    </div>
  );
}

function formatWhen(iso: string): string {
  const d = new Date(iso);
  const today = new Date();
  return d.toDateString() === today.toDateString() ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString();
}

const PAGE = 100;

function ConversationView(props: {
  id: string;
  client: ParleyClient;
  myId: string | undefined;
  subscribe: (listener: (event: StreamEvent) => void) => () => void;
  onChange: (c: Conversation) => void;
}) {
  const { id, client, myId, subscribe, onChange } = props;
  const navigate = useNavigate();
  const [conversation, setConversation] = useState<Conversation | null>(null);
  // Oldest first, as shown.
  const [messages, setMessages] = useState<Message[]>([]);
  const [older, setOlder] = useState<string | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [requestId, setRequestId] = useState('');
  const scroller = useRef<HTMLDivElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  const applyConversation = useCallback(
    (c: Conversation) => {
      setConversation(c);
      onChange(c);
    },
    [onChange],
  );

  const merge = useCallback((incoming: Message[]) => {
    setMessages((prev) => {
      const map = new Map(prev.map((m) => [m.id, m]));
      for (const m of incoming) map.set(m.id, m);
      return [...map.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    });
  }, []);

  useEffect(() => {
    void (async () => {
      const [c, m] = await Promise.all([
        client.GET('/v1/conversations/{id}', { params: { path: { id } } }),
        client.GET('/v1/conversations/{id}/messages', { params: { path: { id }, query: { limit: PAGE } } }),
      ]);
      if (!c.data) return setError(problemText(c.error));
      applyConversation(c.data);
      setRequestId(c.data.requestId ?? '');
      if (m.data) {
        merge(m.data.data);
        setOlder(m.data.nextCursor);
      }
      heading.current?.focus();
    })();
  }, [client, id, merge, applyConversation]);

  useEffect(
    () =>
      subscribe((event) => {
        const message = event.data.message as Message | undefined;
        if (message?.conversationId === id) merge([message]);
        const c = event.data.conversation as Conversation | undefined;
        if (c?.id === id) setConversation(c);
        else if (message?.conversationId === id) void client.GET('/v1/conversations/{id}', { params: { path: { id } } }).then(({ data }) => data && setConversation(data));
      }),
    [subscribe, id, merge, client],
  );

  // Distance from the bottom when an older page was asked for: kept once it is shown, so the
  // reader stays on the message they were reading instead of jumping to the oldest one.
  const anchor = useRef<number | null>(null);
  const loadOlder = useCallback(async () => {
    if (!older || loadingOlder) return;
    setLoadingOlder(true);
    const { data } = await client.GET('/v1/conversations/{id}/messages', { params: { path: { id }, query: { limit: PAGE, cursor: older } } });
    setLoadingOlder(false);
    if (data) {
      const el = scroller.current;
      anchor.current = el ? el.scrollHeight - el.scrollTop : null;
      merge(data.data);
      setOlder(data.nextCursor);
    }
  }, [client, id, older, loadingOlder, merge]);

  const virtualizer = useVirtualizer({
    count: messages.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 64,
    overscan: 10,
    getItemKey: (i) => messages[i]!.id,
  });

  // Follow the newest message while the reader is at the bottom; keep the place when older pages arrive.
  const newest = messages.at(-1)?.id;
  const atBottom = useRef(true);
  useEffect(() => {
    if (atBottom.current && messages.length) virtualizer.scrollToIndex(messages.length - 1, { align: 'end' });
  }, [newest, messages.length, virtualizer]);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (anchor.current === null || !el) return;
    el.scrollTop = el.scrollHeight - anchor.current;
    anchor.current = null;
  }, [messages.length]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    if (el.scrollTop < 200) void loadOlder();
  };

  const act = async (call: () => Promise<{ data?: Conversation; error?: unknown }>) => {
    setError(null);
    const { data, error } = await call();
    if (data) applyConversation(data);
    else setError(problemText(error));
  };
  const path = { params: { path: { id } } };

  if (!conversation) {
    return (
      <section className="conversation" aria-label="Conversation">
        {error ? (
          <p className="error" role="alert">
            {error}
          </p>
        ) : (
          <p role="status">Loading…</p>
        )}
      </section>
    );
  }
  const name = conversation.contact.name ?? conversation.contact.phone ?? 'Unknown contact';
  const mine = conversation.assignee?.id === myId;

  return (
    <section className="conversation" aria-labelledby="conversation-title">
      <header className="conversation-head">
        <button type="button" className="secondary back" onClick={() => void navigate('/inbox')}>
          ← Back
        </button>
        <div>
          <h2 id="conversation-title" ref={heading} tabIndex={-1}>
            {name}
          </h2>
          <p className="muted">
            {conversation.contact.phone} · {conversation.status}
            {conversation.assignee ? ` · assigned to ${conversation.assignee.name}` : ' · unassigned'}
            {conversation.assistant ? ` · assistant ${conversation.assistant.state.replace('_', ' ')}` : ''}
          </p>
        </div>
        <div className="actions" role="group" aria-label="Conversation actions">
          <button type="button" className="secondary" onClick={() => void act(() => client.PUT('/v1/conversations/{id}/assign', { ...path, body: { userId: mine ? null : (myId ?? null) } }))}>
            {mine ? 'Unassign' : 'Assign to me'}
          </button>
          <button type="button" className="secondary" disabled={conversation.unreadCount === 0} onClick={() => void act(() => client.PUT('/v1/conversations/{id}/read', path))}>
            Mark read
          </button>
          {conversation.assistant && (
            <button
              type="button"
              className="secondary"
              onClick={() =>
                void (async () => {
                  const action = conversation.assistant?.state === 'active' ? 'pause' : 'resume';
                  const { error } = await client.POST(`/v1/conversations/{id}/assistant/${action}`, path);
                  if (error) return setError(problemText(error));
                  await act(() => client.GET('/v1/conversations/{id}', path));
                })()
              }
            >
              {conversation.assistant.state === 'active' ? 'Pause AI' : 'Resume AI'}
            </button>
          )}
          {conversation.status !== 'resolved' && conversation.status !== 'closed' && (
            <button type="button" className="secondary" onClick={() => void act(() => client.PATCH('/v1/conversations/{id}', { ...path, body: { status: 'resolved' } }))}>
              Resolve
            </button>
          )}
          {conversation.status === 'resolved' && (
            <button type="button" className="secondary" onClick={() => void act(() => client.PATCH('/v1/conversations/{id}', { ...path, body: { status: 'active' } }))}>
              Reopen
            </button>
          )}
          {conversation.status !== 'closed' && (
            <button
              type="button"
              className="danger"
              onClick={() => {
                if (window.confirm('Close this conversation? The contact’s next message starts a new one.'))
                  void act(() => client.PATCH('/v1/conversations/{id}', { ...path, body: { status: 'closed' } }));
              }}
            >
              Close
            </button>
          )}
        </div>
        <form
          className="link-request"
          onSubmit={(e) => {
            e.preventDefault();
            void act(() => client.PUT('/v1/conversations/{id}/link-request', { ...path, body: { requestId: requestId.trim() || null } }));
          }}
        >
          <label htmlFor="request-id">Request</label>
          <input id="request-id" value={requestId} onChange={(e) => setRequestId(e.target.value)} placeholder="e.g. TICKET-123" />
          <button type="submit" className="secondary">
            Link
          </button>
        </form>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </header>
      <div ref={scroller} className="messages" onScroll={onScroll} role="log" aria-label="Messages" aria-live="polite" tabIndex={0}>
        {older && (
          <p className="muted center">
            <button type="button" className="link" onClick={() => void loadOlder()} disabled={loadingOlder}>
              {loadingOlder ? 'Loading earlier messages…' : 'Load earlier messages'}
            </button>
          </p>
        )}
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
          {virtualizer.getVirtualItems().map((row) => (
            <div
              key={row.key}
              data-index={row.index}
              ref={virtualizer.measureElement}
              className="message-row"
              style={{ position: 'absolute', top: 0, left: 0, right: 0, transform: `translateY(${row.start}px)` }}
            >
              <MessageBubble message={messages[row.index]!} />
            </div>
          ))}
        </div>
      </div>
      <AssistantDrafts conversationId={id} version={conversation.updatedAt} />
      <Composer conversation={conversation} onSent={(m) => merge([m])} />
    </section>
  );
}
