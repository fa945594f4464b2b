import type { MikroORM } from '@mikro-orm/postgresql';
import { type Clock, type Logger, newId, phoneFromWaId, safeErrorMessage, sha256Hex } from '@parley/core';
import { MESSAGE_STATUS_RANK, type MessageStatus } from '@parley/db';
import type { ChannelRoute, PhoneNumberDirectory } from './directory';
import { type InboundItem, InboundItemError, parseInboundItem, type SenderIdentity } from './parse';
import { metaStatus, metaWebhookPayload, type MetaStatus } from './payload';
import { PollingJob } from '../polling';
import { perTransaction, type SqlRunner, sqlArray, sqlRunner } from '../sql';
import { applyConsentKeyword } from '../consent';
import { replyAttachmentRefused, screenInboundAttachment } from '../routing/runtime-attachments';
import type { ConversationView } from '../conversations';
import {
  contactOfRow,
  contactRef,
  conversationViews,
  EventBatch,
  messageCreated,
  messageDeleted,
  messageEdited,
  messagesWithContact,
  messageStatusChanged,
  recordEvent,
} from '../events';
import { MessageStatuses, statusError, type UnmatchedStatus } from './message-statuses';
import { RECIPIENT_CALLBACK_PREFIX, recipientOfStatus, RecipientStatuses } from '../broadcasts/statuses';
import {
  type InboundNote,
  changeContactIdentity,
  editMessage,
  findMessageByWamid,
  findOrCreateContactByIdentity,
  insertInboundMessage,
  insertOutboundMessage,
  messageColumns,
  type MessageWithContactRow,
  noteInboundMessage,
  noteOutboundMessage,
  openConversation,
  type OpenedConversation,
  revokeMessage,
  storeContactMessage,
  type TenantSql,
  tenantSql,
  upsertContactByPhoneOrEmail,
} from '../repositories';

export interface ProcessorOptions {
  batchSize?: number;
  sweepMs?: number;
  /**
   * Transactions applying deliveries side by side, each on its own share of the lanes (see
   * `laneOf`). Applying is a chain of short statements, so one lane waits on the database more
   * than it works; a second keeps up with a busy number. More cost more than they give: each
   * takes smaller batches (a batch's fixed statements are paid more often), and their
   * transactions contend for the same organization and channel rows. At 500 messages a second on
   * two cores, two lanes made a message readable twice as fast as four (docs/benchmarks.md).
   */
  lanes?: number;
}

/** The largest batch a lane grows to while a backlog waits (see `drainLane`). */
const MAX_BATCH = 200;

const APPLIED_STATUSES = new Set<MessageStatus>(['sent', 'delivered', 'read', 'failed']);
/** Meta reports a voice message listened to as `played`: for the thread, that is read. */
const STATUS_ALIASES: Record<string, MessageStatus> = { played: 'read' };

/**
 * Waits before the next try of a delivery or item that failed: seconds at first, hours at the
 * end, so a fault that takes an afternoon to fix loses nothing. After the last, it is parked.
 */
export const RETRY_SCHEDULE_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000];

export function retryDelayMs(attempts: number): number | null {
  const base = RETRY_SCHEDULE_MS[attempts - 1];
  return base === undefined ? null : Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * What becomes of an item that failed on its `attempts`-th try: a malformed item stays malformed
 * and is parked at once; anything else may pass and waits its turn on the schedule, then is parked.
 */
function failureAfter(err: unknown, attempts: number, now: Date): { reason: string; state: 'retrying' | 'parked'; nextAttemptAt: Date | null } {
  const reason = (err instanceof InboundItemError ? err.reason : err instanceof NotYetError ? err.message : safeErrorMessage(err)).slice(0, 2000);
  const delay = err instanceof InboundItemError ? null : retryDelayMs(attempts);
  return delay === null ? { reason, state: 'parked', nextAttemptAt: null } : { reason, state: 'retrying', nextAttemptAt: new Date(now.getTime() + delay) };
}

/** The kinds of item a delivery is cut into; each is applied, or set aside, on its own. */
export type InboundItemKind = 'message' | 'echo' | 'history' | 'status' | 'errors' | 'change';

/** What applying an item needs besides the item itself; stored with a set-aside item for its replay. */
export interface ItemContext {
  field: string;
  phoneNumberId: string | null;
  wabaId: string | null;
  contacts?: unknown;
  /** History sync: the thread (the contact's wa_id) a message belongs to. */
  threadId?: string;
  deliveryId?: string | null;
}

interface Item {
  kind: InboundItemKind;
  raw: unknown;
  context: ItemContext;
}

/** The item can be applied later (its original message has not arrived yet). */
class NotYetError extends Error {}

type Loose = Record<string, unknown>;
const obj = (v: unknown): Loose => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Loose) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);

