import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock, Logger } from '@parley/core';
import type { PhoneNumberDirectory } from './directory';
import { phoneNumberIdsOf, type MetaWebhookPayload } from './payload';

/**
 * The webhook's only job before answering: store the delivery durably, once, as received. It is
 * one insert; everything else happens in the processor, which `stored` wakes.
 */
export class MetaWebhookIngest {
  constructor(
    private readonly orm: MikroORM,
    private readonly directory: PhoneNumberDirectory,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly stored: () => void,
  ) {}

  async ingest(payload: MetaWebhookPayload, raw: string): Promise<{ stored: boolean }> {
    const ids = phoneNumberIdsOf(payload);
    const routes = ids.length ? await this.directory.resolve(ids) : new Map();
    if (routes.size === 0) {
      this.logger.warn({ phoneNumberIds: ids, object: payload.object }, 'meta delivery for no known phone number id; not stored');
      return { stored: false };
    }
    await this.orm.em
      .fork()
      .getConnection()
      .execute('insert into meta_webhook_deliveries (received_at, payload) values (?, ?::jsonb)', [this.clock.now(), raw], 'run');
    this.stored();
    return { stored: true };
  }
}
