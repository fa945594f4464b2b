import { createLogger, newId, systemClock } from '@parley/core';
import { graphClientFor, OutboundSender } from '@parley/domain';
import { startSandboxGraph, type SandboxGraph } from '@parley/sandbox-graph';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { createActivities } from '../../apps/worker/src/activities';
import { activityInterceptors, WORKFLOWS_PATH } from '../../apps/worker/src/worker';
import { createTenant, startTestApi, TEST_SECRETS, type Tenant, type TestApi } from './api';

export interface TestPlatform {
  api: TestApi;
  sandbox: SandboxGraph;
  temporal: Client;
  taskQueue: string;
  /**
   * Starts the outbound sender (the worker's outbox) for these organizations' messages, so they
   * reach the sandbox and their statuses come back. Only for them: the database is shared with
   * other test files, whose queued messages are not this process's to send.
   */
  sendOutboundFor(...organizationIds: string[]): void;
  close(): Promise<void>;
}

/**
 * The whole platform in one test process: the API, a Temporal worker on a task queue of its own,
 * the inbound processor and outbound sender running as in the worker process, and the sandbox
 * Graph API (a real HTTP server) posting signed status webhooks back to the API.
 */
/** `env` adds settings for the API, such as `ALLOW_INSECURE_WEBHOOKS` for a receiver on loopback. */
export async function startTestPlatform(options: { worker?: boolean; databaseUrl?: string; env?: Record<string, string> } = {}): Promise<TestPlatform> {
  const taskQueue = `test-${newId()}`;
  const sandbox = await startSandboxGraph({ port: 0, appId: 'test-app', appSecret: TEST_SECRETS.META_APP_SECRET, statusDelaysMs: { sent: 5, delivered: 10, read: 20 } });
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  const temporal = new Client({ connection });
  const api = await startTestApi({
    env: { META_GRAPH_URL: sandbox.url, META_APP_ID: 'test-app', TEMPORAL_TASK_QUEUE: taskQueue, ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}), ...options.env },
    temporal,
  });
  sandbox.setWebhookUrl(`${api.url}/webhooks/meta`);
  const logger = createLogger({ level: 'silent' });
  const graph = graphClientFor(api.config, logger);
  // Deliveries (status webhooks) are applied as the worker process would. The outbound sender
  // runs only once a test names its organizations (sendOutboundFor).
  api.app.services.metaProcessor.start();
  const outboundOrganizations = new Set<string>();
  let outbound: OutboundSender | undefined;

  let native: NativeConnection | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  if (options.worker !== false) {
    native = await NativeConnection.connect({ address: inject('temporalAddress') });
    worker = await Worker.create({
      connection: native,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: createActivities({ orm: api.orm, clock: systemClock, logger, config: api.config, graph, temporal }),
      interceptors: { activity: activityInterceptors },
    });
    running = worker.run();
  }
  return {
    api,
    sandbox,
    temporal,
    taskQueue,
    sendOutboundFor: (...organizationIds) => {
      for (const id of organizationIds) outboundOrganizations.add(id);
      if (!outbound) {
        outbound = new OutboundSender(api.orm, graph, api.config.encryptionKey, systemClock, logger, { pollMs: 50, onlyOrganizations: outboundOrganizations });
        outbound.start();
      }
    },
    close: async () => {
      await outbound?.stop();
      worker?.shutdown();
      await running;
      await native?.close();
      await api.app.services.metaProcessor.stop();
      await api.close();
      await connection.close();
      await sandbox.stop();
    },
  };
}

let numberSeq = 0;

/** A tenant with a WhatsApp channel onboarded through the sandbox (templates synced from it). */
export async function onboardChannel(
  p: TestPlatform,
  options: { messagesPerSecond?: number } = {},
): Promise<{ tenant: Tenant; channelId: string; route: { wabaId: string; phoneNumberId: string } }> {
  const tenant = await createTenant(p.api);
  const suffix = String(Date.now()).slice(-6) + String(numberSeq++).padStart(3, '0');
  const route = { wabaId: `5${suffix}`, phoneNumberId: `7${suffix}` };
  const res = await p.api.call('POST', '/v1/channels/whatsapp', { token: tenant.adminToken, body: { code: `code-${suffix}`, ...route, label: 'Line' } });
  if (res.status !== 201) throw new Error(`channel not connected: ${res.status} ${res.text}`);
  if (options.messagesPerSecond) {
    const patched = await p.api.call('PATCH', `/v1/channels/${res.body.id}`, { token: tenant.adminToken, body: { messagesPerSecond: options.messagesPerSecond } });
    if (patched.status !== 200) throw new Error(`limit not set: ${patched.status} ${patched.text}`);
  }
  return { tenant, channelId: res.body.id, route };
}

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
