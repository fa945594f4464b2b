import { createParser } from 'eventsource-parser';
import { useEffect, useRef, useState } from 'react';
import type { ParleyClient } from '../../../packages/sdk/src/client';

export interface StreamEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

export type StreamStatus = 'connecting' | 'live' | 'reconnecting';

/**
 * The tenant's live events (GET /v1/events/stream). Read with fetch rather than EventSource so
 * the request carries the bearer token like every other call (and gets the SDK's refresh); the
 * last event id is sent back on reconnect so nothing committed meanwhile is missed.
 */
export function useEventStream(client: ParleyClient, onEvent: (event: StreamEvent) => void): StreamStatus {
  const [status, setStatus] = useState<StreamStatus>('connecting');
  const handler = useRef(onEvent);
  handler.current = onEvent;

  useEffect(() => {
    const abort = new AbortController();
    let lastId: string | undefined;
    let delay = 500;

    const run = async () => {
      while (!abort.signal.aborted) {
        try {
          const headers: Record<string, string> = { accept: 'text/event-stream' };
          if (lastId) headers['last-event-id'] = lastId;
          const res = await client.authorizedFetch(new Request(`${window.location.origin}/v1/events/stream`, { headers, signal: abort.signal }));
          if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
          setStatus('live');
          delay = 500;
          const parser = createParser({
            onEvent: (message) => {
              if (message.id) lastId = message.id;
              if (!message.event || message.event === 'ready') return;
              try {
                handler.current({ id: message.id ?? '', type: message.event, data: JSON.parse(message.data) as Record<string, unknown> });
              } catch {
                // A malformed event is skipped; the next one still arrives.
              }
            },
          });
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            parser.feed(value);
          }
        } catch {
          if (abort.signal.aborted) return;
        }
        setStatus('reconnecting');
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 15_000);
      }
    };
    void run();
    return () => abort.abort();
  }, [client]);

  return status;
}

/** The conversation an event is about, if any. */
export function conversationIdOf(event: StreamEvent): string | undefined {
  const conversation = event.data.conversation as { id?: string } | undefined;
  if (conversation?.id) return conversation.id;
  const message = event.data.message as { conversationId?: string } | undefined;
  return message?.conversationId;
}
