import { type Clock, isId, newId, NotFoundError, ValidationError } from '@parley/core';
import type { Config } from '@parley/config';
import { type SqlRunner, sqlRunner } from '../sql';
import type { TenantScope } from '../scope';

export type AssistantMode = 'auto' | 'draft' | 'off';
export type ReplyLength = 'short' | 'medium' | 'long';

export interface KnowledgeEntryView {
  id: string;
  title: string;
  text: string;
  createdAt: string;
  updatedAt: string;
}

export interface AssistantSettingsView {
  channelId: string;
  enabled: boolean;
  mode: AssistantMode;
  model: string;
  instructions: string;
  handoffMessage: string | null;
  language: string | null;
  replyLength: ReplyLength;
  quietTimeMs: number;
  knowledgeTopK: number;
  knowledgeBase: KnowledgeEntryView[];
  updatedAt: string;
}

export interface AssistantSettingsInput {
  enabled: boolean;
  model: string;
  instructions: string;
  knowledgeBase?: { title: string; text: string }[] | undefined;
  mode?: AssistantMode | undefined;
  handoffMessage?: string | null | undefined;
  language?: string | null | undefined;
  replyLength?: ReplyLength | undefined;
  quietTimeMs?: number | undefined;
  knowledgeTopK?: number | undefined;
}

/** A channel's assistant as the worker reads it for a turn. */
export interface AssistantSettingsRow {
  channel_id: string;
  organization_id: string;
  mode: AssistantMode;
  model: string;
  instructions: string;
  handoff_message: string | null;
  language: string | null;
  reply_length: ReplyLength;
  quiet_time_ms: number;
  knowledge_top_k: number;
  updated_at: Date;
}

interface KnowledgeRow {
  id: string;
  title: string;
  text: string;
  created_at: Date;
  updated_at: Date;
}

const knowledgeView = (r: KnowledgeRow): KnowledgeEntryView => ({
  id: r.id,
  title: r.title,
  text: r.text,
  createdAt: new Date(r.created_at).toISOString(),
  updatedAt: new Date(r.updated_at).toISOString(),
});

export const DEFAULT_QUIET_TIME_MS = 3000;

export async function readAssistantSettings(sql: SqlRunner, organizationId: string, channelId: string): Promise<AssistantSettingsRow | undefined> {
  const [row] = await sql.all<AssistantSettingsRow>('select * from assistant_settings where channel_id = ? and organization_id = ?', [channelId, organizationId]);
  return row;
}

/** Per-channel configuration, the knowledge base, and the organization's monthly token budget. */
export class AssistantSettingsService {
  constructor(
    private readonly config: Pick<Config, 'openai'>,
    private readonly clock: Clock,
  ) {}

  /** Whether the platform can call a model at all (OPENAI_BASE_URL and OPENAI_API_KEY). */
  get providerConfigured(): boolean {
    return !!this.config.openai.baseUrl && !!this.config.openai.apiKey;
  }

  private async channel(scope: TenantScope, channelId: string): Promise<void> {
    const rows = isId(channelId)
      ? await sqlRunner(scope.em).all(`select id from channels where id = ? and organization_id = ? and status = 'active'`, [channelId, scope.organizationId])
      : [];
    if (!rows.length) throw new NotFoundError('channel');
  }

  async get(scope: TenantScope, channelId: string): Promise<AssistantSettingsView> {
    await this.channel(scope, channelId);
    const sql = sqlRunner(scope.em);
    const row = await readAssistantSettings(sql, scope.organizationId, channelId);
    if (!row) throw new NotFoundError('assistant');
    return this.view(sql, row);
  }

  private async view(sql: SqlRunner, row: AssistantSettingsRow): Promise<AssistantSettingsView> {
    const entries = await sql.all<KnowledgeRow>('select id, title, text, created_at, updated_at from assistant_knowledge where channel_id = ? and organization_id = ? order by id', [
      row.channel_id,
      row.organization_id,
    ]);
    return {
      channelId: row.channel_id,
      enabled: row.mode !== 'off',
      mode: row.mode,
      model: row.model,
      instructions: row.instructions,
      handoffMessage: row.handoff_message,
      language: row.language,
      replyLength: row.reply_length,
      quietTimeMs: row.quiet_time_ms,
      knowledgeTopK: row.knowledge_top_k,
      knowledgeBase: entries.map(knowledgeView),
      updatedAt: new Date(row.updated_at).toISOString(),
    };
  }

