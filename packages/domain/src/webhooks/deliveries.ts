import type { EntityManager } from '@mikro-orm/postgresql';
import { type Clock, ConflictError, isId, newId, NotFoundError, UnprocessableError } from '@parley/core';
import { type DomainEventType, eventMatches, eventTouchpoint } from '../events';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from '../pagination';
import type { TenantScope } from '../scope';
import { type SqlRunner, sqlRunner } from '../sql';
import { findSubscription } from './subscriptions';

export interface WebhookAttemptView {
  attemptedAt: string;
  /** `event` for the schedule's attempts, `manual` for a retry by hand, `replay` for a replay. */
  trigger: 'event' | 'manual' | 'replay';
  succeeded: boolean;
  statusCode: number | null;
  latencyMs: number;
  responseExcerpt: string | null;
  error: string | null;
}

export interface WebhookDeliveryView {
  id: string;
  subscriptionId: string;
  /** The event's id, sent as `webhook-id` on every attempt of this delivery. */
  eventId: string;
  eventType: string;
  eventCreatedAt: string;
  status: 'pending' | 'succeeded' | 'failed';
  attemptCount: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  attempts: WebhookAttemptView[];
}

interface DeliveryRow {
  id: string;
  subscription_id: string;
  event_id: string;
  event_type: string;
  event_created_at: Date;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  next_attempt_at: Date | null;
  leased_until: Date | null;
  last_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
}

interface AttemptRow {
  delivery_id: string;
  attempted_at: Date;
  trigger: WebhookAttemptView['trigger'];
  succeeded: boolean;
  status_code: number | null;
  latency_ms: number;
  response_excerpt: string | null;
  error: string | null;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

export interface DeliveryFilter extends PageRequest {
  status?: 'pending' | 'succeeded' | 'failed' | undefined;
  /** An event name or a prefix of one, as in subscriptions. */
  eventType?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

/** A replay re-sends at most this many events per request; narrow the range for more. */
export const MAX_REPLAY_EVENTS = 50_000;

export interface WebhookBacklog {
  /** The oldest event not yet delivered to an active subscription (or not yet fanned out). */
  oldestUndeliveredEventAt: string | null;
  oldestUndeliveredAgeSeconds: number;
  pendingDeliveries: number;
  undispatchedEvents: number;
}

/** The delivery log of a subscription, retries by hand, replays, and the backlog's age. */
export class WebhookDeliveryService {
  constructor(private readonly clock: Clock) {}

  async list(scope: TenantScope, subscriptionId: string, filter: DeliveryFilter): Promise<Page<WebhookDeliveryView>> {
    const sub = await findSubscription(scope, subscriptionId);
    const after = decodeCursor(filter.cursor);
    const sql = sqlRunner(scope.em);
    const prefix = filter.eventType ?? null;
    const rows = await sql.all<DeliveryRow>(
      `select * from webhook_deliveries
       where organization_id = ? and subscription_id = ?
         and (?::uuid is null or id < ?::uuid)
         and (?::text is null or status = ?)
         and (?::text is null or event_type = ? or event_type like ? || '.%')
         and (?::timestamptz is null or event_created_at >= ?)
         and (?::timestamptz is null or event_created_at < ?)
       order by id desc limit ?`,
      [
        scope.organizationId,
        sub.id,
        after ?? null,
        after ?? null,
        filter.status ?? null,
        filter.status ?? null,
        prefix,
        prefix,
        prefix?.replace(/[\\%_]/g, (c) => `\\${c}`) ?? null,
        filter.since ?? null,
        filter.since ?? null,
        filter.until ?? null,
        filter.until ?? null,
        filter.limit + 1,
      ],
    );
    const page = rows.slice(0, filter.limit);
    const attempts = page.length
      ? await sql.all<AttemptRow>(
          `select * from webhook_attempts where organization_id = ? and delivery_id in (select value::uuid from jsonb_array_elements_text(?::jsonb)) order by id`,
          [scope.organizationId, JSON.stringify(page.map((r) => r.id))],
        )
      : [];
    const byDelivery = new Map<string, AttemptRow[]>();
    for (const a of attempts) byDelivery.set(a.delivery_id, [...(byDelivery.get(a.delivery_id) ?? []), a]);
    const data = page.map((r) => deliveryView(r, byDelivery.get(r.id) ?? []));
    return { data, nextCursor: rows.length > filter.limit ? encodeCursor(page[page.length - 1]!.id) : null };
  }

