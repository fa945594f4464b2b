import type { MikroORM } from '@mikro-orm/postgresql';
import { createLogger, ManualClock, newId, SecretBox } from '@parley/core';
import { Broadcast, Channel, createOrm, IdempotencyRecord, Organization, Template, UNSCOPED } from '@parley/db';
import { broadcastWorkflowId, type GraphPort, type SendPort } from '@parley/domain';
import type { Template as MetaTemplate } from '@parley/graph';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../apps/worker/src/activities';
import { WORKFLOWS_PATH } from '../../apps/worker/src/worker';
import { testConfig } from '../../test/support/api';

let orm: MikroORM;
let nativeConnection: NativeConnection;
let connection: Connection;
const clock = new ManualClock(new Date('2030-01-01T00:00:00Z'));
const config = testConfig();
const metaTemplates = new Map<string, MetaTemplate[]>();

/** Only what the scheduled activities use; anything else would be a test bug. */
const graph = {
  listAllTemplates: async (_token: string, wabaId: string) => {
    const list = metaTemplates.get(wabaId);
    if (!list) throw new Error(`no templates for ${wabaId}`);
    return list;
  },
} as unknown as GraphPort & SendPort;

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

async function run<T>(workflowType: string, temporal?: Client): Promise<T> {
  const taskQueue = `test-${workflowType}-${newId()}`;
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities: createActivities({ orm, clock, logger: createLogger({ level: 'silent' }), config, graph, temporal }),
  });
  const client = new Client({ connection });
  return worker.runUntil(client.workflow.execute(workflowType, { taskQueue, workflowId: `platform:test:${workflowType}:${newId()}` })) as Promise<T>;
}

describe('maintenanceWorkflow', () => {
  it('purges idempotency records past their 24 hours and keeps the rest', async () => {
    const em = orm.em.fork();
    const scope = `test:${newId()}`;
    const old = new IdempotencyRecord(scope, 'old', 'h', new Date('2029-12-30T00:00:00Z'), new Date('2029-12-31T00:00:00Z'));
    const fresh = new IdempotencyRecord(scope, 'fresh', 'h', new Date('2029-12-31T12:00:00Z'), new Date('2030-01-01T12:00:00Z'));
    await em.persistAndFlush([old, fresh]);
    const result = await run<{ idempotencyKeys: number }>('maintenanceWorkflow');
    expect(result.idempotencyKeys).toBeGreaterThanOrEqual(1);
    const left = await orm.em.fork().find(IdempotencyRecord, { scope });
    expect(left.map((r) => r.key)).toEqual(['fresh']);
  });
});

describe('maintenanceWorkflow resumes broadcasts', () => {
  it('starts the workflow of a running broadcast the API stored but could not start', async () => {
    const em = orm.em.fork();
    const org = new Organization('Resume test', []);
    const channel = new Channel(org.id, 'Line', `w${newId().slice(-12)}`, `p${newId().slice(-12)}`, '+1', 'Line', '');
    channel.businessTokenCiphertext = new SecretBox(config.encryptionKey).encrypt('t', channel.id);
    const broadcast = new Broadcast(org.id, channel.id, { name: 'hello_world', language: 'en_US', category: 'UTILITY' }, {});
    await em.persistAndFlush([org, channel, broadcast]);
    const client = new Client({ connection });
    const handle = client.workflow.getHandle(broadcastWorkflowId(org.id, broadcast.id));
    await expect(handle.describe()).rejects.toThrow();

    const result = await run<{ resumedBroadcasts: number }>('maintenanceWorkflow', client);
    expect(result.resumedBroadcasts).toBeGreaterThanOrEqual(1);
    const started = await handle.describe();
    expect(started.type).toBe('broadcastWorkflow');
    await handle.terminate('test over');
    // Nothing left running for other files' maintenance passes to pick up.
    await orm.em.fork().nativeUpdate(Broadcast, { id: broadcast.id }, { status: 'completed' }, UNSCOPED);
  });
});

describe('templateSyncWorkflow', () => {
  it('re-syncs every active channel and keeps going when one channel fails', async () => {
    const em = orm.em.fork();
    const org = new Organization('Sync test', []);
    const box = new SecretBox(config.encryptionKey);
    const good = new Channel(org.id, 'Good', `w${newId().slice(-12)}`, `p${newId().slice(-12)}`, '+1', 'Good', '');
    const broken = new Channel(org.id, 'Broken', `w${newId().slice(-12)}`, `p${newId().slice(-12)}`, '+1', 'Broken', '');
    good.businessTokenCiphertext = box.encrypt('t1', good.id);
    broken.businessTokenCiphertext = box.encrypt('t2', broken.id);
    await em.persistAndFlush([org, good, broken]);
    await em.persistAndFlush(new Template(org.id, good.id, 'old', 'retired', 'en_US', 'APPROVED', 'UTILITY', 'POSITIONAL', []));
    metaTemplates.set(good.wabaId, [
      { id: '1', name: 'hello_world', language: 'en_US', status: 'APPROVED', category: 'UTILITY', components: [{ type: 'BODY', text: 'Hello' }] },
      { id: '2', name: 'promo', language: 'es', status: 'PAUSED', category: 'MARKETING', components: [{ type: 'BODY', text: 'Hola {{1}}' }] },
    ]);

    const result = await run<{ channels: number; failed: number }>('templateSyncWorkflow');
    expect(result.failed).toBeGreaterThanOrEqual(1);
    const stored = await orm.em.fork().find(Template, { channel: good.id }, { ...UNSCOPED, orderBy: { name: 'asc' } });
    expect(stored.map((t) => [t.name, t.language, t.status])).toEqual([
      ['hello_world', 'en_US', 'APPROVED'],
      ['promo', 'es', 'PAUSED'],
    ]);
  });
});
