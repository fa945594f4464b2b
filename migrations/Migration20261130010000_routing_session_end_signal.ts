import { Migration } from '@mikro-orm/migrations';

/**
 * A tree's or bot's session that ends (a transfer, a fallback, new routing, a person taking the
 * conversation over) tells its workflow, which would otherwise wait for the contact, or a day,
 * before it looked. Sessions end in many places, some of them triggers, so the end is caught
 * where they all meet: the row. A `routing_pending` row without a message is that notice; the
 * routing signaller hands it on as it hands on messages.
 */
export class Migration20261130010000_routing_session_end_signal extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "routing_pending" alter column "message_id" drop not null;`);
    this.addSql(`create or replace function "routing_session_ended"() returns trigger language plpgsql as $$
begin
  insert into "routing_pending" ("event_id", "organization_id", "session_id", "conversation_id", "message_id", "created_at")
  values (gen_random_uuid(), new."organization_id", new."id", new."conversation_id", null, now());
  perform pg_notify('routing', '');
  return null;
end
$$;`);
    this.addSql(`create trigger "routing_session_ended" after update of "state" on "routing_sessions"
  for each row when (old."state" = 'active' and new."state" <> 'active' and new."workflow_id" is not null)
  execute function "routing_session_ended"();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists "routing_session_ended" on "routing_sessions";`);
    this.addSql(`drop function if exists "routing_session_ended"();`);
    this.addSql(`delete from "routing_pending" where "message_id" is null;`);
    this.addSql(`alter table "routing_pending" alter column "message_id" set not null;`);
  }

}
