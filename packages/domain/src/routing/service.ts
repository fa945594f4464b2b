import { type Clock, ConflictError, type FieldProblem, ForbiddenError, isId, newId, NotFoundError, ValidationError } from '@parley/core';
import { Organization } from '@parley/db';
import { actorId } from '../access';
import type { MessagingService } from '../messaging';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from '../pagination';
import type { TenantScope } from '../scope';
import { type SqlRunner, sqlRunner } from '../sql';
import { assertWebhookUrlShape, resolveWebhookTarget, type TargetPolicy } from '../webhooks/target';
import {
  type ChannelRouting,
  channelRoutingInput,
  OBJECT_KINDS,
  type ObjectKey,
  type ObjectSegment,
  type RoutingDocument,
} from './config';
import { averageWaitMinutes, claimWaiting, listWaiting, removedQueues, waitingQueueIds } from './queues';
import { DEFAULT_TIME_ZONE, isValidTimeZone } from './time';
import { validateRoutingDocument } from './validate';
import {
  compareDocuments,
  createVersion,
  loadLiveRouting,
  lockDraft,
  readDraft,
  type RoutingChange,
  scheduleApply,
  type ScheduleRow,
  type VersionRow,
  writeDraft,
} from './versions';

type RoutingObject = RoutingDocument[ObjectKey][number];
type ObjectInput = Omit<RoutingObject, 'id'>;

export interface VersionView {
  id: string;
  number: number;
  source: VersionRow['source'];
  restoredFrom: number | null;
  createdBy: string | null;
  createdAt: string;
  live: boolean;
}

export interface ScheduleView {
  id: string;
  at: string;
  status: ScheduleRow['status'];
  versionId: string | null;
  createdBy: string | null;
  createdAt: string;
}

const versionView = (row: Omit<VersionRow, 'document'>, liveId: string | undefined): VersionView => ({
  id: row.id,
  number: Number(row.number),
  source: row.source,
  restoredFrom: row.restored_from,
  createdBy: row.created_by,
  createdAt: new Date(row.created_at).toISOString(),
  live: row.id === liveId,
});

const scheduleView = (row: ScheduleRow): ScheduleView => ({
  id: row.id,
  at: new Date(row.at).toISOString(),
  status: row.status,
  versionId: row.version_id,
  createdBy: row.created_by,
  createdAt: new Date(row.created_at).toISOString(),
});

/** The organization's time zone, which business hours are read in (default UTC). */
export async function organizationTimeZone(sql: SqlRunner, organizationId: string): Promise<string> {
  const [row] = await sql.all<{ zone: string | null }>(`select settings->>'timeZone' as zone from organizations where id = ?`, [organizationId]);
  return row?.zone ?? DEFAULT_TIME_ZONE;
}

/**
 * Routing configuration: objects edited in the organization's draft, each edit validated against
 * the whole draft; apply (now or at a time) makes the draft a new live version; restore makes an
 * old version live again as a new one. See docs/routing.md.
 */
export class RoutingService {
  constructor(
    private readonly clock: Clock,
    private readonly policy: TargetPolicy,
  ) {}

  private async problems(sql: SqlRunner, organizationId: string, doc: RoutingDocument): Promise<FieldProblem[]> {
    const userIds = [...new Set(doc.queues.flatMap((q) => q.agentIds))].filter(isId);
    const channelIds = doc.channels.map((c) => c.channelId).filter(isId);
    const users = userIds.length
      ? await sql.all<{ id: string }>('select id from users where organization_id = ? and disabled_at is null and id in (?)', [organizationId, userIds])
      : [];
    const channels = channelIds.length
      ? await sql.all<{ id: string }>(`select id from channels where organization_id = ? and id in (?)`, [organizationId, channelIds])
      : [];
    const problems = validateRoutingDocument(doc, {
      userIds: new Set(users.map((u) => u.id)),
      channelIds: new Set(channels.map((c) => c.id)),
      allowInsecureUrls: this.policy.allowInsecure,
    });
    doc.chatbots.forEach((c, i) => {
      try {
        assertWebhookUrlShape(c.url, this.policy);
      } catch (err) {
        problems.push({ path: `chatbots.${i}.url`, message: (err as Error).message.replace('The webhook URL', 'The bot URL') });
      }
    });
    return problems;
  }

