import { createHash, randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { type Clock, DomainError, type Logger, newId, NotFoundError, type SecretBox, sha256Hex, UnprocessableError, ValidationError } from '@parley/core';
import { z } from 'zod';
import { queueMessage, type OutboundContent } from '../sending';
import { type SqlRunner, sqlRunner } from '../sql';
import type { WebhookHttpClient } from '../webhooks/http';
import { signDelivery } from '../webhooks/signing';
import { newSigningSecret } from '../webhooks/subscriptions';
import { answerFromMessage } from './matching';
import type { Chatbot } from './config';
import { type ApplyDestinationPort, endSession, openSession, readSession, type SessionRow } from './runtime-session';
import { versionDocument } from './runtime-live';

/*
 * The chatbot connector (docs/routing.md, "Chatbot connectors at runtime"). A conversation routed
 * to a chatbot gets a session with a callback token: 32 random bytes, stored as its SHA-256 (what
 * the callback route looks up) and sealed (so every forward can tell the bot its callback URL).
 * Each contact message is POSTed to the bot's URL, signed like a partner webhook with the
 * connector's own secret, through the webhook client (target rules, the connector's timeout). A
 * bot that fails or times out hands the chat to the connector's fallback destination. A
 * conversation the contact opened without writing (WhatsApp's welcome request) starts the bot with
 * a `welcome` request instead of a message.
 *
 * The POSTs are made by the session's own Temporal workflow (routingChatbotWorkflow,
 * workflows/src/routing-chatbot.ts), one activity per request: the routing runner and the
 * signaller only hand messages to it (signalWithStart), so a bot that is slow or hangs up to its
 * timeout holds its own conversation, in order, and never another's.
 */

export const CHATBOT_CALLBACK_PATH = '/v1/routing/chatbot-callback';

export interface ChatbotDeps {
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
  http: WebhookHttpClient;
  secrets: SecretBox;
  /** The API's public base URL, where bots send their callbacks. */
  callbackBaseUrl: string;
  applyDestination: ApplyDestinationPort;
}

/** What starts a bot: `messageId` is null for a conversation the contact opened without writing. */
export interface ChatbotStartInput {
  organizationId: string;
  conversationId: string;
  channelId: string;
  chatbotId: string;
  versionId: string;
  messageId: string | null;
  at: Date;
}

/** The input of a bot session's workflow: which session, which bot (its URL is the version's). */
export interface ChatbotWorkflowInput {
  organizationId: string;
  conversationId: string;
  channelId: string;
  chatbotId: string;
  versionId: string;
  sessionId: string;
}

/** What is handed to a session's workflow: contact messages (by id), or the welcome. */
export interface ChatbotDelivery {
  messageIds: string[];
  welcome?: boolean | undefined;
}

/**
 * Hands messages to a bot session's workflow, starting it if need be (Temporal's signalWithStart):
 * the workflow POSTs them to the bot one at a time, in order.
 */
export interface ChatbotWorkflowStarter {
  /**
   * `opening`: the session was opened just now, so its workflow most likely does not exist yet and
   * may be started with the delivery as its input (eagerly, on a worker in this process, which
   * saves the bot's first request two trips through Temporal's task queues).
   */
  deliver(workflowId: string, input: ChatbotWorkflowInput, delivery: ChatbotDelivery, options?: { opening?: boolean }): Promise<void>;
  /** Tells the session's workflow that the session ended, so it ends instead of waiting for messages. */
  end(workflowId: string): Promise<void>;
}

/** Tenant, conversation and session in the id, as for trees: no two tenants (or sessions) share a workflow. */
export function chatbotWorkflowId(organizationId: string, conversationId: string, sessionId: string): string {
  return `routing-chatbot:${organizationId}:${conversationId}:${sessionId}`;
}

/** A bot session's workflow id and input. Sessions opened before bots had workflows have no id stored. */
export function chatbotWorkflow(session: SessionRow): { workflowId: string; input: ChatbotWorkflowInput } {
  return {
    workflowId: session.workflow_id ?? chatbotWorkflowId(session.organization_id, session.conversation_id, session.id),
    input: {
      organizationId: session.organization_id,
      conversationId: session.conversation_id,
      channelId: session.channel_id,
      chatbotId: session.object_id,
      versionId: session.version_id,
      sessionId: session.id,
    },
  };
}

export type ChatbotCallbackResult = { status: 'sent'; messageId: string } | { status: 'transferred' };

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/**
 * A connector's signing secret (Standard Webhooks `whsec_...`), made on first use and kept
 * sealed; the bot verifies `webhook-signature` with it. The same for every version of the connector.
 */
export async function chatbotSecret(sql: SqlRunner, secrets: SecretBox, organizationId: string, chatbotId: string, now: Date): Promise<string> {
  const id = newId();
  await sql.run(
    `insert into routing_chatbot_secrets (id, organization_id, chatbot_id, secret_ciphertext, created_at) values (?, ?, ?, ?, ?) on conflict (organization_id, chatbot_id) do nothing`,
    [id, organizationId, chatbotId, secrets.encrypt(newSigningSecret(), id), now],
  );
  const [row] = await sql.all<{ id: string; secret_ciphertext: string }>('select id, secret_ciphertext from routing_chatbot_secrets where organization_id = ? and chatbot_id = ?', [
    organizationId,
    chatbotId,
  ]);
  return secrets.decrypt(row!.secret_ciphertext, row!.id);
}

/** What a bot's callback may ask for. */
export const chatbotCallbackSchema = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('text'), text: z.string().trim().min(1).max(4096) }).strict(),
    z
      .object({
        type: z.literal('url_button'),
        text: z.string().trim().min(1).max(1024),
        button: z.object({ title: z.string().trim().min(1).max(20), url: z.url({ protocol: /^https?$/ }).max(2000) }).strict(),
      })
      .strict()
      .describe('A message with a URL button (WhatsApp shows one per message).'),
    z
      .object({
        type: z.literal('quick_replies'),
        text: z.string().trim().min(1).max(1024),
        replies: z
          .array(z.object({ id: z.string().min(1).max(200), title: z.string().trim().min(1).max(24) }).strict())
          .min(1)
          .max(10)
          .describe('Up to 3 with titles of at most 20 characters show as reply buttons; more, as a list.'),
        buttonText: z.string().trim().min(1).max(20).optional().describe('The list button (default “Options”).'),
      })
      .strict(),
    z.object({ type: z.literal('transfer'), queueId: z.string().min(1).max(100) }).strict().describe('Hands the chat to a queue; the bot hears no more of it.'),
  ])
  .describe('A chatbot’s answer on its callback URL.')
  .meta({ id: 'ChatbotCallback' });

