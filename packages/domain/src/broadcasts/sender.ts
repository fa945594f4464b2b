import type { MikroORM } from '@mikro-orm/postgresql';
import { type Clock, type Logger, SecretBox, toWaId } from '@parley/core';
import type { TemplateSendComponent } from '@parley/graph';
import { GraphError } from '@parley/graph';
import { broadcastEventData, recordEvent } from '../events';
import type { SendPort } from '../outbound';
import { type SqlRunner, sqlRunner } from '../sql';
import { validateTemplateSend } from '../templates';
import { bucketCapacity, DRAW_ALLOWANCE, drawAllowanceParams, drawIntervalMs, LATE_DISPATCH_MS, settleDraw } from './rate';
import { LOCK_IN_ORDER, RECIPIENT_CALLBACK_PREFIX } from './statuses';

const MAX_RETRIES = 5;

/**
 * A broadcast that no retry can move on (its channel was disconnected, its business token cannot
 * be decrypted, its template is gone): the workflow ends it `failed` with this message as its reason.
 */
export class BroadcastCannotProceed extends Error {
  override readonly name = 'BroadcastCannotProceed';
}

export interface BatchResult {
  /** Recipients whose send was settled in this call. */
  processed: number;
  /** Nothing is left to send (every recipient has a final status). */
  done: boolean;
  /** The broadcast was cancelled meanwhile. */
  cancelled: boolean;
  /** Recipients waiting for a retry; the earliest is due in this many ms. */
  retryInMs: number | null;
}

interface Claimed {
  id: string;
  phone: string;
  params: Record<string, string>;
  attempts: number;
}

interface BroadcastRow {
  id: string;
  organization_id: string;
  channel_id: string;
  status: string;
  template: { name: string; language: string; category: string; components?: Record<string, unknown>[] | null };
  params: Record<string, string>;
  phone_number_id: string;
  business_token_ciphertext: string;
  channel_status: string;
  messages_per_second: number;
  definition: { name: string; language: string; status: string; category: string; parameter_format: 'POSITIONAL' | 'NAMED'; components: unknown[] } | null;
}

/** A broadcast whose channel and template can be sent with. */
type SendableBroadcast = BroadcastRow & { definition: NonNullable<BroadcastRow['definition']> };

type Outcome =
  | { kind: 'sent'; wamid: string }
  | { kind: 'retry'; error: GraphError }
  | { kind: 'failed'; error: { code: number | string; title: string; details?: string } }
  | { kind: 'unknown' };

/**
 * The work of a broadcast, called by its workflow's activities. Recipients are claimed in small
 * groups (`sending`, committed) before their requests go out; whatever a dead attempt left in
 * `sending` becomes `unknown` and is never re-sent, because Meta's send has no idempotency key.
 */
export class BroadcastSender {
  private readonly secrets: SecretBox;

  constructor(
    private readonly orm: MikroORM,
    private readonly graph: SendPort,
    encryptionKey: { id: string; key: Buffer },
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.secrets = new SecretBox(encryptionKey);
  }

  private sql(): SqlRunner {
    return sqlRunner(this.orm.em.fork());
  }

  private async load(organizationId: string, broadcastId: string): Promise<BroadcastRow> {
    const [row] = await this.sql().all<BroadcastRow>(
      `select b.id, b.organization_id, b.channel_id, b.status, b.template, b.params,
              ch.phone_number_id, ch.business_token_ciphertext, ch.status as channel_status, ch.messages_per_second,
              (select json_build_object('name', t.name, 'language', t.language, 'status', t.status, 'category', t.category,
                                        'parameter_format', t.parameter_format, 'components', t.components)
                 from templates t where t.channel_id = b.channel_id and t.name = b.template->>'name' and t.language = b.template->>'language') as definition
         from broadcasts b join channels ch on ch.id = b.channel_id
        where b.id = ? and b.organization_id = ?`,
      [broadcastId, organizationId],
    );
    if (!row) throw new Error(`broadcast ${broadcastId} of ${organizationId} does not exist`);
    return row;
  }

