import type { MikroORM } from '@mikro-orm/postgresql';
import { type Clock, type Logger, SecretBox, toWaId } from '@parley/core';
import { type GraphClient, GraphError, type SendMessagePayload } from '@parley/graph';
import { contactOfRow, type MessageContactRow, messagesWithContact, messageStatusChanged, recordEvent } from './events';
import { PollingJob } from './polling';
import { applyStatusEvent, markMarketingOptOut } from './meta/processor';
import { MESSAGE_CALLBACK_PREFIX } from './meta/message-statuses';
import { DRAW_ALLOWANCE, drawAllowanceParams, drawIntervalMs, LATE_DISPATCH_MS, settleDraw } from './broadcasts/rate';
import { type SqlRunner, sqlRunner } from './sql';
import { type MessageRow, messageColumns, rememberContactWaId, tenantSql } from './repositories';

export type SendPort = Pick<GraphClient, 'sendMessage'>;

interface Claimed {
  id: string;
  organization_id: string;
  contact_id: string;
  contact_name: string | null;
  conversation_id: string;
  channel_id: string;
  type: string;
  content: Record<string, unknown>;
  send_attempts: number;
  phone: string;
  phone_number_id: string;
  business_token_ciphertext: string;
}

const MAX_ATTEMPTS = 8;
/** A claim older than this belongs to a sender that died mid-request. */
const CLAIM_TIMEOUT_MS = 2 * 60 * 1000;
/**
 * A send whose outcome is unknown and that no status webhook has settled within this time is
 * failed (`unknown_outcome`). Meta's `sent` status follows an accepted send within seconds, and
 * the agent or partner must be told, to decide whether to send again, rather than wait forever.
 */
export const UNKNOWN_OUTCOME_AFTER_MS = 60 * 60 * 1000;
const UNKNOWN_SWEEP_EVERY_MS = 60 * 1000;
const EXPIRE_EVERY_MS = 5 * 1000;
/**
 * Messages looked at per claim: more than one claim sends, so that a channel waiting for its
 * budget does not hold up the messages of other channels behind it.
 */
const CANDIDATES = 200;

/** A draw from a channel's send budget, settled once its requests are out (see rate.ts). */
interface OutboxDraw {
  channelId: string;
  messagesPerSecond: number;
  logId: string;
  startedAt: number;
}

export function metaPayload(to: string, type: string, content: Record<string, unknown>, messageId: string): SendMessagePayload {
  const base = {
    to: toWaId(to),
    biz_opaque_callback_data: `${MESSAGE_CALLBACK_PREFIX}${messageId}`,
    ...(content.context ? { context: { message_id: (content.context as { messageId: string }).messageId } } : {}),
  };
  switch (type) {
    case 'text':
      return { ...base, type: 'text', text: { body: String(content.text), preview_url: content.previewUrl === true } };
    case 'template': {
      // Stored as the synced row has it (a plain code); Meta's send wants `language: {code}`.
      const { name, language, components } = content.template as { name: string; language: string; components?: unknown[] };
      return { ...base, type: 'template', template: { name, language: { code: language }, ...(components?.length ? { components } : {}) } as never };
    }
    case 'location':
      return { ...base, type: 'location', location: content.location as never };
    case 'interactive':
      return { ...base, type: 'interactive', interactive: content.interactive as never };
    default:
      return { ...base, type, [type]: content.media } as unknown as SendMessagePayload;
  }
}

/**
 * Works the outbox: for each conversation, its oldest pending message, one at a time, so a
 * conversation's messages reach Meta in the order they were accepted. A message is claimed
 * (committed) before its request goes out; a claim that outlives its sender becomes `unknown`
 * and is never re-sent blindly, because Meta's send has no idempotency key. Every message sent
 * here (agent and partner messages, upsert sends, consent replies) draws from its channel's one
 * send budget, shared with the channel's broadcasts.
 */
export class OutboundSender extends PollingJob {
  private readonly secrets: SecretBox;

