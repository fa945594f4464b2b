import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { type Clock, DomainError, type Logger, newId } from '@parley/core';
import { conversationUpdated, recordEvent } from '../events';
import { queueMessage, type OutboundContent } from '../sending';
import { type SqlRunner, sqlRunner } from '../sql';
import type { WebhookHttpClient } from '../webhooks/http';
import { detectLanguage, pickLanguage } from './language';
import { answerFromMessage, matchAnswer } from './matching';
import { fillTemplate, type PlaceholderSources } from './placeholders';
import { renderQuestion } from './render';
import { type ApplyDestinationPort, endSession, openSession, readSession, type RoutingPathStep } from './runtime-session';
import { versionDocument } from './runtime-live';
import { type Action, type Decision, type DecisionTree, type Destination, type Target } from './tree';

/*
 * The decision-tree runtime (docs/routing.md, "Trees at runtime"). A tree runs as one Temporal
 * workflow per session (routingTreeWorkflow, workflows/src/routing.ts) whose id carries the
 * tenant, the conversation and the session; the workflow holds where the contact is, and each
 * step's effects are activities built on TreeRuntime below. Every effect is recorded in
 * `routing_steps` under a key made of the workflow id and the step, in the transaction that made
 * it, so a retried activity (a worker that died mid-step) sends or creates nothing twice.
 */

export interface TreeWorkflowInput {
  organizationId: string;
  conversationId: string;
  channelId: string;
  treeId: string;
  versionId: string;
  sessionId: string;
}

/** Starts a session's workflow; a second start of the same id is a no-op. */
export interface TreeWorkflowStarter {
  start(workflowId: string, input: TreeWorkflowInput): Promise<void>;
  signal(workflowId: string, messageIds: string[]): Promise<void>;
  /** Tells the session's workflow that the session ended, so it stops waiting for the contact. */
  end(workflowId: string): Promise<void>;
}

export interface TreeStartDeps {
  orm: MikroORM;
  trees: TreeWorkflowStarter;
}

/** Tenant, conversation and session in the id: no two tenants (or sessions) share a workflow. */
export function treeWorkflowId(organizationId: string, conversationId: string, sessionId: string): string {
  return `routing-tree:${organizationId}:${conversationId}:${sessionId}`;
}

/**
 * Hands a conversation to a decision tree: ends whatever session it had, records the new one and
 * starts its workflow. The dispatcher calls it for a `decision_tree` destination.
 */
export async function startDecisionTree(
  deps: TreeStartDeps,
  input: { organizationId: string; conversationId: string; channelId: string; treeId: string; versionId: string; at: Date },
): Promise<void> {
  const sessionId = newId();
  const workflowId = treeWorkflowId(input.organizationId, input.conversationId, sessionId);
  await openSession(sqlRunner(deps.orm.em.fork()), {
    id: sessionId,
    organizationId: input.organizationId,
    conversationId: input.conversationId,
    channelId: input.channelId,
    kind: 'tree',
    objectId: input.treeId,
    versionId: input.versionId,
    workflowId,
    at: input.at,
  });
  await deps.trees.start(workflowId, { ...input, sessionId });
}

export interface StepInput extends TreeWorkflowInput {
  workflowId: string;
  decisionId: string;
  /** The number of the decision visit in this session (a decision may be visited again). */
  step: number;
}

/** What the workflow does after a decision's actions. */
export type DecisionOutcome =
  | { kind: 'ended' }
  | { kind: 'immediate'; target: Target }
  | { kind: 'question'; timeout: { seconds: number; target: Target } | null };

export type AnswerOutcome = { kind: 'ignored' } | { kind: 'ended' } | { kind: 'answered'; target: Target; choiceId: string | null; reason: string };

export interface TreeRuntimeDeps {
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
  /** Reaches URL requests' targets under the partner-webhook rules. */
  http: WebhookHttpClient;
  applyDestination: ApplyDestinationPort;
}

interface ContextRow {
  name: string | null;
  phone: string | null;
  fields: Record<string, unknown> | null;
  routing_data: Record<string, unknown> | null;
  request_id: string | null;
  status: string;
}

/** The ticket id made from a step key: `TKT-` and 12 characters of its hash, the same on every retry. */
export function ticketId(stepKey: string): string {
  return `TKT-${createHash('sha256').update(stepKey).digest('hex').slice(0, 12).toUpperCase()}`;
}