/** Cuts a delivery into items; a change that is not an object becomes an item too, and is set aside. */
export function itemsOf(payload: unknown, deliveryId: string | null): Item[] {
  const items: Item[] = [];
  const envelope = metaWebhookPayload.safeParse(payload);
  if (!envelope.success) return [{ kind: 'change', raw: payload, context: { field: '(envelope)', phoneNumberId: null, wabaId: null, deliveryId } }];
  for (const entry of envelope.data.entry) {
    for (const change of entry.changes) {
      const value = obj(change.value);
      const context: ItemContext = {
        field: change.field,
        phoneNumberId: str(obj(value.metadata).phone_number_id) ?? null,
        wabaId: str(entry.id) ?? null,
        deliveryId,
      };
      if (Array.isArray(value.errors) && value.errors.length) items.push({ kind: 'errors', raw: value.errors, context });
      if (change.field === 'messages' || change.field === 'smb_message_echoes') {
        const withContacts = { ...context, contacts: value.contacts };
        for (const m of Array.isArray(value.messages) ? value.messages : []) items.push({ kind: 'message', raw: m, context: withContacts });
        for (const m of Array.isArray(value.message_echoes) ? value.message_echoes : []) items.push({ kind: 'echo', raw: m, context: withContacts });
        for (const s of Array.isArray(value.statuses) ? value.statuses : []) items.push({ kind: 'status', raw: s, context });
        const known = ['messaging_product', 'metadata', 'contacts', 'messages', 'message_echoes', 'statuses', 'errors'];
        const rest = Object.keys(value).filter((k) => !known.includes(k));
        if (rest.length) items.push({ kind: 'change', raw: Object.fromEntries(rest.map((k) => [k, value[k]])), context });
      } else if (change.field === 'history' && Array.isArray(value.history)) {
        // Coexistence onboarding: the number's past threads from the WhatsApp Business app.
        for (const chunk of value.history) {
          for (const thread of Array.isArray(obj(chunk).threads) ? (obj(chunk).threads as unknown[]) : []) {
            const threadId = str(obj(thread).id);
            const messages = obj(thread).messages;
            if (!threadId || !Array.isArray(messages)) {
              items.push({ kind: 'change', raw: thread, context });
              continue;
            }
            for (const m of messages) items.push({ kind: 'history', raw: m, context: { ...context, threadId, contacts: [{ wa_id: threadId }] } });
          }
        }
      } else {
        const { errors: _errors, ...rest } = value;
        if (Object.keys(rest).some((k) => k !== 'messaging_product' && k !== 'metadata')) items.push({ kind: 'change', raw: rest, context });
      }
    }
  }
  return items;
}

/**
 * Applies stored Meta deliveries: contacts, conversations, messages, statuses and notices. It
 * runs after the webhook has answered 200; deliveries are claimed with SKIP LOCKED, so several
 * processes can share the work, and a delivery stays pending until the transaction that applied
 * it commits. A crash between storing and applying loses nothing: the next pass picks it up.
 *
 * Each message, status and change of a delivery is applied or set aside on its own: an item that
 * cannot be applied goes to `meta_inbound_failures` with its raw JSON and reason (retried with
 * backoff when the cause may pass, parked for the operator otherwise), and its neighbours apply.
 */
export class MetaInboundProcessor extends PollingJob {
  private readonly batchSize: number;
  private readonly lanes: number;
  private lookedForDueFailuresAt = Number.NEGATIVE_INFINITY;
  /** Routes read in a transaction, kept for its length: the items of a batch mostly share a number. */
  private readonly routeIn = perTransaction<ChannelRoute | undefined>();

  constructor(
    private readonly orm: MikroORM,
    private readonly directory: PhoneNumberDirectory,
    private readonly clock: Clock,
    logger: Logger,
    options: ProcessorOptions = {},
  ) {
    super(logger, options.sweepMs ?? 2000, 'meta inbound processing');
    // Small batches: a message is visible when its batch commits, so a batch is also a delay.
    this.batchSize = options.batchSize ?? 25;
    this.lanes = Math.max(1, options.lanes ?? 2);
  }

  /** Applies pending deliveries, then set-aside items that are due again, until none is left now. */
  async drain(): Promise<number> {
    let total = 0;
    while (!this.stopping) {
      const busy = await this.lanesWithWork();
      if (!busy.length) break;
      const applied = (await Promise.all(busy.map((lane) => this.drainLane(lane)))).reduce((a, b) => a + b, 0);
      total += applied;
      if (applied === 0) break;
    }
    // Retries are due on a schedule of seconds to hours: a look a second is enough, not one per
    // wake-up (under load the worker is woken hundreds of times a second).
    const now = this.clock.now().getTime();
    if (now - this.lookedForDueFailuresAt >= 1000 || now < this.lookedForDueFailuresAt) {
      this.lookedForDueFailuresAt = now;
      total += await this.retryDueFailures();
    }
    return total;
  }

  /** Everything there is now, set-aside items that are due included (for tests and shutdown). */
  override async settle(): Promise<void> {
    this.lookedForDueFailuresAt = Number.NEGATIVE_INFINITY;
    await super.settle();
  }

  /**
   * The lanes that have deliveries due, from one bounded read of the oldest. A wake-up for one
   * delivery used to send every lane to claim, and all but one found nothing: three round trips
   * each (begin, claim, commit), the largest share of the worker's statements at a moderate rate.
   * A lane beyond the rows read is found in the next round, once these are applied.
   */
  private async lanesWithWork(): Promise<number[]> {
    if (this.lanes === 1) return [0];
    const rows = await sqlRunner(this.orm.em.fork()).prepared<{ lane: number }>(
      `select distinct lane % ?::int as lane from (
         select lane from meta_webhook_deliveries
          where processed_at is null and parked_at is null and (next_attempt_at is null or next_attempt_at <= ?::timestamptz)
          order by id limit ?::int
       ) due`,
      [this.lanes, this.clock.now(), this.batchSize * this.lanes * 4],
    );
    return rows.map((r) => Number(r.lane));
  }

  /**
   * Takes batches of one lane until it is empty. A batch that came back full means work is
   * waiting, and a delay no longer comes from the batch but from the queue: the next one is twice
   * as large (up to `MAX_BATCH`), so the fixed statements of a batch are paid less often and the
   * backlog shrinks faster. A batch that is not full ends the drain, and the next starts small.
   */
  private async drainLane(lane: number): Promise<number> {
    let total = 0;
    let size = this.batchSize;
    while (!this.stopping) {
      const { claimed, applied } = await this.processBatch(this.lanes > 1 ? lane : undefined, size);
      total += applied;
      if (claimed < size || applied === 0) break;
      size = Math.min(size * 2, Math.max(this.batchSize, MAX_BATCH));
    }
    return total;
  }

