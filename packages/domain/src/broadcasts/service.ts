import { LockMode } from '@mikro-orm/core';
import { type Clock, ConflictError, type Logger, isId, NotFoundError, toE164, ValidationError, type FieldProblem } from '@parley/core';
import { Broadcast, type BroadcastStatus, Channel, Template } from '@parley/db';
import { broadcastEventData, recordEvent } from '../events';
import { keysetWhere, type PageRequest } from '../pagination';
import type { TenantScope } from '../scope';
import { sqlRunner } from '../sql';
import { afterCommit } from '../transaction';
import { TemplateNotFoundError, TemplateParamsMismatchError, validateTemplateSend } from '../templates';
import { type BroadcastStatistics, broadcastStatistics } from './stats';

/** Starts (or re-starts, idempotently) the workflow of a broadcast. */
export interface BroadcastStarter {
  start(organizationId: string, broadcastId: string): Promise<void>;
}

export function broadcastWorkflowId(organizationId: string, broadcastId: string): string {
  return `${organizationId}:broadcast:${broadcastId}`;
}

export interface BroadcastInput {
  channelId?: string | undefined;
  template: { name: string; language: string; components?: Record<string, unknown>[] | undefined };
  params?: Record<string, string> | undefined;
  users: { phone: string; params?: Record<string, string> | undefined }[];
}

export interface RecipientView {
  phone: string;
  status: string;
  messageId: string | null;
  error: { code: number | string; title: string; details?: string } | null;
  skipReason: string | null;
  updatedAt: string;
}

export interface BroadcastView {
  id: string;
  status: BroadcastStatus;
  channelId: string;
  template: { name: string; language: string };
  statistics: BroadcastStatistics;
  createdAt: string;
  finishedAt: string | null;
  /** Why a `failed` broadcast could not be sent. */
  failureReason: string | null;
}

/**
 * The API's view of a broadcast (without its pages of recipients); partners' broadcast events
 * carry the same.
 */
export function broadcastView(
  b: { id: string; status: BroadcastStatus; channelId: string; template: { name: string; language: string }; createdAt: Date; finishedAt: Date | null; failureReason: string | null },
  statistics: BroadcastStatistics,
): BroadcastView {
  return {
    id: b.id,
    status: b.status,
    channelId: b.channelId,
    template: { name: b.template.name, language: b.template.language },
    statistics,
    createdAt: b.createdAt.toISOString(),
    finishedAt: b.finishedAt?.toISOString() ?? null,
    failureReason: b.failureReason,
  };
}

const INSERT_CHUNK = 1000;

export class BroadcastService {
  constructor(
    private readonly clock: Clock,
    private readonly starter: BroadcastStarter,
    private readonly logger: Logger,
  ) {}

  /**
   * Validates the template and every recipient's params against the synced template (a mismatch
   * refuses the whole request, listing each path), stores the recipients, and starts the
   * workflow. A phone that cannot be parsed fails that recipient only; a phone listed again (in
   * E.164) is counted as a duplicate and sent once. `hold` keeps it a draft, so lists beyond one
   * request body can be appended before `start`.
   */
  async create(scope: TenantScope, input: BroadcastInput & { hold?: boolean | undefined }): Promise<{ id: string; status: BroadcastStatus; added: number; duplicates: number }> {
    const { channel, template } = await this.templateFor(scope, input);
    const recipients = this.checkRecipients(template, input, 0);
    const broadcast = await scope.em.fork().transactional(async (tx) => {
      const b = new Broadcast(
        scope.organizationId,
        channel.id,
        { name: template.name, language: template.language, category: template.category, components: input.template.components ?? null },
        input.params ?? {},
      );
      b.status = input.hold ? 'draft' : 'running';
      b.createdBy = scope.principal.kind === 'user' ? `user:${scope.principal.userId}` : `installation:${scope.principal.installationId}`;
      tx.persist(b);
      await tx.flush();
      b.total = await this.insertRecipients(tx, scope.organizationId, b.id, recipients);
      await tx.flush();
      if (!input.hold) {
        await recordEvent(sqlRunner(tx), scope.organizationId, 'broadcast.update', await broadcastEventData(sqlRunner(tx), scope.organizationId, b.id), this.clock.now());
      }
      return b;
    });
    if (!input.hold) await afterCommit(scope.em, () => this.startOrLeaveToResume(broadcast));
    return { id: broadcast.id, status: broadcast.status, added: broadcast.total, duplicates: input.users.length - broadcast.total };
  }

