import { Migration } from '@mikro-orm/migrations';

export class Migration20261122001112_broadcasts extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "channel_send_budgets" ("channel_id" uuid not null, "tokens" double precision not null, "refilled_at" timestamptz not null, constraint "channel_send_budgets_pkey" primary key ("channel_id"));`);

    this.addSql(`create table "broadcasts" ("id" uuid not null, "organization_id" uuid not null, "channel_id" uuid not null, "template" jsonb not null, "params" jsonb not null, "status" text not null default 'running', "total" int not null default 0, "created_by" text null, "failure_reason" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "finished_at" timestamptz null, constraint "broadcasts_pkey" primary key ("id"));`);
    this.addSql(`create index "broadcasts_organization_id_index" on "broadcasts" ("organization_id");`);

    this.addSql(`create table "broadcast_recipients" ("id" bigserial primary key, "organization_id" uuid not null, "broadcast_id" uuid not null, "phone" text not null, "params" jsonb not null default '{}', "status" text not null, "status_rank" smallint not null default 0, "wamid" text null, "error" jsonb null, "skip_reason" text null, "attempts" int not null default 0, "next_attempt_at" timestamptz null, "updated_at" timestamptz not null);`);
    this.addSql(`create index "broadcast_recipients_broadcast_status" on "broadcast_recipients" ("broadcast_id", "status");`);
    this.addSql(`create index "broadcast_recipients_wamid" on "broadcast_recipients" ("wamid") where "wamid" is not null;`);

    this.addSql(`alter table "broadcasts" add constraint "broadcasts_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "broadcasts" add constraint "broadcasts_channel_id_foreign" foreign key ("channel_id") references "channels" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "broadcast_recipients" add constraint "broadcast_recipients_broadcast_id_foreign" foreign key ("broadcast_id") references "broadcasts" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "broadcast_recipients" drop constraint "broadcast_recipients_broadcast_id_foreign";`);

    this.addSql(`drop table if exists "channel_send_budgets" cascade;`);

    this.addSql(`drop table if exists "broadcasts" cascade;`);

    this.addSql(`drop table if exists "broadcast_recipients" cascade;`);
  }

}
