import { useCallback, useEffect, useState } from 'react';
import type { paths } from '../../../../packages/sdk/src/generated/openapi';
import { problemText } from '../api';
import { useSession } from '../session';

type RecipientStatus = paths['/v1/broadcasts/{id}']['get']['responses'][200]['content']['application/json']['statuses'][number];
type StatusFilter = RecipientStatus['status'];

const PAGE = 50;
const FILTERS: Array<{ value: StatusFilter | ''; label: string }> = [
  { value: '', label: 'All' },
  { value: 'failed', label: 'Failed' },
  { value: 'skipped', label: 'Skipped' },
  { value: 'pending', label: 'Pending' },
  { value: 'sent', label: 'Sent' },
  { value: 'delivered', label: 'Delivered' },
  { value: 'read', label: 'Read' },
  { value: 'unknown', label: 'Unconfirmed' },
];

const SKIP_REASONS: Record<string, string> = {
  opted_out: 'The contact opted out.',
  marketing_opted_out: 'The contact stopped marketing messages.',
};

/** Why a recipient failed or was skipped, as Meta (or Parley) worded it. */
export function recipientReason(r: Pick<RecipientStatus, 'error' | 'skipReason' | 'status'>): string {
  if (r.error) {
    // Meta often repeats its title as the details ("Message undeliverable" / "Message Undeliverable.").
    const same = (a: string, b: string) => a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');
    const details = r.error.details && !same(r.error.details, r.error.title) ? ` — ${r.error.details}` : '';
    return `${r.error.title}${details} (${r.error.code})`;
  }
  if (r.skipReason) return SKIP_REASONS[r.skipReason] ?? r.skipReason;
  if (r.status === 'unknown') return 'Meta did not confirm this send; it is not sent again.';
  return '';
}

/**
 * A broadcast's recipients with their statuses and Meta's reasons, a page at a time, filtered by
 * status. `version` changes when the broadcast's figures do, and the first page is read again.
 */
export function BroadcastRecipients({ broadcastId, version }: { broadcastId: string; version: string }) {
  const { client } = useSession();
  const [filter, setFilter] = useState<StatusFilter | ''>('');
  const [rows, setRows] = useState<RecipientStatus[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const read = useCallback(
    async (cursor?: string) => {
      const query = { limit: PAGE, ...(filter ? { status: filter } : {}), ...(cursor ? { cursor } : {}) };
      const { data, error } = await client.GET('/v1/broadcasts/{id}', { params: { path: { id: broadcastId }, query } });
      if (!data) return setError(problemText(error));
      setError(null);
      setRows((old) => (cursor ? [...(old ?? []), ...data.statuses] : data.statuses));
      setNext(data.nextCursor);
    },
    [client, broadcastId, filter],
  );
  useEffect(() => {
    void read();
  }, [read, version]);

  const selectId = `bc-filter-${broadcastId}`;
  return (
    <div className="bc-recipients stack">
      <label htmlFor={selectId}>Show recipients</label>
      <select id={selectId} value={filter} onChange={(e) => setFilter(e.target.value as StatusFilter | '')}>
        {FILTERS.map((f) => (
          <option key={f.value} value={f.value}>
            {f.label}
          </option>
        ))}
      </select>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {rows === null ? (
        <p role="status">Loading recipients…</p>
      ) : rows.length === 0 ? (
        <p className="muted">No recipient with this status.</p>
      ) : (
        <div className="table-scroll">
          <table>
            <caption className="visually-hidden">Recipients and their statuses</caption>
            <thead>
              <tr>
                <th scope="col">Phone</th>
                <th scope="col">Status</th>
                <th scope="col">Reason</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.phone}>
                  <td>{r.phone}</td>
                  <td>
                    <span className={`bc-swatch bc-${r.status}`} aria-hidden="true" />
                    {r.status}
                  </td>
                  <td>{recipientReason(r)}</td>
                  <td>
                    <time dateTime={r.updatedAt}>{new Date(r.updatedAt).toLocaleTimeString()}</time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {next && (
        <button type="button" className="secondary" onClick={() => void read(next)}>
          More recipients
        </button>
      )}
    </div>
  );
}
