import { randomBytes } from 'node:crypto';
import { SecretBox } from '@parley/core';
import { Channel, Template, UNSCOPED } from '@parley/db';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, installApp, PASSWORD, startTestApi, uniqueEmail, type Answer, type TestApi, type Tenant } from '../../../test/support/api';
import { metaId } from '../../../test/support/channels';
import { expectProblem, problemShape } from './helpers';

/**
 * Embedded signup, channel management and templates against a Graph API faked with nock. Every
 * fake answers only the exact request the contract describes (path, version, token, query, body),
 * so a call made differently fails the test instead of passing by accident.
 */

const GRAPH = 'https://graph.test';
const VERSION = 'v23.0';
const APP_ID = '987654321012345';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ env: { META_GRAPH_URL: GRAPH, META_APP_ID: APP_ID } });
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(() => {
  nock.cleanAll();
});
afterAll(async () => {
  nock.enableNetConnect();
  await api.close();
});

// ---------------------------------------------------------------------------------------------
// A fake Meta

type Step = 'exchange' | 'phone' | 'subscribe' | 'register' | `templates:${number}`;

interface MetaNumber {
  code: string;
  wabaId: string;
  phoneNumberId: string;
  /** Shaped like a real business token, so the client's own scrubbing pattern applies too. */
  token: string;
  displayPhoneNumber: string;
  verifiedName: string;
}

function newNumber(): MetaNumber {
  return {
    code: `AQD${randomBytes(24).toString('hex')}`,
    wabaId: metaId(),
    phoneNumberId: metaId(),
    token: `EAAG${randomBytes(32).toString('hex')}`,
    displayPhoneNumber: '+1 555-010-0123',
    verifiedName: 'Acme Support',
  };
}

interface MetaTemplate {
  id: string;
  name: string;
  language: string;
  status: string;
  category: string;
  components: unknown[];
  parameter_format?: string;
}

function metaTemplate(name: string, overrides: Partial<MetaTemplate> = {}): MetaTemplate {
  return {
    id: metaId(),
    name,
    language: 'en_US',
    status: 'APPROVED',
    category: 'UTILITY',
    components: [
      { type: 'HEADER', format: 'TEXT', text: `About ${name}` },
      { type: 'BODY', text: 'Hello {{1}}, your order {{2}} is ready.', example: { body_text: [['Ana', 'A-1']] } },
      { type: 'BUTTONS', buttons: [{ type: 'QUICK_REPLY', text: 'Thanks' }] },
    ],
    ...overrides,
  };
}

function metaError(code: number, message: string, extra: Record<string, unknown> = {}) {
  return { error: { message, type: 'OAuthException', code, fbtrace_id: `A${randomBytes(8).toString('hex')}`, ...extra } };
}

interface Failure {
  step: Step;
  status: number;
  body: unknown;
}

interface FakeSignup {
  /** The steps Meta saw, in the order it saw them. */
  calls: Step[];
  /** Bodies POSTed to /register. */
  registrations: unknown[];
}

/**
 * Meta's side of one embedded signup: code exchange, phone number, subscription, registration and
 * the template pages. `fail` makes one step answer with Meta's error instead.
 */
function fakeSignup(n: MetaNumber, options: { pages?: MetaTemplate[][]; fail?: Failure; persist?: boolean } = {}): FakeSignup {
  const pages = options.pages ?? [[metaTemplate('order_ready'), metaTemplate('welcome', { language: 'es' })], [metaTemplate('receipt')]];
  const calls: Step[] = [];
  const registrations: unknown[] = [];
  const answer = (step: Step, ok: () => unknown) => (): [number, unknown] => {
    calls.push(step);
    if (options.fail?.step === step) return [options.fail.status, options.fail.body];
    return [200, ok()];
  };
  const scope = nock(GRAPH);
  if (options.persist) scope.persist();
  const bearer = `Bearer ${n.token}`;

  scope
    .get(`/${VERSION}/oauth/access_token`)
    .query({ client_id: APP_ID, client_secret: api.config.meta.appSecret, code: n.code })
    .reply(answer('exchange', () => ({ access_token: n.token, token_type: 'bearer' })));

  scope
    .get(`/${VERSION}/${n.phoneNumberId}`)
    .matchHeader('authorization', bearer)
    .query((q) => String(q.fields).split(',').includes('display_phone_number'))
    .reply(
      answer('phone', () => ({
        id: n.phoneNumberId,
        display_phone_number: n.displayPhoneNumber,
        verified_name: n.verifiedName,
        quality_rating: 'GREEN',
        code_verification_status: 'VERIFIED',
        platform_type: 'CLOUD_API',
        throughput: { level: 'STANDARD' },
      })),
    );

  scope
    .post(`/${VERSION}/${n.wabaId}/subscribed_apps`)
    .matchHeader('authorization', bearer)
    .reply(answer('subscribe', () => ({ success: true })));

  scope
    .post(`/${VERSION}/${n.phoneNumberId}/register`, (body: Record<string, unknown>) => {
      registrations.push(body);
      return body.messaging_product === 'whatsapp' && typeof body.pin === 'string';
    })
    .matchHeader('authorization', bearer)
    .reply(answer('register', () => ({ success: true })));

  pages.forEach((data, i) => {
    const last = i === pages.length - 1;
    scope
      .get(`/${VERSION}/${n.wabaId}/message_templates`)
      .matchHeader('authorization', bearer)
      .query((q) => (q.after ?? null) === (i === 0 ? null : `cursor-${i}`) && String(q.fields).includes('components'))
      .reply(
        answer(`templates:${i + 1}`, () => ({
          data,
          // Meta sends an `after` cursor on the last page too; only `next` means there is more.
          paging: {
            cursors: { before: `before-${i}`, after: `cursor-${i + 1}` },
            ...(last ? {} : { next: `${GRAPH}/${VERSION}/${n.wabaId}/message_templates?after=cursor-${i + 1}` }),
          },
        })),
      );
  });
  return { calls, registrations };
}

