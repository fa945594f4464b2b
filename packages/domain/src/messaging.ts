import type { EntityManager } from '@mikro-orm/postgresql';
import {
  type Clock,
  ConflictError,
  isId,
  NotFoundError,
  toE164,
  ValidationError,
} from '@parley/core';
import { Channel, Contact, Conversation, type ConversationStatus, Template, User } from '@parley/db';
import { LockMode } from '@mikro-orm/core';
import type { ConversationService, MessageView } from './conversations';
import { conversationCreated, conversationUpdated, type ConversationChanges, recordEvent } from './events';
import { sqlRunner } from './sql';
import { openConversation, tenantSql, upsertContactByPhoneOrEmail } from './repositories';
import { leaveQueues } from './routing/queues';
import { onlyChannel, type OutboundContent, queueMessage, type SendActor } from './sending';
import type { TenantScope } from './scope';
import { simpleParamsToComponents, TemplateNotFoundError, TemplateParamsMismatchError, validateTemplateSend } from './templates';

export interface SendRequest {
  content: OutboundContent;
  role?: 'agent' | 'bot' | undefined;
  replyTo?: string | undefined;
}

const FIELD_MESSAGE = /^\.([A-Za-z][\w-]{0,63})\s+([\s\S]{1,1000})$/;

/**
 * The API's sends: it finds or creates what a request names and hands each message to
 * `queueMessage` as the principal's actor. The send itself happens in the worker
 * (OutboundSender); a queued message is a committed row, so an accepted 202 survives any crash.
 */
export type ConversationChange =
  | { kind: 'status'; status: ConversationStatus }
  | { kind: 'assign'; userId: string | null }
  | { kind: 'link'; requestId: string | null }
  | { kind: 'read' };

export class MessagingService {
  constructor(
    private readonly clock: Clock,
    private readonly conversations: ConversationService,
  ) {}

  /** Who a request's principal is, as a sender: a person is an agent, an app's token a partner. */
  private actor(scope: TenantScope): SendActor {
    return scope.principal.kind === 'user'
      ? { kind: 'agent', userId: scope.principal.userId }
      : { kind: 'partner', installationId: scope.principal.installationId };
  }

  /** Picks the channel a new conversation talks through: the one named, or the only one there is. */
  private async channelFor(scope: TenantScope, em: EntityManager, conversation: Conversation | null, channelId: string | undefined): Promise<string> {
    if (conversation?.channel) return conversation.channel;
    if (channelId) {
      const channel = isId(channelId) ? await em.findOne(Channel, { id: channelId, status: 'active' }) : null;
      if (!channel) throw new ValidationError([{ path: 'channelId', message: 'No such channel.' }]);
      return channel.id;
    }
    return onlyChannel(tenantSql(sqlRunner(em), scope.organizationId));
  }

  /** Queues `request` to `conversation` inside `tx`, as the request's principal. */
  private queue(scope: TenantScope, tx: EntityManager, conversationId: string, request: SendRequest, path = ''): Promise<MessageView> {
    return queueMessage(
      tx,
      scope.organizationId,
      this.actor(scope),
      { conversationId, content: request.content, role: request.role, replyTo: request.replyTo, path },
      this.clock.now(),
    );
  }

  async send(scope: TenantScope, conversationId: string, request: SendRequest): Promise<MessageView> {
    return scope.em.fork().transactional((tx) => this.queue(scope, tx, conversationId, request));
  }

  /**
   * Finds or creates the contact (by phone, else email) and its open conversation. The unique
   * indexes decide under concurrency: inserts that lose a race become reads.
   */
  async upsertContactConversation(
    scope: TenantScope,
    tx: EntityManager,
    profile: { name?: string | undefined; telephone?: string | undefined; email?: string | undefined },
    options: { channelId?: string | undefined; requestId?: string | undefined } = {},
  ): Promise<{ contact: Contact; conversation: Conversation; contactCreated: boolean; conversationCreated: boolean }> {
    const phone = profile.telephone ? toE164(profile.telephone, 'contact.profile.telephone') : undefined;
    const email = profile.email?.trim().toLowerCase();
    if (!phone && !email) {
      throw new ValidationError([{ path: 'contact.profile', message: 'Give a telephone or an email.' }]);
    }
    const sql = sqlRunner(tx);
    const t = tenantSql(sql, scope.organizationId);
    const now = this.clock.now();
    const upserted = await upsertContactByPhoneOrEmail(t, phone ? { phone } : { email: email! }, profile.name?.trim() || null, now);
    const contact = await tx.findOneOrFail(Contact, { id: upserted.id });
    if (profile.name?.trim() && contact.name !== profile.name.trim()) contact.name = profile.name.trim();
    if (phone && email && !contact.email) {
      const taken = await tx.count(Contact, { email, id: { $ne: contact.id } });
      if (!taken) contact.email = email;
    }

    let channelId: string | null = null;
    if (options.channelId) channelId = await this.channelFor(scope, tx, null, options.channelId);
    const opened = await openConversation(t, contact.id, { channelId, requestId: options.requestId ?? null, reopen: false, now });
    const conversation = await tx.findOneOrFail(Conversation, { id: opened.id });
    if (options.requestId && conversation.requestId !== options.requestId) conversation.requestId = options.requestId;
    if (!conversation.channel && channelId) conversation.channel = channelId;
    await tx.flush();
    if (opened.created) {
      await recordEvent(sql, scope.organizationId, 'conversation.create', await conversationCreated(sql, scope.organizationId, conversation.id, now), now);
    }
    return { contact, conversation, contactCreated: upserted.created, conversationCreated: opened.created };
  }

