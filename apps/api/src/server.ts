import { createServer, type Server } from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '@parley/config';
import { type Logger, systemClock } from '@parley/core';
import { createOrm, migrate } from '@parley/db';
import { createApp, type ParleyApp } from './app';
import { createTemporalClient } from './temporal';

export interface RunningApi {
  server: Server;
  app: ParleyApp;
  orm: MikroORM;
  url: string;
  /** Stops taking requests, lets in-flight ones finish (up to the grace period), then closes connections. */
  stop(): Promise<void>;
}

export async function startApi(config: Config, logger: Logger): Promise<RunningApi> {
  if (!config.database.url) throw new Error('DATABASE_URL is not set');
  const orm = await createOrm({ url: config.database.url, poolMax: config.database.poolMax, timeouts: config.database.timeouts });
  const applied = await migrate(orm);
  if (applied.length) logger.info({ applied }, 'migrations applied');
  const temporal = createTemporalClient(config);

  const app = createApp({
    config,
    orm,
    logger,
    temporal: temporal.client,
    clock: systemClock,
    readiness: [
      { name: 'database', check: async () => void (await orm.em.fork().getConnection().execute('select 1')) },
      { name: 'temporal', check: async () => void (await temporal.connection.healthService.check({})) },
    ],
  });

  const server = createServer(app.koa.callback());
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://127.0.0.1:${port}`;
  logger.info({ url }, 'api listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('api stopping: finishing in-flight requests');
      // Live event streams never finish on their own; ended now, their clients reconnect elsewhere.
      app.events.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections become idle once their request is answered; close them as they do.
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(force);
      await temporal.connection.close().catch(() => undefined);
      await orm.close(true);
      logger.info('api stopped');
    })());

  return { server, app, orm, url, stop };
}