  /**
   * The broadcast is stored and acknowledged whatever happens here: if Temporal cannot be reached
   * now, the maintenance schedule starts the workflow of every running broadcast that has none.
   * Failing the request instead would invite a retry that creates a second broadcast.
   */
  private async startOrLeaveToResume(b: Broadcast): Promise<void> {
    try {
      await this.starter.start(b.organization, b.id);
    } catch (err) {
      this.logger.error({ err, broadcastId: b.id }, 'broadcast workflow not started; the maintenance schedule will start it');
    }
  }

  /**
   * Appends recipients to a draft; phones it already holds (in E.164) count as duplicates. Appends
   * to one broadcast take turns, so two of them cannot both add one phone.
   */
  async addUsers(scope: TenantScope, id: string, users: BroadcastInput['users']): Promise<{ id: string; total: number; added: number; duplicates: number }> {
    return scope.em.fork().transactional(async (tx) => {
      const b = await this.find(scope, id, tx, LockMode.PESSIMISTIC_WRITE);
      if (b.status !== 'draft') throw new ConflictError('broadcast_not_draft', 'Recipients can only be added before the broadcast starts.');
      const template = await tx.findOne(Template, { channel: b.channel, name: b.template.name, language: b.template.language });
      if (!template) throw new TemplateNotFoundError(b.template.name, b.template.language);
      const recipients = this.checkRecipients(template, { template: b.template as BroadcastInput['template'], params: b.params, users }, 0);
      const added = await this.insertRecipients(tx, scope.organizationId, b.id, recipients);
      b.total += added;
      await tx.flush();
      return { id: b.id, total: b.total, added, duplicates: users.length - added };
    });
  }

  async start(scope: TenantScope, id: string): Promise<{ id: string; status: BroadcastStatus }> {
    const b = await scope.em.fork().transactional(async (tx) => {
      const b = await this.find(scope, id, tx);
      if (b.status === 'draft') {
        b.status = 'running';
        await tx.flush();
        await recordEvent(sqlRunner(tx), scope.organizationId, 'broadcast.update', await broadcastEventData(sqlRunner(tx), scope.organizationId, b.id), this.clock.now());
      }
      return b;
    });
    if (b.status === 'running') await afterCommit(scope.em, () => this.startOrLeaveToResume(b));
    return { id: b.id, status: b.status };
  }

  /** Stops sending within seconds: the workflow's activity sees the status between groups. */
  async cancel(scope: TenantScope, id: string): Promise<BroadcastView> {
    await scope.em.fork().transactional(async (tx) => {
      const b = await this.find(scope, id, tx);
      if (b.status === 'running' || b.status === 'draft') {
        b.status = 'cancelled';
        await tx.flush();
        await recordEvent(sqlRunner(tx), scope.organizationId, 'broadcast.update', await broadcastEventData(sqlRunner(tx), scope.organizationId, b.id), this.clock.now());
      }
    });
    return this.get(scope, id);
  }

  async get(scope: TenantScope, id: string): Promise<BroadcastView> {
    const b = await this.find(scope, id);
    return this.view(scope, b);
  }

  async list(scope: TenantScope, page: PageRequest) {
    const rows = await scope.em.find(Broadcast, keysetWhere(page.cursor), { orderBy: { id: 'desc' }, limit: page.limit + 1 });
    const more = rows.length > page.limit;
    const data = await Promise.all((more ? rows.slice(0, page.limit) : rows).map((b) => this.view(scope, b)));
    const last = data[data.length - 1];
    return { data, nextCursor: more && last ? Buffer.from(JSON.stringify({ after: last.id })).toString('base64url') : null };
  }