  constructor(
    private readonly orm: MikroORM,
    private readonly graph: SendPort,
    encryptionKey: { id: string; key: Buffer },
    private readonly clock: Clock,
    logger: Logger,
    private readonly options: {
      pollMs?: number;
      concurrency?: number;
      /**
       * Only these organizations' messages are claimed, expired and swept (read at every claim, so
       * it may grow). For a test process that shares its database with other test files, whose
       * queued messages are not its to send; the worker sends for every organization.
       */
      onlyOrganizations?: ReadonlySet<string>;
    } = {},
  ) {
    super(logger, options.pollMs ?? 200, 'outbound sending');
    this.secrets = new SecretBox(encryptionKey);
  }

  async drain(): Promise<number> {
    let sent = 0;
    // Once the worker stops, nothing new is claimed; the batch out is finished and recorded.
    while (!this.stopping) {
      await this.expireClaims();
      const { batch, draws, retryInMs } = await this.claim(this.options.concurrency ?? 16);
      if (!batch.length) {
        // Messages wait for their channel's budget: draw again when it has refilled a little.
        if (retryInMs === null) return sent;
        await new Promise((r) => setTimeout(r, retryInMs));
        continue;
      }
      const delivered = Promise.all(batch.map((m) => this.deliver(m)));
      // The requests are out; a draw held up on its way (a slow commit, a busy CPU) is logged when they left.
      await this.settleLateDraws(draws);
      await delivered;
      sent += batch.length;
    }
    return sent;
  }

  /** The `onlyOrganizations` condition on `column`, with its parameter; always true without it. */
  private scope(column: string): { sql: string; params: unknown[] } {
    const only = this.options.onlyOrganizations;
    if (!only) return { sql: '', params: [] };
    // The runner expands an array parameter into a list: `in (?)`, never an empty one.
    return only.size ? { sql: ` and ${column} in (?)`, params: [[...only]] } : { sql: ' and false', params: [] };
  }

  private async settleLateDraws(draws: OutboxDraw[]): Promise<void> {
    const sql = sqlRunner(this.orm.em.fork());
    for (const d of draws) {
      const lateMs = Date.now() - d.startedAt;
      if (lateMs > LATE_DISPATCH_MS) await settleDraw(sql, { channelId: d.channelId, messagesPerSecond: d.messagesPerSecond, logId: d.logId, unused: 0, lateMs });
    }
  }

  private async expireClaims(): Promise<void> {
    // Claims expire after minutes: a look every few seconds finds them as soon, without one more
    // statement before every claim.
    const at = this.clock.now().getTime();
    // (A clock set back, in tests, looks again at once.)
    if (at - this.expiredAt < EXPIRE_EVERY_MS && at >= this.expiredAt) return;
    this.expiredAt = at;
    const cutoff = new Date(this.clock.now().getTime() - CLAIM_TIMEOUT_MS);
    const scope = this.scope('organization_id');
    await this.orm.em
      .fork()
      .getConnection()
      .execute(`update messages set send_state = 'unknown' where send_state = 'sending' and claimed_at < ?${scope.sql}`, [cutoff, ...scope.params], 'run');
    if (this.clock.now().getTime() - this.sweptAt >= UNKNOWN_SWEEP_EVERY_MS) {
      this.sweptAt = this.clock.now().getTime();
      await this.failUnknownOutcomes();
    }
  }

  private sweptAt = Number.NEGATIVE_INFINITY;
  private expiredAt = Number.NEGATIVE_INFINITY;

