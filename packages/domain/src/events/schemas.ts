import { z } from 'zod';
import { typedMessageContent } from '../message-content';

/*
 * The event catalog as zod schemas: what each event's `data` holds. The OpenAPI document's
 * `webhooks` section is generated from these, and the views they describe are the API's own
 * (message, conversation, broadcast), shared as components.
 */

const isoTime = z.string().describe('ISO 8601 UTC time');
const messageError = z.object({ code: z.union([z.number(), z.string()]), title: z.string(), details: z.string().optional() });

const messageFields = z.object({
  id: z.string(),
  conversationId: z.string(),
  channelId: z.string().nullable(),
  touchpoint: z.literal('whatsapp'),
  direction: z.enum(['inbound', 'outbound']),
  role: z.enum(['contact', 'agent', 'bot']),
  status: z.string().describe('queued, sent, delivered, read or failed for what the business sends; received for what the contact sends.'),
  wamid: z.string().nullable(),
  error: messageError.nullable(),
  ai: z.boolean().describe('True for a message the AI assistant wrote (its role is bot); false for people, partners and the platform.'),
  authorId: z.string().nullable(),
  editedAt: isoTime.nullable().describe('When the contact last edited the message; its earlier contents are in `history`.'),
  deletedAt: isoTime.nullable().describe('When the contact deleted the message for everyone; its content is then empty.'),
  history: z
    .array(typedMessageContent.and(z.object({ replacedAt: isoTime, by: z.string().describe('wamid of the edit') })))
    .describe('Earlier contents of an edited message, oldest first.'),
  createdAt: isoTime,
  statusUpdatedAt: isoTime,
});

/** A message as GET /v1/conversations/:id/messages shows it, its `content` described per `type`. */
export const messageViewSchema = messageFields.and(typedMessageContent).meta({ id: 'Message' });

/** A conversation as GET /v1/conversations/:id shows it. */
export const conversationViewSchema = z
  .object({
    id: z.string(),
    status: z.enum(['active', 'resolved', 'closed']),
    channelId: z.string().nullable(),
    contact: z.object({ id: z.string(), name: z.string().nullable(), phone: z.string().nullable(), email: z.string().nullable() }),
    assignee: z.object({ id: z.string(), name: z.string(), email: z.string() }).nullable(),
    requestId: z.string().nullable(),
    unreadCount: z.number().int(),
    lastMessage: z.object({ preview: z.string().nullable(), at: isoTime }).nullable(),
    lastInboundAt: isoTime.nullable(),
    windowExpiresAt: isoTime.nullable().describe('End of the 24-hour customer-service window; null when the contact never wrote.'),
    canSend: z
      .object({ freeForm: z.boolean(), templates: z.boolean(), marketingTemplates: z.boolean() })
      .describe('What may be sent right now: free-form replies (inside the window), templates, marketing templates.'),
    assistant: z
      .object({ state: z.enum(['active', 'paused', 'handed_over']), reason: z.string().nullable() })
      .optional()
      .describe('The AI assistant in this conversation, once it has acted or been paused: `paused` (a person took over), `handed_over` (with the reason).'),
    routing: z
      .object({
        destination: z.object({ kind: z.string(), id: z.string().optional() }).nullable().describe('Where inbound routing sent it; null when routing failed (see `error`).'),
        path: z.array(z.record(z.string(), z.unknown())).describe('The steps taken: `channel`, `time_condition` (with `open`), `decision`, `timeout`, `chatbot`.'),
        reason: z.string().describe('`created` or `reopened`.'),
        version: z.number().int().nullable().describe('The live routing version it was routed by.'),
        at: isoTime,
        cause: z.string().optional().describe('Terminate: the disconnection cause.'),
        answered: z.boolean().optional().describe('Terminate: the answered flag.'),
        missedChatQueueId: z.string().optional().describe('Terminate: the queue it counts against in missed-chat reports.'),
        autoResponse: z
          .object({ sent: z.boolean(), messageId: z.string().optional(), code: z.string().optional(), detail: z.string().optional() })
          .optional()
          .describe('The queue’s or terminate’s auto-response: queued (`messageId`) or refused by the send path (`code`).'),
        error: z.string().optional().describe('Why routing gave up, after retries.'),
      })
      .optional()
      .describe('Inbound routing of this conversation, once it was routed (docs/routing.md).'),
    createdAt: isoTime,
    updatedAt: isoTime,
  })
  .meta({ id: 'Conversation' });

export const broadcastStatisticsSchema = z.object({
  total: z.number().int(),
  pending: z.number().int(),
  sent: z.number().int(),
  delivered: z.number().int(),
  read: z.number().int(),
  failed: z.number().int(),
  skipped: z.number().int(),
  unknown: z.number().int(),
});

