import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '@parley/worker/activities';

const { purgeExpiredRecords, resumeBroadcasts } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 5 },
});

/**
 * Platform housekeeping, run by a Temporal schedule: old idempotency records, refresh tokens,
 * sign-in attempt windows, events and webhook deliveries, and broadcasts whose workflow was never
 * started.
 */
export async function maintenanceWorkflow(): Promise<{
  idempotencyKeys: number;
  refreshTokens: number;
  signInWindows: number;
  webhookDeliveries: number;
  domainEvents: number;
  resumedBroadcasts: number;
}> {
  const purged = await purgeExpiredRecords();
  return { ...purged, resumedBroadcasts: await resumeBroadcasts() };
}
