import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig, type Config } from '@parley/config';
import { type Clock, createLogger, type Logger, systemClock } from '@parley/core';
import { createOrm } from '@parley/db';
import type { Resolver } from '@parley/domain';
import type { Client } from '@temporalio/client';
import { inject } from 'vitest';
import type Koa from 'koa';
import { createApp, type ParleyApp, serveRoutes } from '../../apps/api/src/app';
import type { RouteDef } from '../../apps/api/src/http/route';
import type { AppState } from '../../apps/api/src/http/state';
import { ownDatabase } from './database';

export const TEST_SECRETS = {
  PLATFORM_ADMIN_TOKEN: 'test-operator-token-0123456789abcdef',
  JWT_SECRET: 'test-jwt-secret-0123456789abcdef0123456789',
  ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
  META_APP_SECRET: 'test-meta-app-secret',
  META_VERIFY_TOKEN: 'test-verify-token',
} as const;

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: inject('databaseUrl'),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    META_GRAPH_URL: 'http://127.0.0.1:9/graph',
    // Tests create users by the hundred; OWASP's cost (the default) would make that minutes.
    PASSWORD_HASH_COST: '12',
    ...TEST_SECRETS,
    ...overrides,
  });
}

export interface TestApi {
  url: string;
  config: Config;
  orm: MikroORM;
  app: ParleyApp;
  /** fetch against the API; JSON bodies are encoded, the answer's JSON decoded. */
  call(method: string, path: string, options?: CallOptions): Promise<Answer>;
  close(): Promise<void>;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  raw?: string | Buffer;
  headers?: Record<string, string>;
}

export interface Answer {
  status: number;
  headers: Headers;
  // Tests read arbitrary fields of answers.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

/** Tests never look a name up: every name is unknown unless a test brings its own resolver. */
const noDns: Resolver = async (host) => {
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
};

export async function startTestApi(
  options: { clock?: Clock; env?: Record<string, string>; logger?: Logger; temporal?: Client; webhookResolver?: Resolver } = {},
): Promise<TestApi> {
  const config = testConfig(options.env);
  const orm = await createOrm({ url: config.database.url!, poolMax: 5, timeouts: config.database.timeouts });
  const app = createApp({
    config,
    orm,
    logger: options.logger ?? createLogger({ level: 'silent' }),
    temporal: options.temporal,
    webhookResolver: options.webhookResolver ?? noDns,
    clock: options.clock ?? systemClock,
    readiness: [{ name: 'database', check: async () => void (await orm.em.fork().getConnection().execute('select 1')) }],
  });
  const { url, call, close } = await listen(app.koa);
  return {
    url,
    config,
    orm,
    app,
    call,
    close: async () => {
      await close();
      await app.services.metaProcessor.stop();
      await orm.close(true);
    },
  };
}

/**
 * The API on a migrated database of the test file's own (see `ownDatabase`), for tests that must
 * see every row of a table other files write to at the same time; `close()` drops it as well.
 */
export async function startTestApiOnOwnDatabase(label: string, options: Parameters<typeof startTestApi>[0] = {}): Promise<TestApi> {
  const db = await ownDatabase(label);
  const api = await startTestApi({ ...options, env: { ...options.env, DATABASE_URL: db.url } });
  return {
    ...api,
    close: async () => {
      await api.close();
      await db.drop();
    },
  };
}

/** Serves a Koa app on a free loopback port, with a `call` that answers as `TestApi.call` does. */
async function listen(koa: Koa<AppState>): Promise<{ url: string; call: TestApi['call']; close: () => Promise<void> }> {
  const server: Server = createServer(koa.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = async (method: string, path: string, o: CallOptions = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let body: string | Buffer | undefined;
    if (o.raw !== undefined) body = o.raw;
    else if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(url + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  };
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url, call, close };
}

/**
 * Routes of a test's own (a probe of a mechanism the API's routes do not isolate), served by the
 * API's own HTTP stack with the test API's services, so auth, validation and Idempotency-Key are
 * the real ones.
 */
export async function serveProbe(api: TestApi, routes: RouteDef[]): Promise<{ call: TestApi['call']; close: () => Promise<void> }> {
  const { call, close } = await listen(serveRoutes(routes, { orm: api.orm, logger: createLogger({ level: 'silent' }), services: api.app.services }));
  return { call, close };
}

export function uniqueEmail(label = 'user'): string {
  return `${label}-${randomBytes(6).toString('hex')}@example.test`;
}

export const PASSWORD = 'correct horse battery staple';

export interface Tenant {
  organizationId: string;
  adminEmail: string;
  adminToken: string;
  adminRefreshToken: string;
}

/** A fresh organization with its first admin, logged in: each test gets its own tenant. */
export async function createTenant(api: TestApi, options: { tags?: string[]; name?: string } = {}): Promise<Tenant> {
  const adminEmail = uniqueEmail('admin');
  const created = await api.call('POST', '/v1/organizations', {
    token: api.config.platformAdminToken,
    body: { name: options.name ?? 'Tenant', tags: options.tags ?? [], admin: { email: adminEmail, password: PASSWORD } },
  });
  if (created.status !== 201) throw new Error(`organization not created: ${created.status} ${created.text}`);
  const login = await api.call('POST', '/v1/auth/login', { body: { email: adminEmail, password: PASSWORD } });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`);
  return {
    organizationId: created.body.id,
    adminEmail,
    adminToken: login.body.accessToken,
    adminRefreshToken: login.body.refreshToken,
  };
}

/** Registers an app in `publisher` and hires it in `tenant` (they may be the same organization). */
export async function installApp(
  api: TestApi,
  publisher: Tenant,
  tenant: Tenant,
  options: { appScopes?: string[]; grant?: string[]; tags?: string[] } = {},
): Promise<{ appId: string; installationId: string; accessToken: string; refreshToken: string }> {
  const app = await api.call('POST', '/v1/apps', {
    token: publisher.adminToken,
    body: {
      name: 'Partner bot',
      description: 'Answers questions',
      tags: options.tags ?? ['general'],
      scopes: options.appScopes ?? ['conversations:read', 'conversations:write', 'messages:write'],
    },
  });
  if (app.status !== 201) throw new Error(`app not registered: ${app.status} ${app.text}`);
  const inst = await api.call('POST', '/v1/installations', {
    token: tenant.adminToken,
    body: { appId: app.body.id, scopes: options.grant ?? ['conversations:read', 'messages:write'] },
  });
  if (inst.status !== 201) throw new Error(`not installed: ${inst.status} ${inst.text}`);
  const tokens = await api.call('POST', `/v1/installations/${inst.body.id}/tokens`, { token: tenant.adminToken });
  if (tokens.status !== 201) throw new Error(`no tokens: ${tokens.status} ${tokens.text}`);
  return { appId: app.body.id, installationId: inst.body.id, accessToken: tokens.body.accessToken, refreshToken: tokens.body.refreshToken };
}
