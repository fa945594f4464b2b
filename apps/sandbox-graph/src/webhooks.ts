/**
 * Pure builders for the webhook bodies Meta posts to Parley (`field: "messages"`), shared by the
 * sandbox and by tests elsewhere that need fixtures: one source for the shapes.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { errorTitle, META_ERRORS } from './errors';
import { conversationIdFor, defaultWabaIdFor, digitsOf, displayDigitsFor, newNumericId, newWamid, unixSeconds } from './ids';

export type StatusName = 'sent' | 'delivered' | 'read' | 'failed';
export type PricingCategory = 'marketing' | 'utility' | 'authentication' | 'service';

export interface WebhookMetadata {
  phoneNumberId: string;
  /** Defaults to a WABA id derived from the phone number id. */
  wabaId?: string;
  /** Digits only, as in webhook metadata; defaults to the sandbox's number for the id. */
  displayPhoneNumber?: string;
}

export interface MetaStatusError {
  code: number;
  title: string;
  message: string;
  error_data: { details: string };
  href?: string;
}

export interface MetaStatus {
  id: string;
  status: StatusName;
  timestamp: string;
  recipient_id: string;
  biz_opaque_callback_data?: string;
  conversation?: { id: string; expiration_timestamp?: string; origin: { type: PricingCategory } };
  pricing?: { billable: boolean; pricing_model: 'PMP'; category: PricingCategory; type: 'regular' | 'free_customer_service' };
  errors?: MetaStatusError[];
}

export interface MetaContact {
  profile: { name: string };
  wa_id: string;
}

/** An inbound message object; the type-specific member (`text`, `image`, ...) rides along. */
export interface MetaMessage {
  from: string;
  id: string;
  timestamp: string;
  type: string;
  context?: { from?: string; id: string; forwarded?: boolean; frequently_forwarded?: boolean };
  [member: string]: unknown;
}

export interface MetaWebhookValue {
  messaging_product: 'whatsapp';
  metadata: { display_phone_number: string; phone_number_id: string };
  contacts?: MetaContact[];
  messages?: MetaMessage[];
  statuses?: MetaStatus[];
}

export interface MetaWebhookPayload {
  object: 'whatsapp_business_account';
  entry: { id: string; changes: { value: MetaWebhookValue; field: 'messages' }[] }[];
}

export function wrapWebhook(meta: WebhookMetadata, value: Omit<MetaWebhookValue, 'messaging_product' | 'metadata'>): MetaWebhookPayload {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: meta.wabaId ?? defaultWabaIdFor(meta.phoneNumberId),
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: {
                display_phone_number: meta.displayPhoneNumber ?? displayDigitsFor(meta.phoneNumberId),
                phone_number_id: meta.phoneNumberId,
              },
              ...value,
            },
            field: 'messages',
          },
        ],
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Statuses

export interface StatusErrorInput {
  code: number;
  title?: string;
  message?: string;
  details?: string;
}

export interface StatusInput {
  wamid: string;
  status: StatusName;
  /** The contact's number; any format, digits are kept. */
  recipientId: string;
  /** Unix seconds (number or string) or a Date; defaults to now. */
  timestamp?: number | string | Date;
  bizOpaqueCallbackData?: string;
  /** Pricing category; `service` (free-form reply) unless the send was a template. */
  category?: PricingCategory;
  /** Leave out `conversation` and `pricing` even on sent/delivered. */
  omitPricing?: boolean;
  /** For `failed`; defaults to 131026 when none are given. */
  errors?: StatusErrorInput[];
}

function toUnixString(t: number | string | Date | undefined): string {
  if (t === undefined) return unixSeconds();
  if (t instanceof Date) return unixSeconds(t.getTime());
  return String(t);
}

export function buildStatusError(e: StatusErrorInput): MetaStatusError {
  const title = e.title ?? errorTitle(e.code);
  return {
    code: e.code,
    title,
    message: e.message ?? title,
    error_data: { details: e.details ?? META_ERRORS[e.code]?.details ?? title },
    href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
  };
}

/**
 * One entry of `statuses`. Like Meta: `conversation` and `pricing` on sent and delivered (the
 * conversation's `expiration_timestamp` only on sent), neither on read, `errors` on failed.
 */
export function buildStatus(input: StatusInput, phoneNumberId = ''): MetaStatus {
  const timestamp = toUnixString(input.timestamp);
  const recipient = digitsOf(input.recipientId);
  const status: MetaStatus = { id: input.wamid, status: input.status, timestamp, recipient_id: recipient };
  if (input.bizOpaqueCallbackData !== undefined) status.biz_opaque_callback_data = input.bizOpaqueCallbackData;
  if ((input.status === 'sent' || input.status === 'delivered') && !input.omitPricing) {
    const category = input.category ?? 'service';
    const seconds = Number(timestamp);
    const conversation: NonNullable<MetaStatus['conversation']> = {
      id: conversationIdFor(phoneNumberId, recipient, category, Math.floor(seconds / 86_400)),
      origin: { type: category },
    };
    if (input.status === 'sent') conversation.expiration_timestamp = String(seconds + 86_400);
    status.conversation = conversation;
    status.pricing =
      category === 'service'
        ? { billable: false, pricing_model: 'PMP', category, type: 'free_customer_service' }
        : { billable: true, pricing_model: 'PMP', category, type: 'regular' };
  }
  if (input.status === 'failed') status.errors = (input.errors?.length ? input.errors : [{ code: 131026 }]).map(buildStatusError);
  return status;
}

