import { UNSCOPED, User } from '@parley/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, PASSWORD, startTestApi, type Tenant, type TestApi, uniqueEmail } from '../../../test/support/api';
import { countRows, expectProblem } from './helpers';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

const usersOf = (organizationId: string) =>
  api.orm.em.fork().find(User, { organization: organizationId }, { ...UNSCOPED, orderBy: { id: 'asc' }, populate: ['passwordHash'] });

function createUser(t: Tenant, body: Record<string, unknown>, headers?: Record<string, string>) {
  return api.call('POST', '/v1/users', { token: t.adminToken, body, ...(headers ? { headers } : {}) });
}

/** Inserts users straight into the database: paging tests need many and no passwords. */
async function seedUsers(organizationId: string, count: number): Promise<void> {
  const em = api.orm.em.fork();
  for (let i = 0; i < count; i++) em.persist(new User(organizationId, uniqueEmail('seed'), `Seed ${i}`, i % 2 ? 'admin' : 'agent', 'scrypt$unusable'));
  await em.flush();
}

describe('POST /v1/users', () => {
  it('lets an admin add an agent and an admin, who can then log in', async () => {
    const t = await createTenant(api);
    const agentEmail = uniqueEmail('Agent').toUpperCase();
    const agent = await createUser(t, { email: ` ${agentEmail} `, password: PASSWORD, name: '  Ana Agent ', role: 'agent' });
    expect(agent.status).toBe(201);
    expect(agent.body).toEqual({
      id: expect.any(String),
      email: agentEmail.toLowerCase(),
      name: 'Ana Agent',
      role: 'agent',
      disabledAt: null,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
    });

    const admin = await createUser(t, { email: uniqueEmail('admin2'), password: PASSWORD, name: 'Second admin', role: 'admin' });
    expect(admin.status).toBe(201);
    expect(admin.body.role).toBe('admin');

    const rows = await usersOf(t.organizationId);
    expect(rows.map((u) => u.role).sort()).toEqual(['admin', 'admin', 'agent']);
    for (const row of rows) {
      expect(row.passwordHash).toMatch(/^scrypt\$/);
      expect(row.passwordHash).not.toContain(PASSWORD);
    }

    const login = await api.call('POST', '/v1/auth/login', { body: { email: agentEmail, password: PASSWORD } });
    expect(login.status).toBe(200);
    const me = await api.call('GET', '/v1/me', { token: login.body.accessToken });
    expect(me.body).toMatchObject({ userId: agent.body.id, role: 'agent', organizationId: t.organizationId });
  });

  it('refuses passwords shorter than 12 characters with 400 at path password', async () => {
    const t = await createTenant(api);
    const res = await createUser(t, { email: uniqueEmail(), password: 'elevenchars', name: 'Short', role: 'agent' });
    expectProblem(res, 400, 'validation_error');
    expect(res.body.errors).toEqual([{ path: 'password', message: expect.stringContaining('12') }]);
    expect(await usersOf(t.organizationId)).toHaveLength(1);

    const exactly12 = await createUser(t, { email: uniqueEmail(), password: 'twelve chars', name: 'Ok', role: 'agent' });
    expect(exactly12.status).toBe(201);
  });

  it('refuses a taken email with 409 email_taken, whatever its case and organization', async () => {
    const t = await createTenant(api);
    const other = await createTenant(api);
    const email = uniqueEmail('dup');
    expect((await createUser(t, { email, password: PASSWORD, name: 'First', role: 'agent' })).status).toBe(201);

    for (const candidate of [email, email.toUpperCase(), t.adminEmail, other.adminEmail]) {
      const res = await createUser(t, { email: candidate, password: PASSWORD, name: 'Again', role: 'admin' });
      expectProblem(res, 409, 'email_taken');
    }
    expect(await usersOf(t.organizationId)).toHaveLength(2);
    expect(await usersOf(other.organizationId)).toHaveLength(1);
  });

  it('creates one user when two requests race for one email', async () => {
    const t = await createTenant(api);
    const email = uniqueEmail('race');
    const answers = await Promise.all(
      ['One', 'Two'].map((name) => createUser(t, { email, password: PASSWORD, name, role: 'agent' })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
    expectProblem(answers.find((a) => a.status === 409)!, 409, 'email_taken');
    expect((await usersOf(t.organizationId)).filter((u) => u.email === email)).toHaveLength(1);
  });

  it('validates every field and rejects unknown ones instead of assigning them', async () => {
    const t = await createTenant(api);
    const res = await createUser(t, { email: 'not-an-email', password: PASSWORD, name: '', role: 'owner' });
    expectProblem(res, 400, 'validation_error');
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['email', 'name', 'role']);

    const massAssign = await createUser(t, {
      email: uniqueEmail(),
      password: PASSWORD,
      name: 'Sneaky',
      role: 'agent',
      organizationId: '01900000-0000-7000-8000-000000000000',
    });
    expectProblem(massAssign, 400, 'validation_error');
    expect(massAssign.body.errors).toEqual([{ path: 'organizationId', message: 'Unknown field.' }]);
    expect(await usersOf(t.organizationId)).toHaveLength(1);
  });

  it('is forbidden to agents, who can neither create nor list users', async () => {
    const t = await createTenant(api);
    const email = uniqueEmail('agent');
    expect((await createUser(t, { email, password: PASSWORD, name: 'Agent', role: 'agent' })).status).toBe(201);
    const agent = (await api.call('POST', '/v1/auth/login', { body: { email, password: PASSWORD } })).body.accessToken;

    const create = await api.call('POST', '/v1/users', {
      token: agent,
      body: { email: uniqueEmail(), password: PASSWORD, name: 'Escalated', role: 'admin' },
    });
    expectProblem(create, 403, 'forbidden');
    expectProblem(await api.call('GET', '/v1/users', { token: agent }), 403, 'forbidden');
    expect(await usersOf(t.organizationId)).toHaveLength(2);
  });

  it('requires a bearer token', async () => {
    const res = await api.call('POST', '/v1/users', { body: { email: uniqueEmail(), password: PASSWORD, name: 'X', role: 'admin' } });
    expectProblem(res, 401, 'unauthorized');
  });
});

describe('PATCH /v1/users/:id', () => {
  const patch = (t: Tenant | string, id: string, body: Record<string, unknown>) =>
    api.call('PATCH', `/v1/users/${id}`, { token: typeof t === 'string' ? t : t.adminToken, body });
  const login = async (email: string) => api.call('POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
  const adminIdOf = async (t: Tenant) => (await usersOf(t.organizationId)).find((u) => u.email === t.adminEmail)!.id;

  async function addUser(t: Tenant, role: 'admin' | 'agent'): Promise<{ id: string; email: string; token: string }> {
    const email = uniqueEmail(role);
    const created = await createUser(t, { email, password: PASSWORD, name: `A ${role}`, role });
    expect(created.status, created.text).toBe(201);
    return { id: created.body.id, email, token: (await login(email)).body.accessToken };
  }

  it('changes a role, which the user’s very next request carries', async () => {
    const t = await createTenant(api);
    const agent = await addUser(t, 'agent');
    expectProblem(await api.call('GET', '/v1/users', { token: agent.token }), 403, 'forbidden');

    const promoted = await patch(t, agent.id, { role: 'admin' });
    expect(promoted.status, promoted.text).toBe(200);
    expect(promoted.body).toMatchObject({ id: agent.id, role: 'admin', disabledAt: null });
    // The same access token, issued while an agent: permissions come from the stored role.
    expect((await api.call('GET', '/v1/users', { token: agent.token })).status).toBe(200);
    expect((await api.call('GET', '/v1/me', { token: agent.token })).body.role).toBe('admin');

    const demoted = await patch(t, agent.id, { role: 'agent' });
    expect(demoted.body.role).toBe('agent');
    expectProblem(await api.call('GET', '/v1/users', { token: agent.token }), 403, 'forbidden');
    expect((await usersOf(t.organizationId)).find((u) => u.id === agent.id)?.role).toBe('agent');
  });

  it('deactivates a user, whose tokens stop at once and who cannot sign in, and reactivates them', async () => {
    const t = await createTenant(api);
    const agent = await addUser(t, 'agent');
    const refresh = (await login(agent.email)).body.refreshToken;

    const off = await patch(t, agent.id, { disabled: true });
    expect(off.status, off.text).toBe(200);
    expect(off.body.disabledAt).toEqual(expect.stringMatching(/^\d{4}-/));
    expectProblem(await api.call('GET', '/v1/me', { token: agent.token }), 401, 'unauthorized');
    expectProblem(await login(agent.email), 401, 'unauthorized');
    expectProblem(await api.call('POST', '/v1/auth/token', { body: { grant_type: 'refresh_token', refresh_token: refresh } }), 401, 'unauthorized');
    const listed = await api.call('GET', '/v1/users', { token: t.adminToken });
    expect(listed.body.data.find((u: { id: string }) => u.id === agent.id)).toMatchObject({ disabledAt: off.body.disabledAt });

    // Deactivating again keeps the first time.
    expect((await patch(t, agent.id, { disabled: true })).body.disabledAt).toBe(off.body.disabledAt);

    const on = await patch(t, agent.id, { disabled: false });
    expect(on.body.disabledAt).toBeNull();
    const again = await login(agent.email);
    expect(again.status).toBe(200);
    expect((await api.call('GET', '/v1/me', { token: again.body.accessToken })).status).toBe(200);
    // The tokens revoked on deactivation stay revoked.
    expectProblem(await api.call('GET', '/v1/me', { token: agent.token }), 401, 'unauthorized');
  });

  it('never leaves the organization without an active admin: 409 last_admin', async () => {
    const t = await createTenant(api);
    const self = await adminIdOf(t);
    for (const body of [{ role: 'agent' }, { disabled: true }, { role: 'agent', disabled: true }]) {
      expectProblem(await patch(t, self, body), 409, 'last_admin');
    }
    const row = (await usersOf(t.organizationId)).find((u) => u.id === self)!;
    expect(row).toMatchObject({ role: 'admin', disabledAt: null });

    // A deactivated admin does not count as one.
    const other = await addUser(t, 'admin');
    expect((await patch(t, other.id, { disabled: true })).status).toBe(200);
    expectProblem(await patch(t, self, { role: 'agent' }), 409, 'last_admin');

    // With another active admin, an admin may step down, and then can no longer manage users.
    expect((await patch(t, other.id, { disabled: false })).status).toBe(200);
    const stepDown = await patch(t, self, { role: 'agent' });
    expect(stepDown.status, stepDown.text).toBe(200);
    expectProblem(await patch(t, other.id, { role: 'agent' }), 403, 'forbidden');
    // Deactivation revoked the other admin's tokens; reactivation does not bring them back.
    expectProblem(await patch(other.token, other.id, { role: 'agent' }), 401, 'unauthorized');
    const otherToken = (await login(other.email)).body.accessToken;
    expectProblem(await patch(otherToken, other.id, { role: 'agent' }), 409, 'last_admin');
  });

  it('lets only one of two admins demoting each other at the same moment succeed', async () => {
    const t = await createTenant(api);
    const self = await adminIdOf(t);
    const other = await addUser(t, 'admin');
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all([patch(t, other.id, { role: 'agent' }), patch(other.token, self, { role: 'agent' })]);
      expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
      const admins = (await usersOf(t.organizationId)).filter((u) => u.role === 'admin' && !u.disabledAt);
      expect(admins).toHaveLength(1);
      // Restore both as admins for the next round, from whichever is still one.
      const survivor = admins[0]!.id === self ? t.adminToken : other.token;
      expect((await patch(survivor, admins[0]!.id === self ? other.id : self, { role: 'admin' })).status).toBe(200);
    }
  });

  it('validates the body, is admin-only and answers 404 for an unknown id', async () => {
    const t = await createTenant(api);
    const agent = await addUser(t, 'agent');
    const bad = await patch(t, agent.id, { role: 'owner', disabled: 'yes', email: 'x@y.z' });
    expectProblem(bad, 400, 'validation_error');
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['disabled', 'email', 'role']);
    expectProblem(await patch(agent.token, agent.id, { role: 'admin' }), 403, 'forbidden');
    for (const id of ['01900000-0000-7000-8000-000000000000', 'not-an-id']) expectProblem(await patch(t, id, { role: 'admin' }), 404, 'not_found');
    // An empty change changes nothing and answers the user.
    expect((await patch(t, agent.id, {})).body).toMatchObject({ id: agent.id, role: 'agent', disabledAt: null });
    expect((await usersOf(t.organizationId)).find((u) => u.id === agent.id)?.role).toBe('agent');
  });
});

