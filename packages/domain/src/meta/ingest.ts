import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock, Logger } from '@parley/core';
import { GroupWriter } from './batcher';
import type { PhoneNumberDirectory } from './directory';
import { phoneNumberIdsOf, type MetaWebhookPayload } from './payload';

/**
 * The webhook's only job before answering: store the delivery durably, once, as received. It is
 * one insert; everything else happens in the processor (in the worker process), which polls for
 * pending deliveries, so the API's event loop spends nothing on it.
 */
export class MetaWebhookIngest {
  private readonly writer: GroupWriter<{ receivedAt: Date; raw: string }>;

  constructor(
    private readonly orm: MikroORM,
    private readonly directory: PhoneNumberDirectory,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.writer = new GroupWriter(async (rows) => {
      await this.orm.em
        .fork()
        .getConnection()
        .execute(
          `insert into meta_webhook_deliveries (received_at, payload) values ${rows.map(() => '(?, ?::jsonb)').join(', ')}`,
          rows.flatMap((r) => [r.receivedAt, r.raw]),
          'run',
        );
    });
  }

  async ingest(payload: MetaWebhookPayload, raw: string): Promise<{ stored: boolean }> {
    const ids = phoneNumberIdsOf(payload);
    const routes = ids.length ? await this.directory.resolve(ids) : new Map();
    if (routes.size === 0) {
      this.logger.warn({ phoneNumberIds: ids, object: payload.object }, 'meta delivery for no known phone number id; not stored');
      return { stored: false };
    }
    // Resolves only after the commit that holds this delivery: the 200 is never ahead of the disk.
    await this.writer.add({ receivedAt: this.clock.now(), raw });
    return { stored: true };
  }
}
