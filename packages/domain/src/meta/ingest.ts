import type { MikroORM } from '@mikro-orm/postgresql';
import { type Clock, type Logger, replaceUnstorableText } from '@parley/core';
import type { MessageStatus } from '@parley/db';
import { recipientOfStatus, RecipientStatuses } from '../broadcasts/statuses';
import { type SqlRunner, sqlRunner } from '../sql';
import { WAKE_CHANNELS, WakeNotifier } from '../wake';
import { GroupWriter } from './batcher';
import type { ChannelRoute, PhoneNumberDirectory } from './directory';
import { laneOf, metaChangeValue, phoneNumberIdsOf, type MetaWebhookPayload } from './payload';

interface StoredDelivery {
  receivedAt: Date;
  raw: string;
  lane: number;
}

interface ReceiptDelivery {
  receipts: RecipientStatuses;
  routes: ChannelRoute[];
  /** The delivery to store instead, should its routes turn out stale. */
  stored: StoredDelivery;
}

/** Progress receipts: applying them twice or late changes nothing, so they need no ledger. */
const RECEIPTS = new Set<string>(['sent', 'delivered', 'read']);

/**
 * The webhook's only job before answering: make the delivery durable, once. Most deliveries are
 * stored as received, in one insert, and applied by the processor in the worker process.
 *
 * A delivery made only of broadcast receipts (sent, delivered, read naming a recipient) is
 * applied here instead, in one grouped update: a broadcast brings three of them per send, and
 * storing, reading back and marking each one cost more than applying it. The update is forward
 * only and idempotent, so Meta's redeliveries are harmless, and it commits before the 200.
 */
export class MetaWebhookIngest {
  private readonly writer: GroupWriter<StoredDelivery>;
  private readonly receipts: GroupWriter<ReceiptDelivery>;
  private readonly stored: WakeNotifier;
  /**
   * Statements outside any transaction (each insert is its own) need no EntityManager of their
   * own: one fork, made once, serves every write, where a fork per write was a measurable share
   * of the webhook's CPU.
   */
  private sqlMade: SqlRunner | undefined;
  private get sql(): SqlRunner {
    return (this.sqlMade ??= sqlRunner(this.orm.em.fork()));
  }

  constructor(
    private readonly orm: MikroORM,
    private readonly directory: PhoneNumberDirectory,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.stored = new WakeNotifier(orm, WAKE_CHANNELS.metaInbound, logger);
    // Two inserts in flight at most: the deliveries that arrive meanwhile go together in the next.
    // With four, at 500 a second most inserts carried one row, each its own commit and round trip,
    // and the webhook cost a quarter more CPU for no faster answer.
    this.writer = new GroupWriter((rows) => this.store(this.sql, rows), { maxConcurrent: 2, maxBatch: 500 });
    this.receipts = new GroupWriter(async (rows) => {
      const sql = this.sql;
      // The routes came from a cache: a number disconnected (or moved to another organization)
      // since is routed afresh, and its receipts take the stored way instead.
      const fresh = await this.directory.resolveFresh([...new Set(rows.flatMap((r) => r.routes.map((route) => route.phoneNumberId)))], sql);
      const all = new RecipientStatuses();
      const stale: StoredDelivery[] = [];
      for (const row of rows) {
        const current = row.routes.every((r) => fresh.get(r.phoneNumberId)?.channelId === r.channelId && fresh.get(r.phoneNumberId)?.organizationId === r.organizationId);
        if (current) all.merge(row.receipts);
        else stale.push(row.stored);
      }
      await all.flush(sql, this.clock.now());
      if (stale.length) await this.store(sql, stale);
      // Two at a time: groups grow while one commits, and fewer statements contend for the same rows.
    }, { maxConcurrent: 2, maxBatch: 500 });
  }

