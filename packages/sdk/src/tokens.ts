/** An access token with the refresh token that renews it. */
export interface TokenSet {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires, in milliseconds since the epoch; unknown if absent. */
  expiresAt?: number;
}

/**
 * Where the current token pair lives. The default keeps it in memory. A store shared by several
 * processes (a database row, Redis) must also make the refresh single-flight across them, for
 * example by taking a lock in `get` when a refresh is due and re-reading before refreshing: the
 * platform revokes every token of the installation when a retired refresh token is used again,
 * so two processes refreshing the same pair log the partner out. Inside one process the SDK
 * already shares one refresh among all callers.
 */
export interface TokenStore {
  get(): Promise<TokenSet | undefined>;
  set(tokens: TokenSet): Promise<void>;
}

export class MemoryTokenStore implements TokenStore {
  #tokens: TokenSet | undefined;

  constructor(initial?: TokenSet) {
    this.#tokens = initial;
  }

  async get(): Promise<TokenSet | undefined> {
    return this.#tokens;
  }

  async set(tokens: TokenSet): Promise<void> {
    this.#tokens = tokens;
  }
}

/** The platform refused to authenticate or to refresh; `code` is the problem's stable code. */
export class ParleyAuthError extends Error {
  override readonly name = 'ParleyAuthError';

  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface TokenManagerOptions {
  baseUrl: string;
  store: TokenStore;
  fetch?: (input: Request) => Promise<Response>;
  /** Milliseconds since the epoch; tests pass a controlled clock. */
  now?: () => number;
  /** Refresh this long before `expiresAt` (default 5 minutes). */
  refreshBeforeMs?: number;
  /** Called with every new pair, after the store has it. */
  onRefresh?: (tokens: TokenSet) => void;
}

/**
 * Hands out a valid access token and renews it. At most one refresh is in flight: every caller
 * that finds the token due, or was answered `token_expired`, waits for that same refresh.
 */
export class TokenManager {
  readonly #options: Required<Omit<TokenManagerOptions, 'onRefresh'>> & Pick<TokenManagerOptions, 'onRefresh'>;
  #inflight: Promise<TokenSet> | undefined;

  constructor(options: TokenManagerOptions) {
    this.#options = {
      fetch: (input) => globalThis.fetch(input),
      now: () => Date.now(),
      refreshBeforeMs: 5 * 60_000,
      ...options,
    };
  }

  /** The current access token, refreshed first when it expires within `refreshBeforeMs`. */
  async accessToken(): Promise<string> {
    if (this.#inflight) return (await this.#inflight).accessToken;
    const tokens = await this.#current();
    const now = this.#options.now();
    if (tokens.expiresAt !== undefined && tokens.expiresAt - now <= this.#options.refreshBeforeMs) {
      try {
        return (await this.refresh(tokens.accessToken)).accessToken;
      } catch (err) {
        // An early refresh that failed (the platform unreachable a moment) leaves a token that
        // still works; the request decides, and a later call refreshes again.
        const transient = !(err instanceof ParleyAuthError) || err.status >= 500 || err.status === 429;
        if (transient && tokens.expiresAt > now) return tokens.accessToken;
        throw err;
      }
    }
    return tokens.accessToken;
  }

  /**
   * Renews the pair. `staleAccessToken` is the token the caller found expired: if the store
   * already holds another one, someone refreshed meanwhile and that pair is answered instead of
   * spending the refresh token a second time.
   */
  async refresh(staleAccessToken?: string): Promise<TokenSet> {
    this.#inflight ??= this.#refresh(staleAccessToken).finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #refresh(staleAccessToken: string | undefined): Promise<TokenSet> {
    const current = await this.#current();
    if (staleAccessToken !== undefined && current.accessToken !== staleAccessToken) return current;
    const res = await this.#options.fetch(
      new Request(`${this.#options.baseUrl.replace(/\/+$/, '')}/v1/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: current.refreshToken }),
      }),
    );
    if (!res.ok) {
      const problem = (await res.json().catch(() => ({}))) as { code?: string; detail?: string; title?: string };
      const code = problem.code ?? `http_${res.status}`;
      throw new ParleyAuthError(code, res.status, `Token refresh failed (${res.status} ${code})${problem.detail ? `: ${problem.detail}` : ''}`);
    }
    const body = (await res.json()) as { accessToken: string; refreshToken: string; expiresIn: number };
    const next: TokenSet = { accessToken: body.accessToken, refreshToken: body.refreshToken, expiresAt: this.#options.now() + body.expiresIn * 1000 };
    await this.#options.store.set(next);
    this.#options.onRefresh?.(next);
    return next;
  }

  async #current(): Promise<TokenSet> {
    const tokens = await this.#options.store.get();
    if (!tokens) throw new ParleyAuthError('no_tokens', 401, 'The token store holds no tokens: pass accessToken and refreshToken, or fill the store.');
    return tokens;
  }
}
