import { isIPv6 } from 'node:net';
import type { EntityManager } from '@mikro-orm/postgresql';
import { RetryLaterError, sha256Hex, UnauthorizedError } from '@parley/core';
import { sqlRunner } from './sql';
import type { TokenPair, TokenService } from './tokens';
import { normalizeEmail, type UserService } from './users';

export const SIGN_IN_WINDOW_SECONDS = 15 * 60;

/**
 * Failed attempts allowed per fixed window of SIGN_IN_WINDOW_SECONDS. Per account, so guessing
 * one password is slow from anywhere; per client address, so spraying many accounts is slow too.
 * Refresh tokens cannot be guessed, so their limits only stop runaway clients and floods.
 */
export const SIGN_IN_LIMITS = {
  'login:account': 10,
  'login:address': 50,
  'refresh:holder': 20,
  'refresh:address': 100,
} as const;

type ThrottleKind = keyof typeof SIGN_IN_LIMITS;

interface ThrottleKey {
  kind: ThrottleKind;
  key: string;
}

/**
 * The address attempts are counted against: IPv4 as is (also when IPv4-mapped), IPv6 by its /64,
 * because one subscriber usually holds a whole /64 and could otherwise rotate through it.
 */
export function addressGroup(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  const bare = ip.split('%')[0]!;
  if (!isIPv6(bare)) return ip;
  const [head = '', tail] = bare.split('::');
  const groups = (part: string) => (part ? part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${all.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

/**
 * Counts sign-in attempts in PostgreSQL, so the limits hold across every API process. An attempt
 * is counted before any password is checked (concurrent guesses cannot all slip under the limit)
 * and given back unless the credentials were checked and wrong. A success gives back only its
 * own attempt: it never clears the failures counted before it.
 */
export class SignInThrottle {
  async guard<T>(em: EntityManager, keys: ThrottleKey[], work: () => Promise<T>): Promise<T> {
    // One order for every statement, so two of them never wait on each other's rows.
    const rows = keys
      .map((k) => ({ kind: k.kind, key: sha256Hex(k.key) }))
      .sort((a, b) => (a.kind + a.key < b.kind + b.key ? -1 : 1));
    await this.count(em, rows);
    try {
      const result = await work();
      await this.giveBack(em, rows);
      return result;
    } catch (err) {
      if (!(err instanceof UnauthorizedError)) await this.giveBack(em, rows);
      throw err;
    }
  }

  private async count(em: EntityManager, rows: ThrottleKey[]): Promise<void> {
    const counted = await sqlRunner(em).all<{ kind: ThrottleKind; attempts: number; seconds_left: number }>(
      `insert into sign_in_attempts as a (kind, key, attempts, window_ends_at)
       values ${rows.map(() => `(?, ?, 1, now() + ?::int * interval '1 second')`).join(', ')}
       on conflict (kind, key) do update set
         attempts = case when a.window_ends_at <= now() then 1 else a.attempts + 1 end,
         window_ends_at = case when a.window_ends_at <= now() then excluded.window_ends_at else a.window_ends_at end
       returning a.kind, a.attempts, extract(epoch from a.window_ends_at - now())::float8 as seconds_left`,
      rows.flatMap((r) => [r.kind, r.key, SIGN_IN_WINDOW_SECONDS]),
    );
    const over = counted.filter((c) => c.attempts > SIGN_IN_LIMITS[c.kind]);
    if (over.length) {
      // A refused attempt checked nothing: it costs no key anything, so a blocked address
      // cannot lock out the accounts tried from it.
      await this.giveBack(em, rows);
      throw new RetryLaterError(
        429,
        'too_many_requests',
        'Too many failed sign-in attempts; try again later.',
        Math.max(...over.map((c) => c.seconds_left)),
      );
    }
  }

  private async giveBack(em: EntityManager, rows: ThrottleKey[]): Promise<void> {
    // One row per statement: a give-back never holds one row while waiting for another.
    for (const r of rows) {
      await sqlRunner(em).run(
        `update sign_in_attempts set attempts = attempts - 1
         where kind = ? and key = ? and window_ends_at > now() and attempts > 0`,
        [r.kind, r.key],
      );
    }
  }
}

/** Login and token refresh, each behind its attempt limits. */
export class SignInService {
  constructor(
    private readonly users: UserService,
    private readonly tokens: TokenService,
    private readonly throttle = new SignInThrottle(),
  ) {}

  /** Unknown emails are counted exactly like known ones, so a 429 tells nothing about which exist. */
  login(em: EntityManager, email: string, password: string, clientIp: string): Promise<TokenPair> {
    return this.throttle.guard(
      em,
      [
        { kind: 'login:account', key: normalizeEmail(email) },
        { kind: 'login:address', key: addressGroup(clientIp) },
      ],
      () => this.users.login(em, email, password),
    );
  }

  async refresh(em: EntityManager, presented: string, clientIp: string): Promise<TokenPair> {
    const [holder] = await sqlRunner(em).all<{ holder: string }>(
      `select f.subject_kind || ':' || f.subject_id as holder
       from refresh_tokens r join token_families f on f.id = r.family_id where r.token_hash = ?`,
      [sha256Hex(presented)],
    );
    const keys: ThrottleKey[] = [{ kind: 'refresh:address', key: addressGroup(clientIp) }];
    if (holder) keys.push({ kind: 'refresh:holder', key: holder.holder });
    return this.throttle.guard(em, keys, () => this.tokens.refresh(em, presented));
  }
}
