/*
 * One element of a webhook change's `messages` (or `message_echoes`) becomes one typed inbound
 * item. Meta's bodies are read leniently: a field of an unexpected shape is left out, never
 * guessed at, and an item that cannot be applied at all raises InboundItemError with a reason so
 * the caller can set that one item aside. The content shapes are declared in ../message-content.
 */

/** WhatsApp's own identity of the person; at least one of waId / userId is set. */
export interface SenderIdentity {
  /** Digits as WhatsApp sends them: message.from, else the matching contacts[].wa_id. */
  waId?: string;
  /** Business-scoped user id: message.from_user_id, else contacts[].user_id. */
  userId?: string;
  parentUserId?: string;
  username?: string;
  profileName?: string;
}

export interface ParsedMessage {
  type: string;
  content: Record<string, unknown>;
  /** Short text for inbox rows, at most PREVIEW_MAX characters. */
  preview: string;
}

export type IdentityChange =
  | { type: 'user_changed_number'; newWaId: string | null; body: string | null }
  | { type: 'user_changed_user_id'; previousUserId: string | null; userId: string | null }
  | { type: string; body: string | null; raw: Record<string, unknown> };

export type InboundItem =
  | { kind: 'message'; wamid: string; sender: SenderIdentity; sentAt: Date | null; message: ParsedMessage }
  | { kind: 'edit'; wamid: string; sender: SenderIdentity; sentAt: Date | null; originalWamid: string; message: ParsedMessage }
  | { kind: 'revoke'; wamid: string; sender: SenderIdentity; sentAt: Date | null; originalWamid: string }
  /** request_welcome: the contact opened the chat for the first time; there is no message to store. */
  | { kind: 'welcome'; wamid: string | null; sender: SenderIdentity; sentAt: Date | null }
  | { kind: 'identity'; wamid: string | null; sender: SenderIdentity; sentAt: Date | null; change: IdentityChange };

/** The item cannot be applied as it stands (no id, no sender...): the caller sets it aside with `reason`. */
export class InboundItemError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'InboundItemError';
  }
}

export const MEDIA_TYPES = ['image', 'video', 'audio', 'document', 'sticker'] as const;
export const PREVIEW_MAX = 200;

