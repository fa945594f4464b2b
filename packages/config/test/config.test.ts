import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, SECRET_VARIABLES, type Config } from '@parley/config';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const GIVEN_SECRETS = {
  META_APP_SECRET: 'meta-app-secret-value-0001',
  META_VERIFY_TOKEN: 'meta-verify-token-value-0002',
  PLATFORM_ADMIN_TOKEN: 'platform-admin-token-value-0003',
  ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
  JWT_SECRET: 'jwt-secret-value-0004-0123456789abcdef',
};

/** A complete production environment; tests take one thing away or spoil one value. */
const PRODUCTION: Record<string, string> = {
  NODE_ENV: 'production',
  ...GIVEN_SECRETS,
  DATABASE_URL: 'postgres://parley@db.internal:5432/parley',
  TEMPORAL_ADDRESS: 'temporal.internal:7233',
  META_APP_ID: '1234567890',
};

function without(env: Record<string, string>, name: string): Record<string, string> {
  const { [name]: _dropped, ...rest } = env;
  return rest;
}

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('defaults', () => {
  it('works on a fresh machine with an empty environment', () => {
    const c = loadConfig({});
    expect(c.env).toBe('development');
    expect(c.port).toBe(3000);
    expect(c.logLevel).toBe('info');
    expect(c.database).toEqual({ url: undefined, poolMax: 10, timeouts: { statementMs: undefined, lockMs: undefined, idleInTransactionMs: undefined } });
    expect(c.temporal).toEqual({ address: undefined, namespace: 'default', taskQueue: 'parley' });
    expect(c.meta.graphUrl).toBe('https://graph.facebook.com');
    expect(c.meta.graphVersion).toMatch(/^v\d+\.\d+$/);
    expect(c.meta.appId).toBeUndefined();
    expect(c.openai).toEqual({ baseUrl: undefined, apiKey: undefined });
    expect(c.allowInsecureWebhooks).toBe(false);
    expect(c.publicUrl).toBeUndefined();
    expect(c.shutdownGraceMs).toBe(10_000);
    expect(c.jwt).toMatchObject({ issuer: 'parley', audience: 'parley-api' });
  });

  it('reads every contract variable', () => {
    const c = loadConfig({
      ...GIVEN_SECRETS,
      PORT: '8081',
      DATABASE_URL: 'postgres://u@localhost:5432/x',
      TEMPORAL_ADDRESS: 'localhost:7233',
      TEMPORAL_NAMESPACE: 'parley-ns',
      META_GRAPH_URL: 'http://127.0.0.1:4010/graph/',
      META_GRAPH_VERSION: 'v21.0',
      META_APP_ID: 'app-1',
      OPENAI_BASE_URL: 'http://127.0.0.1:4011/v1',
      OPENAI_API_KEY: 'sk-test',
      ALLOW_INSECURE_WEBHOOKS: 'true',
    });
    expect(c.port).toBe(8081);
    expect(c.database.url).toBe('postgres://u@localhost:5432/x');
    expect(c.temporal).toMatchObject({ address: 'localhost:7233', namespace: 'parley-ns' });
    expect(c.meta).toEqual({
      graphUrl: 'http://127.0.0.1:4010/graph', // trailing slash dropped
      graphVersion: 'v21.0',
      appId: 'app-1',
      appSecret: GIVEN_SECRETS.META_APP_SECRET,
      verifyToken: GIVEN_SECRETS.META_VERIFY_TOKEN,
    });
    expect(c.platformAdminToken).toBe(GIVEN_SECRETS.PLATFORM_ADMIN_TOKEN);
    expect(c.encryptionKey.key.equals(Buffer.alloc(32, 9))).toBe(true);
    expect(c.jwt.secret).toBe(GIVEN_SECRETS.JWT_SECRET);
    expect(c.openai).toEqual({ baseUrl: 'http://127.0.0.1:4011/v1', apiKey: 'sk-test' });
    expect(c.allowInsecureWebhooks).toBe(true);
    expect(c.generatedSecrets).toEqual([]);
  });

  it('treats blank values as unset (PORT= gets 3000, not port 0)', () => {
    const c = loadConfig({ PORT: '', SHUTDOWN_GRACE_MS: ' ', DATABASE_POOL_MAX: '', TEMPORAL_NAMESPACE: '', META_GRAPH_URL: '  ', JWT_SECRET: '' });
    expect(c.port).toBe(3000);
    expect(c.shutdownGraceMs).toBe(10_000);
    expect(c.database.poolMax).toBe(10);
    expect(c.temporal.namespace).toBe('default');
    expect(c.meta.graphUrl).toBe('https://graph.facebook.com');
    expect(c.generatedSecrets).toContain('JWT_SECRET');
  });

  it('accepts ALLOW_INSECURE_WEBHOOKS spellings and refuses others', () => {
    for (const [v, expected] of [['true', true], ['1', true], ['yes', true], ['false', false], ['0', false], ['no', false], ['', false]] as const) {
      expect(loadConfig({ ALLOW_INSECURE_WEBHOOKS: v }).allowInsecureWebhooks).toBe(expected);
    }
    expect(configError({ ALLOW_INSECURE_WEBHOOKS: 'maybe' }).message).toContain('ALLOW_INSECURE_WEBHOOKS');
  });

  it('accepts the encryption key as 64 hex characters or base64 and derives a stable key id', () => {
    const bytes = randomBytes(32);
    const hex = loadConfig({ ENCRYPTION_KEY: bytes.toString('hex') });
    const b64 = loadConfig({ ENCRYPTION_KEY: bytes.toString('base64') });
    expect(hex.encryptionKey.key.equals(bytes)).toBe(true);
    expect(b64.encryptionKey.key.equals(bytes)).toBe(true);
    expect(hex.encryptionKey.id).toBe(b64.encryptionKey.id);
    expect(hex.encryptionKey.id).toMatch(/^[0-9a-f]{8}$/);
    expect(loadConfig({ ENCRYPTION_KEY: randomBytes(32).toString('hex') }).encryptionKey.id).not.toBe(hex.encryptionKey.id);
    // The key id does not reveal the key.
    expect(bytes.toString('hex')).not.toContain(hex.encryptionKey.id);
  });

  it('reads the previous encryption keys, comma-separated, each with its own id', () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    const c = loadConfig({ ENCRYPTION_KEYS_PREVIOUS: ` ${a.toString('hex')} ,${b.toString('base64')},` });
    expect(c.encryptionKey.previous.map((k) => k.key.toString('hex'))).toEqual([a.toString('hex'), b.toString('hex')]);
    expect(c.encryptionKey.previous[0]!.id).toBe(loadConfig({ ENCRYPTION_KEY: a.toString('hex') }).encryptionKey.id);
    expect(loadConfig({}).encryptionKey.previous).toEqual([]);
    const err = configError({ ENCRYPTION_KEYS_PREVIOUS: `${a.toString('hex')},not-a-key` });
    expect(err.problems).toEqual(['ENCRYPTION_KEYS_PREVIOUS: key 2 must be 32 bytes, given as 64 hex characters or base64']);
    expect(err.message).not.toContain(a.toString('hex'));
  });

  it('hashes passwords at OWASP’s scrypt cost unless told otherwise, and reads client addresses from the socket', () => {
    const c = loadConfig({});
    expect(c.passwordHashCost).toBe(17);
    expect(c.trustedProxyHops).toBe(0);
    expect(loadConfig({ PASSWORD_HASH_COST: '12', TRUSTED_PROXY_HOPS: '2' })).toMatchObject({ passwordHashCost: 12, trustedProxyHops: 2 });
  });
});

