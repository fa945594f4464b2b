import { ForbiddenError } from '@parley/core';
import type { OutboundContent } from '@parley/domain';
import { z } from 'zod';
import { idParams, pageQuery, route } from '../http/route';
import type { Services } from '../services';
import { conversation, message } from './conversations';
import { isoTime } from './schemas';

/** Meta's limits, enforced before anything is stored: https://developers.facebook.com/docs/whatsapp/cloud-api/messages */
const TEXT_MAX = 4096;

const httpsUrl = z.url({ protocol: /^https$/, message: 'Must be an https URL.' }).max(2048);
const mediaRef = { id: z.string().min(1).max(128).optional(), link: httpsUrl.optional() };
const caption = z.string().min(1).max(1024).optional();
const oneSource = <T extends { id?: string | undefined; link?: string | undefined }>(m: T) => (m.id ? 1 : 0) + (m.link ? 1 : 0) === 1;
const oneSourceMessage = { message: 'Give exactly one of id (an uploaded media id) or link.' };
const media = {
  image: z.object({ ...mediaRef, caption }).strict().refine(oneSource, oneSourceMessage),
  video: z.object({ ...mediaRef, caption }).strict().refine(oneSource, oneSourceMessage),
  document: z.object({ ...mediaRef, caption, filename: z.string().min(1).max(240).optional() }).strict().refine(oneSource, oneSourceMessage),
  audio: z.object(mediaRef).strict().refine(oneSource, oneSourceMessage),
};

const interactiveBody = z.object({ text: z.string().min(1).max(1024) }).strict();
const interactiveFooter = z.object({ text: z.string().min(1).max(60) }).strict();

const replyButtons = z
  .object({
    type: z.literal('button'),
    header: z
      .union([
        z.object({ type: z.literal('text'), text: z.string().min(1).max(60) }).strict(),
        z.object({ type: z.literal('image'), image: media.image }).strict(),
        z.object({ type: z.literal('video'), video: media.video }).strict(),
        z.object({ type: z.literal('document'), document: media.document }).strict(),
      ])
      .optional(),
    body: interactiveBody,
    footer: interactiveFooter.optional(),
    action: z
      .object({
        buttons: z
          .array(
            z
              .object({
                type: z.literal('reply'),
                reply: z.object({ id: z.string().min(1).max(256), title: z.string().min(1).max(20) }).strict(),
              })
              .strict(),
          )
          .min(1)
          .max(3, 'At most 3 reply buttons.'),
      })
      .strict(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const ids = v.action.buttons.map((b) => b.reply.id);
    const titles = v.action.buttons.map((b) => b.reply.title);
    if (new Set(ids).size !== ids.length) ctx.addIssue({ code: 'custom', path: ['action', 'buttons'], message: 'Button ids must be unique.' });
    if (new Set(titles).size !== titles.length) ctx.addIssue({ code: 'custom', path: ['action', 'buttons'], message: 'Button titles must be unique.' });
  });

const listMessage = z
  .object({
    type: z.literal('list'),
    header: z.object({ type: z.literal('text'), text: z.string().min(1).max(60) }).strict().optional(),
    body: interactiveBody,
    footer: interactiveFooter.optional(),
    action: z
      .object({
        button: z.string().min(1).max(20),
        sections: z
          .array(
            z
              .object({
                title: z.string().min(1).max(24).optional(),
                rows: z
                  .array(
                    z
                      .object({ id: z.string().min(1).max(200), title: z.string().min(1).max(24), description: z.string().min(1).max(72).optional() })
                      .strict(),
                  )
                  .min(1),
              })
              .strict(),
          )
          .min(1)
          .max(10),
      })
      .strict(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const rows = v.action.sections.flatMap((s) => s.rows);
    if (rows.length > 10) ctx.addIssue({ code: 'custom', path: ['action', 'sections'], message: 'At most 10 rows across all sections.' });
    if (new Set(rows.map((r) => r.id)).size !== rows.length) ctx.addIssue({ code: 'custom', path: ['action', 'sections'], message: 'Row ids must be unique.' });
    if (v.action.sections.length > 1 && v.action.sections.some((s) => !s.title)) {
      ctx.addIssue({ code: 'custom', path: ['action', 'sections'], message: 'With several sections each needs a title.' });
    }
  });

const common = {
  replyTo: z.string().max(64).optional().describe('Id of a message in this conversation to reply to.'),
  role: z.enum(['agent', 'bot']).optional().describe('Defaults to agent for users and bot for partner tokens.'),
};
const templateRef = z
  .object({
    name: z.string().min(1).max(512),
    language: z.string().min(2).max(15),
    components: z.array(z.record(z.string(), z.unknown())).max(20).optional().describe('Meta’s send components; parameter texts may hold {{ placeholders }}.'),
  })
  .strict();
const params = z.record(z.string().max(128), z.string().max(1024)).describe('Template shorthand, or defaults for {{ placeholders }}.');

export const outboundMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string().min(1).max(TEXT_MAX), previewUrl: z.boolean().optional(), ...common }).strict(),
  z.object({ type: z.literal('template'), template: templateRef, params: params.optional(), ...common }).strict(),
  z.object({ type: z.literal('image'), image: media.image, ...common }).strict(),
  z.object({ type: z.literal('video'), video: media.video, ...common }).strict(),
  z.object({ type: z.literal('document'), document: media.document, ...common }).strict(),
  z.object({ type: z.literal('audio'), audio: media.audio, ...common }).strict(),
  z.object({ type: z.literal('interactive'), interactive: z.discriminatedUnion('type', [replyButtons, listMessage]), ...common }).strict(),
  z
    .object({
      type: z.literal('location'),
      location: z
        .object({
          latitude: z.number().min(-90).max(90),
          longitude: z.number().min(-180).max(180),
          name: z.string().min(1).max(1000).optional(),
          address: z.string().min(1).max(1000).optional(),
        })
        .strict(),
      ...common,
    })
    .strict(),
]);

