import { expect } from 'vitest';
import jwt from 'jsonwebtoken';
import type { Answer, TestApi } from '../../../test/support/api';
import { TEST_SECRETS } from '../../../test/support/api';

/** Asserts an RFC 9457 problem answer with the contract's stable `code`. */
export function expectProblem(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.body?.code }).toEqual({ status, code });
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(answer.body.status).toBe(status);
  expect(typeof answer.body.title).toBe('string');
  expect(typeof answer.body.detail).toBe('string');
  expect(answer.body.type).toBe(`urn:parley:problem:${code}`);
}

/** The problem's fields that must not vary between two answers that may not be told apart. */
export function problemShape(answer: Answer): unknown {
  const { instance: _instance, ...rest } = answer.body ?? {};
  return { status: answer.status, body: rest, authenticate: answer.headers.get('www-authenticate') };
}

/** `select count(*)::int as n ...` straight from the database, past every tenant filter. */
export async function countRows(api: TestApi, sql: string, params: unknown[]): Promise<number> {
  const rows = await api.orm.em.fork().getConnection().execute<{ n: number }[]>(sql, params);
  return rows[0]?.n ?? Number.NaN;
}

export type Claims = Record<string, unknown>;

/** The claims of one of our access tokens, as issued. */
export function claimsOf(token: string): Claims {
  const decoded = jwt.decode(token, { complete: true });
  if (!decoded || typeof decoded.payload === 'string') throw new Error('not a JWT');
  return { ...decoded.payload };
}

export function headerOf(token: string): jwt.JwtHeader {
  const decoded = jwt.decode(token, { complete: true });
  if (!decoded) throw new Error('not a JWT');
  return decoded.header;
}

/**
 * Signs arbitrary claims as the API would (same secret, algorithm and key id unless overridden), to
 * build tokens that differ from a real one in exactly one respect.
 */
export function forge(
  api: TestApi,
  claims: Claims,
  options: { secret?: string; kid?: string; algorithm?: jwt.Algorithm } = {},
): string {
  return jwt.sign(claims, options.secret ?? TEST_SECRETS.JWT_SECRET, {
    algorithm: options.algorithm ?? 'HS256',
    keyid: options.kid ?? api.config.jwt.keyId,
  });
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An unsigned `alg: none` token, built by hand since jsonwebtoken refuses to make one with a kid. */
export function unsigned(header: Record<string, unknown>, claims: Claims): string {
  return `${b64url(header)}.${b64url(claims)}.`;
}

export const HOUR = 60 * 60 * 1000;
export const DAY = 24 * HOUR;