export type ChatbotCallback = z.infer<typeof chatbotCallbackSchema>;

interface ConversationRow {
  contact_id: string;
  name: string | null;
  phone: string | null;
  fields: Record<string, unknown> | null;
}

interface RequestContext {
  session: SessionRow;
  callbackToken: string;
  conversation: ConversationRow;
  /** Null until the connector's first request makes it. */
  secret: string | null;
}

interface MessageRow {
  id: string;
  type: string;
  content: Record<string, unknown>;
  created_at: Date;
}

/** The content of a quick-replies answer: reply buttons when WhatsApp takes them, else a list. */
export function quickRepliesContent(body: Extract<ChatbotCallback, { type: 'quick_replies' }>): OutboundContent {
  if (body.replies.length <= 3 && body.replies.every((r) => r.title.length <= 20)) {
    return {
      type: 'interactive',
      interactive: { type: 'button', body: { text: body.text }, action: { buttons: body.replies.map((r) => ({ type: 'reply', reply: { id: r.id, title: r.title } })) } },
    };
  }
  return {
    type: 'interactive',
    interactive: {
      type: 'list',
      body: { text: body.text },
      action: { button: body.buttonText ?? 'Options', sections: [{ rows: body.replies.map((r) => ({ id: r.id, title: r.title })) }] },
    },
  };
}

export class ChatbotConnector {
  constructor(private readonly deps: ChatbotDeps) {}

  private async chatbot(sql: SqlRunner, organizationId: string, versionId: string, chatbotId: string): Promise<Chatbot | undefined> {
    return (await versionDocument(sql, organizationId, versionId))?.chatbots.find((c) => c.id === chatbotId);
  }

  /**
   * Opens the conversation's session with the bot (ending any other), with its callback token and
   * the id of the workflow that will talk to the bot. Nothing is sent to the bot here.
   */
  async open(input: ChatbotStartInput): Promise<SessionRow> {
    const sessionId = newId();
    const token = randomBytes(32).toString('base64url');
    return openSession(sqlRunner(this.deps.orm.em.fork()), {
      id: sessionId,
      organizationId: input.organizationId,
      conversationId: input.conversationId,
      channelId: input.channelId,
      kind: 'chatbot',
      objectId: input.chatbotId,
      versionId: input.versionId,
      workflowId: chatbotWorkflowId(input.organizationId, input.conversationId, sessionId),
      at: input.at,
      callback: { hash: hashToken(token), ciphertext: this.deps.secrets.encrypt(token, sessionId) },
    });
  }