describe('GET /v1/users', () => {
  it('pages newest first with limit and cursor, ending with nextCursor null', async () => {
    const t = await createTenant(api);
    await seedUsers(t.organizationId, 4);
    const all = (await usersOf(t.organizationId)).map((u) => u.id).reverse();
    expect(all).toHaveLength(5);

    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
      const page = await api.call('GET', `/v1/users${query}`, { token: t.adminToken });
      expect(page.status).toBe(200);
      sizes.push(page.body.data.length);
      seen.push(...page.body.data.map((u: { id: string }) => u.id));
      cursor = page.body.nextCursor;
    } while (cursor && sizes.length < 10);
    expect(sizes).toEqual([2, 2, 1]);
    expect(seen).toEqual(all);

    const whole = await api.call('GET', '/v1/users', { token: t.adminToken });
    expect(whole.body.data.map((u: { id: string }) => u.id)).toEqual(all);
    expect(whole.body.nextCursor).toBeNull();
    // A page that ends exactly at the last row says so.
    const exact = await api.call('GET', '/v1/users?limit=5', { token: t.adminToken });
    expect(exact.body.data).toHaveLength(5);
    expect(exact.body.nextCursor).toBeNull();
    expect(whole.body.data[0]).not.toHaveProperty('passwordHash');
  });

  it('lists only the caller’s organization and filters by role', async () => {
    const t = await createTenant(api);
    const other = await createTenant(api);
    await seedUsers(t.organizationId, 3);
    await seedUsers(other.organizationId, 2);

    const mine = await api.call('GET', '/v1/users', { token: t.adminToken });
    expect(mine.body.data).toHaveLength(4);
    const ids = new Set((await usersOf(t.organizationId)).map((u) => u.id));
    for (const u of mine.body.data) expect(ids.has(u.id)).toBe(true);

    const agents = await api.call('GET', '/v1/users?role=agent', { token: t.adminToken });
    expect(agents.body.data.map((u: { role: string }) => u.role)).toEqual(['agent', 'agent']);
  });

  it('refuses a limit above 200, below 1, a malformed cursor and unknown parameters', async () => {
    const t = await createTenant(api);
    const tooMany = await api.call('GET', '/v1/users?limit=201', { token: t.adminToken });
    expectProblem(tooMany, 400, 'validation_error');
    expect(tooMany.body.errors).toEqual([expect.objectContaining({ path: 'query.limit' })]);
    expect((await api.call('GET', '/v1/users?limit=200', { token: t.adminToken })).status).toBe(200);
    expectProblem(await api.call('GET', '/v1/users?limit=0', { token: t.adminToken }), 400, 'validation_error');
    expectProblem(await api.call('GET', '/v1/users?limit=two', { token: t.adminToken }), 400, 'validation_error');

    const badCursor = await api.call('GET', '/v1/users?cursor=nonsense', { token: t.adminToken });
    expectProblem(badCursor, 400, 'validation_error');
    expect(badCursor.body.errors).toEqual([expect.objectContaining({ path: 'query.cursor' })]);

    const unknown = await api.call('GET', '/v1/users?offset=10', { token: t.adminToken });
    expectProblem(unknown, 400, 'validation_error');
    expect(unknown.body.errors).toEqual([expect.objectContaining({ path: 'query.offset' })]);
  });
});

