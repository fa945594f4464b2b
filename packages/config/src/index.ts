import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';

/**
 * Configuration is read once at start-up from the environment, validated, and frozen.
 * Variable names are fixed by the public contract ("Running it").
 */

const booleanString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const optionalString = z
  .string()
  .transform((v) => (v.trim() === '' ? undefined : v.trim()))
  .optional();

/** Secrets the platform cannot run without in production; generated for development. */
export const SECRET_VARIABLES = [
  'META_APP_SECRET',
  'META_VERIFY_TOKEN',
  'PLATFORM_ADMIN_TOKEN',
  'ENCRYPTION_KEY',
  'JWT_SECRET',
] as const;
export type SecretVariable = (typeof SECRET_VARIABLES)[number];

/** Infrastructure that has embedded defaults in development but must be named in production. */
const PRODUCTION_REQUIRED = ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'META_APP_ID'] as const;

/** A blank number (`PORT=`) means unset, as for strings: it gets the default, never `Number('') === 0`. */
const blankAsUnset = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema);

const urlString = (name: string) =>
  z.string().refine((v) => {
    try {
      new URL(v);
      return true;
    } catch {
      return false;
    }
  }, `${name} must be an absolute URL`);

/**
 * scrypt cost as log2(N), with r=8 and p=1: OWASP's Password Storage Cheat Sheet asks for N=2^17.
 * Lower is only for test suites that create many users, and production refuses it.
 */
export const OWASP_SCRYPT_LOG_N = 17;

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: blankAsUnset(z.coerce.number().int().min(0).max(65535).default(3000)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: optionalString.pipe(urlString('DATABASE_URL').optional()),
  DATABASE_POOL_MAX: blankAsUnset(z.coerce.number().int().min(1).max(200).default(10)),
  // Unset: the defaults of @parley/db (statement 30 s, lock 10 s, idle in transaction 60 s); 0 turns one off.
  DATABASE_STATEMENT_TIMEOUT_MS: blankAsUnset(z.coerce.number().int().min(0).max(86_400_000).optional()),
  DATABASE_LOCK_TIMEOUT_MS: blankAsUnset(z.coerce.number().int().min(0).max(86_400_000).optional()),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: blankAsUnset(z.coerce.number().int().min(0).max(86_400_000).optional()),
  TEMPORAL_ADDRESS: optionalString,
  TEMPORAL_NAMESPACE: optionalString.transform((v) => v ?? 'default'),
  TEMPORAL_TASK_QUEUE: optionalString.transform((v) => v ?? 'parley'),
  META_GRAPH_URL: optionalString
    .pipe(urlString('META_GRAPH_URL').optional())
    .transform((v) => (v ?? 'https://graph.facebook.com').replace(/\/+$/, '')),
  META_GRAPH_VERSION: optionalString
    .pipe(z.string().regex(/^v\d+\.\d+$/, 'META_GRAPH_VERSION must look like v23.0').optional())
    .transform((v) => v ?? 'v23.0'),
  META_APP_ID: optionalString,
  /** The embedded signup configuration (Facebook Login for Business) the console's "Connect WhatsApp" uses. */
  META_SIGNUP_CONFIG_ID: optionalString,
  META_APP_SECRET: optionalString,
  META_VERIFY_TOKEN: optionalString,
  PLATFORM_ADMIN_TOKEN: optionalString.pipe(
    z.string().min(24, 'PLATFORM_ADMIN_TOKEN must be at least 24 characters').optional(),
  ),
  ENCRYPTION_KEY: optionalString,
  ENCRYPTION_KEYS_PREVIOUS: optionalString,
  PASSWORD_HASH_COST: blankAsUnset(z.coerce.number().int().min(10).max(20).default(OWASP_SCRYPT_LOG_N)),
  TRUSTED_PROXY_HOPS: blankAsUnset(z.coerce.number().int().min(0).max(10).default(0)),
  JWT_SECRET: optionalString.pipe(z.string().min(32, 'JWT_SECRET must be at least 32 characters').optional()),
  OPENAI_BASE_URL: optionalString.pipe(urlString('OPENAI_BASE_URL').optional()),
  OPENAI_API_KEY: optionalString,
  ALLOW_INSECURE_WEBHOOKS: booleanString.optional().transform((v) => v ?? false),
  PUBLIC_URL: optionalString.pipe(urlString('PUBLIC_URL').optional()),
  SHUTDOWN_GRACE_MS: blankAsUnset(z.coerce.number().int().min(0).max(120_000).default(10_000)),
});

export interface EncryptionKey {
  /** Short stable id stored next to every ciphertext so keys can rotate. */
  id: string;
  key: Buffer;
  /** Keys rotated out (`ENCRYPTION_KEYS_PREVIOUS`): still read, never written with. */
  previous: readonly { id: string; key: Buffer }[];
}

