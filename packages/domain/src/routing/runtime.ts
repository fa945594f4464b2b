import type { MikroORM } from '@mikro-orm/postgresql';
import { type Clock, DomainError, type Logger } from '@parley/core';
import { conversationUpdated, recordEvent } from '../events';
import { PollingJob } from '../polling';
import { queueMessage } from '../sending';
import { type SqlRunner, sqlRunner } from '../sql';
import { type ChannelRouting, type RoutingDocument } from './config';
import { fillTemplate } from './placeholders';
import { enqueueConversation } from './queues';
import { type ChatbotDeps, chatbotWorkflow, type ChatbotWorkflowStarter, startChatbot } from './runtime-chatbot';
import { liveDocument, versionById } from './runtime-live';
import type { ApplyDestinationInput, ApplyDestinationPort, RoutingPathStep, SessionRow } from './runtime-session';
import { startDecisionTree, type TreeWorkflowStarter } from './runtime-tree';
import { organizationTimeZone } from './service';
import { evaluateTimeCondition } from './time';
import type { Destination } from './tree';

/*
 * The routing dispatcher (docs/routing.md, "Runtime"). A new or reopened conversation leaves a row
 * in `routing_inbound` (a trigger, in the transaction that stored the contact's message); the
 * RoutingRunner takes each row and, in one transaction with deleting it, evaluates the channel's
 * first destination in the live version and applies it. The plan (which destination, through
 * which time conditions) is pure and is what the dry run shows; the effects (enqueue, messages,
 * ending the chat, starting a tree or bot) happen only here.
 */

/** One step of the way a chat took. Trees and bots add theirs (runtime-session.ts). */
export type RoutingStep =
  | { kind: 'channel'; channelId: string; version: number | null; first: Destination }
  | { kind: 'time_condition'; timeConditionId: string; timeGroupId: string; open: boolean }
  | RoutingPathStep;

/** A destination that is not a time condition: where the chat actually goes. */
export type FinalDestination = Destination & { kind: Exclude<Destination['kind'], 'time_condition'> };

/**
 * Follows time conditions from `destination` at `at` in `zone` to the first destination that is
 * not one. The runtime and the dry run both decide through here.
 */
export function planDestination(document: RoutingDocument, destination: Destination, at: Date, zone: string): { destination: FinalDestination; steps: RoutingStep[] } {
  if (destination.kind !== 'time_condition') return { destination: destination as FinalDestination, steps: [] };
  const { destination: final, path } = evaluateTimeCondition(document, destination.id!, at, zone);
  return { destination: final as FinalDestination, steps: path.map((p) => ({ kind: 'time_condition' as const, ...p })) };
}

/** The channel's routing in a document, with the first step of its path. */
export function channelPlan(document: RoutingDocument, channelId: string, version: number | null): { routing: ChannelRouting; step: RoutingStep } | null {
  const routing = document.channels.find((c) => c.channelId === channelId);
  if (!routing) return null;
  return { routing, step: { kind: 'channel', channelId, version, first: routing.first } };
}

/**
 * Starts a decision tree or a chatbot connector on a conversation (`startDecisionTree` in
 * runtime-tree.ts, `startChatbot` in runtime-chatbot.ts). They run their own transactions and
 * call out (Temporal, the bot's URL), so they are called after the routing has committed.
 */
export interface TreeAndBotStarters {
  startDecisionTree(input: StartInput & { treeId: string }): Promise<void>;
  startChatbot(input: StartInput & { chatbotId: string; messageId: string | null }): Promise<void>;
  /**
   * For a retry that finds the session already open (a crash after it was recorded): hands the
   * start to the session's workflow again, which ignores what it already has.
   */
  resume?(session: SessionRow, start: PendingStart): Promise<void>;
}

export interface StartInput {
  organizationId: string;
  conversationId: string;
  channelId: string;
  versionId: string;
  at: Date;
}

/** A tree or bot to start once the routing that chose it has committed. */
export type PendingStart = { kind: 'decision_tree'; input: StartInput & { treeId: string } } | { kind: 'chatbot'; input: StartInput & { chatbotId: string; messageId: string | null } };

/** What happened to an auto-response: queued (its message id) or refused by the send path (its problem code). */
export type AutoResponseOutcome = { sent: true; messageId: string } | { sent: false; code: string; detail: string };

