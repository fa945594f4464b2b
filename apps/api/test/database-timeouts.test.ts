import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createTenant, startTestApi, type TestApi, type Tenant } from '../../../test/support/api';
import { insertChannel } from '../../../test/support/channels';
import { expectProblem } from './helpers';

let api: TestApi;
let t: Tenant;
let conversationId: string;
beforeAll(async () => {
  api = await startTestApi({ env: { DATABASE_LOCK_TIMEOUT_MS: '200' } });
  t = await createTenant(api);
  await insertChannel(api, t.organizationId);
  const upsert = await api.call('POST', '/v1/conversations', { token: t.adminToken, body: { type: 'contact', contact: { profile: { telephone: '+14155550160' } } } });
  expect(upsert.status, upsert.text).toBe(201);
  conversationId = upsert.body.id;
});
afterAll(async () => api.close());

it('a request whose statement gives up waiting for a lock is answered 503 database_busy with Retry-After, and the next one succeeds', async () => {
  const holder = new pg.Client({ connectionString: inject('databaseUrl') });
  await holder.connect();
  try {
    // Only this conversation's row is held, so nothing else running against the database waits.
    await holder.query('begin');
    await holder.query('select 1 from conversations where id = $1 for update', [conversationId]);
    const started = Date.now();
    const res = await api.call('PATCH', `/v1/conversations/${conversationId}`, { token: t.adminToken, body: { status: 'resolved' } });
    expect(Date.now() - started).toBeLessThan(5_000);
    expectProblem(res, 503, 'database_busy');
    expect(res.headers.get('retry-after')).toBe('1');
  } finally {
    await holder.query('rollback');
    await holder.end();
  }
  const retried = await api.call('PATCH', `/v1/conversations/${conversationId}`, { token: t.adminToken, body: { status: 'resolved' } });
  expect(retried.status, retried.text).toBe(200);
});
