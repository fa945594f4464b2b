import { randomBytes } from 'node:crypto';
import { App, Installation, UNSCOPED } from '@parley/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, PASSWORD, startTestApi, type Tenant, type TestApi, uniqueEmail } from '../../../test/support/api';
import { expectProblem } from './helpers';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

/** Test files share one database, so every test invents tags no other test uses. */
const freshTag = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;
const MISSING_ID = '01900000-0000-7000-8000-000000000000';

async function register(publisher: Tenant, body: Partial<Record<'name' | 'description' | 'webhookUrl', string>> & { tags: string[]; scopes?: string[] }) {
  const res = await api.call('POST', '/v1/apps', {
    token: publisher.adminToken,
    body: { name: 'Bot', description: 'Helps', scopes: ['conversations:read', 'messages:write'], ...body },
  });
  expect(res.status).toBe(201);
  return res.body as { id: string; tags: string[]; webhookUrl?: string | null };
}

const listIds = async (t: Tenant, query = '') => {
  const res = await api.call('GET', `/v1/apps${query}`, { token: t.adminToken });
  expect(res.status).toBe(200);
  return (res.body.data as { id: string }[]).map((a) => a.id);
};

const setTags = (t: Tenant, tags: string[]) =>
  api.call('PATCH', `/v1/organizations/${t.organizationId}`, { token: api.config.platformAdminToken, body: { tags } });

describe('registering apps', () => {
  it('answers the app with normalised tags and sorted scopes, and stores it under the publisher', async () => {
    const publisher = await createTenant(api);
    const tag = freshTag('Retail');
    const res = await api.call('POST', '/v1/apps', {
      token: publisher.adminToken,
      body: {
        name: '  Order bot ',
        description: 'Tracks orders',
        tags: [tag.toUpperCase(), tag, 'Extra'],
        webhookUrl: 'https://partner.example/hooks',
        scopes: ['messages:write', 'conversations:read', 'messages:write'],
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      name: 'Order bot',
      description: 'Tracks orders',
      tags: ['extra', tag.toLowerCase()].sort(),
      scopes: ['conversations:read', 'messages:write'],
      publisherOrganizationId: publisher.organizationId,
      webhookUrl: 'https://partner.example/hooks',
      createdAt: expect.any(String),
    });
    const row = await api.orm.em.fork().findOneOrFail(App, { id: res.body.id }, UNSCOPED);
    expect(row.organization).toBe(publisher.organizationId);
  });

  it('validates the body and assigns nothing it does not know', async () => {
    const publisher = await createTenant(api);
    const victim = await createTenant(api);
    const res = await api.call('POST', '/v1/apps', {
      token: publisher.adminToken,
      body: {
        name: 'Bot',
        description: '',
        tags: [],
        scopes: ['users:manage'],
        webhookUrl: 'ftp://x.example',
        organizationId: victim.organizationId,
      },
    });
    expectProblem(res, 400, 'validation_error');
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['organizationId', 'scopes.0', 'tags', 'webhookUrl']);
    const em = api.orm.em.fork();
    expect(await em.count(App, { organization: { $in: [publisher.organizationId, victim.organizationId] } }, UNSCOPED)).toBe(0);
  });

  it('is for admins only', async () => {
    const t = await createTenant(api);
    const email = uniqueEmail('agent');
    await api.call('POST', '/v1/users', { token: t.adminToken, body: { email, password: PASSWORD, name: 'Agent', role: 'agent' } });
    const agent = (await api.call('POST', '/v1/auth/login', { body: { email, password: PASSWORD } })).body.accessToken;
    const tag = freshTag('t');
    expectProblem(
      await api.call('POST', '/v1/apps', { token: agent, body: { name: 'X', description: '', tags: [tag], scopes: ['conversations:read'] } }),
      403,
      'forbidden',
    );
    expectProblem(await api.call('GET', '/v1/apps', { token: agent }), 403, 'forbidden');
    expect(await api.orm.em.fork().count(App, { organization: t.organizationId }, UNSCOPED)).toBe(0);
  });
});