  /**
   * Applies one batch of pending deliveries (of one lane of `lanes`, when given), optimistically
   * all at once. Only if that fails is the batch redone item by item, in a transaction of its own
   * where each item has its own savepoint, so what fails is set aside and the rest still applies.
   * (A savepoint around every optimistic batch cost two round trips each, for the rare failure.)
   */
  async processBatch(lane?: number, size = this.batchSize): Promise<{ claimed: number; applied: number }> {
    let claimedIds: string[] = [];
    try {
      return await this.orm.em.fork().transactional(async (tx) => {
        const sql = sqlRunner(tx);
        const rows = await this.claim(sql, lane, size);
        claimedIds = rows.map((r) => r.id);
        if (!rows.length) return { claimed: 0, applied: 0 };
        const sinks = new BatchWork();
        const items = rows.flatMap((row) => itemsOf(row.payload, row.id));
        await sinks.prefetch(sql, items.filter((i) => i.kind === 'message').map((i) => obj(i.raw).id).filter((id): id is string => typeof id === 'string'));
        for (const item of items) await this.applyOrSetAside(sql, item, sinks, false);
        await sinks.flush(sql, this.clock.now());
        return { claimed: rows.length, applied: rows.length };
      });
    } catch (err) {
      if (!claimedIds.length) {
        this.logger.error({ err }, 'meta deliveries could not be claimed; the next pass tries again');
        return { claimed: 0, applied: 0 };
      }
      this.logger.warn({ err, deliveries: claimedIds.length }, 'meta delivery batch failed; applying its items one by one');
      return this.processOneByOne(claimedIds);
    }
  }

  /**
   * Claims deliveries that are due and marks them processed, in one statement: the mark commits
   * with what applying them wrote, or not at all, so a delivery is never marked without its effects.
   */
  private async claim(sql: SqlRunner, lane: number | undefined, size: number, ids?: string[]): Promise<{ id: string; payload: unknown; attempts: number }[]> {
    const now = this.clock.now();
    // Given ids (a failed batch redone), those are taken whatever their schedule; else the due ones.
    const only = ids ? sqlArray(ids) : null;
    const rows = await sql.prepared<{ id: string; payload: unknown; attempts: number }>(
      `update meta_webhook_deliveries d set processed_at = ?::timestamptz, attempts = d.attempts + 1
        where d.id in (
          select id from meta_webhook_deliveries
           where processed_at is null and parked_at is null
             and (?::bigint[] is null or id = any(?::bigint[]))
             and (?::bigint[] is not null or next_attempt_at is null or next_attempt_at <= ?::timestamptz)
             and (?::int is null or lane % ?::int = ?::int)
           order by id limit ?::int for update skip locked)
        returning d.id, d.payload, d.attempts - 1 as attempts`,
      [now, only, only, only, now, lane ?? null, this.lanes, lane ?? 0, ids?.length ?? size],
    );
    // In the order they arrived, which RETURNING does not keep.
    return rows.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  }

  /** The batch again, each item in its own savepoint; a failure of the whole waits its backoff. */
  private async processOneByOne(ids: string[]): Promise<{ claimed: number; applied: number }> {
    try {
      return await this.orm.em.fork().transactional(async (tx) => {
        const sql = sqlRunner(tx);
        const rows = await this.claim(sql, undefined, ids.length, ids);
        for (const row of rows) {
          for (const item of itemsOf(row.payload, row.id)) await this.applyOrSetAside(sql, item, null, true);
        }
        return { claimed: ids.length, applied: rows.length };
      });
    } catch (err) {
      // The transaction itself failed (the database went away, a timeout): every delivery of the
      // batch waits its backoff and is tried again, and parked after the last try.
      this.logger.error({ err, deliveryIds: ids }, 'meta delivery batch could not be applied; will retry with backoff');
      await this.deliveriesFailed(ids, err).catch((e: unknown) => this.logger.error({ err: e }, 'could not record the failure of meta deliveries'));
      return { claimed: ids.length, applied: 0 };
    }
  }

  private async deliveriesFailed(ids: string[], err: unknown): Promise<void> {
    const now = this.clock.now();
    const sql = sqlRunner(this.orm.em.fork());
    const rows = await sql.all<{ id: string; attempts: number }>('select id, attempts from meta_webhook_deliveries where id in (?)', [ids]);
    for (const row of rows) {
      const delay = retryDelayMs(row.attempts + 1);
      await sql.run(
        `update meta_webhook_deliveries set attempts = attempts + 1, last_error = ?, next_attempt_at = ?, parked_at = ? where id = ? and processed_at is null`,
        [safeErrorMessage(err).slice(0, 2000), delay === null ? null : new Date(now.getTime() + delay), delay === null ? now : null, row.id],
      );
    }
  }

  /**
   * Applies one item; a bad item is recorded as a failure instead of failing its delivery. Given
   * no `sinks` to add its statuses to, the item runs in its own savepoint and applies its own
   * statuses there, so even an unexpected database error stays with the item.
   */
  private async applyOrSetAside(sql: SqlRunner, item: Item, sinks: BatchWork | null, isolated: boolean): Promise<void> {
    if (isolated) await sql.run('savepoint item');
    try {
      const own = sinks ?? new BatchWork();
      await this.applyItem(sql, item, own);
      if (!sinks) await own.flush(sql, this.clock.now());
      if (isolated) await sql.run('release savepoint item');
    } catch (err) {
      if (!isolated && !(err instanceof InboundItemError) && !(err instanceof NotYetError)) throw err;
      if (isolated) await sql.run('rollback to savepoint item');
      await this.setAside(sql, item, err);
    }
  }

