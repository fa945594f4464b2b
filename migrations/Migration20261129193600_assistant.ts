import { Migration } from '@mikro-orm/migrations';

/** The trigger function as this migration made it (a later one replaces it and restores it on the way down). */
export const OBSERVE_EVENTS_V1 = `create or replace function "assistant_observe_events"() returns trigger language plpgsql as $$
declare
  turns int;
begin
  -- A contact wrote on a channel whose assistant is on: a turn is due (the worker signals it).
  insert into "assistant_pending" ("event_id", "organization_id", "conversation_id", "channel_id", "message_id", "created_at")
  select e."id", e."organization_id", (e."data"->'message'->>'conversationId')::uuid, s."channel_id", (e."data"->'message'->>'id')::uuid, e."created_at"
  from inserted e
  join "assistant_settings" s on s."channel_id" = (e."data"->'message'->>'channelId')::uuid and s."organization_id" = e."organization_id" and s."mode" <> 'off'
  where e."type" = 'message.create.contact.chat.contact'
  on conflict do nothing;
  get diagnostics turns = row_count;
  if turns > 0 then
    -- Suggestions written before this message no longer answer the conversation.
    update "assistant_suggestions" g set "state" = 'stale', "updated_at" = now()
    from inserted e
    where e."type" = 'message.create.contact.chat.contact' and g."state" = 'open'
      and g."conversation_id" = (e."data"->'message'->>'conversationId')::uuid and g."organization_id" = e."organization_id";
    perform pg_notify('assistant', '');
  end if;
  -- A person took the conversation over: an agent wrote, or someone was assigned. (In draft mode
  -- agents send every message, so there nothing is taken over.)
  insert into "assistant_conversations" ("conversation_id", "organization_id", "state", "reason", "updated_at")
  select distinct on (t."conversation_id") t."conversation_id", t."organization_id", 'paused', t."reason", now()
  from (
    select (e."data"->'message'->>'conversationId')::uuid as "conversation_id", (e."data"->'message'->>'channelId')::uuid as "channel_id",
           e."organization_id", 'agent_message' as "reason", e."seq"
    from inserted e where e."type" = 'message.create.contact.chat.agent'
    union all
    select (e."data"->'conversation'->>'id')::uuid, (e."data"->'conversation'->>'channelId')::uuid, e."organization_id", 'assigned', e."seq"
    from inserted e where e."type" = 'conversation.update' and e."data"->'changes' ? 'assigneeId' and e."data"->'changes'->>'assigneeId' is not null
  ) t
  join "assistant_settings" s on s."channel_id" = t."channel_id" and s."organization_id" = t."organization_id" and s."mode" = 'auto'
  order by t."conversation_id", t."seq" desc
  on conflict ("conversation_id") do update set "state" = 'paused', "reason" = excluded."reason", "updated_at" = excluded."updated_at";
  -- A resolve closes a chapter: the assistant reads only messages stored after it (ids are
  -- time-ordered; a message's created_at is Meta's send time, which may be earlier), and one that had
  -- handed over or been paused starts afresh unless someone is still assigned.
  insert into "assistant_conversations" ("conversation_id", "organization_id", "state", "reason", "history_after", "handoff_sent_at", "updated_at")
  select distinct on ((e."data"->'conversation'->>'id')::uuid) (e."data"->'conversation'->>'id')::uuid, e."organization_id",
         case when e."data"->'conversation'->'assignee' is null or jsonb_typeof(e."data"->'conversation'->'assignee') = 'null' then 'active' else 'paused' end,
         case when e."data"->'conversation'->'assignee' is null or jsonb_typeof(e."data"->'conversation'->'assignee') = 'null' then null else 'assigned' end,
         e."id", null, now()
  from inserted e
  join "assistant_settings" s on s."channel_id" = (e."data"->'conversation'->>'channelId')::uuid and s."organization_id" = e."organization_id"
  where e."type" = 'conversation.update' and e."data"->'changes'->>'status' = 'resolved'
  order by (e."data"->'conversation'->>'id')::uuid, e."seq" desc
  on conflict ("conversation_id") do update set "state" = excluded."state", "reason" = excluded."reason", "history_after" = excluded."history_after",
    "handoff_sent_at" = null, "updated_at" = excluded."updated_at";
  return null;
end
$$;`;

