import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, newId, SecretBox, systemClock } from '@parley/core';
import {
  type ApplyDestinationInput,
  ChatbotConnector,
  graphClientFor,
  metaPayload,
  type RoutingDispatcher,
  RoutingRunner,
  routingRuntime,
  RoutingSignaller,
  startChatbot,
  startDecisionTree,
  WebhookHttpClient,
} from '@parley/domain';
import { startSandboxGraph, type SandboxGraph } from '@parley/sandbox-graph';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { expect, inject } from 'vitest';
import { createActivities } from '../../worker/src/activities';
import { routingMessageHandler, temporalChatbotStarter, temporalTreeStarter } from '../../worker/src/activities/routing';
import { activityInterceptors, WORKFLOWS_PATH } from '../../worker/src/worker';
import { type Answer, createTenant, startTestApi, TEST_SECRETS, type Tenant, type TestApi } from '../../../test/support/api';
import { eventually } from '../../../test/support/platform';
import { inbound, type Route } from '../../../test/fixtures/meta';
import { newPhone, postSigned } from './messaging-support';

/** A bot (or a URL-request target) on 127.0.0.1: each request is recorded and answered by `handle`. */
export interface TestBot {
  url: string;
  requests: { path: string; headers: Record<string, string>; body: string }[];
  handle: (req: { path: string; body: string }, res: ServerResponse) => void | Promise<void>;
  close(): Promise<void>;
}

export async function startTestBot(): Promise<TestBot> {
  const bot: TestBot = {
    url: '',
    requests: [],
    handle: (_req, res) => {
      res.writeHead(204).end();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const record = { path: req.url ?? '', headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])), body: Buffer.concat(chunks).toString('utf8') };
      bot.requests.push(record);
      void bot.handle(record, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  bot.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return bot;
}

