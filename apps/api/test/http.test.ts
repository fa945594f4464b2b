import { connect } from 'node:net';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, isId, systemClock } from '@parley/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app';
import { MAX_BODY_BYTES } from '../src/http/body';
import {
  createTenant,
  PASSWORD,
  startTestApi,
  uniqueEmail,
  type Answer,
  type TestApi,
  type Tenant,
} from '../../../test/support/api';

let api: TestApi;
let t: Tenant;
beforeAll(async () => {
  api = await startTestApi();
  t = await createTenant(api, { tags: ['http-conventions'] });
});
afterAll(async () => api.close());

/** Every error is an RFC 9457 problem with the contract's fields. */
function expectProblem(res: Answer, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code });
  expect(typeof res.body.type).toBe('string');
  expect(res.body.type.length).toBeGreaterThan(0);
  expect(typeof res.body.title).toBe('string');
  expect(res.body.title.length).toBeGreaterThan(0);
  expect(typeof res.body.detail).toBe('string');
  expect(res.body.detail.length).toBeGreaterThan(0);
  expect(res.body.code).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
  return res.body;
}

function validUser(overrides: Record<string, unknown> = {}) {
  return { email: uniqueEmail('http'), password: PASSWORD, name: 'Agent Smith', role: 'agent', ...overrides };
}

async function userIds(tenant: Tenant): Promise<string[]> {
  const res = await api.call('GET', '/v1/users?limit=200', { token: tenant.adminToken });
  expect(res.status).toBe(200);
  return (res.body.data as { id: string }[]).map((u) => u.id).sort();
}

async function userEmails(tenant: Tenant): Promise<string[]> {
  const res = await api.call('GET', '/v1/users?limit=200', { token: tenant.adminToken });
  return (res.body.data as { email: string }[]).map((u) => u.email);
}

/** A JSON body padded with insignificant whitespace to exactly `size` bytes. */
function paddedJson(value: unknown, size: number): string {
  const json = JSON.stringify(value);
  const pad = size - Buffer.byteLength(json);
  if (pad < 0) throw new Error('value larger than size');
  return json.slice(0, -1) + ' '.repeat(pad) + '}';
}

