import { Migration } from '@mikro-orm/migrations';

/**
 * Inbound fidelity: WhatsApp's own identity of a contact beside its phone, edits and revocations
 * of messages, items of Meta deliveries set aside with their reason, Meta's notices per channel,
 * and delivery retries spread over hours.
 */
export class Migration20261129170500_inbound_fidelity extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "contacts" add column "user_id" text null, add column "parent_user_id" text null, add column "username" text null;`);
    // Two contacts could only share a wa_id through an old bug; keep it on the most recent one.
    this.addSql(`update "contacts" c set "wa_id" = null where "wa_id" is not null and exists (
      select 1 from "contacts" d where d."organization_id" = c."organization_id" and d."wa_id" = c."wa_id" and (d."updated_at", d."id") > (c."updated_at", c."id"));`);
    this.addSql(`create unique index "contacts_wa_id_unique" on "contacts" ("organization_id", "wa_id") where "wa_id" is not null;`);
    this.addSql(`create unique index "contacts_user_id_unique" on "contacts" ("organization_id", "user_id") where "user_id" is not null;`);

    this.addSql(`alter table "messages" add column "edited_at" timestamptz null, add column "revoked_at" timestamptz null, add column "history" jsonb null;`);

    // Deliveries of one person share a lane, so the processor's lanes never wait on each other's rows.
    this.addSql(`alter table "meta_webhook_deliveries" add column "next_attempt_at" timestamptz null, add column "parked_at" timestamptz null, add column "lane" smallint not null default 0;`);
    this.addSql(`drop index if exists "meta_webhook_deliveries_pending";`);
    this.addSql(`create index "meta_webhook_deliveries_pending" on "meta_webhook_deliveries" ("id") where "processed_at" is null and "parked_at" is null;`);

    this.addSql(`create table "meta_inbound_failures" (
      "id" bigserial primary key,
      "delivery_id" bigint null,
      "organization_id" uuid null references "organizations" ("id") on delete cascade,
      "channel_id" uuid null references "channels" ("id") on delete set null,
      "phone_number_id" text null,
      "item_kind" text not null,
      "item" jsonb not null,
      "context" jsonb not null default '{}',
      "reason" text not null,
      "fingerprint" text not null,
      "state" text not null,
      "attempts" int not null default 1,
      "next_attempt_at" timestamptz null,
      "created_at" timestamptz not null,
      "updated_at" timestamptz not null,
      "resolved_at" timestamptz null);`);
    this.addSql(`create index "meta_inbound_failures_open" on "meta_inbound_failures" ("state", "id");`);
    this.addSql(`create index "meta_inbound_failures_due" on "meta_inbound_failures" ("next_attempt_at") where "state" = 'retrying';`);
    // Meta redelivers what it thinks was lost: an item already waiting is not set aside twice.
    this.addSql(`create unique index "meta_inbound_failures_open_item" on "meta_inbound_failures" ("fingerprint") where "state" <> 'replayed';`);

    this.addSql(`create table "channel_notices" (
      "id" uuid primary key,
      "organization_id" uuid not null references "organizations" ("id") on delete cascade,
      "channel_id" uuid not null references "channels" ("id") on delete cascade,
      "kind" text not null,
      "code" int null,
      "title" text null,
      "detail" text null,
      "data" jsonb not null default '{}',
      "fingerprint" text not null,
      "occurred_at" timestamptz not null,
      "created_at" timestamptz not null);`);
    this.addSql(`create index "channel_notices_channel" on "channel_notices" ("channel_id", "id");`);
    // A redelivered notice (same channel, same content, same day) is the same notice.
    this.addSql(`create unique index "channel_notices_fingerprint" on "channel_notices" ("channel_id", "fingerprint");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table "channel_notices";`);
    this.addSql(`drop table "meta_inbound_failures";`);
    this.addSql(`drop index "meta_webhook_deliveries_pending";`);
    this.addSql(`create index "meta_webhook_deliveries_pending" on "meta_webhook_deliveries" ("id") where "processed_at" is null;`);
    this.addSql(`alter table "meta_webhook_deliveries" drop column "next_attempt_at", drop column "parked_at", drop column "lane";`);
    this.addSql(`alter table "messages" drop column "edited_at", drop column "revoked_at", drop column "history";`);
    this.addSql(`drop index "contacts_user_id_unique";`);
    this.addSql(`drop index "contacts_wa_id_unique";`);
    this.addSql(`alter table "contacts" drop column "user_id", drop column "parent_user_id", drop column "username";`);
  }
}