describe('bot store visibility', () => {
  it('lists an app to organizations carrying one of its tags, and to nobody else', async () => {
    const retail = freshTag('retail');
    const health = freshTag('health');
    const publisher = await createTenant(api);
    const [matching, partlyMatching, unrelated, untagged] = await Promise.all([
      createTenant(api, { tags: [retail] }),
      createTenant(api, { tags: [health, freshTag('other')] }),
      createTenant(api, { tags: [freshTag('unrelated')] }),
      createTenant(api),
    ]);
    const app = await register(publisher, { tags: [retail, health] });

    expect(await listIds(publisher)).toEqual([app.id]);
    expect(await listIds(matching)).toEqual([app.id]);
    expect(await listIds(partlyMatching)).toEqual([app.id]);
    expect(await listIds(unrelated)).toEqual([]);
    expect(await listIds(untagged)).toEqual([]);

    const seen = await api.call('GET', `/v1/apps/${app.id}`, { token: matching.adminToken });
    expect(seen.status).toBe(200);
    expect(seen.body.id).toBe(app.id);

    // An invisible app is answered exactly like one that does not exist.
    const hidden = await api.call('GET', `/v1/apps/${app.id}`, { token: unrelated.adminToken });
    const missing = await api.call('GET', `/v1/apps/${MISSING_ID}`, { token: unrelated.adminToken });
    expectProblem(hidden, 404, 'not_found');
    expectProblem(missing, 404, 'not_found');
    expect(hidden.body.detail).toBe(missing.body.detail);
    expectProblem(await api.call('GET', '/v1/apps/not-an-id', { token: unrelated.adminToken }), 404, 'not_found');
  });

  it('follows tag changes made by the operator, in both directions', async () => {
    const tag = freshTag('logistics');
    const publisher = await createTenant(api);
    const app = await register(publisher, { tags: [tag] });
    const t = await createTenant(api, { tags: [freshTag('before')] });
    expect(await listIds(t)).toEqual([]);

    const added = await setTags(t, [tag.toUpperCase()]);
    expect(added.status).toBe(200);
    expect(added.body.tags).toEqual([tag]);
    expect(await listIds(t)).toEqual([app.id]);
    expect((await api.call('GET', `/v1/apps/${app.id}`, { token: t.adminToken })).status).toBe(200);

    expect((await setTags(t, [])).status).toBe(200);
    expect(await listIds(t)).toEqual([]);
    expectProblem(await api.call('GET', `/v1/apps/${app.id}`, { token: t.adminToken }), 404, 'not_found');
  });

  it('filters by ?tag= and ?owned=, within what the organization may see', async () => {
    const a = freshTag('a');
    const b = freshTag('b');
    const publisher = await createTenant(api);
    const onlyA = await register(publisher, { tags: [a] });
    const onlyB = await register(publisher, { tags: [b] });
    const both = await register(publisher, { tags: [a, b] });
    const viewer = await createTenant(api, { tags: [a] });
    const ownApp = await register(viewer, { tags: [freshTag('own')] });

    expect(await listIds(publisher, `?tag=${a}`)).toEqual([both.id, onlyA.id]);
    expect(await listIds(publisher, `?tag=${b.toUpperCase()}`)).toEqual([both.id, onlyB.id]);
    expect(await listIds(publisher, `?tag=${freshTag('none')}`)).toEqual([]);

    expect(await listIds(viewer)).toEqual([ownApp.id, both.id, onlyA.id]);
    // The tag filter never widens visibility: onlyB carries b but is not listed to the viewer.
    expect(await listIds(viewer, `?tag=${b}`)).toEqual([both.id]);
    expect(await listIds(viewer, '?owned=true')).toEqual([ownApp.id]);
    expect(await listIds(viewer, '?owned=false')).toEqual([ownApp.id, both.id, onlyA.id]);

    expectProblem(await api.call('GET', '/v1/apps?tag=has%20space', { token: viewer.adminToken }), 400, 'validation_error');
  });

  it('pages the store with limit and cursor', async () => {
    const publisher = await createTenant(api);
    const tag = freshTag('paged');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.unshift((await register(publisher, { tags: [tag], name: `Bot ${i}` })).id);

    const first = await api.call('GET', '/v1/apps?limit=2', { token: publisher.adminToken });
    expect(first.body.data.map((x: { id: string }) => x.id)).toEqual(ids.slice(0, 2));
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await api.call('GET', `/v1/apps?limit=2&cursor=${first.body.nextCursor}`, { token: publisher.adminToken });
    expect(second.body.data.map((x: { id: string }) => x.id)).toEqual(ids.slice(2));
    expect(second.body.nextCursor).toBeNull();
    expectProblem(await api.call('GET', '/v1/apps?limit=201', { token: publisher.adminToken }), 400, 'validation_error');
  });

  it('shows webhookUrl to the publisher only', async () => {
    const tag = freshTag('hooks');
    const publisher = await createTenant(api);
    const viewer = await createTenant(api, { tags: [tag] });
    const withHook = await register(publisher, { tags: [tag], webhookUrl: 'https://partner.example/secret-path' });
    const withoutHook = await register(publisher, { tags: [tag] });
    expect(withoutHook.webhookUrl).toBeNull();

    const own = await api.call('GET', `/v1/apps/${withHook.id}`, { token: publisher.adminToken });
    expect(own.body.webhookUrl).toBe('https://partner.example/secret-path');
    const ownList = await api.call('GET', '/v1/apps', { token: publisher.adminToken });
    expect(ownList.body.data.find((x: { id: string }) => x.id === withHook.id).webhookUrl).toBe('https://partner.example/secret-path');

    const theirs = await api.call('GET', `/v1/apps/${withHook.id}`, { token: viewer.adminToken });
    expect(theirs.status).toBe(200);
    expect(theirs.body).not.toHaveProperty('webhookUrl');
    expect(theirs.text).not.toContain('secret-path');
    const theirList = await api.call('GET', '/v1/apps', { token: viewer.adminToken });
    expect(theirList.body.data).toHaveLength(2);
    for (const item of theirList.body.data) expect(item).not.toHaveProperty('webhookUrl');
    expect(theirList.text).not.toContain('secret-path');
  });
});

