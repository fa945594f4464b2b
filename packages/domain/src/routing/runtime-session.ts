import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '@parley/core';
import { PollingJob } from '../polling';
import { type SqlRunner, sqlRunner } from '../sql';
import type { Destination } from './tree';

/*
 * A routing session: the decision tree or chatbot connector that owns a conversation now. At most
 * one is active per conversation; the contact's messages in it are handed to its owner (a
 * signal to the tree's workflow, a POST to the bot) through `routing_pending`, a row the
 * `message.create` event's trigger writes in the transaction that stored the message.
 */

/** One step of the way a chat took, for the dispatcher's path (dry runs show the same). */
export type RoutingPathStep =
  | { kind: 'decision'; treeId: string; decisionId: string; answer?: { choiceId: string | null; reason: string } | undefined }
  | { kind: 'timeout'; treeId: string; decisionId: string }
  | { kind: 'chatbot'; chatbotId: string; outcome: 'transfer' | 'fallback'; reason?: string | undefined };

export interface ApplyDestinationInput {
  organizationId: string;
  conversationId: string;
  channelId: string;
  destination: Destination;
  versionId: string;
  at: Date;
  path: RoutingPathStep[];
}

/**
 * Applies a final destination (queue, time condition, terminate, assistant, another tree or a
 * chatbot): the dispatcher's `applyDestination` in runtime.ts, handed in by whoever builds the
 * runtime, so trees and bots never decide a destination's effect themselves.
 */
export type ApplyDestinationPort = (input: ApplyDestinationInput) => Promise<void>;

/**
 * Until the dispatcher (runtime.ts) is handed in, a destination reached fails loudly: a tree's
 * activity is retried by Temporal once the worker runs with the dispatcher.
 */
export const undispatchedDestination: ApplyDestinationPort = async (input) => {
  throw new Error(`No routing dispatcher is wired to apply ${input.destination.kind} for conversation ${input.conversationId}.`);
};

export interface SessionRow {
  id: string;
  organization_id: string;
  conversation_id: string;
  channel_id: string;
  kind: 'tree' | 'chatbot';
  object_id: string;
  version_id: string;
  workflow_id: string | null;
  state: 'active' | 'ended';
}

/** Notified by the trigger that writes pending routing messages (migration 20261129210500_routing_runtime). */
export const ROUTING_WAKE_CHANNEL = 'routing';

export async function readSession(sql: SqlRunner, organizationId: string, sessionId: string, lock = false): Promise<SessionRow | undefined> {
  const [row] = await sql.all<SessionRow>(
    `select id, organization_id, conversation_id, channel_id, kind, object_id, version_id, workflow_id, state
     from routing_sessions where id = ? and organization_id = ? ${lock ? 'for update' : ''}`,
    [sessionId, organizationId],
  );
  return row;
}

/** The active session of a conversation, if a tree or bot owns it. */
export async function activeSession(sql: SqlRunner, organizationId: string, conversationId: string): Promise<SessionRow | undefined> {
  const [row] = await sql.all<SessionRow>(
    `select id, organization_id, conversation_id, channel_id, kind, object_id, version_id, workflow_id, state
     from routing_sessions where conversation_id = ? and organization_id = ? and state = 'active'`,
    [conversationId, organizationId],
  );
  return row;
}

/**
 * Ends the conversation's active session (whichever it is), so a new one can start. Answers
 * whether this call ended `sessionId` (false: it had already ended).
 */
export async function endSession(sql: SqlRunner, organizationId: string, sessionId: string, reason: string, now: Date): Promise<boolean> {
  const rows = await sql.all(
    `update routing_sessions set state = 'ended', ended_reason = ?, updated_at = ? where id = ? and organization_id = ? and state = 'active' returning id`,
    [reason.slice(0, 200), now, sessionId, organizationId],
  );
  return rows.length > 0;
}

/** A tree's or bot's new session on a conversation. */
export interface NewSession {
  id: string;
  organizationId: string;
  conversationId: string;
  channelId: string;
  kind: 'tree' | 'chatbot';
  objectId: string;
  versionId: string;
  workflowId: string;
  at: Date;
  /** A bot's callback token: its hash, to find the session by, and sealed, to tell the bot. */
  callback?: { hash: string; ciphertext: string };
}

/**
 * Gives a conversation a new session, ending the one it had ('replaced'). Both statements go in one
 * round trip (`run` writes the values into the text and sends it as one simple query, which
 * PostgreSQL, and PGlite, run as one transaction): a new chat on a tree or bot waits for this
 * before its workflow starts, and each round trip adds to that wait. Answers the new session's row.
 */