/** Meta's template pages alone, for a re-sync. */
function fakeTemplatePages(n: MetaNumber, pages: MetaTemplate[][], fail?: Failure): FakeSignup {
  const calls: Step[] = [];
  pages.forEach((data, i) => {
    const step: Step = `templates:${i + 1}`;
    const last = i === pages.length - 1;
    nock(GRAPH)
      .get(`/${VERSION}/${n.wabaId}/message_templates`)
      .matchHeader('authorization', `Bearer ${n.token}`)
      .query((q) => (q.after ?? null) === (i === 0 ? null : `cursor-${i}`))
      .reply(() => {
        calls.push(step);
        if (fail?.step === step) return [fail.status, fail.body];
        return [200, { data, paging: { cursors: { after: `cursor-${i + 1}` }, ...(last ? {} : { next: 'more' }) } }];
      });
  });
  return { calls, registrations: [] };
}

// ---------------------------------------------------------------------------------------------
// Helpers

function connectBody(n: MetaNumber, extra: Record<string, unknown> = {}) {
  return { code: n.code, wabaId: n.wabaId, phoneNumberId: n.phoneNumberId, label: 'Support line', ...extra };
}

function connect(tenant: Tenant | string, n: MetaNumber, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const token = typeof tenant === 'string' ? tenant : tenant.adminToken;
  return api.call('POST', '/v1/channels/whatsapp', { token, body: connectBody(n, extra), headers });
}

/** A tenant with one channel connected through signup (with the default three templates). */
async function connected(
  options: { tags?: string[] } = {},
): Promise<{ tenant: Tenant; n: MetaNumber; channel: { id: string } & Record<string, unknown> }> {
  const tenant = await createTenant(api, options);
  const n = newNumber();
  fakeSignup(n);
  const res = await connect(tenant, n);
  expect(res.status).toBe(201);
  expect(nock.pendingMocks()).toEqual([]);
  return { tenant, n, channel: res.body };
}

function em() {
  return api.orm.em.fork();
}

/*
 * Rows are compared as plain snapshots: printing a managed entity in a failed assertion walks the
 * ORM's internals and can leave the shared metadata in a state that fails later tests.
 */
function channelSnapshot(c: Channel) {
  return {
    id: c.id,
    organization: c.organization,
    status: c.status,
    label: c.label,
    wabaId: c.wabaId,
    phoneNumberId: c.phoneNumberId,
    messagesPerSecond: c.messagesPerSecond,
    deletedAt: c.deletedAt ?? null,
  };
}

async function channelRows(phoneNumberId: string) {
  const rows = await em().find(Channel, { phoneNumberId }, { ...UNSCOPED, orderBy: { createdAt: 'asc' } });
  return rows.map(channelSnapshot);
}

async function channelRow(id: string) {
  return channelSnapshot(await em().findOneOrFail(Channel, { id }, UNSCOPED));
}

async function templateRows(organizationId: string) {
  const rows = await em().find(Template, { organization: organizationId }, { ...UNSCOPED, orderBy: { name: 'asc', language: 'asc' } });
  return rows.map((t) => ({
    id: t.id,
    channel: t.channel,
    metaTemplateId: t.metaTemplateId,
    name: t.name,
    language: t.language,
    status: t.status,
    category: t.category,
  }));
}

async function ciphertextOf(channelId: string): Promise<string> {
  const rows = await em()
    .getConnection()
    .execute<{ business_token_ciphertext: string }[]>('select business_token_ciphertext from channels where id = ?', [channelId]);
  return rows[0]!.business_token_ciphertext;
}

