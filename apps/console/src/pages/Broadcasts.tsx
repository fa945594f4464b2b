import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { type Channel, problemText } from '../api';
import { addSample, type Broadcast, type Sample } from '../broadcast-chart';
import { BroadcastChart } from '../components/BroadcastChart';
import { BroadcastRecipients } from '../components/BroadcastRecipients';
import { templateKeys } from '../components/Composer';
import { attachProblems, parseRecipients, placeholderComponents, type RecipientRow, requireParams } from '../csv';
import { useEventStream } from '../events';
import { useSession } from '../session';
import './broadcasts.css';

interface Template {
  id: string;
  name: string;
  language: string;
  category: string;
  parameterFormat: 'POSITIONAL' | 'NAMED';
  components: unknown[];
}

const CHECK_BATCH = 1000;

/** The template as a broadcast sends it: each variable a {{ placeholder }} filled from the recipient's row. */
function sendTemplate(t: Template) {
  const components = placeholderComponents(t);
  return { name: t.name, language: t.language, ...(components.length ? { components } : {}) };
}

export function BroadcastsPage() {
  const { client } = useSession();
  const [broadcasts, setBroadcasts] = useState<Broadcast[]>([]);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error } = await client.GET('/v1/broadcasts', { params: { query: { limit: 20 } } });
    if (data) setBroadcasts(data.data);
    else setError(problemText(error));
  }, [client]);
  useEffect(() => {
    void load();
  }, [load]);

  const replace = useCallback((b: Broadcast) => {
    setBroadcasts((list) => (list.some((x) => x.id === b.id) ? list.map((x) => (x.id === b.id ? b : x)) : [b, ...list]));
  }, []);
  // Starts and ends arrive as broadcast.update and broadcast.completed events; each card reads
  // the progress in between.
  useEventStream(client, (event) => {
    const b = event.data.broadcast as Broadcast | undefined;
    if (!event.type.startsWith('broadcast.') || !b) return;
    replace(b);
  });

  return (
    <section className="page" aria-labelledby="broadcasts-title">
      <h1 id="broadcasts-title">Broadcasts</h1>
      <NewBroadcast onStarted={() => void load()} />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <h2>Recent</h2>
      {broadcasts.length === 0 ? (
        <p className="muted">No broadcast yet.</p>
      ) : (
        <ul className="cards broadcast-cards">
          {broadcasts.map((b) => (
            <BroadcastCard key={b.id} broadcast={b} onChange={() => void load()} onUpdate={replace} />
          ))}
        </ul>
      )}
    </section>
  );
}

/** How often a card re-reads its broadcast while figures can still move. */
const PROGRESS_POLL_MS = 1000;
/**
 * Statuses (delivered, read) keep arriving after the last send: a finished broadcast is still
 * followed this long. Only its start and end are events, so progress in between is read.
 */
const FOLLOW_AFTER_FINISH_MS = 2 * 60 * 1000;

function following(b: Broadcast, now: number): boolean {
  if (b.status === 'running') return true;
  return !!b.finishedAt && now - Date.parse(b.finishedAt) < FOLLOW_AFTER_FINISH_MS && b.status !== 'failed';
}

