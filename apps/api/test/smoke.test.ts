import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, installApp, startTestApi, type TestApi } from '../../../test/support/api';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

describe('smoke', () => {
  it('creates a tenant and a partner token', async () => {
    const t = await createTenant(api);
    const { accessToken } = await installApp(api, t, t);
    const me = await api.call('GET', '/v1/me', { token: accessToken });
    expect(me.status).toBe(200);
    expect(me.body.kind).toBe('installation');
  });
});