  /** Recipients in the order given, paged by an opaque cursor. */
  async statuses(scope: TenantScope, id: string, page: { limit: number; cursor?: string | undefined; status?: string | undefined }) {
    const b = await this.find(scope, id);
    let after = 0n;
    if (page.cursor) {
      try {
        after = BigInt(Buffer.from(page.cursor, 'base64url').toString('utf8'));
      } catch {
        throw new ValidationError([{ path: 'query.cursor', message: 'Unknown or malformed cursor.' }]);
      }
    }
    const rows = await sqlRunner(scope.em).all<{ id: string; phone: string; status: string; wamid: string | null; error: RecipientView['error']; skip_reason: string | null; updated_at: Date }>(
      `select id, phone, status, wamid, error, skip_reason, updated_at from broadcast_recipients
        where broadcast_id = ? and organization_id = ? and id > ? ${page.status ? 'and status in (?)' : ''}
        order by id limit ?`,
      // A recipient being sent right now is still pending to the outside.
      [b.id, scope.organizationId, after.toString(), ...(page.status ? [page.status === 'pending' ? ['pending', 'sending'] : [page.status]] : []), page.limit + 1],
    );
    const more = rows.length > page.limit;
    const data = (more ? rows.slice(0, page.limit) : rows).map(recipientView);
    return { data, nextCursor: more ? Buffer.from(String(rows[page.limit - 1]!.id)).toString('base64url') : null };
  }

  /** Every recipient, streamed in pages so a 100k broadcast never sits in memory at once. */
  async *csv(scope: TenantScope, id: string): AsyncGenerator<string> {
    const b = await this.find(scope, id);
    yield 'phone,status,messageId,errorCode,errorTitle,errorDetails,skipReason,updatedAt\n';
    let after = '0';
    for (;;) {
      const rows = await sqlRunner(scope.em.fork()).all<{ id: string; phone: string; status: string; wamid: string | null; error: RecipientView['error']; skip_reason: string | null; updated_at: Date }>(
        `select id, phone, status, wamid, error, skip_reason, updated_at from broadcast_recipients where broadcast_id = ? and organization_id = ? and id > ? order by id limit 5000`,
        [b.id, scope.organizationId, after],
      );
      if (!rows.length) return;
      yield rows
        .map((r) => {
          const v = recipientView(r);
          return [v.phone, v.status, v.messageId, v.error?.code, v.error?.title, v.error?.details, v.skipReason, v.updatedAt].map(csvCell).join(',') + '\n';
        })
        .join('');
      after = String(rows[rows.length - 1]!.id);
    }
  }

  private async view(scope: TenantScope, b: Broadcast): Promise<BroadcastView> {
    return broadcastView(
      { id: b.id, status: b.status, channelId: b.channel, template: b.template, createdAt: b.createdAt, finishedAt: b.finishedAt ?? null, failureReason: b.failureReason ?? null },
      await broadcastStatistics(sqlRunner(scope.em), b.id),
    );
  }

  private async find(scope: TenantScope, id: string, em = scope.em, lockMode?: LockMode): Promise<Broadcast> {
    const b = isId(id) ? await em.findOne(Broadcast, { id }, lockMode ? { lockMode } : {}) : null;
    if (!b) throw new NotFoundError('broadcast');
    return b;
  }

