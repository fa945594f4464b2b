import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createParleyClient, MemoryTokenStore, ParleyAuthError, type TokenSet, type TokenStore } from '../src/index.js';

/**
 * A token server that behaves as the contract says: refreshing retires the presented refresh
 * token, and presenting a retired one again revokes every token of the installation (401
 * `refresh_token_reused`). `GET /v1/me` answers 401 `token_expired` for expired access tokens.
 */
class FakePlatform {
  server!: Server;
  url = '';
  refreshes = 0;
  apiCalls = 0;
  revoked = false;
  /** The next refreshes answer this status (503: the platform is briefly unavailable). */
  refreshOutage = 0;
  readonly valid = new Set<string>();
  readonly expired = new Set<string>();
  readonly liveRefresh = new Set<string>();
  readonly retiredRefresh = new Set<string>();

  issue(): TokenSet {
    const pair = { accessToken: `at_${randomBytes(8).toString('hex')}`, refreshToken: `rt_${randomBytes(8).toString('hex')}` };
    this.valid.add(pair.accessToken);
    this.liveRefresh.add(pair.refreshToken);
    return pair;
  }

  expire(accessToken: string): void {
    this.valid.delete(accessToken);
    this.expired.add(accessToken);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void this.#handle(req).then(({ status, body }) => {
        res.writeHead(status, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json' });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async #handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    // The platform may sit behind a gateway under a path of its own.
    const url = (req.url ?? '').replace(/^\/gateway/, '');
    if (req.method === 'POST' && url === '/v1/auth/token') {
      this.refreshes++;
      const { grant_type, refresh_token } = JSON.parse(raw) as { grant_type: string; refresh_token: string };
      if (grant_type !== 'refresh_token') return problem(400, 'validation_error');
      if (this.refreshOutage > 0) {
        this.refreshOutage--;
        return problem(503, 'unavailable');
      }
      // Answer late, as a real platform would, so concurrent callers overlap with the refresh.
      await new Promise((r) => setTimeout(r, 30));
      if (this.retiredRefresh.has(refresh_token)) {
        this.revoked = true;
        this.valid.clear();
        this.liveRefresh.clear();
        return problem(401, 'refresh_token_reused');
      }
      if (!this.liveRefresh.delete(refresh_token)) return problem(401, 'unauthorized');
      this.retiredRefresh.add(refresh_token);
      return { status: 200, body: { ...this.issue(), expiresIn: 30 * 24 * 3600, refreshExpiresIn: 90 * 24 * 3600 } };
    }
    if (url === '/v1/me' || url === '/v1/conversations') {
      this.apiCalls++;
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (this.expired.has(token)) return problem(401, 'token_expired');
      if (!this.valid.has(token)) return problem(401, 'unauthorized');
      if (req.method === 'POST') return { status: 201, body: { echoed: JSON.parse(raw) as unknown } };
      return { status: 200, body: { kind: 'installation', organizationId: 'org_1', installationId: 'inst_1', scopes: ['conversations:read'] } };
    }
    return problem(404, 'not_found');
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function problem(status: number, code: string) {
  return { status, body: { type: 'about:blank', title: code, status, code } };
}

let platform: FakePlatform;
afterEach(async () => {
  await platform?.stop();
});

async function started(): Promise<FakePlatform> {
  platform = new FakePlatform();
  await platform.start();
  return platform;
}

describe('token handling', () => {
  it('50 concurrent calls with an expired access token cause exactly one refresh, and all succeed', async () => {
    const p = await started();
    const pair = p.issue();
    p.expire(pair.accessToken);
    const refreshed: TokenSet[] = [];
    const client = createParleyClient({ baseUrl: p.url, ...pair, onRefresh: (t) => refreshed.push(t) });

    const answers = await Promise.all(Array.from({ length: 50 }, () => client.GET('/v1/me')));

    expect(p.refreshes).toBe(1);
    expect(p.revoked).toBe(false);
    expect(answers.map((a) => a.response.status)).toEqual(Array(50).fill(200));
    expect(answers.every((a) => a.data?.organizationId === 'org_1')).toBe(true);
    expect(refreshed).toHaveLength(1);
    // Later calls use the new token without refreshing again.
    await client.GET('/v1/me');
    expect(p.refreshes).toBe(1);
  });

  it('two parallel refreshes of one pair would have logged the partner out (the fake enforces reuse revocation)', async () => {
    const p = await started();
    const pair = p.issue();
    const a = createParleyClient({ baseUrl: p.url, ...pair });
    const b = createParleyClient({ baseUrl: p.url, ...pair });
    const outcomes = await Promise.allSettled([a.tokens.refresh(), b.tokens.refresh()]);
    const rejected = outcomes.find((o) => o.status === 'rejected');
    expect(rejected?.reason).toBeInstanceOf(ParleyAuthError);
    expect((rejected?.reason as ParleyAuthError).code).toBe('refresh_token_reused');
    expect(p.revoked).toBe(true);
  });

  it('refreshes shortly before expiry, by the injected clock, once for concurrent callers', async () => {
    const p = await started();
    const pair = p.issue();
    let now = Date.parse('2026-11-29T12:00:00Z');
    const client = createParleyClient({ baseUrl: p.url, ...pair, expiresAt: new Date(now + 10 * 60_000), refreshBeforeMs: 60_000, now: () => now });

    expect((await client.GET('/v1/me')).response.status).toBe(200);
    expect(p.refreshes).toBe(0);

    now += 9 * 60_000 + 1; // 59 s before expiry: inside the margin
    const answers = await Promise.all(Array.from({ length: 10 }, () => client.GET('/v1/me')));
    expect(answers.every((a) => a.response.status === 200)).toBe(true);
    expect(p.refreshes).toBe(1);
    // The old access token was never presented after the refresh.
    const stored = await client.tokens.accessToken();
    expect(stored).not.toBe(pair.accessToken);
    // The new pair's expiry is counted from the injected clock: 30 days ahead, no refresh due.
    now += 24 * 3600_000;
    await client.GET('/v1/me');
    expect(p.refreshes).toBe(1);
  });

  it('keeps using a still-valid token when an early refresh meets a brief outage, and refreshes on a later call', async () => {
    const p = await started();
    const pair = p.issue();
    const now = Date.parse('2026-11-29T12:00:00Z');
    const client = createParleyClient({ baseUrl: p.url, ...pair, expiresAt: now + 30_000, refreshBeforeMs: 60_000, now: () => now });
    p.refreshOutage = 1;
    expect((await client.GET('/v1/me')).response.status).toBe(200);
    expect(await client.tokens.accessToken()).not.toBe(pair.accessToken);
    expect(p.refreshes).toBe(2);
    // Past expiry an outage is not papered over.
    const late = createParleyClient({ baseUrl: p.url, ...p.issue(), expiresAt: now - 1, now: () => now });
    p.refreshOutage = 1;
    await expect(late.GET('/v1/me')).rejects.toMatchObject({ code: 'unavailable', status: 503 });
  });

  it('keeps the base URL\'s path for the refresh too', async () => {
    const p = await started();
    const pair = p.issue();
    p.expire(pair.accessToken);
    const client = createParleyClient({ baseUrl: `${p.url}/gateway/`, ...pair });
    expect((await client.GET('/v1/me')).response.status).toBe(200);
    expect(p.refreshes).toBe(1);
  });

  it('retries a request with a body after refreshing', async () => {
    const p = await started();
    const pair = p.issue();
    p.expire(pair.accessToken);
    const client = createParleyClient({ baseUrl: p.url, ...pair });
    const res = await client.authorizedFetch(
      new Request(`${p.url}/v1/conversations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hello: 'world' }) }),
    );
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ echoed: { hello: 'world' } });
    expect(p.refreshes).toBe(1);
  });

  it('writes refreshed pairs to a plugged-in store and starts from what the store holds', async () => {
    const p = await started();
    const pair = p.issue();
    p.expire(pair.accessToken);
    const writes: TokenSet[] = [];
    const backing = new MemoryTokenStore(pair);
    // A store as a partner might write it (a database row, Redis): asynchronous get and set.
    const store: TokenStore = {
      get: async () => {
        await new Promise((r) => setTimeout(r, 1));
        return backing.get();
      },
      set: async (t) => {
        writes.push(t);
        await backing.set(t);
      },
    };
    const first = createParleyClient({ baseUrl: p.url, tokenStore: store });
    expect((await first.GET('/v1/me')).response.status).toBe(200);
    expect(writes).toHaveLength(1);
    expect(writes[0]!.accessToken).not.toBe(pair.accessToken);
    expect(writes[0]!.expiresAt).toBeGreaterThan(Date.now());

    // A second client (another process) on the same store uses the refreshed pair: no new refresh,
    // and the stale pair handed to it as configuration does not override the store.
    const second = createParleyClient({ baseUrl: p.url, ...pair, tokenStore: store });
    expect((await second.GET('/v1/me')).response.status).toBe(200);
    expect(p.refreshes).toBe(1);
    expect(p.revoked).toBe(false);
  });

  it('a failed refresh rejects every waiting caller with the platform code', async () => {
    const p = await started();
    const pair = p.issue();
    p.expire(pair.accessToken);
    p.liveRefresh.clear();
    const client = createParleyClient({ baseUrl: p.url, ...pair });
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => client.GET('/v1/me')));
    expect(p.refreshes).toBe(1);
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect((o as PromiseRejectedResult).reason).toMatchObject({ name: 'ParleyAuthError', code: 'unauthorized', status: 401 });
    }
  });

  it('needs a pair or a store', () => {
    expect(() => createParleyClient({ baseUrl: 'http://127.0.0.1:9' })).toThrow(/accessToken and refreshToken/);
    expect(() => createParleyClient({ baseUrl: 'http://127.0.0.1:9', accessToken: 'a' })).toThrow(/both/);
  });
});
