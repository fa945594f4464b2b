import { ManualClock, sha256Hex } from '@parley/core';
import { Installation, RefreshToken, TokenFamily, UNSCOPED, User, App } from '@parley/db';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createTenant,
  installApp,
  PASSWORD,
  serveProbe,
  startTestApi,
  type Answer,
  type Tenant,
  type TestApi,
  uniqueEmail,
} from '../../../test/support/api';
import { route } from '../src/http/route';
import { claimsOf, DAY, expectProblem, forge } from './helpers';
import { SCOPES } from '@parley/domain';

let api: TestApi;
const clock = new ManualClock();

beforeAll(async () => {
  api = await startTestApi({ clock });
});
afterAll(async () => api.close());
beforeEach(() => clock.set(new Date()));

const me = (token: string) => api.call('GET', '/v1/me', { token });
const refresh = (token: string) =>
  api.call('POST', '/v1/auth/token', { body: { grant_type: 'refresh_token', refresh_token: token } });
const issueTokens = (t: Tenant, installationId: string) =>
  api.call('POST', `/v1/installations/${installationId}/tokens`, { token: t.adminToken });

async function familiesOf(installationId: string) {
  return api.orm.em.fork().find(TokenFamily, { subjectKind: 'installation', subjectId: installationId }, UNSCOPED);
}

describe('partner token lifetimes', () => {
  it('issues a 30-day access token and a 90-day refresh token', async () => {
    const t = await createTenant(api);
    const { installationId } = await installApp(api, t, t);
    const pair = await issueTokens(t, installationId);
    expect(pair.status).toBe(201);
    expect(pair.body).toMatchObject({ expiresIn: 30 * 24 * 3600, refreshExpiresIn: 90 * 24 * 3600, tokenType: 'Bearer' });
    const claims = claimsOf(pair.body.accessToken);
    expect(claims).toMatchObject({ kind: 'installation', sub: installationId, org: t.organizationId });
    expect((claims.exp as number) - (claims.iat as number)).toBe(30 * 24 * 3600);
    const stored = await api.orm.em.fork().findOneOrFail(RefreshToken, { tokenHash: sha256Hex(pair.body.refreshToken) }, UNSCOPED);
    expect(stored.expiresAt.getTime() - stored.createdAt.getTime()).toBe(90 * DAY);
  });

  it('accepts the access token at 29 days and answers token_expired after 30', async () => {
    const t = await createTenant(api);
    const partner = await installApp(api, t, t);
    clock.advance(29 * DAY);
    const valid = await me(partner.accessToken);
    expect(valid.status).toBe(200);
    expect(valid.body.installationId).toBe(partner.installationId);

    clock.advance(DAY + 1000);
    expectProblem(await me(partner.accessToken), 401, 'token_expired');
  });

  it('rotates a refresh token at 89 days and refuses one after 90 days', async () => {
    const t = await createTenant(api);
    const partner = await installApp(api, t, t);
    const second = await issueTokens(t, partner.installationId);
    expect(second.status).toBe(201);

    clock.advance(89 * DAY);
    const rotated = await refresh(partner.refreshToken);
    expect(rotated.status).toBe(200);
    expect((await me(rotated.body.accessToken)).body.installationId).toBe(partner.installationId);

    clock.advance(DAY + 1000);
    expectProblem(await refresh(second.body.refreshToken), 401, 'token_expired');
    // The pair rotated at day 89 lives on its own 90 days.
    expect((await refresh(rotated.body.refreshToken)).status).toBe(200);
  });

  it('keeps refusing an expired refresh token as expired, without treating the retry as theft', async () => {
    const t = await createTenant(api);
    const first = await installApp(api, t, t);

    // A second, later grant for the same installation, e.g. another partner server.
    clock.advance(20 * DAY);
    const admin = await refresh(t.adminRefreshToken);
    expect(admin.status).toBe(200);
    const later = await api.call('POST', `/v1/installations/${first.installationId}/tokens`, { token: admin.body.accessToken });
    expect(later.status).toBe(201);

    clock.advance(70 * DAY + 1000);
    expectProblem(await refresh(first.refreshToken), 401, 'token_expired');
    expectProblem(await refresh(first.refreshToken), 401, 'token_expired');

    const families = await familiesOf(first.installationId);
    expect(families.map((f) => f.revokedAt ?? null)).toEqual([null, null]);
    expect((await refresh(later.body.refreshToken)).status).toBe(200);
  });
});

