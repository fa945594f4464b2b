import { Readable } from 'node:stream';
import { broadcastViewSchema, decodeSequenceCursor } from '@parley/domain';
import { z } from 'zod';
import { idParams, pageOf, pageQuery, route } from '../http/route';
import type { Services } from '../services';
import { isoTime } from './schemas';

const recipientStatus = z.object({
  phone: z.string(),
  status: z.enum(['pending', 'sent', 'delivered', 'read', 'failed', 'skipped', 'unknown']),
  messageId: z.string().nullable(),
  error: z.object({ code: z.union([z.number(), z.string()]), title: z.string(), details: z.string().optional() }).nullable(),
  skipReason: z.string().nullable(),
  updatedAt: isoTime,
});
/** The one broadcast view, shared with the broadcast events. */
const broadcast = broadcastViewSchema;
const params = z.record(z.string().max(128), z.string().max(1024));
const users = z
  .array(z.object({ phone: z.string().trim().min(1).max(32), params: params.optional() }).strict())
  .min(1)
  .max(20_000, 'At most 20,000 users per request; append more to a held broadcast.');

export function broadcastRoutes(s: Services) {
  return [
    route({
      method: 'post',
      path: '/v1/broadcasts',
      operationId: 'createBroadcast',
      summary: 'Send a template to many recipients',
      description:
        'Validates the template and every recipient’s params (400 `template_params_mismatch`, each problem by path), then runs the send as a Temporal workflow and answers 202. A phone that cannot be parsed fails that recipient, not the broadcast. Recipients are deduplicated by phone (in E.164): a phone listed again is sent once, with the params of its first listing; `added` and `duplicates` count them. With `hold: true` the broadcast stays a draft: append users with POST /v1/broadcasts/:id/users (bodies are limited to 1 MiB) and start it with POST /v1/broadcasts/:id/start.',
      tag: 'Broadcasts',
      auth: 'tenant',
      permission: 'broadcasts:write',
      idempotent: true,
      body: z
        .object({
          channelId: z.string().max(64).optional(),
          template: z
            .object({ name: z.string().min(1).max(512), language: z.string().min(2).max(15), components: z.array(z.record(z.string(), z.unknown())).max(20).optional() })
            .strict(),
          params: params.optional(),
          users,
          hold: z.boolean().optional(),
        })
        .strict(),
      responses: {
        202: {
          description: 'Running (or held as a draft)',
          schema: z.object({ id: z.string(), status: z.enum(['running', 'draft']), added: z.number().int(), duplicates: z.number().int() }),
        },
      },
      handler: async ({ body, tenant }) => ({ status: 202, body: await s.broadcasts.create(tenant(), body) }),
    }),
    route({
      method: 'post',
      path: '/v1/broadcasts/:id/users',
      operationId: 'appendBroadcastUsers',
      summary: 'Append recipients to a held broadcast',
      description:
        'Phones the broadcast already holds, or that the list repeats (compared in E.164), are not added again: `added` counts the new recipients, `duplicates` the ones left out, `total` all of the broadcast’s. Honours `Idempotency-Key`, so a retried append adds nothing twice.',
      tag: 'Broadcasts',
      auth: 'tenant',
      permission: 'broadcasts:write',
      idempotent: true,
      params: idParams,
      body: z.object({ users }).strict(),
      responses: {
        200: {
          description: 'Appended',
          schema: z.object({ id: z.string(), total: z.number().int(), added: z.number().int(), duplicates: z.number().int() }),
        },
      },
      handler: async ({ params: p, body, tenant }) => ({ status: 200, body: await s.broadcasts.addUsers(tenant(), p.id, body.users) }),
    }),
    route({
      method: 'post',
      path: '/v1/broadcasts/:id/start',
      operationId: 'startBroadcast',
      summary: 'Start a held broadcast',
      tag: 'Broadcasts',
      auth: 'tenant',
      permission: 'broadcasts:write',
      params: idParams,
      responses: { 202: { description: 'Running', schema: z.object({ id: z.string(), status: z.string() }) } },
      handler: async ({ params: p, tenant }) => ({ status: 202, body: await s.broadcasts.start(tenant(), p.id) }),
    }),
    route({
      method: 'get',
      path: '/v1/broadcasts',
      operationId: 'listBroadcasts',
      summary: 'List broadcasts with their statistics',
      tag: 'Broadcasts',
      auth: 'tenant',
      permission: 'broadcasts:read',
      query: pageQuery,
      responses: { 200: { description: 'A page of broadcasts', schema: pageOf(broadcast) } },
      handler: async ({ query, tenant }) => ({ status: 200, body: await s.broadcasts.list(tenant(), query) }),
    }),
    route({
      method: 'get',
      path: '/v1/broadcasts/:id',
      operationId: 'getBroadcast',
      summary: 'A broadcast with statistics and a page of recipient statuses',
      tag: 'Broadcasts',
      auth: 'tenant',
      permission: 'broadcasts:read',
      params: idParams,
      query: pageQuery.extend({ status: z.enum(['pending', 'sent', 'delivered', 'read', 'failed', 'skipped', 'unknown']).optional() }).strict(),
      responses: {
        200: { description: 'The broadcast', schema: broadcast.extend({ statuses: z.array(recipientStatus), nextCursor: z.string().nullable() }) },
      },
      handler: async ({ params: p, query, tenant }) => {
        const scope = tenant();
        // Recipient pages are keyed by a bigint sequence: a cursor outside its range is bad input.
        decodeSequenceCursor(query.cursor);
        const [view, page] = [await s.broadcasts.get(scope, p.id), await s.broadcasts.statuses(scope, p.id, query)];
        return { status: 200, body: { ...view, statuses: page.data, nextCursor: page.nextCursor } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/broadcasts/:id/statuses.csv',
      operationId: 'exportBroadcastStatuses',
      summary: 'Every recipient’s status as CSV',
      tag: 'Broadcasts',
      auth: 'tenant',
      permission: 'broadcasts:read',
      params: idParams,
      responses: { 200: { description: 'CSV', contentType: 'text/csv' } },
      handler: async ({ params: p, tenant }) => {
        const scope = tenant();
        const chunks = s.broadcasts.csv(scope, p.id);
        // Read the first chunk now so a wrong id is still a 404 problem, not a broken stream.
        const first = await chunks.next();
        const body = Readable.from((async function* () {
          if (!first.done) yield first.value;
          yield* chunks;
        })());
        return {
          status: 200,
          body,
          headers: { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="broadcast-${p.id}.csv"` },
        };
      },
    }),
    route({
      method: 'post',
      path: '/v1/broadcasts/:id/cancel',
      operationId: 'cancelBroadcast',
      summary: 'Stop sending; recipients not yet sent stay pending',
      tag: 'Broadcasts',
      auth: 'tenant',
      permission: 'broadcasts:write',
      params: idParams,
      responses: { 200: { description: 'Cancelled', schema: broadcast } },
      handler: async ({ params: p, tenant }) => ({ status: 200, body: await s.broadcasts.cancel(tenant(), p.id) }),
    }),
  ];
}