  /** `POST /v1/conversations`: contact, conversation, field updates and sends, all or nothing. */
  async upsertConversation(
    scope: TenantScope,
    input: {
      contact: { profile: { name?: string | undefined; telephone?: string | undefined; email?: string | undefined } };
      channelId?: string | undefined;
      requestId?: string | undefined;
      messages?: (
        | { type: 'field'; text: string }
        | { type: 'chat'; role: 'agent' | 'bot'; touchpoint: 'whatsapp'; text?: string | undefined; meta?: { template: string; language?: string | undefined; [param: string]: string | undefined } | undefined }
      )[] | undefined;
    },
  ) {
    return scope.em.fork().transactional(async (tx) => {
      const result = await this.upsertContactConversation(scope, tx, input.contact.profile, { channelId: input.channelId, requestId: input.requestId });
      const sent: MessageView[] = [];
      for (const [i, item] of (input.messages ?? []).entries()) {
        if (item.type === 'field') {
          const match = FIELD_MESSAGE.exec(item.text.trim());
          if (!match) throw new ValidationError([{ path: `messages.${i}.text`, message: 'A field message looks like `.licenseplate XX-99-WZ`.' }]);
          result.contact.fields = { ...result.contact.fields, [match[1]!.toLowerCase()]: match[2]!.trim() };
          await tx.flush();
          continue;
        }
        let content: OutboundContent;
        if (item.meta?.template) {
          const { template: ref, language, ...params } = item.meta;
          const channelId = await this.channelFor(scope, tx, result.conversation, input.channelId);
          const byId = await this.templateById(tx, ref, channelId);
          if (byId && language !== undefined && language !== byId.language) {
            throw new ValidationError([{ path: `messages.${i}.meta.language`, message: `The template with this id is in ${byId.language}.` }]);
          }
          // The bot-store guide puts the template's name in `text` as well: a label, never sent as free text.
          if (item.text !== undefined && ![ref, byId?.name, byId?.metaTemplateId].includes(item.text.trim())) {
            throw new ValidationError([{ path: `messages.${i}.text`, message: 'Beside meta.template, text names the template; send free text as an item of its own.' }]);
          }
          const name = byId?.name ?? ref;
          const languageCode = byId?.language ?? language ?? (await this.onlyLanguage(tx, name, `messages.${i}.meta.template`, channelId));
          content = { type: 'template', template: { name, language: languageCode }, params: params as Record<string, string> };
        } else if (item.text) {
          content = { type: 'text', text: item.text };
        } else {
          throw new ValidationError([{ path: `messages.${i}`, message: 'A chat message needs text or meta.template.' }]);
        }
        sent.push(await this.queue(scope, tx, result.conversation.id, { content, role: item.role }, `messages.${i}.`));
      }
      // The sends wrote the conversation's last message in SQL; the view is read through `tx`'s entity.
      if (sent.length) await tx.refresh(result.conversation);
      const view = await this.conversations.get({ ...scope, em: tx }, result.conversation.id);
      return {
        created: result.contactCreated || result.conversationCreated,
        body: { ...view, contact: { ...view.contact, fields: result.contact.fields, optedOut: result.contact.optedOut }, messages: sent },
      };
    });
  }

  /**
   * `POST /v1/templates/validate`: the check every template send goes through, without sending.
   * With recipients, each recipient's params fill the placeholders (then the defaults).
   */
  async validateTemplate(
    scope: TenantScope,
    input: {
      channelId?: string | undefined;
      template: { name: string; language: string; components?: Record<string, unknown>[] | undefined };
      params?: Record<string, string> | undefined;
      recipients?: { params?: Record<string, string> | undefined }[] | undefined;
    },
  ) {
    const channelId = await this.channelFor(scope, scope.em, null, input.channelId);
    const template = await scope.em.findOne(Template, { channel: channelId, name: input.template.name, language: input.template.language });
    if (!template) throw new TemplateNotFoundError(input.template.name, input.template.language);
    const check = (recipientParams: Record<string, string>, prefix: string) =>
      input.template.components
        ? validateTemplateSend(template, { components: input.template.components }, { recipientParams, defaultParams: input.params ?? {}, pathPrefix: `${prefix}template` })
        : simpleParamsToComponents(template, { ...input.params, ...recipientParams }, { pathPrefix: `${prefix}params` });
    const runs = input.recipients?.length ? input.recipients.map((r, i) => check(r.params ?? {}, `recipients.${i}.`)) : [check({}, '')];
    const problems = runs.flatMap((r) => (r.ok ? [] : r.problems));
    if (problems.length) throw new TemplateParamsMismatchError(problems);
    return {
      valid: true as const,
      template: { name: template.name, language: template.language, category: template.category, status: template.status },
      components: runs.map((r) => (r.ok ? r.components : [])),
    };
  }