export interface RoutingOutcome {
  destination: FinalDestination;
  steps: RoutingStep[];
  queue?: { queueId: string; position: number; averageWaitMinutes: number } | undefined;
  autoResponse?: AutoResponseOutcome | undefined;
  /** For a tree or bot: what to start after the commit (`RoutingDispatcher.start`). */
  start?: PendingStart | undefined;
}

interface DispatchInput {
  organizationId: string;
  conversationId: string;
  channelId: string;
  versionId: string;
  versionNumber: number | null;
  document: RoutingDocument;
  destination: Destination;
  at: Date;
  zone: string;
  messageId: string | null;
  messageEventId: string | null;
  reason: string;
  /** Steps already taken (the channel's, a tree's); the new ones are added after them. */
  steps: RoutingStep[];
}

const ACTOR = { kind: 'system', reason: 'routing' } as const;

/** Sends through the one send path; a refusal (window, consent, template) is an outcome, not an error. */
async function trySend(sql: SqlRunner, organizationId: string, conversationId: string, content: Parameters<typeof queueMessage>[3]['content'], now: Date): Promise<AutoResponseOutcome> {
  try {
    const message = await queueMessage(sql, organizationId, ACTOR, { conversationId, content }, now);
    return { sent: true, messageId: message.id };
  } catch (err) {
    if (err instanceof DomainError) return { sent: false, code: err.code, detail: err.message };
    throw err;
  }
}

export class RoutingDispatcher {
  constructor(
    private readonly clock: Clock,
    private readonly starters: TreeAndBotStarters | null,
  ) {}

  /**
   * Applies a destination to a conversation, following time conditions, and records where it
   * went. Runs in the caller's transaction.
   */
  async dispatch(sql: SqlRunner, input: DispatchInput): Promise<RoutingOutcome> {
    const plan = planDestination(input.document, input.destination, input.at, input.zone);
    const steps = [...input.steps, ...plan.steps];
    const d = plan.destination;
    const now = this.clock.now();
    const record = { ...input, destination: d, steps };
    switch (d.kind) {
      case 'queue': {
        const queue = input.document.queues.find((q) => q.id === d.id);
        if (!queue) throw new Error(`queue ${d.id} is not in version ${input.versionId}`);
        const standing = await enqueueConversation(sql, input.organizationId, queue.id, input.conversationId, now);
        let autoResponse: AutoResponseOutcome | undefined;
        if (queue.autoResponse) {
          const [contact] = await sql.all<{ name: string | null; phone: string | null }>(
            'select ct.name, ct.phone from conversations cv join contacts ct on ct.id = cv.contact_id where cv.id = ? and cv.organization_id = ?',
            [input.conversationId, input.organizationId],
          );
          const text = fillTemplate(queue.autoResponse, {
            contact: contact ?? {},
            conversation: { id: input.conversationId },
            queue: { position: standing.position, averageWaitMinutes: standing.averageWaitMinutes, name: queue.name },
          });
          autoResponse = await trySend(sql, input.organizationId, input.conversationId, { type: 'text', text }, now);
        }
        await recordRouting(sql, record, { autoResponse }, now);
        // Told like any change of the conversation, so agents' queue lists and partners follow it live.
        if (standing.previousQueueId !== queue.id) {
          await recordEvent(
            sql,
            input.organizationId,
            'conversation.update',
            await conversationUpdated(sql, input.organizationId, input.conversationId, { queueId: queue.id }, { queueId: standing.previousQueueId }, now),
            now,
          );
        }
        return { destination: d, steps, queue: { queueId: queue.id, position: standing.position, averageWaitMinutes: standing.averageWaitMinutes }, autoResponse };
      }
      case 'terminate':
        return this.terminate(sql, record, now);
      case 'assistant':
        await recordRouting(sql, record, {}, now);
        await handToAssistant(sql, input);
        return { destination: d, steps };
      case 'decision_tree':
      case 'chatbot': {
        await recordRouting(sql, record, {}, now);
        const base: StartInput = { organizationId: input.organizationId, conversationId: input.conversationId, channelId: input.channelId, versionId: input.versionId, at: now };
        if (d.kind === 'decision_tree') return { destination: d, steps, start: { kind: 'decision_tree', input: { ...base, treeId: d.id! } } };
        // None in a conversation the contact opened without writing: the bot then starts with a welcome.
        const messageId = input.messageId ?? (await lastContactMessage(sql, input.organizationId, input.conversationId));
        return { destination: d, steps, start: { kind: 'chatbot', input: { ...base, chatbotId: d.id!, messageId } } };
      }
    }
  }

