import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger, systemClock } from '@parley/core';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApp } from '../src/app';
import { startTestApi, type TestApi } from '../../../test/support/api';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api.close());

it('GET /ready names the dependency that is down without echoing its error, which is logged', async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const app = createApp({
    config: api.config,
    orm: api.orm,
    logger: createLogger({ level: 'info', destination: sink }),
    clock: systemClock,
    readiness: [
      // A real driver failure: its message names the host and port.
      { name: 'database', check: async () => void (await new pg.Client({ connectionString: 'postgres://ops_user@127.0.0.1:9/parley' }).connect()) },
      {
        name: 'temporal',
        check: async () => {
          throw new Error('14 UNAVAILABLE: No connection established to temporal-frontend.internal.example:7233');
        },
      },
    ],
  });
  const server = createServer(app.koa.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/ready`);
    const text = await res.text();
    expect(res.status).toBe(503);
    expect(JSON.parse(text)).toEqual({ status: 'unavailable', checks: { database: 'unavailable', temporal: 'unavailable' } });
    for (const internal of ['ECONNREFUSED', '127.0.0.1:9', 'temporal-frontend', '7233', 'ops_user']) expect(text).not.toContain(internal);

    await new Promise((resolve) => setTimeout(resolve, 50));
    const logged = lines.filter((l) => l.msg === 'readiness check failed');
    expect(logged.map((l) => l.dependency).sort()).toEqual(['database', 'temporal']);
    expect(JSON.stringify(logged.find((l) => l.dependency === 'database'))).toContain('ECONNREFUSED');
    expect(JSON.stringify(logged.find((l) => l.dependency === 'temporal'))).toContain('temporal-frontend.internal.example:7233');
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
