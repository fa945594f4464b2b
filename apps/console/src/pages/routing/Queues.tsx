import { type FormEvent, useState } from 'react';
import { hasProblem, problemsOf, relativeProblems } from '../../routing/problems';
import type { Problem } from '../../routing/tree-layout';
import type { RoutingQueue } from '../../routing/types';
import { useSession } from '../../session';
import { idempotency, ProblemList, useRouting } from './shared';

type QueueForm = { name: string; priority: string; agentIds: string[]; autoResponse: string };
const blank: QueueForm = { name: '', priority: '0', agentIds: [], autoResponse: '' };

export function QueuesPanel() {
  const { client } = useSession();
  const { doc, users, reload } = useRouting();
  const [editing, setEditing] = useState<string | null>(null);
  const [form, setForm] = useState<QueueForm>(blank);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [status, setStatus] = useState<string | null>(null);
  const nameOf = (id: string) => users.find((u) => u.id === id)?.name ?? id;

  const edit = (q: RoutingQueue | null) => {
    setEditing(q?.id ?? null);
    setProblems([]);
    setStatus(null);
    setForm(q ? { name: q.name, priority: String(q.priority), agentIds: q.agentIds, autoResponse: q.autoResponse ?? '' } : blank);
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setStatus(null);
    const body = { name: form.name, priority: Number(form.priority), agentIds: form.agentIds, autoResponse: form.autoResponse.trim() || null };
    const res = editing
      ? await client.PUT('/v1/routing/draft/queues/{id}', { params: { path: { id: editing } }, body })
      : await client.POST('/v1/routing/draft/queues', { body, headers: idempotency() });
    if (!res.data) return setProblems(relativeProblems(problemsOf(res.error), 'queues', editing ? doc.queues.findIndex((q) => q.id === editing) : doc.queues.length));
    edit(null);
    setStatus(`Queue ${res.data.name} saved in the draft.`);
    await reload();
  };

  const remove = async (q: RoutingQueue) => {
    if (!window.confirm(`Remove the queue ${q.name} from the draft?`)) return;
    const { error, response } = await client.DELETE('/v1/routing/draft/queues/{id}', { params: { path: { id: q.id } } });
    if (!response.ok) return setProblems(problemsOf(error));
    setStatus(`Queue ${q.name} removed from the draft.`);
    await reload();
  };

  return (
    <div className="stack-lg">
      <h2>Queues</h2>
      {doc.queues.length === 0 ? (
        <p className="muted">No queue yet. Conversations routed to a queue wait there until an agent of the queue takes them.</p>
      ) : (
        <table>
          <caption className="visually-hidden">Queues in the draft</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Priority</th>
              <th scope="col">Agents</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {doc.queues.map((q) => (
              <tr key={q.id}>
                <td>{q.name}</td>
                <td>{q.priority}</td>
                <td>{q.agentIds.length ? q.agentIds.map(nameOf).join(', ') : <span className="muted">none</span>}</td>
                <td className="row-actions">
                  <button type="button" className="secondary" onClick={() => edit(q)} aria-label={`Edit queue ${q.name}`}>
                    Edit
                  </button>
                  <button type="button" className="danger" onClick={() => void remove(q)} aria-label={`Remove queue ${q.name}`}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="card stack" onSubmit={(e) => void save(e)} aria-labelledby="queue-form-title">
        <h3 id="queue-form-title">{editing ? `Edit queue ${doc.queues.find((q) => q.id === editing)?.name ?? ''}` : 'Add a queue'}</h3>
        <label htmlFor="queue-name">Queue name</label>
        <input id="queue-name" required maxLength={200} value={form.name} aria-invalid={hasProblem(problems, 'name') || undefined} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        <label htmlFor="queue-priority">Priority (0–100)</label>
        <input
          id="queue-priority"
          type="number"
          min={0}
          max={100}
          required
          value={form.priority}
          aria-describedby="queue-priority-hint"
          aria-invalid={hasProblem(problems, 'priority') || undefined}
          onChange={(e) => setForm({ ...form, priority: e.target.value })}
        />
        <p id="queue-priority-hint" className="hint">
          Higher first when an agent works several queues.
        </p>
        <fieldset className="checks">
          <legend>Agents</legend>
          {users.length === 0 && <p className="muted">No users yet.</p>}
          {/* Deactivated people cannot work a queue (the server refuses them), unless already listed. */}
          {users.filter((u) => !u.disabledAt || form.agentIds.includes(u.id)).map((u) => (
            <label key={u.id} className="check">
              <input
                type="checkbox"
                checked={form.agentIds.includes(u.id)}
                onChange={(e) => setForm({ ...form, agentIds: e.target.checked ? [...form.agentIds, u.id] : form.agentIds.filter((x) => x !== u.id) })}
              />
              {u.name} <span className="muted">({u.disabledAt ? 'deactivated' : u.role})</span>
            </label>
          ))}
        </fieldset>
        <label htmlFor="queue-auto">Auto-response (optional)</label>
        <textarea
          id="queue-auto"
          rows={2}
          maxLength={1024}
          value={form.autoResponse}
          aria-describedby="queue-auto-hint"
          aria-invalid={hasProblem(problems, 'autoResponse') || undefined}
          onChange={(e) => setForm({ ...form, autoResponse: e.target.value })}
        />
        <p id="queue-auto-hint" className="hint">
          Sent when a chat joins the queue. May use {'{{queue.position}}'}, {'{{queue.averageWaitMinutes}}'} and {'{{queue.name}}'}.
        </p>
        <ProblemList problems={problems} />
        <div className="row">
          <button type="submit">{editing ? 'Save queue' : 'Add queue'}</button>
          {editing && (
            <button type="button" className="secondary" onClick={() => edit(null)}>
              Cancel
            </button>
          )}
        </div>
        {status && <p role="status">{status}</p>}
      </form>
    </div>
  );
}