type Outbound = z.output<typeof outboundMessage>;

export function toContent(m: Outbound): OutboundContent {
  switch (m.type) {
    case 'text':
      return { type: 'text', text: m.text, previewUrl: m.previewUrl };
    case 'template':
      return { type: 'template', template: m.template, params: m.params };
    case 'interactive':
      return { type: 'interactive', interactive: m.interactive as Record<string, unknown> };
    case 'location':
      return { type: 'location', location: m.location };
    case 'image':
      return { type: 'image', media: m.image };
    case 'video':
      return { type: 'video', media: m.video };
    case 'document':
      return { type: 'document', media: m.document };
    case 'audio':
      return { type: 'audio', media: m.audio };
  }
}

const profile = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    telephone: z.string().trim().min(3).max(32).optional(),
    email: z.string().trim().max(320).pipe(z.email()).optional(),
  })
  .strict();

const chatItem = z
  .object({
    type: z.literal('chat'),
    role: z.enum(['agent', 'bot']).default('agent'),
    touchpoint: z.literal('whatsapp').default('whatsapp'),
    text: z.string().min(1).max(TEXT_MAX).optional(),
    meta: z
      .object({ template: z.string().min(1).max(512), language: z.string().min(2).max(15).optional() })
      .catchall(z.string().max(1024))
      .optional(),
  })
  .strict()
  .refine((m) => !!m.text || !!m.meta, { message: 'Give text, or meta.template (text beside it names the template).' });

const upsertBody = z
  .object({
    type: z.literal('contact'),
    contact: z.object({ profile }).strict(),
    channelId: z.string().max(64).optional(),
    requestId: z.string().trim().min(1).max(200).optional(),
    messages: z
      .array(z.union([z.object({ type: z.literal('field'), text: z.string().min(2).max(1100) }).strict(), chatItem]))
      .max(20)
      .optional(),
  })
  .strict();

const upserted = conversation.extend({
  contact: conversation.shape.contact.extend({ fields: z.record(z.string(), z.string()), optedOut: z.boolean() }),
  messages: z.array(message),
});

const optOutSettings = z.object({
  keywords: z.array(z.string()),
  optInKeywords: z.array(z.string()),
  confirmationText: z.string().nullable(),
  optInConfirmationText: z.string().nullable(),
});

const consentLedger = z.object({
  contact: z.object({ id: z.string(), phone: z.string().nullable(), optedOut: z.boolean(), marketingOptedOut: z.boolean() }),
  data: z.array(z.object({ id: z.string(), change: z.enum(['opt_out', 'opt_in', 'marketing_opt_out', 'marketing_opt_in']).describe('marketing_* changes concern marketing templates only: Meta’s 131050, or the person’s choice in WhatsApp (cause `whatsapp_preferences`).'), cause: z.string(), detail: z.string().nullable(), at: isoTime })),
  nextCursor: z.string().nullable(),
});

