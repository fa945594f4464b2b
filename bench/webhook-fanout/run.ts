/**
 * Partner webhook fan-out benchmark: 50 subscriptions across 10 tenants on loopback receivers, one
 * of them answering 500 throughout, and 100,000 events, delivered by the worker as production runs
 * it (its own process, default settings). Each event goes to one subscription (its tenant's
 * subscription for the event's type), as each of Convoy's events goes to one endpoint.
 *
 * Two phases over the same platform:
 * 1. paced: events committed at a steady rate (default 1,000 per second) in small transactions,
 *    as changes commit in production. Reports the delay from each event's commit to its first
 *    attempt (p50, p99), the failing endpoint included, and the healthy delivery rate.
 * 2. burst: 100,000 events committed at once; reports how fast the backlog drains.
 * Throughout: duplicates (a webhook-id a healthy receiver got twice), signatures that did not
 * verify, the failing endpoint's share of attempts, CPU seconds and the worker's peak RSS.
 *
 *   npm run bench:webhook-fanout [-- --events 100000 --rate 1000 --skip burst]
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SecretBox, newId } from '@parley/core';
import { freePort, startTemporalDevServer } from '@parley/dev';
import { newSigningSecret } from '@parley/domain';
import pg from 'pg';
import { BENCH_SECRETS, benchDatabase, cpuSeconds, cpuSecondsByName, percentile, startProcess, stopProcesses } from '../lib';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '1000' },
    skip: { type: 'string', default: '' },
  },
});
const EVENTS = Number(values.events);
const RATE = Number(values.rate);
const TENANTS = 10;
const PER_TENANT = 5;
const FAILING = 7;
const TYPES = ['message.create.contact.chat.contact', 'message.update', 'conversation.create', 'conversation.update', 'message.create.contact.chat.agent'];
const root = path.resolve(import.meta.dirname, '../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

/** A message event's data as the catalog writes it, about 900 bytes. */
function eventData(i: number): string {
  return JSON.stringify({
    message: {
      id: newId(),
      conversationId: newId(),
      direction: 'inbound',
      type: 'text',
      touchpoint: 'whatsapp',
      status: 'received',
      content: { text: `Hola, quisiera saber si el pedido ${i} ya salió y cuándo llega a Guatemala. Gracias!` },
      wamid: `wamid.HBgLNTAyNTU1MDEyMzQVAgASGBQzQTg3${String(i).padStart(12, '0')}`,
      createdAt: new Date().toISOString(),
      sentBy: null,
      ai: false,
      error: null,
    },
    conversation: { id: newId(), status: 'active', assigneeId: null },
    contact: { id: newId(), name: 'María José Hernández', phone: '+50255501234' },
  });
}

function rssPeakMb(pid: number | undefined): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'))!;
    return Math.round(Number(line.split(/\s+/)[1]) / 1024);
  } catch {
    return 0;
  }
}

function ask<T>(child: ChildProcess, cmd: string, key: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: Record<string, unknown>) => {
      if (key in m) {
        child.off('message', on);
        resolve(m[key] as T);
      }
    };
    child.on('message', on);
    child.send({ cmd });
  });
}

