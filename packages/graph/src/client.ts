import type { Logger } from '@parley/core';
import { GraphError, NO_META_CODE, type GraphErrorClassification, type LocalGraphErrorType } from './errors';
import { HttpAgents, type HttpAnswer, HttpBodyTooLarge, HttpTransportError } from './http';
import type {
  DownloadedMedia,
  DownloadMediaOptions,
  ListTemplatesOptions,
  MediaInfo,
  PhoneNumber,
  SendMessagePayload,
  SendMessageResult,
  Template,
  TemplatePage,
} from './types';

export interface GraphClientOptions {
  /** e.g. `https://graph.facebook.com`, or the sandbox's URL; no trailing slash needed. */
  baseUrl: string;
  /** e.g. `v23.0`. */
  version: string;
  appId: string;
  appSecret: string;
  /** Per Graph API request, connection to last body byte. Default 10 s. */
  timeoutMs?: number;
  /** Per media download; files are up to 100 MB, so this is longer than `timeoutMs`. Default 60 s. */
  mediaTimeoutMs?: number;
  /** Downloads larger than this fail with `MediaTooLarge`. Default 100 MiB. */
  maxMediaBytes?: number;
  /**
   * Origins (e.g. `http://127.0.0.1:4010`) besides `baseUrl`'s and Meta's CDN hosts that
   * `downloadMedia` may send the business token to.
   */
  mediaOrigins?: string[];
  logger?: Logger;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MEDIA_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_MEDIA_BYTES = 100 * 1024 * 1024;
const DEFAULT_TEMPLATE_PAGE_SIZE = 100;
const MAX_MEDIA_REDIRECTS = 3;

const PHONE_NUMBER_FIELDS = 'display_phone_number,verified_name,quality_rating,code_verification_status,platform_type,throughput';
const TEMPLATE_FIELDS = 'name,language,status,category,components,id';

/** Query parameters that carry credentials; their values never reach a log line or an error. */
const SECRET_QUERY_KEYS = new Set(['client_id', 'client_secret', 'code', 'access_token', 'input_token', 'fb_exchange_token']);

/** Meta's media URLs live on its CDN, not on graph.facebook.com. */
const META_MEDIA_HOST_SUFFIXES = ['.fbsbx.com', '.fbcdn.net', '.whatsapp.net', '.facebook.com'];

/** Meta business and user tokens all start like this; scrubbed even when we did not send them. */
const META_TOKEN_PATTERN = /EAA[A-Za-z0-9]{20,}/g;

/** Printable ASCII without spaces: anything else is no token, and would not survive as a header value. */
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

type Json = Record<string, unknown>;

interface RequestSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path below the version, starting with `/`; dynamic segments already encoded. */
  path: string;
  token?: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** A body already encoded (a multipart upload), sent as it is instead of `body` as JSON. */
  encoded?: { contentType: string; bytes: Buffer };
  /** Overrides the client's timeout (an upload of megabytes takes longer than a JSON call). */
  timeoutMs?: number;
  /** Values besides the token and app secret to scrub (e.g. the one-time signup code). */
  secrets?: string[];
}

interface ErrorContext {
  endpoint: string;
  secrets: readonly string[];
}

export class GraphClient {
  private readonly baseUrl: string;
  private readonly version: string;
  private readonly appId: string;
  private readonly appSecret: string;
  private readonly timeoutMs: number;
  private readonly mediaTimeoutMs: number;
  private readonly maxMediaBytes: number;
  private readonly mediaOrigins: ReadonlySet<string>;
  private readonly logger: Logger | undefined;
  private readonly http = new HttpAgents();

  constructor(options: GraphClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.version = options.version.replace(/^\/+|\/+$/g, '');
    this.appId = options.appId;
    this.appSecret = options.appSecret;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.mediaTimeoutMs = options.mediaTimeoutMs ?? DEFAULT_MEDIA_TIMEOUT_MS;
    this.maxMediaBytes = options.maxMediaBytes ?? DEFAULT_MAX_MEDIA_BYTES;
    this.mediaOrigins = new Set([new URL(this.baseUrl).origin, ...(options.mediaOrigins ?? []).map((o) => new URL(o).origin)]);
    // Used as given: callers bind their own `component`, and pino would repeat a rebound key.
    this.logger = options.logger;
  }

