import {
  createCipheriv,
  createDecipheriv,
  createHash,
  randomBytes,
  scrypt as scryptCb,
  timingSafeEqual,
  type ScryptOptions,
} from 'node:crypto';
import { RetryLaterError } from './errors';

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

const SCRYPT_R = 8;
const SCRYPT_P = 1;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** A stored hash that claims more than this is refused, so a planted row cannot exhaust memory. */
const MAX_LOG_N = 20;

interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

/** scrypt needs 128·N·r bytes; Node refuses a run whose need reaches `maxmem`. */
const scryptOptions = (cost: ScryptCost): ScryptOptions => ({ ...cost, maxmem: 128 * cost.N * cost.r + 1024 * 1024 });

function parseHash(stored: string): { cost: ScryptCost; salt: Buffer; key: Buffer } | undefined {
  const [alg, n, r, p, salt, key, ...rest] = stored.split('$');
  if (alg !== 'scrypt' || !n || !r || !p || !salt || !key || rest.length) return undefined;
  const cost = { N: Number(n), r: Number(r), p: Number(p) };
  const powerOfTwo = Number.isInteger(cost.N) && cost.N >= 2 && (cost.N & (cost.N - 1)) === 0;
  if (!powerOfTwo || cost.N > 2 ** MAX_LOG_N || !Number.isInteger(cost.r) || cost.r < 1 || cost.r > 32) return undefined;
  if (!Number.isInteger(cost.p) || cost.p < 1 || cost.p > 16) return undefined;
  const parsed = { cost, salt: Buffer.from(salt, 'base64'), key: Buffer.from(key, 'base64') };
  return parsed.key.length >= 16 && parsed.salt.length >= 8 ? parsed : undefined;
}

/**
 * Bounds how many password hashes run at once in this process: each takes 128 MiB at OWASP's
 * cost, so a burst of logins must queue, and past a short wait be told to come back.
 */
class HashGate {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(
    slots: number,
    private readonly maxWaitMs: number,
  ) {
    this.free = slots;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }

  private acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(grant), 1);
        reject(new RetryLaterError(503, 'service_unavailable', 'Too many sign-ins are being checked right now; try again shortly.', 1));
      }, this.maxWaitMs);
      this.waiting.push(grant);
    });
  }
}

export interface PasswordCheck {
  ok: boolean;
  /** The stored hash is weaker than the current cost and should be replaced by a fresh one. */
  stale: boolean;
}

/**
 * scrypt password hashes, self-describing (`scrypt$N$r$p$salt$key`), so a raised cost applies to
 * new hashes at once and to old ones at their owner's next login.
 */
export class PasswordHasher {
  private readonly cost: ScryptCost;
  private readonly gate: HashGate;
  private decoy: Promise<string> | undefined;

  /** `logN` comes from `PASSWORD_HASH_COST` (17, OWASP's, unless a test suite lowers it). */
  constructor(logN: number, options: { concurrency?: number; maxWaitMs?: number } = {}) {
    this.cost = { N: 2 ** logN, r: SCRYPT_R, p: SCRYPT_P };
    // Two at OWASP's cost is 256 MiB outside the JavaScript heap; the API's memory limit allows for it.
    this.gate = new HashGate(options.concurrency ?? 2, options.maxWaitMs ?? 2000);
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const key = await this.gate.run(() => scrypt(password, salt, KEY_BYTES, scryptOptions(this.cost)));
    const { N, r, p } = this.cost;
    return ['scrypt', N, r, p, salt.toString('base64'), key.toString('base64')].join('$');
  }

  /** Made once; a failed attempt (a full gate) is not kept, or every unknown email would fail alike. */
  private decoyHash(): Promise<string> {
    this.decoy ??= this.hash(randomBytes(16).toString('hex')).catch((err: unknown) => {
      this.decoy = undefined;
      throw err;
    });
    return this.decoy;
  }

  /** With no stored hash (an unknown email) a decoy is checked, so timing does not tell which emails exist. */
  async verify(password: string, stored: string | undefined): Promise<PasswordCheck> {
    const parsed = parseHash(stored ?? (await this.decoyHash()));
    if (!parsed) return { ok: false, stale: false };
    const key = await this.gate.run(() => scrypt(password, parsed.salt, parsed.key.length, scryptOptions(parsed.cost)));
    const ok = stored !== undefined && timingSafeEqual(key, parsed.key);
    const { N, r, p } = parsed.cost;
    const stale = N < this.cost.N || r !== this.cost.r || p !== this.cost.p || parsed.key.length < KEY_BYTES || parsed.salt.length < SALT_BYTES;
    return { ok, stale: ok && stale };
  }
}

/** Opaque high-entropy tokens (refresh tokens) are stored only as their SHA-256. */
export function newOpaqueToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function sha256Hex(value: string | Buffer): string {
  return createHash('sha256').update(value).digest('hex');
}

export function constantTimeEqual(a: string, b: string): boolean {
  // Hashing first gives equal lengths, so the comparison time does not depend on the input.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/**
 * AES-256-GCM secrets at rest: `v2.<keyId>.<iv>.<tag>.<ciphertext>` (base64url), with a 16-byte
 * tag and the owning record's id as additional authenticated data, so a ciphertext copied onto
 * another row does not open. Decryption picks the key by id, so keys can rotate while old
 * ciphertexts stay readable. `v1` envelopes (no owner bound) are still read until
 * `npm run secrets:reencrypt` rewrites them.
 */
export interface CipherKey {
  id: string;
  key: Buffer;
}

const TAG_BYTES = 16;
const IV_BYTES = 12;

export class SecretBox {
  private readonly current: CipherKey;
  private readonly keys: Map<string, Buffer>;

  /** The current key encrypts; it and the `previous` ones decrypt. */
  constructor(keyring: CipherKey & { previous?: readonly CipherKey[] }) {
    this.current = { id: keyring.id, key: keyring.key };
    this.keys = new Map([...(keyring.previous ?? []), this.current].map((k) => [k.id, k.key]));
  }

  encrypt(plaintext: string, ownerId: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(ownerId, 'utf8'));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return ['v2', this.current.id, iv.toString('base64url'), tag.toString('base64url'), data.toString('base64url')].join('.');
  }

  decrypt(envelope: string, ownerId: string): string {
    const [version, keyId, iv, tag, data, ...rest] = envelope.split('.');
    if ((version !== 'v1' && version !== 'v2') || !keyId || !iv || !tag || data === undefined || rest.length) {
      throw new Error('Malformed ciphertext');
    }
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`No encryption key with id ${keyId}`);
    const tagBytes = Buffer.from(tag, 'base64url');
    // GCM would accept a 4-byte tag, which forgers can guess; only the full tag is believed.
    if (tagBytes.length !== TAG_BYTES) throw new Error('Malformed ciphertext');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
    decipher.setAuthTag(tagBytes);
    if (version === 'v2') decipher.setAAD(Buffer.from(ownerId, 'utf8'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** Whether `envelope` is already in the current format under the current key (re-encryption skips it). */
  isCurrent(envelope: string): boolean {
    return envelope.startsWith(`v2.${this.current.id}.`);
  }
}
