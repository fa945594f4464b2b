import { Migration } from '@mikro-orm/migrations';

export class Migration20261122003632_broadcast_pending_index extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index "broadcast_recipients_pending" on "broadcast_recipients" ("broadcast_id", "id") where "status" = 'pending';`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "broadcast_recipients_pending";`);
  }

}