  async get(scope: TenantScope, subscriptionId: string, deliveryId: string): Promise<WebhookDeliveryView> {
    const row = await this.find(scope, subscriptionId, deliveryId);
    const attempts = await sqlRunner(scope.em).all<AttemptRow>(`select * from webhook_attempts where organization_id = ? and delivery_id = ? order by id`, [
      scope.organizationId,
      row.id,
    ]);
    return deliveryView(row, attempts);
  }

  /**
   * One more attempt now, with the same `webhook-id`. It goes in the retry lane, so a partner
   * retrying by hand never delays the first attempts of new events.
   */
  async retry(scope: TenantScope, subscriptionId: string, deliveryId: string): Promise<WebhookDeliveryView> {
    const row = await this.find(scope, subscriptionId, deliveryId);
    const now = this.clock.now();
    if (row.leased_until && new Date(row.leased_until) > now) {
      throw new ConflictError('delivery_in_progress', 'An attempt of this delivery is under way; retry once it has ended.');
    }
    await sqlRunner(scope.em).run(
      `update webhook_deliveries set status = 'pending', lane = 'retry', trigger = 'manual', next_attempt_at = ?
       where organization_id = ? and id = ? and (leased_until is null or leased_until <= ?)`,
      [now, scope.organizationId, row.id, now],
    );
    return this.get(scope, subscriptionId, deliveryId);
  }

  /**
   * Sends again every event of a time range that the subscription's filter matches: new attempts
   * on a fresh schedule, under the same event ids, so receivers that already have an event can
   * tell. Events the subscription never had a delivery for (before it existed, say) are included.
   */
  async replay(scope: TenantScope, subscriptionId: string, range: { since: Date; until: Date }): Promise<{ replayed: number }> {
    const sub = await findSubscription(scope, subscriptionId);
    if (range.until <= range.since) throw new UnprocessableError('invalid_range', '`until` must be later than `since`.');
    const sql = sqlRunner(scope.em);
    const events = await sql.all<{ id: string; type: string; created_at: Date; data: unknown }>(
      `select id, type, created_at, case when ?::text is null then null else data end as data from domain_events
       where organization_id = ? and created_at >= ? and created_at < ? order by created_at limit ?`,
      [sub.touchpoint, scope.organizationId, range.since, range.until, MAX_REPLAY_EVENTS + 1],
    );
    if (events.length > MAX_REPLAY_EVENTS) {
      throw new UnprocessableError('replay_too_large', `The range holds more than ${MAX_REPLAY_EVENTS} events; replay it in smaller ranges.`);
    }
    const matching = events.filter((e) => {
      const type = e.type as DomainEventType;
      if (!sub.events.some((f) => eventMatches(f, type))) return false;
      if (sub.touchpoint === null) return true;
      const touchpoint = eventTouchpoint(type, e.data as never);
      return touchpoint === null || touchpoint === sub.touchpoint;
    });
    const now = this.clock.now();
    for (let i = 0; i < matching.length; i += 1000) {
      const chunk = matching.slice(i, i + 1000).map((e) => ({ id: newId(), event: e.id, type: e.type, at: new Date(e.created_at).toISOString() }));
      // A delivery under way keeps its lease; its own schedule carries it.
      await sql.run(
        `insert into webhook_deliveries as d (id, organization_id, subscription_id, event_id, event_type, event_created_at, status, lane, trigger, next_attempt_at, created_at)
         select v.id, ?, ?, v.event, v.type, v.at, 'pending', 'retry', 'replay', ?, ?
         from jsonb_to_recordset(?::jsonb) as v(id uuid, event uuid, type text, at timestamptz)
         on conflict (subscription_id, event_id) do update set status = 'pending', lane = 'retry', trigger = 'replay', attempts = 0, next_attempt_at = excluded.next_attempt_at
         where d.leased_until is null or d.leased_until <= excluded.next_attempt_at`,
        [scope.organizationId, sub.id, now, now, JSON.stringify(chunk)],
      );
    }
    return { replayed: matching.length };
  }

