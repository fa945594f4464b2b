import { Migration } from '@mikro-orm/migrations';

/**
 * Partner webhooks: subscriptions, one delivery per (subscription, event) and every attempt of it.
 *
 * Events become deliveries by a fan-out that takes undispatched events (`dispatched_at is null`)
 * and writes their deliveries and the mark in one transaction, so an event committed is delivered
 * whatever process dies when. Events written before this migration are history no subscription
 * asked for, so they count as dispatched. `seq` orders an organization's events for partners.
 */
export class Migration20261129190500_partner_webhooks extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "domain_events" add column "seq" bigint generated always as identity, add column "dispatched_at" timestamptz null;`);
    this.addSql(`update "domain_events" set "dispatched_at" = "created_at";`);
    this.addSql(`create index "domain_events_undispatched" on "domain_events" ("seq") where "dispatched_at" is null;`);
    this.addSql(`create index "domain_events_organization_created" on "domain_events" ("organization_id", "created_at");`);

    this.addSql(`create table "webhook_subscriptions" (
      "id" uuid not null,
      "organization_id" uuid not null references "organizations" ("id") on update cascade on delete cascade,
      "installation_id" uuid null references "installations" ("id") on update cascade on delete cascade,
      "created_by" uuid null,
      "url" text not null,
      "events" text[] not null,
      "touchpoint" text null,
      "description" text null,
      "status" text not null default 'active' check ("status" in ('active', 'disabled')),
      "secret_ciphertext" text not null,
      "previous_secret_ciphertext" text null,
      "previous_secret_expires_at" timestamptz null,
      "failing_since" timestamptz null,
      "disabled_reason" text null,
      "disabled_at" timestamptz null,
      "created_at" timestamptz not null,
      "updated_at" timestamptz not null,
      constraint "webhook_subscriptions_pkey" primary key ("id"));`);
    this.addSql(`create index "webhook_subscriptions_organization" on "webhook_subscriptions" ("organization_id", "id");`);

    this.addSql(`create table "webhook_deliveries" (
      "id" uuid not null,
      "organization_id" uuid not null references "organizations" ("id") on update cascade on delete cascade,
      "subscription_id" uuid not null references "webhook_subscriptions" ("id") on delete cascade,
      "event_id" uuid not null references "domain_events" ("id") on delete cascade,
      "event_type" text not null,
      "event_created_at" timestamptz not null,
      "status" text not null default 'pending' check ("status" in ('pending', 'succeeded', 'failed')),
      "lane" text not null default 'first' check ("lane" in ('first', 'retry')),
      "trigger" text not null default 'event' check ("trigger" in ('event', 'manual', 'replay')),
      "attempts" int not null default 0,
      "next_attempt_at" timestamptz null,
      "leased_until" timestamptz null,
      "last_attempt_at" timestamptz null,
      "last_status_code" int null,
      "last_error" text null,
      "created_at" timestamptz not null,
      constraint "webhook_deliveries_pkey" primary key ("id"),
      constraint "webhook_deliveries_event_unique" unique ("subscription_id", "event_id"));`);
    this.addSql(`create index "webhook_deliveries_due" on "webhook_deliveries" ("subscription_id", "lane", "next_attempt_at") where "status" = 'pending';`);
    this.addSql(`create index "webhook_deliveries_log" on "webhook_deliveries" ("subscription_id", "event_created_at", "id");`);
    this.addSql(`create index "webhook_deliveries_backlog" on "webhook_deliveries" ("organization_id", "event_created_at") where "status" = 'pending';`);
    this.addSql(`create index "webhook_deliveries_event" on "webhook_deliveries" ("event_id");`);

    this.addSql(`create table "webhook_attempts" (
      "id" bigint generated always as identity,
      "delivery_id" uuid not null references "webhook_deliveries" ("id") on delete cascade,
      "organization_id" uuid not null,
      "attempted_at" timestamptz not null,
      "trigger" text not null,
      "succeeded" boolean not null,
      "status_code" int null,
      "latency_ms" int not null,
      "response_excerpt" text null,
      "error" text null,
      constraint "webhook_attempts_pkey" primary key ("id"));`);
    this.addSql(`create index "webhook_attempts_delivery" on "webhook_attempts" ("delivery_id", "id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "webhook_attempts";`);
    this.addSql(`drop table if exists "webhook_deliveries";`);
    this.addSql(`drop table if exists "webhook_subscriptions";`);
    this.addSql(`drop index if exists "domain_events_organization_created";`);
    this.addSql(`drop index if exists "domain_events_undispatched";`);
    this.addSql(`alter table "domain_events" drop column "dispatched_at", drop column "seq";`);
  }

}
