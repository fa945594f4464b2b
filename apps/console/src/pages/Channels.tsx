import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { type Channel, problemText } from '../api';
import { ConnectWhatsApp } from '../components/ConnectWhatsApp';
import { useSession } from '../session';
import type { ConsoleConfig } from '../signup';

export function ChannelsPage() {
  const { client } = useSession();
  const [channels, setChannels] = useState<Channel[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error } = await client.GET('/v1/channels', { params: { query: { limit: 100 } } });
    if (data) setChannels(data.data);
    else setError(problemText(error));
  }, [client]);

  useEffect(() => {
    void load();
  }, [load]);

  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  useEffect(() => {
    void fetch('/console/config.json')
      .then((res) => res.json() as Promise<ConsoleConfig>)
      .then(setConfig, () => setError('The console settings could not be loaded.'));
  }, []);

  return (
    <section className="page" aria-labelledby="channels-title">
      <h1 id="channels-title">Channels</h1>
      <ConnectWhatsApp config={config} onConnected={() => void load()} />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {channels === null ? (
        <p role="status">Loading…</p>
      ) : channels.length === 0 ? (
        <p>No WhatsApp number is connected yet.</p>
      ) : (
        <ul className="cards">
          {channels.map((c) => (
            <li key={c.id}>
              <ChannelCard channel={c} onSaved={load} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function ChannelCard({ channel, onSaved }: { channel: Channel; onSaved: () => Promise<void> }) {
  const { client } = useSession();
  const [label, setLabel] = useState(channel.label);
  const [mps, setMps] = useState(String(channel.messagesPerSecond));
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const id = channel.id;

  const save = async (event: FormEvent) => {
    event.preventDefault();
    const { data, error } = await client.PATCH('/v1/channels/{id}', {
      params: { path: { id } },
      body: { label: label.trim(), messagesPerSecond: Number(mps) },
    });
    if (!data) return setStatus({ ok: false, text: problemText(error) });
    setStatus({ ok: true, text: 'Saved.' });
    await onSaved();
  };

  return (
    <form className="card stack" onSubmit={(e) => void save(e)} aria-labelledby={`ch-${id}`}>
      <h2 id={`ch-${id}`}>
        {channel.label} <span className="muted">{channel.phoneNumber}</span>
      </h2>
      <dl className="facts">
        <dt>Verified name</dt>
        <dd>{channel.verifiedName}</dd>
        <dt>Quality</dt>
        <dd>{channel.qualityRating ?? 'unknown'}</dd>
        <dt>Phone number id</dt>
        <dd>{channel.phoneNumberId}</dd>
      </dl>
      <label htmlFor={`label-${id}`}>Label</label>
      <input id={`label-${id}`} required maxLength={200} value={label} onChange={(e) => setLabel(e.target.value)} />
      <label htmlFor={`mps-${id}`}>Messages per second</label>
      <input id={`mps-${id}`} type="number" min={1} max={1000} required value={mps} onChange={(e) => setMps(e.target.value)} aria-describedby={`mps-help-${id}`} />
      <p id={`mps-help-${id}`} className="hint">
        Sends per second across all broadcasts on this number (Meta allows 80 by default).
      </p>
      <button type="submit">Save settings</button>
      {status && (
        <p role={status.ok ? 'status' : 'alert'} className={status.ok ? '' : 'error'}>
          {status.text}
        </p>
      )}
    </form>
  );
}
