import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { BroadcastRecipient, UNSCOPED } from '@parley/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, TEST_SECRETS } from '../../../test/support/api';
import { eventually, startTestPlatform, type TestPlatform } from '../../../test/support/platform';

const root = path.resolve(import.meta.dirname, '../../..');
let p: TestPlatform;
const workers: ChildProcess[] = [];

beforeAll(async () => {
  p = await startTestPlatform({ worker: false });
});
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  await p.close();
});

/** A worker in its own process, so the test can kill it as a crash would. */
async function startWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/broadcast-worker.ts'], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: p.api.config.database.url,
      TEMPORAL_ADDRESS: p.api.config.temporal.address,
      TEMPORAL_TASK_QUEUE: p.taskQueue,
      META_GRAPH_URL: p.sandbox.url,
      META_APP_ID: 'test-app',
      ...TEST_SECRETS,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  workers.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('worker ready') && resolve());
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
  });
  return child;
}

/**
 * A tenant with a channel at 150 sends a second and a 40 ms sandbox, a worker process, and a
 * running broadcast to `count` numbers; resolves once `sentBefore` of them were sent.
 */
async function broadcastUnderWay(line: { code: string; wabaId: string; phoneNumberId: string }, count: number, prefix: string, sentBefore: number) {
  const tenant = await createTenant(p.api);
  const channel = await p.api.call('POST', '/v1/channels/whatsapp', { token: tenant.adminToken, body: { ...line, label: 'Line' } });
  expect(channel.status).toBe(201);
  await p.api.call('PATCH', `/v1/channels/${channel.body.id}`, { token: tenant.adminToken, body: { messagesPerSecond: 150 } });
  p.sandbox.setLatency(40);

  const phones = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
  const worker = await startWorker();
  const created = await p.api.call('POST', '/v1/broadcasts', {
    token: tenant.adminToken,
    body: { template: { name: 'hello_world', language: 'en_US' }, users: phones.map((phone) => ({ phone })) },
  });
  expect(created.status).toBe(202);
  const sentTo = () => new Set(p.sandbox.sends({ phoneNumberId: line.phoneNumberId }).map((s) => s.to));
  await eventually(async () => (sentTo().size >= sentBefore ? true : undefined), 30_000, `${sentBefore} sends`);
  return { tenant, worker, broadcastId: created.body.id as string, sentTo };
}

describe('a worker killed mid-broadcast', () => {
  it('never sends a recipient twice and forgets none; only sends in flight at the kill may pass through unknown', async () => {
    const { tenant, worker: first, broadcastId, sentTo } = await broadcastUnderWay({ code: 'crash-code', wabaId: '900000000001', phoneNumberId: '900000000002' }, 500, '+1212555', 120);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const atKill = sentTo().size;

    const second = await startWorker();
    const done = await eventually(async () => {
      const res = await p.api.call('GET', `/v1/broadcasts/${broadcastId}`, { token: tenant.adminToken });
      return res.body.status === 'completed' ? res.body : undefined;
    }, 90_000, 'completion after restart');
    await p.sandbox.waitForIdle(10_000);
    await p.api.app.services.metaProcessor.settle();

    // The sandbox's own log: no recipient was sent to twice.
    const sends = p.sandbox.sends({ phoneNumberId: '900000000002' });
    const perRecipient = new Map<string, number>();
    for (const s of sends) perRecipient.set(s.to, (perRecipient.get(s.to) ?? 0) + 1);
    expect([...perRecipient.values()].filter((n) => n > 1)).toEqual([]);
    expect(atKill).toBeLessThan(500);

    // Every recipient ended in exactly one final status; none is still pending.
    const rows = await p.api.orm.em.fork().find(BroadcastRecipient, { broadcast: broadcastId }, UNSCOPED);
    expect(rows).toHaveLength(500);
    const final = new Set(['sent', 'delivered', 'read', 'failed', 'skipped', 'unknown']);
    expect(rows.filter((r) => !final.has(r.status))).toEqual([]);
    // Whoever got a send is recorded as sent (or further) or unknown; whoever got none was never claimed as sent.
    for (const r of rows) {
      const wa = r.phone.replace('+', '');
      const got = perRecipient.get(wa) ?? perRecipient.get(r.phone) ?? 0;
      if (got === 0) expect(['unknown', 'failed']).toContain(r.status);
      // A send Meta accepted is settled by its status webhooks even when the worker died before recording it.
      else expect(['sent', 'delivered', 'read']).toContain(r.status);
    }
    // Only what was in flight when the process died could be unknown (bounded by the send concurrency).
    const unknown = rows.filter((r) => r.status === 'unknown');
    expect(unknown.length).toBeLessThanOrEqual(512);

    const stats = done.statistics;
    expect(stats.total).toBe(500);
    expect(stats.pending + stats.sent + stats.delivered + stats.read + stats.failed + stats.skipped + stats.unknown).toBe(500);
    expect(stats.pending).toBe(0);
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
  }, 150_000);

  it('a worker stopped with SIGTERM finishes the sends it has out and leaves no recipient in doubt', async () => {
    const { tenant, worker: first, broadcastId, sentTo } = await broadcastUnderWay({ code: 'stop-code', wabaId: '900000000011', phoneNumberId: '900000000012' }, 400, '+1212556', 100);
    first.kill('SIGTERM');
    const exit = await new Promise<number | null>((r) => first.once('exit', (code) => r(code)));
    expect(exit).toBe(0);
    const atStop = sentTo().size;
    expect(atStop).toBeLessThan(400);

    // Nothing the stopped worker claimed is left in doubt: every claim was sent and recorded, or never made.
    const afterStop = await p.api.orm.em.fork().find(BroadcastRecipient, { broadcast: broadcastId }, UNSCOPED);
    expect(afterStop.filter((r) => r.status === 'sending' || r.status === 'unknown').map((r) => [r.id, r.status, r.updatedAt])).toEqual([]);
    expect(afterStop.filter((r) => ['sent', 'delivered', 'read'].includes(r.status))).toHaveLength(atStop);

    await startWorker();
    const done = await eventually(async () => {
      const res = await p.api.call('GET', `/v1/broadcasts/${broadcastId}`, { token: tenant.adminToken });
      return res.body.status === 'completed' ? res.body : undefined;
    }, 90_000, 'completion after restart');
    const perRecipient = new Map<string, number>();
    for (const s of p.sandbox.sends({ phoneNumberId: '900000000012' })) perRecipient.set(s.to, (perRecipient.get(s.to) ?? 0) + 1);
    expect(perRecipient.size).toBe(400);
    expect([...perRecipient.values()].filter((n) => n > 1)).toEqual([]);
    expect(done.statistics).toMatchObject({ total: 400, pending: 0, unknown: 0, failed: 0 });
  }, 150_000);
});