export interface Config {
  env: 'development' | 'test' | 'production';
  port: number;
  logLevel: string;
  publicUrl: string | undefined;
  shutdownGraceMs: number;
  database: {
    url: string | undefined;
    poolMax: number;
    /** Per-connection limits in ms; undefined leaves the database package's default. */
    timeouts: { statementMs: number | undefined; lockMs: number | undefined; idleInTransactionMs: number | undefined };
  };
  temporal: { address: string | undefined; namespace: string; taskQueue: string };
  meta: {
    graphUrl: string;
    graphVersion: string;
    appId: string | undefined;
    /** Embedded signup's `config_id`; without it the console cannot launch Facebook's signup. */
    signupConfigId: string | undefined;
    appSecret: string;
    verifyToken: string;
  };
  platformAdminToken: string;
  /** The current key, with the previous ones that can still be read. */
  encryptionKey: EncryptionKey;
  /** scrypt cost, log2(N). */
  passwordHashCost: number;
  /** Reverse proxies in front of the API whose `X-Forwarded-For` entry is believed; 0 believes none. */
  trustedProxyHops: number;
  jwt: { secret: string; keyId: string; issuer: string; audience: string };
  openai: { baseUrl: string | undefined; apiKey: string | undefined };
  allowInsecureWebhooks: boolean;
  /** Names of secrets that were generated because they were unset (development only). */
  generatedSecrets: readonly SecretVariable[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

function parseEncryptionKey(raw: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(raw)) return Buffer.from(raw, 'hex');
  const b = Buffer.from(raw, 'base64');
  if (b.length === 32 && /^[A-Za-z0-9+/_-]+=*$/.test(raw)) return b;
  return undefined;
}

function keyId(material: Buffer | string): string {
  return createHash('sha256').update(material).digest('hex').slice(0, 8);
}

/** Generates a value suitable for every secret variable (used for development defaults). */
export function generateSecret(name: SecretVariable): string {
  if (name === 'ENCRYPTION_KEY') return randomBytes(32).toString('base64');
  return randomBytes(32).toString('base64url');
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`),
    );
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const problems: string[] = [];
  const generated: SecretVariable[] = [];

  if (production) {
    for (const name of [...SECRET_VARIABLES, ...PRODUCTION_REQUIRED]) {
      if (!e[name]) problems.push(`${name}: is required when NODE_ENV=production`);
    }
    if (e.ALLOW_INSECURE_WEBHOOKS) {
      problems.push('ALLOW_INSECURE_WEBHOOKS: must not be enabled when NODE_ENV=production');
    }
  }

  const secrets = {} as Record<SecretVariable, string>;
  for (const name of SECRET_VARIABLES) {
    const value = e[name];
    if (value) secrets[name] = value;
    else {
      secrets[name] = generateSecret(name);
      generated.push(name);
    }
  }

  const encryptionKey = parseEncryptionKey(secrets.ENCRYPTION_KEY);
  if (!encryptionKey) {
    problems.push('ENCRYPTION_KEY: must be 32 bytes, given as 64 hex characters or base64');
  }
  const previousKeys = (e.ENCRYPTION_KEYS_PREVIOUS ?? '')
    .split(',')
    .map((raw) => raw.trim())
    .filter((raw) => raw !== '')
    .map((raw, i) => {
      const key = parseEncryptionKey(raw);
      if (!key) problems.push(`ENCRYPTION_KEYS_PREVIOUS: key ${i + 1} must be 32 bytes, given as 64 hex characters or base64`);
      return key && { id: keyId(key), key };
    })
    .filter((k) => k !== undefined);
  if (production && e.PASSWORD_HASH_COST < OWASP_SCRYPT_LOG_N) {
    problems.push(`PASSWORD_HASH_COST: must be at least ${OWASP_SCRYPT_LOG_N} when NODE_ENV=production`);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const config: Config = {
    env: e.NODE_ENV,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    publicUrl: e.PUBLIC_URL,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    database: {
      url: e.DATABASE_URL,
      poolMax: e.DATABASE_POOL_MAX,
      timeouts: {
        statementMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
        lockMs: e.DATABASE_LOCK_TIMEOUT_MS,
        idleInTransactionMs: e.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      },
    },
    temporal: { address: e.TEMPORAL_ADDRESS, namespace: e.TEMPORAL_NAMESPACE, taskQueue: e.TEMPORAL_TASK_QUEUE },
    meta: {
      graphUrl: e.META_GRAPH_URL,
      graphVersion: e.META_GRAPH_VERSION,
      appId: e.META_APP_ID,
      signupConfigId: e.META_SIGNUP_CONFIG_ID,
      appSecret: secrets.META_APP_SECRET,
      verifyToken: secrets.META_VERIFY_TOKEN,
    },
    platformAdminToken: secrets.PLATFORM_ADMIN_TOKEN,
    encryptionKey: { id: keyId(encryptionKey!), key: encryptionKey!, previous: previousKeys },
    passwordHashCost: e.PASSWORD_HASH_COST,
    trustedProxyHops: e.TRUSTED_PROXY_HOPS,
    jwt: {
      secret: secrets.JWT_SECRET,
      keyId: keyId(secrets.JWT_SECRET),
      issuer: 'parley',
      audience: 'parley-api',
    },
    openai: { baseUrl: e.OPENAI_BASE_URL, apiKey: e.OPENAI_API_KEY },
    allowInsecureWebhooks: e.ALLOW_INSECURE_WEBHOOKS,
    generatedSecrets: Object.freeze(generated),
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * For process entry points: the configuration, or a message naming every bad variable on stderr
 * and exit code 78 (EX_CONFIG), so supervisors see a configuration error rather than a crash.
 */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
}
