import { lazy, Suspense, useMemo } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { ClientsContext, createClients } from './api.js';
import { ModeContext, type Mode } from './backend.js';
import { useLiveEvents } from './live.js';
import { SessionContext, type Session } from '../features/auth/session.js';
import { Link } from '../ui/Link.js';
import { Button, ErrorNotice, Loading } from '../ui/primitives.js';
import { matchRoute, useLocation } from '../ui/router.js';
import AgentsPage from '../features/agents/AgentsPage.js';

// The first page is in the main chunk (first load); the others load when visited.
const AgentPage = lazy(() => import('../features/agent/AgentPage.js'));
const UsagePage = lazy(() => import('../features/usage/UsagePage.js'));
const BillingPage = lazy(() => import('../features/billing/BillingPage.js'));
const AuditPage = lazy(() => import('../features/audit/AuditPage.js'));

const NAV = [
  ['/', 'Agents'],
  ['/usage', 'Usage'],
  ['/billing', 'Billing'],
  ['/audit', 'Audit log'],
] as const;

/** The signed-in dashboard, one tree for both modes: the mode only picks where live state comes from. */
export function Dashboard({ session, mode }: { session: Session; mode: Mode }) {
  const queryClient = useQueryClient();
  const clients = useMemo(() => createClients(() => session.getToken()), [session]);
  const live = useLiveEvents(clients, queryClient, mode === 'embedded');
  const { path, search } = useLocation();
  const route = matchRoute(path, search);
  const liveLabel =
    mode === 'convex'
      ? 'Live (Convex)'
      : live === 'live'
        ? 'Live'
        : live === 'connecting'
          ? 'Connecting…'
          : 'Reconnecting…';
  return (
    <SessionContext.Provider value={session}>
      <ModeContext.Provider value={mode}>
        <ClientsContext.Provider value={clients}>
          <div className="min-h-screen">
            <header className="border-b border-slate-200 bg-white">
              <div className="mx-auto flex max-w-6xl items-center gap-6 px-4 py-3">
                <Link href="/" className="font-semibold">
                  webhost.systems
                </Link>
                <nav aria-label="Main" className="flex gap-1">
                  {NAV.map(([href, label]) => {
                    const current = href === '/' ? route.page === 'agents' || route.page === 'agent' : path === href;
                    return (
                      <Link
                        key={href}
                        href={href}
                        aria-current={current ? 'page' : undefined}
                        className={`rounded-md px-3 py-1.5 text-sm ${current ? 'bg-slate-100 font-medium' : 'text-slate-600 hover:bg-slate-50'}`}
                      >
                        {label}
                      </Link>
                    );
                  })}
                </nav>
                <span className="grow" />
                <span
                  role="status"
                  aria-label="Live updates"
                  className="flex items-center gap-1 text-xs text-slate-500"
                >
                  <span
                    aria-hidden
                    className={`inline-block h-2 w-2 rounded-full ${live === 'live' || mode === 'convex' ? 'bg-emerald-500' : 'bg-amber-400'}`}
                  />
                  {liveLabel}
                </span>
                <span className="text-sm" aria-label="Signed in as">
                  {session.userId}
                  {session.how === 'local' ? <span className="ml-1 text-xs text-slate-500">(local)</span> : null}
                </span>
                <Button variant="ghost" onClick={session.signOut}>
                  Sign out
                </Button>
              </div>
            </header>
            <main className="mx-auto max-w-6xl px-4 py-6">
              <Suspense fallback={<Loading what="page" />}>
                {route.page === 'agents' ? (
                  <AgentsPage />
                ) : route.page === 'agent' ? (
                  <AgentPage agentId={route.agentId} tab={route.tab} />
                ) : route.page === 'usage' ? (
                  <UsagePage />
                ) : route.page === 'billing' ? (
                  <BillingPage />
                ) : route.page === 'audit' ? (
                  <AuditPage />
                ) : (
                  <ErrorNotice error={new Error(`There is no page at ${path}.`)} />
                )}
              </Suspense>
            </main>
          </div>
        </ClientsContext.Provider>
      </ModeContext.Provider>
    </SessionContext.Provider>
  );
}
