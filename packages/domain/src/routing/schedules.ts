import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock, Logger } from '@parley/core';
import { PollingJob } from '../polling';
import { sqlRunner } from '../sql';
import { promoteDueSchedules } from './versions';

/**
 * Makes scheduled applies live when their time comes, for every organization. Reading the live
 * routing promotes a due schedule too, so this poller only keeps versions (and the version list)
 * current for organizations that nothing reads at that moment.
 */
export class RoutingSchedulePoller extends PollingJob {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    logger: Logger,
    options: { pollMs?: number } = {},
  ) {
    super(logger, options.pollMs ?? 5_000, 'routing schedule promotion');
  }

  async drain(): Promise<number> {
    let total = 0;
    while (!this.stopping) {
      const n = await this.orm.em.fork().transactional((tx) => promoteDueSchedules(sqlRunner(tx), this.clock.now()));
      total += n;
      if (n < 100) break;
    }
    return total;
  }
}
