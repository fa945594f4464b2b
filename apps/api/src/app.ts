import Router from '@koa/router';
import Koa from 'koa';
import { bodyMiddleware } from './http/body';
import { EventStreamHub } from './event-stream';
import { consoleMiddleware } from './http/console';
import { consoleConfigProvider } from './http/console-config';
import { buildOpenApi } from './http/openapi';
import { errorMiddleware } from './http/problem';
import { requestMiddleware } from './http/request';
import { mount, type RouteDef, uploadRequestMatcher } from './http/route';
import type { AppState } from './http/state';
import { appRoutes } from './routes/apps';
import { assistantRoutes } from './routes/assistant';
import { routingRoutes } from './routes/routing';
import { routingRuntimeRoutes } from './routes/routing-runtime';
import { authRoutes } from './routes/auth';
import { broadcastRoutes } from './routes/broadcasts';
import { channelRoutes } from './routes/channels';
import { conversationRoutes } from './routes/conversations';
import { eventRoutes } from './routes/events';
import { messagingRoutes } from './routes/messaging';
import { metaWebhookRoutes } from './routes/meta-webhook';
import { installationRoutes } from './routes/installations';
import { operatorRoutes } from './routes/operator';
import { organizationRoutes } from './routes/organizations';
import { type ReadinessCheck, systemRoutes } from './routes/system';
import { userRoutes } from './routes/users';
import { webhookRoutes } from './routes/webhooks';
import { createServices, type ServiceDeps, type Services } from './services';

export interface AppDeps extends ServiceDeps {
  readiness: ReadinessCheck[];
}

export interface ParleyApp {
  koa: Koa<AppState>;
  routes: RouteDef[];
  services: Services;
  /** The live event streams; `close` ends them when the API stops. */
  events: EventStreamHub;
}

const VERSION = '0.1.0';

export function createApp(deps: AppDeps): ParleyApp {
  const services = createServices(deps);
  const events = new EventStreamHub(deps.orm, deps.logger.child({ component: 'event-stream' }));
  let openapi: unknown;
  const routes: RouteDef[] = [
    ...systemRoutes({ readiness: deps.readiness, openapi: () => (openapi ??= buildOpenApi(routes, { version: VERSION, serverUrl: deps.config.publicUrl })) }),
    ...organizationRoutes(services),
    ...authRoutes(services),
    ...userRoutes(services),
    ...appRoutes(services),
    ...installationRoutes(services),
    ...channelRoutes(services),
    ...conversationRoutes(services),
    ...eventRoutes(events),
    ...messagingRoutes(services),
    ...broadcastRoutes(services),
    ...webhookRoutes(services),
    ...assistantRoutes(services),
    ...routingRoutes(services),
    ...routingRuntimeRoutes(services),
    ...operatorRoutes(services),
    ...metaWebhookRoutes(services, { appSecret: deps.config.meta.appSecret, verifyToken: deps.config.meta.verifyToken }),
  ];

  const koa = serveRoutes(routes, { orm: deps.orm, logger: deps.logger, services, trustedProxyHops: deps.config.trustedProxyHops });
  // After the routes: the console gets only what none of them answered.
  koa.use(consoleMiddleware(undefined, consoleConfigProvider(deps.config)));
  return { koa, routes, services, events };
}

/**
 * The HTTP stack every route runs in: request id and logger, problem+json errors, the body, then
 * the routes (auth, validation, Idempotency-Key). Tests serve routes of their own through it too.
 */
export function serveRoutes(
  routes: RouteDef[],
  deps: { orm: AppDeps['orm']; logger: AppDeps['logger']; services: Pick<Services, 'tokens' | 'idempotency'>; trustedProxyHops?: number },
): Koa<AppState> {
  // Behind N trusted proxies, ctx.ip is the address the outermost one saw (the Nth entry from the
  // right of X-Forwarded-For); entries further left are whatever the client wrote.
  const hops = deps.trustedProxyHops ?? 0;
  const koa = new Koa<AppState>({ proxy: hops > 0, maxIpsCount: hops });
  koa.silent = true;
  const router = new Router<AppState>();
  mount(router, routes, { authenticate: (em, token) => deps.services.tokens.authenticate(em, token), idempotency: deps.services.idempotency });
  koa.use(requestMiddleware(deps.orm, deps.logger));
  koa.use(errorMiddleware());
  koa.use(bodyMiddleware(uploadRequestMatcher(routes)));
  koa.use(router.routes());
  koa.use(router.allowedMethods({ throw: false }));
  return koa;
}
