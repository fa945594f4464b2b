import { z } from 'zod';
import { idParams, pageOf, pageQuery, route } from '../http/route';
import type { Services } from '../services';
import { isoTime } from './schemas';

const entryInput = z.object({ title: z.string().trim().min(1).max(200), text: z.string().trim().min(1).max(20_000) }).strict();

const knowledgeEntry = z.object({ id: z.string(), title: z.string(), text: z.string(), createdAt: isoTime, updatedAt: isoTime });

const mode = z.enum(['auto', 'draft', 'off']).describe('`auto` sends replies, `draft` stores suggestions for agents and sends nothing, `off` does nothing.');
const replyLength = z.enum(['short', 'medium', 'long']);

const settings = z.object({
  channelId: z.string(),
  enabled: z.boolean(),
  mode,
  model: z.string(),
  instructions: z.string(),
  handoffMessage: z.string().nullable(),
  language: z.string().nullable(),
  replyLength,
  quietTimeMs: z.number().int(),
  knowledgeTopK: z.number().int(),
  knowledgeBase: z.array(knowledgeEntry),
  updatedAt: isoTime,
});

const settingsInput = z
  .object({
    enabled: z.boolean(),
    model: z.string().trim().min(1).max(200),
    instructions: z.string().trim().min(1).max(20_000),
    knowledgeBase: z.array(entryInput).max(500).optional().describe('Replaces every entry of the channel when given.'),
    mode: mode.optional().describe('Defaults to `auto` when enabled, `off` when not; must agree with `enabled`.'),
    handoffMessage: z.string().trim().min(1).max(1000).nullable().optional().describe('Sent once when the assistant hands the conversation to people.'),
    language: z.string().trim().min(2).max(50).nullable().optional().describe('Language of replies; unset: the contact’s.'),
    replyLength: replyLength.optional().describe('Default `short` (WhatsApp).'),
    quietTimeMs: z.number().int().min(0).max(60_000).optional().describe('Wait after the contact’s last message before replying, so a burst gets one reply (default 3000).'),
    knowledgeTopK: z.number().int().min(0).max(20).optional().describe('Knowledge-base entries given to the model, most relevant first (default 3).'),
  })
  .strict();

const entryParams = z.object({ id: z.string(), entryId: z.string() }).strict();
const suggestionParams = z.object({ id: z.string(), suggestionId: z.string() }).strict();

const conversationAssistant = z.object({
  conversationId: z.string(),
  state: z.enum(['active', 'paused', 'handed_over']),
  reason: z.string().nullable().describe('Why it is paused or handed over: `agent_message`, `assigned`, `paused_by_user`, the model’s reason, `outside_customer_service_window`, `contact_opted_out`, `token_budget_exhausted`, `generation_failed: ...`.'),
  tokensUsed: z.number().int(),
  updatedAt: isoTime.nullable(),
});

const suggestion = z.object({
  id: z.string(),
  conversationId: z.string(),
  text: z.string(),
  reason: z.string().nullable(),
  state: z.enum(['open', 'stale', 'sent', 'discarded']).describe('`stale`: the contact wrote again after it was made.'),
  messageId: z.string().nullable(),
  createdAt: isoTime,
  updatedAt: isoTime,
});

const usage = z.object({
  month: z.string().describe('First day of the month (UTC) counted.'),
  tokensUsed: z.number().int(),
  monthlyTokenBudget: z.number().int().nullable(),
  conversations: z.array(z.object({ conversationId: z.string(), tokensUsed: z.number().int() })).describe('The 50 conversations that used most, all time.'),
});

