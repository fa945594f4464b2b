import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '@parley/config';
import { type Clock, type Logger, PasswordHasher, SecretBox } from '@parley/core';
import {
  type ApplyDestinationPort,
  AssistantControlService,
  ChatbotConnector,
  AssistantSettingsService,
  AppService,
  BroadcastService,
  type BroadcastStarter,
  broadcastWorkflowId,
  ChannelService,
  ConversationService,
  type GraphPort,
  graphClientFor,
  InboundFailureService,
  InstallationService,
  MessagingService,
  OrganizationSettingsService,
  MetaInboundProcessor,
  MissedChatService,
  MetaWebhookIngest,
  OrganizationService,
  PhoneNumberDirectory,
  QueueService,
  applyDestinationPort,
  RoutingDispatcher,
  RoutingDryRunService,
  RoutingService,
  routingRuntime,
  queueMessage,
  type Resolver,
  SignInService,
  temporalChatbotStarter,
  temporalTreeStarter,
  TokenService,
  UserService,
  WebhookDeliveryService,
  WebhookHttpClient,
  WebhookSubscriptionService,
} from '@parley/domain';
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { IdempotencyService } from './http/idempotency';

export interface Services {
  tokens: TokenService;
  organizations: OrganizationService;
  users: UserService;
  signIn: SignInService;
  apps: AppService;
  installations: InstallationService;
  idempotency: IdempotencyService;
  channels: ChannelService;
  conversations: ConversationService;
  broadcasts: BroadcastService;
  messaging: MessagingService;
  organizationSettings: OrganizationSettingsService;
  metaIngest: MetaWebhookIngest;
  /** Runs in the worker process; the API holds one only so tests can apply deliveries on demand. */
  metaProcessor: MetaInboundProcessor;
  inboundFailures: InboundFailureService;
  webhooks: WebhookSubscriptionService;
  webhookDeliveries: WebhookDeliveryService;
  assistantSettings: AssistantSettingsService;
  assistantControl: AssistantControlService;
  routing: RoutingService;
  routingDryRun: RoutingDryRunService;
  missedChats: MissedChatService;
  queues: QueueService;
  /** The routing dispatcher's `applyDestination` as the API wires it (trees start through Temporal). */
  applyDestination: ApplyDestinationPort;
  /** Chatbot connectors' callbacks (docs/routing.md). */
  chatbots: ChatbotConnector;
}

export interface ServiceDeps {
  config: Config;
  orm: MikroORM;
  clock: Clock;
  logger: Logger;
  /** Tests may hand in their own Graph API; by default the client of META_GRAPH_URL. */
  graph?: GraphPort;
  /** The API's Temporal client; broadcasts need it. */
  temporal?: Client | undefined;
  /** Tests resolve webhook hosts themselves, so no test ever looks up or reaches a real address. */
  webhookResolver?: Resolver;
  /** Overrides the routing dispatcher's `applyDestination` a bot's transfer goes through (tests). */
  applyDestination?: ApplyDestinationPort | undefined;
}

export function createServices(deps: ServiceDeps): Services {
  const tokens = new TokenService(deps.config, deps.clock);
  const graph = deps.graph ?? graphClientFor(deps.config, deps.logger);
  const secrets = new SecretBox(deps.config.encryptionKey);
  const passwords = new PasswordHasher(deps.config.passwordHashCost);
  const users = new UserService(tokens, passwords);
  const directory = new PhoneNumberDirectory(deps.orm);
  const channels = new ChannelService(graph, secrets, deps.clock, directory);
  const conversations = new ConversationService(channels, graph, deps.clock);
  const webhookPolicy = { allowInsecure: deps.config.allowInsecureWebhooks, ...(deps.webhookResolver ? { resolver: deps.webhookResolver } : {}) };
  const apps = new AppService(webhookPolicy);
  const messaging = new MessagingService(deps.clock, conversations);
  const chatbotDeps = {
    orm: deps.orm,
    clock: deps.clock,
    logger: deps.logger.child({ component: 'chatbots' }),
    http: new WebhookHttpClient({ policy: webhookPolicy }),
    secrets,
    callbackBaseUrl: deps.config.publicUrl ?? '',
  };
  // A bot's transfer is applied here; a destination that starts a tree starts it on the worker's
  // task queue, as the worker does. Without a Temporal client (some tests) trees cannot start and
  // the dispatcher says so.
  const applyDestination =
    deps.applyDestination ??
    (deps.temporal
      ? routingRuntime({
          orm: deps.orm,
          clock: deps.clock,
          trees: temporalTreeStarter(deps.temporal, deps.config.temporal.taskQueue),
          chatbotWorkflows: temporalChatbotStarter(deps.temporal, deps.config.temporal.taskQueue),
          chatbot: chatbotDeps,
        }).applyDestination
      : applyDestinationPort(deps.orm, new RoutingDispatcher(deps.clock, null)));
  const metaProcessor = new MetaInboundProcessor(deps.orm, directory, deps.clock, deps.logger.child({ component: 'meta-inbound' }));
  return {
    tokens,
    organizations: new OrganizationService(passwords),
    users,
    signIn: new SignInService(users, tokens),
    apps,
    installations: new InstallationService(apps, tokens, deps.clock),
    idempotency: new IdempotencyService(deps.orm, deps.clock),
    channels,
    conversations,
    broadcasts: new BroadcastService(deps.clock, temporalStarter(deps.config, deps.temporal), deps.logger.child({ component: 'broadcasts' })),
    messaging,
    organizationSettings: new OrganizationSettingsService(deps.clock),
    metaIngest: new MetaWebhookIngest(deps.orm, directory, deps.clock, deps.logger.child({ component: 'meta-webhook' })),
    metaProcessor,
    inboundFailures: new InboundFailureService(metaProcessor),
    webhooks: new WebhookSubscriptionService(secrets, new WebhookHttpClient({ policy: webhookPolicy }), webhookPolicy, deps.clock),
    webhookDeliveries: new WebhookDeliveryService(deps.clock),
    assistantSettings: new AssistantSettingsService(deps.config, deps.clock),
    assistantControl: new AssistantControlService(queueMessage, deps.clock),
    routing: new RoutingService(deps.clock, webhookPolicy),
    routingDryRun: new RoutingDryRunService(deps.clock),
    missedChats: new MissedChatService(deps.clock),
    queues: new QueueService(deps.clock, messaging),
    applyDestination,
    chatbots: new ChatbotConnector({ ...chatbotDeps, applyDestination }),
  };
}

/** Broadcast workflows are keyed by organization and broadcast, so a second start is a no-op. */
function temporalStarter(config: Config, client: Client | undefined): BroadcastStarter {
  return {
    async start(organizationId, broadcastId) {
      if (!client) throw new Error('Broadcasts need Temporal: TEMPORAL_ADDRESS is not configured');
      try {
        await client.workflow.start('broadcastWorkflow', {
          taskQueue: config.temporal.taskQueue,
          workflowId: broadcastWorkflowId(organizationId, broadcastId),
          args: [{ organizationId, broadcastId }],
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    },
  };
}
