import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTenant, startTestApi, TEST_SECRETS, type TestApi } from '../../../test/support/api';
import { Receiver, testDispatcher, waitFor, writeEvents } from './webhook-support';

const here = path.dirname(fileURLToPath(import.meta.url));
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ env: { ALLOW_INSECURE_WEBHOOKS: 'true' } });
});
afterAll(async () => {
  await api.close();
});

it('loses nothing when the delivering process is killed mid-delivery, and repeats only under the same webhook-id', async () => {
  const t = await createTenant(api);
  const r = await Receiver.start();
  try {
    const created = await api.call('POST', '/v1/webhooks', { token: t.adminToken, body: { url: r.url, events: ['conversation'] } });
    expect(created.status, created.text).toBe(201);
    r.secrets = [created.body.secret];
    // While the first process runs, every request is held: it dies with its attempts in flight.
    let holding = true;
    r.answer = () => (holding ? { status: 200, delayMs: 60_000 } : { status: 200 });
    const succeeded = async () =>
      (
        await api.orm.em
          .fork()
          .getConnection()
          .execute<{ n: number }[]>(`select count(*)::int as n from webhook_deliveries where organization_id = ? and status = 'succeeded'`, [t.organizationId])
      )[0]!.n;
    const ids = await writeEvents(api, t.organizationId, 30, new Date());

    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures/webhook-dispatcher-process.ts')], {
      env: {
        ...process.env,
        ...TEST_SECRETS,
        NODE_ENV: 'test',
        DATABASE_URL: api.config.database.url!,
        ALLOW_INSECURE_WEBHOOKS: 'true',
        DISPATCH_ORGANIZATIONS: JSON.stringify([t.organizationId]),
        DISPATCH_LEASE_MS: '2000',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await waitFor(() => r.received.length >= 4, 20_000, 'the first process to start delivering');
    child.kill('SIGKILL');
    await exited;
    const inFlightAtKill = new Set(r.received.map((x) => x.webhookId));
    holding = false;

    const { dispatcher, http } = testDispatcher(api, [t.organizationId], undefined, { leaseMs: 2000 });
    dispatcher.start();
    try {
      // Including those the dead process held: their leases expire, then they go again.
      await waitFor(async () => (await succeeded()) === ids.length, 20_000, 'every delivery to succeed after the kill');
    } finally {
      await dispatcher.stop();
      http.close();
    }
    expect(r.ids()).toEqual(new Set(ids));
    expect(r.received.every((x) => x.verifiedWith !== null)).toBe(true);
    // Repeats are exactly the attempts the dead process had under way, under the same webhook-id.
    const counts = new Map<string, number>();
    for (const x of r.received) counts.set(x.webhookId, (counts.get(x.webhookId) ?? 0) + 1);
    const repeated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    expect(repeated.length).toBeGreaterThan(0);
    for (const id of repeated) expect(inFlightAtKill.has(id)).toBe(true);
    expect(Math.max(...counts.values())).toBe(2);
  } finally {
    await r.close();
  }
});
