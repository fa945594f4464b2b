import { Migration } from '@mikro-orm/migrations';

/** Recipients are deduplicated by phone within a broadcast: appending looks each phone up. */
export class Migration20261129175533_broadcast_recipient_phone extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index "broadcast_recipients_broadcast_phone" on "broadcast_recipients" ("broadcast_id", "phone");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "broadcast_recipients_broadcast_phone";`);
  }

}
