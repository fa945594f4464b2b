import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  constantTimeEqual,
  createLogger,
  hashPassword,
  newOpaqueToken,
  SecretBox,
  sha256Hex,
  verifyPassword,
  type CipherKey,
} from '@parley/core';

// Tests read arbitrary fields of log lines.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LogLine = Record<string, any>;

const key = (id: string): CipherKey => ({ id, key: randomBytes(32) });

describe('SecretBox', () => {
  it('round-trips text, including unicode and the empty string', () => {
    const box = new SecretBox(key('k1'));
    for (const plain of ['EAAG-business-token', '', 'ünïcødé ✓ 🔐', 'x'.repeat(10_000)]) {
      const sealed = box.encrypt(plain);
      expect(sealed).not.toContain(plain || '\u0000');
      expect(box.decrypt(sealed)).toBe(plain);
    }
  });

  it('writes the version and the key id into the envelope, and a fresh IV every time', () => {
    const box = new SecretBox(key('abcd1234'));
    const a = box.encrypt('same plaintext');
    const b = box.encrypt('same plaintext');
    const parts = a.split('.');
    expect(parts).toHaveLength(5);
    expect(parts[0]).toBe('v1');
    expect(parts[1]).toBe('abcd1234');
    expect(Buffer.from(parts[2]!, 'base64url')).toHaveLength(12); // GCM IV
    expect(Buffer.from(parts[3]!, 'base64url')).toHaveLength(16); // GCM tag
    expect(a).not.toBe(b);
    expect(a.split('.')[2]).not.toBe(b.split('.')[2]);
  });

  it('keeps old ciphertexts readable after rotation, and encrypts with the new key', () => {
    const oldKey = key('old');
    const newKey = key('new');
    const before = new SecretBox(oldKey).encrypt('sealed before rotation');

    const rotated = new SecretBox(newKey, [oldKey]);
    expect(rotated.decrypt(before)).toBe('sealed before rotation');
    const after = rotated.encrypt('sealed after rotation');
    expect(after.split('.')[1]).toBe('new');
    expect(rotated.decrypt(after)).toBe('sealed after rotation');

    // Once the old key is dropped, its ciphertexts are refused by name, not garbled.
    expect(() => new SecretBox(newKey).decrypt(before)).toThrow(/No encryption key with id old/);
    // And the old box cannot read the new key's ciphertexts.
    expect(() => new SecretBox(oldKey).decrypt(after)).toThrow(/new/);
  });

  it('refuses a key id that names a different key (no silent wrong-key decrypt)', () => {
    const a = key('same-id');
    const b = { id: 'same-id', key: randomBytes(32) };
    const sealed = new SecretBox(a).encrypt('secret');
    expect(() => new SecretBox(b).decrypt(sealed)).toThrow();
  });

  it('rejects tampered ciphertext, tag, IV and malformed envelopes', () => {
    const box = new SecretBox(key('k'));
    const sealed = box.encrypt('do not touch me');
    const [v, id, iv, tag, data] = sealed.split('.') as [string, string, string, string, string];
    const flip = (b64: string) => {
      const buf = Buffer.from(b64, 'base64url');
      buf[0] = buf[0]! ^ 0x01;
      return buf.toString('base64url');
    };
    expect(() => box.decrypt([v, id, iv, tag, flip(data)].join('.'))).toThrow();
    expect(() => box.decrypt([v, id, iv, flip(tag), data].join('.'))).toThrow();
    expect(() => box.decrypt([v, id, flip(iv), tag, data].join('.'))).toThrow();
    expect(() => box.decrypt([v, id, iv, Buffer.alloc(4).toString('base64url'), data].join('.'))).toThrow(); // truncated tag
    expect(() => box.decrypt(['v2', id, iv, tag, data].join('.'))).toThrow(/Malformed/);
    expect(() => box.decrypt('not-an-envelope')).toThrow(/Malformed/);
    expect(() => box.decrypt('')).toThrow(/Malformed/);
    expect(box.decrypt(sealed)).toBe('do not touch me');
  });
});

describe('passwords', () => {
  it('hashes with a random salt into a self-describing scrypt string and verifies', async () => {
    const h1 = await hashPassword('correct horse battery staple');
    const h2 = await hashPassword('correct horse battery staple');
    expect(h1).toMatch(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(h1).not.toBe(h2);
    expect(h1).not.toContain('correct horse');
    expect(await verifyPassword('correct horse battery staple', h1)).toBe(true);
    expect(await verifyPassword('correct horse battery staple', h2)).toBe(true);
  });

  it('rejects wrong passwords and unusable hashes', async () => {
    const h = await hashPassword('correct horse battery staple');
    expect(await verifyPassword('correct horse battery stapler', h)).toBe(false);
    expect(await verifyPassword('Correct horse battery staple', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
    expect(await verifyPassword('correct horse battery staple', '')).toBe(false);
    expect(await verifyPassword('correct horse battery staple', 'bcrypt$1$2$3$salt$hash')).toBe(false);
    expect(await verifyPassword('correct horse battery staple', h.split('$').slice(0, 5).join('$'))).toBe(false);
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
