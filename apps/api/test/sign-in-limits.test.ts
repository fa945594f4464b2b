import { randomInt } from 'node:crypto';
import { createLogger, newId, PasswordHasher, sha256Hex, systemClock } from '@parley/core';
import { UNSCOPED, User } from '@parley/db';
import { addressGroup, SIGN_IN_LIMITS, SIGN_IN_WINDOW_SECONDS } from '@parley/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, createTenant, installApp, PASSWORD, startTestApi, type TestApi, uniqueEmail } from '../../../test/support/api';
import { createMaintenanceActivities } from '../../worker/src/activities/maintenance';
import { expectProblem } from './helpers';

// Behind one trusted proxy, each test names its own client address, so the tests (and other
// files sharing the database) never spend one another's limits.
let api: TestApi;
let second: TestApi;
let direct: TestApi;

beforeAll(async () => {
  [api, second, direct] = await Promise.all([
    startTestApi({ env: { TRUSTED_PROXY_HOPS: '1' } }),
    startTestApi({ env: { TRUSTED_PROXY_HOPS: '1' } }),
    startTestApi(),
  ]);
});
afterAll(async () => Promise.all([api.close(), second.close(), direct.close()]));

const ACCOUNT = SIGN_IN_LIMITS['login:account'];
const ADDRESS = SIGN_IN_LIMITS['login:address'];

