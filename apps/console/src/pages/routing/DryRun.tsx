import { type FormEvent, useState } from 'react';
import { instantToZoned, zonedToInstant } from '../../routing/hours';
import { problemsOf } from '../../routing/problems';
import type { Problem } from '../../routing/tree-layout';
import { describeDestination, type Destination, type DryRun, type RoutingDocument } from '../../routing/types';
import { useSession } from '../../session';
import { ProblemList, useRouting } from './shared';

const REASONS: Record<DryRun['reason'], string> = {
  new_conversation: 'A new conversation would be routed.',
  reopened: 'The contact’s resolved conversation would reopen and be routed.',
  in_progress: 'The contact’s conversation is open: it keeps its place and is not routed again.',
  no_routing: 'This number has no routing: the conversation would wait in the inbox.',
};

const MATCH: Record<string, string> = {
  reply_id: 'pressed the button',
  title: 'typed the title',
  number: 'typed its number',
  pattern: 'matched the pattern',
  similar: 'similar words',
  no_match: 'no choice matched',
  empty: 'nothing to match',
};

/** One step of a dry run's path in words. */
export function describeStep(step: Record<string, unknown>, doc: RoutingDocument): string {
  const tree = (id: unknown) => doc.decisionTrees.find((t) => t.id === id)?.name ?? String(id);
  switch (step.kind) {
    case 'channel':
      return `The number’s routing${step.version ? ` (version ${String(step.version)})` : ''} sends it to ${describeDestination(step.first as Destination, doc)}`;
    case 'time_condition': {
      const tc = doc.timeConditions.find((t) => t.id === step.timeConditionId);
      const group = doc.timeGroups.find((g) => g.id === step.timeGroupId);
      return `${tc?.name ?? 'Time condition'}: ${group?.name ?? 'the time group'} is ${step.open ? 'open' : 'closed'}`;
    }
    case 'decision': {
      const answer = step.answer as { choiceId: string | null; reason: string } | undefined;
      const base = `Tree ${tree(step.treeId)}: decision ${String(step.decisionId)}`;
      if (!answer) return base;
      return `${base}, answered ${answer.choiceId ? `choice ${answer.choiceId}` : 'with no matching choice'} (${MATCH[answer.reason] ?? answer.reason})`;
    }
    case 'actions':
      return `Tree ${tree(step.treeId)}: decision ${String(step.decisionId)} runs ${(step.actions as string[]).join(', ')}`;
    case 'question':
      return `Tree ${tree(step.treeId)}: decision ${String(step.decisionId)} asks its question and waits for the answer`;
    case 'timeout':
      return `Tree ${tree(step.treeId)}: decision ${String(step.decisionId)} timed out`;
    default:
      return JSON.stringify(step);
  }
}

export function DryRunPanel() {
  const { client } = useSession();
  const { channels, doc, timeZone } = useRouting();
  const [form, setForm] = useState({
    channelId: channels[0]?.id ?? '',
    against: 'draft' as 'draft' | 'live',
    at: instantToZoned(new Date(), timeZone),
    from: '+14155550100',
    text: '',
    type: 'text',
  });
  const [result, setResult] = useState<DryRun | null>(null);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [running, setRunning] = useState(false);

  const run = async (event: FormEvent) => {
    event.preventDefault();
    setRunning(true);
    setProblems([]);
    const { data, error } = await client.POST('/v1/routing/dry-run', {
      body: {
        channelId: form.channelId,
        against: form.against,
        at: zonedToInstant(form.at, timeZone).toISOString(),
        from: form.from,
        type: form.type,
        ...(form.text ? { text: form.text } : {}),
      },
    });
    setRunning(false);
    if (!data) {
      setResult(null);
      return setProblems(problemsOf(error));
    }
    setResult(data);
  };

  if (!channels.length) return <p className="muted">Connect a WhatsApp number to try its routing.</p>;
  return (
    <div className="stack-lg">
      <h2>Dry run</h2>
      <p className="hint">What would happen to a message from a contact at a given time. Nothing is sent or stored.</p>
      <form className="card stack" onSubmit={(e) => void run(e)} aria-labelledby="dry-title">
        <h3 id="dry-title">Try a message</h3>
        <label htmlFor="dry-channel">Number</label>
        <select id="dry-channel" value={form.channelId} onChange={(e) => setForm({ ...form, channelId: e.target.value })}>
          {channels.map((c) => (
            <option key={c.id} value={c.id}>
              {c.label} ({c.phoneNumber})
            </option>
          ))}
        </select>
        <fieldset className="inline">
          <legend>Routing to try</legend>
          <label className="check">
            <input type="radio" name="against" checked={form.against === 'draft'} onChange={() => setForm({ ...form, against: 'draft' })} /> Draft
          </label>
          <label className="check">
            <input type="radio" name="against" checked={form.against === 'live'} onChange={() => setForm({ ...form, against: 'live' })} /> Live
          </label>
        </fieldset>
        <label htmlFor="dry-at">Time ({timeZone})</label>
        <input id="dry-at" type="datetime-local" required value={form.at} onChange={(e) => setForm({ ...form, at: e.target.value })} />
        <label htmlFor="dry-from">Contact’s phone</label>
        <input id="dry-from" type="tel" required value={form.from} onChange={(e) => setForm({ ...form, from: e.target.value })} />
        <label htmlFor="dry-text">Message</label>
        <textarea id="dry-text" rows={2} value={form.text} aria-describedby="dry-text-hint" onChange={(e) => setForm({ ...form, text: e.target.value })} />
        <p id="dry-text-hint" className="hint">
          It also answers the first question of a decision tree on the way.
        </p>
        <label htmlFor="dry-type">Message type</label>
        <select id="dry-type" value={form.type} onChange={(e) => setForm({ ...form, type: e.target.value })}>
          {['text', 'image', 'video', 'audio', 'document', 'sticker', 'location'].map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <button type="submit" disabled={running}>
          {running ? 'Running…' : 'Run dry run'}
        </button>
        <ProblemList problems={problems} title="The dry run was refused:" />
      </form>
      {result && (
        <section className="card stack dry-result" aria-labelledby="dry-result-title" aria-live="polite">
          <h3 id="dry-result-title">The route the chat would take</h3>
          <p>
            {result.against === 'draft' ? 'Draft' : result.version ? `Live version ${result.version}` : 'Live (nothing applied yet)'}, at{' '}
            {new Date(result.at).toLocaleString(undefined, { timeZone: result.timeZone, dateStyle: 'medium', timeStyle: 'short' })} ({result.timeZone}).
          </p>
          <p>{REASONS[result.reason]}</p>
          {result.attachment && (
            <p className={result.attachment.accepted ? '' : 'error'}>
              Attachment {result.attachment.accepted ? 'accepted' : 'refused'} (policy: {result.attachment.policy}).
            </p>
          )}
          {result.path.length > 0 && (
            <ol className="route" aria-label="Route">
              {result.path.map((step, i) => (
                <li key={i}>{describeStep(step, doc)}</li>
              ))}
            </ol>
          )}
          {result.destination && (
            <p className="destination-result">
              <strong>Destination:</strong> {describeDestination(result.destination as Destination, doc)}
              {result.waiting && ` (waiting at decision ${result.waiting.decisionId})`}
            </p>
          )}
          {result.queue && (
            <p>
              It would be number {result.queue.position} in {result.queue.name}; the recent average wait is {result.queue.averageWaitMinutes} min.
            </p>
          )}
        </section>
      )}
    </div>
  );
}
