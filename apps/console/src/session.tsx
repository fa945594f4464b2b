import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { authorizedClient, type Me, problemText, publicClient, SessionTokenStore } from './api';
import type { ParleyClient } from '../../../packages/sdk/src/client';
import { primeInbox } from './prefetch';

export interface Session {
  client: ParleyClient;
  me: Me;
  isAdmin: boolean;
  logout: () => void;
}

interface SessionContextValue {
  session: Session | null;
  /** True until a stored session has been checked. */
  loading: boolean;
  login: (email: string, password: string) => Promise<string | null>;
}

const SessionContext = createContext<SessionContextValue | null>(null);

export function SessionProvider({ children, store: given }: { children: ReactNode; store?: SessionTokenStore }) {
  // One store for the provider's life: a new one per render would renew every callback below.
  const [store] = useState(() => given ?? new SessionTokenStore());
  const [session, setSession] = useState<Session | null>(null);
  const [loading, setLoading] = useState(store.has());

  const logout = useCallback(() => {
    store.clear();
    setSession(null);
  }, [store]);

  const open = useCallback(async (): Promise<string | null> => {
    const client = authorizedClient(store);
    primeInbox(client);
    try {
      const { data, error } = await client.GET('/v1/me');
      if (!data) return problemText(error, 'Could not load your account.');
      if (data.kind !== 'user') return 'This console is for people; partner tokens are not accepted.';
      setSession({ client, me: data, isAdmin: data.role === 'admin', logout });
      return null;
    } catch (err) {
      // A refresh that failed (expired or reused refresh token) ends the session.
      store.clear();
      return problemText(err, 'Your session has ended. Sign in again.');
    }
  }, [store, logout]);

  useEffect(() => {
    if (!store.has()) return;
    void open().finally(() => setLoading(false));
  }, [open, store]);

  const login = useCallback(
    async (email: string, password: string) => {
      const { data, error, response } = await publicClient.POST('/v1/auth/login', { body: { email, password } });
      if (!data) {
        if (response.status === 401) return 'Wrong email or password.';
        if (response.status === 429) return `Too many attempts. Try again in ${response.headers.get('retry-after') ?? 'a few'} seconds.`;
        return problemText(error, 'Could not sign in.');
      }
      await store.set({ accessToken: data.accessToken, refreshToken: data.refreshToken, expiresAt: Date.now() + data.expiresIn * 1000 });
      return open();
    },
    [store, open],
  );

  const value = useMemo(() => ({ session, loading, login }), [session, loading, login]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSessionState(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSessionState outside SessionProvider');
  return value;
}

/** The signed-in session; only for screens behind the sign-in guard. */
export function useSession(): Session {
  const { session } = useSessionState();
  if (!session) throw new Error('useSession without a session');
  return session;
}
