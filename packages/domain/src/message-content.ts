import { z } from 'zod';

/*
 * The stored `content` of a message, per message `type`: what the inbound parser (meta/parse.ts)
 * writes for what a contact sent, and what messaging.ts writes for what the business sends. The
 * API documents messages with these schemas, so the OpenAPI document says what a client reads.
 */

const text = z.string();
const rawObject = z.record(z.string(), z.unknown());

export const messageContext = z
  .object({
    messageId: text.optional().describe('WhatsApp id (wamid) of the message this one replies to.'),
    from: text.optional().describe('Who wrote the message replied to, as WhatsApp names them.'),
    forwarded: z.boolean().optional(),
    frequentlyForwarded: z.boolean().optional().describe('Forwarded more than five times.'),
    referredProduct: z
      .object({ catalogId: text.optional(), productRetailerId: text.optional() })
      .optional()
      .describe('The catalog product the contact asked about.'),
  })
  .describe('Reply and forwarding context.')
  .meta({ id: 'MessageContext' });

export const messageReferral = z
  .object({
    sourceUrl: text.optional(),
    sourceId: text.optional(),
    sourceType: text.optional().describe('`ad` or `post`.'),
    headline: text.optional(),
    body: text.optional(),
    mediaType: text.optional(),
    imageUrl: text.optional(),
    videoUrl: text.optional(),
    thumbnailUrl: text.optional(),
    ctwaClid: text.optional().describe('Click-to-WhatsApp click id, for conversion reporting.'),
    welcomeMessage: z.object({ text: text.optional() }).optional(),
  })
  .describe('The ad or post (click to WhatsApp) the contact came from.')
  .meta({ id: 'MessageReferral' });

/** Meta's own error objects, kept exactly as Meta sent them (their fields vary between versions). */
export const metaErrors = z
  .array(rawObject.describe('Usually `{ code, title, message, error_data: { details } }`.'))
  .meta({ id: 'MetaErrors' });

const common = {
  source: z
    .enum(['whatsapp_business_app', 'history'])
    .optional()
    .describe('`whatsapp_business_app`: written by the business in the WhatsApp Business app; `history`: imported from the number’s past at onboarding.'),
  context: messageContext.optional(),
  referral: messageReferral.optional(),
  errors: metaErrors.optional().describe('Errors Meta reported with this message (for example a media download that failed).'),
};

const media = z
  .object({
    id: text.optional().describe('Meta media id; the bytes are served by GET .../messages/{messageId}/media.'),
    link: text.optional().describe('Outbound: the https link the media was sent from.'),
    mimeType: text.optional(),
    sha256: text.optional(),
    caption: text.optional(),
    filename: text.optional(),
    animated: z.boolean().optional().describe('Stickers.'),
    voice: z.boolean().optional().describe('Audio recorded as a voice note.'),
    url: text.optional().describe('A download URL Meta sent along, when it did.'),
  })
  .describe('Media, kept by Meta media id or link.')
  .meta({ id: 'MessageMedia' });

const interactiveReply = z.union([
  z.object({ kind: z.literal('button_reply'), id: text.optional(), title: text.optional() }).describe('A reply button was pressed.'),
  z.object({ kind: z.literal('list_reply'), id: text.optional(), title: text.optional(), description: text.optional() }).describe('A list row was chosen.'),
  z
    .object({
      kind: z.literal('nfm_reply'),
      name: text.optional(),
      body: text.optional(),
      response: z.union([rawObject, text]).optional().describe('The flow’s response_json, parsed; the raw string when it is not valid JSON.'),
    })
    .describe('A WhatsApp Flow was completed.'),
  z.object({ kind: text, raw: rawObject }).describe('Another reply kind (such as call_permission_reply), kept as Meta sent it.'),
]);
const interactiveSent = z
  .object({ type: z.enum(['button', 'list']) })
  .loose()
  .describe('Outbound: the interactive object as it was sent (reply buttons or a list).');

