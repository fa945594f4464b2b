import type { MikroORM } from '@mikro-orm/postgresql';
import { createLogger, ManualClock, newId } from '@parley/core';
import { createOrm, IdempotencyRecord } from '@parley/db';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../apps/worker/src/activities';
import { WORKFLOWS_PATH } from '../../apps/worker/src/worker';

let orm: MikroORM;
let nativeConnection: NativeConnection;
let connection: Connection;
const clock = new ManualClock(new Date('2030-01-01T00:00:00Z'));

beforeAll(async () => {
  orm = await createOrm({ url: inject('databaseUrl'), poolMax: 2 });
  nativeConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
  connection = await Connection.connect({ address: inject('temporalAddress') });
});
afterAll(async () => {
  await connection?.close();
  await nativeConnection?.close();
  await orm?.close(true);
});

describe('maintenanceWorkflow', () => {
  it('purges idempotency records past their 24 hours and keeps the rest', async () => {
    const em = orm.em.fork();
    const scope = `test:${newId()}`;
    const old = new IdempotencyRecord(scope, 'old', 'h', new Date('2029-12-30T00:00:00Z'), new Date('2029-12-31T00:00:00Z'));
    const fresh = new IdempotencyRecord(scope, 'fresh', 'h', new Date('2029-12-31T12:00:00Z'), new Date('2030-01-01T12:00:00Z'));
    await em.persistAndFlush([old, fresh]);

    const taskQueue = `test-maintenance-${newId()}`;
    const worker = await Worker.create({
      connection: nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: createActivities({ orm, clock, logger: createLogger({ level: 'silent' }) }),
    });
    const client = new Client({ connection });
    const result = await worker.runUntil(
      client.workflow.execute('maintenanceWorkflow', { taskQueue, workflowId: `platform:maintenance:test:${newId()}` }),
    );
    expect(result.idempotencyKeys).toBeGreaterThanOrEqual(1);
    const left = await orm.em.fork().find(IdempotencyRecord, { scope });
    expect(left.map((r) => r.key)).toEqual(['fresh']);
  });
});
