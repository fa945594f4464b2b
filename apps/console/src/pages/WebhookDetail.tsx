import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { problemText } from '../api';
import { EventPicker } from '../components/EventPicker';
import { SecretOnce } from '../components/SecretOnce';
import { useSession } from '../session';
import '../admin.css';
import {
  deliveryQuery,
  disabledText,
  LOG_PAGE,
  refreshFirstPage,
  formatLatency,
  type Delivery,
  type LogFilters,
  NO_FILTERS,
  normalizeEvents,
  replayRange,
  type Subscription,
  type SubscriptionWithSecret,
} from '../webhooks';
import { StatusBadge } from './Webhooks';

/** How often the open delivery log is read again; the log has no live feed of its own. */
const REFRESH_MS = 5000;

/** One subscription: its settings, secret rotation, deletion, the delivery log, retry and replay. */
export function WebhookDetailPage() {
  const { id = '' } = useParams();
  const { client } = useSession();
  const navigate = useNavigate();
  const [subscription, setSubscription] = useState<Subscription | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [secret, setSecret] = useState<SubscriptionWithSecret | null>(null);
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    void client.GET('/v1/webhooks/{id}', { params: { path: { id } } }).then(({ data, error }) => {
      if (data) setSubscription(data);
      else setError(problemText(error, 'This subscription does not exist.'));
    });
  }, [client, id]);

  // Focus moves to the heading once per subscription opened, not on every change to it.
  const loadedId = subscription?.id;
  useEffect(() => {
    if (loadedId) heading.current?.focus();
  }, [loadedId]);

  const setStatus = async (status: 'active' | 'disabled') => {
    setError(null);
    setNotice(null);
    setBusy(true);
    const { data, error } = await client.PATCH('/v1/webhooks/{id}', { params: { path: { id } }, body: { status } });
    setBusy(false);
    if (!data) return setError(problemText(error));
    setSubscription(data);
    setNotice(status === 'active' ? 'Enabled: the endpoint answered the challenge, and waiting deliveries go out again.' : 'Disabled: nothing is sent until it is enabled again.');
  };

  const rotate = async () => {
    setError(null);
    setNotice(null);
    const { data, error } = await client.POST('/v1/webhooks/{id}/rotate-secret', { params: { path: { id } } });
    if (!data) return setError(problemText(error));
    const { secret: _secret, ...rest } = data;
    setSubscription(rest);
    setSecret(data);
  };

  const remove = async () => {
    if (!subscription || !window.confirm(`Delete the subscription of ${subscription.url} and its delivery log? This cannot be undone.`)) return;
    const { error, response } = await client.DELETE('/v1/webhooks/{id}', { params: { path: { id } } });
    if (!response.ok) return setError(problemText(error));
    void navigate('/webhooks');
  };

  if (!subscription) {
    return (
      <section className="page admin" aria-labelledby="webhook-title">
        <p>
          <Link to="/webhooks">← All webhooks</Link>
        </p>
        <h1 id="webhook-title">Subscription</h1>
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

  const disabled = disabledText(subscription);
  return (
    <section className="page admin" aria-labelledby="webhook-title">
      <p>
        <Link to="/webhooks">← All webhooks</Link>
      </p>
      <h1 id="webhook-title" className="url" tabIndex={-1} ref={heading}>
        {subscription.url}
      </h1>
      <p>
        <StatusBadge status={subscription.status} />
      </p>
      {disabled && <p className="error">{disabled}</p>}
      {subscription.failingSince && subscription.status === 'active' && (
        <p className="warn-text">Every attempt has failed since {new Date(subscription.failingSince).toLocaleString()}; after five days the subscription is disabled.</p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <p role="status">{notice ?? ''}</p>
      {secret && <SecretOnce title="New signing secret" values={[{ label: 'Signing secret', value: secret.secret }]} onDone={() => setSecret(null)} />}
      <div className="card stack">
        <h2>Secret and status</h2>
        <p className="hint">
          After a rotation the new secret signs at once, and for 24 hours the previous one signs too.
          {subscription.previousSecretExpiresAt && ` The previous secret signs until ${new Date(subscription.previousSecretExpiresAt).toLocaleString()}.`}
        </p>
        <div className="row">
          <button type="button" className="secondary" onClick={() => void rotate()}>
            Rotate secret
          </button>
          {subscription.status === 'active' ? (
            <button type="button" className="secondary" disabled={busy} onClick={() => void setStatus('disabled')}>
              Disable
            </button>
          ) : (
            <button type="button" disabled={busy} onClick={() => void setStatus('active')}>
              {busy ? 'Verifying the endpoint…' : 'Enable'}
            </button>
          )}
          <button type="button" className="danger" onClick={() => void remove()}>
            Delete…
          </button>
        </div>
      </div>
      <EditSubscription subscription={subscription} onSaved={(s) => { setSubscription(s); setNotice('Saved.'); }} />
      <DeliveryLog subscriptionId={id} />
      <Replay subscriptionId={id} />
    </section>
  );
}

function EditSubscription({ subscription, onSaved }: { subscription: Subscription; onSaved: (s: Subscription) => void }) {
  const { client } = useSession();
  const [events, setEvents] = useState<string[]>(subscription.events);
  const [touchpoint, setTouchpoint] = useState(subscription.filter.touchpoint ?? '');
  const [description, setDescription] = useState(subscription.description ?? '');
  const [problem, setProblem] = useState<string | null>(null);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const chosen = normalizeEvents(events);
    if (!chosen.length) return setProblem('Choose at least one event.');
    const { data, error } = await client.PATCH('/v1/webhooks/{id}', {
      params: { path: { id: subscription.id } },
      body: { events: chosen, filter: { touchpoint: touchpoint || null }, description: description.trim() || null },
    });
    if (!data) return setProblem(problemText(error));
    setEvents(data.events);
    onSaved(data);
  };

  return (
    <form className="card stack" onSubmit={(e) => void save(e)} aria-labelledby="edit-webhook">
      <h2 id="edit-webhook">Events</h2>
      <EventPicker id="edit-events" selected={events} onChange={setEvents} />
      <label htmlFor="edit-touchpoint">Touchpoint</label>
      <select id="edit-touchpoint" value={touchpoint} onChange={(e) => setTouchpoint(e.target.value)}>
        <option value="">Every touchpoint</option>
        <option value="whatsapp">WhatsApp only</option>
        {touchpoint && touchpoint !== 'whatsapp' && <option value={touchpoint}>{touchpoint} only</option>}
      </select>
      <label htmlFor="edit-description">Description</label>
      <input id="edit-description" maxLength={500} value={description} onChange={(e) => setDescription(e.target.value)} />
      <button type="submit">Save events</button>
      {problem && (
        <p className="error" role="alert">
          {problem}
        </p>
      )}
    </form>
  );
}

function DeliveryLog({ subscriptionId }: { subscriptionId: string }) {
  const { client } = useSession();
  const [form, setForm] = useState<LogFilters>(NO_FILTERS);
  const [applied, setApplied] = useState<LogFilters>(NO_FILTERS);
  const [deliveries, setDeliveries] = useState<Delivery[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [auto, setAuto] = useState(true);
  const [readAt, setReadAt] = useState<Date | null>(null);
  const deliveriesRef = useRef(deliveries);
  deliveriesRef.current = deliveries;

  /**
   * `replace`: new filters, the first page alone. `refresh`: the first page read again, older
   * pages already loaded kept below it. A cursor: the next older page, appended.
   */
  const read = useCallback(
    async (filters: LogFilters, mode: 'replace' | 'refresh' | { cursor: string }) => {
      const built = deliveryQuery(filters);
      if ('problem' in built) return setProblem(built.problem);
      const cursor = typeof mode === 'object' ? mode.cursor : undefined;
      const { data, error } = await client.GET('/v1/webhooks/{id}/deliveries', {
        params: { path: { id: subscriptionId }, query: { ...built.query, ...(cursor ? { cursor } : {}) } },
      });
      if (!data) return setProblem(problemText(error));
      setProblem(null);
      const keepsOlder = mode === 'refresh' && (deliveriesRef.current?.length ?? 0) > LOG_PAGE;
      setDeliveries((list) => (cursor ? [...(list ?? []), ...data.data] : mode === 'refresh' ? refreshFirstPage(list ?? [], data.data, LOG_PAGE) : data.data));
      if (!keepsOlder) setNextCursor(data.nextCursor);
      setReadAt(new Date());
    },
    [client, subscriptionId],
  );

  useEffect(() => {
    void read(applied, 'replace');
  }, [read, applied]);

  // The first page is read again while the log is open, unless the person turned that off.
  useEffect(() => {
    if (!auto) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') void read(applied, 'refresh');
    }, REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [auto, read, applied]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    const built = deliveryQuery(form);
    if ('problem' in built) return setProblem(built.problem);
    setApplied({ ...form });
  };

  const retry = async (d: Delivery) => {
    setNotice(null);
    const { data, error } = await client.POST('/v1/webhooks/{id}/deliveries/{deliveryId}/retry', { params: { path: { id: subscriptionId, deliveryId: d.id } } });
    if (!data) return setProblem(problemText(error));
    setDeliveries((list) => list?.map((x) => (x.id === data.id ? data : x)) ?? null);
    setNotice(`Retry of ${d.eventType} queued; it goes out within a moment.`);
  };

  return (
    <div className="card stack" role="region" aria-labelledby="log-title">
      <h2 id="log-title">Delivery log</h2>
      <form className="filters" onSubmit={apply} aria-label="Filter deliveries">
        <div className="stack">
          <label htmlFor="log-status">Status</label>
          <select id="log-status" value={form.status} onChange={(e) => setForm({ ...form, status: e.target.value as LogFilters['status'] })}>
            <option value="">Any</option>
            <option value="pending">Pending</option>
            <option value="succeeded">Delivered</option>
            <option value="failed">Failed</option>
          </select>
        </div>
        <div className="stack">
          <label htmlFor="log-event">Event type</label>
          <input id="log-event" value={form.eventType} placeholder="message or conversation.update" onChange={(e) => setForm({ ...form, eventType: e.target.value })} />
        </div>
        <div className="stack">
          <label htmlFor="log-since">Created from</label>
          <input id="log-since" type="datetime-local" value={form.since} onChange={(e) => setForm({ ...form, since: e.target.value })} />
        </div>
        <div className="stack">
          <label htmlFor="log-until">Created until</label>
          <input id="log-until" type="datetime-local" value={form.until} onChange={(e) => setForm({ ...form, until: e.target.value })} />
        </div>
        <button type="submit">Filter</button>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            setForm(NO_FILTERS);
            setApplied(NO_FILTERS);
          }}
        >
          Clear
        </button>
      </form>
      <div className="row log-tools">
        <button type="button" className="secondary" onClick={() => void read(applied, 'refresh')}>
          Refresh
        </button>
        <label className="check">
          <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} /> Refresh every {REFRESH_MS / 1000} s
        </label>
        {readAt && <span className="hint">Read at {readAt.toLocaleTimeString()}</span>}
      </div>
      {problem && (
        <p className="error" role="alert">
          {problem}
        </p>
      )}
      <p role="status" className="hint">
        {notice ?? ''}
      </p>
      {deliveries === null ? (
        <p role="status">Loading…</p>
      ) : deliveries.length === 0 ? (
        <p className="muted">No delivery matches.</p>
      ) : (
        <ul className="deliveries">
          {deliveries.map((d) => (
            <DeliveryItem key={d.id} delivery={d} onRetry={() => void retry(d)} />
          ))}
        </ul>
      )}
      {nextCursor && (
        <button type="button" className="secondary" onClick={() => void read(applied, { cursor: nextCursor })}>
          Load older deliveries
        </button>
      )}
    </div>
  );
}