describe('Idempotency-Key on POST /v1/users', () => {
  it('replays the first answer for the same key and body, creating one user', async () => {
    const t = await createTenant(api);
    const body = { email: uniqueEmail('idem'), password: PASSWORD, name: 'Once', role: 'agent' };
    const key = `create-${Date.now()}`;
    const first = await createUser(t, body, { 'idempotency-key': key });
    // Same body with its keys in another order is the same request.
    const reordered = { role: body.role, name: body.name, password: body.password, email: body.email };
    const second = await createUser(t, reordered, { 'idempotency-key': key });

    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(first.headers.get('idempotency-replayed')).toBeNull();
    expect(second.headers.get('idempotency-replayed')).toBe('true');
    expect((await usersOf(t.organizationId)).filter((u) => u.email === body.email)).toHaveLength(1);
  });

  it('answers 422 idempotency_key_reused for the same key with another body', async () => {
    const t = await createTenant(api);
    const key = `create-${Date.now()}`;
    const first = await createUser(t, { email: uniqueEmail('a'), password: PASSWORD, name: 'A', role: 'agent' }, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    const otherEmail = uniqueEmail('b');
    const reused = await createUser(t, { email: otherEmail, password: PASSWORD, name: 'B', role: 'agent' }, { 'idempotency-key': key });
    expectProblem(reused, 422, 'idempotency_key_reused');
    const rows = await usersOf(t.organizationId);
    expect(rows).toHaveLength(2);
    expect(rows.some((u) => u.email === otherEmail)).toBe(false);
  });

  it('runs concurrent requests with one key once', async () => {
    const t = await createTenant(api);
    const body = { email: uniqueEmail('race'), password: PASSWORD, name: 'Race', role: 'agent' };
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => createUser(t, body, { 'idempotency-key': 'race-key' })),
    );
    for (const a of answers) {
      if (a.status !== 201) expectProblem(a, 409, 'idempotency_request_in_progress');
    }
    const created = answers.filter((a) => a.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    for (const a of created) expect(a.body.id).toBe(created[0]!.body.id);
    expect(answers.some((a) => a.body?.code === 'email_taken')).toBe(false);
    expect((await usersOf(t.organizationId)).filter((u) => u.email === body.email)).toHaveLength(1);
  });

  it('keeps keys apart per caller and tells requests without a key apart', async () => {
    const t = await createTenant(api);
    const other = await createTenant(api);
    const key = 'shared-key';
    const mine = await createUser(t, { email: uniqueEmail(), password: PASSWORD, name: 'Mine', role: 'agent' }, { 'idempotency-key': key });
    const theirs = await createUser(other, { email: uniqueEmail(), password: PASSWORD, name: 'Theirs', role: 'agent' }, { 'idempotency-key': key });
    expect(mine.status).toBe(201);
    expect(theirs.status).toBe(201);
    expect(theirs.body.id).not.toBe(mine.body.id);
    expect(await usersOf(other.organizationId)).toHaveLength(2);

    const body = { email: uniqueEmail('nokey'), password: PASSWORD, name: 'No key', role: 'agent' };
    expect((await createUser(t, body)).status).toBe(201);
    expectProblem(await createUser(t, body), 409, 'email_taken');
  });
});

