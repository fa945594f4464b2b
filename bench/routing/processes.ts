/**
 * Routing benchmark against the platform's processes (`npm run bench:routing -- --processes`): the
 * API and the worker run as production runs them, the sandbox Graph API stands in for Meta, and
 * contacts write through the signed webhook. So the added time includes the real wake path: the
 * API stores the delivery and notifies the worker, whose inbound processor stores the message (its
 * trigger writes the routing row and notifies `routing_inbound`), and whose RoutingRunner, woken
 * by that notification, routes it.
 *
 * 1. Queue: new contacts write at a steady pace to a number routed to a queue with an
 *    auto-response. Added time: from the inbound message being stored to the auto-response being
 *    queued by the routing (both stamped by the worker, in the transactions that wrote them).
 *    Also from the webhook's 200 to the auto-response reaching the Graph API (the outbox included).
 * 2. Chatbot: new contacts write to a number routed to a chatbot connector (an HTTP server in this
 *    process that answers at once). Added time: from the message being stored to the bot receiving
 *    it (the session's workflow makes the request).
 */
import type { ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { freePort, startTemporalDevServer, waitForPort } from '@parley/dev';
import { newWamid, startSandboxGraph } from '@parley/sandbox-graph';
import { BENCH_SECRETS, benchDatabase, cpuSeconds, percentile, platformEnv, startProcess, stopProcesses } from '../lib';

type Json = Record<string, unknown>;
const secrets = BENCH_SECRETS;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sign = (body: string) => `sha256=${createHmac('sha256', secrets.META_APP_SECRET).update(body).digest('hex')}`;
const load = () => execFileSync('uptime', { encoding: 'utf8' }).trim().replace(/.*load average:\s*/, '');

async function call(api: string, method: string, path: string, token: string | undefined, body?: unknown): Promise<Json> {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? (JSON.parse(text) as Json) : {};
}

interface Line {
  wabaId: string;
  phoneNumberId: string;
}

/** Posts one signed inbound text; resolves at the webhook's 200 (ms epoch). */
async function contactWrites(api: string, line: Line, from: string, text: string): Promise<number> {
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: line.wabaId,
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: line.phoneNumberId.slice(-8), phone_number_id: line.phoneNumberId },
              contacts: [{ profile: { name: `Contact ${from.slice(-4)}` }, wa_id: from }],
              messages: [{ from, id: newWamid(from), timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: text } }],
            },
          },
        ],
      },
    ],
  });
  const res = await fetch(`${api}/webhooks/meta`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(body) }, body });
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
  await res.arrayBuffer();
  return Date.now();
}

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: Number(percentile(sorted, 50).toFixed(1)), p99: Number(percentile(sorted, 99).toFixed(1)), max: Number((sorted.at(-1) ?? 0).toFixed(1)) };
};

// Temporal's EventType numbers (temporal.api.enums.v1.EventType).
const EVENT = { WORKFLOW_EXECUTION_STARTED: 1, WORKFLOW_TASK_STARTED: 6, WORKFLOW_TASK_COMPLETED: 7, ACTIVITY_TASK_STARTED: 11 } as const;

type Sql = ReturnType<Awaited<ReturnType<typeof benchDatabase>>['orm']['em']['fork']>['getConnection'] extends () => infer C ? C : never;

/**
 * Where a bot message's time goes after its routing: the session opened (its row written), its
 * workflow started, the workflow's first task taken by the worker (at once when started eagerly)
 * and done, the request's activity started (Temporal's own timestamps in the histories), and the
 * bot receiving the message.
 */
async function botHops(address: string, sql: Sql, channelId: string, since: number, botReceived: Map<string, number>): Promise<Json> {
  const sessions = await sql.execute<{ workflow_id: string; created_at: Date; message_id: string; stored: Date }[]>(
    `select s.workflow_id, s.created_at, m.id as message_id, m.status_updated_at as stored
     from routing_sessions s
     join lateral (select id, status_updated_at from messages m where m.conversation_id = s.conversation_id and m.direction = 'inbound' order by m.id limit 1) m on true
     where s.channel_id = ? and s.created_at >= ?`,
    [channelId, new Date(since)],
  );
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const hops: Record<string, number[]> = { storedToWorkflowStarted: [], sessionToStarted: [], startedToFirstTaskStarted: [], firstTaskStartedToDone: [], taskDoneToActivityStarted: [], activityStartedToBot: [] };
  try {
    for (const session of sessions) {
      const history = await client.workflow.getHandle(session.workflow_id).fetchHistory();
      const at = (type: keyof typeof EVENT) => {
        const event = history.events?.find((e) => Number(e.eventType) === EVENT[type]);
        const t = event?.eventTime;
        return t ? Number(t.seconds) * 1000 + Math.round((t.nanos ?? 0) / 1e6) : NaN;
      };
      const started = at('WORKFLOW_EXECUTION_STARTED');
      const taskStarted = at('WORKFLOW_TASK_STARTED');
      const taskDone = at('WORKFLOW_TASK_COMPLETED');
      const activity = at('ACTIVITY_TASK_STARTED');
      const received = botReceived.get(session.message_id);
      // The routing's whole action for a bot: routed, the session opened and its workflow started.
      hops.storedToWorkflowStarted!.push(started - new Date(session.stored).getTime());
      hops.sessionToStarted!.push(started - new Date(session.created_at).getTime());
      hops.startedToFirstTaskStarted!.push(taskStarted - started);
      hops.firstTaskStartedToDone!.push(taskDone - taskStarted);
      hops.taskDoneToActivityStarted!.push(activity - taskDone);
      if (received !== undefined) hops.activityStartedToBot!.push(received - activity);
    }
  } finally {
    await connection.close();
  }
  return Object.fromEntries(Object.entries(hops).map(([k, v]) => [k, stats(v.filter((x) => !Number.isNaN(x)))]));
}

