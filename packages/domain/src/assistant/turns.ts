import type { MikroORM } from '@mikro-orm/postgresql';
import { type Clock, DomainError, type Logger, newId } from '@parley/core';
import { CUSTOMER_SERVICE_WINDOW_MS } from '../conversations';
import { conversationUpdated, recordEvent } from '../events';
import { type SqlRunner, sqlRunner } from '../sql';
import { type AssistantDecision, type AssistantModel, AssistantModelError, type ChatMessage } from './model';
import { monthOf, readAssistantSettings, type AssistantSettingsRow } from './settings';
import { changeAssistantState } from './state';

/** Who sends: the assistant, the platform (the handoff message), or the agent or partner sending a draft. */
export type AssistantSendActor =
  | { kind: 'assistant' }
  | { kind: 'system'; reason: 'handoff' }
  | { kind: 'agent'; userId: string }
  | { kind: 'partner'; installationId: string };

/**
 * The platform's one send path (`queueMessage` in sending.ts), which enforces the window,
 * consent and template rules and records the event. The assistant never writes messages itself.
 */
export type AssistantSendPath = (
  db: SqlRunner,
  organizationId: string,
  actor: AssistantSendActor,
  input: { conversationId: string; content: { type: 'text'; text: string } | { type: 'interactive'; interactive: Record<string, unknown> } },
  now: Date,
) => Promise<{ id: string }>;

export interface TurnInput {
  organizationId: string;
  conversationId: string;
  /** Derived from the workflow id and the turn's last contact message: the turn's idempotency key. */
  turnId: string;
}

export type Prepared =
  | { kind: 'skip'; reason: string }
  | { kind: 'handoff'; reason: string }
  | { kind: 'generate'; model: string; messages: ChatMessage[]; knowledgeIds: string[] };

export type TurnOutcome = 'replied' | 'resolved' | 'handed_over' | 'suggested' | 'skipped' | 'failed';

interface Target {
  id: string;
  status: string;
  channel_id: string | null;
  assignee: string | null;
  request_id: string | null;
  contact_id: string;
  name: string | null;
  phone: string | null;
  email: string | null;
  fields: Record<string, string> | null;
  opted_out: boolean;
  last_inbound_at: Date | null;
}

interface StateRow {
  state: 'active' | 'paused' | 'handed_over';
  reason: string | null;
  history_after: string | null;
  handoff_sent_at: Date | null;
}

/** How many recent messages of the current chapter the model reads. */
const HISTORY_LIMIT = 40;

const LENGTH_GUIDANCE: Record<string, string> = {
  short: 'Keep replies to one to three short sentences: this is WhatsApp, read on a phone.',
  medium: 'Keep replies to a short paragraph.',
  long: 'Replies may be several paragraphs when the question needs it.',
};

function textOf(type: string, content: Record<string, unknown>): string {
  const c = content as Record<string, Record<string, unknown> | string | undefined>;
  if (type === 'text' && typeof c.text === 'string') return c.text;
  if (type === 'button' && typeof c.button === 'object') return String(c.button.text ?? '[button]');
  if (type === 'interactive' && typeof c.interactive === 'object') {
    const i = c.interactive as Record<string, Record<string, unknown> | undefined>;
    const title = i.button_reply?.title ?? i.list_reply?.title ?? (i.body as { text?: string } | undefined)?.text;
    return title ? String(title) : '[interactive]';
  }
  if (type === 'template' && typeof c.template === 'object') return `[template ${String(c.template.name)}]`;
  const media = c.media as { caption?: string } | undefined;
  return media?.caption ? `[${type}] ${media.caption}` : `[${type}]`;
}

/**
 * The reply as WhatsApp shows it: with quick-reply buttons when the model offered a few that
 * WhatsApp accepts (1 to 3, titles up to 20 characters, a body up to 1024), as plain text otherwise.
 */
