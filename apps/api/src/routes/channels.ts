import { z } from 'zod';
import { idParams, pageOf, pageQuery, route } from '../http/route';
import { listChannelNotices, MAX_UPLOAD_BYTES, UPLOAD_TYPES, uploadTypeOf } from '@parley/domain';
import { readUpload } from '../http/body';
import type { Services } from '../services';
import { isoTime } from './schemas';

const channelNotice = z.object({
  id: z.string(),
  channelId: z.string(),
  kind: z.enum(['error', 'account_update', 'template_status', 'unhandled']),
  code: z.number().int().nullable().describe('Meta’s error code, for errors.'),
  title: z.string().nullable(),
  detail: z.string().nullable(),
  data: z.record(z.string(), z.unknown()).describe('What Meta sent.'),
  occurredAt: isoTime,
});

const channel = z.object({
  id: z.string(),
  type: z.literal('whatsapp'),
  label: z.string(),
  wabaId: z.string(),
  phoneNumberId: z.string(),
  phoneNumber: z.string().describe('As Meta displays it.'),
  verifiedName: z.string(),
  qualityRating: z.string().nullable(),
  messagesPerSecond: z.number().int(),
  status: z.literal('active'),
  createdAt: isoTime,
});

const uploadedMedia = z.object({
  id: z.string().describe('Meta’s media id: send it as `media.id`.'),
  kind: z.enum(['image', 'audio', 'video', 'document']).describe('The message type to send it as.'),
  mimeType: z.string(),
  size: z.number().int().describe('Bytes.'),
  filename: z.string().nullable(),
});

const template = z.object({
  id: z.string(),
  channelId: z.string(),
  metaTemplateId: z.string(),
  name: z.string(),
  language: z.string(),
  status: z.string(),
  category: z.string(),
  parameterFormat: z.enum(['POSITIONAL', 'NAMED']),
  components: z.array(z.unknown()),
  syncedAt: isoTime,
});

const metaId = z.string().trim().regex(/^\d{1,32}$/, 'Meta ids are digits.');

