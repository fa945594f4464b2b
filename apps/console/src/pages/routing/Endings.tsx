import { type FormEvent, useEffect, useState } from 'react';
import { problemText } from '../../api';
import { hasProblem, problemsOf, relativeProblems } from '../../routing/problems';
import type { Problem } from '../../routing/tree-layout';
import { describeDestination, type Destination, type RoutingDocument } from '../../routing/types';
import { useSession } from '../../session';
import { DestinationPicker, idempotency, ProblemList, useRouting } from './shared';

type Terminate = RoutingDocument['terminates'][number];
type Chatbot = RoutingDocument['chatbots'][number];

/** Where chats end (terminates) and the external chatbots they may be handed to. */
export function EndingsPanel() {
  return (
    <div className="stack-lg">
      <Terminates />
      <Chatbots />
    </div>
  );
}

type TerminateForm = { name: string; cause: string; autoResponseTemplate: string; answered: boolean; missedChatQueueId: string };
const blankTerminate: TerminateForm = { name: '', cause: '', autoResponseTemplate: '', answered: false, missedChatQueueId: '' };

function Terminates() {
  const { client } = useSession();
  const { doc, reload } = useRouting();
  const [editing, setEditing] = useState<string | null>(null);
  const [form, setForm] = useState<TerminateForm>(blankTerminate);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [status, setStatus] = useState<string | null>(null);
  const [templates, setTemplates] = useState<string[]>([]);

  useEffect(() => {
    void client.GET('/v1/templates', { params: { query: { status: 'APPROVED', limit: 100 } } }).then(({ data }) => {
      if (data) setTemplates([...new Set(data.data.map((t) => t.name))].sort());
    });
  }, [client]);

  const edit = (t: Terminate | null) => {
    setEditing(t?.id ?? null);
    setProblems([]);
    setStatus(null);
    setForm(t ? { name: t.name, cause: t.cause, autoResponseTemplate: t.autoResponseTemplate ?? '', answered: t.answered, missedChatQueueId: t.missedChatQueueId ?? '' } : blankTerminate);
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    const body = { name: form.name, cause: form.cause, autoResponseTemplate: form.autoResponseTemplate.trim() || null, answered: form.answered, missedChatQueueId: form.missedChatQueueId || null };
    const res = editing
      ? await client.PUT('/v1/routing/draft/terminates/{id}', { params: { path: { id: editing } }, body })
      : await client.POST('/v1/routing/draft/terminates', { body, headers: idempotency() });
    if (!res.data) return setProblems(relativeProblems(problemsOf(res.error), 'terminates', editing ? doc.terminates.findIndex((t) => t.id === editing) : doc.terminates.length));
    edit(null);
    setStatus(`Ending ${res.data.name} saved in the draft.`);
    await reload();
  };

  const remove = async (t: Terminate) => {
    if (!window.confirm(`Remove the ending ${t.name} from the draft?`)) return;
    const { error, response } = await client.DELETE('/v1/routing/draft/terminates/{id}', { params: { path: { id: t.id } } });
    if (!response.ok) return setProblems(problemsOf(error));
    setStatus(`Ending ${t.name} removed from the draft.`);
    await reload();
  };

  return (
    <section className="stack" aria-labelledby="terminates-title">
      <h2 id="terminates-title">Endings</h2>
      <p className="hint">An ending closes the chat with a cause for reports, optionally sends a template, and may count the chat as missed for a queue.</p>
      {doc.terminates.length > 0 && (
        <ul className="object-list">
          {doc.terminates.map((t) => (
            <li key={t.id}>
              <div>
                <strong>{t.name}</strong>
                <p className="hint">
                  Cause {t.cause}
                  {t.autoResponseTemplate && `; sends ${t.autoResponseTemplate}`}
                  {t.missedChatQueueId && `; missed chat for ${doc.queues.find((q) => q.id === t.missedChatQueueId)?.name ?? t.missedChatQueueId}`}
                  {t.answered && '; counted as answered'}
                </p>
              </div>
              <div className="row-actions">
                <button type="button" className="secondary" onClick={() => edit(t)} aria-label={`Edit ending ${t.name}`}>
                  Edit
                </button>
                <button type="button" className="danger" onClick={() => void remove(t)} aria-label={`Remove ending ${t.name}`}>
                  Remove
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      <form className="card stack" onSubmit={(e) => void save(e)} aria-labelledby="terminate-form-title">
        <h3 id="terminate-form-title">{editing ? 'Edit ending' : 'Add an ending'}</h3>
        <label htmlFor="terminate-name">Ending name</label>
        <input id="terminate-name" required maxLength={200} value={form.name} aria-invalid={hasProblem(problems, 'name') || undefined} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        <label htmlFor="terminate-cause">Cause (for reports)</label>
        <input id="terminate-cause" required maxLength={200} placeholder="out_of_hours" value={form.cause} aria-invalid={hasProblem(problems, 'cause') || undefined} onChange={(e) => setForm({ ...form, cause: e.target.value })} />
        <label htmlFor="terminate-template">Template sent on ending (optional)</label>
        <input id="terminate-template" list="terminate-templates" maxLength={512} value={form.autoResponseTemplate} onChange={(e) => setForm({ ...form, autoResponseTemplate: e.target.value })} />
        <datalist id="terminate-templates">
          {templates.map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
        <label htmlFor="terminate-queue">Count as a missed chat for</label>
        <select id="terminate-queue" value={form.missedChatQueueId} aria-invalid={hasProblem(problems, 'missedChatQueueId') || undefined} onChange={(e) => setForm({ ...form, missedChatQueueId: e.target.value })}>
          <option value="">No queue</option>
          {doc.queues.map((q) => (
            <option key={q.id} value={q.id}>
              {q.name}
            </option>
          ))}
        </select>
        <label className="check">
          <input type="checkbox" checked={form.answered} onChange={(e) => setForm({ ...form, answered: e.target.checked })} /> Counted as answered
        </label>
        <ProblemList problems={problems} />
        <div className="row">
          <button type="submit">{editing ? 'Save ending' : 'Add ending'}</button>
          {editing && (
            <button type="button" className="secondary" onClick={() => edit(null)}>
              Cancel
            </button>
          )}
        </div>
        {status && <p role="status">{status}</p>}
      </form>
    </section>
  );
}

type ChatbotForm = { name: string; url: string; customFields: string; fallback: Destination | null; timeoutSeconds: string };
const blankChatbot: ChatbotForm = { name: '', url: 'https://', customFields: '', fallback: null, timeoutSeconds: '5' };

function Chatbots() {
  const { client } = useSession();
  const { doc, reload } = useRouting();
  const [editing, setEditing] = useState<string | null>(null);
  const [form, setForm] = useState<ChatbotForm>(blankChatbot);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [status, setStatus] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ id: string; secret: string } | null>(null);

  const edit = (c: Chatbot | null) => {
    setEditing(c?.id ?? null);
    setProblems([]);
    setStatus(null);
    setForm(c ? { name: c.name, url: c.url, customFields: c.customFields.join(', '), fallback: c.fallback, timeoutSeconds: String(c.timeoutMs / 1000) } : blankChatbot);
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!form.fallback) return setProblems([{ path: 'fallback', message: 'Choose where chats go when the bot fails.' }]);
    const body = {
      name: form.name,
      url: form.url,
      customFields: form.customFields
        .split(',')
        .map((f) => f.trim())
        .filter(Boolean),
      fallback: form.fallback,
      timeoutMs: Math.round(Number(form.timeoutSeconds) * 1000),
    };
    const res = editing
      ? await client.PUT('/v1/routing/draft/chatbots/{id}', { params: { path: { id: editing } }, body })
      : await client.POST('/v1/routing/draft/chatbots', { body, headers: idempotency() });
    if (!res.data) return setProblems(relativeProblems(problemsOf(res.error), 'chatbots', editing ? doc.chatbots.findIndex((c) => c.id === editing) : doc.chatbots.length));
    edit(null);
    setStatus(`Chatbot ${res.data.name} saved in the draft.`);
    await reload();
  };

  const remove = async (c: Chatbot) => {
    if (!window.confirm(`Remove the chatbot ${c.name} from the draft?`)) return;
    const { error, response } = await client.DELETE('/v1/routing/draft/chatbots/{id}', { params: { path: { id: c.id } } });
    if (!response.ok) return setProblems(problemsOf(error));
    setStatus(`Chatbot ${c.name} removed from the draft.`);
    await reload();
  };

  const showSecret = async (c: Chatbot) => {
    const { data, error } = await client.GET('/v1/routing/chatbots/{id}/secret', { params: { path: { id: c.id } } });
    if (!data) return setProblems([{ path: '', message: problemText(error) }]);
    setSecret({ id: c.id, secret: data.secret });
  };

  return (
    <section className="stack" aria-labelledby="chatbots-title">
      <h2 id="chatbots-title">Chatbots</h2>
      <p className="hint">An external bot receives the contact’s messages (signed like partner webhooks) and answers on a callback URL until it transfers the chat.</p>
      {doc.chatbots.length > 0 && (
        <ul className="object-list">
          {doc.chatbots.map((c) => (
            <li key={c.id}>
              <div>
                <strong>{c.name}</strong>
                <p className="hint">
                  {c.url}; if it fails: {describeDestination(c.fallback, doc)}
                </p>
                {secret?.id === c.id && (
                  <p>
                    Signing secret: <code className="secret">{secret.secret}</code>
                  </p>
                )}
              </div>
              <div className="row-actions">
                <button type="button" className="secondary" onClick={() => void showSecret(c)} aria-label={`Show the signing secret of ${c.name}`}>
                  Secret
                </button>
                <button type="button" className="secondary" onClick={() => edit(c)} aria-label={`Edit chatbot ${c.name}`}>
                  Edit
                </button>
                <button type="button" className="danger" onClick={() => void remove(c)} aria-label={`Remove chatbot ${c.name}`}>
                  Remove
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      <form className="card stack" onSubmit={(e) => void save(e)} aria-labelledby="chatbot-form-title">
        <h3 id="chatbot-form-title">{editing ? 'Edit chatbot' : 'Add a chatbot'}</h3>
        <label htmlFor="chatbot-name">Chatbot name</label>
        <input id="chatbot-name" required maxLength={200} value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        <label htmlFor="chatbot-url">Bot URL (https)</label>
        <input id="chatbot-url" type="url" required maxLength={2048} value={form.url} aria-invalid={hasProblem(problems, 'url') || undefined} onChange={(e) => setForm({ ...form, url: e.target.value })} />
        <label htmlFor="chatbot-fields">Contact fields sent to the bot (comma separated)</label>
        <input id="chatbot-fields" value={form.customFields} placeholder="plan, region" onChange={(e) => setForm({ ...form, customFields: e.target.value })} />
        <label htmlFor="chatbot-timeout">Timeout (seconds)</label>
        <input id="chatbot-timeout" type="number" min={0.5} max={30} step={0.5} required value={form.timeoutSeconds} aria-invalid={hasProblem(problems, 'timeoutMs') || undefined} onChange={(e) => setForm({ ...form, timeoutSeconds: e.target.value })} />
        <DestinationPicker label="When the bot fails" value={form.fallback} exclude={editing ?? undefined} invalid={hasProblem(problems, 'fallback')} onChange={(d) => setForm({ ...form, fallback: d })} />
        <ProblemList problems={problems} />
        <div className="row">
          <button type="submit">{editing ? 'Save chatbot' : 'Add chatbot'}</button>
          {editing && (
            <button type="button" className="secondary" onClick={() => edit(null)}>
              Cancel
            </button>
          )}
        </div>
        {status && <p role="status">{status}</p>}
      </form>
    </section>
  );
}