describe('generated development secrets', () => {
  it('generates every missing secret, lists it, and makes usable values', () => {
    const c = loadConfig({});
    expect([...c.generatedSecrets].sort()).toEqual([...SECRET_VARIABLES].sort());
    expect(c.encryptionKey.key).toHaveLength(32);
    expect(c.jwt.secret.length).toBeGreaterThanOrEqual(32);
    expect(c.platformAdminToken.length).toBeGreaterThanOrEqual(24);
    expect(c.meta.appSecret.length).toBeGreaterThanOrEqual(32);
    expect(c.meta.verifyToken.length).toBeGreaterThanOrEqual(32);
    // Fresh values per start, never a fixed fallback.
    const again = loadConfig({});
    expect(again.jwt.secret).not.toBe(c.jwt.secret);
    expect(again.platformAdminToken).not.toBe(c.platformAdminToken);
    expect(again.encryptionKey.key.equals(c.encryptionKey.key)).toBe(false);
  });

  it('lists only the secrets it generated', () => {
    const c = loadConfig({ JWT_SECRET: GIVEN_SECRETS.JWT_SECRET, ENCRYPTION_KEY: GIVEN_SECRETS.ENCRYPTION_KEY });
    expect([...c.generatedSecrets].sort()).toEqual(['META_APP_SECRET', 'META_VERIFY_TOKEN', 'PLATFORM_ADMIN_TOKEN']);
    expect(c.jwt.secret).toBe(GIVEN_SECRETS.JWT_SECRET);
  });

  it('also generates in test mode, never in production', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).generatedSecrets).toHaveLength(SECRET_VARIABLES.length);
    expect(loadConfig(PRODUCTION).generatedSecrets).toEqual([]);
  });
});

