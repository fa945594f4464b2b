import { Migration } from '@mikro-orm/migrations';

/**
 * The live event stream (GET /v1/events/stream) reads domain events past a `seq` cursor several
 * times a second; without this index each read would scan the whole table.
 */
export class Migration20261129212500_domain_events_seq extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index "domain_events_seq" on "domain_events" ("seq");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "domain_events_seq";`);
  }
}
