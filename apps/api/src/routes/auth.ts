import { ForbiddenError, UnauthorizedError } from '@parley/core';
import { SCOPES, SIGN_IN_LIMITS, SIGN_IN_WINDOW_SECONDS } from '@parley/domain';
import { z } from 'zod';
import { route } from '../http/route';
import type { Services } from '../services';
import { email, hashingBusy, tokenPair, tooManyAttempts } from './schemas';

const WINDOW = `${SIGN_IN_WINDOW_SECONDS / 60} minutes`;

export function authRoutes(s: Services) {
  return [
    route({
      method: 'post',
      path: '/v1/auth/login',
      operationId: 'login',
      summary: 'Log a user in with email and password',
      description: `A wrong email and a wrong password get the same 401. Failed attempts are limited per account (${SIGN_IN_LIMITS['login:account']}) and per client address (${SIGN_IN_LIMITS['login:address']}) in ${WINDOW}; past either, 429 with \`Retry-After\`, for unknown emails exactly as for known ones. A success does not clear earlier failures.`,
      tag: 'Auth',
      auth: 'none',
      body: z.object({ email, password: z.string().min(1).max(1024) }).strict(),
      responses: { 200: { description: 'Tokens', schema: tokenPair }, 429: tooManyAttempts, 503: hashingBusy },
      handler: async ({ body, em, ctx }) => ({ status: 200, body: await s.signIn.login(em, body.email, body.password, ctx.ip) }),
    }),
    route({
      method: 'post',
      path: '/v1/auth/token',
      operationId: 'refreshToken',
      summary: 'Exchange a refresh token for a new token pair',
      description:
        `The presented refresh token is retired. Presenting a retired refresh token again revokes every token of its user or installation and answers 401 \`refresh_token_reused\`. Failed attempts are limited per user or installation (${SIGN_IN_LIMITS['refresh:holder']}) and per client address (${SIGN_IN_LIMITS['refresh:address']}) in ${WINDOW}; past either, 429 with \`Retry-After\`.`,
      tag: 'Auth',
      auth: 'none',
      body: z.object({ grant_type: z.literal('refresh_token'), refresh_token: z.string().min(1).max(512) }).strict(),
      responses: { 200: { description: 'A new token pair', schema: tokenPair }, 429: tooManyAttempts },
      handler: async ({ body, em, ctx }) => ({ status: 200, body: await s.signIn.refresh(em, body.refresh_token, ctx.ip) }),
    }),
    route({
      method: 'get',
      path: '/v1/me',
      operationId: 'whoAmI',
      summary: 'Who the bearer is',
      tag: 'Auth',
      auth: 'tenant',
      responses: {
        200: {
          description: 'The caller',
          schema: z.object({
            kind: z.enum(['user', 'installation']),
            organizationId: z.string(),
            userId: z.string().optional(),
            installationId: z.string().optional(),
            appId: z.string().optional(),
            role: z.enum(['admin', 'agent']).optional(),
            scopes: z.array(z.enum(SCOPES)),
          }),
        },
      },
      handler: async ({ principal }) => {
        if (!principal) throw new UnauthorizedError();
        if (principal.kind === 'operator') throw new ForbiddenError();
        const body =
          principal.kind === 'user'
            ? { kind: 'user', organizationId: principal.organizationId, userId: principal.userId, role: principal.role, scopes: principal.scopes }
            : {
                kind: 'installation',
                organizationId: principal.organizationId,
                installationId: principal.installationId,
                appId: principal.appId,
                scopes: principal.scopes,
              };
        return { status: 200, body };
      },
    }),
  ];
}
