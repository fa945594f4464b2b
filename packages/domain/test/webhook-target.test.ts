import { execFileSync } from 'node:child_process';
import { promises as dnsPromises } from 'node:dns';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createTlsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { DomainError } from '@parley/core';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebhookHttpClient } from '../src/webhooks/http';
import {
  addressRefusal,
  assertWebhookUrlShape,
  type Resolver,
  resolveWebhookTarget,
  WebhookUrlForbiddenError,
  WebhookUrlUnresolvableError,
} from '../src/webhooks/target';

/**
 * The guard of the guard: every socket connect in this file goes through here, and one to an
 * address outside 127.0.0.0/8 is recorded and never opened. The file ends by asserting none was.
 */
const offLoopbackConnects: string[] = [];
const realConnect = net.Socket.prototype.connect;
function connectTarget(args: unknown[]): { host?: string; path?: string } {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (first && typeof first === 'object') return first as { host?: string; path?: string };
  return { host: typeof args[1] === 'string' ? args[1] : 'localhost' };
}
beforeAll(() => {
  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
    const { host, path } = connectTarget(args);
    if (!path && !/^127\.\d+\.\d+\.\d+$/.test(host ?? 'localhost')) {
      offLoopbackConnects.push(String(host));
      process.nextTick(() => this.destroy(new Error(`test guard: connect to ${host} refused`)));
      return this;
    }
    return (realConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof realConnect;
});
const dnsLookup = vi.spyOn(dnsPromises, 'lookup');
afterAll(() => {
  net.Socket.prototype.connect = realConnect;
  expect(offLoopbackConnects).toEqual([]);
  expect(dnsLookup).not.toHaveBeenCalled();
});

/** A resolver from a fixed table, counting its calls; names outside it do not exist. */
function table(entries: Record<string, string[]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolver = async (hostname: string) => {
    calls.push(hostname);
    const addresses = entries[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: (address.includes(':') ? 6 : 4) as 4 | 6 }));
  };
  return Object.assign(resolver, { calls });
}

const strict = { allowInsecure: false };
const insecure = { allowInsecure: true };

