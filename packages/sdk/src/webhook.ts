/**
 * Standard Webhooks verification (https://www.standardwebhooks.com) on Web Crypto, so it runs in
 * Node 20+, browsers, Deno and edge runtimes alike.
 */

/** Which check failed. */
export type WebhookFailure =
  /** webhook-id, webhook-timestamp or webhook-signature is absent. */
  | 'missing_headers'
  /** webhook-timestamp is not a number of seconds. */
  | 'invalid_timestamp'
  /** webhook-timestamp is further from now than the tolerance: a replay, or a wrong clock. */
  | 'timestamp_out_of_tolerance'
  /** No signature matches: the secret is not this subscription's (or the body was altered). */
  | 'signature_mismatch'
  /** The body is not the bytes that were sent: it was parsed and serialised again. */
  | 'body_reserialized'
  /** verify was handed a parsed object instead of the raw body. */
  | 'body_not_raw'
  /** The signed body is not a JSON event. */
  | 'invalid_payload';

export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';

  constructor(
    readonly reason: WebhookFailure,
    message: string,
  ) {
    super(message);
  }
}

/** What verify accepts as headers: a Fetch `Headers`, or a plain object such as Node's `req.headers`. */
export type HeadersLike = Headers | Record<string, string | string[] | undefined>;

/** The raw body, exactly as received. */
export type RawBody = string | Uint8Array | ArrayBuffer;

export interface WebhookEnvelope<T extends string = string, D = unknown> {
  id: string;
  type: T;
  createdAt: string;
  organizationId: string;
  sequence?: number | null;
  data: D;
}

export interface WebhookVerifierOptions {
  /** Largest accepted distance between webhook-timestamp and now, in seconds (default 300). */
  toleranceSeconds?: number;
  /** Milliseconds since the epoch; for tests. */
  now?: () => number;
}

const PREFIX = 'whsec_';
// Spelled through globalThis so that neither the DOM library nor Node's types are required.
type Subtle = typeof globalThis.crypto.subtle;
type CryptoKey = Awaited<ReturnType<Subtle['importKey']>>;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Verifies deliveries signed with a subscription's `whsec_` secret. Several secrets may be given
 * (while a partner moves to a rotated secret); any one signature matching any one secret passes,
 * as the platform signs with both its old and new secret for 24 hours after a rotation.
 */
export class WebhookVerifier {
  readonly #keys: Promise<CryptoKey[]>;
  readonly #toleranceSeconds: number;
  readonly #now: () => number;

  constructor(secret: string | readonly string[], options: WebhookVerifierOptions = {}) {
    const secrets = typeof secret === 'string' ? [secret] : [...secret];
    if (secrets.length === 0) throw new TypeError('WebhookVerifier needs at least one secret');
    this.#keys = Promise.all(secrets.map(importSecret));
    // A rejected import is reported by verify; this keeps it from counting as unhandled meanwhile.
    this.#keys.catch(() => undefined);
    this.#toleranceSeconds = options.toleranceSeconds ?? 300;
    this.#now = options.now ?? (() => Date.now());
  }

  /**
   * Checks the headers, the timestamp and the signature of one delivery, then answers its parsed
   * event. Throws WebhookVerificationError naming the check that failed.
   */
  async verify(body: RawBody, headers: HeadersLike): Promise<WebhookEnvelope> {
    if (!isRaw(body)) {
      throw new WebhookVerificationError(
        'body_not_raw',
        'Webhook verification needs the raw request body (string or bytes), but was handed a parsed object. A JSON body parser ran first: keep the raw body for this route (for example express.raw({ type: "application/json" })).',
      );
    }
    const id = header(headers, 'webhook-id');
    const timestamp = header(headers, 'webhook-timestamp');
    const signature = header(headers, 'webhook-signature');
    const missing = [!id && 'webhook-id', !timestamp && 'webhook-timestamp', !signature && 'webhook-signature'].filter(Boolean);
    if (missing.length > 0 || !id || !timestamp || !signature) {
      throw new WebhookVerificationError('missing_headers', `Missing webhook header(s): ${missing.join(', ')}. Is this request a Parley delivery, and do proxies pass these headers on?`);
    }
    if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError('invalid_timestamp', `webhook-timestamp "${timestamp}" is not a number of seconds since the epoch.`);
    const skew = Math.floor(this.#now() / 1000) - Number(timestamp);
    if (Math.abs(skew) > this.#toleranceSeconds) {
      throw new WebhookVerificationError(
        'timestamp_out_of_tolerance',
        `webhook-timestamp is ${Math.abs(skew)} s ${skew > 0 ? 'in the past' : 'in the future'}, beyond the tolerance of ${this.#toleranceSeconds} s: a replayed delivery, or this machine's clock is wrong.`,
      );
    }

    const bytes = toBytes(body);
    const keys = await this.#keys;
    const candidates = parseSignatures(signature);
    if (!(await matchesAny(keys, `${id}.${timestamp}.`, bytes, candidates))) {
      throw await this.#explainMismatch(keys, id, timestamp, bytes, candidates);
    }
    let event: unknown;
    try {
      event = JSON.parse(decoder.decode(bytes));
    } catch {
      throw new WebhookVerificationError('invalid_payload', 'The signature is valid but the body is not JSON.');
    }
    if (!isEnvelope(event)) throw new WebhookVerificationError('invalid_payload', 'The signature is valid but the body is not a webhook event ({id, type, createdAt, organizationId, data}).');
    return event;
  }

  /** A mismatch is the wrong secret unless the body shows signs of having been serialised again. */
  async #explainMismatch(keys: CryptoKey[], id: string, timestamp: string, bytes: Uint8Array, candidates: Uint8Array[]): Promise<WebhookVerificationError> {
    const text = decoder.decode(bytes);
    let compact: string | undefined;
    try {
      compact = JSON.stringify(JSON.parse(text));
    } catch {
      compact = undefined;
    }
    if (compact !== undefined && compact !== text) {
      const signedCompact = await matchesAny(keys, `${id}.${timestamp}.`, encoder.encode(compact), candidates);
      return new WebhookVerificationError(
        'body_reserialized',
        signedCompact
          ? 'The signature matches the event in its original form but not the body you passed: the body was parsed and serialised again (reformatted) before verification. Verify the raw request body.'
          : 'No signature matches, and the body is not in the form the platform sends (compact JSON): it was probably parsed and serialised again before verification. Verify the raw request body; if you do, check the secret.',
      );
    }
    return new WebhookVerificationError(
      'signature_mismatch',
      `No webhook-signature matches${keys.length > 1 ? ' any of the secrets' : ' the secret'}: check that it is this subscription's whsec_ secret (after a rotation, the new one), and that the body reaches verify byte for byte as received (no JSON parser, no re-encoding).`,
    );
  }
}