export class TreeRuntime {
  constructor(private readonly deps: TreeRuntimeDeps) {}

  private async tree(sql: SqlRunner, input: TreeWorkflowInput): Promise<DecisionTree | undefined> {
    const doc = await versionDocument(sql, input.organizationId, input.versionId);
    return doc?.decisionTrees.find((t) => t.id === input.treeId)?.tree;
  }

  private async context(sql: SqlRunner, input: TreeWorkflowInput): Promise<ContextRow | undefined> {
    const [row] = await sql.all<ContextRow>(
      `select ct.name, ct.phone, ct.fields, cv.routing_data, cv.request_id, cv.status
       from conversations cv join contacts ct on ct.id = cv.contact_id and ct.organization_id = cv.organization_id
       where cv.id = ? and cv.organization_id = ?`,
      [input.conversationId, input.organizationId],
    );
    return row;
  }

  private sources(input: TreeWorkflowInput, ctx: ContextRow): PlaceholderSources {
    return { contact: { name: ctx.name, phone: ctx.phone }, conversation: { id: input.conversationId }, data: ctx.routing_data ?? {} };
  }

  /** The contact's language among the tree's: the profile's locale, else their last text. */
  private async language(sql: SqlRunner, input: TreeWorkflowInput, tree: DecisionTree, ctx: ContextRow): Promise<string> {
    const [last] = await sql.all<{ type: string; content: Record<string, unknown> }>(
      `select type, content from messages where conversation_id = ? and organization_id = ? and direction = 'inbound' order by id desc limit 1`,
      [input.conversationId, input.organizationId],
    );
    const answer = last ? answerFromMessage(last) : null;
    const text = typeof answer === 'string' ? answer : (answer?.text ?? null);
    const locale = typeof ctx.fields?.locale === 'string' ? ctx.fields.locale : null;
    return detectLanguage(locale, text, { languages: tree.languages ?? [], defaultLanguage: tree.defaultLanguage });
  }

  private async done(sql: SqlRunner, organizationId: string, key: string): Promise<boolean> {
    const [row] = await sql.all('select 1 from routing_steps where id = ? and organization_id = ?', [key, organizationId]);
    return !!row;
  }

  private async record(sql: SqlRunner, input: TreeWorkflowInput, key: string, result: Record<string, unknown>): Promise<void> {
    await sql.run(`insert into routing_steps (id, organization_id, conversation_id, result, created_at) values (?, ?, ?, ?::jsonb, ?)`, [
      key,
      input.organizationId,
      input.conversationId,
      JSON.stringify(result),
      this.deps.clock.now(),
    ]);
  }

  private async active(sql: SqlRunner, input: TreeWorkflowInput): Promise<boolean> {
    const session = await readSession(sql, input.organizationId, input.sessionId);
    return session?.state === 'active';
  }

  /** The tree's first decision, or null when the session is over (or the tree gone from its version). */
  async startDecision(input: TreeWorkflowInput): Promise<string | null> {
    const sql = sqlRunner(this.deps.orm.em.fork());
    if (!(await this.active(sql, input))) return null;
    const start = (await this.tree(sql, input))?.start;
    if (start) return start;
    await this.deps.orm.em.fork().transactional((tx) => endSession(sqlRunner(tx), input.organizationId, input.sessionId, 'tree_missing', this.deps.clock.now()));
    return null;
  }

  /** Runs a decision's actions in order (each once), and says what comes next. */
  async runDecision(input: StepInput): Promise<DecisionOutcome> {
    const sql = sqlRunner(this.deps.orm.em.fork());
    if (!(await this.active(sql, input))) return { kind: 'ended' };
    const tree = await this.tree(sql, input);
    const decision = tree?.decisions.find((d) => d.id === input.decisionId);
    if (!tree || !decision) {
      // Versions never change, so this is a session started on a tree its version lacks: it ends.
      this.deps.logger.warn({ organizationId: input.organizationId, treeId: input.treeId, decisionId: input.decisionId }, 'decision tree or decision missing from its version');
      await this.deps.orm.em.fork().transactional((tx) => endSession(sqlRunner(tx), input.organizationId, input.sessionId, 'tree_missing', this.deps.clock.now()));
      return { kind: 'ended' };
    }
    for (const [index, action] of decision.actions.entries()) {
      await this.runAction(input, tree, action, `${input.workflowId}:${input.step}:${index}`);
    }
    if (decision.next.type === 'immediate') return { kind: 'immediate', target: decision.next.target };
    return { kind: 'question', timeout: decision.next.timeout ?? null };
  }