/** Speaks HTTP/1.1 by hand, for what fetch refuses to send (a lying Content-Length). */
function rawRequest(head: string, body = ''): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const { port } = new URL(api.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer; got: ${received.toString()}`));
    }, 10_000);
    const tryParse = () => {
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
      const headers = Object.fromEntries(
        lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
      );
      const length = Number(headers['content-length'] ?? NaN);
      const bodyBytes = received.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
      if (!Number.isNaN(length) && bodyBytes.length < length) return false;
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: bodyBytes.toString('utf8') });
      return true;
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      tryParse();
    });
    socket.on('end', () => {
      if (!tryParse()) reject(new Error(`connection closed early: ${received.toString()}`));
    });
    socket.on('error', (err) => {
      if (!tryParse()) reject(err);
    });
    socket.write(head.replace(/\n/g, '\r\n') + '\r\n' + body);
  });
}

describe('request bodies', () => {
  it('answers malformed JSON with 400 invalid_json', async () => {
    for (const raw of ['{"email": ', '{email: "a"}', "{'a': 1}", '[1,2', 'nul']) {
      const res = await api.call('POST', '/v1/users', { token: t.adminToken, raw, headers: { 'content-type': 'application/json' } });
      expectProblem(res, 400, 'invalid_json');
    }
  });

  it('judges the caller before the body: no token and bad JSON is a 401', async () => {
    const res = await api.call('POST', '/v1/users', { raw: '{"email": ', headers: { 'content-type': 'application/json' } });
    expectProblem(res, 401, 'unauthorized');
    const wrongType = await api.call('POST', '/v1/users', { raw: 'a=b', headers: { 'content-type': 'text/plain' } });
    expectProblem(wrongType, 401, 'unauthorized');
  });

  it('answers wrong types with 400 validation_error listing each path', async () => {
    const res = await api.call('POST', '/v1/users', {
      token: t.adminToken,
      body: { email: 42, password: true, name: ['x'], role: 'boss' },
    });
    const p = expectProblem(res, 400, 'validation_error');
    expect(Array.isArray(p.errors)).toBe(true);
    for (const e of p.errors) {
      expect(typeof e.path).toBe('string');
      expect(typeof e.message).toBe('string');
      expect(e.message.length).toBeGreaterThan(0);
    }
    const paths = (p.errors as { path: string }[]).map((e) => e.path).sort();
    expect(paths).toEqual(['email', 'name', 'password', 'role']);
  });

  it('answers a missing body and a non-object body as validation errors, naming the fields', async () => {
    const empty = await api.call('POST', '/v1/users', { token: t.adminToken });
    const p = expectProblem(empty, 400, 'validation_error');
    expect((p.errors as { path: string }[]).map((e) => e.path).sort()).toEqual(['email', 'name', 'password', 'role']);

    const array = await api.call('POST', '/v1/users', { token: t.adminToken, body: [validUser()] });
    expectProblem(array, 400, 'validation_error');
    const str = await api.call('POST', '/v1/users', { token: t.adminToken, body: 'hello' });
    expectProblem(str, 400, 'validation_error');
  });

  it('rejects unknown fields with 400 naming each one, at any depth', async () => {
    const top = await api.call('POST', '/v1/users', {
      token: t.adminToken,
      body: validUser({ organizationId: '00000000-0000-7000-8000-000000000000', isSuperuser: true }),
    });
    const p = expectProblem(top, 400, 'validation_error');
    expect(p.errors).toEqual(
      expect.arrayContaining([
        { path: 'organizationId', message: expect.any(String) },
        { path: 'isSuperuser', message: expect.any(String) },
      ]),
    );
    expect(p.errors).toHaveLength(2);

    const nested = await api.call('POST', '/v1/organizations', {
      token: api.config.platformAdminToken,
      body: { name: 'Nested', admin: { email: uniqueEmail('nested'), password: PASSWORD, role: 'root' } },
    });
    const q = expectProblem(nested, 400, 'validation_error');
    expect(q.errors).toEqual([{ path: 'admin.role', message: expect.any(String) }]);

    const inArray = await api.call('POST', '/v1/apps', {
      token: t.adminToken,
      body: { name: 'A', description: 'd', tags: ['x'], scopes: ['conversations:read', 'root:all'] },
    });
    const r = expectProblem(inArray, 400, 'validation_error');
    expect(r.errors.map((e: { path: string }) => e.path)).toEqual(['scopes.1']);
  });

  it('validates query strings, naming query.<param>', async () => {
    for (const [qs, path] of [
      ['limit=0', 'query.limit'],
      ['limit=201', 'query.limit'],
      ['limit=abc', 'query.limit'],
      ['bogus=1', 'query.bogus'],
      ['role=owner', 'query.role'],
    ]) {
      const res = await api.call('GET', `/v1/users?${qs}`, { token: t.adminToken });
      const p = expectProblem(res, 400, 'validation_error');
      expect(p.errors.map((e: { path: string }) => e.path), qs).toContain(path);
    }
    const ok = await api.call('GET', '/v1/users?limit=200', { token: t.adminToken });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ data: expect.any(Array), nextCursor: null });
  });

  it('accepts a body of exactly 1 MiB', async () => {
    const user = validUser();
    const raw = paddedJson(user, MAX_BODY_BYTES);
    expect(Buffer.byteLength(raw)).toBe(1024 * 1024);
    const res = await api.call('POST', '/v1/users', { token: t.adminToken, raw, headers: { 'content-type': 'application/json' } });
    expect(res.status, res.text).toBe(201);
    expect(res.body.email).toBe(user.email);
  });

  it('answers a real body over 1 MiB with 413 payload_too_large and creates nothing', async () => {
    const before = await userIds(t);
    const user = validUser();
    for (const size of [MAX_BODY_BYTES + 1, 3 * MAX_BODY_BYTES]) {
      const raw = paddedJson(user, size); // valid JSON, valid user: only the size is wrong
      const res = await api.call('POST', '/v1/users', { token: t.adminToken, raw, headers: { 'content-type': 'application/json' } });
      expectProblem(res, 413, 'payload_too_large');
      expect(res.headers.get('connection')).toBe('close');
    }
    expect(await userIds(t)).toEqual(before);
    expect(await userEmails(t)).not.toContain(user.email);
  });

  it('answers an over-limit chunked body (no Content-Length) with 413', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode('{"email":"x@example.test"'));
        if (sent > MAX_BODY_BYTES + chunk.length) {
          controller.enqueue(new TextEncoder().encode('}'));
          controller.close();
          return;
        }
        controller.enqueue(chunk);
        sent += chunk.length;
      },
    });
    const res = await fetch(`${api.url}/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit & { duplex: 'half' });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await res.json()) as { code: string }).code).toBe('payload_too_large');
    // The unread rest of the body leaves the connection unusable: the server closes it, so a
    // keep-alive client does not send its next request onto a socket with half a body on it.
    expect(res.headers.get('connection')).toBe('close');
    for (let i = 0; i < 4; i++) {
      const started = Date.now();
      const next = await api.call('GET', '/v1/users', { token: t.adminToken });
      expect(next.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(2000);
    }
  });

  it('answers a Content-Length over 1 MiB with 413 before reading the body', async () => {
    const res = await rawRequest(
      [
        'POST /v1/users HTTP/1.1',
        `Host: 127.0.0.1`,
        `Authorization: Bearer ${t.adminToken}`,
        'Content-Type: application/json',
        `Content-Length: ${MAX_BODY_BYTES + 1}`,
        '',
        '',
      ].join('\n'),
      '{"email":"liar@example.test"}',
    );
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(res.body)).toMatchObject({ status: 413, code: 'payload_too_large' });
  });

  it('answers a non-JSON content type with 415', async () => {
    const body = JSON.stringify(validUser());
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
      const res = await api.call('POST', '/v1/users', { token: t.adminToken, raw: body, headers: { 'content-type': type } });
      expectProblem(res, 415, 'unsupported_media_type');
    }
    // JSON with a charset, and +json types, are JSON.
    const withCharset = await api.call('POST', '/v1/users', {
      token: t.adminToken,
      raw: JSON.stringify(validUser()),
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(withCharset.status, withCharset.text).toBe(201);
  });

  it('answers a body without any content type with 415', async () => {
    const res = await fetch(`${api.url}/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminToken}` },
      body: Buffer.from(JSON.stringify(validUser())),
    });
    expect(res.status).toBe(415);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

describe('bad input changes nothing', () => {
  it('a user with an unknown field is not created, and the email stays free', async () => {
    const before = await userIds(t);
    const user = validUser({ role: 'agent' });
    const res = await api.call('POST', '/v1/users', { token: t.adminToken, body: { ...user, role: 'admin', isAdmin: true } });
    expectProblem(res, 400, 'validation_error');
    expect(await userIds(t)).toEqual(before);
    const login = await api.call('POST', '/v1/auth/login', { body: { email: user.email, password: PASSWORD } });
    expectProblem(login, 401, 'unauthorized');

    // The same email is still free for a valid request.
    const ok = await api.call('POST', '/v1/users', { token: t.adminToken, body: user });
    expect(ok.status, ok.text).toBe(201);
    expect(await userIds(t)).toEqual([...before, ok.body.id].sort());
  });

  it('wrong types, a short password, malformed JSON and 415 create nothing', async () => {
    const before = await userIds(t);
    const email = uniqueEmail('nothing');
    const attempts: [string, Parameters<TestApi['call']>[2]][] = [
      ['types', { token: t.adminToken, body: { email, password: PASSWORD, name: 5, role: 'agent' } }],
      ['short', { token: t.adminToken, body: { email, password: 'short', name: 'N', role: 'agent' } }],
      ['json', { token: t.adminToken, raw: `{"email":"${email}","password":"${PASSWORD}","name":"N","role":"agent"`, headers: { 'content-type': 'application/json' } }],
      ['415', { token: t.adminToken, raw: JSON.stringify({ email, password: PASSWORD, name: 'N', role: 'agent' }), headers: { 'content-type': 'text/plain' } }],
    ];
    for (const [label, options] of attempts) {
      const res = await api.call('POST', '/v1/users', options);
      expect(res.status, label).toBeGreaterThanOrEqual(400);
      expect(res.status, label).toBeLessThan(500);
    }
    expect(await userIds(t)).toEqual(before);
    expect(await userEmails(t)).not.toContain(email);
  });

  it('an app with a mass-assignment attempt is not registered', async () => {
    const owned = async () => (await api.call('GET', '/v1/apps?owned=true&limit=200', { token: t.adminToken })).body.data.map((a: { id: string }) => a.id);
    const before = await owned();
    const res = await api.call('POST', '/v1/apps', {
      token: t.adminToken,
      body: {
        name: 'Sneaky',
        description: 'd',
        tags: ['http-conventions'],
        scopes: ['conversations:read'],
        publisherOrganizationId: '00000000-0000-7000-8000-000000000000',
        id: '00000000-0000-7000-8000-000000000001',
      },
    });
    const p = expectProblem(res, 400, 'validation_error');
    expect(p.errors.map((e: { path: string }) => e.path).sort()).toEqual(['id', 'publisherOrganizationId']);
    expect(await owned()).toEqual(before);
  });

  it('an organization with an unknown field is not created (its admin cannot log in, the email stays free)', async () => {
    const email = uniqueEmail('org');
    const res = await api.call('POST', '/v1/organizations', {
      token: api.config.platformAdminToken,
      body: { name: 'Ghost', plan: 'enterprise', admin: { email, password: PASSWORD } },
    });
    expectProblem(res, 400, 'validation_error');
    expect(res.body.errors).toEqual([{ path: 'plan', message: expect.any(String) }]);
    const login = await api.call('POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(login.status).toBe(401);
    const ok = await api.call('POST', '/v1/organizations', {
      token: api.config.platformAdminToken,
      body: { name: 'Real', admin: { email, password: PASSWORD } },
    });
    expect(ok.status, ok.text).toBe(201);
  });
});

describe('problems', () => {
  it('answers an unknown route with a 404 problem', async () => {
    for (const [method, path] of [
      ['GET', '/v1/nothing-here'],
      ['POST', '/'],
      ['POST', '/v1/nothing-here'],
      ['DELETE', '/v2/users'],
    ] as const) {
      const res = await api.call(method, path, { token: t.adminToken });
      expectProblem(res, 404, 'not_found');
    }
  });

  it('sends a browser at / to the console', async () => {
    const res = await fetch(`${api.url}/`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/console/');
  });

  it('answers a known path with an unsupported method with a 405 problem', async () => {
    const res = await api.call('PUT', '/v1/users', { token: t.adminToken });
    expectProblem(res, 405, 'method_not_allowed');
  });

  it('every kind of error is application/problem+json with type, title, status, detail and code', async () => {
    const cases: [number, string, Promise<Answer>][] = [
      [400, 'invalid_json', api.call('POST', '/v1/users', { token: t.adminToken, raw: '{', headers: { 'content-type': 'application/json' } })],
      [400, 'validation_error', api.call('POST', '/v1/users', { token: t.adminToken, body: {} })],
      [401, 'unauthorized', api.call('GET', '/v1/users')],
      [401, 'unauthorized', api.call('GET', '/v1/users', { token: 'not-a-token' })],
      [403, 'forbidden', api.call('GET', '/v1/users', { token: api.config.platformAdminToken })],
      [404, 'not_found', api.call('GET', '/v1/installations/00000000-0000-7000-8000-000000000000', { token: t.adminToken })],
      [404, 'not_found', api.call('GET', '/nope')],
      [405, 'method_not_allowed', api.call('PATCH', '/v1/users', { token: t.adminToken })],
      [413, 'payload_too_large', api.call('POST', '/v1/users', { token: t.adminToken, raw: 'x'.repeat(MAX_BODY_BYTES + 10), headers: { 'content-type': 'application/json' } })],
      [415, 'unsupported_media_type', api.call('POST', '/v1/users', { token: t.adminToken, raw: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } })],
    ];
    for (const [status, code, pending] of cases) {
      const res = await pending;
      const p = expectProblem(res, status, code);
      // Problems never leak internals.
      expect(res.text).not.toMatch(/at .*\.ts:\d+|Error:|stack/);
      if (p.errors !== undefined) expect(Array.isArray(p.errors)).toBe(true);
    }
  });

  it('401 answers carry WWW-Authenticate', async () => {
    const res = await api.call('GET', '/v1/me');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });
});

describe('X-Request-Id', () => {
  it('honours and echoes a sane caller id, and names it in problems', async () => {
    const id = 'req-2024.01:abc_DEF';
    const ok = await api.call('GET', '/health', { headers: { 'x-request-id': id } });
    expect(ok.headers.get('x-request-id')).toBe(id);
    const problem = await api.call('GET', '/v1/me', { headers: { 'x-request-id': id } });
    expect(problem.status).toBe(401);
    expect(problem.headers.get('x-request-id')).toBe(id);
    expect(problem.body.instance).toBe(`urn:parley:request:${id}`);
  });

  it('replaces an insane id with a generated one', async () => {
    for (const bad of ['has space', 'a'.repeat(129), '<script>alert(1)</script>', 'semi;colon', '']) {
      const res = await api.call('GET', '/health', { headers: bad ? { 'x-request-id': bad } : {} });
      const echoed = res.headers.get('x-request-id');
      expect(echoed, bad).not.toBe(bad);
      expect(isId(echoed ?? '')).toBe(true);
    }
  });

  it('generates a fresh id per request when none is sent', async () => {
    const a = await api.call('GET', '/health');
    const b = await api.call('GET', '/health');
    const ida = a.headers.get('x-request-id')!;
    const idb = b.headers.get('x-request-id')!;
    expect(isId(ida)).toBe(true);
    expect(isId(idb)).toBe(true);
    expect(ida).not.toBe(idb);
  });
});

describe('system endpoints', () => {
  it('GET /health answers 200 without a token', async () => {
    const res = await api.call('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('GET /ready answers 200 with the database check', async () => {
    const res = await api.call('GET', '/ready');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', checks: { database: 'ok' } });
  });

  it('GET /ready answers 503 naming the failing check', async () => {
    const app = createApp({
      config: api.config,
      orm: api.orm,
      logger: createLogger({ level: 'silent' }),
      clock: systemClock,
      readiness: [
        { name: 'database', check: async () => undefined },
        {
          name: 'temporal',
          check: async () => {
            throw new Error('connection refused');
          },
        },
      ],
    });
    const server = createServer(app.koa.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/ready`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { status: string; checks: Record<string, string> };
      expect(body.status).toBe('unavailable');
      expect(body.checks.database).toBe('ok');
      expect(body.checks.temporal).toBe('unavailable');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('GET /openapi.json is OpenAPI 3.1 and documents every route', async () => {
    const res = await api.call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = res.body;
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.components.schemas.Problem).toBeDefined();

    const routes = api.app.routes;
    expect(routes.length).toBeGreaterThan(10);
    const operationIds = new Set<string>();
    let documented = 0;
    for (const r of routes) {
      const path = r.path.replace(/:(\w+)/g, '{$1}');
      const op = doc.paths[path]?.[r.method];
      expect(op, `${r.method.toUpperCase()} ${r.path} is missing from /openapi.json`).toBeDefined();
      expect(op.operationId).toBe(r.operationId);
      expect(operationIds.has(r.operationId), `duplicate operationId ${r.operationId}`).toBe(false);
      operationIds.add(r.operationId);
      documented++;
      // Every path template parameter is declared as a required path parameter.
      for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
        expect(op.parameters, `${r.operationId}: ${name}`).toEqual(
          expect.arrayContaining([expect.objectContaining({ name, in: 'path', required: true })]),
        );
      }
      if (r.body) expect(op.requestBody?.content?.['application/json']?.schema, r.operationId).toBeDefined();
      if (r.auth === 'none') expect(op.security).toEqual([]);
      else expect(op.security).toEqual([{ bearer: [] }]);
      if (r.idempotent) expect(op.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'Idempotency-Key', in: 'header' })]));
      expect(Object.keys(op.responses).length).toBeGreaterThan(0);
    }
    // And nothing documented that is not served.
    const total = Object.values(doc.paths as Record<string, object>).reduce((n, ops) => n + Object.keys(ops).length, 0);
    expect(total).toBe(documented);
    for (const p of Object.keys(doc.paths)) expect(p).not.toContain(':');
  });

  it('GET /docs renders a page that loads /openapi.json, and its assets are served', async () => {
    const res = await fetch(`${api.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('/openapi.json');
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toContain('/docs/assets/swagger-ui-bundle.js');
    for (const asset of assets) {
      const a = await fetch(api.url + asset);
      expect(a.status, asset).toBe(200);
      const body = await a.arrayBuffer();
      expect(body.byteLength, asset).toBeGreaterThan(1000);
      if (asset.endsWith('.js')) expect(a.headers.get('content-type')).toMatch(/javascript/);
      if (asset.endsWith('.css')) expect(a.headers.get('content-type')).toMatch(/^text\/css/);
    }
  });

  it('serves only the known docs assets (no path traversal)', async () => {
    for (const path of [
      '/docs/assets/package.json',
      '/docs/assets/..%2F..%2Fpackage.json',
      '/docs/assets/%2E%2E%2Fpackage.json',
      '/docs/assets/..%2f..%2f..%2f..%2fetc%2fpasswd',
      '/docs/assets/index.html',
    ]) {
      const res = await api.call('GET', path);
      expectProblem(res, 404, 'not_found');
    }
  });
});
