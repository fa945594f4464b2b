import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  constantTimeEqual,
  createLogger,
  newOpaqueToken,
  PasswordHasher,
  RetryLaterError,
  SecretBox,
  sha256Hex,
  type CipherKey,
} from '@parley/core';
import { sealV1 } from '../../../test/support/legacy-secrets';

// Tests read arbitrary fields of log lines.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LogLine = Record<string, any>;

const key = (id: string): CipherKey => ({ id, key: randomBytes(32) });

const OWNER = '01937c1e-5d3a-7000-8000-000000000001';
const OTHER_OWNER = '01937c1e-5d3a-7000-8000-000000000002';

describe('SecretBox', () => {
  it('round-trips text, including unicode and the empty string', () => {
    const box = new SecretBox(key('k1'));
    for (const plain of ['EAAG-business-token', '', 'ünïcødé ✓ 🔐', 'x'.repeat(10_000)]) {
      const sealed = box.encrypt(plain, OWNER);
      expect(sealed).not.toContain(plain || '\u0000');
      expect(box.decrypt(sealed, OWNER)).toBe(plain);
    }
  });

  it('writes the version and the key id into the envelope, a 16-byte tag and a fresh IV every time', () => {
    const box = new SecretBox(key('abcd1234'));
    const a = box.encrypt('same plaintext', OWNER);
    const b = box.encrypt('same plaintext', OWNER);
    const parts = a.split('.');
    expect(parts).toHaveLength(5);
    expect(parts[0]).toBe('v2');
    expect(parts[1]).toBe('abcd1234');
    expect(Buffer.from(parts[2]!, 'base64url')).toHaveLength(12); // GCM IV
    expect(Buffer.from(parts[3]!, 'base64url')).toHaveLength(16); // GCM tag
    expect(a).not.toBe(b);
    expect(a.split('.')[2]).not.toBe(b.split('.')[2]);
  });

  it('opens a ciphertext only for the record it was sealed for', () => {
    const box = new SecretBox(key('k'));
    const sealed = box.encrypt('business token of one channel', OWNER);
    expect(() => box.decrypt(sealed, OTHER_OWNER)).toThrow();
    expect(() => box.decrypt(sealed, '')).toThrow();
    expect(box.decrypt(sealed, OWNER)).toBe('business token of one channel');
  });

  it('refuses a truncated tag, even one that is a true prefix of the real tag', () => {
    const box = new SecretBox(key('k'));
    const [v, id, iv, tag, data] = box.encrypt('do not forge me', OWNER).split('.') as [string, string, string, string, string];
    for (const bytes of [4, 8, 12, 15]) {
      const truncated = Buffer.from(tag, 'base64url').subarray(0, bytes).toString('base64url');
      expect(() => box.decrypt([v, id, iv, truncated, data].join('.'), OWNER)).toThrow(/Malformed/);
    }
    const legacy = sealV1(key('k'), 'old');
    const [lv, lid, liv, ltag, ldata] = legacy.split('.') as [string, string, string, string, string];
    const boxOfLegacy = new SecretBox({ id: lid, key: Buffer.alloc(32) });
    expect(() => boxOfLegacy.decrypt([lv, lid, liv, Buffer.from(ltag, 'base64url').subarray(0, 4).toString('base64url'), ldata].join('.'), OWNER)).toThrow(/Malformed/);
  });

  it('still reads v1 ciphertexts (no owner bound), and says they need re-encryption', () => {
    const k = key('k');
    const box = new SecretBox(k);
    const legacy = sealV1(k, 'sealed by an older release');
    expect(box.decrypt(legacy, OWNER)).toBe('sealed by an older release');
    expect(box.isCurrent(legacy)).toBe(false);
    expect(box.isCurrent(box.encrypt('now', OWNER))).toBe(true);
  });

  it('keeps old ciphertexts readable after rotation, and encrypts with the new key', () => {
    const oldKey = key('old');
    const newKey = key('new');
    const before = new SecretBox(oldKey).encrypt('sealed before rotation', OWNER);
    const legacy = sealV1(oldKey, 'sealed long before rotation');

    const rotated = new SecretBox({ ...newKey, previous: [oldKey] });
    expect(rotated.decrypt(before, OWNER)).toBe('sealed before rotation');
    expect(rotated.decrypt(legacy, OWNER)).toBe('sealed long before rotation');
    expect(rotated.isCurrent(before)).toBe(false);
    const after = rotated.encrypt('sealed after rotation', OWNER);
    expect(after.split('.')[1]).toBe('new');
    expect(rotated.isCurrent(after)).toBe(true);
    expect(rotated.decrypt(after, OWNER)).toBe('sealed after rotation');

    // Once the old key is dropped, its ciphertexts are refused by name, not garbled.
    expect(() => new SecretBox(newKey).decrypt(before, OWNER)).toThrow(/No encryption key with id old/);
    // And the old box cannot read the new key's ciphertexts.
    expect(() => new SecretBox(oldKey).decrypt(after, OWNER)).toThrow(/new/);
  });

  it('refuses a key id that names a different key (no silent wrong-key decrypt)', () => {
    const a = key('same-id');
    const b = { id: 'same-id', key: randomBytes(32) };
    const sealed = new SecretBox(a).encrypt('secret', OWNER);
    expect(() => new SecretBox(b).decrypt(sealed, OWNER)).toThrow();
  });

  it('rejects tampered ciphertext, tag, IV, version and malformed envelopes', () => {
    const box = new SecretBox(key('k'));
    const sealed = box.encrypt('do not touch me', OWNER);
    const [v, id, iv, tag, data] = sealed.split('.') as [string, string, string, string, string];
    const flip = (b64: string) => {
      const buf = Buffer.from(b64, 'base64url');
      buf[0] = buf[0]! ^ 0x01;
      return buf.toString('base64url');
    };
    expect(() => box.decrypt([v, id, iv, tag, flip(data)].join('.'), OWNER)).toThrow();
    expect(() => box.decrypt([v, id, iv, flip(tag), data].join('.'), OWNER)).toThrow();
    expect(() => box.decrypt([v, id, flip(iv), tag, data].join('.'), OWNER)).toThrow();
    // Downgrading to v1 drops the owner check, so the tag no longer matches.
    expect(() => box.decrypt(['v1', id, iv, tag, data].join('.'), OWNER)).toThrow();
    expect(() => box.decrypt(['v3', id, iv, tag, data].join('.'), OWNER)).toThrow(/Malformed/);
    expect(() => box.decrypt(`${sealed}.extra`, OWNER)).toThrow(/Malformed/);
    expect(() => box.decrypt('not-an-envelope', OWNER)).toThrow(/Malformed/);
    expect(() => box.decrypt('', OWNER)).toThrow(/Malformed/);
    expect(box.decrypt(sealed, OWNER)).toBe('do not touch me');
  });
});

