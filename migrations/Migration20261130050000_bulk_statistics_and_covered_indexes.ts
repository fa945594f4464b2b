import { Migration } from '@mikro-orm/migrations';

/** Documents stored whole and never compared whole: no query's plan depends on their statistics. */
const DOCUMENTS: [table: string, column: string][] = [
  ['meta_webhook_deliveries', 'payload'],
  ['domain_events', 'data'],
  ['messages', 'content'],
  ['messages', 'history'],
  ['messages', 'error'],
  ['message_status_events', 'errors'],
  ['broadcast_recipients', 'params'],
  ['broadcast_recipients', 'error'],
  ['idempotency_keys', 'response_body'],
];

/**
 * Two costs every inbound message pays for nothing.
 *
 * ANALYZE of a table with large jsonb columns spends most of its time on them: sampling, sorting
 * and comparing whole documents (a delivery, an event, a message's content) to build most-common
 * values and histograms that no query uses, since those columns are only read, never searched by
 * value. On a table of 7,500 deliveries that was 62 of 70 ms, and autovacuum runs it again each
 * time a busy table grows by a tenth, in the middle of the traffic that grew it.
 *
 * Two indexes on `organization_id` alone duplicate the leading column of a composite index on the
 * same table ((organization_id, created_at) on events; (organization_id, status, id) on
 * conversations), which serves the same lookups and the cascade from an organization; each insert
 * still had to maintain them.
 */
export class Migration20261130050000_bulk_statistics_and_covered_indexes extends Migration {

  override async up(): Promise<void> {
    for (const [table, column] of DOCUMENTS) this.addSql(`alter table "${table}" alter column "${column}" set statistics 0;`);
    this.addSql(`drop index if exists "domain_events_organization_id_index";`);
    this.addSql(`drop index if exists "conversations_organization_id_index";`);
  }

  override async down(): Promise<void> {
    for (const [table, column] of DOCUMENTS) this.addSql(`alter table "${table}" alter column "${column}" set statistics -1;`);
    this.addSql(`create index if not exists "domain_events_organization_id_index" on "domain_events" ("organization_id");`);
    this.addSql(`create index if not exists "conversations_organization_id_index" on "conversations" ("organization_id");`);
  }

}