  private async runAction(input: StepInput, tree: DecisionTree, action: Action, key: string): Promise<void> {
    if (action.type === 'request_data') {
      // The request is made outside the transaction; its result is saved with the step's record.
      const fresh = sqlRunner(this.deps.orm.em.fork());
      if (await this.done(fresh, input.organizationId, key)) return;
      const ctx = await this.context(fresh, input);
      if (!ctx) return;
      const value = await this.requestData(action, this.sources(input, ctx));
      await this.deps.orm.em.fork().transactional(async (tx) => {
        const sql = sqlRunner(tx);
        if (await this.done(sql, input.organizationId, key)) return;
        if (value.ok) await this.saveData(sql, input, action.variable, value.value);
        await this.record(sql, input, key, { type: action.type, ok: value.ok, error: value.error ?? null });
      });
      return;
    }
    await this.deps.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      if (await this.done(sql, input.organizationId, key)) return;
      const ctx = await this.context(sql, input);
      if (!ctx) return;
      const sources = this.sources(input, ctx);
      const now = this.deps.clock.now();
      if (action.type === 'send_message') {
        const language = await this.language(sql, input, tree, ctx);
        const text = fillTemplate(pickLanguage(action.text, language, tree.defaultLanguage), sources).trim();
        const sent = text ? await this.send(sql, input, { type: 'text', text }, now) : { refused: 'empty' };
        await this.record(sql, input, key, { type: action.type, ...sent });
      } else if (action.type === 'save_data') {
        await this.saveData(sql, input, action.key, fillTemplate(action.value, sources));
        await this.record(sql, input, key, { type: action.type });
      } else if (action.type === 'create_ticket') {
        const id = ticketId(key);
        const subject = fillTemplate(action.subject, sources);
        const description = action.description === undefined ? null : fillTemplate(action.description, sources);
        await this.linkRequest(sql, input, ctx, id, now);
        await this.record(sql, input, key, { type: action.type, ticketId: id, subject, description });
      }
    });
  }

  private async send(sql: SqlRunner, input: TreeWorkflowInput, content: OutboundContent, now: Date): Promise<{ messageId?: string; refused?: string }> {
    try {
      const sent = await queueMessage(sql, input.organizationId, { kind: 'system', reason: 'routing' }, { conversationId: input.conversationId, content, channelId: input.channelId }, now);
      return { messageId: sent.id };
    } catch (err) {
      // The send path's rules (window, opt-out, a closed conversation) will refuse a retry just
      // the same: the tree goes on without the message.
      if (!(err instanceof DomainError)) throw err;
      this.deps.logger.info({ organizationId: input.organizationId, conversationId: input.conversationId, code: err.code }, 'routing message refused by the send path');
      return { refused: err.code };
    }
  }

  private async saveData(sql: SqlRunner, input: TreeWorkflowInput, key: string, value: unknown): Promise<void> {
    await sql.run(`update conversations set routing_data = coalesce(routing_data, '{}'::jsonb) || jsonb_build_object(?::text, ?::jsonb) where id = ? and organization_id = ?`, [
      key,
      JSON.stringify(value ?? null),
      input.conversationId,
      input.organizationId,
    ]);
  }

  private async linkRequest(sql: SqlRunner, input: TreeWorkflowInput, ctx: ContextRow, requestId: string, now: Date): Promise<void> {
    if (ctx.request_id === requestId) return;
    await sql.run('update conversations set request_id = ?, updated_at = ? where id = ? and organization_id = ?', [requestId, now, input.conversationId, input.organizationId]);
    await recordEvent(
      sql,
      input.organizationId,
      'conversation.update',
      await conversationUpdated(sql, input.organizationId, input.conversationId, { requestId }, { requestId: ctx.request_id }, now),
      now,
    );
  }

  private async requestData(action: Extract<Action, { type: 'request_data' }>, sources: PlaceholderSources): Promise<{ ok: boolean; value?: unknown; error?: string }> {
    const url = fillTemplate(action.url, sources, { encode: encodeURIComponent });
    const signal = AbortSignal.timeout(action.timeoutMs);
    const res =
      action.method === 'POST'
        ? await this.deps.http.post(
            url,
            { 'content-type': 'application/json' },
            JSON.stringify(Object.fromEntries(Object.entries(action.body ?? {}).map(([k, v]) => [k, fillTemplate(v, sources)]))),
            signal,
          )
        : await this.deps.http.get(url, signal);
    if (res.error || res.status === null || res.status < 200 || res.status >= 300) {
      return { ok: false, error: res.error ?? `status ${res.status}` };
    }
    try {
      return { ok: true, value: JSON.parse(res.body) };
    } catch {
      return { ok: true, value: res.body };
    }
  }

  /** Sends the decision's question with its choices, once. */
  async ask(input: StepInput): Promise<void> {
    await this.deps.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      const key = `${input.workflowId}:${input.step}:question`;
      if (!(await this.active(sql, input)) || (await this.done(sql, input.organizationId, key))) return;
      const tree = await this.tree(sql, input);
      const decision = tree?.decisions.find((d) => d.id === input.decisionId);
      const ctx = await this.context(sql, input);
      if (!tree || !decision || decision.next.type !== 'answer' || !ctx) return;
      const language = await this.language(sql, input, tree, ctx);
      const content = renderQuestion(decision, language, tree.defaultLanguage, this.sources(input, ctx));
      const sent = await this.send(sql, input, content, this.deps.clock.now());
      await this.record(sql, input, key, { type: 'question', ...sent });
    });
  }

  /**
   * Matches a contact's message against the question. A message that says nothing (a sticker,
   * a reaction) leaves it waiting; anything with text is matched — a typed answer on a button
   * step included — or takes the default.
   */
  async answer(input: StepInput & { messageId: string }): Promise<AnswerOutcome> {
    return this.deps.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      if (!(await this.active(sql, input))) return { kind: 'ended' };
      const tree = await this.tree(sql, input);
      const decision: Decision | undefined = tree?.decisions.find((d) => d.id === input.decisionId);
      if (!decision || decision.next.type !== 'answer') return { kind: 'ended' };
      const [message] = await sql.all<{ type: string; content: Record<string, unknown> }>(
        `select type, content from messages where id = ? and organization_id = ? and conversation_id = ? and direction = 'inbound'`,
        [input.messageId, input.organizationId, input.conversationId],
      );
      const answer = message ? answerFromMessage(message) : null;
      if (answer === null) return { kind: 'ignored' };
      const match = matchAnswer(decision, answer);
      if (decision.next.saveAs) {
        const text = typeof answer === 'string' ? answer : (answer.text ?? answer.replyId ?? '');
        await this.saveData(sql, input, decision.next.saveAs, text);
      }
      return match.kind === 'choice'
        ? { kind: 'answered', target: match.target, choiceId: match.choice.id, reason: match.reason }
        : { kind: 'answered', target: match.target, choiceId: null, reason: match.reason };
    });
  }

  /** The tree reached a final destination: the session ends and the dispatcher applies it. */
  async finish(input: TreeWorkflowInput & { destination: Destination; path: RoutingPathStep[] }): Promise<void> {
    const now = this.deps.clock.now();
    const ended = await this.deps.orm.em.fork().transactional((tx) => endSession(sqlRunner(tx), input.organizationId, input.sessionId, `destination:${input.destination.kind}`, now));
    if (!ended) {
      // A retry after this very call ended the session still applies the destination (the
      // dispatcher's application is idempotent); a session something else ended stays ended.
      const [row] = await sqlRunner(this.deps.orm.em.fork()).all<{ ended_reason: string | null }>(
        'select ended_reason from routing_sessions where id = ? and organization_id = ?',
        [input.sessionId, input.organizationId],
      );
      if (row?.ended_reason !== `destination:${input.destination.kind}`) return;
    }
    await this.deps.applyDestination({
      organizationId: input.organizationId,
      conversationId: input.conversationId,
      channelId: input.channelId,
      destination: input.destination,
      versionId: input.versionId,
      at: now,
      path: input.path,
    });
  }
}
