import { Migration } from '@mikro-orm/migrations';

/**
 * The routing runtime (docs/routing.md, "Runtime").
 *
 * - `routing_channels`: which channels a live version (or a pending scheduled apply) routes, kept
 *   by triggers on `routing_versions` and `routing_schedules`, so the inbound trigger can tell in
 *   one index probe whether a conversation needs routing at all. Schedules are included so that a
 *   due schedule the poller has not promoted yet still routes; the runtime promotes it first, and
 *   a channel the live version turns out not to route is simply skipped.
 * - `routing_inbound`: a new or reopened conversation to route, written by a statement-level
 *   trigger on `domain_events` in the transaction that stored the contact's message, so routing
 *   happens exactly once even if the worker dies (the runner deletes the row in the transaction
 *   that routes).
 * - `routing_conversations`: where each conversation was routed, the path taken and, for a
 *   terminate, its cause, answered flag, missed-chat queue and auto-response outcome.
 *
 * The same trigger keeps the AI assistant off conversations routing sent elsewhere: it fires
 * after `domain_events_assistant` (triggers of one event fire in name order) and deletes the
 * pending turns that trigger wrote for conversations waiting to be routed or routed somewhere
 * other than the assistant. Routing to the assistant writes the pending turn itself.
 */
export class Migration20261129211000_routing_inbound extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "routing_channels" (
  "channel_id" uuid not null,
  "source_id" uuid not null,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "source" text not null check ("source" in ('version', 'schedule')),
  primary key ("channel_id", "source_id")
);`);
    this.addSql(`create index "routing_channels_organization" on "routing_channels" ("organization_id", "source");`);

    this.addSql(`create table "routing_inbound" (
  "conversation_id" uuid primary key references "conversations" ("id") on delete cascade,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "channel_id" uuid not null,
  "reason" text not null check ("reason" in ('created', 'reopened')),
  "message_id" uuid null,
  "message_event_id" uuid null,
  "attempts" int not null default 0,
  "next_attempt_at" timestamptz not null,
  -- The event's time (the inbound processor's clock): business hours are evaluated at it.
  "created_at" timestamptz not null
);`);
    this.addSql(`create index "routing_inbound_due" on "routing_inbound" ("next_attempt_at");`);

    this.addSql(`create table "routing_conversations" (
  "conversation_id" uuid primary key references "conversations" ("id") on delete cascade,
  "organization_id" uuid not null references "organizations" ("id") on delete cascade,
  "channel_id" uuid not null,
  "version_id" uuid null,
  "version_number" int null,
  "reason" text not null,
  "destination" jsonb not null,
  "path" jsonb not null,
  "cause" text null,
  "answered" boolean null,
  "missed_chat_queue_id" uuid null,
  "auto_response" jsonb null,
  "error" text null,
  "routed_at" timestamptz not null
);`);
    this.addSql(`create index "routing_conversations_missed" on "routing_conversations" ("organization_id", "missed_chat_queue_id", "routed_at") where "missed_chat_queue_id" is not null;`);

    this.addSql(`create function "routing_channels_of_version"() returns trigger language plpgsql as $$
begin
  -- Versions only ever get newer: the one inserted is the live one.
  delete from "routing_channels" where "organization_id" = new."organization_id" and "source" = 'version';
  insert into "routing_channels" ("channel_id", "source_id", "organization_id", "source")
  select distinct (c->>'channelId')::uuid, new."id", new."organization_id", 'version'
  from jsonb_array_elements(coalesce(new."document"->'channels', '[]'::jsonb)) c
  on conflict do nothing;
  return null;
end
$$;`);
    this.addSql(`create trigger "routing_versions_channels" after insert on "routing_versions" for each row execute function "routing_channels_of_version"();`);

    this.addSql(`create function "routing_channels_of_schedule"() returns trigger language plpgsql as $$
begin
  if tg_op in ('UPDATE', 'DELETE') then
    delete from "routing_channels" where "source_id" = old."id";
  end if;
  if tg_op in ('INSERT', 'UPDATE') and new."status" = 'pending' then
    insert into "routing_channels" ("channel_id", "source_id", "organization_id", "source")
    select distinct (c->>'channelId')::uuid, new."id", new."organization_id", 'schedule'
    from jsonb_array_elements(coalesce(new."document"->'channels', '[]'::jsonb)) c
    on conflict do nothing;
  end if;
  return null;
end
$$;`);
    this.addSql(`create trigger "routing_schedules_channels" after insert or update or delete on "routing_schedules" for each row execute function "routing_channels_of_schedule"();`);

    // What is already live or scheduled.
    this.addSql(`insert into "routing_channels" ("channel_id", "source_id", "organization_id", "source")
