import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { type DeliveryResult, WebhookSender } from './delivery';
import { GraphError, invalidParameter, metaErrorBody } from './errors';
import { defaultWabaIdFor, digitsOf, displayDigitsFor, formatDisplayNumber, isSignedBusinessToken, newBusinessToken, newNumericId, newWamid, unixSeconds, whatsappIdOf } from './ids';
import { BoundedLog } from './log';
import { embeddedSignupPage } from './signup-page';
import { parseMultipart, placeholderBytes, storedMedia, type StoredMedia } from './media';
import { paginate, seedTemplateInputs, toTemplate, type MessageTemplate, type TemplateCategory, type TemplateInput } from './templates';
import type {
  CodeGrant,
  FaultError,
  Faults,
  GraphOperation,
  MediaInfo,
  MediaInput,
  PhoneNumber,
  PhoneNumberInput,
  RequestLogEntry,
  SandboxGraph,
  SandboxGraphOptions,
  SandboxStats,
  SendRecord,
  SimulateInboundInput,
  SimulateStatusInput,
  StatusDelays,
  StatusDelaysInput,
} from './types';
import { validateSend, validateTemplateSend } from './validate';
import { buildInboundMessageWebhook, buildStatusWebhook, defaultMimeType, type PricingCategory, type StatusErrorInput, type StatusName } from './webhooks';

const VERSION = /^v\d+\.\d+$/;
const MAX_BODY = 64 * 1024 * 1024;
const DEFAULT_DELAYS: StatusDelays = { sent: 5, delivered: 10, read: 20 };
const STATUS_ORDER = ['sent', 'delivered', 'read'] as const;

const PHONE_DEFAULT_FIELDS = ['verified_name', 'code_verification_status', 'display_phone_number', 'quality_rating', 'platform_type', 'throughput', 'id'];
const WABA_DEFAULT_FIELDS = ['id', 'name', 'currency', 'timezone_id', 'message_template_namespace'];
const TEMPLATE_FIELDS = new Set(['id', 'name', 'parameter_format', 'components', 'language', 'status', 'category', 'sub_category', 'previous_category', 'rejected_reason', 'quality_score']);
const SEED_CATEGORIES = new Map(seedTemplateInputs().map((t) => [t.name, t.category]));

type Json = Record<string, unknown>;

interface Waba {
  id: string;
  name: string;
  templates?: MessageTemplate[];
  subscribedApps: Map<string, { override_callback_uri?: string }>;
}

interface TokenInfo {
  wabaIds: Set<string>;
  lastWabaId?: string;
}

interface NormalizedFault {
  code: number;
  httpStatus?: number;
  subcode?: number;
  message?: string;
  title?: string;
  details?: string;
  async: boolean;
  drop?: 'before' | 'after';
  rawBody?: string;
}

interface Context {
  req: http.IncomingMessage;
  method: string;
  version?: string;
  segments: string[];
  query: URLSearchParams;
  raw: Buffer;
  body: unknown;
  token?: string;
  tokenInfo?: TokenInfo;
  entry: RequestLogEntry;
}

interface Outcome {
  status: number;
  json?: unknown;
  bytes?: Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  drop?: boolean;
}

