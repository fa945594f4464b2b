import type { Config } from '@parley/config';
import { SecretBox } from '@parley/core';
import { ChannelService, type GraphPort } from '@parley/domain';
import { createMaintenanceActivities, type MaintenanceDeps } from './maintenance';
import { createTemplateActivities } from './templates';

export interface ActivityDeps extends MaintenanceDeps {
  config: Config;
  graph: GraphPort;
}

/** Activities are built from their dependencies, so tests hand in their own database, clock and Graph API. */
export function createActivities(deps: ActivityDeps) {
  const channels = new ChannelService(deps.graph, new SecretBox(deps.config.encryptionKey), deps.clock);
  return {
    ...createMaintenanceActivities(deps),
    ...createTemplateActivities({ ...deps, channels }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
