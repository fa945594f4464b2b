import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '@parley/config';
import {
  type Clock,
  constantTimeEqual,
  newId,
  newOpaqueToken,
  sha256Hex,
  UnauthorizedError,
} from '@parley/core';
import { RefreshToken, TokenFamily, UNSCOPED, type User } from '@parley/db';
import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { type Principal, type Scope, SCOPES, scopesForRole, type TenantPrincipal } from './access';
import { sqlRunner } from './sql';

const DAY = 24 * 60 * 60;

/** Lifetimes in seconds. Partner lifetimes are fixed by the contract. */
export const TOKEN_TTL = {
  installationAccess: 30 * DAY,
  installationRefresh: 90 * DAY,
  userAccess: 60 * 60,
  userRefresh: 30 * DAY,
} as const;

const ALGORITHM = 'HS256' as const;

interface AccessClaims {
  iss: string;
  aud: string;
  sub: string;
  org: string;
  kind: 'user' | 'installation';
  fam: string;
  scope: string;
  exp: number;
  iat: number;
  jti: string;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  refreshExpiresIn: number;
  tokenType: 'Bearer';
}

export type TokenSubject =
  | { kind: 'user'; organizationId: string; userId: string; role: 'admin' | 'agent' }
  | { kind: 'installation'; organizationId: string; installationId: string; scopes: readonly Scope[] };

/**
 * Issues and checks every bearer credential: the operator's static token, users' and partners'
 * JWT access tokens, and opaque rotating refresh tokens.
 */
export class TokenService {
  /**
   * The signing secret as a key object, made once: given a string, jsonwebtoken first tries it as
   * a public key and fails with an exception on every call, which cost more than the HMAC itself.
   */
  private readonly key: KeyObject;

  constructor(
    private readonly config: Pick<Config, 'jwt' | 'platformAdminToken'>,
    private readonly clock: Clock,
  ) {
    this.key = createSecretKey(Buffer.from(config.jwt.secret, 'utf8'));
  }

  private nowSeconds(): number {
    return Math.floor(this.clock.now().getTime() / 1000);
  }

  private signAccess(subject: TokenSubject, familyId: string, ttl: number): string {
    const iat = this.nowSeconds();
    const scopes = subject.kind === 'user' ? scopesForRole(subject.role) : subject.scopes;
    const claims = {
      org: subject.organizationId,
      kind: subject.kind,
      fam: familyId,
      scope: scopes.join(' '),
      iat,
      exp: iat + ttl,
    };
    return jwt.sign(claims, this.key, {
      algorithm: ALGORITHM,
      keyid: this.config.jwt.keyId,
      issuer: this.config.jwt.issuer,
      audience: this.config.jwt.audience,
      subject: subject.kind === 'user' ? subject.userId : subject.installationId,
      jwtid: newId(),
    });
  }

  private ttls(kind: TokenSubject['kind']): { access: number; refresh: number } {
    return kind === 'user'
      ? { access: TOKEN_TTL.userAccess, refresh: TOKEN_TTL.userRefresh }
      : { access: TOKEN_TTL.installationAccess, refresh: TOKEN_TTL.installationRefresh };
  }

  private addRefreshToken(em: EntityManager, organizationId: string, familyId: string, ttl: number): string {
    const token = newOpaqueToken('prt');
    const now = this.clock.now();
    em.persist(new RefreshToken(organizationId, familyId, sha256Hex(token), now, new Date(now.getTime() + ttl * 1000)));
    return token;
  }

  /** Starts a new token family (a login, or a partner token grant). Flushes within `em`. */
  async issue(em: EntityManager, subject: TokenSubject): Promise<TokenPair> {
    const family = new TokenFamily(
      subject.organizationId,
      subject.kind,
      subject.kind === 'user' ? subject.userId : subject.installationId,
    );
    em.persist(family);
    const ttl = this.ttls(subject.kind);
    const refreshToken = this.addRefreshToken(em, subject.organizationId, family.id, ttl.refresh);
    await em.flush();
    return {
      accessToken: this.signAccess(subject, family.id, ttl.access),
      refreshToken,
      expiresIn: ttl.access,
      refreshExpiresIn: ttl.refresh,
      tokenType: 'Bearer',
    };
  }

  /**
   * Rotates a refresh token. The retire step is one conditional UPDATE, so of many concurrent
   * presentations exactly one succeeds; every other one is a reuse, and a reuse revokes every
   * token family of the subject, because a retired token in a second pair of hands means theft.
   * Only a token that can be rotated is retired: an expired one or one of a revoked family stays
   * as it is, so a client retrying it is refused again instead of being taken for a thief.
   */
  async refresh(rootEm: EntityManager, presented: string): Promise<TokenPair> {
    const hash = sha256Hex(presented);
    const now = this.clock.now();
    const outcome = await rootEm.fork().transactional(async (em) => {
      const retired = await em
        .getConnection()
        .execute<{ id: string; family_id: string; organization_id: string }[]>(
          `update refresh_tokens set retired_at = ?
           where token_hash = ? and retired_at is null and expires_at > ?
             and family_id in (select id from token_families where revoked_at is null)
           returning id, family_id, organization_id`,
          [now, hash, now],
          'all',
          em.getTransactionContext(),
        );
      const row = retired[0];
      if (!row) {
        const known = await em.findOne(RefreshToken, { tokenHash: hash }, UNSCOPED);
        if (!known) return { kind: 'unknown' as const };
        if (!known.retiredAt) {
          return known.expiresAt.getTime() <= now.getTime() ? { kind: 'expired' as const } : { kind: 'unknown' as const };
        }
        const family = await em.findOneOrFail(TokenFamily, { id: known.family }, UNSCOPED);
        await this.revokeSubject(em, family.subjectKind, family.subjectId, 'refresh_token_reused');
        return { kind: 'reused' as const };
      }
      const family = await this.liveFamily(em, row.family_id);
      if (!family?.subject) return { kind: 'unknown' as const };
      const { subject } = family;
      const ttl = this.ttls(subject.kind);
      const refreshToken = this.addRefreshToken(em, family.organizationId, row.family_id, ttl.refresh);
      await em.flush();
      const pair: TokenPair = {
        accessToken: this.signAccess(subject, row.family_id, ttl.access),
        refreshToken,
        expiresIn: ttl.access,
        refreshExpiresIn: ttl.refresh,
        tokenType: 'Bearer',
      };
      return { kind: 'ok' as const, pair };
    });
    switch (outcome.kind) {
      case 'ok':
        return outcome.pair;
      case 'reused':
        throw new UnauthorizedError(
          'refresh_token_reused',
          'This refresh token was already used; every token of its holder has been revoked.',
        );
      case 'expired':
        throw new UnauthorizedError('token_expired', 'The refresh token has expired.');
      case 'unknown':
        throw new UnauthorizedError('unauthorized', 'The refresh token is not valid.');
    }
  }

