import { EntitySchema } from '@mikro-orm/core';

/**
 * Failed sign-in attempts counted per account or client address in fixed windows. Kept in the
 * database so the limit holds across every API process; keys are SHA-256 of the email, subject
 * or address, so the table holds no personal data. Written only by SQL (SignInThrottle).
 */
export class SignInAttempt {
  constructor(
    public kind: string,
    public key: string,
    public attempts: number,
    public windowEndsAt: Date,
  ) {}
}

export const SignInAttemptSchema = new EntitySchema<SignInAttempt>({
  class: SignInAttempt,
  tableName: 'sign_in_attempts',
  indexes: [{ name: 'sign_in_attempts_window_ends_at', properties: ['windowEndsAt'] }],
  properties: {
    kind: { type: 'text', primary: true },
    key: { type: 'text', primary: true },
    attempts: { type: 'int' },
    windowEndsAt: { type: 'timestamptz', fieldName: 'window_ends_at' },
  },
});
