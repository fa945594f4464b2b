import type { MikroORM } from '@mikro-orm/postgresql';
import { type Clock, type Logger, newId, toE164 } from '@parley/core';
import { MESSAGE_STATUS_RANK, type MessageStatus } from '@parley/db';
import type { ChannelRoute, PhoneNumberDirectory } from './directory';
import { parseInboundMessage } from './parse';
import { metaChangeValue, type MetaInboundMessage, type MetaStatus, metaWebhookPayload } from './payload';
import { PollingJob } from '../polling';
import { type SqlRunner, sqlRunner } from '../sql';
import { applyConsentKeyword } from '../consent';
import { recordEvent } from '../events';
import { RECIPIENT_CALLBACK_PREFIX, recipientOfStatus, RecipientStatuses } from '../broadcasts/statuses';

export interface ProcessorOptions {
  batchSize?: number;
  sweepMs?: number;
  maxAttempts?: number;
}

const APPLIED_STATUSES = new Set<MessageStatus>(['sent', 'delivered', 'read', 'failed']);

/**
 * Applies stored Meta deliveries: contacts, conversations, messages and statuses. It runs after
 * the webhook has answered 200; deliveries are claimed with SKIP LOCKED, so several API processes
 * can share the work, and a delivery stays pending until the transaction that applied it commits.
 * A crash between storing and applying loses nothing: the periodic sweep picks it up.
 */
export class MetaInboundProcessor extends PollingJob {
  private readonly batchSize: number;
  private readonly maxAttempts: number;

  constructor(
    private readonly orm: MikroORM,
    private readonly directory: PhoneNumberDirectory,
    private readonly clock: Clock,
    logger: Logger,
    options: ProcessorOptions = {},
  ) {
    super(logger, options.sweepMs ?? 2000, 'meta inbound processing');
    this.batchSize = options.batchSize ?? 100;
    this.maxAttempts = options.maxAttempts ?? 10;
  }

