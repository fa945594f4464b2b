import { useEffect, useState } from 'react';
import type { Message } from '../api';
import { useSession } from '../session';

const TICKS: Record<string, { mark: string; label: string }> = {
  queued: { mark: '…', label: 'Queued' },
  sent: { mark: '✓', label: 'Sent' },
  delivered: { mark: '✓✓', label: 'Delivered' },
  read: { mark: '✓✓', label: 'Read' },
  failed: { mark: '⚠', label: 'Failed' },
};

export function MessageBubble({ message }: { message: Message }) {
  const outbound = message.direction === 'outbound';
  const tick = outbound ? TICKS[message.status] : undefined;
  const time = new Date(message.createdAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return (
    <article className={`bubble ${outbound ? 'out' : 'in'} ${message.status === 'failed' ? 'failed' : ''}`} aria-label={`${outbound ? 'Sent' : 'Received'} at ${time}`}>
      {message.ai && <span className="badge ai">AI</span>}
      {message.deletedAt ? <p className="muted">This message was deleted.</p> : <Body message={message} />}
      <footer>
        {message.editedAt && !message.deletedAt && <span className="muted" title={`${message.history.length} earlier version(s)`}>edited · </span>}
        <time dateTime={message.createdAt}>{time}</time>
        {tick && (
          <span className={`tick ${message.status}`} aria-label={tick.label} title={tick.label}>
            {' '}
            {tick.mark}
          </span>
        )}
      </footer>
      {message.error && (
        <p className="error" role="note">
          {message.error.title}
          {message.error.details ? ` — ${message.error.details}` : ''} ({String(message.error.code)})
        </p>
      )}
    </article>
  );
}

function Body({ message }: { message: Message }) {
  const c = message.content as Record<string, unknown>;
  switch (message.type) {
    case 'text':
      return <p className="text">{String(c.text ?? '')}</p>;
    case 'template': {
      const t = c.template as { name?: string; language?: string } | undefined;
      return (
        <p className="text">
          <span className="badge">Template</span> {t?.name} ({t?.language})
        </p>
      );
    }
    case 'image':
    case 'video':
    case 'audio':
    case 'document':
    case 'sticker': {
      // Sent by link, the file is Meta's to fetch: shown as that link, not downloaded here.
      const sent = c.media as { link?: string; caption?: string; filename?: string } | undefined;
      if (message.direction === 'outbound' && sent?.link) {
        return (
          <div className="text">
            <p>
              📎 {message.type}:{' '}
              <a href={sent.link} target="_blank" rel="noreferrer noopener">
                {sent.filename ?? sent.link}
              </a>
            </p>
            {sent.caption && <p>{sent.caption}</p>}
          </div>
        );
      }
      return <Media message={message} />;
    }
    case 'location': {
      const l = c.location as { latitude?: number | null; longitude?: number | null; name?: string; address?: string };
      const href = typeof l.latitude === 'number' && typeof l.longitude === 'number' ? `https://www.openstreetmap.org/?mlat=${l.latitude}&mlon=${l.longitude}` : undefined;
      return (
        <p className="text">
          📍 {l.name ?? 'Location'} {l.address && <span className="muted">{l.address}</span>}{' '}
          {href && (
            <a href={href} target="_blank" rel="noreferrer noopener">
              Open map
            </a>
          )}
        </p>
      );
    }
    case 'contacts': {
      const list = (c.contacts as Array<{ name?: { formatted_name?: string }; phones?: Array<{ phone?: string }> }>) ?? [];
      return (
        <ul className="text">
          {list.map((p, i) => (
            <li key={i}>
              👤 {p.name?.formatted_name ?? 'Contact'} {p.phones?.map((ph) => ph.phone).join(', ')}
            </li>
          ))}
        </ul>
      );
    }
    case 'interactive': {
      const i = c.interactive as {
        kind?: string;
        type?: string;
        title?: string;
        body?: unknown;
        action?: { buttons?: Array<{ reply?: { title?: string } }>; button?: string; sections?: Array<{ title?: string; rows?: Array<{ title?: string; description?: string }> }> };
      };
      if (i.kind) return <p className="text">↩ {i.title ?? (typeof i.body === 'string' ? i.body : i.kind)}</p>;
      const body = (i.body as { text?: string } | undefined)?.text;
      return (
        <div className="text">
          <p>{body}</p>
          {i.action?.buttons && (
            <ul className="buttons">
              {i.action.buttons.map((b, n) => (
                <li key={n}>{b.reply?.title}</li>
              ))}
            </ul>
          )}
          {i.action?.sections && (
            <>
              <p className="muted">☰ {i.action.button}</p>
              <ul>
                {i.action.sections.flatMap((section) => section.rows ?? []).map((r, n) => (
                  <li key={n}>
                    {r.title}
                    {r.description && <span className="muted"> — {r.description}</span>}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      );
    }
    case 'button': {
      const b = c.button as { text?: string };
      return <p className="text">↩ {b.text}</p>;
    }
    case 'reaction': {
      const r = c.reaction as { emoji?: string; removed?: boolean };
      return <p className="text">{r.removed ? 'Removed a reaction' : `Reacted ${r.emoji ?? ''}`}</p>;
    }
    default:
      return <p className="text muted">[{message.type}]</p>;
  }
}

/** Media needs the bearer token, so it is fetched and shown from an object URL. */
function Media({ message }: { message: Message }) {
  const { client } = useSession();
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  const media = (message.content as { media?: { caption?: string; filename?: string; mimeType?: string } }).media;

  useEffect(() => {
    let objectUrl: string | undefined;
    let cancelled = false;
    void client
      .authorizedFetch(new Request(`${window.location.origin}/v1/conversations/${message.conversationId}/messages/${message.id}/media`))
      .then(async (res) => {
        if (!res.ok) throw new Error(String(res.status));
        const blob = await res.blob();
        if (cancelled) return;
        objectUrl = URL.createObjectURL(blob);
        setUrl(objectUrl);
      })
      .catch(() => !cancelled && setFailed(true));
    return () => {
      cancelled = true;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [client, message.conversationId, message.id]);

  const caption = media?.caption ? <p>{media.caption}</p> : null;
  if (failed) return <p className="muted">[{message.type} could not be loaded]</p>;
  if (!url) return <p className="muted">Loading {message.type}…</p>;
  switch (message.type) {
    case 'image':
    case 'sticker':
      return (
        <figure>
          <img src={url} alt={media?.caption ?? `${message.type} ${message.direction === 'outbound' ? 'sent to' : 'from'} the contact`} loading="lazy" />
          {caption}
        </figure>
      );
    case 'video':
      return (
        <figure>
          <video src={url} controls />
          {caption}
        </figure>
      );
    case 'audio':
      return <audio src={url} controls aria-label="Voice message" />;
    default:
      return (
        <p>
          📄{' '}
          <a href={url} download={media?.filename ?? 'document'}>
            {media?.filename ?? 'Download document'}
          </a>
          {caption}
        </p>
      );
  }
}
