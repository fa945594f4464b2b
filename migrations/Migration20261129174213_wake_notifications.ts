import { Migration } from '@mikro-orm/migrations';

/**
 * A message queued for sending wakes the worker's outbox sender (packages/domain/src/wake.ts):
 * a trigger, so every path that queues one does, and NOTIFY is delivered only once the insert
 * commits. (Stored Meta deliveries are announced by the webhook after their commit instead: they
 * come thousands a second, and a NOTIFY in their transaction would serialize those commits.)
 */
export class Migration20261129174213_wake_notifications extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create function "parley_wake"() returns trigger language plpgsql as $$
begin
  perform pg_notify(tg_argv[0], '');
  return null;
end
$$;`);
    this.addSql(`create trigger "messages_outbox_wake" after insert on "messages"
  for each row when (new."send_state" = 'pending') execute function "parley_wake"('outbox');`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger "messages_outbox_wake" on "messages";`);
    this.addSql(`drop function "parley_wake"();`);
  }

}