  /**
   * Starts the tree or bot a committed routing chose, unless it already runs since `since` (a
   * retry after a crash between the start and the cleanup), so each routing starts it once.
   */
  async start(sql: SqlRunner, start: PendingStart, since: Date): Promise<void> {
    const [running] = await sql.all<SessionRow>(
      `select id, organization_id, conversation_id, channel_id, kind, object_id, version_id, workflow_id, state from routing_sessions
       where organization_id = ? and conversation_id = ? and state = 'active' and kind = ? and object_id = ? and created_at >= ?`,
      [start.input.organizationId, start.input.conversationId, start.kind === 'decision_tree' ? 'tree' : 'chatbot', start.kind === 'decision_tree' ? start.input.treeId : start.input.chatbotId, since],
    );
    if (!this.starters) throw new Error('decision trees and chatbots are not wired into this routing runtime');
    if (running) {
      // The session was recorded, but whether its workflow heard of it was not: ask again.
      await this.starters.resume?.(running, start);
      return;
    }
    if (start.kind === 'decision_tree') await this.starters.startDecisionTree(start.input);
    else await this.starters.startChatbot(start.input);
  }

  /**
   * Ends the chat: the cause, answered flag and missed-chat queue are recorded, the optional
   * template is sent where the send path allows it, and the conversation is resolved, so the
   * contact's next message reopens it and is routed afresh.
   */
  private async terminate(sql: SqlRunner, input: DispatchInput & { destination: FinalDestination; steps: RoutingStep[] }, now: Date): Promise<RoutingOutcome> {
    const terminate = input.destination.id ? input.document.terminates.find((t) => t.id === input.destination.id) : undefined;
    let autoResponse: AutoResponseOutcome | undefined;
    if (terminate?.autoResponseTemplate) {
      // The set-up names a template; the language is the one the channel has it in (approved first).
      const [template] = await sql.all<{ language: string }>(
        `select language from templates where organization_id = ? and channel_id = ? and name = ? order by (status = 'APPROVED') desc, language limit 1`,
        [input.organizationId, input.channelId, terminate.autoResponseTemplate],
      );
      autoResponse = await trySend(
        sql,
        input.organizationId,
        input.conversationId,
        { type: 'template', template: { name: terminate.autoResponseTemplate, language: template?.language ?? 'en_US' } },
        now,
      );
    }
    await recordRouting(
      sql,
      input,
      { cause: terminate?.cause ?? null, answered: terminate?.answered ?? false, missedChatQueueId: terminate?.missedChatQueueId ?? null, autoResponse },
      now,
    );
    const resolved = await sql.all(`update conversations set status = 'resolved', updated_at = ? where id = ? and organization_id = ? and status = 'active' returning id`, [
      now,
      input.conversationId,
      input.organizationId,
    ]);
    if (resolved.length) {
      await recordEvent(sql, input.organizationId, 'conversation.update', await conversationUpdated(sql, input.organizationId, input.conversationId, { status: 'resolved' }, { status: 'active' }, now), now);
    }
    return { destination: input.destination, steps: input.steps, autoResponse };
  }

  /**
   * For trees and bots reaching a final destination (their `ApplyDestinationPort`): applies it in
   * the version the session started in, after the path they took.
   */
  async applyDestination(sql: SqlRunner, input: ApplyDestinationInput): Promise<RoutingOutcome> {
    const version = await versionById(sql, input.organizationId, input.versionId);
    if (!version) throw new Error(`routing version ${input.versionId} not found`);
    const [previous] = await sql.all<{ path: RoutingStep[] | string; reason: string }>('select path, reason from routing_conversations where conversation_id = ? and organization_id = ?', [
      input.conversationId,
      input.organizationId,
    ]);
    const before = previous ? (typeof previous.path === 'string' ? (JSON.parse(previous.path) as RoutingStep[]) : previous.path) : [];
    return this.dispatch(sql, {
      organizationId: input.organizationId,
      conversationId: input.conversationId,
      channelId: input.channelId,
      versionId: version.versionId,
      versionNumber: version.versionNumber,
      document: version.document,
      destination: input.destination,
      at: input.at,
      zone: await organizationTimeZone(sql, input.organizationId),
      messageId: null,
      messageEventId: null,
      reason: previous?.reason ?? 'created',
      steps: [...before, ...input.path],
    });
  }
}

