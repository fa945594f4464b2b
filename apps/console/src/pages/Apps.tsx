import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { problemText } from '../api';
import type { paths } from '../../../../packages/sdk/src/generated/openapi';
import { SecretOnce } from '../components/SecretOnce';
import { useSession } from '../session';
import '../admin.css';

type App = paths['/v1/apps']['get']['responses'][200]['content']['application/json']['data'][number];
type Installation = paths['/v1/installations']['get']['responses'][200]['content']['application/json']['data'][number];
type Scope = paths['/v1/installations']['post']['requestBody']['content']['application/json']['scopes'][number];
type TokenPair = paths['/v1/installations/{id}/tokens']['post']['responses'][201]['content']['application/json'];

/** The bot store: apps this organization may hire, its installations, and partner tokens. */
export function AppsPage() {
  const { client } = useSession();
  const [apps, setApps] = useState<App[] | null>(null);
  const [installations, setInstallations] = useState<Installation[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [tokens, setTokens] = useState<{ appName: string; pair: TokenPair } | null>(null);

  const load = useCallback(async () => {
    const [a, i] = await Promise.all([
      client.GET('/v1/apps', { params: { query: { limit: 200 } } }),
      client.GET('/v1/installations', { params: { query: { limit: 200, status: 'active' } } }),
    ]);
    if (a.data) setApps(a.data.data);
    else setError(problemText(a.error));
    if (i.data) setInstallations(i.data.data);
    else setError(problemText(i.error));
  }, [client]);

  useEffect(() => {
    void load();
  }, [load]);

  const appName = (id: string) => apps?.find((a) => a.id === id)?.name ?? id;

  const issue = async (inst: Installation) => {
    setError(null);
    setNotice(null);
    const { data, error } = await client.POST('/v1/installations/{id}/tokens', { params: { path: { id: inst.id } } });
    if (!data) return setError(problemText(error));
    setTokens({ appName: appName(inst.appId), pair: data });
  };

  const uninstall = async (inst: Installation) => {
    if (!window.confirm(`Uninstall ${appName(inst.appId)}? Its tokens stop working at once and its webhook subscriptions are deleted.`)) return;
    setError(null);
    const { error, response } = await client.DELETE('/v1/installations/{id}', { params: { path: { id: inst.id } } });
    if (!response.ok) return setError(problemText(error));
    setNotice(`${appName(inst.appId)} is uninstalled.`);
    await load();
  };

  return (
    <section className="page admin" aria-labelledby="apps-title">
      <h1 id="apps-title">Bot store</h1>
      <p className="hint">Hire an integration, grant it only the scopes it needs, and hand its partner a token. A token acts inside this organization until the app is uninstalled.</p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <p role="status">{notice ?? ''}</p>
      {tokens && (
        <SecretOnce
          title={`Partner token for ${tokens.appName}`}
          values={[
            { label: 'Access token', value: tokens.pair.accessToken },
            { label: 'Refresh token', value: tokens.pair.refreshToken },
          ]}
          onDone={() => setTokens(null)}
        />
      )}
      <h2>Installed</h2>
      {installations.length === 0 ? (
        <p className="muted">No app is installed.</p>
      ) : (
        <ul className="cards">
          {installations.map((inst) => (
            <li key={inst.id} className="card stack" aria-label={`Installation of ${appName(inst.appId)}`}>
              <h3>{appName(inst.appId)}</h3>
              <p className="hint">Installed {new Date(inst.createdAt).toLocaleString()}</p>
              <p className="events">
                {inst.scopes.map((s) => (
                  <code key={s}>{s}</code>
                ))}
              </p>
              <div className="row">
                <button type="button" onClick={() => void issue(inst)}>
                  Issue token<span className="visually-hidden"> for {appName(inst.appId)}</span>
                </button>
                <button type="button" className="danger" onClick={() => void uninstall(inst)}>
                  Uninstall<span className="visually-hidden"> {appName(inst.appId)}</span>
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      <h2>Available</h2>
      {apps === null ? (
        <p role="status">Loading…</p>
      ) : apps.length === 0 ? (
        <p className="muted">No app is offered to this organization yet. Apps are listed to organizations that carry one of their tags.</p>
      ) : (
        <ul className="cards">
          {apps.map((app) => (
            <AppCard
              key={app.id}
              app={app}
              installed={installations.some((i) => i.appId === app.id)}
              onInstalled={(inst) => {
                setNotice(`${app.name} is installed. Issue a token for its partner below.`);
                setInstallations((list) => [inst, ...list]);
              }}
            />
          ))}
        </ul>
      )}
    </section>
  );
}

function AppCard({ app, installed, onInstalled }: { app: App; installed: boolean; onInstalled: (i: Installation) => void }) {
  const { client } = useSession();
  const [scopes, setScopes] = useState<string[]>(app.scopes);
  const [problem, setProblem] = useState<string | null>(null);
  const fieldId = `app-${app.id}`;

  const install = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    if (!scopes.length) return setProblem('Grant at least one scope.');
    const { data, error } = await client.POST('/v1/installations', {
      body: { appId: app.id, scopes: scopes as Scope[] },
      headers: { 'Idempotency-Key': crypto.randomUUID() },
    });
    if (!data) return setProblem(problemText(error));
    onInstalled(data);
  };

  return (
    <li className="card stack" aria-label={`App ${app.name}`}>
      <h3>{app.name}</h3>
      <p>{app.description}</p>
      <p className="events">
        {app.tags.map((t) => (
          <span key={t} className="badge">
            {t}
          </span>
        ))}
      </p>
      {installed ? (
        <p className="ok-text">Installed</p>
      ) : (
        <form className="stack" onSubmit={(e) => void install(e)}>
          <fieldset>
            <legend>Scopes to grant</legend>
            {app.scopes.map((s) => (
              <label key={s} className="check">
                <input
                  type="checkbox"
                  name={`${fieldId}-scope`}
                  checked={scopes.includes(s)}
                  onChange={(e) => setScopes((list) => (e.target.checked ? [...list, s] : list.filter((x) => x !== s)))}
                />
                <code>{s}</code>
              </label>
            ))}
          </fieldset>
          <button type="submit">
            Install<span className="visually-hidden"> {app.name}</span>
          </button>
          {problem && (
            <p className="error" role="alert">
              {problem}
            </p>
          )}
        </form>
      )}
    </li>
  );
}
