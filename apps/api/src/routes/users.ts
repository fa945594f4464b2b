import { z } from 'zod';
import { idParams, pageOf, pageQuery, route } from '../http/route';
import type { Services } from '../services';
import { email, hashingBusy, password, problem, user } from './schemas';

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
    route({
      method: 'patch',
      path: '/v1/users/:id',
      operationId: 'updateUser',
      summary: 'Change a user’s role, or deactivate or reactivate a user',
      description:
        'A deactivated user cannot sign in, and every token of theirs stops working at once; the user and their history stay. `disabled: false` reactivates. A change that would leave the organization without an active admin (demoting or deactivating the last one, oneself included) is refused with 409 `last_admin`.',
      tag: 'Users',
      auth: 'tenant',
      permission: 'users:manage',
      params: idParams,
      body: z
        .object({
          role: z.enum(['admin', 'agent']).optional(),
          disabled: z.boolean().optional().describe('true deactivates the user, false reactivates.'),
        })
        .strict(),
      responses: {
        200: { description: 'The user as changed', schema: user },
        409: { description: 'The organization would have no active admin left (`last_admin`)', schema: problem, contentType: 'application/problem+json' },
      },
      handler: async ({ params, body, tenant }) => ({ status: 200, body: await s.users.update(tenant(), params.id, body) }),
    }),
  ];
}