async function lastContactMessage(sql: SqlRunner, organizationId: string, conversationId: string): Promise<string | null> {
  const [row] = await sql.all<{ id: string }>(`select id from messages where organization_id = ? and conversation_id = ? and direction = 'inbound' order by id desc limit 1`, [
    organizationId,
    conversationId,
  ]);
  return row?.id ?? null;
}

/**
 * What trees and bots call when they reach a final destination (runtime-session.ts's
 * `ApplyDestinationPort`): applied in its own transaction, a further tree or bot started after it.
 */
export function applyDestinationPort(orm: MikroORM, dispatcher: RoutingDispatcher): ApplyDestinationPort {
  return async (input) => {
    const outcome = await orm.em.fork().transactional((tx) => dispatcher.applyDestination(sqlRunner(tx), input));
    if (outcome.start) await dispatcher.start(sqlRunner(orm.em.fork()), outcome.start, input.at);
  };
}

/** Who may answer now is the assistant: its pending turn for the contact's message is written here. */
async function handToAssistant(sql: SqlRunner, input: DispatchInput): Promise<void> {
  if (!input.messageId || !input.messageEventId) return;
  const rows = await sql.all(
    `insert into assistant_pending (event_id, organization_id, conversation_id, channel_id, message_id, created_at)
     select ?, ?, ?, s.channel_id, ?, ? from assistant_settings s where s.channel_id = ? and s.organization_id = ? and s.mode <> 'off'
     on conflict do nothing returning event_id`,
    [input.messageEventId, input.organizationId, input.conversationId, input.messageId, input.at, input.channelId, input.organizationId],
  );
  if (rows.length) await sql.all(`select pg_notify('assistant', '')`);
}

async function recordRouting(
  sql: SqlRunner,
  input: DispatchInput & { destination: FinalDestination; steps: RoutingStep[] },
  extra: { cause?: string | null; answered?: boolean; missedChatQueueId?: string | null; autoResponse?: AutoResponseOutcome | undefined },
  now: Date,
): Promise<void> {
  await sql.run(
    `insert into routing_conversations (conversation_id, organization_id, channel_id, version_id, version_number, reason, destination, path, cause, answered, missed_chat_queue_id, auto_response, error, routed_at)
     values (?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?, ?::jsonb, null, ?)
     on conflict (conversation_id) do update set channel_id = excluded.channel_id, version_id = excluded.version_id, version_number = excluded.version_number,
       reason = excluded.reason, destination = excluded.destination, path = excluded.path, cause = excluded.cause, answered = excluded.answered,
       missed_chat_queue_id = excluded.missed_chat_queue_id, auto_response = excluded.auto_response, error = null, routed_at = excluded.routed_at`,
    [
      input.conversationId,
      input.organizationId,
      input.channelId,
      input.versionId,
      input.versionNumber,
      input.reason,
      JSON.stringify(input.destination),
      JSON.stringify(input.steps),
      extra.cause ?? null,
      extra.answered ?? null,
      extra.missedChatQueueId ?? null,
      extra.autoResponse ? JSON.stringify(extra.autoResponse) : null,
      now,
    ],
  );
}

interface InboundRow {
  conversation_id: string;
  organization_id: string;
  channel_id: string;
  reason: string;
  message_id: string | null;
  message_event_id: string | null;
  attempts: number;
  created_at: Date | string;
}

/** Notified by the trigger that writes `routing_inbound` (migration 20261129211000_routing_inbound). */
export const ROUTING_INBOUND_WAKE_CHANNEL = 'routing_inbound';

/** Attempts before a conversation that cannot be routed is recorded with its error and left to people. */
export const MAX_ROUTING_ATTEMPTS = 5;

/**
 * Routes the conversations waiting in `routing_inbound`, each in its own transaction with the
 * deletion of its row, so a crash before the commit routes it again and one after never does.
 *
 * Several lanes route side by side, each taking the oldest row no other lane holds (SKIP LOCKED)
 * as soon as it is free. Routing one conversation is a handful of round trips to the database; one
 * at a time, a burst (or a machine whose CPUs are busy, which makes each round trip slow) left
 * every conversation waiting behind the ones before it, and the wake-up only added one more pass
 * after the batch under way, so routing looked as if it had fallen back to its poll.
 */