function newAddress(): string {
  return `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
}

function login(email: string, password: string, address: string, via: TestApi = api): Promise<Answer> {
  return via.call('POST', '/v1/auth/login', { body: { email, password }, headers: { 'x-forwarded-for': address } });
}

function refresh(token: string, address: string): Promise<Answer> {
  return api.call('POST', '/v1/auth/token', {
    body: { grant_type: 'refresh_token', refresh_token: token },
    headers: { 'x-forwarded-for': address },
  });
}

function expectTooMany(answer: Answer): void {
  expectProblem(answer, 429, 'too_many_requests');
  const retryAfter = Number(answer.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(SIGN_IN_WINDOW_SECONDS);
}

describe('login attempt limits', () => {
  it('answers 429 with Retry-After once an account has had its failed attempts, even to the right password', async () => {
    const t = await createTenant(api);
    // Spread over addresses, so only the account's limit can be the one that bites.
    for (let i = 0; i < ACCOUNT; i++) expectProblem(await login(t.adminEmail, 'wrong password!', newAddress()), 401, 'unauthorized');
    for (let i = 0; i < 30 - ACCOUNT; i++) expectTooMany(await login(t.adminEmail, 'wrong password!', newAddress()));
    expectTooMany(await login(t.adminEmail, PASSWORD, newAddress()));
    // The email's case and spacing do not make a second account.
    expectTooMany(await login(` ${t.adminEmail.toUpperCase()}`, PASSWORD, newAddress()));

    // Another account, from the same address, is untouched.
    const other = await createTenant(api);
    expect((await login(other.adminEmail, PASSWORD, newAddress())).status).toBe(200);
  });

  it('treats an unknown email exactly as a known one, so a 429 tells nothing about who exists', async () => {
    const t = await createTenant(api);
    const nobody = uniqueEmail('nobody');
    const address = newAddress();
    const known: Answer[] = [];
    const unknown: Answer[] = [];
    for (let i = 0; i <= ACCOUNT; i++) {
      known.push(await login(t.adminEmail, 'wrong password!', address));
      unknown.push(await login(nobody, 'wrong password!', newAddress()));
    }
    expect(known.map((a) => a.status)).toEqual(unknown.map((a) => a.status));
    expect(unknown.at(-1)!.status).toBe(429);
    const { instance: _a, ...knownBody } = known.at(-1)!.body;
    const { instance: _b, ...unknownBody } = unknown.at(-1)!.body;
    expect(knownBody).toEqual(unknownBody);
  });

  it('counts concurrent guesses before checking any of them, so none slip under the limit', async () => {
    const t = await createTenant(api);
    const answers = await Promise.all(Array.from({ length: 30 }, () => login(t.adminEmail, 'wrong password!', newAddress())));
    expect(answers.filter((a) => a.status === 401)).toHaveLength(ACCOUNT);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(30 - ACCOUNT);
  });

  it('limits an address across accounts, and a success from it does not clear its failures', async () => {
    const t = await createTenant(api);
    const address = newAddress();
    for (let i = 0; i < ADDRESS - 1; i++) expectProblem(await login(uniqueEmail('spray'), 'wrong password!', address), 401, 'unauthorized');
    // The attacker's own account logs in fine, and that gives back only its own attempt.
    expect((await login(t.adminEmail, PASSWORD, address)).status).toBe(200);
    expectProblem(await login(uniqueEmail('spray'), 'wrong password!', address), 401, 'unauthorized');
    expectTooMany(await login(t.adminEmail, PASSWORD, address));
    // Refused attempts check nothing, so they cost the account nothing: from elsewhere it logs in.
    for (let i = 0; i < ACCOUNT; i++) expectTooMany(await login(t.adminEmail, 'wrong password!', address));
    expect((await login(t.adminEmail, PASSWORD, newAddress())).status).toBe(200);
  });

  it('holds across API processes sharing the database', async () => {
    const t = await createTenant(api);
    for (let i = 0; i < ACCOUNT; i++) {
      const via = i % 2 === 0 ? api : second;
      expectProblem(await login(t.adminEmail, 'wrong password!', newAddress(), via), 401, 'unauthorized');
    }
    expectTooMany(await login(t.adminEmail, PASSWORD, newAddress(), second));
    expectTooMany(await login(t.adminEmail, PASSWORD, newAddress(), api));
  });

  it('lets attempts through again once the window has passed', async () => {
    const t = await createTenant(api);
    for (let i = 0; i < ACCOUNT; i++) await login(t.adminEmail, 'wrong password!', newAddress());
    expectTooMany(await login(t.adminEmail, PASSWORD, newAddress()));
    await api.orm.em
      .fork()
      .getConnection()
      .execute(`update sign_in_attempts set window_ends_at = now() - interval '1 second' where kind = 'login:account' and key = ?`, [sha256Hex(t.adminEmail)]);
    expect((await login(t.adminEmail, PASSWORD, newAddress())).status).toBe(200);
  });

  it('believes X-Forwarded-For only as far as the configured proxies, never the entries a client wrote', async () => {
    const address = newAddress();
    // The client writes a new address on the left every time; the proxy appends the real one.
    for (let i = 0; i < ADDRESS; i++) {
      expectProblem(await login(uniqueEmail('spray'), 'wrong password!', `${newAddress()}, ${address}`), 401, 'unauthorized');
    }
    expectTooMany(await login(uniqueEmail('spray'), 'wrong password!', `${newAddress()}, ${address}`));
    // With no proxy configured, the header is ignored altogether: this comes from the socket's address.
    expectProblem(await login(uniqueEmail('direct'), 'wrong password!', address, direct), 401, 'unauthorized');
  });
});

describe('sign-in windows', () => {
  it('are deleted by maintenance once ended, and kept while running', async () => {
    const [ended, running] = [sha256Hex(newId()), sha256Hex(newId())];
    const sql = api.orm.em.fork().getConnection();
    await sql.execute(
      `insert into sign_in_attempts (kind, key, attempts, window_ends_at)
       values ('login:account', ?, 3, now() - interval '1 second'), ('login:account', ?, 3, now() + interval '10 minutes')`,
      [ended, running],
    );
    const purged = await createMaintenanceActivities({ orm: api.orm, clock: systemClock, logger: createLogger({ level: 'silent' }) }).purgeExpiredRecords();
    expect(purged.signInWindows).toBeGreaterThanOrEqual(1);
    const left = await sql.execute<{ key: string }[]>('select key from sign_in_attempts where key in (?, ?)', [ended, running]);
    expect(left.map((r) => r.key)).toEqual([running]);
  });
});

describe('refresh attempt limits', () => {
  it('limits failed refreshes per installation, then answers 429 with Retry-After', async () => {
    const t = await createTenant(api);
    const partner = await installApp(api, t, t);
    expect((await refresh(partner.refreshToken, newAddress())).status).toBe(200);
    // The spent token again and again: every presentation is a reuse, counted against the installation.
    const limit = SIGN_IN_LIMITS['refresh:holder'];
    for (let i = 0; i < limit; i++) expectProblem(await refresh(partner.refreshToken, newAddress()), 401, 'refresh_token_reused');
    expectTooMany(await refresh(partner.refreshToken, newAddress()));
  });

  it('limits failed refreshes per address, whatever the token', async () => {
    const address = newAddress();
    const limit = SIGN_IN_LIMITS['refresh:address'];
    for (let i = 0; i < limit; i++) expectProblem(await refresh(`prt_guess-${i}`, address), 401, 'unauthorized');
    expectTooMany(await refresh('prt_guess-again', address));
    const t = await createTenant(api);
    expectTooMany(await refresh(t.adminRefreshToken, address));
    expect((await refresh(t.adminRefreshToken, newAddress())).status).toBe(200);
  });
});

describe('the OpenAPI document', () => {
  it('lists the 429 of login and refresh, with Retry-After', async () => {
    const doc = (await api.call('GET', '/openapi.json')).body;
    for (const path of ['/v1/auth/login', '/v1/auth/token']) {
      const tooMany = doc.paths[path].post.responses['429'];
      expect(tooMany.content['application/problem+json']).toBeDefined();
      expect(tooMany.headers['Retry-After']).toEqual({ description: expect.any(String), schema: { type: 'integer' } });
    }
    // Every route that hashes a password may find the hashing busy.
    for (const path of ['/v1/auth/login', '/v1/users', '/v1/organizations']) {
      expect(doc.paths[path].post.responses['503'].headers['Retry-After']).toBeDefined();
    }
  });
});

describe('password hashes', () => {
  it('upgrade on login when stored at a weaker cost', async () => {
    const t = await createTenant(api);
    const em = api.orm.em.fork();
    const user = await em.findOneOrFail(User, { email: t.adminEmail }, { ...UNSCOPED, populate: ['passwordHash'] });
    const weak = await new PasswordHasher(10).hash(PASSWORD);
    await em.nativeUpdate(User, { id: user.id }, { passwordHash: weak }, UNSCOPED);

    expect((await login(t.adminEmail, PASSWORD, newAddress())).status).toBe(200);
    const upgraded = await api.orm.em.fork().findOneOrFail(User, { id: user.id }, { ...UNSCOPED, populate: ['passwordHash'] });
    expect(upgraded.passwordHash.split('$').slice(0, 4)).toEqual(['scrypt', String(2 ** api.config.passwordHashCost), '8', '1']);
    expect(upgraded.passwordHash).not.toBe(weak);
    expect((await login(t.adminEmail, PASSWORD, newAddress())).status).toBe(200);

    // A wrong password never rewrites the hash.
    await api.orm.em.fork().nativeUpdate(User, { id: user.id }, { passwordHash: weak }, UNSCOPED);
    expectProblem(await login(t.adminEmail, 'wrong password!', newAddress()), 401, 'unauthorized');
    const untouched = await api.orm.em.fork().findOneOrFail(User, { id: user.id }, { ...UNSCOPED, populate: ['passwordHash'] });
    expect(untouched.passwordHash).toBe(weak);
  });
});

describe('addressGroup', () => {
  it('counts IPv4 as is and IPv6 by its /64', () => {
    expect(addressGroup('203.0.113.7')).toBe('203.0.113.7');
    expect(addressGroup('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressGroup('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('2001:0db8:0001:0002:ffff::1')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressGroup('::1')).toBe('0:0:0:0::/64');
    expect(addressGroup('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressGroup('::ffff:1.2.3.4:5')).toBe('::ffff:1.2.3.4:5');
  });
});
