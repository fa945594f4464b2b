/**
 * The contract's retry schedule: the delay before each attempt, the first being immediate. After
 * the last one fails the delivery is given up (about 27 hours in all); the partner can still retry
 * it by hand or replay its time range.
 */
export const WEBHOOK_RETRY_SCHEDULE_MS = [0, 5_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 5 * 3_600_000, 10 * 3_600_000, 10 * 3_600_000] as const;

/** Spread of each delay, so the retries of a burst that failed together do not return together. */
const JITTER = 0.1;

/** A receiver's `Retry-After` is honoured up to this; beyond it the schedule's own pace wins. */
export const MAX_RETRY_AFTER_MS = 10 * 3_600_000;

/** A subscription whose every attempt has failed for this long is disabled. */
export const DISABLE_AFTER_FAILING_MS = 5 * 24 * 3_600_000;

/**
 * When the next attempt is due after `attemptsMade` attempts, or null when the schedule is spent.
 * A `Retry-After` can only push an attempt later, never earlier than the schedule.
 */
export function nextAttemptDelayMs(attemptsMade: number, retryAfterMs: number | null, random: () => number = Math.random): number | null {
  const base = WEBHOOK_RETRY_SCHEDULE_MS[attemptsMade];
  if (base === undefined) return null;
  const jittered = Math.round(base * (1 - JITTER + 2 * JITTER * random()));
  return retryAfterMs === null ? jittered : Math.max(jittered, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
}

/** `Retry-After` as seconds or an HTTP date; anything else is ignored. */
export function parseRetryAfter(value: string | undefined, now: Date): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now.getTime());
}