/** Re-reads the broadcast while it runs (and a while after), and keeps its figures over time. */
function useProgress(b: Broadcast, onUpdate: (b: Broadcast) => void): Sample[] {
  const { client } = useSession();
  const [samples, setSamples] = useState<Sample[]>(() => [{ at: Date.now(), stats: b.statistics }]);
  const update = useRef(onUpdate);
  update.current = onUpdate;
  useEffect(() => {
    setSamples((old) => addSample(old, { at: Date.now(), stats: b.statistics }));
  }, [b.statistics]);
  const live = following(b, Date.now());
  useEffect(() => {
    if (!live) return;
    let stopped = false;
    const timer = setInterval(() => {
      void client.GET('/v1/broadcasts/{id}', { params: { path: { id: b.id }, query: { limit: 1 } } }).then(({ data }) => {
        if (stopped || !data) return;
        const { statuses: _statuses, nextCursor: _next, ...view } = data;
        update.current(view);
      });
    }, PROGRESS_POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [client, b.id, live]);
  return samples;
}

function BroadcastCard({ broadcast: b, onChange, onUpdate }: { broadcast: Broadcast; onChange: () => void; onUpdate: (b: Broadcast) => void }) {
  const { client } = useSession();
  const [open, setOpen] = useState(false);
  const samples = useProgress(b, onUpdate);
  const s = b.statistics;
  const done = s.total - s.pending;
  const download = async () => {
    const res = await client.authorizedFetch(new Request(`${window.location.origin}/v1/broadcasts/${b.id}/statuses.csv`));
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = `broadcast-${b.id}.csv`;
    a.click();
    URL.revokeObjectURL(url);
  };
  const panelId = `bc-recipients-${b.id}`;
  return (
    <li className="card stack" aria-label={`Broadcast ${b.template.name}`}>
      <h3>
        {b.template.name} <span className="muted">({b.status})</span>
      </h3>
      <p className="hint">
        Started <time dateTime={b.createdAt}>{new Date(b.createdAt).toLocaleString()}</time>
        {b.finishedAt && (
          <>
            , ended <time dateTime={b.finishedAt}>{new Date(b.finishedAt).toLocaleString()}</time>
          </>
        )}
      </p>
      <progress max={s.total || 1} value={done} aria-label={`${done} of ${s.total} processed`} />
      <BroadcastChart stats={s} samples={samples} />
      {b.failureReason && <p className="error">{b.failureReason}</p>}
      <div className="row">
        <button type="button" className="secondary" aria-expanded={open} aria-controls={panelId} onClick={() => setOpen(!open)}>
          {open ? 'Hide recipients' : 'Recipients'}
        </button>
        <button type="button" className="secondary" onClick={() => void download()}>
          Export statuses (CSV)
        </button>
        {b.status === 'running' && (
          <button type="button" className="danger" onClick={() => void client.POST('/v1/broadcasts/{id}/cancel', { params: { path: { id: b.id } } }).then(onChange)}>
            Cancel
          </button>
        )}
      </div>
      <div id={panelId} hidden={!open}>
        {open && <BroadcastRecipients broadcastId={b.id} version={`${b.status}:${Object.values(s).join(',')}`} />}
      </div>
    </li>
  );
}

function NewBroadcast({ onStarted }: { onStarted: () => void }) {
  const { client } = useSession();
  const [channels, setChannels] = useState<Channel[]>([]);
  const [channelId, setChannelId] = useState('');
  const [templates, setTemplates] = useState<Template[]>([]);
  const [templateId, setTemplateId] = useState('');
  const [csv, setCsv] = useState('');
  const [rows, setRows] = useState<RecipientRow[] | null>(null);
  const [problems, setProblems] = useState<string[]>([]);
  const [status, setStatus] = useState<string | null>(null);

  useEffect(() => {
    void client.GET('/v1/channels', { params: { query: { limit: 100 } } }).then(({ data }) => {
      setChannels(data?.data ?? []);
      if (data?.data[0]) setChannelId(data.data[0].id);
    });
  }, [client]);
  useEffect(() => {
    if (!channelId) return;
    void client.GET('/v1/templates', { params: { query: { channelId, status: 'APPROVED', limit: 100 } } }).then(({ data }) => setTemplates((data?.data ?? []) as Template[]));
  }, [client, channelId]);

  const template = useMemo(() => templates.find((t) => t.id === templateId), [templates, templateId]);
  const good = rows?.filter((r) => r.problems.length === 0) ?? [];
  const bad = rows?.filter((r) => r.problems.length > 0) ?? [];

  const check = async (event?: FormEvent) => {
    event?.preventDefault();
    setStatus(null);
    if (!template) return setProblems(['Choose a template.']);
    const parsed = parseRecipients(csv);
    if (parsed.error) {
      setRows(null);
      return setProblems([parsed.error]);
    }
    requireParams(parsed.rows, templateKeys(template));
    const general: string[] = [];
    const candidates = parsed.rows.filter((r) => r.problems.length === 0);
    // Every row through the same check the send makes, a thousand at a time.
    for (let i = 0; i < candidates.length; i += CHECK_BATCH) {
      const batch = candidates.slice(i, i + CHECK_BATCH);
      const { error } = await client.POST('/v1/templates/validate', {
        body: { channelId, template: sendTemplate(template), recipients: batch.map((r) => ({ params: r.params })) },
      });
      if (error) {
        const p = error as { errors?: Array<{ path?: string; message?: string }> };
        general.push(...(p.errors?.length ? attachProblems(batch, p.errors) : [problemText(error)]));
      }
    }
    setRows(parsed.rows);
    setProblems(general);
  };

  const start = async () => {
    if (!template || !good.length) return;
    const { data, error } = await client.POST('/v1/broadcasts', {
      body: { channelId, template: sendTemplate(template), users: good.map((r) => ({ phone: r.phone, params: r.params })) },
      headers: { 'Idempotency-Key': crypto.randomUUID() },
    });
    if (!data) return setProblems([problemText(error)]);
    setStatus(`Started: ${data.added} recipients${data.duplicates ? `, ${data.duplicates} duplicates left out` : ''}.`);
    setRows(null);
    setCsv('');
    onStarted();
  };

  const keys = template ? templateKeys(template) : [];
  return (
    <form className="card stack" onSubmit={(e) => void check(e)} aria-labelledby="new-broadcast">
      <h2 id="new-broadcast">New broadcast</h2>
      <label htmlFor="bc-channel">Number</label>
      <select id="bc-channel" value={channelId} onChange={(e) => setChannelId(e.target.value)}>
        {channels.map((c) => (
          <option key={c.id} value={c.id}>
            {c.label} ({c.phoneNumber})
          </option>
        ))}
      </select>
      <label htmlFor="bc-template">Template</label>
      <select id="bc-template" value={templateId} onChange={(e) => setTemplateId(e.target.value)}>
        <option value="">Choose a template…</option>
        {templates.map((t) => (
          <option key={t.id} value={t.id}>
            {t.name} ({t.language}, {t.category.toLowerCase()})
          </option>
        ))}
      </select>
      <label htmlFor="bc-csv">Recipients (CSV)</label>
      <p id="bc-csv-help" className="hint">
        A header row with <code>phone</code>
        {keys.length ? ` and ${keys.map((k) => `\`${k}\``).join(', ')}` : ''}, then one row per recipient. Paste it or choose a file.
      </p>
      <textarea id="bc-csv" rows={6} value={csv} onChange={(e) => setCsv(e.target.value)} aria-describedby="bc-csv-help" />
      <label htmlFor="bc-file">CSV file</label>
      <input id="bc-file" type="file" accept=".csv,text/csv" onChange={(e) => void e.target.files?.[0]?.text().then(setCsv)} />
      <button type="submit">Check recipients</button>
      {problems.length > 0 && (
        <ul className="error" role="alert">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      {rows && (
        <div aria-live="polite">
          <p role="status">
            {good.length} ready, {bad.length} with problems (not sent).
          </p>
          {bad.length > 0 && (
            <table>
              <caption>Rows that will not be sent</caption>
              <thead>
                <tr>
                  <th scope="col">Line</th>
                  <th scope="col">Phone</th>
                  <th scope="col">Problem</th>
                </tr>
              </thead>
              <tbody>
                {bad.map((r) => (
                  <tr key={r.line}>
                    <td>{r.line}</td>
                    <td>{r.phone}</td>
                    <td>{r.problems.join('; ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <button type="button" disabled={!good.length} onClick={() => void start()}>
            Start broadcast to {good.length}
          </button>
        </div>
      )}
      {status && <p role="status">{status}</p>}
    </form>
  );
}
