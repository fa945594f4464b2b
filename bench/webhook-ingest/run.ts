/**
 * Webhook ingest benchmark: signed Meta deliveries (one inbound message to three statuses, as a
 * busy number sees them) against the API over loopback, then a check that every acknowledged
 * event is in the database exactly once. The same load against a bare node:http server that
 * answers 200 gives the ceiling of this machine.
 *
 *   npm run bench:webhook-ingest [-- --seconds 20 --connections 64]
 */
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { newId, SecretBox } from '@parley/core';
import { freePort, startTemporalDevServer, waitForPort } from '@parley/dev';
import { benchDatabase, closedLoop, loadSummary, stopProcesses, type LoadResult } from '../lib';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    connections: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '3' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const root = path.resolve(import.meta.dirname, '../..');

const APP_SECRET = 'bench-app-secret';
const ENCRYPTION_KEY = Buffer.alloc(32, 9).toString('base64');
const ADMIN = 'bench-operator-token-0123456789abcdef';

const sign = (body: string) => `sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}`;

async function main() {
  const database = await benchDatabase('parley_bench');
  const { orm, url: databaseUrl } = database;

  const port = await freePort();
  const temporal = await startTemporalDevServer();
  const env = {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_MAX: '20',
      TEMPORAL_ADDRESS: temporal.address,
      META_APP_ID: 'bench',
      META_APP_SECRET: APP_SECRET,
      META_VERIFY_TOKEN: 'bench-verify',
      PLATFORM_ADMIN_TOKEN: ADMIN,
      ENCRYPTION_KEY,
      JWT_SECRET: 'bench-jwt-secret-0123456789abcdef0123456789',
  };
  // The platform as it runs: the API stores deliveries, the worker applies them.
  const api = spawn(process.execPath, [...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), '--import', 'tsx', 'apps/api/src/main.ts'], { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
  const worker = spawn(process.execPath, ['--import', 'tsx', 'apps/worker/src/main.ts'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await waitForPort(port, 60_000);
    const base = `http://127.0.0.1:${port}`;
    const created = await fetch(`${base}/v1/organizations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Bench', admin: { email: `bench-${process.pid}@example.test`, password: 'bench password 123' } }),
    });
    const org = (await created.json()) as { id: string };
    const phoneNumberId = '109' + String(Date.now()).slice(-9);
    const wabaId = '209' + String(Date.now()).slice(-9);
    const box = new SecretBox({ id: 'bench', key: Buffer.from(ENCRYPTION_KEY, 'base64') });
    const channelId = newId();
    await orm.em
      .fork()
      .getConnection()
      .execute(
        `insert into channels (id, organization_id, label, waba_id, phone_number_id, display_phone_number, verified_name, business_token_ciphertext, status, messages_per_second, created_at, updated_at)
         values (?, ?, 'bench', ?, ?, '+1 555 0100', 'Bench', ?, 'active', 80, now(), now())`,
        [channelId, org.id, wabaId, phoneNumberId, box.encrypt('token', channelId)],
      );

    const run = randomBytes(4).toString('hex');
    const metadata = { display_phone_number: '15550100', phone_number_id: phoneNumberId };
    const acked = { messages: 0, statuses: 0 };
    // Outbound messages whose statuses arrive; inbound messages from 500 contacts.
    const delivery = (i: number): { body: string; headers: Record<string, string>; kind: 'message' | 'status' } => {
      const now = String(Math.floor(Date.now() / 1000));
      let value: Record<string, unknown>;
      let kind: 'message' | 'status';
      if (i % 4 === 0) {
        const from = `5021${String(1000000 + (i % 500)).padStart(7, '0')}`;
        value = {
          messaging_product: 'whatsapp',
          metadata,
          contacts: [{ profile: { name: `Contact ${i % 500}` }, wa_id: from }],
          messages: [{ from, id: `wamid.bench.${run}.m${i}`, timestamp: now, type: 'text', text: { body: `hello ${i}` } }],
        };
        kind = 'message';
      } else {
        const status = ['sent', 'delivered', 'read'][i % 4 - 1]!;
        value = {
          messaging_product: 'whatsapp',
          metadata,
          statuses: [{ id: `wamid.bench.${run}.o${Math.floor(i / 4)}`, status, timestamp: now, recipient_id: '50212345678' }],
        };
        kind = 'status';
      }
      const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: wabaId, changes: [{ value, field: 'messages' }] }] });
      return { body, headers: { 'x-hub-signature-256': sign(body) }, kind };
    };

    const url = `${base}/webhooks/meta`;
    // Warm-up traffic is tagged apart so the exactly-once counts below see only the measured run.
    const warmupDelivery = (i: number) => {
      const d = delivery(i + 1_000_000_000);
      const body = d.body.replaceAll(`wamid.bench.${run}.`, `wamid.warmup.${run}.`);
      return { body, headers: { 'x-hub-signature-256': sign(body) } };
    };
    await closedLoop({ url, connections, seconds: Number(values.warmup), next: (i) => warmupDelivery(i) });
    const parley = await closedLoop({
      url,
      connections,
      seconds,
      next: (i) => delivery(i),
      onAck: (i) => (i % 4 === 0 ? acked.messages++ : acked.statuses++),
    });

    console.error(`parley: ${Math.round(parley.rps)}/s acknowledged, p50 ${parley.p50.toFixed(1)} ms, p99 ${parley.p99.toFixed(1)} ms; waiting for the worker to apply them`);
    // Exactly once: every acknowledged delivery is stored, and once applied, is there once.
    const sql = orm.em.fork().getConnection();
    const deadline = Date.now() + 300_000;
    const drainStarted = Date.now();
    for (;;) {
      const [row] = await sql.execute<{ n: number }[]>('select count(*)::int as n from meta_webhook_deliveries where processed_at is null');
      if (row!.n === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const drainSeconds = (Date.now() - drainStarted) / 1000;
    const [stored] = await sql.execute<{ n: number }[]>(`select count(*)::int as n from meta_webhook_deliveries where payload::text like ?`, [
      `%wamid.bench.${run}.%`,
    ]);
    const [messages] = await sql.execute<{ n: number; d: number }[]>(
      `select count(*)::int as n, count(distinct wamid)::int as d from messages where wamid like ?`,
      [`wamid.bench.${run}.m%`],
    );
    const [statuses] = await sql.execute<{ n: number; d: number }[]>(
      `select count(*)::int as n, count(distinct (wamid, status))::int as d from message_status_events where wamid like ?`,
      [`wamid.bench.${run}.o%`],
    );

    const ceiling = await bareCeiling(delivery);
    const report = {
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
      date: new Date().toISOString(),
      connections,
      seconds,
      parley: loadSummary(parley),
      ceiling: loadSummary(ceiling),
      ratioToCeiling: Number((parley.rps / ceiling.rps).toFixed(3)),
      exactlyOnce: {
        acknowledgedDeliveries: parley.acknowledged,
        storedDeliveries: stored!.n,
        acknowledgedMessages: acked.messages,
        messagesStored: messages!.n,
        messagesDistinct: messages!.d,
        acknowledgedStatuses: acked.statuses,
        statusEventsStored: statuses!.n,
        ok: stored!.n === parley.acknowledged && messages!.n === acked.messages && messages!.d === messages!.n && statuses!.n === acked.statuses,
      },
      processingDrainSecondsAfterLoad: drainSeconds,
    };
    console.log(JSON.stringify(report, null, 2));
    if (!report.exactlyOnce.ok) process.exitCode = 1;
  } finally {
    await stopProcesses([api, worker]);
    await temporal.stop();
    await database.drop();
  }
}

async function bareCeiling(delivery: (i: number) => { body: string; headers: Record<string, string> }): Promise<LoadResult> {
  const port = await freePort();
  const server = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'bare-server.ts'), String(port)], { stdio: 'inherit' });
  try {
    await waitForPort(port, 30_000);
    await closedLoop({ url: `http://127.0.0.1:${port}/webhooks/meta`, connections, seconds: Number(values.warmup), next: delivery });
    return await closedLoop({ url: `http://127.0.0.1:${port}/webhooks/meta`, connections, seconds, next: delivery });
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
}

await main();
