import { ManualClock, sha256Hex } from '@parley/core';
import { RefreshToken, TokenFamily, UNSCOPED } from '@parley/db';
import { SCOPES } from '@parley/domain';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createTenant,
  installApp,
  PASSWORD,
  startTestApi,
  type Tenant,
  type TestApi,
  uniqueEmail,
} from '../../../test/support/api';
import { claimsOf, countRows, DAY, expectProblem, forge, headerOf, HOUR, problemShape, unsigned } from './helpers';

let api: TestApi;
const clock = new ManualClock();

beforeAll(async () => {
  api = await startTestApi({ clock });
});
afterAll(async () => api.close());
// Every test starts at the real present; tests that travel in time do so from there.
beforeEach(() => clock.set(new Date()));

async function login(email: string, password = PASSWORD) {
  return api.call('POST', '/v1/auth/login', { body: { email, password } });
}

async function addUser(t: Tenant, role: 'admin' | 'agent') {
  const email = uniqueEmail(role);
  const created = await api.call('POST', '/v1/users', {
    token: t.adminToken,
    body: { email, password: PASSWORD, name: `An ${role}`, role },
  });
  expect(created.status).toBe(201);
  return { id: created.body.id as string, email };
}

async function me(token: string) {
  return api.call('GET', '/v1/me', { token });
}

async function familiesOf(subjectId: string) {
  return api.orm.em.fork().find(TokenFamily, { subjectId }, { ...UNSCOPED, orderBy: { createdAt: 'asc' } });
}

describe('POST /v1/auth/login', () => {
  it('answers a token pair that authenticates the user', async () => {
    const t = await createTenant(api);
    const res = await login(t.adminEmail);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ expiresIn: 3600, tokenType: 'Bearer', refreshExpiresIn: 30 * 24 * 3600 });
    expect(res.body.accessToken.split('.')).toHaveLength(3);
    expect(res.body.refreshToken).toMatch(/^prt_[\w-]{40,}$/);

    const claims = claimsOf(res.body.accessToken);
    expect(claims).toMatchObject({ iss: 'parley', aud: 'parley-api', kind: 'user', org: t.organizationId });
    expect(claims.exp).toBe((claims.iat as number) + 3600);
    expect(headerOf(res.body.accessToken)).toMatchObject({ alg: 'HS256', kid: api.config.jwt.keyId });

    const who = await me(res.body.accessToken);
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({ kind: 'user', organizationId: t.organizationId, role: 'admin', userId: claims.sub });

    // The refresh token is stored only as its hash.
    const stored = await api.orm.em.fork().findOne(RefreshToken, { tokenHash: sha256Hex(res.body.refreshToken) }, UNSCOPED);
    expect(stored?.organization).toBe(t.organizationId);
    expect(await countRows(api, 'select count(*)::int as n from refresh_tokens where token_hash = ?', [res.body.refreshToken])).toBe(0);
  });

  it('gives a wrong password and an unknown email the same 401, and issues nothing', async () => {
    const t = await createTenant(api);
    const userId = (await me(t.adminToken)).body.userId as string;
    const before = (await familiesOf(userId)).length;

    const wrongPassword = await login(t.adminEmail, 'not the right password');
    const unknownEmail = await login(uniqueEmail('nobody'), PASSWORD);
    expectProblem(wrongPassword, 401, 'unauthorized');
    expectProblem(unknownEmail, 401, 'unauthorized');
    expect(problemShape(wrongPassword)).toEqual(problemShape(unknownEmail));
    expect(wrongPassword.body.accessToken).toBeUndefined();

    expect(await familiesOf(userId)).toHaveLength(before);
  });

  it('matches the email case-insensitively and ignoring surrounding space', async () => {
    const t = await createTenant(api);
    const userId = (await me(t.adminToken)).body.userId;
    const res = await login(`  ${t.adminEmail.toUpperCase()} `);
    expect(res.status).toBe(200);
    expect(claimsOf(res.body.accessToken).sub).toBe(userId);
  });

  it('refuses malformed bodies with 400 and the offending paths', async () => {
    const missing = await api.call('POST', '/v1/auth/login', { body: { email: uniqueEmail() } });
    expectProblem(missing, 400, 'validation_error');
    expect(missing.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'password' })]));

    const extra = await api.call('POST', '/v1/auth/login', {
      body: { email: uniqueEmail(), password: PASSWORD, role: 'admin' },
    });
    expectProblem(extra, 400, 'validation_error');
    expect(extra.body.errors).toEqual([{ path: 'role', message: 'Unknown field.' }]);

    const notJson = await api.call('POST', '/v1/auth/login', { raw: '{"email":', headers: { 'content-type': 'application/json' } });
    expectProblem(notJson, 400, 'invalid_json');
  });
});