  private async setAside(sql: SqlRunner, item: Item, err: unknown): Promise<void> {
    const now = this.clock.now();
    const failure = failureAfter(err, 1, now);
    const route = await this.route(sql, item.context).catch(() => undefined);
    const raw = JSON.stringify(item.raw ?? null);
    const [row] = await sql.all<{ id: string }>(
      `insert into meta_inbound_failures (delivery_id, organization_id, channel_id, phone_number_id, item_kind, item, context, reason, fingerprint, state, attempts, next_attempt_at, created_at, updated_at)
       values (?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, ?, 1, ?, ?, ?)
       on conflict (fingerprint) where state <> 'replayed' do nothing returning id`,
      [
        item.context.deliveryId ?? null,
        route?.organizationId ?? null,
        route?.channelId ?? null,
        item.context.phoneNumberId,
        item.kind,
        raw,
        JSON.stringify({ ...item.context, deliveryId: undefined }),
        failure.reason,
        sha256Hex(`${item.kind}\n${item.context.field}\n${item.context.phoneNumberId ?? item.context.wabaId ?? ''}\n${raw}`),
        failure.state,
        failure.nextAttemptAt,
        now,
        now,
      ],
    );
    if (!row) return; // the same item already waits (Meta redelivered it)
    this.logger.warn(
      { deliveryId: item.context.deliveryId, failureId: row.id, kind: item.kind, field: item.context.field, reason: failure.reason, organizationId: route?.organizationId },
      failure.state === 'parked' ? 'meta item set aside for the operator' : 'meta item set aside; will retry',
    );
  }

  /**
   * Set-aside items that are due again. Each runs in its own transaction: applied, it is marked
   * replayed; failed again, it waits longer, and after the last try it is parked.
   */
  async retryDueFailures(limit = 100): Promise<number> {
    const due = await sqlRunner(this.orm.em.fork()).all<{ id: string }>(
      `select id from meta_inbound_failures where state = 'retrying' and next_attempt_at <= ? order by next_attempt_at limit ?`,
      [this.clock.now(), limit],
    );
    let applied = 0;
    for (const { id } of due) if ((await this.replay(id, false)) === 'replayed') applied++;
    return applied;
  }

  /**
   * Applies a set-aside item again (the operator's replay, or its scheduled retry). Answers its
   * new state; `null` when no such item is waiting.
   */
  async replay(failureId: string, byOperator: boolean): Promise<'replayed' | 'retrying' | 'parked' | null> {
    return this.orm.em.fork().transactional(async (tx) => {
      const sql = sqlRunner(tx);
      const [f] = await sql.all<{ id: string; item_kind: InboundItemKind; item: unknown; context: ItemContext; attempts: number; delivery_id: string | null }>(
        `select id, item_kind, item, context, attempts, delivery_id from meta_inbound_failures
          where id = ? and state in ('retrying', 'parked') for update skip locked`,
        [failureId],
      );
      if (!f) return null;
      const now = this.clock.now();
      const item: Item = { kind: f.item_kind, raw: f.item, context: { ...f.context, deliveryId: f.delivery_id } };
      await sql.run('savepoint replay');
      try {
        const sinks = new BatchWork();
        await this.applyItem(sql, item, sinks);
        await sinks.flush(sql, now);
        await sql.run('release savepoint replay');
        await sql.run(`update meta_inbound_failures set state = 'replayed', resolved_at = ?, updated_at = ?, next_attempt_at = null where id = ?`, [now, now, f.id]);
        this.logger.info({ failureId: f.id, byOperator }, 'set-aside meta item applied');
        return 'replayed';
      } catch (err) {
        await sql.run('rollback to savepoint replay');
        const failure = failureAfter(err, f.attempts + 1, now);
        await sql.run(`update meta_inbound_failures set state = ?, attempts = attempts + 1, reason = ?, next_attempt_at = ?, updated_at = ? where id = ?`, [
          failure.state,
          failure.reason,
          failure.nextAttemptAt,
          now,
          f.id,
        ]);
        this.logger.warn({ failureId: f.id, reason: failure.reason, state: failure.state }, 'set-aside meta item failed again');
        return failure.state;
      }
    });
  }

  /**
   * The channel an item belongs to: by phone number id, else (account and template notices carry
   * none) by the WhatsApp Business Account of the entry. Always read from the database inside the
   * transaction, so a disconnected channel is never routed to.
   */
  private async route(sql: SqlRunner, context: ItemContext): Promise<ChannelRoute | undefined> {
    const key = context.phoneNumberId ? `phone:${context.phoneNumberId}` : context.wabaId ? `waba:${context.wabaId}` : null;
    if (!key) return undefined;
    return this.routeIn(sql, key, async () =>
      context.phoneNumberId
        ? (await this.directory.resolveFresh([context.phoneNumberId], sql)).get(context.phoneNumberId)
        : await this.directory.resolveWaba(context.wabaId!, sql),
    );
  }

  private async applyItem(sql: SqlRunner, item: Item, sinks: BatchWork): Promise<void> {
    const route = await this.route(sql, item.context);
    if (!route) {
      // The contract: events of a number Parley does not (or no longer) serve are logged, not kept.
      this.logger.warn({ phoneNumberId: item.context.phoneNumberId, wabaId: item.context.wabaId, field: item.context.field, kind: item.kind }, 'meta item for no active channel; ignored');
      return;
    }
    const t = tenantSql(sql, route.organizationId);
    switch (item.kind) {
      case 'message':
      case 'echo': {
        const parsed = parseInboundItem(item.raw, item.context.contacts, { echo: item.kind === 'echo' });
        if (item.kind === 'echo') await this.applyEcho(t, route, parsed, sinks);
        else await this.applyInbound(t, route, parsed, sinks);
        return;
      }
      case 'history':
        await this.applyHistory(t, route, item, sinks);
        return;
      case 'status': {
        const status = metaStatus.safeParse(item.raw);
        if (!status.success) throw new InboundItemError(`status without a usable id, status or timestamp: ${status.error.issues.map((i) => i.path.join('.') || i.message).join(', ')}`);
        await this.applyStatus(sql, route, status.data, sinks);
        return;
      }
      case 'errors':
        await this.recordErrors(t, route, item.raw);
        return;
      case 'change':
        await this.applyChange(t, route, item);
        return;
    }
  }

