import { GraphError, invalidParameter } from './errors';
import { placeholders, type MessageTemplate } from './templates';

export const MESSAGE_TYPES = ['text', 'template', 'image', 'audio', 'document', 'video', 'sticker', 'location', 'contacts', 'interactive', 'reaction'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

const MEDIA_TYPES = new Set(['image', 'audio', 'document', 'video', 'sticker']);
const INTERACTIVE_TYPES = new Set(['button', 'list', 'cta_url', 'product', 'product_list', 'flow', 'location_request_message', 'address_message', 'catalog_message']);

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function required(path: string): GraphError {
  return invalidParameter(`The parameter ${path} is required.`);
}

function invalid(details: string): GraphError {
  return invalidParameter(details, 131009);
}

/**
 * Checks what Meta checks synchronously before accepting a send; deeper problems (an unknown
 * number, a closed window) surface later as `failed` statuses, as they do in production.
 * Returns the normalised recipient digits.
 */
export function validateSend(body: unknown): { waId: string; type: MessageType } {
  if (!isObject(body)) throw invalidParameter('Invalid parameter');
  if (body.messaging_product === undefined) throw required('messaging_product');
  if (body.messaging_product !== 'whatsapp') throw invalidParameter('Param messaging_product must be whatsapp');
  if (body.recipient_type !== undefined && body.recipient_type !== 'individual') throw invalid('Parameter recipient_type must be individual.');
  if (body.to === undefined || body.to === '') throw required('to');
  if (typeof body.to !== 'string' && typeof body.to !== 'number') throw invalid("Invalid parameter 'to'.");
  const to = String(body.to).trim();
  const waId = to.replace(/^\+/, '').replace(/[\s\-().]/g, '');
  if (!/^\d{7,15}$/.test(waId)) throw invalid(`Invalid WhatsApp ID '${to}': the recipient must be a phone number.`);
  const type = body.type === undefined ? 'text' : body.type;
  if (typeof type !== 'string' || !(MESSAGE_TYPES as readonly string[]).includes(type)) {
    throw invalidParameter(`Param type must be one of {${MESSAGE_TYPES.map((t) => t.toUpperCase()).join(', ')}} - got "${String(type)}".`);
  }
  if (body.biz_opaque_callback_data !== undefined) {
    if (typeof body.biz_opaque_callback_data !== 'string' || body.biz_opaque_callback_data.length > 512) {
      throw invalid('Param biz_opaque_callback_data must be a string of at most 512 characters.');
    }
  }
  if (body.context !== undefined && (!isObject(body.context) || typeof body.context.message_id !== 'string')) throw required("context['message_id']");
  const member = body[type];
  if (!isObject(member) && !(type === 'contacts' && Array.isArray(member))) throw required(type);
  validateMember(type as MessageType, member as Json);
  return { waId, type: type as MessageType };
}

function validateMember(type: MessageType, m: Json | unknown[]): void {
  if (type === 'contacts') {
    if (!Array.isArray(m) || m.length === 0) throw required('contacts');
    return;
  }
  const o = m as Json;
  if (type === 'text') {
    if (typeof o.body !== 'string' || o.body.length === 0) throw required("text['body']");
    if (o.body.length > 4096) throw invalidParameter("Param text['body'] must be at most 4096 characters long.");
    return;
  }
  if (type === 'template') {
    if (typeof o.name !== 'string' || !o.name) throw required("template['name']");
    if (!isObject(o.language) || typeof o.language.code !== 'string' || !o.language.code) throw required("template['language']['code']");
    if (o.components !== undefined && !Array.isArray(o.components)) throw invalidParameter("Param template['components'] must be an array.");
    return;
  }
  if (MEDIA_TYPES.has(type)) {
    if (typeof o.id !== 'string' && typeof o.link !== 'string') throw invalidParameter(`Param ${type} must contain either id or link.`);
    if (typeof o.link === 'string' && !/^https?:\/\//i.test(o.link)) throw invalid(`Param ${type}['link'] is not a valid URI.`);
    if (typeof o.caption === 'string' && o.caption.length > 1024) throw invalidParameter(`Param ${type}['caption'] must be at most 1024 characters long.`);
    return;
  }
  if (type === 'location') {
    if (typeof o.latitude !== 'number' && typeof o.latitude !== 'string') throw required("location['latitude']");
    if (typeof o.longitude !== 'number' && typeof o.longitude !== 'string') throw required("location['longitude']");
    return;
  }
  if (type === 'reaction') {
    if (typeof o.message_id !== 'string') throw required("reaction['message_id']");
    if (typeof o.emoji !== 'string') throw required("reaction['emoji']");
    return;
  }
  if (type === 'interactive') {
    if (typeof o.type !== 'string' || !INTERACTIVE_TYPES.has(o.type)) throw invalid(`Param interactive['type'] is invalid.`);
    if (!isObject(o.action)) throw required("interactive['action']");
    if (o.type === 'button' || o.type === 'list') {
      if (!isObject(o.body) || typeof o.body.text !== 'string' || !o.body.text) throw required("interactive['body']['text']");
      if (o.body.text.length > 1024) throw invalidParameter("Param interactive['body']['text'] must be at most 1024 characters long.");
    }
    if (o.type === 'button') {
      const buttons = o.action.buttons;
      if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > 3) throw invalid("Param interactive['action']['buttons'] must have 1 to 3 buttons.");
      for (const b of buttons) {
        if (!isObject(b) || !isObject(b.reply) || typeof b.reply.id !== 'string' || typeof b.reply.title !== 'string') {
          throw required("interactive['action']['buttons'][]['reply']");
        }
        if (b.reply.title.length > 20) throw invalid("Param interactive['action']['buttons'][]['reply']['title'] must be at most 20 characters long.");
      }
    }
    if (o.type === 'list') {
      if (typeof o.action.button !== 'string' || !o.action.button) throw required("interactive['action']['button']");
      if (!Array.isArray(o.action.sections) || o.action.sections.length < 1) throw required("interactive['action']['sections']");
    }
  }
}

/**
 * The checks Meta runs against the approved template (opt-in in the sandbox: Parley validates
 * before sending, and many tests seed templates only in Parley's own database).
 */
export function validateTemplateSend(template: Json, templates: MessageTemplate[]): MessageTemplate {
  const name = template.name as string;
  const code = (template.language as Json).code as string;
  const found = templates.find((t) => t.name === name && t.language === code);
  if (!found) {
    throw new GraphError({ code: 132001, details: `template name (${name}) does not exist in ${code}` });
  }
  const given = Array.isArray(template.components) ? (template.components as Json[]) : [];
  const part = (type: string) => given.find((c) => isObject(c) && typeof c.type === 'string' && c.type.toLowerCase() === type);
  const body = found.components.find((c) => c.type === 'BODY');
  const expected = placeholders(body?.text).length;
  const bodyParams = part('body')?.parameters;
  const count = Array.isArray(bodyParams) ? bodyParams.length : 0;
  if (count !== expected) {
    throw new GraphError({ code: 132000, details: `body: number of localizable_params (${count}) does not match the expected number of params (${expected})` });
  }
  const header = found.components.find((c) => c.type === 'HEADER');
  const format = typeof header?.format === 'string' ? header.format.toLowerCase() : undefined;
  if (format && format !== 'text') {
    const params = part('header')?.parameters;
    const first = Array.isArray(params) ? (params[0] as Json | undefined) : undefined;
    if (!first || first.type !== format) {
      throw new GraphError({ code: 132012, details: `header: Format mismatch, expected ${format.toUpperCase()}, received ${String(first?.type ?? 'UNKNOWN').toUpperCase()}` });
    }
  }
  return found;
}
