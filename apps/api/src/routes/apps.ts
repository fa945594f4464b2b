import { z } from 'zod';
import { idParams, pageOf, pageQuery, route } from '../http/route';
import type { Services } from '../services';
import { app, problem, scope, tag, tags } from './schemas';

export function appRoutes(s: Services) {
  return [
    route({
      method: 'post',
      path: '/v1/apps',
      operationId: 'registerApp',
      summary: 'Register an integration in the bot store',
      description:
        'The app is listed to every organization that carries one of its tags. Its `webhookUrl` must be https and must not resolve to a private, loopback, link-local, reserved or cloud-metadata address (400 `webhook_url_forbidden`).',
      tag: 'Bot store',
      auth: 'tenant',
      permission: 'apps:manage',
      idempotent: true,
      body: z
        .object({
          name: z.string().trim().min(1).max(200),
          description: z.string().max(5000),
          tags: tags.min(1),
          webhookUrl: z.url({ protocol: /^https?$/ }).max(2048).optional(),
          scopes: z.array(scope).min(1),
        })
        .strict(),
      responses: {
        201: { description: 'Registered', schema: app },
        400: { description: 'Invalid body, or a `webhookUrl` that is not a safe public https target (`webhook_url_forbidden`)', schema: problem, contentType: 'application/problem+json' },
      },
      handler: async ({ body, tenant }) => ({ status: 201, body: await s.apps.register(tenant(), body) }),
    }),
    route({
      method: 'get',
      path: '/v1/apps',
      operationId: 'listApps',
      summary: 'List the apps this organization can hire (and its own)',
      tag: 'Bot store',
      auth: 'tenant',
      permission: 'apps:manage',
      query: pageQuery
        .extend({
          tag: tag.optional().describe('Only apps carrying this tag.'),
          owned: z.enum(['true', 'false']).transform((v) => v === 'true').optional().describe('Only apps this organization published.'),
        })
        .strict(),
      responses: { 200: { description: 'A page of apps', schema: pageOf(app) } },
      handler: async ({ query, tenant }) => ({ status: 200, body: await s.apps.list(tenant(), query) }),
    }),
    route({
      method: 'get',
      path: '/v1/apps/:id',
      operationId: 'getApp',
      summary: 'Read an app visible to this organization',
      tag: 'Bot store',
      auth: 'tenant',
      permission: 'apps:manage',
      params: idParams,
      responses: { 200: { description: 'The app', schema: app } },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.apps.get(tenant(), params.id) }),
    }),
  ];
}
