import { UNSCOPED, User } from '@parley/db';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, PASSWORD, serveProbe, startTestApi, type Answer, type TestApi, type Tenant, uniqueEmail } from '../../../test/support/api';
import { route } from '../src/http/route';
import { countRows, expectProblem } from './helpers';

/**
 * An `Idempotency-Key` and the writes it speaks for commit together: a request that dies after
 * its writes leaves neither, so a retry does the work once; a duplicate arriving meanwhile waits
 * and replays. The probe route creates a user through the real service (which opens its own
 * transaction), then does what the test scripts: answer, throw, or wait to be let go.
 */

let api: TestApi;
let probe: Awaited<ReturnType<typeof serveProbe>>;
type Step = 'answer' | 'throw' | 'wait';
let next: Step[] = [];
const gates: { reached: () => void; release: Promise<void> }[] = [];

function gate(): { reached: Promise<void>; release: () => void } {
  let reached!: () => void;
  let release!: () => void;
  const reachedP = new Promise<void>((r) => (reached = r));
  gates.push({ reached, release: new Promise<void>((r) => (release = r)) });
  return { reached: reachedP, release };
}

beforeAll(async () => {
  api = await startTestApi();
  const services = api.app.services;
  probe = await serveProbe(api, [
    route({
      method: 'post',
      path: '/probe/users',
      operationId: 'probeCreateUser',
      summary: 'probe',
      tag: 'Probe',
      auth: 'tenant',
      permission: 'users:manage',
      idempotent: true,
      body: z.object({ email: z.string() }).strict(),
      responses: { 201: { description: 'created' } },
      handler: async ({ body, tenant }) => {
        const user = await services.users.create(tenant(), { email: body.email, password: PASSWORD, name: 'Probe', role: 'agent' });
        const step = next.shift() ?? 'answer';
        if (step === 'throw') throw new Error('the process died here');
        if (step === 'wait') {
          const g = gates.shift()!;
          g.reached();
          await g.release;
        }
        return { status: 201, body: user };
      },
    }),
  ]);
});
afterAll(async () => {
  await probe.close();
  await api.close();
});

async function create(t: Tenant, email: string, key: string): Promise<Answer> {
  return probe.call('POST', '/probe/users', { token: t.adminToken, body: { email }, headers: { 'idempotency-key': key } });
}

const usersNamed = (email: string) => api.orm.em.fork().count(User, { email }, UNSCOPED);
const keysNamed = (key: string) => countRows(api, 'select count(*)::int as n from idempotency_keys where key = ?', [key]);

describe('an Idempotency-Key commits with its side effects', () => {
  it('leaves neither the key nor the write when the handler dies after writing; the retry writes once', async () => {
    const t = await createTenant(api);
    const email = uniqueEmail('crash');
    next = ['throw'];
    expectProblem(await create(t, email, 'crash-1'), 500, 'internal_error');
    expect(await usersNamed(email)).toBe(0);
    expect(await keysNamed('crash-1')).toBe(0);

    // The client retries at once (no 5-minute wait for an abandoned claim) and the work is done once.
    const retry = await create(t, email, 'crash-1');
    expect(retry.status, retry.text).toBe(201);
    const replay = await create(t, email, 'crash-1');
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotency-replayed')).toBe('true');
    expect(replay.body.id).toBe(retry.body.id);
    expect(await usersNamed(email)).toBe(1);
    expect(await keysNamed('crash-1')).toBe(1);
  });

  it('leaves nothing when the connection is killed mid-request, as when the API process dies', async () => {
    const t = await createTenant(api);
    const email = uniqueEmail('killed');
    const g = gate();
    next = ['wait'];
    const first = create(t, email, 'killed-1');
    await g.reached;
    // The user row and the key are written, not committed: the backend holding them dies.
    const killed = await countRows(
      api,
      `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and state like 'idle in transaction%' and backend_xid is not null`,
      [],
    );
    expect(killed).toBeGreaterThanOrEqual(1);
    g.release();
    expect((await first).status).toBe(500);
    expect(await usersNamed(email)).toBe(0);
    expect(await keysNamed('killed-1')).toBe(0);

    const retry = await create(t, email, 'killed-1');
    expect(retry.status, retry.text).toBe(201);
    expect(await usersNamed(email)).toBe(1);
  });

  it('makes a concurrent duplicate wait for the first and replay its answer, writing once', async () => {
    const t = await createTenant(api);
    const email = uniqueEmail('dup');
    const g = gate();
    next = ['wait'];
    const first = create(t, email, 'dup-1');
    await g.reached;
    let secondDone = false;
    const second = create(t, email, 'dup-1').finally(() => (secondDone = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(secondDone).toBe(false);
    g.release();
    const [a, b] = await Promise.all([first, second]);
    expect(a.status, a.text).toBe(201);
    expect(b.status, b.text).toBe(201);
    expect(b.headers.get('idempotency-replayed')).toBe('true');
    expect(b.body).toEqual(a.body);
    expect(await usersNamed(email)).toBe(1);
  });

  it('answers a duplicate that waited past the database’s lock timeout with 409 idempotency_request_in_progress, not 500', async () => {
    const t = await createTenant(api);
    const email = uniqueEmail('slow');
    const g = gate();
    next = ['wait'];
    const first = create(t, email, 'slow-1');
    await g.reached;
    // The default lock timeout is 10 s (DATABASE_LOCK_TIMEOUT_MS).
    expectProblem(await create(t, email, 'slow-1'), 409, 'idempotency_request_in_progress');
    g.release();
    expect((await first).status).toBe(201);
    expect((await create(t, email, 'slow-1')).headers.get('idempotency-replayed')).toBe('true');
    expect(await usersNamed(email)).toBe(1);
  }, 30_000);

  it('runs a duplicate afresh when the first died, and still refuses the key with another body', async () => {
    const t = await createTenant(api);
    const email = uniqueEmail('afresh');
    next = ['throw'];
    const [a, b] = await Promise.all([create(t, email, 'afresh-1'), create(t, email, 'afresh-1')]);
    const statuses = [a.status, b.status].sort();
    // One ran and died; the other either waited and ran afresh or came first and succeeded.
    expect(statuses).toEqual([201, 500]);
    expect(await usersNamed(email)).toBe(1);
    expectProblem(await create(t, uniqueEmail('other'), 'afresh-1'), 422, 'idempotency_key_reused');
  });
});
