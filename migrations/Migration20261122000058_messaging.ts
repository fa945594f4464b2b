import { Migration } from '@mikro-orm/migrations';

export class Migration20261122000058_messaging extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "consent_events" ("id" uuid not null, "organization_id" uuid not null, "contact_id" uuid not null, "change" text not null, "cause" text not null, "detail" text null, "created_at" timestamptz not null, constraint "consent_events_pkey" primary key ("id"));`);
    this.addSql(`create index "consent_events_organization_id_index" on "consent_events" ("organization_id");`);
    this.addSql(`create index "consent_events_contact_id_id_index" on "consent_events" ("contact_id", "id");`);

    this.addSql(`alter table "consent_events" add constraint "consent_events_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "consent_events" add constraint "consent_events_contact_id_foreign" foreign key ("contact_id") references "contacts" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "organizations" add column "settings" jsonb not null default '{}';`);

    this.addSql(`alter table "contacts" add column "marketing_opted_out" boolean not null default false;`);

    this.addSql(`alter table "messages" add column "send_state" text null, add column "send_attempts" int not null default 0, add column "next_attempt_at" timestamptz null, add column "claimed_at" timestamptz null;`);
    this.addSql(`create index "messages_outbox" on "messages" ("conversation_id", "id") where "send_state" in ('pending', 'sending');`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "consent_events" cascade;`);

    this.addSql(`alter table "contacts" drop column "marketing_opted_out";`);

    this.addSql(`drop index "messages_outbox";`);
    this.addSql(`alter table "messages" drop column "send_state", drop column "send_attempts", drop column "next_attempt_at", drop column "claimed_at";`);

    this.addSql(`alter table "organizations" drop column "settings";`);
  }

}
