import { type FormEvent, useId, useState } from 'react';
import { type Built, buildButtons, buildList, buildMedia, kindOfFile, LIMITS, MEDIA_KINDS, type MediaInput, type MediaKind, type OutboundBody, UPLOAD_ACCEPT } from '../compose';

/** Sends a message body; answers the problem to show, or null once it was accepted. */
export type SendBody = (body: OutboundBody) => Promise<string | null>;

function Field(props: { label: string; value: string; onChange: (v: string) => void; error?: string | undefined; max?: number; multiline?: boolean; hint?: string; type?: string }) {
  const id = useId();
  const described = [props.error ? `${id}-error` : '', props.max || props.hint ? `${id}-hint` : ''].filter(Boolean).join(' ') || undefined;
  const common = { id, value: props.value, 'aria-invalid': props.error ? true : undefined, 'aria-describedby': described };
  return (
    <div className="stack">
      <label htmlFor={id}>{props.label}</label>
      {props.multiline ? (
        <textarea {...common} rows={3} onChange={(e) => props.onChange(e.target.value)} />
      ) : (
        <input {...common} type={props.type ?? 'text'} onChange={(e) => props.onChange(e.target.value)} />
      )}
      {(props.max || props.hint) && (
        <p id={`${id}-hint`} className={`hint${props.max && props.value.trim().length > props.max ? ' over' : ''}`}>
          {props.hint}
          {props.hint && props.max ? ' ' : ''}
          {props.max ? `${props.value.trim().length}/${props.max}` : ''}
        </p>
      )}
      {props.error && (
        <p id={`${id}-error`} className="error field-error">
          {props.error}
        </p>
      )}
    </div>
  );
}

/**
 * The submit half every rich form shares: build (which may upload a file first), show problems by
 * field, send, clear.
 */
function useSubmit(build: () => Built | Promise<Built>, send: SendBody, reset: () => void) {
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    setError(null);
    setBusy(true);
    try {
      const built = await build();
      if (!built.ok) return setProblems(built.problems);
      setProblems({});
      const problem = await send(built.body);
      if (problem) return setError(problem);
      reset();
    } finally {
      setBusy(false);
    }
  };
  return { problems, error, busy, submit };
}

/** Uploads a file for the conversation's number: its media id and the kind to send it as, or the problem to show. */
export type UploadFile = (file: File) => Promise<{ id: string; kind: MediaKind } | { problem: string }>;

function Failure({ problems, error }: { problems: Record<string, string>; error: string | null }) {
  const count = Object.keys(problems).length;
  if (!count && !error) return null;
  return (
    <p className="error" role="alert">
      {error ?? `${count} field${count === 1 ? ' needs' : 's need'} fixing before sending.`}
    </p>
  );
}

const EMPTY_MEDIA: MediaInput = { kind: 'image', source: 'link', link: '', id: '', caption: '', filename: '' };

/**
 * An image, video, document or audio with a caption: a file from this computer (uploaded to the
 * number's media first, when `upload` is given), an https link, or a media id uploaded to Meta.
 */
export function MediaReply({ send, upload }: { send: SendBody; upload?: UploadFile }) {
  const empty: MediaInput = { ...EMPTY_MEDIA, source: upload ? 'file' : 'link' };
  const [m, setM] = useState<MediaInput>(empty);
  const [file, setFile] = useState<File | null>(null);
  const [fileKey, setFileKey] = useState(0);
  const build = async (): Promise<Built> => {
    if (m.source !== 'file') return buildMedia(m);
    // Checked before the upload, so a long caption does not upload the file for nothing.
    const checked = buildMedia({ ...m, id: file ? 'pending' : '' });
    if (!checked.ok || !file || !upload) return checked;
    const uploaded = await upload(file);
    if ('problem' in uploaded) return { ok: false, problems: { file: uploaded.problem } };
    return buildMedia({ ...m, id: uploaded.id, kind: uploaded.kind, filename: m.filename || (uploaded.kind === 'document' ? file.name : '') });
  };
  const reset = () => {
    setM({ ...empty, kind: m.kind, source: m.source });
    setFile(null);
    setFileKey((k) => k + 1);
  };
  const { problems, error, busy, submit } = useSubmit(build, send, reset);
  const set = (patch: Partial<MediaInput>) => setM({ ...m, ...patch });
  const kindId = useId();
  const fileId = useId();
  const sourceName = useId();
  return (
    <form className="rich-reply stack" onSubmit={(e) => void submit(e)} aria-label="Send media" noValidate>
      <fieldset className="choice">
        <legend>File from</legend>
        {upload && (
          <label>
            <input type="radio" name={sourceName} checked={m.source === 'file'} onChange={() => set({ source: 'file' })} /> This computer
          </label>
        )}
        <label>
          <input type="radio" name={sourceName} checked={m.source === 'link'} onChange={() => set({ source: 'link' })} /> A web address (https)
        </label>
        <label>
          <input type="radio" name={sourceName} checked={m.source === 'id'} onChange={() => set({ source: 'id' })} /> A media id uploaded to Meta
        </label>
      </fieldset>
      {m.source === 'file' ? (
        <div className="stack">
          <label htmlFor={fileId}>File</label>
          <input
            key={fileKey}
            id={fileId}
            type="file"
            accept={UPLOAD_ACCEPT.join(',')}
            aria-invalid={problems.file ? true : undefined}
            aria-describedby={`${fileId}-hint${problems.file ? ` ${fileId}-error` : ''}`}
            onChange={(e) => {
              const chosen = e.target.files?.[0] ?? null;
              setFile(chosen);
              // The kind follows the file, so the caption and name fields fit it.
              const kind = chosen ? kindOfFile(chosen.type) : null;
              if (kind) set({ kind });
            }}
          />
          <p id={`${fileId}-hint`} className="hint">
            Images (JPEG, PNG) up to 5 MB; audio, video and documents up to 16 MB.
          </p>
          {problems.file && (
            <p id={`${fileId}-error`} className="error field-error">
              {problems.file}
            </p>
          )}
        </div>
      ) : (
        <>
          <label htmlFor={kindId}>Media type</label>
          <select id={kindId} value={m.kind} onChange={(e) => set({ kind: e.target.value as MediaKind })}>
            {MEDIA_KINDS.map((k) => (
              <option key={k.value} value={k.value}>
                {k.label}
              </option>
            ))}
          </select>
          {m.source === 'link' ? (
            <Field label="File address" type="url" value={m.link} onChange={(link) => set({ link })} error={problems.link} hint="Meta downloads the file from here." />
          ) : (
            <Field label="Media id" value={m.id} onChange={(id) => set({ id })} error={problems.id} />
          )}
        </>
      )}
      {m.kind !== 'audio' && <Field label="Caption" multiline value={m.caption} onChange={(caption) => set({ caption })} error={problems.caption} max={LIMITS.caption} />}
      {m.kind === 'document' && <Field label="File name" value={m.filename} onChange={(filename) => set({ filename })} error={problems.filename} max={LIMITS.filename} hint="Shown to the contact." />}
      <Failure problems={problems} error={error} />
      <button type="submit" disabled={busy}>
        {busy && m.source === 'file' ? 'Uploading…' : `Send ${m.kind}`}
      </button>
    </form>
  );
}