  private async assertValid(sql: SqlRunner, organizationId: string, doc: RoutingDocument, detail: string): Promise<void> {
    const problems = await this.problems(sql, organizationId, doc);
    if (problems.length) throw new ValidationError(problems, detail);
  }

  /** Runs one change on the locked draft and saves it only if the whole draft is still valid. */
  private async edit<T>(scope: TenantScope, change: (doc: RoutingDocument) => T): Promise<T> {
    const now = this.clock.now();
    return scope.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      const { document } = await lockDraft(sql, scope.organizationId, now);
      const result = change(document);
      await this.assertValid(sql, scope.organizationId, document, 'The routing draft would not be valid with this change; nothing was saved. Each problem’s path is in the draft document.');
      await writeDraft(sql, scope.organizationId, document, now);
      return result;
    });
  }

  /** A bot URL is checked like a partner webhook's, its name resolved once, before it is saved. */
  private async checkBotUrl(input: ObjectInput): Promise<void> {
    if (!('url' in input) || typeof input.url !== 'string') return;
    try {
      await resolveWebhookTarget(input.url, this.policy);
    } catch (err) {
      throw new ValidationError([{ path: 'url', message: (err as Error).message.replace('The webhook URL', 'The bot URL') }]);
    }
  }

  async draft(scope: TenantScope): Promise<{ document: RoutingDocument; updatedAt: string | null }> {
    const { document, updatedAt } = await readDraft(sqlRunner(scope.em), scope.organizationId);
    return { document, updatedAt: updatedAt?.toISOString() ?? null };
  }

  async list(scope: TenantScope, segment: ObjectSegment): Promise<RoutingObject[]> {
    const { document } = await readDraft(sqlRunner(scope.em), scope.organizationId);
    return document[OBJECT_KINDS[segment].key];
  }

  async get(scope: TenantScope, segment: ObjectSegment, id: string): Promise<RoutingObject> {
    const found = (await this.list(scope, segment)).find((o) => o.id === id);
    if (!found) throw new NotFoundError(OBJECT_KINDS[segment].label);
    return found;
  }

  async create(scope: TenantScope, segment: ObjectSegment, input: ObjectInput): Promise<RoutingObject> {
    await this.checkBotUrl(input);
    const created = { ...input, id: newId() } as RoutingObject;
    return this.edit(scope, (doc) => {
      (doc[OBJECT_KINDS[segment].key] as RoutingObject[]).push(created);
      return created;
    });
  }

  async replace(scope: TenantScope, segment: ObjectSegment, id: string, input: ObjectInput): Promise<RoutingObject> {
    await this.get(scope, segment, id);
    await this.checkBotUrl(input);
    return this.edit(scope, (doc) => {
      const list = doc[OBJECT_KINDS[segment].key] as RoutingObject[];
      const at = list.findIndex((o) => o.id === id);
      if (at < 0) throw new NotFoundError(OBJECT_KINDS[segment].label);
      list[at] = { ...input, id } as RoutingObject;
      return list[at]!;
    });
  }

  /** Refused (400, with the paths that still refer to it) while another object uses it. */
  async remove(scope: TenantScope, segment: ObjectSegment, id: string): Promise<void> {
    await this.edit(scope, (doc) => {
      const list = doc[OBJECT_KINDS[segment].key] as RoutingObject[];
      const at = list.findIndex((o) => o.id === id);
      if (at < 0) throw new NotFoundError(OBJECT_KINDS[segment].label);
      list.splice(at, 1);
    });
  }

  /** Routing is set for active channels; a deleted channel's routing can still be read and removed. */
  private async assertChannel(scope: TenantScope, channelId: string, active = false): Promise<void> {
    const rows = isId(channelId)
      ? await sqlRunner(scope.em).all(`select id from channels where id = ? and organization_id = ? ${active ? `and status = 'active'` : ''}`, [channelId, scope.organizationId])
      : [];
    if (!rows.length) throw new NotFoundError('channel');
  }

  async listChannels(scope: TenantScope): Promise<ChannelRouting[]> {
    const { document } = await readDraft(sqlRunner(scope.em), scope.organizationId);
    return document.channels;
  }

  async getChannel(scope: TenantScope, channelId: string): Promise<ChannelRouting> {
    await this.assertChannel(scope, channelId);
    const found = (await this.listChannels(scope)).find((c) => c.channelId === channelId);
    if (!found) throw new NotFoundError('channel routing');
    return found;
  }

  async putChannel(scope: TenantScope, channelId: string, input: Omit<ChannelRouting, 'channelId'>): Promise<ChannelRouting> {
    await this.assertChannel(scope, channelId, true);
    const routing: ChannelRouting = { ...channelRoutingInput.parse(input), channelId };
    return this.edit(scope, (doc) => {
      const at = doc.channels.findIndex((c) => c.channelId === channelId);
      if (at < 0) doc.channels.push(routing);
      else doc.channels[at] = routing;
      return routing;
    });
  }

  async removeChannel(scope: TenantScope, channelId: string): Promise<void> {
    await this.assertChannel(scope, channelId);
    await this.edit(scope, (doc) => {
      const at = doc.channels.findIndex((c) => c.channelId === channelId);
      if (at < 0) throw new NotFoundError('channel routing');
      doc.channels.splice(at, 1);
    });
  }

  /**
   * Makes the whole draft live as a new version, or, with `at` in the future, schedules that: the
   * draft as it is now becomes live at `at`, whatever is edited meanwhile.
   */
  async apply(scope: TenantScope, at: Date | undefined): Promise<{ version: VersionView; schedule?: undefined } | { schedule: ScheduleView; version?: undefined }> {
    const now = this.clock.now();
    return scope.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      const { document } = await lockDraft(sql, scope.organizationId, now);
      await this.assertValid(sql, scope.organizationId, document, 'The routing draft is not valid; nothing was applied. Each problem’s path is in the draft document.');
      const by = actorId(scope.principal);
      if (at && at.getTime() > now.getTime()) return { schedule: scheduleView(await scheduleApply(sql, scope.organizationId, document, at, by, now)) };
      const row = await createVersion(sql, scope.organizationId, document, { source: 'apply', createdBy: by }, now);
      return { version: versionView(row, row.id) };
    });
  }

  async live(scope: TenantScope): Promise<{ version: VersionView | null; timeZone: string; document: RoutingDocument }> {
    const sql = sqlRunner(scope.em);
    const live = await loadLiveRouting(sql, scope.organizationId, this.clock.now());
    return { version: live.version ? versionView(live.version, live.version.id) : null, timeZone: await organizationTimeZone(sql, scope.organizationId), document: live.document };
  }

  async versions(scope: TenantScope, page: PageRequest): Promise<Page<VersionView>> {
    const sql = sqlRunner(scope.em);
    const after = decodeCursor(page.cursor);
    const live = await loadLiveRouting(sql, scope.organizationId, this.clock.now());
    const rows = await sql.all<Omit<VersionRow, 'document'>>(
      `select id, organization_id, number, source, restored_from, created_by, created_at from routing_versions
       where organization_id = ? ${after ? 'and number < (select number from routing_versions where id = ? and organization_id = ?)' : ''}
       order by number desc limit ?`,
      after ? [scope.organizationId, after, scope.organizationId, page.limit + 1] : [scope.organizationId, page.limit + 1],
    );
    const more = rows.length > page.limit;
    const data = rows.slice(0, page.limit).map((r) => versionView(r, live.version?.id));
    return { data, nextCursor: more && data.length ? encodeCursor(data[data.length - 1]!.id) : null };
  }

  /** By id, or by its number in the organization (`/v1/routing/versions/3`). */
  private async versionRow(sql: SqlRunner, organizationId: string, id: string): Promise<VersionRow> {
    const [row] = isId(id)
      ? await sql.all<VersionRow>('select * from routing_versions where id = ? and organization_id = ?', [id, organizationId])
      : /^[1-9]\d{0,8}$/.test(id)
        ? await sql.all<VersionRow>('select * from routing_versions where number = ? and organization_id = ?', [Number(id), organizationId])
        : [];
    if (!row) throw new NotFoundError('version');
    return row;
  }

  async version(scope: TenantScope, id: string): Promise<VersionView & { document: unknown }> {
    const sql = sqlRunner(scope.em);
    const live = await loadLiveRouting(sql, scope.organizationId, this.clock.now());
    const row = await this.versionRow(sql, scope.organizationId, id);
    return { ...versionView(row, live.version?.id), document: typeof row.document === 'string' ? JSON.parse(row.document) : row.document };
  }

  /** Rollback: the version's document becomes live again, as a new version. The draft is left as it is. */
  async restore(scope: TenantScope, id: string): Promise<VersionView> {
    const now = this.clock.now();
    return scope.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      const old = await this.versionRow(sql, scope.organizationId, id);
      const document = typeof old.document === 'string' ? JSON.parse(old.document) : old.document;
      const row = await createVersion(sql, scope.organizationId, document, { source: 'restore', createdBy: actorId(scope.principal), restoredFrom: Number(old.number) }, now);
      return versionView(row, row.id);
    });
  }

  async compare(scope: TenantScope): Promise<{ live: { id: string; number: number } | null; changes: RoutingChange[] }> {
    const sql = sqlRunner(scope.em);
    const live = await loadLiveRouting(sql, scope.organizationId, this.clock.now());
    const { document } = await readDraft(sql, scope.organizationId);
    return { live: live.version ? { id: live.version.id, number: Number(live.version.number) } : null, changes: compareDocuments(live.document, document) };
  }

  async schedules(scope: TenantScope): Promise<ScheduleView[]> {
    const sql = sqlRunner(scope.em);
    await loadLiveRouting(sql, scope.organizationId, this.clock.now());
    const rows = await sql.all<ScheduleRow>(
      `select id, organization_id, at, status, version_id, created_by, created_at from routing_schedules where organization_id = ? order by at desc, id desc limit 50`,
      [scope.organizationId],
    );
    return rows.map(scheduleView);
  }

  /** A pending scheduled apply is dropped; one already applied is history (409 `schedule_applied`). */
  async cancelSchedule(scope: TenantScope, id: string): Promise<void> {
    const now = this.clock.now();
    await scope.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      // A schedule that is due is applied first: past its time, it is no longer pending.
      await loadLiveRouting(sql, scope.organizationId, now);
      const [row] = isId(id) ? await sql.all<{ status: string }>('select status from routing_schedules where id = ? and organization_id = ? for update', [id, scope.organizationId]) : [];
      if (!row) throw new NotFoundError('schedule');
      if (row.status !== 'pending') throw new ConflictError('schedule_applied', 'This scheduled apply has already taken effect; restore an earlier version instead.');
      await sql.run('delete from routing_schedules where id = ? and organization_id = ?', [id, scope.organizationId]);
    });
  }

  async timeZone(scope: TenantScope): Promise<{ timeZone: string }> {
    return { timeZone: await organizationTimeZone(sqlRunner(scope.em), scope.organizationId) };
  }

  async setTimeZone(scope: TenantScope, timeZone: string): Promise<{ timeZone: string }> {
    if (!isValidTimeZone(timeZone)) throw new ValidationError([{ path: 'timeZone', message: `Not an IANA time zone: ${timeZone}.` }]);
    return scope.em.fork().transactional(async (tx) => {
      const org = await tx.findOneOrFail(Organization, { id: scope.organizationId });
      org.settings = { ...org.settings, timeZone };
      org.updatedAt = this.clock.now();
      await tx.flush();
      return { timeZone };
    });
  }
}

