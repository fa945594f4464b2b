import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MESSAGE_TYPES, typedMessageContent } from '../src/message-content';
import { type InboundItem, InboundItemError, type ParsedMessage, parseInboundItem, PREVIEW_MAX } from '../src/meta/parse';

const CORPUS = join(__dirname, '../../../../shared/fixtures/meta-webhooks');

type Loose = Record<string, unknown>;
type Outcome = InboundItem | InboundItemError;
type Check = (outcome: Outcome) => void;

interface CorpusItem {
  where: string;
  raw: unknown;
  contacts: unknown;
  echo: boolean;
}

/** Every element of every change's value.messages and value.message_echoes, in file order. */
function corpusItems(file: string): CorpusItem[] {
  const body = JSON.parse(readFileSync(join(CORPUS, file), 'utf8')) as { entry?: { changes?: { value?: Loose }[] }[] };
  const items: CorpusItem[] = [];
  (body.entry ?? []).forEach((entry, e) =>
    (entry.changes ?? []).forEach((change, c) => {
      const value = change.value ?? {};
      for (const list of ['messages', 'message_echoes'] as const) {
        const elements = value[list];
        if (!Array.isArray(elements)) continue;
        elements.forEach((raw, i) => items.push({ where: `${file} entry[${e}].changes[${c}].${list}[${i}]`, raw, contacts: value.contacts, echo: list === 'message_echoes' }));
      }
    }),
  );
  return items;
}

function outcome(item: { raw: unknown; contacts: unknown; echo?: boolean }): Outcome {
  try {
    return parseInboundItem(item.raw, item.contacts, { echo: item.echo });
  } catch (err) {
    if (err instanceof InboundItemError) return err;
    throw err;
  }
}

/** A stored message's `{type, content}` is what the OpenAPI document says, with no undeclared field. */
function expectDocumented(message: ParsedMessage): void {
  const typed = { type: message.type, content: message.content };
  const result = typedMessageContent.safeParse(typed);
  expect(result.success, JSON.stringify(result.error?.issues)).toBe(true);
  expect(result.data).toEqual(typed);
  expect(message.preview.length).toBeLessThanOrEqual(PREVIEW_MAX);
}

function asItem(o: Outcome): InboundItem {
  if (o instanceof InboundItemError) throw new Error(`expected an item, got InboundItemError: ${o.reason}`);
  return o;
}

/** A contact's (or an echoed) message of `type`; `then` asserts its content and sender. */
const message =
  (type: string, then: (content: Loose, item: Extract<InboundItem, { kind: 'message' }>) => void): Check =>
  (o) => {
    const item = asItem(o);
    expect(item.kind).toBe('message');
    if (item.kind !== 'message') return;
    expect(item.wamid).toMatch(/\S/);
    expect(item.message.type).toBe(type);
    expectDocumented(item.message);
    then(item.message.content, item);
  };

const setAside =
  (reason: RegExp): Check =>
  (o) => {
    expect(o).toBeInstanceOf(InboundItemError);
    expect((o as InboundItemError).reason).toMatch(reason);
  };

const pywaSender = { waId: '972987654321', userId: 'US.13491208655302741918', parentUserId: 'US.ENT.11815799212886844830', profileName: 'Test Name' };
const binda = { waId: '1111111111111', profileName: 'Mauricio Binda' };
const at = (seconds: number) => new Date(seconds * 1000);

