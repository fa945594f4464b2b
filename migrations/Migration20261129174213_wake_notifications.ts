import { Migration } from '@mikro-orm/migrations';

/**
 * The worker is woken when its work commits (packages/domain/src/wake.ts): a stored Meta
 * delivery notifies `meta_inbound`, a message queued for sending notifies `outbox`. Triggers,
 * so every writer of these rows wakes it; NOTIFY is delivered only once the insert commits.
 */
export class Migration20261129174213_wake_notifications extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create function "parley_wake"() returns trigger language plpgsql as $$
begin
  perform pg_notify(tg_argv[0], '');
  return null;
end
$$;`);
    this.addSql(`create trigger "meta_webhook_deliveries_wake" after insert on "meta_webhook_deliveries"
  for each statement execute function "parley_wake"('meta_inbound');`);
    this.addSql(`create trigger "messages_outbox_wake" after insert on "messages"
  for each row when (new."send_state" = 'pending') execute function "parley_wake"('outbox');`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger "messages_outbox_wake" on "messages";`);
    this.addSql(`drop trigger "meta_webhook_deliveries_wake" on "meta_webhook_deliveries";`);
    this.addSql(`drop function "parley_wake"();`);
  }

}
