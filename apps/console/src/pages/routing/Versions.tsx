import { Fragment, useCallback, useEffect, useState } from 'react';
import { describeDestination, type RoutingDocument } from '../../routing/types';
import { problemText } from '../../api';
import { useSession } from '../../session';
import { idempotency, useRouting } from './shared';

interface Version {
  id: string;
  number: number;
  source: 'apply' | 'scheduled' | 'restore';
  restoredFrom: number | null;
  createdBy: string | null;
  createdAt: string;
  live: boolean;
}

const SOURCE: Record<Version['source'], string> = { apply: 'Applied', scheduled: 'Scheduled apply', restore: 'Restored' };

export function VersionsPanel({ onRestored }: { onRestored: () => void }) {
  const { client } = useSession();
  const { users, channels } = useRouting();
  const [shown, setShown] = useState<{ id: string; document: RoutingDocument } | null>(null);
  const show = async (v: Version) => {
    if (shown?.id === v.id) return setShown(null);
    const { data, error } = await client.GET('/v1/routing/versions/{id}', { params: { path: { id: v.id } } });
    if (!data) return setError(problemText(error));
    setShown({ id: v.id, document: data.document as RoutingDocument });
  };
  const who = (createdBy: string | null) => {
    if (!createdBy) return null;
    const id = createdBy.startsWith('user:') ? createdBy.slice(5) : null;
    return users.find((u) => u.id === id)?.name ?? createdBy;
  };
  const [versions, setVersions] = useState<Version[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);

  const load = useCallback(
    async (after?: string) => {
      const { data, error } = await client.GET('/v1/routing/versions', { params: { query: { limit: 20, ...(after ? { cursor: after } : {}) } } });
      if (!data) return setError(problemText(error));
      setVersions((prev) => (after ? [...(prev ?? []), ...data.data] : data.data));
      setCursor(data.nextCursor ?? null);
    },
    [client],
  );

  useEffect(() => {
    void load();
  }, [load]);

  const restore = async (v: Version) => {
    if (!window.confirm(`Make version ${v.number} live again? It becomes a new version; the draft does not change.`)) return;
    const { data, error } = await client.POST('/v1/routing/versions/{id}/restore', { params: { path: { id: v.id } }, headers: idempotency() });
    if (!data) return setError(problemText(error));
    setStatus(`Version ${v.number} restored as version ${data.number}, now live.`);
    await load();
    onRestored();
  };

  return (
    <div className="stack-lg">
      <h2>Versions</h2>
      <p className="hint">Every apply makes a new version. Restoring an earlier one makes its routing live again as a new version; the draft is not changed.</p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {status && <p role="status">{status}</p>}
      {versions === null ? (
        <p role="status">Loading…</p>
      ) : versions.length === 0 ? (
        <p className="muted">Nothing has been applied yet.</p>
      ) : (
        <table>
          <caption className="visually-hidden">Routing versions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Made</th>
              <th scope="col">When</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <Fragment key={v.id}>
              <tr>
                <td>
                  {v.number} {v.live && <span className="badge live-badge">Live</span>}
                </td>
                <td>
                  {SOURCE[v.source]}
                  {v.restoredFrom !== null && ` from version ${v.restoredFrom}`}
                  {who(v.createdBy) && <span className="muted"> by {who(v.createdBy)}</span>}
                </td>
                <td>
                  <time dateTime={v.createdAt}>{new Date(v.createdAt).toLocaleString()}</time>
                </td>
                <td className="row-actions">
                  <button type="button" className="secondary" aria-expanded={shown?.id === v.id} onClick={() => void show(v)} aria-label={`Show version ${v.number}`}>
                    Show
                  </button>
                  {!v.live && (
                    <button type="button" className="secondary" onClick={() => void restore(v)} aria-label={`Restore version ${v.number}`}>
                      Restore
                    </button>
                  )}
                </td>
              </tr>
              {shown?.id === v.id && (
                <tr>
                  <td colSpan={4}>
                    <VersionContents document={shown.document} channelLabel={(id) => channels.find((c) => c.id === id)?.label ?? id} />
                  </td>
                </tr>
              )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
      {cursor && (
        <button type="button" className="secondary" onClick={() => void load(cursor)}>
          Load older versions
        </button>
      )}
    </div>
  );
}

const COLLECTIONS: { key: Exclude<keyof RoutingDocument, 'channels'>; label: string }[] = [
  { key: 'queues', label: 'Queues' },
  { key: 'timeGroups', label: 'Time groups' },
  { key: 'timeConditions', label: 'Time conditions' },
  { key: 'decisionTrees', label: 'Decision trees' },
  { key: 'chatbots', label: 'Chatbots' },
  { key: 'terminates', label: 'Endings' },
];

/** What a version holds, by kind, and where each number's chats go in it. */
function VersionContents({ document, channelLabel }: { document: RoutingDocument; channelLabel: (id: string) => string }) {
  return (
    <dl className="facts version-contents">
      {COLLECTIONS.map(({ key, label }) => (
        <div key={key} className="fact">
          <dt>{label}</dt>
          <dd>{(document[key] as { name: string }[]).map((o) => o.name).join(', ') || 'none'}</dd>
        </div>
      ))}
      <div className="fact">
        <dt>Numbers</dt>
        <dd>
          {document.channels.length
            ? document.channels.map((c) => `${channelLabel(c.channelId)} → ${describeDestination(c.first, document)}`).join('; ')
            : 'none routed'}
        </dd>
      </div>
    </dl>
  );
}
