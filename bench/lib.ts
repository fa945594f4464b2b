import { Agent, request, type IncomingHttpHeaders } from 'node:http';

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