export interface WaitingView {
  id: string;
  queueId: string;
  queueName: string;
  queuePriority: number;
  /** The queue is not in the live version any more (name and priority are its last version's). */
  queueRemoved: boolean;
  conversationId: string;
  position: number;
  enqueuedAt: string;
  averageWaitMinutes: number;
  contact: { id: string; name: string | null; phone: string | null };
}

/** Agents and their queues at runtime: who waits, and taking the next one. */
export class QueueService {
  constructor(
    private readonly clock: Clock,
    private readonly messaging: Pick<MessagingService, 'updateIn'>,
  ) {}

  async waiting(scope: TenantScope, query: PageRequest & { queueId?: string | undefined }): Promise<Page<WaitingView>> {
    const sql = sqlRunner(scope.em);
    const now = this.clock.now();
    const { document } = await loadLiveRouting(sql, scope.organizationId, now);
    const p = scope.principal;
    // An agent sees the queues it works; an admin or an app sees every queue.
    const agent = p.kind === 'user' && p.role === 'agent';
    const listed = new Map<string, { name: string; priority: number; removed: boolean }>(
      (agent ? document.queues.filter((q) => q.agentIds.includes(p.userId)) : document.queues).map((q) => [q.id, { name: q.name, priority: q.priority, removed: false }]),
    );
    if (!agent) {
      // Conversations still waiting in a queue a later version removed have no agents to take
      // them; admins see them under that queue, flagged, so they can assign them.
      const live = new Set(document.queues.map((q) => q.id));
      const gone = (await waitingQueueIds(sql, scope.organizationId)).filter((id) => !live.has(id));
      for (const [id, q] of await removedQueues(sql, scope.organizationId, gone)) listed.set(id, { ...q, removed: true });
      for (const id of gone) if (!listed.has(id)) listed.set(id, { name: '', priority: 0, removed: true });
    }
    const queueIds = [...listed.keys()].filter((id) => query.queueId === undefined || id === query.queueId);
    const after = decodeCursor(query.cursor);
    const rows = await listWaiting(sql, scope.organizationId, queueIds, { limit: query.limit + 1, after });
    const averages = new Map<string, number>();
    for (const id of new Set(rows.map((r) => r.queueId))) averages.set(id, await averageWaitMinutes(sql, scope.organizationId, id, now));
    const more = rows.length > query.limit;
    const data = rows.slice(0, query.limit).map((r) => {
      const queue = listed.get(r.queueId)!;
      return {
        id: r.id,
        queueId: r.queueId,
        queueName: queue.name,
        queuePriority: queue.priority,
        queueRemoved: queue.removed,
        conversationId: r.conversationId,
        position: r.position,
        enqueuedAt: r.enqueuedAt.toISOString(),
        averageWaitMinutes: averages.get(r.queueId) ?? 0,
        contact: r.contact,
      };
    });
    return { data, nextCursor: more && data.length ? encodeCursor(data[data.length - 1]!.id) : null };
  }

