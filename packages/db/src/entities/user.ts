import { EntitySchema } from '@mikro-orm/core';
import { newId } from '@parley/core';
import { organizationProperty } from './tenant';

export const USER_ROLES = ['admin', 'agent'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export class User {
  id: string = newId();
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
  disabledAt?: Date | null = null;

  constructor(
    public organization: string,
    public email: string,
    public name: string,
    public role: UserRole,
    public passwordHash: string,
  ) {}
}

export const UserSchema = new EntitySchema<User>({
  class: User,
  tableName: 'users',
  properties: {
    id: { type: 'uuid', primary: true },
    organization: organizationProperty,
    // Login takes only an email, so an email identifies one user across the platform.
    email: { type: 'text', unique: 'users_email_unique' },
    name: { type: 'text' },
    role: { type: 'text' },
    passwordHash: { type: 'text', fieldName: 'password_hash', hidden: true, lazy: true },
    disabledAt: { type: 'timestamptz', fieldName: 'disabled_at', nullable: true },
    createdAt: { type: 'timestamptz', fieldName: 'created_at' },
    updatedAt: { type: 'timestamptz', fieldName: 'updated_at', onUpdate: () => new Date() },
  },
});
