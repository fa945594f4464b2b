import type { SqlRunner } from '../sql';

/**
 * A channel's messages-per-second limit, shared by every broadcast and worker process sending on
 * it, kept in the database so that all of them see one budget (times are the database's clock):
 *
 * - the hard limit: each draw is logged (`channel_send_log`), and a draw may take only what the
 *   last second's draws left of `windowLimit`, so no one-second window holds more than that;
 * - the smoothing: a token bucket refilled at the limit and holding 1/20 s of sends, so sends
 *   spread over the second instead of leaving in one burst, while a sender that was held up
 *   (a GC pause, a busy machine) can still catch up on the tokens it missed.
 *
 * Small draws taken in turn share a channel fairly between concurrent broadcasts.
 */

/**
 * Sends allowed in any one-second window: the limit less 2 % (at least one send) for the time
 * between a draw and its requests reaching Meta, which is not the same for every group.
 */
export function windowLimit(messagesPerSecond: number): number {
  return Math.max(1, messagesPerSecond - Math.max(1, Math.ceil(messagesPerSecond * 0.02)));
}

export function bucketCapacity(messagesPerSecond: number): number {
  return Math.max(1, Math.ceil(messagesPerSecond / 20));
}

/**
 * How often a sender draws: about every 1/100 s of sends (10 ms at 1,000 per second), and never
 * more often than every 10 ms, so a draw is a handful of requests and not a query per send.
 */
export function drawIntervalMs(messagesPerSecond: number): number {
  return Math.min(1000, Math.max(10, (1000 * Math.max(1, Math.ceil(messagesPerSecond / 100))) / messagesPerSecond));
}

/**
 * A common table expression `allowance(n, drawn_at, log_id)`: a draw of up to `wanted` sends from
 * the channel's budget, by the `draw_send_budget` function (migration broadcast_send_window). It
 * locks the channel's budget row, so draws on one channel take turns, and logs the draw. A
 * channel's first draw creates its bucket, empty, and gets nothing.
 */
export const DRAW_ALLOWANCE = `allowance as (select n, drawn_at, log_id from draw_send_budget(?::uuid, ?::float8, ?::float8, ?::int, ?::int))`;

export function drawAllowanceParams(channelId: string, messagesPerSecond: number, wanted: number): unknown[] {
  return [channelId, messagesPerSecond, bucketCapacity(messagesPerSecond), windowLimit(messagesPerSecond), wanted];
}

/** Gives back what a draw did not use (fewer recipients were due, or some were skipped). */
export async function returnUnusedSends(sql: SqlRunner, channelId: string, messagesPerSecond: number, logId: string | null, unused: number): Promise<void> {
  if (unused <= 0) return;
  await sql.run(
    `with logged as (update channel_send_log set count = count - ? where id = ?)
     update channel_send_budgets set tokens = least(?::float8, tokens + ?) where channel_id = ?`,
    [unused, logId, bucketCapacity(messagesPerSecond), unused, channelId],
  );
}