  /** `PUT /v1/channels/:id/assistant`: the whole configuration; a given `knowledgeBase` replaces the entries. */
  async put(scope: TenantScope, channelId: string, input: AssistantSettingsInput): Promise<AssistantSettingsView> {
    const mode: AssistantMode = input.enabled ? (input.mode ?? 'auto') : 'off';
    if (input.mode && (input.mode === 'off') === input.enabled) {
      throw new ValidationError([{ path: 'mode', message: `mode ${input.mode} contradicts enabled: ${String(input.enabled)}.` }]);
    }
    if (mode !== 'off' && !this.providerConfigured) {
      throw new ValidationError([], 'No AI provider is configured on this platform (OPENAI_BASE_URL and OPENAI_API_KEY).', 'assistant_not_configured');
    }
    await this.channel(scope, channelId);
    const now = this.clock.now();
    return scope.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      await sql.run(
        `insert into assistant_settings (channel_id, organization_id, mode, model, instructions, handoff_message, language, reply_length, quiet_time_ms, knowledge_top_k, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         on conflict (channel_id) do update set mode = excluded.mode, model = excluded.model, instructions = excluded.instructions,
           handoff_message = excluded.handoff_message, language = excluded.language, reply_length = excluded.reply_length,
           quiet_time_ms = excluded.quiet_time_ms, knowledge_top_k = excluded.knowledge_top_k, updated_at = excluded.updated_at`,
        [
          channelId,
          scope.organizationId,
          mode,
          input.model,
          input.instructions,
          input.handoffMessage ?? null,
          input.language ?? null,
          input.replyLength ?? 'short',
          input.quietTimeMs ?? DEFAULT_QUIET_TIME_MS,
          input.knowledgeTopK ?? 3,
          now,
          now,
        ],
      );
      if (input.knowledgeBase) {
        await sql.run('delete from assistant_knowledge where channel_id = ? and organization_id = ?', [channelId, scope.organizationId]);
        for (const entry of input.knowledgeBase) await this.insertEntry(sql, scope.organizationId, channelId, entry, now);
      }
      return this.view(sql, (await readAssistantSettings(sql, scope.organizationId, channelId))!);
    });
  }

  private async insertEntry(sql: SqlRunner, organizationId: string, channelId: string, entry: { title: string; text: string }, now: Date): Promise<KnowledgeRow> {
    const [row] = await sql.all<KnowledgeRow>(
      `insert into assistant_knowledge (id, organization_id, channel_id, title, text, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?)
       returning id, title, text, created_at, updated_at`,
      [newId(), organizationId, channelId, entry.title, entry.text, now, now],
    );
    return row!;
  }

  private async requireSettings(scope: TenantScope, channelId: string): Promise<void> {
    await this.channel(scope, channelId);
    if (!(await readAssistantSettings(sqlRunner(scope.em), scope.organizationId, channelId))) throw new NotFoundError('assistant');
  }

  async addEntry(scope: TenantScope, channelId: string, entry: { title: string; text: string }): Promise<KnowledgeEntryView> {
    await this.requireSettings(scope, channelId);
    return knowledgeView(await this.insertEntry(sqlRunner(scope.em), scope.organizationId, channelId, entry, this.clock.now()));
  }

  async listEntries(scope: TenantScope, channelId: string): Promise<KnowledgeEntryView[]> {
    await this.requireSettings(scope, channelId);
    const rows = await sqlRunner(scope.em).all<KnowledgeRow>(
      'select id, title, text, created_at, updated_at from assistant_knowledge where channel_id = ? and organization_id = ? order by id',
      [channelId, scope.organizationId],
    );
    return rows.map(knowledgeView);
  }

  async updateEntry(scope: TenantScope, channelId: string, entryId: string, patch: { title?: string | undefined; text?: string | undefined }): Promise<KnowledgeEntryView> {
    await this.requireSettings(scope, channelId);
    const [row] = isId(entryId)
      ? await sqlRunner(scope.em).all<KnowledgeRow>(
          `update assistant_knowledge set title = coalesce(?, title), text = coalesce(?, text), updated_at = ?
           where id = ? and channel_id = ? and organization_id = ? returning id, title, text, created_at, updated_at`,
          [patch.title ?? null, patch.text ?? null, this.clock.now(), entryId, channelId, scope.organizationId],
        )
      : [];
    if (!row) throw new NotFoundError('knowledge-base entry');
    return knowledgeView(row);
  }

  async removeEntry(scope: TenantScope, channelId: string, entryId: string): Promise<void> {
    await this.requireSettings(scope, channelId);
    const rows = isId(entryId)
      ? await sqlRunner(scope.em).all('delete from assistant_knowledge where id = ? and channel_id = ? and organization_id = ? returning id', [entryId, channelId, scope.organizationId])
      : [];
    if (!rows.length) throw new NotFoundError('knowledge-base entry');
  }

  /** The organization's assistant settings and this month's usage. */
  async usage(scope: TenantScope): Promise<{ month: string; tokensUsed: number; monthlyTokenBudget: number | null; conversations: { conversationId: string; tokensUsed: number }[] }> {
    const sql = sqlRunner(scope.em);
    const month = monthOf(this.clock.now());
    const [budget] = await sql.all<{ monthly_token_budget: string | null }>('select monthly_token_budget from assistant_organizations where organization_id = ?', [scope.organizationId]);
    const [used] = await sql.all<{ tokens: string }>('select tokens from assistant_usage where organization_id = ? and month = ?', [scope.organizationId, month]);
    const top = await sql.all<{ conversation_id: string; tokens: string }>(
      'select conversation_id, tokens from assistant_conversations where organization_id = ? and tokens > 0 order by tokens desc, conversation_id limit 50',
      [scope.organizationId],
    );
    return {
      month,
      tokensUsed: Number(used?.tokens ?? 0),
      monthlyTokenBudget: budget?.monthly_token_budget === undefined || budget.monthly_token_budget === null ? null : Number(budget.monthly_token_budget),
      conversations: top.map((r) => ({ conversationId: r.conversation_id, tokensUsed: Number(r.tokens) })),
    };
  }

  async setBudget(scope: TenantScope, monthlyTokenBudget: number | null): Promise<ReturnType<AssistantSettingsService['usage']>> {
    await sqlRunner(scope.em).run(
      `insert into assistant_organizations (organization_id, monthly_token_budget, updated_at) values (?, ?, ?)
       on conflict (organization_id) do update set monthly_token_budget = excluded.monthly_token_budget, updated_at = excluded.updated_at`,
      [scope.organizationId, monthlyTokenBudget, this.clock.now()],
    );
    return this.usage(scope);
  }
}

/** The calendar month (UTC) usage is counted in, as its first day. */
export function monthOf(at: Date): string {
  return `${at.toISOString().slice(0, 7)}-01`;
}
