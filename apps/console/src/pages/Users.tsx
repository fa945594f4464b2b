import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { problemText, type User } from '../api';
import { useSession } from '../session';
import '../admin.css';

export function UsersPage() {
  const { client, me } = useSession();
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [form, setForm] = useState({ name: '', email: '', password: '', role: 'agent' as 'agent' | 'admin' });
  const [notice, setNotice] = useState<string | null>(null);
  const [changed, setChanged] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error } = await client.GET('/v1/users', { params: { query: { limit: 100 } } });
    if (data) setUsers(data.data);
    else setError(problemText(error));
  }, [client]);

  useEffect(() => {
    void load();
  }, [load]);

  const change = async (u: User, body: { role?: 'admin' | 'agent'; disabled?: boolean }, done: string) => {
    const losesAdmin = u.id === me.userId && (body.role === 'agent' || body.disabled === true);
    if (losesAdmin && body.role === 'agent' && !window.confirm('Make yourself an agent? You will no longer see the admin screens.')) {
      await load();
      return;
    }
    setNotice(null);
    setError(null);
    setChanged(null);
    const { data, error } = await client.PATCH('/v1/users/{id}', { params: { path: { id: u.id } }, body });
    if (!data) {
      // The select shows what the server holds, not the refused choice.
      await load();
      return setError(problemText(error));
    }
    // The session's role was read at sign-in: reloading reads it again (a deactivated self is
    // signed out, because every token was revoked).
    if (losesAdmin) return window.location.assign('/console/inbox');
    setUsers((list) => list?.map((x) => (x.id === data.id ? data : x)) ?? null);
    setChanged(done);
  };

  const deactivate = (u: User) => {
    if (!window.confirm(`Deactivate ${u.name}? They are signed out at once and cannot sign in until reactivated. Their conversations and history stay.`)) return;
    void change(u, { disabled: true }, `${u.name} is deactivated.`);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setNotice(null);
    setError(null);
    const { data, error } = await client.POST('/v1/users', { body: form, headers: { 'Idempotency-Key': crypto.randomUUID() } });
    if (!data) return setError(problemText(error));
    setNotice(`${data.name} can now sign in as ${data.role}.`);
    setForm({ name: '', email: '', password: '', role: 'agent' });
    await load();
  };

  return (
    <section className="page admin" aria-labelledby="users-title">
      <h1 id="users-title">Users</h1>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <p role="status">{changed ?? ''}</p>
      <p className="hint">An organization always keeps at least one active admin: the last one cannot be demoted or deactivated.</p>
      {users === null ? (
        <p role="status">Loading…</p>
      ) : (
        <div className="scroll-x" role="region" aria-label="Users" tabIndex={0}>
          <table>
            <caption className="visually-hidden">People in your organization</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {users.map((u) => {
                const self = u.id === me.userId;
                return (
                  <tr key={u.id} className={u.disabledAt ? 'inactive' : undefined}>
                    <td>
                      {u.name}
                      {self && <span className="muted"> (you)</span>}
                    </td>
                    <td>{u.email}</td>
                    <td>
                      <select
                        aria-label={`Role of ${u.name}`}
                        value={u.role}
                        onChange={(e) => {
                          const role = e.target.value as 'agent' | 'admin';
                          void change(u, { role }, `${u.name} is now ${role === 'admin' ? 'an admin' : 'an agent'}.`);
                        }}
                      >
                        <option value="agent">Agent</option>
                        <option value="admin">Admin</option>
                      </select>
                    </td>
                    <td>
                      {u.disabledAt ? (
                        <span className="user-status">
                          Deactivated{' '}
                          <button type="button" className="secondary" onClick={() => void change(u, { disabled: false }, `${u.name} can sign in again.`)}>
                            Reactivate<span className="visually-hidden"> {u.name}</span>
                          </button>
                        </span>
                      ) : (
                        <span className="user-status">
                          Active{' '}
                          <button type="button" className="danger" onClick={() => deactivate(u)}>
                            Deactivate<span className="visually-hidden"> {u.name}</span>
                          </button>
                        </span>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <form className="card stack" onSubmit={(e) => void submit(e)} aria-labelledby="add-user">
        <h2 id="add-user">Add a user</h2>
        <label htmlFor="user-name">Name</label>
        <input id="user-name" required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        <label htmlFor="user-email">Email</label>
        <input id="user-email" type="email" required value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} />
        <label htmlFor="user-password">Initial password</label>
        <input
          id="user-password"
          type="password"
          autoComplete="new-password"
          required
          value={form.password}
          onChange={(e) => setForm({ ...form, password: e.target.value })}
        />
        <label htmlFor="user-role">Role</label>
        <select id="user-role" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as 'agent' | 'admin' })}>
          <option value="agent">Agent — works the inbox</option>
          <option value="admin">Admin — manages channels and users</option>
        </select>
        <button type="submit">Add user</button>
        {notice && <p role="status">{notice}</p>}
      </form>
    </section>
  );
}