  /** Applies pending deliveries until none is left that can be applied now. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const { claimed, applied } = await this.processBatch();
      total += applied;
      if (claimed < this.batchSize || applied === 0) return total;
    }
  }

  async processBatch(): Promise<{ claimed: number; applied: number }> {
    const em = this.orm.em.fork();
    return em.transactional(async (tx) => {
      const sql = sqlRunner(tx);
      const rows = await sql.all<{ id: string; payload: unknown }>(
        `select id, payload from meta_webhook_deliveries
         where processed_at is null and attempts < ? order by id limit ? for update skip locked`,
        [this.maxAttempts, this.batchSize],
      );
      const done: string[] = [];
      // Optimistically all at once; only if one delivery fails is the batch redone one delivery
      // per savepoint, so the bad one is set aside and the rest still apply.
      await sql.run('savepoint batch');
      try {
        const recipients = new RecipientStatuses();
        for (const row of rows) await this.applyDelivery(sql, row.payload, recipients);
        await recipients.flush(sql, this.clock.now());
        await sql.run('release savepoint batch');
        done.push(...rows.map((r) => r.id));
      } catch {
        await sql.run('rollback to savepoint batch');
        for (const row of rows) {
          await sql.run('savepoint delivery');
          try {
            const recipients = new RecipientStatuses();
            await this.applyDelivery(sql, row.payload, recipients);
            await recipients.flush(sql, this.clock.now());
            await sql.run('release savepoint delivery');
            done.push(row.id);
          } catch (err) {
            await sql.run('rollback to savepoint delivery');
            this.logger.error({ err, deliveryId: row.id }, 'meta delivery could not be applied; will retry');
            await sql.run('update meta_webhook_deliveries set attempts = attempts + 1, last_error = ? where id = ?', [
              String((err as Error).message ?? err).slice(0, 2000),
              row.id,
            ]);
          }
        }
      }
      if (done.length) {
        await sql.run('update meta_webhook_deliveries set processed_at = ?, attempts = attempts + 1 where id in (?)', [
          this.clock.now(),
          done,
        ]);
      }
      return { claimed: rows.length, applied: done.length };
    });
  }

  private async applyDelivery(sql: SqlRunner, payload: unknown, recipients: RecipientStatuses): Promise<void> {
    const envelope = metaWebhookPayload.safeParse(payload);
    if (!envelope.success) {
      this.logger.warn({ issues: envelope.error.issues }, 'meta delivery is not a webhook envelope; ignored');
      return;
    }
    for (const entry of envelope.data.entry) {
      for (const change of entry.changes) {
        if (change.field !== 'messages') {
          this.logger.info({ field: change.field, wabaId: entry.id }, 'meta change without handler; ignored');
          continue;
        }
        const value = metaChangeValue.safeParse(change.value);
        const phoneNumberId = value.success ? value.data.metadata?.phone_number_id : undefined;
        if (!value.success || !phoneNumberId) continue;
        const route = (await this.directory.resolve([phoneNumberId], sql)).get(phoneNumberId);
        if (!route) {
          this.logger.warn({ phoneNumberId }, 'meta change for an unknown phone number id; ignored');
          continue;
        }
        const names = new Map((value.data.contacts ?? []).map((c) => [c.wa_id, c.profile?.name]));
        for (const message of value.data.messages ?? []) await this.applyMessage(sql, route, message, names.get(message.from));
        for (const status of value.data.statuses ?? []) await this.applyStatus(sql, route, status, recipients);
      }
    }
  }

  private async applyMessage(sql: SqlRunner, route: ChannelRoute, m: MetaInboundMessage, profileName: string | undefined): Promise<void> {
    const known = await sql.all('select 1 from messages where wamid = ?', [m.id]);
    if (known.length) return;
    let phone: string;
    try {
      phone = toE164(m.from);
    } catch {
      this.logger.warn({ wamid: m.id }, 'inbound message from an unparseable number; ignored');
      return;
    }
    const now = this.clock.now();
    const sentAt = Number.isFinite(Number(m.timestamp)) ? new Date(Number(m.timestamp) * 1000) : now;
    const org = route.organizationId;

    const [contact] = await sql.all<{ id: string }>(
      `insert into contacts (id, organization_id, phone, wa_id, name, fields, opted_out, last_inbound_at, created_at, updated_at)
       values (?, ?, ?, ?, ?, '{}', false, ?, ?, ?)
       on conflict (organization_id, phone) where phone is not null do update set
         wa_id = excluded.wa_id,
         name = coalesce(excluded.name, contacts.name),
         last_inbound_at = greatest(contacts.last_inbound_at, excluded.last_inbound_at),
         updated_at = excluded.updated_at
       returning id`,
      [newId(), org, phone, m.from, profileName ?? null, sentAt, now, now],
    );

    const conversation = await this.openConversation(sql, org, contact!.id, route.channelId, now);
    const parsed = parseInboundMessage(m);
    const messageId = newId();
    const inserted = await sql.all(
      `insert into messages (id, organization_id, conversation_id, channel_id, direction, role, ai, type, content, wamid, status, status_rank, status_updated_at, created_at)
       values (?, ?, ?, ?, 'inbound', 'contact', false, ?, ?::jsonb, ?, 'received', 0, ?, ?)
       on conflict (wamid) where wamid is not null do nothing returning id`,
      [messageId, org, conversation.id, route.channelId, parsed.type, JSON.stringify(parsed.content), m.id, now, sentAt],
    );
    if (!inserted.length) return;

    await sql.run(
      `update conversations set
         last_inbound_at = greatest(last_inbound_at, ?),
         last_message_preview = case when last_message_at is null or last_message_at <= ? then ? else last_message_preview end,
         last_message_at = greatest(last_message_at, ?),
         unread_count = unread_count + 1,
         channel_id = coalesce(channel_id, ?),
         updated_at = ?
       where id = ?`,
      [sentAt, sentAt, parsed.preview.slice(0, 200), sentAt, route.channelId, now, conversation.id],
    );

    if (parsed.type === 'text' || parsed.type === 'button') {
      const text = parsed.type === 'text' ? String(parsed.content.text) : String((parsed.content.button as { text?: string }).text ?? '');
      await applyConsentKeyword(sql, { organizationId: org, contactId: contact!.id, conversationId: conversation.id, channelId: route.channelId, text, wamid: m.id, at: now });
    }
    if (conversation.created) {
      await recordEvent(sql, org, 'conversation.create', { conversationId: conversation.id, contactId: contact!.id, status: 'active' }, now);
    } else if (conversation.reopened) {
      // Same shape as the API's conversation.update: what changed, and what it was before.
      await recordEvent(sql, org, 'conversation.update', { conversationId: conversation.id, changes: { status: 'active' }, previous: { status: 'resolved' } }, now);
    }
    await recordEvent(
      sql,
      org,
      'message.create.contact.chat.contact',
      {
        message: {
          id: messageId,
          conversationId: conversation.id,
          direction: 'inbound',
          role: 'contact',
          touchpoint: 'whatsapp',
          type: parsed.type,
          content: parsed.content,
          status: 'received',
          wamid: m.id,
          ai: false,
          createdAt: sentAt.toISOString(),
        },
        contact: { id: contact!.id, phone, name: profileName ?? null },
      },
      now,
    );
  }

  /** The contact's open conversation: reopened if resolved, created if there is none (closed ones stay closed). */
  private async openConversation(
    sql: SqlRunner,
    org: string,
    contactId: string,
    channelId: string,
    now: Date,
  ): Promise<{ id: string; created: boolean; reopened: boolean }> {
    const created = await sql.all<{ id: string }>(
      `insert into conversations (id, organization_id, contact_id, channel_id, status, unread_count, created_at, updated_at)
       values (?, ?, ?, ?, 'active', 0, ?, ?)
       on conflict (organization_id, contact_id) where status <> 'closed' do nothing returning id`,
      [newId(), org, contactId, channelId, now, now],
    );
    if (created[0]) return { id: created[0].id, created: true, reopened: false };
    const [open] = await sql.all<{ id: string; status: string }>(
      `select id, status from conversations where organization_id = ? and contact_id = ? and status <> 'closed' for update`,
      [org, contactId],
    );
    if (!open) throw new Error('open conversation vanished while applying an inbound message');
    if (open.status === 'resolved') {
      await sql.run(`update conversations set status = 'active', updated_at = ? where id = ?`, [now, open.id]);
      return { id: open.id, created: false, reopened: true };
    }
    return { id: open.id, created: false, reopened: false };
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
    const [contact] = await sql.all<{ id: string }>(
      `insert into contacts (id, organization_id, phone, fields, opted_out, created_at, updated_at)
       values (?, ?, ?, '{}', false, ?, ?)
       on conflict (organization_id, phone) where phone is not null do update set updated_at = contacts.updated_at
       returning id`,
      [newId(), organizationId, recipient.phone, now, now],
    );
    await markMarketingOptOut(sql, { organizationId, contactId: contact!.id, detail: s.id, at: now });
  }

