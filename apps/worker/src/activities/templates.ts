import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock, Logger } from '@parley/core';
import { Channel, scopeToOrganization, UNSCOPED } from '@parley/db';
import type { ChannelService } from '@parley/domain';
import { heartbeat } from '@temporalio/activity';

export interface TemplateSyncDeps {
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
  channels: ChannelService;
}

export function createTemplateActivities(deps: TemplateSyncDeps) {
  return {
    /**
     * Re-syncs every active channel's templates (Meta adds, approves and pauses them on its own
     * schedule). One channel failing does not stop the others; each is a heartbeat, so a worker
     * that dies mid-way is noticed and the run retried.
     */
    async syncAllTemplates(): Promise<{ channels: number; failed: number }> {
      const channels = await deps.orm.em.fork().find(Channel, { status: 'active' }, { ...UNSCOPED, orderBy: { id: 'asc' } });
      let failed = 0;
      for (const channel of channels) {
        heartbeat(channel.id);
        const em = deps.orm.em.fork();
        scopeToOrganization(em, channel.organization);
        try {
          await deps.channels.syncChannelTemplates(em, channel);
        } catch (err) {
          failed++;
          deps.logger.warn({ err, channelId: channel.id, organizationId: channel.organization }, 'template sync failed for a channel');
        }
      }
      return { channels: channels.length, failed };
    },
  };
}