  private async templateFor(scope: TenantScope, input: BroadcastInput): Promise<{ channel: Channel; template: Template }> {
    let channel: Channel | null;
    if (input.channelId) {
      channel = isId(input.channelId) ? await scope.em.findOne(Channel, { id: input.channelId, status: 'active' }) : null;
      if (!channel) throw new ValidationError([{ path: 'channelId', message: 'No such channel.' }]);
    } else {
      const channels = await scope.em.find(Channel, { status: 'active' }, { limit: 2 });
      if (channels.length !== 1) {
        throw new ValidationError([{ path: 'channelId', message: channels.length ? 'Several channels: name one.' : 'Connect a WhatsApp channel first.' }]);
      }
      channel = channels[0]!;
    }
    const template = await scope.em.findOne(Template, { channel: channel.id, name: input.template.name, language: input.template.language });
    if (!template) throw new TemplateNotFoundError(input.template.name, input.template.language);
    return { channel, template };
  }

  /** Every recipient's params checked now; bad phones are kept, to fail on their own. */
  private checkRecipients(template: Template, input: BroadcastInput, offset: number) {
    const problems: FieldProblem[] = [];
    const recipients = input.users.map((u, i) => {
      const result = validateTemplateSend(template, { components: input.template.components ?? [] }, {
        recipientParams: u.params ?? {},
        defaultParams: input.params ?? {},
        pathPrefix: `users.${offset + i}.template`,
      });
      if (!result.ok) problems.push(...result.problems.slice(0, 5));
      return { raw: u.phone, phone: parsePhone(u.phone), params: u.params ?? {} };
    });
    if (problems.length) throw new TemplateParamsMismatchError(problems.slice(0, 100));
    return recipients;
  }

  /**
   * Stores the recipients whose phone the broadcast does not hold yet (the first of a repeated
   * phone wins); answers how many were stored. Unparseable phones are each stored, to fail.
   */
  private async insertRecipients(
    tx: TenantScope['em'],
    organizationId: string,
    broadcastId: string,
    recipients: { raw: string; phone: string | null; params: Record<string, string> }[],
  ): Promise<number> {
    const sql = sqlRunner(tx);
    const now = this.clock.now();
    const seen = new Set<string>();
    const unique = recipients.filter((r) => r.phone === null || (!seen.has(r.phone) && !!seen.add(r.phone)));
    let added = 0;
    for (let i = 0; i < unique.length; i += INSERT_CHUNK) {
      const chunk = unique.slice(i, i + INSERT_CHUNK);
      const [row] = await sql.all<{ n: number }>(
        `with inserted as (
           insert into broadcast_recipients (organization_id, broadcast_id, phone, params, status, status_rank, error, attempts, updated_at)
           select ?, ?, p.phone, p.params, p.status, case when p.status = 'failed' then 4 else 0 end, p.error, 0, ?
             from jsonb_to_recordset(?::jsonb) as p(phone text, params jsonb, status text, error jsonb)
            where p.status = 'failed' or not exists (select 1 from broadcast_recipients r where r.broadcast_id = ? and r.phone = p.phone)
           returning 1
         )
         select count(*)::int as n from inserted`,
        [
          organizationId,
          broadcastId,
          now,
          JSON.stringify(
            chunk.map((r) =>
              r.phone
                ? { phone: r.phone, params: r.params, status: 'pending', error: null }
                : { phone: r.raw, params: r.params, status: 'failed', error: { code: 'invalid_phone', title: 'The phone number cannot be parsed.' } },
            ),
          ),
          broadcastId,
        ],
      );
      added += row?.n ?? 0;
    }
    return added;
  }
}

function recipientView(r: { phone: string; status: string; wamid: string | null; error: RecipientView['error']; skip_reason: string | null; updated_at: Date }): RecipientView {
  return {
    phone: r.phone,
    status: r.status === 'sending' ? 'pending' : r.status,
    messageId: r.wamid,
    error: r.error ?? null,
    skipReason: r.skip_reason,
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

function parsePhone(raw: string): string | null {
  try {
    return toE164(raw);
  } catch {
    return null;
  }
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const s = String(value);
  // Quote what CSV needs quoted, and defuse spreadsheet formulas.
  const formula = /^[=@]/.test(s) || (/^[+-]/.test(s) && !/^[+-]?\d+$/.test(s));
  const safe = formula ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
