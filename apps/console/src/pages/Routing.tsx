import { useCallback, useEffect, useState } from 'react';
import { useSearchParams } from 'react-router';
import { type Channel, problemText, type User } from '../api';
import { problemsOf } from '../routing/problems';
import type { Problem } from '../routing/tree-layout';
import type { RoutingDocument } from '../routing/types';
import { useSession } from '../session';
import { ChannelRoutingPanel } from './routing/Channels';
import { DryRunPanel } from './routing/DryRun';
import { EndingsPanel } from './routing/Endings';
import { ScheduleApply } from './routing/Schedules';
import { HoursPanel } from './routing/Hours';
import { QueuesPanel } from './routing/Queues';
import { idempotency, ProblemList, RoutingContext, type RoutingData, TabPanel, Tabs } from './routing/shared';
import { TreesPanel } from './routing/Trees';
import { VersionsPanel } from './routing/Versions';

type Compare = { live: { id: string; number: number } | null; changes: { kind: string; id: string; name: string | null; change: 'added' | 'removed' | 'changed' }[] };
type Version = { number: number; createdAt: string };

const TABS = [
  { id: 'queues', label: 'Queues' },
  { id: 'hours', label: 'Business hours' },
  { id: 'channels', label: 'Channels' },
  { id: 'trees', label: 'Decision trees' },
  { id: 'endings', label: 'Endings and bots' },
  { id: 'dry-run', label: 'Dry run' },
  { id: 'versions', label: 'Versions' },
];

const KIND_LABEL: Record<string, string> = {
  queue: 'Queue',
  time_group: 'Time group',
  time_condition: 'Time condition',
  decision_tree: 'Decision tree',
  chatbot: 'Chatbot',
  terminate: 'Terminate',
  channel_routing: 'Channel routing',
};

/**
 * The routing configuration: one draft document edited object by object, live only once applied.
 * The bar on top says whether the draft differs from what is live and applies it.
 */
export function RoutingPage() {
  const { client } = useSession();
  const [params, setParams] = useSearchParams();
  const tab = TABS.some((t) => t.id === params.get('tab')) ? params.get('tab')! : 'queues';
  const [data, setData] = useState<Omit<RoutingData, 'reload'> | null>(null);
  const [compare, setCompare] = useState<Compare | null>(null);
  const [live, setLive] = useState<Version | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [applyProblems, setApplyProblems] = useState<Problem[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const [applying, setApplying] = useState(false);
  const [versionsKey, setVersionsKey] = useState(0);

  const reload = useCallback(async () => {
    const [draft, cmp, liveRes, users, channels, zone] = await Promise.all([
      client.GET('/v1/routing/draft'),
      client.GET('/v1/routing/compare'),
      client.GET('/v1/routing/live'),
      client.GET('/v1/users', { params: { query: { limit: 100 } } }),
      client.GET('/v1/channels', { params: { query: { limit: 100 } } }),
      client.GET('/v1/settings/time-zone'),
    ]);
    if (!draft.data || !cmp.data || !liveRes.data || !users.data || !channels.data || !zone.data) {
      setError(problemText(draft.error ?? cmp.error ?? liveRes.error ?? users.error ?? channels.error ?? zone.error));
      return;
    }
    setError(null);
    setData({ doc: draft.data.document as RoutingDocument, users: users.data.data as User[], channels: channels.data.data as Channel[], timeZone: zone.data.timeZone });
    setCompare(cmp.data);
    setLive(liveRes.data.version);
  }, [client]);

  useEffect(() => {
    void reload();
  }, [reload]);

  const apply = async () => {
    setApplying(true);
    setNotice(null);
    setApplyProblems([]);
    const { data: applied, error } = await client.POST('/v1/routing/apply', { body: {}, headers: idempotency() });
    setApplying(false);
    if (!applied) return setApplyProblems(problemsOf(error));
    if ('version' in applied && applied.version) setNotice(`Version ${applied.version.number} is live.`);
    setVersionsKey((k) => k + 1);
    await reload();
  };

  const differs = !!compare && (compare.changes.length > 0 || (!compare.live && hasObjects(data?.doc)));
  return (
    <section className="page config wide" aria-labelledby="routing-title">
      <h1 id="routing-title">Routing</h1>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {!data || !compare ? (
        <p role="status">Loading…</p>
      ) : (
        <RoutingContext.Provider value={{ ...data, reload }}>
          <div className={differs ? 'draft-bar differs' : 'draft-bar'} aria-labelledby="draft-state">
            <div>
              <p id="draft-state" className="draft-state" role="status">
                {live ? `Live: version ${live.number}` : 'Nothing is live yet'}
                {' · '}
                <strong>{differs ? 'Draft differs from live' : 'Draft matches live'}</strong>
              </p>
              {differs && compare.changes.length > 0 && (
                <details>
                  <summary>
                    Compare: {compare.changes.length} change{compare.changes.length === 1 ? '' : 's'}
                  </summary>
                  <ul className="changes" aria-label="Changes the draft would make">
                    {compare.changes.map((c) => (
                      <li key={`${c.kind}:${c.id}`}>
                        <span className={`badge change-${c.change}`}>{c.change}</span> {KIND_LABEL[c.kind] ?? c.kind}{' '}
                        {c.kind === 'channel_routing' ? (data.channels.find((ch) => ch.id === c.id)?.label ?? c.id) : (c.name ?? c.id)}
                      </li>
                    ))}
                  </ul>
                </details>
              )}
            </div>
            <button type="button" onClick={() => void apply()} disabled={applying || !differs}>
              {applying ? 'Applying…' : 'Apply configuration changes'}
            </button>
          </div>
          <ScheduleApply disabled={!differs} changed={versionsKey} />
          {notice && (
            <p role="status" className="ok-text">
              {notice}
            </p>
          )}
          <ProblemList problems={applyProblems} title="The draft was not applied:" />
          <Tabs tabs={TABS} current={tab} label="Routing sections" onChange={(id) => setParams({ tab: id }, { replace: true })} />
          <TabPanel id={tab}>
            {tab === 'queues' && <QueuesPanel />}
            {tab === 'hours' && <HoursPanel />}
            {tab === 'channels' && <ChannelRoutingPanel />}
            {tab === 'trees' && <TreesPanel />}
            {tab === 'endings' && <EndingsPanel />}
            {tab === 'dry-run' && <DryRunPanel />}
            {tab === 'versions' && <VersionsPanel key={versionsKey} onRestored={() => void reload()} />}
          </TabPanel>
        </RoutingContext.Provider>
      )}
    </section>
  );
}

function hasObjects(doc: RoutingDocument | undefined): boolean {
  return !!doc && Object.values(doc).some((list) => Array.isArray(list) && list.length > 0);
}