  /**
   * Sends for up to `budgetMs`, in groups drawn from the channel's shared rate budget, with up to
   * `concurrency` requests in flight. `heartbeat` is called after every group. When `stop` fires
   * (the worker is shutting down), no new group starts; the ones out are finished and recorded, so
   * a graceful stop leaves no recipient in doubt.
   */
  async sendBatch(
    input: { organizationId: string; broadcastId: string; budgetMs?: number; concurrency?: number; stop?: AbortSignal },
    heartbeat: (details: unknown) => void = () => undefined,
  ): Promise<BatchResult> {
    const b = await this.load(input.organizationId, input.broadcastId);
    const sql = this.sql();
    // Only one activity of a broadcast runs at a time, so `sending` rows now belong to a dead one.
    await sql.run(
      `update broadcast_recipients set status = 'unknown', updated_at = ? where broadcast_id = ? and status = 'sending'`,
      [this.clock.now(), b.id],
    );
    if (b.status !== 'running') return { processed: 0, done: false, cancelled: b.status === 'cancelled', retryInMs: null };
    const token = this.channelToken(b);
    const sendable = this.sendable(b);
    const deadline = Date.now() + (input.budgetMs ?? 30_000);
    const concurrency = input.concurrency ?? 512;
    let processed = 0;
    // Recipients with a request out; groups go out while others are still in flight, up to `concurrency`.
    let outstanding = 0;
    const inFlight = new Set<Promise<void>>();

    let nextDraw: Promise<unknown> = Promise.resolve();
    let checkedAt = 0;
    let exhausted = false;
    let failure: unknown;
    const stopped = () => input.stop?.aborted === true;
    while (Date.now() < deadline && !exhausted && !failure && !stopped()) {
      await nextDraw;
      nextDraw = Promise.resolve();
      if (stopped()) break;
      // Cancellation is seen within a quarter second without a query per group.
      if (Date.now() - checkedAt > 250) {
        checkedAt = Date.now();
        const [state] = await sql.all<{ status: string }>('select status from broadcasts where id = ?', [b.id]);
        if (state?.status !== 'running') break;
      }
      const room = concurrency - outstanding;
      if (room <= 0) {
        await Promise.race(inFlight);
        continue;
      }
      const drawStarted = Date.now();
      const draw = await this.drawAndClaim(b, Math.min(room, bucketCapacity(b.messages_per_second)));
      // The next draw comes one interval after this one began, so the query's own time is not
      // added to the cadence.
      const pause = new Promise((r) => setTimeout(r, Math.max(1, drawIntervalMs(b.messages_per_second) - (Date.now() - drawStarted))));
      if (draw.granted === 0) {
        await pause;
        continue;
      }
      nextDraw = pause;
      // Fewer due recipients than tokens: nothing is left to send now (retries may fall due later).
      if (draw.due < draw.granted) exhausted = true;
      const claimed = draw.claimed;
      const track = (work: Promise<unknown>, size: number) => {
        outstanding += size;
        const tracked: Promise<void> = work
          .then(() => undefined)
          .catch((err: unknown) => {
            failure ??= err;
          })
          .finally(() => {
            outstanding -= size;
            inFlight.delete(tracked);
            heartbeat({ processed });
          });
        inFlight.add(tracked);
      };
      // Send without holding up the next draw. The requests are written before this returns.
      if (claimed.length) track(this.sendGroup(sendable, token, claimed).then((n) => (processed += n)), claimed.length);
      // The draw was logged at the database's time, but its requests left only now: after a pause
      // (GC, a busy CPU) the log is moved to now, so later draws cannot bunch up with these.
      const lateMs = Date.now() - drawStarted;
      const unused = draw.granted - claimed.length;
      if (draw.logId && (unused > 0 || lateMs > LATE_DISPATCH_MS)) {
        track(settleDraw(sql, { channelId: b.channel_id, messagesPerSecond: b.messages_per_second, logId: draw.logId, unused, lateMs: lateMs > LATE_DISPATCH_MS ? lateMs : 0 }), 0);
      }
      if (exhausted || failure) break;
    }
    await Promise.all(inFlight);
    if (failure) throw failure;
    heartbeat({ processed });
    // Out of time with recipients still due: the workflow calls again at once, so spend nothing
    // on counting what is left (the time between two calls is sending time lost).
    if (!exhausted && (Date.now() >= deadline || stopped())) return { processed, done: false, cancelled: false, retryInMs: null };

    const [rest] = await sql.all<{ open: boolean; retry_at: Date | null; status: string }>(
      `select exists (select 1 from broadcast_recipients r where r.broadcast_id = ? and r.status in ('pending', 'sending')) as open,
              (select min(r.next_attempt_at) from broadcast_recipients r where r.broadcast_id = ? and r.status = 'pending') as retry_at,
              (select status from broadcasts where id = ?) as status`,
      [b.id, b.id, b.id],
    );
    const cancelled = rest?.status === 'cancelled';
    const retryAt = rest?.retry_at ? new Date(rest.retry_at).getTime() : null;
    return {
      processed,
      done: !cancelled && rest?.open === false,
      cancelled,
      retryInMs: retryAt === null ? null : Math.max(0, retryAt - this.clock.now().getTime()),
    };
  }

