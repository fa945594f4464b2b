import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { DomainError } from '@parley/core';
import { assertWebhookUrlShape, type ResolvedTarget, resolveWebhookTarget, type TargetPolicy } from './target';

export interface WebhookResponse {
  /** The target's status; a 3xx is returned as it is, never followed. Null when no response came. */
  status: number | null;
  headers: Record<string, string>;
  /** At most maxResponseBytes of the body, decoded as UTF-8. */
  body: string;
  latencyMs: number;
  /** Why no complete response came: 'timeout', 'connection refused', 'target forbidden: ...'; null otherwise. */
  error: string | null;
}

export interface WebhookHttpClientOptions {
  policy: TargetPolicy;
  /** The whole exchange, resolution and connection through the last byte of the body. */
  timeoutMs?: number;
  /** Past this the body is discarded and the connection closed, so a target cannot stream forever into memory. */
  maxResponseBytes?: number;
  /** How long a host's checked resolution is reused; 0 resolves for every request. */
  resolveCacheMs?: number;
  /** Concurrent connections per target address and port (per TLS name too). */
  maxSocketsPerOrigin?: number;
  /** Certificate authorities to trust instead of the system's: tests, or a private CA in development. */
  ca?: string | Buffer | (string | Buffer)[];
}

const USER_AGENT = 'Parley-Webhooks/1.0';
const RESOLVE_CACHE_MAX_ENTRIES = 10_000;
/** Under Node's default server keep-alive of 5 s, so an idle connection is closed by us before the server drops it under a request. */
const IDLE_SOCKET_MS = 4_000;

class TimeoutError extends Error {}

interface CachedResolution {
  expires: number;
  target: Promise<ResolvedTarget>;
}

/**
 * The only way webhooks leave the platform. Each request resolves the host (or reuses a checked
 * resolution for resolveCacheMs), refuses a forbidden target, and connects to the checked address
 * itself with the hostname kept in Host and in TLS SNI and certificate checks, so DNS cannot be
 * re-pointed between check and connection. Redirects are never followed. Every problem reaching
 * the target comes back as `error`, never as an exception: a failed delivery is a normal outcome.
 */
export class WebhookHttpClient {
  private readonly policy: TargetPolicy;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly resolveCacheMs: number;
  private readonly ca: WebhookHttpClientOptions['ca'];
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly resolutions = new Map<string, CachedResolution>();

  constructor(opts: WebhookHttpClientOptions) {
    this.policy = opts.policy;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.maxResponseBytes = opts.maxResponseBytes ?? 64 * 1024;
    this.resolveCacheMs = opts.resolveCacheMs ?? 5_000;
    this.ca = opts.ca;
    const agentOptions = { keepAlive: true, maxSockets: opts.maxSocketsPerOrigin ?? 32, maxFreeSockets: opts.maxSocketsPerOrigin ?? 32, timeout: IDLE_SOCKET_MS };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
  }

  post(url: string, headers: Record<string, string>, body: string, signal?: AbortSignal): Promise<WebhookResponse> {
    return this.exchange('POST', url, headers, body, signal);
  }

  get(url: string, signal?: AbortSignal): Promise<WebhookResponse> {
    return this.exchange('GET', url, {}, undefined, signal);
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.resolutions.clear();
  }

