import type { EventRouter } from './router.js';
import { type HeadersLike, type RawBody, type WebhookEnvelope, WebhookVerificationError, WebhookVerifier } from './webhook.js';

/**
 * Receivers for node:http, Express and Koa. They take the request and response structurally
 * (no import of either framework), keep the raw body, verify it, dispatch it and answer:
 * 200 when every handler succeeded, 401 with the failed check when verification fails, 500 when
 * a handler threw (the platform then delivers again). They also answer the platform's
 * verification challenge (`GET url?challenge=C`), which comes before the secret exists.
 */
export interface WebhookReceiverOptions {
  /**
   * The subscription's `whsec_` secret(s), or a function answering them when a delivery arrives
   * (the secret is known only once `POST /v1/webhooks` has answered, after the challenge).
   */
  secret?: string | readonly string[] | (() => string | readonly string[] | undefined | Promise<string | readonly string[] | undefined>);
  verifier?: WebhookVerifier;
  router: EventRouter;
  /** Largest body read, in bytes (default 1 MiB); larger deliveries get 413. */
  maxBodyBytes?: number;
  /** Told about verification failures and handler errors, e.g. to log them. */
  onError?: (error: unknown, event?: WebhookEnvelope) => void;
}

export interface WebhookAnswer {
  status: number;
  body: { ok: true; handled: number } | { error: string; message: string };
}

/** Verifies and dispatches one delivery; the framework-free core of the adapters. */
export async function receiveWebhook(options: WebhookReceiverOptions, body: RawBody | unknown, headers: HeadersLike): Promise<WebhookAnswer> {
  const verifier = await verifierOf(options);
  if (!verifier) return { status: 503, body: { error: 'not_configured', message: 'This receiver has no webhook secret yet; deliver again later.' } };
  let event: WebhookEnvelope;
  try {
    event = await verifier.verify(body as RawBody, headers);
  } catch (err) {
    options.onError?.(err);
    if (err instanceof WebhookVerificationError) {
      return { status: err.reason === 'invalid_payload' ? 400 : 401, body: { error: err.reason, message: err.message } };
    }
    return { status: 500, body: { error: 'verification_error', message: 'The webhook could not be verified.' } };
  }
  try {
    const handled = await options.router.dispatch(event);
    return { status: 200, body: { ok: true, handled } };
  } catch (err) {
    options.onError?.(err, event);
    // The handler's message stays in the receiver's logs; the platform only needs to retry.
    return { status: 500, body: { error: 'handler_failed', message: 'A handler failed; deliver again.' } };
  }
}

const verifiers = new WeakMap<WebhookReceiverOptions, { key: string; verifier: WebhookVerifier }>();
async function verifierOf(options: WebhookReceiverOptions): Promise<WebhookVerifier | undefined> {
  if (options.verifier) return options.verifier;
  if (options.secret === undefined) throw new TypeError('A webhook receiver needs `secret` or `verifier`');
  const secret = typeof options.secret === 'function' ? await options.secret() : options.secret;
  if (secret === undefined || secret.length === 0) return undefined;
  // Imported once per secret (or set of secrets), not per delivery.
  const key = typeof secret === 'string' ? secret : secret.join(' ');
  const cached = verifiers.get(options);
  if (cached?.key === key) return cached.verifier;
  const verifier = new WebhookVerifier(secret);
  verifiers.set(options, { key, verifier });
  return verifier;
}

/**
 * The answer to the platform's `GET url?challenge=C` before it activates a subscription: C as
 * text. Only a plain token is echoed, so the endpoint cannot be used to reflect markup.
 */
export function challengeAnswer(method: string | undefined, url: string | undefined): WebhookAnswer | { status: number; text: string } | undefined {
  if (method === 'POST') return undefined;
  const challenge = method === 'GET' || method === 'HEAD' ? new URL(url ?? '/', 'http://receiver.invalid').searchParams.get('challenge') : null;
  if (challenge !== null && /^[A-Za-z0-9._~-]{1,256}$/.test(challenge)) return { status: 200, text: challenge };
  return { status: 405, body: { error: 'method_not_allowed', message: 'Webhook deliveries are POSTed; GET answers only the verification challenge.' } };
}

/** What the adapters need of an incoming request: its headers and its body stream. */
export interface IncomingLike extends AsyncIterable<Uint8Array | string> {
  method?: string | undefined;
  url?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  /** Set by body parsers (Express, Koa); a parsed object here means the raw body is gone. */
  body?: unknown;
  /** Where some body parsers keep the raw body. */
  rawBody?: unknown;
}

export interface OutgoingLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

class TooLarge extends Error {}

