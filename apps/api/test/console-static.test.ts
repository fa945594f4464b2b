import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleMiddleware } from '../src/http/console';
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
    koa.use(consoleMiddleware(dir));
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

  it('leaves every other path to the API', async () => {
    expect((await fetch(`${base}/v1/anything`)).status).toBe(418);
    expect((await fetch(`${base}/console/`, { method: 'POST' })).status).toBe(418);
  });
});
