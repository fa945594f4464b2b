import type { Config } from '@parley/config';
import { SecretBox } from '@parley/core';
import { type ApplyDestinationPort, BroadcastSender, ChatbotConnector, ChannelService, type GraphPort, queueMessage, type SendPort, undispatchedDestination, WebhookHttpClient } from '@parley/domain';
import type { Client } from '@temporalio/client';
import { type AssistantActivityDeps, createAssistantActivities } from './assistant';
import { createBroadcastActivities } from './broadcasts';
import { createMaintenanceActivities, type MaintenanceDeps } from './maintenance';
import { createRoutingActivities } from './routing';
import { createTemplateActivities } from './templates';

export interface ActivityDeps extends MaintenanceDeps {
  config: Config;
  graph: GraphPort & SendPort;
  /** A client of the worker's Temporal namespace, to start workflows from activities. */
  temporal?: Client | undefined;
  /** Aborted when the worker process begins to shut down. */
  stopping?: AbortSignal | undefined;
  assistantModel?: AssistantActivityDeps['assistantModel'];
  /** The routing dispatcher's `applyDestination`, for trees that reach a final destination. */
  applyDestination?: ApplyDestinationPort | undefined;
  /** Trees' URL requests; by default one under the configured partner-webhook rules. */
  routingHttp?: WebhookHttpClient | undefined;
  /** Bots' requests; by default a connector with the routing HTTP client and the configured public URL. */
  chatbots?: ChatbotConnector | undefined;
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
    ...routingActivities(deps),
  };
}

function routingActivities(deps: ActivityDeps) {
  const routingHttp = deps.routingHttp ?? new WebhookHttpClient({ policy: { allowInsecure: deps.config.allowInsecureWebhooks } });
  const applyDestination = deps.applyDestination ?? undispatchedDestination;
  const chatbots =
    deps.chatbots ??
    new ChatbotConnector({
      orm: deps.orm,
      clock: deps.clock,
      logger: deps.logger.child({ component: 'chatbots' }),
      http: routingHttp,
      secrets: new SecretBox(deps.config.encryptionKey),
      callbackBaseUrl: deps.config.publicUrl ?? '',
      applyDestination,
    });
  return createRoutingActivities({ ...deps, routingHttp, applyDestination, chatbots });
}

export type Activities = ReturnType<typeof createActivities>;
