import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './generated/openapi.js';
import { MemoryTokenStore, ParleyAuthError, TokenManager, type TokenSet, type TokenStore } from './tokens.js';

export interface ParleyClientOptions {
  /** The platform's URL, e.g. `https://api.parley.example`. */
  baseUrl: string;
  /** The pair from `POST /v1/installations/:id/tokens`; may be left out when `tokenStore` already holds one. */
  accessToken?: string;
  refreshToken?: string;
  /** When the access token expires (a Date or milliseconds since the epoch). */
  expiresAt?: Date | number;
  /** Where the current pair lives (default: in memory). Every refresh writes the new pair to it. */
  tokenStore?: TokenStore;
  /** Refresh this long before expiry (default 5 minutes). */
  refreshBeforeMs?: number;
  /** Milliseconds since the epoch; for tests. */
  now?: () => number;
  fetch?: (input: Request) => Promise<Response>;
  onRefresh?: (tokens: TokenSet) => void;
}

export type ParleyClient = Client<paths> & {
  readonly tokens: TokenManager;
  /** fetch with the bearer token and refresh applied, for requests outside the typed paths. */
  readonly authorizedFetch: (input: Request) => Promise<Response>;
};

/**
 * A typed client of the Parley API (paths, bodies and answers from its OpenAPI document) whose
 * requests carry a bearer token that is refreshed shortly before it expires, or when the platform
 * answers 401 `token_expired`; the request is then sent once more with the new token.
 */
export function createParleyClient(options: ParleyClientOptions): ParleyClient {
  const baseFetch = options.fetch ?? ((input: Request) => globalThis.fetch(input));
  const store = options.tokenStore ?? new MemoryTokenStore();
  const seed = seedTokens(options);
  let seeded: Promise<void> | undefined = seed
    ? (async () => {
        if (!options.tokenStore || !(await store.get())) await store.set(seed);
      })()
    : undefined;
  const tokens = new TokenManager({
    baseUrl: options.baseUrl,
    store,
    fetch: baseFetch,
    ...(options.now ? { now: options.now } : {}),
    ...(options.refreshBeforeMs !== undefined ? { refreshBeforeMs: options.refreshBeforeMs } : {}),
    ...(options.onRefresh ? { onRefresh: options.onRefresh } : {}),
  });

  const authorizedFetch = async (input: Request): Promise<Response> => {
    if (seeded) {
      await seeded;
      seeded = undefined;
    }
    // Kept before sending: a body can be read only once, and the retry needs it again.
    const spare = input.clone();
    const token = await tokens.accessToken();
    const res = await baseFetch(withBearer(input, token));
    if (res.status !== 401 || (await problemCode(res)) !== 'token_expired') return res;
    const renewed = await tokens.refresh(token);
    return baseFetch(withBearer(spare, renewed.accessToken));
  };

  const client = createClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ''), fetch: authorizedFetch });
  return Object.assign(client, { tokens, authorizedFetch });
}

function seedTokens(options: ParleyClientOptions): TokenSet | undefined {
  if (options.accessToken === undefined && options.refreshToken === undefined) {
    if (!options.tokenStore) throw new TypeError('createParleyClient needs accessToken and refreshToken, or a tokenStore that holds them');
    return undefined;
  }
  if (!options.accessToken || !options.refreshToken) throw new TypeError('createParleyClient needs both accessToken and refreshToken');
  const expiresAt = options.expiresAt instanceof Date ? options.expiresAt.getTime() : options.expiresAt;
  return { accessToken: options.accessToken, refreshToken: options.refreshToken, ...(expiresAt !== undefined ? { expiresAt } : {}) };
}

function withBearer(request: Request, token: string): Request {
  const next = new Request(request);
  next.headers.set('authorization', `Bearer ${token}`);
  return next;
}

async function problemCode(res: Response): Promise<string | undefined> {
  try {
    const body = (await res.clone().json()) as { code?: unknown };
    return typeof body.code === 'string' ? body.code : undefined;
  } catch {
    return undefined;
  }
}

export { ParleyAuthError };