  /** The channel's business token, or why the broadcast can never be sent. */
  private channelToken(b: BroadcastRow): string {
    if (b.channel_status !== 'active') throw new BroadcastCannotProceed('The channel was disconnected; connect it again and create a new broadcast.');
    let token: string;
    try {
      token = this.secrets.decrypt(b.business_token_ciphertext, b.channel_id);
    } catch (err) {
      this.logger.error({ err, broadcastId: b.id, channelId: b.channel_id }, 'the channel’s business token cannot be decrypted');
      throw new BroadcastCannotProceed('The channel’s business token cannot be decrypted with the configured keys; reconnect the channel.');
    }
    if (!token) throw new BroadcastCannotProceed('The channel has no business token; reconnect the channel.');
    return token;
  }

  /** A template removed from the channel since (Meta deleted it, the sync followed) fails every recipient alike. */
  private sendable(b: BroadcastRow): SendableBroadcast {
    const definition = b.definition;
    if (!definition) throw new BroadcastCannotProceed(`The template ${b.template.name} (${b.template.language}) is no longer synced on the channel.`);
    return { ...b, definition };
  }

  /**
   * Draws up to `wanted` sends from the channel's shared budget (see rate.ts) and claims that many
   * due recipients (`sending`, committed before any request goes out), in one statement: the
   * requests follow their draw at once, so the time logged for a draw is when its sends leave.
   * Opted-out contacts are skipped on the spot and spend nothing.
   */
  private async drawAndClaim(b: BroadcastRow, wanted: number): Promise<{ granted: number; logId: string | null; due: number; claimed: Claimed[] }> {
    const now = this.clock.now();
    const [row] = await this.sql().all<{ granted: number; log_id: string | null; due: number; claimed: Claimed[] }>(
      `with ${DRAW_ALLOWANCE},
       due as (
         select r.id,
                (select case when c.opted_out then 'opted_out' when c.marketing_opted_out and ?::boolean then 'marketing_opted_out' end
                   from contacts c where c.organization_id = r.organization_id and c.phone = r.phone) as skip_reason
           from broadcast_recipients r
          where r.broadcast_id = ? and r.status = 'pending' and (r.next_attempt_at is null or r.next_attempt_at <= ?)
          order by r.id
          limit (select n from allowance)
          for update of r skip locked
       ),
       claimed as (
         update broadcast_recipients r
            set status = case when due.skip_reason is null then 'sending' else 'skipped' end,
                skip_reason = due.skip_reason, attempts = r.attempts + 1, updated_at = ?
           from due where r.id = due.id
         returning r.id, r.phone, r.params, r.attempts, r.status
       )
       select (select n from allowance) as granted, (select log_id from allowance) as log_id,
              (select count(*)::int from due) as due,
              coalesce((select json_agg(json_build_object('id', id::text, 'phone', phone, 'params', params, 'attempts', attempts) order by id)
                          from claimed where status = 'sending'), '[]'::json) as claimed`,
      [...drawAllowanceParams(b.channel_id, b.messages_per_second, wanted), b.template.category === 'MARKETING', b.id, now, now],
    );
    return { granted: row?.granted ?? 0, logId: row?.log_id ?? null, due: row?.due ?? 0, claimed: row?.claimed ?? [] };
  }

