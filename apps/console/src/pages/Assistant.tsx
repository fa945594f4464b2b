import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { Link } from 'react-router';
import type { paths } from '../../../../packages/sdk/src/generated/openapi';
import { type Channel, problemText } from '../api';
import { problemsOf } from '../routing/problems';
import type { Problem } from '../routing/tree-layout';
import { useSession } from '../session';
import { ProblemList } from './routing/shared';

type Settings = paths['/v1/channels/{id}/assistant']['get']['responses'][200]['content']['application/json'];
type Entry = Settings['knowledgeBase'][number];
type Usage = paths['/v1/assistant/usage']['get']['responses'][200]['content']['application/json'];

interface Form {
  mode: Settings['mode'];
  model: string;
  instructions: string;
  handoffMessage: string;
  language: string;
  replyLength: Settings['replyLength'];
  quietSeconds: string;
  knowledgeTopK: string;
}

const DEFAULTS: Form = {
  mode: 'off',
  model: 'gpt-4o-mini',
  instructions: 'You answer customers of our business on WhatsApp. Be brief and friendly. Hand the conversation to a person when you cannot help.',
  handoffMessage: '',
  language: '',
  replyLength: 'short',
  quietSeconds: '3',
  knowledgeTopK: '3',
};

const MODES: { value: Settings['mode']; label: string; hint: string }[] = [
  { value: 'auto', label: 'Answer automatically', hint: 'Replies are sent to the contact.' },
  { value: 'draft', label: 'Suggest drafts', hint: 'Replies wait in the conversation for an agent to send, edit or discard.' },
  { value: 'off', label: 'Off', hint: 'The assistant does nothing on this number.' },
];

function formOf(s: Settings): Form {
  return {
    mode: s.mode,
    model: s.model,
    instructions: s.instructions,
    handoffMessage: s.handoffMessage ?? '',
    language: s.language ?? '',
    replyLength: s.replyLength,
    quietSeconds: String(s.quietTimeMs / 1000),
    knowledgeTopK: String(s.knowledgeTopK),
  };
}

/** The AI assistant of each number: how it answers, what it knows, and the organization's token budget. */
export function AssistantPage() {
  const { client } = useSession();
  const [channels, setChannels] = useState<Channel[] | null>(null);
  const [channelId, setChannelId] = useState('');
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    void client.GET('/v1/channels', { params: { query: { limit: 100 } } }).then(({ data, error }) => {
      if (!data) return setError(problemText(error));
      setChannels(data.data);
      setChannelId((id) => id || data.data[0]?.id || '');
    });
  }, [client]);

  return (
    <section className="page config" aria-labelledby="assistant-title">
      <h1 id="assistant-title">AI assistant</h1>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {channels === null ? (
        <p role="status">Loading…</p>
      ) : channels.length === 0 ? (
        <p>Connect a WhatsApp number first: each number has its own assistant.</p>
      ) : (
        <>
          <div className="stack narrow">
            <label htmlFor="assistant-channel">Number</label>
            <select id="assistant-channel" value={channelId} onChange={(e) => setChannelId(e.target.value)}>
              {channels.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.label} ({c.phoneNumber})
                </option>
              ))}
            </select>
          </div>
          {channelId && <ChannelAssistant key={channelId} channelId={channelId} />}
        </>
      )}
      <UsageAndBudget />
    </section>
  );
}

