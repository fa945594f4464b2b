import { z } from 'zod';
import { pageOf, pageQuery, route } from '../http/route';
import type { Services } from '../services';
import { isoTime } from './schemas';

const inboundFailure = z.object({
  id: z.string(),
  deliveryId: z.string().nullable().describe('The stored Meta delivery the item came in.'),
  organizationId: z.string().nullable(),
  channelId: z.string().nullable(),
  phoneNumberId: z.string().nullable(),
  kind: z.enum(['message', 'echo', 'history', 'status', 'errors', 'change']),
  field: z.string().nullable().describe('The webhook field of the change (`messages`, `smb_message_echoes`, ...).'),
  item: z.unknown().describe('The item as Meta sent it.'),
  reason: z.string(),
  state: z.enum(['retrying', 'parked', 'replayed']).describe('`retrying` is tried again on a backoff over hours; `parked` waits for the operator; `replayed` applied.'),
  attempts: z.number().int(),
  nextAttemptAt: isoTime.nullable(),
  createdAt: isoTime,
  updatedAt: isoTime,
  resolvedAt: isoTime.nullable(),
});

const parkedDelivery = z.object({
  id: z.string(),
  receivedAt: isoTime,
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  parkedAt: isoTime,
  payload: z.unknown(),
});

const failureParams = z.object({ id: z.string().describe('Id of the set-aside item.') }).strict();

/** The platform operator's desk: what Meta sent that Parley could not apply, and its replay. */
export function operatorRoutes(s: Services) {
  return [
    route({
      method: 'get',
      path: '/v1/operator/webhook-backlog',
      operationId: 'listWebhookBacklogs',
      summary: 'Organizations whose partner webhooks are behind, the longest waiting first',
      description: 'Per organization: the age of the oldest event an active subscription has not received, pending deliveries and events not yet fanned out. An age that grows while events flow means delivery is stalled.',
      tag: 'Operator',
      auth: 'operator',
      query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }).strict(),
      responses: {
        200: {
          description: 'Organizations with undelivered events',
          schema: z.object({
            data: z.array(
              z.object({
                organizationId: z.string(),
                oldestUndeliveredEventAt: isoTime.nullable(),
                oldestUndeliveredAgeSeconds: z.number().int(),
                pendingDeliveries: z.number().int(),
                undispatchedEvents: z.number().int(),
              }),
            ),
          }),
        },
      },
      handler: async ({ query, em }) => ({ status: 200, body: { data: await s.webhookDeliveries.backlogs(em, query.limit) } }),
    }),
    route({
      method: 'get',
      path: '/v1/operator/inbound-failures',
      operationId: 'listInboundFailures',
      summary: 'Items of Meta deliveries set aside, with their reason',
      description:
        'Each message, status or change of a Meta delivery that could not be applied is set aside on its own (its neighbours still apply), with its raw JSON and the reason. Failures that may pass are retried with backoff over hours, then parked.',
      tag: 'Operator',
      auth: 'operator',
      query: pageQuery.extend({
        state: z.enum(['retrying', 'parked', 'replayed']).optional(),
        organizationId: z.string().optional(),
      }),
      responses: { 200: { description: 'A page of set-aside items, newest first', schema: pageOf(inboundFailure) } },
      handler: async ({ query, em }) => ({ status: 200, body: await s.inboundFailures.list(em, query) }),
    }),
    route({
      method: 'get',
      path: '/v1/operator/inbound-failures/:id',
      operationId: 'getInboundFailure',
      summary: 'One set-aside item',
      tag: 'Operator',
      auth: 'operator',
      params: failureParams,
      responses: { 200: { description: 'The item', schema: inboundFailure } },
      handler: async ({ params, em }) => ({ status: 200, body: await s.inboundFailures.get(em, params.id) }),
    }),
    route({
      method: 'post',
      path: '/v1/operator/inbound-failures/:id/replay',
      operationId: 'replayInboundFailure',
      summary: 'Apply a set-aside item again, now',
      description: 'Answers the item with its new state: `replayed` when it applied, else `retrying` or `parked` with the new reason.',
      tag: 'Operator',
      auth: 'operator',
      params: failureParams,
      responses: { 200: { description: 'The item after the replay', schema: inboundFailure } },
      handler: async ({ params, em }) => ({ status: 200, body: await s.inboundFailures.replay(em, params.id) }),
    }),
    route({
      method: 'get',
      path: '/v1/operator/meta-deliveries/parked',
      operationId: 'listParkedMetaDeliveries',
      summary: 'Whole Meta deliveries that ran out of attempts',
      tag: 'Operator',
      auth: 'operator',
      query: pageQuery,
      responses: { 200: { description: 'A page of parked deliveries, newest first', schema: pageOf(parkedDelivery) } },
      handler: async ({ query, em }) => ({ status: 200, body: await s.inboundFailures.parkedDeliveries(em, query) }),
    }),
    route({
      method: 'post',
      path: '/v1/operator/meta-deliveries/:id/replay',
      operationId: 'replayMetaDelivery',
      summary: 'Put a parked delivery back in line, with fresh attempts',
      tag: 'Operator',
      auth: 'operator',
      params: z.object({ id: z.string() }).strict(),
      responses: { 200: { description: 'Queued again', schema: z.object({ id: z.string(), state: z.literal('pending') }) } },
      handler: async ({ params, em }) => ({ status: 200, body: await s.inboundFailures.replayDelivery(em, params.id) }),
    }),
  ];
}
