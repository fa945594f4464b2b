import { useState, type FormEvent } from 'react';
import { Navigate, useLocation } from 'react-router';
import { useSessionState } from '../session';

export function LoginPage() {
  const { session, login } = useSessionState();
  const location = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (session) {
    const from = (location.state as { from?: string } | null)?.from;
    return <Navigate to={from && from !== '/login' ? from : '/inbox'} replace />;
  }

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setError(await login(email.trim(), password));
    } catch {
      setError('The platform could not be reached.');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="login">
      <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="login-title" noValidate={false}>
        <h1 id="login-title">Sign in to Parley</h1>
        <label htmlFor="email">Email</label>
        <input id="email" name="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <label htmlFor="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
