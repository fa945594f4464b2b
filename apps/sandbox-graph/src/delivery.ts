import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { BoundedLog } from './log';

export interface WebhookRetryOptions {
  /** Attempts per delivery, the first included (default 5). */
  attempts?: number;
  /** Delay before the first retry, doubled each time (default 100 ms). */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export type WebhookKind = 'status' | 'inbound' | 'custom';
export type WebhookState = 'pending' | 'acknowledged' | 'failed' | 'dropped';

export interface WebhookRecord {
  seq: number;
  kind: WebhookKind;
  wamid?: string;
  status?: string;
  payload: unknown;
  state: WebhookState;
  /** One entry per attempt: the HTTP status, or 0 when the connection failed. */
  responses: number[];
  lastError?: string;
  createdAt: number;
}

export interface WebhookStats {
  /** HTTP POSTs made, retries included. */
  attempted: number;
  /** Deliveries answered 2xx. */
  acknowledged: number;
  /** Deliveries given up after the last retry. */
  failed: number;
  /** Attempts answered non-2xx. */
  rejected: number;
  /** Attempts that got no answer (refused, reset, timed out). */
  errors: number;
  /** Attempts beyond the first. */
  retried: number;
  /** Deliveries skipped because no webhook URL was set. */
  dropped: number;
  /** Deliveries still in flight or waiting for a retry. */
  pending: number;
}

export interface DeliveryResult {
  acknowledged: boolean;
  attempts: number;
  lastStatus?: number;
  lastError?: string;
}

export interface WebhookSenderOptions {
  appSecret: string;
  retry?: WebhookRetryOptions;
  timeoutMs?: number;
  /** Sockets kept open to Parley (default 64). */
  concurrency?: number;
  logLimit?: number;
  sleep: (ms: number) => Promise<boolean>;
}

/**
 * Posts signed webhooks the way Meta does: JSON body, `X-Hub-Signature-256`, retried with backoff while Parley answers non-2xx or is unreachable. Sockets are
 * pooled with keep-alive: benchmarks push thousands of posts a second through here.
 */
export class WebhookSender {
  readonly stats: WebhookStats = { attempted: 0, acknowledged: 0, failed: 0, rejected: 0, errors: 0, retried: 0, dropped: 0, pending: 0 };
  readonly log: BoundedLog<WebhookRecord>;
  private url: URL | undefined;
  private seq = 0;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: WebhookSenderOptions) {
    const maxSockets = options.concurrency ?? 64;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets, scheduling: 'lifo' });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets, scheduling: 'lifo' });
    this.attempts = Math.max(1, options.retry?.attempts ?? 5);
    this.baseDelayMs = options.retry?.baseDelayMs ?? 100;
    this.maxDelayMs = options.retry?.maxDelayMs ?? 5_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.log = new BoundedLog(options.logLimit ?? 10_000);
  }

  setUrl(url: string | undefined): void {
    this.url = url ? new URL(url) : undefined;
  }

  getUrl(): string | undefined {
    return this.url?.toString();
  }

  async deliver(payload: unknown, kind: WebhookKind, tags: { wamid?: string; status?: string } = {}): Promise<DeliveryResult> {
    const record: WebhookRecord = { seq: ++this.seq, kind, ...tags, payload, state: 'pending', responses: [], createdAt: Date.now() };
    this.log.push(record);
    if (!this.url) {
      record.state = 'dropped';
      this.stats.dropped++;
      return { acknowledged: false, attempts: 0, lastError: 'no webhook URL set' };
    }
    const body = JSON.stringify(payload);
    const headers = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': 'facebookexternalua',
      // Meta also sends the legacy SHA-1 `X-Hub-Signature`; Parley checks only this one, and one
      // HMAC per post matters at thousands of posts a second.
      'x-hub-signature-256': `sha256=${createHmac('sha256', this.options.appSecret).update(body).digest('hex')}`,
    };
    this.stats.pending++;
    try {
      for (let attempt = 1; ; attempt++) {
        const target = this.url;
        if (!target) {
          record.state = 'dropped';
          this.stats.dropped++;
          return { acknowledged: false, attempts: attempt - 1, lastError: 'no webhook URL set' };
        }
        this.stats.attempted++;
        if (attempt > 1) this.stats.retried++;
        try {
          const status = await this.post(target, body, headers);
          record.responses.push(status);
          if (status >= 200 && status < 300) {
            record.state = 'acknowledged';
            this.stats.acknowledged++;
            return { acknowledged: true, attempts: attempt, lastStatus: status };
          }
          this.stats.rejected++;
        } catch (err) {
          record.responses.push(0);
          record.lastError = (err as Error).message;
          this.stats.errors++;
        }
        if (attempt >= this.attempts) break;
        const delay = Math.min(this.baseDelayMs * 2 ** (attempt - 1), this.maxDelayMs);
        if (!(await this.options.sleep(delay))) break;
      }
      record.state = 'failed';
      this.stats.failed++;
      const lastStatus = record.responses.at(-1);
      return { acknowledged: false, attempts: record.responses.length, lastStatus: lastStatus || undefined, lastError: record.lastError };
    } finally {
      this.stats.pending--;
    }
  }

  private post(target: URL, body: string, headers: Record<string, string>): Promise<number> {
    const secure = target.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(
        {
          protocol: target.protocol,
          hostname: target.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: target.port || (secure ? 443 : 80),
          path: `${target.pathname}${target.search}`,
          method: 'POST',
          agent: secure ? this.httpsAgent : this.httpAgent,
          headers,
          timeout: this.timeoutMs,
        },
        (res) => {
          res.on('error', reject);
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.resume();
        },
      );
      req.on('timeout', () => req.destroy(new Error(`webhook POST timed out after ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
