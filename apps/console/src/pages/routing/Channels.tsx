import { type FormEvent, useState } from 'react';
import type { Channel } from '../../api';
import { problemsOf, relativeProblems } from '../../routing/problems';
import type { Problem } from '../../routing/tree-layout';
import { describeDestination, type Destination, type RoutingChannel } from '../../routing/types';
import { useSession } from '../../session';
import { DestinationPicker, ProblemList, useRouting } from './shared';

const ATTACHMENTS: { value: RoutingChannel['attachments']; label: string }[] = [
  { value: 'both', label: 'Contacts and agents may send attachments' },
  { value: 'from_contact', label: 'Only contacts may send attachments' },
  { value: 'none', label: 'No attachments' },
];

export function ChannelRoutingPanel() {
  const { channels, doc } = useRouting();
  return (
    <div className="stack-lg">
      <h2>Channels</h2>
      <p className="hint">Where a new or reopened conversation of each number goes first, and which attachments the number accepts.</p>
      {channels.length === 0 ? (
        <p className="muted">No WhatsApp number is connected yet.</p>
      ) : (
        <ul className="cards">
          {channels.map((c) => (
            <li key={c.id}>
              <ChannelRoutingCard channel={c} routing={doc.channels.find((r) => r.channelId === c.id) ?? null} />
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function ChannelRoutingCard({ channel, routing }: { channel: Channel; routing: RoutingChannel | null }) {
  const { client } = useSession();
  const { doc, reload } = useRouting();
  const [first, setFirst] = useState<Destination | null>(routing?.first ?? null);
  const [attachments, setAttachments] = useState<RoutingChannel['attachments']>(routing?.attachments ?? 'both');
  const [problems, setProblems] = useState<Problem[]>([]);
  const [status, setStatus] = useState<string | null>(null);
  const headingId = `routing-ch-${channel.id}`;

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setStatus(null);
    if (!first) return setProblems([{ path: 'first', message: 'Choose where conversations go first.' }]);
    const { data, error } = await client.PUT('/v1/routing/draft/channels/{id}', { params: { path: { id: channel.id } }, body: { first, attachments } });
    if (!data) {
      const index = doc.channels.findIndex((r) => r.channelId === channel.id);
      return setProblems(relativeProblems(problemsOf(error), 'channels', index < 0 ? doc.channels.length : index));
    }
    setProblems([]);
    setStatus(`Saved in the draft: ${describeDestination(data.first, doc)}.`);
    await reload();
  };

  const remove = async () => {
    const { error, response } = await client.DELETE('/v1/routing/draft/channels/{id}', { params: { path: { id: channel.id } } });
    if (!response.ok) return setProblems(problemsOf(error));
    setFirst(null);
    setStatus('Routing removed from the draft: conversations of this number will not be routed.');
    await reload();
  };

  return (
    <form className="card stack" onSubmit={(e) => void save(e)} aria-labelledby={headingId}>
      <h3 id={headingId}>
        {channel.label} <span className="muted">{channel.phoneNumber}</span>
      </h3>
      <p className="hint">{routing ? `In the draft: ${describeDestination(routing.first, doc)}` : 'Not routed: conversations wait in the inbox.'}</p>
      <DestinationPicker label={`First destination for ${channel.label}`} value={first} onChange={setFirst} invalid={problems.length > 0} />
      <label htmlFor={`att-${channel.id}`}>Attachments</label>
      <select id={`att-${channel.id}`} value={attachments} onChange={(e) => setAttachments(e.target.value as RoutingChannel['attachments'])}>
        {ATTACHMENTS.map((a) => (
          <option key={a.value} value={a.value}>
            {a.label}
          </option>
        ))}
      </select>
      <ProblemList problems={problems} />
      <div className="row">
        <button type="submit">Save channel routing</button>
        {routing && (
          <button type="button" className="danger" onClick={() => void remove()}>
            Remove routing
          </button>
        )}
      </div>
      {status && <p role="status">{status}</p>}
    </form>
  );
}
