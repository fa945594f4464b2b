import { MIN_PASSWORD_LENGTH, SCOPES } from '@parley/domain';
import { z } from 'zod';

/** Shapes shared by several routes; each is also what the OpenAPI document shows. */
export const email = z.string().trim().max(320).pipe(z.email({ message: 'Must be an email address.' }));
export const password = z
  .string()
  .min(MIN_PASSWORD_LENGTH, { message: `Must be at least ${MIN_PASSWORD_LENGTH} characters.` })
  .max(1024);
export const tag = z.string().trim().min(1).max(64).regex(/^[\w.:-]+$/u, 'Tags are letters, digits, _ . : -');
export const tags = z.array(tag).max(50);
export const scope = z.enum(SCOPES);
export const isoTime = z.string().describe('ISO 8601 UTC time');

export const organization = z.object({ id: z.string(), name: z.string(), tags: z.array(z.string()), createdAt: isoTime });

export const tokenPair = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  expiresIn: z.number().int().describe('Seconds until the access token expires.'),
  refreshExpiresIn: z.number().int().describe('Seconds until the refresh token expires.'),
  tokenType: z.literal('Bearer'),
});

export const user = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.enum(['admin', 'agent']),
  disabledAt: isoTime.nullable().describe('When the user was deactivated; null while the user can sign in.'),
  createdAt: isoTime,
});

export const app = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  tags: z.array(z.string()),
  scopes: z.array(z.string()),
  publisherOrganizationId: z.string(),
  webhookUrl: z.string().nullable().optional().describe('Shown only to the publishing organization.'),
  createdAt: isoTime,
});

export const installation = z.object({
  id: z.string(),
  appId: z.string(),
  scopes: z.array(z.string()),
  status: z.enum(['active', 'uninstalled']),
  createdAt: isoTime,
  uninstalledAt: isoTime.nullable(),
});

export const problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string(),
  instance: z.string().optional(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

const retryAfter = { 'Retry-After': { description: 'Seconds to wait before trying again.', type: 'integer' as const } };

/** 503 of the routes that hash a password: too many hashes are running in this process. */
export const hashingBusy = {
  description: 'Too many passwords are being hashed at once (`service_unavailable`); `Retry-After` gives the seconds to wait.',
  schema: problem,
  contentType: 'application/problem+json',
  headers: retryAfter,
};

/** 429 of login and refresh: too many failed attempts. */
export const tooManyAttempts = {
  description:
    'Too many failed attempts for this account or from this address in the current window (`too_many_requests`). `Retry-After` gives the seconds until the window ends.',
  schema: problem,
  contentType: 'application/problem+json',
  headers: retryAfter,
};

/** 503 of the Meta webhook: too many deliveries are waiting to be stored. */
export const webhookOverloaded = {
  description: 'Too many deliveries are waiting to be stored (`overloaded`); nothing was stored, and `Retry-After` gives the seconds to wait.',
  schema: problem,
  contentType: 'application/problem+json',
  headers: retryAfter,
};
