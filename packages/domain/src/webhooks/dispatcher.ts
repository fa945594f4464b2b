import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { type Clock, type Logger, newId, type SecretBox, systemClock } from '@parley/core';
import { type DomainEventType, eventMatches, eventTouchpoint, recordEvent } from '../events';
import { type SqlRunner, sqlArray, sqlRunner } from '../sql';
import type { WebhookHttpClient, WebhookResponse } from './http';
import { DISABLE_AFTER_FAILING_MS, nextAttemptDelayMs, parseRetryAfter } from './schedule';
import { deliveryBody, signDelivery } from './signing';

export interface WebhookDispatcherOptions {
  /** How often undispatched events and due retries are looked for. */
  pollMs?: number;
  /** Events fanned out per transaction. */
  fanOutBatch?: number;
  /** Attempts in flight per subscription for first attempts, and separately for retries. */
  firstLaneCap?: number;
  retryLaneCap?: number;
  /** Attempts in flight in this process, all subscriptions together. */
  maxInFlight?: number;
  /**
   * A claimed delivery belongs to this process this long; past it, another takes it over. It must
   * outlast an attempt (the HTTP client's 15 s) and the write of its result.
   */
  leaseMs?: number;
  /** Results are written together, at most this long after the attempt ended. */
  flushMs?: number;
  /**
   * `webhook-timestamp` is when the request really leaves, whatever clock schedules the
   * attempts, or receivers would refuse it as stale; tests move the scheduling clock only.
   */
  signingClock?: Clock;
  random?: () => number;
  /**
   * Serve only these organizations' events and subscriptions: capacity dedicated to a tenant, or
   * a test's dispatcher that must not touch other tests' tenants. Unset serves all.
   */
  organizationIds?: readonly string[] | null;
}

type Lane = 'first' | 'retry';

interface SubscriptionState {
  organizationId: string;
  inFlight: Record<Lane, number>;
  failingSince: Date | null;
  /** The last claim filled this lane's cap, so more may be due. */
  backlog: Record<Lane, boolean>;
}

/** A delivery this process holds a lease on, with all an attempt needs. */
interface Claim {
  id: string;
  subscription_id: string;
  organization_id: string;
  event_id: string;
  attempts: number;
  trigger: 'event' | 'manual' | 'replay';
  lane: Lane;
  leased_until: Date;
  url: string;
  secret_ciphertext: string;
  previous_secret_ciphertext: string | null;
  previous_secret_expires_at: Date | null;
  failing_since: Date | null;
  event_type: string;
  event_created_at: Date;
  seq: string;
  data_json: string;
}

interface Outcome {
  claim: Claim;
  at: Date;
  response: WebhookResponse;
}

const EXCERPT_CHARS = 1024;

/**
 * Delivers domain events to partner webhook subscriptions, at least once.
 *
 * Fan-out: undispatched events become one delivery per matching active subscription, in the
 * transaction that marks them dispatched. Attempts: a delivery is leased before its request goes
 * out and settled after; a process that dies mid-attempt leaves a lease that expires, and another
 * attempt carries the same `webhook-id` (the event id), so receivers can tell a repeat.
 *
 * Isolation: each subscription has its own in-flight cap, separately for first attempts and for
 * retries, and claims take per subscription only what its cap allows. A slow or failing endpoint
 * therefore fills only its own slots; the rest wait in the database, not in front of others.
 */
