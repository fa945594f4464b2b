import type { EntityManager } from '@mikro-orm/postgresql';
import { isId, NotFoundError, ValidationError } from '@parley/core';
import { Channel, ChannelNotice, type ChannelNoticeKind } from '@parley/db';
import { decodeSequenceCursor, encodeSequenceCursor, keysetWhere, type Page, type PageRequest, toPage } from '../pagination';
import type { TenantScope } from '../scope';
import { sqlRunner } from '../sql';
import type { MetaInboundProcessor } from './processor';

export interface InboundFailureView {
  id: string;
  deliveryId: string | null;
  organizationId: string | null;
  channelId: string | null;
  phoneNumberId: string | null;
  kind: string;
  field: string | null;
  item: unknown;
  reason: string;
  state: 'retrying' | 'parked' | 'replayed';
  attempts: number;
  nextAttemptAt: string | null;
  createdAt: string;
  updatedAt: string;
  resolvedAt: string | null;
}

export interface ParkedDeliveryView {
  id: string;
  receivedAt: string;
  attempts: number;
  lastError: string | null;
  parkedAt: string;
  payload: unknown;
}

export interface ChannelNoticeView {
  id: string;
  channelId: string;
  kind: ChannelNoticeKind;
  code: number | null;
  title: string | null;
  detail: string | null;
  data: Record<string, unknown>;
  occurredAt: string;
}

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

interface FailureRow {
  id: string;
  delivery_id: string | null;
  organization_id: string | null;
  channel_id: string | null;
  phone_number_id: string | null;
  item_kind: string;
  item: unknown;
  context: { field?: string } | null;
  reason: string;
  state: InboundFailureView['state'];
  attempts: number;
  next_attempt_at: Date | null;
  created_at: Date;
  updated_at: Date;
  resolved_at: Date | null;
}

function failureView(r: FailureRow): InboundFailureView {
  return {
    id: String(r.id),
    deliveryId: r.delivery_id === null ? null : String(r.delivery_id),
    organizationId: r.organization_id,
    channelId: r.channel_id,
    phoneNumberId: r.phone_number_id,
    kind: r.item_kind,
    field: r.context?.field ?? null,
    item: r.item,
    reason: r.reason,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: iso(r.next_attempt_at),
    createdAt: iso(r.created_at)!,
    updatedAt: iso(r.updated_at)!,
    resolvedAt: iso(r.resolved_at),
  };
}

/**
 * The operator's view of what Meta sent that could not be applied: items set aside with their
 * reason, and whole deliveries out of attempts. Both can be replayed once the cause is fixed.
 */
export class InboundFailureService {
  constructor(private readonly processor: MetaInboundProcessor) {}

  async list(em: EntityManager, page: PageRequest & { state?: InboundFailureView['state'] | undefined; organizationId?: string | undefined }): Promise<Page<InboundFailureView>> {
    const after = decodeSequenceCursor(page.cursor);
    if (page.organizationId !== undefined && !isId(page.organizationId)) throw new ValidationError([{ path: 'query.organizationId', message: 'Not an organization id.' }]);
    const rows = await sqlRunner(em).all<FailureRow>(
      `select * from meta_inbound_failures
        where (?::bigint is null or id < ?::bigint) and (?::text is null or state = ?) and (?::uuid is null or organization_id = ?::uuid)
        order by id desc limit ?`,
      [after ?? null, after ?? null, page.state ?? null, page.state ?? null, page.organizationId ?? null, page.organizationId ?? null, page.limit + 1],
    );
    const more = rows.length > page.limit;
    const data = (more ? rows.slice(0, page.limit) : rows).map(failureView);
    return { data, nextCursor: more ? encodeSequenceCursor(data[data.length - 1]!.id) : null };
  }

  async get(em: EntityManager, id: string): Promise<InboundFailureView> {
    const [row] = /^\d{1,18}$/.test(id) ? await sqlRunner(em).all<FailureRow>('select * from meta_inbound_failures where id = ?', [id]) : [];
    if (!row) throw new NotFoundError('inbound failure');
    return failureView(row);
  }

  /** Applies the item again now; answers it with its new state. */
  async replay(em: EntityManager, id: string): Promise<InboundFailureView> {
    await this.get(em, id);
    await this.processor.replay(id, true);
    return this.get(em, id);
  }

  async parkedDeliveries(em: EntityManager, page: PageRequest): Promise<Page<ParkedDeliveryView>> {
    const after = decodeSequenceCursor(page.cursor);
    const rows = await sqlRunner(em).all<{ id: string; received_at: Date; attempts: number; last_error: string | null; parked_at: Date; payload: unknown }>(
      `select id, received_at, attempts, last_error, parked_at, payload from meta_webhook_deliveries
        where parked_at is not null and processed_at is null and (?::bigint is null or id < ?::bigint) order by id desc limit ?`,
      [after ?? null, after ?? null, page.limit + 1],
    );
    const more = rows.length > page.limit;
    const data = (more ? rows.slice(0, page.limit) : rows).map((r) => ({
      id: String(r.id),
      receivedAt: iso(r.received_at)!,
      attempts: r.attempts,
      lastError: r.last_error,
      parkedAt: iso(r.parked_at)!,
      payload: r.payload,
    }));
    return { data, nextCursor: more ? encodeSequenceCursor(data[data.length - 1]!.id) : null };
  }

  /** A parked delivery goes back in line with fresh attempts; the processor is woken for it. */
  async replayDelivery(em: EntityManager, id: string): Promise<{ id: string; state: 'pending' }> {
    if (!/^\d{1,18}$/.test(id)) throw new NotFoundError('delivery');
    const rows = await sqlRunner(em).all<{ id: string }>(
      `update meta_webhook_deliveries set parked_at = null, next_attempt_at = null, attempts = 0 where id = ? and parked_at is not null and processed_at is null returning id`,
      [id],
    );
    if (!rows.length) throw new NotFoundError('delivery');
    this.processor.kick();
    return { id, state: 'pending' };
  }
}

/** What Meta said about a channel besides messages: errors, account and template notices. */
export async function listChannelNotices(
  scope: TenantScope,
  channelId: string,
  page: PageRequest & { kind?: ChannelNoticeKind | undefined },
): Promise<Page<ChannelNoticeView>> {
  const channel = isId(channelId) ? await scope.em.findOne(Channel, { id: channelId }) : null;
  if (!channel) throw new NotFoundError('channel');
  const rows = await scope.em.find(
    ChannelNotice,
    { channel: channel.id, ...(page.kind ? { kind: page.kind } : {}), ...keysetWhere(page.cursor) },
    { orderBy: { id: 'desc' }, limit: page.limit + 1 },
  );
  return toPage(rows, page.limit, (n) => ({
    id: n.id,
    channelId: n.channel,
    kind: n.kind,
    code: n.code ?? null,
    title: n.title ?? null,
    detail: n.detail ?? null,
    data: n.data,
    occurredAt: n.occurredAt.toISOString(),
  }));
}
