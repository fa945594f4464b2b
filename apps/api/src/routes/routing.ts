import {
  channelRoutingInput,
  channelRoutingSchema,
  chatbotInput,
  chatbotSchema,
  decisionTreeEntrySchema,
  decisionTreeInput,
  dryRunInput,
  OBJECT_KINDS,
  type ObjectSegment,
  queueInput,
  queueSchema,
  routingDocumentSchema,
  terminateInput,
  terminateSchema,
  timeConditionInput,
  timeConditionSchema,
  timeGroupInput,
  timeGroupSchema,
} from '@parley/domain';
import { z } from 'zod';
import { idParams, pageOf, pageQuery, route, type RouteDef } from '../http/route';
import type { Services } from '../services';
import { conversation } from './conversations';
import { isoTime } from './schemas';

/** Named, so the OpenAPI document writes each once as a component. */
const named = <T extends z.ZodType>(schema: T, id: string): T => schema.meta({ id }) as T;

const SCHEMAS: Record<ObjectSegment, { input: z.ZodType; output: z.ZodType; title: string }> = {
  queues: { input: named(queueInput, 'RoutingQueueInput'), output: named(queueSchema, 'RoutingQueue'), title: 'Queue' },
  'time-groups': { input: named(timeGroupInput, 'RoutingTimeGroupInput'), output: named(timeGroupSchema, 'RoutingTimeGroup'), title: 'TimeGroup' },
  'time-conditions': { input: named(timeConditionInput, 'RoutingTimeConditionInput'), output: named(timeConditionSchema, 'RoutingTimeCondition'), title: 'TimeCondition' },
  'decision-trees': { input: named(decisionTreeInput, 'RoutingDecisionTreeInput'), output: named(decisionTreeEntrySchema, 'RoutingDecisionTree'), title: 'DecisionTree' },
  chatbots: { input: named(chatbotInput, 'RoutingChatbotInput'), output: named(chatbotSchema, 'RoutingChatbot'), title: 'ChatbotConnector' },
  terminates: { input: named(terminateInput, 'RoutingTerminateInput'), output: named(terminateSchema, 'RoutingTerminate'), title: 'Terminate' },
};
const routingDocument = named(routingDocumentSchema, 'RoutingDocument');
const channelRouting = named(channelRoutingSchema, 'RoutingChannel');

const problems = { 400: { description: '`validation_error`: `errors[].path` points into the draft document (`timeConditions.0.whenOpen.id`) or the body' } };

const version = z.object({
  id: z.string(),
  number: z.number().int().describe('1, 2, ... per organization.'),
  source: z.enum(['apply', 'scheduled', 'restore']),
  restoredFrom: z.number().int().nullable().describe('For a restore: the number of the version restored.'),
  createdBy: z.string().nullable().describe('`user:<id>` of who applied it.'),
  createdAt: isoTime.describe('When it went live.'),
  live: z.boolean(),
});

const schedule = z.object({
  id: z.string(),
  at: isoTime,
  status: z.enum(['pending', 'applied']),
  versionId: z.string().nullable().describe('The version it became, once applied.'),
  createdBy: z.string().nullable(),
  createdAt: isoTime,
});

const waiting = z.object({
  id: z.string(),
  queueId: z.string(),
  queueName: z.string(),
  queuePriority: z.number().int(),
  queueRemoved: z.boolean().describe('The queue is not in the live version any more; name and priority are from the last version that had it.'),
  conversationId: z.string(),
  position: z.number().int().describe('1 is the next to be taken.'),
  enqueuedAt: isoTime,
  averageWaitMinutes: z.number().int().describe('Mean wait of the queue’s last 50 conversations taken in the past 24 hours; 0 without any.'),
  contact: z.object({ id: z.string(), name: z.string().nullable(), phone: z.string().nullable() }),
});