async function readBody(stream: AsyncIterable<Uint8Array | string>, max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
    size += bytes.length;
    if (size > max) throw new TooLarge();
    chunks.push(bytes);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * The raw body: bytes or text a parser kept (express.raw, express.text, a `rawBody` field), else
 * the unread stream. A parsed object with no raw copy is passed on as is, so that verification
 * reports `body_not_raw`.
 */
async function rawBodyOf(req: IncomingLike, parsed: unknown, rawBody: unknown, max: number): Promise<unknown> {
  if (typeof rawBody === 'string' || rawBody instanceof Uint8Array) return rawBody;
  if (typeof parsed === 'string' || parsed instanceof Uint8Array) return parsed;
  if (parsed !== undefined && parsed !== null) return parsed;
  return readBody(req, max);
}

function send(res: OutgoingLike, answer: WebhookAnswer | { status: number; text: string }): void {
  res.statusCode = answer.status;
  if ('text' in answer) {
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end(answer.text);
    return;
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(answer.body));
}

async function answerFor(options: WebhookReceiverOptions, read: () => Promise<unknown>, headers: HeadersLike): Promise<WebhookAnswer> {
  let body: unknown;
  try {
    body = await read();
  } catch (err) {
    if (err instanceof TooLarge) return { status: 413, body: { error: 'payload_too_large', message: `The body exceeds ${options.maxBodyBytes ?? DEFAULT_MAX} bytes.` } };
    throw err;
  }
  return receiveWebhook(options, body, headers);
}

const DEFAULT_MAX = 1024 * 1024;

/** A `node:http` request listener: `createServer(nodeWebhookHandler({ secret, router }))`. */
export function nodeWebhookHandler(options: WebhookReceiverOptions): (req: IncomingLike, res: OutgoingLike) => Promise<void> {
  const max = options.maxBodyBytes ?? DEFAULT_MAX;
  return async (req, res) => {
    send(res, challengeAnswer(req.method, req.url) ?? (await answerFor(options, () => readBody(req, max), req.headers)));
  };
}

/**
 * Express middleware: `app.use('/parley', expressWebhook({ secret, router }))` (`use` or `all`,
 * so that the GET challenge reaches it too). Mount it without express.json() before it on this
 * path (express.raw() is fine): a parsed body cannot be verified.
 */
export function expressWebhook(options: WebhookReceiverOptions): (req: IncomingLike, res: OutgoingLike, next: (err?: unknown) => void) => Promise<void> {
  const max = options.maxBodyBytes ?? DEFAULT_MAX;
  return async (req, res, next) => {
    try {
      send(res, challengeAnswer(req.method, req.url) ?? (await answerFor(options, () => rawBodyOf(req, req.body, req.rawBody, max), req.headers)));
    } catch (err) {
      next(err);
    }
  };
}

/** What the Koa adapter needs of a context. */
export interface KoaContextLike {
  req: IncomingLike;
  request: { body?: unknown; rawBody?: unknown; headers: Record<string, string | string[] | undefined> };
  status: number;
  body: unknown;
  type: string;
}

/**
 * Koa middleware: `router.all('/parley', koaWebhook({ secret, router }))`. Works with or without
 * a body parser before it when the parser keeps `ctx.request.rawBody` (koa-bodyparser does).
 */
export function koaWebhook(options: WebhookReceiverOptions): (ctx: KoaContextLike, next: () => Promise<unknown>) => Promise<void> {
  const max = options.maxBodyBytes ?? DEFAULT_MAX;
  return async (ctx) => {
    const challenge = challengeAnswer(ctx.req.method, ctx.req.url);
    if (challenge) {
      ctx.status = challenge.status;
      if ('text' in challenge) {
        ctx.type = 'text/plain';
        ctx.body = challenge.text;
      } else {
        ctx.type = 'application/json';
        ctx.body = challenge.body;
      }
      return;
    }
    const answer = await answerFor(options, () => rawBodyOf(ctx.req, ctx.request.body, ctx.request.rawBody, max), ctx.request.headers);
    ctx.status = answer.status;
    ctx.type = 'application/json';
    ctx.body = answer.body;
  };
}

/**
 * A Fetch API handler for edge runtimes, Deno, Bun and route handlers that take a `Request`:
 * `export default { fetch: fetchWebhookHandler({ secret, router }) }`.
 */
export function fetchWebhookHandler(options: WebhookReceiverOptions): (request: Request) => Promise<Response> {
  const max = options.maxBodyBytes ?? DEFAULT_MAX;
  return async (request) => {
    const answer =
      challengeAnswer(request.method, request.url) ??
      (await answerFor(options, () => (request.body ? readBody(streamChunks(request.body), max) : Promise.resolve(new Uint8Array())), request.headers));
    if ('text' in answer) return new Response(answer.text, { status: answer.status, headers: { 'content-type': 'text/plain; charset=utf-8' } });
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { 'content-type': 'application/json' } });
  };
}

async function* streamChunks(stream: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