describe('GET /v1/me', () => {
  it('describes an admin with every scope', async () => {
    const t = await createTenant(api);
    const res = await me(t.adminToken);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      kind: 'user',
      organizationId: t.organizationId,
      userId: expect.any(String),
      role: 'admin',
      scopes: [...SCOPES],
    });
  });

  it('describes an agent with the conversation and message scopes only', async () => {
    const t = await createTenant(api);
    const agent = await addUser(t, 'agent');
    const session = await login(agent.email);
    expect(session.status).toBe(200);
    const res = await me(session.body.accessToken);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      kind: 'user',
      organizationId: t.organizationId,
      userId: agent.id,
      role: 'agent',
      scopes: ['conversations:read', 'conversations:write', 'messages:write'],
    });
  });

  it('describes an installation with the scopes granted at install, not all of the app’s', async () => {
    const t = await createTenant(api);
    const partner = await installApp(api, t, t, {
      appScopes: ['conversations:read', 'conversations:write', 'messages:write', 'templates:read'],
      grant: ['messages:write', 'conversations:read'],
    });
    const res = await me(partner.accessToken);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      kind: 'installation',
      organizationId: t.organizationId,
      installationId: partner.installationId,
      appId: partner.appId,
      scopes: ['conversations:read', 'messages:write'],
    });
    expect(res.body.userId).toBeUndefined();
    expect(res.body.role).toBeUndefined();
  });

  it('is refused to the operator token, which acts in no organization', async () => {
    expectProblem(await me(api.config.platformAdminToken), 403, 'forbidden');
  });
});