const FORBIDDEN_V4: [string, string][] = [
  ['10.0.0.1', 'private'],
  ['10.255.255.255', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.254', 'private'],
  ['192.168.1.1', 'private'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['169.254.1.1', 'link-local'],
  ['169.254.169.254', 'metadata'],
  ['169.254.170.2', 'metadata'],
  ['100.64.0.1', 'carrier-grade NAT'],
  ['100.127.255.254', 'carrier-grade NAT'],
  ['100.100.100.200', 'metadata'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['255.255.255.255', 'broadcast'],
  ['240.0.0.1', 'reserved'],
  ['192.0.0.8', 'reserved'],
  ['192.0.0.192', 'metadata'],
  ['192.0.2.1', 'reserved'],
  ['198.51.100.7', 'reserved'],
  ['203.0.113.9', 'reserved'],
  ['198.18.0.1', 'reserved'],
  ['198.19.255.1', 'reserved'],
  ['192.88.99.1', 'reserved'],
];

const FORBIDDEN_V6: [string, string][] = [
  ['::1', 'loopback'],
  ['::', 'unspecified'],
  ['fe80::1', 'link-local'],
  ['febf:ffff::1', 'link-local'],
  ['fec0::1', 'site-local'],
  ['fc00::1', 'unique-local'],
  ['fd12:3456:789a::1', 'unique-local'],
  ['fd00:ec2::254', 'metadata'],
  ['ff02::1', 'multicast'],
  ['ff05::1:3', 'multicast'],
  ['::ffff:127.0.0.1', 'IPv4-mapped'],
  ['::ffff:10.0.0.1', 'IPv4-mapped'],
  ['::ffff:169.254.169.254', 'IPv4-mapped'],
  // Mapped is refused whatever it embeds: a dual-stack socket would connect to the IPv4 address.
  ['::ffff:8.8.8.8', 'IPv4-mapped'],
  ['::ffff:0:a00:1', 'IPv4-translated'],
  ['::127.0.0.1', 'IPv4-compatible'],
  ['::10.0.0.1', 'IPv4-compatible'],
  ['::8.8.8.8', 'IPv4-compatible'],
  ['64:ff9b::7f00:1', 'NAT64'],
  ['64:ff9b::10.0.0.1', 'NAT64'],
  ['64:ff9b::169.254.169.254', 'NAT64'],
  ['64:ff9b::192.168.0.1', 'NAT64'],
  ['64:ff9b:1::a00:1', 'local-use NAT64'],
  ['64:ff9b:1:ffff::808:808', 'local-use NAT64'],
  ['2002:a00:1::1', '6to4'],
  ['2002:7f00:1::1', '6to4'],
  ['2002:a9fe:a9fe::1', '6to4'],
  ['2001:0:a00:1::1', 'Teredo'],
  // Client 10.0.0.1, stored bit-inverted (f5ff:fffe), behind a public server.
  ['2001:0:808:808:0:0:f5ff:fffe', 'Teredo'],
  ['2001:db8::1', 'documentation'],
  ['3fff::1', 'reserved'],
  ['2001:2::1', 'benchmarking'],
  ['100::1', 'discard'],
  ['5f00::1', 'segment-routing'],
  ['4000::1', 'global unicast'],
];

const ALLOWED = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.215.14',
  '2606:4700:4700::1111',
  '2a00:1450:4001:81c::200e',
  // Transition formats carrying a public IPv4 address are that address.
  '64:ff9b::8.8.8.8',
  '2002:808:808::1',
  '2001:0:808:808:0:0:f7f7:f7f7',
];

describe('address classification', () => {
  it.each([...FORBIDDEN_V4, ...FORBIDDEN_V6])('refuses %s (%s)', (address, why) => {
    expect(addressRefusal(address, strict)).toMatch(new RegExp(why.replace(/[()]/g, '\\$&'), 'i'));
  });

  it.each(ALLOWED)('admits %s', (address) => {
    expect(addressRefusal(address, strict)).toBeNull();
  });

  it('admits loopback, and only loopback, with allowInsecure', () => {
    expect(addressRefusal('127.0.0.1', insecure)).toBeNull();
    expect(addressRefusal('127.3.2.1', insecure)).toBeNull();
    expect(addressRefusal('::1', insecure)).toBeNull();
    const stillRefused = [...FORBIDDEN_V4, ...FORBIDDEN_V6].map(([a]) => a).filter((a) => !/^127\./.test(a) && a !== '::1');
    expect(stillRefused.filter((a) => addressRefusal(a, insecure) === null)).toEqual([]);
  });
});

describe('assertWebhookUrlShape', () => {
  const refused: [string, RegExp][] = [
    ['http://hooks.example.com/x', /must use https \(it uses http\)/],
    ['ftp://hooks.example.com/x', /must use https/],
    ['file:///etc/passwd', /must use https/],
    ['not a url', /not a valid absolute URL/],
    ['https://user:pw@hooks.example.com/', /credentials/],
    ['https://user@hooks.example.com/', /credentials/],
    [`https://hooks.example.com/${'a'.repeat(2048)}`, /longer than 2048/],
    ['https://hooks.example.com:0/', /port 0/],
    // Odd IPv4 spellings: the URL parser normalises them, and the literal is then judged.
    ['https://2130706433/', /127\.0\.0\.1 is a loopback/],
    ['https://0x7f000001/', /127\.0\.0\.1 is a loopback/],
    ['https://017700000001/', /127\.0\.0\.1 is a loopback/],
    ['https://0177.0.0.1/', /127\.0\.0\.1 is a loopback/],
    ['https://0x7f.1/', /127\.0\.0\.1 is a loopback/],
    ['https://127.1/', /127\.0\.0\.1 is a loopback/],
    ['https://%31%32%37.0.0.1/', /127\.0\.0\.1 is a loopback/],
    ['https://167772161/', /10\.0\.0\.1 is a private/],
    ['https://0xa9fea9fe/latest/meta-data/', /169\.254\.169\.254 is a cloud metadata/],
    ['https://0251.0376.0251.0376/', /169\.254\.169\.254 is a cloud metadata/],
    ['https://0/', /0\.0\.0\.0 is an unspecified/],
    ['https://[::1]/', /loopback/],
    ['https://[::ffff:127.0.0.1]/', /IPv4-mapped/],
    ['https://[::ffff:7f00:1]/', /IPv4-mapped/],
    ['https://[0:0:0:0:0:ffff:169.254.169.254]/', /IPv4-mapped/],
    ['https://[64:ff9b::127.0.0.1]/', /NAT64.*127\.0\.0\.1/],
    ['https://[fd00:ec2::254]/', /cloud metadata/],
    ['https://[fe80::1]/', /link-local/],
    ['https://localhost/', /loopback name/],
    ['https://LOCALHOST./', /loopback name/],
    ['https://api.localhost/', /loopback name/],
    ['https://metadata.google.internal/computeMetadata/v1/', /cloud metadata service/],
    ['https://metadata.google.internal./', /cloud metadata service/],
    ['https://metadata/', /cloud metadata service/],
    ['https://vault.internal/', /private networks/],
    ['https://printer.local/', /private networks/],
    ['https://intranet/', /not a fully qualified name/],
  ];

  it.each(refused)('refuses %s', (url, detail) => {
    let caught: unknown;
    try {
      assertWebhookUrlShape(url, strict);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WebhookUrlForbiddenError);
    const err = caught as WebhookUrlForbiddenError;
    expect(err).toBeInstanceOf(DomainError);
    expect({ status: err.status, code: err.code }).toEqual({ status: 400, code: 'webhook_url_forbidden' });
    expect(err.message).toMatch(detail);
  });

  it.each(['https://hooks.example.com/in?x=1', 'https://8.8.8.8:8443/hook', 'https://[2606:4700:4700::1111]/hook', 'https://hooks.example.test./'])(
    'admits %s',
    (url) => {
      expect(assertWebhookUrlShape(url, strict).href).toBe(new URL(url).href);
    },
  );

  it('with allowInsecure admits http and loopback, and nothing else', () => {
    for (const url of ['http://127.0.0.1:3000/hook', 'http://localhost:8080/', 'http://[::1]:9/', 'http://2130706433/', 'https://127.0.0.1/', 'http://hooks.example.test/']) {
      expect(() => assertWebhookUrlShape(url, insecure), url).not.toThrow();
    }
    for (const url of [
      'http://10.0.0.1/',
      'http://192.168.0.10/',
      'http://169.254.169.254/',
      'http://[fe80::1]/',
      'http://[fc00::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[64:ff9b::7f00:1]/',
      'http://metadata.google.internal/',
      'ftp://127.0.0.1/',
      'http://u:p@127.0.0.1/',
    ]) {
      expect(() => assertWebhookUrlShape(url, insecure), url).toThrow(WebhookUrlForbiddenError);
    }
  });
});

describe('resolveWebhookTarget', () => {
  it('resolves once and returns the address to connect to', async () => {
    const resolver = table({ 'hooks.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'] });
    const target = await resolveWebhookTarget('https://hooks.example.com/in', { ...strict, resolver });
    expect(target).toMatchObject({ address: '93.184.215.14', family: 4 });
    expect(target.url.hostname).toBe('hooks.example.com');
    expect(resolver.calls).toEqual(['hooks.example.com']);
  });

  it('does not resolve an IP literal', async () => {
    const resolver = table({});
    expect(await resolveWebhookTarget('https://[2606:4700:4700::1111]/h', { ...strict, resolver })).toMatchObject({ address: '2606:4700:4700::1111', family: 6 });
    expect(resolver.calls).toEqual([]);
  });

  it.each([...FORBIDDEN_V4, ...FORBIDDEN_V6])('refuses a name resolving to %s (%s)', async (address) => {
    const resolver = table({ 'hooks.example.com': [address] });
    await expect(resolveWebhookTarget('https://hooks.example.com/', { ...strict, resolver })).rejects.toThrow(
      expect.objectContaining({ code: 'webhook_url_forbidden', message: expect.stringContaining(`resolves to ${address}`) }),
    );
  });

  it.each([
    ['93.184.215.14', '10.0.0.1'],
    ['10.0.0.1', '93.184.215.14'],
    ['2606:4700:4700::1111', 'fd00::1'],
    ['93.184.215.14', '::ffff:127.0.0.1'],
    ['8.8.8.8', '169.254.169.254'],
  ])('refuses a name resolving to both %s and %s', async (first, second) => {
    const resolver = table({ 'mixed.example.com': [first, second] });
    const refusal = resolveWebhookTarget('https://mixed.example.com/', { ...strict, resolver });
    await expect(refusal).rejects.toBeInstanceOf(WebhookUrlForbiddenError);
    const forbidden = addressRefusal(first, strict) ? first : second;
    await expect(refusal).rejects.toThrow(`resolves to ${forbidden}`);
  });

  it('admits a name resolving to loopback only with allowInsecure', async () => {
    const resolver = table({ 'hooks.example.test': ['127.0.0.1', '::1'], 'lan.example.test': ['127.0.0.1', '192.168.1.5'] });
    await expect(resolveWebhookTarget('http://hooks.example.test/', { ...insecure, resolver })).resolves.toMatchObject({ address: '127.0.0.1' });
    await expect(resolveWebhookTarget('https://hooks.example.test/', { ...strict, resolver })).rejects.toThrow(/loopback/);
    await expect(resolveWebhookTarget('http://lan.example.test/', { ...insecure, resolver })).rejects.toThrow(/192\.168\.1\.5, a private/);
  });

  it('tells an unresolvable name apart from a forbidden one', async () => {
    const resolver = table({ 'empty.example.com': [] });
    await expect(resolveWebhookTarget('https://nowhere.example.com/', { ...strict, resolver })).rejects.toThrow(
      expect.objectContaining({ status: 400, code: 'webhook_url_unresolvable', message: expect.stringContaining('ENOTFOUND') }),
    );
    await expect(resolveWebhookTarget('https://empty.example.com/', { ...strict, resolver })).rejects.toBeInstanceOf(WebhookUrlUnresolvableError);
  });
});

/** A loopback HTTP server whose handler the test sets; records every request it sees. */
class Receiver {
  readonly seen: { method: string; url: string; host: string | undefined; body: string }[] = [];
  private server: Server;
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void = (_req, res) => res.end('ok');
  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.seen.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host, body });
        this.handler(req, res, body);
      });
    });
  }
  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return (this.server.address() as AddressInfo).port;
  }
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

