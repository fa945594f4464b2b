import type { EntityManager } from '@mikro-orm/postgresql';
import type { DomainError, Logger } from '@parley/core';

/** What every request carries through the middleware chain. */
export interface AppState {
  requestId: string;
  log: Logger;
  em: EntityManager;
  organizationId?: string;
  /** Parsed JSON body (undefined when the request had none). */
  body?: unknown;
  /** Why the body could not be used (not JSON); raised by the route once the caller is known. */
  bodyError?: DomainError;
  /** The exact bytes received, for signature checks (Meta webhooks). */
  rawBody?: Buffer;
}