describe('bearer token checks', () => {
  // These tests only read, so they share two tenants.
  let t: Tenant;
  let other: Tenant;
  let claims: Record<string, unknown>;
  beforeAll(async () => {
    [t, other] = await Promise.all([createTenant(api), createTenant(api)]);
    claims = claimsOf(t.adminToken);
  });

  it('accepts the same claims re-signed with the right key (control for the forgeries below)', async () => {
    const res = await me(forge(api, claims));
    expect(res.status).toBe(200);
    expect(res.body.organizationId).toBe(t.organizationId);
  });

  it('refuses a missing or non-Bearer Authorization header with 401 unauthorized', async () => {
    const missing = await api.call('GET', '/v1/me');
    expectProblem(missing, 401, 'unauthorized');
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer /);

    expectProblem(await api.call('GET', '/v1/me', { headers: { authorization: `Basic ${t.adminToken}` } }), 401, 'unauthorized');
    expectProblem(await api.call('GET', '/v1/me', { headers: { authorization: 'Bearer' } }), 401, 'unauthorized');
  });

  it('refuses garbage', async () => {
    for (const token of ['garbage', 'a.b.c', `${t.adminToken}x`, Buffer.from('{}').toString('base64url')]) {
      expectProblem(await me(token), 401, 'unauthorized');
    }
  });

  it('refuses an alg:none token with the same claims', async () => {
    const header = { ...headerOf(t.adminToken), alg: 'none' };
    expectProblem(await me(unsigned(header, claims)), 401, 'unauthorized');
    // Keeping the original signature does not help either.
    const signature = t.adminToken.split('.')[2];
    expectProblem(await me(unsigned(header, claims) + signature), 401, 'unauthorized');
    expectProblem(await me(unsigned({ alg: 'none', typ: 'JWT' }, claims)), 401, 'unauthorized');
  });

  it('refuses a token signed with another key under the same kid', async () => {
    const token = forge(api, claims, { secret: 'another-secret-0123456789abcdef0123456789' });
    expect(headerOf(token).kid).toBe(api.config.jwt.keyId);
    expectProblem(await me(token), 401, 'unauthorized');
  });

  it('pins the algorithm and key id', async () => {
    expectProblem(await me(forge(api, claims, { algorithm: 'HS512' })), 401, 'unauthorized');
    expectProblem(await me(forge(api, claims, { kid: 'other-key' })), 401, 'unauthorized');
  });

  it('refuses a wrong audience or issuer even when correctly signed', async () => {
    expectProblem(await me(forge(api, { ...claims, aud: 'someone-else' })), 401, 'unauthorized');
    expectProblem(await me(forge(api, { ...claims, iss: 'someone-else' })), 401, 'unauthorized');
    const { aud: _aud, ...noAudience } = claims;
    expectProblem(await me(forge(api, noAudience)), 401, 'unauthorized');
  });

  it('refuses an edited payload under the original signature', async () => {
    const [header, , signature] = t.adminToken.split('.');
    const payload = Buffer.from(JSON.stringify({ ...claims, org: other.organizationId })).toString('base64url');
    expectProblem(await me(`${header}.${payload}.${signature}`), 401, 'unauthorized');
  });

  it('binds a correctly signed token to its family, organization, subject and kind', async () => {
    const otherClaims = claimsOf(other.adminToken);
    const forgeries = [
      { ...claims, fam: '01900000-0000-7000-8000-000000000000' },
      { ...claims, org: other.organizationId },
      { ...claims, sub: otherClaims.sub },
      { ...claims, kind: 'installation' },
      { ...claims, kind: 'operator' },
    ];
    for (const forged of forgeries) expectProblem(await me(forge(api, forged)), 401, 'unauthorized');
    const { fam: _fam, ...noFamily } = claims;
    expectProblem(await me(forge(api, noFamily)), 401, 'unauthorized');
  });

  it('does not report expiry for a token whose signature is wrong', async () => {
    const expired = { ...claims, exp: Math.floor(Date.now() / 1000) - 10 };
    expectProblem(await me(forge(api, expired, { secret: 'another-secret-0123456789abcdef0123456789' })), 401, 'unauthorized');
    expectProblem(await me(forge(api, expired)), 401, 'token_expired');
  });

  it('keeps the operator out of tenant routes and tenants out of operator routes', async () => {
    expectProblem(await api.call('GET', '/v1/users', { token: api.config.platformAdminToken }), 403, 'forbidden');
    expectProblem(
      await api.call('POST', '/v1/users', {
        token: api.config.platformAdminToken,
        body: { email: uniqueEmail(), password: PASSWORD, name: 'X', role: 'admin' },
      }),
      403,
      'forbidden',
    );

    const name = `Sneaky ${Date.now()}`;
    const attempt = await api.call('POST', '/v1/organizations', {
      token: t.adminToken,
      body: { name, admin: { email: uniqueEmail(), password: PASSWORD } },
    });
    expectProblem(attempt, 403, 'forbidden');
    expectProblem(await api.call('PATCH', `/v1/organizations/${t.organizationId}`, { token: t.adminToken, body: { tags: ['vip'] } }), 403, 'forbidden');
    expectProblem(await api.call('GET', `/v1/organizations/${t.organizationId}`, { token: t.adminToken }), 403, 'forbidden');
    expect(await countRows(api, 'select count(*)::int as n from organizations where name = ?', [name])).toBe(0);
    const org = await api.call('GET', `/v1/organizations/${t.organizationId}`, { token: api.config.platformAdminToken });
    expect(org.body.tags).toEqual([]);
  });
});

describe('user access tokens', () => {
  it('expire after one hour with 401 token_expired', async () => {
    const t = await createTenant(api);
    clock.advance(HOUR - 60_000);
    expect((await me(t.adminToken)).status).toBe(200);

    clock.advance(61_000);
    const expired = await me(t.adminToken);
    expectProblem(expired, 401, 'token_expired');
    expect(expired.headers.get('www-authenticate')).toContain('invalid_token');

    // The refresh token outlives the access token and restores access.
    const refreshed = await api.call('POST', '/v1/auth/token', {
      body: { grant_type: 'refresh_token', refresh_token: t.adminRefreshToken },
    });
    expect(refreshed.status).toBe(200);
    expect((await me(refreshed.body.accessToken)).status).toBe(200);
  });

  it('have refresh tokens that expire after 30 days', async () => {
    const t = await createTenant(api);
    clock.advance(30 * DAY + 1000);
    const res = await api.call('POST', '/v1/auth/token', {
      body: { grant_type: 'refresh_token', refresh_token: t.adminRefreshToken },
    });
    expectProblem(res, 401, 'token_expired');
  });
});

