import { z } from 'zod';
import { pageOf, pageQuery, route } from '../http/route';
import type { Services } from '../services';
import { isoTime } from './schemas';

const eventFilter = z
  .string()
  .min(1)
  .max(120)
  .describe('An event name (`message.create.contact.chat.contact`) or a prefix of one at a dot (`message.create.contact.chat`, `message`), which receives every event below it.');

const subscriptionFilter = z
  .object({ touchpoint: z.string().min(1).max(40).nullable().optional().describe('Only events of this touchpoint (`whatsapp`); events without one always pass.') })
  .strict();

const webhookUrl = z.url({ protocol: /^https?$/ }).max(2048).describe('https, not resolving to a private, loopback, link-local or otherwise reserved address.');

const subscription = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  filter: z.object({ touchpoint: z.string().nullable() }),
  description: z.string().nullable(),
  status: z.enum(['active', 'disabled']),
  disabledReason: z.string().nullable().describe('Why it was disabled: a 410 answer, five days of failures, or by request.'),
  disabledAt: isoTime.nullable(),
  failingSince: isoTime.nullable().describe('Since when every attempt has failed; after five days the subscription is disabled.'),
  installationId: z.string().nullable().describe('The installation (partner) that owns it; null for one made by a tenant admin.'),
  previousSecretExpiresAt: isoTime.nullable().describe('Until then the secret before the last rotation also signs.'),
  createdAt: isoTime,
  updatedAt: isoTime,
});

const withSecret = subscription.extend({
  secret: z.string().describe('The signing secret (`whsec_...`), shown only in this answer. Verify deliveries with it as Standard Webhooks describes.'),
});

const attempt = z.object({
  attemptedAt: isoTime,
  trigger: z.enum(['event', 'manual', 'replay']),
  succeeded: z.boolean(),
  statusCode: z.number().int().nullable(),
  latencyMs: z.number().int(),
  responseExcerpt: z.string().nullable().describe('The first KiB of the answer.'),
  error: z.string().nullable(),
});

const delivery = z.object({
  id: z.string(),
  subscriptionId: z.string(),
  eventId: z.string().describe('Sent as `webhook-id` on every attempt.'),
  eventType: z.string(),
  eventCreatedAt: isoTime,
  status: z.enum(['pending', 'succeeded', 'failed']),
  attemptCount: z.number().int(),
  nextAttemptAt: isoTime.nullable(),
  lastAttemptAt: isoTime.nullable(),
  lastStatusCode: z.number().int().nullable(),
  lastError: z.string().nullable(),
  attempts: z.array(attempt),
});

const backlog = z.object({
  oldestUndeliveredEventAt: isoTime.nullable(),
  oldestUndeliveredAgeSeconds: z.number().int().describe('0 when everything is delivered. A growing age while events flow means delivery is stalled.'),
  pendingDeliveries: z.number().int(),
  undispatchedEvents: z.number().int(),
});

const subscriptionParams = z.object({ id: z.string().describe('Subscription id.') }).strict();
const deliveryParams = z.object({ id: z.string().describe('Subscription id.'), deliveryId: z.string().describe('Delivery id.') }).strict();

const timeQuery = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

const TAG = 'Partner webhooks';
const DELIVERY_DOC =
  'Each event is POSTed as `{id, type, createdAt, organizationId, sequence, data}` with the Standard Webhooks headers `webhook-id` (the event id, the same on every attempt), `webhook-timestamp` and `webhook-signature`. Any 2xx counts as delivered. Failed attempts are retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (with jitter; a longer `Retry-After` is honoured up to 10 h). 410 disables the subscription, and so do five days of failures; either sends `webhook.disabled` to the organization’s other subscriptions.';

