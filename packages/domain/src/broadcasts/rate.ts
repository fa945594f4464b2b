import type { SqlRunner } from '../sql';

/**
 * A channel's messages-per-second limit, shared by every broadcast and worker process sending on
 * it: a token bucket kept in one row, refilled by elapsed time and drawn down in one statement.
 * The bucket holds 1/50 s of sends and refills at the limit less twice that: no one-second window
 * can hold more than the limit, even right after an idle spell and with a little scheduling jitter
 * between taking a token and the request reaching Meta. Callers take small draws in turn,
 * which shares the channel fairly between concurrent broadcasts.
 */
export function bucketCapacity(messagesPerSecond: number): number {
  return Math.max(1, Math.ceil(messagesPerSecond / 50));
}

export function refillPerSecond(messagesPerSecond: number): number {
  return Math.max(0.5, messagesPerSecond - 2 * bucketCapacity(messagesPerSecond));
}

export async function drawSendTokens(sql: SqlRunner, channelId: string, messagesPerSecond: number, wanted: number): Promise<number> {
  const capacity = bucketCapacity(messagesPerSecond);
  await sql.run(
    `insert into channel_send_budgets (channel_id, tokens, refilled_at) values (?, 0, clock_timestamp()) on conflict (channel_id) do nothing`,
    [channelId],
  );
  const [row] = await sql.all<{ granted: number }>(
    `with now as (select clock_timestamp() as t),
     current as (
       select least(?::float8, b.tokens + extract(epoch from (now.t - b.refilled_at)) * ?::float8) as available, now.t
       from channel_send_budgets b, now where b.channel_id = ? for update of b
     )
     update channel_send_budgets b
        set tokens = current.available - floor(least(current.available, ?::float8)), refilled_at = current.t
       from current where b.channel_id = ?
     returning floor(least(current.available, ?::float8))::int as granted`,
    [capacity, refillPerSecond(messagesPerSecond), channelId, wanted, channelId, wanted],
  );
  return row?.granted ?? 0;
}
