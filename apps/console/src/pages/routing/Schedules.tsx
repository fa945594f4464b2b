import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { problemText } from '../../api';
import { instantToZoned, zonedToInstant } from '../../routing/hours';
import { problemsOf } from '../../routing/problems';
import type { Problem } from '../../routing/tree-layout';
import { useSession } from '../../session';
import { idempotency, ProblemList, useRouting } from './shared';

interface Schedule {
  id: string;
  at: string;
  status: 'pending' | 'applied';
  versionId: string | null;
}

/**
 * Applying the draft at a later time: the draft as it is now goes live then (later edits are not
 * part of it). Pending applies are listed and can be cancelled.
 */
export function ScheduleApply({ disabled, changed }: { disabled: boolean; changed: number }) {
  const { client } = useSession();
  const { timeZone, reload } = useRouting();
  const [at, setAt] = useState(() => instantToZoned(new Date(Date.now() + 24 * 3600_000), timeZone).slice(0, 11) + '06:00');
  const [pending, setPending] = useState<Schedule[]>([]);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [status, setStatus] = useState<string | null>(null);
  // Opened when applies are scheduled, and then left as the person leaves it: closing it as the
  // last one is cancelled would hide the confirmation of that cancel.
  const [expanded, setExpanded] = useState(false);
  useEffect(() => {
    if (pending.length > 0) setExpanded(true);
  }, [pending.length]);
  const when = (iso: string) => new Date(iso).toLocaleString(undefined, { timeZone, dateStyle: 'medium', timeStyle: 'short' });

  const load = useCallback(async () => {
    const { data, error } = await client.GET('/v1/routing/schedules');
    if (!data) return setProblems([{ path: '', message: problemText(error) }]);
    setPending(data.data.filter((s) => s.status === 'pending'));
  }, [client]);

  useEffect(() => {
    void load();
  }, [load, changed]);

  const schedule = async (event: FormEvent) => {
    event.preventDefault();
    setStatus(null);
    const instant = zonedToInstant(at, timeZone);
    if (instant.getTime() <= Date.now()) return setProblems([{ path: 'at', message: 'Choose a time in the future, or apply now.' }]);
    const { data, error } = await client.POST('/v1/routing/apply', { body: { at: instant.toISOString() }, headers: idempotency() });
    if (!data) return setProblems(problemsOf(error));
    setProblems([]);
    setStatus(`The draft as it is now goes live on ${when(instant.toISOString())} (${timeZone}).`);
    await load();
    await reload();
  };

  const cancel = async (s: Schedule) => {
    const { error, response } = await client.DELETE('/v1/routing/schedules/{id}', { params: { path: { id: s.id } } });
    if (!response.ok) return setProblems([{ path: '', message: problemText(error) }]);
    setStatus(`The apply of ${when(s.at)} is cancelled.`);
    await load();
  };

  return (
    <details className="schedule" open={expanded} onToggle={(e) => setExpanded(e.currentTarget.open)}>
      <summary>Apply later{pending.length > 0 && ` (${pending.length} scheduled)`}</summary>
      {pending.length > 0 && (
        <ul className="plain" aria-label="Scheduled applies">
          {pending.map((s) => (
            <li key={s.id} className="row">
              <span>
                Goes live on <time dateTime={s.at}>{when(s.at)}</time>
              </span>
              <button type="button" className="link" onClick={() => void cancel(s)} aria-label={`Cancel the apply of ${when(s.at)}`}>
                Cancel
              </button>
            </li>
          ))}
        </ul>
      )}
      <form className="row end" onSubmit={(e) => void schedule(e)}>
        <span className="stack">
          <label htmlFor="schedule-at">Time ({timeZone})</label>
          <input id="schedule-at" type="datetime-local" required value={at} onChange={(e) => setAt(e.target.value)} />
        </span>
        <button type="submit" className="secondary" disabled={disabled}>
          Schedule apply
        </button>
      </form>
      <ProblemList problems={problems} title="Not scheduled:" />
      {status && <p role="status">{status}</p>}
    </details>
  );
}