/** What each corpus element must become, per file, in the order the file holds them. */
const EXPECTED: Record<string, Check[]> = {
  'bindambc__audio_voice.json': [
    message('audio', (c, item) => {
      expect(c.media).toEqual({ id: '827776106019109', mimeType: 'audio/ogg; codecs=opus', sha256: 'iWa0+O81ZLcSkZx6n4QAmrWuHpn8HWFX3gB6a3fQtmk=', voice: true });
      expect(item.sender).toEqual(binda);
      expect(item.sentAt).toEqual(at(1673033070));
      expect(item.message.preview).toBe('[audio]');
    }),
  ],
  'bindambc__button_template_reply.json': [
    message('button', (c, item) => {
      expect(c.button).toEqual({ text: 'SIM', payload: 'SIM' });
      expect(c.context).toEqual({ messageId: 'wamid.nBgN6TUyN2k5NzAzM5kzNhUCABI8FDNFQjAxQkE5REI4NEUzQ5Y5QTNgAA==', from: '43330585569' });
      expect(item.message.preview).toBe('SIM');
    }),
  ],
  'bindambc__contacts_br.json': [
    message('contacts', (c, item) => {
      expect(c.contacts).toEqual([
        { name: { first_name: 'Person', last_name: 'Ok', formatted_name: 'Person Ok' }, phones: [{ phone: '+55 11 11111-1111', wa_id: '5511111111111', type: 'CELL' }] },
      ]);
      expect(item.message.preview).toBe('[contact] Person Ok');
    }),
  ],
  'bindambc__document_pdf.json': [
    message('document', (c, item) => {
      expect(c.media).toMatchObject({ id: '848704520347750', filename: '4_641947.pdf', mimeType: 'application/pdf' });
      expect(item.message.preview).toBe('4_641947.pdf');
    }),
  ],
  'bindambc__image.json': [
    message('image', (c, item) => {
      expect(c.media).toMatchObject({ id: '8472976218001204', mimeType: 'image/jpeg' });
      expect(item.message.preview).toBe('[image]');
    }),
  ],
  'bindambc__location_url_only.json': [
    message('location', (c, item) => {
      expect(c.location).toEqual({ latitude: -10.93941311633, longitude: -10.606395436721, url: 'https://foursquare.com/v/5c42c5667d8497002c6e09f9' });
      expect(item.message.preview).toBe('[location]');
    }),
  ],
  'bindambc__reaction_self_target.json': [
    message('reaction', (c, item) => {
      expect(c.reaction).toEqual({ messageId: 'wamid.nBgN6TUyN2k5NzAzM5kzNhUCABI8FDNFQjAxQkE5REI4NEUzQ5Y5QTNgAA==', emoji: '👍', removed: false });
      expect(item.message.preview).toBe('reacted 👍');
    }),
  ],
  'bindambc__sticker.json': [message('sticker', (c) => expect(c.media).toMatchObject({ id: '1604825680670873', mimeType: 'image/webp', animated: false }))],
  'bindambc__text.json': [
    message('text', (c, item) => {
      expect(c).toEqual({ text: 'hi everyone!' });
      expect(item.sender).toEqual(binda);
      expect(item.wamid).toBe('wamid.nBgN6TUyN2k5NzAzM5kzNhUCABI8FDNFQjAxQkE5REI4NEUzQ5Y5QTNgAA==');
    }),
  ],
  'bindambc__unsupported_deleted_for_everyone.json': [
    message('unsupported', (c, item) => {
      expect(c.metaType).toBe('unsupported');
      expect(c.errors).toEqual([{ code: 131051, title: 'Message type unknown', message: 'Message type unknown', error_data: { details: 'Message type is currently not supported.' } }]);
      expect(item.message.preview).toBe('[unsupported]');
    }),
  ],
  'bindambc__video_caption.json': [
    message('video', (c, item) => {
      expect(c.media).toMatchObject({ id: '661828760183585', caption: 'hello world', mimeType: 'video/mp4' });
      expect(item.message.preview).toBe('hello world');
    }),
  ],
  // The README: "message has no id in the spec".
  'chatwoot__document_accented_filename.json': [setAside(/no id/)],
  'chatwoot__image_with_media_download_errors.json': [setAside(/no id/)],
  'chatwoot__interactive_nfm_reply_flow_nested_json.json': [
    message('interactive', (c, item) => {
      expect(c.interactive).toEqual({
        kind: 'nfm_reply',
        name: 'flow',
        body: 'Sent',
        response: { flow_token: 'flow-correlation-token', rating: 'excellent', comments: 'Great support', appointment: { day: 'Monday', windows: ['morning', 'afternoon'] } },
      });
      expect(c.context).toEqual({ messageId: 'wamid.original-flow-message', from: '+15550000000' });
      expect(item.message.preview).toBe('[flow reply]');
    }),
  ],
  'chatwoot__request_welcome_no_contacts.json': [
    (o) => expect(asItem(o)).toEqual({ kind: 'welcome', wamid: null, sender: { waId: '1111981136571' }, sentAt: at(1664799904) }),
  ],
  'chatwoot__smb_message_echoes_text_with_to_user_id.json': [
    message('text', (c, item) => {
      expect(c).toEqual({ text: 'first contact by echo' });
      // The person the business wrote to, not the business (from).
      expect(item.sender).toEqual({ waId: '919745786257', userId: 'IN.2081978709342942' });
    }),
  ],
  'chatwoot__system_user_changed_user_id_no_from.json': [
    (o) =>
      expect(asItem(o)).toEqual({
        kind: 'identity',
        wamid: 'wamid.SYSTEM_MESSAGE_ID',
        sender: { userId: 'IN.PREVIOUSBSUID' },
        sentAt: at(1664799904),
        change: { type: 'user_changed_user_id', previousUserId: 'IN.PREVIOUSBSUID', userId: 'IN.CURRENTBSUID' },
      }),
  ],
  'chatwoot__text_bsuid_only_no_from.json': [
    message('text', (c, item) => {
      expect(c).toEqual({ text: 'bsuid only' });
      expect(item.sender).toEqual({ userId: 'IN.2081978709342942', profileName: 'Muhsin' });
    }),
  ],
  'chatwoot__text_bsuid_only_with_parent_and_username.json': [
    message('text', (c, item) => {
      expect(c).toEqual({ text: 'testing bsuid' });
      expect(item.sender).toEqual({ userId: 'IN.2081978709342942', parentUserId: 'IN.ENT.9081726354', username: 'muhsin', profileName: 'Muhsin' });
    }),
  ],
  'chatwoot__text_phone_and_bsuid.json': [
    message('text', (c, item) => {
      expect(c).toEqual({ text: 'phone and bsuid' });
      expect(item.sender).toEqual({ waId: '919745786257', userId: 'IN.2081978709342942', profileName: 'Muhsin' });
    }),
  ],
  'chatwoot__text_referral_ctwa_welcome_message.json': [
    message('text', (c, item) => {
      expect(c.text).toBe('Hello nielekeze');
      expect(c.referral).toEqual({
        sourceUrl: 'https://fb.me/3TYpooaRT',
        sourceId: '52558118838064',
        sourceType: 'ad',
        body: 'washa data tu',
        headline: 'Diana Digital',
        mediaType: 'video',
        videoUrl: 'https://www.facebook.com/reel/1438165771395493/',
        thumbnailUrl: 'https://scontent.xx.fbcdn.net/sample.jpg',
        ctwaClid: 'AfhcQdP2E4A8wWpeb1FqUzUi',
        welcomeMessage: { text: 'Hi! Please let us know how we can help you.' },
      });
      expect(item.sender).toEqual({ waId: '255718573302', userId: 'TZ.1040042605869930', profileName: 'Mom' });
    }),
  ],
  'chatwoot__text_reply_context.json': [
    message('text', (c) => expect(c).toEqual({ text: 'This is a reply', context: { messageId: 'wamid.ORIGINAL_MESSAGE_ID', from: '16503071063' } })),
  ],
  // A Mexican mobile as WhatsApp sends it (521 + ten digits) is kept as it is.
  'coxcox__audio_voice_mx521.json': [
    message('audio', (c, item) => {
      expect(c.media).toMatchObject({ id: '600451392537435', voice: true });
      expect(item.sender).toEqual({ waId: '5215512345678', profileName: '.' });
    }),
  ],
  'coxcox__image_mx521.json': [
    message('image', (c, item) => {
      expect(c.media).toMatchObject({ id: '1351986292876391', sha256: '+qJUoBgLdAjqkzecZCJ9YoiNoRPaDS+zDqXKOMMnZB0=' });
      expect(item.sender.waId).toBe('5215512345678');
    }),
  ],
  'coxcox__text_mx521.json': [
    message('text', (c, item) => {
      expect(c).toEqual({ text: 'Buenas tardes' });
      expect(item.sender.waId).toBe('5215512345678');
      expect(item.wamid).toBe('wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFDNBRjI2RTAyMjMwQ0ExNUI1NjQ2AA==');
      expect(item.sentAt).toEqual(at(1734758135));
    }),
  ],
  'metadocs__text_sheena_nelson.json': [
    message('text', (c, item) => {
      expect(c).toEqual({ text: 'Does it come in another color?' });
      expect(item.sender).toEqual({ waId: '16505551234', profileName: 'Sheena Nelson' });
    }),
  ],
  'netflie__button_with_context_referral_referred_product.json': [
    message('button', (c, item) => {
      expect(c.button).toEqual({ text: 'No', payload: 'No-Button-Payload' });
      expect(c.context).toEqual({
        messageId: 'wamid.ID',
        from: 'PHONE_NUMBER',
        forwarded: true,
        frequentlyForwarded: true,
        referredProduct: { catalogId: 'CATALOG_ID', productRetailerId: 'PRODUCT_ID' },
      });
      expect(c.referral).toEqual({
        sourceUrl: 'AD_OR_POST_FB_URL',
        sourceId: 'ADID',
        sourceType: 'ad or post',
        headline: 'AD_TITLE',
        body: 'AD_DESCRIPTION',
        mediaType: 'image or video',
        imageUrl: 'RAW_IMAGE_URL',
        videoUrl: 'RAW_VIDEO_URL',
        thumbnailUrl: 'RAW_THUMBNAIL_URL',
      });
      // The timestamp is a JSON number here.
      expect(item.sentAt).toEqual(at(1669233778));
    }),
  ],
  'netflie__contacts_full_card.json': [
    message('contacts', (c, item) => {
      const [card] = c.contacts as Loose[];
      expect(card).toMatchObject({
        birthday: '1989-03-16',
        org: { company: 'CONTACT_ORG_COMPANY', department: 'CONTACT_ORG_DEPARTMENT', title: 'CONTACT_ORG_TITLE' },
        emails: [{ email: 'CONTACT_EMAIL', type: 'WORK' }],
        addresses: [{ city: 'CONTACT_CITY', zip: 'CONTACT_ZIP' }],
        urls: [{ url: 'CONTACT_URL', type: 'HOME or WORK' }],
        phones: [{ phone: 'CONTACT_PHONE', wa_id: 'CONTACT_WA_ID' }],
      });
      expect(item.message.preview).toBe('[contact] CONTACT_FORMATTED_NAME');
      expect(item.sender).toEqual({ waId: 'PHONE_NUMBER', profileName: 'NAME' });
    }),
  ],
  'netflie__document_xlsx_caption.json': [
    message('document', (c, item) => {
      expect(c.media).toEqual({
        id: 'IMAGE_ID',
        caption: 'CAPTION_TEXT',
        filename: 'FILENAME',
        mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        sha256: 'DOCUMENT_HASH',
      });
      expect(item.message.preview).toBe('CAPTION_TEXT');
    }),
  ],
  'netflie__interactive_button_reply.json': [
    message('interactive', (c, item) => {
      expect(c.interactive).toEqual({ kind: 'button_reply', id: 'unique-button-identifier-here', title: 'button-text' });
      expect(item.sentAt).toEqual(at(1669233778));
      expect(item.message.preview).toBe('button-text');
    }),
  ],
  'netflie__interactive_list_reply.json': [
    message('interactive', (c) => expect(c.interactive).toEqual({ kind: 'list_reply', id: 'list_reply_id', title: 'list_reply_title', description: 'list_reply_description' })),
  ],
  'netflie__location_placeholder_coordinates.json': [
    message('location', (c, item) => {
      expect(c.location).toEqual({ latitude: null, longitude: null, name: 'LOCATION_NAME', address: 'LOCATION_ADDRESS' });
      expect(item.message.preview).toBe('LOCATION_NAME');
    }),
  ],
  'netflie__order.json': [
    message('order', (c, item) => {
      expect(c.order).toEqual({
        catalogId: 'the-catalog_id',
        text: 'text-message-sent-along-with-the-order',
        productItems: [
          { productRetailerId: 'the-product-SKU-identifier', quantity: null, itemPrice: null, currency: 'price-currency' },
          { productRetailerId: 'the-product-SKU-identifier-2', quantity: null, itemPrice: null, currency: 'price-currency' },
        ],
      });
      expect(item.message.preview).toBe('[order] 2 items: text-message-sent-along-with-the-order');
    }),
  ],
  'netflie__system_user_changed_number.json': [
    (o) =>
      expect(asItem(o)).toEqual({
        kind: 'identity',
        wamid: 'wamid.ID',
        sender: { waId: 'PHONE_NUMBER' },
        sentAt: at(1669233778),
        change: { type: 'user_changed_number', newWaId: 'NEW_PHONE_NUMBER_ID', body: 'NAME changed from PHONE_NUMBER to PHONE_NUMBER' },
      }),
  ],
  'netflie__text_bsuid_only_no_from.json': [
    message('text', (c, item) => {
      expect(c).toEqual({ text: 'MESSAGE_BODY' });
      expect(item.sender).toEqual({ userId: 'BSUID_123', profileName: 'NAME' });
    }),
  ],
  'netflie__text_contact_without_profile.json': [message('text', (c, item) => expect([c, item.sender]).toEqual([{ text: 'MESSAGE_BODY' }, { waId: 'PHONE_NUMBER' }]))],
  'netflie__text_forwarded.json': [
    message('text', (c, item) => {
      expect(c).toEqual({ text: 'MESSAGE_BODY', context: { forwarded: true } });
      expect(item.sentAt).toEqual(at(1669233778));
    }),
  ],
  'netflie__text_wa_id_and_user_id.json': [
    message('text', (c, item) => {
      expect(c).toEqual({ text: 'MESSAGE_BODY' });
      expect(item.sender).toEqual({ waId: 'PHONE_NUMBER', userId: 'BSUID_123', profileName: 'NAME' });
    }),
  ],
  'netflie__two_changes_one_entry_text.json': [
    message('text', (c, item) => expect([c, item.wamid, item.sentAt]).toEqual([{ text: 'MESSAGE_BODY' }, 'wamid.ID', at(1669233778)])),
    message('text', (c, item) => expect([c, item.wamid, item.sentAt]).toEqual([{ text: 'MESSAGE_BODY2' }, 'wamid.ID', at(1669233779)])),
  ],
  'netflie__type_unknown_with_errors.json': [
    message('unsupported', (c, item) => {
      expect(c).toEqual({ metaType: 'unknown', errors: [{ code: 131051, details: 'Message type is not currently supported', title: 'Unsupported message type' }] });
      expect(item.message.preview).toBe('[unknown]');
    }),
  ],
  'piusalfred__system_user_changed_number_new_wa_id.json': [
    (o) =>
      expect(asItem(o)).toMatchObject({
        kind: 'identity',
        wamid: 'wamid.USERCHANGE',
        sender: { waId: '15550002222' },
        change: { type: 'user_changed_number', newWaId: '15550003333', body: 'NAME changed from 15550002222 to 15550003333' },
      }),
  ],
  'piusalfred__text_and_reaction_one_change.json': [
    message('text', (c, item) => expect([c, item.wamid]).toEqual([{ text: 'Hello from a text message' }, 'wamid.GBGX2323902'])),
    message('reaction', (c, item) => {
      expect(c.reaction).toEqual({ messageId: 'wamid.GBGX2323902', emoji: '👍', removed: false });
      expect(item.sender).toEqual({ waId: '1234567890', profileName: 'Sam Sample' });
    }),
  ],
  'piusalfred__text_referred_product_context.json': [
    message('text', (c) =>
      expect(c).toEqual({
        text: 'Interested in your product!',
        context: { messageId: 'wamid.IDCONTEXT1', from: '16789991111', referredProduct: { catalogId: 'CATALOG_9999', productRetailerId: 'SKU-1234' } },
      }),
    ),
  ],
  'piusalfred__three_changes_text_location_without_type_reaction_sticker_prefs.json': [
    message('text', (c) => expect(c).toEqual({ text: 'Hello from a text message!' })),
    // wamid.LOC789 has no "type": its location object says what it is.
    message('location', (c, item) => {
      expect(c.location).toEqual({ latitude: 37.7749, longitude: -122.4194, name: 'San Francisco', address: 'Market Street' });
      expect(item.wamid).toBe('wamid.LOC789');
    }),
    message('reaction', (c) => expect(c.reaction).toEqual({ messageId: 'wamid.TEXT123', emoji: '👍', removed: false })),
    message('sticker', (c) => expect(c.media).toEqual({ id: 'STICKER1234', mimeType: 'image/webp', sha256: 'stickerHashABC' })),
  ],
  'pywa__audio_forwarded.json': [
    message('audio', (c) => {
      expect(c.media).toMatchObject({ id: '1234567890987654321', voice: false });
      expect(c.context).toEqual({ forwarded: true });
    }),
  ],
  'pywa__audio_voice.json': [message('audio', (c) => expect(c.media).toMatchObject({ id: '1234567890987654321', voice: true }))],
  'pywa__button_quick_reply.json': [
    message('button', (c) => expect(c).toEqual({ button: { text: 'title', payload: 'callback_data' }, context: { messageId: 'wamid.xyzxyz==', from: '972123456789' } })),
  ],
  'pywa__button_quick_reply_no_context_from_user_id.json': [
    message('button', (c, item) => {
      expect(c).toEqual({ button: { text: 'title', payload: 'callback_data' } });
      expect(item.sender).toEqual(pywaSender);
    }),
  ],
  'pywa__contacts_three_cards.json': [
    message('contacts', (c, item) => {
      expect((c.contacts as Loose[]).map((card) => (card.phones as Loose[])[0]!.phone)).toEqual(['+1 555-555-5555', '+1 666-666-6666', '+1 777-777-7777']);
      expect(item.message.preview).toBe('[contact] Chandler Bing, Monica, Rachel Green');
    }),
  ],
  'pywa__document_caption_forwarded.json': [
    message('document', (c) => {
      expect(c.media).toMatchObject({ id: '1234567890987654321', caption: 'caption', filename: 'filename.pdf' });
      expect(c.context).toEqual({ forwarded: true });
    }),
  ],
  'pywa__edit_image_caption.json': [
    (o) => {
      const item = asItem(o);
      expect(item.kind).toBe('edit');
      if (item.kind !== 'edit') return;
      expect(item.wamid).toBe('wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=');
      expect(item.originalWamid).toBe('wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=');
      expect(item.sender.waId).toBe('16505551234');
      expect(item.sentAt).toEqual(at(1749854575));
      expect(item.message.type).toBe('image');
      expect(item.message.content).toEqual({
        media: { id: '1234567890', caption: 'Updated image caption', mimeType: 'image/jpeg', sha256: 'a1b2c3d4e5f6...', url: 'https://media.example.com/updated-image.jpg' },
        context: { messageId: 'M0' },
      });
      expect(item.message.preview).toBe('Updated image caption');
      expectDocumented(item.message);
    },
  ],
  'pywa__image.json': [
    message('image', (c, item) => {
      expect(c).toEqual({ media: { id: '65463453', mimeType: 'image/jpeg', sha256: '4654+8g=' } });
      expect(item.sender).toEqual(pywaSender);
    }),
  ],
  'pywa__image_with_url.json': [
    message('image', (c) =>
      expect(c.media).toMatchObject({ id: '65463453', url: 'https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=65463453&source=webhook&ext=487r9re&hash=heiwchueowbcew-dnedcw' }),
    ),
  ],
  'pywa__interactive_button_reply.json': [
    message('interactive', (c) => expect(c).toEqual({ interactive: { kind: 'button_reply', id: 'callback_data', title: 'title' }, context: { messageId: 'wamid.xyzxyz', from: '1122334455667' } })),
  ],
  'pywa__interactive_call_permission_reply.json': [
    message('interactive', (c, item) => {
      expect(c.interactive).toEqual({ kind: 'call_permission_reply', raw: { response: 'accept', expiration_timestamp: 1753186982, response_source: 'user_action' } });
      expect(item.message.preview).toBe('[call permission reply: accept]');
    }),
  ],
  'pywa__interactive_list_reply.json': [message('interactive', (c) => expect(c.interactive).toEqual({ kind: 'list_reply', id: 'callback_data', title: 'title' }))],
  'pywa__interactive_list_reply_description.json': [
    message('interactive', (c) => expect(c.interactive).toEqual({ kind: 'list_reply', id: 'callback_data', title: 'title', description: 'description' })),
  ],
  'pywa__interactive_nfm_reply_flow.json': [
    message('interactive', (c) => {
      expect(c.interactive).toEqual({
        kind: 'nfm_reply',
        name: 'flow',
        body: 'Sent',
        response: { comment_text: 'Comment Text', delivery_rating: '4', flow_token: 'AQAAAAACS5FpgQ_cAAAAAD0QI3s.', purchase_rating: '2', recommend_radio: '0', cs_rating: '0' },
      });
      expect(c.context).toEqual({ messageId: 'wamid.gvwegfretge==', from: '972123456789' });
    }),
  ],
  // An interactive message without its interactive object cannot be shown; it is kept as unsupported.
  'pywa__interactive_without_body.json': [
    message('unsupported', (c) => expect(c).toEqual({ metaType: 'interactive', errors: [], context: { messageId: 'wamid.gvwegfretge==', from: '972123456789' } })),
  ],
  'pywa__location_chosen.json': [
    message('location', (c, item) => {
      expect(c.location).toEqual({
        latitude: 37.4611978,
        longitude: -122.2164385,
        name: 'Facebook HQ',
        address: '1 Hacker Way, Menlo Park, CA 94025',
        url: 'https://maps.google.com/?cid=2000000000000000000',
      });
      expect(item.message.preview).toBe('Facebook HQ');
    }),
  ],
  'pywa__location_current_forwarded.json': [
    message('location', (c) => expect(c).toEqual({ location: { latitude: 12.25089, longitude: 43.90539 }, context: { forwarded: true } })),
  ],
  'pywa__order.json': [
    message('order', (c, item) => {
      expect(c.order).toEqual({
        catalogId: '354160437058781',
        text: '',
        productItems: [
          { productRetailerId: 'HAMBURGER', quantity: 3, itemPrice: 30, currency: 'ILS' },
          { productRetailerId: 'FRENCH_FRIES', quantity: 2, itemPrice: 35, currency: 'ILS' },
          { productRetailerId: 'SODA', quantity: 2, itemPrice: 10, currency: 'ILS' },
        ],
      });
      expect(item.message.preview).toBe('[order] 3 items');
    }),
  ],
  'pywa__reaction.json': [message('reaction', (c) => expect(c.reaction).toEqual({ messageId: 'wamid.yzxyzx=', emoji: '😮', removed: false }))],
  'pywa__reaction_removed_empty_emoji.json': [
    message('reaction', (c, item) => {
      expect(c.reaction).toEqual({ messageId: 'wamid.yzxyzx=', removed: true });
      expect(item.message.preview).toBe('removed a reaction');
    }),
  ],
  'pywa__reaction_removed_no_emoji.json': [
    message('reaction', (c, item) => {
      expect(c.reaction).toEqual({ messageId: 'wamid.yzxyzx=', removed: true });
      expect(item.message.preview).toBe('removed a reaction');
    }),
  ],
  'pywa__revoke_deleted_message.json': [
    (o) =>
      expect(asItem(o)).toEqual({
        kind: 'revoke',
        wamid: '<WHATSAPP_MESSAGE_ID>',
        originalWamid: '<ORIGINAL_WHATSAPP_MESSAGE_ID>',
        sentAt: at(1697043223),
        sender: { ...pywaSender, waId: '<WHATSAPP_USER_PHONE_NUMBER>' },
      }),
  ],
  'pywa__smb_message_echoes_edit.json': [
    (o) =>
      // The contacts entry names the business (echo.from), so it is not the person written to.
      expect(asItem(o)).toEqual({
        kind: 'edit',
        wamid: 'wamid.yyyyyy',
        originalWamid: 'wamid.zzzzzz',
        sentAt: at(1697044968),
        sender: { waId: '972123456789' },
        message: { type: 'text', content: { text: 'Text was edited' }, preview: 'Text was edited' },
      }),
  ],
  'pywa__smb_message_echoes_text.json': [
    message('text', (c, item) => {
      expect(c).toEqual({ text: 'Test message' });
      expect(item.sender).toEqual({ waId: '<WHATSAPP_USER_PHONE_NUMBER>', userId: '<BSUID>', parentUserId: '<PARENT_BSUID>' });
      expect(item.wamid).toBe('<WHATSAPP_MESSAGE_ID>');
    }),
  ],
  'pywa__sticker_animated.json': [message('sticker', (c) => expect(c.media).toMatchObject({ id: '1234567890987654321', animated: true }))],
  'pywa__sticker_static.json': [message('sticker', (c) => expect(c.media).toMatchObject({ id: '1234567890987654321', animated: false }))],
  'pywa__system_customer_identity_changed.json': [
    (o) =>
      expect(asItem(o)).toEqual({
        kind: 'identity',
        wamid: 'wamid.xyzxyz',
        sender: { waId: '972987654321', profileName: 'User A' },
        sentAt: at(1697044706),
        change: {
          type: 'customer_identity_changed',
          body: 'User identity changed',
          raw: { body: 'User identity changed', type: 'customer_identity_changed', identity: { acknowledged: true, created_timestamp: '1697044706', hash: 'xyzxyz' } },
        },
      }),
  ],
  'pywa__system_user_changed_number_no_contacts.json': [
    (o) =>
      expect(asItem(o)).toEqual({
        kind: 'identity',
        wamid: 'wamid.xyzxyz==',
        sender: { waId: '972987654321' },
        sentAt: at(1753851315),
        change: { type: 'user_changed_number', newWaId: '972912345678', body: 'User A changed from 972987654321 to 972912345678' },
      }),
  ],
  'pywa__text.json': [
    message('text', (c, item) => {
      expect(c).toEqual({ text: 'Body Text' });
      expect(item.sender).toEqual(pywaSender);
      expect(item.message.preview).toBe('Body Text');
    }),
  ],
  'pywa__text_forwarded.json': [message('text', (c) => expect(c).toEqual({ text: 'forwarded text', context: { forwarded: true } }))],
  'pywa__text_frequently_forwarded.json': [message('text', (c) => expect(c).toEqual({ text: 'text forwarded many times', context: { frequentlyForwarded: true } }))],
  'pywa__text_referral_ctwa.json': [
    message('text', (c) => {
      expect(c.text).toBe('BODY');
      expect(c.referral).toMatchObject({ ctwaClid: 'CTWA_CLID', sourceUrl: 'AD_OR_POST_FB_URL', sourceId: 'ADID', headline: 'AD_TITLE', imageUrl: 'RAW_IMAGE_URL' });
    }),
  ],
  'pywa__text_reply_context.json': [message('text', (c) => expect(c).toEqual({ text: 'replied text', context: { messageId: 'wamid.xyzxyz==', from: '972123456789' } }))],
  'pywa__unsupported.json': [message('unsupported', (c) => expect(c).toMatchObject({ metaType: 'unsupported', errors: [{ code: 131051, title: 'Message type unknown' }] }))],
  'pywa__unsupported_with_type_poll.json': [
    message('unsupported', (c) => expect(c).toMatchObject({ metaType: 'unsupported', raw: { type: 'pool' }, errors: [{ code: 131051 }] })),
  ],
  'pywa__video_caption_forwarded.json': [
    message('video', (c) => expect(c).toEqual({ media: { id: '765756756', caption: 'caption', mimeType: 'video/mp4', sha256: 'Jh+2ij6PzUv/J2y+grrtegr/ZMzRxkEPwc24Oyib4s03w9Jc=' }, context: { forwarded: true } })),
  ],
};

