import { useRef, useState, type FormEvent } from 'react';
import { type Channel, problemText } from '../api';
import { useEventStream } from '../events';
import { useSession } from '../session';
import { type ConsoleConfig, runSignup } from '../signup';

const STEPS = [
  { key: 'token', label: 'Business token (code exchanged)' },
  { key: 'number', label: 'Phone number read' },
  { key: 'subscription', label: 'App subscribed to the WhatsApp Business Account' },
  { key: 'registration', label: 'Number registered for the Cloud API' },
  { key: 'templates', label: 'Message templates synced' },
] as const;

type StepKey = (typeof STEPS)[number]['key'];
type StepState = { state: 'ok' | 'failed' | 'skipped' | 'waiting'; text?: string };

interface GraphProblem {
  detail?: string;
  step?: StepKey;
  meta?: { code?: number; title?: string | null; message?: string; details?: string | null };
}

export function ConnectWhatsApp({ config, onConnected }: { config: ConsoleConfig | null; onConnected: () => void }) {
  const { client } = useSession();
  const [label, setLabel] = useState('WhatsApp line');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [steps, setSteps] = useState<Partial<Record<StepKey, StepState>> | null>(null);
  const [channel, setChannel] = useState<Channel | null>(null);
  const [inbound, setInbound] = useState<'waiting' | 'ok'>('waiting');

  // The test inbound: the first message the new number receives, as the event stream reports it.
  const connected = useRef<string | null>(null);
  useEventStream(client, (event) => {
    if (!connected.current || !event.type.startsWith('message.create')) return;
    const message = event.data.message as { channelId?: string; direction?: string } | undefined;
    if (message?.channelId === connected.current && message.direction === 'inbound') setInbound('ok');
  });

  const connect = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setSteps(null);
    setChannel(null);
    connected.current = null;
    setInbound('waiting');
    setBusy(true);
    try {
      if (!config) throw new Error('The console settings are still loading.');
      const signup = await runSignup(config);
      const { data, error, response } = await client.POST('/v1/channels/whatsapp', {
        body: { ...signup, label: label.trim() },
        headers: { 'Idempotency-Key': crypto.randomUUID() },
      });
      if (data) {
        setSteps(Object.fromEntries(STEPS.map((s) => [s.key, { state: 'ok' }])));
        setChannel(data);
        connected.current = data.id;
        onConnected();
      } else if (response.status === 502) {
        const p = error as GraphProblem;
        const failedAt = STEPS.findIndex((s) => s.key === p.step);
        const meta = p.meta;
        const text = [meta?.title, meta?.details ?? meta?.message, meta?.code !== undefined ? `(#${meta.code})` : ''].filter(Boolean).join(' — ');
        setSteps(
          Object.fromEntries(
            STEPS.map((s, i) => [s.key, i < failedAt ? { state: 'ok' } : i === failedAt ? { state: 'failed', text: text || problemText(error) } : { state: 'skipped' }]),
          ),
        );
        if (failedAt < 0) setError(problemText(error));
      } else setError(problemText(error));
    } catch (err) {
      setError(problemText(err));
    } finally {
      setBusy(false);
    }
  };

  const unavailable = config && !config.facebook && !config.sandbox;
  return (
    <section className="card stack" aria-labelledby="connect-title">
      <h2 id="connect-title">Connect WhatsApp</h2>
      {config?.sandbox && (
        <p className="hint">The API uses the sandbox Graph API: a stand-in signup window opens instead of Facebook’s.</p>
      )}
      {unavailable ? (
        <p className="error">Embedded signup is not configured: set META_APP_ID and META_SIGNUP_CONFIG_ID for the API.</p>
      ) : (
        <form className="stack" onSubmit={(e) => void connect(e)}>
          <label htmlFor="channel-label">Label for the number</label>
          <input id="channel-label" required maxLength={200} value={label} onChange={(e) => setLabel(e.target.value)} />
          <button type="submit" disabled={busy || !config}>
            {busy ? 'Waiting for signup…' : 'Connect WhatsApp'}
          </button>
        </form>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {steps && (
        <div aria-live="polite">
          <h3>Health check</h3>
          <ol className="health">
            {STEPS.map((s) => {
              const st = steps[s.key] ?? { state: 'skipped' };
              return (
                <li key={s.key} className={st.state}>
                  <span aria-hidden="true">{st.state === 'ok' ? '✓' : st.state === 'failed' ? '✗' : '–'}</span> {s.label}
                  <span className="visually-hidden">: {st.state === 'ok' ? 'done' : st.state === 'failed' ? 'failed' : 'not reached'}</span>
                  {st.text && <p className="error">{st.text}</p>}
                </li>
              );
            })}
            {channel && (
              <li className={inbound === 'ok' ? 'ok' : 'waiting'} data-testid="inbound-check">
                <span aria-hidden="true">{inbound === 'ok' ? '✓' : '…'}</span> Test inbound message
                {inbound === 'ok' ? (
                  <span className="visually-hidden">: received</span>
                ) : (
                  <p className="hint">
                    Send a WhatsApp message to {channel.phoneNumber}; it shows here as soon as it arrives.
                    {config?.sandbox && (
                      <>
                        {' '}
                        With the sandbox: <code>{`curl -s -X POST ${config.sandbox.origin}/_sandbox/inbound -H 'Content-Type: application/json' -d '{"phoneNumberId":"${channel.phoneNumberId}","from":"50212345678","name":"Ana","type":"text","text":"Hola"}'`}</code>
                      </>
                    )}
                  </p>
                )}
              </li>
            )}
          </ol>
        </div>
      )}
    </section>
  );
}