export async function processBench(options: { pace: number; seconds: number }): Promise<Json> {
  const database = await benchDatabase('bench_routing_processes');
  const temporal = await startTemporalDevServer();
  const port = await freePort();
  const sandbox = await startSandboxGraph({ port: 0, appId: secrets.META_APP_ID, appSecret: secrets.META_APP_SECRET, webhookUrl: `http://127.0.0.1:${port}/webhooks/meta` });
  // The bot: answers every request at once and notes when each message reached it.
  const botReceived = new Map<string, number>();
  const bot = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message: { id: string } | null };
      if (body.message) botReceived.set(body.message.id, at);
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((resolve) => bot.listen(0, '127.0.0.1', resolve));
  const botUrl = `http://127.0.0.1:${(bot.address() as AddressInfo).port}/bot`;
  const env = platformEnv({
    port,
    databaseUrl: database.url,
    temporalAddress: temporal.address,
    graphUrl: sandbox.url,
    // The bot lives on loopback over http, which only development allows (NODE_ENV changes nothing else: every setting is given).
    extra: { NODE_ENV: 'development', DATABASE_POOL_MAX: '20', ALLOW_INSECURE_WEBHOOKS: 'true', PUBLIC_URL: `http://127.0.0.1:${port}` },
  });
  const children: ChildProcess[] = [];
  try {
    children.push(startProcess('apps/api/src/main.ts', 'api', env));
    await waitForPort(port, 60_000);
    const worker = startProcess('apps/worker/src/main.ts', 'worker', env);
    children.push(worker);
    const api = `http://127.0.0.1:${port}`;
    await call(api, 'POST', '/v1/organizations', secrets.PLATFORM_ADMIN_TOKEN, { name: 'Bench', admin: { email: 'bench-routing@example.test', password: 'bench password 1234' } });
    const token = String((await call(api, 'POST', '/v1/auth/login', undefined, { email: 'bench-routing@example.test', password: 'bench password 1234' })).accessToken);
    const lines = { queue: { wabaId: '800000000301', phoneNumberId: '800000000302' }, bot: { wabaId: '800000000303', phoneNumberId: '800000000304' } };
    const channelIds: Record<string, string> = {};
    for (const [name, line] of Object.entries(lines)) {
      const channel = await call(api, 'POST', '/v1/channels/whatsapp', token, { code: `bench-${name}`, ...line, label: name });
      channelIds[name] = String(channel.id);
      // The benchmark measures routing, not the channel's send budget.
      await call(api, 'PATCH', `/v1/channels/${channelIds[name]}`, token, { messagesPerSecond: 1000 });
    }
    const queue = await call(api, 'POST', '/v1/routing/draft/queues', token, { name: 'Sales', autoResponse: 'You are number {{queue.position}}; about {{queue.averageWaitMinutes}} min.' });
    const chatbot = await call(api, 'POST', '/v1/routing/draft/chatbots', token, { name: 'Bot', url: botUrl, fallback: { kind: 'queue', id: queue.id }, timeoutMs: 5000 });
    await call(api, 'PUT', `/v1/routing/draft/channels/${channelIds.queue}`, token, { first: { kind: 'queue', id: queue.id }, attachments: 'both' });
    await call(api, 'PUT', `/v1/routing/draft/channels/${channelIds.bot}`, token, { first: { kind: 'chatbot', id: chatbot.id }, attachments: 'both' });
    await call(api, 'POST', '/v1/routing/apply', token, {});

    let seq = 0;
    const phone = () => `5025${String(2_000_000 + seq++).padStart(7, '0')}`;
    const replyAt = (to: string, after: number) =>
      sandbox
        .sends({ to })
        .map((s) => new Date(s.at).getTime())
        .filter((t) => t >= after - 1)
        .sort((a, b) => a - b)[0];
    // Warm-up: the worker is up (it bundles its workflows at start) once a first auto-response and a first bot request went out.
    const warmQueue = phone();
    const warmAck = await contactWrites(api, lines.queue, warmQueue, 'hola');
    await contactWrites(api, lines.bot, phone(), 'hola');
    for (let waited = 0; replyAt(warmQueue, warmAck) === undefined || botReceived.size === 0; waited += 200) {
      if (waited > 180_000) throw new Error('no auto-response or bot request within three minutes of the warm-up');
      await sleep(200);
    }
    await sleep(2000);

    const report: Json = {
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
      date: new Date().toISOString(),
      loadBefore: load(),
    };
    for (const leg of ['queue', 'bot'] as const) {
      const line = lines[leg];
      const acks: { from: string; ack: number }[] = [];
      const cpu0 = cpuSeconds(worker.pid);
      const total = options.pace * options.seconds;
      const started = Date.now();
      const writes: Promise<void>[] = [];
      for (let i = 0; i < total; i++) {
        const due = started + (i * 1000) / options.pace;
        if (due > Date.now()) await sleep(due - Date.now());
        const from = phone();
        writes.push(contactWrites(api, line, from, 'I want to buy').then((ack) => void acks.push({ from, ack })));
      }
      await Promise.all(writes);
      const sql = database.orm.em.fork().getConnection();
      const routed = async () => {
        const [row] = await sql.execute<{ n: number }[]>(
          leg === 'queue'
            ? `select count(*)::int as n from messages where channel_id = ? and direction = 'outbound'`
            : `select count(*)::int as n from routing_sessions where channel_id = ?`,
          [channelIds[leg]],
        );
        return row!.n;
      };
      const deadline = Date.now() + 60_000;
      while ((await routed()) < total + 1 && Date.now() < deadline) await sleep(200);
      if (leg === 'bot') while (botReceived.size < total + 1 && Date.now() < deadline) await sleep(200);
      // An inbound message's created_at is Meta's (whole-second) timestamp; status_updated_at is when the processor stored it.
      const rows = await sql.execute<{ message_id: string; stored: Date; action: Date | null; routed: Date | null; received: Date; processed: Date }[]>(
        `select m.id as message_id, m.status_updated_at as stored, rc.routed_at as routed, d.received_at as received, d.processed_at as processed,
           (select min(o.created_at) from messages o where o.conversation_id = m.conversation_id and o.direction = 'outbound') as action
         from messages m left join routing_conversations rc on rc.conversation_id = m.conversation_id
         join lateral (select received_at, processed_at from meta_webhook_deliveries d
                       where d.payload->'entry'->0->'changes'->0->'value'->'messages'->0->>'id' = m.wamid limit 1) d on true
         where m.channel_id = ? and m.direction = 'inbound' and m.status_updated_at >= ?`,
        [channelIds[leg], new Date(started)],
      );
      const added =
        leg === 'queue'
          ? rows.filter((r) => r.action).map((r) => new Date(r.action!).getTime() - new Date(r.stored).getTime())
          : rows.filter((r) => botReceived.has(r.message_id)).map((r) => botReceived.get(r.message_id)! - new Date(r.stored).getTime());
      const cpu1 = cpuSeconds(worker.pid);
      const toRouted = rows.filter((r) => r.routed).map((r) => new Date(r.routed!).getTime() - new Date(r.stored).getTime());
      const ms = (a: Date, b: Date) => new Date(b).getTime() - new Date(a).getTime();
      report[leg] = {
        contactsPerSecond: options.pace,
        messages: total,
        handled: added.length,
        // What the worker spent on each message, everything included (inbound, routing, the reply's send and its statuses).
        workerCpuMsPerMessage: Math.round(((cpu1[0] + cpu1[1] - cpu0[0] - cpu0[1]) * 1000) / total),
        addedMs: stats(added),
        storedToRoutingStartMs: stats(toRouted),
        // Before routing: the webhook's delivery stored by the API, then applied by the worker's inbound processor.
        inboundPathMs: { deliveryStoredToApplied: stats(rows.map((r) => ms(r.received, r.processed))), deliveryStoredToMessageStored: stats(rows.map((r) => ms(r.received, r.stored))) },
        ...(leg === 'queue'
          ? { webhookToGraphApiMs: stats(acks.map((a) => (replyAt(a.from, a.ack) ?? NaN) - a.ack).filter((v) => !Number.isNaN(v))) }
          : {}),
      };
      if (leg === 'bot') (report[leg] as Json).hopsMs = await botHops(temporal.address, sql, channelIds.bot!, started, botReceived);
      process.stderr.write(`${leg}: ${JSON.stringify(report[leg])}\n`);
    }
    report.loadAfter = load();
    return report;
  } finally {
    await stopProcesses(children);
    bot.closeAllConnections();
    bot.close();
    await sandbox.stop();
    await temporal.stop();
    await database.drop();
  }
}
