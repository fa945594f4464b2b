/**
 * Runs the sandbox Graph API on its own: `tsx apps/sandbox-graph/src/main.ts`.
 * SANDBOX_PORT (default 3900), SANDBOX_HOST, META_APP_ID, META_APP_SECRET, META_GRAPH_VERSION,
 * PARLEY_WEBHOOK_URL (default: the local API's /webhooks/meta on PORT), SANDBOX_LATENCY_MS,
 * SANDBOX_STATUS_DELAYS_MS ("sent,delivered,read"; "-" turns one off), SANDBOX_LOG_LIMIT (entries kept
 * per log, for sends, requests and webhooks alike).
 */
import { startSandboxGraph } from './server';
import type { StatusDelaysInput } from './types';

const env = process.env;

function fail(message: string): never {
  console.error(message);
  process.exit(78);
}

function integer(name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) fail(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

function statusDelays(): StatusDelaysInput | undefined {
  const raw = env.SANDBOX_STATUS_DELAYS_MS;
  if (!raw) return undefined;
  const [sent, delivered, read] = raw.split(',').map((v) => (v.trim() === '-' ? null : Number(v)));
  for (const v of [sent, delivered, read]) if (v !== null && v !== undefined && !(v >= 0)) fail(`SANDBOX_STATUS_DELAYS_MS must look like "5,10,20", got "${raw}"`);
  return { sent, delivered, read };
}

let appSecret = env.META_APP_SECRET;
if (!appSecret) {
  // Parley must share the secret to verify webhooks; a fixed fallback keeps a bare run usable.
  appSecret = 'sandbox-app-secret';
  console.error('META_APP_SECRET is not set; signing webhooks with "sandbox-app-secret".');
}

const sandbox = await startSandboxGraph({
  port: integer('SANDBOX_PORT', 3900),
  host: env.SANDBOX_HOST || '127.0.0.1',
  version: env.META_GRAPH_VERSION || undefined,
  appId: env.META_APP_ID || undefined,
  appSecret,
  webhookUrl: env.PARLEY_WEBHOOK_URL || `http://127.0.0.1:${integer('PORT', 3000)}/webhooks/meta`,
  latencyMs: integer('SANDBOX_LATENCY_MS', 0),
  statusDelaysMs: statusDelays(),
  logLimit: env.SANDBOX_LOG_LIMIT ? integer('SANDBOX_LOG_LIMIT', 100_000) : undefined,
  requestLogLimit: env.SANDBOX_LOG_LIMIT ? integer('SANDBOX_LOG_LIMIT', 10_000) : undefined,
  webhookLogLimit: env.SANDBOX_LOG_LIMIT ? integer('SANDBOX_LOG_LIMIT', 10_000) : undefined,
}).catch((err: Error) => fail(`The sandbox Graph API could not start: ${err.message}`));

console.log(`Sandbox Graph API listening on ${sandbox.url} (webhooks to ${env.PARLEY_WEBHOOK_URL || `http://127.0.0.1:${integer('PORT', 3000)}/webhooks/meta`})`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void sandbox.stop().then(() => process.exit(0));
  });
}
