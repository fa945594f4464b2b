import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '@parley/worker/activities';

const { syncAllTemplates } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { maximumAttempts: 3 },
});

/** Periodic template sync for every channel, started by a Temporal schedule. */
export async function templateSyncWorkflow(): Promise<{ channels: number; failed: number }> {
  return syncAllTemplates();
}
