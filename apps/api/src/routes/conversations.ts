import { typedMessageContent } from '@parley/domain';
import { z } from 'zod';
import { idParams, pageOf, pageQuery, route } from '../http/route';
import type { Services } from '../services';
import { isoTime } from './schemas';

export const conversation = z.object({
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
  createdAt: isoTime,
  updatedAt: isoTime,
});

const messageFields = z.object({
  id: z.string(),
  conversationId: z.string(),
  channelId: z.string().nullable(),
  touchpoint: z.literal('whatsapp'),
  direction: z.enum(['inbound', 'outbound']),
  role: z.enum(['contact', 'agent', 'bot']),
  status: z.string(),
  wamid: z.string().nullable(),
  error: z.object({ code: z.number(), title: z.string(), details: z.string().optional() }).nullable(),
  ai: z.boolean(),
  authorId: z.string().nullable(),
  editedAt: isoTime.nullable().describe('When the contact last edited the message; its earlier contents are in `history`.'),
  deletedAt: isoTime.nullable().describe('When the contact deleted the message for everyone; its content is then empty.'),
  history: z
    .array(typedMessageContent.and(z.object({ replacedAt: isoTime, by: z.string().describe('wamid of the edit') })))
    .describe('Earlier contents of an edited message, oldest first.'),
  createdAt: isoTime,
  statusUpdatedAt: isoTime,
});

/** A message, with its `content` described per `type` (packages/domain/src/message-content.ts). */
export const message = messageFields.and(typedMessageContent);

const messageParams = z.object({ id: z.string(), messageId: z.string() }).strict();

export function conversationRoutes(s: Services) {
  return [
    route({
      method: 'get',
      path: '/v1/conversations',
      operationId: 'listConversations',
      summary: 'The inbox',
      tag: 'Conversations',
      auth: 'tenant',
      permission: 'conversations:read',
      query: pageQuery
        .extend({
          status: z.enum(['active', 'resolved', 'closed']).optional(),
          assignee: z.string().max(64).optional().describe('A user id, or `none` for unassigned.'),
        })
        .strict(),
      responses: { 200: { description: 'A page of conversations', schema: pageOf(conversation) } },
      handler: async ({ query, tenant }) => ({ status: 200, body: await s.conversations.list(tenant(), query) }),
    }),
    route({
      method: 'get',
      path: '/v1/conversations/:id',
      operationId: 'getConversation',
      summary: 'A conversation with its contact and window state',
      tag: 'Conversations',
      auth: 'tenant',
      permission: 'conversations:read',
      params: idParams,
      responses: { 200: { description: 'The conversation', schema: conversation } },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.conversations.get(tenant(), params.id) }),
    }),
    route({
      method: 'get',
      path: '/v1/conversations/:id/messages',
      operationId: 'listMessages',
      summary: 'Message history, newest first',
      tag: 'Conversations',
      auth: 'tenant',
      permission: 'conversations:read',
      params: idParams,
      query: pageQuery,
      responses: { 200: { description: 'A page of messages', schema: pageOf(message) } },
      handler: async ({ params, query, tenant }) => ({ status: 200, body: await s.conversations.messages(tenant(), params.id, query) }),
    }),
    route({
      method: 'get',
      path: '/v1/conversations/:id/messages/:messageId/media',
      operationId: 'getMessageMedia',
      summary: 'Download a message’s media (fetched from Meta with the channel’s token)',
      tag: 'Conversations',
      auth: 'tenant',
      permission: 'conversations:read',
      params: messageParams,
      responses: { 200: { description: 'The media bytes', contentType: 'application/octet-stream' } },
      handler: async ({ params, tenant }) => {
        const media = await s.conversations.media(tenant(), params.id, params.messageId);
        return { status: 200, body: media.body, headers: { 'Content-Type': media.contentType } };
      },
    }),
  ];
}