  /** Finds (or creates) the contact an item names and its open conversation. */
  private async contactAndConversation(
    t: TenantSql,
    route: ChannelRoute,
    sender: SenderIdentity,
    at: { lastInboundAt: Date | null; now: Date; reopen: boolean; inbound?: InboundNote },
    batch: BatchWork,
  ) {
    const phone = sender.waId ? phoneFromWaId(sender.waId) : null;
    const contact = await findOrCreateContactByIdentity(t, sender, phone, at);
    const conversation = await openConversation(t, contact.id, { channelId: route.channelId, reopen: at.reopen, now: at.now, ...(at.inbound ? { inbound: at.inbound } : {}) });
    this.conversationNoted(batch, t.organizationId, conversation, at.now);
    return { contact, conversation };
  }

  /** A conversation an item created or reopened is told about when the batch flushes. */
  private conversationNoted(batch: BatchWork, organizationId: string, conversation: OpenedConversation, now: Date): void {
    if (conversation.created) batch.conversationCreated(organizationId, conversation.id, now);
    else if (conversation.reopened) batch.conversationReopened(organizationId, conversation.id, now);
  }

  private async applyInbound(t: TenantSql, route: ChannelRoute, item: InboundItem, batch: BatchWork): Promise<void> {
    const now = this.clock.now();
    const sentAt = item.sentAt ?? now;
    switch (item.kind) {
      case 'message': {
        if (await batch.isKnown(t, item.wamid)) return;
        // An attachment the channel's routing does not accept is kept as a notice, without its media.
        const { message, refused } = await screenInboundAttachment(t.sql, t.organizationId, route.channelId, item.message, now);
        const inbound = { sentAt, preview: message.preview, unread: true };
        const sender = item.sender;
        const { contact, conversation, message: row } = await storeContactMessage(t, {
          identity: sender,
          phone: sender.waId ? phoneFromWaId(sender.waId) : null,
          channelId: route.channelId,
          reopen: true,
          inbound,
          message: { type: message.type, content: message.content, wamid: item.wamid, sentAt },
          now,
        });
        this.conversationNoted(batch, t.organizationId, conversation, now);
        if (!row) return;
        batch.stored(item.wamid);
        if (refused) await replyAttachmentRefused(t.sql, t.organizationId, conversation.id, now);
        const text = item.message.type === 'text' ? str(item.message.content.text) : item.message.type === 'button' ? str(obj(item.message.content.button).text) : undefined;
        if (text !== undefined) {
          await applyConsentKeyword(t.sql, { organizationId: t.organizationId, contact: contactRef(contact), conversationId: conversation.id, channelId: route.channelId, text, wamid: item.wamid, at: now });
        }
        batch.events.add(t.organizationId, 'message.create.contact.chat.contact', messageCreated(row, contactRef(contact)), now);
        return;
      }
      case 'edit':
      case 'revoke':
        await this.applyRevision(t, route, item, now, batch);
        return;
      case 'welcome': {
        // The person opened the chat: the conversation (and its window) opens, with no message in it.
        await this.contactAndConversation(t, route, item.sender, { lastInboundAt: sentAt, now, reopen: true, inbound: { sentAt, preview: null, unread: false } }, batch);
        return;
      }
      case 'identity':
        await this.applyIdentity(t, route, item, sentAt, now, batch);
        return;
    }
  }

  /** A message the business wrote in the WhatsApp Business app (coexistence), or its edit. */
  private async applyEcho(t: TenantSql, route: ChannelRoute, item: InboundItem, batch: BatchWork): Promise<void> {
    const now = this.clock.now();
    if (item.kind === 'edit' || item.kind === 'revoke') return this.applyRevision(t, route, item, now, batch);
    if (item.kind !== 'message') throw new InboundItemError(`a message echo of kind ${item.kind} has no meaning`);
    if (await findMessageByWamid(t, item.wamid)) return;
    const at = item.sentAt ?? now;
    const { contact, conversation } = await this.contactAndConversation(t, route, item.sender, { lastInboundAt: null, now, reopen: false }, batch);
    const row = await insertOutboundMessage(t, {
      conversationId: conversation.id,
      channelId: route.channelId,
      role: 'agent',
      type: item.message.type,
      content: { ...item.message.content, source: 'whatsapp_business_app' },
      status: 'sent',
      sendState: 'accepted',
      wamid: item.wamid,
      at,
    });
    if (!row) return;
    await noteOutboundMessage(t, conversation.id, { at, preview: item.message.preview, channelId: route.channelId });
    batch.events.add(t.organizationId, 'message.create.contact.chat.agent', messageCreated(row, contactRef(contact)), now);
  }

  /**
   * A message of the number's past, imported at onboarding: kept in the contact's conversation
   * as it was, marked `source: history`, without counting as unread, answering keywords, or
   * telling partners about events long gone.
   */
  private async applyHistory(t: TenantSql, route: ChannelRoute, item: Item, batch: BatchWork): Promise<void> {
    const raw = obj(item.raw);
    const fromContact = str(raw.from) === item.context.threadId;
    const parsed = parseInboundItem(fromContact ? item.raw : { ...raw, to: raw.to ?? item.context.threadId }, item.context.contacts, { echo: !fromContact });
    if (parsed.kind !== 'message') throw new InboundItemError(`a history message of kind ${parsed.kind} is not imported`);
    if (await findMessageByWamid(t, parsed.wamid)) return;
    const now = this.clock.now();
    const at = parsed.sentAt ?? now;
    const { conversation } = await this.contactAndConversation(t, route, parsed.sender, { lastInboundAt: fromContact ? at : null, now, reopen: false }, batch);
    const content = { ...parsed.message.content, source: 'history' };
    if (fromContact) {
      const row = await insertInboundMessage(t, { conversationId: conversation.id, channelId: route.channelId, type: parsed.message.type, content, wamid: parsed.wamid, sentAt: at, now });
      if (row) await noteInboundMessage(t, conversation.id, { sentAt: at, preview: parsed.message.preview, channelId: route.channelId, unread: false, now });
      return;
    }
    const row = await insertOutboundMessage(t, { conversationId: conversation.id, channelId: route.channelId, role: 'agent', type: parsed.message.type, content, status: 'sent', sendState: 'accepted', wamid: parsed.wamid, at });
    if (row) await noteOutboundMessage(t, conversation.id, { at, preview: parsed.message.preview, channelId: route.channelId });
  }

