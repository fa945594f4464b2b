import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig } from '@parley/config';
import { createLogger, systemClock } from '@parley/core';
import { createApp } from '@parley/api/app';

/**
 * The OpenAPI document exactly as GET /openapi.json serves it, built from the route definitions
 * without a database or a listening server: building the routes never touches the ORM (only
 * requests do), so an empty stand-in is enough.
 */
export async function buildDocument(): Promise<Record<string, unknown>> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    // Fixed values so that nothing random is generated (and printed) for the secrets.
    PLATFORM_ADMIN_TOKEN: 'sdk-generation-only-token-0123456789',
    JWT_SECRET: 'sdk-generation-only-jwt-secret-0123456789abcdef',
    ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
    META_APP_SECRET: 'sdk-generation-only',
    META_VERIFY_TOKEN: 'sdk-generation-only',
  });
  const app = createApp({ config, orm: {} as MikroORM, clock: systemClock, logger: createLogger({ level: 'silent' }), readiness: [] });
  const served = app.routes.find((r) => r.method === 'get' && r.path === '/openapi.json');
  if (!served) throw new Error('the API has no GET /openapi.json route');
  // The handler ignores its input: it only returns the document.
  const reply = await served.handler({} as Parameters<typeof served.handler>[0]);
  return reply.body as Record<string, unknown>;
}
