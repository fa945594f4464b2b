import { AppSchema } from './app';
import { IdempotencyRecordSchema } from './idempotency';
import { InstallationSchema } from './installation';
import { OrganizationSchema } from './organization';
import { RefreshTokenSchema, TokenFamilySchema } from './token';
import { UserSchema } from './user';

export * from './app';
export * from './idempotency';
export * from './installation';
export * from './organization';
export * from './token';
export * from './user';

export const entities = [
  OrganizationSchema,
  UserSchema,
  AppSchema,
  InstallationSchema,
  TokenFamilySchema,
  RefreshTokenSchema,
  IdempotencyRecordSchema,
];
