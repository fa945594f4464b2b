/**
 * A worker process that runs only the Temporal workflows and activities, for tests that kill it
 * (SIGKILL) or stop (SIGTERM) mid-broadcast. Configuration comes from the environment, as for the real worker.
 */
import { loadConfig } from '@parley/config';
import { createLogger, systemClock } from '@parley/core';
import { createOrm } from '@parley/db';
import { graphClientFor } from '@parley/domain';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../apps/worker/src/activities';
import { shutdownSignal, WORKFLOWS_PATH } from '../../apps/worker/src/worker';

const config = loadConfig();
const stopping = shutdownSignal();
const logger = createLogger({ level: 'silent' });
const orm = await createOrm({ url: config.database.url!, poolMax: 5 });
const connection = await NativeConnection.connect({ address: config.temporal.address });
const worker = await Worker.create({
  connection,
  taskQueue: config.temporal.taskQueue,
  workflowsPath: WORKFLOWS_PATH,
  activities: createActivities({ orm, clock: systemClock, logger, config, graph: graphClientFor(config, logger), stopping }),
});
process.stdout.write('worker ready\n');
await worker.run();
await connection.close();
await orm.close(true);
