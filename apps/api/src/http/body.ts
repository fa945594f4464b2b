import { DomainError, ValidationError } from '@parley/core';
import type Koa from 'koa';
import getRawBody from 'raw-body';
import type { AppState } from './state';

export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Reads the body once, as bytes, within the 1 MiB limit; keeps the bytes (webhook signatures are
 * computed over them) and parses JSON. Anything but JSON is refused.
 */
export function bodyMiddleware(isUpload: (method: string, path: string) => boolean = () => false): Koa.Middleware<AppState> {
  return async (ctx, next) => {
    if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(ctx.method)) return next();
    // A file: its route reads it, once the caller is known, with the limits of its kind.
    if (isUpload(ctx.method, ctx.path)) return next();
    const declared = Number(ctx.get('content-length') || 0);
    if (declared > MAX_BODY_BYTES) throw tooLarge(ctx);
    let raw: Buffer;
    try {
      raw = await getRawBody(ctx.req, { limit: MAX_BODY_BYTES, length: ctx.get('content-length') || undefined });
    } catch (err) {
      const type = (err as { type?: string }).type;
      if (type === 'entity.too.large') throw tooLarge(ctx);
      throw new DomainError(400, 'invalid_body', 'Bad Request', 'The request body could not be read.');
    }
    ctx.state.rawBody = raw;
    if (raw.length === 0) return next();
    // Problems with the content are raised by the route, after authentication: an unsigned or
    // unauthenticated request is told so first, whatever its body.
    if (!ctx.is('application/json', 'application/*+json')) {
      ctx.state.bodyError = new DomainError(415, 'unsupported_media_type', 'Unsupported Media Type', 'Send the body as application/json.');
      return next();
    }
    try {
      ctx.state.body = JSON.parse(raw.toString('utf8'));
    } catch {
      ctx.state.bodyError = new ValidationError([], 'The request body is not valid JSON.', 'invalid_json');
    }
    return next();
  };
}

/**
 * The rest of the body is never read, so the connection cannot carry another request: it is closed
 * once the 413 is written (otherwise a keep-alive client reuses a socket with half a body on it).
 */
function tooLarge(ctx: Koa.Context): DomainError {
  ctx.set('Connection', 'close');
  return new DomainError(413, 'payload_too_large', 'Content Too Large', `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`);
}

/** Reads an upload route's body: the bytes, within `maxBytes` (413 past it). */
export async function readUpload(ctx: Koa.Context, maxBytes: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > maxBytes) throw uploadTooLarge(ctx, maxBytes);
  try {
    return await getRawBody(ctx.req, { limit: maxBytes, length: ctx.get('content-length') || undefined });
  } catch (err) {
    if ((err as { type?: string }).type === 'entity.too.large') throw uploadTooLarge(ctx, maxBytes);
    throw new DomainError(400, 'invalid_body', 'Bad Request', 'The request body could not be read.');
  }
}

function uploadTooLarge(ctx: Koa.Context, maxBytes: number): DomainError {
  ctx.set('Connection', 'close');
  return new DomainError(413, 'payload_too_large', 'Content Too Large', `A file of this type may be at most ${maxBytes} bytes.`);
}
