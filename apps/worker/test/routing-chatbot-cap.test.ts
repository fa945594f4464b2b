import { createLogger, newId, systemClock } from '@parley/core';
import { createOrm, type MikroORM } from '@parley/db';
import { type ChatbotConnector, type ChatbotDelivery, type ChatbotWorkflowInput, temporalChatbotStarter, undispatchedDestination, WebhookHttpClient } from '@parley/domain';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { eventually } from '../../../test/support/platform';
import { createRoutingActivities } from '../src/activities/routing';
import { WORKFLOWS_PATH } from '../src/worker';

/*
 * Bot requests are activities sharing the worker's slots: one tenant gets at most its share under
 * way at once, and its other conversations wait in their workflows (not in a slot) while other
 * tenants' requests go on.
 */

let orm: MikroORM;
let native: NativeConnection;
let connection: Connection;
beforeAll(async () => {
  orm = await createOrm({ url: inject('databaseUrl'), poolMax: 2 });
  native = await NativeConnection.connect({ address: inject('temporalAddress') });
  connection = await Connection.connect({ address: inject('temporalAddress') });
});
afterAll(async () => {
  await connection.close();
  await native.close();
  await orm.close(true);
});

it('a tenant whose bot hangs has at most its share of requests under way; another tenant’s go on, and the waiting ones follow', async () => {
  const taskQueue = `routing-chatbot-cap-${newId()}`;
  const hanging = newId();
  const other = newId();
  const underWay = new Set<string>();
  const done: string[] = [];
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  // The connector as the workflow sees it: the hanging tenant's bot answers only once released.
  const chatbots = {
    forwardInSession: async (input: ChatbotWorkflowInput, delivery: ChatbotDelivery) => {
      underWay.add(input.conversationId);
      if (input.organizationId === hanging) await released;
      underWay.delete(input.conversationId);
      done.push(`${input.conversationId}:${delivery.messageIds.join(',')}`);
      return 'ended' as const;
    },
    sessionState: async () => 'active' as const,
  } as unknown as ChatbotConnector;
  const logger = createLogger({ level: 'silent' });
  const http = new WebhookHttpClient({ policy: { allowInsecure: true } });
  const activities = createRoutingActivities({ orm, clock: systemClock, logger, routingHttp: http, applyDestination: undispatchedDestination, chatbots }, { chatbotRequestsPerOrganization: 2 });
  const worker = await Worker.create({ connection: native, taskQueue, workflowsPath: WORKFLOWS_PATH, activities });
  const client = new Client({ connection });
  const session = (organizationId: string): ChatbotWorkflowInput => ({
    organizationId,
    conversationId: newId(),
    channelId: newId(),
    chatbotId: 'bot',
    versionId: newId(),
    sessionId: newId(),
  });
  const deliver = (input: ChatbotWorkflowInput, messageId: string) =>
    client.workflow.signalWithStart('routingChatbotWorkflow', {
      taskQueue,
      workflowId: `cap-${input.sessionId}`,
      args: [input],
      signal: 'routingChatbotMessage',
      signalArgs: [{ messageIds: [messageId] }],
    });
  await worker.runUntil(async () => {
    const slow = [session(hanging), session(hanging), session(hanging)];
    for (const s of slow) await deliver(s, newId());
    await eventually(async () => underWay.size === 2, 10_000, 'two of the hanging tenant’s requests under way');
    const fast = session(other);
    const message = newId();
    await deliver(fast, message);
    await eventually(async () => done.includes(`${fast.conversationId}:${message}`), 10_000, 'the other tenant’s request');
    // Still only two of the hanging tenant's: the third waits in its workflow.
    expect([...underWay].filter((c) => slow.some((s) => s.conversationId === c))).toHaveLength(2);
    expect(done.filter((d) => slow.some((s) => d.startsWith(s.conversationId)))).toHaveLength(0);
    release();
    await eventually(async () => slow.every((s) => done.some((d) => d.startsWith(s.conversationId))), 15_000, 'every waiting request, once the bot answers');
    for (const s of [...slow, fast]) expect(await client.workflow.getHandle(`cap-${s.sessionId}`).result()).toBe('ended');
  });
  http.close();
}, 60_000);

it('a session the worker opens starts its workflow eagerly with the first message; later ones join it, a repeated start joins too, and the end signal ends it', async () => {
  const taskQueue = `routing-chatbot-eager-${newId()}`;
  const heard: string[] = [];
  const chatbots = {
    forwardInSession: async (input: ChatbotWorkflowInput, delivery: ChatbotDelivery) => {
      heard.push(`${input.sessionId}:${delivery.welcome ? 'welcome' : delivery.messageIds.join(',')}`);
      return 'active' as const;
    },
    sessionState: async () => 'active' as const,
  } as unknown as ChatbotConnector;
  const logger = createLogger({ level: 'silent' });
  const http = new WebhookHttpClient({ policy: { allowInsecure: true } });
  const activities = createRoutingActivities({ orm, clock: systemClock, logger, routingHttp: http, applyDestination: undispatchedDestination, chatbots });
  const worker = await Worker.create({ connection: native, taskQueue, workflowsPath: WORKFLOWS_PATH, activities });
  // As the worker wires it: the client on the worker's own NativeConnection, which eager start needs.
  const starter = temporalChatbotStarter(new Client({ connection: native }), taskQueue, { eagerStart: true });
  const session = (): ChatbotWorkflowInput => ({ organizationId: newId(), conversationId: newId(), channelId: newId(), chatbotId: 'bot', versionId: newId(), sessionId: newId() });
  await worker.runUntil(async () => {
    const chat = session();
    const workflowId = `eager-${chat.sessionId}`;
    const [first, second, third] = [newId(), newId(), newId()].sort();
    await starter.deliver(workflowId, chat, { messageIds: [first!] }, { opening: true });
    await eventually(async () => heard.includes(`${chat.sessionId}:${first}`), 10_000, 'the first message at the bot');
    await starter.deliver(workflowId, chat, { messageIds: [second!] });
    // The signaller may have started the workflow first: the opening start then joins by signal.
    await starter.deliver(workflowId, chat, { messageIds: [third!] }, { opening: true });
    await eventually(async () => heard.includes(`${chat.sessionId}:${third}`), 10_000, 'the later messages at the bot');
    expect(heard.filter((h) => h.startsWith(chat.sessionId))).toEqual([first, second, third].map((m) => `${chat.sessionId}:${m}`));
    await starter.end(workflowId);
    expect(await new Client({ connection }).workflow.getHandle(workflowId).result()).toBe('ended');
    // Ending a workflow that is over already is no error (the signaller may hand the notice on twice).
    await starter.end(workflowId);

    const welcomed = session();
    await starter.deliver(`eager-${welcomed.sessionId}`, welcomed, { messageIds: [], welcome: true }, { opening: true });
    await eventually(async () => heard.includes(`${welcomed.sessionId}:welcome`), 10_000, 'the welcome at the bot');
    await starter.end(`eager-${welcomed.sessionId}`);
  });
  http.close();
}, 60_000);