  /**
   * Opens the session and hands the routed message (or, with none, the welcome) to its workflow,
   * which makes the request; this returns without waiting for the bot.
   */
  async start(input: ChatbotStartInput, workflows: ChatbotWorkflowStarter): Promise<void> {
    const session = await this.open(input);
    const { workflowId, input: workflowInput } = chatbotWorkflow(session);
    await workflows.deliver(workflowId, workflowInput, input.messageId ? { messageIds: [input.messageId] } : { messageIds: [], welcome: true }, { opening: true });
  }

  /**
   * One request of a session's workflow: the message (or the welcome) POSTed to the bot, a failure
   * handing the chat to the fallback. Answers whether the session is still the bot's afterwards;
   * once it is not (a transfer, a fallback, new routing, a person), the workflow ends.
   */
  async forwardInSession(input: ChatbotWorkflowInput, delivery: ChatbotDelivery): Promise<'active' | 'ended'> {
    const context = await this.requestContext(input.organizationId, input.sessionId);
    if (!context || context.session.state !== 'active' || context.session.kind !== 'chatbot') return 'ended';
    await this.forward(context, delivery.messageIds, { welcome: delivery.welcome ?? false });
    return (await this.sessionState(input)) ?? 'ended';
  }

  /** The session's state, or undefined when it does not exist. */
  async sessionState(input: ChatbotWorkflowInput): Promise<'active' | 'ended' | undefined> {
    return (await readSession(sqlRunner(this.deps.orm.em.fork()), input.organizationId, input.sessionId))?.state;
  }

  /**
   * What a request needs besides the messages (the session, its callback token, the contact and
   * the connector's signing secret) in one round trip: it is on the way of every bot message.
   */
  private async requestContext(organizationId: string, sessionId: string): Promise<RequestContext | undefined> {
    const [row] = await sqlRunner(this.deps.orm.em.fork()).all<SessionRow & ConversationRow & { callback_token_ciphertext: string; secret_id: string | null; secret_ciphertext: string | null }>(
      `select s.id, s.organization_id, s.conversation_id, s.channel_id, s.kind, s.object_id, s.version_id, s.workflow_id, s.state, s.callback_token_ciphertext,
              ct.id as contact_id, ct.name, ct.phone, ct.fields, sec.id as secret_id, sec.secret_ciphertext
       from routing_sessions s
       join conversations cv on cv.id = s.conversation_id and cv.organization_id = s.organization_id
       join contacts ct on ct.id = cv.contact_id and ct.organization_id = cv.organization_id
       left join routing_chatbot_secrets sec on sec.organization_id = s.organization_id and sec.chatbot_id = s.object_id
       where s.id = ? and s.organization_id = ?`,
      [sessionId, organizationId],
    );
    if (!row) return undefined;
    const { callback_token_ciphertext, secret_id, secret_ciphertext, contact_id, name, phone, fields, ...session } = row;
    return {
      session,
      callbackToken: this.deps.secrets.decrypt(callback_token_ciphertext, session.id),
      conversation: { contact_id, name, phone, fields },
      secret: secret_id && secret_ciphertext ? this.deps.secrets.decrypt(secret_ciphertext, secret_id) : null,
    };
  }

  /**
   * POSTs each message to the bot, in order. The first failure (no 2xx in the connector's
   * timeout) ends the session and hands the chat to the fallback destination.
   */
  private async forward(context: RequestContext, messageIds: string[], options: { welcome?: boolean } = {}): Promise<void> {
    const { session, conversation } = context;
    const sql = sqlRunner(this.deps.orm.em.fork());
    const bot = await this.chatbot(sql, session.organization_id, session.version_id, session.object_id);
    if (!bot) {
      await this.deps.orm.em.fork().transactional((tx) => endSession(sqlRunner(tx), session.organization_id, session.id, 'chatbot_missing', this.deps.clock.now()));
      return;
    }
    const callbackUrl = `${this.deps.callbackBaseUrl.replace(/\/$/, '')}${CHATBOT_CALLBACK_PATH}/${context.callbackToken}`;
    const secret = context.secret ?? (await chatbotSecret(sql, this.deps.secrets, session.organization_id, bot.id, this.deps.clock.now()));
    const messages = messageIds.length
      ? await sql.all<MessageRow>(
          `select id, type, content, created_at from messages where id in (?) and organization_id = ? and conversation_id = ? order by id`,
          [messageIds, session.organization_id, session.conversation_id],
        )
      : [];
    // The welcome's webhook-id is the session's, so a bot can tell a redelivery from a new chat.
    const requests = [
      ...(options.welcome ? [{ webhookId: `welcome_${session.id}`, message: null }] : []),
      ...messages.map((message) => ({ webhookId: `msg_${message.id}`, message })),
    ];
    for (const { webhookId, message } of requests) {
      const body = JSON.stringify(this.requestBody(session, bot, conversation, message, callbackUrl));
      const at = this.deps.clock.now();
      const res = await this.deps.http.post(
        bot.url,
        { 'content-type': 'application/json', ...signDelivery([secret], webhookId, at, body) },
        body,
        AbortSignal.timeout(bot.timeoutMs),
      );
      const failed = res.error ?? (res.status === null || res.status < 200 || res.status >= 300 ? `status ${res.status}` : null);
      if (failed) {
        this.deps.logger.info({ organizationId: session.organization_id, chatbotId: bot.id, error: failed }, 'chatbot unreachable; the fallback takes the chat');
        await this.fallback(session, bot, failed === 'aborted' ? 'timeout' : failed);
        return;
      }
    }
  }

