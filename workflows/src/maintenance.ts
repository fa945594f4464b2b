import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '@parley/worker/activities';

const { purgeExpiredRecords } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 5 },
});

/** Platform housekeeping, run by a Temporal schedule: old idempotency records and refresh tokens. */
export async function maintenanceWorkflow(): Promise<{ idempotencyKeys: number; refreshTokens: number }> {
  return purgeExpiredRecords();
}