  /**
   * The caller takes the oldest waiting conversation of the queue (or the named one) and it is
   * assigned to them, in one transaction with the claim and the assignment's event: a failure
   * anywhere leaves the conversation waiting in its place, never neither waiting nor assigned.
   */
  async take(scope: TenantScope, queueId: string, conversationId: string | undefined) {
    const now = this.clock.now();
    const { document } = await loadLiveRouting(sqlRunner(scope.em), scope.organizationId, now);
    const queue = document.queues.find((q) => q.id === queueId);
    if (!queue) throw new NotFoundError('queue');
    const p = scope.principal;
    if (p.kind !== 'user') throw new ForbiddenError('Only a person can take a conversation from a queue.');
    if (p.role !== 'admin' && !queue.agentIds.includes(p.userId)) throw new ForbiddenError('Only the queue’s agents can take from it.');
    return scope.em.fork().transactional(async (tx) => {
      const claimed = await claimWaiting(sqlRunner(tx), scope.organizationId, queue.id, conversationId);
      if (!claimed) {
        if (conversationId !== undefined) throw new NotFoundError('waiting conversation');
        throw new ConflictError('queue_empty', 'No conversation is waiting in this queue.');
      }
      return this.messaging.updateIn({ ...scope, em: tx }, tx, claimed.conversation_id, { kind: 'assign', userId: p.userId });
    });
  }
}