export class RoutingRunner extends PollingJob {
  private readonly lanes: number;
  private readonly organizationIds: readonly string[] | null;

  constructor(
    private readonly orm: MikroORM,
    private readonly dispatcher: RoutingDispatcher,
    logger: Logger,
    options: { pollMs?: number; lanes?: number; organizationIds?: readonly string[] } = {},
  ) {
    super(logger, options.pollMs ?? 1000, 'inbound routing');
    this.lanes = Math.max(1, options.lanes ?? 4);
    this.organizationIds = options.organizationIds ?? null;
  }

  async drain(): Promise<number> {
    // As many lanes as there are conversations due (up to `lanes`): a wake-up for one new chat
    // sent every lane to claim, and the idle ones each spent three round trips finding nothing.
    const orgs = this.organizationIds ? JSON.stringify(this.organizationIds) : null;
    const [due] = await sqlRunner(this.orm.em.fork()).all<{ n: number }>(
      `select count(*)::int as n from (
         select 1 from routing_inbound where next_attempt_at <= now()
           and (?::jsonb is null or organization_id in (select value::uuid from jsonb_array_elements_text(?::jsonb)))
         limit ?
       ) d`,
      [orgs, orgs, this.lanes],
    );
    const lanes = await Promise.all(Array.from({ length: Math.min(this.lanes, due?.n ?? 0) }, () => this.drainLane()));
    return lanes.reduce((a, b) => a + b, 0);
  }

  private async drainLane(): Promise<number> {
    let routed = 0;
    while (!this.stopping) {
      const { outcome } = await this.claimAndRoute(null);
      if (outcome === 'none') break;
      if (outcome === 'routed') routed++;
    }
    return routed;
  }

  /** Routes one conversation; false when another worker holds it or it was already done. */
  async routeOne(conversationId: string): Promise<boolean> {
    return (await this.claimAndRoute(conversationId)).outcome === 'routed';
  }

  /**
   * Takes the named row, or else the oldest due one no one holds, and routes it. `none`: there was
   * nothing to take; `failed`: routing it failed (it is retried later, with backoff).
   */
  protected async claimAndRoute(conversationId: string | null): Promise<{ outcome: 'routed' | 'failed' | 'none'; conversationId?: string | undefined }> {
    let claimed: string | undefined;
    try {
      const routed = await this.orm.em.fork().transactional(async (tx) => {
        const sql = sqlRunner(tx);
        const orgs = this.organizationIds ? JSON.stringify(this.organizationIds) : null;
        const [row] = conversationId
          ? await sql.all<InboundRow>('select * from routing_inbound where conversation_id = ? for update skip locked', [conversationId])
          : await sql.all<InboundRow>(
              `select * from routing_inbound where next_attempt_at <= now()
                 and (?::jsonb is null or organization_id in (select value::uuid from jsonb_array_elements_text(?::jsonb)))
               order by created_at, conversation_id limit 1 for update skip locked`,
              [orgs, orgs],
            );
        if (!row) return null;
        claimed = row.conversation_id;
        const outcome = await routeInbound(sql, this.dispatcher, row);
        if (outcome?.start) {
          // The tree or bot starts after this commits; the row stays, leased, until it has.
          await sql.run(`update routing_inbound set next_attempt_at = now() + interval '1 minute' where conversation_id = ?`, [row.conversation_id]);
          return { start: outcome.start, since: new Date(row.created_at) };
        }
        await sql.run('delete from routing_inbound where conversation_id = ?', [row.conversation_id]);
        return { start: undefined, since: new Date(row.created_at) };
      });
      if (!routed) return { outcome: 'none' };
      if (routed.start) {
        await this.dispatcher.start(sqlRunner(this.orm.em.fork()), routed.start, routed.since);
        await sqlRunner(this.orm.em.fork()).run('delete from routing_inbound where conversation_id = ?', [claimed]);
      }
      return { outcome: 'routed', conversationId: claimed };
    } catch (err) {
      const failed = claimed ?? conversationId;
      // A failure before any row was taken (the database went away): this pass ends, the poll retries.
      if (!failed) throw err;
      await this.failed(failed, err);
      return { outcome: 'failed', conversationId: failed };
    }
  }