describe('POST /v1/auth/token with a user’s refresh token', () => {
  const refresh = (token: string) =>
    api.call('POST', '/v1/auth/token', { body: { grant_type: 'refresh_token', refresh_token: token } });

  it('rotates: a new pair, the old refresh token retired', async () => {
    const t = await createTenant(api);
    const res = await refresh(t.adminRefreshToken);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ expiresIn: 3600, tokenType: 'Bearer' });
    expect(res.body.refreshToken).not.toBe(t.adminRefreshToken);
    expect(res.body.accessToken).not.toBe(t.adminToken);
    // Same family: rotation continues the session rather than starting one.
    expect(claimsOf(res.body.accessToken).fam).toBe(claimsOf(t.adminToken).fam);
    expect((await me(res.body.accessToken)).body.organizationId).toBe(t.organizationId);

    const em = api.orm.em.fork();
    const old = await em.findOneOrFail(RefreshToken, { tokenHash: sha256Hex(t.adminRefreshToken) }, UNSCOPED);
    const fresh = await em.findOneOrFail(RefreshToken, { tokenHash: sha256Hex(res.body.refreshToken) }, UNSCOPED);
    expect(old.retiredAt).toBeInstanceOf(Date);
    expect(fresh.retiredAt).toBeNull();

    // The next rotation works from the new token.
    expect((await refresh(res.body.refreshToken)).status).toBe(200);
  });

  it('revokes every token of the user when a retired refresh token is presented again', async () => {
    const t = await createTenant(api);
    const userId = claimsOf(t.adminToken).sub as string;
    const otherSession = await login(t.adminEmail);
    expect(otherSession.status).toBe(200);
    const bystander = await createTenant(api);

    const rotated = await refresh(t.adminRefreshToken);
    expect(rotated.status).toBe(200);

    const reused = await refresh(t.adminRefreshToken);
    expectProblem(reused, 401, 'refresh_token_reused');

    for (const token of [t.adminToken, rotated.body.accessToken, otherSession.body.accessToken]) {
      expectProblem(await me(token), 401, 'unauthorized');
    }
    expect((await refresh(rotated.body.refreshToken)).status).toBe(401);
    expect((await refresh(otherSession.body.refreshToken)).status).toBe(401);

    const families = await familiesOf(userId);
    expect(families.length).toBe(2);
    for (const f of families) expect(f).toMatchObject({ revokedAt: expect.any(Date), revokedReason: 'refresh_token_reused' });

    // Another user's session is untouched.
    expect((await me(bystander.adminToken)).status).toBe(200);
    // A fresh login starts over.
    const again = await login(t.adminEmail);
    expect((await me(again.body.accessToken)).status).toBe(200);
  });

  it('refuses the live refresh token of a revoked session without taking a retry for reuse', async () => {
    const t = await createTenant(api);
    const rotated = await refresh(t.adminRefreshToken);
    expectProblem(await refresh(t.adminRefreshToken), 401, 'refresh_token_reused');

    // The rightful holder of the newest token of the revoked session, trying and retrying.
    expectProblem(await refresh(rotated.body.refreshToken), 401, 'unauthorized');
    const fresh = await login(t.adminEmail);
    expectProblem(await refresh(rotated.body.refreshToken), 401, 'unauthorized');
    expect((await me(fresh.body.accessToken)).status).toBe(200);
    expect((await refresh(fresh.body.refreshToken)).status).toBe(200);
  });

  it('refuses unknown tokens and other grant types', async () => {
    expectProblem(await refresh('prt_not-a-real-token'), 401, 'unauthorized');
    const t = await createTenant(api);
    const wrongGrant = await api.call('POST', '/v1/auth/token', {
      body: { grant_type: 'password', refresh_token: t.adminRefreshToken },
    });
    expectProblem(wrongGrant, 400, 'validation_error');
    expect(wrongGrant.body.errors).toEqual([expect.objectContaining({ path: 'grant_type' })]);
    // The refused request did not spend the token.
    expect((await refresh(t.adminRefreshToken)).status).toBe(200);
  });

  it('does not accept an access token as a refresh token', async () => {
    const t = await createTenant(api);
    const res = await refresh(t.adminToken);
    // Refused either by shape (access tokens are longer than refresh tokens may be) or as unknown.
    expect([400, 401]).toContain(res.status);
    expect(res.body.accessToken).toBeUndefined();
    expect((await me(t.adminToken)).status).toBe(200);
  });
});
