import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type Koa from 'koa';
import type { ConsoleConfig } from './console-config';
import type { AppState } from './state';

/** Where `vite build` writes the console (apps/console). */
export const CONSOLE_DIST = path.resolve(import.meta.dirname, '../../../console/dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The console's policy: its own scripts, plus Facebook's SDK and dialog frames for embedded
 * signup. The API's JSON never needs any of this; only the console's pages carry it.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self' https://connect.facebook.net",
  "style-src 'self'",
  "img-src 'self' data: blob: https://*.fbcdn.net https://www.facebook.com",
  "media-src 'self' blob:",
  "connect-src 'self' https://*.facebook.com https://*.facebook.net",
  'frame-src https://www.facebook.com https://web.facebook.com https://*.facebook.com',
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/**
 * Serves the built console at /console from the API's origin (so it calls the API without CORS)
 * and sends `/` there. Fingerprinted assets are cached for a year; everything else, index.html
 * included, is revalidated, so a new build shows on the next load. Paths that are not files are
 * the SPA's own routes and get index.html. Mounted after the API's routes: it only sees requests
 * none of them matched. /console/config.json holds the console's settings (./console-config.ts).
 */
export function consoleMiddleware(dir: string = CONSOLE_DIST, config?: () => Promise<ConsoleConfig>): Koa.Middleware<AppState> {
  const root = path.resolve(dir);
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (config && ctx.path === '/console/config.json') {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await config();
      return;
    }
    if (ctx.path === '/' || ctx.path === '/console') {
      ctx.redirect('/console/');
      return;
    }
    if (!ctx.path.startsWith('/console/')) return next();

    let relative: string;
    try {
      relative = decodeURIComponent(ctx.path.slice('/console/'.length));
    } catch {
      ctx.status = 400;
      return;
    }
    const file = path.resolve(root, relative);
    const inside = file.startsWith(root + path.sep);
    const asset = inside ? await fileStat(file) : undefined;
    if (!asset && relative.startsWith('assets/')) {
      // A missing fingerprinted file is a stale page asking for an old build, not a route.
      ctx.status = 404;
      ctx.type = 'text/plain';
      ctx.body = 'Not found';
      return;
    }
    const target = asset ? file : path.join(root, 'index.html');
    const info = asset ?? (await fileStat(target));
    if (!info) {
      ctx.status = 503;
      ctx.type = 'text/plain';
      ctx.body = 'The console is not built. Run `npm run build -w apps/console` (npm start does it for you).';
      return;
    }

    ctx.set('Content-Type', TYPES[path.extname(target)] ?? 'application/octet-stream');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'same-origin');
    ctx.set('Content-Security-Policy', CSP);
    ctx.set('Cache-Control', target.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    ctx.set('ETag', `W/"${info.size.toString(16)}-${info.mtimeMs.toString(16)}"`);
    ctx.set('Last-Modified', new Date(info.mtimeMs).toUTCString());
    ctx.status = 200;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.length = info.size;
    ctx.body = ctx.method === 'HEAD' ? null : createReadStream(target);
  };
}

async function fileStat(file: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  try {
    const s = await stat(file);
    return s.isFile() ? { size: s.size, mtimeMs: s.mtimeMs } : undefined;
  } catch {
    return undefined;
  }
}
