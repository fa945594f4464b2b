import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock, Logger } from '@parley/core';
import { IdempotencyRecord, RefreshToken, UNSCOPED } from '@parley/db';
import { purgeWebhookHistory, sqlRunner } from '@parley/domain';

export interface MaintenanceDeps {
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
}

/** Refresh tokens are kept a while past expiry so a late reuse is still recognised as one. */
const REFRESH_TOKEN_GRACE_MS = 7 * 24 * 60 * 60 * 1000;

export function createMaintenanceActivities(deps: MaintenanceDeps) {
  return {
    /**
     * Deletes idempotency records past their 24 hours, long-expired refresh tokens, ended sign-in
     * windows, and events and webhook deliveries past their 30 days.
     */
    async purgeExpiredRecords(): Promise<{
      idempotencyKeys: number;
      refreshTokens: number;
      signInWindows: number;
      webhookDeliveries: number;
      domainEvents: number;
    }> {
      const em = deps.orm.em.fork();
      const now = deps.clock.now();
      const idempotencyKeys = await em.nativeDelete(IdempotencyRecord, { expiresAt: { $lte: now } });
      const refreshTokens = await em.nativeDelete(
        RefreshToken,
        { expiresAt: { $lte: new Date(now.getTime() - REFRESH_TOKEN_GRACE_MS) } },
        UNSCOPED,
      );
      // Sign-in windows run on the database's clock, which every API process shares.
      const signInWindows = await em.getConnection().execute<{ affectedRows: number }>(
        'delete from sign_in_attempts where window_ends_at <= now()',
        [],
        'run',
      );
      const webhooks = await purgeWebhookHistory(sqlRunner(em), now);
      const purged = {
        idempotencyKeys,
        refreshTokens,
        signInWindows: signInWindows.affectedRows,
        webhookDeliveries: webhooks.deliveries,
        domainEvents: webhooks.events,
      };
      deps.logger.info(purged, 'purged expired records');
      return purged;
    },
  };
}
