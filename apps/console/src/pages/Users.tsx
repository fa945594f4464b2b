import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { problemText, type User } from '../api';
import { useSession } from '../session';

export function UsersPage() {
  const { client } = useSession();
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [form, setForm] = useState({ name: '', email: '', password: '', role: 'agent' as 'agent' | 'admin' });
  const [notice, setNotice] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error } = await client.GET('/v1/users', { params: { query: { limit: 100 } } });
    if (data) setUsers(data.data);
    else setError(problemText(error));
  }, [client]);

  useEffect(() => {
    void load();
  }, [load]);

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
    <section className="page" aria-labelledby="users-title">
      <h1 id="users-title">Users</h1>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {users === null ? (
        <p role="status">Loading…</p>
      ) : (
        <table>
          <caption className="visually-hidden">People in your organization</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.id}>
                <td>{u.name}</td>
                <td>{u.email}</td>
                <td>{u.role}</td>
              </tr>
            ))}
          </tbody>
        </table>
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