  private requestBody(session: SessionRow, bot: Chatbot, conversation: ConversationRow, message: MessageRow | null, callbackUrl: string) {
    const fields = conversation.fields ?? {};
    return {
      type: message ? 'message' : 'welcome',
      organizationId: session.organization_id,
      chatbotId: bot.id,
      callbackUrl,
      conversation: {
        id: session.conversation_id,
        channelId: session.channel_id,
        contact: { id: conversation.contact_id, name: conversation.name, phone: conversation.phone },
        customFields: Object.fromEntries(bot.customFields.map((f) => [f, fields[f] ?? null])),
      },
      message: message ? this.messageBody(message) : null,
    };
  }

  private messageBody(message: MessageRow) {
    const answer = answerFromMessage(message);
    const media = message.content.media as Record<string, unknown> | undefined;
    return {
      id: message.id,
      type: message.type,
      createdAt: new Date(message.created_at).toISOString(),
      text: typeof answer === 'string' ? answer : (answer?.text ?? null),
      replyId: typeof answer === 'string' ? null : (answer?.replyId ?? null),
      attachments: media
        ? [
            {
              type: message.type,
              id: media.id ?? null,
              mimeType: media.mimeType ?? null,
              filename: media.filename ?? null,
              caption: media.caption ?? null,
              sha256: media.sha256 ?? null,
            },
          ]
        : [],
    };
  }

  private async fallback(session: SessionRow, bot: Chatbot, reason: string): Promise<void> {
    const now = this.deps.clock.now();
    const ended = await this.deps.orm.em.fork().transactional((tx) => endSession(sqlRunner(tx), session.organization_id, session.id, `fallback: ${reason}`, now));
    if (!ended) return;
    await this.deps.applyDestination({
      organizationId: session.organization_id,
      conversationId: session.conversation_id,
      channelId: session.channel_id,
      destination: bot.fallback,
      versionId: session.version_id,
      at: now,
      path: [{ kind: 'chatbot', chatbotId: bot.id, outcome: 'fallback', reason }],
    });
  }

