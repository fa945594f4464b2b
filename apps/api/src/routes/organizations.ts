import { z } from 'zod';
import { idParams, route } from '../http/route';
import type { Services } from '../services';
import { email, hashingBusy, organization, password, tags } from './schemas';

export function organizationRoutes(s: Services) {
  return [
    route({
      method: 'post',
      path: '/v1/organizations',
      operationId: 'createOrganization',
      summary: 'Create an organization (tenant) and its first admin',
      tag: 'Organizations',
      auth: 'operator',
      idempotent: true,
      body: z
        .object({
          name: z.string().trim().min(1).max(200),
          tags: tags.optional(),
          admin: z.object({ email, password, name: z.string().trim().min(1).max(200).optional() }).strict(),
        })
        .strict(),
      responses: { 201: { description: 'Created', schema: organization }, 503: hashingBusy },
      handler: async ({ body, em }) => ({ status: 201, body: await s.organizations.create(em, body) }),
    }),
    route({
      method: 'patch',
      path: '/v1/organizations/:id',
      operationId: 'updateOrganization',
      summary: 'Change an organization’s tags',
      tag: 'Organizations',
      auth: 'operator',
      params: idParams,
      body: z.object({ tags }).strict(),
      responses: { 200: { description: 'Updated', schema: organization } },
      handler: async ({ body, params, em }) => ({ status: 200, body: await s.organizations.updateTags(em, params.id, body.tags) }),
    }),
    route({
      method: 'get',
      path: '/v1/organizations/:id',
      operationId: 'getOrganization',
      summary: 'Read an organization',
      tag: 'Organizations',
      auth: 'operator',
      params: idParams,
      responses: { 200: { description: 'The organization', schema: organization } },
      handler: async ({ params, em }) => ({ status: 200, body: await s.organizations.get(em, params.id) }),
    }),
  ];
}
