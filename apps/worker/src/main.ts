import { loadConfigOrExit } from '@parley/config';
import { createLogger, SecretBox, systemClock } from '@parley/core';
import { createOrm } from '@parley/db';
import {
  ASSISTANT_WAKE_CHANNEL,
  AssistantSignaller,
  ChatbotConnector,
  graphClientFor,
  MetaInboundProcessor,
  OutboundSender,
  PhoneNumberDirectory,
  ROUTING_INBOUND_WAKE_CHANNEL,
  ROUTING_WAKE_CHANNEL,
  RoutingRunner,
  routingRuntime,
  RoutingSchedulePoller,
  RoutingSignaller,
  WAKE_CHANNELS,
  WakeListener,
  WebhookDispatcher,
  WebhookHttpClient,
} from '@parley/domain';
import { Client } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { temporalAssistantStarter } from './activities/assistant';
import { routingMessageHandler, temporalChatbotStarter, temporalTreeStarter } from './activities/routing';
import { temporalLogger } from './logging';
import { createWorker, ensureSchedules, shutdownSignal } from './worker';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.logLevel, name: 'worker' });
if (!config.database.url || !config.temporal.address) {
  console.error('DATABASE_URL and TEMPORAL_ADDRESS must be set for the worker.');
  process.exit(78);
}

// The worker drains in-flight activities on SIGTERM/SIGINT before run() resolves.
const stopping = shutdownSignal();
Runtime.install({ shutdownSignals: ['SIGTERM', 'SIGINT'], logger: temporalLogger(logger.child({ component: 'temporal' })) });
const orm = await createOrm({ url: config.database.url, poolMax: config.database.poolMax, timeouts: config.database.timeouts });
const connection = await NativeConnection.connect({ address: config.temporal.address });
await ensureSchedules(config);
const graph = graphClientFor(config, logger);
// The client shares the worker's NativeConnection: only then can a workflow start eagerly on this
// worker (a bot session's first request skips two trips through the task queues).
const temporal = new Client({ connection, namespace: config.temporal.namespace });
const webhookHttp = new WebhookHttpClient({ policy: { allowInsecure: config.allowInsecureWebhooks } });
if (!config.publicUrl) logger.warn('PUBLIC_URL is not set: chatbot connectors are told a callback URL without a host, so bots cannot answer');
// The routing dispatcher, with trees and bots; trees and bots hand their final destinations back to it.
const routing = routingRuntime({
  orm,
  clock: systemClock,
  trees: temporalTreeStarter(temporal, config.temporal.taskQueue),
  chatbotWorkflows: temporalChatbotStarter(temporal, config.temporal.taskQueue, { eagerStart: true }),
  chatbot: {
    orm,
    clock: systemClock,
    logger: logger.child({ component: 'chatbots' }),
    http: webhookHttp,
    secrets: new SecretBox(config.encryptionKey),
    callbackBaseUrl: config.publicUrl ?? '',
  },
});
// Bots are called from their sessions' workflows (activities), never from the signaller's batches.
const chatbots = new ChatbotConnector(routing.chatbotDeps);
const worker = await createWorker({ config, orm, clock: systemClock, logger, graph, temporal, stopping, applyDestination: routing.applyDestination, chatbots }, connection);
// Meta deliveries stored by the API are applied here, off the API's event loop.
const inbound = new MetaInboundProcessor(orm, new PhoneNumberDirectory(orm), systemClock, logger.child({ component: 'meta-inbound' }), {
  sweepMs: 200,
});
inbound.start();
// The outbox of conversation messages: queued by the API, sent in order per conversation.
const outbound = new OutboundSender(orm, graph, config.encryptionKey, systemClock, logger.child({ component: 'outbound' }));
outbound.start();
// Domain events to partner webhook subscriptions; it polls often, so events need no notification.
const webhooks = new WebhookDispatcher(orm, new SecretBox(config.encryptionKey), webhookHttp, systemClock, logger.child({ component: 'webhooks' }));
webhooks.start();
// Contacts' messages on channels with the AI assistant on, handed to their turn workflows.
const assistant = new AssistantSignaller(orm, temporalAssistantStarter(temporal, config.temporal.taskQueue), logger.child({ component: 'assistant' }));
assistant.start();
// Contacts' messages in conversations a decision tree or chatbot owns, handed to it.
const routingMessages = new RoutingSignaller(
  orm,
  routingMessageHandler(temporalTreeStarter(temporal, config.temporal.taskQueue), temporalChatbotStarter(temporal, config.temporal.taskQueue)),
  logger.child({ component: 'routing' }),
);
routingMessages.start();
// New and reopened conversations, routed by the live routing of their channel.
const routingInbound = new RoutingRunner(orm, routing.dispatcher, logger.child({ component: 'routing-inbound' }));
routingInbound.start();
// Scheduled routing applies, made live at their time.
const routingSchedules = new RoutingSchedulePoller(orm, systemClock, logger.child({ component: 'routing-schedules' }));
routingSchedules.start();
// Both start as soon as their work commits; their timers stay as the fallback.
const wake = new WakeListener(
  config.database.url,
  { [WAKE_CHANNELS.metaInbound]: () => inbound.kick(), [WAKE_CHANNELS.outbox]: () => outbound.kick(), [ASSISTANT_WAKE_CHANNEL]: () => assistant.kick(), [ROUTING_WAKE_CHANNEL]: () => routingMessages.kick(), [ROUTING_INBOUND_WAKE_CHANNEL]: () => routingInbound.kick() },
  logger.child({ component: 'wake' }),
);
wake.start();
logger.info({ taskQueue: config.temporal.taskQueue, namespace: config.temporal.namespace }, 'worker running');
try {
  await worker.run();
} finally {
  await wake.stop();
  await inbound.stop();
  await outbound.stop();
  await assistant.stop();
  await routingMessages.stop();
  await routingInbound.stop();
  await routingSchedules.stop();
  await webhooks.stop();
  webhookHttp.close();
  await connection.close();
  await orm.close(true);
  logger.info('worker stopped');
}
