import { ActivityFailure, ApplicationFailure, continueAsNew, proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '@parley/worker/activities';

/** The activity's failure type for a broadcast that no retry can move on. */
const CANNOT_PROCEED = 'BroadcastCannotProceed';

const { sendBroadcastBatch } = proxyActivities<Activities>({
  // Each call sends for about 60 s and heartbeats every few seconds, so a dead worker is noticed
  // within the heartbeat timeout and the retry resumes from the recipient rows.
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: ['BroadcastNotFound', CANNOT_PROCEED] },
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
 * A broadcast that can never be sent (a disconnected channel, an undecryptable token) ends
 * `failed` with the reason, instead of being retried for ever.
 */
export async function broadcastWorkflow(input: BroadcastWorkflowInput): Promise<'completed' | 'cancelled' | 'failed'> {
  for (let i = 0; i < BATCHES_PER_RUN; i++) {
    let result: Awaited<ReturnType<typeof sendBroadcastBatch>>;
    try {
      result = await sendBroadcastBatch(input);
    } catch (err) {
      const cause = err instanceof ActivityFailure ? err.cause : undefined;
      if (!(cause instanceof ApplicationFailure && cause.type === CANNOT_PROCEED)) throw err;
      await finishBroadcast({ ...input, status: 'failed', reason: cause.message });
      return 'failed';
    }
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
