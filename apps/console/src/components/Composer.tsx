import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { type Conversation, type Message, problemText } from '../api';
import { useSession } from '../session';
import { nextTickIn, windowState } from '../window';
import type { OutboundBody } from '../compose';
import { ButtonsReply, ListReply, MediaReply, type UploadFile } from './RichReply';

/** Re-renders on every second the window label changes, and stops once it closes. */
export function useWindow(windowExpiresAt: string | null, now: () => number = Date.now) {
  const [state, setState] = useState(() => windowState(windowExpiresAt, now()));
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = () => {
      const next = windowState(windowExpiresAt, now());
      setState(next);
      const wait = nextTickIn(next);
      if (wait !== undefined) timer = setTimeout(tick, wait);
    };
    tick();
    return () => clearTimeout(timer);
  }, [windowExpiresAt, now]);
  return state;
}

interface Template {
  id: string;
  name: string;
  language: string;
  status: string;
  category: string;
  components: unknown[];
}

/** The shorthand keys a template asks for: `header` and the body's {{variables}}. */
export function templateKeys(template: Pick<Template, 'components'>): string[] {
  const keys: string[] = [];
  for (const c of template.components) {
    if (!c || typeof c !== 'object') continue;
    const { type, text, format } = c as { type?: string; text?: string; format?: string };
    const vars = typeof text === 'string' ? [...text.matchAll(/\{\{\s*([\w.]+)\s*\}\}/g)].map((m) => m[1]!) : [];
    if (type === 'HEADER' && (vars.length > 0 || (format && format !== 'TEXT'))) keys.push('header');
    if (type === 'BODY') for (const v of vars) if (!keys.includes(v)) keys.push(v);
  }
  return keys;
}

export function Composer({ conversation, onSent }: { conversation: Conversation; onSent: (message: Message) => void }) {
  const window = useWindow(conversation.windowExpiresAt);
  const freeForm = window.open && conversation.status !== 'closed';
  return (
    <section className="composer" aria-label="Reply">
      <p className={`window ${window.open ? (window.closingSoon ? 'warn' : 'ok') : 'closed'}`} role="timer" aria-live="off">
        {window.open ? (
          <>
            Reply window closes in <strong>{window.label}</strong>
          </>
        ) : conversation.windowExpiresAt ? (
          'The 24-hour window is closed: only templates can be sent.'
        ) : (
          'The contact has not written yet: only templates can be sent.'
        )}
      </p>
      {freeForm ? <FreeFormReply conversation={conversation} onSent={onSent} /> : <TemplateReply conversation={conversation} onSent={onSent} />}
    </section>
  );
}

const KINDS = [
  { value: 'text', label: 'Text' },
  { value: 'media', label: 'Media' },
  { value: 'buttons', label: 'Buttons' },
  { value: 'list', label: 'List' },
] as const;
type Kind = (typeof KINDS)[number]['value'];

/** Inside the window: text, media with a caption, reply buttons or a list. */
function FreeFormReply({ conversation, onSent }: { conversation: Conversation; onSent: (message: Message) => void }) {
  const { client } = useSession();
  const [kind, setKind] = useState<Kind>('text');
  const send = async (body: OutboundBody): Promise<string | null> => {
    const { data, error } = await client.POST('/v1/conversations/{id}/messages', {
      params: { path: { id: conversation.id } },
      body,
      headers: { 'Idempotency-Key': crypto.randomUUID() },
    });
    if (!data) return problemText(error);
    onSent(data);
    return null;
  };
  // A file from the agent's computer goes to the conversation's number at Meta first; the message then names its id.
  const upload: UploadFile = async (file) => {
    if (!conversation.channelId) return { problem: 'This conversation has no number to send from.' };
    const { data, error } = await client.POST('/v1/channels/{id}/media', {
      params: { path: { id: conversation.channelId }, query: { filename: file.name.slice(0, 240) } },
      body: file,
      bodySerializer: (b: unknown) => b as BodyInit,
      headers: { 'Content-Type': file.type || 'application/octet-stream' },
    });
    return data ? { id: data.id, kind: data.kind } : { problem: problemText(error, 'The file could not be uploaded.') };
  };
  return (
    <>
      <fieldset className="kinds">
        <legend className="visually-hidden">Message type</legend>
        {KINDS.map((k) => (
          <label key={k.value} className={kind === k.value ? 'selected' : undefined}>
            <input type="radio" name={`kind-${conversation.id}`} value={k.value} checked={kind === k.value} onChange={() => setKind(k.value)} />
            {k.label}
          </label>
        ))}
      </fieldset>
      {kind === 'text' && <TextReply conversation={conversation} onSent={onSent} />}
      {kind === 'media' && <MediaReply send={send} upload={upload} />}
      {kind === 'buttons' && <ButtonsReply send={send} />}
      {kind === 'list' && <ListReply send={send} />}
    </>
  );
}

