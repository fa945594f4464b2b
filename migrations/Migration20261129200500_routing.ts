import { Migration } from '@mikro-orm/migrations';

/**
 * Inbound routing configuration (docs/routing.md): one draft document per organization, the
 * versions it was applied as (immutable, numbered per organization), scheduled applies, and the
 * queues' operational state (who waits where, and how long past waits took), which is not
 * versioned. Queue ids live inside the documents, so they are plain uuids here, not foreign keys.
 */
export class Migration20261129200500_routing extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "routing_drafts" (
  "organization_id" uuid primary key references "organizations" ("id") on delete cascade,
  "document" jsonb not null,
  "updated_at" timestamptz not null
);`);

    this.addSql(`create table "routing_versions" (
  "id" uuid primary key,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "number" int not null,
  "document" jsonb not null,
  "source" text not null check ("source" in ('apply', 'scheduled', 'restore')),
  "restored_from" int null,
  "created_by" text null,
  "created_at" timestamptz not null,
  constraint "routing_versions_number_unique" unique ("organization_id", "number")
);`);

    this.addSql(`create table "routing_schedules" (
  "id" uuid primary key,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "document" jsonb not null,
  "at" timestamptz not null,
  "status" text not null default 'pending' check ("status" in ('pending', 'applied')),
  "version_id" uuid null references "routing_versions" ("id") on delete set null,
  "created_by" text null,
  "created_at" timestamptz not null
);`);
    this.addSql(`create index "routing_schedules_due" on "routing_schedules" ("at") where "status" = 'pending';`);
    this.addSql(`create index "routing_schedules_organization" on "routing_schedules" ("organization_id", "at");`);

    this.addSql(`create table "queue_waiting" (
  "id" uuid primary key,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "queue_id" uuid not null,
  "conversation_id" uuid not null references "conversations" ("id") on delete cascade,
  "enqueued_at" timestamptz not null,
  constraint "queue_waiting_conversation_unique" unique ("conversation_id")
);`);
    this.addSql(`create index "queue_waiting_queue" on "queue_waiting" ("organization_id", "queue_id", "id");`);

    this.addSql(`create table "queue_waits" (
  "id" uuid primary key,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "queue_id" uuid not null,
  "conversation_id" uuid null references "conversations" ("id") on delete set null,
  "enqueued_at" timestamptz not null,
  "taken_at" timestamptz not null,
  "wait_ms" bigint not null,
  "taken_by" uuid null
);`);
    this.addSql(`create index "queue_waits_recent" on "queue_waits" ("organization_id", "queue_id", "taken_at" desc);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "queue_waits";`);
    this.addSql(`drop table if exists "queue_waiting";`);
    this.addSql(`drop table if exists "routing_schedules";`);
    this.addSql(`drop table if exists "routing_versions";`);
    this.addSql(`drop table if exists "routing_drafts";`);
  }
}
