import createClient from 'openapi-fetch';
// The SDK's sources, not its build: one copy of the generated types and of the refresh logic.
import { createParleyClient, type ParleyClient } from '../../../packages/sdk/src/client';
import type { components, paths } from '../../../packages/sdk/src/generated/openapi';
import type { TokenSet, TokenStore } from '../../../packages/sdk/src/tokens';

export type Conversation = components['schemas']['Conversation'];
export type Message = components['schemas']['Message'];
export type Channel = paths['/v1/channels']['get']['responses'][200]['content']['application/json']['data'][number];
export type User = paths['/v1/users']['get']['responses'][200]['content']['application/json']['data'][number];
export type Me = paths['/v1/me']['get']['responses'][200]['content']['application/json'];

const KEY = 'parley.session';

/**
 * The token pair lives in sessionStorage: it survives a reload but is per tab. Tabs sharing one
 * pair would each spend the same refresh token, and the platform revokes the whole family when a
 * retired refresh token comes back.
 */
export class SessionTokenStore implements TokenStore {
  constructor(private readonly storage: Storage = window.sessionStorage) {}

  async get(): Promise<TokenSet | undefined> {
    const raw = this.storage.getItem(KEY);
    if (!raw) return undefined;
    try {
      return JSON.parse(raw) as TokenSet;
    } catch {
      return undefined;
    }
  }

  async set(tokens: TokenSet): Promise<void> {
    this.storage.setItem(KEY, JSON.stringify(tokens));
  }

  clear(): void {
    this.storage.removeItem(KEY);
  }

  has(): boolean {
    return this.storage.getItem(KEY) !== null;
  }
}

export const baseUrl = window.location.origin;

/** For the routes that need no token (sign-in). */
export const publicClient = createClient<paths>({ baseUrl });

export function authorizedClient(store: TokenStore): ParleyClient {
  return createParleyClient({ baseUrl, tokenStore: store });
}

/** The problem+json detail (or title) of a failed call, for showing to a person. */
export function problemText(error: unknown, fallback = 'Something went wrong.'): string {
  if (error && typeof error === 'object') {
    const p = error as { detail?: unknown; title?: unknown };
    if (typeof p.detail === 'string' && p.detail) return p.detail;
    if (typeof p.title === 'string' && p.title) return p.title;
  }
  if (error instanceof Error) return error.message;
  return fallback;
}
