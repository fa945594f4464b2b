import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { createOrm, migrate } from '@parley/db';

export interface LoadResult {
  sent: number;
  acknowledged: number;
  failed: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  statusCounts: Record<string, number>;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

type Next = (i: number) => { body: string; headers: Record<string, string> };

/** Posts requests over keep-alive connections and keeps the tally of their answers. */
class Poster {
  private readonly target: URL;
  private readonly agent: Agent;
  private readonly latencies: number[] = [];
  private readonly statusCounts: Record<string, number> = {};
  private readonly started = performance.now();
  sent = 0;
  private acknowledged = 0;
  private failed = 0;

  constructor(
    url: string,
    connections: number,
    private readonly next: Next,
    private readonly onAck?: (i: number, at: number) => void,
  ) {
    this.target = new URL(url);
    this.agent = new Agent({ keepAlive: true, maxSockets: connections });
  }

  /** Sends request number `sent` and resolves once it is answered or failed. */
  post(): Promise<void> {
    const i = this.sent++;
    return new Promise<void>((resolve) => {
      const { body, headers } = this.next(i);
      const t0 = performance.now();
      const req = request(
        {
          agent: this.agent,
          host: this.target.hostname,
          port: this.target.port,
          path: this.target.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            const at = performance.now();
            this.latencies.push(at - t0);
            const key = String(res.statusCode);
            this.statusCounts[key] = (this.statusCounts[key] ?? 0) + 1;
            if (res.statusCode === 200) {
              this.acknowledged++;
              this.onAck?.(i, at);
            } else this.failed++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        this.failed++;
        this.statusCounts.error = (this.statusCounts.error ?? 0) + 1;
        resolve();
      });
      req.end(body);
    });
  }

  result(): LoadResult {
    const seconds = (performance.now() - this.started) / 1000;
    this.agent.destroy();
    const latencies = [...this.latencies].sort((a, b) => a - b);
    return {
      sent: this.sent,
      acknowledged: this.acknowledged,
      failed: this.failed,
      seconds,
      rps: this.acknowledged / seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1] ?? 0,
      statusCounts: this.statusCounts,
    };
  }
}

/**
 * Closed-loop load: `connections` keep-alive connections each send the next request as soon as
 * the previous answer arrives, for `seconds` or until `limit` requests. `next()` builds each
 * request body and headers; `onAck` learns when each 200 arrived (performance.now()).
 */
export async function closedLoop(options: {
  url: string;
  connections: number;
  seconds: number;
  limit?: number;
  next: Next;
  onAck?: (i: number, at: number) => void;
}): Promise<LoadResult> {
  const poster = new Poster(options.url, options.connections, options.next, options.onAck);
  const deadline = performance.now() + options.seconds * 1000;
  const limit = options.limit ?? Infinity;
  await Promise.all(
    Array.from({ length: options.connections }, async () => {
      while (performance.now() < deadline && poster.sent < limit) await poster.post();
    }),
  );
  return poster.result();
}

/**
 * Open-loop load: `rate` requests per second for `seconds`, sent on schedule whether or not
 * earlier ones were answered (as Meta posts webhooks), over up to `connections` keep-alive
 * connections.
 */
export async function openLoop(options: {
  url: string;
  rate: number;
  seconds: number;
  connections?: number;
  next: Next;
  onAck?: (i: number, at: number) => void;
}): Promise<LoadResult> {
  const poster = new Poster(options.url, options.connections ?? 128, options.next, options.onAck);
  const started = performance.now();
  const total = Math.round(options.rate * options.seconds);
  const inFlight = new Set<Promise<void>>();
  await new Promise<void>((done) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * options.rate));
      while (poster.sent < due) {
        const p = poster.post();
        inFlight.add(p);
        void p.then(() => inFlight.delete(p));
      }
      if (poster.sent >= total) {
        clearInterval(tick);
        done();
      }
    }, 5);
  });
  await Promise.all(inFlight);
  return poster.result();
}

/** A load result as the benchmarks report it. */
export function loadSummary(r: LoadResult) {
  return {
    acknowledgedPerSecond: Math.round(r.rps),
    p50Ms: Number(r.p50.toFixed(2)),
    p99Ms: Number(r.p99.toFixed(2)),
    maxMs: Number(r.max.toFixed(2)),
    acknowledged: r.acknowledged,
    failed: r.failed,
    statusCounts: r.statusCounts,
  };
}