/** Content per message type. Every content object may carry `context`, `referral` and `errors`. */
export const MESSAGE_CONTENT = {
  text: z.object({
    text,
    previewUrl: z.boolean().optional(),
    consent: z.enum(['opt_out', 'opt_in']).optional().describe('An automatic reply confirming a consent keyword.'),
    ...common,
  }),
  template: z.object({
    template: z
      .object({ name: text, language: text, category: text.optional(), components: z.array(rawObject).optional() })
      .describe('The template sent, with the components filled in.'),
    ...common,
  }),
  image: z.object({ media, ...common }),
  video: z.object({ media, ...common }),
  audio: z.object({ media, ...common }),
  document: z.object({ media, ...common }),
  sticker: z.object({ media, ...common }),
  location: z.object({
    location: z.object({
      latitude: z.number().nullable().describe('Null when Meta sent no usable number.'),
      longitude: z.number().nullable(),
      name: text.optional(),
      address: text.optional(),
      url: text.optional(),
    }),
    ...common,
  }),
  contacts: z.object({ contacts: z.array(rawObject).describe('Contact cards, whole, as WhatsApp sent them.'), ...common }),
  interactive: z.object({ interactive: z.union([interactiveReply, interactiveSent]), ...common }),
  button: z.object({ button: z.object({ text: text.optional(), payload: text.optional() }).describe('A template’s quick-reply button was pressed.'), ...common }),
  reaction: z.object({
    reaction: z.object({
      messageId: text.optional().describe('wamid of the message reacted to.'),
      emoji: text.optional(),
      removed: z.boolean().describe('True when the contact took a reaction back (Meta sends no emoji).'),
    }),
    ...common,
  }),
  order: z.object({
    order: z.object({
      catalogId: text.optional(),
      text: text.optional(),
      productItems: z.array(
        z.object({
          productRetailerId: text.optional(),
          quantity: z.number().nullable(),
          itemPrice: z.number().nullable(),
          currency: text.optional(),
        }),
      ),
    }),
    ...common,
  }),
  system: z.object({
    system: z
      .object({
        type: text.describe('`user_changed_number`, `user_changed_user_id`, `customer_identity_changed` or another notice.'),
        body: text.nullable().optional(),
        newWaId: text.nullable().optional().describe('user_changed_number: the new WhatsApp id.'),
        previousUserId: text.nullable().optional().describe('user_changed_user_id: the business-scoped id before.'),
        userId: text.nullable().optional().describe('user_changed_user_id: the business-scoped id now.'),
        raw: rawObject.optional().describe('Other notices, as Meta sent them.'),
      })
      .describe('A WhatsApp notice about the contact (a new number or id); the contact is updated.'),
    text: text.optional().describe('The notice as WhatsApp words it.'),
  }),
  unsupported: z.object({
    metaType: text.nullable().describe('The type Meta gave the message (null when it gave none).'),
    raw: rawObject.optional().describe('The object Meta sent under that type, when it sent one (for example a poll).'),
    ...common,
    errors: metaErrors.describe('Meta’s explanation, such as 131051 "Message type unknown".'),
  }),
} as const;

export type MessageType = keyof typeof MESSAGE_CONTENT;
export const MESSAGE_TYPES = Object.keys(MESSAGE_CONTENT) as MessageType[];

/** A message whose contact deleted it for everyone keeps its row, with its content emptied. */
const cleared = z.object({}).strict().describe('Emptied: the contact deleted the message for everyone.');

const variant = <T extends MessageType>(type: T) => z.object({ type: z.literal(type), content: z.union([MESSAGE_CONTENT[type], cleared]) });

/** `{type, content}` of a message, discriminated by `type`. The OpenAPI document shares it as a component. */
export const typedMessageContent = z
  .discriminatedUnion('type', [
    variant('text'),
    variant('template'),
    variant('image'),
    variant('video'),
    variant('audio'),
    variant('document'),
    variant('sticker'),
    variant('location'),
    variant('contacts'),
    variant('interactive'),
    variant('button'),
    variant('reaction'),
    variant('order'),
    variant('system'),
    variant('unsupported'),
  ])
  .meta({ id: 'MessageContent' });

export type MessageContent = z.output<typeof typedMessageContent>;
