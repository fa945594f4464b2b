/*
 * Request payloads keep Meta's own snake_case field names, so Meta's documentation applies to them
 * verbatim and nothing is lost in a translation layer. Results are camelCase Parley types.
 */

// ---------------------------------------------------------------------------------------------
// Phone numbers

export interface PhoneNumber {
  id: string;
  /** As Meta formats it, e.g. `+1 555-010-0123`; not E.164. */
  displayPhoneNumber: string;
  verifiedName: string;
  /** `GREEN` | `YELLOW` | `RED` | `UNKNOWN` */
  qualityRating?: string;
  /** `VERIFIED` | `NOT_VERIFIED` | ... */
  codeVerificationStatus?: string;
  /** `CLOUD_API` | `ON_PREMISE` | `NOT_APPLICABLE` */
  platformType?: string;
  /** Meta's throughput tier, e.g. `STANDARD` or `HIGH`. */
  throughputLevel?: string;
}

// ---------------------------------------------------------------------------------------------
// Templates, as Meta returns them from GET /{waba-id}/message_templates

/**
 * Known values are listed for editor help; `string & {}` keeps the type open because Meta keeps
 * adding kinds (CAROUSEL, LIMITED_TIME_OFFER, ...) and a sync must not drop them.
 */
type Open<T extends string> = T | (string & {});

export interface TemplateButton {
  type: Open<'QUICK_REPLY' | 'URL' | 'PHONE_NUMBER' | 'COPY_CODE' | 'OTP' | 'FLOW' | 'CATALOG' | 'MPM'>;
  text?: string;
  url?: string;
  phone_number?: string;
  /** For URL buttons with a `{{1}}` suffix: an example URL (or suffix). */
  example?: string[] | string;
  [key: string]: unknown;
}

export interface TemplateComponentExample {
  header_text?: string[];
  header_handle?: string[];
  body_text?: string[][];
  header_text_named_params?: Array<{ param_name: string; example: string }>;
  body_text_named_params?: Array<{ param_name: string; example: string }>;
  [key: string]: unknown;
}

export interface TemplateComponent {
  type: Open<'HEADER' | 'BODY' | 'FOOTER' | 'BUTTONS'>;
  /** HEADER only. */
  format?: Open<'TEXT' | 'IMAGE' | 'VIDEO' | 'DOCUMENT' | 'LOCATION'>;
  text?: string;
  example?: TemplateComponentExample;
  buttons?: TemplateButton[];
  [key: string]: unknown;
}

export interface Template {
  id: string;
  name: string;
  language: string;
  status: Open<'APPROVED' | 'PENDING' | 'REJECTED' | 'PAUSED' | 'DISABLED' | 'IN_APPEAL' | 'PENDING_DELETION'>;
  category: Open<'MARKETING' | 'UTILITY' | 'AUTHENTICATION'>;
  components: TemplateComponent[];
  /** `POSITIONAL` ({{1}}) or `NAMED` ({{first_name}}). */
  parameter_format?: Open<'POSITIONAL' | 'NAMED'>;
  [key: string]: unknown;
}

export interface TemplatePage {
  data: Template[];
  /** Cursor for the next page; absent on the last page. */
  after?: string;
}

export interface ListTemplatesOptions {
  after?: string;
  /** Page size; Meta's own default (25) is small, so this client asks for 100 unless told. */
  limit?: number;
}

// ---------------------------------------------------------------------------------------------
// Sending messages: POST /{phone-number-id}/messages

/** Media is either an id from Meta's media upload or a public `link`, never both. */
export type MediaRef = { id: string; link?: never } | { link: string; id?: never };

export type ImageObject = MediaRef & { caption?: string };
export type VideoObject = MediaRef & { caption?: string };
export type DocumentObject = MediaRef & { caption?: string; filename?: string };
export type AudioObject = MediaRef;
export type StickerObject = MediaRef;

export interface LocationObject {
  latitude: number;
  longitude: number;
  name?: string;
  address?: string;
}

export type TemplateParameter =
  | { type: 'text'; text: string; parameter_name?: string }
  | { type: 'currency'; currency: { fallback_value: string; code: string; amount_1000: number }; parameter_name?: string }
  | { type: 'date_time'; date_time: { fallback_value: string }; parameter_name?: string }
  | { type: 'image'; image: MediaRef }
  | { type: 'video'; video: MediaRef }
  | { type: 'document'; document: MediaRef & { filename?: string } }
  | { type: 'location'; location: LocationObject }
  /** Quick-reply buttons: echoed back in the inbound `button` message. */
  | { type: 'payload'; payload: string }
  | { type: 'coupon_code'; coupon_code: string }
  | { type: 'action'; action: Record<string, unknown> };

