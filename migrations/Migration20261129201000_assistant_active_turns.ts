import { Migration } from '@mikro-orm/migrations';
import { OBSERVE_EVENTS_V1 } from './Migration20261129193600_assistant';

/**
 * Pending turns only for conversations whose assistant is active: a paused or handed-over
 * conversation no longer starts a workflow per contact message just to be skipped. Open
 * suggestions still turn stale on every contact message, whatever the state.
 */
export class Migration20261129201000_assistant_active_turns extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create or replace function "assistant_observe_events"() returns trigger language plpgsql as $$
declare
  turns int;
begin
  -- A contact wrote on a channel whose assistant is on, in a conversation it still answers: a
  -- turn is due (the worker signals it).
  insert into "assistant_pending" ("event_id", "organization_id", "conversation_id", "channel_id", "message_id", "created_at")
  select e."id", e."organization_id", (e."data"->'message'->>'conversationId')::uuid, s."channel_id", (e."data"->'message'->>'id')::uuid, e."created_at"
  from inserted e
  join "assistant_settings" s on s."channel_id" = (e."data"->'message'->>'channelId')::uuid and s."organization_id" = e."organization_id" and s."mode" <> 'off'
  left join "assistant_conversations" ac on ac."conversation_id" = (e."data"->'message'->>'conversationId')::uuid and ac."organization_id" = e."organization_id"
  where e."type" = 'message.create.contact.chat.contact' and (ac."state" is null or ac."state" = 'active')
  on conflict do nothing;
  get diagnostics turns = row_count;
  if turns > 0 then
    perform pg_notify('assistant', '');
  end if;
  -- Suggestions written before this message no longer answer the conversation.
  update "assistant_suggestions" g set "state" = 'stale', "updated_at" = now()
  from inserted e
  where e."type" = 'message.create.contact.chat.contact' and g."state" = 'open'
    and g."conversation_id" = (e."data"->'message'->>'conversationId')::uuid and g."organization_id" = e."organization_id";
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
$$;`);
  }

  override async down(): Promise<void> {
    this.addSql(OBSERVE_EVENTS_V1);
  }

}