function ChannelAssistant({ channelId }: { channelId: string }) {
  const { client } = useSession();
  const [settings, setSettings] = useState<Settings | null | undefined>(undefined);
  const [form, setForm] = useState<Form>(DEFAULTS);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [status, setStatus] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error, response } = await client.GET('/v1/channels/{id}/assistant', { params: { path: { id: channelId } } });
    if (data) {
      setSettings(data);
      setForm(formOf(data));
    } else if (response.status === 404) setSettings(null);
    else setProblems(problemsOf(error));
  }, [client, channelId]);

  useEffect(() => {
    void load();
  }, [load]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setStatus(null);
    const { data, error } = await client.PUT('/v1/channels/{id}/assistant', {
      params: { path: { id: channelId } },
      body: {
        enabled: form.mode !== 'off',
        mode: form.mode,
        model: form.model,
        instructions: form.instructions,
        handoffMessage: form.handoffMessage.trim() || null,
        language: form.language.trim() || null,
        replyLength: form.replyLength,
        quietTimeMs: Math.round(Number(form.quietSeconds) * 1000),
        knowledgeTopK: Number(form.knowledgeTopK),
      },
    });
    if (!data) return setProblems(problemsOf(error));
    setProblems([]);
    setSettings(data);
    setForm(formOf(data));
    setStatus(`Saved: ${MODES.find((m) => m.value === data.mode)?.label.toLowerCase()}.`);
  };

  if (settings === undefined && !problems.length) return <p role="status">Loading…</p>;
  const field = (path: string) => problems.some((p) => p.path === path) || undefined;
  return (
    <>
      <form className="card stack" onSubmit={(e) => void save(e)} aria-labelledby="assistant-config-title">
        <h2 id="assistant-config-title">Configuration</h2>
        {settings === null && <p className="hint">This number has no assistant yet. Save to create its configuration.</p>}
        <fieldset className="modes">
          <legend>Mode</legend>
          {MODES.map((m) => (
            <label key={m.value} className="check">
              <input type="radio" name="assistant-mode" value={m.value} checked={form.mode === m.value} onChange={() => setForm({ ...form, mode: m.value })} />
              <span>
                {m.label} <span className="hint">{m.hint}</span>
              </span>
            </label>
          ))}
        </fieldset>
        <label htmlFor="assistant-model">Model</label>
        <input id="assistant-model" required maxLength={200} value={form.model} aria-invalid={field('model')} onChange={(e) => setForm({ ...form, model: e.target.value })} />
        <label htmlFor="assistant-instructions">Instructions</label>
        <textarea id="assistant-instructions" required rows={4} maxLength={20_000} value={form.instructions} aria-invalid={field('instructions')} onChange={(e) => setForm({ ...form, instructions: e.target.value })} />
        <label htmlFor="assistant-handoff">Handoff message (optional)</label>
        <input
          id="assistant-handoff"
          maxLength={1000}
          value={form.handoffMessage}
          aria-describedby="assistant-handoff-hint"
          aria-invalid={field('handoffMessage')}
          onChange={(e) => setForm({ ...form, handoffMessage: e.target.value })}
        />
        <p id="assistant-handoff-hint" className="hint">
          Sent once when the assistant hands the conversation to a person.
        </p>
        <div className="grid-2">
          <span className="stack">
            <label htmlFor="assistant-language">Reply language</label>
            <input id="assistant-language" maxLength={50} placeholder="The contact’s" value={form.language} aria-invalid={field('language')} onChange={(e) => setForm({ ...form, language: e.target.value })} />
          </span>
          <span className="stack">
            <label htmlFor="assistant-length">Reply length</label>
            <select id="assistant-length" value={form.replyLength} onChange={(e) => setForm({ ...form, replyLength: e.target.value as Form['replyLength'] })}>
              <option value="short">Short (one to three sentences)</option>
              <option value="medium">Medium</option>
              <option value="long">Long</option>
            </select>
          </span>
          <span className="stack">
            <label htmlFor="assistant-quiet">Quiet time (seconds)</label>
            <input
              id="assistant-quiet"
              type="number"
              min={0}
              max={60}
              step={0.5}
              required
              value={form.quietSeconds}
              aria-describedby="assistant-quiet-hint"
              aria-invalid={field('quietTimeMs')}
              onChange={(e) => setForm({ ...form, quietSeconds: e.target.value })}
            />
            <span id="assistant-quiet-hint" className="hint">
              Wait after the contact’s last message, so a burst gets one reply.
            </span>
          </span>
          <span className="stack">
            <label htmlFor="assistant-topk">Knowledge entries per reply</label>
            <input
              id="assistant-topk"
              type="number"
              min={0}
              max={20}
              required
              value={form.knowledgeTopK}
              aria-invalid={field('knowledgeTopK')}
              onChange={(e) => setForm({ ...form, knowledgeTopK: e.target.value })}
            />
          </span>
        </div>
        <ProblemList problems={problems} />
        <button type="submit">Save assistant</button>
        {status && <p role="status">{status}</p>}
      </form>
      {settings ? (
        <KnowledgeBase channelId={channelId} entries={settings.knowledgeBase} onChanged={load} />
      ) : (
        settings === null && <p className="muted">The knowledge base opens once the configuration is saved.</p>
      )}
    </>
  );
}

