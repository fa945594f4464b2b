import type { Config } from '@parley/config';
import { SecretBox } from '@parley/core';
import { BroadcastSender, ChannelService, type GraphPort, queueMessage, type SendPort } from '@parley/domain';
import type { Client } from '@temporalio/client';
import { type AssistantActivityDeps, createAssistantActivities } from './assistant';
import { createBroadcastActivities } from './broadcasts';
import { createMaintenanceActivities, type MaintenanceDeps } from './maintenance';
import { createTemplateActivities } from './templates';

export interface ActivityDeps extends MaintenanceDeps {
  config: Config;
  graph: GraphPort & SendPort;
  /** A client of the worker's Temporal namespace, to start workflows from activities. */
  temporal?: Client | undefined;
  /** Aborted when the worker process begins to shut down. */
  stopping?: AbortSignal | undefined;
  assistantModel?: AssistantActivityDeps['assistantModel'];
}

/** Activities are built from their dependencies, so tests hand in their own database, clock and Graph API. */
export function createActivities(deps: ActivityDeps) {
  const channels = new ChannelService(deps.graph, new SecretBox(deps.config.encryptionKey), deps.clock);
  const sender = new BroadcastSender(deps.orm, deps.graph, deps.config.encryptionKey, deps.clock, deps.logger.child({ component: 'broadcast' }));
  return {
    ...createMaintenanceActivities(deps),
    ...createTemplateActivities({ ...deps, channels }),
    ...createBroadcastActivities({ ...deps, sender, taskQueue: deps.config.temporal.taskQueue }),
    ...createAssistantActivities({ ...deps, send: queueMessage }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
