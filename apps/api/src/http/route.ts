import type Router from '@koa/router';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ForbiddenError, UnauthorizedError, ValidationError } from '@parley/core';
import { scopeToOrganization } from '@parley/db';
import { actorId, hasPermission, type Permission, type Principal, type TenantScope } from '@parley/domain';
import type Koa from 'koa';
import { z } from 'zod';
import { assertSafeInput } from './input-guard';
import type { AppState } from './state';

export type AuthMode = 'none' | 'operator' | 'tenant';

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface HandlerInput<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  em: EntityManager;
  principal: Principal | undefined;
  /** The tenant the request acts in; only routes with `auth: 'tenant'` have one. */
  tenant: () => TenantScope;
  ctx: Koa.ParameterizedContext<AppState>;
}

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  contentType?: string;
  /** Response headers the client may rely on, by name. */
  headers?: Record<string, { description: string; type: 'integer' | 'string' }>;
}

export interface RouteDef<B extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, P extends z.ZodType = z.ZodType> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  auth: AuthMode;
  /** Scope (partners and users) or management permission (admin users) the route demands. */
  permission?: Permission;
  /** Honours `Idempotency-Key`: the first answer is replayed and side effects are not repeated. */
  idempotent?: boolean;
  body?: B;
  /** The handler checks the raw bytes itself (a signature) before the body may be judged. */
  ownsBody?: boolean;
  /**
   * The body is a file of up to `maxBytes`, of one of `contentTypes` (the OpenAPI document's), read
   * by the handler with `readUpload` after authentication; the JSON body reader leaves it alone.
   */
  upload?: { maxBytes: number; contentTypes: string[] };
  query?: Q;
  params?: P;
  responses: Record<number, ResponseSpec>;
  handler: (input: HandlerInput<z.output<B>, z.output<Q>, z.output<P>>) => Promise<Reply>;
}

/** Route definitions are plain data, so the same objects drive Koa and the OpenAPI document. */
export function route<B extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, P extends z.ZodType = z.ZodUndefined>(
  def: RouteDef<B, Q, P>,
): RouteDef {
  return def as unknown as RouteDef;
}

export function zodProblems(error: z.ZodError, prefix?: string): { path: string; message: string }[] {
  return error.issues.flatMap((issue) => {
    const base = [prefix, ...issue.path.map(String)].filter((p) => p !== undefined && p !== '').join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: base ? `${base}.${key}` : key, message: 'Unknown field.' }));
    }
    return [{ path: base || (prefix ?? ''), message: issue.message }];
  });
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: 'body' | 'query' | 'params'): z.output<T> {
  if (!schema) return undefined as z.output<T>;
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ValidationError(
      zodProblems(result.error, where === 'body' ? undefined : where),
      where === 'body' ? 'The request body is not valid.' : `The request ${where} are not valid.`,
    );
  }
  return result.data;
}

function bearer(ctx: Koa.Context): string {
  const header = ctx.get('authorization');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) throw new UnauthorizedError('unauthorized', 'An Authorization: Bearer token is required.');
  return match[1];
}

export interface RouteServices {
  authenticate(em: EntityManager, token: string): Promise<Principal>;
  idempotency: {
    /** Runs `produce` with the EntityManager of the transaction that also keeps the key. */
    run(
      input: { scope: string; key: string; method: string; path: string; body: unknown; em: EntityManager },
      produce: (em: EntityManager) => Promise<Reply>,
    ): Promise<Reply & { replayed: boolean }>;
  };
}

export function mount(router: Router<AppState>, routes: RouteDef[], services: RouteServices): void {
  for (const def of routes) {
    router[def.method](def.path, async (ctx) => {
      let principal: Principal | undefined;
      if (def.auth !== 'none') {
        principal = await services.authenticate(ctx.state.em, bearer(ctx));
        if (def.auth === 'operator' && principal.kind !== 'operator') throw new ForbiddenError('Only the platform operator may do this.');
        if (def.auth === 'tenant') {
          if (principal.kind === 'operator') throw new ForbiddenError('The operator token does not act inside an organization.');
          scopeToOrganization(ctx.state.em, principal.organizationId);
          ctx.state.organizationId = principal.organizationId;
          ctx.state.log = ctx.state.log.child({ organizationId: principal.organizationId });
          if (def.permission && !hasPermission(principal, def.permission)) {
            throw new ForbiddenError(`This action needs ${def.permission}.`);
          }
        }
      }
      if (!def.ownsBody && !def.upload) {
        if (ctx.state.bodyError) throw ctx.state.bodyError;
        assertSafeInput(ctx.state.body);
      }
      assertSafeInput(ctx.params, 'params');
      assertSafeInput(ctx.query, 'query');
      const params = parse(def.params, ctx.params, 'params');
      const query = parse(def.query, { ...ctx.query }, 'query');
      const body = parse(def.body, ctx.state.body ?? (def.body ? {} : undefined), 'body');
      const tenant = (em: EntityManager = ctx.state.em): TenantScope => {
        if (!principal || principal.kind === 'operator') throw new Error(`${def.operationId} has no tenant`);
        return { em, organizationId: principal.organizationId, principal };
      };
      const run = (em?: EntityManager) =>
        def.handler({
          body,
          query,
          params,
          get em() {
            return em ?? ctx.state.em;
          },
          principal,
          tenant: () => tenant(em),
          ctx,
        });

      const key = ctx.get('idempotency-key');
      let reply: Reply & { replayed?: boolean };
      if (def.idempotent && key) {
        const scope = principal && principal.kind !== 'operator' ? `${principal.organizationId}:${actorId(principal)}` : 'operator';
        reply = await services.idempotency.run(
          { scope, key, method: def.method, path: ctx.path, body: ctx.state.body ?? null, em: ctx.state.em },
          run,
        );
        if (reply.replayed) ctx.set('Idempotency-Replayed', 'true');
      } else {
        reply = await run();
      }
      ctx.status = reply.status;
      for (const [name, value] of Object.entries(reply.headers ?? {})) ctx.set(name, value);
      if (reply.body !== undefined) ctx.body = reply.body;
    });
  }
}

/** Whether a request is for an upload route, whose body its handler reads (see `RouteDef.upload`). */
export function uploadRequestMatcher(routes: RouteDef[]): (method: string, path: string) => boolean {
  const uploads = routes.filter((r) => r.upload).map((r) => ({ method: r.method.toUpperCase(), path: new RegExp(`^${r.path.replace(/:[^/]+/g, '[^/]+')}/?$`) }));
  return (method, path) => uploads.some((u) => u.method === method && u.path.test(path));
}

/** Shared query and parameter shapes. */
export const pageQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50).describe('Page size (1-200, default 50).'),
    cursor: z.string().max(512).optional().describe('`nextCursor` from the previous page.'),
  })
  .strict();

export const idParams = z.object({ id: z.string().describe('Opaque id.') }).strict();

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), nextCursor: z.string().nullable() });
}