  /** Embedded signup: trades the one-time `code` from Meta's popup for a business token. */
  async exchangeCode(code: string): Promise<{ accessToken: string; tokenType?: string; expiresIn?: number }> {
    if (!code) throw invalidRequest('The signup code is empty.');
    const res = await this.request({
      method: 'GET',
      path: '/oauth/access_token',
      // Meta accepts these only as query parameters; they are redacted from logs and errors.
      query: { client_id: this.appId, client_secret: this.appSecret, code },
      secrets: [code],
    });
    const accessToken = res.access_token;
    if (typeof accessToken !== 'string' || !accessToken) throw invalidResponse('GET /oauth/access_token', 'no access_token');
    return {
      accessToken,
      ...(typeof res.token_type === 'string' ? { tokenType: res.token_type } : {}),
      ...(typeof res.expires_in === 'number' ? { expiresIn: res.expires_in } : {}),
    };
  }

  async getPhoneNumber(token: string, phoneNumberId: string): Promise<PhoneNumber> {
    const res = await this.request({
      method: 'GET',
      path: `/${segment(phoneNumberId, 'phone number id')}`,
      token,
      query: { fields: PHONE_NUMBER_FIELDS },
    });
    if (typeof res.id !== 'string') throw invalidResponse('GET phone number', 'no id');
    const throughput = res.throughput as { level?: unknown } | undefined;
    return {
      id: res.id,
      displayPhoneNumber: str(res.display_phone_number) ?? '',
      verifiedName: str(res.verified_name) ?? '',
      ...opt('qualityRating', str(res.quality_rating)),
      ...opt('codeVerificationStatus', str(res.code_verification_status)),
      ...opt('platformType', str(res.platform_type)),
      ...opt('throughputLevel', str(throughput?.level)),
    };
  }

  /** Subscribes this app to the WABA's webhooks. */
  async subscribeApp(token: string, wabaId: string): Promise<{ success: true }> {
    const res = await this.request({ method: 'POST', path: `/${segment(wabaId, 'WABA id')}/subscribed_apps`, token });
    return expectSuccess(res, 'POST subscribed_apps');
  }

  /** Registers the number for Cloud API use; `pin` is the 6-digit two-step verification PIN. */
  async registerNumber(token: string, phoneNumberId: string, pin: string): Promise<{ success: true }> {
    const res = await this.request({
      method: 'POST',
      path: `/${segment(phoneNumberId, 'phone number id')}/register`,
      token,
      body: { messaging_product: 'whatsapp', pin },
      secrets: [pin],
    });
    return expectSuccess(res, 'POST register');
  }

  async listTemplates(token: string, wabaId: string, options: ListTemplatesOptions = {}): Promise<TemplatePage> {
    const res = await this.request({
      method: 'GET',
      path: `/${segment(wabaId, 'WABA id')}/message_templates`,
      token,
      query: { fields: TEMPLATE_FIELDS, limit: options.limit ?? DEFAULT_TEMPLATE_PAGE_SIZE, after: options.after },
    });
    if (!Array.isArray(res.data)) throw invalidResponse('GET message_templates', 'no data array');
    const paging = res.paging as { next?: unknown; cursors?: { after?: unknown } } | undefined;
    // Meta sends an `after` cursor on the last page too; only `next` says there is more.
    const after = paging?.next ? str(paging.cursors?.after) : undefined;
    return { data: res.data as Template[], ...opt('after', after) };
  }

  /** Every template of the WABA, following Meta's cursors to the end. */
  async listAllTemplates(token: string, wabaId: string, options: { pageSize?: number } = {}): Promise<Template[]> {
    const all: Template[] = [];
    const seen = new Set<string>();
    let after: string | undefined;
    do {
      const page = await this.listTemplates(token, wabaId, { after, ...opt('limit', options.pageSize) });
      all.push(...page.data);
      after = page.after;
      // A cursor coming round again would loop forever; fail rather than sync a partial list.
      if (after !== undefined) {
        if (seen.has(after)) throw invalidResponse('GET message_templates', 'a paging cursor repeated');
        seen.add(after);
      }
    } while (after !== undefined);
    return all;
  }