describe('production', () => {
  it('loads a complete production environment as given', () => {
    const c = loadConfig(PRODUCTION);
    expect(c.env).toBe('production');
    expect(c.platformAdminToken).toBe(PRODUCTION.PLATFORM_ADMIN_TOKEN);
    expect(c.database.url).toBe(PRODUCTION.DATABASE_URL);
    expect(c.temporal.address).toBe(PRODUCTION.TEMPORAL_ADDRESS);
  });

  const required = ['META_APP_SECRET', 'META_VERIFY_TOKEN', 'PLATFORM_ADMIN_TOKEN', 'ENCRYPTION_KEY', 'JWT_SECRET', 'DATABASE_URL', 'TEMPORAL_ADDRESS'];
  it.each(required)('refuses to start without %s and names it', (name) => {
    for (const env of [without(PRODUCTION, name), { ...PRODUCTION, [name]: '' }, { ...PRODUCTION, [name]: '   ' }]) {
      const err = configError(env);
      expect(err.message).toContain(name);
      expect(err.problems).toHaveLength(1);
      expect(err.problems[0]).toMatch(new RegExp(`^${name}: `));
      // The message names what is missing and never echoes the secrets that were given.
      for (const [other, value] of Object.entries(GIVEN_SECRETS)) if (other !== name) expect(err.message).not.toContain(value);
    }
  });

  it('names every missing variable at once', () => {
    const err = configError({ NODE_ENV: 'production' });
    for (const name of required) expect(err.message).toContain(name);
  });

  it('refuses a password hash cost below OWASP’s in production', () => {
    expect(configError({ ...PRODUCTION, PASSWORD_HASH_COST: '16' }).problems).toEqual([
      'PASSWORD_HASH_COST: must be at least 17 when NODE_ENV=production',
    ]);
    expect(loadConfig({ ...PRODUCTION, PASSWORD_HASH_COST: '18' }).passwordHashCost).toBe(18);
  });

  it('refuses ALLOW_INSECURE_WEBHOOKS in production', () => {
    expect(configError({ ...PRODUCTION, ALLOW_INSECURE_WEBHOOKS: 'true' }).message).toContain('ALLOW_INSECURE_WEBHOOKS');
    expect(loadConfig({ ...PRODUCTION, ALLOW_INSECURE_WEBHOOKS: 'false' }).allowInsecureWebhooks).toBe(false);
  });
});

