import type { MikroORM } from '@mikro-orm/postgresql';
import { type Clock, type Logger, SecretBox, toWaId } from '@parley/core';
import type { TemplateSendComponent } from '@parley/graph';
import { GraphError } from '@parley/graph';
import { recordEvent } from '../events';
import type { SendPort } from '../outbound';
import { type SqlRunner, sqlRunner } from '../sql';
import { validateTemplateSend } from '../templates';
import { bucketCapacity, drawSendTokens, refillPerSecond } from './rate';
import { broadcastStatistics } from './stats';

/** Tag carried by every broadcast send; status webhooks name the recipient with it. */
export const RECIPIENT_CALLBACK_PREFIX = 'bcr:';
const MAX_RETRIES = 5;

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
  messages_per_second: number;
  definition: { name: string; language: string; status: string; category: string; parameter_format: 'POSITIONAL' | 'NAMED'; components: unknown[] } | null;
}

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
              ch.phone_number_id, ch.business_token_ciphertext, ch.messages_per_second,
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
   * `concurrency` requests in flight. `heartbeat` is called after every group.
   */
  async sendBatch(
    input: { organizationId: string; broadcastId: string; budgetMs?: number; concurrency?: number },
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
    const token = this.secrets.decrypt(b.business_token_ciphertext);
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
    while (Date.now() < deadline && !exhausted && !failure) {
      await nextDraw;
      nextDraw = Promise.resolve();
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
      const capacity = bucketCapacity(b.messages_per_second);
      const drawStarted = Date.now();
      const granted = await drawSendTokens(sql, b.channel_id, b.messages_per_second, Math.min(room, capacity));
      // Come back when the bucket is about half full: late enough for a useful group, early
      // enough (allowing for the query's own time) that refills never spill over a full bucket.
      const drawMs = Date.now() - drawStarted;
      const halfFullMs = ((capacity / 2) * 1000) / refillPerSecond(b.messages_per_second);
      const pause = new Promise((r) => setTimeout(r, Math.min(1000, Math.max(1, halfFullMs - drawMs))));
      if (granted === 0) {
        await pause;
        continue;
      }
      nextDraw = pause;
      // Claim and send without holding up the next draw: tokens are not lost while the database works.
      outstanding += granted;
      const group: Promise<void> = (async () => {
        const claimed = await this.claim(b, granted);
        if (claimed.length < granted) exhausted = true;
        if (claimed.length) processed += await this.sendGroup(b, token, claimed);
      })()
        .catch((err: unknown) => {
          failure ??= err;
        })
        .finally(() => {
          outstanding -= granted;
          inFlight.delete(group);
          heartbeat({ processed });
        });
      inFlight.add(group);
      if (exhausted || failure) break;
    }
    await Promise.all(inFlight);
    if (failure) throw failure;
    heartbeat({ processed });

    const [rest] = await sql.all<{ open: number; retry_at: Date | null; status: string }>(
      `select count(*) filter (where r.status in ('pending', 'sending'))::int as open,
              min(r.next_attempt_at) filter (where r.status = 'pending') as retry_at,
              (select status from broadcasts where id = ?) as status
         from broadcast_recipients r where r.broadcast_id = ?`,
      [b.id, b.id],
    );
    const cancelled = rest?.status === 'cancelled';
    const retryAt = rest?.retry_at ? new Date(rest.retry_at).getTime() : null;
    return {
      processed,
      done: !cancelled && (rest?.open ?? 0) === 0,
      cancelled,
      retryInMs: retryAt === null ? null : Math.max(0, retryAt - this.clock.now().getTime()),
    };
  }

  /** Claims the next due recipients; opted-out contacts are skipped on the spot. */
  private async claim(b: BroadcastRow, limit: number): Promise<Claimed[]> {
    const now = this.clock.now();
    return this.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      const rows = await sql.all<Claimed & { opted_out: boolean | null; marketing_opted_out: boolean | null }>(
        `with due as (
           select id from broadcast_recipients
            where broadcast_id = ? and status = 'pending' and (next_attempt_at is null or next_attempt_at <= ?)
            order by id limit ? for update skip locked)
         update broadcast_recipients r set status = 'sending', attempts = r.attempts + 1, updated_at = ?
           from due where r.id = due.id
         returning r.id, r.phone, r.params, r.attempts,
           (select c.opted_out from contacts c where c.organization_id = r.organization_id and c.phone = r.phone) as opted_out,
           (select c.marketing_opted_out from contacts c where c.organization_id = r.organization_id and c.phone = r.phone) as marketing_opted_out`,
        [b.id, now, limit, now],
      );
      const skipped = rows.filter((r) => r.opted_out || (r.marketing_opted_out && b.template.category === 'MARKETING'));
      for (const r of skipped) {
        await sql.run(`update broadcast_recipients set status = 'skipped', skip_reason = ?, updated_at = ? where id = ?`, [
          r.opted_out ? 'opted_out' : 'marketing_opted_out',
          now,
          r.id,
        ]);
      }
      const skippedIds = new Set(skipped.map((r) => r.id));
      return rows.filter((r) => !skippedIds.has(r.id)).map(({ id, phone, params, attempts }) => ({ id, phone, params, attempts }));
    });
  }

  private async sendGroup(b: BroadcastRow, token: string, group: Claimed[]): Promise<number> {
    const outcomes = await Promise.all(group.map((r) => this.sendOne(b, token, r)));
    const now = this.clock.now();
    const sent = group.flatMap((r, i) => (outcomes[i]!.kind === 'sent' ? [[r.id, (outcomes[i] as { wamid: string }).wamid]] : []));
    await this.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      if (sent.length) {
        // Status rank 1 (sent) only if no webhook moved the recipient further meanwhile.
        await sql.run(
          `update broadcast_recipients r set wamid = v.wamid,
                  status = case when r.status_rank > 1 then r.status else 'sent' end,
                  status_rank = greatest(r.status_rank, 1), updated_at = ?
             from (select unnest(?::bigint[]) as id, unnest(?::text[]) as wamid) v
            where r.id = v.id`,
          [now, `{${sent.map((s) => s[0]).join(',')}}`, `{${sent.map((s) => JSON.stringify(s[1])).join(',')}}`],
        );
      }
      for (const [i, r] of group.entries()) {
        const o = outcomes[i]!;
        if (o.kind === 'failed') {
          await sql.run(`update broadcast_recipients set status = 'failed', status_rank = 4, error = ?::jsonb, updated_at = ? where id = ?`, [
            JSON.stringify(o.error),
            now,
            r.id,
          ]);
        } else if (o.kind === 'retry') {
          if (r.attempts >= MAX_RETRIES) {
            await sql.run(`update broadcast_recipients set status = 'failed', status_rank = 4, error = ?::jsonb, updated_at = ? where id = ?`, [
              JSON.stringify({ code: o.error.code, title: o.error.title, details: `Gave up after ${r.attempts} attempts.` }),
              now,
              r.id,
            ]);
          } else {
            const delay = Math.min(30_000, 500 * 2 ** (r.attempts - 1)) * (0.75 + Math.random() / 2);
            await sql.run(`update broadcast_recipients set status = 'pending', next_attempt_at = ?, updated_at = ? where id = ?`, [
              new Date(now.getTime() + delay),
              now,
              r.id,
            ]);
          }
        } else if (o.kind === 'unknown') {
          await sql.run(`update broadcast_recipients set status = 'unknown', updated_at = ? where id = ? and status = 'sending'`, [now, r.id]);
        }
      }
    });
    return group.length;
  }

  private async sendOne(b: BroadcastRow, token: string, r: Claimed): Promise<Outcome> {
    let phone: string;
    try {
      phone = toWaId(r.phone);
    } catch {
      return { kind: 'failed', error: { code: 'invalid_phone', title: 'Invalid phone number' } };
    }
    if (!b.definition) return { kind: 'failed', error: { code: 'template_not_found', title: 'The template is no longer synced on the channel.' } };
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
      // A request that timed out may have reached Meta; a refused connection did not.
      if (err.type === 'TimeoutError') return { kind: 'unknown' };
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
      const [row] = await sql.all<{ status: string }>('select status from broadcasts where id = ?', [input.broadcastId]);
      const statistics = await broadcastStatistics(sql, input.broadcastId);
      await recordEvent(sql, input.organizationId, 'broadcast.update', { broadcastId: input.broadcastId, status: row!.status, statistics }, now);
      if (row!.status === 'completed') {
        await recordEvent(sql, input.organizationId, 'broadcast.completed', { broadcastId: input.broadcastId, statistics }, now);
      }
    });
  }
}
