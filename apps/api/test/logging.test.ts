import { Writable } from 'node:stream';
import { createLogger } from '@parley/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, startTestApi, type TestApi } from '../../../test/support/api';

const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    done();
  },
});

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ logger: createLogger({ level: 'info', name: 'api', destination: sink }) });
});
afterAll(async () => api.close());

describe('request logs', () => {
  it('are JSON lines with the request id and organization id, and never the bearer token', async () => {
    const tenant = await createTenant(api);
    const res = await api.call('GET', '/v1/me', { token: tenant.adminToken, headers: { 'x-request-id': 'trace-me-123' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('trace-me-123');
    await new Promise((r) => setTimeout(r, 50));
    const line = lines.find((l) => l.requestId === 'trace-me-123' && l.msg === 'request');
    expect(line).toMatchObject({ method: 'GET', path: '/v1/me', status: 200, organizationId: tenant.organizationId });
    const everything = JSON.stringify(lines);
    expect(everything).not.toContain(tenant.adminToken);
    expect(everything).not.toContain(api.config.platformAdminToken);
  });

  it('log a 500 with its error but answer without internals', async () => {
    const tenant = await createTenant(api);
    // Pulling the database out from under a request is the kind of failure that must not leak.
    const broken = api.app.services.users;
    const original = broken.list.bind(broken);
    broken.list = async () => {
      throw new Error('connection to database lost: secret-internal-detail');
    };
    try {
      const res = await api.call('GET', '/v1/users', { token: tenant.adminToken, headers: { 'x-request-id': 'boom-1' } });
      expect(res.status).toBe(500);
      expect(res.body.code).toBe('internal_error');
      expect(res.text).not.toContain('secret-internal-detail');
      await new Promise((r) => setTimeout(r, 50));
      const errorLine = lines.find((l) => l.requestId === 'boom-1' && l.msg === 'unhandled error');
      expect(JSON.stringify(errorLine)).toContain('secret-internal-detail');
    } finally {
      broken.list = original;
    }
  });
});
