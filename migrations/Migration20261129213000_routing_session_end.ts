import { Migration } from '@mikro-orm/migrations';

const OBSERVE_V1 = `create or replace function "routing_observe_events"() returns trigger language plpgsql as $$
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
$$;`;

/**
 * A person who takes a conversation over ends the tree's or bot's session: someone assigned to
 * it, or the conversation resolved or closed. Its later messages go to no tree or bot (a bot's
 * callback answers 404), and a tree's workflow ends at its next step.
 */
export class Migration20261129213000_routing_session_end extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create or replace function "routing_observe_events"() returns trigger language plpgsql as $$
declare
  n int;
begin
  update "routing_sessions" s set "state" = 'ended', "updated_at" = now(),
    "ended_reason" = case when e."data"->'changes'->>'assigneeId' is not null then 'assigned' else 'conversation_' || (e."data"->'changes'->>'status') end
  from inserted e
  where e."type" = 'conversation.update' and s."state" = 'active'
    and s."conversation_id" = (e."data"->'conversation'->>'id')::uuid and s."organization_id" = e."organization_id"
    and (e."data"->'changes'->>'assigneeId' is not null or e."data"->'changes'->>'status' in ('resolved', 'closed'));
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
  }

  override async down(): Promise<void> {
    this.addSql(OBSERVE_V1);
  }

}