  /**
   * Sends any message kind. Meta has no idempotency key: a `TimeoutError` (or a network error once
   * the request was written) leaves it unknown whether the message went out.
   */
  async sendMessage(token: string, phoneNumberId: string, payload: SendMessagePayload): Promise<SendMessageResult> {
    const res = await this.request({
      method: 'POST',
      path: `/${segment(phoneNumberId, 'phone number id')}/messages`,
      token,
      body: { messaging_product: 'whatsapp', recipient_type: 'individual', ...payload },
    });
    const message = (Array.isArray(res.messages) ? res.messages[0] : undefined) as Json | undefined;
    const wamid = str(message?.id);
    if (!wamid) throw invalidResponse('POST messages', 'no message id');
    const contact = (Array.isArray(res.contacts) ? res.contacts[0] : undefined) as Json | undefined;
    return { wamid, ...opt('contactWaId', str(contact?.wa_id)), ...opt('messageStatus', str(message?.message_status)) };
  }

  /**
   * Uploads a file to the number's media store (`POST /{phone-number-id}/media`, multipart): the
   * id it answers can be sent as an image, audio, video, document or sticker for 30 days.
   */
  async uploadMedia(token: string, phoneNumberId: string, file: { bytes: Buffer; mimeType: string; filename?: string | undefined }): Promise<{ id: string }> {
    const form = new FormData();
    form.set('messaging_product', 'whatsapp');
    form.set('type', file.mimeType);
    form.set('file', new Blob([file.bytes], { type: file.mimeType }), file.filename ?? 'file');
    // The platform's own multipart encoder (undici's), rather than boundaries written by hand.
    const encoded = new Response(form);
    const res = await this.request({
      method: 'POST',
      path: `/${segment(phoneNumberId, 'phone number id')}/media`,
      token,
      encoded: { contentType: encoded.headers.get('content-type')!, bytes: Buffer.from(await encoded.arrayBuffer()) },
      timeoutMs: this.mediaTimeoutMs,
    });
    const id = str(res.id);
    if (!id) throw invalidResponse('POST media', 'no media id');
    return { id };
  }

  async getMedia(token: string, mediaId: string): Promise<MediaInfo> {
    const res = await this.request({ method: 'GET', path: `/${segment(mediaId, 'media id')}`, token });
    const url = str(res.url);
    if (!url) throw invalidResponse('GET media', 'no url');
    return {
      id: str(res.id) ?? mediaId,
      url,
      mimeType: str(res.mime_type) ?? 'application/octet-stream',
      sha256: str(res.sha256) ?? '',
      // Meta has sent this both as a number and as a numeric string.
      fileSize: Number(res.file_size ?? 0) || 0,
    };
  }

