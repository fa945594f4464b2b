import { DomainError, isDatabaseError, RetryLaterError } from '@parley/core';
import type Koa from 'koa';
import type { AppState } from './state';

/**
 * The one place errors become responses: application/problem+json (RFC 9457) with the contract's
 * stable `code`. Anything that is not a DomainError is a bug or an outage: logged in full,
 * answered as a bare 500 that leaks nothing.
 */
export function problemDocument(err: DomainError, instance: string) {
  return {
    type: `urn:parley:problem:${err.code}`,
    title: err.title,
    status: err.status,
    detail: err.message,
    code: err.code,
    instance,
    ...(err.errors ? { errors: err.errors } : {}),
    ...(err.extra ?? {}),
  };
}

/**
 * A statement or lock timeout, a deadlock or a serialization failure: the database was too busy for
 * this request just now, which a retry may not be.
 */
const DATABASE_BUSY = new Set(['57014', '55P03', '40P01', '40001']);

export function errorMiddleware(): Koa.Middleware<AppState> {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new DomainError(404, 'not_found', 'Not Found', `No route for ${ctx.method} ${ctx.path}.`);
      }
      if (ctx.status === 405 || ctx.status === 501) {
        throw new DomainError(405, 'method_not_allowed', 'Method Not Allowed', `${ctx.method} is not allowed on ${ctx.path}.`);
      }
    } catch (caught) {
      let err: DomainError;
      if (caught instanceof DomainError) {
        err = caught;
        if (err.status >= 500) ctx.state.log?.error({ err }, 'request failed');
      } else if (isDatabaseError(caught) && DATABASE_BUSY.has(caught.code)) {
        ctx.state.log?.warn({ err: caught }, 'database busy');
        err = new RetryLaterError(503, 'database_busy', 'The database could not answer in time. Try again.', 1);
      } else {
        ctx.state.log?.error({ err: caught }, 'unhandled error');
        err = new DomainError(500, 'internal_error', 'Internal Server Error', 'Something went wrong on our side.');
      }
      ctx.status = err.status;
      ctx.type = 'application/problem+json';
      ctx.body = problemDocument(err, ctx.state.requestId ? `urn:parley:request:${ctx.state.requestId}` : ctx.path);
      if (err instanceof RetryLaterError) ctx.set('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterSeconds))));
      if (err.status === 401) ctx.set('WWW-Authenticate', `Bearer error="${err.code === 'token_expired' ? 'invalid_token' : 'invalid_request'}"`);
    }
  };
}
