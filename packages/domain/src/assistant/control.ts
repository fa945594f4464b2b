import { ConflictError, type Clock, isId, NotFoundError } from '@parley/core';
import { decodeCursor, type Page, type PageRequest, toPage } from '../pagination';
import type { TenantScope } from '../scope';
import { type SqlRunner, sqlRunner } from '../sql';
import { changeAssistantState } from './state';
import type { AssistantSendPath } from './turns';

export interface ConversationAssistantView {
  conversationId: string;
  /** `active`: the assistant answers; `paused`: a person took over or paused it; `handed_over`: it handed over (see `reason`). */
  state: 'active' | 'paused' | 'handed_over';
  reason: string | null;
  tokensUsed: number;
  updatedAt: string | null;
}

export interface SuggestionView {
  id: string;
  conversationId: string;
  text: string;
  reason: string | null;
  state: 'open' | 'stale' | 'sent' | 'discarded';
  messageId: string | null;
  createdAt: string;
  updatedAt: string;
}

interface SuggestionRow {
  id: string;
  conversation_id: string;
  text: string;
  reason: string | null;
  state: SuggestionView['state'];
  message_id: string | null;
  created_at: Date;
  updated_at: Date;
}

const suggestionView = (r: SuggestionRow): SuggestionView => ({
  id: r.id,
  conversationId: r.conversation_id,
  text: r.text,
  reason: r.reason,
  state: r.state,
  messageId: r.message_id,
  createdAt: new Date(r.created_at).toISOString(),
  updatedAt: new Date(r.updated_at).toISOString(),
});

/** What people do with the assistant in a conversation: see its state, pause and resume it, work its drafts. */
export class AssistantControlService {
  constructor(
    private readonly send: AssistantSendPath,
    private readonly clock: Clock,
  ) {}

  private async conversation(sql: SqlRunner, scope: TenantScope, id: string, lock = false): Promise<void> {
    const rows = isId(id) ? await sql.all(`select id from conversations where id = ? and organization_id = ? ${lock ? 'for update' : ''}`, [id, scope.organizationId]) : [];
    if (!rows.length) throw new NotFoundError('conversation');
  }

  async get(scope: TenantScope, conversationId: string): Promise<ConversationAssistantView> {
    const sql = sqlRunner(scope.em);
    await this.conversation(sql, scope, conversationId);
    const [row] = await sql.all<{ state: ConversationAssistantView['state']; reason: string | null; tokens: string; updated_at: Date }>(
      'select state, reason, tokens, updated_at from assistant_conversations where conversation_id = ? and organization_id = ?',
      [conversationId, scope.organizationId],
    );
    return {
      conversationId,
      state: row?.state ?? 'active',
      reason: row?.reason ?? null,
      tokensUsed: Number(row?.tokens ?? 0),
      updatedAt: row ? new Date(row.updated_at).toISOString() : null,
    };
  }

  /** Pause (a person takes over) or resume; a turn waiting or generating finds the state when it would act. */
  async setState(scope: TenantScope, conversationId: string, state: 'paused' | 'active'): Promise<ConversationAssistantView> {
    await scope.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      await this.conversation(sql, scope, conversationId);
      await changeAssistantState(sql, scope.organizationId, conversationId, state, state === 'paused' ? 'paused_by_user' : null, this.clock.now());
    });
    return this.get(scope, conversationId);
  }

  async suggestions(scope: TenantScope, conversationId: string, page: PageRequest & { state?: SuggestionView['state'] | undefined }): Promise<Page<SuggestionView>> {
    const sql = sqlRunner(scope.em);
    await this.conversation(sql, scope, conversationId);
    const cursor = decodeCursor(page.cursor) ?? null;
    const rows = await sql.all<SuggestionRow>(
      `select * from assistant_suggestions where conversation_id = ? and organization_id = ? and (?::uuid is null or id < ?::uuid) and (?::text is null or state = ?)
       order by id desc limit ?`,
      [conversationId, scope.organizationId, cursor, cursor, page.state ?? null, page.state ?? null, page.limit + 1],
    );
    return toPage(rows, page.limit, suggestionView);
  }

  private async suggestion(sql: SqlRunner, scope: TenantScope, conversationId: string, id: string): Promise<SuggestionRow> {
    const [row] = isId(id)
      ? await sql.all<SuggestionRow>('select * from assistant_suggestions where id = ? and conversation_id = ? and organization_id = ? for update', [id, conversationId, scope.organizationId])
      : [];
    if (!row) throw new NotFoundError('suggestion');
    return row;
  }

  /** Sends a suggestion, as written or edited, through the send path as the person sending it. A stale or discarded one may be sent deliberately. */
  async sendSuggestion(scope: TenantScope, conversationId: string, id: string, text: string | undefined): Promise<SuggestionView> {
    return scope.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      await this.conversation(sql, scope, conversationId, true);
      const row = await this.suggestion(sql, scope, conversationId, id);
      // A discarded suggestion may still be sent: someone changed their mind.
      if (row.state === 'sent') throw new ConflictError('suggestion_closed', 'The suggestion was already sent.');
      const now = this.clock.now();
      const p = scope.principal;
      const actor = p.kind === 'user' ? { kind: 'agent' as const, userId: p.userId } : { kind: 'partner' as const, installationId: p.installationId };
      const message = await this.send(sql, scope.organizationId, actor, { conversationId, content: { type: 'text', text: text ?? row.text } }, now);
      const [updated] = await sql.all<SuggestionRow>(
        `update assistant_suggestions set state = 'sent', message_id = ?, text = ?, updated_at = ? where id = ? returning *`,
        [message.id, text ?? row.text, now, row.id],
      );
      return suggestionView(updated!);
    });
  }

  async discardSuggestion(scope: TenantScope, conversationId: string, id: string): Promise<SuggestionView> {
    return scope.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      await this.conversation(sql, scope, conversationId);
      const row = await this.suggestion(sql, scope, conversationId, id);
      if (row.state === 'sent') throw new ConflictError('suggestion_closed', 'The suggestion was already sent.');
      const [updated] = await sql.all<SuggestionRow>(`update assistant_suggestions set state = 'discarded', updated_at = ? where id = ? returning *`, [this.clock.now(), row.id]);
      return suggestionView(updated!);
    });
  }
}