function ok(json: unknown, status = 200): Outcome {
  return { status, json };
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new GraphError({ code: 100, httpStatus: 413, details: 'Request body too large.' }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function toBuffer(bytes: Uint8Array | string): Buffer {
  return typeof bytes === 'string' ? Buffer.from(bytes, 'base64') : Buffer.from(bytes);
}

function normalizeDelays(input: StatusDelaysInput | undefined, base: StatusDelays): StatusDelays {
  const out = { ...base };
  for (const key of STATUS_ORDER) {
    const v = input?.[key];
    if (v === undefined) continue;
    out[key] = v === null || v === false ? null : Math.max(0, Number(v));
  }
  return out;
}

function normalizeFault(f: FaultError): NormalizedFault {
  const spec = typeof f === 'number' ? { code: f } : f;
  const code =
    spec.code ?? (spec.httpStatus === 503 ? 2 : spec.httpStatus === 429 ? 130429 : spec.httpStatus !== undefined && spec.httpStatus >= 500 ? 1 : 100);
  return { ...spec, code, async: spec.async ?? false };
}

/** Mulberry32: a seeded generator so fault fractions can be replayed exactly. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A synchronous fault: Meta's envelope, or the raw text a proxy in front of Graph would answer. */
function rejection(fault: NormalizedFault): Outcome {
  const error = new GraphError(fault);
  if (fault.rawBody === undefined) throw error;
  return { status: error.status, bytes: Buffer.from(fault.rawBody), contentType: 'text/html; charset=utf-8' };
}

function unsupported(method: string, id: string): GraphError {
  return new GraphError({
    code: 100,
    subcode: 33,
    message: `Unsupported ${method.toLowerCase()} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
    title: 'Unsupported request',
    details: `Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
  });
}

/** Graph `fields=` lists; sub-selections (`throughput{level}`) are accepted and ignored. */
function requestedFields(query: URLSearchParams, defaults: string[], known: Set<string>, nodeType: string): string[] {
  const raw = query.get('fields');
  if (!raw) return defaults;
  const fields = raw
    .replace(/\{[^}]*\}/g, '')
    .split(',')
    .map((f) => f.trim().replace(/\..*$/, ''))
    .filter(Boolean);
  for (const f of fields) {
    if (!known.has(f)) throw invalidParameter(`Tried accessing nonexisting field (${f}) on node type (${nodeType})`);
  }
  return fields.includes('id') ? fields : [...fields, 'id'];
}

function pick(all: Json, fields: string[]): Json {
  const out: Json = {};
  for (const f of fields) if (all[f] !== undefined) out[f] = all[f];
  return out;
}

class Sandbox implements SandboxGraph {
  url = '';
  graphUrl = '';
  port = 0;
  readonly version: string;

  private readonly server: http.Server;
  private readonly options: SandboxGraphOptions;
  private readonly phones = new Map<string, PhoneNumber>();
  private readonly wabas = new Map<string, Waba>();
  private readonly media = new Map<string, StoredMedia>();
  private readonly codes = new Map<string, CodeGrant>();
  private readonly usedCodes = new Set<string>();
  private readonly tokens = new Map<string, TokenInfo>();
  private readonly revoked = new Set<string>();
  private readonly requestLog: BoundedLog<RequestLogEntry>;
  private readonly sendLog: BoundedLog<SendRecord>;
  private readonly sendsByWamid = new Map<string, SendRecord>();
  private readonly sender: WebhookSender;
  private faults: Faults = {};
  private random: () => number = Math.random;
  private delays: StatusDelays;
  private latencyMs: number;
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: (v: boolean) => void }>();
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  private requestSeq = 0;
  private counters = { requests: 0, accepted: 0, rejected: 0, dropped: 0 };

  constructor(options: SandboxGraphOptions) {
    this.options = options;
    this.version = options.version ?? 'v23.0';
    this.delays = normalizeDelays(options.statusDelaysMs, DEFAULT_DELAYS);
    this.latencyMs = options.latencyMs ?? 0;
    // Bounded so a long benchmark cannot grow the heap without end; sends are kept longest, as
    // "each recipient sent once" checks need all of them.
    this.requestLog = new BoundedLog(options.requestLogLimit ?? 10_000);
    this.sendLog = new BoundedLog(options.logLimit ?? 100_000, (r) => this.sendsByWamid.delete(r.wamid));
    this.sender = new WebhookSender({
      appSecret: options.appSecret,
      retry: options.webhookRetry,
      timeoutMs: options.webhookTimeoutMs,
      concurrency: options.webhookConcurrency,
      logLimit: options.webhookLogLimit,
      sleep: (ms) => this.sleep(ms),
    });
    this.sender.setUrl(options.webhookUrl);
    for (const t of options.tokens ?? []) this.addToken(t);
    if (options.faults) this.setFaults(options.faults);
    this.server = http.createServer((req, res) => void this.onRequest(req, res));
    // Benchmarks hold pooled connections open between bursts; outlive typical client idle timeouts.
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
  }

  async listen(): Promise<void> {
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    this.port = address.port;
    const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    this.url = `http://${shownHost}:${this.port}`;
    this.graphUrl = `${this.url}/${this.version}`;
  }

  // -------------------------------------------------------------------------------------------
  // Public API

  setWebhookUrl(url: string | undefined): void {
    this.sender.setUrl(url);
  }

  setFaults(faults: Faults): void {
    const copy = structuredClone(faults);
    if (copy.failRecipients) {
      copy.failRecipients = Object.fromEntries(Object.entries(copy.failRecipients).map(([k, v]) => [digitsOf(k), v]));
    }
    this.faults = copy;
    this.random = copy.failRate?.seed !== undefined ? seededRandom(copy.failRate.seed) : Math.random;
  }

  clearFaults(): void {
    this.setFaults({});
  }

  getFaults(): Faults {
    return structuredClone(this.faults);
  }

  setStatusDelays(delays: StatusDelaysInput): void {
    this.delays = normalizeDelays(delays, this.delays);
  }

  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  addPhoneNumber(input: PhoneNumberInput): PhoneNumber {
    const given = input.displayPhoneNumber;
    const digits = given ? digitsOf(given) : displayDigitsFor(input.id);
    const phone: PhoneNumber = {
      id: input.id,
      wabaId: input.wabaId,
      displayDigits: digits,
      displayPhoneNumber: given && /\D/.test(given) ? given : formatDisplayNumber(digits),
      verifiedName: input.verifiedName ?? `Parley Sandbox ${input.id.slice(-4)}`,
      qualityRating: input.qualityRating ?? 'GREEN',
      throughputLevel: input.throughputLevel ?? 'STANDARD',
      messagingLimitTier: input.messagingLimitTier ?? 'TIER_1K',
      codeVerificationStatus: input.codeVerificationStatus ?? 'VERIFIED',
      registered: input.registered ?? false,
    };
    this.phones.set(phone.id, phone);
    if (phone.wabaId) this.wabaOf(phone.wabaId);
    return phone;
  }

  getPhoneNumber(id: string): PhoneNumber | undefined {
    return this.phones.get(id);
  }

  addTemplate(wabaId: string, template: TemplateInput): MessageTemplate {
    const waba = this.wabaOf(wabaId);
    const list = this.templatesOf(waba);
    const stored = toTemplate(wabaId, template);
    const at = list.findIndex((t) => t.name === stored.name && t.language === stored.language);
    if (at >= 0) list[at] = stored;
    else list.push(stored);
    return structuredClone(stored);
  }

  templates(wabaId: string): MessageTemplate[] {
    return structuredClone(this.templatesOf(this.wabaOf(wabaId)));
  }

  registerCode(code: string, grant: CodeGrant = {}): void {
    this.codes.set(code, { ...grant });
    if (grant.wabaId) this.wabaOf(grant.wabaId);
    if (grant.phoneNumberId) {
      const phone = this.phones.get(grant.phoneNumberId) ?? this.addPhoneNumber({ id: grant.phoneNumberId });
      if (grant.wabaId) phone.wabaId = grant.wabaId;
    }
  }

  addToken(token: string, grant: { wabaId?: string } = {}): void {
    this.revoked.delete(token);
    this.tokens.set(token, { wabaIds: new Set(grant.wabaId ? [grant.wabaId] : []), lastWabaId: grant.wabaId });
  }

  revokeToken(token: string): void {
    this.tokens.delete(token);
    this.revoked.add(token);
  }

  addMedia(input: MediaInput): MediaInfo {
    const stored = storedMedia(input.id ?? newNumericId(), toBuffer(input.bytes), input.mimeType, input.filename);
    this.media.set(stored.id, stored);
    return this.mediaInfo(stored, this.url);
  }

  requests(filter: { operation?: GraphOperation; path?: string } = {}): RequestLogEntry[] {
    const all = this.requestLog.toArray();
    if (!filter.operation && !filter.path) return all;
    return all.filter((r) => (!filter.operation || r.operation === filter.operation) && (!filter.path || r.path.includes(filter.path)));
  }

  sends(filter: { to?: string; phoneNumberId?: string } = {}): SendRecord[] {
    const all = this.sendLog.toArray();
    if (!filter.to && !filter.phoneNumberId) return all;
    const to = filter.to ? digitsOf(filter.to) : undefined;
    return all.filter((s) => (!to || s.waId === to) && (!filter.phoneNumberId || s.phoneNumberId === filter.phoneNumberId));
  }

  webhooks() {
    return this.sender.log.toArray();
  }

  webhookStats() {
    return { ...this.sender.stats };
  }

  stats(): SandboxStats {
    const { requests, accepted, rejected, dropped } = this.counters;
    return { requests, sends: { accepted, rejected, dropped }, webhooks: this.webhookStats() };
  }

  async simulateInbound(input: SimulateInboundInput, options: { wait?: boolean } = {}): Promise<string> {
    const { wamid, done } = this.inbound(input);
    if (options.wait === false) return wamid;
    const result = await done;
    if (!result.acknowledged) {
      throw new Error(`the webhook was not acknowledged for inbound ${wamid} after ${result.attempts} attempt(s): ${result.lastStatus ?? result.lastError ?? 'no answer'}`);
    }
    return wamid;
  }

  async simulateStatus(input: SimulateStatusInput): Promise<DeliveryResult> {
    const send = this.sendsByWamid.get(input.wamid);
    const phoneNumberId = input.phoneNumberId ?? send?.phoneNumberId;
    const recipientId = input.recipientId ?? send?.waId;
    if (!phoneNumberId || !recipientId) throw new Error(`unknown wamid ${input.wamid}: give phoneNumberId and recipientId`);
    const phone = this.phoneOf(phoneNumberId);
    const payload = buildStatusWebhook({
      phoneNumberId,
      wabaId: this.wabaIdOf(phone),
      displayPhoneNumber: phone.displayDigits,
      wamid: input.wamid,
      status: input.status,
      recipientId,
      timestamp: input.timestamp,
      bizOpaqueCallbackData: input.bizOpaqueCallbackData ?? send?.bizOpaqueCallbackData,
      category: input.category ?? send?.category,
      errors: input.errors,
    });
    return this.track(this.sender.deliver(payload, 'status', { wamid: input.wamid, status: input.status }));
  }

  deliverWebhook(payload: unknown): Promise<DeliveryResult> {
    return this.track(this.sender.deliver(payload, 'custom'));
  }

  waitForIdle(timeoutMs = 10_000): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        reject(new Error(`sandbox still busy after ${timeoutMs} ms (${this.inFlight} status sequences or deliveries under way)`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.idleWaiters.push(done);
    });
  }

  reset(): void {
    this.requestLog.clear();
    this.sendLog.clear();
    this.sender.log.clear();
    this.counters = { requests: 0, accepted: 0, rejected: 0, dropped: 0 };
    for (const key of Object.keys(this.sender.stats) as (keyof typeof this.sender.stats)[]) {
      if (key !== 'pending') this.sender.stats[key] = 0;
    }
    this.clearFaults();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) {
      clearTimeout(t.timer);
      t.resolve(false);
    }
    this.timers.clear();
    this.sender.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // -------------------------------------------------------------------------------------------
  // Plumbing

  private sleep(ms: number): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const entry = {
        resolve,
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve(!this.stopped);
        }, ms),
      };
      this.timers.add(entry);
    });
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight++;
    const settle = () => {
      this.inFlight--;
      if (this.inFlight === 0 && this.idleWaiters.length) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    };
    work.then(settle, settle);
    return work;
  }

  private wabaOf(id: string): Waba {
    let waba = this.wabas.get(id);
    if (!waba) {
      waba = { id, name: `Parley Sandbox WABA ${id.slice(-4)}`, subscribedApps: new Map() };
      this.wabas.set(id, waba);
    }
    return waba;
  }

  private templatesOf(waba: Waba): MessageTemplate[] {
    waba.templates ??= this.options.seedTemplates === false ? [] : seedTemplateInputs().map((t) => toTemplate(waba.id, t));
    return waba.templates;
  }

  private phoneOf(id: string): PhoneNumber {
    return this.phones.get(id) ?? this.addPhoneNumber({ id });
  }

  private wabaIdOf(phone: PhoneNumber): string {
    return phone.wabaId ?? defaultWabaIdFor(phone.id);
  }

  /** Looks up (or, unless strict, creates) a phone number, linking it to the WABA the token last touched. */
  private resolvePhone(ctx: Context, id: string): PhoneNumber {
    let phone = this.phones.get(id);
    if (!phone) {
      if (this.options.strict) throw unsupported(ctx.method, id);
      phone = this.addPhoneNumber({ id });
    }
    // Embedded signup reads the number before it subscribes the WABA, so the link is made on a
    // later call with the same token; it decides which WABA id status webhooks carry. A token that
    // has touched several WABAs says nothing reliable, so only a single one links.
    if (!phone.wabaId && ctx.tokenInfo?.wabaIds.size === 1) phone.wabaId = ctx.tokenInfo.lastWabaId;
    return phone;
  }

  private resolveWaba(ctx: Context, id: string): Waba {
    if (!this.wabas.has(id) && this.options.strict) throw unsupported(ctx.method, id);
    const waba = this.wabaOf(id);
    if (ctx.tokenInfo) {
      ctx.tokenInfo.wabaIds.add(id);
      ctx.tokenInfo.lastWabaId = id;
    }
    return waba;
  }

  private authenticate(ctx: Context): void {
    const header = ctx.req.headers.authorization;
    let token = header ? /^(?:Bearer|OAuth)\s+(.+)$/i.exec(header)?.[1]?.trim() : undefined;
    token ??= ctx.query.get('access_token') ?? (isObject(ctx.body) && typeof ctx.body.access_token === 'string' ? ctx.body.access_token : undefined);
    ctx.token = token;
    ctx.entry.token = token;
    if (!token) throw new GraphError({ code: 104, httpStatus: 401 });
    if (this.revoked.has(token)) {
      throw new GraphError({ code: 190, subcode: 460, message: 'Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.', title: 'Access token has expired', details: 'The session has been invalidated.' });
    }
    let info = this.tokens.get(token);
    if (!info) {
      const app = this.options.appId && token === `${this.options.appId}|${this.options.appSecret}`;
      if (!this.options.acceptAnyToken && !app && !isSignedBusinessToken(this.options.appSecret, token)) throw new GraphError({ code: 190 });
      info = { wabaIds: new Set() };
      this.tokens.set(token, info);
    }
    ctx.tokenInfo = info;
  }

  private operationFault(op: GraphOperation): NormalizedFault | undefined {
    const f = this.faults.failOperations?.[op];
    return f === undefined ? undefined : normalizeFault(f);
  }

  private sendFault(waId: string): NormalizedFault | undefined {
    const f = this.faults;
    const byRecipient = f.failRecipients?.[waId];
    if (byRecipient !== undefined) return normalizeFault(byRecipient);
    if (f.failNext && f.failNext.count > 0) {
      f.failNext.count--;
      return normalizeFault(f.failNext.error);
    }
    if (f.failRate && f.failRate.fraction > 0 && this.random() < f.failRate.fraction) return normalizeFault(f.failRate.error);
    return this.operationFault('messages');
  }

  private mediaInfo(m: StoredMedia, base: string): MediaInfo {
    return { messaging_product: 'whatsapp', url: `${base}/media-download/${m.id}`, mime_type: m.mimeType, sha256: m.sha256, file_size: m.fileSize, id: m.id };
  }

  private baseUrl(req: http.IncomingMessage): string {
    return req.headers.host ? `http://${req.headers.host}` : this.url;
  }

  // -------------------------------------------------------------------------------------------
  // HTTP

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const rawUrl = req.url ?? '/';
    const qi = rawUrl.indexOf('?');
    const pathname = qi < 0 ? rawUrl : rawUrl.slice(0, qi);
    const query = new URLSearchParams(qi < 0 ? '' : rawUrl.slice(qi + 1));
    let segments: string[];
    try {
      segments = pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      segments = ['%invalid%'];
    }
    if (segments[0] === '_sandbox') {
      await this.onControl(req, res, segments.slice(1), query);
      return;
    }
    const entry: RequestLogEntry = {
      seq: ++this.requestSeq,
      at: Date.now(),
      method: req.method ?? 'GET',
      path: pathname,
      query: qi < 0 ? {} : Object.fromEntries(query),
      status: 0,
      durationMs: 0,
    };
    this.counters.requests++;
    let outcome: Outcome;
    try {
      const raw = await readBody(req);
      const ctx: Context = { req, method: entry.method, segments, query, raw, body: undefined, entry };
      ctx.body = this.parseBody(req, raw);
      entry.body = ctx.body;
      outcome = await this.route(ctx);
    } catch (err) {
      const error = err instanceof GraphError ? err : new GraphError({ code: 1, details: (err as Error).message });
      outcome = { status: error.status, json: error.body() };
      if (error.status === 401) {
        outcome.headers = { 'www-authenticate': `OAuth "Facebook Platform" "invalid_token" "${error.body().error.message.replace(/"/g, "'")}"` };
      }
    }
    entry.durationMs = performance.now() - started;
    if (outcome.drop) {
      entry.status = 0;
      this.requestLog.push(entry);
      req.socket.destroy();
      return;
    }
    entry.status = outcome.status;
    entry.response = outcome.json;
    if (entry.operation === 'messages' && outcome.status >= 400) this.counters.rejected++;
    this.requestLog.push(entry);
    if (outcome.bytes) {
      res.writeHead(outcome.status, { 'content-type': outcome.contentType ?? 'application/octet-stream', 'content-length': outcome.bytes.length, ...outcome.headers });
      res.end(outcome.bytes);
      return;
    }
    const text = JSON.stringify(outcome.json ?? {});
    res.writeHead(outcome.status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), ...outcome.headers });
    res.end(text);
  }

  private parseBody(req: http.IncomingMessage, raw: Buffer): unknown {
    if (raw.length === 0) return undefined;
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('multipart/form-data')) {
      const parts = parseMultipart(raw, type);
      if (!parts) throw invalidParameter('Malformed multipart body.');
      return { parts };
    }
    if (type.startsWith('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
    try {
      return JSON.parse(raw.toString('utf8'));
    } catch {
      throw invalidParameter('Request body is not valid JSON.');
    }
  }

  private async route(ctx: Context): Promise<Outcome> {
    let rest = ctx.segments;
    // META_GRAPH_URL may carry a path of its own (`http://host/graph`), so look for the version.
    const vi = rest.slice(0, 3).findIndex((s) => VERSION.test(s));
    if (vi >= 0) {
      ctx.version = rest[vi];
      ctx.entry.version = ctx.version;
      rest = rest.slice(vi + 1);
    }
    const [a, b, ...more] = rest;
    if (this.latencyMs > 0 && !(await this.sleep(this.latencyMs))) return { status: 0, drop: true };
    if (a === 'oauth' && b === 'access_token' && !more.length) return this.withFault(ctx, 'oauth', () => this.oauth(ctx));
    if (a === 'media-download' && b && !more.length) {
      this.authenticate(ctx);
      return this.withFault(ctx, 'media_download', () => this.mediaDownload(b));
    }
    if (!a || more.length) throw new GraphError({ code: 2500, message: `Unknown path components: /${rest.slice(1).join('/')}`, details: 'Unknown path components' });
    this.authenticate(ctx);
    const m = ctx.method;
    if (b === undefined) {
      if (this.media.has(a)) {
        if (m === 'GET') return this.withFault(ctx, 'media', () => ok(this.mediaInfo(this.media.get(a)!, this.baseUrl(ctx.req))));
        if (m === 'DELETE') return this.withFault(ctx, 'media', () => (this.media.delete(a), ok({ success: true })));
      }
      if (m !== 'GET') throw unsupported(m, a);
      if (this.wabas.has(a) && !this.phones.has(a)) return this.withFault(ctx, 'waba', () => this.wabaNode(ctx, a));
      return this.withFault(ctx, 'phone_number', () => this.phoneNode(ctx, a));
    }
    switch (b) {
      case 'messages':
        if (m !== 'POST') throw unsupported(m, a);
        ctx.entry.operation = 'messages';
        return this.send(ctx, a);
      case 'register':
      case 'deregister':
        if (m !== 'POST') throw unsupported(m, a);
        return this.withFault(ctx, b, () => this.register(ctx, a, b === 'register'));
      case 'media':
        if (m !== 'POST') throw unsupported(m, a);
        return this.withFault(ctx, 'media_upload', () => this.upload(ctx, a));
      case 'subscribed_apps':
        return this.withFault(ctx, 'subscribed_apps', () => this.subscribedApps(ctx, a));
      case 'message_templates':
        return this.withFault(ctx, 'message_templates', () => this.messageTemplates(ctx, a));
      case 'phone_numbers':
        if (m !== 'GET') throw unsupported(m, a);
        return this.withFault(ctx, 'phone_numbers', () => {
          const waba = this.resolveWaba(ctx, a);
          const phones = [...this.phones.values()].filter((p) => p.wabaId === waba.id).map((p) => this.phoneJson(p, PHONE_DEFAULT_FIELDS));
          return ok(paginate(phones, ctx.query, (params) => `${this.baseUrl(ctx.req)}/${ctx.version ?? this.version}/${a}/phone_numbers?${params}`));
        });
      default:
        throw new GraphError({ code: 2500, message: `Unknown path components: /${b}`, details: 'Unknown path components' });
    }
  }

  private withFault(ctx: Context, op: GraphOperation, handler: () => Outcome | Promise<Outcome>): Outcome | Promise<Outcome> {
    ctx.entry.operation = op;
    const fault = this.operationFault(op);
    if (!fault) return handler();
    if (fault.drop === 'before') return { status: 0, drop: true };
    if (fault.drop === 'after') return Promise.resolve(handler()).then(() => ({ status: 0, drop: true }));
    return rejection(fault);
  }

  private param(ctx: Context, name: string): string | undefined {
    const fromBody = isObject(ctx.body) ? ctx.body[name] : undefined;
    if (typeof fromBody === 'string' || typeof fromBody === 'number') return String(fromBody);
    return ctx.query.get(name) ?? undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Graph endpoints

  private oauth(ctx: Context): Outcome {
    if (ctx.method !== 'GET' && ctx.method !== 'POST') throw unsupported(ctx.method, 'oauth');
    const clientId = this.param(ctx, 'client_id');
    const secret = this.param(ctx, 'client_secret');
    const code = this.param(ctx, 'code');
    if (!clientId) throw new GraphError({ code: 101, message: 'Missing client_id parameter.', details: 'Missing client_id parameter.' });
    if (this.options.appId && clientId !== this.options.appId) throw new GraphError({ code: 101 });
    if (!secret) throw new GraphError({ code: 100, message: 'Missing client_secret parameter.', details: 'Missing client_secret parameter.' });
    if (secret !== this.options.appSecret) throw new GraphError({ code: 100, message: 'Error validating client secret.', title: 'Invalid client secret', details: 'Error validating client secret.' });
    if (!code) throw new GraphError({ code: 100, message: 'Missing code parameter.', details: 'Missing code parameter.' });
    if (code.startsWith('bad')) {
      const message = 'Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request';
      throw new GraphError({ code: 100, subcode: 36008, message, title: 'Invalid verification code', details: message });
    }
    if (this.options.singleUseCodes && this.usedCodes.has(code)) {
      throw new GraphError({ code: 100, subcode: 36009, message: 'This authorization code has been used.', title: 'Code already used', details: 'This authorization code has been used.' });
    }
    if (this.options.singleUseCodes) this.usedCodes.add(code);
    const grant = this.codes.get(code);
    const token = grant?.accessToken ?? newBusinessToken(this.options.appSecret);
    this.addToken(token, { wabaId: grant?.wabaId });
    return ok({ access_token: token, token_type: 'bearer' });
  }

  private phoneJson(phone: PhoneNumber, fields: string[]): Json {
    const all: Json = {
      id: phone.id,
      display_phone_number: phone.displayPhoneNumber,
      verified_name: phone.verifiedName,
      quality_rating: phone.qualityRating,
      code_verification_status: phone.codeVerificationStatus,
      platform_type: 'CLOUD_API',
      throughput: { level: phone.throughputLevel },
      name_status: 'APPROVED',
      new_name_status: 'NONE',
      messaging_limit_tier: phone.messagingLimitTier,
      is_official_business_account: false,
      account_mode: 'LIVE',
      status: phone.registered ? 'CONNECTED' : 'PENDING',
      is_pin_enabled: phone.pin !== undefined,
      webhook_configuration: { application: this.sender.getUrl() ?? '' },
      health_status: { can_send_message: 'AVAILABLE', entities: [{ entity_type: 'PHONE_NUMBER', id: phone.id, can_send_message: 'AVAILABLE' }] },
    };
    return pick(all, fields);
  }

  private phoneNode(ctx: Context, id: string): Outcome {
    const phone = this.resolvePhone(ctx, id);
    const known = new Set([...PHONE_DEFAULT_FIELDS, 'name_status', 'new_name_status', 'messaging_limit_tier', 'is_official_business_account', 'account_mode', 'status', 'is_pin_enabled', 'webhook_configuration', 'health_status']);
    return ok(this.phoneJson(phone, requestedFields(ctx.query, PHONE_DEFAULT_FIELDS, known, 'WhatsAppBusinessPhoneNumber')));
  }

  private wabaNode(ctx: Context, id: string): Outcome {
    const waba = this.resolveWaba(ctx, id);
    const all: Json = {
      id: waba.id,
      name: waba.name,
      currency: 'USD',
      timezone_id: '1',
      message_template_namespace: `sandbox_${waba.id.slice(-8)}`,
      account_review_status: 'APPROVED',
      business_verification_status: 'verified',
      ownership_type: 'CLIENT_OWNED',
    };
    return ok(pick(all, requestedFields(ctx.query, WABA_DEFAULT_FIELDS, new Set(Object.keys(all)), 'WhatsAppBusinessAccount')));
  }

  private subscribedApps(ctx: Context, wabaId: string): Outcome {
    const waba = this.resolveWaba(ctx, wabaId);
    const appId = this.options.appId ?? 'sandbox-app';
    if (ctx.method === 'POST') {
      const override = this.param(ctx, 'override_callback_uri');
      waba.subscribedApps.set(appId, override ? { override_callback_uri: override } : {});
      return ok({ success: true });
    }
    if (ctx.method === 'DELETE') {
      waba.subscribedApps.delete(appId);
      return ok({ success: true });
    }
    if (ctx.method !== 'GET') throw unsupported(ctx.method, wabaId);
    const data = [...waba.subscribedApps.entries()].map(([id, s]) => ({
      whatsapp_business_api_data: { link: `https://www.facebook.com/games/?app_id=${id}`, name: 'Parley', id },
      ...(s.override_callback_uri ? { override_callback_uri: s.override_callback_uri } : {}),
    }));
    return ok({ data });
  }

  private register(ctx: Context, phoneId: string, register: boolean): Outcome {
    const phone = this.resolvePhone(ctx, phoneId);
    const product = this.param(ctx, 'messaging_product');
    if (!product) throw invalidParameter('The parameter messaging_product is required.');
    if (product !== 'whatsapp') throw invalidParameter('Param messaging_product must be whatsapp');
    if (register) {
      const pin = this.param(ctx, 'pin');
      if (pin === undefined) throw invalidParameter('The parameter pin is required.');
      if (pin.length !== 6) throw invalidParameter('Param pin must be 6 characters long.');
      if (!/^\d{6}$/.test(pin)) throw invalidParameter('Param pin must contain only digits.');
      phone.pin = pin;
    }
    phone.registered = register;
    return ok({ success: true });
  }

  private messageTemplates(ctx: Context, wabaId: string): Outcome {
    const waba = this.resolveWaba(ctx, wabaId);
    const list = this.templatesOf(waba);
    if (ctx.method === 'POST') {
      const body = isObject(ctx.body) ? ctx.body : {};
      for (const key of ['name', 'language', 'category'] as const) {
        if (typeof body[key] !== 'string' || !body[key]) throw invalidParameter(`The parameter ${key} is required.`);
      }
      if (!Array.isArray(body.components)) throw invalidParameter('The parameter components is required.');
      if (list.some((t) => t.name === body.name && t.language === body.language)) {
        throw new GraphError({ code: 100, subcode: 2388024, message: 'Invalid parameter', title: 'Message template already exists', details: `Content in this language already exists: ${String(body.name)} (${String(body.language)})` });
      }
      const created = toTemplate(waba.id, { ...(body as unknown as TemplateInput), category: String(body.category).toUpperCase() as TemplateCategory });
      list.push(created);
      return ok({ id: created.id, status: created.status, category: created.category });
    }
    if (ctx.method !== 'GET') throw unsupported(ctx.method, wabaId);
    const q = ctx.query;
    const name = q.get('name');
    const status = q.get('status')?.toUpperCase();
    const category = q.get('category')?.toUpperCase();
    const language = q.get('language');
    const filtered = list.filter(
      (t) => (!name || t.name === name) && (!status || t.status === status) && (!category || t.category === category) && (!language || t.language === language),
    );
    const fieldsParam = q.get('fields');
    const fields = fieldsParam
      ? requestedFields(q, [], TEMPLATE_FIELDS, 'WhatsAppBusinessHSM')
      : ['name', 'parameter_format', 'components', 'language', 'status', 'category', 'id'];
    const data = filtered.map((t) => pick(t, fields));
    return ok(paginate(data, q, (params) => `${this.baseUrl(ctx.req)}/${ctx.version ?? this.version}/${wabaId}/message_templates?${params}`));
  }

  private upload(ctx: Context, phoneId: string): Outcome {
    this.resolvePhone(ctx, phoneId);
    const parts = isObject(ctx.body) && Array.isArray(ctx.body.parts) ? (ctx.body.parts as { name: string; filename?: string; contentType?: string; data: Buffer }[]) : undefined;
    if (!parts) throw invalidParameter('Media upload must be multipart/form-data.');
    const field = (name: string) => parts.find((p) => p.name === name);
    const product = field('messaging_product')?.data.toString('utf8');
    if (!product) throw invalidParameter('The parameter messaging_product is required.');
    if (product !== 'whatsapp') throw invalidParameter('Param messaging_product must be whatsapp');
    const file = field('file');
    if (!file) throw invalidParameter('The parameter file is required.');
    const mimeType = field('type')?.data.toString('utf8') || file.contentType || 'application/octet-stream';
    const stored = storedMedia(newNumericId(), Buffer.from(file.data), mimeType, file.filename);
    this.media.set(stored.id, stored);
    // The request log keeps a summary, not megabytes of upload.
    ctx.entry.body = { parts: parts.map((p) => ({ name: p.name, filename: p.filename, contentType: p.contentType, size: p.data.length })) };
    return ok({ id: stored.id });
  }

  private mediaDownload(id: string): Outcome {
    const m = this.media.get(id);
    if (!m) throw new GraphError({ code: 100, httpStatus: 404, message: 'Media not found', title: 'Media not found', details: `No media with id ${id}.` });
    return { status: 200, bytes: m.bytes, contentType: m.mimeType, headers: { 'content-disposition': `attachment; filename="${m.filename ?? m.id}"` } };
  }

  private async send(ctx: Context, phoneId: string): Promise<Outcome> {
    const phone = this.resolvePhone(ctx, phoneId);
    const { waId: written, type } = validateSend(ctx.body);
    const waId = whatsappIdOf(written);
    const body = ctx.body as Json;
    const wabaId = this.wabaIdOf(phone);
    let template: MessageTemplate | undefined;
    if (type === 'template') {
      const waba = this.wabas.get(wabaId);
      const t = body.template as Json;
      if (this.options.validateTemplates && phone.wabaId) template = validateTemplateSend(t, this.templatesOf(this.wabaOf(wabaId)));
      else if (waba?.templates) template = waba.templates.find((x) => x.name === t.name && x.language === (t.language as Json).code);
    }
    const extraLatency = this.faults.latencyMs ?? 0;
    if (extraLatency > 0 && !(await this.sleep(extraLatency))) return { status: 0, drop: true };
    const fault = this.sendFault(waId);
    if (fault && fault.drop === 'before') {
      this.counters.dropped++;
      return { status: 0, drop: true };
    }
    if (fault && !fault.async && !fault.drop) return rejection(fault);
    const templateName = type === 'template' ? String((body.template as Json).name) : undefined;
    const category: PricingCategory =
      type !== 'template'
        ? 'service'
        : ((template?.category ?? SEED_CATEGORIES.get(templateName!) ?? 'UTILITY').toLowerCase() as PricingCategory);
    const record: SendRecord = {
      wamid: newWamid(waId),
      phoneNumberId: phone.id,
      wabaId,
      to: String(body.to),
      waId,
      type,
      payload: body,
      bizOpaqueCallbackData: typeof body.biz_opaque_callback_data === 'string' ? body.biz_opaque_callback_data : undefined,
      template: templateName ? { name: templateName, language: String(((body.template as Json).language as Json).code) } : undefined,
      category,
      at: Date.now(),
      statuses: [],
    };
    if (fault?.async) record.failure = { code: fault.code, title: fault.title ?? metaErrorBody(fault).error.error_user_title };
    this.sendLog.push(record);
    this.sendsByWamid.set(record.wamid, record);
    this.counters.accepted++;
    void this.track(this.runStatuses(record, phone, fault?.async ? fault : undefined));
    if (fault?.drop === 'after') {
      this.counters.dropped++;
      return { status: 0, drop: true };
    }
    return ok({
      messaging_product: 'whatsapp',
      contacts: [{ input: record.to, wa_id: waId }],
      messages: [type === 'template' ? { id: record.wamid, message_status: 'accepted' } : { id: record.wamid }],
    });
  }

  /**
   * One chain per message so its statuses reach Parley in order: each waits for the previous
   * delivery (retries included) and then its own delay, as a phone's receipts would.
   */
  private async runStatuses(record: SendRecord, phone: PhoneNumber, failure?: NormalizedFault): Promise<void> {
    // Delays are fixed when the message is accepted, so changing them later affects new sends only.
    const delays = this.delays;
    const meta = { phoneNumberId: phone.id, wabaId: this.wabaIdOf(phone), displayPhoneNumber: phone.displayDigits };
    const post = async (status: StatusName, errors?: StatusErrorInput[]) => {
      const payload = buildStatusWebhook({
        ...meta,
        wamid: record.wamid,
        status,
        recipientId: record.waId,
        timestamp: unixSeconds(),
        bizOpaqueCallbackData: record.bizOpaqueCallbackData,
        category: record.category,
        errors,
      });
      const result = await this.sender.deliver(payload, 'status', { wamid: record.wamid, status });
      record.statuses.push({ status, at: Date.now(), acknowledged: result.acknowledged });
    };
    if (failure) {
      // An injected failure is the point of the test, so it is reported even with statuses off.
      if (!(await this.sleep(delays.sent ?? 0))) return;
      const spec = metaErrorBody(failure).error;
      await post('failed', [{ code: failure.code, title: spec.error_user_title, message: spec.error_user_title, details: spec.error_data.details }]);
      return;
    }
    for (const status of STATUS_ORDER) {
      const delay = delays[status];
      if (delay === null || !(await this.sleep(delay))) return;
      await post(status);
    }
  }

  private inbound(input: SimulateInboundInput): { wamid: string; done: Promise<DeliveryResult> } {
    const phone = this.phoneOf(input.phoneNumberId);
    const { bytes, ...content } = input;
    if (content.type === 'image' || content.type === 'video' || content.type === 'audio' || content.type === 'sticker' || content.type === 'document') {
      const mimeType = content.mimeType ?? defaultMimeType(content.type);
      let stored = content.mediaId && !bytes ? this.media.get(content.mediaId) : undefined;
      if (!stored) {
        const filename = content.type === 'document' ? content.filename : undefined;
        stored = storedMedia(content.mediaId ?? newNumericId(), bytes !== undefined ? toBuffer(bytes) : placeholderBytes(mimeType), mimeType, filename);
        this.media.set(stored.id, stored);
      }
      content.mediaId = stored.id;
      content.mimeType = stored.mimeType;
      content.sha256 ??= stored.sha256Base64;
    }
    const payload = buildInboundMessageWebhook({ ...content, wabaId: this.wabaIdOf(phone), displayPhoneNumber: phone.displayDigits });
    const wamid = payload.entry[0]!.changes[0]!.value.messages![0]!.id;
    return { wamid, done: this.track(this.sender.deliver(payload, 'inbound', { wamid })) };
  }

  // -------------------------------------------------------------------------------------------
  // Control endpoints (`/_sandbox/...`): for tests and benchmarks that run the sandbox out of process.

  private async onControl(req: http.IncomingMessage, res: http.ServerResponse, segments: string[], query: URLSearchParams): Promise<void> {
    const reply = (status: number, json: unknown) => {
      const text = JSON.stringify(json);
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    try {
      const raw = await readBody(req);
      const body: Json = raw.length ? (JSON.parse(raw.toString('utf8')) as Json) : {};
      const route = `${req.method} /${segments.join('/')}`;
      const limit = Number(query.get('limit')) || undefined;
      const tail = <T>(items: T[]) => (limit ? items.slice(-limit) : items);
      switch (route) {
        case 'GET /health':
          return reply(200, { ok: true, url: this.url, version: this.version });
        case 'GET /embedded-signup': {
          const page = embeddedSignupPage(query.get('origin') ?? '');
          res.writeHead(page.status, {
            'content-type': 'text/html; charset=utf-8',
            'content-length': Buffer.byteLength(page.html),
            'cache-control': 'no-store',
            'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'",
          });
          res.end(page.html);
          return;
        }
        case 'GET /requests': {
          const operation = (query.get('operation') ?? undefined) as GraphOperation | undefined;
          return reply(200, { data: tail(this.requests({ operation, path: query.get('path') ?? undefined })) });
        }
        case 'GET /sends':
          return reply(200, { data: tail(this.sends({ to: query.get('to') ?? undefined, phoneNumberId: query.get('phoneNumberId') ?? undefined })) });
        case 'GET /webhooks':
          return reply(200, { data: tail(this.webhooks()) });
        case 'GET /stats':
          return reply(200, this.stats());
        case 'GET /faults':
          return reply(200, this.getFaults());
        case 'POST /faults':
        case 'PUT /faults':
          this.setFaults(body as Faults);
          return reply(200, this.getFaults());
        case 'DELETE /faults':
          this.clearFaults();
          return reply(200, this.getFaults());
        case 'GET /config':
          return reply(200, { webhookUrl: this.sender.getUrl() ?? null, latencyMs: this.latencyMs, statusDelaysMs: this.delays });
        case 'POST /config':
          if ('webhookUrl' in body) this.setWebhookUrl((body.webhookUrl as string | null) ?? undefined);
          if (typeof body.latencyMs === 'number') this.setLatency(body.latencyMs);
          if (isObject(body.statusDelaysMs)) this.setStatusDelays(body.statusDelaysMs as StatusDelaysInput);
          return reply(200, { webhookUrl: this.sender.getUrl() ?? null, latencyMs: this.latencyMs, statusDelaysMs: this.delays });
        case 'POST /inbound': {
          const { wait, ...input } = body;
          const { wamid, done } = this.inbound(input as unknown as SimulateInboundInput);
          if (wait === false) return reply(202, { wamid });
          const result = await done;
          return reply(200, { wamid, ...result });
        }
        case 'POST /status':
          return reply(200, await this.simulateStatus(body as unknown as SimulateStatusInput));
        case 'POST /deliver':
          return reply(200, await this.deliverWebhook(body));
        case 'POST /phone-numbers':
          return reply(201, this.addPhoneNumber(body as unknown as PhoneNumberInput));
        case 'POST /templates':
          return reply(201, this.addTemplate(String(body.wabaId), body.template as TemplateInput));
        case 'POST /codes':
          this.registerCode(String(body.code), body as CodeGrant);
          return reply(201, { code: body.code });
        case 'POST /tokens':
          this.addToken(String(body.token), { wabaId: typeof body.wabaId === 'string' ? body.wabaId : undefined });
          return reply(201, { token: body.token });
        case 'POST /reset':
          this.reset();
          return reply(200, { ok: true });
        default:
          return reply(404, { error: `no control endpoint ${route}` });
      }
    } catch (err) {
      reply(400, { error: (err as Error).message });
    }
  }
}

export async function startSandboxGraph(options: SandboxGraphOptions): Promise<SandboxGraph> {
  if (!options.appSecret) throw new Error('startSandboxGraph needs appSecret: it signs the webhooks.');
  if (options.version !== undefined && !VERSION.test(options.version)) throw new Error(`version must look like v23.0, got ${options.version}`);
  const sandbox = new Sandbox(options);
  await sandbox.listen();
  return sandbox;
}
