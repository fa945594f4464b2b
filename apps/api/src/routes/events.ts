import { z } from 'zod';
import type { EventStreamHub } from '../event-stream';
import { route } from '../http/route';

export function eventRoutes(hub: EventStreamHub) {
  return [
    route({
      method: 'get',
      path: '/v1/events/stream',
      operationId: 'streamEvents',
      summary: 'Live events of the organization (server-sent events)',
      description:
        'A `text/event-stream` of the organization’s domain events as they commit, the same catalog as partner webhooks (docs/webhooks-events.md): each has `id` (its sequence), `event` (its type) and `data` (the payload as JSON). Authorized like every other route, with the bearer token in the `Authorization` header — read it with fetch rather than `EventSource`, which cannot send headers. Send the last `id` seen as `Last-Event-ID` when reconnecting to receive what was missed; when that is too much, an event `reset` tells the client to reload instead. A `: ping` comment every 15 seconds keeps the connection open through proxies. The same event may arrive twice around a reconnect; key them by the id in their payload.',
      tag: 'Events',
      auth: 'tenant',
      permission: 'conversations:read',
      query: z.object({}).strict(),
      responses: { 200: { description: 'The event stream', contentType: 'text/event-stream' } },
      handler: async ({ ctx, tenant }) => {
        const stream = await hub.open(tenant().organizationId, ctx.get('last-event-id') || undefined);
        // The response's close, not the request's: a GET's request closes as soon as it has been read.
        ctx.res.once('close', () => stream.destroy());
        return {
          status: 200,
          body: stream,
          headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' },
        };
      },
    }),
  ];
}