  private async applyStatus(sql: SqlRunner, route: ChannelRoute, s: MetaStatus, recipients: RecipientStatuses): Promise<void> {
    const status = s.status as MessageStatus;
    if (!APPLIED_STATUSES.has(status)) return;
    // Broadcast recipients carry their own monotonic status: a redelivery is a no-op update, so
    // the high-volume path skips the status-event ledger.
    if (recipients.add(route.organizationId, s, status)) {
      if (status === 'failed' && s.errors?.some((e) => e.code === 131050)) await this.recipientRefusesMarketing(sql, route.organizationId, s);
      return;
    }
    const occurredAt = Number.isFinite(Number(s.timestamp)) ? new Date(Number(s.timestamp) * 1000) : this.clock.now();
    const recorded = await sql.all<{ id: string }>(
      `insert into message_status_events (organization_id, wamid, status, occurred_at, recipient_id, biz_opaque_callback_data, errors)
       values (?, ?, ?, ?, ?, ?, ?::jsonb)
       on conflict (wamid, status) do nothing returning id`,
      [route.organizationId, s.id, status, occurredAt, s.recipient_id ?? null, s.biz_opaque_callback_data ?? null, s.errors ? JSON.stringify(s.errors) : null],
    );
    if (!recorded[0]) return;
    // A send whose outcome was lost (timeout, crash) learns its wamid from the tag it carried.
    if (s.biz_opaque_callback_data?.startsWith('msg:')) {
      await sql.run(
        `update messages set wamid = ?, send_state = 'accepted' where id::text = ? and organization_id = ? and wamid is null`,
        [s.id, s.biz_opaque_callback_data.slice(4), route.organizationId],
      );
    }
    if (status === 'failed' && s.errors?.some((e) => e.code === 131050)) {
      const [owner] = await sql.all<{ contact_id: string }>(
        'select cv.contact_id from messages m join conversations cv on cv.id = m.conversation_id where m.wamid = ? and m.organization_id = ?',
        [s.id, route.organizationId],
      );
      if (owner) await markMarketingOptOut(sql, { organizationId: route.organizationId, contactId: owner.contact_id, detail: s.id, at: this.clock.now() });
    }
    const known = await applyStatusEvent(sql, this.clock, route.organizationId, s.id, status, s.errors, recorded[0].id);
    if (!known) await applyUntaggedRecipientStatus(sql, this.clock, route.organizationId, s, status, recorded[0].id);
  }
}