describe('partner refresh rotation', () => {
  it('returns a new pair and retires the old refresh token', async () => {
    const t = await createTenant(api);
    const partner = await installApp(api, t, t);
    const res = await refresh(partner.refreshToken);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ expiresIn: 30 * 24 * 3600, refreshExpiresIn: 90 * 24 * 3600, tokenType: 'Bearer' });
    expect(res.body.refreshToken).not.toBe(partner.refreshToken);
    const who = await me(res.body.accessToken);
    expect(who.body).toMatchObject({ kind: 'installation', installationId: partner.installationId, scopes: ['conversations:read', 'messages:write'] });
    // Rotation does not cut off the access token already held.
    expect((await me(partner.accessToken)).status).toBe(200);

    const em = api.orm.em.fork();
    const old = await em.findOneOrFail(RefreshToken, { tokenHash: sha256Hex(partner.refreshToken) }, UNSCOPED);
    expect(old.retiredAt).toBeInstanceOf(Date);
    expect(await em.count(RefreshToken, { family: old.family, retiredAt: null }, UNSCOPED)).toBe(1);
  });

  it('revokes every token of the installation when a retired refresh token comes back', async () => {
    const t = await createTenant(api);
    const partner = await installApp(api, t, t);
    const otherGrant = await issueTokens(t, partner.installationId);
    const neighbour = await installApp(api, t, t, { tags: ['other'] });

    const first = await refresh(partner.refreshToken);
    const second = await refresh(first.body.refreshToken);
    expect(second.status).toBe(200);

    expectProblem(await refresh(partner.refreshToken), 401, 'refresh_token_reused');

    for (const token of [partner.accessToken, first.body.accessToken, second.body.accessToken, otherGrant.body.accessToken]) {
      expectProblem(await me(token), 401, 'unauthorized');
    }
    expect((await refresh(second.body.refreshToken)).status).toBe(401);
    expect((await refresh(otherGrant.body.refreshToken)).status).toBe(401);

    const families = await familiesOf(partner.installationId);
    expect(families).toHaveLength(2);
    for (const f of families) expect(f).toMatchObject({ revokedAt: expect.any(Date), revokedReason: 'refresh_token_reused' });

    // Only that installation: another installation and the admin keep working.
    expect((await me(neighbour.accessToken)).status).toBe(200);
    expect((await me(t.adminToken)).status).toBe(200);
    // The installation itself stays; the admin can grant it fresh tokens.
    const inst = await api.call('GET', `/v1/installations/${partner.installationId}`, { token: t.adminToken });
    expect(inst.body.status).toBe('active');
    const fresh = await issueTokens(t, partner.installationId);
    expect((await me(fresh.body.accessToken)).status).toBe(200);
  });

  it('lets exactly one of eight concurrent refreshes of one token win', async () => {
    const t = await createTenant(api);
    const partner = await installApp(api, t, t);
    const answers = await Promise.all(Array.from({ length: 8 }, () => refresh(partner.refreshToken)));

    const winners = answers.filter((a) => a.status === 200);
    const losers = answers.filter((a) => a.status !== 200);
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(7);
    for (const loser of losers) expectProblem(loser, 401, 'refresh_token_reused');

    // One new refresh token was minted, and the reuse revoked it with everything else.
    const em = api.orm.em.fork();
    const old = await em.findOneOrFail(RefreshToken, { tokenHash: sha256Hex(partner.refreshToken) }, UNSCOPED);
    expect(await em.count(RefreshToken, { family: old.family }, UNSCOPED)).toBe(2);
    const winner = winners[0]!.body;
    expectProblem(await me(winner.accessToken), 401, 'unauthorized');
    expect((await refresh(winner.refreshToken)).status).toBe(401);
  });
});

