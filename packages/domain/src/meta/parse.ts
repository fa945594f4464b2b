import type { MetaInboundMessage } from './payload';

export interface ParsedMessage {
  type: string;
  content: Record<string, unknown>;
  /** Short text for inbox rows. */
  preview: string;
}

type Loose = Record<string, unknown>;
const obj = (v: unknown): Loose => (v && typeof v === 'object' ? (v as Loose) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const clean = (o: Loose): Loose => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

const MEDIA_TYPES = ['image', 'video', 'audio', 'document', 'sticker'] as const;

/**
 * Turns one of Meta's inbound message objects into Parley's typed message. Media is kept by Meta's
 * media id (downloaded on demand with the channel's token); unknown types are kept, not dropped.
 */
export function parseInboundMessage(m: MetaInboundMessage): ParsedMessage {
  const raw = m as Loose;
  const context = obj(raw.context);
  const base: Loose = context.id ? { context: clean({ messageId: str(context.id), from: str(context.from) }) } : {};

  switch (m.type) {
    case 'text': {
      const body = str(obj(raw.text).body) ?? '';
      return { type: 'text', content: { ...base, text: body }, preview: body };
    }
    case 'image':
    case 'video':
    case 'audio':
    case 'document':
    case 'sticker': {
      const media = obj(raw[m.type]);
      const content = clean({
        ...base,
        media: clean({
          id: str(media.id),
          mimeType: str(media.mime_type),
          sha256: str(media.sha256),
          caption: str(media.caption),
          filename: str(media.filename),
          animated: typeof media.animated === 'boolean' ? media.animated : undefined,
          voice: typeof media.voice === 'boolean' ? media.voice : undefined,
        }),
      });
      const caption = str(media.caption);
      return { type: m.type, content, preview: caption ? caption : `[${m.type}]` };
    }
    case 'location': {
      const l = obj(raw.location);
      const location = clean({
        latitude: typeof l.latitude === 'number' ? l.latitude : Number(l.latitude),
        longitude: typeof l.longitude === 'number' ? l.longitude : Number(l.longitude),
        name: str(l.name),
        address: str(l.address),
        url: str(l.url),
      });
      return { type: 'location', content: { ...base, location }, preview: str(l.name) ?? '[location]' };
    }
    case 'contacts': {
      const contacts = Array.isArray(raw.contacts) ? raw.contacts : [];
      const names = contacts.map((c) => str(obj(obj(c).name).formatted_name)).filter(Boolean);
      return { type: 'contacts', content: { ...base, contacts }, preview: names.length ? `[contact] ${names.join(', ')}` : '[contacts]' };
    }
    case 'interactive': {
      const i = obj(raw.interactive);
      const kind = str(i.type) ?? 'unknown';
      const reply = obj(i[kind]);
      const interactive = clean({ kind, id: str(reply.id), title: str(reply.title), description: str(reply.description) });
      return { type: 'interactive', content: { ...base, interactive }, preview: str(reply.title) ?? '[interactive]' };
    }
    case 'button': {
      const b = obj(raw.button);
      const button = clean({ text: str(b.text), payload: str(b.payload) });
      return { type: 'button', content: { ...base, button }, preview: str(b.text) ?? '[button]' };
    }
    case 'reaction': {
      const r = obj(raw.reaction);
      const reaction = clean({ messageId: str(r.message_id), emoji: str(r.emoji) });
      return { type: 'reaction', content: { ...base, reaction }, preview: str(r.emoji) ? `reacted ${str(r.emoji)}` : 'removed a reaction' };
    }
    default:
      return {
        type: 'unsupported',
        content: { ...base, metaType: m.type, errors: Array.isArray(raw.errors) ? raw.errors : [] },
        preview: `[${m.type}]`,
      };
  }
}

export { MEDIA_TYPES };