  /**
   * How far behind delivery is for this organization: the age of the oldest event that an active
   * subscription has not received yet. A growing age with events flowing means delivery stalled.
   */
  async backlog(scope: TenantScope): Promise<WebhookBacklog> {
    const [row] = await sqlRunner(scope.em).all<{ oldest_pending: Date | null; pending: string; oldest_undispatched: Date | null; undispatched: string }>(
      `select
         (select min(d.event_created_at) from webhook_deliveries d join webhook_subscriptions s on s.id = d.subscription_id and s.status = 'active'
           where d.organization_id = ? and d.status = 'pending') as oldest_pending,
         (select count(*) from webhook_deliveries d join webhook_subscriptions s on s.id = d.subscription_id and s.status = 'active'
           where d.organization_id = ? and d.status = 'pending') as pending,
         (select min(created_at) from domain_events where organization_id = ? and dispatched_at is null) as oldest_undispatched,
         (select count(*) from domain_events where organization_id = ? and dispatched_at is null) as undispatched`,
      [scope.organizationId, scope.organizationId, scope.organizationId, scope.organizationId],
    );
    return backlogOf(row!, this.clock.now());
  }

  /** The backlog of every organization that has one, the longest waiting first (operators). */
  async backlogs(em: EntityManager, limit: number): Promise<(WebhookBacklog & { organizationId: string })[]> {
    return backlogByOrganization(sqlRunner(em), this.clock.now(), limit);
  }

  private async find(scope: TenantScope, subscriptionId: string, deliveryId: string): Promise<DeliveryRow> {
    const sub = await findSubscription(scope, subscriptionId);
    if (!isId(deliveryId)) throw new NotFoundError('webhook delivery');
    const [row] = await sqlRunner(scope.em).all<DeliveryRow>(`select * from webhook_deliveries where organization_id = ? and subscription_id = ? and id = ?`, [
      scope.organizationId,
      sub.id,
      deliveryId,
    ]);
    if (!row) throw new NotFoundError('webhook delivery');
    return row;
  }
}

/** Every organization with something undelivered, the longest waiting first: the operator's view. */
export async function backlogByOrganization(sql: SqlRunner, now: Date, limit: number): Promise<(WebhookBacklog & { organizationId: string })[]> {
  const rows = await sql.all<{ organization_id: string; oldest_pending: Date | null; pending: string; oldest_undispatched: Date | null; undispatched: string }>(
    `with pending as (
       select d.organization_id, min(d.event_created_at) as oldest, count(*) as n from webhook_deliveries d
       join webhook_subscriptions s on s.id = d.subscription_id and s.status = 'active'
       where d.status = 'pending' group by d.organization_id
     ), undispatched as (
       select organization_id, min(created_at) as oldest, count(*) as n from domain_events where dispatched_at is null group by organization_id
     )
     select coalesce(p.organization_id, u.organization_id) as organization_id, p.oldest as oldest_pending, coalesce(p.n, 0) as pending,
            u.oldest as oldest_undispatched, coalesce(u.n, 0) as undispatched
     from pending p full join undispatched u on u.organization_id = p.organization_id
     order by least(p.oldest, u.oldest) limit ?`,
    [limit],
  );
  return rows.map((r) => ({ organizationId: r.organization_id, ...backlogOf(r, now) }));
}

export function backlogOf(
  row: { oldest_pending: Date | null; pending: string | number; oldest_undispatched: Date | null; undispatched: string | number },
  now: Date,
): WebhookBacklog {
  const candidates = [row.oldest_pending, row.oldest_undispatched].filter((d): d is Date => d !== null).map((d) => new Date(d).getTime());
  const oldest = candidates.length ? Math.min(...candidates) : null;
  return {
    oldestUndeliveredEventAt: oldest === null ? null : new Date(oldest).toISOString(),
    oldestUndeliveredAgeSeconds: oldest === null ? 0 : Math.max(0, Math.round((now.getTime() - oldest) / 1000)),
    pendingDeliveries: Number(row.pending),
    undispatchedEvents: Number(row.undispatched),
  };
}

function deliveryView(r: DeliveryRow, attempts: AttemptRow[]): WebhookDeliveryView {
  return {
    id: r.id,
    subscriptionId: r.subscription_id,
    eventId: r.event_id,
    eventType: r.event_type,
    eventCreatedAt: iso(r.event_created_at)!,
    status: r.status,
    attemptCount: r.attempts,
    nextAttemptAt: r.status === 'pending' ? iso(r.next_attempt_at) : null,
    lastAttemptAt: iso(r.last_attempt_at),
    lastStatusCode: r.last_status_code,
    lastError: r.last_error,
    attempts: attempts.map((a) => ({
      attemptedAt: iso(a.attempted_at)!,
      trigger: a.trigger,
      succeeded: a.succeeded,
      statusCode: a.status_code,
      latencyMs: a.latency_ms,
      responseExcerpt: a.response_excerpt,
      error: a.error,
    })),
  };
}
