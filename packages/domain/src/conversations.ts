import { type Clock, isId, NotFoundError } from '@parley/core';
import { Conversation, type ConversationStatus, Message, type MessageRevision } from '@parley/db';
import type { ChannelService, GraphPort } from './channels';
import { graphFailure } from './channels';
import { conversationViews } from './events/payloads';
import { decodeCursor, keysetWhere, type Page, type PageRequest, toPage } from './pagination';
import { messageRowView } from './repositories/messages';
import { sqlRunner } from './sql';
import { type ConversationRouting, conversationRoutings } from './routing/runtime-state';
import type { TenantScope } from './scope';

/** How long after the contact's last message free-form replies are allowed (Meta's rule). */
export const CUSTOMER_SERVICE_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface ConversationView {
  id: string;
  status: ConversationStatus;
  channelId: string | null;
  contact: { id: string; name: string | null; phone: string | null; email: string | null };
  assignee: { id: string; name: string; email: string } | null;
  requestId: string | null;
  unreadCount: number;
  lastMessage: { preview: string | null; at: string } | null;
  lastInboundAt: string | null;
  windowExpiresAt: string | null;
  /** What may be sent right now, so clients need not re-derive Meta's rules. */
  canSend: { freeForm: boolean; templates: boolean; marketingTemplates: boolean };
  /** The AI assistant's state here, once it has one (see docs/assistant.md). */
  assistant?: ConversationAssistantState;
  /** Where inbound routing sent it, once routed (see docs/routing.md, "Runtime"). */
  routing?: ConversationRouting;
  createdAt: string;
  updatedAt: string;
}

export interface ConversationAssistantState {
  state: 'active' | 'paused' | 'handed_over';
  reason: string | null;
}

export interface MessageView {
  id: string;
  conversationId: string;
  channelId: string | null;
  touchpoint: 'whatsapp';
  direction: 'inbound' | 'outbound';
  role: 'contact' | 'agent' | 'bot';
  type: string;
  content: Record<string, unknown>;
  status: string;
  wamid: string | null;
  error: { code: number; title: string; details?: string } | null;
  ai: boolean;
  authorId: string | null;
  editedAt: string | null;
  deletedAt: string | null;
  history: MessageRevision[];
  createdAt: string;
  statusUpdatedAt: string;
}

export function windowExpiresAt(lastInboundAt: Date | null | undefined): Date | null {
  return lastInboundAt ? new Date(lastInboundAt.getTime() + CUSTOMER_SERVICE_WINDOW_MS) : null;
}

/** The API's view of a message read through the ORM; the same view as a row's (one shape per resource). */
export function messageView(m: Message): MessageView {
  return messageRowView({
    id: m.id,
    conversation_id: m.conversation,
    channel_id: m.channel ?? null,
    direction: m.direction,
    role: m.role,
    type: m.type,
    content: m.content,
    status: m.status,
    wamid: m.wamid ?? null,
    error: m.error ?? null,
    ai: m.ai,
    author: m.author ?? null,
    edited_at: m.editedAt ?? null,
    revoked_at: m.revokedAt ?? null,
    history: m.history ?? null,
    status_updated_at: m.statusUpdatedAt,
    created_at: m.createdAt,
  });
}

/** What a conversation's view is made of, however it was read (ORM entities or one SQL row). */
export interface ConversationParts {
  id: string;
  status: ConversationStatus;
  channelId: string | null;
  requestId: string | null;
  unreadCount: number;
  lastMessagePreview: string | null;
  lastMessageAt: Date | null;
  lastInboundAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  assistant?: ConversationAssistantState | null;
  routing?: ConversationRouting | null;
}

export interface ConversationContactParts {
  id: string;
  name: string | null;
  phone: string | null;
  email: string | null;
  lastInboundAt: Date | null;
  optedOut: boolean;
  marketingOptedOut: boolean;
}

/**
 * The API's view of a conversation. The API and the events built for partners both go through
 * here, so a partner sees one shape of conversation wherever it comes from.
 */