  /**
   * The channel's synced template that `ref` names by id, ours or Meta's; null when `ref` is a
   * name. Meta's names are lowercase words, so a uuid is never one, but digits alone could be.
   */
  private async templateById(em: EntityManager, ref: string, channelId: string): Promise<Template | null> {
    if (isId(ref)) return em.findOne(Template, { id: ref, channel: channelId });
    if (!/^\d+$/.test(ref) || (await em.count(Template, { name: ref, channel: channelId }))) return null;
    return em.findOne(Template, { metaTemplateId: ref, channel: channelId });
  }

  /** The language of the conversation channel's only template of that name. */
  private async onlyLanguage(em: EntityManager, name: string, path: string, channelId: string): Promise<string> {
    const languages = [...new Set((await em.find(Template, { name, channel: channelId })).map((t) => t.language))];
    if (languages.length === 1) return languages[0]!;
    if (languages.length === 0) throw new TemplateNotFoundError(name);
    throw new ValidationError([{ path, message: `The template exists in several languages (${languages.join(', ')}); give meta.language.` }]);
  }

  /** `POST /v1/messages`: write to a phone number, starting or continuing its conversation. */
  async sendToPhone(
    scope: TenantScope,
    input: { phoneNumber: string; channelId?: string | undefined; requestId?: string | undefined; role?: 'agent' | 'bot' | undefined; content: OutboundContent },
  ): Promise<{ conversationId: string; message: MessageView }> {
    return scope.em.fork().transactional(async (tx) => {
      const { conversation } = await this.upsertContactConversation(scope, tx, { telephone: input.phoneNumber }, {
        channelId: input.channelId,
        requestId: input.requestId,
      });
      const message = await this.queue(scope, tx, conversation.id, { content: input.content, role: input.role });
      return { conversationId: conversation.id, message };
    });
  }

  /** Status changes, assignment, request links and read state, each with its event. */
  async update(scope: TenantScope, conversationId: string, change: ConversationChange) {
    return scope.em.fork().transactional((tx) => this.updateIn(scope, tx, conversationId, change));
  }

  /**
   * `update` inside the caller's transaction, for a change that must commit together with the
   * caller's own writes (taking a conversation from a routing queue).
   */
  async updateIn(scope: TenantScope, tx: EntityManager, conversationId: string, change: ConversationChange) {
    const now = this.clock.now();
    const conversation = isId(conversationId) ? await tx.findOne(Conversation, { id: conversationId }, { lockMode: LockMode.PESSIMISTIC_WRITE }) : null;
    if (!conversation) throw new NotFoundError('conversation');
    // unreadCount is part of the diff so that marking read is announced like every other change.
    const before: ConversationChanges = { status: conversation.status, assigneeId: conversation.assignee ?? null, requestId: conversation.requestId ?? null, unreadCount: conversation.unreadCount };
    let leftQueue: string | null = null;
    switch (change.kind) {
      case 'status':
        if (conversation.status === 'closed' && change.status !== 'closed') {
          throw new ConflictError('conversation_closed', 'A closed conversation cannot be reopened; a new one starts when the contact writes.');
        }
        conversation.status = change.status;
        break;
      case 'assign':
        if (change.userId) {
          const user = isId(change.userId) ? await tx.findOne(User, { id: change.userId, disabledAt: null }) : null;
          if (!user) throw new ValidationError([{ path: 'userId', message: 'No such user in this organization.' }]);
        }
        conversation.assignee = change.userId;
        // Given to a person, it no longer waits in a routing queue.
        if (change.userId) leftQueue = await leaveQueues(sqlRunner(tx), scope.organizationId, conversation.id, change.userId, now);
        break;
      case 'link':
        conversation.requestId = change.requestId;
        break;
      case 'read':
        conversation.unreadCount = 0;
        break;
    }
    conversation.updatedAt = now;
    await tx.flush();
    const after: ConversationChanges = { status: conversation.status, assigneeId: conversation.assignee ?? null, requestId: conversation.requestId ?? null, unreadCount: conversation.unreadCount };
    if (leftQueue) {
      before.queueId = leftQueue;
      after.queueId = null;
    }
    const keys = (Object.keys(after) as (keyof ConversationChanges)[]).filter((k) => before[k] !== after[k]);
    if (keys.length) {
      const pick = (from: ConversationChanges): ConversationChanges => Object.fromEntries(keys.map((k) => [k, from[k]]));
      const sql = sqlRunner(tx);
      await recordEvent(sql, scope.organizationId, 'conversation.update', await conversationUpdated(sql, scope.organizationId, conversation.id, pick(after), pick(before), now), now);
    }
    return this.conversations.get({ ...scope, em: tx }, conversation.id);
  }
}