describe('the real-traffic corpus, element by element', () => {
  const files = readdirSync(CORPUS).filter((f) => f.endsWith('.json')).sort();

  it('holds the 107 published bodies, and every file with messages or echoes has its expectations here', () => {
    expect(files).toHaveLength(107);
    const withItems = files.filter((f) => corpusItems(f).length > 0);
    expect(withItems.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const file of files) {
    const items = corpusItems(file);
    if (!items.length) continue;
    it(file, () => {
      const checks = EXPECTED[file] ?? [];
      expect(checks, `${file}: one check per element`).toHaveLength(items.length);
      items.forEach((item, i) => {
        const result = outcome(item);
        try {
          checks[i]!(result);
        } catch (err) {
          (err as Error).message = `${item.where}: ${(err as Error).message}`;
          throw err;
        }
      });
    });
  }
});

const text = (extra: Loose = {}) => ({ from: '5215512345678', id: 'wamid.A', timestamp: '1700000000', type: 'text', text: { body: 'hola' }, ...extra });

describe('parseInboundItem rules', () => {
  it('reads a timestamp given as a string or a JSON number, and answers null for anything else', () => {
    expect(asItem(outcome({ raw: text({ timestamp: '1700000000' }), contacts: [] })).sentAt).toEqual(at(1700000000));
    expect(asItem(outcome({ raw: text({ timestamp: 1700000000 }), contacts: [] })).sentAt).toEqual(at(1700000000));
    for (const timestamp of [undefined, null, '', ' ', 'yesterday', '-5', 'NaN', Number.NaN, Infinity, -1, {}, [1700000000], '1e400', 1e300]) {
      expect(asItem(outcome({ raw: text({ timestamp }), contacts: [] })).sentAt, String(timestamp)).toBeNull();
    }
  });

  it('sets aside a message without an id, and one that names no sender, each with a reason', () => {
    for (const id of [undefined, '', 42]) {
      const o = outcome({ raw: text({ id }), contacts: [] });
      expect(o).toBeInstanceOf(InboundItemError);
      expect((o as InboundItemError).reason).toBe('The text message has no id.');
    }
    const anonymous = outcome({ raw: text({ from: undefined }), contacts: [] });
    expect((anonymous as InboundItemError).reason).toMatch(/names no sender/);
    expect(outcome({ raw: 'not a message', contacts: [] })).toBeInstanceOf(InboundItemError);
    expect(outcome({ raw: { type: 'request_welcome' }, contacts: [] })).toBeInstanceOf(InboundItemError);
    expect(outcome({ raw: { type: 'edit', id: 'wamid.E', from: '1', edit: { message: { type: 'text', text: { body: 'x' } } } }, contacts: [] })).toMatchObject({
      reason: expect.stringMatching(/original_message_id/),
    });
    expect(outcome({ raw: { type: 'edit', id: 'wamid.E', from: '1', edit: { original_message_id: 'wamid.O' } }, contacts: [] })).toMatchObject({
      reason: expect.stringMatching(/edit\.message/),
    });
    expect(outcome({ raw: { type: 'revoke', id: 'wamid.R', from: '1', revoke: {} }, contacts: [] })).toMatchObject({ reason: expect.stringMatching(/original_message_id/) });
  });

  it('never judges a from as a phone number: impossible, masked and placeholder senders are kept as sent', () => {
    for (const from of ['5215512345678', '1111111111111', '<WHATSAPP_USER_PHONE_NUMBER>', '00000', '+44 (0) 20']) {
      expect(asItem(outcome({ raw: text({ from }), contacts: [] })).sender).toEqual({ waId: from });
    }
  });

  it('matches contacts[] by wa_id, then by user_id, and uses a lone entry unless it names another user id', () => {
    const contacts = [
      { wa_id: '111', profile: { name: 'One' } },
      { user_id: 'US.2', parent_user_id: 'US.ENT.2', profile: { name: 'Two', username: 'two' } },
    ];
    expect(asItem(outcome({ raw: text({ from: '111' }), contacts })).sender).toEqual({ waId: '111', profileName: 'One' });
    expect(asItem(outcome({ raw: text({ from: undefined, from_user_id: 'US.2' }), contacts })).sender).toEqual({
      userId: 'US.2',
      parentUserId: 'US.ENT.2',
      username: 'two',
      profileName: 'Two',
    });
    // Two entries and neither matches: no profile is borrowed from someone else.
    expect(asItem(outcome({ raw: text({ from: '333' }), contacts })).sender).toEqual({ waId: '333' });
    // A lone entry that names a different user id is someone else.
    expect(asItem(outcome({ raw: text({ from_user_id: 'US.9' }), contacts: [contacts[1]] })).sender).toEqual({ waId: '5215512345678', userId: 'US.9' });
    // A sender named only by contacts[] (no from, no from_user_id).
    expect(asItem(outcome({ raw: text({ from: undefined }), contacts: [contacts[1]] })).sender).toMatchObject({ userId: 'US.2' });
  });

  it('takes an echo’s sender from to / to_user_id, never from the business', () => {
    const echo = { from: '15550000000', to: '4915112345678', to_user_id: 'DE.7', id: 'wamid.ECHO', timestamp: '1700000000', type: 'text', text: { body: 'Hallo' } };
    const contacts = [{ wa_id: '15550000000', profile: { name: 'The Business' } }];
    const item = asItem(outcome({ raw: echo, contacts, echo: true }));
    expect(item).toMatchObject({ kind: 'message', wamid: 'wamid.ECHO', sender: { waId: '4915112345678', userId: 'DE.7' } });
    expect(item.sender.profileName).toBeUndefined();
    expect(outcome({ raw: { ...echo, to: undefined, to_user_id: undefined }, contacts, echo: true })).toBeInstanceOf(InboundItemError);
  });

  it('keeps any Unicode in text, and clips previews to 200 characters without splitting a character', () => {
    const body = `${'a'.repeat(198)}😀 tail \u0000 \u{1F1F2}\u{1F1FD} ÿ ‮`;
    const item = asItem(outcome({ raw: text({ text: { body } }), contacts: [] }));
    if (item.kind !== 'message') throw new Error('expected a message');
    expect(item.message.content.text).toBe(body);
    expect(item.message.preview.length).toBeLessThanOrEqual(PREVIEW_MAX);
    expect(item.message.preview).toBe(`${'a'.repeat(198)}…`);
    const lone = asItem(outcome({ raw: text({ text: { body: '\ud83d' } }), contacts: [] }));
    expect(lone.kind === 'message' && lone.message.content.text).toBe('\ud83d');
  });

  it('keeps location coordinates only when they are numbers (or numeric strings), never NaN', () => {
    const loc = (location: Loose) => {
      const item = asItem(outcome({ raw: { from: '1', id: 'wamid.L', type: 'location', location }, contacts: [] }));
      if (item.kind !== 'message') throw new Error('expected a message');
      expectDocumented(item.message);
      return item.message.content.location;
    };
    expect(loc({ latitude: '52.52', longitude: '13.405' })).toEqual({ latitude: 52.52, longitude: 13.405 });
    expect(loc({ latitude: '', longitude: 'east' })).toEqual({ latitude: null, longitude: null });
    expect(loc({ latitude: null, longitude: true })).toEqual({ latitude: null, longitude: null });
    expect(loc({})).toEqual({ latitude: null, longitude: null });
  });

  it('keeps a flow reply whose response_json is not JSON as the raw string', () => {
    const raw = { from: '1', id: 'wamid.F', type: 'interactive', interactive: { type: 'nfm_reply', nfm_reply: { name: 'flow', body: 'Sent', response_json: '{"broken":' } } };
    const item = asItem(outcome({ raw, contacts: [] }));
    if (item.kind !== 'message') throw new Error('expected a message');
    expect(item.message.content.interactive).toEqual({ kind: 'nfm_reply', name: 'flow', body: 'Sent', response: '{"broken":' });
    expectDocumented(item.message);
  });

  it('keeps an unknown kind with its raw type, errors and object, and keeps its context and referral', () => {
    const raw = {
      from: '1',
      id: 'wamid.P',
      type: 'poll',
      poll: { question: '¿Pizza?', options: ['sí', 'no'] },
      context: { id: 'wamid.Q' },
      referral: { ctwa_clid: 'CLID', source_type: 'ad' },
      errors: [{ code: 131051, title: 'Message type unknown' }],
    };
    const item = asItem(outcome({ raw, contacts: [] }));
    if (item.kind !== 'message') throw new Error('expected a message');
    expect(item.message).toEqual({
      type: 'unsupported',
      content: {
        metaType: 'poll',
        raw: { question: '¿Pizza?', options: ['sí', 'no'] },
        errors: [{ code: 131051, title: 'Message type unknown' }],
        context: { messageId: 'wamid.Q' },
        referral: { ctwaClid: 'CLID', sourceType: 'ad' },
      },
      preview: '[poll]',
    });
    expectDocumented(item.message);
    const untyped = asItem(outcome({ raw: { from: '1', id: 'wamid.U' }, contacts: [] }));
    expect(untyped.kind === 'message' && untyped.message.content).toEqual({ metaType: null, errors: [] });
  });

  it('reads a kind’s object only from the message itself, never from inherited names', () => {
    const proto = asItem(outcome({ raw: { from: '1', id: 'wamid.X', type: '__proto__' }, contacts: [] }));
    expect(proto.kind === 'message' && proto.message).toEqual({ type: 'unsupported', content: { metaType: '__proto__', errors: [] }, preview: '[__proto__]' });
    const inherited = asItem(outcome({ raw: { from: '1', id: 'wamid.Y', type: 'interactive', interactive: { type: 'constructor' } }, contacts: [] }));
    expect(inherited.kind === 'message' && inherited.message.content).toEqual({ metaType: 'interactive', errors: [], raw: { type: 'constructor' } });
  });

  it('keeps message-level errors beside readable content', () => {
    const errors = [{ code: 131052, title: 'Media download error' }, { code: '400', details: ['as', 'sent'] }];
    const raw = { from: '1', id: 'wamid.I', type: 'image', image: { id: 'M1', caption: 'Mira' }, errors };
    const item = asItem(outcome({ raw, contacts: [] }));
    if (item.kind !== 'message') throw new Error('expected a message');
    expect(item.message.content).toEqual({ media: { id: 'M1', caption: 'Mira' }, errors });
    expectDocumented(item.message);
  });

  it('gives a request_welcome its id when it has one', () => {
    expect(asItem(outcome({ raw: { from: '1', id: 'wamid.W', type: 'request_welcome', timestamp: 5 }, contacts: [] }))).toEqual({
      kind: 'welcome',
      wamid: 'wamid.W',
      sender: { waId: '1' },
      sentAt: at(5),
    });
  });
});

describe('the OpenAPI description of message content', () => {
  it('has one variant per message type', () => {
    expect(typedMessageContent.options.map((o) => o.shape.type.value).sort()).toEqual([...MESSAGE_TYPES].sort());
  });

  // What messaging.ts, consent.ts and the webhook processor store for messages of the business.
  const stored: { type: string; content: Loose }[] = [
    { type: 'text', content: { text: 'Hi', previewUrl: true, context: { messageId: 'wamid.X' } } },
    { type: 'text', content: { text: 'You will no longer receive messages.', consent: 'opt_out' } },
    { type: 'text', content: { text: 'From the app', source: 'whatsapp_business_app' } },
    { type: 'image', content: { media: { caption: 'foto antigua', mimeType: 'image/jpeg', sha256: 'abc' }, source: 'history' } },
    { type: 'template', content: { template: { name: 'hello_world', language: 'en_US', category: 'UTILITY', components: [{ type: 'body', parameters: [] }] } } },
    { type: 'image', content: { media: { link: 'https://example.com/a.png', caption: 'A' } } },
    { type: 'document', content: { media: { id: '123', filename: 'a.pdf' } } },
    { type: 'audio', content: { media: { id: '123' } } },
    { type: 'location', content: { location: { latitude: 1.5, longitude: 2.5, name: 'Here', address: 'There' } } },
    {
      type: 'interactive',
      content: { interactive: { type: 'button', body: { text: 'Pick' }, action: { buttons: [{ type: 'reply', reply: { id: 'a', title: 'A' } }] } } },
    },
    { type: 'system', content: { system: { type: 'user_changed_number', newWaId: '2', body: 'A changed from 1 to 2' }, text: 'A changed from 1 to 2' } },
    { type: 'text', content: {} },
  ];
  for (const m of stored) {
    it(`documents ${m.type} ${JSON.stringify(m.content).slice(0, 60)}`, () => {
      const result = typedMessageContent.safeParse(m);
      expect(result.success, JSON.stringify(result.error?.issues)).toBe(true);
      expect(result.data).toEqual(m);
    });
  }

  it('refuses content that does not match its type', () => {
    expect(typedMessageContent.safeParse({ type: 'text', content: { media: { id: '1' } } }).success).toBe(false);
    expect(typedMessageContent.safeParse({ type: 'reaction', content: { reaction: { emoji: '👍' } } }).success).toBe(false);
    expect(typedMessageContent.safeParse({ type: 'location', content: { location: { latitude: 'north', longitude: null } } }).success).toBe(false);
    expect(typedMessageContent.safeParse({ type: 'carousel', content: {} }).success).toBe(false);
  });
});