export interface RoutingHarness {
  api: TestApi;
  sandbox: SandboxGraph;
  temporal: Client;
  taskQueue: string;
  /** Destinations the trees and bots handed chats to, as the dispatcher would receive them. */
  destinations: ApplyDestinationInput[];
  chatbots: ChatbotConnector;
  signaller: RoutingSignaller;
  /** Routes new conversations (the dispatcher's runner), on demand: `runner.settle()`. */
  runner: RoutingRunner;
  /** The runner's dispatcher. */
  dispatcher: RoutingDispatcher;
  /** Organizations this harness serves (the signaller leaves other test files' work alone). */
  organizationIds: string[];
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The API (insecure webhook targets allowed, so bots and URL requests may live on 127.0.0.1), the
 * sandbox Graph API, a Temporal worker on a task queue of its own running the routing activities,
 * the routing signaller and the dispatcher. Destinations are recorded on their way to the
 * dispatcher's applyDestination.
 */
export async function startRoutingHarness(): Promise<RoutingHarness> {
  const taskQueue = `test-routing-${newId()}`;
  const sandbox = await startSandboxGraph({ port: 0, appId: 'test-app', appSecret: TEST_SECRETS.META_APP_SECRET, statusDelaysMs: { sent: 5, delivered: 10, read: 20 } });
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  const temporal = new Client({ connection });
  const api = await startTestApi({ env: { META_GRAPH_URL: sandbox.url, META_APP_ID: 'test-app', TEMPORAL_TASK_QUEUE: taskQueue, ALLOW_INSECURE_WEBHOOKS: 'true' }, temporal });
  sandbox.setWebhookUrl(`${api.url}/webhooks/meta`);
  const logger = createLogger({ level: 'silent' });
  const destinations: ApplyDestinationInput[] = [];
  const http = new WebhookHttpClient({ policy: { allowInsecure: true } });
  const trees = temporalTreeStarter(temporal, taskQueue);
  const chatbotWorkflows = temporalChatbotStarter(temporal, taskQueue);
  // The dispatcher as the worker wires it; each destination is recorded before it applies it.
  const runtime = routingRuntime({
    orm: api.orm,
    clock: systemClock,
    trees,
    chatbotWorkflows,
    chatbot: { orm: api.orm, clock: systemClock, logger, http, secrets: new SecretBox(api.config.encryptionKey), callbackBaseUrl: api.url },
  });
  const applyDestination = async (input: ApplyDestinationInput) => {
    destinations.push(input);
    await runtime.applyDestination(input);
  };
  const chatbots = new ChatbotConnector({ ...runtime.chatbotDeps, applyDestination });
  // The callback route answers with this connector, so a bot's transfer reaches the stand-in.
  api.app.services.chatbots = chatbots;
  const organizationIds: string[] = [];
  const signaller = new RoutingSignaller(api.orm, routingMessageHandler(trees, chatbotWorkflows), logger, { pollMs: 50, organizationIds });
  signaller.start();
  const runner = new RoutingRunner(api.orm, runtime.dispatcher, logger, { organizationIds });

  let native: NativeConnection | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  const startWorker = async () => {
    native = await NativeConnection.connect({ address: inject('temporalAddress') });
    worker = await Worker.create({
      connection: native,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: createActivities({ orm: api.orm, clock: systemClock, logger, config: api.config, graph: graphClientFor(api.config, logger), temporal, applyDestination, routingHttp: http, chatbots }),
      interceptors: { activity: activityInterceptors },
    });
    running = worker.run();
  };
  const stopWorker = async () => {
    worker?.shutdown();
    await running;
    await native?.close();
    worker = undefined;
  };
  await startWorker();
  return {
    api,
    sandbox,
    temporal,
    taskQueue,
    destinations,
    chatbots,
    signaller,
    runner,
    dispatcher: runtime.dispatcher,
    organizationIds,
    startWorker,
    stopWorker,
    close: async () => {
      await signaller.stop();
      await stopWorker();
      http.close();
      await api.close();
      await connection.close();
      await sandbox.stop();
    },
  };
}

let numberSeq = 0;

export interface RoutingOrg {
  tenant: Tenant;
  orgId: string;
  token: string;
  channelId: string;
  route: Route;
}

/** A tenant with a channel onboarded through the sandbox, served by the harness's signaller. */
export async function routingOrg(h: RoutingHarness): Promise<RoutingOrg> {
  const tenant = await createTenant(h.api);
  const suffix = String(Date.now()).slice(-6) + String(numberSeq++).padStart(3, '0');
  const route = { wabaId: `6${suffix}`, phoneNumberId: `8${suffix}` };
  const res = await h.api.call('POST', '/v1/channels/whatsapp', { token: tenant.adminToken, body: { code: `code-${suffix}`, ...route, label: 'Line' } });
  expect(res.status, res.text).toBe(201);
  h.organizationIds.push(tenant.organizationId);
  return { tenant, orgId: tenant.organizationId, token: tenant.adminToken, channelId: res.body.id, route };
}

/** Creates a routing object in the draft; answers its id. */
export async function draft(h: RoutingHarness, org: RoutingOrg, segment: string, body: unknown): Promise<string> {
  const res = await h.api.call('POST', `/v1/routing/draft/${segment}`, { token: org.token, body });
  expect(res.status, res.text).toBe(201);
  return res.body.id;
}

/** Applies the draft; answers the new version's id. */
export async function apply(h: RoutingHarness, org: RoutingOrg): Promise<string> {
  const res = await h.api.call('POST', '/v1/routing/apply', { token: org.token, body: {} });
  expect(res.status, res.text).toBe(201);
  return res.body.version.id;
}

export interface Contact {
  from: string;
  conversationId: string;
  messageId: string;
}

/** A Meta message from the contact, applied; answers the stored message's id. */
export async function contactSends(h: RoutingHarness, org: RoutingOrg, from: string, message: Record<string, unknown>): Promise<string> {
  const m = inbound(org.route, from, message);
  await postSigned(h.api, m.payload);
  await h.api.app.services.metaProcessor.settle();
  const [row] = await h.api.orm.em.fork().getConnection().execute<{ id: string }[]>('select id from messages where wamid = ? and organization_id = ?', [m.id, org.orgId]);
  expect(row, 'the inbound message was stored').toBeDefined();
  return row!.id;
}

export const text = (body: string) => ({ type: 'text', text: { body } });
export const buttonReply = (id: string, title: string) => ({ type: 'interactive', interactive: { type: 'button_reply', button_reply: { id, title } } });
export const listReply = (id: string, title: string) => ({ type: 'interactive', interactive: { type: 'list_reply', list_reply: { id, title } } });

/** A new contact writes a first message; answers the conversation and the message. */
export async function newContact(h: RoutingHarness, org: RoutingOrg, first = 'Hello'): Promise<Contact> {
  const from = newPhone();
  const messageId = await contactSends(h, org, from, text(first));
  const [row] = await h.api.orm.em.fork().getConnection().execute<{ conversation_id: string }[]>('select conversation_id from messages where id = ?', [messageId]);
  return { from, conversationId: row!.conversation_id, messageId };
}

export async function treeOn(h: RoutingHarness, org: RoutingOrg, contact: Contact, treeId: string, versionId: string): Promise<void> {
  await startDecisionTree(
    { orm: h.api.orm, trees: temporalTreeStarter(h.temporal, h.taskQueue) },
    { organizationId: org.orgId, conversationId: contact.conversationId, channelId: org.channelId, treeId, versionId, at: new Date() },
  );
}

/** Hands the conversation to a bot as the dispatcher does; the bot hears of it from the session's workflow, soon after. */
export async function botOn(h: RoutingHarness, org: RoutingOrg, contact: Contact, chatbotId: string, versionId: string): Promise<void> {
  await startChatbot(
    // The harness's connector deps, through its public entry point.
    {
      orm: h.api.orm,
      clock: systemClock,
      logger: createLogger({ level: 'silent' }),
      http: new WebhookHttpClient({ policy: { allowInsecure: true } }),
      secrets: new SecretBox(h.api.config.encryptionKey),
      callbackBaseUrl: h.api.url,
      applyDestination: async (input) => void h.destinations.push(input),
    },
    temporalChatbotStarter(h.temporal, h.taskQueue),
    { organizationId: org.orgId, conversationId: contact.conversationId, channelId: org.channelId, chatbotId, versionId, messageId: contact.messageId, at: new Date() },
  );
}

export interface OutboundRow {
  id: string;
  type: string;
  content: Record<string, unknown>;
  status: string;
  role: string;
}

/** The conversation's outbound messages, oldest first. */
export async function outboundOf(h: RoutingHarness, org: RoutingOrg, conversationId: string): Promise<OutboundRow[]> {
  return h.api.orm.em
    .fork()
    .getConnection()
    .execute<OutboundRow[]>(`select id, type, content, status, role from messages where conversation_id = ? and organization_id = ? and direction = 'outbound' order by id`, [
      conversationId,
      org.orgId,
    ]);
}

export async function waitOutbound(h: RoutingHarness, org: RoutingOrg, conversationId: string, count: number, timeoutMs = 20_000): Promise<OutboundRow[]> {
  return eventually(async () => {
    const rows = await outboundOf(h, org, conversationId);
    return rows.length >= count ? rows : undefined;
  }, timeoutMs, `${count} outbound message(s)`);
}

export async function waitDestination(h: RoutingHarness, conversationId: string, timeoutMs = 20_000): Promise<ApplyDestinationInput> {
  return eventually(async () => h.destinations.find((d) => d.conversationId === conversationId), timeoutMs, `a destination for ${conversationId}`);
}

/**
 * Sends a stored outbound message to the sandbox Graph API as the outbox would (its payload by
 * `metaPayload`); no outbox runs in tests, as it would take other test files' messages.
 */
export async function sendToSandbox(h: RoutingHarness, org: RoutingOrg, contact: Contact, message: OutboundRow): Promise<{ wamid: string }> {
  const [channel] = await h.api.orm.em
    .fork()
    .getConnection()
    .execute<{ business_token_ciphertext: string; phone_number_id: string }[]>('select business_token_ciphertext, phone_number_id from channels where id = ?', [org.channelId]);
  const token = new SecretBox(h.api.config.encryptionKey).decrypt(channel!.business_token_ciphertext, org.channelId);
  const graph = graphClientFor(h.api.config, createLogger({ level: 'silent' }));
  return graph.sendMessage(token, channel!.phone_number_id, metaPayload(contact.from, message.type, message.content, message.id));
}

export async function conversationView(h: RoutingHarness, org: RoutingOrg, conversationId: string): Promise<Answer> {
  return h.api.call('GET', `/v1/conversations/${conversationId}`, { token: org.token });
}

/**
 * The conversation's latest tree or bot session has ended and its workflow completed: it heard
 * of the end (routing_session_ended, through the signaller) instead of idling until its daily look.
 */
export async function sessionWorkflowCompletes(h: RoutingHarness, conversationId: string, timeoutMs = 10_000): Promise<{ endedReason: string | null; result: string }> {
  const db = h.api.orm.em.fork().getConnection();
  const [session] = await db.execute<{ workflow_id: string; state: string; ended_reason: string | null }[]>(
    'select workflow_id, state, ended_reason from routing_sessions where conversation_id = ? order by created_at desc limit 1',
    [conversationId],
  );
  expect(session?.state).toBe('ended');
  const handle = h.temporal.workflow.getHandle(session!.workflow_id);
  await eventually(async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined), timeoutMs, 'the session’s workflow to complete');
  return { endedReason: session!.ended_reason, result: String(await handle.result()) };
}