  /**
   * Fetches a media URL from `getMedia` with the business token. The token is only sent to
   * `baseUrl`'s origin, Meta's CDN hosts (https) and `mediaOrigins`, so a forged URL cannot
   * collect it.
   */
  async downloadMedia(token: string, url: string, options: DownloadMediaOptions = {}): Promise<DownloadedMedia> {
    assertToken(token);
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      throw invalidRequest('The media URL is not a valid URL.');
    }
    if (!this.mayReceiveToken(target)) {
      throw invalidRequest(`Refusing to send the business token to ${target.origin}, which is not a Meta media host.`);
    }
    const maxBytes = options.maxBytes ?? this.maxMediaBytes;
    const timeoutMs = options.timeoutMs ?? this.mediaTimeoutMs;
    // The query of a CDN URL is a signed grant, so only origin and path are shown.
    const ctx: ErrorContext = { endpoint: `GET ${target.origin}${target.pathname}`, secrets: this.secrets(token) };
    const started = performance.now();
    try {
      let res: HttpAnswer;
      // Redirects are followed by hand so each hop is checked before the token goes with it.
      for (let hops = 0; ; hops++) {
        res = await this.http.exchange({
          method: 'GET',
          url: target,
          headers: { authorization: `Bearer ${token}`, 'user-agent': USER_AGENT },
          timeoutMs: Math.max(1, timeoutMs - (performance.now() - started)),
          maxBytes,
        });
        const location = res.status >= 300 && res.status < 400 ? header(res, 'location') : undefined;
        if (!location) break;
        if (hops >= MAX_MEDIA_REDIRECTS) throw localError('InvalidResponse', ctx, res.status, `Media at ${ctx.endpoint} redirects too often.`);
        target = new URL(location, target);
        if (!this.mayReceiveToken(target)) {
          throw invalidRequest(`Refusing to follow a media redirect to ${target.origin}, which is not a Meta media host.`);
        }
      }
      if (res.status < 200 || res.status >= 300) throw errorFromResponse(res, ctx);
      const contentType = header(res, 'content-type') ?? 'application/octet-stream';
      this.logger?.debug(
        { graph: { endpoint: ctx.endpoint, status: res.status, bytes: res.body.length, durationMs: elapsed(started) } },
        'graph media downloaded',
      );
      return { body: res.body, contentType };
    } catch (err) {
      if (err instanceof HttpBodyTooLarge) throw this.fail(tooLarge(ctx, maxBytes), ctx, started, timeoutMs);
      throw this.fail(err, ctx, started, timeoutMs);
    }
  }

  private mayReceiveToken(url: URL): boolean {
    if (this.mediaOrigins.has(url.origin)) return true;
    return url.protocol === 'https:' && META_MEDIA_HOST_SUFFIXES.some((suffix) => `.${url.hostname}`.endsWith(suffix));
  }

  private secrets(token?: string, extra: string[] = []): string[] {
    return [this.appSecret, ...(token ? [token] : []), ...extra];
  }

  private async request(spec: RequestSpec): Promise<Json> {
    if (spec.token !== undefined) assertToken(spec.token);
    const url = new URL(`${this.baseUrl}/${this.version}${spec.path}`);
    for (const [key, value] of Object.entries(spec.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const ctx: ErrorContext = {
      endpoint: `${spec.method} ${url.pathname}${redactedQuery(url.searchParams)}`,
      secrets: this.secrets(spec.token, spec.secrets),
    };
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': USER_AGENT };
    if (spec.token !== undefined) headers.authorization = `Bearer ${spec.token}`;
    if (spec.encoded) headers['content-type'] = spec.encoded.contentType;
    else if (spec.body !== undefined) headers['content-type'] = 'application/json';
    const timeoutMs = spec.timeoutMs ?? this.timeoutMs;

    const started = performance.now();
    try {
      const res = await this.http.exchange({
        method: spec.method,
        url,
        headers,
        ...(spec.encoded ? { body: spec.encoded.bytes } : spec.body !== undefined ? { body: JSON.stringify(spec.body) } : {}),
        timeoutMs,
      });
      // Graph API calls never legitimately redirect, and following one could carry the token away.
      if (res.status < 200 || res.status >= 300) throw errorFromResponse(res, ctx);
      let parsed: unknown;
      try {
        parsed = JSON.parse(res.body.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw localError('InvalidResponse', ctx, res.status, `Graph API answered ${ctx.endpoint} with a body that is not a JSON object.`);
      }
      if (this.logger?.isLevelEnabled('debug')) {
        this.logger.debug({ graph: { endpoint: ctx.endpoint, status: res.status, durationMs: elapsed(started), fbtraceId: traceId(res) } }, 'graph request');
      }
      return parsed as Json;
    } catch (err) {
      throw this.fail(err, ctx, started, timeoutMs);
    }
  }

  /** Turns anything thrown during a request into a logged GraphError. */
  private fail(err: unknown, ctx: ErrorContext, started: number, timeoutMs: number): GraphError {
    const error = err instanceof GraphError ? err : transportError(err, ctx, timeoutMs);
    this.logger?.warn(
      {
        graph: {
          endpoint: ctx.endpoint,
          status: error.status,
          code: error.code,
          subcode: error.subcode,
          type: error.type,
          classification: error.classification,
          fbtraceId: error.fbtraceId,
          durationMs: elapsed(started),
        },
      },
      `graph request failed: ${error.message}`,
    );
    return error;
  }
}

const USER_AGENT = 'parley-graph/0.1';

function assertToken(token: string): void {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
    throw invalidRequest('The business token is missing or malformed.');
  }
}

/** Ids go into the path, so one holding `/` or `?` must not reach another endpoint. */
function segment(id: string, what: string): string {
  if (typeof id !== 'string' || !id) throw invalidRequest(`The ${what} is empty.`);
  return encodeURIComponent(id);
}

function redactedQuery(params: URLSearchParams): string {
  const parts: string[] = [];
  for (const [key, value] of params) {
    parts.push(`${encodeURIComponent(key)}=${SECRET_QUERY_KEYS.has(key) ? '[redacted]' : encodeURIComponent(value)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Defence in depth: Meta's text or a transport error could echo a credential back at us. */
function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    // Very short values (a 6-digit PIN) are still scrubbed: they are secrets however short.
    if (!secret) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('[redacted]');
  }
  return out.replace(META_TOKEN_PATTERN, '[redacted]');
}

function errorFromResponse(res: HttpAnswer, ctx: ErrorContext): GraphError {
  let body: unknown;
  try {
    body = JSON.parse(res.body.toString('utf8'));
  } catch {
    body = undefined;
  }
  const meta = (body && typeof body === 'object' ? (body as Json).error : undefined) as Json | undefined;
  if (!meta || typeof meta !== 'object') {
    return localError('HttpError', ctx, res.status, `Graph API answered ${ctx.endpoint} with HTTP ${res.status}.`, traceId(res));
  }
  const message = scrub(str(meta.message) || `Graph API answered HTTP ${res.status}.`, ctx.secrets);
  const errorData = meta.error_data as Json | undefined;
  const userTitle = str(meta.error_user_title);
  const userMessage = str(meta.error_user_msg);
  const details = str(errorData?.details);
  return new GraphError({
    status: res.status,
    code: typeof meta.code === 'number' ? meta.code : NO_META_CODE,
    subcode: typeof meta.error_subcode === 'number' ? meta.error_subcode : undefined,
    message,
    title: userTitle ? scrub(userTitle, ctx.secrets) : message,
    userMessage: userMessage ? scrub(userMessage, ctx.secrets) : undefined,
    details: details ? scrub(details, ctx.secrets) : undefined,
    fbtraceId: str(meta.fbtrace_id) ?? traceId(res),
    type: str(meta.type),
    endpoint: ctx.endpoint,
  });
}

function transportError(err: unknown, ctx: ErrorContext, timeoutMs: number): GraphError {
  if (err instanceof HttpTransportError && err.kind === 'timeout') {
    return localError('TimeoutError', ctx, 0, `Graph API request ${ctx.endpoint} timed out after ${timeoutMs} ms.`);
  }
  const reason = [err instanceof HttpTransportError ? err.code : undefined, err instanceof Error ? err.message : String(err)].filter(Boolean).join(': ');
  return new GraphError({
    status: 0,
    code: NO_META_CODE,
    type: 'NetworkError',
    message: `Graph API request ${ctx.endpoint} failed: ${scrub(reason, ctx.secrets)}`,
    endpoint: ctx.endpoint,
    requestSent: err instanceof HttpTransportError && err.requestSent,
  });
}

function localError(
  type: LocalGraphErrorType,
  ctx: ErrorContext | undefined,
  status: number,
  message: string,
  fbtraceId?: string,
  classification?: GraphErrorClassification,
): GraphError {
  return new GraphError({ status, code: NO_META_CODE, type, message, endpoint: ctx?.endpoint, fbtraceId, classification });
}

function invalidRequest(message: string): GraphError {
  return localError('InvalidRequest', undefined, 0, message, undefined, 'permanent');
}

/** A 2xx whose body lacks what Meta documents. Permanent: on a send, a retry could duplicate it. */
function invalidResponse(endpoint: string, what: string): GraphError {
  return new GraphError({
    status: 200,
    code: NO_META_CODE,
    type: 'InvalidResponse',
    message: `Graph API answered ${endpoint} unexpectedly: ${what}.`,
    endpoint,
    classification: 'permanent',
  });
}

function tooLarge(ctx: ErrorContext, maxBytes: number): GraphError {
  return localError('MediaTooLarge', ctx, 200, `Media at ${ctx.endpoint} exceeds ${maxBytes} bytes.`, undefined, 'permanent');
}

function expectSuccess(res: Json, endpoint: string): { success: true } {
  if (res.success !== true) throw invalidResponse(endpoint, 'success is not true');
  return { success: true };
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Spreads `{ [key]: value }` only when there is a value, so results carry no `key: undefined`. */
function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function header(res: HttpAnswer, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function traceId(res: HttpAnswer): string | undefined {
  return header(res, 'x-fb-trace-id');
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