/** Partner webhook subscriptions, their delivery log, retries and replays (contract: "Partner webhooks"). */
export function webhookRoutes(s: Services) {
  return [
    route({
      method: 'post',
      path: '/v1/webhooks',
      operationId: 'createWebhook',
      summary: 'Subscribe an endpoint to events',
      description: `The URL is verified first: it receives \`GET url?challenge=C\` and must answer 2xx with body \`C\` (else 422 \`webhook_verification_failed\`). A URL that is not https or resolves to a forbidden address: 400 \`webhook_url_forbidden\`. Partners need access to what they subscribe to (\`conversations:read\` or \`conversations:write\` for message and conversation events, \`broadcasts:read\` or \`broadcasts:write\` for broadcast events), else 403. ${DELIVERY_DOC}`,
      tag: TAG,
      auth: 'tenant',
      permission: 'webhooks:write',
      idempotent: true,
      body: z
        .object({
          url: webhookUrl,
          events: z.array(eventFilter).min(1).max(50),
          filter: subscriptionFilter.optional(),
          description: z.string().max(500).nullable().optional(),
        })
        .strict(),
      responses: { 201: { description: 'Subscribed and active; the secret is shown only here', schema: withSecret } },
      handler: async ({ body, tenant }) => ({ status: 201, body: await s.webhooks.create(tenant(), body) }),
    }),
    route({
      method: 'get',
      path: '/v1/webhooks',
      operationId: 'listWebhooks',
      summary: 'List subscriptions (a partner sees its own)',
      tag: TAG,
      auth: 'tenant',
      permission: 'webhooks:read',
      query: pageQuery.extend({ status: z.enum(['active', 'disabled']).optional() }).strict(),
      responses: { 200: { description: 'A page of subscriptions, newest first', schema: pageOf(subscription) } },
      handler: async ({ query, tenant }) => ({ status: 200, body: await s.webhooks.list(tenant(), query) }),
    }),
    route({
      method: 'get',
      path: '/v1/webhooks/backlog',
      operationId: 'getWebhookBacklog',
      summary: 'How far behind delivery is for this organization',
      description: 'The age of the oldest event an active subscription has not received yet, with the counts behind it.',
      tag: TAG,
      auth: 'tenant',
      permission: 'webhooks:read',
      responses: { 200: { description: 'The backlog', schema: backlog } },
      handler: async ({ tenant }) => ({ status: 200, body: await s.webhookDeliveries.backlog(tenant()) }),
    }),
    route({
      method: 'get',
      path: '/v1/webhooks/:id',
      operationId: 'getWebhook',
      summary: 'Read a subscription',
      tag: TAG,
      auth: 'tenant',
      permission: 'webhooks:read',
      params: subscriptionParams,
      responses: { 200: { description: 'The subscription', schema: subscription } },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.webhooks.get(tenant(), params.id) }),
    }),
    route({
      method: 'patch',
      path: '/v1/webhooks/:id',
      operationId: 'updateWebhook',
      summary: 'Change a subscription; `status: active` re-enables a disabled one',
      description: 'A new URL, and re-activation, are verified with the challenge first. Re-activating forgets the failure streak; deliveries left pending go out again.',
      tag: TAG,
      auth: 'tenant',
      permission: 'webhooks:write',
      params: subscriptionParams,
      body: z
        .object({
          url: webhookUrl.optional(),
          events: z.array(eventFilter).min(1).max(50).optional(),
          filter: subscriptionFilter.optional(),
          description: z.string().max(500).nullable().optional(),
          status: z.enum(['active', 'disabled']).optional(),
        })
        .strict(),
      responses: { 200: { description: 'The subscription', schema: subscription } },
      handler: async ({ params, body, tenant }) => ({ status: 200, body: await s.webhooks.update(tenant(), params.id, body) }),
    }),
    route({
      method: 'delete',
      path: '/v1/webhooks/:id',
      operationId: 'deleteWebhook',
      summary: 'Delete a subscription and its delivery log',
      tag: TAG,
      auth: 'tenant',
      permission: 'webhooks:write',
      params: subscriptionParams,
      responses: { 204: { description: 'Deleted' } },
      handler: async ({ params, tenant }) => {
        await s.webhooks.remove(tenant(), params.id);
        return { status: 204 };
      },
    }),
    route({
      method: 'post',
      path: '/v1/webhooks/:id/rotate-secret',
      operationId: 'rotateWebhookSecret',
      summary: 'Issue a new signing secret',
      description: 'The new secret signs at once. For 24 hours the previous one signs too: `webhook-signature` then carries both signatures, space-separated, so receivers can switch without losing deliveries.',
      tag: TAG,
      auth: 'tenant',
      permission: 'webhooks:write',
      params: subscriptionParams,
      responses: { 200: { description: 'The subscription with its new secret, shown only here', schema: withSecret } },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.webhooks.rotateSecret(tenant(), params.id) }),
    }),
    route({
      method: 'get',
      path: '/v1/webhooks/:id/deliveries',
      operationId: 'listWebhookDeliveries',
      summary: 'The delivery log: each event sent to the subscription, with every attempt',
      tag: TAG,
      auth: 'tenant',
      permission: 'webhooks:read',
      params: subscriptionParams,
      query: pageQuery
        .extend({
          status: z.enum(['pending', 'succeeded', 'failed']).optional(),
          eventType: eventFilter.optional(),
          since: timeQuery.optional().describe('Events created at or after this time.'),
          until: timeQuery.optional().describe('Events created before this time.'),
        })
        .strict(),
      responses: { 200: { description: 'A page of deliveries, newest first', schema: pageOf(delivery) } },
      handler: async ({ params, query, tenant }) => ({ status: 200, body: await s.webhookDeliveries.list(tenant(), params.id, query) }),
    }),
    route({
      method: 'get',
      path: '/v1/webhooks/:id/deliveries/:deliveryId',
      operationId: 'getWebhookDelivery',
      summary: 'One delivery with every attempt',
      tag: TAG,
      auth: 'tenant',
      permission: 'webhooks:read',
      params: deliveryParams,
      responses: { 200: { description: 'The delivery', schema: delivery } },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.webhookDeliveries.get(tenant(), params.id, params.deliveryId) }),
    }),
    route({
      method: 'post',
      path: '/v1/webhooks/:id/deliveries/:deliveryId/retry',
      operationId: 'retryWebhookDelivery',
      summary: 'Attempt a delivery again now, with the same webhook-id',
      description: 'While an attempt is under way: 409 `delivery_in_progress`.',
      tag: TAG,
      auth: 'tenant',
      permission: 'webhooks:write',
      params: deliveryParams,
      responses: { 202: { description: 'Queued for an attempt', schema: delivery } },
      handler: async ({ params, tenant }) => ({ status: 202, body: await s.webhookDeliveries.retry(tenant(), params.id, params.deliveryId) }),
    }),
    route({
      method: 'post',
      path: '/v1/webhooks/:id/replay',
      operationId: 'replayWebhookEvents',
      summary: 'Send again every matching event of a time range',
      description: 'New attempts on a fresh schedule, under the same event ids (`webhook-id`). At most 50,000 events per request (422 `replay_too_large`).',
      tag: TAG,
      auth: 'tenant',
      permission: 'webhooks:write',
      idempotent: true,
      params: subscriptionParams,
      body: z.object({ since: z.iso.datetime({ offset: true }), until: z.iso.datetime({ offset: true }) }).strict(),
      responses: { 202: { description: 'Queued', schema: z.object({ replayed: z.number().int().describe('Events queued for delivery.') }) } },
      handler: async ({ params, body, tenant }) => ({
        status: 202,
        body: await s.webhookDeliveries.replay(tenant(), params.id, { since: new Date(body.since), until: new Date(body.until) }),
      }),
    }),
  ];
}
