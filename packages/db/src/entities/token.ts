import { EntitySchema } from '@mikro-orm/core';
import { newId } from '@parley/core';
import { organizationProperty } from './tenant';

/**
 * A token family is one chain of rotations that started from a login or a token grant. Every
 * access token names its family, so revoking the family cuts off its access tokens at once.
 */
export class TokenFamily {
  id: string = newId();
  createdAt: Date = new Date();
  revokedAt?: Date | null = null;
  revokedReason?: string | null = null;

  constructor(
    public organization: string,
    public subjectKind: 'user' | 'installation',
    public subjectId: string,
  ) {}
}

export const TokenFamilySchema = new EntitySchema<TokenFamily>({
  class: TokenFamily,
  tableName: 'token_families',
  indexes: [{ properties: ['subjectKind', 'subjectId'] }],
  properties: {
    id: { type: 'uuid', primary: true },
    organization: organizationProperty,
    subjectKind: { type: 'text', fieldName: 'subject_kind' },
    subjectId: { type: 'uuid', fieldName: 'subject_id' },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
    revokedAt: { type: 'timestamptz', fieldName: 'revoked_at', nullable: true },
    revokedReason: { type: 'text', fieldName: 'revoked_reason', nullable: true },
  },
});

/** An opaque refresh token, kept only as its SHA-256. `retiredAt` marks it as spent by rotation. */
export class RefreshToken {
  id: string = newId();
  retiredAt?: Date | null = null;

  constructor(
    public organization: string,
    public family: string,
    public tokenHash: string,
    public createdAt: Date,
    public expiresAt: Date,
  ) {}
}

export const RefreshTokenSchema = new EntitySchema<RefreshToken>({
  class: RefreshToken,
  tableName: 'refresh_tokens',
  properties: {
    id: { type: 'uuid', primary: true },
    organization: organizationProperty,
    family: { kind: 'm:1', entity: () => TokenFamily, mapToPk: true, fieldName: 'family_id', deleteRule: 'cascade', index: true },
    tokenHash: { type: 'text', fieldName: 'token_hash', unique: 'refresh_tokens_hash_unique' },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
    expiresAt: { type: 'timestamptz', fieldName: 'expires_at' },
    retiredAt: { type: 'timestamptz', fieldName: 'retired_at', nullable: true },
  },
});