export function channelRoutes(s: Services) {
  return [
    route({
      method: 'post',
      path: '/v1/channels/whatsapp',
      operationId: 'connectWhatsAppChannel',
      summary: 'Complete embedded signup and connect a WhatsApp number',
      description:
        'Exchanges `code`, reads the number, subscribes the app to the WABA, registers the number, syncs templates and stores the business token encrypted. A Graph failure answers 502 `graph_error` with Meta’s code and message and leaves nothing behind; a number already connected answers 409 `channel_conflict`.',
      tag: 'Channels',
      auth: 'tenant',
      permission: 'channels:manage',
      idempotent: true,
      body: z
        .object({
          code: z.string().min(1).max(2048),
          wabaId: metaId,
          phoneNumberId: metaId,
          label: z.string().trim().min(1).max(200),
          pin: z.string().regex(/^\d{6}$/, 'A six-digit pin.').optional(),
        })
        .strict(),
      responses: { 201: { description: 'Connected', schema: channel }, 409: { description: '`channel_conflict`' }, 502: { description: '`graph_error`' } },
      handler: async ({ body, tenant }) => ({ status: 201, body: await s.channels.connect(tenant(), body) }),
    }),
    route({
      method: 'get',
      path: '/v1/channels',
      operationId: 'listChannels',
      summary: 'List connected channels',
      tag: 'Channels',
      auth: 'tenant',
      permission: 'channels:read',
      query: pageQuery,
      responses: { 200: { description: 'A page of channels', schema: pageOf(channel) } },
      handler: async ({ query, tenant }) => ({ status: 200, body: await s.channels.list(tenant(), query) }),
    }),
    route({
      method: 'get',
      path: '/v1/channels/:id',
      operationId: 'getChannel',
      summary: 'Read a channel',
      tag: 'Channels',
      auth: 'tenant',
      permission: 'channels:read',
      params: idParams,
      responses: { 200: { description: 'The channel', schema: channel } },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.channels.get(tenant(), params.id) }),
    }),
    route({
      method: 'get',
      path: '/v1/channels/:id/notices',
      operationId: 'listChannelNotices',
      summary: 'What Meta said about the channel besides messages',
      description:
        'Meta’s value-level errors (`kind: error`, with its code, such as 130429 for the throughput limit), account updates, template status changes, and fields Parley keeps but does not act on (`unhandled`), newest first.',
      tag: 'Channels',
      auth: 'tenant',
      permission: 'channels:read',
      params: idParams,
      query: pageQuery.extend({ kind: z.enum(['error', 'account_update', 'template_status', 'unhandled']).optional() }),
      responses: { 200: { description: 'A page of notices', schema: pageOf(channelNotice) } },
      handler: async ({ params, query, tenant }) => ({ status: 200, body: await listChannelNotices(tenant(), params.id, query) }),
    }),
    route({
      method: 'patch',
      path: '/v1/channels/:id',
      operationId: 'updateChannel',
      summary: 'Rename a channel or change its send rate',
      tag: 'Channels',
      auth: 'tenant',
      permission: 'channels:manage',
      params: idParams,
      body: z
        .object({
          label: z.string().trim().min(1).max(200).optional(),
          messagesPerSecond: z.number().int().min(1).max(1000).optional().describe('Sends per second across all broadcasts (default 80).'),
        })
        .strict(),
      responses: { 200: { description: 'Updated', schema: channel } },
      handler: async ({ params, body, tenant }) => ({ status: 200, body: await s.channels.update(tenant(), params.id, body) }),
    }),
    route({
      method: 'delete',
      path: '/v1/channels/:id',
      operationId: 'deleteChannel',
      summary: 'Disconnect a channel (history is kept; the business token is dropped)',
      tag: 'Channels',
      auth: 'tenant',
      permission: 'channels:manage',
      params: idParams,
      responses: { 204: { description: 'Disconnected' } },
      handler: async ({ params, tenant }) => {
        await s.channels.remove(tenant(), params.id);
        return { status: 204 };
      },
    }),
    route({
      method: 'post',
      path: '/v1/channels/:id/media',
      operationId: 'uploadChannelMedia',
      summary: 'Upload a file to send from this number',
      description:
        'The body is the file itself, with its type as `Content-Type`: JPEG or PNG images (5 MB), AAC, AMR, MP3, MP4 or OGG audio and MP4 or 3GPP video (16 MB), and plain text, PDF and Office documents (16 MB here; larger ones go by link). The file goes to Meta for this number and the answer is its media id: send it as `media.id` of a message of the `kind` answered within 30 days. Any other type answers 415 `unsupported_media_type` with the supported ones, a larger file 413 `payload_too_large`; nothing is uploaded then.',
      tag: 'Channels',
      auth: 'tenant',
      permission: 'messages:write',
      params: idParams,
      query: z.object({ filename: z.string().trim().min(1).max(240).optional().describe('The file’s name, shown to the contact for documents.') }).strict(),
      upload: { maxBytes: MAX_UPLOAD_BYTES, contentTypes: Object.keys(UPLOAD_TYPES) },
      responses: {
        201: { description: 'Uploaded', schema: uploadedMedia },
        413: { description: '`payload_too_large`' },
        415: { description: '`unsupported_media_type`' },
        502: { description: '`graph_error`' },
      },
      handler: async ({ params, query, tenant, ctx }) => {
        // The type is judged before a byte is read: a wrong file is refused without reading it.
        const rule = UPLOAD_TYPES[uploadTypeOf(ctx.get('content-type'))];
        const bytes = rule ? await readUpload(ctx, rule.maxBytes) : Buffer.alloc(0);
        return { status: 201, body: await s.channels.uploadMedia(tenant(), params.id, { bytes, contentType: ctx.get('content-type') || undefined, filename: query.filename }) };
      },
    }),
    route({
      method: 'get',
      path: '/v1/templates',
      operationId: 'listTemplates',
      summary: 'List synced message templates',
      tag: 'Templates',
      auth: 'tenant',
      permission: 'templates:read',
      query: pageQuery.extend({ channelId: z.string().optional(), name: z.string().max(512).optional(), status: z.string().max(32).optional() }).strict(),
      responses: { 200: { description: 'A page of templates', schema: pageOf(template) } },
      handler: async ({ query, tenant }) => ({ status: 200, body: await s.channels.listTemplates(tenant(), query) }),
    }),
    route({
      method: 'post',
      path: '/v1/templates/sync',
      operationId: 'syncTemplates',
      summary: 'Re-read every template page from Meta',
      tag: 'Templates',
      auth: 'tenant',
      permission: 'templates:read',
      body: z.object({ channelId: z.string().optional() }).strict(),
      responses: { 200: { description: 'Synced', schema: z.object({ channels: z.number().int(), templates: z.number().int() }) } },
      handler: async ({ body, tenant }) => ({ status: 200, body: await s.channels.syncTemplates(tenant(), body.channelId) }),
    }),
    route({
      method: 'post',
      path: '/v1/templates/validate',
      operationId: 'validateTemplateSend',
      summary: 'Check a template send without sending it',
      description:
        'Runs the check every template send goes through: header format and parameters, body parameter count, named or positional parameters, button index, sub_type and URL suffix, and {{ placeholders }} filled per recipient then from `params`. Problems answer 400 `template_params_mismatch` with a path each; an unknown name or language 400 `template_not_found`. Give `components` in Meta’s send format, or only `params` as shorthand.',
      tag: 'Templates',
      auth: 'tenant',
      permission: 'templates:read',
      body: z
        .object({
          channelId: z.string().max(64).optional(),
          template: z
            .object({
              name: z.string().min(1).max(512),
              language: z.string().min(2).max(15),
              components: z.array(z.record(z.string(), z.unknown())).max(20).optional(),
            })
            .strict(),
          params: z.record(z.string().max(128), z.string().max(1024)).optional(),
          recipients: z.array(z.object({ params: z.record(z.string().max(128), z.string().max(1024)).optional() }).strict()).max(1000).optional(),
        })
        .strict(),
      responses: {
        200: {
          description: 'Valid; the components Meta would receive, per recipient',
          schema: z.object({
            valid: z.literal(true),
            template: z.object({ name: z.string(), language: z.string(), category: z.string(), status: z.string() }),
            components: z.array(z.array(z.unknown())),
          }),
        },
      },
      handler: async ({ body, tenant }) => ({ status: 200, body: await s.messaging.validateTemplate(tenant(), body) }),
    }),
  ];
}