async function main() {
  const database = await benchDatabase('bench_webhook_fanout');
  const temporal = await startTemporalDevServer();
  const children: ChildProcess[] = [];
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    // The worker reads the key from ENCRYPTION_KEY and names it by its own id; seal with that id.
    const { loadConfig } = await import('@parley/config');
    const keyring = loadConfig({ ...BENCH_SECRETS, NODE_ENV: 'development' }).encryptionKey;
    const sealer = new SecretBox(keyring);
    const receiverPort = await freePort();
    const organizations: string[] = [];
    const subscriptions: { id: string; org: string; type: string; n: number }[] = [];
    const secrets: string[] = [];
    const created = new Date(Date.now() - 60_000);
    for (let t = 0; t < TENANTS; t++) {
      const org = newId();
      organizations.push(org);
      await client.query(`insert into organizations (id, name, tags, created_at, updated_at) values ($1, $2, '{}', $3, $3)`, [org, `Tenant ${t}`, created]);
      for (let k = 0; k < PER_TENANT; k++) {
        const n = subscriptions.length;
        const id = newId();
        const secret = newSigningSecret();
        secrets.push(secret);
        subscriptions.push({ id, org, type: TYPES[k]!, n });
        await client.query(
          `insert into webhook_subscriptions (id, organization_id, url, events, status, secret_ciphertext, created_at, updated_at)
           values ($1, $2, $3, $4, 'active', $5, $6, $6)`,
          [id, org, `http://127.0.0.1:${receiverPort}/s/${n}`, [TYPES[k]], sealer.encrypt(secret, id), created],
        );
      }
    }
    const receivers = fork(path.join(import.meta.dirname, 'receivers.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, RECEIVER_SECRETS: JSON.stringify(secrets), RECEIVER_FAILING: String(FAILING), RECEIVER_PORT: String(receiverPort) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(receivers);
    await new Promise<void>((resolve) => receivers.once('message', () => resolve()));
    // The worker as production runs it, but in development mode: production refuses the http
    // loopback receivers (ALLOW_INSECURE_WEBHOOKS) that keep this benchmark off the network.
    const worker = startProcess(path.join(root, 'apps/worker/src/main.ts'), 'worker', {
      ...process.env,
      ...BENCH_SECRETS,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: temporal.address,
      META_GRAPH_URL: 'http://127.0.0.1:9/graph',
      ALLOW_INSECURE_WEBHOOKS: 'true',
      DATABASE_POOL_MAX: '10',
    });
    children.push(worker);

    const healthyOf = (n: number) => n !== FAILING;
    const committedAt = new Map<string, number>();
    let healthyExpected = 0;
    const insert = async (count: number, offset: number) => {
      const rows = Array.from({ length: count }, (_, j) => {
        const i = offset + j;
        const t = i % TENANTS;
        const k = Math.floor(i / TENANTS) % PER_TENANT;
        if (healthyOf(t * PER_TENANT + k)) healthyExpected++;
        return { id: newId(), org: organizations[t]!, type: TYPES[k]!, data: eventData(i) };
      });
      await client.query(
        `insert into domain_events (id, organization_id, type, data, created_at)
         select v.id, v.org, v.type, v.data::jsonb, now() from jsonb_to_recordset($1::jsonb) as v(id uuid, org uuid, type text, data text)`,
        [JSON.stringify(rows)],
      );
      const at = now();
      for (const r of rows) committedAt.set(r.id, at);
    };
    const cpu = () => ({ worker: cpuSeconds(worker.pid), receivers: cpuSeconds(receivers.pid), postgres: cpuSecondsByName('postgres'), driver: process.cpuUsage() });
    const cpuDelta = (a: ReturnType<typeof cpu>, b: ReturnType<typeof cpu>) => ({
      worker: +(b.worker[0] + b.worker[1] - a.worker[0] - a.worker[1]).toFixed(1),
      receivers: +(b.receivers[0] + b.receivers[1] - a.receivers[0] - a.receivers[1]).toFixed(1),
      postgres: +(b.postgres[0] + b.postgres[1] - a.postgres[0] - a.postgres[1]).toFixed(1),
      driver: +((b.driver.user + b.driver.system - a.driver.user - a.driver.system) / 1e6).toFixed(1),
    });
    const waitDelivered = async (expected: number, timeoutMs: number) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const delivered = await ask<number>(receivers, 'delivered', 'delivered');
        if (delivered >= expected || Date.now() > until) return delivered;
        await sleep(100);
      }
    };
    const results: Record<string, unknown> = {};
    let offset = 0;
    // Warm-up: the worker is up (its Temporal worker bundles the workflow code at start, which
    // holds its event loop for seconds) once a first round of events has been delivered.
    await insert(1000, 0);
    offset = 1000;
    await waitDelivered(healthyExpected, 120_000);
    await sleep(1000);

    for (const phase of ['paced', 'burst'] as const) {
      if (values.skip.split(',').includes(phase)) continue;
      const before = await ask<{ firstAt: [string, number][]; perSubscription: number[]; attempts: number; failingAttempts: number }>(receivers, 'report', 'report');
      const deliveredBefore = before.perSubscription.reduce((a, b) => a + b, 0);
      const expectedBefore = healthyExpected;
      const ids0 = new Set(committedAt.keys());
      const c0 = cpu();
      const started = now();
      if (phase === 'paced') {
        let sent = 0;
        while (sent < EVENTS) {
          const due = Math.min(EVENTS, Math.floor(((now() - started) / 1000) * RATE));
          if (due > sent) {
            await insert(due - sent, offset + sent);
            sent = due;
          }
          await sleep(5);
        }
      } else {
        for (let sent = 0; sent < EVENTS; sent += 10_000) await insert(Math.min(10_000, EVENTS - sent), offset + sent);
      }
      offset += EVENTS;
      const committed = now();
      const delivered = await waitDelivered(deliveredBefore + (healthyExpected - expectedBefore), 600_000);
      const finished = now();
      const c1 = cpu();
      const report = await ask<{ firstAt: [string, number][]; perSubscription: number[]; attempts: number; failingAttempts: number; duplicates: number; unverified: number }>(
        receivers,
        'report',
        'report',
      );
      const delays = report.firstAt
        .filter(([id]) => committedAt.has(id) && !ids0.has(id))
        .map(([id, at]) => at - committedAt.get(id)!)
        .sort((a, b) => a - b);
      const healthy = delivered - deliveredBefore;
      results[phase] = {
        events: EVENTS,
        ...(phase === 'paced' ? { commitRatePerSecond: RATE } : {}),
        commitSeconds: +((committed - started) / 1000).toFixed(1),
        healthyDelivered: healthy,
        healthyExpected: healthyExpected - expectedBefore,
        deliveriesPerSecond: Math.round(healthy / ((finished - started) / 1000)),
        firstAttempt: {
          count: delays.length,
          p50Ms: Math.round(percentile(delays, 50)),
          p99Ms: Math.round(percentile(delays, 99)),
          maxMs: Math.round(delays.at(-1) ?? 0),
        },
        failingEndpointShareOfAttempts: +(((report.failingAttempts - before.failingAttempts) / (report.attempts - before.attempts)) * 100).toFixed(2),
        duplicates: report.duplicates,
        unverifiedSignatures: report.unverified,
        cpuSeconds: cpuDelta(c0, c1),
        workerRssPeakMb: rssPeakMb(worker.pid),
      };
      console.log(JSON.stringify({ [phase]: results[phase] }, null, 2));
      await client.query('analyze domain_events; analyze webhook_deliveries; analyze webhook_attempts');
    }
    const [failing] = (await client.query(`select status, failing_since from webhook_subscriptions where id = $1`, [subscriptions[FAILING]!.id])).rows;
    console.log(
      JSON.stringify(
        {
          machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
          date: new Date().toISOString(),
          failingSubscription: failing,
          results,
        },
        null,
        2,
      ),
    );
  } finally {
    await client.end();
    await stopProcesses(children);
    await temporal.stop();
    await database.drop();
  }
}

await main();