const EMPTY_BUTTONS = { header: '', body: '', footer: '', buttons: ['', '', ''] };

/** A message with up to three reply buttons; the person's tap comes back as a button reply. */
export function ButtonsReply({ send }: { send: SendBody }) {
  const [v, setV] = useState(EMPTY_BUTTONS);
  const { problems, error, busy, submit } = useSubmit(() => buildButtons(v), send, () => setV(EMPTY_BUTTONS));
  return (
    <form className="rich-reply stack" onSubmit={(e) => void submit(e)} aria-label="Send reply buttons" noValidate>
      <Field label="Header (optional)" value={v.header} onChange={(header) => setV({ ...v, header })} error={problems.header} max={LIMITS.headerText} />
      <Field label="Message text" multiline value={v.body} onChange={(body) => setV({ ...v, body })} error={problems.body} max={LIMITS.body} />
      <Field label="Footer (optional)" value={v.footer} onChange={(footer) => setV({ ...v, footer })} error={problems.footer} max={LIMITS.footer} />
      <fieldset className="choice">
        <legend>Buttons (up to {LIMITS.buttons})</legend>
        {v.buttons.map((title, i) => (
          <Field
            key={i}
            label={`Button ${i + 1}`}
            value={title}
            onChange={(t) => setV({ ...v, buttons: v.buttons.map((b, k) => (k === i ? t : b)) })}
            error={problems[`button${i}`]}
            max={LIMITS.buttonTitle}
          />
        ))}
        {problems.buttons && <p className="error field-error">{problems.buttons}</p>}
      </fieldset>
      <Failure problems={problems} error={error} />
      <button type="submit" disabled={busy}>
        Send buttons
      </button>
    </form>
  );
}

const EMPTY_LIST = { header: '', body: '', footer: '', button: '', rows: [{ title: '', description: '' }] };

/** A list message: a button that opens up to ten choices, one of which the person picks. */
export function ListReply({ send }: { send: SendBody }) {
  const [v, setV] = useState(EMPTY_LIST);
  const { problems, error, busy, submit } = useSubmit(() => buildList(v), send, () => setV(EMPTY_LIST));
  const setRow = (i: number, patch: Partial<{ title: string; description: string }>) => setV({ ...v, rows: v.rows.map((r, k) => (k === i ? { ...r, ...patch } : r)) });
  return (
    <form className="rich-reply stack" onSubmit={(e) => void submit(e)} aria-label="Send a list" noValidate>
      <Field label="Header (optional)" value={v.header} onChange={(header) => setV({ ...v, header })} error={problems.header} max={LIMITS.headerText} />
      <Field label="Message text" multiline value={v.body} onChange={(body) => setV({ ...v, body })} error={problems.body} max={LIMITS.body} />
      <Field label="Footer (optional)" value={v.footer} onChange={(footer) => setV({ ...v, footer })} error={problems.footer} max={LIMITS.footer} />
      <Field label="List button" value={v.button} onChange={(button) => setV({ ...v, button })} error={problems.button} max={LIMITS.listButton} hint="Opens the list." />
      <fieldset className="choice">
        <legend>Choices (up to {LIMITS.rows})</legend>
        {v.rows.map((r, i) => (
          <div key={i} className="list-row">
            <Field label={`Choice ${i + 1}`} value={r.title} onChange={(title) => setRow(i, { title })} error={problems[`row${i}`]} max={LIMITS.rowTitle} />
            <Field
              label={`Choice ${i + 1} description (optional)`}
              value={r.description}
              onChange={(description) => setRow(i, { description })}
              error={problems[`rowDescription${i}`]}
              max={LIMITS.rowDescription}
            />
          </div>
        ))}
        {problems.rows && <p className="error field-error">{problems.rows}</p>}
        {v.rows.length < LIMITS.rows && (
          <button type="button" className="secondary" onClick={() => setV({ ...v, rows: [...v.rows, { title: '', description: '' }] })}>
            Add a choice
          </button>
        )}
      </fieldset>
      <Failure problems={problems} error={error} />
      <button type="submit" disabled={busy}>
        Send list
      </button>
    </form>
  );
}