describe('uninstalling', () => {
  it('revokes the partner’s tokens at once and marks the installation uninstalled', async () => {
    const t = await createTenant(api);
    const partner = await installApp(api, t, t);
    expect((await me(partner.accessToken)).status).toBe(200);

    const del = await api.call('DELETE', `/v1/installations/${partner.installationId}`, { token: t.adminToken });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');

    expectProblem(await me(partner.accessToken), 401, 'unauthorized');
    expectProblem(await refresh(partner.refreshToken), 401, 'unauthorized');

    const inst = await api.call('GET', `/v1/installations/${partner.installationId}`, { token: t.adminToken });
    expect(inst.status).toBe(200);
    expect(inst.body).toMatchObject({ id: partner.installationId, status: 'uninstalled', uninstalledAt: expect.any(String) });
    const listed = await api.call('GET', '/v1/installations?status=uninstalled', { token: t.adminToken });
    expect(listed.body.data.map((i: { id: string }) => i.id)).toEqual([partner.installationId]);
    const active = await api.call('GET', '/v1/installations?status=active', { token: t.adminToken });
    expect(active.body.data).toEqual([]);

    const families = await familiesOf(partner.installationId);
    expect(families).toHaveLength(1);
    expect(families[0]).toMatchObject({ revokedAt: expect.any(Date), revokedReason: 'uninstalled' });

    // No new tokens for an uninstalled installation; uninstalling again changes nothing.
    expectProblem(await issueTokens(t, partner.installationId), 404, 'not_found');
    expect((await api.call('DELETE', `/v1/installations/${partner.installationId}`, { token: t.adminToken })).status).toBe(204);
  });

  it('allows reinstalling afterwards, with fresh tokens that work and old ones that stay dead', async () => {
    const t = await createTenant(api);
    const partner = await installApp(api, t, t);
    expect((await api.call('DELETE', `/v1/installations/${partner.installationId}`, { token: t.adminToken })).status).toBe(204);

    const again = await api.call('POST', '/v1/installations', {
      token: t.adminToken,
      body: { appId: partner.appId, scopes: ['conversations:read'] },
    });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ appId: partner.appId, status: 'active', scopes: ['conversations:read'] });
    expect(again.body.id).not.toBe(partner.installationId);

    const tokens = await issueTokens(t, again.body.id);
    expect((await me(tokens.body.accessToken)).body).toMatchObject({ installationId: again.body.id, scopes: ['conversations:read'] });
    expectProblem(await me(partner.accessToken), 401, 'unauthorized');
  });

  it('refuses a second active installation of the same app with 409 already_installed', async () => {
    const t = await createTenant(api);
    const partner = await installApp(api, t, t);
    const dup = await api.call('POST', '/v1/installations', {
      token: t.adminToken,
      body: { appId: partner.appId, scopes: ['conversations:read'] },
    });
    expectProblem(dup, 409, 'already_installed');
    const count = await api.orm.em.fork().count(Installation, { organization: t.organizationId, app: partner.appId }, UNSCOPED);
    expect(count).toBe(1);
  });

  it('lets no other organization read, uninstall or mint tokens for an installation', async () => {
    const t = await createTenant(api);
    const partner = await installApp(api, t, t);
    const stranger = await createTenant(api);
    const path = `/v1/installations/${partner.installationId}`;

    const read = await api.call('GET', path, { token: stranger.adminToken });
    const missing = await api.call('GET', '/v1/installations/01900000-0000-7000-8000-000000000000', { token: stranger.adminToken });
    expectProblem(read, 404, 'not_found');
    expect(read.body.detail).toBe(missing.body.detail);
    expectProblem(await api.call('DELETE', path, { token: stranger.adminToken }), 404, 'not_found');
    expectProblem(await issueTokens(stranger, partner.installationId), 404, 'not_found');
    expectProblem(await api.call('GET', '/v1/installations/not-an-id', { token: stranger.adminToken }), 404, 'not_found');
    expect((await api.call('GET', '/v1/installations', { token: stranger.adminToken })).body.data).toEqual([]);

    expect((await me(partner.accessToken)).status).toBe(200);
    expect(await familiesOf(partner.installationId)).toHaveLength(1);
    const inst = await api.orm.em.fork().findOneOrFail(Installation, { id: partner.installationId }, UNSCOPED);
    expect(inst.status).toBe('active');
  });
});

