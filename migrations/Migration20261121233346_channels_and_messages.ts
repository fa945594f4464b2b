import { Migration } from '@mikro-orm/migrations';

export class Migration20261121233346_channels_and_messages extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "message_status_events" ("id" bigserial primary key, "organization_id" uuid not null, "wamid" text not null, "status" text not null, "occurred_at" timestamptz not null, "recipient_id" text null, "biz_opaque_callback_data" text null, "errors" jsonb null, "applied_at" timestamptz null);`);
    this.addSql(`create index "message_status_events_unapplied" on "message_status_events" ("wamid") where "applied_at" is null;`);
    this.addSql(`alter table "message_status_events" add constraint "message_status_events_unique" unique ("wamid", "status");`);

    this.addSql(`create table "meta_webhook_deliveries" ("id" bigserial primary key, "received_at" timestamptz not null, "payload" jsonb not null, "processed_at" timestamptz null, "attempts" int not null default 0, "last_error" text null);`);
    this.addSql(`create index "meta_webhook_deliveries_pending" on "meta_webhook_deliveries" ("id") where "processed_at" is null;`);

    this.addSql(`create table "domain_events" ("id" uuid not null, "organization_id" uuid not null, "type" text not null, "data" jsonb not null, "created_at" timestamptz not null, constraint "domain_events_pkey" primary key ("id"));`);
    this.addSql(`create index "domain_events_organization_id_index" on "domain_events" ("organization_id");`);

    this.addSql(`create table "contacts" ("id" uuid not null, "organization_id" uuid not null, "phone" text null, "email" text null, "name" text null, "wa_id" text null, "fields" jsonb not null default '{}', "opted_out" boolean not null default false, "opted_out_at" timestamptz null, "last_inbound_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "contacts_pkey" primary key ("id"));`);
    this.addSql(`create index "contacts_organization_id_index" on "contacts" ("organization_id");`);
    this.addSql(`create unique index "contacts_phone_unique" on "contacts" ("organization_id", "phone") where "phone" is not null;`);
    this.addSql(`create unique index "contacts_email_unique" on "contacts" ("organization_id", "email") where "email" is not null;`);

    this.addSql(`create table "channels" ("id" uuid not null, "organization_id" uuid not null, "label" text not null, "waba_id" text not null, "phone_number_id" text not null, "display_phone_number" text not null, "verified_name" text not null, "quality_rating" text null, "business_token_ciphertext" text not null, "status" text not null default 'active', "messages_per_second" int not null default 80, "created_at" timestamptz not null, "updated_at" timestamptz not null, "deleted_at" timestamptz null, constraint "channels_pkey" primary key ("id"));`);
    this.addSql(`create index "channels_organization_id_index" on "channels" ("organization_id");`);
    this.addSql(`create unique index "channels_phone_number_active_unique" on "channels" ("phone_number_id") where "status" = 'active';`);

    this.addSql(`create table "conversations" ("id" uuid not null, "organization_id" uuid not null, "contact_id" uuid not null, "channel_id" uuid null, "status" text not null default 'active', "assignee" uuid null, "request_id" text null, "last_inbound_at" timestamptz null, "last_message_at" timestamptz null, "last_message_preview" text null, "unread_count" int not null default 0, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "conversations_pkey" primary key ("id"));`);
    this.addSql(`create index "conversations_organization_id_index" on "conversations" ("organization_id");`);
    this.addSql(`create index "conversations_contact_id_index" on "conversations" ("contact_id");`);
    this.addSql(`create unique index "conversations_open_unique" on "conversations" ("organization_id", "contact_id") where "status" <> 'closed';`);
    this.addSql(`create index "conversations_organization_id_status_id_index" on "conversations" ("organization_id", "status", "id");`);

    this.addSql(`create table "messages" ("id" uuid not null, "organization_id" uuid not null, "conversation_id" uuid not null, "channel_id" uuid null, "direction" text not null, "role" text not null, "author" uuid null, "ai" boolean not null default false, "type" text not null, "content" jsonb not null, "wamid" text null, "status" text not null, "status_rank" smallint not null default 0, "error" jsonb null, "status_updated_at" timestamptz not null, "created_at" timestamptz not null, constraint "messages_pkey" primary key ("id"));`);
    this.addSql(`create index "messages_organization_id_index" on "messages" ("organization_id");`);
    this.addSql(`create unique index "messages_wamid_unique" on "messages" ("wamid") where "wamid" is not null;`);
    this.addSql(`create index "messages_conversation_id_id_index" on "messages" ("conversation_id", "id");`);

    this.addSql(`create table "templates" ("id" uuid not null, "organization_id" uuid not null, "channel_id" uuid not null, "meta_template_id" text not null, "name" text not null, "language" text not null, "status" text not null, "category" text not null, "parameter_format" text not null, "components" jsonb not null, "synced_at" timestamptz not null, constraint "templates_pkey" primary key ("id"));`);
    this.addSql(`create index "templates_organization_id_index" on "templates" ("organization_id");`);
    this.addSql(`alter table "templates" add constraint "templates_channel_name_language_unique" unique ("channel_id", "name", "language");`);

    this.addSql(`alter table "domain_events" add constraint "domain_events_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "contacts" add constraint "contacts_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "channels" add constraint "channels_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "conversations" add constraint "conversations_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "conversations" add constraint "conversations_contact_id_foreign" foreign key ("contact_id") references "contacts" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "conversations" add constraint "conversations_channel_id_foreign" foreign key ("channel_id") references "channels" ("id") on update cascade on delete set null;`);

    this.addSql(`alter table "messages" add constraint "messages_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "messages" add constraint "messages_conversation_id_foreign" foreign key ("conversation_id") references "conversations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "messages" add constraint "messages_channel_id_foreign" foreign key ("channel_id") references "channels" ("id") on update cascade on delete set null;`);

    this.addSql(`alter table "templates" add constraint "templates_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "templates" add constraint "templates_channel_id_foreign" foreign key ("channel_id") references "channels" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "conversations" drop constraint "conversations_contact_id_foreign";`);

    this.addSql(`alter table "conversations" drop constraint "conversations_channel_id_foreign";`);

    this.addSql(`alter table "messages" drop constraint "messages_channel_id_foreign";`);

    this.addSql(`alter table "templates" drop constraint "templates_channel_id_foreign";`);

    this.addSql(`alter table "messages" drop constraint "messages_conversation_id_foreign";`);

    this.addSql(`drop table if exists "message_status_events" cascade;`);

    this.addSql(`drop table if exists "meta_webhook_deliveries" cascade;`);

    this.addSql(`drop table if exists "domain_events" cascade;`);

    this.addSql(`drop table if exists "contacts" cascade;`);

    this.addSql(`drop table if exists "channels" cascade;`);

    this.addSql(`drop table if exists "conversations" cascade;`);

    this.addSql(`drop table if exists "messages" cascade;`);

    this.addSql(`drop table if exists "templates" cascade;`);
  }

}
