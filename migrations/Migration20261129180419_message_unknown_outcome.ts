import { Migration } from '@mikro-orm/migrations';

/** The outbox fails sends left `unknown` without a status for an hour; this finds them without a scan. */
export class Migration20261129180419_message_unknown_outcome extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index "messages_unknown_outcome" on "messages" ("claimed_at") where "send_state" = 'unknown' and "status_rank" = 0;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "messages_unknown_outcome";`);
  }

}