describe('partner scopes', () => {
  it('must be a subset of the app’s scopes', async () => {
    const publisher = await createTenant(api);
    const app = await api.call('POST', '/v1/apps', {
      token: publisher.adminToken,
      body: { name: 'Reader', description: '', tags: ['general'], scopes: ['conversations:read', 'messages:write'] },
    });
    expect(app.status).toBe(201);

    const res = await api.call('POST', '/v1/installations', {
      token: publisher.adminToken,
      body: { appId: app.body.id, scopes: ['conversations:read', 'templates:read', 'webhooks:write'] },
    });
    expectProblem(res, 400, 'validation_error');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['scopes.1', 'scopes.2']);

    const unknown = await api.call('POST', '/v1/installations', {
      token: publisher.adminToken,
      body: { appId: app.body.id, scopes: ['users:manage'] },
    });
    expectProblem(unknown, 400, 'validation_error');
    expect(unknown.body.errors[0].path).toBe('scopes.0');

    const none = await api.call('POST', '/v1/installations', { token: publisher.adminToken, body: { appId: app.body.id, scopes: [] } });
    expectProblem(none, 400, 'validation_error');

    expect(await api.orm.em.fork().count(Installation, { app: app.body.id }, UNSCOPED)).toBe(0);
  });

  it('keeps partner tokens out of every management route', async () => {
    const t = await createTenant(api);
    const partner = await installApp(api, t, t, {
      appScopes: [...SCOPES],
      grant: [...SCOPES],
    });
    const token = partner.accessToken;
    const attempts = [
      api.call('POST', '/v1/users', { token, body: { email: uniqueEmail(), password: PASSWORD, name: 'Bot admin', role: 'admin' } }),
      api.call('GET', '/v1/users', { token }),
      api.call('POST', '/v1/apps', { token, body: { name: 'X', description: '', tags: ['general'], scopes: ['conversations:read'] } }),
      api.call('GET', '/v1/apps', { token }),
      api.call('GET', `/v1/apps/${partner.appId}`, { token }),
      api.call('POST', '/v1/installations', { token, body: { appId: partner.appId, scopes: ['conversations:read'] } }),
      api.call('GET', '/v1/installations', { token }),
      api.call('GET', `/v1/installations/${partner.installationId}`, { token }),
      api.call('POST', `/v1/installations/${partner.installationId}/tokens`, { token }),
      api.call('DELETE', `/v1/installations/${partner.installationId}`, { token }),
      api.call('POST', '/v1/organizations', { token, body: { name: 'X', admin: { email: uniqueEmail(), password: PASSWORD } } }),
    ];
    for (const answer of await Promise.all(attempts)) expectProblem(answer, 403, 'forbidden');

    const em = api.orm.em.fork();
    expect(await em.count(User, { organization: t.organizationId }, UNSCOPED)).toBe(1);
    expect(await em.count(App, { organization: t.organizationId }, UNSCOPED)).toBe(1);
    expect(await em.count(Installation, { organization: t.organizationId }, UNSCOPED)).toBe(1);
    expect(await familiesOf(partner.installationId)).toHaveLength(1);
    expect((await me(token)).status).toBe(200);
  });

  describe('on routes that demand a scope', () => {
    // The API's own routes demand management permissions only, so a probe app mounts routes
    // that demand plain scopes through the same `mount` and the real token service.
    let probe: Awaited<ReturnType<typeof serveProbe>>;
    beforeAll(async () => {
      const probeRoute = (path: string, permission: 'templates:read' | 'messages:write') =>
        route({
          method: 'get',
          path,
          operationId: path,
          summary: 'probe',
          tag: 'Probe',
          auth: 'tenant',
          permission,
          responses: { 200: { description: 'ok' } },
          handler: async ({ tenant }) => ({ status: 200, body: { organizationId: tenant().organizationId } }),
        });
      probe = await serveProbe(api, [probeRoute('/probe/templates', 'templates:read'), probeRoute('/probe/messages', 'messages:write')]);
    });
    afterAll(async () => probe.close());

    const get = (path: string, token: string): Promise<Answer> => probe.call('GET', path, { token });

    it('answers 403 to a partner token lacking the scope and 200 to one holding it', async () => {
      const t = await createTenant(api);
      const partner = await installApp(api, t, t, {
        appScopes: ['messages:write', 'templates:read'],
        grant: ['messages:write'],
      });
      expectProblem(await get('/probe/templates', partner.accessToken), 403, 'forbidden');
      const allowed = await get('/probe/messages', partner.accessToken);
      expect(allowed.status).toBe(200);
      expect(allowed.body.organizationId).toBe(t.organizationId);
    });

    it('follows roles for users: an agent lacks templates:read, an admin holds it', async () => {
      const t = await createTenant(api);
      const email = uniqueEmail('agent');
      await api.call('POST', '/v1/users', { token: t.adminToken, body: { email, password: PASSWORD, name: 'Agent', role: 'agent' } });
      const agent = await api.call('POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
      expectProblem(await get('/probe/templates', agent.body.accessToken), 403, 'forbidden');
      expect((await get('/probe/messages', agent.body.accessToken)).status).toBe(200);
      expect((await get('/probe/templates', t.adminToken)).status).toBe(200);
    });

    it('never grants a token more than its installation holds, whatever the token claims', async () => {
      const t = await createTenant(api);
      const partner = await installApp(api, t, t, { appScopes: ['messages:write', 'templates:read'], grant: ['messages:write'] });
      const inflated = forge(api, { ...claimsOf(partner.accessToken), scope: 'messages:write templates:read webhooks:write' });
      expect((await me(inflated)).body.scopes).toEqual(['messages:write']);
      expectProblem(await get('/probe/templates', inflated), 403, 'forbidden');
    });
  });
});
