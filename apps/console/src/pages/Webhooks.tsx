import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { problemText } from '../api';
import { EventPicker } from '../components/EventPicker';
import { SecretOnce } from '../components/SecretOnce';
import { useSession } from '../session';
import '../admin.css';
import { backlogSummary, disabledText, normalizeEvents, type Backlog, type Subscription, type SubscriptionWithSecret } from '../webhooks';

/** Partner webhooks: the organization's subscriptions, a new one, and how far behind delivery is. */
export function WebhooksPage() {
  const { client } = useSession();
  const [subscriptions, setSubscriptions] = useState<Subscription[] | null>(null);
  const [backlog, setBacklog] = useState<Backlog | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<SubscriptionWithSecret | null>(null);

  const load = useCallback(async () => {
    const [list, behind] = await Promise.all([
      client.GET('/v1/webhooks', { params: { query: { limit: 100 } } }),
      client.GET('/v1/webhooks/backlog'),
    ]);
    if (list.data) setSubscriptions(list.data.data);
    else setError(problemText(list.error));
    if (behind.data) setBacklog(behind.data);
  }, [client]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <section className="page admin" aria-labelledby="webhooks-title">
      <h1 id="webhooks-title">Webhooks</h1>
      <p className="hint">
        Parley POSTs each event your endpoints subscribe to, signed with the subscription’s secret (Standard Webhooks). See <code>docs/webhooks.md</code>.
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {backlog && (
        <div className="card stack" aria-labelledby="backlog-title">
          <h2 id="backlog-title">Backlog</h2>
          <p data-testid="backlog">{backlogSummary(backlog)}</p>
          <button type="button" className="secondary" onClick={() => void load()}>
            Refresh
          </button>
        </div>
      )}
      {created && (
        <SecretOnce
          title={`Signing secret of ${created.url}`}
          values={[{ label: 'Signing secret', value: created.secret }]}
          onDone={() => setCreated(null)}
        />
      )}
      <h2>Subscriptions</h2>
      {subscriptions === null ? (
        <p role="status">Loading…</p>
      ) : subscriptions.length === 0 ? (
        <p className="muted">No subscription yet.</p>
      ) : (
        <ul className="cards">
          {subscriptions.map((s) => (
            <SubscriptionCard key={s.id} subscription={s} />
          ))}
        </ul>
      )}
      <NewSubscription
        onCreated={(s) => {
          setCreated(s);
          void load();
        }}
      />
    </section>
  );
}

export function StatusBadge({ status }: { status: Subscription['status'] }) {
  return <span className={`badge status-${status}`}>{status === 'active' ? 'Active' : 'Disabled'}</span>;
}

function SubscriptionCard({ subscription: s }: { subscription: Subscription }) {
  const disabled = disabledText(s);
  return (
    <li className="card stack" aria-label={`Subscription ${s.url}`}>
      <h3 className="url">{s.url}</h3>
      <p>
        <StatusBadge status={s.status} /> {s.installationId ? <span className="badge">Partner app</span> : null}
      </p>
      {disabled && <p className="error">{disabled}</p>}
      {s.failingSince && s.status === 'active' && <p className="warn-text">Failing since {new Date(s.failingSince).toLocaleString()}.</p>}
      {s.description && <p>{s.description}</p>}
      <p className="events">
        {s.events.map((e) => (
          <code key={e}>{e}</code>
        ))}
      </p>
      {s.filter.touchpoint && <p className="hint">Only {s.filter.touchpoint} events.</p>}
      <Link to={`/webhooks/${s.id}`}>
        Delivery log and settings<span className="visually-hidden"> of {s.url}</span>
      </Link>
    </li>
  );
}

function NewSubscription({ onCreated }: { onCreated: (s: SubscriptionWithSecret) => void }) {
  const { client } = useSession();
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<string[]>([]);
  const [touchpoint, setTouchpoint] = useState('');
  const [description, setDescription] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const chosen = normalizeEvents(events);
    if (!chosen.length) return setProblem('Choose at least one event.');
    setBusy(true);
    // The platform first checks the endpoint with GET ?challenge=, so this can take a few seconds.
    const { data, error } = await client.POST('/v1/webhooks', {
      body: { url: url.trim(), events: chosen, ...(touchpoint ? { filter: { touchpoint } } : {}), ...(description.trim() ? { description: description.trim() } : {}) },
      headers: { 'Idempotency-Key': crypto.randomUUID() },
    });
    setBusy(false);
    if (!data) return setProblem(problemText(error));
    setUrl('');
    setEvents([]);
    setTouchpoint('');
    setDescription('');
    onCreated(data);
  };

  return (
    <form className="card stack" onSubmit={(e) => void submit(e)} aria-labelledby="new-webhook">
      <h2 id="new-webhook">New subscription</h2>
      <label htmlFor="wh-url">Endpoint URL</label>
      <p id="wh-url-help" className="hint">
        https. It must answer <code>GET ?challenge=C</code> with <code>C</code> before the subscription is made.
      </p>
      <input id="wh-url" type="url" required inputMode="url" value={url} onChange={(e) => setUrl(e.target.value)} aria-describedby="wh-url-help" />
      <EventPicker id="wh-events" selected={events} onChange={setEvents} />
      <label htmlFor="wh-touchpoint">Touchpoint</label>
      <select id="wh-touchpoint" value={touchpoint} onChange={(e) => setTouchpoint(e.target.value)}>
        <option value="">Every touchpoint</option>
        <option value="whatsapp">WhatsApp only</option>
      </select>
      <label htmlFor="wh-description">Description (optional)</label>
      <input id="wh-description" maxLength={500} value={description} onChange={(e) => setDescription(e.target.value)} />
      <button type="submit" disabled={busy}>
        {busy ? 'Verifying the endpoint…' : 'Subscribe'}
      </button>
      {problem && (
        <p className="error" role="alert">
          {problem}
        </p>
      )}
    </form>
  );
}
