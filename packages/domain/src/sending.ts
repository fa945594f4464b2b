import type { EntityManager } from '@mikro-orm/postgresql';
import { ConflictError, isId, NotFoundError, UnprocessableError, ValidationError } from '@parley/core';
import type { MessageRole } from '@parley/db';
import { CUSTOMER_SERVICE_WINDOW_MS, type MessageView, windowExpiresAt } from './conversations';
import { contactRef, messageCreated, recordEvent } from './events';
import { insertOutboundMessage, noteOutboundMessage, type TenantSql, tenantSql } from './repositories';
import { assertOutboundAttachmentAllowed } from './routing/runtime-attachments';
import { type SqlRunner, sqlRunner } from './sql';
import { simpleParamsToComponents, type TemplateDefinition, TemplateNotFoundError, TemplateParamsMismatchError, validateTemplateSend } from './templates';

export type MediaKind = 'image' | 'video' | 'document' | 'audio';

/** What is to be sent; the API's routes validate its shape, `queueMessage` checks it against the rules. */
export type OutboundContent =
  | { type: 'text'; text: string; previewUrl?: boolean | undefined }
  | {
      type: 'template';
      template: { name: string; language: string; components?: Record<string, unknown>[] | undefined };
      params?: Record<string, string> | undefined;
    }
  | { type: MediaKind; media: { id?: string | undefined; link?: string | undefined; caption?: string | undefined; filename?: string | undefined } }
  | { type: 'interactive'; interactive: Record<string, unknown> }
  | { type: 'location'; location: { latitude: number; longitude: number; name?: string | undefined; address?: string | undefined } };

/** Who sends. It decides the message's role, its author, its `ai` flag and the event's name. */
export type SendActor =
  | { kind: 'agent'; userId: string }
  | { kind: 'partner'; installationId: string }
  /** The AI assistant: role bot, `ai: true`. */
  | { kind: 'assistant' }
  /** The platform's own replies; `consent` marks the confirmation of a consent keyword in the content. */
  | { kind: 'system'; reason: 'consent' | 'handoff' | 'routing'; consent?: 'opt_out' | 'opt_in' };

export interface SendInput {
  conversationId: string;
  content: OutboundContent;
  /** Id of a message of this conversation to reply to. */
  replyTo?: string | undefined;
  /**
   * The role the message is shown with, when an agent or partner chooses one (the API's `role`:
   * an automation using a person's token speaks as the bot). The assistant and the platform
   * always speak as the bot.
   */
  role?: 'agent' | 'bot' | undefined;
  /** The channel to send on when it is not the conversation's (a reply on the channel the contact wrote to). */
  channelId?: string | undefined;
  /** Prefix of the paths in validation errors, for a send that is one item of a larger request (`messages.0.`). */
  path?: string | undefined;
}

export function windowOpen(lastInboundAt: Date | null | undefined, now: Date): boolean {
  return !!lastInboundAt && now.getTime() - lastInboundAt.getTime() < CUSTOMER_SERVICE_WINDOW_MS;
}

function preview(content: OutboundContent): string {
  switch (content.type) {
    case 'text':
      return content.text;
    case 'template':
      return `[template ${content.template.name}]`;
    case 'location':
      return content.location.name ?? '[location]';
    case 'interactive':
      return String((content.interactive.body as { text?: string } | undefined)?.text ?? '[interactive]');
    default:
      return content.media.caption ?? `[${content.type}]`;
  }
}

function authorship(actor: SendActor, requested: 'agent' | 'bot' | undefined): { role: MessageRole; author: string | null; ai: boolean; senderRef: string | null } {
  switch (actor.kind) {
    case 'agent':
      return { role: requested ?? 'agent', author: actor.userId, ai: false, senderRef: actor.userId };
    case 'partner':
      return { role: requested ?? 'bot', author: null, ai: false, senderRef: actor.installationId };
    case 'assistant':
      return { role: 'bot', author: null, ai: true, senderRef: null };
    case 'system':
      return { role: 'bot', author: null, ai: false, senderRef: actor.reason };
  }
}

interface Target {
  id: string;
  status: string;
  channel_id: string | null;
  contact_id: string;
  name: string | null;
  phone: string | null;
  opted_out: boolean;
  marketing_opted_out: boolean;
  /** As the driver gives it: a timestamptz arrives as text. */
  last_inbound_at: Date | string | null;
}

/** The organization's only active channel, for a conversation that has none yet. */
export async function onlyChannel(t: TenantSql): Promise<string> {
  const channels = await t.sql.all<{ id: string }>(`select id from channels where organization_id = ? and status = 'active' order by id limit 2`, [t.organizationId]);
  if (channels.length === 1) return channels[0]!.id;
  throw new UnprocessableError(
    channels.length ? 'channel_required' : 'no_channel',
    channels.length ? 'The organization has several channels: name one with channelId.' : 'Connect a WhatsApp channel first.',
  );
}