/** Verifies one delivery; see WebhookVerifier for reusing the imported secret. */
export function verifyWebhook(secret: string | readonly string[], body: RawBody, headers: HeadersLike, options?: WebhookVerifierOptions): Promise<WebhookEnvelope> {
  return new WebhookVerifier(secret, options).verify(body, headers);
}

/**
 * The webhook-signature value (`v1,<base64>`) the platform sends for this delivery; handy to test
 * a receiver.
 */
export async function signWebhook(secret: string, id: string, timestamp: number | string, body: RawBody): Promise<string> {
  const key = await importSecret(secret);
  const mac = await hmac(key, `${id}.${timestamp}.`, toBytes(body));
  return `v1,${toBase64(mac)}`;
}

async function importSecret(secret: string): Promise<CryptoKey> {
  const encoded = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret;
  let raw: Uint8Array<ArrayBuffer>;
  try {
    raw = fromBase64(encoded);
  } catch {
    throw new TypeError('The webhook secret is not a whsec_ secret (base64 after the prefix).');
  }
  return subtle().importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

async function hmac(key: CryptoKey, prefix: string, body: Uint8Array): Promise<Uint8Array> {
  const head = encoder.encode(prefix);
  const message = new Uint8Array(head.length + body.length);
  message.set(head, 0);
  message.set(body, head.length);
  return new Uint8Array(await subtle().sign('HMAC', key, message));
}

async function matchesAny(keys: CryptoKey[], prefix: string, body: Uint8Array, candidates: Uint8Array[]): Promise<boolean> {
  let matched = false;
  for (const key of keys) {
    const expected = await hmac(key, prefix, body);
    // Every candidate is compared in full, so timing does not tell which one came close.
    for (const candidate of candidates) matched = constantTimeEqual(expected, candidate) || matched;
  }
  return matched;
}

/** `v1,<base64>` entries separated by spaces; other versions are skipped, as the spec says. */
function parseSignatures(value: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const part of value.split(' ')) {
    const [version, sig] = part.split(',', 2);
    if (version !== 'v1' || !sig) continue;
    try {
      out.push(fromBase64(sig));
    } catch {
      // A malformed entry cannot match; the others may.
    }
  }
  return out;
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ (b[i % Math.max(b.length, 1)] ?? 0);
  return diff === 0;
}

function header(headers: HeadersLike, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  let value = record[name];
  if (value === undefined) {
    const key = Object.keys(record).find((k) => k.toLowerCase() === name);
    value = key === undefined ? undefined : record[key];
  }
  return Array.isArray(value) ? value.join(' ') : value || undefined;
}

function isRaw(body: unknown): body is RawBody {
  return typeof body === 'string' || body instanceof Uint8Array || body instanceof ArrayBuffer;
}

function toBytes(body: RawBody): Uint8Array {
  if (typeof body === 'string') return encoder.encode(body);
  return body instanceof Uint8Array ? body : new Uint8Array(body);
}

function isEnvelope(value: unknown): value is WebhookEnvelope {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.id === 'string' && typeof v.type === 'string' && 'data' in v;
}

function subtle(): Subtle {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error('Web Crypto (globalThis.crypto.subtle) is not available; Node 20+, browsers and edge runtimes have it.');
  return s;
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function fromBase64(value: string): Uint8Array<ArrayBuffer> {
  const binary = atob(value);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
