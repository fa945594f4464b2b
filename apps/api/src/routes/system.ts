import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { NotFoundError } from '@parley/core';
import { z } from 'zod';
import { route, type RouteDef } from '../http/route';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

const require = createRequire(import.meta.url);
const swaggerDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const DOCS_ASSETS = new Map([
  ['swagger-ui.css', 'text/css'],
  ['swagger-ui-bundle.js', 'application/javascript'],
]);

const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="reference"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#reference', deepLinking: true });</script>
</body></html>`;

export function systemRoutes(deps: { readiness: ReadinessCheck[]; openapi: () => unknown }): RouteDef[] {
  return [
    route({
      method: 'get',
      path: '/health',
      operationId: 'health',
      summary: 'The process is alive',
      tag: 'System',
      auth: 'none',
      responses: { 200: { description: 'Alive', schema: z.object({ status: z.literal('ok') }) } },
      handler: async () => ({ status: 200, body: { status: 'ok' } }),
    }),
    route({
      method: 'get',
      path: '/ready',
      operationId: 'ready',
      summary: 'The database and Temporal are reachable',
      tag: 'System',
      auth: 'none',
      responses: {
        200: { description: 'Ready', schema: z.object({ status: z.enum(['ok', 'unavailable']), checks: z.record(z.string(), z.enum(['ok', 'unavailable'])) }) },
        503: { description: 'A dependency is unreachable: `checks` names it (`database`, `temporal`) as `unavailable`; the cause is logged, not answered.' },
      },
      handler: async ({ ctx }) => {
        const results = await Promise.all(
          deps.readiness.map(async (c) => {
            try {
              await withTimeout(c.check(), 3000);
              return [c.name, 'ok'] as const;
            } catch (err) {
              // The probe is unauthenticated: hosts, users and driver messages go to the log only.
              ctx.state.log.warn({ err, dependency: c.name }, 'readiness check failed');
              return [c.name, 'unavailable'] as const;
            }
          }),
        );
        const ok = results.every(([, r]) => r === 'ok');
        return { status: ok ? 200 : 503, body: { status: ok ? 'ok' : 'unavailable', checks: Object.fromEntries(results) } };
      },
    }),
    route({
      method: 'get',
      path: '/openapi.json',
      operationId: 'openapi',
      summary: 'This OpenAPI 3.1 document',
      tag: 'System',
      auth: 'none',
      responses: { 200: { description: 'The document' } },
      handler: async () => ({ status: 200, body: deps.openapi() }),
    }),
    route({
      method: 'get',
      path: '/docs',
      operationId: 'docs',
      summary: 'Rendered API reference',
      tag: 'System',
      auth: 'none',
      responses: { 200: { description: 'HTML page', contentType: 'text/html' } },
      handler: async () => ({ status: 200, body: DOCS_PAGE, headers: { 'Content-Type': 'text/html; charset=utf-8' } }),
    }),
    route({
      method: 'get',
      path: '/docs/assets/:file',
      operationId: 'docsAsset',
      summary: 'Assets of the reference page',
      tag: 'System',
      auth: 'none',
      params: z.object({ file: z.string() }).strict(),
      responses: { 200: { description: 'Asset' } },
      handler: async ({ params }) => {
        const type = DOCS_ASSETS.get(params.file);
        if (!type) throw new NotFoundError('asset');
        const body = await readFile(path.join(swaggerDir, params.file));
        return { status: 200, body, headers: { 'Content-Type': type, 'Cache-Control': 'public, max-age=86400' } };
      },
    }),
  ];
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]);
}
