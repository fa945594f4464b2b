import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock, Logger } from '@parley/core';
import { IdempotencyRecord, RefreshToken, UNSCOPED } from '@parley/db';

export interface MaintenanceDeps {
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
}

/** Refresh tokens are kept a while past expiry so a late reuse is still recognised as one. */
const REFRESH_TOKEN_GRACE_MS = 7 * 24 * 60 * 60 * 1000;

export function createMaintenanceActivities(deps: MaintenanceDeps) {
  return {
    /** Deletes idempotency records past their 24 hours and long-expired refresh tokens. */
    async purgeExpiredRecords(): Promise<{ idempotencyKeys: number; refreshTokens: number }> {
      const em = deps.orm.em.fork();
      const now = deps.clock.now();
      const idempotencyKeys = await em.nativeDelete(IdempotencyRecord, { expiresAt: { $lte: now } });
      const refreshTokens = await em.nativeDelete(
        RefreshToken,
        { expiresAt: { $lte: new Date(now.getTime() - REFRESH_TOKEN_GRACE_MS) } },
        UNSCOPED,
      );
      deps.logger.info({ idempotencyKeys, refreshTokens }, 'purged expired records');
      return { idempotencyKeys, refreshTokens };
    },
  };
}