export async function openSession(sql: SqlRunner, session: NewSession): Promise<SessionRow> {
  await sql.run(
    `update routing_sessions set state = 'ended', ended_reason = ?, updated_at = ? where conversation_id = ? and organization_id = ? and state = 'active';
     insert into routing_sessions (id, organization_id, conversation_id, channel_id, kind, object_id, version_id, workflow_id, callback_hash, callback_token_ciphertext, state, created_at, updated_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)`,
    [
      'replaced',
      session.at,
      session.conversationId,
      session.organizationId,
      session.id,
      session.organizationId,
      session.conversationId,
      session.channelId,
      session.kind,
      session.objectId,
      session.versionId,
      session.workflowId,
      session.callback?.hash ?? null,
      session.callback?.ciphertext ?? null,
      session.at,
      session.at,
    ],
  );
  return {
    id: session.id,
    organization_id: session.organizationId,
    conversation_id: session.conversationId,
    channel_id: session.channelId,
    kind: session.kind,
    object_id: session.objectId,
    version_id: session.versionId,
    workflow_id: session.workflowId,
    state: 'active',
  };
}

/** Hands contact messages to a session's owner. */
export interface RoutingMessageHandler {
  /** A tree's workflow: signal it (an id it already has is ignored there). */
  signalTree(session: SessionRow, messageIds: string[]): Promise<void>;
  /**
   * A chatbot: hand the messages to the session's workflow, which POSTs them to the bot in order
   * (failures are the connector's to handle: fallback). Never waits for the bot itself, so a slow
   * bot holds no batch.
   */
  forwardToChatbot(session: SessionRow, messageIds: string[]): Promise<void>;
  /** The session ended: its workflow (tree or bot) stops waiting and ends; one already over is left alone. */
  sessionEnded(session: SessionRow): Promise<void>;
}

/**
 * Hands the contact messages of tree- and bot-owned conversations to their owner, as the
 * assistant's signaller does: the row is deleted in the transaction that handed it on, so a crash
 * in between hands it on again (the workflow ignores a message it has, a bot gets it again).
 */
export class RoutingSignaller extends PollingJob {
  private readonly batchSize: number;
  private readonly organizationIds: readonly string[] | null;

  constructor(
    private readonly orm: MikroORM,
    private readonly handler: RoutingMessageHandler,
    logger: Logger,
    options: { pollMs?: number; batchSize?: number; organizationIds?: readonly string[] } = {},
  ) {
    super(logger, options.pollMs ?? 500, 'routing message hand-over');
    this.batchSize = options.batchSize ?? 100;
    this.organizationIds = options.organizationIds ?? null;
  }

  async drain(): Promise<number> {
    return this.drainBatches(this.batchSize, () => this.batch());
  }

  private async batch(): Promise<number> {
    return this.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      const orgs = this.organizationIds ? JSON.stringify(this.organizationIds) : null;
      const rows = await sql.all<{ event_id: string; session_id: string; message_id: string | null }>(
        `select p.event_id, p.session_id, p.message_id from routing_pending p
         where (?::jsonb is null or p.organization_id in (select value::uuid from jsonb_array_elements_text(?::jsonb)))
         order by p.created_at, p.event_id limit ? for update of p skip locked`,
        [orgs, orgs, this.batchSize],
      );
      if (!rows.length) return 0;
      const bySession = new Map<string, { messageIds: string[]; ended: boolean }>();
      for (const r of rows) {
        const pending = bySession.get(r.session_id) ?? { messageIds: [], ended: false };
        // No message: the notice that the session ended (its trigger).
        if (r.message_id === null) pending.ended = true;
        else pending.messageIds.push(r.message_id);
        bySession.set(r.session_id, pending);
      }
      const sessions = await sql.all<SessionRow>(
        `select id, organization_id, conversation_id, channel_id, kind, object_id, version_id, workflow_id, state from routing_sessions where id in (?)`,
        [[...bySession.keys()]],
      );
      await Promise.all(
        sessions.map(async (session) => {
          const pending = bySession.get(session.id)!;
          // Ended since the message came: the next owner (a queue, another tree) has it, and the
          // session's workflow only needs to hear that it is over.
          if (session.state !== 'active') {
            if (pending.ended) await this.handler.sessionEnded(session);
            return;
          }
          if (!pending.messageIds.length) return;
          if (session.kind === 'tree') await this.handler.signalTree(session, pending.messageIds);
          else await this.handler.forwardToChatbot(session, pending.messageIds);
        }),
      );
      await sql.run('delete from routing_pending where event_id in (?)', [rows.map((r) => r.event_id)]);
      return rows.length;
    });
  }
}
