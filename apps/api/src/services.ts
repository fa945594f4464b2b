import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '@parley/config';
import { type Clock, type Logger, SecretBox } from '@parley/core';
import {
  AppService,
  ChannelService,
  ConversationService,
  type GraphPort,
  graphClientFor,
  InstallationService,
  MessagingService,
  OrganizationSettingsService,
  MetaInboundProcessor,
  MetaWebhookIngest,
  OrganizationService,
  PhoneNumberDirectory,
  TokenService,
  UserService,
} from '@parley/domain';
import { IdempotencyService } from './http/idempotency';

export interface Services {
  tokens: TokenService;
  organizations: OrganizationService;
  users: UserService;
  apps: AppService;
  installations: InstallationService;
  idempotency: IdempotencyService;
  channels: ChannelService;
  conversations: ConversationService;
  messaging: MessagingService;
  organizationSettings: OrganizationSettingsService;
  metaIngest: MetaWebhookIngest;
  /** Runs in the worker process; the API holds one only so tests can apply deliveries on demand. */
  metaProcessor: MetaInboundProcessor;
}

export interface ServiceDeps {
  config: Config;
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
  /** Tests may hand in their own Graph API; by default the client of META_GRAPH_URL. */
  graph?: GraphPort;
}

export function createServices(deps: ServiceDeps): Services {
  const tokens = new TokenService(deps.config, deps.clock);
  const apps = new AppService();
  const graph = deps.graph ?? graphClientFor(deps.config, deps.logger);
  const secrets = new SecretBox(deps.config.encryptionKey);
  const directory = new PhoneNumberDirectory(deps.orm);
  const channels = new ChannelService(graph, secrets, deps.clock, directory);
  const conversations = new ConversationService(channels, graph, deps.clock);
  const metaProcessor = new MetaInboundProcessor(deps.orm, directory, deps.clock, deps.logger.child({ component: 'meta-inbound' }));
  return {
    tokens,
    organizations: new OrganizationService(),
    users: new UserService(tokens),
    apps,
    installations: new InstallationService(apps, tokens, deps.clock),
    idempotency: new IdempotencyService(deps.orm, deps.clock),
    channels,
    conversations,
    messaging: new MessagingService(deps.clock, conversations),
    organizationSettings: new OrganizationSettingsService(deps.clock),
    metaIngest: new MetaWebhookIngest(deps.orm, directory, deps.clock, deps.logger.child({ component: 'meta-webhook' })),
    metaProcessor,
  };
}