  private async failed(conversationId: string, err: unknown): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    await this.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      const [row] = await sql.all<InboundRow>(
        `update routing_inbound set attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => least(300, 2 ^ (attempts + 1)))
         where conversation_id = ? returning *`,
        [conversationId],
      );
      if (!row) return;
      this.logger.warn({ err, conversationId, attempts: row.attempts }, 'routing a conversation failed');
      if (row.attempts < MAX_ROUTING_ATTEMPTS) return;
      // Given up: the conversation stays where it is (with people), and says why it was not routed.
      await sql.run(
        `insert into routing_conversations (conversation_id, organization_id, channel_id, reason, destination, path, error, routed_at)
         values (?, ?, ?, ?, 'null'::jsonb, '[]'::jsonb, ?, now())
         on conflict (conversation_id) do update set error = excluded.error, routed_at = excluded.routed_at`,
        [row.conversation_id, row.organization_id, row.channel_id, row.reason, message.slice(0, 500)],
      );
      await sql.run('delete from routing_inbound where conversation_id = ?', [conversationId]);
    });
  }
}

/**
 * Routes one waiting conversation by the live version of its organization. A conversation a
 * person already has (assigned), or that was closed meanwhile, keeps its place; a channel the
 * live version does not route is left alone.
 */
export async function routeInbound(sql: SqlRunner, dispatcher: RoutingDispatcher, row: InboundRow): Promise<RoutingOutcome | null> {
  const at = new Date(row.created_at);
  const live = await liveDocument(sql, row.organization_id, at);
  const plan = live && channelPlan(live.document, row.channel_id, live.versionNumber);
  if (!live || !plan) return null;
  const [conversation] = await sql.all<{ status: string; assignee: string | null }>('select status, assignee from conversations where id = ? and organization_id = ? for update', [
    row.conversation_id,
    row.organization_id,
  ]);
  if (!conversation || conversation.status !== 'active' || conversation.assignee) return null;
  return dispatcher.dispatch(sql, {
    organizationId: row.organization_id,
    conversationId: row.conversation_id,
    channelId: row.channel_id,
    versionId: live.versionId,
    versionNumber: live.versionNumber,
    document: live.document,
    destination: plan.routing.first,
    at,
    zone: await organizationTimeZone(sql, row.organization_id),
    messageId: row.message_id,
    messageEventId: row.message_event_id,
    reason: row.reason,
    steps: [plan.step],
  });
}

/**
 * The routing runtime as a process wires it: the dispatcher, with trees started as Temporal
 * workflows and bots through their connector, and the `applyDestination` trees and bots call
 * back into (the connector needs it too, hence the late binding).
 */
export function routingRuntime(deps: {
  orm: MikroORM;
  clock: Clock;
  trees: TreeWorkflowStarter;
  chatbotWorkflows: ChatbotWorkflowStarter;
  chatbot: Omit<ChatbotDeps, 'applyDestination'>;
}): {
  dispatcher: RoutingDispatcher;
  applyDestination: ApplyDestinationPort;
  chatbotDeps: ChatbotDeps;
} {
  const chatbotDeps: ChatbotDeps = { ...deps.chatbot, applyDestination: (input) => applyDestination(input) };
  const dispatcher = new RoutingDispatcher(deps.clock, {
    startDecisionTree: (input) => startDecisionTree({ orm: deps.orm, trees: deps.trees }, input),
    startChatbot: (input) => startChatbot(chatbotDeps, deps.chatbotWorkflows, input),
    resume: async (session, start) => {
      if (!session.workflow_id) return;
      if (start.kind === 'decision_tree') {
        await deps.trees.start(session.workflow_id, {
          organizationId: session.organization_id,
          conversationId: session.conversation_id,
          channelId: session.channel_id,
          treeId: session.object_id,
          versionId: session.version_id,
          sessionId: session.id,
        });
        return;
      }
      const { workflowId, input } = chatbotWorkflow(session);
      await deps.chatbotWorkflows.deliver(workflowId, input, start.input.messageId ? { messageIds: [start.input.messageId] } : { messageIds: [], welcome: true });
    },
  });
  const applyDestination = applyDestinationPort(deps.orm, dispatcher);
  return { dispatcher, applyDestination, chatbotDeps };
}