  /** Sends a claimed group and records every outcome in one statement. */
  private async sendGroup(b: SendableBroadcast, token: string, group: Claimed[]): Promise<number> {
    const outcomes = await Promise.all(group.map((r) => this.sendOne(b, token, r)));
    const now = this.clock.now();
    const settled = group.map((r, i) => {
      const o = outcomes[i]!;
      switch (o.kind) {
        case 'sent':
          return { id: r.id, status: 'sent', wamid: o.wamid };
        case 'failed':
          return { id: r.id, status: 'failed', error: o.error };
        case 'unknown':
          return { id: r.id, status: 'unknown' };
        case 'retry': {
          if (r.attempts >= MAX_RETRIES) {
            return { id: r.id, status: 'failed', error: { code: o.error.code, title: o.error.title, details: `Gave up after ${r.attempts} attempts.` } };
          }
          const delay = Math.min(30_000, 500 * 2 ** (r.attempts - 1)) * (0.75 + Math.random() / 2);
          return { id: r.id, status: 'pending', retry_at: new Date(now.getTime() + delay).toISOString() };
        }
      }
    });
    // Only rows still `sending` change: a status webhook may already have moved a sent recipient
    // further (its wamid is then kept from either side), and nothing else touches a claimed row.
    await this.sql().run(
      `with v as materialized (select * from jsonb_to_recordset(?::jsonb) as v(id bigint, status text, wamid text, error jsonb, retry_at timestamptz)),
       ${LOCK_IN_ORDER}
       update broadcast_recipients r
          set status = case when v.status = 'sent' and r.status_rank > 1 then r.status else v.status end,
              status_rank = case v.status when 'sent' then greatest(r.status_rank, 1) when 'failed' then 4 else r.status_rank end,
              wamid = coalesce(r.wamid, v.wamid),
              error = coalesce(v.error, r.error),
              next_attempt_at = case when v.status = 'pending' then v.retry_at else r.next_attempt_at end,
              updated_at = ?
         from v, locked
        where r.id = v.id and locked.id = v.id and (r.status = 'sending' or (v.status = 'sent' and r.status_rank > 1))`,
      [JSON.stringify(settled), now],
    );
    return group.length;
  }

  private async sendOne(b: SendableBroadcast, token: string, r: Claimed): Promise<Outcome> {
    let phone: string;
    try {
      phone = toWaId(r.phone);
    } catch {
      return { kind: 'failed', error: { code: 'invalid_phone', title: 'Invalid phone number' } };
    }
    const rendered = validateTemplateSend(
      { ...b.definition, parameterFormat: b.definition.parameter_format },
      { components: b.template.components ?? [] },
      { recipientParams: r.params, defaultParams: b.params },
    );
    if (!rendered.ok) {
      return { kind: 'failed', error: { code: 'template_params_mismatch', title: 'The parameters do not fit the template.', details: rendered.problems.map((p) => `${p.path}: ${p.message}`).join('; ') } };
    }
    try {
      const result = await this.graph.sendMessage(token, b.phone_number_id, {
        to: phone,
        type: 'template',
        template: { name: b.template.name, language: { code: b.template.language }, components: rendered.components as TemplateSendComponent[] },
        biz_opaque_callback_data: `${RECIPIENT_CALLBACK_PREFIX}${r.id}`,
      });
      return { kind: 'sent', wamid: result.wamid };
    } catch (err) {
      if (!(err instanceof GraphError)) {
        this.logger.error({ err, recipientId: r.id }, 'broadcast send failed unexpectedly');
        return { kind: 'unknown' };
      }
      // A request that timed out or lost its connection after sending may have reached Meta; a refused connection did not.
      if (err.mayHaveReachedMeta) return { kind: 'unknown' };
      if (err.classification === 'retryable') return { kind: 'retry', error: err };
      return { kind: 'failed', error: { code: err.code, title: err.title, ...(err.details ? { details: err.details } : {}) } };
    }
  }

  /** Marks the end of a broadcast and tells partners. */
  async finish(input: { organizationId: string; broadcastId: string; status: 'completed' | 'cancelled' | 'failed'; reason?: string }): Promise<void> {
    const now = this.clock.now();
    await this.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      const changed = await sql.all<{ id: string }>(
        `update broadcasts set status = case when status = 'running' then ? else status end, finished_at = coalesce(finished_at, ?), failure_reason = coalesce(?, failure_reason), updated_at = ?
          where id = ? and organization_id = ? and finished_at is null returning id`,
        [input.status, now, input.reason ?? null, now, input.broadcastId, input.organizationId],
      );
      if (!changed.length) return;
      const data = await broadcastEventData(sql, input.organizationId, input.broadcastId);
      await recordEvent(sql, input.organizationId, 'broadcast.update', data, now);
      if (data.broadcast.status === 'completed') await recordEvent(sql, input.organizationId, 'broadcast.completed', data, now);
    });
  }
}