/** The platform's secrets in a benchmark: fixed, so a run can be repeated and its tokens forged. */
export const BENCH_SECRETS = {
  META_APP_ID: 'bench-app',
  META_APP_SECRET: 'bench-app-secret',
  META_VERIFY_TOKEN: 'bench-verify',
  PLATFORM_ADMIN_TOKEN: 'bench-operator-token-0123456789abcdef',
  ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
  JWT_SECRET: 'bench-jwt-secret-0123456789abcdef0123456789',
};

/** The environment of the platform's processes in a benchmark: production mode, quiet logs. */
export function platformEnv(o: { port: number; databaseUrl: string; temporalAddress: string; graphUrl: string; extra?: NodeJS.ProcessEnv }): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...BENCH_SECRETS,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    PORT: String(o.port),
    DATABASE_URL: o.databaseUrl,
    TEMPORAL_ADDRESS: o.temporalAddress,
    META_GRAPH_URL: o.graphUrl,
    ...o.extra,
  };
}

/**
 * Starts one of the platform's entry points as production runs it (plain node with tsx's loader),
 * from the repository root. BENCH_PROFILE writes its CPU profile to /tmp/prof-<name>;
 * BENCH_LOG_DIR keeps its log (stdout) as <dir>/<name>.log.
 */
export function startProcess(entry: string, name: string, env: NodeJS.ProcessEnv): ChildProcess {
  const root = path.resolve(import.meta.dirname, '..');
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=/tmp/prof-${name}`] : [];
  const out = process.env.BENCH_LOG_DIR ? openSync(path.join(process.env.BENCH_LOG_DIR, `${name}.log`), 'w') : 'ignore';
  return spawn(process.execPath, [...profile, '--import', 'tsx', entry], { cwd: root, env, stdio: ['ignore', out, 'inherit'] });
}

/** Stops the platform's processes (SIGTERM, so each drains as in production) and waits for them. */
export async function stopProcesses(children: ChildProcess[]): Promise<void> {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

export type { IncomingHttpHeaders };

/**
 * The most items any window of `windowMs` holds, over events `at` a time (ms) each counting `n`
 * (1 when absent): the busiest second of sends, say.
 */
export function busiestWindow(events: readonly { at: number; n?: number }[], windowMs: number): number {
  const sorted = [...events].sort((a, b) => a.at - b.at);
  let worst = 0;
  for (let i = 0, j = 0, sum = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]!.at - sorted[i]!.at < windowMs) sum += sorted[j++]!.n ?? 1;
    worst = Math.max(worst, sum);
    sum -= sorted[i]!.n ?? 1;
  }
  return worst;
}

/**
 * A database of its own for one benchmark run, migrated, on the server BENCH_DATABASE_ADMIN_URL
 * names (default: the local one). `drop()` closes the ORM and removes the database.
 */
export async function benchDatabase(name: string): Promise<{ url: string; orm: MikroORM; drop(): Promise<void> }> {
  const adminUrl = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `${name}_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database "${dbName}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const orm = await createOrm({ url: url.toString(), poolMax: 2 });
  await migrate(orm);
  return {
    url: url.toString(),
    orm,
    drop: async () => {
      await orm.close(true);
      // Kept for a look afterwards (EXPLAIN on the tables as the run left them), when asked.
      if (process.env.BENCH_KEEP_DATABASE) {
        process.stderr.write(`database kept: ${dbName}\n`);
        await admin.end();
        return;
      }
      await admin.query(`drop database if exists "${dbName}" with (force)`);
      await admin.end();
    },
  };
}

const TICKS_PER_SECOND = 100;

/** CPU seconds (user, system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number | undefined): [number, number] {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return [Number(fields[11]) / TICKS_PER_SECOND, Number(fields[12]) / TICKS_PER_SECOND];
  } catch {
    return [0, 0];
  }
}

/** CPU seconds of every process whose command is `name` (PostgreSQL's backends, the Temporal server). */
export function cpuSecondsByName(name: string): [number, number] {
  const total: [number, number] = [0, 0];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== name) continue;
      const [user, system] = cpuSeconds(Number(pid));
      total[0] += user;
      total[1] += system;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}
