import type { SqlRunner } from '../sql';

/**
 * How long events and their delivery log are kept. A replay reaches this far back; the log shows
 * this much. Deliveries still pending are kept until their event goes.
 */
export const WEBHOOK_HISTORY_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * The smallest time-ordered id (UUIDv7, see `newId`) of a moment: every id made before it sorts
 * below, so old rows are found by primary key, without an index on their time.
 */
export function idFloorOf(at: Date): string {
  const hex = Math.max(0, Math.floor(at.getTime())).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

/**
 * Deletes, in batches, settled deliveries (with their attempts) and dispatched events older than
 * the retention, until none are left or the time budget is spent. Answers what it deleted.
 */
export async function purgeWebhookHistory(
  sql: SqlRunner,
  now: Date,
  options: { retentionMs?: number; batchSize?: number; budgetMs?: number } = {},
): Promise<{ deliveries: number; events: number }> {
  const floor = idFloorOf(new Date(now.getTime() - (options.retentionMs ?? WEBHOOK_HISTORY_RETENTION_MS)));
  const batch = options.batchSize ?? 5000;
  const until = Date.now() + (options.budgetMs ?? 60_000);
  const purged = { deliveries: 0, events: 0 };
  for (const [table, key, settled] of [
    ['webhook_deliveries', 'deliveries', `status <> 'pending'`],
    ['domain_events', 'events', 'dispatched_at is not null'],
  ] as const) {
    for (;;) {
      const rows = await sql.all<{ n: number }>(
        `with doomed as (select id from ${table} where id < ?::uuid and ${settled} order by id limit ?),
              gone as (delete from ${table} t using doomed where t.id = doomed.id returning 1)
         select count(*)::int as n from gone`,
        [floor, batch],
      );
      const n = rows[0]?.n ?? 0;
      purged[key] += n;
      if (n < batch || Date.now() > until) break;
    }
  }
  return purged;
}