  /** Fails the sends left `unknown`, with no status from Meta, for UNKNOWN_OUTCOME_AFTER_MS. */
  private async failUnknownOutcomes(): Promise<void> {
    const now = this.clock.now();
    const scope = this.scope('m.organization_id');
    const error = { code: 'unknown_outcome', title: 'Meta never confirmed this send.', details: 'The request may or may not have reached Meta, and no status arrived for it within an hour; it is not sent again.' };
    await this.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      // `old` is the row as the statement found it: the status each message leaves.
      const failed = await sql.all<MessageContactRow & { organization_id: string; previous_status: string }>(
        `with upd as (
           update messages m set send_state = 'failed', status = 'failed', status_rank = 4, status_updated_at = ?, error = ?::jsonb
             from messages old
            where old.id = m.id and m.send_state = 'unknown' and m.status_rank = 0 and m.claimed_at < ?${scope.sql}
            returning ${messageColumns('m')}, m.organization_id, old.status as previous_status
         ) ${messagesWithContact('upd')}`,
        [now, JSON.stringify(error), new Date(now.getTime() - UNKNOWN_OUTCOME_AFTER_MS), ...scope.params],
      );
      for (const m of failed) {
        await recordEvent(sql, m.organization_id, 'message.update', messageStatusChanged(m, contactOfRow(m), m.previous_status), now);
      }
    });
  }

  /**
   * The oldest pending message of up to `limit` conversations that have nothing in flight, as far
   * as their channels' send budgets allow: each channel's messages draw from the budget its
   * broadcasts draw from (broadcasts/rate.ts), in the claim's transaction, so the channel's
   * messages-per-second holds for everything sent on it. `retryInMs` is set when messages were
   * left waiting for their budget.
   */
  private async claim(limit: number): Promise<{ batch: Claimed[]; draws: OutboxDraw[]; retryInMs: number | null }> {
    const now = this.clock.now();
    const scope = this.scope('m.organization_id');
    return this.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      const candidates = await sql.all<Claimed & { messages_per_second: number }>(
        `select m.id, m.organization_id, m.conversation_id, m.channel_id, m.type, m.content, m.send_attempts,
                ct.phone, ct.id as contact_id, ct.name as contact_name, ch.phone_number_id, ch.business_token_ciphertext, ch.messages_per_second
         from messages m
         join conversations cv on cv.id = m.conversation_id
         join contacts ct on ct.id = cv.contact_id
         join channels ch on ch.id = m.channel_id
         where m.send_state = 'pending' and (m.next_attempt_at is null or m.next_attempt_at <= ?)${scope.sql}
           and not exists (
             select 1 from messages e where e.conversation_id = m.conversation_id
               and e.send_state in ('pending', 'sending') and e.id < m.id)
         order by m.id
         limit ?
         for update of m skip locked`,
        [now, ...scope.params, CANDIDATES],
      );
      const byChannel = new Map<string, (Claimed & { messages_per_second: number })[]>();
      for (const c of candidates) byChannel.set(c.channel_id, [...(byChannel.get(c.channel_id) ?? []), c]);
      const batch: Claimed[] = [];
      const draws: OutboxDraw[] = [];
      let retryInMs: number | null = null;
      // Budgets are locked in one order, so two senders never wait on each other's.
      for (const channelId of [...byChannel.keys()].sort()) {
        const waiting = byChannel.get(channelId)!;
        const room = limit - batch.length;
        if (room <= 0) break;
        const messagesPerSecond = waiting[0]!.messages_per_second;
        const startedAt = Date.now();
        const [allowance] = await sql.all<{ n: number; log_id: string | null }>(
          `with ${DRAW_ALLOWANCE} select n, log_id from allowance`,
          drawAllowanceParams(channelId, messagesPerSecond, Math.min(room, waiting.length)),
        );
        const granted = allowance?.n ?? 0;
        batch.push(...waiting.slice(0, granted));
        if (allowance?.log_id) draws.push({ channelId, messagesPerSecond, logId: allowance.log_id, startedAt });
        if (granted < waiting.length) retryInMs = Math.min(retryInMs ?? Infinity, drawIntervalMs(messagesPerSecond));
      }
      if (batch.length) {
        await sql.run(`update messages set send_state = 'sending', claimed_at = ? where id in (?)`, [now, batch.map((r) => r.id)]);
      }
      return { batch, draws, retryInMs };
    });
  }

  private async deliver(m: Claimed): Promise<void> {
    let outcome: { wamid: string; contactWaId?: string | undefined } | { error: GraphError } | { unknown: true };
    try {
      const token = this.secrets.decrypt(m.business_token_ciphertext, m.channel_id);
      if (!token) throw new GraphError({ status: 0, code: 0, message: 'The channel is disconnected.', classification: 'permanent' });
      const sent = await this.graph.sendMessage(token, m.phone_number_id, metaPayload(m.phone, m.type, m.content, m.id));
      outcome = { wamid: sent.wamid, contactWaId: sent.contactWaId };
    } catch (err) {
      if (err instanceof GraphError) {
        // A send that may have reached Meta (timeout, connection lost after sending) is not repeated.
        outcome = err.mayHaveReachedMeta ? { unknown: true } : { error: err };
      } else {
        this.logger.error({ err, messageId: m.id }, 'send failed unexpectedly');
        outcome = { unknown: true };
      }
    }
    const now = this.clock.now();
    await this.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      if ('wamid' in outcome) {
        // A status webhook carrying our callback tag may have beaten Meta's answer here and already
        // moved the message further (delivered, read): `sent` must not move it back.
        const [before] = await sql.all<{ status_rank: number; status: string; wamid: string | null }>('select status_rank, status, wamid from messages where id = ? for update', [m.id]);
        const advance = (before?.status_rank ?? 0) < 1;
        const [row] = await sql.all<MessageRow>(
          `update messages m set wamid = ?, send_state = 'accepted', send_attempts = send_attempts + 1${advance ? `, status = 'sent', status_rank = 1, status_updated_at = ?` : ''} where id = ?
           returning ${messageColumns('m')}`,
          advance ? [outcome.wamid, now, m.id] : [outcome.wamid, m.id],
        );
        if (advance && row && before) {
          const data = messageStatusChanged(row, { id: m.contact_id, name: m.contact_name, phone: m.phone }, before.status, before.wamid === row.wamid ? {} : { wamid: { from: before.wamid } });
          await recordEvent(sql, m.organization_id, 'message.update', data, now);
        }
        await applyPendingStatuses(sql, this.clock, m.organization_id, outcome.wamid);
        // The person's replies come from the wa_id Meta answered with, which may differ from the
        // number written to (Brazil's ninth digit): kept, so they land in this conversation.
        if (outcome.contactWaId) await rememberContactWaId(tenantSql(sql, m.organization_id), m.contact_id, outcome.contactWaId, now);
      } else if ('unknown' in outcome) {
        await sql.run(`update messages set send_state = 'unknown', send_attempts = send_attempts + 1 where id = ?`, [m.id]);
      } else if (outcome.error.retryable && m.send_attempts + 1 < MAX_ATTEMPTS) {
        const delay = Math.min(60_000, 500 * 2 ** m.send_attempts) * (0.75 + Math.random() / 2);
        await sql.run(`update messages set send_state = 'pending', send_attempts = send_attempts + 1, next_attempt_at = ? where id = ?`, [
          new Date(now.getTime() + delay),
          m.id,
        ]);
      } else {
        await failMessage(sql, m, outcome.error, now);
      }
    });
  }
}