describe('malformed values are refused, naming the variable', () => {
  const cases: [string, Record<string, string>][] = [
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '70000' }],
    ['PORT', { PORT: '80.5' }],
    ['ENCRYPTION_KEY', { ENCRYPTION_KEY: Buffer.alloc(16, 1).toString('base64') }],
    ['ENCRYPTION_KEY', { ENCRYPTION_KEY: 'ab'.repeat(31) }],
    ['ENCRYPTION_KEY', { ENCRYPTION_KEY: 'not a key at all' }],
    ['JWT_SECRET', { JWT_SECRET: 'too-short' }],
    ['PLATFORM_ADMIN_TOKEN', { PLATFORM_ADMIN_TOKEN: 'short' }],
    ['META_GRAPH_URL', { META_GRAPH_URL: 'not a url' }],
    ['META_GRAPH_VERSION', { META_GRAPH_VERSION: '23' }],
    ['DATABASE_URL', { DATABASE_URL: 'localhost' }],
    ['OPENAI_BASE_URL', { OPENAI_BASE_URL: '::nope' }],
    ['NODE_ENV', { NODE_ENV: 'staging' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['PASSWORD_HASH_COST', { PASSWORD_HASH_COST: '9' }],
    ['PASSWORD_HASH_COST', { PASSWORD_HASH_COST: 'high' }],
    ['TRUSTED_PROXY_HOPS', { TRUSTED_PROXY_HOPS: '-1' }],
  ];
  it.each(cases)('%s in %o', (name, env) => {
    for (const mode of [{}, PRODUCTION]) {
      const err = configError({ ...mode, ...env });
      expect(err.message).toContain(name);
      expect(err.problems.some((p) => p.startsWith(`${name}:`))).toBe(true);
      // A bad value is reported, never echoed (it may be a secret).
      if (name === 'JWT_SECRET' || name === 'PLATFORM_ADMIN_TOKEN') expect(err.message).not.toContain(Object.values(env)[0]);
    }
  });
});

describe('the result is deeply frozen', () => {
  it('cannot be changed at any level', () => {
    const c = loadConfig(PRODUCTION) as Config;
    const objects: [string, object][] = [
      ['config', c],
      ['database', c.database],
      ['temporal', c.temporal],
      ['meta', c.meta],
      ['encryptionKey', c.encryptionKey],
      ['jwt', c.jwt],
      ['openai', c.openai],
      ['generatedSecrets', c.generatedSecrets],
    ];
    for (const [name, o] of objects) expect(Object.isFrozen(o), name).toBe(true);
    // ESM test files run in strict mode: writes throw rather than silently doing nothing.
    expect(() => {
      (c as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (c.meta as { appSecret: string }).appSecret = 'x';
    }).toThrow(TypeError);
    expect(() => {
      (c.generatedSecrets as string[]).push('JWT_SECRET');
    }).toThrow(TypeError);
    expect(() => {
      (c.jwt as { secret: string }).secret = 'x';
    }).toThrow(TypeError);
    expect(c.port).toBe(3000);
    expect(c.meta.appSecret).toBe(PRODUCTION.META_APP_SECRET);
  });

  it('does not modify the environment it was given', () => {
    const env = { ...PRODUCTION, META_GRAPH_URL: 'https://graph.example/' };
    const before = { ...env };
    loadConfig(env);
    expect(env).toEqual(before);
    expect(Object.isFrozen(env)).toBe(false);
  });
});

describe('the API process', () => {
  function runApi(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn('npx', ['tsx', 'apps/api/src/main.ts'], {
        cwd: ROOT,
        // A clean environment: nothing from the test run (DATABASE_URL, ...) leaks in.
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the API did not exit within 45 s\nstdout: ${stdout}\nstderr: ${stderr}`));
      }, 45_000);
      child.once('error', reject);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  it.each(['JWT_SECRET', 'META_APP_SECRET'])(
    'exits non-zero in production when %s is missing, naming it on stderr',
    async (name) => {
      const env = { ...without(PRODUCTION, name), PORT: '0' };
      const { code, stdout, stderr } = await runApi(env);
      expect(code, `stdout: ${stdout}\nstderr: ${stderr}`).not.toBe(0);
      expect(code).not.toBeNull();
      expect(stderr).toContain(name);
      expect(stderr).toMatch(/required/i);
      expect(stdout).not.toMatch(/listening/);
      for (const [other, value] of Object.entries(GIVEN_SECRETS)) if (other !== name) expect(stderr + stdout).not.toContain(value);
    },
    60_000,
  );

  it('exits non-zero on a malformed value, naming it', async () => {
    const { code, stderr } = await runApi({ ...PRODUCTION, ENCRYPTION_KEY: 'too-short', PORT: '0' });
    expect(code).not.toBe(0);
    expect(stderr).toContain('ENCRYPTION_KEY');
  }, 60_000);
});