  /** Revokes every token family of a user or installation (uninstall, reuse detection). */
  async revokeSubject(em: EntityManager, kind: 'user' | 'installation', subjectId: string, reason: string): Promise<void> {
    await em.nativeUpdate(
      TokenFamily,
      { subjectKind: kind, subjectId, revokedAt: null },
      { revokedAt: this.clock.now(), revokedReason: reason },
      UNSCOPED,
    );
  }

  /**
   * A token family that is not revoked, with its subject while that is live (a user not disabled,
   * an installation still active; else `subject` is undefined), in one prepared statement: every
   * authenticated request and every refresh asks it.
   */
  private async liveFamily(
    em: EntityManager,
    familyId: string,
  ): Promise<{ organizationId: string; subjectKind: string; subjectId: string; subject: TokenSubject | undefined; appId: string | null } | undefined> {
    const [row] = await sqlRunner(em).prepared<{
      organization_id: string;
      subject_kind: string;
      subject_id: string;
      user_role: User['role'] | null;
      installation_scopes: string[] | null;
      installation_app_id: string | null;
    }>(
      `select f.organization_id, f.subject_kind, f.subject_id, u.role as user_role, i.scopes as installation_scopes, i.app_id as installation_app_id
         from token_families f
         left join users u on f.subject_kind = 'user' and u.id = f.subject_id and u.organization_id = f.organization_id and u.disabled_at is null
         left join installations i on f.subject_kind = 'installation' and i.id = f.subject_id and i.organization_id = f.organization_id and i.status = 'active'
        where f.id = ?::uuid and f.revoked_at is null`,
      [familyId],
    );
    if (!row) return undefined;
    const family = { organizationId: row.organization_id, subjectKind: row.subject_kind, subjectId: row.subject_id, appId: row.installation_app_id };
    if (row.subject_kind === 'user') {
      return { ...family, subject: row.user_role ? { kind: 'user', organizationId: row.organization_id, userId: row.subject_id, role: row.user_role } : undefined };
    }
    const scopes = row.installation_scopes?.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
    return { ...family, subject: scopes && row.installation_app_id ? { kind: 'installation', organizationId: row.organization_id, installationId: row.subject_id, scopes } : undefined };
  }

  /**
   * Resolves a bearer token to a principal. The JWT is checked with a pinned algorithm, issuer,
   * audience and key id; then its family and subject are read, so revocation takes effect on the
   * very next request.
   */
  async authenticate(em: EntityManager, bearer: string): Promise<Principal> {
    if (constantTimeEqual(bearer, this.config.platformAdminToken)) return { kind: 'operator' };
    const claims = this.verifyAccess(bearer);
    const family = await this.liveFamily(em, claims.fam);
    if (!family?.subject || family.organizationId !== claims.org || family.subjectKind !== claims.kind || family.subjectId !== claims.sub) {
      throw new UnauthorizedError('unauthorized', 'The token has been revoked.');
    }
    const { subject } = family;
    if (subject.kind === 'user') return { ...subject, scopes: scopesForRole(subject.role), familyId: claims.fam };
    // A token never carries more than the installation holds now, nor more than it was issued with.
    const issued = new Set(claims.scope.split(' '));
    return {
      kind: 'installation',
      organizationId: subject.organizationId,
      installationId: subject.installationId,
      appId: family.appId!, // an installation is live only with its app (liveFamily)
      scopes: subject.scopes.filter((s) => issued.has(s)),
      familyId: claims.fam,
    };
  }

  private verifyAccess(token: string): AccessClaims {
    const decoded = jwt.decode(token, { complete: true });
    if (!decoded || typeof decoded.payload === 'string' || decoded.header.kid !== this.config.jwt.keyId) {
      throw new UnauthorizedError();
    }
    try {
      const claims = jwt.verify(token, this.key, {
        algorithms: [ALGORITHM],
        issuer: this.config.jwt.issuer,
        audience: this.config.jwt.audience,
        clockTimestamp: this.nowSeconds(),
      }) as Partial<AccessClaims>;
      if (
        typeof claims.sub !== 'string' ||
        typeof claims.org !== 'string' ||
        typeof claims.fam !== 'string' ||
        typeof claims.scope !== 'string' ||
        (claims.kind !== 'user' && claims.kind !== 'installation')
      ) {
        throw new UnauthorizedError();
      }
      return claims as AccessClaims;
    } catch (err) {
      if (err instanceof jwt.TokenExpiredError) {
        throw new UnauthorizedError('token_expired', 'The access token has expired.');
      }
      throw new UnauthorizedError();
    }
  }
}

export type { TenantPrincipal };