async function failMessage(sql: SqlRunner, m: Claimed, err: GraphError, now: Date): Promise<void> {
  const error = { code: err.code, title: err.title, ...(err.details ? { details: err.details } : {}) };
  const [row] = await sql.all<MessageRow & { previous_status: string }>(
    `update messages m set send_state = 'failed', status = 'failed', status_rank = 4, status_updated_at = ?, error = ?::jsonb, send_attempts = m.send_attempts + 1
       from messages old where old.id = m.id and m.id = ?
     returning ${messageColumns('m')}, old.status as previous_status`,
    [now, JSON.stringify(error), m.id],
  );
  if (err.code === 131050) {
    const [owner] = await sql.all<{ contact_id: string }>('select contact_id from conversations where id = ?', [m.conversation_id]);
    if (owner) await markMarketingOptOut(sql, { organizationId: m.organization_id, contactId: owner.contact_id, detail: m.id, at: now });
  }
  if (row) await recordEvent(sql, m.organization_id, 'message.update', messageStatusChanged(row, { id: m.contact_id, name: m.contact_name, phone: m.phone }, row.previous_status), now);
}

/** Statuses that arrived before the send recorded its wamid are applied now, in order. */
export async function applyPendingStatuses(sql: SqlRunner, clock: Clock, organizationId: string, wamid: string): Promise<void> {
  const pending = await sql.all<{ id: string; status: 'sent' | 'delivered' | 'read' | 'failed'; errors: unknown }>(
    `select id, status, errors from message_status_events where wamid = ? and organization_id = ? and applied_at is null order by id`,
    [wamid, organizationId],
  );
  for (const p of pending) await applyStatusEvent(sql, clock, organizationId, wamid, p.status, p.errors as never, p.id);
}