export function assistantRoutes(s: Services) {
  return [
    route({
      method: 'put',
      path: '/v1/channels/:id/assistant',
      operationId: 'putChannelAssistant',
      summary: 'Configure the channel’s AI assistant',
      description:
        'Enabling it needs an AI provider on the platform (`OPENAI_BASE_URL`, `OPENAI_API_KEY`); without one: 400 `assistant_not_configured`. See docs/assistant.md.',
      tag: 'Assistant',
      auth: 'tenant',
      permission: 'channels:manage',
      params: idParams,
      body: settingsInput,
      responses: { 200: { description: 'The configuration', schema: settings }, 400: { description: '`assistant_not_configured`' } },
      handler: async ({ params, body, tenant }) => ({ status: 200, body: await s.assistantSettings.put(tenant(), params.id, body) }),
    }),
    route({
      method: 'get',
      path: '/v1/channels/:id/assistant',
      operationId: 'getChannelAssistant',
      summary: 'The channel’s AI assistant configuration',
      tag: 'Assistant',
      auth: 'tenant',
      permission: 'channels:manage',
      params: idParams,
      responses: { 200: { description: 'The configuration', schema: settings } },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.assistantSettings.get(tenant(), params.id) }),
    }),
    route({
      method: 'get',
      path: '/v1/channels/:id/assistant/knowledge-base',
      operationId: 'listKnowledgeBase',
      summary: 'The assistant’s knowledge-base entries',
      tag: 'Assistant',
      auth: 'tenant',
      permission: 'channels:manage',
      params: idParams,
      responses: { 200: { description: 'Every entry', schema: z.object({ data: z.array(knowledgeEntry) }) } },
      handler: async ({ params, tenant }) => ({ status: 200, body: { data: await s.assistantSettings.listEntries(tenant(), params.id) } }),
    }),
    route({
      method: 'post',
      path: '/v1/channels/:id/assistant/knowledge-base',
      operationId: 'addKnowledgeBaseEntry',
      summary: 'Add a knowledge-base entry',
      tag: 'Assistant',
      auth: 'tenant',
      permission: 'channels:manage',
      idempotent: true,
      params: idParams,
      body: entryInput,
      responses: { 201: { description: 'Added', schema: knowledgeEntry } },
      handler: async ({ params, body, tenant }) => ({ status: 201, body: await s.assistantSettings.addEntry(tenant(), params.id, body) }),
    }),
    route({
      method: 'patch',
      path: '/v1/channels/:id/assistant/knowledge-base/:entryId',
      operationId: 'updateKnowledgeBaseEntry',
      summary: 'Edit a knowledge-base entry',
      tag: 'Assistant',
      auth: 'tenant',
      permission: 'channels:manage',
      params: entryParams,
      body: entryInput.partial().strict(),
      responses: { 200: { description: 'Updated', schema: knowledgeEntry } },
      handler: async ({ params, body, tenant }) => ({ status: 200, body: await s.assistantSettings.updateEntry(tenant(), params.id, params.entryId, body) }),
    }),
    route({
      method: 'delete',
      path: '/v1/channels/:id/assistant/knowledge-base/:entryId',
      operationId: 'removeKnowledgeBaseEntry',
      summary: 'Remove a knowledge-base entry',
      tag: 'Assistant',
      auth: 'tenant',
      permission: 'channels:manage',
      params: entryParams,
      responses: { 204: { description: 'Removed' } },
      handler: async ({ params, tenant }) => {
        await s.assistantSettings.removeEntry(tenant(), params.id, params.entryId);
        return { status: 204 };
      },
    }),
    route({
      method: 'get',
      path: '/v1/assistant/usage',
      operationId: 'getAssistantUsage',
      summary: 'Tokens the assistant used this month, per organization and per conversation, and the budget',
      tag: 'Assistant',
      auth: 'tenant',
      permission: 'channels:manage',
      responses: { 200: { description: 'Usage', schema: usage } },
      handler: async ({ tenant }) => ({ status: 200, body: await s.assistantSettings.usage(tenant()) }),
    }),
    route({
      method: 'put',
      path: '/v1/assistant/budget',
      operationId: 'putAssistantBudget',
      summary: 'Set the organization’s monthly token budget',
      description: 'Past the budget, the assistant hands conversations to people (reason `token_budget_exhausted`) instead of answering. `null` removes the limit.',
      tag: 'Assistant',
      auth: 'tenant',
      permission: 'channels:manage',
      body: z.object({ monthlyTokenBudget: z.number().int().min(0).max(1e12).nullable() }).strict(),
      responses: { 200: { description: 'Usage with the new budget', schema: usage } },
      handler: async ({ body, tenant }) => ({ status: 200, body: await s.assistantSettings.setBudget(tenant(), body.monthlyTokenBudget) }),
    }),
    route({
      method: 'get',
      path: '/v1/conversations/:id/assistant',
      operationId: 'getConversationAssistant',
      summary: 'The assistant’s state in a conversation, and why',
      tag: 'Assistant',
      auth: 'tenant',
      permission: 'conversations:read',
      params: idParams,
      responses: { 200: { description: 'State', schema: conversationAssistant } },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.assistantControl.get(tenant(), params.id) }),
    }),
    route({
      method: 'post',
      path: '/v1/conversations/:id/assistant/pause',
      operationId: 'pauseConversationAssistant',
      summary: 'Stop the assistant in this conversation until resumed (a turn waiting or generating sends nothing)',
      tag: 'Assistant',
      auth: 'tenant',
      permission: 'conversations:write',
      params: idParams,
      responses: { 200: { description: 'Paused', schema: conversationAssistant } },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.assistantControl.setState(tenant(), params.id, 'paused') }),
    }),
    route({
      method: 'post',
      path: '/v1/conversations/:id/assistant/resume',
      operationId: 'resumeConversationAssistant',
      summary: 'Let the assistant answer this conversation again (from the contact’s next message)',
      tag: 'Assistant',
      auth: 'tenant',
      permission: 'conversations:write',
      params: idParams,
      responses: { 200: { description: 'Active', schema: conversationAssistant } },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.assistantControl.setState(tenant(), params.id, 'active') }),
    }),
    route({
      method: 'get',
      path: '/v1/conversations/:id/assistant/suggestions',
      operationId: 'listAssistantSuggestions',
      summary: 'Replies the assistant suggested (draft mode), newest first',
      tag: 'Assistant',
      auth: 'tenant',
      permission: 'conversations:read',
      params: idParams,
      query: pageQuery.extend({ state: z.enum(['open', 'stale', 'sent', 'discarded']).optional() }).strict(),
      responses: { 200: { description: 'A page of suggestions', schema: pageOf(suggestion) } },
      handler: async ({ params, query, tenant }) => ({ status: 200, body: await s.assistantControl.suggestions(tenant(), params.id, query) }),
    }),
    route({
      method: 'post',
      path: '/v1/conversations/:id/assistant/suggestions/:suggestionId/discard',
      operationId: 'discardAssistantSuggestion',
      summary: 'Discard a suggestion',
      tag: 'Assistant',
      auth: 'tenant',
      permission: 'conversations:write',
      params: suggestionParams,
      responses: { 200: { description: 'Discarded', schema: suggestion }, 409: { description: '`suggestion_closed` (already sent)' } },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.assistantControl.discardSuggestion(tenant(), params.id, params.suggestionId) }),
    }),
    route({
      method: 'post',
      path: '/v1/conversations/:id/assistant/suggestions/:suggestionId/send',
      operationId: 'sendAssistantSuggestion',
      summary: 'Send a suggestion, optionally edited, as the caller',
      description: 'Goes through the same send path as any message (window and consent rules apply); a stale or discarded one may still be sent. An already sent one: 409 `suggestion_closed`.',
      tag: 'Assistant',
      auth: 'tenant',
      permission: 'messages:write',
      idempotent: true,
      params: suggestionParams,
      body: z.object({ text: z.string().trim().min(1).max(4096).optional().describe('The edited text; the suggestion’s own when left out.') }).strict(),
      responses: { 200: { description: 'Sent', schema: suggestion }, 409: { description: '`suggestion_closed`' } },
      handler: async ({ params, body, tenant }) => ({ status: 200, body: await s.assistantControl.sendSuggestion(tenant(), params.id, params.suggestionId, body.text) }),
    }),
  ];
}
