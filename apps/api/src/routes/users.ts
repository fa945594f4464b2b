import { z } from 'zod';
import { pageOf, pageQuery, route } from '../http/route';
import type { Services } from '../services';
import { email, hashingBusy, password, user } from './schemas';

export function userRoutes(s: Services) {
  return [
    route({
      method: 'post',
      path: '/v1/users',
      operationId: 'createUser',
      summary: 'Add a user to the organization',
      tag: 'Users',
      auth: 'tenant',
      permission: 'users:manage',
      idempotent: true,
      body: z
        .object({ email, password, name: z.string().trim().min(1).max(200), role: z.enum(['admin', 'agent']) })
        .strict(),
      responses: { 201: { description: 'Created', schema: user }, 503: hashingBusy },
      handler: async ({ body, tenant }) => ({ status: 201, body: await s.users.create(tenant(), body) }),
    }),
    route({
      method: 'get',
      path: '/v1/users',
      operationId: 'listUsers',
      summary: 'List the organization’s users',
      tag: 'Users',
      auth: 'tenant',
      permission: 'users:manage',
      query: pageQuery.extend({ role: z.enum(['admin', 'agent']).optional() }).strict(),
      responses: { 200: { description: 'A page of users', schema: pageOf(user) } },
      handler: async ({ query, tenant }) => ({ status: 200, body: await s.users.list(tenant(), query) }),
    }),
  ];
}
