import { promises as dnsPromises } from 'node:dns';
import { createServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { createLogger, systemClock } from '@parley/core';
import { App, createOrm, UNSCOPED } from '@parley/db';
import type { Resolver } from '@parley/domain';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../src/app';
import { createTenant, type TestApi, testConfig } from '../../../test/support/api';
import { expectProblem } from './helpers';

/**
 * An app's webhookUrl meets the same target rules as a subscription. The API runs with a resolver
 * of the test's own, so no name here reaches real DNS, and a guard refuses any socket leaving
 * 127.0.0.0/8.
 */
const offLoopbackConnects: string[] = [];
const realConnect = net.Socket.prototype.connect;
const dnsLookup = vi.spyOn(dnsPromises, 'lookup');

const NAMES: Record<string, string[]> = {
  'partner.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
  'split.example.com': ['93.184.215.14', '10.20.30.40'],
  'internal.example.com': ['fd00::5'],
  'meta.example.com': ['169.254.169.254'],
  'nat64.example.com': ['64:ff9b::a9fe:a9fe'],
  'hooks.example.test': ['127.0.0.1'],
};
const resolver: Resolver = async (hostname) => {
  const addresses = NAMES[hostname];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

interface Started {
  api: Pick<TestApi, 'call' | 'config'>;
  close(): Promise<void>;
}

async function start(env: Record<string, string>): Promise<Started> {
  const config = testConfig(env);
  const orm: MikroORM = await createOrm({ url: config.database.url!, poolMax: 3, timeouts: config.database.timeouts });
  const app = createApp({ config, orm, logger: createLogger({ level: 'silent' }), clock: systemClock, readiness: [], webhookResolver: resolver });
  const server: Server = createServer(app.koa.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call: TestApi['call'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers, 'content-type': 'application/json' };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    const res = await fetch(url + path, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined, text };
  };
  return {
    api: { call, config },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await app.services.metaProcessor.stop();
      await orm.close(true);
    },
  };
}

let strict: Started;
let insecure: Started;
let orm: MikroORM;

beforeAll(async () => {
  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
    const first = (Array.isArray(args[0]) ? args[0][0] : args[0]) as { host?: string; path?: string } | number;
    const host = typeof first === 'object' ? first.host : (args[1] as string | undefined);
    if (!(typeof first === 'object' && first.path) && !/^127\.\d+\.\d+\.\d+$/.test(host ?? 'localhost') && host !== 'localhost') {
      offLoopbackConnects.push(String(host));
      process.nextTick(() => this.destroy(new Error(`test guard: connect to ${host} refused`)));
      return this;
    }
    return (realConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof realConnect;
  strict = await start({});
  insecure = await start({ ALLOW_INSECURE_WEBHOOKS: 'true' });
  orm = await createOrm({ url: strict.api.config.database.url!, poolMax: 1, timeouts: strict.api.config.database.timeouts });
});

afterAll(async () => {
  await strict?.close();
  await insecure?.close();
  await orm?.close(true);
  net.Socket.prototype.connect = realConnect;
  expect(offLoopbackConnects).toEqual([]);
  expect(dnsLookup).not.toHaveBeenCalled();
});

async function register(s: Started, webhookUrl: string) {
  const tenant = await createTenant(s.api as TestApi);
  const name = `Hooked bot ${Math.random().toString(36).slice(2)}`;
  const res = await s.api.call('POST', '/v1/apps', {
    token: tenant.adminToken,
    body: { name, description: 'd', tags: ['webhook-target'], scopes: ['messages:write'], webhookUrl },
  });
  return { res, name };
}

async function appsNamed(name: string): Promise<number> {
  return orm.em.fork().count(App, { name }, UNSCOPED);
}

describe('POST /v1/apps webhookUrl', () => {
  it.each([
    ['https://10.0.0.1/hook', /10\.0\.0\.1 is a private/],
    ['https://2130706433/hook', /127\.0\.0\.1 is a loopback/],
    ['https://0xa9fea9fe/latest/meta-data/', /cloud metadata/],
    ['https://[::ffff:127.0.0.1]/hook', /IPv4-mapped/],
    ['https://[fe80::1]/hook', /link-local/],
    ['https://[64:ff9b::10.0.0.1]/hook', /NAT64/],
    ['https://metadata.google.internal/computeMetadata/v1/', /cloud metadata service/],
    ['https://localhost/hook', /loopback name/],
    ['https://user:secret@partner.example.com/hook', /credentials/],
    ['http://partner.example.com/hook', /must use https/],
    ['https://split.example.com/hook', /resolves to 10\.20\.30\.40, a private/],
    ['https://internal.example.com/hook', /resolves to fd00::5, a unique-local/],
    ['https://meta.example.com/hook', /resolves to 169\.254\.169\.254, a cloud metadata/],
    ['https://nat64.example.com/hook', /resolves to 64:ff9b::a9fe:a9fe, a NAT64 address .*169\.254\.169\.254/],
    ['https://hooks.example.test/hook', /resolves to 127\.0\.0\.1, a loopback/],
  ])('refuses %s with 400 webhook_url_forbidden and stores nothing', async (webhookUrl, detail) => {
    const { res, name } = await register(strict, webhookUrl);
    expectProblem(res, 400, 'webhook_url_forbidden');
    expect(res.body.detail).toMatch(detail);
    expect(await appsNamed(name)).toBe(0);
  });

  it('admits a public https target, and a name that does not resolve yet', async () => {
    for (const webhookUrl of ['https://partner.example.com/hooks?v=1', 'https://[2606:4700:4700::1111]/h', 'https://not-yet.example.com/hooks']) {
      const { res } = await register(strict, webhookUrl);
      expect(res.status, webhookUrl).toBe(201);
      expect(res.body.webhookUrl).toBe(webhookUrl);
    }
  });

  it('with ALLOW_INSECURE_WEBHOOKS admits http and loopback, and still refuses private targets', async () => {
    for (const webhookUrl of ['http://127.0.0.1:4000/hook', 'http://localhost:4000/hook', 'http://hooks.example.test/hook', 'http://[::1]:4000/hook']) {
      const { res } = await register(insecure, webhookUrl);
      expect(res.status, webhookUrl).toBe(201);
    }
    for (const webhookUrl of ['http://192.168.1.10/hook', 'http://169.254.169.254/', 'http://split.example.com/hook', 'http://[fc00::1]/']) {
      const { res } = await register(insecure, webhookUrl);
      expectProblem(res, 400, 'webhook_url_forbidden');
    }
  });

  it('still answers a malformed URL as a validation error', async () => {
    const { res } = await register(strict, 'ftp://partner.example.com/x');
    expectProblem(res, 400, 'validation_error');
    expect(res.body.errors).toEqual([{ path: 'webhookUrl', message: expect.any(String) }]);
  });

  it('never reached a real address or DNS', () => {
    expect(offLoopbackConnects).toEqual([]);
    expect(dnsLookup).not.toHaveBeenCalled();
  });
});