/** A hash as an older release wrote it, at a lower cost. */
async function legacyHash(password: string, logN: number): Promise<string> {
  return new PasswordHasher(logN).hash(password);
}

describe('passwords', () => {
  const hasher = new PasswordHasher(12);

  it('hashes with a random salt into a self-describing scrypt string and verifies', async () => {
    const h1 = await hasher.hash('correct horse battery staple');
    const h2 = await hasher.hash('correct horse battery staple');
    expect(h1).toMatch(/^scrypt\$4096\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(h1).not.toBe(h2);
    expect(h1).not.toContain('correct horse');
    expect(await hasher.verify('correct horse battery staple', h1)).toEqual({ ok: true, stale: false });
    expect(await hasher.verify('correct horse battery staple', h2)).toEqual({ ok: true, stale: false });
  });

  it('hashes at OWASP’s scrypt cost (N=2^17, r=8, p=1) when given it, within Node’s memory limit', async () => {
    const h = await new PasswordHasher(17).hash('correct horse battery staple');
    expect(h.split('$').slice(0, 4)).toEqual(['scrypt', String(2 ** 17), '8', '1']);
    expect(await new PasswordHasher(17).verify('correct horse battery staple', h)).toEqual({ ok: true, stale: false });
  });

  it('rejects wrong passwords, unusable hashes and unknown users', async () => {
    const h = await hasher.hash('correct horse battery staple');
    const wrong = { ok: false, stale: false };
    expect(await hasher.verify('correct horse battery stapler', h)).toEqual(wrong);
    expect(await hasher.verify('Correct horse battery staple', h)).toEqual(wrong);
    expect(await hasher.verify('', h)).toEqual(wrong);
    expect(await hasher.verify('correct horse battery staple', '')).toEqual(wrong);
    expect(await hasher.verify('correct horse battery staple', undefined)).toEqual(wrong);
    expect(await hasher.verify('correct horse battery staple', 'bcrypt$1$2$3$salt$hash')).toEqual(wrong);
    expect(await hasher.verify('correct horse battery staple', h.split('$').slice(0, 5).join('$'))).toEqual(wrong);
    // A planted hash claiming a huge cost is refused rather than run.
    const [, , r, p, salt, k] = h.split('$');
    expect(await hasher.verify('correct horse battery staple', ['scrypt', 2 ** 24, r, p, salt, k].join('$'))).toEqual(wrong);
    expect(await hasher.verify('correct horse battery staple', ['scrypt', 3000, r, p, salt, k].join('$'))).toEqual(wrong);
  });

  it('calls a correct password on a weaker hash stale, never a wrong one, nor a stronger hash', async () => {
    const weak = await legacyHash('correct horse battery staple', 10);
    expect(await hasher.verify('correct horse battery staple', weak)).toEqual({ ok: true, stale: true });
    expect(await hasher.verify('wrong horse battery staple', weak)).toEqual({ ok: false, stale: false });
    const stronger = await legacyHash('correct horse battery staple', 13);
    expect(await hasher.verify('correct horse battery staple', stronger)).toEqual({ ok: true, stale: false });
  });

  it('runs a bounded number of hashes at once: others wait, and past the wait get 503 with Retry-After', async () => {
    const narrow = new PasswordHasher(12, { concurrency: 1, maxWaitMs: 0 });
    const [first, second] = await Promise.allSettled([narrow.hash('one password here'), narrow.hash('two password here')]);
    expect(first.status).toBe('fulfilled');
    expect(second.status).toBe('rejected');
    const err = (second as PromiseRejectedResult).reason as RetryLaterError;
    expect(err).toBeInstanceOf(RetryLaterError);
    expect(err).toMatchObject({ status: 503, code: 'service_unavailable', retryAfterSeconds: 1 });
    // The slot was given back: the next one runs.
    expect(await narrow.verify('one password here', (first as PromiseFulfilledResult<string>).value)).toEqual({ ok: true, stale: false });

    // An unknown user's check that found the gate full is refused the same way, and only that once.
    const decoyFirst = new PasswordHasher(12, { concurrency: 1, maxWaitMs: 0 });
    const [busy, refused] = await Promise.allSettled([decoyFirst.hash('keeps the slot'), decoyFirst.verify('any password', undefined)]);
    expect(busy.status).toBe('fulfilled');
    expect((refused as PromiseRejectedResult).reason).toBeInstanceOf(RetryLaterError);
    expect(await decoyFirst.verify('any password', undefined)).toEqual({ ok: false, stale: false });

    const patient = new PasswordHasher(12, { concurrency: 1, maxWaitMs: 10_000 });
    const hashes = await Promise.all(Array.from({ length: 4 }, (_, i) => patient.hash(`password number ${i}`)));
    expect(new Set(hashes).size).toBe(4);
  });
});

describe('token helpers', () => {
  it('makes prefixed, unique, high-entropy opaque tokens', () => {
    const a = newOpaqueToken('prt');
    const b = newOpaqueToken('prt');
    expect(a).toMatch(/^prt_[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
  });

  it('hashes and compares', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(constantTimeEqual('same', 'same')).toBe(true);
    expect(constantTimeEqual('same', 'other value of another length')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });
});

describe('logger redaction', () => {
  function capture() {
    const lines: Record<string, unknown>[] = [];
    let raw = '';
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        raw += chunk.toString();
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const logger = createLogger({ level: 'info', name: 'test', destination });
    return { logger, lines, raw: () => raw };
  }

  const SECRETS = {
    bearer: 'Bearer eyJhbGciOiJIUzI1NiJ9.leaked-jwt',
    password: 'hunter2-hunter2-hunter2',
    accessToken: 'access-token-value-should-not-appear',
    refreshToken: 'prt_refresh-token-value-should-not-appear',
    secret: 'whsec_signing-secret-should-not-appear',
  };

  it('writes to the given destination and keeps ordinary fields', () => {
    const { logger, lines } = capture();
    logger.info({ method: 'GET', path: '/v1/users', status: 200 }, 'request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'request', method: 'GET', path: '/v1/users', status: 200, service: 'test' });
    expect(typeof lines[0]!.time).toBe('string');
  });

  it('redacts Authorization headers, passwords, tokens and secrets', () => {
    const { logger, lines, raw } = capture();
    logger.info({ req: { method: 'POST', headers: { authorization: SECRETS.bearer, 'content-type': 'application/json' } } }, 'incoming');
    logger.info({ headers: { authorization: SECRETS.bearer } }, 'outgoing');
    logger.info({ authorization: SECRETS.bearer }, 'bare header');
    logger.info({ password: SECRETS.password, email: 'a@example.test' }, 'top-level');
    logger.info({ body: { password: SECRETS.password } }, 'nested');
    logger.info({ accessToken: SECRETS.accessToken, refreshToken: SECRETS.refreshToken }, 'token pair');
    logger.info({ tokens: { accessToken: SECRETS.accessToken, refreshToken: SECRETS.refreshToken } }, 'nested pair');
    logger.info({ secret: SECRETS.secret }, 'secret');
    logger.info({ webhook: { secret: SECRETS.secret, url: 'https://partner.example/hook' } }, 'nested secret');

    const text = raw();
    for (const value of Object.values(SECRETS)) expect(text).not.toContain(value);
    expect(text).not.toContain('leaked-jwt');

    const [incoming, outgoing, bare, top, nested, pair, nestedPair, secret, nestedSecret] = lines as LogLine[];
    expect(incoming!.req.headers.authorization).toBe('[redacted]');
    expect(incoming!.req.headers['content-type']).toBe('application/json'); // only secrets go
    expect(incoming!.req.method).toBe('POST');
    expect(outgoing!.headers.authorization).toBe('[redacted]');
    expect(bare!.authorization).toBe('[redacted]');
    expect(top!.password).toBe('[redacted]');
    expect(top!.email).toBe('a@example.test');
    expect(nested!.body.password).toBe('[redacted]');
    expect(pair!.accessToken).toBe('[redacted]');
    expect(pair!.refreshToken).toBe('[redacted]');
    expect(nestedPair!.tokens).toEqual({ accessToken: '[redacted]', refreshToken: '[redacted]' });
    expect(secret!.secret).toBe('[redacted]');
    expect(nestedSecret!.webhook).toEqual({ secret: '[redacted]', url: 'https://partner.example/hook' });
  });

  it('redacts Authorization however it is capitalised, and one level down (outgoing requests, errors)', () => {
    const { logger, raw, lines } = capture();
    logger.info({ headers: { Authorization: SECRETS.bearer } }, 'outgoing, capitalised');
    logger.info({ req: { headers: { Authorization: SECRETS.bearer } } }, 'incoming, capitalised');
    logger.info({ Authorization: SECRETS.bearer }, 'bare, capitalised');
    logger.info({ request: { headers: { authorization: SECRETS.bearer, accept: 'application/json' } } }, 'nested request');
    logger.info({ graph: { headers: { Authorization: SECRETS.bearer } } }, 'nested request, capitalised');
    expect(raw()).not.toContain('leaked-jwt');
    const [a, b, c, d, e] = lines as LogLine[];
    expect(a!.headers.Authorization).toBe('[redacted]');
    expect(b!.req.headers.Authorization).toBe('[redacted]');
    expect(c!.Authorization).toBe('[redacted]');
    expect(d!.request.headers).toEqual({ authorization: '[redacted]', accept: 'application/json' });
    expect(e!.graph.headers.Authorization).toBe('[redacted]');
  });

  it('redacts inside child loggers too (the API logs through per-request children)', () => {
    const { logger, raw, lines } = capture();
    const child = logger.child({ requestId: 'req-1' });
    child.info({ headers: { authorization: SECRETS.bearer }, refresh_token: SECRETS.refreshToken, access_token: SECRETS.accessToken }, 'child');
    expect(raw()).not.toContain('leaked-jwt');
    expect(raw()).not.toContain(SECRETS.refreshToken);
    expect(raw()).not.toContain(SECRETS.accessToken);
    expect(lines[0]).toMatchObject({ requestId: 'req-1', refresh_token: '[redacted]', access_token: '[redacted]' });
  });

  it('honours the level (silent writes nothing)', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ level: 'silent', destination });
    logger.error({ password: 'x' }, 'nothing');
    expect(lines).toEqual([]);
  });
});
