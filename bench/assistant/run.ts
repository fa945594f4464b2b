/**
 * AI assistant benchmark: the API and the worker as separate processes, the sandbox Graph API as
 * Meta, and a fake OpenAI-compatible model that answers every request in a fixed time.
 *
 * 1. Latency: contacts write at a steady pace (default 10 new contacts per second), each a burst
 *    of two messages 200 ms apart. For each contact, the time from the webhook's 200 for its last
 *    message to the reply reaching the Graph API, less the quiet time and the model's time: what
 *    the platform itself adds (target p99 under 500 ms). One model request per burst is checked.
 * 2. Throughput: many contacts write at once; replies per second one worker sustains.
 *
 *   npm run bench:assistant [-- --contacts 300 --pace 10 --quiet-ms 1000 --model-ms 300 --burst 600]
 */
import type { ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { freePort, startTemporalDevServer, waitForPort } from '@parley/dev';
import { newWamid, startSandboxGraph } from '@parley/sandbox-graph';
import { startFakeOpenAI } from '../../test/support/fake-openai';
import { BENCH_SECRETS, benchDatabase, cpuSeconds, percentile, platformEnv, startProcess, stopProcesses } from '../lib';

const { values } = parseArgs({
  options: {
    contacts: { type: 'string', default: '300' },
    pace: { type: 'string', default: '10' },
    'quiet-ms': { type: 'string', default: '1000' },
    'model-ms': { type: 'string', default: '300' },
    burst: { type: 'string', default: '600' },
    skip: { type: 'string', default: '' },
  },
});
const CONTACTS = Number(values.contacts);
const PACE = Number(values.pace);
const QUIET_MS = Number(values['quiet-ms']);
const MODEL_MS = Number(values['model-ms']);
const BURST = Number(values.burst);
const secrets = BENCH_SECRETS;
const WABA_ID = '800000000201';
const PHONE_NUMBER_ID = '800000000202';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();
const sign = (body: string) => `sha256=${createHmac('sha256', secrets.META_APP_SECRET).update(body).digest('hex')}`;

type Json = Record<string, unknown>;

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

/** Posts one signed inbound text from `from`; resolves at the webhook's 200. */
async function contactWrites(api: string, from: string, text: string): Promise<number> {
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: WABA_ID,
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550202', phone_number_id: PHONE_NUMBER_ID },
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
  return now();
}

async function main() {
  const database = await benchDatabase('parley_bench_assistant');
  const temporal = await startTemporalDevServer();
  const model = await startFakeOpenAI();
  model.latencyMs = MODEL_MS;
  model.fallback = { action: 'reply', reply: 'Gracias por escribir. Su pedido sale mañana por la mañana.', reason: 'answered from the knowledge base' };
  const port = await freePort();
  const sandbox = await startSandboxGraph({ port: 0, appId: secrets.META_APP_ID, appSecret: secrets.META_APP_SECRET, webhookUrl: `http://127.0.0.1:${port}/webhooks/meta` });
  const env = platformEnv({
    port,
    databaseUrl: database.url,
    temporalAddress: temporal.address,
    graphUrl: sandbox.url,
    extra: { DATABASE_POOL_MAX: '20', OPENAI_BASE_URL: model.url, OPENAI_API_KEY: 'bench-key' },
  });
  const children: ChildProcess[] = [];
  try {
    children.push(startProcess('apps/api/src/main.ts', 'api', env));
    await waitForPort(port, 60_000);
    const worker = startProcess('apps/worker/src/main.ts', 'worker', env);
    children.push(worker);
    const api = `http://127.0.0.1:${port}`;
    await call(api, 'POST', '/v1/organizations', secrets.PLATFORM_ADMIN_TOKEN, { name: 'Bench', admin: { email: 'bench-assistant@example.test', password: 'bench password 1234' } });
    const token = String((await call(api, 'POST', '/v1/auth/login', undefined, { email: 'bench-assistant@example.test', password: 'bench password 1234' })).accessToken);
    const channel = await call(api, 'POST', '/v1/channels/whatsapp', token, { code: 'bench', wabaId: WABA_ID, phoneNumberId: PHONE_NUMBER_ID, label: 'Bench' });
    // The benchmark measures the assistant, not the channel's send budget.
    await call(api, 'PATCH', `/v1/channels/${String(channel.id)}`, token, { messagesPerSecond: 1000 });
    await call(api, 'PUT', `/v1/channels/${String(channel.id)}/assistant`, token, {
      enabled: true,
      mode: 'auto',
      model: 'bench-model',
      instructions: 'You answer customers of a parcel service in short WhatsApp messages.',
      quietTimeMs: QUIET_MS,
      knowledgeBase: [
        { title: 'Shipping times', text: 'Orders placed before noon leave the same day; delivery in Guatemala City takes one to two days.' },
        { title: 'Returns', text: 'Returns are accepted within 30 days with the receipt.' },
      ],
    });

    let contactSeq = 0;
    const phone = () => `5025${String(1_000_000 + contactSeq++).padStart(7, '0')}`;
    /** First send to `to` at the Graph API after `after` (ms epoch), or undefined. */
    const replyAt = (to: string, after: number): number | undefined =>
      sandbox
        .sends({ to })
        .map((s) => new Date(s.at).getTime())
        .filter((t) => t >= after - 1)
        .sort((a, b) => a - b)[0];

    // Warm-up: the worker is up (it bundles its workflows at start) once a first reply went out.
    const warm = phone();
    const warmAck = await contactWrites(api, warm, 'hola');
    for (let waited = 0; replyAt(warm, warmAck) === undefined; waited += 200) {
      if (waited > 180_000) throw new Error('no reply within three minutes of the warm-up message');
      await sleep(200);
    }
    await sleep(1000);

    const report: Json = {
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
      date: new Date().toISOString(),
      quietTimeMs: QUIET_MS,
      modelTimeMs: MODEL_MS,
    };

    if (!values.skip.includes('latency')) {
      const requestsBefore = model.received.length;
      const contacts: { from: string; lastAck: number }[] = [];
      const started = now();
      const writers: Promise<void>[] = [];
      for (let i = 0; i < CONTACTS; i++) {
        const due = started + (i / PACE) * 1000;
        if (due > now()) await sleep(due - now());
        const from = phone();
        writers.push(
          (async () => {
            await contactWrites(api, from, '¿Cuándo llega mi pedido?');
            await sleep(200);
            contacts.push({ from, lastAck: await contactWrites(api, from, 'Es el pedido 4411') });
          })(),
        );
      }
      await Promise.all(writers);
      const deadline = now() + 120_000;
      while (contacts.some((c) => replyAt(c.from, c.lastAck) === undefined) && now() < deadline) await sleep(200);
      const added = contacts
        .map((c) => replyAt(c.from, c.lastAck))
        .map((at, i) => (at === undefined ? undefined : at - contacts[i]!.lastAck - QUIET_MS - MODEL_MS))
        .filter((v): v is number => v !== undefined)
        .sort((a, b) => a - b);
      // Where the time goes: before the model is asked (after the quiet time), and after it answered.
      const requestOf = (from: string, after: number) =>
        model.received.filter((r) => r.at >= after - 1 && r.prompt.includes(`Contact ${from.slice(-4)}`)).sort((a, b) => a.at - b.at)[0]?.at;
      const split = contacts
        .map((c) => ({ c, asked: requestOf(c.from, c.lastAck), reply: replyAt(c.from, c.lastAck) }))
        .filter((x): x is { c: (typeof contacts)[number]; asked: number; reply: number } => x.asked !== undefined && x.reply !== undefined);
      const before = split.map((x) => x.asked - x.c.lastAck - QUIET_MS).sort((a, b) => a - b);
      const after = split.map((x) => x.reply - x.asked - MODEL_MS).sort((a, b) => a - b);
      report.latency = {
        breakdownMs: {
          quietTimeEndToModelRequest: { p50: Math.round(percentile(before, 50)), p99: Math.round(percentile(before, 99)) },
          modelAnswerToGraphApi: { p50: Math.round(percentile(after, 50)), p99: Math.round(percentile(after, 99)) },
        },
        contacts: CONTACTS,
        contactsPerSecond: PACE,
        replied: added.length,
        modelRequests: model.received.length - requestsBefore,
        addedByPlatformMs: { p50: Math.round(percentile(added, 50)), p99: Math.round(percentile(added, 99)), max: Math.round(added.at(-1) ?? 0) },
      };
      process.stderr.write(`${JSON.stringify(report.latency)}\n`);
    }

    if (!values.skip.includes('throughput')) {
      const cpu0 = cpuSeconds(worker.pid);
      const requestsBefore = model.received.length;
      const started = now();
      const froms = Array.from({ length: BURST }, () => phone());
      const acks = await Promise.all(froms.map((f) => contactWrites(api, f, 'Hola, ¿tienen envío a Quetzaltenango?')));
      const deadline = now() + 300_000;
      while (froms.some((f, i) => replyAt(f, acks[i]!) === undefined) && now() < deadline) await sleep(200);
      const times = froms.map((f, i) => replyAt(f, acks[i]!)).filter((t): t is number => t !== undefined).sort((a, b) => a - b);
      const first = times[0] ?? started;
      const last = times.at(-1) ?? started;
      const cpu1 = cpuSeconds(worker.pid);
      report.throughput = {
        contacts: BURST,
        replied: times.length,
        modelRequests: model.received.length - requestsBefore,
        secondsFromFirstToLastReply: Number(((last - first) / 1000).toFixed(1)),
        repliesPerSecond: Math.round(times.length / Math.max(0.001, (last - first) / 1000)),
        workerCpuSeconds: Number((cpu1[0] + cpu1[1] - cpu0[0] - cpu0[1]).toFixed(1)),
      };
      process.stderr.write(`${JSON.stringify(report.throughput)}\n`);
    }
    console.log(JSON.stringify(report, null, 2));
  } finally {
    await stopProcesses(children);
    await sandbox.stop();
    await model.stop();
    await temporal.stop();
    await database.drop();
  }
}

await main();