export function conversationView(
  c: ConversationParts,
  contact: ConversationContactParts,
  assignee: { id: string; name: string; email: string } | null,
  now: Date,
): ConversationView {
  const open = c.status !== 'closed' && !!contact.phone;
  return {
    id: c.id,
    status: c.status,
    channelId: c.channelId,
    contact: { id: contact.id, name: contact.name, phone: contact.phone, email: contact.email },
    assignee,
    requestId: c.requestId,
    unreadCount: c.unreadCount,
    lastMessage: c.lastMessageAt ? { preview: c.lastMessagePreview, at: c.lastMessageAt.toISOString() } : null,
    lastInboundAt: c.lastInboundAt?.toISOString() ?? null,
    windowExpiresAt: windowExpiresAt(contact.lastInboundAt ?? c.lastInboundAt)?.toISOString() ?? null,
    canSend: {
      freeForm: open && (windowExpiresAt(contact.lastInboundAt)?.getTime() ?? 0) > now.getTime(),
      templates: open && !contact.optedOut,
      marketingTemplates: open && !contact.optedOut && !contact.marketingOptedOut,
    },
    ...(c.assistant ? { assistant: { state: c.assistant.state, reason: c.assistant.reason } } : {}),
    ...(c.routing ? { routing: c.routing } : {}),
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

export class ConversationService {
  constructor(
    private readonly channels: ChannelService,
    private readonly graph: GraphPort,
    private readonly clock: Clock,
  ) {}

  async find(scope: TenantScope, id: string): Promise<Conversation> {
    const conversation = isId(id) ? await scope.em.findOne(Conversation, { id }) : null;
    if (!conversation) throw new NotFoundError('conversation');
    return conversation;
  }

  /**
   * The inbox, newest first. Read with two statements (the page's ids, then their views) instead of
   * hydrating entities: it is the console's and partners' most frequent read.
   */
  async list(
    scope: TenantScope,
    page: PageRequest & { status?: ConversationStatus | undefined; assignee?: string | undefined },
  ): Promise<Page<ConversationView>> {
    const sql = sqlRunner(scope.em);
    const after = decodeCursor(page.cursor);
    const where = ['organization_id = ?'];
    const params: unknown[] = [scope.organizationId];
    const filter = (clause: string, ...values: unknown[]) => {
      where.push(clause);
      params.push(...values);
    };
    if (after) filter('id < ?', after);
    if (page.status) filter('status = ?', page.status);
    if (page.assignee === 'none') filter('assignee is null');
    else if (page.assignee !== undefined) {
      // An assignee that is not an id is no one's: an empty page, not a cast error.
      if (isId(page.assignee)) filter('assignee = ?', page.assignee);
      else filter('false');
    }
    // Prepared: one text per combination of filters, each planned once per connection.
    const rows = await sql.prepared<{ id: string }>(`select id from conversations where ${where.join(' and ')} order by id desc limit ?::int`, [...params, page.limit + 1]);
    const ids = rows.slice(0, page.limit).map((r) => r.id);
    const views = await conversationViews(sql, scope.organizationId, ids, this.clock.now(), await conversationRoutings(sql, scope.organizationId, ids));
    return toPage(rows, page.limit, (row) => views.get(row.id)!);
  }

  async get(scope: TenantScope, id: string): Promise<ConversationView> {
    // The same views as the list and the events, read the same way.
    const sql = sqlRunner(scope.em);
    const view = isId(id) ? (await conversationViews(sql, scope.organizationId, [id], this.clock.now(), await conversationRoutings(sql, scope.organizationId, [id]))).get(id) : undefined;
    if (!view) throw new NotFoundError('conversation');
    return view;
  }

  async messages(scope: TenantScope, conversationId: string, page: PageRequest): Promise<Page<MessageView>> {
    await this.find(scope, conversationId);
    const rows = await scope.em.find(
      Message,
      { conversation: conversationId, ...keysetWhere(page.cursor) },
      { orderBy: { id: 'desc' }, limit: page.limit + 1 },
    );
    return toPage(rows, page.limit, messageView);
  }

  /** Media stays at Meta; it is fetched with the channel's token when someone asks for it. */
  async media(scope: TenantScope, conversationId: string, messageId: string): Promise<{ body: Buffer; contentType: string }> {
    await this.find(scope, conversationId);
    const message = isId(messageId) ? await scope.em.findOne(Message, { id: messageId, conversation: conversationId }) : null;
    const mediaId = (message?.content.media as { id?: string } | undefined)?.id;
    if (!message || !mediaId || !message.channel) throw new NotFoundError('media');
    const token = await this.channels.businessToken(scope.em, message.channel);
    try {
      const info = await this.graph.getMedia(token, mediaId);
      const file = await this.graph.downloadMedia(token, info.url);
      return { body: file.body, contentType: file.contentType ?? info.mimeType ?? 'application/octet-stream' };
    } catch (err) {
      graphFailure(err);
    }
  }
}