/** A complete status webhook; pass several statuses to batch them the way Meta sometimes does. */
export function buildStatusWebhook(input: WebhookMetadata & (StatusInput | { statuses: StatusInput[] })): MetaWebhookPayload {
  const list = 'statuses' in input ? input.statuses : [input];
  return wrapWebhook(input, { statuses: list.map((s) => buildStatus(s, input.phoneNumberId)) });
}

// ---------------------------------------------------------------------------------------------
// Inbound messages

export interface InboundMediaInput {
  /** Defaults to a new numeric id (the sandbox registers the bytes under it). */
  mediaId?: string;
  mimeType?: string;
  sha256?: string;
  caption?: string;
}

export interface InboundBase {
  /** The contact's number (the webhook's `from`, digits only; a leading + is dropped). */
  from: string;
  /** Profile name shown in `contacts`; defaults to "Sandbox Contact". */
  name?: string;
  wamid?: string;
  timestamp?: number | string | Date;
  /** A reply or a quick-reply press: `{id}` of the message it refers to. */
  context?: { id: string; from?: string; forwarded?: boolean; frequently_forwarded?: boolean };
}

export type InboundContent =
  | { type: 'text'; text: string }
  | ({ type: 'image' } & InboundMediaInput)
  | ({ type: 'video' } & InboundMediaInput)
  | ({ type: 'audio'; voice?: boolean } & Omit<InboundMediaInput, 'caption'>)
  | ({ type: 'sticker'; animated?: boolean } & Omit<InboundMediaInput, 'caption'>)
  | ({ type: 'document'; filename?: string } & InboundMediaInput)
  | { type: 'location'; location: { latitude: number; longitude: number; name?: string; address?: string; url?: string } }
  | { type: 'contacts'; contacts: Record<string, unknown>[] }
  | { type: 'interactive'; buttonReply: { id: string; title: string } }
  | { type: 'interactive'; listReply: { id: string; title: string; description?: string } }
  | { type: 'button'; button: { text: string; payload?: string } }
  | { type: 'reaction'; reaction: { messageId: string; emoji: string } };

export type InboundMessageInput = InboundBase & InboundContent;

export type InboundWebhookInput = WebhookMetadata & InboundMessageInput;

const DEFAULT_MIME: Record<string, string> = {
  image: 'image/jpeg',
  video: 'video/mp4',
  audio: 'audio/ogg; codecs=opus',
  sticker: 'image/webp',
  document: 'application/pdf',
};

export function defaultMimeType(type: string): string {
  return DEFAULT_MIME[type] ?? 'application/octet-stream';
}

function mediaMember(input: InboundMediaInput & { type: string }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (input.caption !== undefined) out.caption = input.caption;
  out.mime_type = input.mimeType ?? defaultMimeType(input.type);
  out.sha256 = input.sha256 ?? createHash('sha256').update(input.mediaId ?? '').digest('base64');
  out.id = input.mediaId ?? newNumericId();
  return out;
}

/** The `messages[]` entry for one inbound message. */
export function buildInboundMessage(input: InboundMessageInput): MetaMessage {
  const message: MetaMessage = {
    from: digitsOf(input.from),
    id: input.wamid ?? newWamid(digitsOf(input.from)),
    timestamp: toUnixString(input.timestamp),
    type: input.type,
  };
  if (input.context) message.context = { ...input.context };
  switch (input.type) {
    case 'text':
      message.text = { body: input.text };
      break;
    case 'image':
    case 'video':
      message[input.type] = mediaMember(input);
      break;
    case 'audio':
      message.audio = { ...mediaMember(input), voice: input.voice ?? true };
      break;
    case 'sticker':
      message.sticker = { ...mediaMember(input), animated: input.animated ?? false };
      break;
    case 'document': {
      const { caption, ...rest } = mediaMember(input);
      message.document = { ...(caption !== undefined ? { caption } : {}), filename: input.filename ?? 'document.pdf', ...rest };
      break;
    }
    case 'location':
      message.location = { ...input.location };
      break;
    case 'contacts':
      message.contacts = input.contacts;
      break;
    case 'interactive':
      message.interactive =
        'buttonReply' in input
          ? { type: 'button_reply', button_reply: { ...input.buttonReply } }
          : { type: 'list_reply', list_reply: { ...input.listReply } };
      break;
    case 'button':
      message.button = { payload: input.button.payload ?? input.button.text, text: input.button.text };
      break;
    case 'reaction':
      message.reaction = { message_id: input.reaction.messageId, emoji: input.reaction.emoji };
      break;
    default: {
      const never: never = input;
      throw new Error(`unknown inbound message type ${(never as { type: string }).type}`);
    }
  }
  return message;
}

/** A complete inbound-message webhook: the contact's profile plus one message. */
export function buildInboundMessageWebhook(input: InboundWebhookInput): MetaWebhookPayload {
  const message = buildInboundMessage(input);
  return wrapWebhook(input, {
    contacts: [{ profile: { name: input.name ?? 'Sandbox Contact' }, wa_id: message.from }],
    messages: [message],
  });
}

// ---------------------------------------------------------------------------------------------
// Signatures

/** `X-Hub-Signature-256` for a raw body: `sha256=` + hex HMAC-SHA256 keyed with the app secret. */
export function signWebhookBody(body: string | Buffer, appSecret: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
}

export function verifyWebhookSignature(body: string | Buffer, header: string | undefined, appSecret: string): boolean {
  if (!header) return false;
  const expected = Buffer.from(signWebhookBody(body, appSecret));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
