import type { SqlRunner } from '../sql';

/**
 * A channel's messages-per-second limit, shared by every broadcast and worker process sending on
 * it, kept in the database so that all of them see one budget (times are the database's clock):
 *
 * - the hard limit: each draw is logged (`channel_send_log`), and a draw may take only what the
 *   last second's draws left of `windowLimit`, so no one-second window holds more than that;
 * - the smoothing: a token bucket refilled at the limit and holding 1/50 s of sends, so sends
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
  return Math.max(1, Math.ceil(messagesPerSecond / 50));
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

/**
 * From the start of a draw to its requests being written, normally a few ms. A draw that took
 * longer was held up (a GC pause, a busy CPU) and its log entry is moved to when it really sent.
 */
export const LATE_DISPATCH_MS = 20;

/**
 * Settles a draw after its requests went out: gives back what it did not use (fewer recipients
 * were due, or some were skipped), and moves its log entry `lateMs` later, so the one-second
 * windows of later draws count its sends when they left rather than when they were drawn.
 */
export async function settleDraw(
  sql: SqlRunner,
  draw: { channelId: string; messagesPerSecond: number; logId: string; unused: number; lateMs: number },
): Promise<void> {
  await sql.run(
    `with logged as (
       update channel_send_log set count = count - ?, drawn_at = drawn_at + ? * interval '1 millisecond' where id = ?
     )
     update channel_send_budgets set tokens = least(?::float8, tokens + ?) where channel_id = ? and ? > 0`,
    [draw.unused, draw.lateMs, draw.logId, bucketCapacity(draw.messagesPerSecond), draw.unused, draw.channelId, draw.unused],
  );
}
