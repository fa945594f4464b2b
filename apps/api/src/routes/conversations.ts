import { conversationViewSchema, messageViewSchema } from '@parley/domain';
import { z } from 'zod';
import { idParams, pageOf, pageQuery, route } from '../http/route';
import type { Services } from '../services';

/** The views are the event catalog's, so the API and partners' events describe one shape each. */
export const conversation = conversationViewSchema;

/** A message, with its `content` described per `type` (packages/domain/src/message-content.ts). */
export const message = messageViewSchema;

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
