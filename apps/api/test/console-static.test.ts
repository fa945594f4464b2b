import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleMiddleware } from '../src/http/console';
import { consoleConfigProvider } from '../src/http/console-config';
import { testConfig } from '../../../test/support/api';
import type { AppState } from '../src/http/state';

describe('the console served from the API origin', () => {
  let base: string;
  let close: () => void;

  beforeAll(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'console-'));
    await mkdir(path.join(dir, 'assets'));
    await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>console</title>');
    await writeFile(path.join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    const koa = new Koa<AppState>();
    koa.use(consoleMiddleware(dir, async () => ({ facebook: null, sandbox: { signupUrl: 'http://127.0.0.1:9/_sandbox/embedded-signup', origin: 'http://127.0.0.1:9' } })));
    koa.use((ctx) => {
      ctx.status = 418;
    });
    const server = koa.listen(0);
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => close());

  it('redirects / and /console to /console/', async () => {
    for (const from of ['/', '/console']) {
      const res = await fetch(`${base}${from}`, { redirect: 'manual' });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('/console/');
    }
  });

  it('serves index.html for the SPA routes, revalidated, with the CSP', async () => {
    for (const route of ['/console/', '/console/inbox/123']) {
      const res = await fetch(`${base}${route}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(await res.text()).toContain('<title>console</title>');
    }
  });

  it('caches fingerprinted assets for a year and answers 304 to a matching ETag', async () => {
    const res = await fetch(`${base}/console/assets/index-abc123.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await res.text()).toBe('console.log(1)');
    // node:http rather than fetch: fetch marks conditional requests `Cache-Control: no-cache`.
    const status = await new Promise<number | undefined>((resolve, reject) =>
      get(`${base}/console/assets/index-abc123.js`, { headers: { 'if-none-match': res.headers.get('etag')! } }, (r) => {
        r.resume();
        resolve(r.statusCode);
      }).on('error', reject),
    );
    expect(status).toBe(304);
  });

  it('answers 404 for a missing asset and never leaves its directory', async () => {
    expect((await fetch(`${base}/console/assets/gone.js`)).status).toBe(404);
    const escape = await fetch(`${base}/console/..%2f..%2f..%2fetc%2fpasswd`);
    expect(await escape.text()).not.toContain('root:');
  });

  it('serves the console settings, never cached', async () => {
    const res = await fetch(`${base}/console/config.json`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ facebook: null, sandbox: { signupUrl: 'http://127.0.0.1:9/_sandbox/embedded-signup', origin: 'http://127.0.0.1:9' } });
  });

  it('leaves every other path to the API', async () => {
    expect((await fetch(`${base}/v1/anything`)).status).toBe(418);
    expect((await fetch(`${base}/console/`, { method: 'POST' })).status).toBe(418);
  });
});

describe('the console settings', () => {
  it('offer the sandbox signup window only when the Graph API answers as the sandbox', async () => {
    const asked: string[] = [];
    const sandboxFetch = (async (url: URL | string) => {
      asked.push(String(url));
      return new Response(JSON.stringify({ ok: true }), { status: 200 });
    }) as typeof fetch;
    const local = consoleConfigProvider(testConfig({ META_GRAPH_URL: 'http://127.0.0.1:4010/graph' }), { fetch: sandboxFetch });
    expect(await local()).toEqual({ facebook: null, sandbox: { signupUrl: 'http://127.0.0.1:4010/_sandbox/embedded-signup', origin: 'http://127.0.0.1:4010' } });
    expect(asked).toEqual(['http://127.0.0.1:4010/_sandbox/health']);

    const meta = consoleConfigProvider(testConfig({ META_GRAPH_URL: 'https://graph.facebook.com', META_APP_ID: '123', META_SIGNUP_CONFIG_ID: '456' }), { fetch: sandboxFetch });
    expect(await meta()).toEqual({ facebook: { appId: '123', configId: '456', graphVersion: expect.stringMatching(/^v\d+\.\d+$/) }, sandbox: null });
    expect(asked).toHaveLength(1);

    const notSandbox = consoleConfigProvider(testConfig({ META_GRAPH_URL: 'http://127.0.0.1:4011' }), { fetch: (async () => new Response('{}', { status: 404 })) as typeof fetch });
    expect((await notSandbox()).sandbox).toBeNull();
  });
});