const destination = z.object({ kind: z.string(), id: z.string().optional() });
const dryRunResult = z
  .object({
    against: z.enum(['draft', 'live']),
    version: z.number().int().nullable().describe('The live version evaluated; null for the draft.'),
    scheduleId: z.string().nullable().describe('A scheduled apply due by `at`, evaluated instead of the current live version.'),
    at: isoTime,
    timeZone: z.string(),
    routed: z.boolean().describe('False when the message would not be routed (see `reason`).'),
    reason: z.enum(['new_conversation', 'reopened', 'in_progress', 'no_routing']).describe('`in_progress`: the contact’s conversation is open, and keeps its place.'),
    attachment: z.object({ policy: z.enum(['none', 'from_contact', 'both']), accepted: z.boolean() }).nullable().describe('For a media `type`: whether the channel accepts it.'),
    path: z.array(z.record(z.string(), z.unknown())).describe('Steps: `channel`, `time_condition` (`open`), `decision` (with the `answer` matched), `actions`, `question`.'),
    destination: destination.nullable(),
    waiting: z.object({ treeId: z.string(), decisionId: z.string() }).nullable().describe('The question the chat would wait on.'),
    queue: z.object({ queueId: z.string(), name: z.string(), position: z.number().int(), averageWaitMinutes: z.number().int() }).nullable(),
  })
  .meta({ id: 'RoutingDryRun' });

const timeZone = z.object({ timeZone: z.string().min(1).max(64).describe('An IANA time zone, such as `America/New_York`.') }).strict();

function objectRoutes(s: Services, segment: ObjectSegment): RouteDef[] {
  const { input, output, title } = SCHEMAS[segment];
  const label = OBJECT_KINDS[segment].label;
  const base = `/v1/routing/draft/${segment}`;
  const common = { tag: 'Routing', auth: 'tenant', permission: 'routing:manage' } as const;
  return [
    route({
      ...common,
      method: 'get',
      path: base,
      operationId: `listDraft${title}s`,
      summary: `The draft’s ${label}s`,
      responses: { 200: { description: 'Every one', schema: z.object({ data: z.array(output) }) } },
      handler: async ({ tenant }) => ({ status: 200, body: { data: await s.routing.list(tenant(), segment) } }),
    }),
    route({
      ...common,
      method: 'post',
      path: base,
      operationId: `createDraft${title}`,
      summary: `Add a ${label} to the draft`,
      idempotent: true,
      body: input,
      responses: { 201: { description: 'Added; live once applied', schema: output }, ...problems },
      handler: async ({ body, tenant }) => ({ status: 201, body: await s.routing.create(tenant(), segment, body as never) }),
    }),
    route({
      ...common,
      method: 'get',
      path: `${base}/:id`,
      operationId: `getDraft${title}`,
      summary: `A ${label} of the draft`,
      params: idParams,
      responses: { 200: { description: 'Found', schema: output } },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.routing.get(tenant(), segment, params.id) }),
    }),
    route({
      ...common,
      method: 'put',
      path: `${base}/:id`,
      operationId: `replaceDraft${title}`,
      summary: `Replace a ${label} of the draft`,
      params: idParams,
      body: input,
      responses: { 200: { description: 'Replaced', schema: output }, ...problems },
      handler: async ({ params, body, tenant }) => ({ status: 200, body: await s.routing.replace(tenant(), segment, params.id, body as never) }),
    }),
    route({
      ...common,
      method: 'delete',
      path: `${base}/:id`,
      operationId: `deleteDraft${title}`,
      summary: `Remove a ${label} from the draft`,
      description: 'Refused with 400 `validation_error` while other objects of the draft refer to it (the paths of those references).',
      params: idParams,
      responses: { 204: { description: 'Removed' }, ...problems },
      handler: async ({ params, tenant }) => {
        await s.routing.remove(tenant(), segment, params.id);
        return { status: 204 };
      },
    }),
  ];
}