describe('organizations (operator)', () => {
  const operator = () => api.config.platformAdminToken;
  const countByName = (name: string) => countRows(api, 'select count(*)::int as n from organizations where name = ?', [name]);

  it('creates an organization with its first admin', async () => {
    const name = `Acme ${Date.now()}`;
    const email = uniqueEmail('first');
    const res = await api.call('POST', '/v1/organizations', {
      token: operator(),
      body: { name: `  ${name} `, tags: ['Retail', 'health', 'retail'], admin: { email, password: PASSWORD, name: 'Founder' } },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: expect.any(String), name, tags: ['health', 'retail'], createdAt: expect.any(String) });

    const rows = await usersOf(res.body.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ email, name: 'Founder', role: 'admin' });
    const got = await api.call('GET', `/v1/organizations/${res.body.id}`, { token: operator() });
    expect(got.body).toEqual(res.body);

    const untagged = await api.call('POST', '/v1/organizations', {
      token: operator(),
      body: { name: 'Untagged', admin: { email: uniqueEmail(), password: PASSWORD } },
    });
    expect(untagged.status).toBe(201);
    expect(untagged.body.tags).toEqual([]);
  });

  it('changes tags with PATCH', async () => {
    const t = await createTenant(api, { tags: ['retail'] });
    const res = await api.call('PATCH', `/v1/organizations/${t.organizationId}`, { token: operator(), body: { tags: ['VIP', 'health'] } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: t.organizationId, tags: ['health', 'vip'] });
    expect((await api.call('GET', `/v1/organizations/${t.organizationId}`, { token: operator() })).body.tags).toEqual(['health', 'vip']);

    const cleared = await api.call('PATCH', `/v1/organizations/${t.organizationId}`, { token: operator(), body: { tags: [] } });
    expect(cleared.body.tags).toEqual([]);

    const invalid = await api.call('PATCH', `/v1/organizations/${t.organizationId}`, { token: operator(), body: { tags: ['has space'], name: 'x' } });
    expectProblem(invalid, 400, 'validation_error');
    expect(invalid.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['name', 'tags.0']);
  });

  it('answers 404 for an unknown organization', async () => {
    for (const id of ['01900000-0000-7000-8000-000000000000', 'not-an-id']) {
      expectProblem(await api.call('PATCH', `/v1/organizations/${id}`, { token: operator(), body: { tags: ['x'] } }), 404, 'not_found');
      expectProblem(await api.call('GET', `/v1/organizations/${id}`, { token: operator() }), 404, 'not_found');
    }
  });

  it('holds the admin password to 12 characters and creates nothing on refusal', async () => {
    const name = `Weak ${Date.now()}`;
    const res = await api.call('POST', '/v1/organizations', {
      token: operator(),
      body: { name, admin: { email: uniqueEmail(), password: 'short' } },
    });
    expectProblem(res, 400, 'validation_error');
    expect(res.body.errors).toEqual([{ path: 'admin.password', message: expect.any(String) }]);

    const missingAdmin = await api.call('POST', '/v1/organizations', { token: operator(), body: { name } });
    expectProblem(missingAdmin, 400, 'validation_error');
    expect(missingAdmin.body.errors).toEqual([expect.objectContaining({ path: 'admin' })]);
    expect(await countByName(name)).toBe(0);
  });

  it('refuses a taken admin email with 409 email_taken and creates no organization', async () => {
    const t = await createTenant(api);
    const name = `Dup ${Date.now()}`;
    const res = await api.call('POST', '/v1/organizations', {
      token: operator(),
      body: { name, admin: { email: t.adminEmail.toUpperCase(), password: PASSWORD } },
    });
    expectProblem(res, 409, 'email_taken');
    expect(await countByName(name)).toBe(0);
  });

  it('rejects unknown fields and requires the operator token', async () => {
    const name = `Fields ${Date.now()}`;
    const res = await api.call('POST', '/v1/organizations', {
      token: operator(),
      body: { id: '01900000-0000-7000-8000-000000000000', name, admin: { email: uniqueEmail(), password: PASSWORD, role: 'agent' } },
    });
    expectProblem(res, 400, 'validation_error');
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['admin.role', 'id']);
    expectProblem(
      await api.call('POST', '/v1/organizations', { body: { name, admin: { email: uniqueEmail(), password: PASSWORD } } }),
      401,
      'unauthorized',
    );
    expectProblem(
      await api.call('POST', '/v1/organizations', { token: 'x'.repeat(40), body: { name, admin: { email: uniqueEmail(), password: PASSWORD } } }),
      401,
      'unauthorized',
    );
    expect(await countByName(name)).toBe(0);
  });
});