  private async store(sql: SqlRunner, rows: StoredDelivery[]): Promise<void> {
    await sql.run(
      `insert into meta_webhook_deliveries (received_at, payload, lane) values ${rows.map(() => '(?, ?::jsonb, ?)').join(', ')}`,
      rows.flatMap((r) => [r.receivedAt, r.raw, r.lane]),
    );
    // Committed (the statement is its own transaction): the worker may start on it now.
    this.stored.notify();
  }

  async ingest(payload: MetaWebhookPayload, raw: string): Promise<{ stored: boolean }> {
    const ids = phoneNumberIdsOf(payload);
    const routes = ids.length ? await this.directory.resolve(ids) : new Map<string, ChannelRoute>();
    if (routes.size === 0 && !(await this.servesAccountOf(payload))) {
      this.logger.warn({ phoneNumberIds: ids, object: payload.object }, 'meta delivery for no known phone number id; not stored');
      return { stored: false };
    }
    const receipts = routes.size ? broadcastReceiptsOnly(payload, routes) : null;
    const stored = { receivedAt: this.clock.now(), raw: storableJson(raw, payload), lane: laneOf(payload) };
    // Either way, resolves only after the commit that holds this delivery: the 200 is never ahead of the disk.
    if (receipts) await this.receipts.add({ receipts, routes: [...routes.values()], stored });
    else await this.writer.add(stored);
    return { stored: true };
  }

  /** Account and template notices name no phone number, only the WhatsApp Business Account. */
  private async servesAccountOf(payload: MetaWebhookPayload): Promise<boolean> {
    const wabaIds = [...new Set(payload.entry.map((e) => e.id).filter((id): id is string => !!id))];
    if (!wabaIds.length) return false;
    const sql = sqlRunner(this.orm.em.fork());
    for (const id of wabaIds) if (await this.directory.resolveWaba(id, sql)) return true;
    return false;
  }
}

const UNSTORABLE_ESCAPE = /\\u(0000|d[89a-f][0-9a-f]{2})/i;

/**
 * The delivery as PostgreSQL's jsonb can hold it. jsonb refuses NUL characters and lone UTF-16
 * surrogates, which a signed delivery may still carry (and Meta would retry a refused one for
 * days): such characters are stored as their visible escape (`\u0000`), everything else as sent.
 */
export function storableJson(raw: string, parsed: unknown): string {
  if (!UNSTORABLE_ESCAPE.test(raw)) return raw;
  const escape = (text: string) => replaceUnstorableText(text, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return JSON.stringify(parsed, function (this: unknown, _key, value: unknown) {
    if (typeof value === 'string') return escape(value);
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [escape(k), v]));
    }
    return value;
  });
}

/** The delivery's statuses when it holds nothing but broadcast receipts on known channels; else null. */
function broadcastReceiptsOnly(payload: MetaWebhookPayload, routes: Map<string, ChannelRoute>): RecipientStatuses | null {
  // A glance first: most deliveries that are not receipts are told apart without parsing them.
  for (const entry of payload.entry) {
    for (const change of entry.changes) {
      const value = change.value as { messages?: unknown; statuses?: unknown } | null;
      if (change.field !== 'messages' || !value || value.messages !== undefined || !Array.isArray(value.statuses)) return null;
      if (!value.statuses.every((s: unknown) => typeof s === 'object' && s !== null && recipientOfStatus(s) !== null)) return null;
    }
  }
  const receipts = new RecipientStatuses();
  for (const entry of payload.entry) {
    for (const change of entry.changes) {
      const value = metaChangeValue.safeParse(change.value);
      if (!value.success || value.data.messages?.length || !value.data.statuses?.length) return null;
      const route = routes.get(value.data.metadata?.phone_number_id ?? '');
      if (!route) return null;
      for (const s of value.data.statuses) {
        if (!RECEIPTS.has(s.status) || !receipts.add(route.organizationId, s, s.status as MessageStatus)) return null;
      }
    }
  }
  return receipts.size ? receipts : null;
}
