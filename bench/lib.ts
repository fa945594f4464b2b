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

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Closed-loop load: `connections` keep-alive connections each send the next request as soon as
 * the previous answer arrives, for `seconds`. `next()` builds each request body and headers.
 */
export async function closedLoop(options: {
  url: string;
  connections: number;
  seconds: number;
  next: (i: number) => { body: string; headers: Record<string, string> };
  onAck?: (i: number) => void;
}): Promise<LoadResult> {
  const target = new URL(options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const latencies: number[] = [];
  const statusCounts: Record<string, number> = {};
  let sent = 0;
  let acknowledged = 0;
  let failed = 0;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;

  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const { body, headers } = options.next(i);
      const t0 = performance.now();
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - t0);
            const key = String(res.statusCode);
            statusCounts[key] = (statusCounts[key] ?? 0) + 1;
            if (res.statusCode === 200) {
              acknowledged++;
              options.onAck?.(i);
            } else failed++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        failed++;
        statusCounts.error = (statusCounts.error ?? 0) + 1;
        resolve();
      });
      req.end(body);
    });

  await Promise.all(
    Array.from({ length: options.connections }, async () => {
      while (performance.now() < deadline) {
        const i = sent++;
        await one(i);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    sent,
    acknowledged,
    failed,
    seconds,
    rps: acknowledged / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? 0,
    statusCounts,
  };
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
      await admin.query(`drop database if exists "${dbName}" with (force)`);
      await admin.end();
    },
  };
}