async function agentOf(tenant: Tenant): Promise<string> {
  const email = uniqueEmail('agent');
  const created = await api.call('POST', '/v1/users', {
    token: tenant.adminToken,
    body: { email, password: PASSWORD, name: 'Agent', role: 'agent' },
  });
  expect(created.status).toBe(201);
  const login = await api.call('POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
  expect(login.status).toBe(200);
  return login.body.accessToken;
}

async function templates(token: string, query = ''): Promise<Answer> {
  return api.call('GET', `/v1/templates${query}`, { token });
}

// ---------------------------------------------------------------------------------------------

describe('POST /v1/channels/whatsapp (embedded signup)', () => {
  it('calls every Graph step in order and answers 201 with the channel', async () => {
    const tenant = await createTenant(api);
    const n = newNumber();
    const meta = fakeSignup(n);
    const res = await connect(tenant, n, { pin: '482913', label: '  Ventas  ' });

    expect(res.status).toBe(201);
    expect(meta.calls).toEqual(['exchange', 'phone', 'subscribe', 'register', 'templates:1', 'templates:2']);
    expect(meta.registrations).toEqual([{ messaging_product: 'whatsapp', pin: '482913' }]);
    expect(nock.pendingMocks()).toEqual([]);
    expect(res.body).toEqual({
      id: expect.any(String),
      type: 'whatsapp',
      label: 'Ventas',
      wabaId: n.wabaId,
      phoneNumberId: n.phoneNumberId,
      phoneNumber: n.displayPhoneNumber,
      verifiedName: n.verifiedName,
      qualityRating: 'GREEN',
      messagesPerSecond: 80,
      status: 'active',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
    });

    const [row, ...others] = await channelRows(n.phoneNumberId);
    expect(others).toEqual([]);
    expect(row).toMatchObject({ id: res.body.id, organization: tenant.organizationId, status: 'active', wabaId: n.wabaId, label: 'Ventas' });

    const read = await api.call('GET', `/v1/channels/${res.body.id}`, { token: tenant.adminToken });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(res.body);
    const list = await api.call('GET', '/v1/channels', { token: tenant.adminToken });
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ data: [res.body], nextCursor: null });
  });

  it('stores every template of every page, listed by GET /v1/templates', async () => {
    const tenant = await createTenant(api);
    const n = newNumber();
    const first = [metaTemplate('order_ready'), metaTemplate('welcome', { language: 'es', category: 'MARKETING' })];
    const second = [metaTemplate('otp', { category: 'AUTHENTICATION', parameter_format: 'NAMED', status: 'PENDING' })];
    const third = [metaTemplate('receipt')];
    const meta = fakeSignup(n, { pages: [first, second, third] });
    const res = await connect(tenant, n);
    expect(res.status).toBe(201);
    expect(meta.calls).toEqual(['exchange', 'phone', 'subscribe', 'register', 'templates:1', 'templates:2', 'templates:3']);

    const rows = await templateRows(tenant.organizationId);
    expect(rows.map((t) => [t.name, t.language, t.channel])).toEqual([
      ['order_ready', 'en_US', res.body.id],
      ['otp', 'en_US', res.body.id],
      ['receipt', 'en_US', res.body.id],
      ['welcome', 'es', res.body.id],
    ]);

    const listed = await templates(tenant.adminToken);
    expect(listed.status).toBe(200);
    expect(listed.body.nextCursor).toBeNull();
    const byName = new Map<string, Record<string, unknown>>(listed.body.data.map((t: { name: string }) => [t.name, t]));
    expect([...byName.keys()].sort()).toEqual(['order_ready', 'otp', 'receipt', 'welcome']);
    for (const meta of [...first, ...second, ...third]) {
      expect(byName.get(meta.name)).toEqual({
        id: expect.any(String),
        channelId: res.body.id,
        metaTemplateId: meta.id,
        name: meta.name,
        language: meta.language,
        status: meta.status,
        category: meta.category,
        parameterFormat: meta.parameter_format ?? 'POSITIONAL',
        components: meta.components,
        syncedAt: expect.any(String),
      });
    }

    // Filters and pages.
    const otp = await templates(tenant.adminToken, '?name=otp');
    expect(otp.body.data.map((t: { name: string }) => t.name)).toEqual(['otp']);
    const pending = await templates(tenant.adminToken, '?status=pending');
    expect(pending.body.data.map((t: { name: string }) => t.name)).toEqual(['otp']);
    const byChannel = await templates(tenant.adminToken, `?channelId=${res.body.id}`);
    expect(byChannel.body.data).toHaveLength(4);
    const page1 = await templates(tenant.adminToken, '?limit=3');
    expect(page1.body.data).toHaveLength(3);
    expect(page1.body.nextCursor).toEqual(expect.any(String));
    const page2 = await templates(tenant.adminToken, `?limit=3&cursor=${encodeURIComponent(page1.body.nextCursor)}`);
    expect(page2.body.data).toHaveLength(1);
    expect(page2.body.nextCursor).toBeNull();
    expect(new Set([...page1.body.data, ...page2.body.data].map((t: { id: string }) => t.id)).size).toBe(4);
  });

  it('registers with a generated six-digit pin when the tenant gives none', async () => {
    const tenant = await createTenant(api);
    const n = newNumber();
    const meta = fakeSignup(n);
    expect((await connect(tenant, n)).status).toBe(201);
    expect(meta.registrations).toEqual([{ messaging_product: 'whatsapp', pin: expect.stringMatching(/^\d{6}$/) }]);
  });

  it('keeps the business token encrypted at rest and out of every answer', async () => {
    const tenant = await createTenant(api);
    const n = newNumber();
    fakeSignup(n);
    const answers: Answer[] = [];
    const created = await connect(tenant, n);
    answers.push(created);
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    const stored = await ciphertextOf(id);
    expect(stored).not.toContain(n.token);
    expect(stored).not.toContain(Buffer.from(n.token).toString('base64'));
    expect(stored).not.toContain(Buffer.from(n.token).toString('base64url'));
    expect(new SecretBox(api.config.encryptionKey).decrypt(stored, id)).toBe(n.token);
    // Even loaded, the entity never serializes it.
    const loaded = await em().findOneOrFail(Channel, { id }, { ...UNSCOPED, populate: ['businessTokenCiphertext'] });
    expect(loaded.businessTokenCiphertext === stored).toBe(true);
    expect(JSON.stringify(loaded).includes(stored)).toBe(false);

    answers.push(await api.call('GET', '/v1/channels', { token: tenant.adminToken }));
    answers.push(await api.call('GET', `/v1/channels/${id}`, { token: tenant.adminToken }));
    answers.push(await api.call('PATCH', `/v1/channels/${id}`, { token: tenant.adminToken, body: { label: 'Renamed' } }));
    answers.push(await templates(tenant.adminToken));
    answers.push(await api.call('GET', '/openapi.json'));
    expect(answers.map((a) => a.status)).toEqual([201, 200, 200, 200, 200, 200]);
    for (const a of answers) {
      expect(a.text).not.toContain(n.token);
      expect(a.text).not.toContain(stored);
      expect(a.text.toLowerCase()).not.toContain('ciphertext');
    }
  });

  it('replays the first answer for a repeated Idempotency-Key without calling Meta again', async () => {
    const tenant = await createTenant(api);
    const n = newNumber();
    const meta = fakeSignup(n);
    const key = `signup-${randomBytes(6).toString('hex')}`;
    const first = await connect(tenant, n, {}, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    const again = await connect(tenant, n, {}, { 'idempotency-key': key });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotency-replayed')).toBe('true');
    expect(meta.calls.filter((c) => c === 'exchange')).toHaveLength(1);
    expect(await channelRows(n.phoneNumberId)).toHaveLength(1);

    const other = await connect(tenant, n, { label: 'Other' }, { 'idempotency-key': key });
    expectProblem(other, 422, 'idempotency_key_reused');
  });

  it('refuses invalid bodies with 400 before calling Meta', async () => {
    const tenant = await createTenant(api);
    const n = newNumber();
    const meta = fakeSignup(n);
    const cases: [Record<string, unknown>, string][] = [
      [{ wabaId: 'not-digits' }, 'wabaId'],
      [{ phoneNumberId: '12/../34' }, 'phoneNumberId'],
      [{ pin: '12345' }, 'pin'],
      [{ pin: 'abcdef' }, 'pin'],
      [{ label: '   ' }, 'label'],
      [{ code: '' }, 'code'],
      [{ organizationId: tenant.organizationId }, 'organizationId'],
      [{ businessToken: 'EAAGsomething' }, 'businessToken'],
    ];
    for (const [extra, path] of cases) {
      const res = await connect(tenant, n, extra);
      expectProblem(res, 400, 'validation_error');
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    const missing = await api.call('POST', '/v1/channels/whatsapp', { token: tenant.adminToken, body: { code: n.code } });
    expectProblem(missing, 400, 'validation_error');
    expect(meta.calls).toEqual([]);
    expect(await channelRows(n.phoneNumberId)).toEqual([]);
  });
});

describe('POST /v1/channels/whatsapp when Meta fails', () => {
  const failures: { step: Step; status: number; code: number; message: string; before: Step[] }[] = [
    { step: 'exchange', status: 400, code: 100, message: 'This authorization code has expired.', before: [] },
    { step: 'phone', status: 400, code: 100, message: 'Unsupported get request. Object with ID does not exist.', before: ['exchange'] },
    { step: 'subscribe', status: 403, code: 200, message: 'Permissions error', before: ['exchange', 'phone'] },
    { step: 'register', status: 400, code: 133005, message: 'Two step verification PIN Mismatch', before: ['exchange', 'phone', 'subscribe'] },
    {
      step: 'templates:2',
      status: 500,
      code: 2,
      message: 'Service temporarily unavailable',
      before: ['exchange', 'phone', 'subscribe', 'register', 'templates:1'],
    },
  ];

  for (const f of failures) {
    it(`answers 502 graph_error with Meta's code and message at ${f.step}, leaving nothing behind`, async () => {
      const tenant = await createTenant(api);
      const n = newNumber();
      const body = metaError(f.code, f.message, { error_subcode: 2494010 });
      const meta = fakeSignup(n, { fail: { step: f.step, status: f.status, body } });
      const res = await connect(tenant, n, { pin: '123456' });

      expectProblem(res, 502, 'graph_error');
      expect(res.body.meta).toMatchObject({ code: f.code, subcode: 2494010, message: f.message, fbtraceId: body.error.fbtrace_id });
      expect(meta.calls).toEqual([...f.before, f.step]);
      // The step names the console's health check shows.
      expect(res.body.step).toBe({ exchange: 'token', phone: 'number', subscribe: 'subscription', register: 'registration' }[f.step as string] ?? 'templates');
      expect(await channelRows(n.phoneNumberId)).toEqual([]);
      expect(await templateRows(tenant.organizationId)).toEqual([]);
      const list = await api.call('GET', '/v1/channels', { token: tenant.adminToken });
      expect(list.body.data).toEqual([]);
      expect(res.text).not.toContain(n.token);
      expect(res.text).not.toContain(n.code);
      expect(res.text).not.toContain(api.config.meta.appSecret);

      // Nothing half-done blocks a second attempt.
      nock.cleanAll();
      fakeSignup(n);
      expect((await connect(tenant, n)).status).toBe(201);
    });
  }

  it('never echoes the signup code, token or pin when Meta quotes them back', async () => {
    const tenant = await createTenant(api);
    const n = newNumber();
    const exchange = fakeSignup(n, {
      fail: { step: 'exchange', status: 400, body: metaError(100, `Invalid verification code format: ${n.code}`) },
    });
    const refused = await connect(tenant, n);
    expectProblem(refused, 502, 'graph_error');
    expect(exchange.calls).toEqual(['exchange']);
    expect(refused.body.meta.code).toBe(100);
    expect(refused.text).not.toContain(n.code);
    expect(refused.text).not.toContain(api.config.meta.appSecret);

    nock.cleanAll();
    const register = fakeSignup(n, {
      fail: {
        step: 'register',
        status: 400,
        body: metaError(190, `Invalid OAuth access token ${n.token} for pin 654321`, {
          error_user_title: `Token ${n.token} rejected`,
          error_data: { details: `pin 654321 with ${n.token}` },
        }),
      },
    });
    const res = await connect(tenant, n, { pin: '654321' });
    expectProblem(res, 502, 'graph_error');
    expect(register.calls.at(-1)).toBe('register');
    expect(res.body.meta.code).toBe(190);
    expect(res.text).not.toContain(n.token);
    expect(res.text).not.toContain('654321');
    expect(await channelRows(n.phoneNumberId)).toEqual([]);
  });

  it('answers 502 graph_error when Meta cannot be reached, and when it answers without a token', async () => {
    const tenant = await createTenant(api);
    const n = newNumber();
    // No fake at all: the connection is refused by nock.
    const unreachable = await connect(tenant, n);
    expectProblem(unreachable, 502, 'graph_error');
    expect(unreachable.body.meta.code).toBe(-1);

    nock(GRAPH).get(`/${VERSION}/oauth/access_token`).query(true).reply(200, { token_type: 'bearer' });
    const tokenless = await connect(tenant, n);
    expectProblem(tokenless, 502, 'graph_error');
    expect(tokenless.body.meta.code).toBe(-1);
    expect(await channelRows(n.phoneNumberId)).toEqual([]);
  });
});

describe('one number, one organization', () => {
  it('answers 409 channel_conflict for a number connected in another organization, or already here', async () => {
    const a = await connected();
    const b = await createTenant(api);
    const retry = { ...a.n, code: `AQD${randomBytes(8).toString('hex')}` };
    const meta = fakeSignup(retry, { persist: true });
    const res = await connect(b, retry);
    expectProblem(res, 409, 'channel_conflict');
    const again = await connect(a.tenant, retry);
    expectProblem(again, 409, 'channel_conflict');
    // The one-time code is not spent on a number that cannot be taken.
    expect(meta.calls).toEqual([]);
    const rows = await channelRows(a.n.phoneNumberId);
    expect(rows.map((r) => r.organization)).toEqual([a.tenant.organizationId]);
    expect(await templateRows(b.organizationId)).toEqual([]);
  });

  it('lets exactly one of several concurrent signups of a number win', async () => {
    const a = await createTenant(api);
    const b = await createTenant(api);
    const n = newNumber();
    fakeSignup(n, { persist: true });
    const attempts = await Promise.all([a, b, a, b, a, b].map((t) => connect(t, n)));

    const statuses = attempts.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
    for (const r of attempts.filter((x) => x.status === 409)) expectProblem(r, 409, 'channel_conflict');
    const winner = attempts.find((r) => r.status === 201)!;
    const rows = await channelRows(n.phoneNumberId);
    expect(rows.map((r) => r.id)).toEqual([winner.body.id]);
    const owner = rows[0]!.organization;
    const loser = owner === a.organizationId ? b : a;
    expect((await templateRows(owner)).map((t) => t.channel)).toEqual([winner.body.id, winner.body.id, winner.body.id]);
    expect(await templateRows(loser.organizationId)).toEqual([]);
  });
});

describe('DELETE /v1/channels/:id', () => {
  it('disconnects: 204, then 404, the token is dropped, and the number can be connected again', async () => {
    const { tenant, n, channel } = await connected();
    const del = await api.call('DELETE', `/v1/channels/${channel.id}`, { token: tenant.adminToken });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');

    expectProblem(await api.call('GET', `/v1/channels/${channel.id}`, { token: tenant.adminToken }), 404, 'not_found');
    expectProblem(await api.call('PATCH', `/v1/channels/${channel.id}`, { token: tenant.adminToken, body: { label: 'x' } }), 404, 'not_found');
    expectProblem(await api.call('DELETE', `/v1/channels/${channel.id}`, { token: tenant.adminToken }), 404, 'not_found');
    expectProblem(await templates(tenant.adminToken, `?channelId=${channel.id}`), 404, 'not_found');
    expect((await api.call('GET', '/v1/channels', { token: tenant.adminToken })).body.data).toEqual([]);
    // A disconnected channel's templates cannot be sent any more, so they are not listed either.
    expect((await templates(tenant.adminToken)).body.data).toEqual([]);

    const row = await channelRow(channel.id);
    expect(row.status).toBe('deleted');
    expect(row.deletedAt).toBeInstanceOf(Date);
    expect(new SecretBox(api.config.encryptionKey).decrypt(await ciphertextOf(channel.id), channel.id)).toBe('');

    // Here again, then (after a second disconnect) elsewhere.
    const again = newNumber();
    Object.assign(again, { wabaId: n.wabaId, phoneNumberId: n.phoneNumberId });
    fakeSignup(again);
    const reconnected = await connect(tenant, again);
    expect(reconnected.status).toBe(201);
    expect(reconnected.body.id).not.toBe(channel.id);
    const listed = await templates(tenant.adminToken);
    expect(listed.body.data).toHaveLength(3);
    expect(new Set(listed.body.data.map((t: { channelId: string }) => t.channelId))).toEqual(new Set([reconnected.body.id]));

    expect((await api.call('DELETE', `/v1/channels/${reconnected.body.id}`, { token: tenant.adminToken })).status).toBe(204);
    const other = await createTenant(api);
    const moved = { ...newNumber(), wabaId: n.wabaId, phoneNumberId: n.phoneNumberId };
    fakeSignup(moved);
    expect((await connect(other, moved)).status).toBe(201);
    const rows = await channelRows(n.phoneNumberId);
    expect(rows.filter((r) => r.status === 'active').map((r) => r.organization)).toEqual([other.organizationId]);
    expect(rows).toHaveLength(3);
  });

  it('answers 404 for ids that do not exist or are not ids', async () => {
    const tenant = await createTenant(api);
    for (const id of ['00000000-0000-7000-8000-000000000000', 'not-an-id']) {
      expectProblem(await api.call('DELETE', `/v1/channels/${id}`, { token: tenant.adminToken }), 404, 'not_found');
      expectProblem(await api.call('GET', `/v1/channels/${id}`, { token: tenant.adminToken }), 404, 'not_found');
    }
  });
});

describe('PATCH /v1/channels/:id', () => {
  it('changes the label and the send rate within 1..1000', async () => {
    const { tenant, channel } = await connected();
    const path = `/v1/channels/${channel.id}`;
    const renamed = await api.call('PATCH', path, { token: tenant.adminToken, body: { label: '  Billing  ' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toEqual({ ...channel, label: 'Billing' });

    for (const rate of [1, 1000, 250]) {
      const res = await api.call('PATCH', path, { token: tenant.adminToken, body: { messagesPerSecond: rate } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ label: 'Billing', messagesPerSecond: rate });
    }
    const both = await api.call('PATCH', path, { token: tenant.adminToken, body: { label: 'Both', messagesPerSecond: 5 } });
    expect(both.body).toMatchObject({ label: 'Both', messagesPerSecond: 5 });
    expect((await api.call('GET', path, { token: tenant.adminToken })).body).toMatchObject({ label: 'Both', messagesPerSecond: 5 });
    expect(await channelRow(channel.id)).toMatchObject({ label: 'Both', messagesPerSecond: 5 });
  });

  it('refuses rates outside 1..1000, blank labels and unknown fields with 400, changing nothing', async () => {
    const { tenant, channel } = await connected();
    const path = `/v1/channels/${channel.id}`;
    const cases: [Record<string, unknown>, string][] = [
      [{ messagesPerSecond: 0 }, 'messagesPerSecond'],
      [{ messagesPerSecond: 1001 }, 'messagesPerSecond'],
      [{ messagesPerSecond: -5 }, 'messagesPerSecond'],
      [{ messagesPerSecond: 2.5 }, 'messagesPerSecond'],
      [{ messagesPerSecond: '80' }, 'messagesPerSecond'],
      [{ label: '   ' }, 'label'],
      [{ label: 'x'.repeat(201) }, 'label'],
      [{ status: 'deleted' }, 'status'],
      [{ phoneNumberId: metaId() }, 'phoneNumberId'],
      [{ organizationId: 'someone-else' }, 'organizationId'],
      [{ businessTokenCiphertext: 'v1.x.y.z.w' }, 'businessTokenCiphertext'],
      [{ label: 'Fine', wabaId: metaId() }, 'wabaId'],
    ];
    for (const [body, field] of cases) {
      const res = await api.call('PATCH', path, { token: tenant.adminToken, body });
      expectProblem(res, 400, 'validation_error');
      expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([field]);
    }
    expect(await channelRow(channel.id)).toMatchObject({ label: 'Support line', messagesPerSecond: 80, status: 'active', wabaId: channel.wabaId });
    expect(await ciphertextOf(channel.id)).toMatch(/^v2\./);
  });
});

describe('roles and scopes', () => {
  it('gives an agent 403 on creating, changing and disconnecting channels', async () => {
    const { tenant, n, channel } = await connected();
    const agent = await agentOf(tenant);
    const other = newNumber();
    const meta = fakeSignup(other);
    expectProblem(await connect(agent, other), 403, 'forbidden');
    expectProblem(await api.call('PATCH', `/v1/channels/${channel.id}`, { token: agent, body: { label: 'Mine' } }), 403, 'forbidden');
    expectProblem(await api.call('DELETE', `/v1/channels/${channel.id}`, { token: agent }), 403, 'forbidden');
    expectProblem(await api.call('POST', '/v1/templates/sync', { token: agent, body: {} }), 403, 'forbidden');
    expect(meta.calls).toEqual([]);
    expect(await channelRows(other.phoneNumberId)).toEqual([]);
    const [row] = await channelRows(n.phoneNumberId);
    expect(row).toMatchObject({ status: 'active', label: 'Support line' });
  });

  it('lets a partner token with channels:read list channels but never create, change or delete one', async () => {
    const { tenant, channel } = await connected({ tags: ['general'] });
    const publisher = await createTenant(api, { tags: ['general'] });
    const partner = await installApp(api, publisher, tenant, { appScopes: ['channels:read', 'conversations:read'], grant: ['channels:read'] });
    const list = await api.call('GET', '/v1/channels', { token: partner.accessToken });
    expect(list.status).toBe(200);
    expect(list.body.data).toEqual([channel]);
    expect((await api.call('GET', `/v1/channels/${channel.id}`, { token: partner.accessToken })).body).toEqual(channel);

    const n = newNumber();
    const meta = fakeSignup(n);
    expectProblem(await connect(partner.accessToken, n), 403, 'forbidden');
    expectProblem(await api.call('PATCH', `/v1/channels/${channel.id}`, { token: partner.accessToken, body: { label: 'x' } }), 403, 'forbidden');
    expectProblem(await api.call('DELETE', `/v1/channels/${channel.id}`, { token: partner.accessToken }), 403, 'forbidden');
    expect(meta.calls).toEqual([]);
    expect(await channelRows(n.phoneNumberId)).toEqual([]);

    // Without templates:read, no templates.
    expectProblem(await templates(partner.accessToken), 403, 'forbidden');
    expectProblem(await api.call('POST', '/v1/templates/sync', { token: partner.accessToken, body: {} }), 403, 'forbidden');
    // With it, but without channels:read: templates yes, channels no.
    const reader = await installApp(api, publisher, tenant, { appScopes: ['templates:read'], grant: ['templates:read'] });
    const listed = await templates(reader.accessToken);
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(3);
    expectProblem(await api.call('GET', '/v1/channels', { token: reader.accessToken }), 403, 'forbidden');
  });

  it('answers 401 without a token', async () => {
    expectProblem(await api.call('GET', '/v1/channels'), 401, 'unauthorized');
    expectProblem(await api.call('POST', '/v1/channels/whatsapp', { body: connectBody(newNumber()) }), 401, 'unauthorized');
    expectProblem(await api.call('GET', '/v1/templates'), 401, 'unauthorized');
  });
});

describe('POST /v1/templates/sync', () => {
  it('makes the stored set equal to Meta’s: adds, changes and removes', async () => {
    const tenant = await createTenant(api);
    const n = newNumber();
    const keep = metaTemplate('keep');
    const change = metaTemplate('change');
    const drop = metaTemplate('drop', { language: 'es' });
    fakeSignup(n, { pages: [[keep, change], [drop]] });
    const created = await connect(tenant, n);
    expect(created.status).toBe(201);
    const before = new Map<string, { id: string }>((await templates(tenant.adminToken)).body.data.map((t: { name: string }) => [t.name, t]));

    const changed = {
      ...change,
      id: metaId(),
      status: 'PAUSED',
      category: 'MARKETING',
      parameter_format: 'NAMED',
      components: [{ type: 'BODY', text: 'Hi {{first_name}}', example: { body_text_named_params: [{ param_name: 'first_name', example: 'Ana' }] } }],
    };
    const added = metaTemplate('added', { language: 'pt_BR' });
    // Same name, other language: a template of its own.
    const keepEs = metaTemplate('keep', { language: 'es' });
    const meta = fakeTemplatePages(n, [[keep, changed], [added], [keepEs]]);
    const res = await api.call('POST', '/v1/templates/sync', { token: tenant.adminToken, body: {} });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ channels: 1, templates: 4 });
    expect(meta.calls).toEqual(['templates:1', 'templates:2', 'templates:3']);

    const after = (await templates(tenant.adminToken)).body.data as Array<Record<string, unknown>>;
    expect(after.map((t) => `${t.name}/${t.language}`).sort()).toEqual(['added/pt_BR', 'change/en_US', 'keep/en_US', 'keep/es']);
    const find = (name: string, language = 'en_US') => after.find((t) => t.name === name && t.language === language)!;
    expect(find('change')).toMatchObject({
      id: before.get('change')!.id,
      metaTemplateId: changed.id,
      status: 'PAUSED',
      category: 'MARKETING',
      parameterFormat: 'NAMED',
      components: changed.components,
    });
    expect(find('keep')).toMatchObject({ id: before.get('keep')!.id, components: keep.components });
    expect(find('added', 'pt_BR')).toMatchObject({ metaTemplateId: added.id, channelId: created.body.id, components: added.components });

    const rows = await templateRows(tenant.organizationId);
    expect(rows).toHaveLength(4);
    expect(rows.find((r) => r.name === 'drop')).toBeUndefined();
  });

  it('syncs one channel by id, or every channel of the organization', async () => {
    const { tenant, n } = await connected();
    const second = newNumber();
    fakeSignup(second, { pages: [[metaTemplate('second_only')]] });
    const other = await connect(tenant, second);
    expect(other.status).toBe(201);

    const only = fakeTemplatePages(second, [[metaTemplate('second_only'), metaTemplate('second_new')]]);
    const one = await api.call('POST', '/v1/templates/sync', { token: tenant.adminToken, body: { channelId: other.body.id } });
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ channels: 1, templates: 2 });
    expect(only.calls).toEqual(['templates:1']);
    expect(nock.pendingMocks()).toEqual([]);

    fakeTemplatePages(n, [[]]);
    fakeTemplatePages(second, [[metaTemplate('second_new')]]);
    const all = await api.call('POST', '/v1/templates/sync', { token: tenant.adminToken });
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ channels: 2, templates: 1 });
    expect(nock.pendingMocks()).toEqual([]);
    expect((await templateRows(tenant.organizationId)).map((t) => [t.name, t.channel])).toEqual([['second_new', other.body.id]]);
  });

  it('takes concurrent syncs of one channel in turn, each answering 200', async () => {
    const { tenant, n } = await connected();
    const added = Array.from({ length: 10 }, (_, i) => metaTemplate(`brand_new_${String(i).padStart(2, '0')}`));
    const latest = [metaTemplate('order_ready'), ...added];
    nock(GRAPH)
      .persist()
      .get(`/${VERSION}/${n.wabaId}/message_templates`)
      .matchHeader('authorization', `Bearer ${n.token}`)
      .query(true)
      .delay(30)
      .reply(200, { data: latest, paging: { cursors: { after: 'end' } } });
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => api.call('POST', '/v1/templates/sync', { token: tenant.adminToken, body: {} })),
    );
    expect(answers.map((a) => [a.status, a.body])).toEqual(Array(8).fill([200, { channels: 1, templates: 11 }]));
    expect((await templateRows(tenant.organizationId)).map((t) => t.name)).toEqual([...added.map((t) => t.name), 'order_ready']);
  });

  it('writes no templates for a channel disconnected while Meta was answering', async () => {
    const { tenant, n, channel } = await connected();
    nock(GRAPH)
      .get(`/${VERSION}/${n.wabaId}/message_templates`)
      .query(true)
      .delay(300)
      .reply(200, { data: [metaTemplate('late')], paging: {} });
    const sync = api.call('POST', '/v1/templates/sync', { token: tenant.adminToken, body: {} });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await api.call('DELETE', `/v1/channels/${channel.id}`, { token: tenant.adminToken })).status).toBe(204);
    expect((await sync).status).toBe(200);
    expect(await templateRows(tenant.organizationId)).toEqual([]);
  });

  it('answers 502 graph_error and keeps the stored set when Meta fails on a later page', async () => {
    const { tenant, n } = await connected();
    const before = (await templateRows(tenant.organizationId)).map((t) => [t.id, t.name, t.metaTemplateId]);
    fakeTemplatePages(n, [[metaTemplate('new_one')], [metaTemplate('new_two')]], {
      step: 'templates:2',
      status: 400,
      body: metaError(80008, 'There have been too many calls to this WhatsApp Business account.'),
    });
    const res = await api.call('POST', '/v1/templates/sync', { token: tenant.adminToken, body: {} });
    expectProblem(res, 502, 'graph_error');
    expect(res.body.meta).toMatchObject({ code: 80008, message: 'There have been too many calls to this WhatsApp Business account.' });
    expect((await templateRows(tenant.organizationId)).map((t) => [t.id, t.name, t.metaTemplateId])).toEqual(before);
    expect(res.text).not.toContain(n.token);
  });

  it('refuses unknown fields and unknown channels', async () => {
    const { tenant } = await connected();
    expectProblem(await api.call('POST', '/v1/templates/sync', { token: tenant.adminToken, body: { wabaId: metaId() } }), 400, 'validation_error');
    expectProblem(
      await api.call('POST', '/v1/templates/sync', { token: tenant.adminToken, body: { channelId: '00000000-0000-7000-8000-000000000000' } }),
      404,
      'not_found',
    );
    expectProblem(await templates(tenant.adminToken, '?channelId=nope'), 404, 'not_found');
    expectProblem(await templates(tenant.adminToken, '?wabaId=1'), 400, 'validation_error');
  });
});