describe('hiring from the store', () => {
  it('installs a visible app with a subset of its scopes', async () => {
    const tag = freshTag('hire');
    const publisher = await createTenant(api);
    const t = await createTenant(api, { tags: [tag] });
    const app = await register(publisher, { tags: [tag], scopes: ['conversations:read', 'messages:write', 'templates:read'] });

    const res = await api.call('POST', '/v1/installations', {
      token: t.adminToken,
      body: { appId: app.id, scopes: ['templates:read', 'conversations:read', 'templates:read'] },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      appId: app.id,
      scopes: ['conversations:read', 'templates:read'],
      status: 'active',
      createdAt: expect.any(String),
      uninstalledAt: null,
    });
    const row = await api.orm.em.fork().findOneOrFail(Installation, { id: res.body.id }, UNSCOPED);
    expect(row.organization).toBe(t.organizationId);
    const listed = await api.call('GET', '/v1/installations', { token: t.adminToken });
    expect(listed.body).toEqual({ data: [res.body], nextCursor: null });
    // The publisher sees nothing of its customers' installations.
    expect((await api.call('GET', '/v1/installations', { token: publisher.adminToken })).body.data).toEqual([]);
  });

  it('manages an installation of another organization’s app through its whole life', async () => {
    const tag = freshTag('lifecycle');
    const publisher = await createTenant(api);
    const t = await createTenant(api, { tags: [tag] });
    const app = await register(publisher, { tags: [tag] });
    const inst = await api.call('POST', '/v1/installations', { token: t.adminToken, body: { appId: app.id, scopes: ['messages:write'] } });
    expect(inst.status).toBe(201);
    const path = `/v1/installations/${inst.body.id}`;

    expect((await api.call('GET', path, { token: t.adminToken })).body).toEqual(inst.body);
    expect((await api.call('GET', '/v1/installations?status=active', { token: t.adminToken })).body.data).toEqual([inst.body]);
    const tokens = await api.call('POST', `${path}/tokens`, { token: t.adminToken });
    expect(tokens.status).toBe(201);
    const me = await api.call('GET', '/v1/me', { token: tokens.body.accessToken });
    expect(me.body).toEqual({
      kind: 'installation',
      organizationId: t.organizationId,
      installationId: inst.body.id,
      appId: app.id,
      scopes: ['messages:write'],
    });
    const rotated = await api.call('POST', '/v1/auth/token', {
      body: { grant_type: 'refresh_token', refresh_token: tokens.body.refreshToken },
    });
    expect(rotated.status).toBe(200);

    // The publisher has no say over its customers' installations.
    expectProblem(await api.call('GET', path, { token: publisher.adminToken }), 404, 'not_found');
    expectProblem(await api.call('DELETE', path, { token: publisher.adminToken }), 404, 'not_found');
    expectProblem(await api.call('POST', `${path}/tokens`, { token: publisher.adminToken }), 404, 'not_found');
    expect((await api.call('GET', '/v1/me', { token: rotated.body.accessToken })).status).toBe(200);

    expect((await api.call('DELETE', path, { token: t.adminToken })).status).toBe(204);
    expectProblem(await api.call('GET', '/v1/me', { token: rotated.body.accessToken }), 401, 'unauthorized');
    expect((await api.call('GET', path, { token: t.adminToken })).body.status).toBe('uninstalled');
    const again = await api.call('POST', '/v1/installations', { token: t.adminToken, body: { appId: app.id, scopes: ['messages:write'] } });
    expect(again.status).toBe(201);
    const dup = await api.call('POST', '/v1/installations', { token: t.adminToken, body: { appId: app.id, scopes: ['messages:write'] } });
    expectProblem(dup, 409, 'already_installed');
  });

  it('answers 404 for an app the organization cannot see, and installs nothing', async () => {
    const publisher = await createTenant(api);
    const app = await register(publisher, { tags: [freshTag('private')] });
    const outsider = await createTenant(api, { tags: [freshTag('elsewhere')] });

    const hidden = await api.call('POST', '/v1/installations', {
      token: outsider.adminToken,
      body: { appId: app.id, scopes: ['conversations:read'] },
    });
    const missing = await api.call('POST', '/v1/installations', {
      token: outsider.adminToken,
      body: { appId: MISSING_ID, scopes: ['conversations:read'] },
    });
    expectProblem(hidden, 404, 'not_found');
    expectProblem(missing, 404, 'not_found');
    expect(hidden.body.detail).toBe(missing.body.detail);
    expectProblem(
      await api.call('POST', '/v1/installations', { token: outsider.adminToken, body: { appId: 'nope', scopes: ['conversations:read'] } }),
      404,
      'not_found',
    );
    expect(await api.orm.em.fork().count(Installation, { organization: outsider.organizationId }, UNSCOPED)).toBe(0);
  });

  it('lets only one of two concurrent installs of one app through', async () => {
    const tag = freshTag('race');
    const publisher = await createTenant(api);
    const t = await createTenant(api, { tags: [tag] });
    const app = await register(publisher, { tags: [tag] });
    const answers = await Promise.all(
      [0, 1].map(() => api.call('POST', '/v1/installations', { token: t.adminToken, body: { appId: app.id, scopes: ['messages:write'] } })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
    expectProblem(answers.find((a) => a.status === 409)!, 409, 'already_installed');
    expect(await api.orm.em.fork().count(Installation, { organization: t.organizationId }, UNSCOPED)).toBe(1);
  });

  it('honours Idempotency-Key on POST /v1/installations', async () => {
    const tag = freshTag('idem');
    const publisher = await createTenant(api);
    const t = await createTenant(api, { tags: [tag] });
    const app = await register(publisher, { tags: [tag] });
    const body = { appId: app.id, scopes: ['conversations:read'] };
    const headers = { 'idempotency-key': 'install-once' };
    const first = await api.call('POST', '/v1/installations', { token: t.adminToken, body, headers });
    const again = await api.call('POST', '/v1/installations', { token: t.adminToken, body, headers });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(await api.orm.em.fork().count(Installation, { organization: t.organizationId }, UNSCOPED)).toBe(1);
  });
});
