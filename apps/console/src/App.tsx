import { BrowserRouter, Navigate, NavLink, Outlet, Route, Routes, useLocation } from 'react-router';
import { SessionProvider, useSession, useSessionState } from './session';
import { LoginPage } from './pages/Login';
import { InboxPage } from './pages/Inbox';
import { ChannelsPage } from './pages/Channels';
import { UsersPage } from './pages/Users';
import { BroadcastsPage } from './pages/Broadcasts';
import { RoutingPage } from './pages/Routing';
import { QueuesPage } from './pages/Queues';
import { AssistantPage } from './pages/Assistant';
import { OptOutPage } from './pages/OptOut';
import { WebhooksPage } from './pages/Webhooks';
import { WebhookDetailPage } from './pages/WebhookDetail';
import { AppsPage } from './pages/Apps';

export function App() {
  return (
    <SessionProvider>
      <BrowserRouter basename="/console">
        <Routes>
          <Route path="/login" element={<LoginPage />} />
          <Route element={<RequireSession />}>
            <Route index element={<Navigate to="/inbox" replace />} />
            <Route path="/inbox" element={<InboxPage />} />
            <Route path="/inbox/:conversationId" element={<InboxPage />} />
            <Route path="/queues" element={<QueuesPage />} />
            <Route element={<RequireAdmin />}>
              <Route path="/channels" element={<ChannelsPage />} />
              <Route path="/users" element={<UsersPage />} />
              <Route path="/broadcasts" element={<BroadcastsPage />} />
              <Route path="/routing" element={<RoutingPage />} />
              <Route path="/assistant" element={<AssistantPage />} />
              <Route path="/opt-out" element={<OptOutPage />} />
              <Route path="/webhooks" element={<WebhooksPage />} />
              <Route path="/webhooks/:id" element={<WebhookDetailPage />} />
              <Route path="/apps" element={<AppsPage />} />
            </Route>
            <Route path="*" element={<NotFound />} />
          </Route>
        </Routes>
      </BrowserRouter>
    </SessionProvider>
  );
}

function RequireSession() {
  const { session, loading } = useSessionState();
  const location = useLocation();
  if (loading) return <p className="loading" role="status">Loading…</p>;
  if (!session) return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return <Layout />;
}

function RequireAdmin() {
  const { isAdmin } = useSession();
  if (!isAdmin) return <Navigate to="/inbox" replace />;
  return <Outlet />;
}

function Layout() {
  const { me, isAdmin, logout } = useSession();
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Parley</span>
        <nav aria-label="Main">
          <ul>
            <li>
              <NavLink to="/inbox">Inbox</NavLink>
            </li>
            <li>
              <NavLink to="/queues">Queues</NavLink>
            </li>
            {isAdmin && (
              <>
                <li>
                  <NavLink to="/channels">Channels</NavLink>
                </li>
                <li>
                  <NavLink to="/broadcasts">Broadcasts</NavLink>
                </li>
                <li>
                  <NavLink to="/users">Users</NavLink>
                </li>
                <li>
                  <NavLink to="/routing">Routing</NavLink>
                </li>
                <li>
                  <NavLink to="/assistant">Assistant</NavLink>
                </li>
                <li>
                  <NavLink to="/opt-out">Opt-out</NavLink>
                </li>
                <li>
                  <NavLink to="/webhooks">Webhooks</NavLink>
                </li>
                <li>
                  <NavLink to="/apps">Apps</NavLink>
                </li>
              </>
            )}
          </ul>
        </nav>
        <span className="who" aria-label="Signed in as">
          {me.role === 'admin' ? 'Admin' : 'Agent'}
        </span>
        <button type="button" className="secondary" onClick={logout}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}

function NotFound() {
  return (
    <section className="page">
      <h1>Not found</h1>
      <p>There is no screen at this address.</p>
    </section>
  );
}