export type TemplateSendComponent =
  | { type: 'header'; parameters: TemplateParameter[] }
  | { type: 'body'; parameters: TemplateParameter[] }
  | {
      type: 'button';
      sub_type: Open<'quick_reply' | 'url' | 'copy_code' | 'flow' | 'catalog' | 'mpm'>;
      /** Position of the button in the template, 0-based (Meta documents it as a string). */
      index: number | string;
      parameters: TemplateParameter[];
    };

export interface TemplateObject {
  name: string;
  language: { code: string; policy?: 'deterministic' };
  components?: TemplateSendComponent[];
}

export interface TextObject {
  body: string;
  preview_url?: boolean;
}

export type InteractiveHeader =
  | { type: 'text'; text: string }
  | { type: 'image'; image: MediaRef }
  | { type: 'video'; video: MediaRef }
  | { type: 'document'; document: MediaRef & { filename?: string } };

export interface ReplyButton {
  type: 'reply';
  reply: { id: string; title: string };
}

export interface ListSection {
  title?: string;
  rows: Array<{ id: string; title: string; description?: string }>;
}

export interface InteractiveButtons {
  type: 'button';
  header?: InteractiveHeader;
  body: { text: string };
  footer?: { text: string };
  action: { buttons: ReplyButton[] };
}

export interface InteractiveList {
  type: 'list';
  header?: { type: 'text'; text: string };
  body: { text: string };
  footer?: { text: string };
  /** `button` is the label of the button that opens the list. */
  action: { button: string; sections: ListSection[] };
}

export type InteractiveObject = InteractiveButtons | InteractiveList;

export interface ReactionObject {
  message_id: string;
  /** An empty string removes an earlier reaction. */
  emoji: string;
}

interface SendBase {
  /** The recipient's number; Meta accepts it with or without the leading `+`. */
  to: string;
  /** Makes the message a reply quoting `message_id`. */
  context?: { message_id: string };
  /** Echoed back on every status webhook for this message; broadcasts name the recipient here. */
  biz_opaque_callback_data?: string;
}

export type TextMessage = SendBase & { type: 'text'; text: TextObject };
export type TemplateMessage = SendBase & { type: 'template'; template: TemplateObject };
export type ImageMessage = SendBase & { type: 'image'; image: ImageObject };
export type DocumentMessage = SendBase & { type: 'document'; document: DocumentObject };
export type AudioMessage = SendBase & { type: 'audio'; audio: AudioObject };
export type VideoMessage = SendBase & { type: 'video'; video: VideoObject };
export type StickerMessage = SendBase & { type: 'sticker'; sticker: StickerObject };
export type InteractiveMessage = SendBase & { type: 'interactive'; interactive: InteractiveObject };
export type LocationMessage = SendBase & { type: 'location'; location: LocationObject };
export type ReactionMessage = SendBase & { type: 'reaction'; reaction: ReactionObject };

/** Everything `sendMessage` can send, discriminated by `type`. */
export type SendMessagePayload =
  | TextMessage
  | TemplateMessage
  | ImageMessage
  | DocumentMessage
  | AudioMessage
  | VideoMessage
  | StickerMessage
  | InteractiveMessage
  | LocationMessage
  | ReactionMessage;

export type SendMessageType = SendMessagePayload['type'];

export interface SendMessageResult {
  /** Meta's message id; status webhooks refer to it. */
  wamid: string;
  /** The recipient's WhatsApp id as Meta resolved it (digits only, no `+`). */
  contactWaId?: string;
  /** Templates only: `accepted`, `held_for_quality_assessment` or `paused`. */
  messageStatus?: string;
}

// ---------------------------------------------------------------------------------------------
// Media

export interface MediaInfo {
  id: string;
  /** Short-lived download URL; fetch it with `downloadMedia`, which adds the token. */
  url: string;
  mimeType: string;
  sha256: string;
  fileSize: number;
}

export interface DownloadedMedia {
  body: Buffer;
  /** The response's Content-Type, or `application/octet-stream` when absent. */
  contentType: string;
}

export interface DownloadMediaOptions {
  /** Defaults to the client's `maxMediaBytes`. */
  maxBytes?: number;
  /** Defaults to the client's `mediaTimeoutMs`. */
  timeoutMs?: number;
}
