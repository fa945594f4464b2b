import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock, Logger } from '@parley/core';
import { Broadcast, UNSCOPED } from '@parley/db';
import { BroadcastCannotProceed, type BroadcastSender, broadcastWorkflowId } from '@parley/domain';
import { Context } from '@temporalio/activity';
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';

/**
 * How long one activity sends. Each hand-over between activities costs a few hundred ms of
 * sending (a workflow task, a fresh load), so calls are long; heartbeats keep a dead worker's
 * activity noticed within the heartbeat timeout regardless.
 */
const BATCH_BUDGET_MS = 60_000;
/**
 * Heartbeats go out on this timer as well as after every group: a group held up by slow sends,
 * or a wait for a budget other senders are using, must not look like a dead worker (the
 * workflow's heartbeat timeout is 15 s; the SDK throttles what reaches the server).
 */
const HEARTBEAT_EVERY_MS = 2_000;

export interface BroadcastActivityDeps {
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
  sender: BroadcastSender;
  taskQueue: string;
  temporal?: Client | undefined;
  stopping?: AbortSignal | undefined;
}

export function createBroadcastActivities(deps: BroadcastActivityDeps) {
  return {
    async sendBroadcastBatch(input: { organizationId: string; broadcastId: string }) {
      const exists = await deps.orm.em.fork().count(Broadcast, { id: input.broadcastId, organization: input.organizationId }, UNSCOPED);
      if (!exists) throw ApplicationFailure.nonRetryable(`broadcast ${input.broadcastId} does not exist`, 'BroadcastNotFound');
      const activity = Context.current();
      // When this worker shuts down (or the activity is cancelled) the batch ends cleanly and the
      // workflow's next call runs wherever a worker is left.
      const stop = deps.stopping ? AbortSignal.any([activity.cancellationSignal, deps.stopping]) : activity.cancellationSignal;
      let progress: unknown = { processed: 0 };
      const beat = () => activity.heartbeat(progress);
      beat();
      const timer = setInterval(beat, HEARTBEAT_EVERY_MS);
      try {
        return await deps.sender.sendBatch({ ...input, budgetMs: BATCH_BUDGET_MS, stop }, (details) => {
          progress = details;
          beat();
        });
      } catch (err) {
        // The workflow ends the broadcast `failed` on this type, with the message as its reason.
        if (err instanceof BroadcastCannotProceed) throw ApplicationFailure.nonRetryable(err.message, err.name);
        throw err;
      } finally {
        clearInterval(timer);
      }
    },

    async finishBroadcast(input: { organizationId: string; broadcastId: string; status: 'completed' | 'cancelled' | 'failed'; reason?: string }) {
      await deps.sender.finish(input);
    },

    /**
     * Starts the workflow of every running broadcast that has none (the API stored it and died
     * before starting it). Starting an existing one is refused by Temporal, so this is safe to repeat.
     */
    async resumeBroadcasts(): Promise<number> {
      if (!deps.temporal) return 0;
      const running = await deps.orm.em.fork().find(Broadcast, { status: 'running' }, { ...UNSCOPED, fields: ['id', 'organization'] });
      let started = 0;
      for (const b of running) {
        try {
          await deps.temporal.workflow.start('broadcastWorkflow', {
            taskQueue: deps.taskQueue,
            workflowId: broadcastWorkflowId(b.organization, b.id),
            args: [{ organizationId: b.organization, broadcastId: b.id }],
          });
          started++;
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        }
      }
      if (started) deps.logger.warn({ started }, 'resumed broadcasts that had no workflow');
      return started;
    },
  };
}