/** The stored content of a template send, after the consent and template checks. */
async function templateContent(
  t: TenantSql,
  channelId: string,
  target: Target,
  c: Extract<OutboundContent, { type: 'template' }>,
  path: string,
): Promise<Record<string, unknown>> {
  if (target.opted_out) throw new UnprocessableError('contact_opted_out', 'The contact opted out of business-initiated messages.');
  const [template] = await t.sql.all<TemplateDefinition & { parameter_format: TemplateDefinition['parameterFormat'] }>(
    `select name, language, status, category, parameter_format, components from templates
     where organization_id = ? and channel_id = ? and name = ? and language = ?`,
    [t.organizationId, channelId, c.template.name, c.template.language],
  );
  if (!template) throw new TemplateNotFoundError(c.template.name, c.template.language);
  const definition: TemplateDefinition = { ...template, parameterFormat: template.parameter_format };
  if (target.marketing_opted_out && definition.category === 'MARKETING') {
    throw new UnprocessableError('contact_opted_out', 'The contact refuses marketing messages from this business (Meta 131050).');
  }
  // Full components are checked as given; the shorthand (a flat map) is built into them first.
  const checked = c.template.components
    ? validateTemplateSend(definition, { components: c.template.components }, { defaultParams: c.params ?? {}, pathPrefix: `${path}template` })
    : simpleParamsToComponents(definition, c.params ?? {}, { pathPrefix: path ? `${path}meta` : 'params' });
  if (!checked.ok) throw new TemplateParamsMismatchError(checked.problems);
  return { template: { name: definition.name, language: definition.language, category: definition.category, components: checked.components } };
}

function freeFormContent(c: Exclude<OutboundContent, { type: 'template' }>): Record<string, unknown> {
  switch (c.type) {
    case 'text':
      return { text: c.text, ...(c.previewUrl ? { previewUrl: true } : {}) };
    case 'location':
      return { location: c.location };
    case 'interactive':
      return { interactive: c.interactive };
    default:
      return { media: c.media };
  }
}

/**
 * The one way a message is queued for sending, whoever sends it: agents and partners (API
 * requests), the platform's own replies (consent confirmations, in the inbound processor's
 * transaction), the AI assistant (a Temporal activity). Inside the caller's transaction it refuses
 * what Meta or the person would refuse (a closed conversation, a contact without a phone, a
 * free-form message outside the customer-service window, a template to a contact who opted out,
 * an unknown template or wrong parameters), then stores the message as queued and records its
 * `message.create` event, both committed with the caller's other writes. The channel's send
 * budget is the outbox's (OutboundSender), which every queued message goes through.
 *
 * `db` is the caller's transaction: an EntityManager, or the SqlRunner of one. The conversation
 * row is locked, so sends to one conversation queue in the order they commit.
 */
export async function queueMessage(
  db: EntityManager | SqlRunner,
  organizationId: string,
  actor: SendActor,
  input: SendInput,
  now: Date,
): Promise<MessageView> {
  const t = tenantSql('getConnection' in db ? sqlRunner(db) : db, organizationId);
  const path = input.path ?? '';
  const [target] = isId(input.conversationId)
    ? await t.sql.all<Target>(
        `select cv.id, cv.status, cv.channel_id, cv.contact_id, ct.name, ct.phone, ct.opted_out, ct.marketing_opted_out, ct.last_inbound_at
         from conversations cv join contacts ct on ct.id = cv.contact_id
         where cv.id = ? and cv.organization_id = ?
         for update of cv`,
        [input.conversationId, organizationId],
      )
    : [];
  if (!target) throw new NotFoundError('conversation');
  if (target.status === 'closed') {
    throw new ConflictError('conversation_closed', 'The conversation is closed; start a new one by sending to the contact again.');
  }
  if (!target.phone) throw new UnprocessableError('contact_has_no_phone', 'The contact has no phone number to write to on WhatsApp.');
  const channelId = input.channelId ?? target.channel_id ?? (await onlyChannel(t));

  const c = input.content;
  // People and apps send media only where the channel's routing allows attachments both ways.
  if (actor.kind === 'agent' || actor.kind === 'partner') await assertOutboundAttachmentAllowed(t.sql, organizationId, channelId, c.type, now);
  let content: Record<string, unknown>;
  if (c.type === 'template') {
    content = await templateContent(t, channelId, target, c, path);
  } else {
    const lastInboundAt = target.last_inbound_at === null ? null : new Date(target.last_inbound_at);
    if (!windowOpen(lastInboundAt, now)) {
      throw new UnprocessableError(
        'outside_customer_service_window',
        'More than 24 hours have passed since the contact last wrote; only templates may be sent.',
        { windowExpiresAt: windowExpiresAt(lastInboundAt)?.toISOString() ?? null },
      );
    }
    content = freeFormContent(c);
  }
  if (actor.kind === 'system' && actor.consent) content.consent = actor.consent;
  if (input.replyTo) {
    const [parent] = isId(input.replyTo)
      ? await t.sql.all<{ wamid: string | null }>('select wamid from messages where id = ? and conversation_id = ? and organization_id = ?', [
          input.replyTo,
          target.id,
          organizationId,
        ])
      : [];
    if (!parent?.wamid) throw new ValidationError([{ path: `${path}replyTo`, message: 'No message with a WhatsApp id in this conversation.' }]);
    content.context = { messageId: parent.wamid };
  }

  const { role, author, ai, senderRef } = authorship(actor, input.role);
  await noteOutboundMessage(t, target.id, { at: now, preview: preview(c), channelId });
  const row = await insertOutboundMessage(t, {
    conversationId: target.id,
    channelId,
    role,
    author,
    ai,
    sender: { kind: actor.kind, ref: senderRef },
    type: c.type,
    content,
    status: 'queued',
    sendState: 'pending',
    at: now,
  });
  // A queued message has no wamid, so the insert cannot meet a conflict.
  if (!row) throw new Error('queued message was not stored');
  // The event's last segment is the message's role, as for the contact's own messages.
  const type = role === 'bot' ? 'message.create.contact.chat.bot' : 'message.create.contact.chat.agent';
  const data = messageCreated(row, contactRef({ id: target.contact_id, name: target.name, phone: target.phone }));
  await recordEvent(t.sql, organizationId, type, data, now);
  return data.message;
}