  private async applyRevision(t: TenantSql, route: ChannelRoute, item: Extract<InboundItem, { kind: 'edit' | 'revoke' }>, now: Date, batch: BatchWork): Promise<void> {
    const at = item.sentAt ?? now;
    if (item.kind === 'edit') {
      const row = await editMessage(t, item.originalWamid, { type: item.message.type, content: item.message.content, editWamid: item.wamid, at });
      if (row) {
        // The inbox row shows the edited text when the edited message is the newest one.
        const channelId = row.channel_id ?? route.channelId;
        if (row.direction === 'inbound') await noteInboundMessage(t, row.conversation_id, { sentAt: new Date(row.created_at), preview: item.message.preview, channelId, unread: false, now });
        else await noteOutboundMessage(t, row.conversation_id, { at: new Date(row.created_at), preview: item.message.preview, channelId });
        batch.events.add(t.organizationId, 'message.update', messageEdited(row, contactOfRow(row)), now);
        return;
      }
      // Already applied (a redelivery), or deleted meanwhile: nothing to do. Not known yet: later.
      if (await findMessageByWamid(t, item.originalWamid)) return;
      throw new NotYetError(`the edited message ${item.originalWamid} is not known yet`);
    }
    const revoked = await revokeMessage(t, item.originalWamid, { revokeWamid: item.wamid, at });
    if (revoked === null) throw new NotYetError(`the deleted message ${item.originalWamid} is not known yet`);
    if (revoked !== 'unchanged') {
      batch.events.add(t.organizationId, 'message.update', messageDeleted(revoked, contactOfRow(revoked)), now);
    }
  }

  /**
   * WhatsApp's system messages: a person who changed number or business-scoped id keeps their
   * contact, under the new ids. The notice itself is kept in the thread for the agents.
   */
  private async applyIdentity(t: TenantSql, route: ChannelRoute, item: Extract<InboundItem, { kind: 'identity' }>, sentAt: Date, now: Date, batch: BatchWork): Promise<void> {
    if (item.wamid && (await findMessageByWamid(t, item.wamid))) return;
    const change = item.change;
    const sender: SenderIdentity =
      change.type === 'user_changed_user_id' && 'previousUserId' in change && change.previousUserId && !item.sender.waId
        ? { ...item.sender, userId: change.previousUserId }
        : item.sender;
    const { contact, conversation } = await this.contactAndConversation(t, route, sender, { lastInboundAt: null, now, reopen: false }, batch);
    if (change.type === 'user_changed_number' && 'newWaId' in change && change.newWaId) {
      await changeContactIdentity(t, contact.id, { waId: change.newWaId, phone: phoneFromWaId(change.newWaId) }, now);
    } else if (change.type === 'user_changed_user_id' && 'userId' in change && change.userId) {
      await changeContactIdentity(t, contact.id, { userId: change.userId }, now);
    }
    if (!item.wamid) return;
    const body = 'body' in change ? change.body : null;
    const row = await insertInboundMessage(t, {
      conversationId: conversation.id,
      channelId: route.channelId,
      type: 'system',
      content: { system: change, ...(body ? { text: body } : {}) },
      wamid: item.wamid,
      sentAt,
      now,
    });
    if (row) batch.events.add(t.organizationId, 'message.create.contact.chat.contact', messageCreated(row, contactRef(contact)), now);
  }

  /** Meta's value-level errors (a rate limit, a blocked account) are kept on the channel. */
  private async recordErrors(t: TenantSql, route: ChannelRoute, raw: unknown): Promise<void> {
    const errors = Array.isArray(raw) ? raw : [raw];
    const now = this.clock.now();
    for (const e of errors) {
      const error = obj(e);
      const code = Number.isInteger(error.code) ? (error.code as number) : null;
      await insertNotice(t, route.channelId, {
        kind: 'error',
        code,
        title: str(error.title) ?? str(error.message) ?? null,
        detail: str(obj(error.error_data).details) ?? str(error.message) ?? null,
        data: error,
        occurredAt: now,
      });
      this.logger.warn({ organizationId: t.organizationId, channelId: route.channelId, code }, 'meta reported an error on the channel');
    }
  }

  /** Fields other than messages: template status changes, marketing preferences, account notices. */
  private async applyChange(t: TenantSql, route: ChannelRoute, item: Item): Promise<void> {
    const value = obj(item.raw);
    const now = this.clock.now();
    if (item.context.field === 'message_template_status_update') {
      const name = str(value.message_template_name);
      const language = str(value.message_template_language);
      const event = str(value.event);
      if (event && (str(value.message_template_id) || (name && language))) {
        await t.sql.run(
          `update templates set status = ? where organization_id = ? and channel_id in (select id from channels where waba_id = ? and organization_id = ?)
             and (meta_template_id = ? or (name = ? and language = ?))`,
          [event, t.organizationId, route.wabaId, t.organizationId, str(value.message_template_id) ?? '', name ?? '', language ?? ''],
        );
      }
      await insertNotice(t, route.channelId, { kind: 'template_status', code: null, title: event ?? null, detail: [name, language, str(value.reason)].filter(Boolean).join(' ') || null, data: value, occurredAt: now });
      return;
    }
    if (item.context.field === 'user_preferences' && Array.isArray(value.user_preferences)) {
      for (const p of value.user_preferences) await this.applyMarketingPreference(t, route, obj(p), now);
      return;
    }
    const kind = item.context.field === 'account_update' ? 'account_update' : 'unhandled';
    await insertNotice(t, route.channelId, { kind, code: null, title: str(value.event) ?? item.context.field, detail: null, data: { field: item.context.field, value }, occurredAt: now });
    this.logger.info({ organizationId: t.organizationId, channelId: route.channelId, field: item.context.field }, 'meta notice kept on the channel');
  }

