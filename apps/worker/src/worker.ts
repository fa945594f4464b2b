import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '@parley/config';
import { type Clock, type Logger, redactError } from '@parley/core';
import { Client, Connection, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { type ActivityInterceptorsFactory, type NativeConnection, Worker } from '@temporalio/worker';
import type { ApplyDestinationPort, ChatbotConnector, GraphPort, SendPort } from '@parley/domain';
import { createActivities } from './activities';

const here = path.dirname(fileURLToPath(import.meta.url));
export const WORKFLOWS_PATH = path.resolve(here, '../../../workflows/src/index.ts');
export const MAINTENANCE_SCHEDULE_ID = 'platform:maintenance';
export const TEMPLATE_SYNC_SCHEDULE_ID = 'platform:template-sync';

export interface WorkerDeps {
  config: Config;
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
  graph: GraphPort & SendPort;
  temporal?: Client | undefined;
  /** See `shutdownSignal`. */
  stopping?: AbortSignal | undefined;
  /** The routing dispatcher's, for trees that reach a final destination (`routingRuntime`). */
  applyDestination?: ApplyDestinationPort | undefined;
  /** Bots' requests, made by their sessions' workflows (`routingRuntime`'s connector deps). */
  chatbots?: ChatbotConnector | undefined;
}

/**
 * Aborted when the process is asked to stop. Temporal cancels running activities only once the
 * shutdown grace time is over; long activities (a broadcast batch) listen to this to end early
 * and cleanly instead.
 */
export function shutdownSignal(signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): AbortSignal {
  const controller = new AbortController();
  for (const signal of signals) process.once(signal, () => controller.abort());
  return controller.signal;
}

/**
 * Activity failures are kept in the workflow's history. A database error's message and stack carry
 * its statement with the bound values (phones, message texts) inlined, so such a failure is
 * recorded with the server's message and code only.
 */
export const activityInterceptors: ActivityInterceptorsFactory[] = [
  () => ({
    inbound: {
      execute: async (input, next) => {
        try {
          return await next(input);
        } catch (err) {
          throw redactError(err);
        }
      },
    },
  }),
];

export async function createWorker(deps: WorkerDeps, connection: NativeConnection): Promise<Worker> {
  return Worker.create({
    connection,
    namespace: deps.config.temporal.namespace,
    taskQueue: deps.config.temporal.taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities: createActivities(deps),
    interceptors: { activity: activityInterceptors },
    // On SIGTERM running activities get this long to finish before they are cancelled.
    shutdownGraceTime: '30s',
  });
}

const SCHEDULES = [
  { scheduleId: MAINTENANCE_SCHEDULE_ID, every: '5 minutes', workflowType: 'maintenanceWorkflow' },
  { scheduleId: TEMPLATE_SYNC_SCHEDULE_ID, every: '6 hours', workflowType: 'templateSyncWorkflow' },
] as const;

/** Platform schedules (housekeeping, template sync); creating one again is a no-op. */
export async function ensureSchedules(config: Config): Promise<void> {
  const connection = await Connection.connect({ address: config.temporal.address });
  try {
    const client = new Client({ connection, namespace: config.temporal.namespace });
    for (const s of SCHEDULES) {
      try {
        await client.schedule.create({
          scheduleId: s.scheduleId,
          spec: { intervals: [{ every: s.every }] },
          policies: { overlap: ScheduleOverlapPolicy.SKIP },
          action: { type: 'startWorkflow', workflowType: s.workflowType, taskQueue: config.temporal.taskQueue, workflowId: `${s.scheduleId}:run` },
        });
      } catch (err) {
        if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      }
    }
  } finally {
    await connection.close();
  }
}
