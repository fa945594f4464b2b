import { useCallback, useEffect, useState } from 'react';
import { problemText } from '../api';
import { useSession } from '../session';

interface Suggestion {
  id: string;
  text: string;
  reason: string | null;
  state: 'open' | 'stale' | 'sent' | 'discarded';
}

/**
 * Replies the AI assistant drafted (draft mode): each can be sent, edited first, or discarded.
 * Re-read whenever the conversation changes (`version`), since new drafts come with new messages.
 */
export function AssistantDrafts({ conversationId, version }: { conversationId: string; version: string }) {
  const { client } = useSession();
  const [drafts, setDrafts] = useState<Suggestion[]>([]);
  const [edits, setEdits] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data } = await client.GET('/v1/conversations/{id}/assistant/suggestions', { params: { path: { id: conversationId }, query: { state: 'open', limit: 5 } } });
    setDrafts((data?.data ?? []) as Suggestion[]);
  }, [client, conversationId]);

  useEffect(() => {
    void load();
  }, [load, version]);

  const send = async (draft: Suggestion) => {
    const text = edits[draft.id];
    const { error } = await client.POST('/v1/conversations/{id}/assistant/suggestions/{suggestionId}/send', {
      params: { path: { id: conversationId, suggestionId: draft.id } },
      body: text && text !== draft.text ? { text } : {},
      headers: { 'Idempotency-Key': crypto.randomUUID() },
    });
    setError(error ? problemText(error) : null);
    await load();
  };

  const discard = async (draft: Suggestion) => {
    const { error } = await client.POST('/v1/conversations/{id}/assistant/suggestions/{suggestionId}/discard', {
      params: { path: { id: conversationId, suggestionId: draft.id } },
    });
    setError(error ? problemText(error) : null);
    await load();
  };

  if (!drafts.length && !error) return null;
  return (
    <section className="drafts" aria-label="AI drafts">
      {drafts.map((d) => (
        <div key={d.id} className="draft stack">
          <label htmlFor={`draft-${d.id}`}>
            <span className="badge ai">AI</span> Suggested reply{d.reason ? ` — ${d.reason}` : ''}
          </label>
          <textarea id={`draft-${d.id}`} rows={2} value={edits[d.id] ?? d.text} onChange={(e) => setEdits({ ...edits, [d.id]: e.target.value })} />
          <div className="row">
            <button type="button" onClick={() => void send(d)}>
              Send draft
            </button>
            <button type="button" className="secondary" onClick={() => void discard(d)}>
              Discard
            </button>
          </div>
        </div>
      ))}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