  private async exchange(method: string, url: string, headers: Record<string, string>, body: string | undefined, signal?: AbortSignal): Promise<WebhookResponse> {
    const started = performance.now();
    const done = (partial: Partial<WebhookResponse>): WebhookResponse => ({
      status: null,
      headers: {},
      body: '',
      error: null,
      ...partial,
      latencyMs: Math.round(performance.now() - started),
    });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new TimeoutError('timeout')), this.timeoutMs);
    const onAbort = () => controller.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const target = await abortable(this.resolve(url), controller.signal);
      try {
        return done(await this.send(method, target, headers, body, controller.signal, false));
      } catch (err) {
        // A keep-alive connection the target closed while idle fails on first use; Node's own
        // advice is to retry on a fresh one, and at-least-once delivery allows it.
        if (err instanceof StaleSocketError && !controller.signal.aborted) {
          return done(await this.send(method, target, headers, body, controller.signal, true));
        }
        throw err;
      }
    } catch (err) {
      return done({ error: describe(err instanceof StaleSocketError ? err.cause : err, controller.signal) });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Shape-checks every request; the DNS answer of an origin is what is cached. */
  private async resolve(url: string): Promise<ResolvedTarget> {
    const parsed = assertWebhookUrlShape(url, this.policy);
    if (this.resolveCacheMs <= 0) return resolveWebhookTarget(url, this.policy);
    const key = `${parsed.protocol}//${parsed.host}`;
    const now = Date.now();
    let cached = this.resolutions.get(key);
    if (!cached || cached.expires <= now) {
      if (this.resolutions.size >= RESOLVE_CACHE_MAX_ENTRIES) this.resolutions.clear();
      const target = resolveWebhookTarget(url, this.policy);
      cached = { expires: now + this.resolveCacheMs, target };
      this.resolutions.set(key, cached);
      // Only a successful check is worth keeping; a failure is asked again next time.
      target.catch(() => {
        if (this.resolutions.get(key)?.target === target) this.resolutions.delete(key);
      });
    }
    const { address, family } = await cached.target;
    return { url: parsed, address, family };
  }

  private send(
    method: string,
    target: ResolvedTarget,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal,
    freshSocket: boolean,
  ): Promise<Partial<WebhookResponse>> {
    const { url, address, family } = target;
    const secure = url.protocol === 'https:';
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname.replace(/\.$/, '');
    const isName = isIP(hostname) === 0;
    const payload = body === undefined ? undefined : Buffer.from(body, 'utf8');
    const options: https.RequestOptions = {
      method,
      // The checked address, not the name: nothing resolves it again.
      host: address,
      family,
      port: url.port ? Number(url.port) : secure ? 443 : 80,
      path: `${url.pathname}${url.search}`,
      headers: {
        'user-agent': USER_AGENT,
        ...lowerCaseKeys(headers),
        host: url.host,
        ...(payload ? { 'content-length': String(payload.length) } : {}),
      },
      agent: freshSocket ? false : secure ? this.httpsAgent : this.httpAgent,
      signal,
      // The certificate is checked against the name the partner registered.
      ...(secure && isName ? { servername: hostname } : {}),
      ...(secure && this.ca ? { ca: this.ca } : {}),
    };
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let capped = false;
        const finish = () => {
          const headersOut: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) headersOut[name] = Array.isArray(value) ? value.join(', ') : value;
          }
          resolve({ status: res.statusCode ?? null, headers: headersOut, body: new TextDecoder('utf-8').decode(Buffer.concat(chunks)), error: null });
        };
        res.on('data', (chunk: Buffer) => {
          if (capped) return;
          if (size + chunk.length <= this.maxResponseBytes) {
            chunks.push(chunk);
            size += chunk.length;
            return;
          }
          chunks.push(chunk.subarray(0, this.maxResponseBytes - size));
          capped = true;
          // The rest is not read: closing the connection costs less than draining it.
          res.destroy();
          finish();
        });
        res.on('end', () => {
          if (!capped) finish();
        });
        res.on('error', (err) => {
          if (!capped) reject(err);
        });
        res.on('aborted', () => {
          if (!capped) reject(new Error('response aborted'));
        });
      });
      req.on('error', (err) => {
        const code = (err as NodeJS.ErrnoException).code;
        if (req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) reject(new StaleSocketError(err));
        else reject(err);
      });
      req.end(payload);
    });
  }
}

class StaleSocketError extends Error {
  constructor(override readonly cause: unknown) {
    super('stale keep-alive socket');
  }
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ETIMEDOUT: 'timeout',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  HPE_INVALID_CONSTANT: 'invalid HTTP response',
  HPE_HEADER_OVERFLOW: 'response headers too large',
};

/** One short, stable line for the delivery log; never the stack. */
function describe(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) return signal.reason instanceof TimeoutError ? 'timeout' : 'aborted';
  if (err instanceof DomainError) {
    return err.code === 'webhook_url_forbidden' ? `target forbidden: ${err.message}` : `target unresolvable: ${err.message}`;
  }
  const e = err as NodeJS.ErrnoException;
  if (e?.code && ERRNO_TEXT[e.code]) return ERRNO_TEXT[e.code]!;
  if (e?.code?.startsWith('HPE_')) return `invalid HTTP response (${e.code})`;
  if (e?.code && /CERT|SSL|TLS|SELF_SIGNED|ALTNAME|UNABLE_TO/.test(e.code)) return `tls: ${e.code}: ${e.message}`;
  return e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? err);
}
