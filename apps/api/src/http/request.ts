import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { type Logger, newId } from '@parley/core';
import type Koa from 'koa';
import type { AppState } from './state';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives every request an id (the caller's `X-Request-Id` when it is sane), a child logger that
 * carries it, and its own EntityManager: identity maps and tenant filters never leak between
 * requests. Logs one line per request when it ends.
 */
export function requestMiddleware(orm: MikroORM, logger: Logger): Koa.Middleware<AppState> {
  return async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(incoming) ? incoming : newId();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    ctx.state.log = logger.child({ requestId });
    // Forked on first use: routes that never touch the ORM (the Meta webhook's hot path) skip it.
    let em: EntityManager | undefined;
    Object.defineProperty(ctx.state, 'em', { get: () => (em ??= orm.em.fork()), enumerable: true, configurable: true });
    const started = performance.now();
    try {
      await next();
    } finally {
      ctx.state.log.info(
        {
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          durationMs: Math.round((performance.now() - started) * 10) / 10,
        },
        'request',
      );
    }
  };
}