function TextReply({ conversation, onSent }: { conversation: Conversation; onSent: (message: Message) => void }) {
  const { client } = useSession();
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const send = async (event?: FormEvent) => {
    event?.preventDefault();
    if (!text.trim() || busy) return;
    setBusy(true);
    setError(null);
    const { data, error } = await client.POST('/v1/conversations/{id}/messages', {
      params: { path: { id: conversation.id } },
      body: { type: 'text', text },
      headers: { 'Idempotency-Key': crypto.randomUUID() },
    });
    setBusy(false);
    if (!data) return setError(problemText(error));
    setText('');
    onSent(data);
  };

  return (
    <form onSubmit={(e) => void send(e)} className="reply">
      <label htmlFor="reply-text" className="visually-hidden">
        Message
      </label>
      <textarea
        id="reply-text"
        rows={2}
        placeholder="Type a reply — Enter sends, Shift+Enter for a new line"
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey) {
            e.preventDefault();
            void send();
          }
        }}
      />
      <button type="submit" disabled={busy || !text.trim()}>
        Send
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

function TemplateReply({ conversation, onSent }: { conversation: Conversation; onSent: (message: Message) => void }) {
  const { client } = useSession();
  const [templates, setTemplates] = useState<Template[] | null>(null);
  const [selected, setSelected] = useState('');
  const [values, setValues] = useState<Record<string, string>>({});
  const [problems, setProblems] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const query = { limit: 100, status: 'APPROVED', ...(conversation.channelId ? { channelId: conversation.channelId } : {}) };
    void client.GET('/v1/templates', { params: { query } }).then(({ data }) => setTemplates((data?.data ?? []) as Template[]));
  }, [client, conversation.channelId]);

  const template = useMemo(() => templates?.find((t) => t.id === selected), [templates, selected]);
  const keys = useMemo(() => (template ? templateKeys(template) : []), [template]);

  const send = async (event: FormEvent) => {
    event.preventDefault();
    if (!template) return;
    setBusy(true);
    setProblems([]);
    const ref = { name: template.name, language: template.language };
    // The validate endpoint is the same check the send goes through; its problems name each field.
    const check = await client.POST('/v1/templates/validate', {
      body: { template: ref, params: values, ...(conversation.channelId ? { channelId: conversation.channelId } : {}) },
    });
    if (!check.data) {
      setBusy(false);
      const p = check.error as { detail?: string; errors?: Array<{ path?: string; message?: string }> } | undefined;
      return setProblems(p?.errors?.length ? p.errors.map((e) => `${e.path ?? ''}: ${e.message ?? ''}`) : [problemText(check.error)]);
    }
    const { data, error } = await client.POST('/v1/conversations/{id}/messages', {
      params: { path: { id: conversation.id } },
      body: { type: 'template', template: ref, params: values },
      headers: { 'Idempotency-Key': crypto.randomUUID() },
    });
    setBusy(false);
    if (!data) return setProblems([problemText(error)]);
    setValues({});
    onSent(data);
  };

  if (templates === null) return <p role="status">Loading templates…</p>;
  if (templates.length === 0) return <p>No approved template on this number. Sync templates on the Channels screen.</p>;
  return (
    <form onSubmit={(e) => void send(e)} className="template-form stack">
      <label htmlFor="template-pick">Template</label>
      <select
        id="template-pick"
        value={selected}
        onChange={(e) => {
          setSelected(e.target.value);
          setValues({});
          setProblems([]);
        }}
      >
        <option value="">Choose a template…</option>
        {templates.map((t) => (
          <option key={t.id} value={t.id}>
            {t.name} ({t.language}, {t.category.toLowerCase()})
          </option>
        ))}
      </select>
      {keys.map((key) => (
        <div key={key} className="stack">
          <label htmlFor={`param-${key}`}>{key === 'header' ? 'Header' : `Variable {{${key}}}`}</label>
          <input id={`param-${key}`} value={values[key] ?? ''} onChange={(e) => setValues({ ...values, [key]: e.target.value })} />
        </div>
      ))}
      <button type="submit" disabled={!template || busy}>
        Send template
      </button>
      {problems.length > 0 && (
        <ul className="error" role="alert">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
    </form>
  );
}
