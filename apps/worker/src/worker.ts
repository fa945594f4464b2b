import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '@parley/config';
import type { Clock, Logger } from '@parley/core';
import { Client, Connection, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { type NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities';

const here = path.dirname(fileURLToPath(import.meta.url));
export const WORKFLOWS_PATH = path.resolve(here, '../../../workflows/src/index.ts');
export const MAINTENANCE_SCHEDULE_ID = 'platform:maintenance';

export interface WorkerDeps {
  config: Config;
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
}

export async function createWorker(deps: WorkerDeps, connection: NativeConnection): Promise<Worker> {
  return Worker.create({
    connection,
    namespace: deps.config.temporal.namespace,
    taskQueue: deps.config.temporal.taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities: createActivities(deps),
    // On SIGTERM running activities get this long to finish before they are cancelled.
    shutdownGraceTime: '30s',
  });
}

/** The hourly housekeeping schedule; creating it again is a no-op. */
export async function ensureSchedules(config: Config): Promise<void> {
  const connection = await Connection.connect({ address: config.temporal.address });
  try {
    const client = new Client({ connection, namespace: config.temporal.namespace });
    await client.schedule.create({
      scheduleId: MAINTENANCE_SCHEDULE_ID,
      spec: { intervals: [{ every: '1 hour' }] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      action: {
        type: 'startWorkflow',
        workflowType: 'maintenanceWorkflow',
        taskQueue: config.temporal.taskQueue,
        workflowId: 'platform:maintenance:run',
      },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  } finally {
    await connection.close();
  }
}
