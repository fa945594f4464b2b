import { Migration } from '@mikro-orm/migrations';

export class Migration20261121232327_initial extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "idempotency_keys" ("id" uuid not null, "scope" text not null, "key" text not null, "request_hash" text not null, "state" text not null default 'in_progress', "response_status" int null, "response_body" jsonb null, "created_at" timestamptz not null, "expires_at" timestamptz not null, constraint "idempotency_keys_pkey" primary key ("id"));`);
    this.addSql(`create index "idempotency_keys_expires_at_index" on "idempotency_keys" ("expires_at");`);
    this.addSql(`alter table "idempotency_keys" add constraint "idempotency_keys_scope_key_unique" unique ("scope", "key");`);

    this.addSql(`create table "organizations" ("id" uuid not null, "name" text not null, "tags" text[] not null default '{}', "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "organizations_pkey" primary key ("id"));`);

    this.addSql(`create table "apps" ("id" uuid not null, "organization_id" uuid not null, "name" text not null, "description" text not null, "tags" text[] not null, "scopes" text[] not null, "webhook_url" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "apps_pkey" primary key ("id"));`);
    this.addSql(`create index "apps_organization_id_index" on "apps" ("organization_id");`);

    this.addSql(`create table "installations" ("id" uuid not null, "organization_id" uuid not null, "app_id" uuid not null, "scopes" text[] not null, "status" text not null default 'active', "installed_by" uuid null, "created_at" timestamptz not null, "uninstalled_at" timestamptz null, constraint "installations_pkey" primary key ("id"));`);
    this.addSql(`create index "installations_organization_id_index" on "installations" ("organization_id");`);
    this.addSql(`create unique index "installations_active_unique" on "installations" ("organization_id", "app_id") where "status" = 'active';`);

    this.addSql(`create table "token_families" ("id" uuid not null, "organization_id" uuid not null, "subject_kind" text not null, "subject_id" uuid not null, "created_at" timestamptz not null, "revoked_at" timestamptz null, "revoked_reason" text null, constraint "token_families_pkey" primary key ("id"));`);
    this.addSql(`create index "token_families_organization_id_index" on "token_families" ("organization_id");`);
    this.addSql(`create index "token_families_subject_kind_subject_id_index" on "token_families" ("subject_kind", "subject_id");`);

    this.addSql(`create table "refresh_tokens" ("id" uuid not null, "organization_id" uuid not null, "family_id" uuid not null, "token_hash" text not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "retired_at" timestamptz null, constraint "refresh_tokens_pkey" primary key ("id"));`);
    this.addSql(`create index "refresh_tokens_organization_id_index" on "refresh_tokens" ("organization_id");`);
    this.addSql(`create index "refresh_tokens_family_id_index" on "refresh_tokens" ("family_id");`);
    this.addSql(`alter table "refresh_tokens" add constraint "refresh_tokens_hash_unique" unique ("token_hash");`);

    this.addSql(`create table "users" ("id" uuid not null, "organization_id" uuid not null, "email" text not null, "name" text not null, "role" text not null, "password_hash" text not null, "disabled_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "users_pkey" primary key ("id"));`);
    this.addSql(`create index "users_organization_id_index" on "users" ("organization_id");`);
    this.addSql(`alter table "users" add constraint "users_email_unique" unique ("email");`);

    this.addSql(`alter table "apps" add constraint "apps_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "installations" add constraint "installations_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "installations" add constraint "installations_app_id_foreign" foreign key ("app_id") references "apps" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "token_families" add constraint "token_families_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "refresh_tokens" add constraint "refresh_tokens_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "refresh_tokens" add constraint "refresh_tokens_family_id_foreign" foreign key ("family_id") references "token_families" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "users" add constraint "users_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "apps" drop constraint "apps_organization_id_foreign";`);

    this.addSql(`alter table "installations" drop constraint "installations_organization_id_foreign";`);

    this.addSql(`alter table "token_families" drop constraint "token_families_organization_id_foreign";`);

    this.addSql(`alter table "refresh_tokens" drop constraint "refresh_tokens_organization_id_foreign";`);

    this.addSql(`alter table "users" drop constraint "users_organization_id_foreign";`);

    this.addSql(`alter table "installations" drop constraint "installations_app_id_foreign";`);

    this.addSql(`alter table "refresh_tokens" drop constraint "refresh_tokens_family_id_foreign";`);

    this.addSql(`drop table if exists "idempotency_keys" cascade;`);

    this.addSql(`drop table if exists "organizations" cascade;`);

    this.addSql(`drop table if exists "apps" cascade;`);

    this.addSql(`drop table if exists "installations" cascade;`);

    this.addSql(`drop table if exists "token_families" cascade;`);

    this.addSql(`drop table if exists "refresh_tokens" cascade;`);

    this.addSql(`drop table if exists "users" cascade;`);
  }

}