type Loose = Record<string, unknown>;
const isObj = (v: unknown): v is Loose => !!v && typeof v === 'object' && !Array.isArray(v);
const obj = (v: unknown): Loose => (isObj(v) ? v : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** A field named by Meta's data (a type): only the object's own, never one inherited (`__proto__`, `constructor`). */
const own = (o: Loose, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
const clean = (o: Loose): Loose => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
const nonEmpty = (o: Loose): Loose | undefined => (Object.keys(o).length ? o : undefined);

/** An identifier Meta sends as a string (or, in some published samples, as a JSON integer). */
function ident(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length ? v : undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  return undefined;
}

/** A number Meta may send as a JSON number or a numeric string; anything else is null, never NaN. */
function num(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(v)) {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** Epoch seconds as a string or a JSON number; anything else is null (the caller uses "now"). */
function epochSeconds(v: unknown): Date | null {
  const seconds = typeof v === 'string' ? (/^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : NaN) : typeof v === 'number' ? v : NaN;
  if (!Number.isFinite(seconds) || seconds < 0) return null;
  const at = new Date(seconds * 1000);
  return Number.isNaN(at.getTime()) ? null : at;
}

/** Cuts at PREVIEW_MAX without splitting a surrogate pair. */
function clip(s: string): string {
  if (s.length <= PREVIEW_MAX) return s;
  let end = PREVIEW_MAX - 1;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${s.slice(0, end)}…`;
}

function jsonOrUndefined(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return undefined;
  }
}

function context(m: Loose): Loose | undefined {
  if (!isObj(m.context)) return undefined;
  const c = m.context;
  const product = obj(c.referred_product);
  return nonEmpty(
    clean({
      messageId: str(c.id),
      from: ident(c.from),
      forwarded: bool(c.forwarded),
      frequentlyForwarded: bool(c.frequently_forwarded),
      referredProduct: nonEmpty(clean({ catalogId: ident(product.catalog_id), productRetailerId: ident(product.product_retailer_id) })),
    }),
  );
}

function referral(m: Loose): Loose | undefined {
  if (!isObj(m.referral)) return undefined;
  const r = m.referral;
  return nonEmpty(
    clean({
      sourceUrl: str(r.source_url),
      sourceId: ident(r.source_id),
      sourceType: str(r.source_type),
      headline: str(r.headline),
      body: str(r.body),
      mediaType: str(r.media_type),
      imageUrl: str(r.image_url),
      videoUrl: str(r.video_url),
      thumbnailUrl: str(r.thumbnail_url),
      ctwaClid: str(r.ctwa_clid),
      welcomeMessage: isObj(r.welcome_message) ? nonEmpty(clean({ text: str(r.welcome_message.text) })) : undefined,
    }),
  );
}

const errorsOf = (m: Loose): unknown[] | undefined => (Array.isArray(m.errors) ? m.errors.filter(isObj) : undefined);

/** Kinds a message may be recognised by when Meta left out its `type` (seen with locations). */
const KINDS_BY_KEY = ['text', ...MEDIA_TYPES, 'location', 'contacts', 'interactive', 'button', 'reaction', 'order'] as const;

function metaTypeOf(m: Loose): string | null {
  const type = str(m.type);
  if (type) return type;
  return KINDS_BY_KEY.find((k) => isObj(m[k]) || (k === 'contacts' && Array.isArray(m[k]))) ?? null;
}

function unsupported(m: Loose, metaType: string | null, common: Loose): ParsedMessage {
  const raw = metaType ? own(m, metaType) : undefined;
  return {
    type: 'unsupported',
    content: clean({ ...common, metaType, errors: errorsOf(m) ?? [], raw: isObj(raw) ? raw : undefined }),
    preview: `[${metaType ?? 'unsupported'}]`,
  };
}

function parseInteractive(i: Loose): { interactive: Loose; preview: string } | undefined {
  const kind = str(i.type);
  const reply = kind ? own(i, kind) : undefined;
  if (!kind || !isObj(reply)) return undefined;
  switch (kind) {
    case 'button_reply':
    case 'list_reply': {
      const interactive = clean({ kind, id: ident(reply.id), title: str(reply.title), description: kind === 'list_reply' ? str(reply.description) : undefined });
      return { interactive, preview: str(reply.title) ?? `[${kind === 'button_reply' ? 'button' : 'list'} reply]` };
    }
    case 'nfm_reply': {
      const json = reply.response_json;
      const decoded = typeof json === 'string' ? jsonOrUndefined(json) : json;
      const response = isObj(decoded) ? decoded : str(json);
      return { interactive: clean({ kind, name: str(reply.name), body: str(reply.body), response }), preview: '[flow reply]' };
    }
    default: {
      const answer = str(reply.response);
      return { interactive: { kind, raw: reply }, preview: `[${kind.replace(/_/g, ' ')}${answer ? `: ${answer}` : ''}]` };
    }
  }
}

/** The content of one message object (also the inner message of an edit). */
function parseMessage(m: Loose): ParsedMessage {
  const common = clean({ context: context(m), referral: referral(m), errors: errorsOf(m) });
  const metaType = metaTypeOf(m);
  const body = metaType ? own(m, metaType) : undefined;
  const done = (type: string, content: Loose, preview: string): ParsedMessage => ({ type, content: { ...content, ...common }, preview: clip(preview) });

  switch (metaType) {
    case 'text': {
      const t = str(obj(body).body);
      if (t === undefined) break;
      return done('text', { text: t }, t);
    }
    case 'image':
    case 'video':
    case 'audio':
    case 'document':
    case 'sticker': {
      if (!isObj(body)) break;
      const media = clean({
        id: ident(body.id),
        mimeType: str(body.mime_type),
        sha256: str(body.sha256),
        caption: str(body.caption),
        filename: str(body.filename),
        animated: bool(body.animated),
        voice: bool(body.voice),
        url: str(body.url),
      });
      const caption = str(body.caption);
      return done(metaType, { media }, caption || (metaType === 'document' && str(body.filename)) || `[${metaType}]`);
    }
    case 'location': {
      if (!isObj(body)) break;
      const location = clean({
        latitude: num(body.latitude),
        longitude: num(body.longitude),
        name: str(body.name),
        address: str(body.address),
        url: str(body.url),
      });
      return done('location', { location }, str(body.name) || str(body.address) || '[location]');
    }
    case 'contacts': {
      if (!Array.isArray(m.contacts)) break;
      const cards = m.contacts.filter(isObj);
      const names = cards.map((c) => str(obj(c.name).formatted_name)).filter((n): n is string => !!n);
      return done('contacts', { contacts: cards }, names.length ? `[contact] ${names.join(', ')}` : '[contacts]');
    }
    case 'interactive': {
      const parsed = parseInteractive(obj(body));
      if (!parsed) break;
      return done('interactive', { interactive: parsed.interactive }, parsed.preview);
    }
    case 'button': {
      if (!isObj(body)) break;
      const button = clean({ text: str(body.text), payload: str(body.payload) });
      return done('button', { button }, str(body.text) || '[button]');
    }
    case 'reaction': {
      if (!isObj(body)) break;
      const emoji = str(body.emoji) || undefined;
      const reaction = clean({ messageId: str(body.message_id), emoji, removed: !emoji });
      return done('reaction', { reaction }, emoji ? `reacted ${emoji}` : 'removed a reaction');
    }
    case 'order': {
      if (!isObj(body)) break;
      const productItems = (Array.isArray(body.product_items) ? body.product_items : []).filter(isObj).map((p) =>
        clean({
          productRetailerId: ident(p.product_retailer_id),
          quantity: num(p.quantity),
          itemPrice: num(p.item_price),
          currency: str(p.currency),
        }),
      );
      const order = clean({ catalogId: ident(body.catalog_id), text: str(body.text), productItems });
      const count = `[order] ${productItems.length} item${productItems.length === 1 ? '' : 's'}`;
      return done('order', { order }, str(body.text) ? `${count}: ${str(body.text)}` : count);
    }
  }
  // Unknown kinds, and known kinds whose object is missing or unreadable, are kept, not dropped.
  return unsupported(m, metaType, clean({ context: common.context, referral: common.referral }));
}

/**
 * Who the item is about. Message-level ids win; contacts[] adds the profile, matched by wa_id or
 * user_id, and a lone contacts entry applies unless it names another user id. For an echo the
 * person is the one the business wrote to, and an entry naming the business itself is skipped.
 */
function senderOf(m: Loose, contacts: unknown, echo: boolean): SenderIdentity {
  const waId = ident(echo ? m.to : m.from);
  const userId = ident(echo ? m.to_user_id : m.from_user_id);
  const parentUserId = ident(echo ? m.to_parent_user_id : m.from_parent_user_id);
  const business = echo ? ident(m.from) : undefined;
  const entries = (Array.isArray(contacts) ? contacts : []).filter(isObj).filter((c) => !business || ident(c.wa_id) !== business);
  const entry =
    (waId && entries.find((c) => ident(c.wa_id) === waId)) ||
    (userId && entries.find((c) => ident(c.user_id) === userId)) ||
    (entries.length === 1 && !(userId && ident(entries[0]!.user_id) && ident(entries[0]!.user_id) !== userId) ? entries[0] : undefined) ||
    {};
  const profile = obj(entry.profile);
  return clean({
    waId: waId ?? ident(entry.wa_id),
    userId: userId ?? ident(entry.user_id),
    parentUserId: parentUserId ?? ident(entry.parent_user_id),
    username: str(profile.username),
    profileName: str(profile.name),
  }) as SenderIdentity;
}

function identityChange(m: Loose): IdentityChange {
  const s = obj(m.system);
  const type = str(s.type) ?? 'unknown';
  const body = str(s.body) ?? null;
  if (type === 'user_changed_number') return { type, newWaId: ident(s.wa_id) ?? ident(s.new_wa_id) ?? null, body };
  if (type === 'user_changed_user_id') return { type, previousUserId: ident(s.previous_user_id) ?? null, userId: ident(s.user_id) ?? null };
  return { type, body, raw: isObj(m.identity) ? { ...s, identity: m.identity } : s };
}

/**
 * One element of value.messages (or value.message_echoes when `echo` is true: then `sender` is the
 * contact the business wrote TO (echo.to), and the item is the business's own message).
 * `contacts` is value.contacts. Throws InboundItemError when the item cannot be applied.
 */
export function parseInboundItem(raw: unknown, contacts: unknown, options: { echo?: boolean } = {}): InboundItem {
  if (!isObj(raw)) throw new InboundItemError('The message is not a JSON object.');
  const m = raw;
  const type = str(m.type);
  const wamid = str(m.id) || null;
  const sentAt = epochSeconds(m.timestamp);
  let sender = senderOf(m, contacts, options.echo === true);

  if (type === 'system') {
    const change = identityChange(m);
    // A user-id change may name its user only inside `system`; it is about the user as known before.
    if (!sender.waId && !sender.userId && 'previousUserId' in change) {
      const known = change.previousUserId ?? change.userId;
      if (known) sender = { ...sender, userId: known };
    }
    requireSender(sender);
    return { kind: 'identity', wamid, sender, sentAt, change };
  }
  requireSender(sender);
  if (type === 'request_welcome') return { kind: 'welcome', wamid, sender, sentAt };
  if (!wamid) throw new InboundItemError(`The ${type ?? 'untyped'} message has no id.`);

  if (type === 'edit') {
    const edit = obj(m.edit);
    const originalWamid = str(edit.original_message_id);
    if (!originalWamid) throw new InboundItemError('The edit does not say which message it edits (edit.original_message_id).');
    if (!isObj(edit.message)) throw new InboundItemError('The edit carries no edited message (edit.message).');
    return { kind: 'edit', wamid, sender, sentAt, originalWamid, message: parseMessage(edit.message) };
  }
  if (type === 'revoke') {
    const originalWamid = str(obj(m.revoke).original_message_id);
    if (!originalWamid) throw new InboundItemError('The revoke does not say which message it deletes (revoke.original_message_id).');
    return { kind: 'revoke', wamid, sender, sentAt, originalWamid };
  }
  return { kind: 'message', wamid, sender, sentAt, message: parseMessage(m) };
}

function requireSender(sender: SenderIdentity): void {
  if (!sender.waId && !sender.userId) throw new InboundItemError('The message names no sender (no from, from_user_id or matching contact).');
}