  /** The person told WhatsApp to stop (or resume) marketing messages from this business. */
  private async applyMarketingPreference(t: TenantSql, route: ChannelRoute, p: Loose, now: Date): Promise<void> {
    const waId = str(p.wa_id);
    if (str(p.category) !== 'marketing_messages' || !waId || !['stop', 'resume'].includes(str(p.value) ?? '')) {
      await insertNotice(t, route.channelId, { kind: 'unhandled', code: null, title: 'user_preferences', detail: null, data: p, occurredAt: now });
      return;
    }
    const contact = await findOrCreateContactByIdentity(t, { waId }, phoneFromWaId(waId), { lastInboundAt: null, now });
    const stop = str(p.value) === 'stop';
    const changed = await t.sql.all<{ id: string }>(
      `update contacts set marketing_opted_out = ?, updated_at = ? where id = ? and organization_id = ? and marketing_opted_out <> ? returning id`,
      [stop, now, contact.id, t.organizationId, stop],
    );
    if (changed.length) {
      await t.sql.run(`insert into consent_events (id, organization_id, contact_id, change, cause, detail, created_at) values (?, ?, ?, ?, 'whatsapp_preferences', ?, ?)`, [
        newId(),
        t.organizationId,
        contact.id,
        stop ? 'marketing_opt_out' : 'marketing_opt_in',
        str(p.detail) ?? null,
        now,
      ]);
    }
  }

  /**
   * A broadcast recipient refused marketing templates (131050): the refusal is kept on the contact
   * of that number, created if there is none, so later marketing broadcasts skip the person.
   */
  private async recipientRefusesMarketing(sql: SqlRunner, organizationId: string, s: MetaStatus): Promise<void> {
    const [recipient] = await sql.all<{ phone: string }>('select phone from broadcast_recipients where id = ? and organization_id = ?', [
      recipientOfStatus(s),
      organizationId,
    ]);
    if (!recipient) return;
    const now = this.clock.now();
    const contact = await upsertContactByPhoneOrEmail(tenantSql(sql, organizationId), { phone: recipient.phone }, null, now);
    await markMarketingOptOut(sql, { organizationId, contactId: contact.id, detail: s.id, at: now });
  }

  private async applyStatus(sql: SqlRunner, route: ChannelRoute, s: MetaStatus, sinks: BatchWork): Promise<void> {
    const status = (STATUS_ALIASES[s.status] ?? s.status) as MessageStatus;
    if (!APPLIED_STATUSES.has(status)) throw new InboundItemError(`status "${s.status}" is not one Parley applies`);
    // Broadcast recipients carry their own monotonic status: a redelivery is a no-op update, so
    // the high-volume path skips the status-event ledger.
    if (sinks.recipients.add(route.organizationId, s, status)) {
      if (status === 'failed' && s.errors?.some((e) => e.code === 131050)) await this.recipientRefusesMarketing(sql, route.organizationId, s);
      return;
    }
    if (status === 'failed' && s.errors?.some((e) => e.code === 131050)) {
      const [owner] = await sql.all<{ contact_id: string }>(
        'select cv.contact_id from messages m join conversations cv on cv.id = m.conversation_id where m.wamid = ? and m.organization_id = ?',
        [s.id, route.organizationId],
      );
      if (owner) await markMarketingOptOut(sql, { organizationId: route.organizationId, contactId: owner.contact_id, detail: s.id, at: this.clock.now() });
    }
    const occurredAt = s.timestamp !== undefined && Number.isFinite(Number(s.timestamp)) ? new Date(Number(s.timestamp) * 1000) : this.clock.now();
    sinks.statuses.add(route.organizationId, s, status, occurredAt);
  }
}

/**
 * What a batch of items shares: its statuses (broadcast receipts and conversation message
 * statuses, each applied in one statement per batch) and the wamids it already holds. Items
 * applied one by one each get their own.
 */
class BatchWork {
  readonly recipients = new RecipientStatuses();
  readonly statuses = new MessageStatuses();
  readonly events = new EventBatch();
  /** Wamids of the batch's messages already stored, read in one query up front (see `prefetch`). */
  private known: Set<string> | null = null;

  /** One query for the whole batch instead of one per message. */
  async prefetch(sql: SqlRunner, wamids: string[]): Promise<void> {
    const rows = wamids.length ? await sql.prepared<{ wamid: string }>('select wamid from messages where wamid = any(?::text[])', [sqlArray(wamids)]) : [];
    this.known = new Set(rows.map((r) => r.wamid));
  }

  async isKnown(t: TenantSql, wamid: string): Promise<boolean> {
    return this.known ? this.known.has(wamid) : (await findMessageByWamid(t, wamid)) !== null;
  }

  stored(wamid: string): void {
    this.known?.add(wamid);
  }

  /** Conversations whose events the batch tells, by organization; read once, when it flushes. */
  private readonly viewsWanted = new Map<string, Set<string>>();
  private readonly views = new Map<string, ConversationView>();

  private wantView(organizationId: string, conversationId: string): void {
    const ids = this.viewsWanted.get(organizationId) ?? new Set();
    this.viewsWanted.set(organizationId, ids.add(conversationId));
  }