/** A broadcast as GET /v1/broadcasts/:id shows it, without its page of recipient statuses. */
export const broadcastViewSchema = z
  .object({
    id: z.string(),
    status: z.enum(['draft', 'running', 'completed', 'cancelled', 'failed']),
    channelId: z.string(),
    template: z.object({ name: z.string(), language: z.string() }),
    statistics: broadcastStatisticsSchema,
    createdAt: isoTime,
    finishedAt: isoTime.nullable(),
    failureReason: z
      .string()
      .nullable()
      .describe('Why a `failed` broadcast could not be sent (its channel was disconnected, its business token cannot be decrypted, or its template is no longer synced); null otherwise.'),
  })
  .meta({ id: 'Broadcast' });

const contactRef = z.object({ id: z.string(), name: z.string().nullable(), phone: z.string().nullable() }).describe('The contact of the message’s conversation.');

const messageCreated = z.object({ message: messageViewSchema, contact: contactRef });

const messageChanges = z.object({
  status: z.string().optional(),
  error: messageError.nullable().optional(),
  wamid: z.string().nullable().optional(),
  type: z.string().optional(),
  content: z.record(z.string(), z.unknown()).optional(),
  editedAt: isoTime.nullable().optional(),
  deletedAt: isoTime.nullable().optional(),
});

const messageUpdated = z.object({
  message: messageViewSchema,
  contact: contactRef,
  change: z.enum(['status', 'edited', 'deleted']).describe('What happened: a new delivery status (or a failure), an edit, a deletion for everyone.'),
  changes: messageChanges.describe('The fields that changed, with their new values.'),
  previous: messageChanges.describe('Their values before (a deleted message’s content is not repeated).'),
});

const conversationChanges = z.object({
  status: z.enum(['active', 'resolved', 'closed']).optional(),
  assigneeId: z.string().nullable().optional(),
  requestId: z.string().nullable().optional(),
  unreadCount: z.number().int().optional(),
  assistant: z.object({ state: z.enum(['active', 'paused', 'handed_over']), reason: z.string().nullable() }).nullable().optional(),
  queueId: z.string().nullable().optional().describe('The routing queue it waits in; null once a person took it or it waits nowhere.'),
});

const conversationCreated = z.object({ conversation: conversationViewSchema });
const conversationUpdated = z.object({
  conversation: conversationViewSchema,
  changes: conversationChanges.describe('The fields that changed, with their new values.'),
  previous: conversationChanges.describe('Their values before.'),
});

const broadcastEvent = z.object({ broadcast: broadcastViewSchema });

const webhookDisabled = z.object({
  subscription: z.object({ id: z.string(), url: z.string(), events: z.array(z.string()), status: z.literal('disabled') }),
  reason: z.string().describe('Why it was disabled: the endpoint answered 410, or failed continuously for 5 days.'),
  disabledAt: isoTime,
});

/** One schema per contract event name, with what the event means. */
export const EVENT_CATALOG = {
  'message.create.contact.chat.contact': { schema: messageCreated, summary: 'A contact wrote (or WhatsApp reported a notice about them) in a conversation.' },
  'message.create.contact.chat.agent': {
    schema: messageCreated,
    summary: 'An agent’s message was accepted for sending, or one written in the WhatsApp Business app was recorded.',
  },
  'message.create.contact.chat.bot': { schema: messageCreated, summary: 'A bot’s (a partner app’s, or an automatic reply’s) message was accepted for sending.' },
  'message.update': { schema: messageUpdated, summary: 'A message changed: its delivery status moved on (sent, delivered, read, failed), or the contact edited or deleted it.' },
  'conversation.create': { schema: conversationCreated, summary: 'A conversation started.' },
  'conversation.update': { schema: conversationUpdated, summary: 'A conversation’s status, assignee, linked request, unread count or AI assistant state changed.' },
  'broadcast.update': { schema: broadcastEvent, summary: 'A broadcast started, or ended (completed, cancelled or failed).' },
  'broadcast.completed': { schema: broadcastEvent, summary: 'A broadcast sent to every recipient; its statistics are final as far as sending goes (statuses still arrive).' },
  'webhook.disabled': { schema: webhookDisabled, summary: 'One of the organization’s webhook subscriptions was disabled.' },
} as const;

export type CatalogEventType = keyof typeof EVENT_CATALOG;

/**
 * What a subscription receives for an event of `type`: the envelope around its `data`. `id` is
 * also the `webhook-id` header, the same on every attempt and replay of the event.
 */
export function eventEnvelopeSchema<T extends CatalogEventType>(type: T) {
  return z.object({
    id: z.string().describe('The event’s id, also sent as `webhook-id`: the same on every attempt and replay, so a receiver can drop duplicates.'),
    type: z.literal(type),
    createdAt: isoTime.describe('When the change happened (committed with it).'),
    organizationId: z.string(),
    sequence: z
      .number()
      .int()
      .describe('Increases with each event of the organization, in the order the changes committed: order a conversation’s events by it, since deliveries may arrive out of order.'),
    data: EVENT_CATALOG[type].schema as (typeof EVENT_CATALOG)[T]['schema'],
  });
}
