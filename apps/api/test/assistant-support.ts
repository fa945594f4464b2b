import { createLogger, newId, systemClock } from '@parley/core';
import { AssistantSignaller, graphClientFor } from '@parley/domain';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { expect, inject } from 'vitest';
import { createActivities } from '../../worker/src/activities';
import { temporalAssistantStarter } from '../../worker/src/activities/assistant';
import { activityInterceptors, WORKFLOWS_PATH } from '../../worker/src/worker';
import { startTestApi, type TestApi } from '../../../test/support/api';
import { eventually } from '../../../test/support/platform';
import { type FakeOpenAI, startFakeOpenAI } from '../../../test/support/fake-openai';
import { contactWrites, newOrg, newPhone, type Org } from './messaging-support';

/** The model client's per-request timeout in these tests (the "window closes meanwhile" test needs a slower answer than this). */
export const MODEL_TIMEOUT_MS = 2500;

export interface AssistantHarness {
  api: TestApi;
  fake: FakeOpenAI;
  temporal: Client;
  /** Hands pending turns to Temporal, as the worker process does; tests stop it to play a dead worker. */
  signaller: AssistantSignaller;
  close(): Promise<void>;
}

/**
 * The API with an AI provider (the fake on 127.0.0.1), a Temporal worker on a task queue of its
 * own, and the job that hands contacts' messages to turn workflows, as the worker process runs it.
 */
export async function startAssistantHarness(): Promise<AssistantHarness> {
  const fake = await startFakeOpenAI();
  const taskQueue = `test-assistant-${newId()}`;
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  const temporal = new Client({ connection });
  const api = await startTestApi({ env: { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'test-openai-key', TEMPORAL_TASK_QUEUE: taskQueue }, temporal });
  const logger = createLogger({ level: 'silent' });
  const native = await NativeConnection.connect({ address: inject('temporalAddress') });
  const worker = await Worker.create({
    connection: native,
    taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities: createActivities({
      orm: api.orm,
      clock: systemClock,
      logger,
      config: api.config,
      graph: graphClientFor(api.config, logger),
      temporal,
      assistantModel: { timeoutMs: MODEL_TIMEOUT_MS, maxRetries: 1 },
    }),
    interceptors: { activity: activityInterceptors },
  });
  const running = worker.run();
  const signaller = new AssistantSignaller(api.orm, temporalAssistantStarter(temporal, taskQueue), logger, { pollMs: 50 });
  signaller.start();
  return {
    api,
    fake,
    temporal,
    signaller,
    close: async () => {
      await signaller.stop();
      worker.shutdown();
      await running;
      await native.close();
      await api.close();
      await connection.close();
      await fake.stop();
    },
  };
}

export interface AssistantOrg extends Org {
  /** A marker in the instructions, so the fake can tell this test's prompts from others'. */
  marker: string;
}

/** A tenant with a channel whose assistant is configured as given. */
export async function assistantOrg(h: AssistantHarness, settings: Record<string, unknown> = {}): Promise<AssistantOrg> {
  const org = await newOrg(h.api);
  const marker = `org-${newId()}`;
  const res = await h.api.call('PUT', `/v1/channels/${org.channel.id}/assistant`, {
    token: org.token,
    body: { enabled: true, model: 'gpt-test', instructions: `You help Acme customers. [${marker}]`, quietTimeMs: 300, ...settings },
  });
  expect(res.status, res.text).toBe(200);
  return { ...org, marker };
}

export interface Chat {
  from: string;
  conversationId: string;
}

/** The contact writes; returns the conversation. */
export async function write(h: AssistantHarness, org: Org, text: string, chat?: { from: string }, options: { at?: Date } = {}): Promise<Chat> {
  const from = chat?.from ?? newPhone();
  await contactWrites(h.api, org.route, from, text, options);
  const list = await h.api.call('GET', '/v1/conversations?limit=200', { token: org.token });
  const row = (list.body.data as { id: string; status: string; contact: { phone: string } }[]).find((c) => c.contact.phone === `+${from}` && c.status !== 'closed');
  if (!row) throw new Error(`no conversation for +${from}`);
  return { from, conversationId: row.id };
}

export interface MessageRow {
  id: string;
  type: string;
  direction: string;
  role: string;
  ai: boolean;
  authorId: string | null;
  content: { text?: string };
}

export async function messagesOf(h: AssistantHarness, org: Org, conversationId: string): Promise<MessageRow[]> {
  const res = await h.api.call('GET', `/v1/conversations/${conversationId}/messages?limit=200`, { token: org.token });
  expect(res.status, res.text).toBe(200);
  return (res.body.data as MessageRow[]).reverse();
}

export async function outbound(h: AssistantHarness, org: Org, conversationId: string): Promise<MessageRow[]> {
  return (await messagesOf(h, org, conversationId)).filter((m) => m.direction === 'outbound');
}

export async function assistantState(h: AssistantHarness, org: Org, conversationId: string): Promise<{ state: string; reason: string | null; tokensUsed: number }> {
  const res = await h.api.call('GET', `/v1/conversations/${conversationId}/assistant`, { token: org.token });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/** Waits for the turn of a conversation to finish, and answers what it did. */
export async function turnOutcome(h: AssistantHarness, org: Org, conversationId: string, count = 1, timeoutMs = 20_000): Promise<{ outcome: string; reason: string | null }[]> {
  return eventually(async () => {
    const rows = await h.api.orm.em
      .fork()
      .getConnection()
      .execute<{ outcome: string; reason: string | null }[]>('select outcome, reason from assistant_turns where conversation_id = ? and organization_id = ? order by created_at', [
        conversationId,
        org.orgId,
      ]);
    return rows.length >= count ? rows : undefined;
  }, timeoutMs, `${count} assistant turn(s)`);
}

/** Lets time pass in which nothing may happen (a turn that should not come). */
export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
