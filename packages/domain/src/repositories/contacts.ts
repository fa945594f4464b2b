import { newId } from '@parley/core';
import type { SqlPart, TenantSql } from './tenant';

/** WhatsApp's identity of a person as a webhook names it; at least one of waId / userId is set. */
export interface ContactIdentity {
  waId?: string | undefined;
  userId?: string | undefined;
  parentUserId?: string | undefined;
  username?: string | undefined;
  profileName?: string | undefined;
}

export interface ContactRow {
  id: string;
  phone: string | null;
  name: string | null;
  wa_id: string | null;
  user_id: string | null;
}


/**
 * The contact upsert by WhatsApp identity as two steps of a WITH clause, `found` and `inserted`:
 * the contact is `select * from found union all select * from inserted`. Apart so that the
 * inbound processor can write a contact's message in one statement with the same rule.
 */
export function contactByIdentitySteps(
  t: TenantSql,
  identity: ContactIdentity,
  phone: string | null,
  at: { lastInboundAt: Date | null; now: Date },
): SqlPart {
  const waId = identity.waId ?? null;
  const userId = identity.userId ?? null;
  // One statement either way: the contact found and given what it lacks of the identity (an id
  // another contact holds is left to it), or, if there is none, created.
  return {
    sql: `found as (
         update contacts c set
           wa_id = case when ?::text is null or exists (select 1 from contacts o where o.organization_id = c.organization_id and o.wa_id = ? and o.id <> c.id) then c.wa_id else ? end,
           user_id = case when ?::text is null or exists (select 1 from contacts o where o.organization_id = c.organization_id and o.user_id = ? and o.id <> c.id) then c.user_id else ? end,
           phone = case when c.phone is null and ?::text is not null and not exists (select 1 from contacts o where o.organization_id = c.organization_id and o.phone = ? and o.id <> c.id) then ? else c.phone end,
           parent_user_id = coalesce(?::text, c.parent_user_id),
           username = coalesce(?::text, c.username),
           name = coalesce(?::text, c.name),
           last_inbound_at = greatest(c.last_inbound_at, ?::timestamptz),
           updated_at = ?
         where c.organization_id = ? and c.id = (
           select f.id from contacts f
            where f.organization_id = ? and (f.wa_id = ? or f.user_id = ? or f.phone = ?)
            order by (f.wa_id = ?) is true desc, (f.user_id = ?) is true desc
            limit 1)
         returning c.id, c.phone, c.name, c.wa_id, c.user_id, false as created
       ),
       inserted as (
         insert into contacts (id, organization_id, phone, wa_id, user_id, parent_user_id, username, name, fields, opted_out, marketing_opted_out, last_inbound_at, created_at, updated_at)
         select ?::uuid, ?::uuid, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, '{}'::jsonb, false, false, ?::timestamptz, ?::timestamptz, ?::timestamptz where not exists (select 1 from found)
         on conflict do nothing
         returning id, phone, name, wa_id, user_id, true as created
       )`,
    params: [
      waId, waId, waId,
      userId, userId, userId,
      phone, phone, phone,
      identity.parentUserId ?? null,
      identity.username ?? null,
      identity.profileName ?? null,
      at.lastInboundAt,
      at.now,
      t.organizationId,
      t.organizationId, waId, userId, phone, waId, userId,
      newId(), t.organizationId, phone, waId, userId, identity.parentUserId ?? null, identity.username ?? null, identity.profileName ?? null, at.lastInboundAt, at.now, at.now,
    ],
  };
}

/**
 * The contact a WhatsApp message comes from, created if there is none. Matched on WhatsApp's own
 * ids first (the `wa_id`, then the business-scoped `user_id`), then on the phone derived from the
 * wa_id: a phone library's opinion of a number is never a reason to lose a message, and a reply
 * from the wa_id Meta answered a send with lands on the contact that was written to.
 */
export async function findOrCreateContactByIdentity(
  t: TenantSql,
  identity: ContactIdentity,
  phone: string | null,
  at: { lastInboundAt: Date | null; now: Date },
): Promise<ContactRow & { created: boolean }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const steps = contactByIdentitySteps(t, identity, phone, at);
    const [row] = await t.sql.prepared<ContactRow & { created: boolean }>(`with ${steps.sql} select * from found union all select * from inserted`, steps.params);
    if (row) return row;
    // Another transaction created the contact meanwhile: find it on the next turn.
  }
  throw new Error('contact could not be found or created');
}

/**
 * The contact a client names by telephone (E.164), else email, created if there is none. The
 * unique indexes decide under concurrency: an insert that loses a race finds the winner's row.
 */
export async function upsertContactByPhoneOrEmail(
  t: TenantSql,
  key: { phone: string } | { email: string },
  name: string | null,
  now: Date,
): Promise<{ id: string; created: boolean }> {
  const column = 'phone' in key ? 'phone' : 'email';
  const value = 'phone' in key ? key.phone : key.email;
  const inserted = await t.sql.all<{ id: string }>(
    `insert into contacts (id, organization_id, ${column}, name, fields, opted_out, marketing_opted_out, created_at, updated_at)
     values (?, ?, ?, ?, '{}', false, false, ?, ?) on conflict do nothing returning id`,
    [newId(), t.organizationId, value, name, now, now],
  );
  if (inserted[0]) return { id: inserted[0].id, created: true };
  const [existing] = await t.sql.all<{ id: string }>(`select id from contacts where organization_id = ? and ${column} = ? for update`, [t.organizationId, value]);
  if (!existing) throw new Error(`contact by ${column} vanished during its upsert`);
  return { id: existing.id, created: false };
}

/**
 * Meta answered a send with this wa_id for the contact (Brazil's numbers may lose their ninth
 * digit): kept, so that the person's replies, which come from it, find this contact.
 */
export async function rememberContactWaId(t: TenantSql, contactId: string, waId: string, now: Date): Promise<void> {
  await t.sql.run(
    `update contacts c set wa_id = ?, updated_at = ?
      where c.id = ? and c.organization_id = ? and c.wa_id is distinct from ?
        and not exists (select 1 from contacts o where o.organization_id = c.organization_id and o.wa_id = ? and o.id <> c.id)`,
    [waId, now, contactId, t.organizationId, waId, waId],
  );
}

/**
 * WhatsApp says the person moved to another number (`user_changed_number`) or got another
 * business-scoped id (`user_changed_user_id`): the contact keeps its history under its new ids.
 */
export async function changeContactIdentity(
  t: TenantSql,
  contactId: string,
  change: { waId?: string | null; phone?: string | null; userId?: string | null },
  now: Date,
): Promise<void> {
  const set: string[] = [];
  const params: unknown[] = [];
  for (const [column, value] of [
    ['wa_id', change.waId],
    ['phone', change.phone],
    ['user_id', change.userId],
  ] as const) {
    if (!value) continue;
    // A row that already holds the new id (say, created by the first message from the new number) keeps it.
    set.push(`${column} = case when exists (select 1 from contacts o where o.organization_id = c.organization_id and o.${column} = ? and o.id <> c.id) then c.${column} else ? end`);
    params.push(value, value);
  }
  if (!set.length) return;
  await t.sql.run(`update contacts c set ${set.join(', ')}, updated_at = ? where c.id = ? and c.organization_id = ?`, [...params, now, contactId, t.organizationId]);
}
