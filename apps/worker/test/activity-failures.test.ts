import { newId } from '@parley/core';
import { createOrm, type MikroORM } from '@parley/db';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { eventually } from '../../../test/support/platform';
import { activityInterceptors, WORKFLOWS_PATH } from '../src/worker';

const PHONE = '+14155550177';

let orm: MikroORM;
let native: NativeConnection;
let connection: Connection;
beforeAll(async () => {
  orm = await createOrm({ url: inject('databaseUrl'), poolMax: 2 });
  native = await NativeConnection.connect({ address: inject('temporalAddress') });
  connection = await Connection.connect({ address: inject('temporalAddress') });
});
afterAll(async () => {
  await connection.close();
  await native.close();
  await orm.close(true);
});

it("an activity that fails on a database error is kept in the workflow's history without the statement or its values", async () => {
  const taskQueue = `activity-failures-${newId()}`;
  const worker = await Worker.create({
    connection: native,
    taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    interceptors: { activity: activityInterceptors },
    activities: {
      // A statement that fails with a customer's phone bound into it.
      purgeExpiredRecords: async () => orm.em.getConnection().execute('select ?::uuid as id', [PHONE]),
      resumeBroadcasts: async () => 0,
    },
  });
  const client = new Client({ connection });
  const failure = await worker.runUntil(async () => {
    const handle = await client.workflow.start('maintenanceWorkflow', { taskQueue, workflowId: `activity-failures-${newId()}` });
    try {
      return await eventually(async () => (await handle.describe()).raw.pendingActivities?.[0]?.lastFailure, 20_000, 'the first failed attempt');
    } finally {
      await handle.terminate();
    }
  });
  expect(failure?.message).toBe('invalid input syntax for type uuid: "…" (22P02)');
  expect(failure?.stackTrace).toMatch(/\n\s+at /);
  expect(JSON.stringify(failure)).not.toContain('4155550177');
  expect(JSON.stringify(failure)).not.toContain('select');
});