export class WebhookDispatcher {
  private readonly o: Required<WebhookDispatcherOptions>;
  private readonly subscriptions = new Map<string, SubscriptionState>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly decrypted = new Map<string, string>();
  private outcomes: Outcome[] = [];
  private timers: NodeJS.Timeout[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private fanningOut: Promise<number> | undefined;
  private claiming: Promise<number> | undefined;
  private claimAgain = false;
  private claimSoon: NodeJS.Timeout | undefined;
  /** Timers run; `settle()` works without them. */
  private started = false;
  /** `stop()` was called: no new attempts. */
  private stopped = false;

  constructor(
    private readonly orm: MikroORM,
    private readonly secrets: SecretBox,
    private readonly http: WebhookHttpClient,
    private readonly clock: Clock,
    private readonly logger: Logger,
    options: WebhookDispatcherOptions = {},
  ) {
    this.o = {
      pollMs: 100,
      fanOutBatch: 500,
      firstLaneCap: 16,
      retryLaneCap: 4,
      maxInFlight: 1024,
      leaseMs: 60_000,
      flushMs: 25,
      signingClock: systemClock,
      random: Math.random,
      organizationIds: null,
      ...options,
    };
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopped = false;
    this.timers = [
      setInterval(() => this.kick(), this.o.pollMs),
      setInterval(() => void this.refreshSubscriptions().catch((err: unknown) => this.logger.warn({ err }, 'webhook subscriptions not refreshed')), 1000),
    ];
    for (const t of this.timers) t.unref();
    void this.refreshSubscriptions()
      .catch((err: unknown) => this.logger.warn({ err }, 'webhook subscriptions not refreshed'))
      .finally(() => this.kick());
  }

  /** Takes no new work, lets attempts under way finish and writes their results. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.started = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    clearTimeout(this.claimSoon);
    await this.fanningOut;
    await this.claiming;
    await Promise.allSettled([...this.inFlight]);
    await this.flush();
  }

  /** Look for work now (events were committed, capacity freed). */
  kick(): void {
    if (!this.started || this.stopped) return;
    void this.fanOut();
    this.claim(true);
  }

  /**
   * Works until nothing is left that is due by the clock: every event fanned out, every due
   * attempt made and its result written. For tests and benchmarks.
   */
  async settle(): Promise<void> {
    for (;;) {
      await this.refreshSubscriptions();
      let worked = 0;
      while ((await this.fanOut()) > 0) worked++;
      await this.claiming;
      worked += await this.claimNow(true);
      while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
      await this.flush();
      if (!worked && !this.inFlight.size && !this.outcomes.length) return;
    }
  }

  private servedClause(): string {
    return this.o.organizationIds ? `and organization_id in (select value::uuid from jsonb_array_elements_text(?::jsonb))` : '';
  }

  private servedParams(): unknown[] {
    return this.o.organizationIds ? [JSON.stringify(this.o.organizationIds)] : [];
  }

  // ---- fan-out ----------------------------------------------------------------------------

  private fanOut(): Promise<number> {
    if (this.fanningOut) return this.fanningOut;
    const run = (async () => {
      let total = 0;
      for (;;) {
        const n = await this.fanOutBatch();
        total += n;
        if (n < this.o.fanOutBatch || this.stopped) return total;
      }
    })()
      .catch((err: unknown) => {
        this.logger.error({ err }, 'webhook fan-out failed');
        return 0;
      })
      .finally(() => {
        this.fanningOut = undefined;
      });
    this.fanningOut = run;
    return run;
  }

  private async fanOutBatch(): Promise<number> {
    const reserved: Claim[] = [];
    const now = this.clock.now();
    const leasedUntil = new Date(now.getTime() + this.o.leaseMs);
    let events = 0;
    try {
      await this.orm.em.fork().transactional(async (tx: EntityManager) => {
        reserved.length = 0;
        const sql = sqlRunner(tx);
        const rows = await sql.all<{ id: string; organization_id: string; type: string; created_at: Date; seq: string; data_json?: string }>(
          `select id, organization_id, type, created_at, seq from domain_events
           where dispatched_at is null ${this.servedClause()} order by seq limit ? for update skip locked`,
          [...this.servedParams(), this.o.fanOutBatch],
        );
        events = rows.length;
        if (!rows.length) return;
        const organizations = [...new Set(rows.map((r) => r.organization_id))];
        const subs = await sql.prepared<Pick<Claim, 'url' | 'secret_ciphertext' | 'previous_secret_ciphertext' | 'previous_secret_expires_at' | 'failing_since'> & { id: string; organization_id: string; events: string[]; touchpoint: string | null; created_at: Date }>(
          `select id, organization_id, events, touchpoint, created_at, url, secret_ciphertext, previous_secret_ciphertext, previous_secret_expires_at, failing_since
           from webhook_subscriptions where status = 'active' and organization_id = any(?::uuid[])`,
          [sqlArray(organizations)],
        );
        const byOrganization = new Map<string, typeof subs>();
        for (const s of subs) {
          this.track(s.id, s.organization_id, s.failing_since);
          byOrganization.set(s.organization_id, [...(byOrganization.get(s.organization_id) ?? []), s]);
        }
        // Payloads only of the events some subscription may take: most organizations subscribe to
        // nothing, and their events are only marked as dispatched.
        const wanted = rows.filter((e) => byOrganization.has(e.organization_id)).map((e) => e.id);
        if (wanted.length) {
          const payloads = await sql.prepared<{ id: string; data_json: string }>(
            `select id, data::text as data_json from domain_events where id = any(?::uuid[])`,
            [sqlArray(wanted)],
          );
          const byId = new Map(payloads.map((p) => [p.id, p.data_json]));
          for (const e of rows) e.data_json = byId.get(e.id);
        }
        const deliveries: { id: string; org: string; sub: string; event: string; type: string; event_at: Date; leased: Date | null }[] = [];
        for (const e of rows) {
          const candidates = byOrganization.get(e.organization_id);
          if (!candidates) continue;
          let touchpoint: string | null | undefined;
          for (const s of candidates) {
            // A subscription receives what happened after it was made, not the backlog before it.
            if (new Date(s.created_at) > new Date(e.created_at)) continue;
            if (!s.events.some((filter) => eventMatches(filter, e.type as DomainEventType))) continue;
            if (s.touchpoint !== null) {
              touchpoint ??= eventTouchpoint(e.type as DomainEventType, JSON.parse(e.data_json!) as never);
              if (touchpoint !== null && touchpoint !== s.touchpoint) continue;
            }
            const id = newId();
            const state = this.subscriptions.get(s.id)!;
            const take = !this.stopped && state.inFlight.first < this.o.firstLaneCap && this.inFlight.size + reserved.length < this.o.maxInFlight;
            if (take) {
              state.inFlight.first++;
              reserved.push({
                id,
                subscription_id: s.id,
                organization_id: e.organization_id,
                event_id: e.id,
                attempts: 0,
                trigger: 'event',
                lane: 'first',
                leased_until: leasedUntil,
                url: s.url,
                secret_ciphertext: s.secret_ciphertext,
                previous_secret_ciphertext: s.previous_secret_ciphertext,
                previous_secret_expires_at: s.previous_secret_expires_at,
                failing_since: s.failing_since,
                event_type: e.type,
                event_created_at: e.created_at,
                seq: e.seq,
                data_json: e.data_json!,
              });
            } else {
              state.backlog.first = true;
            }
            deliveries.push({ id, org: e.organization_id, sub: s.id, event: e.id, type: e.type, event_at: e.created_at, leased: take ? leasedUntil : null });
          }
        }
        if (deliveries.length) {
          await sql.run(
            `insert into webhook_deliveries (id, organization_id, subscription_id, event_id, event_type, event_created_at, status, lane, next_attempt_at, leased_until, created_at)
             select v.id, v.org, v.sub, v.event, v.type, v.event_at, 'pending', 'first', ?, v.leased, ?
             from jsonb_to_recordset(?::jsonb) as v(id uuid, org uuid, sub uuid, event uuid, type text, event_at timestamptz, leased timestamptz)
             on conflict (subscription_id, event_id) do nothing`,
            [now, now, JSON.stringify(deliveries)],
          );
        }
        await sql.prepared(`update domain_events set dispatched_at = ? where id = any(?::uuid[])`, [now, sqlArray(rows.map((r) => r.id))]);
      });
    } catch (err) {
      for (const c of reserved) this.release(c);
      throw err;
    }
    for (const c of reserved) this.launch(c);
    return events;
  }

  // ---- claims -----------------------------------------------------------------------------

  /**
   * Claims due deliveries for the subscriptions with free slots. `everyone` looks at all active
   * subscriptions (the poll); otherwise only at those whose last claim suggested more is due.
   */
  private claim(everyone: boolean): void {
    if (this.claiming) {
      this.claimAgain ||= everyone;
      return;
    }
    this.claiming = this.claimNow(everyone)
      .catch((err: unknown) => {
        this.logger.error({ err }, 'webhook claim failed');
        return 0;
      })
      .finally(() => {
        this.claiming = undefined;
        if (this.claimAgain && this.started && !this.stopped) {
          this.claimAgain = false;
          this.claim(true);
        }
      });
  }

  private async claimNow(everyone: boolean): Promise<number> {
    let claimed = 0;
    for (const lane of ['first', 'retry'] as const) {
      const cap = lane === 'first' ? this.o.firstLaneCap : this.o.retryLaneCap;
      const room = this.o.maxInFlight - this.inFlight.size;
      if (room <= 0 || this.stopped) break;
      const wanted = [...this.subscriptions]
        .filter(([, s]) => s.inFlight[lane] < cap && (everyone || s.backlog[lane]))
        .map(([id, s]) => ({ subscription_id: id, cap: cap - s.inFlight[lane] }));
      if (!wanted.length) continue;
      const now = this.clock.now();
      const claims = await this.orm.em
        .fork()
        .getConnection()
        .execute<Claim[]>(
          `with picked as (
             select x.id from jsonb_to_recordset(?::jsonb) as c(subscription_id uuid, cap int)
             cross join lateral (
               select d.id from webhook_deliveries d
               where d.subscription_id = c.subscription_id and d.status = 'pending' and d.lane = ?
                 and d.next_attempt_at <= ? and (d.leased_until is null or d.leased_until <= ?)
               order by d.next_attempt_at limit c.cap for update skip locked) x
           ), leased as (
             update webhook_deliveries d set leased_until = ? from picked where d.id = picked.id
             returning d.id, d.subscription_id, d.organization_id, d.event_id, d.attempts, d.trigger, d.lane, d.leased_until
           )
           select l.*, s.url, s.secret_ciphertext, s.previous_secret_ciphertext, s.previous_secret_expires_at, s.failing_since,
                  e.type as event_type, e.created_at as event_created_at, e.seq, e.data::text as data_json
           from leased l join webhook_subscriptions s on s.id = l.subscription_id and s.status = 'active'
           join domain_events e on e.id = l.event_id`,
          [JSON.stringify(wanted), lane, now, now, new Date(now.getTime() + this.o.leaseMs)],
        );
      const perSubscription = new Map<string, number>();
      for (const c of claims) perSubscription.set(c.subscription_id, (perSubscription.get(c.subscription_id) ?? 0) + 1);
      for (const w of wanted) {
        const state = this.subscriptions.get(w.subscription_id);
        if (state) state.backlog[lane] = (perSubscription.get(w.subscription_id) ?? 0) >= w.cap;
      }
      for (const c of claims) {
        const state = this.track(c.subscription_id, c.organization_id, c.failing_since);
        state.inFlight[c.lane]++;
        this.launch(c);
      }
      claimed += claims.length;
    }
    return claimed;
  }

  private track(id: string, organizationId: string, failingSince: Date | null): SubscriptionState {
    let state = this.subscriptions.get(id);
    if (!state) {
      state = { organizationId, inFlight: { first: 0, retry: 0 }, failingSince, backlog: { first: true, retry: true } };
      this.subscriptions.set(id, state);
    }
    state.failingSince = failingSince ? new Date(failingSince) : null;
    return state;
  }

  private async refreshSubscriptions(): Promise<void> {
    const rows = await this.orm.em
      .fork()
      .getConnection()
      .execute<{ id: string; organization_id: string; failing_since: Date | null }[]>(
        `select id, organization_id, failing_since from webhook_subscriptions where status = 'active' ${this.servedClause()}`,
        this.servedParams(),
      );
    const active = new Set(rows.map((r) => r.id));
    for (const r of rows) this.track(r.id, r.organization_id, r.failing_since);
    for (const [id, s] of this.subscriptions) if (!active.has(id) && s.inFlight.first + s.inFlight.retry === 0) this.subscriptions.delete(id);
  }

  // ---- attempts ---------------------------------------------------------------------------

  private launch(claim: Claim): void {
    const p = this.attempt(claim)
      .catch((err: unknown) => this.logger.error({ err, deliveryId: claim.id }, 'webhook attempt failed unexpectedly'))
      .finally(() => {
        this.inFlight.delete(p);
        this.release(claim);
        this.claimSoonFor();
      });
    this.inFlight.add(p);
  }

  private release(claim: Claim): void {
    const state = this.subscriptions.get(claim.subscription_id);
    if (state) state.inFlight[claim.lane] = Math.max(0, state.inFlight[claim.lane] - 1);
  }

  /** Freed slots are refilled soon, in one claim for all that freed meanwhile. */
  private claimSoonFor(): void {
    if (!this.started || this.stopped || this.claimSoon) return;
    this.claimSoon = setTimeout(() => {
      this.claimSoon = undefined;
      this.claim(false);
    }, 5);
  }

  private async attempt(claim: Claim): Promise<void> {
    const now = this.clock.now();
    const secrets = [this.open(claim.secret_ciphertext, claim.subscription_id)];
    if (claim.previous_secret_ciphertext && claim.previous_secret_expires_at && new Date(claim.previous_secret_expires_at) > now) {
      secrets.push(this.open(claim.previous_secret_ciphertext, claim.subscription_id));
    }
    const body = deliveryBody({
      id: claim.event_id,
      type: claim.event_type,
      createdAt: new Date(claim.event_created_at),
      organizationId: claim.organization_id,
      sequence: claim.seq,
      dataJson: claim.data_json,
    });
    const headers = {
      ...signDelivery(secrets, claim.event_id, this.o.signingClock.now(), body),
      'content-type': 'application/json',
      'user-agent': 'Parley-Webhooks/1.0',
    };
    const response = await this.http.post(claim.url, headers, body);
    this.outcomes.push({ claim, at: this.clock.now(), response });
    if (this.outcomes.length >= 256) void this.flush();
    else this.flushTimer ??= setTimeout(() => void this.flush(), this.o.flushMs);
  }

  private open(ciphertext: string, subscriptionId: string): string {
    let plain = this.decrypted.get(ciphertext);
    if (plain === undefined) {
      if (this.decrypted.size > 10_000) this.decrypted.clear();
      plain = this.secrets.decrypt(ciphertext, subscriptionId);
      this.decrypted.set(ciphertext, plain);
    }
    return plain;
  }

  // ---- results ----------------------------------------------------------------------------

  private flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.flushing) return this.flushing.then(() => (this.outcomes.length ? this.flush() : undefined));
    if (!this.outcomes.length) return Promise.resolve();
    const batch = this.outcomes;
    this.outcomes = [];
    this.flushing = this.write(batch)
      .catch((err: unknown) => {
        // Kept for the next flush; until written, the leases keep these deliveries from others.
        this.logger.error({ err, results: batch.length }, 'webhook results not written; retrying');
        this.outcomes.unshift(...batch);
        this.flushTimer ??= setTimeout(() => void this.flush(), 1000);
      })
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  private async write(batch: Outcome[]): Promise<void> {
    const deliveries: Record<string, unknown>[] = [];
    const attempts: Record<string, unknown>[] = [];
    const recovered = new Set<string>();
    const failing = new Map<string, Date>();
    const disable = new Map<string, { organizationId: string; reason: string }>();
    for (const { claim, at, response } of batch) {
      const ok = response.status !== null && response.status >= 200 && response.status < 300;
      const made = claim.attempts + 1;
      const error = ok ? null : (response.error ?? `HTTP ${response.status}`);
      let status: 'pending' | 'succeeded' | 'failed' = 'succeeded';
      let next: Date | null = null;
      if (!ok) {
        const delay = response.status === 410 ? null : nextAttemptDelayMs(made, parseRetryAfter(response.headers['retry-after'], at), this.o.random);
        status = delay === null ? 'failed' : 'pending';
        next = delay === null ? null : new Date(at.getTime() + delay);
      }
      deliveries.push({
        id: claim.id,
        lease: new Date(claim.leased_until).toISOString(),
        status,
        attempts: made,
        next: next?.toISOString() ?? null,
        at: at.toISOString(),
        code: response.status,
        error,
      });
      attempts.push({
        delivery: claim.id,
        org: claim.organization_id,
        at: at.toISOString(),
        trigger: claim.trigger,
        ok,
        code: response.status,
        latency: Math.round(response.latencyMs),
        excerpt: response.body ? response.body.slice(0, EXCERPT_CHARS) : null,
        error,
      });
      const state = this.subscriptions.get(claim.subscription_id);
      if (ok) {
        if (state?.failingSince) recovered.add(claim.subscription_id);
        failing.delete(claim.subscription_id);
      } else if (response.status === 410) {
        disable.set(claim.subscription_id, { organizationId: claim.organization_id, reason: 'The endpoint answered 410 Gone.' });
      } else {
        const since = state?.failingSince ?? failing.get(claim.subscription_id) ?? at;
        if (!state?.failingSince) failing.set(claim.subscription_id, since);
        if (at.getTime() - since.getTime() >= DISABLE_AFTER_FAILING_MS) {
          disable.set(claim.subscription_id, {
            organizationId: claim.organization_id,
            reason: `Every attempt has failed since ${since.toISOString()} (5 days); the last: ${error}.`,
          });
        }
      }
    }
    await this.orm.em.fork().transactional(async (tx: EntityManager) => {
      const sql = sqlRunner(tx);
      // A result whose lease was taken over (this process was too slow) is only logged as an attempt.
      await sql.run(
        `update webhook_deliveries d set status = v.status, attempts = v.attempts, lane = 'retry', trigger = 'event',
           next_attempt_at = v.next, leased_until = null, last_attempt_at = v.at, last_status_code = v.code, last_error = v.error
         from jsonb_to_recordset(?::jsonb) as v(id uuid, lease timestamptz, status text, attempts int, next timestamptz, at timestamptz, code int, error text)
         where d.id = v.id and d.leased_until = v.lease`,
        [JSON.stringify(deliveries)],
      );
      await sql.run(
        `insert into webhook_attempts (delivery_id, organization_id, attempted_at, trigger, succeeded, status_code, latency_ms, response_excerpt, error)
         select v.delivery, v.org, v.at, v.trigger, v.ok, v.code, v.latency, v.excerpt, v.error
         from jsonb_to_recordset(?::jsonb) as v(delivery uuid, org uuid, at timestamptz, trigger text, ok boolean, code int, latency int, excerpt text, error text)`,
        [JSON.stringify(attempts)],
      );
      if (recovered.size) {
        await sql.run(`update webhook_subscriptions set failing_since = null where id in (select value::uuid from jsonb_array_elements_text(?::jsonb)) and failing_since is not null`, [
          JSON.stringify([...recovered]),
        ]);
      }
      if (failing.size) {
        await sql.run(
          `update webhook_subscriptions s set failing_since = v.since from jsonb_to_recordset(?::jsonb) as v(id uuid, since timestamptz)
           where s.id = v.id and s.failing_since is null`,
          [JSON.stringify([...failing].map(([id, since]) => ({ id, since: since.toISOString() })))],
        );
      }
      for (const [id, d] of disable) await disableSubscription(sql, d.organizationId, id, d.reason, this.clock.now());
    });
    for (const id of recovered) {
      const s = this.subscriptions.get(id);
      if (s) s.failingSince = null;
    }
    for (const [id, since] of failing) {
      const s = this.subscriptions.get(id);
      if (s && !s.failingSince) s.failingSince = since;
    }
    for (const id of disable.keys()) this.subscriptions.delete(id);
    if (disable.size) this.logger.warn({ subscriptions: [...disable.keys()] }, 'webhook subscriptions disabled');
  }
}

/**
 * Disables a subscription for a reason and tells the organization's other subscriptions, in the
 * same transaction. Its pending deliveries stay, and go out if it is re-activated.
 */
export async function disableSubscription(sql: SqlRunner, organizationId: string, subscriptionId: string, reason: string, now: Date): Promise<boolean> {
  const [row] = await sql.all<{ id: string; url: string; events: string[] }>(
    `update webhook_subscriptions set status = 'disabled', disabled_reason = ?, disabled_at = ?, updated_at = ?
     where organization_id = ? and id = ? and status = 'active' returning id, url, events`,
    [reason, now, now, organizationId, subscriptionId],
  );
  if (!row) return false;
  await recordEvent(sql, organizationId, 'webhook.disabled', { subscription: { id: row.id, url: row.url, events: row.events, status: 'disabled' }, reason, disabledAt: now.toISOString() }, now);
  return true;
}