/**
 * AI replies (docs/assistant.md). The trigger on `domain_events` is how the assistant hears about
 * the conversation: every path that stores a contact's message, an agent's message or an
 * assignment also records its event in the same transaction, so one statement-level trigger
 * turns those events into a pending turn or a takeover, durably and exactly when the change
 * commits, with no call in the inbound hot path. It only acts for channels whose assistant is on.
 */
export class Migration20261129193600_assistant extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "assistant_settings" (
  "channel_id" uuid primary key references "channels" ("id") on delete cascade,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "mode" text not null check ("mode" in ('auto', 'draft', 'off')),
  "model" text not null,
  "instructions" text not null,
  "handoff_message" text null,
  "language" text null,
  "reply_length" text not null default 'short',
  "quiet_time_ms" int not null default 3000,
  "knowledge_top_k" int not null default 3,
  "created_at" timestamptz not null,
  "updated_at" timestamptz not null
);`);
    this.addSql(`create index "assistant_settings_organization" on "assistant_settings" ("organization_id");`);

    this.addSql(`create table "assistant_knowledge" (
  "id" uuid primary key,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "channel_id" uuid not null references "channels" ("id") on delete cascade,
  "title" text not null,
  "text" text not null,
  "search" tsvector generated always as (setweight(to_tsvector('simple', "title"), 'A') || setweight(to_tsvector('simple', "text"), 'B')) stored,
  "created_at" timestamptz not null,
  "updated_at" timestamptz not null
);`);
    this.addSql(`create index "assistant_knowledge_channel" on "assistant_knowledge" ("channel_id", "id");`);
    this.addSql(`create index "assistant_knowledge_search" on "assistant_knowledge" using gin ("search");`);

    this.addSql(`create table "assistant_organizations" (
  "organization_id" uuid primary key references "organizations" ("id") on delete cascade,
  "monthly_token_budget" bigint null,
  "updated_at" timestamptz not null
);`);
    this.addSql(`create table "assistant_usage" (
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "month" date not null,
  "tokens" bigint not null default 0,
  primary key ("organization_id", "month")
);`);

    this.addSql(`create table "assistant_conversations" (
  "conversation_id" uuid primary key references "conversations" ("id") on delete cascade,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "state" text not null check ("state" in ('active', 'paused', 'handed_over')),
  "reason" text null,
  "tokens" bigint not null default 0,
  "handoff_sent_at" timestamptz null,
  "history_after" uuid null,
  "updated_at" timestamptz not null
);`);
    this.addSql(`create index "assistant_conversations_organization" on "assistant_conversations" ("organization_id");`);

    this.addSql(`create table "assistant_pending" (
  "event_id" uuid primary key,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "conversation_id" uuid not null references "conversations" ("id") on delete cascade,
  "channel_id" uuid not null,
  "message_id" uuid not null,
  "created_at" timestamptz not null
);`);

    this.addSql(`create table "assistant_turns" (
  "id" text primary key,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "conversation_id" uuid not null references "conversations" ("id") on delete cascade,
  "outcome" text not null,
  "reason" text null,
  "message_id" uuid null,
  "prompt_tokens" int not null default 0,
  "completion_tokens" int not null default 0,
  "created_at" timestamptz not null
);`);
    this.addSql(`create index "assistant_turns_conversation" on "assistant_turns" ("conversation_id", "created_at");`);

    this.addSql(`create table "assistant_suggestions" (
  "id" uuid primary key,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "conversation_id" uuid not null references "conversations" ("id") on delete cascade,
  "turn_id" text not null unique,
  "text" text not null,
  "reason" text null,
  "state" text not null check ("state" in ('open', 'stale', 'sent', 'discarded')),
  "message_id" uuid null,
  "created_at" timestamptz not null,
  "updated_at" timestamptz not null
);`);
    this.addSql(`create index "assistant_suggestions_conversation" on "assistant_suggestions" ("conversation_id", "id");`);
    this.addSql(`create index "assistant_suggestions_open" on "assistant_suggestions" ("conversation_id") where "state" = 'open';`);

    this.addSql(OBSERVE_EVENTS_V1);
    this.addSql(`create trigger "domain_events_assistant" after insert on "domain_events"
  referencing new table as inserted for each statement execute function "assistant_observe_events"();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger "domain_events_assistant" on "domain_events";`);
    this.addSql(`drop function "assistant_observe_events"();`);
    for (const table of ['assistant_suggestions', 'assistant_turns', 'assistant_pending', 'assistant_conversations', 'assistant_usage', 'assistant_organizations', 'assistant_knowledge', 'assistant_settings']) {
      this.addSql(`drop table "${table}";`);
    }
  }

}
