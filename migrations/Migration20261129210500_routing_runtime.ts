import { Migration } from '@mikro-orm/migrations';

/**
 * The routing runtime (docs/routing.md, "Trees and chatbots at runtime"): a conversation's
 * routing session (the decision tree or chatbot that owns it now), the contact messages of such
 * conversations waiting to be handed to it (written in the transaction that stored the message,
 * by a trigger on its `message.create` event, as the assistant's pending turns are), the data a
 * tree saves on the conversation, the tree steps already done (so a retried activity sends or
 * creates nothing twice), and each chatbot connector's signing secret (sealed).
 */
export class Migration20261129210500_routing_runtime extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "conversations" add column "routing_data" jsonb not null default '{}';`);

    this.addSql(`create table "routing_sessions" (
  "id" uuid primary key,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "conversation_id" uuid not null,
  "channel_id" uuid not null,
  "kind" text not null check ("kind" in ('tree', 'chatbot')),
  "object_id" text not null,
  "version_id" uuid not null,
  "workflow_id" text null,
  "callback_hash" text null,
  "callback_token_ciphertext" text null,
  "state" text not null default 'active' check ("state" in ('active', 'ended')),
  "ended_reason" text null,
  "created_at" timestamptz not null,
  "updated_at" timestamptz not null
);`);
    this.addSql(`create unique index "routing_sessions_active" on "routing_sessions" ("conversation_id") where "state" = 'active';`);
    this.addSql(`create unique index "routing_sessions_callback" on "routing_sessions" ("callback_hash") where "callback_hash" is not null;`);
    this.addSql(`create index "routing_sessions_organization" on "routing_sessions" ("organization_id", "conversation_id");`);

    this.addSql(`create table "routing_pending" (
  "event_id" uuid primary key,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "session_id" uuid not null references "routing_sessions" ("id") on delete cascade,
  "conversation_id" uuid not null,
  "message_id" uuid not null,
  "created_at" timestamptz not null
);`);
    this.addSql(`create index "routing_pending_order" on "routing_pending" ("created_at", "event_id");`);

    this.addSql(`create table "routing_steps" (
  "id" text primary key,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "conversation_id" uuid not null,
  "result" jsonb not null,
  "created_at" timestamptz not null
);`);
    this.addSql(`create index "routing_steps_conversation" on "routing_steps" ("organization_id", "conversation_id");`);

    this.addSql(`create table "routing_chatbot_secrets" (
  "id" uuid primary key,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "chatbot_id" text not null,
  "secret_ciphertext" text not null,
  "created_at" timestamptz not null,
  constraint "routing_chatbot_secrets_unique" unique ("organization_id", "chatbot_id")
);`);

    this.addSql(`create function "routing_observe_events"() returns trigger language plpgsql as $$
declare
  n int;
begin
  -- A contact wrote in a conversation a decision tree or chatbot owns: hand the message to it.
  insert into "routing_pending" ("event_id", "organization_id", "session_id", "conversation_id", "message_id", "created_at")
  select e."id", e."organization_id", s."id", s."conversation_id", (e."data"->'message'->>'id')::uuid, e."created_at"
  from inserted e
  join "routing_sessions" s on s."conversation_id" = (e."data"->'message'->>'conversationId')::uuid
    and s."organization_id" = e."organization_id" and s."state" = 'active'
  where e."type" = 'message.create.contact.chat.contact'
  on conflict do nothing;
  get diagnostics n = row_count;
  if n > 0 then
    perform pg_notify('routing', '');
  end if;
  return null;
end
$$;`);
    this.addSql(`create trigger "domain_events_routing" after insert on "domain_events"
  referencing new table as inserted for each statement execute function "routing_observe_events"();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger "domain_events_routing" on "domain_events";`);
    this.addSql(`drop function "routing_observe_events"();`);
    this.addSql(`drop table "routing_chatbot_secrets";`);
    this.addSql(`drop table "routing_steps";`);
    this.addSql(`drop table "routing_pending";`);
    this.addSql(`drop table "routing_sessions";`);
    this.addSql(`alter table "conversations" drop column "routing_data";`);
  }

}
