import { z } from 'zod';
import { idParams, pageOf, pageQuery, route } from '../http/route';
import type { Services } from '../services';
import { installation, scope, tokenPair } from './schemas';

export function installationRoutes(s: Services) {
  return [
    route({
      method: 'post',
      path: '/v1/installations',
      operationId: 'installApp',
      summary: 'Hire an app, granting it a subset of its scopes',
      tag: 'Bot store',
      auth: 'tenant',
      permission: 'installations:manage',
      idempotent: true,
      body: z.object({ appId: z.string().min(1).max(64), scopes: z.array(scope).min(1) }).strict(),
      responses: { 201: { description: 'Installed', schema: installation } },
      handler: async ({ body, tenant }) => ({ status: 201, body: await s.installations.install(tenant(), body) }),
    }),
    route({
      method: 'get',
      path: '/v1/installations',
      operationId: 'listInstallations',
      summary: 'List the organization’s installations',
      tag: 'Bot store',
      auth: 'tenant',
      permission: 'installations:manage',
      query: pageQuery.extend({ status: z.enum(['active', 'uninstalled']).optional() }).strict(),
      responses: { 200: { description: 'A page of installations', schema: pageOf(installation) } },
      handler: async ({ query, tenant }) => ({ status: 200, body: await s.installations.list(tenant(), query) }),
    }),
    route({
      method: 'get',
      path: '/v1/installations/:id',
      operationId: 'getInstallation',
      summary: 'Read an installation',
      tag: 'Bot store',
      auth: 'tenant',
      permission: 'installations:manage',
      params: idParams,
      responses: { 200: { description: 'The installation', schema: installation } },
      handler: async ({ params, tenant }) => ({ status: 200, body: await s.installations.get(tenant(), params.id) }),
    }),
    route({
      method: 'delete',
      path: '/v1/installations/:id',
      operationId: 'uninstallApp',
      summary: 'Uninstall an app; its tokens stop working at once',
      tag: 'Bot store',
      auth: 'tenant',
      permission: 'installations:manage',
      params: idParams,
      responses: { 204: { description: 'Uninstalled' } },
      handler: async ({ params, tenant }) => {
        await s.installations.uninstall(tenant(), params.id);
        return { status: 204 };
      },
    }),
    route({
      method: 'post',
      path: '/v1/installations/:id/tokens',
      operationId: 'issueInstallationTokens',
      summary: 'Issue a partner token pair for an installation',
      description: 'Access token: JWT valid 30 days. Refresh token: opaque, valid 90 days, rotated on use.',
      tag: 'Bot store',
      auth: 'tenant',
      permission: 'installations:manage',
      params: idParams,
      responses: { 201: { description: 'A new token pair', schema: tokenPair } },
      handler: async ({ params, tenant }) => ({ status: 201, body: await s.installations.issueTokens(tenant(), params.id) }),
    }),
  ];
}