function KnowledgeBase({ channelId, entries, onChanged }: { channelId: string; entries: Entry[]; onChanged: () => Promise<void> }) {
  const { client } = useSession();
  const [adding, setAdding] = useState({ title: '', text: '' });
  const [editing, setEditing] = useState<{ id: string; title: string; text: string } | null>(null);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [status, setStatus] = useState<string | null>(null);

  const add = async (event: FormEvent) => {
    event.preventDefault();
    const { data, error } = await client.POST('/v1/channels/{id}/assistant/knowledge-base', {
      params: { path: { id: channelId } },
      body: adding,
      headers: { 'Idempotency-Key': crypto.randomUUID() },
    });
    if (!data) return setProblems(problemsOf(error));
    setProblems([]);
    setAdding({ title: '', text: '' });
    setStatus(`Added “${data.title}”.`);
    await onChanged();
  };

  const update = async (event: FormEvent) => {
    event.preventDefault();
    if (!editing) return;
    const { data, error } = await client.PATCH('/v1/channels/{id}/assistant/knowledge-base/{entryId}', {
      params: { path: { id: channelId, entryId: editing.id } },
      body: { title: editing.title, text: editing.text },
    });
    if (!data) return setProblems(problemsOf(error));
    setProblems([]);
    setEditing(null);
    setStatus(`Saved “${data.title}”.`);
    await onChanged();
  };

  const remove = async (entry: Entry) => {
    if (!window.confirm(`Remove “${entry.title}” from the knowledge base?`)) return;
    const { error, response } = await client.DELETE('/v1/channels/{id}/assistant/knowledge-base/{entryId}', { params: { path: { id: channelId, entryId: entry.id } } });
    if (!response.ok) return setProblems(problemsOf(error));
    setStatus(`Removed “${entry.title}”.`);
    await onChanged();
  };

  return (
    <section className="card stack" aria-labelledby="kb-title">
      <h2 id="kb-title">Knowledge base</h2>
      <p className="hint">The entries most relevant to what the contact asked go into each reply’s prompt.</p>
      {entries.length === 0 ? (
        <p className="muted">No entries yet.</p>
      ) : (
        <ul className="kb-list" aria-label="Knowledge entries">
          {entries.map((e) =>
            editing?.id === e.id ? (
              <li key={e.id}>
                <form className="stack" onSubmit={(ev) => void update(ev)} aria-label={`Edit ${e.title}`}>
                  <label htmlFor={`kb-title-${e.id}`}>Entry title</label>
                  <input id={`kb-title-${e.id}`} required maxLength={200} value={editing.title} onChange={(ev) => setEditing({ ...editing, title: ev.target.value })} />
                  <label htmlFor={`kb-text-${e.id}`}>Entry text</label>
                  <textarea id={`kb-text-${e.id}`} required rows={4} maxLength={20_000} value={editing.text} onChange={(ev) => setEditing({ ...editing, text: ev.target.value })} />
                  <div className="row">
                    <button type="submit">Save entry</button>
                    <button type="button" className="secondary" onClick={() => setEditing(null)}>
                      Cancel
                    </button>
                  </div>
                </form>
              </li>
            ) : (
              <li key={e.id}>
                <h3>{e.title}</h3>
                <p className="kb-text">{e.text}</p>
                <div className="row">
                  <button type="button" className="secondary" onClick={() => setEditing({ id: e.id, title: e.title, text: e.text })} aria-label={`Edit ${e.title}`}>
                    Edit
                  </button>
                  <button type="button" className="danger" onClick={() => void remove(e)} aria-label={`Remove ${e.title}`}>
                    Remove
                  </button>
                </div>
              </li>
            ),
          )}
        </ul>
      )}
      <form className="stack" onSubmit={(e) => void add(e)} aria-labelledby="kb-add-title">
        <h3 id="kb-add-title">Add an entry</h3>
        <label htmlFor="kb-new-title">Title</label>
        <input id="kb-new-title" required maxLength={200} value={adding.title} onChange={(e) => setAdding({ ...adding, title: e.target.value })} />
        <label htmlFor="kb-new-text">Text</label>
        <textarea id="kb-new-text" required rows={4} maxLength={20_000} value={adding.text} onChange={(e) => setAdding({ ...adding, text: e.target.value })} />
        <button type="submit">Add entry</button>
      </form>
      <ProblemList problems={problems} />
      {status && <p role="status">{status}</p>}
    </section>
  );
}

