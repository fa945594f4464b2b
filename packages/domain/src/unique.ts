import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { DomainError } from '@parley/core';

/**
 * Runs a write whose uniqueness the database decides; a violation of the named constraint becomes
 * the given domain error. Read-then-write checks race, unique indexes do not.
 */
export async function uniqueOr<T>(write: () => Promise<T>, constraint: string, error: () => DomainError): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException && String(err.message).includes(constraint)) throw error();
    throw err;
  }
}