  private view(conversationId: string): ConversationView {
    const view = this.views.get(conversationId);
    if (!view) throw new Error(`no view of conversation ${conversationId} was read for its event`);
    return view;
  }

  /**
   * `conversation.create`, told with the conversation as the batch leaves it (its first message
   * noted): one query for all of the batch's conversations instead of one per event.
   */
  conversationCreated(organizationId: string, conversationId: string, at: Date): void {
    this.wantView(organizationId, conversationId);
    this.events.add(organizationId, 'conversation.create', () => ({ conversation: this.view(conversationId) }), at);
  }

  /** The contact wrote to a resolved conversation: `conversation.update`, as the API's updates tell it. */
  conversationReopened(organizationId: string, conversationId: string, at: Date): void {
    this.wantView(organizationId, conversationId);
    this.events.add(organizationId, 'conversation.update', () => ({ conversation: this.view(conversationId), changes: { status: 'active' }, previous: { status: 'resolved' } }), at);
  }

  async flush(sql: SqlRunner, now: Date): Promise<void> {
    await this.recipients.flush(sql, now);
    for (const s of await this.statuses.flush(sql, now, this.events)) await applyUntaggedRecipientStatus(sql, now, s);
    for (const [organizationId, ids] of this.viewsWanted) {
      for (const [id, view] of await conversationViews(sql, organizationId, [...ids], now)) this.views.set(id, view);
    }
    this.viewsWanted.clear();
    await this.events.flush(sql);
  }
}

async function insertNotice(
  t: TenantSql,
  channelId: string,
  n: { kind: string; code: number | null; title: string | null; detail: string | null; data: unknown; occurredAt: Date },
): Promise<void> {
  const data = JSON.stringify(n.data ?? {});
  const fingerprint = sha256Hex(`${n.kind}\n${n.occurredAt.toISOString().slice(0, 10)}\n${data}`);
  await t.sql.run(
    `insert into channel_notices (id, organization_id, channel_id, kind, code, title, detail, data, fingerprint, occurred_at, created_at) values (?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?)
     on conflict (channel_id, fingerprint) do nothing`,
    [newId(), t.organizationId, channelId, n.kind, n.code, n.title?.slice(0, 500) ?? null, n.detail?.slice(0, 2000) ?? null, data, fingerprint, n.occurredAt, n.occurredAt],
  );
}

/**
 * A status recorded before its message was known, applied once the send recorded its wamid: the
 * message moves forward to `status` when that is a step up (as MessageStatuses does for a batch),
 * with Meta's error on failure, and `message.update` is emitted.
 */
export async function applyStatusEvent(
  sql: SqlRunner,
  clock: Clock,
  organizationId: string,
  wamid: string,
  status: MessageStatus,
  errors: MetaStatus['errors'],
  eventId: string,
): Promise<boolean> {
  const error = statusError(status, errors);
  const now = clock.now();
  // `old` is the row as the statement found it: the status the message leaves.
  const updated = await sql.all<MessageWithContactRow & { previous_status: MessageStatus }>(
    `with upd as (
       update messages m set status = ?, status_rank = ?, status_updated_at = ?, error = coalesce(?::jsonb, m.error)
         from messages old
        where old.id = m.id and m.wamid = ? and m.organization_id = ? and m.status_rank < ?
        returning ${messageColumns('m')}, old.status as previous_status
     ) ${messagesWithContact('upd')}`,
    [status, MESSAGE_STATUS_RANK[status], now, error ? JSON.stringify(error) : null, wamid, organizationId, MESSAGE_STATUS_RANK[status]],
  );
  const known = updated.length > 0 || (await sql.all('select 1 from messages where wamid = ? and organization_id = ?', [wamid, organizationId])).length > 0;
  if (known) await sql.run('update message_status_events set applied_at = ? where id = ?', [now, eventId]);
  for (const row of updated) {
    await recordEvent(sql, organizationId, 'message.update', messageStatusChanged(row, contactOfRow(row), row.previous_status), now);
  }
  return known;
}

/**
 * A status without the `bcr:` tag (a Graph API that does not echo `biz_opaque_callback_data`)
 * whose wamid is no conversation message: a broadcast recipient's, found by its wamid. A send
 * whose outcome was lost cannot be matched this way; only the tag settles those.
 */
async function applyUntaggedRecipientStatus(sql: SqlRunner, now: Date, s: UnmatchedStatus): Promise<void> {
  const [recipient] = await sql.all<{ id: string }>('select id from broadcast_recipients where wamid = ? and organization_id = ?', [s.wamid, s.organizationId]);
  if (!recipient) return;
  const statuses = new RecipientStatuses();
  statuses.add(s.organizationId, { id: s.wamid, status: s.status, errors: s.errors, biz_opaque_callback_data: `${RECIPIENT_CALLBACK_PREFIX}${recipient.id}` }, s.status);
  await statuses.flush(sql, now);
  await sql.run('update message_status_events set applied_at = ? where id = ?', [now, s.eventId]);
}

/** Meta's 131050 on a send: the person refuses marketing templates; recorded once, with its cause. */
export async function markMarketingOptOut(sql: SqlRunner, input: { organizationId: string; contactId: string; detail: string; at: Date }): Promise<void> {
  const changed = await sql.all<{ id: string }>(
    `update contacts set marketing_opted_out = true, updated_at = ? where id = ? and organization_id = ? and not marketing_opted_out returning id`,
    [input.at, input.contactId, input.organizationId],
  );
  if (changed.length) {
    await sql.run(
      `insert into consent_events (id, organization_id, contact_id, change, cause, detail, created_at) values (?, ?, ?, 'marketing_opt_out', 'meta_131050', ?, ?)`,
      [newId(), input.organizationId, input.contactId, input.detail, input.at],
    );
  }
}