/**
 * Moves a message forward to `status` when that is a step up (read implies delivered; nothing
 * moves back), records Meta's error on failure, and emits `message.update`. A status whose
 * message is not known yet stays unapplied until the send that created it records its wamid.
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
  const first = errors?.[0] as { code: number; title?: string; message?: string; error_data?: { details?: string } } | undefined;
  const error = status === 'failed' && first
    ? { code: first.code, title: first.title ?? first.message ?? 'Failed', details: first.error_data?.details ?? first.message }
    : null;
  const now = clock.now();
  const updated = await sql.all<{ id: string; conversation_id: string }>(
    `update messages set status = ?, status_rank = ?, status_updated_at = ?, error = coalesce(?::jsonb, error)
     where wamid = ? and organization_id = ? and status_rank < ? returning id, conversation_id`,
    [status, MESSAGE_STATUS_RANK[status], now, error ? JSON.stringify(error) : null, wamid, organizationId, MESSAGE_STATUS_RANK[status]],
  );
  const known = updated.length > 0 || (await sql.all('select 1 from messages where wamid = ? and organization_id = ?', [wamid, organizationId])).length > 0;
  if (known) await sql.run('update message_status_events set applied_at = ? where id = ?', [now, eventId]);
  for (const row of updated) {
    await recordEvent(sql, organizationId, 'message.update', { messageId: row.id, conversationId: row.conversation_id, wamid, status, error }, now);
  }
  return known;
}

/**
 * A status without the `bcr:` tag (a Graph API that does not echo `biz_opaque_callback_data`)
 * whose wamid is no conversation message: a broadcast recipient's, found by its wamid. A send
 * whose outcome was lost cannot be matched this way; only the tag settles those.
 */
async function applyUntaggedRecipientStatus(sql: SqlRunner, clock: Clock, organizationId: string, s: MetaStatus, status: MessageStatus, eventId: string): Promise<void> {
  const statuses = new RecipientStatuses();
  const [recipient] = await sql.all<{ id: string }>('select id from broadcast_recipients where wamid = ? and organization_id = ?', [s.id, organizationId]);
  if (!recipient) return;
  statuses.add(organizationId, { ...s, biz_opaque_callback_data: `${RECIPIENT_CALLBACK_PREFIX}${recipient.id}` }, status);
  const now = clock.now();
  await statuses.flush(sql, now);
  await sql.run('update message_status_events set applied_at = ? where id = ?', [now, eventId]);
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
