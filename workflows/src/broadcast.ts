import { continueAsNew, proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '@parley/worker/activities';

const { sendBroadcastBatch } = proxyActivities<Activities>({
  // Each call sends for about 60 s and heartbeats after every group, so a dead worker is noticed
  // within the heartbeat timeout and the retry resumes from the recipient rows.
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: ['BroadcastNotFound'] },
});
const { finishBroadcast } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { maximumInterval: '30 seconds' } });

export interface BroadcastWorkflowInput {
  organizationId: string;
  broadcastId: string;
}

/** Batches per run before continue-as-new: history stays small whatever the broadcast's size. */
const BATCHES_PER_RUN = 100;

/**
 * Sends a broadcast. Recipients and their progress live in PostgreSQL; the workflow only loops
 * over batch activities, so its history holds a few events per minute of sending, never recipients.
 */
export async function broadcastWorkflow(input: BroadcastWorkflowInput): Promise<'completed' | 'cancelled'> {
  for (let i = 0; i < BATCHES_PER_RUN; i++) {
    const result = await sendBroadcastBatch(input);
    if (result.cancelled) {
      await finishBroadcast({ ...input, status: 'cancelled' });
      return 'cancelled';
    }
    if (result.done) {
      await finishBroadcast({ ...input, status: 'completed' });
      return 'completed';
    }
    // Only retries are left, none due yet: wait for the earliest.
    if (result.processed === 0) await sleep(Math.min(60_000, Math.max(200, result.retryInMs ?? 1000)));
  }
  return continueAsNew<typeof broadcastWorkflow>(input);
}