export function replyContent(text: string, buttons: string[] | null | undefined): { type: 'text'; text: string } | { type: 'interactive'; interactive: Record<string, unknown> } {
  const titles = (buttons ?? []).map((b) => b.trim());
  const fits = titles.length >= 1 && titles.length <= 3 && titles.every((t) => t.length >= 1 && t.length <= 20) && new Set(titles).size === titles.length && text.length <= 1024;
  if (!fits) return { type: 'text', text };
  return {
    type: 'interactive',
    interactive: { type: 'button', body: { text }, action: { buttons: titles.map((title, i) => ({ type: 'reply', reply: { id: `assistant-${i + 1}`, title } })) } },
  };
}

const windowOpen = (lastInboundAt: Date | null, now: Date) => !!lastInboundAt && now.getTime() - new Date(lastInboundAt).getTime() < CUSTOMER_SERVICE_WINDOW_MS;

/**
 * One turn of the assistant, in steps the workflow runs as activities: `prepare` (is a turn due,
 * and with what context), `generate` (the model call, its tokens counted), `deliver` (send, hand
 * over, or suggest, checked again against the conversation as it is then), `fail` (a generation
 * that failed flags the conversation for a human). Every step acts for one organization only.
 */
export class AssistantTurns {
  constructor(
    private readonly orm: MikroORM,
    private readonly model: AssistantModel | null,
    private readonly send: AssistantSendPath,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  private async target(sql: SqlRunner, input: TurnInput, lock = false): Promise<Target | undefined> {
    const [row] = await sql.all<Target>(
      `select cv.id, cv.status, cv.channel_id, cv.assignee, cv.request_id, cv.contact_id, ct.name, ct.phone, ct.email, ct.fields, ct.opted_out, ct.last_inbound_at
       from conversations cv join contacts ct on ct.id = cv.contact_id and ct.organization_id = cv.organization_id
       where cv.id = ? and cv.organization_id = ? ${lock ? 'for update of cv' : ''}`,
      [input.conversationId, input.organizationId],
    );
    return row;
  }

  private async state(sql: SqlRunner, input: TurnInput, lock = false): Promise<StateRow> {
    if (lock) {
      await sql.run(
        `insert into assistant_conversations (conversation_id, organization_id, state, updated_at) values (?, ?, 'active', ?) on conflict (conversation_id) do nothing`,
        [input.conversationId, input.organizationId, this.clock.now()],
      );
    }
    const [row] = await sql.all<StateRow>(
      `select state, reason, history_after, handoff_sent_at from assistant_conversations where conversation_id = ? and organization_id = ? ${lock ? 'for update' : ''}`,
      [input.conversationId, input.organizationId],
    );
    return row ?? { state: 'active', reason: null, history_after: null, handoff_sent_at: null };
  }

  async prepare(input: TurnInput): Promise<Prepared> {
    const sql = sqlRunner(this.orm.em.fork());
    const now = this.clock.now();
    const [done] = await sql.all('select 1 from assistant_turns where id = ? and organization_id = ?', [input.turnId, input.organizationId]);
    if (done) return { kind: 'skip', reason: 'already_answered' };
    const target = await this.target(sql, input);
    if (!target?.channel_id || target.status === 'closed') return { kind: 'skip', reason: 'conversation_closed' };
    const settings = await readAssistantSettings(sql, input.organizationId, target.channel_id);
    if (!settings || settings.mode === 'off') return { kind: 'skip', reason: 'assistant_off' };
    const state = await this.state(sql, input);
    if (state.state !== 'active') return { kind: 'skip', reason: state.state };
    if (settings.mode === 'auto') {
      if (target.assignee) return { kind: 'skip', reason: 'assigned' };
      if (target.opted_out) return { kind: 'handoff', reason: 'contact_opted_out' };
      if (!windowOpen(target.last_inbound_at, now)) return { kind: 'handoff', reason: 'outside_customer_service_window' };
    }
    if (await this.overBudget(sql, input.organizationId, now)) return { kind: 'handoff', reason: 'token_budget_exhausted' };
    if (!this.model) return { kind: 'handoff', reason: 'assistant_not_configured' };
    return { kind: 'generate', model: settings.model, ...(await this.context(sql, input, target, settings, state)) };
  }

  private async overBudget(sql: SqlRunner, organizationId: string, now: Date): Promise<boolean> {
    const [row] = await sql.all<{ budget: string | null; used: string | null }>(
      `select o.monthly_token_budget as budget, u.tokens as used from assistant_organizations o
       left join assistant_usage u on u.organization_id = o.organization_id and u.month = ?
       where o.organization_id = ?`,
      [monthOf(now), organizationId],
    );
    return !!row && row.budget !== null && Number(row.used ?? 0) >= Number(row.budget);
  }

  /** The prompt: instructions, what the tenant knows (contact, request, knowledge), then the chapter's messages. */
  private async context(sql: SqlRunner, input: TurnInput, target: Target, settings: AssistantSettingsRow, state: StateRow): Promise<{ messages: ChatMessage[]; knowledgeIds: string[] }> {
    const history = (
      await sql.all<{ direction: string; role: string; type: string; content: Record<string, unknown>; ai: boolean }>(
        `select direction, role, type, content, ai from messages
         where conversation_id = ? and organization_id = ? and revoked_at is null and (?::uuid is null or id > ?::uuid)
         order by id desc limit ?`,
        [input.conversationId, input.organizationId, state.history_after, state.history_after, HISTORY_LIMIT],
      )
    ).reverse();
    // What the contact said since the business last spoke is what the knowledge should answer.
    let lastOutbound = -1;
    history.forEach((m, i) => {
      if (m.direction === 'outbound') lastOutbound = i;
    });
    const asked = history
      .slice(lastOutbound + 1)
      .filter((m) => m.direction === 'inbound')
      .map((m) => textOf(m.type, m.content))
      .join('\n');
    const knowledge = asked.trim()
      ? await sql.all<{ id: string; title: string; text: string }>(
          `with q as (
             select to_tsquery('simple', string_agg(quote_literal(lexeme), ' | ')) as query from unnest(to_tsvector('simple', ?)) u
           )
           select k.id, k.title, k.text from assistant_knowledge k, q
           where k.channel_id = ? and k.organization_id = ? and q.query is not null and k.search @@ q.query
           order by ts_rank(k.search, q.query) desc, k.id limit ?`,
          [asked, settings.channel_id, input.organizationId, settings.knowledge_top_k],
        )
      : [];

    const guidance = [
      settings.instructions,
      '',
      'You answer a customer on WhatsApp for this business. Write plain text, no markdown headings or tables.',
      LENGTH_GUIDANCE[settings.reply_length] ?? LENGTH_GUIDANCE.short!,
      settings.language ? `Answer in ${settings.language}.` : 'Answer in the language the customer writes in.',
      'Use only the facts given here; when you cannot answer from them, or the customer asks for a person, choose handoff.',
      'Choose resolve when the customer’s matter is settled (you may add a closing reply).',
      'When the customer should pick among two or three short options, offer them as buttons (titles of at most 20 characters); otherwise buttons is null.',
      'Answer with the JSON object the schema describes: action, reply, buttons, reason.',
    ].join('\n');
    const contact = { name: target.name, phone: target.phone, email: target.email, fields: target.fields ?? {} };
    const facts = [
      `Customer: ${JSON.stringify(contact)}`,
      `Linked service request: ${target.request_id ? JSON.stringify({ requestId: target.request_id, fields: target.fields ?? {} }) : 'none'}`,
      knowledge.length ? `Knowledge base:\n${knowledge.map((k) => `## ${k.title}\n${k.text}`).join('\n\n')}` : 'Knowledge base: nothing relevant.',
    ].join('\n\n');
    const messages: ChatMessage[] = [
      { role: 'system', content: guidance },
      { role: 'system', content: facts },
      ...history.map((m): ChatMessage => {
        const text = textOf(m.type, m.content);
        if (m.direction === 'inbound') return { role: 'user', content: text };
        return { role: 'assistant', content: m.ai || m.role === 'bot' ? text : `[agent] ${text}` };
      }),
    ];
    return { messages, knowledgeIds: knowledge.map((k) => k.id) };
  }

  /** Calls the model and counts the tokens it used, whatever the outcome. */
  async generate(input: TurnInput, prepared: Extract<Prepared, { kind: 'generate' }>, signal?: AbortSignal): Promise<AssistantDecision> {
    if (!this.model) throw new AssistantModelError('rejected', 'No AI provider is configured.');
    try {
      const result = await this.model.generate(prepared.model, prepared.messages, signal);
      await this.count(input, result.promptTokens + result.completionTokens);
      return result.decision;
    } catch (err) {
      if (err instanceof AssistantModelError && err.usage.promptTokens + err.usage.completionTokens > 0) {
        await this.count(input, err.usage.promptTokens + err.usage.completionTokens);
      }
      throw err;
    }
  }

  private async count(input: TurnInput, tokens: number): Promise<void> {
    if (tokens <= 0) return;
    const now = this.clock.now();
    await this.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      await sql.run(
        `insert into assistant_usage (organization_id, month, tokens) values (?, ?, ?)
         on conflict (organization_id, month) do update set tokens = assistant_usage.tokens + excluded.tokens`,
        [input.organizationId, monthOf(now), tokens],
      );
      await sql.run(
        `insert into assistant_conversations (conversation_id, organization_id, state, tokens, updated_at) values (?, ?, 'active', ?, ?)
         on conflict (conversation_id) do update set tokens = assistant_conversations.tokens + excluded.tokens`,
        [input.conversationId, input.organizationId, tokens, now],
      );
    });
  }

  /**
   * Acts on the decision against the conversation as it is now, in one transaction with the
   * turn's record: a retried call finds the record and sends nothing twice. A person who took
   * over meanwhile, a closed window or an opt-out all win over the model.
   */
  async deliver(input: TurnInput, decision: AssistantDecision): Promise<TurnOutcome> {
    return this.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      const now = this.clock.now();
      const target = await this.target(sql, input, true);
      const [done] = await sql.all<{ outcome: TurnOutcome }>('select outcome from assistant_turns where id = ? and organization_id = ?', [input.turnId, input.organizationId]);
      if (done) return done.outcome;
      const record = async (outcome: TurnOutcome, reason: string | null, messageId: string | null = null) => {
        await sql.run(
          `insert into assistant_turns (id, organization_id, conversation_id, outcome, reason, message_id, created_at) values (?, ?, ?, ?, ?, ?, ?)`,
          [input.turnId, input.organizationId, input.conversationId, outcome, reason, messageId, now],
        );
        return outcome;
      };
      // Not this organization's conversation (or gone): nothing is written for it.
      if (!target) return 'skipped';
      if (!target.channel_id || target.status === 'closed') return record('skipped', 'conversation_closed');
      const settings = await readAssistantSettings(sql, input.organizationId, target.channel_id);
      if (!settings || settings.mode === 'off') return record('skipped', 'assistant_off');
      const state = await this.state(sql, input, true);
      if (state.state !== 'active') return record('skipped', state.state);

      if (settings.mode === 'draft') {
        if (!decision.reply?.trim()) return record('skipped', decision.reason);
        await sql.run(
          `insert into assistant_suggestions (id, organization_id, conversation_id, turn_id, text, reason, state, created_at, updated_at) values (?, ?, ?, ?, ?, ?, 'open', ?, ?)`,
          [newId(), input.organizationId, input.conversationId, input.turnId, decision.reply.trim(), decision.reason, now, now],
        );
        return record('suggested', decision.reason);
      }

      if (target.assignee) {
        await this.setState(sql, input, 'paused', 'assigned', now);
        return record('skipped', 'assigned');
      }
      if (decision.action === 'handoff') return record('handed_over', await this.handOver(sql, input, target, settings, state, decision.reason, now));
      if (target.opted_out) return record('handed_over', await this.handOver(sql, input, target, settings, state, 'contact_opted_out', now));
      if (!windowOpen(target.last_inbound_at, now)) return record('handed_over', await this.handOver(sql, input, target, settings, state, 'outside_customer_service_window', now));
      let messageId: string | null = null;
      if (decision.reply?.trim()) {
        try {
          const sent = await this.send(sql, input.organizationId, { kind: 'assistant' }, { conversationId: input.conversationId, content: replyContent(decision.reply.trim(), decision.buttons) }, now);
          messageId = sent.id;
        } catch (err) {
          // The send path refused (its rules are checked before it writes anything): a person
          // decides, rather than the turn retrying what will be refused again.
          if (!(err instanceof DomainError)) throw err;
          await this.setState(sql, input, 'handed_over', err.code, now);
          return record('handed_over', err.code);
        }
      }
      if (decision.action === 'resolve') {
        await this.resolve(sql, input, now);
        return record('resolved', decision.reason, messageId);
      }
      return record('replied', decision.reason, messageId);
    });
  }

  /** A generation failed or was refused: nothing is sent, and a person is asked to look. */
  async fail(input: TurnInput, reason: string): Promise<void> {
    await this.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      const now = this.clock.now();
      const [done] = await sql.all('select 1 from assistant_turns where id = ? and organization_id = ?', [input.turnId, input.organizationId]);
      if (done || !(await this.target(sql, input))) return;
      await this.state(sql, input, true);
      await this.setState(sql, input, 'handed_over', `generation_failed: ${reason}`.slice(0, 500), now);
      await sql.run(
        `insert into assistant_turns (id, organization_id, conversation_id, outcome, reason, created_at) values (?, ?, ?, 'failed', ?, ?)`,
        [input.turnId, input.organizationId, input.conversationId, reason.slice(0, 500), now],
      );
    });
    this.logger.warn({ organizationId: input.organizationId, conversationId: input.conversationId, reason }, 'assistant generation failed; conversation handed to a person');
  }

  private async setState(sql: SqlRunner, input: TurnInput, state: StateRow['state'], reason: string | null, now: Date): Promise<void> {
    await changeAssistantState(sql, input.organizationId, input.conversationId, state, reason, now);
  }

  /** Hands the conversation to people; the handoff message goes out once per chapter, and only where a reply may. */
  private async handOver(sql: SqlRunner, input: TurnInput, target: Target, settings: AssistantSettingsRow, state: StateRow, reason: string, now: Date): Promise<string> {
    await this.setState(sql, input, 'handed_over', reason.slice(0, 500), now);
    if (settings.handoff_message && !state.handoff_sent_at && !target.opted_out && windowOpen(target.last_inbound_at, now)) {
      try {
        await this.send(sql, input.organizationId, { kind: 'system', reason: 'handoff' }, { conversationId: input.conversationId, content: { type: 'text', text: settings.handoff_message } }, now);
      } catch (err) {
        // Refused by the send path's rules: the handover stands without its message.
        if (!(err instanceof DomainError)) throw err;
        return reason;
      }
      await sql.run('update assistant_conversations set handoff_sent_at = ? where conversation_id = ? and organization_id = ?', [now, input.conversationId, input.organizationId]);
    }
    return reason;
  }

  private async resolve(sql: SqlRunner, input: TurnInput, now: Date): Promise<void> {
    const rows = await sql.all(`update conversations set status = 'resolved', updated_at = ? where id = ? and organization_id = ? and status = 'active' returning id`, [
      now,
      input.conversationId,
      input.organizationId,
    ]);
    if (!rows.length) return;
    await recordEvent(sql, input.organizationId, 'conversation.update', await conversationUpdated(sql, input.organizationId, input.conversationId, { status: 'resolved' }, { status: 'active' }, now), now);
  }
}
