// SPDX-License-Identifier: GPL-2.0-or-later
// The application shell: first-run setup or login, then the header, the navigation and the page.

import type { FunctionComponent } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, onSessionEnded, setCsrf } from './api.ts';
import { live, useLive } from './live.ts';
import { CampaignsPage } from './pages/campaigns.tsx';
import { CdrPage } from './pages/cdr.tsx';
import { DashboardPage } from './pages/dashboard.tsx';
import { FlowsPage } from './pages/flows.tsx';
import { LoginPage, SetupPage } from './pages/login.tsx';
import { RoutingPage } from './pages/routing.tsx';
import { SystemPage } from './pages/system.tsx';
import { TestCallPage } from './pages/test-call.tsx';
import { TracesPage } from './pages/traces.tsx';
import { TrunksPage } from './pages/trunks.tsx';
import { UsersPage } from './pages/users.tsx';
import { useRoute } from './router.ts';
import { type Me, type Role, roleAtLeast } from './types.ts';
import { ErrorBox } from './ui.tsx';

export interface PageProps {
  me: Me;
  params: URLSearchParams;
}

interface PageDef {
  page: string;
  title: string;
  /** The weakest role that sees it in the menu. */
  role: Role;
  component: FunctionComponent<PageProps>;
}

export const PAGES: readonly PageDef[] = [
  { page: 'dashboard', title: 'Dashboard', role: 'viewer', component: DashboardPage },
  { page: 'trunks', title: 'Trunks', role: 'viewer', component: TrunksPage },
  { page: 'routing', title: 'Routing', role: 'viewer', component: RoutingPage },
  { page: 'test-call', title: 'Test call', role: 'operator', component: TestCallPage },
  { page: 'traces', title: 'Signalling traces', role: 'installer', component: TracesPage },
  { page: 'flows', title: 'IVR flows', role: 'viewer', component: FlowsPage },
  { page: 'campaigns', title: 'Campaigns', role: 'viewer', component: CampaignsPage },
  { page: 'cdr', title: 'Call records', role: 'viewer', component: CdrPage },
  { page: 'users', title: 'Users', role: 'viewer', component: UsersPage },
  { page: 'system', title: 'System', role: 'viewer', component: SystemPage },
];

/** Whether the shell is showing (a 401 then means the session ended under the user). */
let signedIn = false;

type Session =
  | { state: 'loading' }
  | { state: 'failed'; error: unknown }
  | { state: 'setup' }
  | { state: 'login'; reason?: string }
  | { state: 'in'; me: Me };

export function App() {
  const [session, setSession] = useState<Session>({ state: 'loading' });

  useEffect(() => {
    (async () => {
      try {
        const setup = await api<{ needed: boolean }>('GET', '/api/setup');
        if (setup.needed) return setSession({ state: 'setup' });
        try {
          const me = await api<Me>('GET', '/api/me', undefined, { quiet401: true });
          setCsrf(me.csrf);
          setSession({ state: 'in', me });
        } catch {
          setSession({ state: 'login' });
        }
      } catch (error) {
        setSession({ state: 'failed', error });
      }
    })();
    return onSessionEnded(() => {
      // A request that was under way when the user logged out answers 401 too: not news.
      if (!signedIn) return;
      signedIn = false;
      live.disconnect();
      setCsrf(undefined);
      setSession({ state: 'login', reason: 'Your session has ended: log in again.' });
    });
  }, []);

  const loggedIn = (me: Me) => {
    setCsrf(me.csrf);
    setSession({ state: 'in', me });
    if (location.hash === '' || location.hash === '#/' || /^#\/(login|setup)/.test(location.hash))
      location.hash = '#/dashboard';
  };

  signedIn = session.state === 'in';
  switch (session.state) {
    case 'loading':
      return <p aria-busy="true">Connecting to the switch...</p>;
    case 'failed':
      return (
        <main id="main" class="narrow">
          <h1>The switch does not answer</h1>
          <ErrorBox error={session.error} />
          <button type="button" onClick={() => location.reload()}>
            Try again
          </button>
        </main>
      );
    case 'setup':
      return <SetupPage onDone={loggedIn} />;
    case 'login':
      return (
        <LoginPage onDone={loggedIn} {...(session.reason ? { reason: session.reason } : {})} />
      );
    case 'in':
      return (
        <Shell
          me={session.me}
          onLogout={async () => {
            signedIn = false;
            live.disconnect();
            try {
              await api('POST', '/api/logout');
            } catch {
              // Logged out already (the session had ended): the login page is right anyway.
            }
            setCsrf(undefined);
            setSession({ state: 'login', reason: 'You have logged out.' });
          }}
        />
      );
  }
}

function Shell({ me, onLogout }: { me: Me; onLogout: () => void }) {
  const route = useRoute();
  const view = useLive();
  const [menuOpen, setMenuOpen] = useState(false);
  const [box, setBox] = useState<{ name?: string; version?: string }>({});
  useEffect(() => {
    live.connect();
    Promise.all([
      api<{ config: { system?: { name?: string } } }>('GET', '/api/config').catch(() => undefined),
      api<{ version: string }>('GET', '/api/status').catch(() => undefined),
    ]).then(([c, s]) => {
      const name = c?.config.system?.name;
      setBox({ ...(name ? { name } : {}), ...(s ? { version: s.version } : {}) });
    });
  }, []);
  useEffect(() => setMenuOpen(false), [route.page]);
  const visible = PAGES.filter((p) => roleAtLeast(me.role, p.role));
  const current = visible.find((p) => p.page === route.page);
  useEffect(() => {
    document.title = `${current?.title ?? 'Not found'} · ${box.name ?? 'Switchboard'}`;
  }, [current, box.name]);
  const Page = current?.component;
  const linkState =
    view.state === 'open' ? 'live' : view.state === 'connecting' ? 'connecting' : 'offline';
  return (
    <>
      <button
        type="button"
        class="skip"
        onClick={() => (document.querySelector('main h1') as HTMLElement | null)?.focus()}
      >
        Skip to the page
      </button>
      <header class="top">
        <div class="brand">
          <span class="product">Switchboard</span>
          {box.name && <span class="box-name">{box.name}</span>}
        </div>
        <p class={`link-state ${linkState}`} role="status" aria-live="polite">
          <span class="dot" aria-hidden="true" />
          {linkState === 'live'
            ? 'Live'
            : linkState === 'connecting'
              ? 'Connecting...'
              : 'Live view offline (retrying)'}
        </p>
        <div class="who">
          <span>
            {me.user} <span class="muted">({me.role})</span>
          </span>
          <button type="button" onClick={onLogout}>
            Log out
          </button>
        </div>
        <button
          type="button"
          class="menu-button"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          Menu
        </button>
      </header>
      <nav id="main-nav" aria-label="Main" class={`main-nav${menuOpen ? ' open' : ''}`}>
        <ul>
          {visible.map((p) => (
            <li key={p.page}>
              <a
                href={`#/${p.page}`}
                {...(p.page === route.page ? { 'aria-current': 'page' as const } : {})}
              >
                {p.page === 'users' && me.role !== 'admin' ? 'Account' : p.title}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main">
        {Page ? (
          <Page key={route.page} me={me} params={route.params} />
        ) : (
          <>
            <h1 tabIndex={-1}>No such page</h1>
            <p>
              <a href="#/dashboard">Go to the dashboard</a>
            </p>
          </>
        )}
      </main>
      <footer class="bottom">
        <small>
          Switchboard {box.version ?? ''} · <a href="/api/docs">API documentation</a>
        </small>
      </footer>
    </>
  );
}