const STATUS_TEXT: Record<Delivery['status'], string> = { pending: 'Pending', succeeded: 'Delivered', failed: 'Failed' };

function DeliveryItem({ delivery: d, onRetry }: { delivery: Delivery; onRetry: () => void }) {
  return (
    <li className={`delivery ${d.status}`} aria-label={`${d.eventType}, ${STATUS_TEXT[d.status]}`}>
      <details>
        <summary>
          <span className={`badge status-${d.status}`}>{STATUS_TEXT[d.status]}</span> <code>{d.eventType}</code>{' '}
          <time dateTime={d.eventCreatedAt}>{new Date(d.eventCreatedAt).toLocaleString()}</time>{' '}
          <span className="muted">
            {/* attemptCount restarts with a replay's fresh schedule; the log counts every attempt. */}
            {d.attempts.length} {d.attempts.length === 1 ? 'attempt' : 'attempts'}
            {d.lastStatusCode !== null ? `, last ${d.lastStatusCode}` : ''}
          </span>
        </summary>
        <dl className="facts">
          <div className="fact">
            <dt>Event id (webhook-id)</dt>
            <dd>
              <code>{d.eventId}</code>
            </dd>
          </div>
          {d.nextAttemptAt && d.status === 'pending' && (
            <div className="fact">
              <dt>Next attempt</dt>
              <dd>{new Date(d.nextAttemptAt).toLocaleString()}</dd>
            </div>
          )}
          {d.lastError && (
            <div className="fact">
              <dt>Last error</dt>
              <dd>{d.lastError}</dd>
            </div>
          )}
        </dl>
        {d.attempts.length > 0 && (
          <div className="scroll-x" role="region" aria-label={`Attempts of ${d.eventType}`} tabIndex={0}>
            <table>
              <caption className="visually-hidden">Attempts, oldest first</caption>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Trigger</th>
                  <th scope="col">Status</th>
                  <th scope="col">Latency</th>
                  <th scope="col">Response</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {d.attempts.map((a, i) => (
                  <tr key={`${a.attemptedAt}-${i}`} className={a.succeeded ? 'ok' : 'failed'}>
                    <td>
                      <time dateTime={a.attemptedAt}>{new Date(a.attemptedAt).toLocaleString()}</time>
                    </td>
                    <td>{a.trigger}</td>
                    <td data-testid="attempt-status">{a.statusCode ?? '—'}</td>
                    <td>{formatLatency(a.latencyMs)}</td>
                    <td>
                      <code className="excerpt">{a.responseExcerpt ?? ''}</code>
                    </td>
                    <td>{a.error ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <button type="button" className="secondary" onClick={onRetry}>
          Retry<span className="visually-hidden"> {d.eventType}</span> now
        </button>
      </details>
    </li>
  );
}

function Replay({ subscriptionId }: { subscriptionId: string }) {
  const { client } = useSession();
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const range = replayRange(since, until);
    if ('problem' in range) return setMessage({ ok: false, text: range.problem });
    const { data, error } = await client.POST('/v1/webhooks/{id}/replay', {
      params: { path: { id: subscriptionId } },
      body: range,
      headers: { 'Idempotency-Key': crypto.randomUUID() },
    });
    if (!data) return setMessage({ ok: false, text: problemText(error) });
    setMessage({ ok: true, text: `${data.replayed} ${data.replayed === 1 ? 'event' : 'events'} queued for delivery again.` });
  };

  return (
    <form className="card stack" onSubmit={(e) => void submit(e)} aria-labelledby="replay-title">
      <h2 id="replay-title">Replay a time range</h2>
      <p className="hint">Every event of the range that this subscription matches is sent again, under its original event id, on a fresh retry schedule. Events are kept 30 days.</p>
      <label htmlFor="replay-since">From</label>
      <input id="replay-since" type="datetime-local" required value={since} onChange={(e) => setSince(e.target.value)} />
      <label htmlFor="replay-until">Until</label>
      <input id="replay-until" type="datetime-local" required value={until} onChange={(e) => setUntil(e.target.value)} />
      <button type="submit">Replay</button>
      {message && (
        <p className={message.ok ? '' : 'error'} role={message.ok ? 'status' : 'alert'}>
          {message.text}
        </p>
      )}
    </form>
  );
}