describe('WebhookHttpClient', () => {
  let receiver: Receiver;
  let port: number;
  const clients: WebhookHttpClient[] = [];
  const client = (opts: Partial<ConstructorParameters<typeof WebhookHttpClient>[0]> = {}) => {
    const c = new WebhookHttpClient({ policy: { ...insecure, resolver: table({ 'hooks.example.test': ['127.0.0.1'] }) }, ...opts });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    receiver = new Receiver();
    port = await receiver.listen();
  });
  afterEach(() => {
    receiver.seen.length = 0;
    receiver.handler = (_req, res) => res.end('ok');
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(() => receiver.close());

  it('connects to the pinned address and keeps the name in Host', async () => {
    const resolver = table({ 'hooks.example.test': ['127.0.0.1'] });
    receiver.handler = (req, res) => res.writeHead(202, { 'x-echo': req.headers['content-length'] }).end('accepted');
    const res = await client({ policy: { ...insecure, resolver } }).post(
      `http://hooks.example.test:${port}/in?tenant=1`,
      { 'Content-Type': 'application/json', 'webhook-id': 'msg_1' },
      '{"ok":"ñ"}',
    );
    expect(res).toMatchObject({ status: 202, body: 'accepted', error: null, headers: { 'x-echo': '11' } });
    expect(res.latencyMs).toBeGreaterThanOrEqual(0);
    expect(receiver.seen).toEqual([{ method: 'POST', url: '/in?tenant=1', host: `hooks.example.test:${port}`, body: '{"ok":"ñ"}' }]);
    expect(resolver.calls).toEqual(['hooks.example.test']);
  });

  it('resolves every request when the cache is off, and reuses a checked answer when on', async () => {
    const uncached = table({ 'hooks.example.test': ['127.0.0.1'] });
    const noCache = client({ policy: { ...insecure, resolver: uncached }, resolveCacheMs: 0 });
    for (let i = 0; i < 3; i++) expect((await noCache.get(`http://hooks.example.test:${port}/c?challenge=${i}`)).status).toBe(200);
    expect(uncached.calls).toHaveLength(3);

    const cachedResolver = table({ 'hooks.example.test': ['127.0.0.1'] });
    const cached = client({ policy: { ...insecure, resolver: cachedResolver }, resolveCacheMs: 60_000 });
    await Promise.all([1, 2, 3, 4].map((i) => cached.post(`http://hooks.example.test:${port}/p${i}`, {}, '{}')));
    expect(cachedResolver.calls).toEqual(['hooks.example.test']);
    expect(receiver.seen.map((s) => s.url).sort()).toEqual(['/c?challenge=0', '/c?challenge=1', '/c?challenge=2', '/p1', '/p2', '/p3', '/p4']);
  });

  it('returns a redirect as its status and never requests the Location', async () => {
    receiver.handler = (req, res) => {
      if (req.url === '/hook') res.writeHead(302, { location: `http://hooks.example.test:${port}/elsewhere` }).end();
      else res.end('followed');
    };
    const c = client();
    for (const res of [await c.post(`http://hooks.example.test:${port}/hook`, {}, '{}'), await c.get(`http://hooks.example.test:${port}/hook`)]) {
      expect(res).toMatchObject({ status: 302, error: null, headers: { location: `http://hooks.example.test:${port}/elsewhere` } });
    }
    expect(receiver.seen.map((s) => s.url)).toEqual(['/hook', '/hook']);
  });

  it('gives up after the total timeout when the server never answers', async () => {
    receiver.handler = () => undefined;
    const res = await client({ timeoutMs: 300 }).post(`http://hooks.example.test:${port}/silent`, {}, '{}');
    expect(res).toMatchObject({ status: null, error: 'timeout' });
    expect(res.latencyMs).toBeGreaterThanOrEqual(290);
    expect(res.latencyMs).toBeLessThan(2_000);
  });

  it('counts the body in the timeout: a response that trickles forever times out', async () => {
    receiver.handler = (_req, res) => {
      res.writeHead(200);
      const tick = setInterval(() => res.write('.'), 20);
      res.on('close', () => clearInterval(tick));
    };
    const res = await client({ timeoutMs: 300 }).get(`http://hooks.example.test:${port}/trickle`);
    expect(res).toMatchObject({ status: null, error: 'timeout' });
    expect(res.latencyMs).toBeLessThan(2_000);
  });

  it('caps the body, discards the rest and closes the connection', async () => {
    let closed = false;
    receiver.handler = (_req, res) => {
      res.on('close', () => (closed = true));
      res.writeHead(200, { 'content-type': 'text/plain' });
      // Far more than the cap, written in pieces so the client sees it arrive.
      let sent = 0;
      const more = () => {
        while (sent < 4 * 1024 * 1024 && res.write('x'.repeat(16 * 1024))) sent += 16 * 1024;
        if (sent < 4 * 1024 * 1024) res.once('drain', more);
        else res.end();
      };
      more();
    };
    const res = await client({ maxResponseBytes: 1000 }).get(`http://hooks.example.test:${port}/big`);
    expect(res).toMatchObject({ status: 200, error: null });
    expect(res.body).toBe('x'.repeat(1000));
    await vi.waitFor(() => expect(closed).toBe(true));
  });

  it('reads a body below the cap whole, and the default cap is 64 KiB', async () => {
    receiver.handler = (req, res) => res.end(req.url === '/small' ? 'small body' : 'y'.repeat(100 * 1024));
    const c = client();
    expect((await c.get(`http://hooks.example.test:${port}/small`)).body).toBe('small body');
    expect((await c.get(`http://hooks.example.test:${port}/large`)).body).toHaveLength(64 * 1024);
  });

  it('reports a refused connection', async () => {
    const closedServer = net.createServer();
    await new Promise<void>((r) => closedServer.listen(0, '127.0.0.1', r));
    const freePort = (closedServer.address() as AddressInfo).port;
    await new Promise<void>((r) => closedServer.close(() => r()));
    const res = await client().post(`http://hooks.example.test:${freePort}/`, {}, '{}');
    expect(res).toMatchObject({ status: null, error: 'connection refused', body: '' });
  });

  it('refuses a forbidden target without connecting, whatever the spelling', async () => {
    const resolver = table({ 'mixed.example.com': ['93.184.215.14', '10.1.2.3'], 'hooks.example.test': ['127.0.0.1'] });
    const strictClient = client({ policy: { ...strict, resolver } });
    const insecureClient = client({ policy: { ...insecure, resolver } });
    const cases: [WebhookHttpClient, string, RegExp][] = [
      [strictClient, 'https://mixed.example.com/hook', /^target forbidden: .*10\.1\.2\.3, a private/],
      [strictClient, `http://hooks.example.test:${port}/`, /^target forbidden: .*must use https/],
      [strictClient, `https://hooks.example.test:${port}/`, /^target forbidden: .*127\.0\.0\.1, a loopback/],
      [strictClient, 'https://169.254.169.254/latest/meta-data/', /^target forbidden: .*cloud metadata/],
      [insecureClient, 'http://0xa9fea9fe/', /^target forbidden: .*cloud metadata/],
      [insecureClient, 'http://[::ffff:10.0.0.1]/', /^target forbidden: .*IPv4-mapped/],
      [insecureClient, 'http://192.168.0.1/', /^target forbidden: .*private/],
      [insecureClient, 'http://[64:ff9b::a00:1]/', /^target forbidden: .*NAT64/],
    ];
    for (const [c, url, error] of cases) {
      const res = await c.post(url, {}, '{}');
      expect(res.status, url).toBeNull();
      expect(res.error, url).toMatch(error);
    }
    expect(receiver.seen).toEqual([]);
  });

  it('reports an unresolvable name', async () => {
    const res = await client().get('http://nowhere.example.test/');
    expect(res).toMatchObject({ status: null, error: expect.stringMatching(/^target unresolvable: .*ENOTFOUND/) });
  });

  it('stops when the caller aborts', async () => {
    receiver.handler = () => undefined;
    const controller = new AbortController();
    const pending = client().post(`http://hooks.example.test:${port}/slow`, {}, '{}', controller.signal);
    await vi.waitFor(() => expect(receiver.seen).toHaveLength(1));
    controller.abort();
    expect(await pending).toMatchObject({ status: null, error: 'aborted' });
  });

  it('keeps connections alive between requests', async () => {
    const sockets = new Set<unknown>();
    receiver.handler = (req, res) => {
      sockets.add(req.socket);
      res.end('ok');
    };
    const c = client();
    for (let i = 0; i < 5; i++) expect((await c.post(`http://hooks.example.test:${port}/k`, {}, '{}')).status).toBe(200);
    expect(sockets.size).toBe(1);
  });
});

/** A throwaway self-signed certificate for `name`, made by openssl. */
function selfSigned(name: string): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'webhook-tls-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`,
    ], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('WebhookHttpClient over TLS', () => {
  it('connects to the pinned address with the name in SNI, Host and the certificate check', async () => {
    const good = selfSigned('hooks.example.test');
    const other = selfSigned('other.example.test');
    const sni: string[] = [];
    const hosts: string[] = [];
    const server = createTlsServer({ ...good, SNICallback: (name, cb) => (sni.push(name), cb(null)) }, (req, res) => {
      hosts.push(req.headers.host ?? '');
      res.end('secure');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const tlsPort = (server.address() as AddressInfo).port;
    const resolver = table({ 'hooks.example.test': ['127.0.0.1'], 'other.example.test': ['127.0.0.1'] });
    const trusting = new WebhookHttpClient({ policy: { ...insecure, resolver }, ca: [good.cert, other.cert] });
    const untrusting = new WebhookHttpClient({ policy: { ...insecure, resolver } });
    try {
      expect(await trusting.post(`https://hooks.example.test:${tlsPort}/in`, {}, '{}')).toMatchObject({ status: 200, body: 'secure', error: null });
      expect(hosts).toEqual([`hooks.example.test:${tlsPort}`]);
      expect(sni).toContain('hooks.example.test');
      // The server's certificate names hooks.example.test, so a request for another name fails the check.
      const wrongName = await trusting.post(`https://other.example.test:${tlsPort}/in`, {}, '{}');
      expect(wrongName).toMatchObject({ status: null, error: expect.stringMatching(/^tls: ERR_TLS_CERT_ALTNAME_INVALID/) });
      const unknownCa = await untrusting.post(`https://hooks.example.test:${tlsPort}/in`, {}, '{}');
      expect(unknownCa).toMatchObject({ status: null, error: expect.stringMatching(/^tls: DEPTH_ZERO_SELF_SIGNED_CERT/) });
      expect(hosts).toHaveLength(1);
    } finally {
      trusting.close();
      untrusting.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('the connect guard', () => {
  it('catches a connect outside 127.0.0.0/8 and never opens it', async () => {
    const socket = net.connect({ host: '10.255.255.1', port: 9 });
    const error = await new Promise<Error>((resolve) => socket.on('error', resolve));
    expect(error.message).toMatch(/test guard/);
    expect(offLoopbackConnects.splice(0)).toEqual(['10.255.255.1']);
  });
});