export function messagingRoutes(s: Services) {
  return [
    route({
      method: 'post',
      path: '/v1/conversations',
      operationId: 'upsertConversation',
      summary: 'Find or create the conversation of a contact (by telephone, else email), set fields and send',
      description:
        '201 when the contact or conversation was created, 200 when both existed. Field items (`.licenseplate XX-99-WZ`) set contact fields; chat items send text or a template (`meta: {template, language?, ...params}`, where `template` is the synced template’s name, its `id` or its `metaTemplateId`; `text` beside `meta.template`, as in the bot-store integration guide, names the template and is not sent). Everything happens in one transaction: a refused send (window, opt-out, template mismatch) changes nothing.',
      tag: 'Conversations',
      auth: 'tenant',
      permission: 'conversations:write',
      idempotent: true,
      body: upsertBody,
      responses: { 200: { description: 'Existed', schema: upserted }, 201: { description: 'Created', schema: upserted } },
      handler: async ({ body, tenant }) => {
        const hasChat = body.messages?.some((m) => m.type === 'chat');
        const scope = tenant();
        if (hasChat && !scope.principal.scopes.includes('messages:write')) {
          throw new ForbiddenError('Sending chat messages needs messages:write.');
        }
        const result = await s.messaging.upsertConversation(scope, body);
        return { status: result.created ? 201 : 200, body: result.body };
      },
    }),
    route({
      method: 'post',
      path: '/v1/conversations/:id/messages',
      operationId: 'sendMessage',
      summary: 'Send a message in a conversation',
      description:
        'Answers 202 with the queued message; it then moves to sent, delivered, read or failed. Free-form types need the 24-hour customer-service window (422 `outside_customer_service_window`); templates to an opted-out contact get 422 `contact_opted_out`.',
      tag: 'Conversations',
      auth: 'tenant',
      permission: 'messages:write',
      idempotent: true,
      params: idParams,
      body: outboundMessage,
      responses: { 202: { description: 'Queued', schema: message } },
      handler: async ({ params, body, tenant }) => ({
        status: 202,
        body: await s.messaging.send(tenant(), params.id, { content: toContent(body), role: body.role, replyTo: body.replyTo }),
      }),
    }),
    route({
      method: 'post',
      path: '/v1/messages',
      operationId: 'sendToPhoneNumber',
      summary: 'Send to a phone number, starting or continuing its conversation',
      tag: 'Conversations',
      auth: 'tenant',
      permission: 'messages:write',
      idempotent: true,
      body: z
        .object({
          phoneNumber: z.string().trim().min(3).max(32),
          channelId: z.string().max(64).optional(),
          requestId: z.string().trim().min(1).max(200).optional(),
          role: z.enum(['agent', 'bot']).optional(),
          text: z.string().min(1).max(TEXT_MAX).optional(),
          template: templateRef.optional(),
          params: params.optional(),
        })
        .strict()
        .refine((b) => !!b.text !== !!b.template, { message: 'Give text or template, not both.' }),
      responses: { 202: { description: 'Queued', schema: z.object({ conversationId: z.string(), message }) } },
      handler: async ({ body, tenant }) => ({
        status: 202,
        body: await s.messaging.sendToPhone(tenant(), {
          phoneNumber: body.phoneNumber,
          channelId: body.channelId,
          requestId: body.requestId,
          role: body.role,
          content: body.template ? { type: 'template', template: body.template, params: body.params } : { type: 'text', text: body.text! },
        }),
      }),
    }),
    route({
      method: 'put',
      path: '/v1/conversations/:id/assign',
      operationId: 'assignConversation',
      summary: 'Assign to a user (null unassigns)',
      tag: 'Conversations',
      auth: 'tenant',
      permission: 'conversations:write',
      params: idParams,
      body: z.object({ userId: z.string().max(64).nullable() }).strict(),
      responses: { 200: { description: 'Updated', schema: conversation } },
      handler: async ({ params, body, tenant }) => ({ status: 200, body: await s.messaging.update(tenant(), params.id, { kind: 'assign', userId: body.userId }) }),
    }),
    route({
      method: 'put',
      path: '/v1/conversations/:id/link-request',
      operationId: 'linkRequest',
      summary: 'Link a service request (null unlinks)',
      tag: 'Conversations',
      auth: 'tenant',
      permission: 'conversations:write',
      params: idParams,
      body: z.object({ requestId: z.string().trim().min(1).max(200).nullable() }).strict(),
      responses: { 200: { description: 'Updated', schema: conversation } },
      handler: async ({ params, body, tenant }) => ({ status: 200, body: await s.messaging.update(tenant(), params.id, { kind: 'link', requestId: body.requestId }) }),
    }),
    route({
      method: 'put',
      path: '/v1/conversations/:id/read',
      operationId: 'markRead',
      summary: 'Mark the conversation read',
      tag: 'Conversations',
      auth: 'tenant',
      permission: 'conversations:write',
      params: idParams,
      responses: { 200: { description: 'Updated', schema: conversation } },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.messaging.update(tenant(), params.id, { kind: 'read' }) }),
    }),
    route({
      method: 'patch',
      path: '/v1/conversations/:id',
      operationId: 'changeConversationStatus',
      summary: 'Resolve, reactivate or close',
      description: 'A closed conversation stays closed (409 `conversation_closed`); the contact’s next message starts a new one. A resolved one reopens when the contact writes.',
      tag: 'Conversations',
      auth: 'tenant',
      permission: 'conversations:write',
      params: idParams,
      body: z.object({ status: z.enum(['active', 'resolved', 'closed']) }).strict(),
      responses: { 200: { description: 'Updated', schema: conversation } },
      handler: async ({ params, body, tenant }) => ({ status: 200, body: await s.messaging.update(tenant(), params.id, { kind: 'status', status: body.status }) }),
    }),
    route({
      method: 'get',
      path: '/v1/settings/opt-out',
      operationId: 'getOptOutSettings',
      summary: 'Opt-out and opt-in keywords and confirmation replies',
      tag: 'Consent',
      auth: 'tenant',
      permission: 'conversations:read',
      responses: { 200: { description: 'Settings', schema: optOutSettings } },
      handler: async ({ tenant }) => ({ status: 200, body: await s.organizationSettings.optOut(tenant()) }),
    }),
    route({
      method: 'put',
      path: '/v1/settings/opt-out',
      operationId: 'updateOptOutSettings',
      summary: 'Change keywords or confirmation replies (null disables a reply)',
      tag: 'Consent',
      auth: 'tenant',
      permission: 'users:manage',
      body: z
        .object({
          keywords: z.array(z.string().trim().min(1).max(40)).min(1).max(50).optional(),
          optInKeywords: z.array(z.string().trim().min(1).max(40)).max(50).optional(),
          confirmationText: z.string().min(1).max(TEXT_MAX).nullable().optional(),
          optInConfirmationText: z.string().min(1).max(TEXT_MAX).nullable().optional(),
        })
        .strict(),
      responses: { 200: { description: 'Settings', schema: optOutSettings } },
      handler: async ({ body, tenant }) => ({ status: 200, body: await s.organizationSettings.updateOptOut(tenant(), body) }),
    }),
    route({
      method: 'get',
      path: '/v1/contacts/:id/consent',
      operationId: 'getConsentLedger',
      summary: 'A contact’s consent state and every change, with time and cause',
      tag: 'Consent',
      auth: 'tenant',
      permission: 'conversations:read',
      params: idParams,
      query: pageQuery,
      responses: { 200: { description: 'The ledger', schema: consentLedger } },
      handler: async ({ params, query, tenant }) => ({ status: 200, body: await s.organizationSettings.consentLedger(tenant(), params.id, query) }),
    }),
    route({
      method: 'put',
      path: '/v1/contacts/:id/consent',
      operationId: 'setConsent',
      summary: 'Record consent given or withdrawn outside WhatsApp',
      description:
        'Opting out is open to every caller with `conversations:write`. Opting back in reverses the contact’s own STOP, so it needs a tenant admin (anyone else: 403 `forbidden`) and a non-empty `note` saying how consent was given (400 without one); the contact can also opt in by writing an opt-in keyword.',
      tag: 'Consent',
      auth: 'tenant',
      permission: 'conversations:write',
      params: idParams,
      body: z.object({ optedOut: z.boolean(), note: z.string().max(500).optional() }).strict(),
      responses: { 200: { description: 'The ledger', schema: consentLedger } },
      handler: async ({ params, body, tenant }) => ({ status: 200, body: await s.organizationSettings.setConsent(tenant(), params.id, body.optedOut, body.note) }),
    }),
  ];
}