select distinct (c->>'channelId')::uuid, v."id", v."organization_id", 'version'
from (select distinct on ("organization_id") * from "routing_versions" order by "organization_id", "number" desc) v,
     jsonb_array_elements(coalesce(v."document"->'channels', '[]'::jsonb)) c
on conflict do nothing;`);
    this.addSql(`insert into "routing_channels" ("channel_id", "source_id", "organization_id", "source")
select distinct (c->>'channelId')::uuid, s."id", s."organization_id", 'schedule'
from "routing_schedules" s, jsonb_array_elements(coalesce(s."document"->'channels', '[]'::jsonb)) c
where s."status" = 'pending'
on conflict do nothing;`);

    this.addSql(`create function "routing_route_new_conversations"() returns trigger language plpgsql as $$
declare
  routed int;
begin
  -- A conversation was created or reopened because the contact wrote (its message's event is in
  -- the same statement: the inbound processor writes a batch's events in one), or created by the
  -- contact opening the chat (a welcome: a contact's window, no message). Conversations created
  -- by imported history, echoes or the API, and updates by people, are not routed.
  insert into "routing_inbound" ("conversation_id", "organization_id", "channel_id", "reason", "message_id", "message_event_id", "next_attempt_at", "created_at")
  select c."conversation_id", c."organization_id", c."channel_id", c."reason", m."message_id", m."event_id", now(), c."created_at"
  from (
    select distinct on ((e."data"->'conversation'->>'id')::uuid)
           (e."data"->'conversation'->>'id')::uuid as "conversation_id", e."organization_id", (e."data"->'conversation'->>'channelId')::uuid as "channel_id", e."created_at",
           case when e."type" = 'conversation.create' then 'created' else 'reopened' end as "reason",
           (e."type" = 'conversation.create' and jsonb_typeof(e."data"->'conversation'->'lastMessage') = 'null'
             and jsonb_typeof(e."data"->'conversation'->'lastInboundAt') = 'string') as "welcome"
    from inserted e
    where e."type" = 'conversation.create'
       or (e."type" = 'conversation.update' and e."data"->'changes'->>'status' = 'active' and e."data"->'previous'->>'status' = 'resolved')
    order by (e."data"->'conversation'->>'id')::uuid, e."id"
  ) c
  left join (
    select distinct on ((m."data"->'message'->>'conversationId')::uuid)
           (m."data"->'message'->>'conversationId')::uuid as "conversation_id", (m."data"->'message'->>'id')::uuid as "message_id", m."id" as "event_id"
    from inserted m
    where m."type" = 'message.create.contact.chat.contact'
    order by (m."data"->'message'->>'conversationId')::uuid, m."id"
  ) m on m."conversation_id" = c."conversation_id"
  where (m."message_id" is not null or c."welcome")
    and exists (select 1 from "routing_channels" l where l."channel_id" = c."channel_id" and l."organization_id" = c."organization_id")
  on conflict ("conversation_id") do nothing;
  get diagnostics routed = row_count;
  if routed > 0 then
    perform pg_notify('routing_inbound', '');
  end if;
  -- Routing decides who answers: no assistant turn while a conversation waits to be routed, nor
  -- for one routed elsewhere. (Only conversations of this statement's events are looked at.)
  delete from "assistant_pending" p
  using inserted e
  where e."type" = 'message.create.contact.chat.contact' and p."event_id" = e."id"
    and (exists (select 1 from "routing_inbound" r where r."conversation_id" = p."conversation_id")
      or exists (select 1 from "routing_conversations" r where r."conversation_id" = p."conversation_id" and r."destination"->>'kind' <> 'assistant'));
  return null;
end
$$;`);
    this.addSql(`create trigger "domain_events_routing_inbound" after insert on "domain_events"
  referencing new table as inserted for each statement execute function "routing_route_new_conversations"();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger "domain_events_routing_inbound" on "domain_events";`);
    this.addSql(`drop function "routing_route_new_conversations"();`);
    this.addSql(`drop trigger "routing_schedules_channels" on "routing_schedules";`);
    this.addSql(`drop function "routing_channels_of_schedule"();`);
    this.addSql(`drop trigger "routing_versions_channels" on "routing_versions";`);
    this.addSql(`drop function "routing_channels_of_version"();`);
    for (const table of ['routing_conversations', 'routing_inbound', 'routing_channels']) this.addSql(`drop table "${table}";`);
  }

}