  /**
   * The connector's signing secret, for the tenant's bot to verify requests with: only for a
   * connector of the organization's draft or of a version it applied (else 404).
   */
  async signingSecret(organizationId: string, chatbotId: string): Promise<{ chatbotId: string; secret: string }> {
    return this.deps.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      const [known] = await sql.all(
        `select 1 from (
           select document from routing_drafts where organization_id = ?
           union all select document from routing_versions where organization_id = ?
         ) d where exists (select 1 from jsonb_array_elements(d.document->'chatbots') c where c->>'id' = ?) limit 1`,
        [organizationId, organizationId, chatbotId],
      );
      if (!known) throw new NotFoundError('chatbot connector');
      return { chatbotId, secret: await chatbotSecret(sql, this.deps.secrets, organizationId, chatbotId, this.deps.clock.now()) };
    });
  }

  /**
   * A bot's answer on its callback URL. An unknown token, or one whose session has ended, is a
   * 404 that changes nothing. Messages go out through the one send path as the platform's routing.
   *
   * With an `Idempotency-Key`, the answer is kept with the session in the transaction that sent
   * (or transferred), so a bot that retries after its client timed out gets the first answer and
   * nothing is sent twice — even once a transfer has ended the session. The same key with another
   * body is refused. A refused callback (422) keeps no key: it changed nothing, and a retry is
   * judged afresh.
   */
  async callback(token: string, body: ChatbotCallback, idempotencyKey?: string): Promise<ChatbotCallbackResult> {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new ValidationError([{ path: 'Idempotency-Key', message: 'Use 1-255 printable ASCII characters.' }]);
    }
    const now = this.deps.clock.now();
    const requestHash = sha256Hex(JSON.stringify(body));
    const outcome = await this.deps.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      // Locked, so a retry that arrives while the first attempt runs waits for its answer.
      const session = await this.sessionByToken(sql, token, idempotencyKey !== undefined || body.type === 'transfer');
      if (idempotencyKey !== undefined) {
        const [kept] = await sql.all<{ request_hash: string; response_body: ChatbotCallbackResult }>(
          'select request_hash, response_body from routing_chatbot_callbacks where session_id = ? and key = ?',
          [session.id, idempotencyKey],
        );
        if (kept) {
          if (kept.request_hash !== requestHash) throw new UnprocessableError('idempotency_key_reused', 'This Idempotency-Key was used with a different request.');
          return { result: kept.response_body, session, replayed: true };
        }
      }
      if (session.state !== 'active') throw new NotFoundError('chatbot conversation');
      const result = await this.answer(sql, session, body, now);
      if (idempotencyKey !== undefined) {
        await sql.run(
          `insert into routing_chatbot_callbacks (session_id, organization_id, key, request_hash, response_status, response_body, created_at) values (?, ?, ?, ?, ?, ?::jsonb, ?)`,
          [session.id, session.organization_id, idempotencyKey, requestHash, result.status === 'sent' ? 200 : 202, JSON.stringify(result), now],
        );
      }
      return { result, session, replayed: false };
    });
    if (outcome.result.status === 'transferred' && !outcome.replayed && body.type === 'transfer') {
      await this.deps.applyDestination({
        organizationId: outcome.session.organization_id,
        conversationId: outcome.session.conversation_id,
        channelId: outcome.session.channel_id,
        destination: { kind: 'queue', id: body.queueId },
        versionId: outcome.session.version_id,
        at: now,
        path: [{ kind: 'chatbot', chatbotId: outcome.session.object_id, outcome: 'transfer' }],
      });
    }
    return outcome.result;
  }

  /** Sends the bot's message, or ends the session for a transfer (the caller then applies the queue). */
  private async answer(sql: SqlRunner, session: SessionRow, body: ChatbotCallback, now: Date): Promise<ChatbotCallbackResult> {
    if (body.type === 'transfer') {
      const doc = await versionDocument(sql, session.organization_id, session.version_id);
      if (!doc?.queues.some((q) => q.id === body.queueId)) {
        throw new DomainError(422, 'unknown_queue', 'Unprocessable Entity', 'No queue of the routing version in force has this id.');
      }
      await endSession(sql, session.organization_id, session.id, 'transfer', now);
      return { status: 'transferred' };
    }
    const content: OutboundContent =
      body.type === 'text'
        ? { type: 'text', text: body.text }
        : body.type === 'url_button'
          ? {
              type: 'interactive',
              interactive: { type: 'cta_url', body: { text: body.text }, action: { name: 'cta_url', parameters: { display_text: body.button.title, url: body.button.url } } },
            }
          : quickRepliesContent(body);
    const sent = await queueMessage(sql, session.organization_id, { kind: 'system', reason: 'routing' }, { conversationId: session.conversation_id, content, channelId: session.channel_id }, now);
    return { status: 'sent', messageId: sent.id };
  }

  /**
   * The chatbot session the token names, whatever its state (a kept answer outlives the session);
   * callers that act on it check that it is active.
   */
  private async sessionByToken(sql: SqlRunner, token: string, lock: boolean): Promise<SessionRow> {
    const [row] =
      token.length >= 20 && token.length <= 100
        ? await sql.all<SessionRow>(
            `select id, organization_id, conversation_id, channel_id, kind, object_id, version_id, workflow_id, state
             from routing_sessions where callback_hash = ? and kind = 'chatbot' ${lock ? 'for update' : ''}`,
            [hashToken(token)],
          )
        : [];
    if (!row) throw new NotFoundError('chatbot conversation');
    return row;
  }
}

/**
 * Hands a conversation to a chatbot connector: the dispatcher calls it for a `chatbot` destination.
 * The bot hears of it from the session's workflow, after this returns.
 */
export async function startChatbot(deps: ChatbotDeps, workflows: ChatbotWorkflowStarter, input: ChatbotStartInput): Promise<void> {
  await new ChatbotConnector(deps).start(input, workflows);
}
