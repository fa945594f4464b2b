/**
 * Broadcast benchmark: 100,000 recipients on a channel limited to 1,000 sends per second, the
 * sandbox Graph API on loopback answering each send after 50 ms and posting sent, delivered and
 * read webhooks back. API and worker run as their own processes, as in production.
 *
 *   npm run bench:broadcast [-- --recipients 100000 --rate 1000 --latency 50]
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { freePort, startTemporalDevServer, waitForPort } from '@parley/dev';
import { startSandboxGraph } from '@parley/sandbox-graph';
import { BENCH_SECRETS, benchDatabase, busiestWindow, cpuSeconds, cpuSecondsByName, platformEnv, startProcess, stopProcesses } from '../lib';
import { Client, Connection } from '@temporalio/client';

const { values } = parseArgs({
  options: {
    recipients: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '1000' },
    latency: { type: 'string', default: '50' },
    'no-status-webhooks': { type: 'boolean', default: false },
  },
});
const total = Number(values.recipients);
const rate = Number(values.rate);
const secrets = BENCH_SECRETS;

function peakRssMiB(pid: number | undefined): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
    return Math.round(kb / 1024);
  } catch {
    return null;
  }
}

async function main() {
  const database = await benchDatabase('parley_bench_broadcast');
  const { orm } = database;
  const temporalServer = await startTemporalDevServer();
  const port = await freePort();
  const sandbox = await startSandboxGraph({
    port: 0,
    appId: secrets.META_APP_ID,
    appSecret: secrets.META_APP_SECRET,
    latencyMs: Number(values.latency),
    webhookUrl: `http://127.0.0.1:${port}/webhooks/meta`,
    logLimit: total + 10,
    ...(values['no-status-webhooks'] ? { statusDelaysMs: { sent: null, delivered: null, read: null } } : {}),
  });
  const env = platformEnv({ port, databaseUrl: database.url, temporalAddress: temporalServer.address, graphUrl: sandbox.url });
  const children: ChildProcess[] = [];
  const run = (entry: string) => {
    const child = startProcess(entry, path.basename(path.dirname(path.dirname(entry))), env);
    children.push(child);
    return child;
  };
  const connection = await Connection.connect({ address: temporalServer.address });
  try {
    run('apps/api/src/main.ts');
    await waitForPort(port, 60_000);
    const worker = run('apps/worker/src/main.ts');
    const apiProcess = children[0]!;
    const api = `http://127.0.0.1:${port}`;
    const call = async (method: string, p: string, token: string, body?: unknown) => {
      const res = await fetch(api + p, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = (await res.json()) as Record<string, unknown>;
      if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
      return json as Record<string, unknown>;
    };
    await call('POST', '/v1/organizations', secrets.PLATFORM_ADMIN_TOKEN, {
      name: 'Bench',
      admin: { email: 'bench@example.test', password: 'bench password 1234' },
    });
    const login = await fetch(`${api}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'bench@example.test', password: 'bench password 1234' }),
    });
    const token = ((await login.json()) as { accessToken: string }).accessToken;
    const channel = await call('POST', '/v1/channels/whatsapp', token, { code: 'bench', wabaId: '800000000001', phoneNumberId: '800000000002', label: 'Bench' });
    await call('PATCH', `/v1/channels/${channel.id}`, token, { messagesPerSecond: rate });

    const phones = Array.from({ length: total }, (_, i) => ({ phone: `+1646${String(i).padStart(7, '0')}` }));
    const created = await call('POST', '/v1/broadcasts', token, {
      template: { name: 'hello_world', language: 'en_US' },
      users: phones.slice(0, 20_000),
      hold: true,
    });
    for (let i = 20_000; i < total; i += 20_000) await call('POST', `/v1/broadcasts/${created.id}/users`, token, { users: phones.slice(i, i + 20_000) });
    const cpu = () => ({
      api: cpuSeconds(apiProcess.pid),
      worker: cpuSeconds(worker.pid),
      'sandbox (this process)': cpuSeconds(process.pid),
      postgres: cpuSecondsByName('postgres'),
      temporal: cpuSecondsByName('temporal'),
    });
    // The channel's draw log (database clock) lives two seconds; collect it as it goes, for the
    // limit as the sender keeps it, next to the sandbox's view, which its own stalls bunch.
    const draws = new Map<string, { at: number; n: number }>();
    const drawLog = setInterval(() => {
      void orm.em
        .fork()
        .getConnection()
        .execute<{ id: string; drawn_at: Date; count: number }[]>('select id, drawn_at, count from channel_send_log')
        .then((rows) => rows.forEach((r) => draws.set(r.id, { at: new Date(r.drawn_at).getTime(), n: r.count })));
    }, 500);
    const cpuBefore = cpu();
    // The sandbox runs in this process: its own stalls bunch the arrival times it records.
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
    const started = Date.now();
    await call('POST', `/v1/broadcasts/${created.id}/start`, token);

    let last: Record<string, number> = {};
    for (;;) {
      await new Promise((r) => setTimeout(r, 2000));
      const b = await call('GET', `/v1/broadcasts/${created.id}?limit=1`, token);
      last = b.statistics as Record<string, number>;
      process.stderr.write(`  ${Math.round((Date.now() - started) / 1000)} s: ${JSON.stringify(last)}\n`);
      if (b.status !== 'running') break;
    }
    const finished = Date.now();
    const cpuAfter = cpu();
    clearInterval(drawLog);
    loopDelay.disable();
    const wall = (finished - started) / 1000;
    const cpuShare = Object.fromEntries(
      Object.entries(cpuAfter).map(([k, [user, system]]) => {
        const [user0, system0] = cpuBefore[k as keyof typeof cpuBefore];
        const share = (s: number) => Math.round((s / wall) * 100);
        return [k, `${share(user - user0 + system - system0)} % of a core (user ${share(user - user0)}, system ${share(system - system0)})`];
      }),
    );
    const sends = sandbox.sends({ phoneNumberId: '800000000002' });
    const times = sends.map((s) => s.at).sort((a, b) => a - b);
    const arrivals = times.map((at) => ({ at }));
    const sendSeconds = (times[times.length - 1]! - times[0]!) / 1000;
    const perRecipient = new Map<string, number>();
    for (const s of sends) perRecipient.set(s.to, (perRecipient.get(s.to) ?? 0) + 1);

    // The largest history among the runs of the workflow's continue-as-new chain.
    const client = new Client({ connection });
    let largestEvents = 0;
    let largestBytes = 0;
    let runs = 0;
    const workflowId = `${(await orm.em.fork().getConnection().execute<{ organization_id: string }[]>('select organization_id from broadcasts limit 1'))[0]!.organization_id}:broadcast:${created.id}`;
    for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
      runs++;
      const history = await client.workflow.getHandle(workflowId, w.runId).fetchHistory();
      largestEvents = Math.max(largestEvents, history.events?.length ?? 0);
      largestBytes = Math.max(largestBytes, Buffer.byteLength(JSON.stringify(history)));
    }
    const webhooks = sandbox.webhookStats();
    const report = {
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
      date: new Date().toISOString(),
      recipients: total,
      limitPerSecond: rate,
      graphLatencyMs: Number(values.latency),
      sends: sends.length,
      recipientsSentTwice: [...perRecipient.values()].filter((n) => n > 1).length,
      sustainedSendsPerSecond: Math.round(sends.length / sendSeconds),
      ratioToLimit: Number((sends.length / sendSeconds / rate).toFixed(3)),
      busiestOneSecondWindow: busiestWindow(arrivals, 1000),
      busiestOneSecondOfDraws: busiestWindow([...draws.values()], 1000),
      busiestTenthOfASecond: busiestWindow(arrivals, 100),
      sandboxEventLoopDelayMs: { p99: Math.round(loopDelay.percentile(99) / 1e6), max: Math.round(loopDelay.max / 1e6) },
      sendsPerSecondTimeline: (() => {
        const buckets: number[] = [];
        for (const t of times) buckets[Math.floor((t - times[0]!) / 1000)] = (buckets[Math.floor((t - times[0]!) / 1000)] ?? 0) + 1;
        return Array.from(buckets, (n) => n ?? 0);
      })(),
      secondsToCompletion: Math.round((finished - started) / 100) / 10,
      workerPeakRssMiB: peakRssMiB(worker.pid),
      workflowRuns: runs,
      largestHistory: { events: largestEvents, bytes: largestBytes },
      statusWebhooks: { ...webhooks, perSecondDuringSend: Math.round(webhooks.attempted / ((finished - started) / 1000)) },
      cpuDuringBroadcast: cpuShare,
      finalStatistics: last,
    };
    console.log(JSON.stringify(report, null, 2));
    if (report.recipientsSentTwice > 0 || sends.length !== total) process.exitCode = 1;
  } finally {
    await stopProcesses(children);
    await connection.close();
    await sandbox.stop();
    await temporalServer.stop();
    await database.drop();
  }
}

await main();
