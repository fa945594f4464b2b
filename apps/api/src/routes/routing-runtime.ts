import { CHATBOT_CALLBACK_PATH, chatbotCallbackSchema } from '@parley/domain';
import { z } from 'zod';
import { idParams, route, type RouteDef } from '../http/route';
import type { Services } from '../services';
import { problem } from './schemas';

const problemOf = (description: string) => ({ description, schema: problem, contentType: 'application/problem+json' });

/** The routing runtime's public side: chatbot connectors answer here (docs/routing.md, "Chatbot connectors at runtime"). */
export function routingRuntimeRoutes(s: Services): RouteDef[] {
  return [
    route({
      method: 'post',
      path: `${CHATBOT_CALLBACK_PATH}/:hash`,
      operationId: 'chatbotCallback',
      summary: 'A chatbot’s answer in a conversation it owns',
      description:
        'Called by a chatbot connector’s bot, at the `callbackUrl` each forwarded message carries. No bearer token: the path’s hash is an unguessable per-conversation token (32 random bytes, base64url), which the platform keeps only hashed. `text` sends a text; `url_button` a message with a URL button; `quick_replies` reply buttons (up to 3 titles of at most 20 characters) or a list (up to 10); `transfer` hands the chat to a queue of the routing version in force, after which the hash no longer answers. Messages go through the send path’s rules (the customer-service window, opt-out). A hash that names no conversation a bot owns now: 404, nothing changes.\n\n**Retries.** Send an `Idempotency-Key` header (1-255 printable ASCII characters, else 400 `validation_error`; e.g. a UUID per answer) to make a retry safe: the key is kept with the conversation’s bot session, in the transaction that sent the message or made the transfer. The same key and body again (a bot whose HTTP client timed out after the platform answered) returns the first answer and sends nothing, even after a transfer ended the session; the same key with another body: 422 `idempotency_key_reused`. A refused callback (422) keeps no key. Keys last as long as the session’s record.',
      tag: 'Routing',
      auth: 'none',
      params: z.object({ hash: z.string().max(200).describe('The conversation’s callback token, from `callbackUrl`.') }).strict(),
      body: chatbotCallbackSchema,
      responses: {
        200: { description: 'Sent', schema: z.object({ status: z.literal('sent'), messageId: z.string() }) },
        202: { description: 'Transferred to the queue', schema: z.object({ status: z.literal('transferred') }) },
        404: problemOf('No conversation owned by a bot has this hash (`not_found`)'),
        422: problemOf('The send path refused the message (`outside_customer_service_window`, …), the queue is unknown (`unknown_queue`), or the `Idempotency-Key` was used with another body (`idempotency_key_reused`)'),
      },
      handler: async ({ params, body, ctx }) => {
        const key = ctx.get('idempotency-key');
        const result = await s.chatbots.callback(params.hash, body, key === '' ? undefined : key);
        return { status: result.status === 'sent' ? 200 : 202, body: result };
      },
    }),
    route({
      method: 'get',
      path: '/v1/routing/chatbots/:id/secret',
      operationId: 'getChatbotSigningSecret',
      summary: 'A chatbot connector’s signing secret',
      description:
        'The Standard Webhooks secret (`whsec_…`) the platform signs its requests to the bot with (`webhook-id`, `webhook-timestamp`, `webhook-signature` headers). Made on first use and kept encrypted; the same for every version of the connector. For connectors of the draft or of an applied version.',
      tag: 'Routing',
      auth: 'tenant',
      permission: 'routing:manage',
      params: idParams,
      responses: {
        200: { description: 'The secret', schema: z.object({ chatbotId: z.string(), secret: z.string() }) },
        404: problemOf('No chatbot connector of this organization has this id'),
      },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.chatbots.signingSecret(tenant().organizationId, params.id) }),
    }),
  ];
}