export function routingRoutes(s: Services): RouteDef[] {
  const common = { tag: 'Routing', auth: 'tenant', permission: 'routing:manage' } as const;
  return [
    route({
      ...common,
      method: 'get',
      path: '/v1/routing/draft',
      operationId: 'getRoutingDraft',
      summary: 'The whole routing draft',
      responses: { 200: { description: 'The draft document', schema: z.object({ document: routingDocument, updatedAt: isoTime.nullable() }) } },
      handler: async ({ tenant }) => ({ status: 200, body: await s.routing.draft(tenant()) }),
    }),
    // Channels before the objects they point at, so that deleting in this order never strands a reference.
    route({
      ...common,
      method: 'get',
      path: '/v1/routing/draft/channels',
      operationId: 'listDraftChannelRoutings',
      summary: 'The draft’s inbound routing per channel',
      responses: { 200: { description: 'Every one', schema: z.object({ data: z.array(channelRouting) }) } },
      handler: async ({ tenant }) => ({ status: 200, body: { data: await s.routing.listChannels(tenant()) } }),
    }),
    route({
      ...common,
      method: 'get',
      path: '/v1/routing/draft/channels/:id',
      operationId: 'getDraftChannelRouting',
      summary: 'A channel’s inbound routing in the draft',
      params: idParams,
      responses: { 200: { description: 'Found', schema: channelRouting } },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.routing.getChannel(tenant(), params.id) }),
    }),
    route({
      ...common,
      method: 'put',
      path: '/v1/routing/draft/channels/:id',
      operationId: 'putDraftChannelRouting',
      summary: 'Set a channel’s inbound routing in the draft',
      description: 'Where new and reopened conversations of the channel go first, and which attachments it accepts.',
      params: idParams,
      body: channelRoutingInput,
      responses: { 200: { description: 'Set', schema: channelRouting }, ...problems },
      handler: async ({ params, body, tenant }) => ({ status: 200, body: await s.routing.putChannel(tenant(), params.id, body) }),
    }),
    route({
      ...common,
      method: 'delete',
      path: '/v1/routing/draft/channels/:id',
      operationId: 'deleteDraftChannelRouting',
      summary: 'Remove a channel’s inbound routing from the draft',
      params: idParams,
      responses: { 204: { description: 'Removed' } },
      handler: async ({ params, tenant }) => {
        await s.routing.removeChannel(tenant(), params.id);
        return { status: 204 };
      },
    }),
    ...(['time-conditions', 'decision-trees', 'chatbots', 'terminates', 'queues', 'time-groups'] as const).flatMap((segment) => objectRoutes(s, segment)),
    route({
      ...common,
      method: 'post',
      path: '/v1/routing/apply',
      operationId: 'applyRouting',
      summary: 'Make the whole draft live, now or at a time',
      description:
        'Without `at` (or with `at` not in the future) the draft becomes the new live version at once: 201 with the version. With `at` in the future, the draft as it is now is scheduled: 202 with the schedule; it becomes a version at `at`. A draft with problems is refused with 400 `validation_error`.',
      idempotent: true,
      body: z.object({ at: z.iso.datetime({ offset: true }).optional().describe('When to go live (ISO 8601).') }).strict(),
      responses: {
        201: { description: 'Live', schema: z.object({ version }) },
        202: { description: 'Scheduled', schema: z.object({ schedule }) },
        ...problems,
      },
      handler: async ({ body, tenant }) => {
        const result = await s.routing.apply(tenant(), body.at ? new Date(body.at) : undefined);
        return result.version ? { status: 201, body: { version: result.version } } : { status: 202, body: { schedule: result.schedule } };
      },
    }),
    route({
      ...common,
      method: 'get',
      path: '/v1/routing/schedules',
      operationId: 'listRoutingSchedules',
      summary: 'Scheduled applies, latest time first (the last 50)',
      responses: { 200: { description: 'Schedules', schema: z.object({ data: z.array(schedule) }) } },
      handler: async ({ tenant }) => ({ status: 200, body: { data: await s.routing.schedules(tenant()) } }),
    }),
    route({
      ...common,
      method: 'delete',
      path: '/v1/routing/schedules/:id',
      operationId: 'cancelRoutingSchedule',
      summary: 'Cancel a pending scheduled apply',
      params: idParams,
      responses: { 204: { description: 'Cancelled' }, 409: { description: '`schedule_applied`: it already took effect' } },
      handler: async ({ params, tenant }) => {
        await s.routing.cancelSchedule(tenant(), params.id);
        return { status: 204 };
      },
    }),
    route({
      ...common,
      method: 'post',
      path: '/v1/routing/dry-run',
      operationId: 'dryRunRouting',
      summary: 'What would happen to a message, from a contact, at an instant',
      description:
        'Evaluates the draft or the live version (at a future `at`, a scheduled apply due by then) with the runtime’s own functions and answers the path taken (the channel’s routing, time conditions with `open`, tree decisions with the answer the text matched, the question it would wait on) and the destination. Nothing is sent or stored.',
      body: dryRunInput,
      responses: { 200: { description: 'The path', schema: dryRunResult }, 404: { description: 'No such channel' } },
      handler: async ({ body, tenant }) => ({ status: 200, body: await s.routingDryRun.run(tenant(), body) }),
    }),
    route({
      ...common,
      method: 'get',
      path: '/v1/routing/live',
      operationId: 'getLiveRouting',
      summary: 'The routing in force',
      description: '`version` is null (and the document empty) until the draft is first applied.',
      responses: { 200: { description: 'The live version', schema: z.object({ version: version.nullable(), timeZone: z.string(), document: routingDocument }) } },
      handler: async ({ tenant }) => ({ status: 200, body: await s.routing.live(tenant()) }),
    }),
    route({
      ...common,
      method: 'get',
      path: '/v1/routing/compare',
      operationId: 'compareRouting',
      summary: 'What applying the draft would change in the live version',
      responses: {
        200: {
          description: 'Objects added, removed and changed',
          schema: z.object({
            live: z.object({ id: z.string(), number: z.number().int() }).nullable(),
            changes: z.array(
              z.object({
                kind: z.enum(['queue', 'time_group', 'time_condition', 'decision_tree', 'chatbot', 'terminate', 'channel_routing']),
                id: z.string().describe('The object’s id; the channel’s for a channel routing.'),
                name: z.string().nullable(),
                change: z.enum(['added', 'removed', 'changed']),
              }),
            ),
          }),
        },
      },
      handler: async ({ tenant }) => ({ status: 200, body: await s.routing.compare(tenant()) }),
    }),
    route({
      ...common,
      method: 'get',
      path: '/v1/routing/versions',
      operationId: 'listRoutingVersions',
      summary: 'Applied versions, newest first',
      query: pageQuery,
      responses: { 200: { description: 'A page of versions', schema: pageOf(version) } },
      handler: async ({ query, tenant }) => ({ status: 200, body: await s.routing.versions(tenant(), query) }),
    }),
    route({
      ...common,
      method: 'get',
      path: '/v1/routing/versions/:id',
      operationId: 'getRoutingVersion',
      summary: 'A version with its document',
      description: '`:id` is the version’s id or its number.',
      params: idParams,
      responses: { 200: { description: 'Found', schema: version.extend({ document: routingDocument }) } },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.routing.version(tenant(), params.id) }),
    }),
    route({
      ...common,
      method: 'post',
      path: '/v1/routing/versions/:id/restore',
      operationId: 'restoreRoutingVersion',
      summary: 'Make an earlier version live again (rollback), as a new version',
      description: '`:id` is the version’s id or its number. The draft is not changed.',
      idempotent: true,
      params: idParams,
      responses: { 201: { description: 'The new live version', schema: version } },
      handler: async ({ params, tenant }) => ({ status: 201, body: await s.routing.restore(tenant(), params.id) }),
    }),
    route({
      ...common,
      method: 'get',
      path: '/v1/settings/time-zone',
      operationId: 'getTimeZone',
      summary: 'The organization’s time zone (business hours are read in it)',
      responses: { 200: { description: 'The zone', schema: timeZone } },
      handler: async ({ tenant }) => ({ status: 200, body: await s.routing.timeZone(tenant()) }),
    }),
    route({
      ...common,
      method: 'put',
      path: '/v1/settings/time-zone',
      operationId: 'putTimeZone',
      summary: 'Set the organization’s time zone',
      description: 'Takes effect at once for the live routing (it is not versioned).',
      body: timeZone,
      responses: { 200: { description: 'Set', schema: timeZone }, ...problems },
      handler: async ({ body, tenant }) => ({ status: 200, body: await s.routing.setTimeZone(tenant(), body.timeZone) }),
    }),
    route({
      method: 'get',
      path: '/v1/queues/waiting',
      operationId: 'listWaitingConversations',
      summary: 'Conversations waiting in the caller’s queues, oldest first',
      description: 'An agent sees the live queues it is an agent of; an admin or an app sees every queue.',
      tag: 'Routing',
      auth: 'tenant',
      permission: 'conversations:read',
      query: pageQuery.extend({ queueId: z.string().max(64).optional().describe('Only this queue.') }).strict(),
      responses: { 200: { description: 'A page of waiting conversations', schema: pageOf(waiting) } },
      handler: async ({ query, tenant }) => ({ status: 200, body: await s.queues.waiting(tenant(), query) }),
    }),
    route({
      method: 'get',
      path: '/v1/queues/:id/missed',
      operationId: 'listMissedChats',
      summary: 'The queue’s missed-chat report: chats a terminate ended against it, newest first',
      description: 'For the queue’s agents and admins. Each conversation counts once, for the last time it was routed.',
      tag: 'Routing',
      auth: 'tenant',
      permission: 'conversations:read',
      params: idParams,
      query: z
        .object({
          limit: z.coerce.number().int().min(1).max(200).default(50),
          before: z.iso.datetime({ offset: true }).optional().describe('Only chats ended before this time: the previous page starts at the last `endedAt`.'),
        })
        .strict(),
      responses: {
        200: {
          description: 'Missed chats',
          schema: z.object({
            data: z.array(
            z.object({
              conversationId: z.string(),
              cause: z.string().nullable().describe('The terminate’s disconnection cause.'),
              answered: z.boolean(),
              endedAt: isoTime,
              contact: z.object({ id: z.string(), name: z.string().nullable(), phone: z.string().nullable() }),
            }),
            ),
          }),
        },
      },
      handler: async ({ params, query, tenant }) => ({
        status: 200,
        body: { data: await s.missedChats.list(tenant(), params.id, { limit: query.limit, before: query.before ? new Date(query.before) : undefined }) },
      }),
    }),
    route({
      method: 'post',
      path: '/v1/queues/:id/take',
      operationId: 'takeFromQueue',
      summary: 'Take the oldest (or the named) waiting conversation of a queue',
      description:
        'Assigns it to the caller and removes it from the queue. For the queue’s agents and admins; an empty queue: 409 `queue_empty`; a named conversation that does not wait there: 404.',
      tag: 'Routing',
      auth: 'tenant',
      permission: 'conversations:write',
      params: idParams,
      body: z.object({ conversationId: z.string().max(64).optional() }).strict(),
      responses: { 200: { description: 'Assigned to the caller', schema: conversation }, 409: { description: '`queue_empty`' } },
      handler: async ({ params, body, tenant }) => ({ status: 200, body: await s.queues.take(tenant(), params.id, body.conversationId) }),
    }),
  ];
}