describe('across tenants', () => {
  it('answers 404, exactly as for a missing channel, to another organization’s channel and templates', async () => {
    const a = await connected();
    const b = await connected();
    const missing = '00000000-0000-7000-8000-000000000000';
    const token = a.tenant.adminToken;
    const pairs: [string, string, unknown][] = [
      ['GET', '/v1/channels/:id', undefined],
      ['PATCH', '/v1/channels/:id', { label: 'Taken over', messagesPerSecond: 1 }],
      ['DELETE', '/v1/channels/:id', undefined],
      ['GET', '/v1/templates?channelId=:id', undefined],
      ['POST', '/v1/templates/sync', { channelId: ':id' }],
    ];
    for (const [method, path, body] of pairs) {
      const withId = (id: string) => ({
        path: path.replace(':id', id),
        body: body === undefined ? undefined : JSON.parse(JSON.stringify(body).replace(':id', id)),
      });
      const theirs = withId(b.channel.id);
      const absent = withId(missing);
      const res = await api.call(method, theirs.path, { token, body: theirs.body });
      expectProblem(res, 404, 'not_found');
      expect(problemShape(res)).toEqual(problemShape(await api.call(method, absent.path, { token, body: absent.body })));
    }
    // B's channel and templates are untouched, and Meta was never asked for them.
    expect(nock.pendingMocks()).toEqual([]);
    const [row] = await channelRows(b.n.phoneNumberId);
    expect(row).toMatchObject({ status: 'active', label: 'Support line', messagesPerSecond: 80 });
    expect(await templateRows(b.tenant.organizationId)).toHaveLength(3);
    expect((await api.call('GET', `/v1/channels/${b.channel.id}`, { token: b.tenant.adminToken })).body).toEqual(b.channel);

    // Lists show only one's own.
    expect((await api.call('GET', '/v1/channels', { token })).body.data).toEqual([a.channel]);
    const listed = (await templates(token)).body.data as { channelId: string }[];
    expect(listed).toHaveLength(3);
    expect(listed.every((t) => t.channelId === a.channel.id)).toBe(true);
  });
});