function UsageAndBudget() {
  const { client } = useSession();
  const [usage, setUsage] = useState<Usage | null>(null);
  const [budget, setBudget] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);

  useEffect(() => {
    void client.GET('/v1/assistant/usage').then(({ data, error }) => {
      if (!data) return setError(problemText(error));
      setUsage(data);
      setBudget(data.monthlyTokenBudget === null ? '' : String(data.monthlyTokenBudget));
    });
  }, [client]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    const { data, error } = await client.PUT('/v1/assistant/budget', { body: { monthlyTokenBudget: budget.trim() === '' ? null : Number(budget) } });
    if (!data) return setError(problemText(error));
    setError(null);
    setUsage(data);
    setStatus(data.monthlyTokenBudget === null ? 'No monthly limit.' : `Monthly budget: ${data.monthlyTokenBudget.toLocaleString()} tokens.`);
  };

  const month = usage ? new Date(usage.month).toLocaleDateString(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' }) : '';
  return (
    <section className="card stack" aria-labelledby="usage-title">
      <h2 id="usage-title">Usage and budget</h2>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {usage && (
        <>
          <p>
            {month}: <strong>{usage.tokensUsed.toLocaleString()}</strong> tokens used
            {usage.monthlyTokenBudget !== null && ` of ${usage.monthlyTokenBudget.toLocaleString()}`}.
          </p>
          {usage.monthlyTokenBudget !== null && usage.monthlyTokenBudget > 0 && (
            <progress max={usage.monthlyTokenBudget} value={Math.min(usage.tokensUsed, usage.monthlyTokenBudget)} aria-label="Share of the monthly budget used" />
          )}
          {usage.conversations.length > 0 && (
            <details>
              <summary>Conversations that used the most</summary>
              <table>
                <caption className="visually-hidden">Tokens per conversation, all time</caption>
                <thead>
                  <tr>
                    <th scope="col">Conversation</th>
                    <th scope="col">Tokens</th>
                  </tr>
                </thead>
                <tbody>
                  {usage.conversations.map((c) => (
                    <tr key={c.conversationId}>
                      <td>
                        <Link to={`/inbox/${c.conversationId}`}>{c.conversationId}</Link>
                      </td>
                      <td>{c.tokensUsed.toLocaleString()}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </details>
          )}
          <form className="stack" onSubmit={(e) => void save(e)}>
            <label htmlFor="assistant-budget">Monthly token budget</label>
            <div className="row end">
              <input id="assistant-budget" type="number" min={0} placeholder="No limit" value={budget} aria-describedby="assistant-budget-hint" onChange={(e) => setBudget(e.target.value)} />
              <button type="submit">Save budget</button>
            </div>
            <span id="assistant-budget-hint" className="hint">
              Past it, the assistant hands conversations to people. Empty: no limit.
            </span>
          </form>
          {status && <p role="status">{status}</p>}
        </>
      )}
    </section>
  );
}
