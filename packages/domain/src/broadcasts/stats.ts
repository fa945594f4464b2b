import type { SqlRunner } from '../sql';

export interface BroadcastStatistics {
  total: number;
  pending: number;
  sent: number;
  delivered: number;
  read: number;
  failed: number;
  skipped: number;
  unknown: number;
}

/**
 * Counted from the recipient rows themselves, so the figures always add up to `total` whatever
 * updates race (a claim in flight counts as pending).
 */
export async function broadcastStatistics(sql: SqlRunner, broadcastId: string): Promise<BroadcastStatistics> {
  const rows = await sql.all<{ status: string; n: number }>(
    'select status, count(*)::int as n from broadcast_recipients where broadcast_id = ? group by status',
    [broadcastId],
  );
  const stats: BroadcastStatistics = { total: 0, pending: 0, sent: 0, delivered: 0, read: 0, failed: 0, skipped: 0, unknown: 0 };
  for (const { status, n } of rows) {
    stats.total += n;
    const key = status === 'sending' ? 'pending' : (status as keyof BroadcastStatistics);
    if (key in stats) stats[key] += n;
  }
  return stats;
}
